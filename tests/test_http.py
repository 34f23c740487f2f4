"""uwsgo --http-socket: HTTP/1.1 and the WSGI contract (PEP 3333)."""
import http.client
import json
import os
import socket
import time

import pytest
import requests

from helpers import (APPS, EXAMPLES, REQ_TIMEOUT, dechunk, raw_http, recv_until,
                     recv_until_closed, split_response)

BASIC = ["-w", "basic", "--pythonpath", APPS]


@pytest.fixture
def srv(uwsgo):
    return uwsgo(*BASIC)


def get_environ(srv, path="/environ", **kw):
    r = requests.get(srv.url + path, timeout=REQ_TIMEOUT, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def conn_to(srv):
    return http.client.HTTPConnection("127.0.0.1", srv.port, timeout=REQ_TIMEOUT)


# ---------------------------------------------------------------- basics

def test_hello_keepalive(srv):
    conn = conn_to(srv)
    try:
        conn.request("GET", "/hello")
        r1 = conn.getresponse()
        assert r1.status == 200
        assert r1.version == 11
        assert r1.read() == b"Hello World"
        assert r1.getheader("Content-Length") == "11"
        assert not r1.will_close, "server asked to close a keep-alive connection: %s" % r1.getheaders()
        sock = conn.sock
        assert sock is not None
        conn.request("GET", "/hello")
        r2 = conn.getresponse()
        assert r2.status == 200
        assert r2.read() == b"Hello World"
        assert conn.sock is sock, "the second request did not reuse the connection"
    finally:
        conn.close()


def test_many_requests_one_connection(srv):
    conn = conn_to(srv)
    try:
        for i in range(50):
            conn.request("GET", "/environ?i=%d" % i)
            r = conn.getresponse()
            assert r.status == 200
            assert json.loads(r.read())["QUERY_STRING"] == "i=%d" % i
    finally:
        conn.close()


def test_hello_example_wsgi_file(uwsgo):
    s = uwsgo("--wsgi-file", EXAMPLES / "hello.py")
    r = requests.get(s.url + "/", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"Hello World"


def test_http10_connection_closes(srv):
    raw = raw_http(srv.port, b"GET /hello HTTP/1.0\r\nHost: localhost\r\n\r\n")
    status, headers, body = split_response(raw)
    assert status.startswith("HTTP/1.") and " 200 " in status + " ", status
    assert body == b"Hello World"


def test_head_has_no_body(srv):
    conn = conn_to(srv)
    try:
        conn.request("HEAD", "/hello")
        r = conn.getresponse()
        assert r.status == 200
        assert r.read() == b""
        # the connection must still be usable: no stray body bytes on it
        conn.request("GET", "/hello")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"Hello World"
    finally:
        conn.close()


@pytest.mark.parametrize("code", [201, 404, 418, 503])
def test_status_codes(srv, code):
    r = requests.get(srv.url + "/status?code=%d" % code, timeout=REQ_TIMEOUT)
    assert r.status_code == code
    assert r.text.startswith(str(code))


def test_204_no_content(srv):
    conn = conn_to(srv)
    try:
        conn.request("GET", "/status?code=204")
        r = conn.getresponse()
        assert r.status == 204
        assert r.read() == b""
        conn.request("GET", "/hello")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"Hello World"
    finally:
        conn.close()


def test_repeated_response_headers(srv):
    raw = raw_http(srv.port, b"GET /cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = raw.partition(b"\r\n\r\n")[0].lower()
    assert b"set-cookie: a=1" in head and b"set-cookie: b=2" in head, head


# ---------------------------------------------------------------- request bodies

def test_post_echo(srv):
    r = requests.post(srv.url + "/echo", data=b"hello body", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"hello body"
    assert r.headers["X-Content-Length"] == "10"


def test_post_empty_body(srv):
    r = requests.post(srv.url + "/echo", data=b"", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b""


def test_post_chunked_request_body(srv):
    parts = [b"first-part|", b"x" * 10000, b"|", os.urandom(3000), b"|last"]
    conn = conn_to(srv)
    try:
        conn.request("POST", "/echo", body=iter(parts), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked",
                              "Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        assert r.status == 200
        assert r.read() == b"".join(parts)
    finally:
        conn.close()


def test_post_5mb_body(srv):
    body = os.urandom(5 * 1024 * 1024)
    r = requests.post(srv.url + "/echo", data=body, timeout=30)
    assert r.status_code == 200
    assert r.headers["X-Content-Length"] == str(len(body))
    assert len(r.content) == len(body)
    assert r.content == body


def test_expect_100_continue(srv):
    body = b"z" * 5000
    with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\n\r\n" % len(body))
        interim = recv_until(s, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100"), interim
        rest = interim.partition(b"\r\n\r\n")[2]
        s.sendall(body)
        data, closed = recv_until_closed(s)
    status, headers, got = split_response(rest + data)
    assert " 200 " in status + " ", status
    assert got == body


# ---------------------------------------------------------------- environ

def test_query_string(srv):
    env = get_environ(srv, "/environ?a=1&b=two%20words&c")
    assert env["QUERY_STRING"] == "a=1&b=two%20words&c"
    env = get_environ(srv, "/environ")
    assert env.get("QUERY_STRING") == ""


def test_path_info_percent_decoding(srv):
    conn = conn_to(srv)
    try:
        conn.request("GET", "/environ/a%20b/caf%C3%A9?x=%20")
        r = conn.getresponse()
        assert r.status == 200
        env = json.loads(r.read())
    finally:
        conn.close()
    # PEP 3333: PATH_INFO is the decoded path, bytes carried as latin-1
    assert env["PATH_INFO"].encode("latin-1") == "/environ/a b/café".encode("utf-8")
    assert env["QUERY_STRING"] == "x=%20"
    assert env.get("SCRIPT_NAME", "") == ""


def test_request_uri_is_raw(srv):
    env = get_environ(srv, "/environ/a%20b?x=1")
    assert env["REQUEST_URI"] == "/environ/a%20b?x=1"


def test_cgi_variables(srv):
    env = get_environ(srv)
    assert env["REQUEST_METHOD"] == "GET"
    assert env.get("SCRIPT_NAME", "") == ""
    assert env["PATH_INFO"] == "/environ"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_PORT"] == str(srv.port)
    assert env["SERVER_NAME"]
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.version"] == [1, 0]
    for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
        assert isinstance(env[key], bool), (key, env.get(key))
    assert env["wsgi.run_once"] is False
    assert "wsgi.input" in env and "wsgi.errors" in env


def test_http_headers(srv):
    r = requests.post(srv.url + "/environ", data=b"abc", timeout=REQ_TIMEOUT,
                      headers={"X-Custom-Header": "foo bar", "User-Agent": "uwsgo-tests/1",
                               "Content-Type": "text/x-test"})
    assert r.status_code == 200
    env = r.json()
    assert env["REQUEST_METHOD"] == "POST"
    assert env["HTTP_X_CUSTOM_HEADER"] == "foo bar"
    assert env["HTTP_USER_AGENT"] == "uwsgo-tests/1"
    assert env["HTTP_HOST"] == "127.0.0.1:%d" % srv.port
    assert env["CONTENT_TYPE"] == "text/x-test"
    assert env["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env


def test_repeated_request_headers_joined(srv):
    raw = raw_http(srv.port, b"GET /environ HTTP/1.1\r\nHost: x\r\nX-Multi: a\r\n"
                             b"X-Multi: b\r\nConnection: close\r\n\r\n")
    status, headers, body = split_response(raw)
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    env = json.loads(body)
    # joined with a comma, as CGI/wsgiref do (optional whitespace after it)
    assert [v.strip() for v in env["HTTP_X_MULTI"].split(",")] == ["a", "b"], env["HTTP_X_MULTI"]


@pytest.mark.parametrize("route,expected", [
    ("/readline", ["line1\n", "line2\n", "\n", "last-no-newline"]),
    ("/readlines", ["line1\n", "line2\n", "\n", "last-no-newline"]),
    ("/iter", ["line1\n", "line2\n", "\n", "last-no-newline"]),
])
def test_wsgi_input_lines(srv, route, expected):
    r = requests.post(srv.url + route, data=b"line1\nline2\n\nlast-no-newline",
                      timeout=REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json() == expected


def test_wsgi_input_readline_size(srv):
    # readline(size) never loses or reorders bytes, and never returns more
    # than one line (how far below `size` it stops is up to the server)
    body = b"line1\nline2\n\nlast-no-newline"
    r = requests.post(srv.url + "/readline4", data=body, timeout=REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    lines = r.json()
    assert "".join(lines).encode("latin-1") == body
    assert all("\n" not in x[:-1] for x in lines), lines


def test_wsgi_errors_goes_to_log(srv):
    r = requests.get(srv.url + "/errors?msg=errors-marker-7f3a", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    srv.wait_log("errors-marker-7f3a")


# ---------------------------------------------------------------- responses

def test_no_content_length_is_chunked(srv):
    # a streamed response (the server cannot know its length) on HTTP/1.1
    conn = conn_to(srv)
    try:
        conn.request("GET", "/slowstream")
        r = conn.getresponse()
        assert r.status == 200
        assert r.getheader("Transfer-Encoding") == "chunked", r.getheaders()
        assert r.getheader("Content-Length") is None
        assert r.read() == b"part1-part2-part3"
        assert not r.will_close
        conn.request("GET", "/hello")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"Hello World"
    finally:
        conn.close()


def test_short_response_without_length_keeps_alive(srv):
    # a short generator: chunked, or a Content-Length the server counted
    conn = conn_to(srv)
    try:
        conn.request("GET", "/nolength")
        r = conn.getresponse()
        assert r.status == 200
        te, cl = r.getheader("Transfer-Encoding"), r.getheader("Content-Length")
        assert te == "chunked" or cl == "17", r.getheaders()
        assert r.read() == b"part1-part2-part3"
        conn.request("GET", "/hello")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"Hello World"
    finally:
        conn.close()


def test_raw_chunked_framing(srv):
    raw = raw_http(srv.port, b"GET /slowstream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = split_response(raw)
    assert " 200 " in status + " ", status
    assert headers.get("transfer-encoding") == "chunked", headers
    assert body.endswith(b"0\r\n\r\n"), body[-50:]
    assert dechunk(body) == b"part1-part2-part3"


def test_streaming_first_chunk_is_sent_early(srv):
    # one core, no async: the app blocks between yields, and what it yielded
    # before must reach the client meanwhile
    with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
        t0 = time.monotonic()
        s.sendall(b"GET /slowstream?gap=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        recv_until(s, b"part1-")
        t_first = time.monotonic() - t0
        rest, closed = recv_until_closed(s)
    assert t_first < 0.8, "the first chunk came after %.2f s, with the whole response" % t_first
    assert b"part3" in rest


def test_write_callable(srv):
    r = requests.get(srv.url + "/write", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"foobarbaz"


def test_close_called_on_iterable(srv, tmp_path):
    marker = tmp_path / "closed.marker"
    r = requests.get(srv.url + "/close", params={"marker": str(marker)}, timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"closing iterable"
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "close() was not called on the response iterable"


def test_app_exception_gives_500(srv):
    r = requests.get(srv.url + "/error", timeout=REQ_TIMEOUT)
    assert r.status_code == 500
    log = srv.wait_log("boom-in-app")
    assert "Traceback" in log
    assert "RuntimeError" in log
    r = requests.get(srv.url + "/hello", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"Hello World"


def test_app_exception_midstream(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
        s.sendall(b"GET /error-midstream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, closed = recv_until_closed(s)
    assert closed, "the connection stayed open after the app failed mid-response"
    if not data.startswith(b"HTTP/1.1 500"):
        # headers and the first chunk went out: the response must be cut
        # short, never look complete
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        assert b"first chunk" in data
        assert not data.endswith(b"0\r\n\r\n"), data[-200:]
    log = srv.wait_log("boom-midstream")
    assert "Traceback" in log
    r = requests.get(srv.url + "/hello", timeout=REQ_TIMEOUT)
    assert r.status_code == 200


def test_malformed_request_line_400(srv):
    raw = raw_http(srv.port, b"GARBAGE\r\n\r\n")
    assert raw.startswith(b"HTTP/1."), raw[:200]
    assert raw.split(b" ", 2)[1] == b"400", raw[:200]
    r = requests.get(srv.url + "/hello", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.content == b"Hello World"


def test_client_disconnect_mid_body(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial")
    r = requests.get(srv.url + "/hello", timeout=REQ_TIMEOUT)
    assert r.status_code == 200


# ---------------------------------------------------------------- app loading

def test_callable_option(uwsgo):
    s = uwsgo("-w", "callables", "--pythonpath", APPS, "--callable", "myapp")
    r = requests.get(s.url + "/", timeout=REQ_TIMEOUT)
    assert r.text == "from myapp"


def test_module_colon_callable(uwsgo):
    s = uwsgo("-w", "callables:other", "--pythonpath", APPS)
    r = requests.get(s.url + "/", timeout=REQ_TIMEOUT)
    assert r.text == "from other"


def assert_clean_failure(res, *needles):
    """A start-up failure: non-zero exit, a readable message, no Go crash dump."""
    out = res.stdout + res.stderr
    assert res.returncode != 0, "uwsgo exited 0\n%s" % out
    for needle in needles:
        assert any(needle in line for line in res.stderr.splitlines()), \
            "no stderr line mentions %r:\n%s" % (needle, res.stderr)
    assert "goroutine " not in out and "panic:" not in out, out


def test_unimportable_module_exits(uwsgo_run):
    res = uwsgo_run("-w", "no_such_module_xyz")
    assert_clean_failure(res, "no_such_module_xyz")


def test_module_raising_on_import_exits(uwsgo_run):
    res = uwsgo_run("-w", "broken_import", "--pythonpath", APPS)
    assert_clean_failure(res, "broken-at-import")


def test_missing_callable_exits(uwsgo_run):
    res = uwsgo_run("-w", "no_callable", "--pythonpath", APPS)
    assert_clean_failure(res, "application")


def test_missing_wsgi_file_exits(uwsgo_run, tmp_path):
    missing = tmp_path / "nope" / "app.py"
    res = uwsgo_run("--wsgi-file", missing)
    assert_clean_failure(res, "app.py")


@pytest.mark.parametrize("args", [
    ["--processes", "0"],
    ["--strict", "--no-such-option"],
    ["--async", "-1"],
    ["--threads", "2", "--gevent", "4"],
], ids=["processes-0", "unknown-option", "async-negative", "threads-with-gevent"])
def test_bad_options_exit(uwsgo_run, args):
    res = uwsgo_run("--wsgi-file", EXAMPLES / "hello.py", *args)
    assert res.returncode != 0, "uwsgo accepted %s\n%s%s" % (args, res.stdout, res.stderr)
    assert res.stderr.strip(), "no message on stderr for %s" % args
    assert "goroutine " not in res.stderr and "panic:" not in res.stderr, res.stderr
