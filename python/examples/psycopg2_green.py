"""psycopg2 on uGreen: database queries that give way to the other requests.

uWSGI's tests/psycopg2_green.py, for uwsgo. psycopg2's wait callback
(psycopg2.extensions.set_wait_callback) is called whenever the driver would
block on the server's socket: connecting, sending a query, waiting for its
result. Ours parks the core on that socket with uwsgi.wait_fd_read() /
wait_fd_write() + uwsgi.suspend(), so while one request waits for
PostgreSQL the worker serves the others. The app's code stays the ordinary
blocking psycopg2 code (connect, execute, fetch): no async=True, no poll
loop of its own.

    uwsgo --http-socket :9090 --wsgi-file python/examples/psycopg2_green.py \\
          --async 50 --ugreen --env PSYCOPG2_GREEN_DSN="host=/var/run/postgresql dbname=postgres"
    curl 'http://127.0.0.1:9090/sleep?s=1'      # 50 of these at once take ~1 s, not 50

Routes:
    /sleep?s=S    SELECT pg_sleep(S) on a connection of its own; JSON answer
    /             a small HTML table from a query

It needs a suspend engine (--ugreen or --greenlet): with plain --async,
uwsgi.suspend() does nothing and the callback would spin.
"""
import json
import os
from urllib.parse import parse_qs

import psycopg2
import psycopg2.extensions
import uwsgi

DSN = os.environ.get("PSYCOPG2_GREEN_DSN", "dbname=postgres")


def green_wait(conn, timeout=0):
    """psycopg2's wait callback: park this core until conn's socket is ready.

    conn.poll() advances the connection's state machine without blocking
    and tells what it needs next: the socket to become readable
    (POLL_READ) or writable (POLL_WRITE), or nothing more (POLL_OK).
    """
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_READ:
            uwsgi.wait_fd_read(conn.fileno(), timeout)   # register the socket...
            uwsgi.suspend()                              # ...and run the other cores
        elif state == psycopg2.extensions.POLL_WRITE:
            uwsgi.wait_fd_write(conn.fileno(), timeout)
            uwsgi.suspend()
        else:
            raise psycopg2.OperationalError("bad state from poll: %r" % state)


psycopg2.extensions.set_wait_callback(green_wait)


def query(sql, args=()):
    conn = psycopg2.connect(DSN)   # the connect itself goes through green_wait
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)  # so does every query
            return cur.fetchall()
    finally:
        conn.close()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    args = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}

    if path == "/sleep":
        secs = float(args.get("s", "1"))
        (pid, slept), = query("SELECT pg_backend_pid(), pg_sleep(%s)", (secs,))
        body = json.dumps({"slept": secs, "backend_pid": pid, "core": uwsgi.core_id(),
                           "tag": args.get("tag")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    if path == "/":
        rows = query("SELECT n, n * n FROM generate_series(1, 10) AS n")
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        out = ["<table><tr><th>n</th><th>n&sup2;</th></tr>"]
        out += ["<tr><td>%d</td><td>%d</td></tr>" % row for row in rows]
        out.append("</table>\n")
        return ["".join(out).encode()]

    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]
