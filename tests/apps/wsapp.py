"""WebSocket apps on uWSGI's API (uwsgi.websocket_*), for uwsgo and uWSGI alike.

/echo          recv() and send back (text frames), until the client goes
/echo-binary   the same with websocket_send_binary
/async         uWSGI's async form: wait_fd_read(connection_fd()), suspend,
               yield, ready_fd, websocket_recv_nb (plain --async too)
/suspend       the same without the yield (engines that can suspend)
/proto         handshake with proto="chat" and origin="https://example.org"
/events        (plain HTTP) what ended each websocket request, as JSON
/, /hello      (plain HTTP) says hello: the worker still serves
"""
import json
import os

import uwsgi

EVENTS = []


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
    elif path == "/suspend":
        for _ in _async_form(path, False):
            pass
    return []
