"""WebSocket apps on uWSGI's API (uwsgi.websocket_*), for uwsgo and uWSGI alike.

/echo          recv() and send back (text frames), until the client goes
/echo-binary   the same with websocket_send_binary
/async         uWSGI's async form: wait_fd_read(connection_fd()), suspend,
               yield, ready_fd, websocket_recv_nb (plain --async too)
/suspend       the same without the yield (engines that can suspend)
/nb            websocket_recv_nb() before anything can have come, sent back
               as repr(), then echoes
/proto         handshake with proto="chat" and origin="https://example.org"
/lazy?nap=E    reads nothing until /release, then counts messages until
               b"end" and sends the count (E: how to nap on that engine)
/release       (plain HTTP) lets /lazy go on
/events        (plain HTTP) what ended each websocket request, as JSON
/, /hello      (plain HTTP) says hello: the worker still serves
"""
import json
import os
import time

import uwsgi

EVENTS = []
RELEASED = []


def _nap(kind):
    if kind == "gevent":
        import gevent
        gevent.sleep(0.05)
    elif kind == "threads":
        time.sleep(0.05)
    else:
        uwsgi.async_sleep(0.05)
        uwsgi.suspend()


def _lazy(kind):
    while not RELEASED:
        _nap(kind)
    n = 0
    while uwsgi.websocket_recv() != b"end":
        n += 1
    uwsgi.websocket_send(str(n))


def _ended(path, how):
    EVENTS.append({"path": path, "how": how, "pid": os.getpid()})


def _echo(path, send):
    n = 0
    try:
        while True:
            msg = uwsgi.websocket_recv()
            n += 1
            send(msg)
    except IOError as e:
        _ended(path, "IOError: %s after %d" % (e, n))
        raise


def _async_form(path, yield_between):
    fd = uwsgi.connection_fd()
    n = 0
    while True:
        uwsgi.wait_fd_read(fd, 30)
        uwsgi.suspend()
        if yield_between:
            yield b""
        ready = uwsgi.ready_fd()
        try:
            msg = uwsgi.websocket_recv_nb()
        except IOError as e:
            _ended(path, "IOError: %s after %d" % (e, n))
            return
        if ready == fd and msg:
            n += 1
            uwsgi.websocket_send(msg)


def application(env, start_response):
    path = env["PATH_INFO"]
    if path == "/events":
        body = json.dumps(EVENTS).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/release":
        RELEASED.append(1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"released"]
    if path in ("/", "/hello"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]
    if path == "/proto":
        uwsgi.websocket_handshake(None, "https://example.org", "chat")
        msg = uwsgi.websocket_recv()
        uwsgi.websocket_send(msg)
        return []
    try:
        uwsgi.websocket_handshake()
    except IOError as e:
        _ended(path, "handshake: %s" % e)
        raise
    if path == "/echo":
        _echo(path, uwsgi.websocket_send)
    elif path == "/echo-binary":
        _echo(path, uwsgi.websocket_send_binary)
    elif path == "/async":
        return _async_form(path, True)
    elif path == "/nb":
        uwsgi.websocket_send(repr(uwsgi.websocket_recv_nb()))
        _echo(path, uwsgi.websocket_send)
    elif path == "/lazy":
        _lazy(env["QUERY_STRING"].partition("=")[2])
    elif path == "/suspend":
        for _ in _async_form(path, False):
            pass
    return []
