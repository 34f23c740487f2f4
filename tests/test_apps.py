"""Real apps, unmodified, on uwsgo's green cores.

ugreenchat      python/examples/ugreenchat.py (Bottle, long polls parked on
                pipes with uwsgi.wait_fd_read + uwsgi.suspend): 30 users on
                --async 30, 1000 users on --async 1000, each posting and
                receiving every message in order (tests/chatclient.py)
psycopg2_green  python/examples/psycopg2_green.py against a real PostgreSQL
                (tests/pg.py): 50 concurrent `SELECT pg_sleep(1)` in one worker
flask_app       python/examples/flask_app.py: 50 concurrent views that sleep
                mid-view each answer with their own request (contextvars)

nginx with `uwsgi_buffering off` streaming chunk by chunk is covered by
tests/test_nginx.py::test_streaming_unbuffered; static files by tests/test_static.py.
"""
import concurrent.futures
import socket
import time

import pytest
import requests

import chatclient
from helpers import APPS, EXAMPLES, REQ_TIMEOUT, engine_params, recv_until
from pg import PostgresServer

CHAT = ["-w", "ugreenchat", "--pythonpath", EXAMPLES, "--disable-logging"]


def parallel(fn, items, workers=None):
    items = list(items)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or len(items)) as ex:
        return list(ex.map(fn, items, timeout=60))


