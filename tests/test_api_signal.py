"""uWSGI's signal framework through the real binary (pyapi/20_signal.py,
procman/signals.go, hub/jobs.go): the master routes each signal to the
process(es) its target names, timers fire from the master, a handler runs
on a free core of the worker and a handler that raises is logged while the
worker lives. Wherever Debian's uWSGI 2.0.21 can run the same app (with
--master, the app imported once in its master), it runs too and the two
must agree.
"""
import json
import os
import time
import urllib.request

import pytest

from dropin_ref import KINDS, pair  # noqa: F401 - the fixture
from helpers import APPS, REQ_TIMEOUT, engine_params, until

APP = str(APPS / "api_signal_app.py")


def get(srv, path):
    with urllib.request.urlopen(srv.url + path, timeout=REQ_TIMEOUT) as r:
        return r.read().decode()


def records(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def runs_of(path, sig):
    return [r for r in records(path) if r["sig"] == sig]


def wait_runs(path, sig, n, what, timeout=10.0):
    return until("%s: %d runs of signal %d" % (what, n, sig), lambda: len(runs_of(path, sig)) >= n and runs_of(path, sig), timeout)


def worker_pids(srv):
    """{worker id: pid}, asked of the workers themselves (until both
    answered: a worker may still be importing the app)."""
    seen = {}

    def both():
        wid, pid = map(int, get(srv, "/pid").split())
        seen[wid] = pid
        return len(seen) == 2
    until("both workers answering", both, 10, step=0.02)
    return seen


@pytest.mark.parametrize("kind", KINDS)
def test_signals_go_where_their_targets_say(pair, kind, tmp_path):  # noqa: F811
    log = tmp_path / "signals.log"
    srv = pair(kind, "--master", "--processes", 2, "--wsgi-file", APP, env={"SIGLOG": str(log)})
    pids = worker_pids(srv)
    assert get(srv, "/raise/10") == '["ok", null]'
    runs = wait_runs(log, 10, 2, kind)
    assert sorted(r["wid"] for r in runs) == [1, 2], runs  # 'workers': each once
    get(srv, "/raise/11")
    assert [r["wid"] for r in wait_runs(log, 11, 1, kind)] == [2]  # 'worker2'
    for _ in range(4):
        get(srv, "/raise/12")
    runs = wait_runs(log, 12, 4, kind)
    assert {r["pid"] for r in runs} <= set(pids.values())  # '': one worker each time
    # the rb timer (every second, 3 times) fires 3 times in all, in worker 1,
    # though uwsgo's two workers both added it
    runs = wait_runs(log, 14, 3, kind)
    time.sleep(1.5)
    assert [r["wid"] for r in runs_of(log, 14)] == [1, 1, 1]
    # nothing ran twice, nothing more than asked
    time.sleep(0.3)
    assert len(runs_of(log, 10)) == 2 and len(runs_of(log, 11)) == 1 and len(runs_of(log, 12)) == 4
    assert get(srv, "/registered/10") == "true" and get(srv, "/registered/50") == "null"


@pytest.mark.parametrize("kind", KINDS)
def test_a_handler_that_raises_is_logged_and_the_worker_lives(pair, kind, tmp_path):  # noqa: F811
    srv = pair(kind, "--master", "--processes", 2, "--wsgi-file", APP, env={"SIGLOG": str(tmp_path / "log")})
    pids = worker_pids(srv)
    get(srv, "/raise/13")
    until("the traceback", lambda: "RuntimeError: boom 13" in srv.log, 10)
    until("uWSGI's line", lambda: "error managing signal 13 on worker" in srv.log, 10)
    assert worker_pids(srv) == pids, srv.log
    get(srv, "/raise/10")
    wait_runs(tmp_path / "log", 10, 2, kind)


# What uwsgo refuses, and what uWSGI 2.0.21 does with the same call:
# uWSGI reads a signal number as a C byte (PyArg "B": no range check), so
# 256 is signal 0 and -1 is signal 255, and it sends an unregistered
# signal anyway (the worker that gets it logs "error managing signal").
BAD = {
    "signal 256": (["ValueError", "uwsgi.signal(): signal number 256 is out of range: uWSGI signals are 0-255"], ["ok", None]),
    "signal -1": (["ValueError", "uwsgi.signal(): signal number -1 is out of range: uWSGI signals are 0-255"], ["ok", None]),
    "signal 'x'": (["TypeError", "uwsgi.signal(): the signal number must be an integer, not str"],
                   ["TypeError", "'str' object cannot be interpreted as an integer"]),
    "signal unregistered 99": (["ValueError", "uwsgi.signal(): signal 99 is not registered (register it first: "
                                "uwsgi.register_signal(99, target, handler))"], ["ok", None]),
    "registered 300": (["ValueError", "uwsgi.signal_registered(): signal number 300 is out of range: uWSGI signals are 0-255"],
                       ["ok", None]),
    "register_signal bad target": (["ValueError", "uwsgi.register_signal(): unable to register signal 98: unknown target "
                                    "'wrokers' (worker, workerN, workers, active-workers, spooler, mule, muleN, mules)"],
                                   ["ok", None]),
    "register_signal not callable": (["TypeError", "uwsgi.register_signal(): the handler must be callable, not int"],
                                     ["ok", None]),
    "add_timer 0 seconds": (["ValueError", "uwsgi.add_timer(): unable to add timer: the period must be at least 1 second, not 0"],
                            ["ok", None]),
    "add_timer 1000": (["ValueError", "uwsgi.add_timer(): signal number 1000 is out of range: uWSGI signals are 0-255"],
                       ["ok", None]),
    "add_cron minute 60": (["ValueError", "uwsgi.add_cron(): unable to add cron: minute 60 is out of range "
                            "(0-59, -1 for any, -N for every N)"], ["ok", True]),
}


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_raises_and_the_worker_keeps_serving(pair, kind, tmp_path):  # noqa: F811
    srv = pair(kind, "--master", "--processes", 2, "--wsgi-file", APP, env={"SIGLOG": str(tmp_path / "log")})
    pids = worker_pids(srv)
    got = json.loads(get(srv, "/bad"))
    want = {k: v[0] if kind == "uwsgo" else v[1] for k, v in BAD.items()}
    assert got == want
    assert worker_pids(srv) == pids
    get(srv, "/raise/10")
    wait_runs(tmp_path / "log", 10, 2, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_signal_wait_in_a_sync_worker(pair, kind, tmp_path):  # noqa: F811
    """Without an engine to park on, signal_wait() blocks its worker and
    runs the handler there itself, as in uWSGI; the other worker raises."""
    import concurrent.futures
    log = tmp_path / "log"
    srv = pair(kind, "--master", "--processes", 2, "--wsgi-file", APP, env={"SIGLOG": str(log)})
    worker_pids(srv)
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        waiting = ex.submit(get, srv, "/wait/15")
        until("a worker waits", lambda: [r for r in records(log) if "waiting" in r], 10)
        time.sleep(0.2)  # into signal_wait(): the signal must come after
        get(srv, "/raise/15")
        assert waiting.result(timeout=20) == "got 15 b''"
    runs = wait_runs(log, 15, 2, kind)
    assert sorted(r["wid"] for r in runs) == [1, 2]  # 'workers': the waiting one ran it too


@pytest.mark.parametrize("engine", engine_params("ugreen", "greenlet", "gevent") + [
    pytest.param(["--threads", "4"], id="threads")])
def test_signal_wait_parks_only_its_core(uwsgo, engine, tmp_path):
    import concurrent.futures
    log = tmp_path / "log"
    name = engine[0].lstrip("-") if engine[0] != "--async" else engine[2].lstrip("-")
    srv = uwsgo("--master", "--wsgi-file", CORES_APP, *engine, env={"SIGLOG": str(log), "ENGINE": name})
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        waiting = ex.submit(get, srv, "/wait/22")
        until("a core waits", lambda: [r for r in records(log) if r.get("waiting")], 10)
        assert get(srv, "/") == "ok"  # the worker goes on serving
        assert get(srv, "/raise/22") == "raised"
        assert waiting.result(timeout=20) == "got 22"
    assert [r for r in records(log) if r.get("sig") == 22]  # the handler ran first


def test_signals_need_a_master(uwsgo, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(
        "import uwsgi\n"
        "def application(e, sr):\n"
        "    try:\n"
        "        uwsgi.register_signal(1, '', print)\n"
        "        body = 'registered'\n"
        "    except ValueError as e:\n"
        "        body = str(e)\n"
        "    sr('200 OK', [])\n"
        "    return [body.encode()]\n")
    srv = uwsgo("--wsgi-file", app)
    assert get(srv, "/") == "uwsgi.register_signal(): signals, timers and monitors need the master process (--master)"
    assert get(srv, "/") == "uwsgi.register_signal(): signals, timers and monitors need the master process (--master)"


# --------------------------------------------- a handler runs on a free core

CORES_APP = str(APPS / "api_signal_cores.py")


@pytest.mark.parametrize("engine", engine_params("ugreen", "greenlet", "gevent") + [
    pytest.param(["--threads", "4"], id="threads")])
def test_a_handler_runs_on_a_free_core_and_blocks_nothing(uwsgo, engine, tmp_path):
    """One worker. /hold keeps its core until the handler of signal 20 has
    run: it can only end well if the handler ran on another core while
    /hold was in flight. The handler of signal 21 then waits for /release:
    it can only end well if requests are served while it runs."""
    log = tmp_path / "log"
    name = engine[0].lstrip("-") if engine[0] != "--async" else engine[2].lstrip("-")
    srv = uwsgo("--master", "--wsgi-file", CORES_APP, *engine, env={"SIGLOG": str(log), "ENGINE": name})
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        hold = ex.submit(get, srv, "/hold")
        until("/hold holds its core", lambda: any(r.get("hold") for r in records(log)), 10)
        assert get(srv, "/raise/20") == "raised"
        assert hold.result(timeout=20) == "handler ran", srv.log
        assert get(srv, "/raise/21") == "raised"
        until("handler 21 runs", lambda: any(r.get("sig") == 21 and r.get("phase") == "start" for r in records(log)), 10)
        assert get(srv, "/release") == "released"
        until("handler 21 ends", lambda: any(r.get("sig") == 21 and r.get("phase") == "end" for r in records(log)), 10)
    by = {(r.get("sig"), r.get("phase")): r for r in records(log)}
    by[(None, "hold")] = next(r for r in records(log) if r.get("hold"))
    assert by[(21, "end")]["released"] is True, records(log)
    if name != "gevent":  # gevent's greenlets have no core id (uwsgi.core_id() is -1)
        assert by[(20, "run")]["core"] != by[(None, "hold")]["core"]
    else:
        # a greenlet of its own: not the hub, not the request's (alive
        # at the same time, so their ids differ)
        assert by[(20, "run")]["greenlet"] != by[(None, "hold")]["greenlet"]
        assert not by[(20, "run")]["hub"] and not by[(21, "start")]["hub"]


# ------------------------------------------- Debian's uwsgidecorators, as is

DECO_APP = str(APPS / "api_signal_decorators.py")


def whats(path, what):
    return [r for r in records(path) if r.get("what") == what]


@pytest.mark.parametrize("kind", KINDS)
def test_uwsgidecorators_signals_timers_cron_filemon_rpc(pair, kind, tmp_path):  # noqa: F811
    log, watched = tmp_path / "log", tmp_path / "watched"
    watched.write_text("")
    srv = pair(kind, "--master", "--processes", 2, "--wsgi-file", DECO_APP,
               env={"SIGLOG": str(log), "WATCHFILE": str(watched)})
    worker_pids(srv)
    # get_free_signal() hands out 0, 1, 2, 3 in the order of the decorators
    # (@timer, @rbtimer, @cron, @filemon), in every worker alike
    timers = until("@timer", lambda: len(whats(log, "timer")) >= 2 and whats(log, "timer"), 10)
    assert {(r["sig"], r["wid"]) for r in timers} == {(0, 1)}  # target="worker1"
    rbs = until("@rbtimer", lambda: len(whats(log, "rbtimer")) >= 2 and whats(log, "rbtimer"), 10)
    assert {(r["sig"], r["wid"]) for r in rbs} == {(1, 2)}  # target="worker2"
    # an every-minute cron runs in the minute it was added, as in uWSGI
    crons = until("@cron", lambda: whats(log, "cron"), 10)
    assert crons[0]["sig"] == 2
    with open(watched, "a") as f:
        f.write("changed\n")
    fm = until("@filemon", lambda: whats(log, "filemon"), 10)
    assert fm[0]["sig"] == 3
    get(srv, "/raise/30")
    get(srv, "/raise/31")
    assert len(until("@signal(30)", lambda: whats(log, "signal"), 10)) == 1
    both = until("@signal(31, target='workers')", lambda: len(whats(log, "signal-workers")) >= 2 and whats(log, "signal-workers"), 10)
    assert sorted(r["wid"] for r in both) == [1, 2]
    assert json.loads(get(srv, "/rpc")) == {
        "call hello": ["ok", "b'hello x'"],
        "rpc '' hello": ["ok", "b'hello '"],
        "rpc hello": ["ok", "b'hello a,b'"],
        "rpc missing": ["ok", "None"],
        "rpc nothing": ["ok", "None"],  # only non-empty bytes come back
        "rpc str arg": ["ValueError"],
        "rpc str name": ["ValueError"],
        "rpc_list": "[b'hello', b'nothing']",
        "signals": ["on30", True, True],
    }


# ------------------------------------ the gevent document's tests/ugevent.py

UGEVENT_APP = str(APPS / "api_signal_ugevent.py")


@pytest.mark.parametrize("kind", KINDS)
def test_the_ugevent_pattern_under_gevent(pair, kind, tmp_path):  # noqa: F811
    """A timer, a signal raised by a background greenlet and a directory
    monitor, with requests running meanwhile: each handler in a greenlet
    of its own (never the hub), as the gevent document says."""
    log, wd = tmp_path / "log", tmp_path / "watched"
    wd.mkdir()
    extra = ["--plugin", "gevent_python3"] if kind == "uwsgi" else []
    srv = pair(kind, *extra, "--master", "--gevent", 4, "--wsgi-file", UGEVENT_APP,
               env={"SIGLOG": str(log), "WATCHDIR": str(wd)})
    body = get(srv, "/")
    assert body.startswith("sleeping for 0.3 seconds...<br/>done<br>getting some ips...<br/>ip = 127.0.0.1"), body
    (wd / "touched").write_text("x")
    until("@filemon on the directory", lambda: whats(log, "filemon"), 10)
    until("the background greenlet's signal", lambda: whats(log, "hello"), 10)
    steps = [r["step"] for r in whats(log, "background")]
    assert steps == [1, 2, 3]
    until("two timer ticks", lambda: len(whats(log, "timer")) >= 2, 10)
    assert get(srv, "/").endswith("ip = 127.0.0.1<br/>")  # still serving
    for r in records(log):
        assert not r["hub"], r


# ----------------------------------------------- the spooler and the mules

EXTRAS_APP = str(APPS / "api_signal_extras.py")


@pytest.mark.parametrize("kind", KINDS)
def test_signals_to_the_spooler_and_the_mules(pair, kind, tmp_path):  # noqa: F811
    log, spool = tmp_path / "log", tmp_path / "spool"
    spool.mkdir()
    srv = pair(kind, "--master", "--spooler", spool, "--mules", 2, "--wsgi-file", EXTRAS_APP,
               env={"SIGLOG": str(log)})

    def whos(sig, n):
        return until("%d runs of signal %d" % (n, sig),
                     lambda: len([r for r in records(log) if r["sig"] == sig]) >= n
                     and sorted(r["who"] for r in records(log) if r["sig"] == sig), 15)
    # the spooler and the mules may still be starting: raise until heard
    until("the spooler hears signal 50", lambda: get(srv, "/raise/50") and time.sleep(0.2) or
          [r for r in records(log) if r["sig"] == 50], 15)
    assert set(whos(50, 1)) == {"spooler"}
    until("both mules hear signal 51", lambda: get(srv, "/raise/51") and time.sleep(0.2) or
          {r["who"] for r in records(log) if r["sig"] == 51} == {"mule 1", "mule 2"}, 15)
    get(srv, "/raise/52")
    assert set(whos(52, 1)) == {"mule 2"}
    get(srv, "/raise/53")
    assert whos(53, 1)[0] in ("mule 1", "mule 2")


# ------------------------------------------------ a burst loses nothing

BURST_APP = str(APPS / "api_signal_burst.py")


@pytest.mark.parametrize("kind", KINDS)
def test_a_burst_of_signals_to_a_busy_worker_arrives_whole_and_in_order(pair, kind):  # noqa: F811
    """2000 signals raised in one request, to the worker running that
    request: it cannot take any until the request ends, so the master
    holds them and delivers them all, in the order they were raised.
    uWSGI 2.0.21 does not: its worker's and its master's socket buffers
    fill, and it drops most of the burst ("SIGNAL QUEUE IS FULL")."""
    srv = pair(kind, "--master", "--processes", 1, "--wsgi-file", BURST_APP)
    assert get(srv, "/burst/2000") == "raised"
    if kind == "uwsgi":
        until("uWSGI's queue overflows", lambda: "SIGNAL QUEUE IS FULL" in srv.log, 10)
        # what it kept, it handles; the rest is gone
        counts = [-1]

        def settled():
            n = len(json.loads(get(srv, "/seen")))
            counts.append(n)
            return n > 0 and counts[-2] == n
        until("uWSGI's handlers end", settled, 30, step=0.5)
        seen = json.loads(get(srv, "/seen"))
        assert 0 < len(seen) < 2000, len(seen)
        return
    try:
        until("2000 signals handled", lambda: len(json.loads(get(srv, "/seen"))) >= 2000, 30)
    except AssertionError:
        pytest.fail("%d of 2000 signals handled\n%s" % (len(json.loads(get(srv, "/seen"))), srv.log[-2000:]))
    time.sleep(0.3)  # and no more than raised
    seen = json.loads(get(srv, "/seen"))
    assert seen == [40 + i % 2 for i in range(2000)]
    assert "SIGNAL QUEUE IS FULL" not in srv.log
