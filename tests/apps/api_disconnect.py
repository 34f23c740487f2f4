"""uwsgi.disconnect(), the same app under uwsgo and uWSGI 2.0.21.

/part  start_response, yield b"part one\\n", uwsgi.disconnect(), then
       (after one more yield, where plain --async gives way) wait for the
       file $DISC_DIR/go, record "after" in $DISC_DIR/log and yield
       b"never seen": the response is over, so the server stops iterating
       there, as when a client has gone ("closed" is recorded, not "end")
/none  uwsgi.disconnect() before start_response, then the same wait
/      "ok"
"""
import os
import time

import uwsgi

DIR = os.environ["DISC_DIR"]

if os.environ.get("ENGINE") == "gevent":
    from gevent import sleep
else:
    sleep = time.sleep


def wait_for_go():
    while not os.path.exists(os.path.join(DIR, "go")):
        sleep(0.02)


def record(what):
    with open(os.path.join(DIR, "log"), "a") as f:
        f.write(what + "\n")


def application(env, start_response):
    path = env["PATH_INFO"]
    if path == "/part":
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"part one\n"
        uwsgi.disconnect()
        record("disconnected")
        try:
            yield b""
            wait_for_go()
            record("after")
            yield b"never seen"  # the response is over: the iteration ends here
            record("end")
        finally:
            record("closed")
    elif path == "/none":
        uwsgi.disconnect()
        yield b""
        wait_for_go()
        record("after none")
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"never seen"
    else:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"ok"
