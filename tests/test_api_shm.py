"""uwsgi.lock/unlock/is_locked (--locks) and the uwsgi.cache_* calls
(--cache2, --cache) through the real binary: the same calls return the same
values under Debian's uWSGI 2.0.21; the cache and the locks are shared by
every worker of a master (a memfd made before the workers start), survive
a reload, and lose nothing when four workers hammer them at once."""
import json
import os
import signal
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from dropin_ref import pair  # noqa: F401 - the fixture
from helpers import APPS, REQ_TIMEOUT, until

APP = str(APPS / "api_shm_app.py")
CACHES = ["--cache2", "name=c1,items=100,blocksize=100", "--cache2", "name=c2,items=4,blocksize=16"]


def get(srv, route, **q):
    url = srv.url + route + ("?" + urlencode(q) if q else "")
    with urllib.request.urlopen(url, timeout=REQ_TIMEOUT) as r:
        assert r.status == 200
        return json.loads(r.read())


def same_calls(got, ref):
    """Every call gave what uWSGI gave; an exception of the same type whose
    message starts with uWSGI's (uwsgo says more about a bad lock number)."""
    assert len(got) == len(ref)
    for i, (g, r) in enumerate(zip(got, ref)):
        if r[0] == "raise":
            assert g[0] == "raise" and g[1] == r[1] and g[2].startswith(r[2]), (i, g, r)
        else:
            assert g == r, (i, g, r)


@pytest.mark.parametrize("master", [["--master"], []], ids=["master", "no-master"])
def test_every_call_returns_what_uwsgi_returns(pair, master):
    args = ["--wsgi-file", APP, "--locks", "2", *CACHES, *master]
    ours = get(pair("uwsgo", *args), "/seq")
    ref = get(pair("uwsgi", *args), "/seq")
    same_calls(ours, ref)
    # what the comparison covers, spelled out
    by_call = dict(zip(range(len(ours)), ours))
    assert ["bytes", b"x".hex() * 100] in ours            # a value of exactly blocksize bytes
    assert by_call[14] == ["value", "None"]               # one byte more is not stored
    assert ["raise", "ValueError", "Invalid lock number 3: the locks are 0 to 2 (--locks 2)"] in ours


def test_a_value_over_the_blocksize_is_refused_with_a_log_line(pair):
    srv = pair("uwsgo", "--wsgi-file", APP, *CACHES)
    assert get(srv, "/call", fn="cache_set", args=json.dumps(["big", "x" * 101])) == ["value", "None"]
    srv.wait_log('uwsgi.cache_set(big): the value is 101 bytes, more than the blocksize of cache "c1" (100): not stored')
    assert get(srv, "/call", fn="cache_set", args=json.dumps(["k4", "x" * 17, 0, "c2"])) == ["value", "None"]
    srv.wait_log('the value is 17 bytes, more than the blocksize of cache "c2" (16)')
    # the worker serves on, and the cache works
    assert get(srv, "/set", k="small", v="ok") is True
    assert get(srv, "/get", k="small") == "ok"


def test_a_full_cache_says_so_as_uwsgi_does(pair):
    for kind in ("uwsgo", "uwsgi"):
        srv = pair(kind, "--wsgi-file", APP, *CACHES)
        for k in ("k1", "k2", "k3"):
            assert get(srv, "/call", fn="cache_set", args=json.dumps([k, "v", 0, "c2"])) == ["value", "True"]
        assert get(srv, "/call", fn="cache_set", args=json.dumps(["k4", "v", 0, "c2"])) == ["value", "None"]
        srv.wait_log('*** DANGER cache "c2" is FULL !!! ***')


def test_a_lock_number_past_locks_raises_and_the_worker_serves_on(pair):
    srv = pair("uwsgo", "--wsgi-file", APP, "--locks", "3")
    assert get(srv, "/call", fn="lock", args="[4]") == [
        "raise", "ValueError", "Invalid lock number 4: the locks are 0 to 3 (--locks 3)"]
    assert get(srv, "/call", fn="is_locked", args="[3]") == ["value", "False"]
    srv2 = pair("uwsgo", "--wsgi-file", APP)
    assert get(srv2, "/call", fn="unlock", args="[1]") == [
        "raise", "ValueError", "Invalid lock number 1: there is only lock 0 (start with --locks N for locks 1 to N)"]
    assert get(srv2, "/call", fn="lock", args="[0]") == ["value", "None"]
    assert get(srv2, "/call", fn="is_locked", args="[0]") == ["value", "True"]
    assert get(srv2, "/call", fn="unlock", args="[0]") == ["value", "None"]


