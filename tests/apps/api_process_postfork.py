"""Debian's uwsgidecorators, unmodified: @postfork (every worker, and
worker 2 alone), @postfork over @thread, then a hook that raises (the
chain stops there, in uWSGI too). Each
hook appends "PID WORKER WHAT" to $POSTFORK_LOG; / answers what this
worker sees as JSON."""
import json
import os
import threading
import time

import uwsgi
from uwsgidecorators import postfork, thread

LOG = os.environ["POSTFORK_LOG"]
ticks = [0]


def note(what):
    with open(LOG, "a") as f:
        f.write("%d %d %s\n" % (os.getpid(), uwsgi.worker_id(), what))


@postfork
def every_worker():
    note("all")


@postfork(2)
def only_worker_two():
    note("two")


@postfork
@thread
def background():
    note("thread")
    while True:
        ticks[0] += 1
        time.sleep(0.05)


@postfork
def fails():
    note("raises")
    raise RuntimeError("a postfork hook that fails")


@postfork
def after_the_failure():
    note("after")


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({
        "pid": os.getpid(),
        "worker_id": uwsgi.worker_id(),
        "is_a_reload": uwsgi.is_a_reload,
        "ticks": ticks[0],
        "threads": threading.active_count(),
    }).encode()]
