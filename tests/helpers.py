"""Small helpers shared by the tests (standard library and the plugin only)."""
import json
import socket
import time
from pathlib import Path

# the plugin's own, so that the suite and the plugin agree (pytest.ini puts
# python/ on sys.path)
from pytest_uwsgo import free_port, uwsgi_packet  # noqa: F401
from pytest_uwsgo.uwsgi import dechunk  # noqa: F401
from pytest_uwsgo.server import live_processes, port_accepts  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
APPS = TESTS / "apps"
EXAMPLES = REPO / "python" / "examples"

# Every network call in the suite is bounded by this many seconds.
REQ_TIMEOUT = 10.0


def recv_until_closed(sock, timeout=REQ_TIMEOUT, limit=64 << 20):
    """Read from sock until the peer closes it; return (data, closed).

    closed is True when the peer closed (EOF or reset) within timeout, False
    when the deadline passed with the connection still open.
    """
    deadline = time.monotonic() + timeout
    chunks = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return b"".join(chunks), False
        except (ConnectionResetError, BrokenPipeError):
            return b"".join(chunks), True
        if not data:
            return b"".join(chunks), True
        chunks.append(data)
        size += len(data)
        if size > limit:
            raise AssertionError("peer sent more than %d bytes without closing" % limit)


def recv_until(sock, marker, timeout=REQ_TIMEOUT):
    """Read from sock until marker appears; return everything read so far.

    Raises AssertionError (with what was read) on timeout or EOF first.
    """
    deadline = time.monotonic() + timeout
    buf = b""
    while marker not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out waiting for %r; got %r" % (marker, buf[-2000:]))
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            raise AssertionError("connection closed before %r; got %r" % (marker, buf[-2000:]))
        buf += data
    return buf


def raw_http(port, request, timeout=REQ_TIMEOUT):
    """Send raw bytes to 127.0.0.1:port and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data, closed = recv_until_closed(s, timeout)
    assert closed, "server kept the connection open; got %r" % data[:2000]
    return data


def split_response(raw):
    """Split a raw HTTP/1.x response into (status_line, headers dict lower-cased, body)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], {k: ", ".join(v) for k, v in headers.items()}, body


# The async engines, as command-line options, for tests parametrized over them.
ENGINES = {
    "sync": [],
    "async": ["--async", "4"],
    "ugreen": ["--async", "4", "--ugreen"],
    "greenlet": ["--async", "4", "--greenlet"],
    "gevent": ["--gevent", "4"],
}


def engine_params(*names):
    """pytest.param lists of engine options, e.g. engine_params("ugreen", "greenlet")."""
    import pytest
    return [pytest.param(ENGINES[n], id=n) for n in names]


def until(what, cond, timeout, step=0.05):
    """Poll cond() until it returns something true; return it (fail after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %g s" % (what, timeout))
        time.sleep(step)


def read_stats(addr, http=False):
    """The stats server's JSON (--stats), read to its close: addr is a
    TCP port on 127.0.0.1 or a unix socket's path; http=True asks with a
    GET (--stats-http) and checks the answer's head."""
    if isinstance(addr, int):
        s = socket.create_connection(("127.0.0.1", addr), timeout=REQ_TIMEOUT)
    else:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(REQ_TIMEOUT)
        s.connect(str(addr))
    with s:
        if http:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data, closed = recv_until_closed(s)
    assert closed, "the stats server did not close within %g s" % REQ_TIMEOUT
    if http:
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK"), head
        assert b"Content-Type: application/json" in head
        return json.loads(body)
    return json.loads(data)
