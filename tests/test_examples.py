"""The example apps in python/examples, as the uWSGI docs run them."""
import concurrent.futures
import http.server
import threading
import time

import pytest
import requests

from helpers import EXAMPLES, REQ_TIMEOUT, engine_params


def example(name):
    return ["--wsgi-file", EXAMPLES / name]


def parallel(fn, items):
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(items))) as ex:
        return list(ex.map(fn, items, timeout=3 * REQ_TIMEOUT))


def test_hello(uwsgo):
    srv = uwsgo(*example("hello.py"), "--async", "10", "--ugreen")
    r = requests.get(srv.url, timeout=REQ_TIMEOUT)
    assert r.status_code == 200 and r.content == b"Hello World"


@pytest.mark.parametrize("engine", engine_params("sync", "async", "ugreen", "greenlet"))
def test_cpubound_async(uwsgo, engine):
    srv = uwsgo(*example("cpubound_async.py"), *engine)
    expected = b"".join(b"<h1>%d</h1>" % i for i in range(1, 10001))
    results = parallel(lambda i: requests.get(srv.url, timeout=REQ_TIMEOUT), range(4))
    for r in results:
        assert r.status_code == 200
        assert r.content == expected


@pytest.mark.parametrize("engine", engine_params("ugreen", "greenlet"))
def test_cpubound_green(uwsgo, engine):
    srv = uwsgo(*example("cpubound_green.py"), *engine)
    r = requests.get(srv.url + "/?n=1000", timeout=REQ_TIMEOUT)
    assert r.status_code == 200 and r.text == "1000"
    results = parallel(lambda n: requests.get(srv.url + "/?n=%d" % n, timeout=30),
                       [20000, 20001, 20002, 20003])
    assert [r.text for r in results] == ["20000", "20001", "20002", "20003"]


@pytest.mark.parametrize("engine", engine_params("async", "ugreen", "greenlet"))
def test_sleeping_async(uwsgo, engine):
    srv = uwsgo(*example("sleeping_async.py"), *engine)
    t0 = time.monotonic()
    results = parallel(lambda i: requests.get(srv.url + "/?s=1", timeout=REQ_TIMEOUT), range(4))
    elapsed = time.monotonic() - t0
    for r in results:
        assert r.status_code == 200
        assert r.text.endswith("<h1>Hello World</h1>\n")
    assert 1.0 <= elapsed < 2.5, "4 concurrent 1 s sleeps took %.2f s" % elapsed


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"upstream says hi for " + self.path.encode() + b"\n" + b"x" * 200000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    t.join(5)


@pytest.mark.parametrize("engine", engine_params("ugreen", "greenlet"))
def test_iobound_async(uwsgo, http_upstream, engine):
    srv = uwsgo(*example("iobound_async.py"), *engine)

    def fetch(i):
        return requests.get(srv.url, params={"addr": "127.0.0.1:%d" % http_upstream,
                                              "path": "/item/%d" % i}, timeout=REQ_TIMEOUT)

    for i, r in enumerate(parallel(fetch, range(4))):
        assert r.status_code == 200, r.text[:500]
        assert r.content.startswith(b"HTTP/1.0 200"), r.content[:200]
        assert b"upstream says hi for /item/%d\n" % i in r.content
        assert r.content.endswith(b"x" * 200000)


@pytest.mark.parametrize("engine", engine_params("ugreen"))
def test_iobound_async_connect_refused(uwsgo, engine):
    srv = uwsgo(*example("iobound_async.py"), *engine)
    from helpers import free_port
    r = requests.get(srv.url, params={"addr": "127.0.0.1:%d" % free_port()}, timeout=REQ_TIMEOUT)
    assert r.status_code == 502
