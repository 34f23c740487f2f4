"""Debian's uwsgidecorators @lock across the workers of one master, for
uwsgo and uWSGI alike.

bump() is decorated with @lock (uwsgi.lock(0) around the call). It
marks itself inside by creating $LOCK_DIR/inside exclusively (an overlap
with another worker's call is counted in $LOCK_DIR/overlaps), reads the
counter file, sleeps a little, writes it back plus one and leaves.

GET /bump      bump(), answers the worker id
GET /count     the counter, and the overlaps seen
GET /is_locked  uwsgi.is_locked() (lock 0, @lock's)
GET /spool     spool a task whose function calls bump(): in the spooler
               @lock does not call it (it returns None at once)
"""
import json
import os
import time

import uwsgi
from uwsgidecorators import lock, spool

DIR = os.environ["LOCK_DIR"]
COUNTER, INSIDE, OVERLAPS = (os.path.join(DIR, n) for n in ("counter", "inside", "overlaps"))


@lock
def bump():
    try:
        os.close(os.open(INSIDE, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        mine = True
    except FileExistsError:
        mine = False  # another call is inside: the lock failed
        with open(OVERLAPS, "a") as f:
            f.write("x")
    with open(COUNTER) as f:
        n = int(f.read() or 0)
    time.sleep(0.002)  # long enough for a racing worker to read the same n
    with open(COUNTER, "w") as f:
        f.write(str(n + 1))
    if mine:
        os.unlink(INSIDE)
    return n + 1


@spool
def task(args):
    with open(os.path.join(DIR, "spooled"), "w") as f:
        json.dump({"bump": bump(), "spooler": uwsgi.i_am_the_spooler()}, f)


def application(env, start_response):
    path = env["PATH_INFO"]
    if path == "/bump":
        bump()
        body = str(uwsgi.worker_id())
    elif path == "/count":
        with open(COUNTER) as f:
            n = int(f.read() or 0)
        try:
            overlaps = len(open(OVERLAPS).read())
        except FileNotFoundError:
            overlaps = 0
        body = json.dumps([n, overlaps])
    elif path == "/is_locked":
        body = json.dumps(uwsgi.is_locked())
    elif path == "/spool":
        task.spool(x=b"1")
        body = "spooled"
    else:
        body = "ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
