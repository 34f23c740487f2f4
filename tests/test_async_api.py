"""The uwsgi module's async API under each engine that supports it."""
import concurrent.futures
import http.client
import time

import pytest
import requests

from helpers import APPS, REQ_TIMEOUT, engine_params

APP = ["-w", "asyncapi", "--pythonpath", APPS]
SUSPEND_ENGINES = engine_params("ugreen", "greenlet")
YIELD_ENGINES = engine_params("async", "ugreen", "greenlet")


def get_json(srv, path):
    r = requests.get(srv.url + path, timeout=REQ_TIMEOUT)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def parallel(fn, items):
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(items))) as ex:
        return list(ex.map(fn, items, timeout=3 * REQ_TIMEOUT))


@pytest.mark.parametrize("engine", YIELD_ENGINES)
def test_wait_fd_read_timeout(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    res = get_json(srv, "/timeout?t=1")
    assert res["timeout"] is True
    assert 0.8 <= res["elapsed"] < 3.0, res


@pytest.mark.parametrize("engine", YIELD_ENGINES)
def test_wait_fd_read_ready(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    res = get_json(srv, "/ready")
    assert res["timeout"] is None, res
    assert res["ready_fd"] == res["fd"], res


@pytest.mark.parametrize("engine", YIELD_ENGINES)
def test_wait_fd_write_ready(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    res = get_json(srv, "/write-ready")
    assert res["timeout"] is None, res
    assert res["ready_fd"] == res["fd"], res


@pytest.mark.parametrize("engine", YIELD_ENGINES)
def test_async_sleep_concurrent(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    t0 = time.monotonic()
    results = parallel(lambda i: get_json(srv, "/sleep?s=1"), range(4))
    elapsed = time.monotonic() - t0
    assert all(r == {"slept": True} for r in results)
    assert elapsed < 2.5, "4 concurrent 1 s sleeps on 4 cores took %.2f s" % elapsed


@pytest.mark.parametrize("engine", engine_params("async", "ugreen"))
def test_requests_beyond_cores_wait(uwsgo, engine):
    # --async 4: the 5th..8th concurrent requests queue, none is dropped
    srv = uwsgo(*APP, *engine)
    t0 = time.monotonic()
    results = parallel(lambda i: get_json(srv, "/sleep?s=1"), range(8))
    elapsed = time.monotonic() - t0
    assert all(r == {"slept": True} for r in results)
    assert elapsed < 4.0, elapsed


@pytest.mark.parametrize("engine", SUSPEND_ENGINES)
def test_suspend_lets_new_requests_in(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    a, b = parallel(lambda p: get_json(srv, p),
                    ["/rendezvous?me=a&peer=b", "/rendezvous?me=b&peer=a"])
    assert a["saw_peer"] and b["saw_peer"], (a, b)


@pytest.mark.parametrize("engine", SUSPEND_ENGINES)
def test_suspend_in_nested_calls(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    seeds = list(range(1, 9))

    def one(seed):
        return seed, get_json(srv, "/nested?seed=%d&depth=30" % seed)

    for _ in range(3):
        for seed, res in parallel(one, seeds):
            assert res["total"] == seed + seed * sum(range(1, 31)), (seed, res)
            assert res["exc_ok"] is True, (seed, res)
    assert "Traceback" not in srv.log


@pytest.mark.parametrize("engine", SUSPEND_ENGINES)
def test_contextvars_per_request(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    ids = ["r%d" % i for i in range(8)]
    for rid, res in zip(ids, parallel(lambda i: get_json(srv, "/ctx?id=" + i), ids)):
        assert res == {"before": None, "after": rid}


def test_gevent_sleep_concurrent(uwsgo):
    srv = uwsgo("-w", "geventapp", "--pythonpath", APPS, "--gevent", "8")
    t0 = time.monotonic()
    results = parallel(lambda i: requests.get(srv.url + "/?s=1", timeout=REQ_TIMEOUT), range(6))
    elapsed = time.monotonic() - t0
    assert all(r.status_code == 200 and r.content == b"gevent slept" for r in results)
    assert elapsed < 2.5, "6 concurrent 1 s gevent sleeps took %.2f s" % elapsed


def keepalive_get(conn, path):
    """One GET on an open keep-alive connection; returns the status."""
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    assert not r.will_close, path
    return r.status


@pytest.mark.parametrize("engine", engine_params("ugreen"))
def test_closed_wait_fd_spares_connection_that_reuses_its_number(uwsgo, engine):
    # A core waits on a pipe the app then closes; new connections take
    # the freed fd numbers. When the wait times out, the hub drops the
    # waiter: it must not touch the epoll registration of the connection
    # that now owns the number, or that connection's next request hangs.
    srv = uwsgo(*APP, *engine)
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        waiting = ex.submit(get_json, srv, "/orphan-wait?t=2")
        time.sleep(0.5)
        assert len(get_json(srv, "/close-orphans")["closed"]) == 2
        conns = [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=REQ_TIMEOUT) for _ in range(8)]
        try:
            for c in conns:
                c.connect()
            for c in conns:
                assert keepalive_get(c, "/sleep?s=0") == 200
            assert waiting.result(timeout=REQ_TIMEOUT) == {"timeout": True}
            for c in conns:  # the second request on each connection
                assert keepalive_get(c, "/sleep?s=0") == 200
        finally:
            for c in conns:
                c.close()
