"""set_user_harakiri() on one core of a worker that serves several
requests at once (--gevent N, or --threads N), for uwsgo and uWSGI alike.

/slow?N   set_user_harakiri(N), then sleep N + 6 s: "survived"
/quick?N  set_user_harakiri(N) and end at once (which clears it)
/nap?S    sleep S s, no harakiri: "rested"
/ids      the worker's pid
"""
import json
import os
import time

import uwsgi

if os.environ.get("ENGINE") == "gevent":
    from gevent import sleep
else:
    sleep = time.sleep


def application(environ, start_response):
    path, arg = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
    if path == "/slow":
        uwsgi.set_user_harakiri(int(arg))
        sleep(int(arg) + 6)
        body = "survived"
    elif path == "/quick":
        uwsgi.set_user_harakiri(int(arg))
        body = "quick"
    elif path == "/nap":
        sleep(float(arg))
        body = "rested"
    else:
        body = os.getpid()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
