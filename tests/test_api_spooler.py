"""The spooler (uwsgi.spool, --spooler and friends), through the real
binary and side by side with Debian's uWSGI 2.0.21: the same app on both,
the same tasks, and task files written by one and run by the other."""
import json
import os
import signal
import time
import urllib.parse
import urllib.request

import pytest

from dropin_ref import KINDS, pair, pid_alive, wait_until  # noqa: F401
from helpers import APPS, read_stats

APP = APPS / "api_spooler_app.py"
PREFIX = "uwsgi_spoolfile_on_"


def get(srv, path, data=None):
    with urllib.request.urlopen(srv.url + path, data=data, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def spool(srv, **kv):
    """Spool {b"k": b"v"} through the app; the task file's path."""
    out = get(srv, "/spool?" + urllib.parse.urlencode(kv))
    assert out.startswith("b'"), out
    return out[2:-1]


def records(log):
    try:
        with open(log) as f:
            return [json.loads(line) for line in f]
    except FileNotFoundError:
        return []


def start(pair, kind, spool_dir, log, *extra, hold=False):
    env = {"SPOOL_LOG": str(log)}
    if hold:
        env["SPOOL_HOLD"] = "1"
    return pair(kind, "--wsgi-file", APP, "--master", "--spooler", spool_dir,
                "--spooler-frequency", "1", *extra, env=env)


def tasks_in(d):
    return sorted(n for n in os.listdir(d) if n.startswith(PREFIX))


@pytest.mark.parametrize("kind", KINDS)
def test_attributes(pair, kind, tmp_path):
    d = tmp_path / "spool"
    srv = start(pair, kind, d, tmp_path / "log")
    info = json.loads(get(srv, "/info"))
    assert info["consts"] == [-2, -1, 0]  # SPOOL_OK, SPOOL_RETRY, SPOOL_IGNORE
    assert info["spoolers"] == [str(d)]
    assert len(info["pids"]) == 1 and info["pid"] == info["pids"][0]
    assert pid_alive(info["pid"]) and info["pid"] != srv.pid
    assert info["i_am"] is None  # a worker is not the spooler
    assert json.loads(get(srv, "/info?freq=1"))["freq"] is True


@pytest.mark.parametrize("kind", KINDS)
def test_task_runs_once_with_its_variables_and_body(pair, kind, tmp_path):
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = start(pair, kind, d, log)
    body = b"\x00binary body\xff" * 100
    out = get(srv, "/spool-body?mode=ok&name=caf%C3%A9&empty=", data=body)
    path = out[2:-1]
    assert os.path.dirname(path) == str(d) and os.path.basename(path).startswith(PREFIX)
    wait_until(lambda: records(log), what="the task to run")
    wait_until(lambda: not os.path.exists(path), what="the task file to go")
    [r] = records(log)
    assert r["spooler"] is True and r["cwd"] == str(d) and r["pid"] == json.loads(get(srv, "/info"))["pid"]
    assert r["task"] == {
        "'spooler_task_name'": repr(os.path.basename(path).encode()),
        "b'mode'": "b'ok'", "b'name'": repr("café".encode()), "b'empty'": "b''",
        "'body'": repr(body),
    }
    time.sleep(2.5)  # two more scans: SPOOL_OK means never again
    assert len(records(log)) == 1
    size = 4 + (2 + 4 + 2 + 2) + (2 + 4 + 2 + 5) + (2 + 5 + 2 + 0) + len(body)  # header, 3 vars, body
    assert "[spooler] written %d bytes to file %s" % (size, path) in srv.log


BAD = {
    "str-value": "spooler callable dictionary must contains only bytes",
    "int-value": "spooler callable dictionary must contains only bytes",
    "none-value": "spooler callable dictionary must contains only bytes",
    "str-key": "spooler callable dictionary must contains only bytes",
    "not-a-dict": "The argument of spooler callable must be a dictionary",
    "unknown-spooler": "unable to spool job",
}


@pytest.mark.parametrize("kind", KINDS)
def test_bad_dicts_raise_uwsgis_exception(pair, kind, tmp_path):
    d = tmp_path / "spool"
    srv = start(pair, kind, d, tmp_path / "log")
    for what, msg in BAD.items():
        r = json.loads(get(srv, "/bad?what=" + what))
        assert r.get("type") == "ValueError" and r["message"].startswith(msg), (what, r)
        if kind == "uwsgo" and what.endswith("value"):
            assert "b'a'" in r["message"]  # and says which
    assert tasks_in(d) == []
    assert get(srv, "/") == "ok"  # the worker keeps serving


@pytest.mark.parametrize("kind", KINDS)
def test_the_spooler_cannot_lock_resources(pair, kind, tmp_path):
    """uwsgi.lock, unlock and is_locked raise ValueError in the spooler,
    before they look at their argument, as uWSGI's do; the task still
    completes, and the workers lock as before."""
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = start(pair, kind, d, log, "--locks", "2")
    spool(srv, mode="locks")
    wait_until(lambda: records(log), what="the task to run")
    refused = ["ValueError", "The spooler cannot lock/unlock resources"]
    assert records(log) == [{"event": "locks", "lock()": refused, "unlock()": refused, "is_locked()": refused,
                             "lock(1,)": refused, "is_locked(1,)": refused}]
    wait_until(lambda: tasks_in(d) == [], what="the task file to go")  # SPOOL_OK
    assert get(srv, "/lock") == "None None False"  # a worker may


@pytest.mark.parametrize("kind", KINDS)
def test_retry_ignore_and_raise_leave_the_task(pair, kind, tmp_path):
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = start(pair, kind, d, log)
    for mode in ("retry", "ignore", "raise"):
        spool(srv, mode=mode)
    for mode in ("retry", "raise"):
        wait_until(lambda: sum(r["event"] == mode for r in records(log)) >= 2, timeout=15,
                   what="%s to run again" % mode)
    assert len(tasks_in(d)) == 3
    assert "unable to find the spooler function" in srv.log  # SPOOL_IGNORE
    assert "RuntimeError: task failed" in srv.log


@pytest.mark.parametrize("kind", KINDS)
def test_at_waits(pair, kind, tmp_path):
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = start(pair, kind, d, log)
    at = int(time.time()) + 4
    path = spool(srv, mode="ok", at="%d.75" % at)
    assert int(os.stat(path).st_mtime) == at
    time.sleep(2)
    assert records(log) == [] and os.path.exists(path)
    wait_until(lambda: records(log), timeout=10, what="the task at its time")
    assert time.time() >= at


@pytest.mark.parametrize("kind", KINDS)
def test_priority_with_spooler_ordered(pair, kind, tmp_path):
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = start(pair, kind, d, log, "--spooler-ordered")
    path = spool(srv, mode="ok", priority="7", n="1")
    assert os.path.dirname(path) == str(d / "7")
    wait_until(lambda: records(log), what="the priority task to run")
    assert records(log)[0]["task"]["b'priority'"] == "b'7'"


@pytest.mark.parametrize("writer,runner", [("uwsgi", "uwsgo"), ("uwsgo", "uwsgi")])
def test_task_files_cross_over(pair, writer, runner, tmp_path):
    """A task written by one server (whose spooler leaves it alone) is run
    by the other's spooler, variables, body and all."""
    d, log = tmp_path / "spool", tmp_path / "log"
    w = start(pair, writer, d, log, hold=True)
    body = b"from " + writer.encode() + b"\n" + bytes(range(256))
    path = get(w, "/spool-body?mode=ok&who=" + writer, data=body)[2:-1]
    at_path = spool(w, mode="ok", who="later", at=str(int(time.time()) + 3))
    assert w.stop() == [] or writer == "uwsgi"
    assert sorted([path, at_path]) == sorted(str(d / n) for n in tasks_in(d))
    start(pair, runner, d, log)
    wait_until(lambda: len(records(log)) == 2, timeout=15, what="both tasks to run on %s" % runner)
    wait_until(lambda: tasks_in(d) == [], what="the files to go")
    first, second = sorted(records(log), key=lambda r: r["task"]["b'who'"] == "b'later'")
    assert first["task"] == {"'spooler_task_name'": repr(os.path.basename(path).encode()),
                             "b'mode'": "b'ok'", "b'who'": repr(writer.encode()), "'body'": repr(body)}
    assert second["task"]["b'who'"] == "b'later'"


@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_in_the_middle_runs_it_again_once(pair, kind, tmp_path):
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = start(pair, kind, d, log)
    path = spool(srv, mode="slow", secs="3")
    wait_until(lambda: records(log), what="the task to start")
    [pid] = json.loads(get(srv, "/info"))["pids"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: any(r["event"] == "done" for r in records(log)), timeout=20,
               what="the respawned spooler to run it again")
    wait_until(lambda: not os.path.exists(path), what="the task to go")
    time.sleep(2)
    events = [r["event"] for r in records(log)]
    assert events == ["start", "start", "done"], events
    assert records(log)[1]["pid"] != pid


@pytest.mark.parametrize("kind", KINDS)
def test_tasks_survive_a_restart(pair, kind, tmp_path):
    d, log = tmp_path / "spool", tmp_path / "log"
    first = start(pair, kind, d, log)
    # late enough that no task is due before the first server has stopped,
    # even on a loaded machine
    at = int(time.time()) + 8
    paths = [spool(first, mode="ok", n=str(i), at=str(at)) for i in range(5)]
    assert first.stop() == [] or kind == "uwsgi"
    assert records(log) == [] and len(tasks_in(d)) == 5
    start(pair, kind, d, log)
    wait_until(lambda: tasks_in(d) == [], timeout=20, what="the tasks to run after the restart")
    time.sleep(2)
    names = sorted(r["task"]["'spooler_task_name'"] for r in records(log))
    assert names == sorted(repr(os.path.basename(p).encode()) for p in paths)


@pytest.mark.parametrize("kind", KINDS)
def test_processes_and_directories(pair, kind, tmp_path):
    """Two directories, two processes each: every task runs once, in the
    directory it was spooled to."""
    a, b, log = tmp_path / "a", tmp_path / "b", tmp_path / "log"
    # uWSGI reads --spooler-processes before it reads --spooler
    srv = pair(kind, "--wsgi-file", APP, "--master", "--spooler-processes", "2", "--spooler", a,
               "--spooler", b, "--spooler-frequency", "1", env={"SPOOL_LOG": str(log)})
    info = json.loads(get(srv, "/info"))
    assert info["spoolers"] == [str(a)] * 2 + [str(b)] * 2
    assert len(set(info["pids"])) == 4
    for i in range(20):
        spool(srv, mode="ok", n=str(i), **({"spooler": str(b)} if i % 2 else {}))
    wait_until(lambda: len(records(log)) >= 20 and not tasks_in(a) and not tasks_in(b), timeout=20,
               what="20 tasks to run")
    time.sleep(1.5)
    rs = records(log)
    assert sorted(int(r["task"]["b'n'"][2:-1]) for r in rs) == list(range(20))
    for r in rs:
        assert r["cwd"] == str(b if "b'spooler'" in r["task"] else a)


# ---------------------------------------------------------------- uwsgidecorators

DECO = APPS / "api_spooler_decorators.py"


@pytest.mark.parametrize("kind", KINDS)
def test_uwsgidecorators_spool(pair, kind, tmp_path):
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = pair(kind, "--wsgi-file", DECO, "--master", "--spooler", d, "--spooler-frequency", "1",
               env={"SPOOL_LOG": str(log)})
    for p in ("/plain?x=1&y=zz", "/with_arguments", "/forever", "/raw"):
        assert get(srv, p).startswith("b'%s/%s" % (d, PREFIX)), p
    wait_until(lambda: sum(r["fn"] == "forever" for r in records(log)) >= 2 and
               sum(r["fn"] == "raw" for r in records(log)) >= 2, timeout=20,
               what="@spoolforever and @spoolraw to run twice")
    time.sleep(1.5)
    rs = records(log)
    by = {}
    for r in rs:
        by.setdefault(r["fn"], []).append(r)
    assert [r["args"] for r in by["plain"]] == [{"ud_spool_func": "plain", "ud_spool_ret": "-2", "x": "1", "y": "zz"}]
    assert [(r["a"], r["b"], r["c"]) for r in by["with_arguments"]] == [([1, "two"], {"three": 3}, [4])]
    assert len(by["raw"]) == 2  # SPOOL_RETRY, then SPOOL_OK: gone
    assert all(r["spooler"] is True for r in rs)
    assert len(tasks_in(d)) == 1  # only @spoolforever's task stays


# ---------------------------------------------------------------- mules

@pytest.mark.parametrize("kind", KINDS)
def test_mulefunc_runs_in_a_mule(pair, kind, tmp_path):
    log = tmp_path / "log"
    # the app's @spool functions need a spooler
    srv = pair(kind, "--wsgi-file", DECO, "--master", "--mules", "2", "--spooler", tmp_path / "spool",
               env={"SPOOL_LOG": str(log)})
    for x in range(4):
        assert get(srv, "/mule?x=%d" % x) == "None"
    wait_until(lambda: len(records(log)) == 4, what="4 calls to run in the mules")
    rs = records(log)
    assert sorted(r["x"] for r in rs) == [0, 1, 2, 3] and {r["y"] for r in rs} == {2}
    assert {r["mule"] for r in rs} <= {1, 2} and 0 not in {r["mule"] for r in rs}
    assert all(r["pid"] != srv.pid for r in rs)


@pytest.mark.parametrize("kind", KINDS)
def test_mule_program_takes_messages(pair, kind, tmp_path):
    log = tmp_path / "log"
    srv = pair(kind, "--wsgi-file", APP, "--master", "--mule=%s" % (APPS / "api_spooler_mule.py"), "--mule",
               env={"SPOOL_LOG": str(log)})
    wait_until(lambda: records(log), what="the mule's program to start")
    [started] = records(log)
    assert started == {"event": "started", "mule": 1, "name": "__main__", "timeout": "b''"}
    assert get(srv, "/mulemsg?msg=to-one&mule=1") == "True"
    wait_until(lambda: len(records(log)) == 2, what="mule 1 to take its message")
    assert records(log)[1] == {"event": "message", "mule": 1, "msg": "to-one"}
    # mule 2 waits for messages and has no mule_msg_hook: it logs them
    assert get(srv, "/mulemsg?msg=hello&mule=2") == "True"
    srv.wait_log("*** mule 2 received a 5 bytes message ***")
    bad = json.loads(get(srv, "/mule_get_msg"))
    assert bad == {"type": "ValueError", "message": "you can receive mule messages only in a mule !!!"}


@pytest.mark.parametrize("kind", KINDS)
def test_mule_msg_without_mules(pair, kind, tmp_path):
    srv = pair(kind, "--wsgi-file", APP, "--master")
    assert json.loads(get(srv, "/mulemsg?msg=x")) == {"type": "ValueError", "message": "no mule configured"}
    assert get(srv, "/") == "ok"


@pytest.mark.parametrize("kind", ["uwsgo"])
def test_a_task_spooled_meanwhile_runs_at_once(pair, kind, tmp_path):
    """spool() wakes the spooler (SIGUSR1): a task spooled while another
    runs is run right after it, not a --spooler-frequency later. (uWSGI
    2.0.21 wakes only an idle spooler: there the second task waits for
    the next scan, up to the frequency.)"""
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = pair(kind, "--wsgi-file", APP, "--master", "--spooler", d, "--spooler-frequency", "60",
               env={"SPOOL_LOG": str(log)})
    spool(srv, mode="slow", secs="2")
    wait_until(lambda: records(log), what="the slow task to start")
    spool(srv, mode="ok", n="2")
    wait_until(lambda: [r["event"] for r in records(log)] == ["start", "done", "ok"], timeout=20,
               what="the second task right after the first")


# ---------------------------------------------------------- the stats server

@pytest.mark.parametrize("kind", KINDS)
def test_spoolers_and_mules_in_the_stats(pair, kind, tmp_path):
    """--stats lists the spoolers with uWSGI's fields (dir, pid, tasks run
    since it started, respawns, running while a task runs); uwsgo adds
    the mules (uWSGI 2.0.21 lists none)."""
    from helpers import free_port
    d, log, sport = tmp_path / "spool", tmp_path / "log", free_port()
    t0 = int(time.time())
    srv = start(pair, kind, d, log, "--mules", "2", "--stats", "127.0.0.1:%d" % sport)
    [pid] = json.loads(get(srv, "/info"))["pids"]
    doc = read_stats(sport)
    assert list(doc)[list(doc).index("workers") + 1] == "spoolers"  # where uWSGI puts them
    assert doc["spoolers"] == [{"dir": str(d), "pid": pid, "tasks": 0, "respawns": 0, "running": 0}]
    for i in range(2):
        spool(srv, mode="ok", n=str(i))
    wait_until(lambda: read_stats(sport)["spoolers"][0]["tasks"] == 2, what="2 tasks counted")
    spool(srv, mode="slow", secs="2")
    wait_until(lambda: any(r["event"] == "start" for r in records(log)), what="the slow task to start")
    assert read_stats(sport)["spoolers"][0]["running"] == 1
    wait_until(lambda: any(r["event"] == "done" for r in records(log)), what="the slow task to end")
    wait_until(lambda: read_stats(sport)["spoolers"][0] == {"dir": str(d), "pid": pid, "tasks": 3,
                                                          "respawns": 0, "running": 0}, what="3 tasks, none running")
    # a respawned spooler: a new pid, one respawn, its own count of tasks
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: json.loads(get(srv, "/info"))["pids"][0] not in (0, pid), timeout=15, what="a new spooler")
    [pid2] = json.loads(get(srv, "/info"))["pids"]
    wait_until(lambda: read_stats(sport)["spoolers"] == [{"dir": str(d), "pid": pid2, "tasks": 0, "respawns": 1,
                                                        "running": 0}], what="the respawned spooler's stats")
    if kind == "uwsgi":
        assert "mules" not in read_stats(sport)
        return
    mules = read_stats(sport)["mules"]
    assert [(m["id"], m["respawn_count"], m["patch"]) for m in mules] == [(1, 1, ""), (2, 1, "")]
    assert all(pid_alive(m["pid"]) and m["pid"] not in (srv.pid, pid2) for m in mules)
    assert all(t0 <= m["last_spawn"] <= time.time() for m in mules)


