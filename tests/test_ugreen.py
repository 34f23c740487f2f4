"""uGreen and async cores: many requests in one worker, each on its own
green thread, suspending in every awkward place, under both switches."""
import concurrent.futures
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from helpers import APPS, EXAMPLES, REQ_TIMEOUT

SEMANTICS = str(APPS / "green_semantics.py")
CONCURRENCY = 50

UGREEN_MODES = [
    pytest.param(["--ugreen"], id="ugreen-fast"),
    pytest.param(["--ugreen", "--ugreen-switch", "swapcontext"], id="ugreen-swapcontext"),
]


def get(url, timeout=REQ_TIMEOUT):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def hammer(base, path, n=CONCURRENCY):
    """n concurrent requests, each tagged; returns the bodies that are not ok."""
    sep = "&" if "?" in path else "?"
    urls = ["%s%s%stag=t%d" % (base, path, sep, i) for i in range(n)]
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        results = list(ex.map(get, urls))
    return [(u, r) for u, r in zip(urls, results) if r[0] != 200 or not r[1].startswith("ok")]


VIEWS = ["/nested", "/except", "/gen_with", "/recursion?depth=500", "/contextvar", "/thread_local",
         "/sleep?ms=300", "/wait_pipe", "/wait_timeout", "/count?n=2000",
         "/thread_runs", "/outside_core", "/recursion_limit"]


@pytest.mark.parametrize("mode", UGREEN_MODES)
@pytest.mark.parametrize("callable_", ["application", "generator_app"])
def test_suspend_everywhere_50_concurrent(uwsgo, mode, callable_):
    srv = uwsgo("--wsgi-file", SEMANTICS, "--callable", callable_, "--async", CONCURRENCY,
                "--disable-logging", *mode)
    for view in VIEWS:
        bad = hammer(srv.url, view)
        assert not bad, "%s under %s: %s" % (view, mode, bad[:3])


@pytest.mark.parametrize("mode", UGREEN_MODES)
def test_requests_interleave(uwsgo, mode):
    """Two requests that each suspend 20000 times run side by side, not one after the other."""
    srv = uwsgo("--wsgi-file", SEMANTICS, "--async", 4, *mode)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        res = list(ex.map(get, [srv.url + "/count?n=20000"] * 2))
    assert all(r == (200, "ok 20000") for r in res), res
    srv.wait_log("GET /count?n=20000", timeout=5)
    deadline = time.monotonic() + 5
    while srv.log.count("20001 switches on core") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # each request switched away once per suspend (plus once at its end)
    assert srv.log.count("20001 switches on core") == 2, srv.log


def test_more_requests_than_cores_wait_their_turn(uwsgo):
    srv = uwsgo("--wsgi-file", SEMANTICS, "--async", 5, "--ugreen", "--disable-logging")
    bad = hammer(srv.url, "/sleep?ms=200", n=40)
    assert not bad, bad[:3]


def test_sleep_timeout_flag_and_waits_overlap(uwsgo):
    """50 requests sleeping 1 s each finish in about 1 s, not 50."""
    srv = uwsgo("--wsgi-file", SEMANTICS, "--async", 50, "--ugreen", "--disable-logging")
    t0 = time.monotonic()
    bad = hammer(srv.url, "/sleep?ms=1000")
    took = time.monotonic() - t0
    assert not bad, bad[:3]
    # async_sleep alone leaves no fd: the timeout flag is what woke the core
    assert get(srv.url + "/sleep?ms=10")[1] == "ok timeout=True"
    assert took < 10, "50 sleeps of 1 s took %.1f s: they did not overlap" % took


def test_seed_cpubound_green(uwsgo):
    srv = uwsgo("--wsgi-file", EXAMPLES / "cpubound_green.py", "--async", 10, "--ugreen")
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        res = list(ex.map(get, [srv.url + "/"] * 4))
    for status, body in res:
        assert status == 200 and "100000" in body, body


def test_seed_cpubound_async_plain(uwsgo):
    """Plain --async: every yield gives way; the 10000 chunks arrive whole."""
    srv = uwsgo("--wsgi-file", EXAMPLES / "cpubound_async.py", "--async", 10)
    assert "WARNING" in srv.log and "suspend engine" in srv.log
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        res = list(ex.map(get, [srv.url + "/"] * 3))
    want = "".join("<h1>%d</h1>" % i for i in range(1, 10001))
    for status, body in res:
        assert status == 200 and body == want


@pytest.mark.parametrize("engine", [[], ["--ugreen"]], ids=["async", "ugreen"])
def test_seed_sleeping_async(uwsgo, engine):
    srv = uwsgo("--wsgi-file", EXAMPLES / "sleeping_async.py", "--async", 10, *engine)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        res = list(ex.map(get, [srv.url + "/"] * 10))
    took = time.monotonic() - t0
    assert all(r[0] == 200 for r in res), res
    assert took < 8, "10 sleeping requests took %.1f s: they did not overlap" % took


