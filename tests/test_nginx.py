"""nginx (uwsgi_pass) in front of `uwsgo -s`: the uwsgi binary protocol."""
import os
import socket
import struct
import threading
import time

import pytest
import requests

from helpers import (APPS, REQ_TIMEOUT, recv_until, recv_until_closed, split_response,
                     uwsgi_packet)

BASIC = ["-w", "basic", "--pythonpath", APPS]


@pytest.fixture
def upstream(uwsgo):
    return uwsgo(*BASIC, proto="uwsgi")


@pytest.fixture
def front(upstream, nginx):
    return nginx(upstream.port)


def test_get_through_nginx(front):
    r = requests.get(front.url + "/hello", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"Hello World"


def test_keepalive_through_nginx(front):
    s = requests.Session()
    for _ in range(20):
        r = s.get(front.url + "/hello", timeout=REQ_TIMEOUT)
        assert r.status_code == 200 and r.content == b"Hello World"


def test_post_through_nginx(front):
    r = requests.post(front.url + "/echo", data=b"posted through nginx", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"posted through nginx"
    assert r.headers["X-Content-Length"] == "20"


def test_large_post_through_nginx(front):
    body = os.urandom(3 * 1024 * 1024)   # nginx spools it to its temp dir
    r = requests.post(front.url + "/echo", data=body, timeout=30)
    assert r.status_code == 200
    assert r.content == body


def test_environ_through_nginx(front, upstream):
    r = requests.get(front.url + "/environ/a%20b?x=1&y=two",
                     headers={"X-Custom-Header": "via-nginx"}, timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    env = r.json()
    assert env["REQUEST_METHOD"] == "GET"
    assert env["PATH_INFO"] == "/environ/a b"
    assert env["QUERY_STRING"] == "x=1&y=two"
    assert env["REQUEST_URI"] == "/environ/a%20b?x=1&y=two"
    assert env["HTTP_X_CUSTOM_HEADER"] == "via-nginx"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(front.port)
    assert env.get("SCRIPT_NAME", "") == ""
    assert env["wsgi.url_scheme"] == "http"


def test_status_and_headers_through_nginx(front):
    r = requests.get(front.url + "/status?code=404", timeout=REQ_TIMEOUT)
    assert r.status_code == 404
    r = requests.get(front.url + "/cookies", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_error_through_nginx(front, upstream):
    r = requests.get(front.url + "/error", timeout=REQ_TIMEOUT)
    assert r.status_code == 500
    upstream.wait_log("boom-in-app")
    r = requests.get(front.url + "/hello", timeout=REQ_TIMEOUT)
    assert r.status_code == 200


def test_streaming_unbuffered(uwsgo, nginx):
    up = uwsgo(*BASIC, "--async", "4", "--ugreen", proto="uwsgi")
    ng = nginx(up.port, buffering=False)
    with socket.create_connection(("127.0.0.1", ng.port), timeout=REQ_TIMEOUT) as s:
        t0 = time.monotonic()
        s.sendall(b"GET /stream?s=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = recv_until(s, b"first\n")
        t_first = time.monotonic() - t0
        rest, closed = recv_until_closed(s)
        t_all = time.monotonic() - t0
    assert head.startswith(b"HTTP/1.1 200"), head[:300]
    assert closed
    assert b"second\n" in rest, rest
    assert t_first < 1.5, "the first chunk took %.2f s: it waited for the app to finish" % t_first
    assert t_all >= 1.8, "the app's 2 s sleep took %.2f s" % t_all


def test_sleep_does_not_block_other_requests(uwsgo, nginx):
    up = uwsgo(*BASIC, "--async", "4", "--ugreen", proto="uwsgi")
    ng = nginx(up.port, buffering=False)
    results = {}

    def slow():
        r = requests.get(ng.url + "/stream?s=2", timeout=REQ_TIMEOUT)
        results["slow"] = (r.status_code, r.content)

    t = threading.Thread(target=slow)
    t.start()
    try:
        time.sleep(0.3)
        t0 = time.monotonic()
        r = requests.get(ng.url + "/hello", timeout=REQ_TIMEOUT)
        elapsed = time.monotonic() - t0
    finally:
        t.join(REQ_TIMEOUT)
    assert r.status_code == 200
    assert elapsed < 1.0, "a sleeping core blocked another request for %.2f s" % elapsed
    assert results.get("slow") == (200, b"first\nsecond\n")


def test_raw_uwsgi_request(upstream):
    pkt = uwsgi_packet({
        "REQUEST_METHOD": "POST", "PATH_INFO": "/echo", "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": "5", "HTTP_HOST": "localhost",
    }, body=b"12345")
    with socket.create_connection(("127.0.0.1", upstream.port), timeout=REQ_TIMEOUT) as s:
        s.sendall(pkt)
        data, closed = recv_until_closed(s)
    assert closed
    status, headers, body = split_response(data)
    assert status.startswith("HTTP/1.1 200"), data[:300]
    assert body == b"12345"


def send_and_expect_close(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=REQ_TIMEOUT) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return
        got, closed = recv_until_closed(s, timeout=5)
    assert closed, "uwsgo kept a connection open after a malformed packet (got %r)" % got[:300]
    assert not got.startswith(b"HTTP/1.1 200"), got[:300]


@pytest.mark.parametrize("packet", [
    # a key length that runs past the end of the packet
    struct.pack("<BHB", 0, 4, 0) + b"\x10\x00ab",
    # a value length that runs past the end of the packet
    struct.pack("<BHB", 0, 9, 0) + b"\x03\x00KEY" + b"\xff\x00ab",
    # a packet larger than --buffer-size (4096 by default), sent in full
    struct.pack("<BHB", 0, 60000, 0) + (b"\x01\x00A\x01\x00B" * 10000),
    # not the uwsgi protocol at all
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["key-overflow", "value-overflow", "oversized", "http-on-uwsgi-port"])
def test_malformed_packet_closes_connection(front, upstream, packet):
    send_and_expect_close(upstream.port, packet)
    r = requests.get(front.url + "/hello", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"Hello World"
