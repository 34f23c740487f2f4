"""The greenlet and gevent engines: the same uwsgi API and semantics as
uGreen under --greenlet; gevent's loop under --gevent."""
import concurrent.futures
import socket
import time
import urllib.parse

import pytest

from helpers import APPS, EXAMPLES, REQ_TIMEOUT
from test_ugreen import SEMANTICS, VIEWS, get, hammer

GEVENT_APP = str(APPS / "gevent_locals.py")


@pytest.mark.parametrize("callable_", ["application", "generator_app"])
def test_greenlet_suspend_everywhere_50_concurrent(uwsgo, callable_):
    srv = uwsgo("--wsgi-file", SEMANTICS, "--callable", callable_, "--async", 50,
                "--greenlet", "--disable-logging")
    for view in VIEWS:
        bad = hammer(srv.url, view)
        assert not bad, "%s: %s" % (view, bad[:3])


def many_sleepers(url, n, timeout=20):
    """n concurrent requests on raw sockets (a thread each would be too many)."""
    u = urllib.parse.urlsplit(url)
    target = (u.path + ("?" + u.query if u.query else "")).encode()
    socks = []
    for i in range(n):
        s = socket.create_connection((u.hostname, u.port), timeout=timeout)
        socks.append(s)
    t0 = time.monotonic()
    for s in socks:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ok = 0
    for s in socks:
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        ok += data.startswith(b"HTTP/1.1 200")
    return ok, time.monotonic() - t0


@pytest.mark.parametrize("engine", [
    pytest.param(["--async", 1000, "--ugreen"], id="ugreen"),
    pytest.param(["--async", 1000, "--greenlet"], id="greenlet"),
    pytest.param(["--gevent", 1000], id="gevent"),
])
def test_1000_sleepers_in_one_worker(uwsgo, engine):
    if "--gevent" in engine:
        srv = uwsgo("--wsgi-file", GEVENT_APP, "--listen", 2048, "--disable-logging", *engine)
        path = "/sleep?s=1"
    else:
        srv = uwsgo("--wsgi-file", SEMANTICS, "--listen", 2048, "--disable-logging", *engine)
        path = "/sleep?ms=1000"
    ok, took = many_sleepers(srv.url + path, 1000)
    assert ok == 1000, "%d of 1000 answered" % ok
    assert took < 3, "1000 requests sleeping 1 s took %.1f s" % took


def test_gevent_crazy_example_streams_and_keeps_working(uwsgo):
    srv = uwsgo("--wsgi-file", EXAMPLES / "gevent_crazy.py", "--gevent", 100)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        t0 = time.monotonic()
        first = b""
        while b"sleeping for 3 seconds" not in first:
            first += s.recv(65536)
        t_first = time.monotonic() - t0
        rest = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        t_all = time.monotonic() - t0
    assert t_first < 1.5, "the first chunk came after %.1f s: not streamed" % t_first
    assert t_all >= 3, "the 3 s gevent.sleep did not happen (%.1f s)" % t_all
    assert b"done<br>" in rest and b"ip = 127.0.0.1<br/>" in rest, rest
    # long_task ran to completion before the first yield
    log = srv.wait_log("background task 1", timeout=5)
    assert "\n9\n" in log
    # the background greenlet goes on after the response has ended
    log = srv.wait_log("background task 2", timeout=5)
    assert log.index("GET / =>") < log.index("background task 2")


@pytest.mark.parametrize("patch", ["--gevent-monkey-patch", "--gevent-early-monkey-patch"])
def test_gevent_thread_locals_map_to_greenlets_when_patched(uwsgo, patch):
    srv = uwsgo("--wsgi-file", GEVENT_APP, "--gevent", 50, patch, "--disable-logging")
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        res = list(ex.map(get, [srv.url + "/local?tag=t%d" % i for i in range(20)]))
    for i, (status, body) in enumerate(res):
        a, b = body.split()
        assert status == 200 and a == b == "t%d" % i, res
    # time.sleep became gevent.sleep: the 20 sleeps of 0.2 s overlapped
    assert time.monotonic() - t0 < 2
    # --gevent-monkey-patch: before the app starts, not before it loads (as uWSGI documents)
    want = "import=False now=True" if patch == "--gevent-monkey-patch" else "import=True now=True"
    assert get(srv.url + "/patched")[1] == want


def test_gevent_early_monkey_patch_is_before_import(uwsgo):
    srv = uwsgo("--wsgi-file", GEVENT_APP, "--gevent", 10, "--gevent-early-monkey-patch")
    assert get(srv.url + "/patched")[1] == "import=True now=True"


def test_gevent_refuses_the_uwsgi_async_api(uwsgo):
    srv = uwsgo("--wsgi-file", GEVENT_APP, "--gevent", 10)
    status, body = get(srv.url + "/mix")
    assert status == 200 and body.startswith("RuntimeError") and "forbidden" in body, body
