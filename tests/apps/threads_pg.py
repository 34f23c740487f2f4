"""psycopg2 as a threaded app uses it: plain blocking calls (libpq releases
the GIL while it waits for the server), one connection per request.

/sleep?s=S&tag=T    SELECT pg_sleep(S) on its own connection; the answer has
                    the backend pid and the query's start and end (CLOCK_MONOTONIC)
"""
import json
import os
import threading
import time
from urllib.parse import parse_qs

import psycopg2

DSN = os.environ["THREADS_PG_DSN"]


def application(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    conn = psycopg2.connect(DSN)
    try:
        with conn.cursor() as cur:
            t0 = time.monotonic()
            cur.execute("SELECT pg_backend_pid(), pg_sleep(%s)", (float(q.get("s", "0.5")),))
            (pid, _), = cur.fetchall()
            t1 = time.monotonic()
    finally:
        conn.close()
    body = json.dumps({"backend_pid": pid, "tag": q.get("tag"), "t0": t0, "t1": t1,
                       "thread": threading.current_thread().name}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
