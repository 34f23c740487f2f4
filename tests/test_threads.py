"""--threads N: N real Python threads per worker, each serving one request
at a time, as uWSGI's threaded mode (pyhost/threads.c, hub/threads.go).

Concurrency is asserted as a count: the app records each request's start
and end (CLOCK_MONOTONIC, the same clock in every process), and the suite
computes how many ran at once. Debian's uWSGI 2.0.21 runs the same app with
the same options beside uwsgo for that count.
"""
import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import Server, child_env, group_members
from helpers import (APPS, REPO, REQ_TIMEOUT, dechunk, free_port, recv_until, recv_until_closed,
                     split_response)
from pg import PostgresServer
from test_master import Hammer, get_json, until, wait_exit, wait_workers

APP = APPS / "threads_app.py"
DEBIAN_UWSGI = "/usr/bin/uwsgi"


def parallel(fn, items):
    items = list(items)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(items)) as ex:
        return list(ex.map(fn, items, timeout=60))


def max_overlap(spans):
    """The most requests running at one moment, from (start, end) pairs."""
    events = sorted([(t0, 1) for t0, _ in spans] + [(t1, -1) for _, t1 in spans])
    cur = best = 0
    for _, d in events:   # at the same instant an end (-1) sorts before a start
        cur += d
        best = max(best, cur)
    return best


