"""--static-map and --static-index end to end, through the real binary.

Each test runs twice: uwsgo on --http-socket, and uwsgo on -s behind a real
nginx (uwsgi_pass). Content types, HEAD, Range, If-Modified-Since, index
files, fall-through to the app, and no way out of the mapped directory:
`..`, percent-encoded `%2e%2e` and `%2f`, NUL, and symlinks pointing outside
(sent raw, since HTTP clients would normalize them away; through nginx, and
also as raw uwsgi packets straight to the -s port, since nginx normalizes
URIs itself). server/static_test.go has the unit tests.
"""
import email.utils
import hashlib
import os
import socket
import time

import pytest
import requests

from helpers import (APPS, REQ_TIMEOUT, raw_http, recv_until_closed, split_response,
                     uwsgi_packet)

SECRET = b"TOP-SECRET-do-not-serve"

FILES = {
    "index.html": (b"<!doctype html><title>root index</title>\n", "text/html"),
    "style.css": (b"body { color: red }\n", "text/css"),
    "app.js": (b"console.log('hi');\n", "javascript"),
    "data.json": (b'{"a": 1}\n', "application/json"),
    "pic.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png"),
    "logo.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"/>\n', "image/svg+xml"),
    "notes.txt": (b"0123456789abcdefghijklmnopqrstuvwxyz\n", "text/plain"),
    "caf\u00e9 menu.txt": (b"unicode name\n", "text/plain"),
    "sub/index.html": (b"<p>sub index</p>\n", "text/html"),
    "sub/deeper/file.txt": (b"deep file\n", "text/plain"),
    "noindex/thing.txt": (b"thing\n", "text/plain"),
}


