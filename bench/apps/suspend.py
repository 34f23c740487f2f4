"""Benchmark apps, identical for uwsgo and uWSGI.

/suspend?n=N  suspends N times; answers "start_ns end_ns" (monotonic clock)
/yield?n=N    a generator that yields b"" N times (plain --async switching)
/sleep?s=S    parks in async_sleep for S seconds (fills cores for RSS)
/hello        hello world
"""
import time
from urllib.parse import parse_qs

import uwsgi

HELLO = b"Hello World"


def yielder(n, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    t0 = time.monotonic_ns()
    for _ in range(n):
        yield b""
    yield b"%d %d" % (t0, time.monotonic_ns())


def application(env, start_response):
    path = env["PATH_INFO"]
    if path == "/yield":
        return yielder(int(env["QUERY_STRING"].partition("=")[2] or "100000"), start_response)
    q = {k: v[0] for k, v in parse_qs(env.get("QUERY_STRING", "")).items()}
    if path == "/suspend":
        n = int(q.get("n", "100000"))
        suspend = uwsgi.suspend
        t0 = time.monotonic_ns()
        for _ in range(n):
            suspend()
        t1 = time.monotonic_ns()
        body = b"%d %d" % (t0, t1)
    elif path == "/sleep":
        uwsgi.async_sleep(float(q.get("s", "2")))
        uwsgi.suspend()
        body = b"slept"
    else:
        body = HELLO
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