def test_taking_a_held_lock_again_raises_instead_of_hanging(pair):
    srv = pair("uwsgo", "--wsgi-file", APP, "--locks", "1")
    got = get(srv, "/relock")
    assert got == {"raised": "uwsgi.lock(1): lock 1 is held by this request already: "
                             "waiting would hang this worker (unlock it first)"}
    assert get(srv, "/call", fn="is_locked", args="[1]") == ["value", "False"]


def test_a_lock_whose_holder_died_is_taken_over(pair, tmp_path):
    """A worker killed while it holds a lock (SIGKILL, as harakiri does)
    never unlocks: the next process that waits for it takes it over."""
    counter = tmp_path / "counter"
    counter.write_text("0")
    srv = pair("uwsgo", "--wsgi-file", APP, "--master", "--processes", "2", "--locks", "1")
    dead = get(srv, "/take", n="1")["pid"]
    os.kill(dead, signal.SIGKILL)
    got = get(srv, "/locked", n="1", path=str(counter))
    assert "error" not in got and got["pid"] != dead
    assert counter.read_text() == "1"
    srv.wait_log("[deadlock-detector] process %d died holding lock 1: recovering..." % dead)
    assert get(srv, "/call", fn="is_locked", args="[1]") == ["value", "False"]


def test_old_style_cache_is_the_default_cache(pair):
    for kind in ("uwsgo", "uwsgi"):
        srv = pair(kind, "--wsgi-file", APP, "--cache", "5", "--cache-blocksize", "8")
        assert get(srv, "/call", fn="cache_set", args='["a", "12345678"]') == ["value", "True"]
        assert get(srv, "/call", fn="cache_set", args='["b", "123456789"]') == ["value", "None"]
        assert get(srv, "/call", fn="cache_get", args='["a", "default"]') == ["bytes", b"12345678".hex()]
        assert get(srv, "/call", fn="cache_keys", args='[]') == ["list", [b"a".hex()]]


def test_expired_keys_are_gone_as_under_uwsgi(pair):
    """uWSGI's sweeper (a thread of its master) drops expired keys every
    3 s; uwsgo drops them the moment they expire. After 5 s both agree."""
    srvs = [pair(kind, "--wsgi-file", APP, "--master", *CACHES) for kind in ("uwsgo", "uwsgi")]
    for srv in srvs:
        assert get(srv, "/set", k="e", v="soon", e="1") is True
        assert get(srv, "/set", k="f", v="later", e="3600") is True
        assert get(srv, "/call", fn="cache_inc", args='["n", 1, 1]') == ["value", "True"]
    ours = srvs[0]
    time.sleep(2.1)
    assert get(ours, "/get", k="e") is None                  # at once under uwsgo
    assert get(ours, "/call", fn="cache_exists", args='["e"]') == ["value", "None"]
    time.sleep(3)
    for srv in srvs:
        assert get(srv, "/get", k="e") is None, srv.kind
        assert get(srv, "/get", k="f") == "later", srv.kind
        assert get(srv, "/call", fn="cache_num", args='["n"]') == ["value", "0"], srv.kind
        # a key that expired can be set again
        assert get(srv, "/set", k="e", v="again") is True, srv.kind
        keys = get(srv, "/call", fn="cache_keys", args="[]")[1]
        assert sorted(bytes.fromhex(k) for k in keys) == [b"e", b"f"], srv.kind


def test_math_keeps_the_expiry_of_an_existing_key(pair):
    srv = pair("uwsgo", "--wsgi-file", APP, *CACHES)
    assert get(srv, "/call", fn="cache_inc", args='["n", 5, 1]') == ["value", "True"]
    # an expiry given to a later cache_inc does not extend it (uWSGI's FIXEXPIRE)
    assert get(srv, "/call", fn="cache_inc", args='["n", 1, 3600]') == ["value", "True"]
    assert get(srv, "/call", fn="cache_num", args='["n"]') == ["value", "6"]
    time.sleep(2.1)
    assert get(srv, "/call", fn="cache_num", args='["n"]') == ["value", "0"]