def block_all(url, n=16, secs=0.5):
    """n concurrent /block requests; their JSON answers, in order."""
    def one(i):
        r = requests.get(url + "/block", params={"s": secs, "tag": "t%d" % i}, timeout=REQ_TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()
    return parallel(one, range(n))


class Inflight:
    """GET /stream?n=2&s=S on its own connection, seen running (its first
    chunk arrived); finish() reads the rest: (status line, body)."""

    def __init__(self, srv, secs):
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT)
        self.sock.sendall(b"GET /stream?n=2&s=%g HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % secs)
        self.head = recv_until(self.sock, b"0\n")

    def finish(self):
        rest, closed = recv_until_closed(self.sock)
        self.sock.close()
        status, _, body = split_response(self.head + rest)
        return status, dechunk(body) if closed else b"(not closed) " + body


@pytest.fixture
def debian_uwsgi(tmp_path):
    """Factory: Debian's uWSGI 2.0.21 on a free port with the given options."""
    servers = []

    def start(*args):
        if not os.access(DEBIAN_UWSGI, os.X_OK):
            pytest.fail("%s not found: install uwsgi-core and uwsgi-plugin-python3 (make deps)" % DEBIAN_UWSGI,
                        pytrace=False)
        port = free_port()
        argv = [DEBIAN_UWSGI, "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % port,
                "--wsgi-file", str(APP), "--disable-logging", *[str(a) for a in args]]
        srv = Server(argv, port, tmp_path / ("uwsgi-%d.log" % port), child_env(), REPO, False)
        servers.append(srv)
        srv.wait_ready()
        return srv

    yield start
    for srv in servers:
        srv.stop()


# ---------------------------------------------------------------- concurrency

@pytest.mark.parametrize("server", ["uwsgo", "uwsgi-2.0.21"])
@pytest.mark.parametrize("opts,want", [
    (["--threads", 4], 4),
    (["--master", "--processes", 2, "--threads", 4], 8),
], ids=["threads4", "processes2-threads4"])
def test_blocking_requests_overlap_as_many_as_threads(uwsgo, debian_uwsgi, server, opts, want):
    """16 requests that each block 0.5 s in time.sleep: exactly `want` at a
    time (about 2 s in all with 4 threads, 1 s with 2 x 4), on uwsgo as on
    Debian's uWSGI."""
    if server == "uwsgo":
        srv = uwsgo("--wsgi-file", APP, "--disable-logging", *opts)
        if "--processes" in opts:
            wait_workers(srv, 2)
    else:
        srv = debian_uwsgi(*opts)
    block_all(srv.url, n=4)   # warm up: every worker has loaded the app
    t = time.monotonic()
    res = block_all(srv.url)
    elapsed = time.monotonic() - t
    overlap = max_overlap([(r["t0"], r["t1"]) for r in res])
    print("\n%s %s: 16 x 0.5 s in %.2f s, at most %d at once"
          % (server, " ".join(map(str, opts)), elapsed, overlap))
    assert overlap == want, res
    assert len({(r["pid"], r["thread"]["name"]) for r in res}) == want
    assert [r["tag"] for r in res] == ["t%d" % i for i in range(16)]


def test_requests_beyond_the_threads_wait_and_none_is_lost(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--threads", 2, "--disable-logging")
    res = block_all(srv.url, n=40, secs=0.05)
    assert [r["tag"] for r in res] == ["t%d" % i for i in range(40)]
    assert max_overlap([(r["t0"], r["t1"]) for r in res]) == 2


def test_each_request_sees_its_own_threading_local(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--threads", 4, "--disable-logging")
    res = block_all(srv.url, n=16, secs=0.3)
    for i, r in enumerate(res):
        assert r["local"] == r["tag"] == "t%d" % i, r
    # a thread's local is its own, not the request's: the next request on
    # the same thread finds what the last one left (as with any thread pool)
    by_thread = {}
    for r in sorted(res, key=lambda r: r["t0"]):
        name = r["thread"]["name"]
        if name in by_thread:
            assert r["before"] == by_thread[name], r
        by_thread[name] = r["tag"]


def test_current_thread_is_a_real_named_thread(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--threads", 4, "--disable-logging")
    first = {}
    for _ in range(3):
        for r in block_all(srv.url, n=8, secs=0.1):
            th = r["thread"]
            assert th["name"].startswith("uWSGIWorker1Core"), th
            assert not th["is_main"] and not th["dummy"] and th["listed"] and th["alive"], th
            assert th["native_id"] != r["pid"], th   # an OS thread of its own
            assert r["core"] == int(th["name"].rsplit("Core", 1)[1]), r
            assert r["multithread"] is True
            # the same thread keeps its name and ident from request to request
            assert first.setdefault(th["name"], (th["ident"], th["native_id"])) == (th["ident"], th["native_id"])
    assert set(first) == {"uWSGIWorker1Core%d" % i for i in range(4)}


def test_uwsgi_names_its_threads_the_same(debian_uwsgi):
    srv = debian_uwsgi("--threads", 4)
    names = {r["thread"]["name"] for r in block_all(srv.url, n=8, secs=0.2)}
    assert names == {"uWSGIWorker1Core%d" % i for i in range(4)}


# ---------------------------------------------------------------- the exchange

def test_streamed_response_leaves_chunk_by_chunk(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--threads", 2)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
        s.sendall(b"GET /stream?n=3&s=0.4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        got = recv_until(s, b"0\n")
        assert b"1\n" not in got and b"\r\n0\r\n\r\n" not in got   # the view sleeps on
        rest, closed = recv_until_closed(s)
    status, headers, body = split_response(got + rest)
    assert status == "HTTP/1.1 200 OK" and headers["transfer-encoding"] == "chunked"
    assert dechunk(body) == b"0\n1\n2\n"


def test_big_response_to_a_slow_reader(uwsgo):
    """A client that reads slowly holds its thread back (the core is not given
    back until the client drains), and every byte arrives in order."""
    srv = uwsgo("--wsgi-file", APP, "--threads", 2, "--disable-logging")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.sendall(b"GET /big?mb=8 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        head = recv_until(s, b"\r\n\r\n")   # the big response has started...
        time.sleep(0.3)                         # ...and fills the socket, holding its core
        # meanwhile the other thread serves
        assert get_json(srv.url + "/ids")["served"] >= 2
        data, closed = recv_until_closed(s, timeout=30)
        data = head + data
    assert closed
    status, headers, body = split_response(data)
    assert status == "HTTP/1.1 200 OK"
    assert dechunk(body) == bytes(range(256)) * 256 * 16 * 8


def test_a_slow_reader_that_leaves_frees_its_thread(uwsgo):
    """The held core is given back when its client goes: the thread stops
    the response and serves again."""
    srv = uwsgo("--wsgi-file", APP, "--threads", 2, "--disable-logging")
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.sendall(b"GET /big?mb=256 HTTP/1.1\r\nHost: t\r\n\r\n")
        recv_until(s, b"\r\n\r\n")
        time.sleep(0.3)
        s.close()
    res = block_all(srv.url, n=8, secs=0.2)
    assert max_overlap([(r["t0"], r["t1"]) for r in res]) == 2


@pytest.mark.parametrize("size", [0, 10, 300_000, 3_000_000], ids=["empty", "small", "memory", "spooled"])
def test_request_bodies_reach_the_thread(uwsgo, size):
    srv = uwsgo("--wsgi-file", APP, "--threads", 4, "--disable-logging")
    bodies = [os.urandom(size) for _ in range(8)]
    res = parallel(lambda b: requests.post(srv.url + "/post", data=b, timeout=REQ_TIMEOUT), bodies)
    for b, r in zip(bodies, res):
        assert r.status_code == 200
        assert r.json() == {"len": size, "sha256": hashlib.sha256(b).hexdigest()}


def test_file_wrapper_and_errors(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--threads", 2)
    r = requests.get(srv.url + "/file", timeout=REQ_TIMEOUT)
    assert r.status_code == 200 and r.content == APP.read_bytes()
    r = requests.get(srv.url + "/fail", timeout=REQ_TIMEOUT)
    assert r.status_code == 500
    srv.wait_log("ValueError: this view fails")
    assert get_json(srv.url + "/ids")["served"] == 3   # the worker goes on


def test_uwsgi_async_api_under_threads(uwsgo):
    """uwsgi.suspend() does nothing (no suspend engine, as in uWSGI); the
    calls that park a core say why they cannot."""
    srv = uwsgo("--wsgi-file", APP, "--threads", 2)
    r = get_json(srv.url + "/asyncapi")
    assert r["suspend"] is True
    assert r["core_id"] in (0, 1)
    assert "cannot be used with --threads" in r["async_sleep"], r


# ---------------------------------------------------------------- real apps

def test_flask_under_threads(uwsgo):
    srv = uwsgo("--wsgi-file", APPS / "threads_flask.py", "--threads", 4, "--disable-logging")

    def call(i):
        r = requests.post(srv.url + "/echo", params={"name": "u%d" % i, "sleep": "0.5"},
                          data={"f": "v%d" % i}, headers={"X-Client-Id": str(i)}, timeout=REQ_TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()

    res = parallel(call, range(16))
    for i, j in enumerate(res):
        assert (j["name"], j["g_tag"], j["header"], j["form"]) == ("u%d" % i, "u%d" % i, str(i), {"f": ["v%d" % i]}), j
    assert max_overlap([(j["t0"], j["t1"]) for j in res]) == 4
    assert {j["thread"] for j in res} == {"uWSGIWorker1Core%d" % i for i in range(4)}


def test_psycopg2_blocking_driver_under_threads(uwsgo):
    """libpq blocks with the GIL released: 4 threads run 4 queries at once."""
    with PostgresServer(max_connections=50) as pg:
        srv = uwsgo("--wsgi-file", APPS / "threads_pg.py", "--threads", 4, "--disable-logging",
                    "--env", "THREADS_PG_DSN=" + pg.dsn)

        def call(i):
            r = requests.get(srv.url + "/sleep", params={"s": "0.5", "tag": i}, timeout=REQ_TIMEOUT)
            assert r.status_code == 200, r.text
            return r.json()

        res = parallel(call, range(12))
    assert [j["tag"] for j in res] == [str(i) for i in range(12)]
    assert len({j["backend_pid"] for j in res}) == 12
    assert max_overlap([(j["t0"], j["t1"]) for j in res]) == 4


# ---------------------------------------------------------------- processes

def test_harakiri_recycles_a_worker_with_a_stuck_thread(uwsgo):
    """A request past --harakiri gets its worker killed and respawned, as in
    uWSGI, though the worker's loop (and its other threads) are fine."""
    srv = uwsgo("--wsgi-file", APP, "-M", "--harakiri", 2, "--threads", 4)
    pid = wait_workers(srv, 1)[1]
    stuck = concurrent.futures.ThreadPoolExecutor(1).submit(
        requests.get, srv.url + "/block?s=8", timeout=REQ_TIMEOUT)
    time.sleep(0.3)
    # the other threads still answer while one is stuck
    assert get_json(srv.url + "/ids")["pid"] == pid
    with pytest.raises(requests.RequestException):
        stuck.result(REQ_TIMEOUT)
    log = srv.wait_log("HARAKIRI", timeout=2)
    assert "HARAKIRI ON WORKER 1 (pid: %d" % pid in log, log[-2000:]
    srv.wait_log("Respawned uwsgo worker 1", timeout=5)
    assert get_json(srv.url + "/ids")["pid"] != pid


def test_harakiri_counts_each_request_not_a_busy_worker(uwsgo):
    """Two clients keep the worker busy for longer than --harakiri, with no
    request near it: nothing is killed."""
    srv = uwsgo("--wsgi-file", APP, "-M", "--harakiri", 2, "--threads", 2, "--disable-logging")
    pid = wait_workers(srv, 1)[1]
    stop = time.monotonic() + 4.5

    def client(delay):
        time.sleep(delay)
        n = 0
        while time.monotonic() < stop:
            r = requests.get(srv.url + "/block?s=0.8", timeout=REQ_TIMEOUT)
            assert r.status_code == 200 and r.json()["pid"] == pid
            n += 1
        return n

    assert all(parallel(client, [0, 0.4]))
    assert "HARAKIRI" not in srv.log


def test_max_requests_recycles_a_threaded_worker(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M", "--max-requests", 5, "--threads", 4)
    pids = []
    for i in range(17):
        r = get_json(srv.url + "/ids")
        pids.append(r["pid"])
        assert r["served"] <= 5, (i, r)
    assert pids[:5] == [pids[0]] * 5, pids
    assert len(set(pids)) >= 3, pids
    assert "max requests reached (5), recycling" in srv.log


def test_max_requests_loses_no_concurrent_request_on_threads(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, "--max-requests", 5, "--threads", 4, "--disable-logging")
    wait_workers(srv, 2)

    def call(i):
        try:
            r = requests.get(srv.url + "/block", params={"s": 0.02, "tag": i}, timeout=REQ_TIMEOUT)
            return r.json() if r.status_code == 200 else "request %d: %d" % (i, r.status_code)
        except Exception as e:  # noqa: BLE001 - every failure is recorded
            return "request %d: %r" % (i, e)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(call, range(80)))
    failures = [r for r in results if isinstance(r, str)]
    assert not failures, "%d of 80 failed: %s" % (len(failures), failures[:5])
    assert len({r["pid"] for r in results}) >= 6


def test_sighup_reloads_threaded_workers_gracefully(uwsgo, tmp_path):
    app = tmp_path / "threads_reloaded.py"
    shutil.copy(APP, app)
    srv = uwsgo("--wsgi-file", app, "-M", "-p", 2, "--threads", 4)
    old = wait_workers(srv, 2)
    inflight = [Inflight(srv, 1.5) for _ in range(3)]
    app.write_text(app.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    hammer = Hammer(srv.url + "/ids")
    hammer.start()
    srv.send_signal(signal.SIGHUP)
    try:
        for f in inflight:
            assert f.finish() == ("HTTP/1.1 200 OK", b"0\n1\n")
        until("both workers reloaded",
              lambda: srv.log.count(") reloaded") >= 2 and wait_workers(srv, 2, exclude=old.values()), 10)
        time.sleep(0.3)
    finally:
        hammer.stop()
    assert not hammer.failures, "requests failed during the reload: %s" % hammer.failures[:5]
    assert get_json(srv.url + "/ids")["version"] == "v2"


def test_sigterm_lets_thread_requests_finish(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, "--threads", 4)
    wait_workers(srv, 2)
    inflight = [Inflight(srv, 1) for _ in range(4)]
    srv.send_signal(signal.SIGTERM)
    for f in inflight:
        assert f.finish() == ("HTTP/1.1 200 OK", b"0\n1\n")
    assert wait_exit(srv) == 0, srv.describe()
    assert not group_members(srv.pgid)


def test_single_process_sigint_with_threads(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--threads", 4)
    f = Inflight(srv, 0.8)
    srv.send_signal(signal.SIGINT)
    assert f.finish() == ("HTTP/1.1 200 OK", b"0\n1\n")
    assert wait_exit(srv) == 0, srv.describe()


# ---------------------------------------------------------------- options

def test_banner_says_threads_per_worker(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--threads", 4)
    log = srv.wait_log("threads: 4 per worker")
    assert "*** Operational MODE: threaded ***" in log
    srv = uwsgo("--wsgi-file", APP, "-p", 2, "--threads", 3)
    log = srv.wait_log("threads: 3 per worker")
    assert "*** Operational MODE: preforking+threaded ***" in log


@pytest.mark.parametrize("args,line", [
    (["--threads", "0"], "uwsgo: --threads 0: must be at least 1"),
    (["--threads", "-2"], "uwsgo: --threads \"-2\": must not be negative"),
    (["--threads", "x"], "threads"),
    (["--threads", "4", "--gevent", "10"], "uwsgo: --threads cannot be used with --gevent"),
    (["--threads", "4", "--async", "10"], "uwsgo: --threads 4 cannot be used with --async 10"),
    (["--threads", "4", "--ugreen"], "uwsgo: --threads cannot be used with --ugreen"),
    (["--threads", "4", "--async", "1", "--greenlet"], "uwsgo: --threads cannot be used with --greenlet"),
], ids=["zero", "negative", "not-a-number", "gevent", "async", "ugreen", "greenlet"])
def test_bad_thread_options_are_one_line(uwsgo_run, args, line):
    r = uwsgo_run("--wsgi-file", APP, *args)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and line in lines[0], r.stderr


def test_threads_1_is_the_plain_worker(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--threads", 1)
    r = requests.get(srv.url + "/block?s=0", timeout=REQ_TIMEOUT).json()
    assert r["thread"]["is_main"] and r["multithread"] is False
    assert "threads:" not in srv.log