@pytest.mark.parametrize("engine", [[], ["--ugreen"]], ids=["async", "ugreen"])
def test_seed_iobound_async_connect(uwsgo, engine):
    """async_connect + wait_fd_write/wait_fd_read against a local server."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    stop = threading.Event()

    def serve():
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = lsock.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    more = c.recv(4096)
                    if not more:
                        break
                    data += more
                time.sleep(0.2)  # a slow backend: the core must park, not spin
                c.sendall(b"echo:" + data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        srv = uwsgo("--wsgi-file", EXAMPLES / "iobound_async.py", "--async", 10, *engine)
        with concurrent.futures.ThreadPoolExecutor(5) as ex:
            res = list(ex.map(get, [srv.url + "/?addr=127.0.0.1:%d" % port] * 5))
        for status, body in res:
            assert status == 200 and body.startswith("echo:GET / HTTP/1.0"), body
    finally:
        stop.set()
        t.join(5)
        lsock.close()


def test_uwsgi_api_outside_async_raises(uwsgo):
    """With one core and no async, the API raises a Python error, no crash."""
    srv = uwsgo("--wsgi-file", APPS / "green_semantics.py")
    status, body = get(srv.url + "/outside_core")
    assert status == 200 and body == "ok"


# 3.14 checks C recursion against stack bounds in the thread state, which
# uwsgo sets per green stack; before 3.14 only a counter guards it, and a
# small green stack overflows into its guard page first.
STACK_BOUNDS = sys.version_info >= (3, 14)


# Each Python gets the test of what it does; none is skipped.
def stack_overflow_in_c_recursion_kills_only_that_worker(uwsgo):
    """A tiny uGreen stack and C recursion (json.dumps of a deep list) hit the
    guard page: the worker dies by SIGSEGV, the master respawns it, and the
    next requests are served."""
    srv = uwsgo("--wsgi-file", SEMANTICS, "--async", 4, "--ugreen", "--ugreen-stacksize", 8,
                "--master", "--processes", 1, allow_crash=True)
    assert get(srv.url + "/json_deep?depth=10")[1].startswith("ok")
    with pytest.raises(Exception):
        get(srv.url + "/json_deep?depth=900", timeout=5)
    srv.wait_log("signal 11", timeout=10)
    deadline = time.monotonic() + 15
    while True:
        try:
            status, body = get(srv.url + "/json_deep?depth=10", timeout=5)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert status == 200 and body.startswith("ok")


@pytest.mark.parametrize("mode,depth", [
    (["--ugreen", "--ugreen-stacksize", 8], 900),
    (["--ugreen"], 200000),
    (["--ugreen", "--ugreen-switch", "swapcontext"], 200000),
    (["--greenlet"], 200000),
], ids=["ugreen-8-pages", "ugreen", "ugreen-swapcontext", "greenlet"])
def deep_c_recursion_on_a_green_stack_raises_recursion_error(uwsgo, mode, depth):
    """Python 3.14: C recursion deeper than the green stack (or the loop stack
    greenlet runs on) raises RecursionError in that request; the worker
    lives and its other requests, suspended meanwhile, finish."""
    srv = uwsgo("--wsgi-file", SEMANTICS, "--async", 4, *mode)
    assert get(srv.url + "/json_deep?depth=10")[1].startswith("ok")
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        slow = ex.submit(get, srv.url + "/sleep?ms=500")
        time.sleep(0.1)
        with pytest.raises(urllib.error.HTTPError) as e:
            get(srv.url + "/json_deep?depth=%d" % depth)
        assert e.value.code == 500
        assert slow.result()[0] == 200
    srv.wait_log("RecursionError", timeout=5)
    assert "signal 11" not in srv.log and "guard page hit" not in srv.log
    assert get(srv.url + "/json_deep?depth=10")[1].startswith("ok")


if STACK_BOUNDS:
    test_deep_c_recursion_on_a_green_stack_raises_recursion_error = \
        deep_c_recursion_on_a_green_stack_raises_recursion_error
else:
    test_stack_overflow_in_c_recursion_kills_only_that_worker = \
        stack_overflow_in_c_recursion_kills_only_that_worker


@pytest.mark.parametrize("engine", [["--ugreen"], ["--greenlet"]], ids=["ugreen", "greenlet"])
def test_bottle_request_is_per_core(uwsgo, engine):
    """bottle.request lives in a threading.local: each core sees its own."""
    srv = uwsgo("--wsgi-file", APPS / "bottle_who.py", "--async", 10, "--disable-logging", *engine)
    names = ["n%d" % i for i in range(10)]
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        res = list(ex.map(lambda n: get(srv.url + "/who?name=" + n), names))
    for n, (status, body) in zip(names, res):
        assert status == 200 and body == "before=%s after=%s" % (n, n), res