def test_four_workers_hammer_the_cache_and_nothing_is_lost(pair):
    srv = pair("uwsgo", "--wsgi-file", APP, "--master", "--processes", "4",
               "--cache2", "name=hammer,items=4000,blocksize=32", "--disable-logging")
    n = 3000
    done, lock = [], threading.Lock()

    def one(i):
        r = get(srv, "/hammer", id=str(i), n=str(n))
        with lock:
            done.append((i, r))

    # rounds of 8 concurrent requests until all 4 workers took part, and
    # requests of different workers ran at the same time
    def overlapped():
        for _, a in done:
            for _, b in done:
                if a["pid"] != b["pid"] and a["start"] < b["end"] and b["start"] < a["end"]:
                    return True
        return False

    i = 0
    with ThreadPoolExecutor(8) as ex:
        while len(done) < 40 or len({r["pid"] for _, r in done}) < 4 or not overlapped():
            assert i < 400, "after %d requests: pids %s" % (i, sorted({r["pid"] for _, r in done}))
            list(ex.map(one, range(i, i + 8)))
            i += 8
    got = get(srv, "/count")
    assert got["counter"] == n * len(done)
    want = {"r%d-%d" % (rid, j): "%d/%d" % (rid, j) for rid, _ in done for j in range(10)}
    assert got["values"] == want


def test_the_cache_survives_a_reload_of_the_workers(pair):
    srv = pair("uwsgo", "--wsgi-file", APP, "--master", "--processes", "2", *CACHES)
    assert get(srv, "/set", k="kept", v="across reloads") is True
    before = {get(srv, "/ping")["pid"] for _ in range(10)}
    os.kill(srv.pid, signal.SIGHUP)
    until("new workers", lambda: not ({get(srv, "/ping")["pid"] for _ in range(4)} & before), 20)
    assert get(srv, "/get", k="kept") == "across reloads"


def locked_run(srv, path, n_requests, workers=8):
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(lambda _: get(srv, "/locked", n="1", path=str(path)), range(n_requests)))


@pytest.mark.parametrize("engine", [[], ["--threads", "4"]], ids=["sync", "threads"])
def test_a_lock_excludes_every_other_worker(pair, tmp_path, engine):
    counter = tmp_path / "counter"
    counter.write_text("0")
    srv = pair("uwsgo", "--wsgi-file", APP, "--master", "--processes", "4", "--locks", "1",
               "--disable-logging", *engine)
    # rounds of 40 until more than one worker took part (a worker with
    # threads may well take every connection of a round)
    got = []
    while len(got) < 120 or len({r["pid"] for r in got}) < 2:
        assert len(got) < 800, "one worker served all %d requests" % len(got)
        got += locked_run(srv, counter, 40)
    assert [r for r in got if "error" in r] == []
    assert counter.read_text() == str(len(got))   # no update lost


@pytest.mark.parametrize("engine", [["--async", "4", "--ugreen"], ["--async", "4", "--greenlet"],
                                    ["--gevent", "4"]], ids=["ugreen", "greenlet", "gevent"])
def test_a_request_waiting_for_a_lock_lets_the_worker_serve(pair, engine):
    """A holder parks inside the lock; a second request waits for it
    without blocking the worker: a third is answered meanwhile, and the
    waiter gets the lock once the holder let go."""
    srv = pair("uwsgo", "--wsgi-file", APP, "--locks", "1", *engine)
    extra = {"gevent": "1"} if "--gevent" in engine else {}
    with ThreadPoolExecutor(2) as ex:
        holder = ex.submit(get, srv, "/hold", n="1", secs="1.0", **extra)
        until("the holder has the lock", lambda: get(srv, "/call", fn="is_locked", args="[1]") == ["value", "True"], 5)
        waiter = ex.submit(get, srv, "/hold", n="1", secs="0", **extra)
        time.sleep(0.2)
        ping = get(srv, "/ping")
        h, w = holder.result(), waiter.result()
    assert ping["t"] < h["released"]              # served while the lock was held and waited for
    assert w["asked"] < h["released"] <= w["got"]


