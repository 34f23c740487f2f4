"""Non-blocking network I/O with uWSGI's async API (uWSGI's tests/iobound_async.py).

The app connects to an HTTP server without blocking the worker, sends a
request and streams the answer back as its own body. Name the server and
the path in the query string:

    uwsgo --http-socket :9090 --wsgi-file python/examples/iobound_async.py --async 10 --ugreen
    curl 'http://127.0.0.1:9090/?addr=127.0.0.1:8000&path=/'

uwsgi.async_connect() returns a non-blocking socket fd whose connect is in
progress; uwsgi.wait_fd_write()/wait_fd_read() register the fd with the
server's event loop and return b"", so `yield uwsgi.wait_fd_read(fd, t)`
parks this core until the fd is ready or `t` seconds passed, in which case
environ['x-wsgiorg.fdevent.timeout'] is True.
"""
import errno
import os
import socket
from urllib.parse import parse_qs

import uwsgi

TIMEOUT = 5


def connect_error(fd):
    # SO_ERROR of the fd, read through a duplicate so the fd stays ours.
    s = socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM)
    try:
        return s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    finally:
        s.close()


def send_all(environ, fd, data):
    while data:
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            yield uwsgi.wait_fd_write(fd, TIMEOUT)
            if environ["x-wsgiorg.fdevent.timeout"]:
                raise TimeoutError("timed out sending to the upstream")
            continue
        data = data[n:]


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    addr = query.get("addr", ["127.0.0.1:8000"])[0]
    path = query.get("path", ["/"])[0]
    host = addr.rsplit(":", 1)[0]

    fd = uwsgi.async_connect(addr)
    try:
        # Wait (without blocking the worker) for the connect to complete.
        yield uwsgi.wait_fd_write(fd, TIMEOUT)
        if environ["x-wsgiorg.fdevent.timeout"] or connect_error(fd) != 0:
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
            yield b"cannot connect to %s\n" % addr.encode()
            return

        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        yield from send_all(environ, fd, b"GET %s HTTP/1.0\r\n" % path.encode())
        # Let the other cores run between the two halves of the request.
        uwsgi.suspend()
        yield from send_all(environ, fd, b"Host: %s\r\nConnection: close\r\n\r\n" % host.encode())

        while True:
            yield uwsgi.wait_fd_read(fd, TIMEOUT)
            if environ["x-wsgiorg.fdevent.timeout"]:
                return
            try:
                buf = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno == errno.ECONNRESET:
                    return
                raise
            if not buf:
                return
            yield buf
    finally:
        os.close(fd)
