"""uWSGI's signal framework, the same app under uwsgo and uWSGI 2.0.21.

Handlers append one JSON line per run to $SIGLOG:
{"sig": N, "wid": worker_id, "pid": pid}.

  10 -> 'workers'      11 -> 'worker2'      12 -> '' (one worker, any)
  13 -> '' and its handler raises RuntimeError('boom 13')
  14 -> 'worker1', an rb timer: every second, 3 times
  15 -> 'workers', for signal_wait()

/raise/N        uwsgi.signal(N)
/registered/N   uwsgi.signal_registered(N) as JSON
/bad            the bad calls, each as [exception type, message] (or the value)
/pid            "worker pid"
/wait/N         records {"waiting": wid}, then uwsgi.signal_wait(N):
                "got <signal_received()>"
"""
import json
import os

import uwsgi

LOG = os.environ["SIGLOG"]


def record(num):
    with open(LOG, "a") as f:
        f.write(json.dumps({"sig": num, "wid": uwsgi.worker_id(), "pid": os.getpid()}) + "\n")


def boom(num):
    raise RuntimeError("boom %d" % num)


uwsgi.register_signal(10, "workers", record)
uwsgi.register_signal(11, "worker2", record)
uwsgi.register_signal(12, "", record)
uwsgi.register_signal(13, "", boom)
uwsgi.register_signal(14, "worker1", record)
uwsgi.add_rb_timer(14, 1, 3)
uwsgi.register_signal(15, "workers", record)


def outcome(fn, *args):
    try:
        return ["ok", fn(*args)]
    except Exception as e:
        return [type(e).__name__, str(e)]


def application(env, start_response):
    path = env["PATH_INFO"]
    if path.startswith("/raise/"):
        body = json.dumps(outcome(uwsgi.signal, int(path[7:])))
    elif path.startswith("/registered/"):
        body = json.dumps(uwsgi.signal_registered(int(path[12:])))
    elif path == "/bad":
        body = json.dumps({
            "signal 256": outcome(uwsgi.signal, 256),
            "signal -1": outcome(uwsgi.signal, -1),
            "signal 'x'": outcome(uwsgi.signal, "x"),
            "signal unregistered 99": outcome(uwsgi.signal, 99),
            "registered 300": outcome(uwsgi.signal_registered, 300),
            "register_signal bad target": outcome(uwsgi.register_signal, 98, "wrokers", record),
            "register_signal not callable": outcome(uwsgi.register_signal, 98, "", 42),
            "add_timer 0 seconds": outcome(uwsgi.add_timer, 98, 0),
            "add_timer 1000": outcome(uwsgi.add_timer, 1000, 1),
            "add_cron minute 60": outcome(uwsgi.add_cron, 98, 60, -1, -1, -1, -1),
        })
    elif path.startswith("/wait/"):
        with open(LOG, "a") as f:
            f.write(json.dumps({"sig": -1, "waiting": uwsgi.worker_id()}) + "\n")
        r = uwsgi.signal_wait(int(path[6:]))
        body = "got %d %r" % (uwsgi.signal_received(), r)
    elif path == "/pid":
        body = "%d %d" % (uwsgi.worker_id(), os.getpid())
    else:
        body = "ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
