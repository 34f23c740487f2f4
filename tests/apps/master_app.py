"""The master/worker suite's app (tests/test_master.py); routes on PATH_INFO.

/ids                  this worker as JSON: pid, ppid, worker_id(), numproc,
                      masterpid(), VERSION, and how many requests it served
/sleep?s=S            time.sleep(S) (blocks the whole worker), then /ids
/stream?s=S           a generator: /ids and a newline, then
                      uwsgi.async_sleep(S), then b"done\\n"
/crash?how=H&wid=N    die: H = segv (ctypes.string_at(0)), exit (os._exit(3)),
                      guard (C recursion through json.dumps; with a small
                      --ugreen-stacksize it hits the guard page). With wid=N,
                      a worker other than N answers "wrong worker" instead.

CRASH_MARKER (environment): when the file it names exists, importing this
module kills the process at once (os._exit(1)): a worker that dies on every
start, while the first load (before the test creates the file) succeeds.

The suite copies this file and rewrites the VERSION line to see a reload
import new code.
"""
import json
import os
import time
from urllib.parse import parse_qs

import uwsgi

VERSION = "v1"

_marker = os.environ.get("CRASH_MARKER")
if _marker and os.path.exists(_marker):
    os._exit(1)

served = 0


def query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def ids():
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "worker_id": uwsgi.worker_id(),
        "numproc": uwsgi.numproc,
        "masterpid": uwsgi.masterpid(),
        "version": VERSION,
        "served": served,
    }


def crash(how):
    if how == "segv":
        import ctypes
        ctypes.string_at(0)
    elif how == "exit":
        os._exit(3)
    elif how == "guard":
        obj = []
        for _ in range(5000):
            obj = [obj]
        json.dumps(obj)
    return "did not crash (%s)" % how


def application(environ, start_response):
    global served
    served += 1
    path = environ["PATH_INFO"]
    q = query(environ)
    if path == "/stream":
        return stream(start_response, float(q.get("s", "1")))
    if path == "/ids":
        body = json.dumps(ids())
    elif path == "/sleep":
        time.sleep(float(q.get("s", "1")))
        body = json.dumps(ids())
    elif path == "/crash":
        if "wid" in q and int(q["wid"]) != uwsgi.worker_id():
            body = "wrong worker %d" % uwsgi.worker_id()
        else:
            body = crash(q.get("how", "segv"))
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such path"]
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(data)))])
    return [data]


def stream(start_response, seconds):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield json.dumps(ids()).encode() + b"\n"
    yield uwsgi.async_sleep(seconds)
    yield b"done\n"