# ------------------------------------------ --spooler-chdir, --spooler-harakiri

@pytest.mark.parametrize("kind", KINDS)
def test_spooler_chdir_is_each_tasks_directory(pair, kind, tmp_path):
    d, log, work = tmp_path / "spool", tmp_path / "log", tmp_path / "work"
    work.mkdir()
    srv = start(pair, kind, d, log, "--spooler-chdir", work)
    for i in range(2):
        spool(srv, mode="ok", n=str(i))
    wait_until(lambda: len(records(log)) == 2 and tasks_in(d) == [], what="both tasks to run")
    assert [r["cwd"] for r in records(log)] == [str(work)] * 2


@pytest.mark.parametrize("kind", KINDS)
def test_spooler_harakiri_kills_a_task_that_runs_too_long(pair, kind, tmp_path):
    """--spooler-harakiri 2: the master kills the spooler of a task still
    running after 2 s (the task stays on disk, to run again) and respawns
    it; a task that ends in time leaves the spooler alone."""
    d, log = tmp_path / "spool", tmp_path / "log"
    srv = start(pair, kind, d, log, "--spooler-harakiri", "2")
    [pid] = json.loads(get(srv, "/info"))["pids"]
    spool(srv, mode="ok")
    wait_until(lambda: records(log) and tasks_in(d) == [], what="the quick task to run")
    time.sleep(3.5)  # past the 2 s the quick task had: its deadline was cleared
    assert json.loads(get(srv, "/info"))["pids"] == [pid]
    assert "HARAKIRI" not in srv.log
    path = spool(srv, mode="slow", secs="30")
    srv.wait_log("*** HARAKIRI ON THE SPOOLER (pid: %d) ***" % pid, timeout=15)
    wait_until(lambda: json.loads(get(srv, "/info"))["pids"][0] not in (0, pid), timeout=15, what="a new spooler")
    assert os.path.exists(path)  # not done: it runs again
    assert [r["event"] for r in records(log)][:2] == ["ok", "start"]
    assert "done" not in [r["event"] for r in records(log)]