def test_locks_and_caches_across_a_master_and_no_master_match(pair):
    """Without a master the one process has the same locks and caches."""
    srv = pair("uwsgo", "--wsgi-file", APP, "--locks", "2", *CACHES)
    assert get(srv, "/call", fn="lock", args="[2]") == ["value", "None"]
    assert get(srv, "/call", fn="is_locked", args="[2]") == ["value", "True"]
    assert get(srv, "/call", fn="unlock", args="[2]") == ["value", "None"]
    assert get(srv, "/set", k="x", v="y") is True
    assert get(srv, "/get", k="x") == "y"


@pytest.mark.parametrize("spec,msg", [
    ("items=10", "a cache needs a name (name=...)"),
    ("name=a", "a cache needs its number of items (items=...)"),
    ("name=a,items=x", 'items="x": want a positive integer'),
    ("name=a,items=1", "slot 0 is never used"),
    ("name=a,items=10,color=red", 'unknown key "color"'),
    ("name=a,items=10,hash=murmur2", "djb33x"),
])
def test_a_bad_cache2_is_one_line_and_exit(uwsgo_run, spec, msg):
    r = uwsgo_run("--wsgi-file", APP, "--cache2", spec)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    lines = [line for line in out.splitlines() if msg in line]
    assert len(lines) == 1 and ('--cache2 "%s"' % spec) in lines[0], out


def test_cachelib_uwsgicache_works_as_under_uwsgi(pair):
    """Debian's python3-cachelib (flask-caching's "uwsgi" backend) on the
    default cache and on one by name: the same results as under uWSGI."""
    args = ["--wsgi-file", str(APPS / "api_shm_cachelib.py"), "--master",
            "--cache2", "name=c1,items=100,blocksize=128", "--cache2", "name=c2,items=10,blocksize=128"]
    ours = get(pair("uwsgo", *args), "/")
    assert ours == get(pair("uwsgi", *args), "/")
    assert ours[:3] == [None, True, {"a": [1, 2, 3]}]


def test_store_is_out_of_scope_and_says_so(pair, tmp_path):
    srv = pair("uwsgo", "--wsgi-file", APP, "--cache2", "name=s,items=10,store=%s" % (tmp_path / "store"))
    srv.wait_log("store= (persistence to a file) is not implemented: the cache lives in memory only")
    assert get(srv, "/set", k="a", v="b") is True
    assert not (tmp_path / "store").exists()


# ------------------------------------------- Debian's uwsgidecorators @lock

LOCK_APP = str(APPS / "api_lock_decorator.py")


@pytest.mark.parametrize("kind", ["uwsgo", "uwsgi"])
def test_uwsgidecorators_lock_across_workers(pair, kind, tmp_path):
    """@lock makes a read-sleep-write of a counter file atomic across 4
    workers hammered by 8 clients: no call ever finds another inside, and
    no increment is lost. In the spooler @lock skips the call."""
    d = tmp_path / "lockdir"
    d.mkdir()
    (d / "counter").write_text("0")
    spool = tmp_path / "spool"
    spool.mkdir()
    srv = pair(kind, "--wsgi-file", LOCK_APP, "--master", "--processes", "4", "--locks", "2",
               "--spooler", spool, "--spooler-frequency", "1", env={"LOCK_DIR": str(d)})
    n = 200
    with ThreadPoolExecutor(8) as ex:
        wids = list(ex.map(lambda _: urllib.request.urlopen(srv.url + "/bump", timeout=REQ_TIMEOUT).read(), range(n)))
    assert len({w for w in wids}) > 1, "one worker served everything: nothing was contended"
    assert get(srv, "/count") == [n, 0]
    assert get(srv, "/is_locked") is False
    assert urllib.request.urlopen(srv.url + "/spool", timeout=REQ_TIMEOUT).read() == b"spooled"
    done = until("the spooled task", lambda: (d / "spooled").exists() and (d / "spooled").read_text(), 15)
    assert json.loads(done) == {"bump": None, "spooler": True}
    assert get(srv, "/count") == [n, 0]
