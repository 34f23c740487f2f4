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
