"""A burst of signals to a busy worker, the same app under uwsgo and
uWSGI 2.0.21.

One worker; signals 40 and 41 both go to it ('worker1'). /burst/N raises
N signals in one request, alternating 40, 41, 40, ... while the worker
is busy with that request, so none can be handled before it ends: the
master must hold them. Each handler appends its signal number to a list
in the worker; /seen returns that list as JSON.
"""
import json

import uwsgi

seen = []

uwsgi.register_signal(40, "worker1", seen.append)
uwsgi.register_signal(41, "worker1", seen.append)


def application(env, start_response):
    path = env["PATH_INFO"]
    if path.startswith("/burst/"):
        for i in range(int(path[7:])):
            uwsgi.signal(40 + i % 2)
        body = "raised"
    elif path == "/seen":
        body = json.dumps(seen)
    else:
        body = "ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
