"""Signal handlers on free cores, under each engine ($ENGINE: ugreen,
greenlet, gevent, threads). One JSON line per event in $SIGLOG.

/hold       keeps its core until the handler of signal 20 has run
            ("handler ran"), or gives up after 15 s ("timeout")
/raise/N    uwsgi.signal(N)
/release    lets the handler of signal 21 finish
/wait/N     uwsgi.signal_wait(N) on its core: "got <signal_received()>"
"""
import json
import os
import time

import uwsgi

LOG = os.environ["SIGLOG"]
ENGINE = os.environ["ENGINE"]
state = {"ran20": False, "released": False}

if ENGINE == "gevent":
    import gevent


def nap(s):
    if ENGINE == "gevent":
        gevent.sleep(s)
    elif ENGINE in ("ugreen", "greenlet"):
        uwsgi.async_sleep(s)
        uwsgi.suspend()
    else:
        time.sleep(s)


def where():
    d = {"core": uwsgi.core_id()}
    if ENGINE == "gevent":
        cur = gevent.getcurrent()
        d["greenlet"] = id(cur)
        d["hub"] = cur is gevent.get_hub()
    return d


def record(**kw):
    kw.update(where())
    with open(LOG, "a") as f:
        f.write(json.dumps(kw) + "\n")


def until(cond, secs):
    deadline = time.monotonic() + secs
    while not cond() and time.monotonic() < deadline:
        nap(0.02)
    return cond()


def h20(num):
    state["ran20"] = True
    record(sig=num, phase="run")


def h21(num):
    record(sig=num, phase="start")
    released = until(lambda: state["released"], 15)
    record(sig=num, phase="end", released=released)


uwsgi.register_signal(20, "worker", h20)
uwsgi.register_signal(21, "worker", h21)
uwsgi.register_signal(22, "worker", lambda num: record(sig=num, phase="run"))


def application(env, start_response):
    path = env["PATH_INFO"]
    if path == "/hold":
        record(hold=True)
        body = "handler ran" if until(lambda: state["ran20"], 15) else "timeout"
    elif path.startswith("/raise/"):
        uwsgi.signal(int(path[7:]))
        body = "raised"
    elif path.startswith("/wait/"):
        record(waiting=True)
        uwsgi.signal_wait(int(path[6:]))
        body = "got %d" % uwsgi.signal_received()
    elif path == "/release":
        state["released"] = True
        body = "released"
    else:
        body = "ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
