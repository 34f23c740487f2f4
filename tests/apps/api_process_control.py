"""The uwsgi module's process control, one path each; answers JSON with
bytes decoded. Debian's uwsgidecorators' @harakiri is /harakiri_ok and
/harakiri_slow."""
import json
import os
import time

import uwsgi

if uwsgi.masterpid():  # uwsgidecorators refuses to load without a master
    from uwsgidecorators import harakiri
else:
    def harakiri(seconds):
        return lambda f: f


def plain(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {plain(k): plain(x) for k, x in v.items()}
    return v


@harakiri(2)
def quick():
    time.sleep(0.1)
    return "done"


@harakiri(2)
def slow():
    time.sleep(30)
    return "never"


def route(path, arg):
    if path == "/":
        return "ok"
    if path == "/ids":
        return {"pid": os.getpid(), "worker_id": uwsgi.worker_id(), "request_id": uwsgi.request_id(),
                "total_requests": uwsgi.total_requests()}
    if path == "/workers":
        return plain(uwsgi.workers())
    if path == "/mem":
        return list(uwsgi.mem())
    if path == "/micros":
        return uwsgi.micros()
    if path == "/procname":
        uwsgi.setprocname(arg)
        return arg
    if path == "/harakiri_ok":
        return quick()
    if path == "/harakiri_slow":
        return slow()
    if path == "/user_harakiri":
        uwsgi.set_user_harakiri(int(arg))
        time.sleep(int(arg) + 20)
        return "survived"
    if path == "/accepting":
        uwsgi.accepting(bool(int(arg)))
        return True
    if path == "/listen_queue":
        try:
            return uwsgi.listen_queue(int(arg or 0))
        except ValueError as e:
            return "ValueError: %s" % e
    if path == "/reload":
        return uwsgi.reload()
    if path == "/stop":
        return uwsgi.stop()
    raise LookupError(path)


def application(environ, start_response):
    body = json.dumps(route(environ["PATH_INFO"], environ.get("QUERY_STRING", ""))).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