FARM_MULE = APPS / "api_farm_mule.py"


@pytest.mark.parametrize("kind", KINDS)
def test_farms_share_a_queue_among_their_mules(pair, kind, tmp_path):
    """--farm a:1,2 --farm b:3: farm_msg("a", ...) (or mule_msg(..., "a"))
    reaches mule 1 or 2, farm b's messages mule 3; farm_get_msg() takes
    only farm messages, and raises outside a mule."""
    log = tmp_path / "log"
    mule = "--mule=%s" % FARM_MULE
    srv = pair(kind, "--wsgi-file", APP, "--master", mule, mule, mule, "--farm", "a:1,2", "--farm", "b:3",
               env={"SPOOL_LOG": str(log)})
    wait_until(lambda: len(records(log)) == 3, what="the three mules to start")
    for i in range(6):
        assert get(srv, "/farmmsg?farm=a&msg=a%d" % i) == "None"
    assert get(srv, "/farmmsg?farm=b&msg=b0") == "None"
    assert get(srv, "/farmmsg?farm=b&msg=b1&how=mule_msg") == "True"
    assert get(srv, "/farmmsg?farm=a&msg=a6&how=mule_msg") == "True"
    assert get(srv, "/farmmsg?farm=nope&msg=x") == "None"  # uWSGI ignores an unknown farm
    assert json.loads(get(srv, "/farmmsg?farm=nope&msg=x&how=mule_msg")) == {"type": "ValueError",
                                                                            "message": "unknown farm"}
    got = lambda: [r for r in records(log) if r["event"] == "message"]  # noqa: E731
    wait_until(lambda: len(got()) == 9, what="9 farm messages taken")
    by = {}
    for r in got():
        by.setdefault(r["msg"][0], []).append(r)
    assert sorted(r["msg"] for r in by["a"]) == ["a%d" % i for i in range(7)]
    assert {r["mule"] for r in by["a"]} <= {1, 2}
    assert sorted((r["msg"], r["mule"]) for r in by["b"]) == [("b0", 3), ("b1", 3)]
    # a message to mule 1 itself is no farm message: farm_get_msg() leaves it
    assert get(srv, "/mulemsg?msg=direct&mule=1") == "True"
    time.sleep(0.5)
    assert len(got()) == 9
    assert json.loads(get(srv, "/farm_get_msg")) == {"type": "ValueError",
                                                     "message": "you can receive farm messages only in a mule !!!"}


def test_a_farm_of_mules_that_do_not_exist_is_refused(pair, tmp_path):
    from conftest import uwsgo_bin
    import subprocess
    for args, msg in [(["--mules", "2", "--farm", "a:1,3"], '--farm "a:1,3": "3" is not a mule (the mules are 1 to 2'),
                      (["--farm", "a:1"], '--farm "a:1": there are no mules'),
                      (["--mules", "1", "--farm", "a"], '--farm "a": want NAME:MULE[,MULE...]')]:
        p = subprocess.run([uwsgo_bin(), "--master", "--wsgi-file", str(APP), "--http-socket", "127.0.0.1:0", *args],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode != 0 and msg in p.stderr, (args, p.returncode, p.stderr[-500:])
