"""Debian's uwsgidecorators, unmodified: @signal, @timer, @rbtimer, @cron,
@filemon and @rpc. One JSON line per handler run in $SIGLOG:
{"what": ..., "sig": N, "wid": worker_id}. $WATCHFILE is monitored.

/raise/N   uwsgi.signal(N)
/rpc       the rpc calls and what they gave, as JSON
/pid       "worker pid"
"""
import json
import os

import uwsgi
from uwsgidecorators import cron, filemon, rbtimer, rpc, signal, timer

LOG = os.environ["SIGLOG"]
WATCH = os.environ["WATCHFILE"]


def record(what, num):
    with open(LOG, "a") as f:
        f.write(json.dumps({"what": what, "sig": num, "wid": uwsgi.worker_id()}) + "\n")


@signal(30)
def on30(num):
    record("signal", num)


@signal(31, target="workers")
def on31(num):
    record("signal-workers", num)


@timer(1, target="worker1")
def every_second(num):
    record("timer", num)


@rbtimer(1, target="worker2")
def rb_every_second(num):
    record("rbtimer", num)


@cron(-1, -1, -1, -1, -1)
def every_minute(num):
    record("cron", num)


@filemon(WATCH)
def watched(num):
    record("filemon", num)


@rpc("hello")
def hello(*args):
    return b"hello " + b",".join(args)


@rpc("nothing")
def nothing():
    return "a str is not passed on"


def outcome(fn, *args):
    try:
        return ["ok", repr(fn(*args))]
    except Exception as e:
        return [type(e).__name__]


def application(env, start_response):
    path = env["PATH_INFO"]
    if path.startswith("/raise/"):
        uwsgi.signal(int(path[7:]))
        body = "raised"
    elif path == "/pid":
        body = "%d %d" % (uwsgi.worker_id(), os.getpid())
    elif path == "/rpc":
        body = json.dumps({
            "rpc hello": outcome(uwsgi.rpc, None, b"hello", b"a", b"b"),
            "rpc '' hello": outcome(uwsgi.rpc, "", b"hello"),
            "call hello": outcome(uwsgi.call, b"hello", b"x"),
            "rpc nothing": outcome(uwsgi.rpc, None, b"nothing"),
            "rpc missing": outcome(uwsgi.rpc, None, b"missing"),
            "rpc str name": outcome(uwsgi.rpc, None, "hello"),
            "rpc str arg": outcome(uwsgi.rpc, None, b"hello", "a"),
            "rpc_list": repr(sorted(uwsgi.rpc_list())),
            "signals": [on30.__name__, uwsgi.signal_registered(30), uwsgi.signal_registered(0)],
        }, sort_keys=True)
    else:
        body = "ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
