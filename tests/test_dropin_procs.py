"""Drop-in: uWSGI's process options (signals, worker recycling, process
names, cheaper) do what they do under uWSGI, side by side with Debian's
uWSGI 2.0.21."""
import json
import os
import re
import signal
import threading
import time
import urllib.request

import pytest

from dropin_ref import KINDS, children, cmdline_name, pair, pid_alive, wait_until  # noqa: F401
from helpers import APPS

APP = APPS / "dropin_app.py"


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:  # the connection was cut (harakiri)
        return None, str(e).encode()


def worker_pid(srv):
    return json.loads(get(srv.url + "/ids")[1])["pid"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("master", [False, True])
def test_die_on_term(pair, kind, master):
    srv = pair(kind, "--wsgi-file", APP, "--die-on-term", *(["--master"] if master else []))
    srv.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=10) in (0, 30), srv.log[-2000:]  # uWSGI may exit with 30 (reload code)
    assert srv.stop() == []


HOOK = "unix_signal:15 gracefully_kill_them_all"


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_gracefully_kill_them_all(pair, kind):
    """With the hook, SIGTERM lets the request in flight finish."""
    srv = pair(kind, "--wsgi-file", APP, "--master", "--hook-master-start", HOOK)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=get(srv.url + "/sleep?2", timeout=20)))
    t.start()
    time.sleep(0.7)
    srv.send_signal(signal.SIGTERM)
    t.join(20)
    assert result.get("r") == (200, b"slept\n"), (result, srv.log[-2000:])
    assert srv.proc.wait(timeout=15) == 0
    assert srv.stop() == []


@pytest.mark.parametrize("kind", KINDS)
def test_max_worker_lifetime(pair, kind):
    # uWSGI refuses a lifetime under its --min-worker-lifetime (10 s by default)
    srv = pair(kind, "--wsgi-file", APP, "--master", "--max-worker-lifetime", "2",
               *(["--min-worker-lifetime", "1"] if kind == "uwsgi" else []))
    first = worker_pid(srv)
    wait_until(lambda: worker_pid(srv) != first, timeout=15, what="a new worker after its lifetime")
    assert "lifetime reached" in srv.log


@pytest.mark.parametrize("kind", KINDS)
def test_reload_on_rss(pair, kind):
    srv = pair(kind, "--wsgi-file", APP, "--master", "--reload-on-rss", "120")
    first = worker_pid(srv)
    assert get(srv.url + "/grow?150")[0] == 200
    # uWSGI checks at the end of the next request, uwsgo once a second
    wait_until(lambda: worker_pid(srv) != first, timeout=15, what="a new worker after reload-on-rss")
    if kind == "uwsgo":
        assert "reload-on-rss limit reached" in srv.log


def cut_slow_reload(srv):
    """SIGHUP while a request sleeps 20 s: with a mercy of 1 s the worker
    is killed and replaced within a few seconds."""
    first = worker_pid(srv)
    threading.Thread(target=lambda: get(srv.url + "/sleep?20", timeout=30), daemon=True).start()
    time.sleep(0.5)
    start = time.monotonic()
    srv.send_signal(signal.SIGHUP)
    wait_until(lambda: not pid_alive(first), timeout=10, what="the stuck worker gone")
    assert time.monotonic() - start < 6
    wait_until(lambda: worker_pid(srv) != first, timeout=10, what="a new worker")


@pytest.mark.parametrize("kind", KINDS)
def test_worker_reload_mercy_cuts_a_slow_reload(pair, kind):
    cut_slow_reload(pair(kind, "--wsgi-file", APP, "--master", "--worker-reload-mercy", "1"))


def test_reload_mercy_cuts_a_slow_reload(pair):
    """reload-mercy bounds the whole reload, so it bounds each worker's too.
    (uWSGI 2.0.21 does not: run this way, its worker is still there after
    10 s, finishing its 20 s request.)"""
    cut_slow_reload(pair("uwsgo", "--wsgi-file", APP, "--master", "--reload-mercy", "1"))


@pytest.mark.parametrize("kind", KINDS)
def test_no_orphans(pair, kind):
    srv = pair(kind, "--wsgi-file", APP, "--master", "--processes", "2", "--no-orphans")
    workers = wait_until(lambda: len(children(srv.proc.pid)) == 2 and children(srv.proc.pid),
                         what="two workers")
    srv.proc.kill()
    srv.proc.wait(5)
    wait_until(lambda: not any(pid_alive(p) for p in workers), timeout=5, what="the workers gone")


@pytest.mark.parametrize("kind", KINDS)
def test_harakiri_verbose(pair, kind):
    srv = pair(kind, "--wsgi-file", APP, "--master", "--harakiri", "1", "--harakiri-verbose")
    get(srv.url + "/sleep?4", timeout=15)
    log = srv.wait_log("HARAKIRI: -- wchan>", timeout=10)
    assert re.search(r"HARAKIRI ON WORKER 1", log)
    assert "HARAKIRI: -- syscall>" in log
    wait_until(lambda: get(srv.url + "/")[0] == 200, what="a respawned worker")


NAMES = [
    (["--auto-procname"], "uWSGI master", "uWSGI worker %d"),
    (["--procname-prefix", "app-"], "app-uWSGI master", "app-uWSGI worker %d"),
    (["--procname-prefix-spaced", "myapp"], "myapp uWSGI master", "myapp uWSGI worker %d"),
    (["--procname", "web"], "web", "web"),
    (["--auto-procname", "--procname-append", " [x]"], "uWSGI master [x]", "uWSGI worker %d [x]"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("opts,master_name,worker_name", NAMES)
def test_process_names(pair, kind, opts, master_name, worker_name):
    srv = pair(kind, "--wsgi-file", APP, "--master", "--processes", "2", *opts)
    workers = wait_until(lambda: len(children(srv.proc.pid)) == 2 and children(srv.proc.pid),
                         what="two workers")
    wait_until(lambda: cmdline_name(srv.proc.pid) == master_name, timeout=5,
               what="master named %r (is %r)" % (master_name, cmdline_name(srv.proc.pid)))
    want = sorted(worker_name % i if "%d" in worker_name else worker_name for i in (1, 2))
    # a worker names itself just after the fork: wait for both
    names = lambda: sorted(cmdline_name(p) for p in workers)  # noqa: E731
    wait_until(lambda: names() == want, timeout=5,
               what="workers named %r (are %r)" % (want, names()))
    if kind == "uwsgo":
        # ps -o comm shows the name too (its first 15 bytes)
        with open("/proc/%d/comm" % srv.proc.pid) as f:
            assert f.read().strip() == master_name[:15]


@pytest.mark.parametrize("kind", KINDS)
def test_cheaper_starts_every_worker(pair, kind):
    srv = pair(kind, "--wsgi-file", APP, "--master", "--processes", "3", "--cheaper", "1")
    if kind == "uwsgo":
        wait_until(lambda: len(children(srv.proc.pid)) == 3, what="three workers")
        warn = [line for line in srv.log.splitlines() if "cheaper" in line.lower()]
        assert len(warn) == 1 and "no effect" in warn[0], warn
    else:
        # uWSGI starts the cheaper minimum and adds workers under load
        wait_until(lambda: len(children(srv.proc.pid)) >= 1, what="a worker")
