"""Signals to the spooler and the mules. Handlers append a JSON line to
$SIGLOG: {"sig": N, "who": "spooler" | "mule <id>" | "worker <id>"}.

  50 -> 'spooler'    51 -> 'mules'    52 -> 'mule2'    53 -> 'mule' (any one)

/raise/N   uwsgi.signal(N)
"""
import json
import os

import uwsgi

LOG = os.environ["SIGLOG"]


def who():
    if uwsgi.i_am_the_spooler():
        return "spooler"
    if uwsgi.mule_id():
        return "mule %d" % uwsgi.mule_id()
    return "worker %d" % uwsgi.worker_id()


def record(num):
    with open(LOG, "a") as f:
        f.write(json.dumps({"sig": num, "who": who()}) + "\n")


def task(env):
    return uwsgi.SPOOL_OK


uwsgi.spooler = task
uwsgi.register_signal(50, "spooler", record)
uwsgi.register_signal(51, "mules", record)
uwsgi.register_signal(52, "mule2", record)
uwsgi.register_signal(53, "mule", record)


def application(env, start_response):
    path = env["PATH_INFO"]
    body = "ok"
    if path.startswith("/raise/"):
        uwsgi.signal(int(path[7:]))
        body = "raised"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
