"""The --threads suite's app (tests/test_threads.py); routes on PATH_INFO.

/block?s=S&tag=T    time.sleep(S) (releases the GIL), with the request's
                    start and end on CLOCK_MONOTONIC, and what it sees of its
                    thread: name, ident, native id, threading.local
/ids                pid, worker id, requests served, VERSION
/stream?n=N&s=S     a generator: N chunks "i\\n", time.sleep(S) after each but the last
/big?mb=M           M MiB in 64 KiB chunks (for a slow reader)
/post               the body's length and sha256
/file               this file through wsgi.file_wrapper
/asyncapi           what uwsgi.suspend(), uwsgi.core_id() and uwsgi.async_sleep() do
/fail               raises

Runs under Debian's uWSGI too (the overlap comparison), where the uwsgi
module lacks core_id(): the app looks it up with getattr.
"""
import hashlib
import json
import os
import threading
import time
from urllib.parse import parse_qs

import uwsgi

VERSION = "v1"
served = 0
served_lock = threading.Lock()
local = threading.local()


def query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def thread_info():
    t = threading.current_thread()
    return {
        "name": t.name,
        "ident": t.ident,
        "native_id": threading.get_native_id(),
        "is_main": t is threading.main_thread(),
        "dummy": isinstance(t, threading._DummyThread),
        "listed": t in threading.enumerate(),
        "alive": t.is_alive(),
    }


def answer(start_response, obj, status="200 OK"):
    data = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    global served
    with served_lock:
        served += 1
    path = environ["PATH_INFO"]
    q = query(environ)
    if path == "/block":
        tag = q.get("tag", "")
        before = getattr(local, "tag", None)
        local.tag = tag
        t0 = time.monotonic()
        time.sleep(float(q.get("s", "0.5")))
        t1 = time.monotonic()
        return answer(start_response, {
            "tag": tag, "local": local.tag, "before": before, "t0": t0, "t1": t1,
            "pid": os.getpid(), "thread": thread_info(),
            "multithread": environ["wsgi.multithread"], "core": environ.get("uwsgi.core"),
        })
    if path == "/ids":
        return answer(start_response, {"pid": os.getpid(), "worker_id": uwsgi.worker_id(),
                                       "served": served, "version": VERSION})
    if path == "/stream":
        return stream(start_response, int(q.get("n", "3")), float(q.get("s", "0.2")))
    if path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return big(int(q.get("mb", "1")))
    if path == "/post":
        body = environ["wsgi.input"].read()
        return answer(start_response, {"len": len(body), "sha256": hashlib.sha256(body).hexdigest()})
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    if path == "/asyncapi":
        out = {"suspend": uwsgi.suspend(), "core_id": getattr(uwsgi, "core_id", lambda: None)()}
        try:
            uwsgi.async_sleep(1)
            out["async_sleep"] = "returned"
        except RuntimeError as e:
            out["async_sleep"] = str(e)
        return answer(start_response, out)
    if path == "/fail":
        raise ValueError("this view fails")
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such path"]


def stream(start_response, n, secs):
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(n):
        if i:
            time.sleep(secs)
        yield b"%d\n" % i


def big(mb):
    chunk = bytes(range(256)) * 256  # 64 KiB
    for _ in range(mb * 16):
        yield chunk
