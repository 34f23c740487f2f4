"""The uwsgi module's attributes as JSON (bytes decoded), with their types
and, for each of uwsgi.sockets, whether it listens and where."""
import json
import os
import socket

import uwsgi

NAMES = ["version", "version_info", "hostname", "numproc", "cores", "buffer_size", "started_on",
         "is_a_reload", "sockets", "magic_table"]


def plain(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {plain(k): plain(x) for k, x in v.items()}
    return v


def listening(fd):
    s = socket.socket(fileno=os.dup(fd))
    try:
        return [s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), list(s.getsockname())]
    finally:
        s.close()


def application(environ, start_response):
    out = {n: plain(getattr(uwsgi, n)) for n in NAMES}
    out["types"] = {n: type(getattr(uwsgi, n)).__name__ for n in NAMES}
    out["listening"] = [listening(fd) for fd in uwsgi.sockets]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]