def report(label, users, elapsed):
    spans = sorted(u.finished - u.started for u in users)
    polls = sum(u.polls for u in users)
    print("\n%s: %d users, %d messages each, %d polls, %.2f s (slowest user %.2f s, median %.2f s)"
          % (label, len(users), users[0].per_user, polls, elapsed, spans[-1], spans[len(spans) // 2]))


# ------------------------------------------------------------------ ugreenchat

def test_chat_page_and_api(uwsgo):
    srv = uwsgo(*CHAT, "--async", "30", "--ugreen")
    r = requests.get(srv.url + "/", timeout=REQ_TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<title>ugreenchat</title>" in r.text and "poll?since=" in r.text

    r = requests.get(srv.url + "/poll?since=0&timeout=0", timeout=REQ_TIMEOUT)
    assert r.json() == {"messages": [], "last": 0, "truncated": False}
    assert r.headers["Content-Type"] == "application/json"

    # a waiting poll is answered by the next post, long before its timeout
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        waiting = ex.submit(requests.get, srv.url + "/poll?since=0&timeout=20", timeout=REQ_TIMEOUT)
        time.sleep(0.3)
        assert not waiting.done()
        p = requests.post(srv.url + "/post", data={"user": "ann", "text": "héllo <b>"}, timeout=REQ_TIMEOUT)
        assert p.status_code == 200 and p.json() == {"id": 1}
        got = waiting.result(REQ_TIMEOUT).json()
    assert time.monotonic() - t0 < 3
    assert [(m["id"], m["user"], m["text"]) for m in got["messages"]] == [(1, "ann", "héllo <b>")]
    assert got["last"] == 1

    # a poll with nothing new waits for its timeout and answers empty
    t0 = time.monotonic()
    r = requests.get(srv.url + "/poll?since=1&timeout=1", timeout=REQ_TIMEOUT)
    assert r.json() == {"messages": [], "last": 1, "truncated": False}
    assert 0.9 < time.monotonic() - t0 < 3

    assert requests.post(srv.url + "/post", data={"user": "x"}, timeout=REQ_TIMEOUT).status_code == 400
    assert requests.get(srv.url + "/poll?since=zz", timeout=REQ_TIMEOUT).status_code == 400
    # ids this server never gave: the client is told to start over
    assert requests.get(srv.url + "/poll?since=99", timeout=REQ_TIMEOUT).json()["reset"] is True


@pytest.fixture
def chat(request, uwsgo, nginx):
    """(host, port) of the chat with the given extra options, over HTTP or nginx -> -s."""
    proto, opts = request.param

    def start(*extra):
        if proto == "http":
            srv = uwsgo(*CHAT, *opts, *extra)
            return srv, srv.port, "--http-socket", opts
        up = uwsgo(*CHAT, *opts, *extra, proto="uwsgi")
        return up, nginx(up.port).port, "nginx -> -s", opts
    return start


@pytest.mark.parametrize("chat", [
    pytest.param(("http", ["--async", "30", "--ugreen"]), id="ugreen-http"),
    pytest.param(("uwsgi", ["--async", "30", "--ugreen"]), id="ugreen-nginx"),
    pytest.param(("http", ["--async", "30", "--greenlet"]), id="greenlet-http"),
], indirect=True)
def test_chat_30_users(chat):
    srv, port, proto, opts = chat()
    t0 = time.monotonic()
    users = chatclient.run_threads("127.0.0.1", port, 30, 10, timeout=60)
    elapsed = time.monotonic() - t0
    chatclient.check(users, 10)
    report("chat %s via %s" % (" ".join(opts), proto), users, elapsed)
    assert elapsed < 30


def test_chat_1000_users(uwsgo):
    srv = uwsgo(*CHAT, "--async", "1000", "--ugreen", "--listen", "1024")
    t0 = time.monotonic()
    users = chatclient.run_asyncio("127.0.0.1", srv.port, 1000, 1, timeout=90)
    elapsed = time.monotonic() - t0
    chatclient.check(users, 1)
    report("chat --async 1000 --ugreen", users, elapsed)
    assert elapsed < 60


def test_chat_clients_that_leave_free_their_cores(uwsgo):
    """Long polls whose clients hung up answer to nobody when woken, and free their core."""
    srv = uwsgo(*CHAT, "--async", "4", "--ugreen")
    socks = []
    for _ in range(3):   # park 3 of the 4 cores, then hang up
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT)
        s.sendall(b"GET /poll?since=0&timeout=60 HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(s)
    time.sleep(0.5)
    for s in socks:
        s.close()
    # the fourth core takes the post, which wakes the three
    r = requests.post(srv.url + "/post", data={"user": "a", "text": "bye"}, timeout=REQ_TIMEOUT)
    assert r.json() == {"id": 1}

    # all four cores are free again: three polls park, the fourth core takes a post
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        polls = [ex.submit(requests.get, srv.url + "/poll?since=1&timeout=30", timeout=REQ_TIMEOUT)
                 for _ in range(3)]
        time.sleep(0.5)
        assert not any(p.done() for p in polls)
        t0 = time.monotonic()
        r = requests.post(srv.url + "/post", data={"user": "b", "text": "hi"}, timeout=REQ_TIMEOUT)
        assert r.json() == {"id": 2}
        answers = [p.result(REQ_TIMEOUT) for p in polls]
    assert time.monotonic() - t0 < 3
    for a in answers:
        assert [m["id"] for m in a.json()["messages"]] == [2]


# ------------------------------------------------------------------ psycopg2

@pytest.fixture(scope="module")
def postgres():
    with PostgresServer(max_connections=200) as pg:
        yield pg


def pg_app(*extra, dsn):
    return [*extra, "--env", "PSYCOPG2_GREEN_DSN=" + dsn, "--disable-logging"]


@pytest.mark.parametrize("engine", engine_params("ugreen", "greenlet"))
def test_psycopg2_green_50_concurrent_pg_sleep(uwsgo, postgres, engine):
    opts = [o if o != "4" else "50" for o in engine]   # --async 50
    srv = uwsgo("--wsgi-file", EXAMPLES / "psycopg2_green.py", *pg_app(*opts, dsn=postgres.dsn))
    r = requests.get(srv.url + "/", timeout=REQ_TIMEOUT)
    assert r.status_code == 200 and "<td>10</td><td>100</td>" in r.text

    t0 = time.monotonic()
    results = parallel(lambda i: requests.get(srv.url + "/sleep?s=1&tag=%d" % i, timeout=30), range(50))
    elapsed = time.monotonic() - t0
    print("\n50 concurrent SELECT pg_sleep(1), one worker, %s: %.2f s" % (" ".join(opts), elapsed))
    for i, r in enumerate(results):
        assert r.status_code == 200, r.text
        assert r.json()["tag"] == str(i)
    assert len({r.json()["backend_pid"] for r in results}) == 50
    assert len({r.json()["core"] for r in results}) > 1
    # one after another they take 50 s; overlapped, about 1 s plus the
    # connects (the bound is loose: a loaded machine must not fail it)
    assert elapsed < 25.0, "50 concurrent 1 s queries took %.2f s: they did not overlap" % elapsed


def test_psycopg2_without_wait_callback_serializes(uwsgo, postgres):
    """The control: the same app without the wait callback blocks the worker."""
    srv = uwsgo("-w", "psycopg2_blocking", "--pythonpath", APPS, "--pythonpath", EXAMPLES,
                *pg_app("--async", "10", "--ugreen", dsn=postgres.dsn))
    t0 = time.monotonic()
    results = parallel(lambda i: requests.get(srv.url + "/sleep?s=0.5", timeout=30), range(4))
    elapsed = time.monotonic() - t0
    assert all(r.status_code == 200 for r in results)
    assert elapsed >= 1.9, "4 blocking 0.5 s queries took %.2f s: expected them one after another" % elapsed


# ------------------------------------------------------------------ Flask

@pytest.mark.parametrize("engine", engine_params("ugreen", "greenlet"))
def test_flask_50_concurrent_requests_keep_their_own_request(uwsgo, engine):
    opts = [o if o != "4" else "50" for o in engine]
    srv = uwsgo("--wsgi-file", EXAMPLES / "flask_app.py", *opts, "--disable-logging")
    assert "Flask on uwsgo" in requests.get(srv.url + "/", timeout=REQ_TIMEOUT).text

    def call(i):
        name = "user-%d" % i
        params = {"name": name, "sleep": "1", "depth": str(5 + i % 20), "n": str(i)}
        headers = {"X-Client-Id": str(i * 7)}
        if i % 3 == 0:
            r = requests.get(srv.url + "/echo", params=params, headers=headers, timeout=30)
        elif i % 3 == 1:
            r = requests.post(srv.url + "/echo", params=params, headers=headers,
                              data={"field": "form-%d" % i}, timeout=30)
        else:
            r = requests.post(srv.url + "/echo", params=params, headers=headers,
                              data=("raw body %d " % i) * i, timeout=30)
        return i, name, params, r

    t0 = time.monotonic()
    results = parallel(call, range(50))
    elapsed = time.monotonic() - t0
    cores = set()
    for i, name, params, r in results:
        assert r.status_code == 200, r.text
        j = r.json()
        assert j["name"] == name and j["g_tag"] == name and j["from_deep"] == name, j
        assert j["args"] == {k: [v] for k, v in params.items()}, j
        assert j["header"] == str(i * 7)
        assert j["path"] == "/echo"
        if i % 3 == 0:
            assert (j["method"], j["form"], j["data"]) == ("GET", {}, "")
        elif i % 3 == 1:
            assert (j["method"], j["form"]) == ("POST", {"field": ["form-%d" % i]}), j
        else:
            assert (j["method"], j["form"], j["data"]) == ("POST", {}, ("raw body %d " % i) * i), j
        assert j["waited"] >= 0.99
        cores.add(j["core"])
    print("\nFlask: 50 concurrent views sleeping 1 s, %s: %.2f s on %d cores"
          % (" ".join(opts), elapsed, len(cores)))
    assert len(cores) > 10
    assert elapsed < 3.5, "50 concurrent 1 s views took %.2f s: they did not overlap" % elapsed


def test_flask_streams_with_context(uwsgo):
    srv = uwsgo("--wsgi-file", EXAMPLES / "flask_app.py", "--async", "10", "--ugreen")

    def call(i):
        r = requests.get(srv.url + "/stream", params={"name": "s%d" % i, "n": "4", "sleep": "0.2"},
                         timeout=REQ_TIMEOUT)
        return i, r

    t0 = time.monotonic()
    results = parallel(call, range(10))
    elapsed = time.monotonic() - t0
    for i, r in results:
        assert r.status_code == 200
        assert r.text == "".join("s%d %d s%d\n" % (i, k, i) for k in range(4))
    assert elapsed < 2.5, "10 streams of 4 x 0.2 s took %.2f s" % elapsed

    # the first chunk leaves before the view is done
    with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
        t0 = time.monotonic()
        s.sendall(b"GET /stream?name=z&n=3&sleep=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        recv_until(s, b"z 0 z\n")
        first = time.monotonic() - t0
        recv_until(s, b"z 2 z\n")
        total = time.monotonic() - t0
    assert first < 1.8 and total >= 2.9, (first, total)
