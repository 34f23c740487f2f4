"""uWSGI's tests/ugevent.py (the gevent document's SignalFramework
example), for Python 3 and for a test: a timer, a signal raised by a
background greenlet once it is done, and a directory monitor, each
handler in a greenlet of its own. Events go to $SIGLOG as JSON lines;
$WATCHDIR is the monitored directory (the original watches /tmp), the
timer fires every second (the original: 10) and nothing leaves the
machine (the original looks up hosts on the internet).
"""
import json
import os

import gevent
import gevent.socket
import uwsgi
from uwsgidecorators import filemon, signal, timer

LOG = os.environ["SIGLOG"]


def record(**kw):
    cur = gevent.getcurrent()
    kw.update(wid=uwsgi.worker_id(), greenlet=id(cur), hub=cur is gevent.get_hub())
    with open(LOG, "a") as f:
        f.write(json.dumps(kw) + "\n")


@signal(17)
def hello(signum):
    record(what="hello", sig=signum)  # the background job is finished


@timer(1)
def ten_seconds(signum):
    record(what="timer", sig=signum)


@filemon(os.environ["WATCHDIR"])
def tmp_modified(signum):
    record(what="filemon", sig=signum)


def bg_task():
    for i in range(1, 4):
        record(what="background", step=i)
        gevent.sleep(0.2)
    # task ended: raise a signal
    uwsgi.signal(17)


def long_task():
    for i in range(1, 10):
        gevent.sleep()


def application(e, sr):
    sr("200 OK", [("Content-Type", "text/html")])
    t = gevent.spawn(long_task)
    t.join()
    yield b"sleeping for 0.3 seconds...<br/>"
    gevent.sleep(0.3)
    yield b"done<br>"
    yield b"getting some ips...<br/>"
    jobs = [gevent.spawn(gevent.socket.gethostbyname, h) for h in ("localhost", "127.0.0.1")]
    gevent.joinall(jobs, timeout=2)
    for j in jobs:
        yield ("ip = %s<br/>" % j.value).encode()
    # this task goes on after the request ends
    gevent.spawn(bg_task)