@pytest.fixture
def tree(tmp_path):
    www = tmp_path / "www"
    static = www / "static"
    for name, (data, _) in FILES.items():
        p = static / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (www / "secret.txt").write_bytes(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    # symlinks that point outside static/: must not be followed
    os.symlink("../secret.txt", static / "leak.txt")
    os.symlink(str(outside / "secret.txt"), static / "abs-leak.txt")
    os.symlink("../../outside", static / "outdir")
    # symlinks that stay inside: served, as uWSGI does
    os.symlink("notes.txt", static / "alias.txt")
    os.symlink(str(static / "sub"), static / "abs-subdir")
    big = os.urandom(3 * 1024 * 1024 + 17)
    (static / "big.bin").write_bytes(big)
    favicon = www / "favicon.ico"
    favicon.write_bytes(b"\x00\x00\x01\x00fake-icon")
    # a fixed, old mtime for the If-Modified-Since tests
    os.utime(static / "notes.txt", (1_600_000_000, 1_600_000_000))
    return {"www": www, "static": static, "big": big, "favicon": favicon}


class Front:
    """The server under test as the client sees it: .url, .port, .raw(path)."""

    def __init__(self, url, port, upstream):
        self.url = url
        self.port = port
        self.upstream = upstream

    def raw(self, path, headers=b""):
        """GET path sent byte for byte (no client-side normalization)."""
        req = b"GET " + path.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n"
        return split_response(raw_http(self.port, req))


@pytest.fixture(params=["http", "nginx"])
def front(request, uwsgo, nginx, tree):
    args = ["-w", "basic", "--pythonpath", APPS,
            "--static-map", "/static=%s" % tree["static"],
            "--static-map", "/favicon.ico=%s" % tree["favicon"],
            "--static-index", "index.html"]
    if request.param == "http":
        srv = uwsgo(*args)
        return Front(srv.url, srv.port, srv)
    up = uwsgo(*args, proto="uwsgi")
    ng = nginx(up.port)
    return Front(ng.url, ng.port, up)


def get(front, path, **kw):
    return requests.get(front.url + path, timeout=REQ_TIMEOUT, **kw)


def test_content_types(front):
    for name, (data, ctype) in FILES.items():
        r = get(front, "/static/" + requests.utils.quote(name))
        assert r.status_code == 200, (name, r.status_code, r.text[:200])
        assert r.content == data, name
        assert ctype in r.headers["Content-Type"], (name, r.headers["Content-Type"])
        assert r.headers["Content-Length"] == str(len(data))
        assert "Last-Modified" in r.headers
        assert r.headers.get("Accept-Ranges") == "bytes"


def test_head(front):
    r = requests.head(front.url + "/static/style.css", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(len(FILES["style.css"][0]))
    assert r.content == b""


def test_big_file(front, tree):
    r = get(front, "/static/big.bin")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(tree["big"]).hexdigest()


def test_range(front, tree):
    data = FILES["notes.txt"][0]
    r = get(front, "/static/notes.txt", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206
    assert r.content == data[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/%d" % len(data)
    assert r.headers["Content-Length"] == "10"

    r = get(front, "/static/notes.txt", headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]

    r = get(front, "/static/notes.txt", headers={"Range": "bytes=30-"})
    assert r.status_code == 206 and r.content == data[30:]

    big = tree["big"]
    r = get(front, "/static/big.bin", headers={"Range": "bytes=1048576-2097151"})
    assert r.status_code == 206 and r.content == big[1048576:2097152]

    r = get(front, "/static/notes.txt", headers={"Range": "bytes=0-1,5-6"})
    assert r.status_code == 206
    assert r.headers["Content-Type"].startswith("multipart/byteranges; boundary=")
    assert b"01" in r.content and b"56" in r.content

    r = get(front, "/static/notes.txt", headers={"Range": "bytes=1000-2000"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == "bytes */%d" % len(data)


def test_if_modified_since(front):
    r = get(front, "/static/notes.txt")
    lm = r.headers["Last-Modified"]
    assert email.utils.parsedate_to_datetime(lm).timestamp() == 1_600_000_000

    r = get(front, "/static/notes.txt", headers={"If-Modified-Since": lm})
    assert r.status_code == 304
    assert r.content == b""

    later = email.utils.formatdate(1_700_000_000, usegmt=True)
    assert get(front, "/static/notes.txt", headers={"If-Modified-Since": later}).status_code == 304

    earlier = email.utils.formatdate(1_500_000_000, usegmt=True)
    r = get(front, "/static/notes.txt", headers={"If-Modified-Since": earlier})
    assert r.status_code == 200 and r.content == FILES["notes.txt"][0]

    # If-Modified-Since is ignored when a Range asks for part of it... and a
    # Range with an outdated If-Range gets the whole file
    r = get(front, "/static/notes.txt", headers={"Range": "bytes=0-3", "If-Range": earlier})
    assert r.status_code == 200 and r.content == FILES["notes.txt"][0]


def test_index_files(front):
    for path in ("/static/", "/static"):
        r = get(front, path, allow_redirects=False)
        assert r.status_code == 200, path
        assert r.content == FILES["index.html"][0]
        assert "text/html" in r.headers["Content-Type"]
    for path in ("/static/sub/", "/static/sub", "/static/abs-subdir/"):
        r = get(front, path, allow_redirects=False)
        assert r.status_code == 200, path
        assert r.content == FILES["sub/index.html"][0]


def test_single_file_map(front, tree):
    r = get(front, "/favicon.ico")
    assert r.status_code == 200
    assert r.content == tree["favicon"].read_bytes()
    assert "icon" in r.headers["Content-Type"]


def test_misses_fall_through_to_the_app(front):
    # a missing file, and a directory without an index, go to the app
    for path in ("/static/nope.txt", "/static/noindex/", "/static/sub/deeper/"):
        r = get(front, path)
        assert r.status_code == 404
        assert r.text.startswith("no route for /static/"), (path, r.text[:200])
    assert get(front, "/hello").content == b"Hello World"
    # POST never serves a file
    r = requests.post(front.url + "/static/notes.txt", data=b"x", timeout=REQ_TIMEOUT)
    assert r.text.startswith("no route for"), r.text[:200]


def test_symlinks_inside_are_served(front):
    r = get(front, "/static/alias.txt")
    assert r.status_code == 200 and r.content == FILES["notes.txt"][0]
    r = get(front, "/static/abs-subdir/deeper/file.txt")
    assert r.status_code == 200 and r.content == FILES["sub/deeper/file.txt"][0]


TRAVERSALS = [
    "/static/../secret.txt",
    "/static/sub/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/sub%2f..%2f..%2fsecret.txt",
    "/static/leak.txt",
    "/static/abs-leak.txt",
    "/static/outdir/secret.txt",
    "/static/outdir/",
    "/static/leak.txt%00.png",
    "/static/notes.txt%00/../../secret.txt",
    "/static//../secret.txt",
    "/static/./../secret.txt",
    "/static/.%2e/secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_way_out(front, path):
    status, headers, body = front.raw(path)
    assert SECRET not in body, "%s leaked the secret: %s" % (path, status)
    assert status.split()[1] in ("400", "404"), (path, status, body[:200])


@pytest.mark.parametrize("path", [
    "/static/../secret.txt", "/static/sub/../../secret.txt", "/static/..%2fsecret.txt",
    "/static/leak.txt", "/static/abs-leak.txt", "/static/outdir/secret.txt",
    "/static/leak.txt\x00.png", "/static/./../secret.txt", "/static/sub/./../../../outside/secret.txt",
])
def test_no_way_out_raw_uwsgi(uwsgo, tree, path):
    """PATH_INFO as nginx would never send it, straight to the -s port."""
    up = uwsgo("-w", "basic", "--pythonpath", APPS, "--static-map", "/static=%s" % tree["static"],
               "--static-index", "index.html", proto="uwsgi")
    pkt = uwsgi_packet({
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "REQUEST_URI": path, "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost",
    })
    with socket.create_connection(("127.0.0.1", up.port), timeout=REQ_TIMEOUT) as s:
        s.sendall(pkt)
        data, closed = recv_until_closed(s)
    assert closed
    assert SECRET not in data, "%r leaked the secret" % path
    status, _, body = split_response(data)
    assert status.startswith("HTTP/1.1 404"), (path, data[:300])


def test_raw_uwsgi_static_range_and_ims(uwsgo, tree):
    """Range and If-Modified-Since as uwsgi vars (HTTP_RANGE, HTTP_IF_MODIFIED_SINCE)."""
    up = uwsgo("-w", "basic", "--pythonpath", APPS, "--static-map", "/static=%s" % tree["static"],
               proto="uwsgi")
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/static/notes.txt", "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}

    def ask(**extra):
        with socket.create_connection(("127.0.0.1", up.port), timeout=REQ_TIMEOUT) as s:
            s.sendall(uwsgi_packet(dict(base, **extra)))
            data, closed = recv_until_closed(s)
        assert closed
        return split_response(data)

    status, headers, body = ask(HTTP_RANGE="bytes=2-4")
    assert status.startswith("HTTP/1.1 206") and body == b"234"
    lm = email.utils.formatdate(1_600_000_000, usegmt=True)
    status, headers, body = ask(HTTP_IF_MODIFIED_SINCE=lm)
    assert status.startswith("HTTP/1.1 304") and body == b""
    assert headers["last-modified"] == lm


def test_static_does_not_take_a_core(uwsgo, tree):
    """Static files are served by the network plane while every core is busy."""
    srv = uwsgo("-w", "basic", "--pythonpath", APPS, "--async", "2", "--ugreen",
                "--static-map", "/static=%s" % tree["static"])
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        busy = [ex.submit(requests.get, srv.url + "/stream?s=2", timeout=REQ_TIMEOUT) for _ in range(2)]
        time.sleep(0.3)
        t0 = time.monotonic()
        r = requests.get(srv.url + "/static/notes.txt", timeout=REQ_TIMEOUT)
        elapsed = time.monotonic() - t0
        assert r.status_code == 200 and r.content == FILES["notes.txt"][0]
        assert elapsed < 1.0, "a static file waited %.2f s for a core" % elapsed
        assert all(b.result(REQ_TIMEOUT).status_code == 200 for b in busy)
