"""The uwsgi module's process API (pyhost/api_process.c, pyapi/10_process.py):
Debian's python3-uwsgidecorators unmodified, post-fork hooks in every
worker (respawned and reloaded ones too), the module's attributes, process
control and request I/O. Wherever Debian's uWSGI 2.0.21 can run the same
app, it runs there too and the two are compared."""
import json
import os
import signal
import socket
import urllib.request

import pytest

from dropin_ref import KINDS, children, pair, pid_alive, wait_until  # noqa: F401
from helpers import APPS, REQ_TIMEOUT

POSTFORK = APPS / "api_process_postfork.py"
ATTRS = APPS / "api_process_attrs.py"


def get_json(url):
    with urllib.request.urlopen(url, timeout=REQ_TIMEOUT) as r:
        assert r.status == 200
        return json.loads(r.read())


def read_notes(path):
    """{pid: [(worker, what), ...]} from the hooks' log."""
    notes = {}
    if path.exists():
        for line in path.read_text().splitlines():
            pid, wid, what = line.split(" ", 2)
            notes.setdefault(int(pid), []).append((int(wid), what))
    return notes


def expected_hooks(wid):
    """What the chain does in worker wid: every hook up to the one that
    raises, worker 2's own only there, nothing after the failure."""
    want = [(wid, "all")]
    if wid == 2:
        want.append((wid, "two"))
    return want + [(wid, "thread"), (wid, "raises")]


def workers_of(srv):
    return children(srv.pid)


def hooks_ran_in(notes, pids):
    return all(p in notes and len(notes[p]) == len(expected_hooks(notes[p][0][0])) for p in pids)


@pytest.mark.parametrize("kind", KINDS)
def test_postfork_in_every_worker_respawned_and_reloaded(pair, kind, tmp_path):
    log = tmp_path / "postfork.log"
    # a short mercy: uWSGI 2.0.28 (Debian 13) waits that long for a worker
    # whose @thread thread still runs before it reloads it
    srv = pair(kind, "--wsgi-file", POSTFORK, "--master", "--processes", "2", "--enable-threads",
               "--worker-reload-mercy", "4",
               env={"POSTFORK_LOG": str(log)})
    wait_until(lambda: len(workers_of(srv)) == 2, what="two workers")
    first = workers_of(srv)
    wait_until(lambda: hooks_ran_in(read_notes(log), first), what="the hooks in both workers")
    notes = read_notes(log)
    assert sorted(notes[p][0][0] for p in first) == [1, 2]
    for p in first:
        # the thread's note may come before or after the next hook's
        assert sorted(notes[p]) == sorted(expected_hooks(notes[p][0][0])), notes
    assert "a postfork hook that fails" in srv.log
    # the worker serves after its hook raised, and @thread's thread runs
    # beside it while it waits for requests
    wait_until(lambda: get_json(srv.url)["ticks"] > 3, what="the @thread thread running")
    assert get_json(srv.url)["is_a_reload"] is False

    # a worker that dies is respawned, and its hooks run again
    victim = first[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(set(workers_of(srv)) - set(first)) == 1 and len(workers_of(srv)) == 2,
               what="the killed worker respawned")
    new = (set(workers_of(srv)) - set(first)).pop()
    wait_until(lambda: hooks_ran_in(read_notes(log), [new]), what="the hooks in the respawned worker")
    assert read_notes(log)[new][0][0] == notes[victim][0][0]

    # a reload starts both workers again: hooks again, and is_a_reload
    before = set(workers_of(srv))
    srv.send_signal(signal.SIGHUP)
    wait_until(lambda: len(set(workers_of(srv)) - before) == 2 and len(workers_of(srv)) == 2,
               timeout=20, what="two reloaded workers")
    reloaded = workers_of(srv)
    wait_until(lambda: hooks_ran_in(read_notes(log), reloaded), what="the hooks in the reloaded workers")
    assert sorted(read_notes(log)[p][0][0] for p in reloaded) == [1, 2]
    wait_until(lambda: get_json(srv.url)["pid"] in reloaded, what="a reloaded worker answering")
    assert get_json(srv.url)["is_a_reload"] is True


POST_FORK_HOOK_APP = """\
import os
import uwsgi

def hook():
    with open(os.environ["POSTFORK_LOG"], "a") as f:
        f.write("%d\\n" % os.getpid())

uwsgi.post_fork_hook = hook

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % os.getpid()]
"""


@pytest.mark.parametrize("kind", KINDS)
def test_post_fork_hook_without_a_master(pair, kind, tmp_path):
    """uwsgi.post_fork_hook set by hand runs once in a lone worker too."""
    app = tmp_path / "hook_app.py"
    app.write_text(POST_FORK_HOOK_APP)
    log = tmp_path / "hook.log"
    srv = pair(kind, "--wsgi-file", app, env={"POSTFORK_LOG": str(log)})
    with urllib.request.urlopen(srv.url, timeout=REQ_TIMEOUT) as r:
        pid = int(r.read())
    wait_until(lambda: log.exists() and log.read_text() == "%d\n" % pid, what="the hook, once")


def uwsgidecorators_path():
    """Where Debian put uwsgidecorators.py: python3-uwsgidecorators ships
    it in Debian 12, uwsgi-plugin-python3 from Debian 13 on."""
    import subprocess
    out = subprocess.run(["dpkg", "-S", "/usr/lib/python3/dist-packages/uwsgidecorators.py"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail("Debian's uwsgidecorators is not installed (make deps): " + out.stderr.strip(), pytrace=False)
    return out.stdout.split(": ", 1)[1].strip()


def test_uwsgidecorators_is_found_where_debian_installs_it(uwsgo, tmp_path):
    """No PYTHONPATH: the embedded Python finds Debian's package on its own
    path, as uWSGI's plugin does."""
    app = tmp_path / "where.py"
    app.write_text("import uwsgidecorators\n"
                   "def application(e, sr):\n"
                   "    sr('200 OK', [])\n"
                   "    return [uwsgidecorators.__file__.encode()]\n")
    srv = uwsgo(app, "--master", env={"PYTHONPATH": ""})
    with urllib.request.urlopen(srv.url, timeout=REQ_TIMEOUT) as r:
        assert r.read().decode() == uwsgidecorators_path()


def test_uwsgidecorators_wants_a_master(uwsgo_run, tmp_path):
    """Without --master the module refuses to load, with its own message,
    as under uWSGI (uwsgi.masterpid() is 0)."""
    app = tmp_path / "nomaster.py"
    app.write_text("import uwsgidecorators\napplication = None\n")
    r = uwsgo_run("--wsgi-file", app)
    assert r.returncode != 0
    assert "you have to enable the uWSGI master process to use this module" in r.stderr + r.stdout


# ---------------------------------------------------------------- attributes


@pytest.mark.parametrize("kind", KINDS)
def test_attributes(pair, kind, tmp_path):
    ini = tmp_path / "attrs.ini"
    ini.write_text("[uwsgi]\nwsgi-file = %s\nmaster = true\nprocesses = 2\nbuffer-size = 8192\n" % ATTRS)
    srv = pair(kind, "--ini", ini)
    a = get_json(srv.url)
    assert a["types"] == {
        "version": "bytes", "version_info": "tuple", "hostname": "bytes", "numproc": "int",
        "cores": "int", "buffer_size": "int", "started_on": "int", "is_a_reload": "bool",
        "sockets": "list", "magic_table": "dict"}, a["types"]
    # uwsgo is uWSGI 2.0.21's module; Debian's uwsgi says its own version
    # (2.0.21 in Debian 12, 2.0.28 in Debian 13)
    want = "2.0.21" if kind == "uwsgo" else uwsgi_release()
    major, minor, rev, sub, custom = a["version_info"]
    assert "%d.%d.%d" % (major, minor, rev) == want and sub == 0, a["version_info"]
    assert a["version"] == want + "-" + custom  # Debian's says -debian, uwsgo's -uwsgo
    assert custom == ("uwsgo" if kind == "uwsgo" else "debian")
    assert a["hostname"] == socket.gethostname()
    assert (a["numproc"], a["cores"], a["buffer_size"], a["is_a_reload"]) == (2, 1, 8192, False)
    # the master's start, the same in every worker
    with open("/proc/%d/stat" % srv.pid) as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as f:
        btime = int([ln for ln in f if ln.startswith("btime")][0].split()[1])
    assert abs(a["started_on"] - (btime + ticks / os.sysconf("SC_CLK_TCK"))) <= 2
    # one listening socket, on the port the client used
    assert len(a["sockets"]) == 1 and a["listening"] == [[1, ["127.0.0.1", srv.port]]]
    m = a["magic_table"]
    for k, v in {"d": str(tmp_path) + "/", "n": "attrs", "e": "ini", "s": "attrs.ini",
                 "p": str(ini), "o": str(ini), "h": socket.gethostname(), "%": "%",
                 "i": str(os.stat(ini).st_ino), "k": str(os.cpu_count())}.items():
        assert m.get(k) == v, (k, m)
    for k in "tTuUgGVvjNSEP":
        assert m.get(k), (k, m)
    assert m["V"].startswith(want)


def uwsgi_release():
    import subprocess
    out = subprocess.run(["/usr/bin/uwsgi", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().split("-")[0]


ENGINES = {
    "sync": [],
    "async": ["--async", "4"],
    "ugreen": ["--async", "4", "--ugreen"],
    "greenlet": ["--async", "4", "--greenlet"],
    "gevent": ["--gevent", "4"],
    "threads": ["--threads", "4"],
}


@pytest.mark.parametrize("engine", ENGINES)
def test_postfork_and_thread_under_every_engine(uwsgo, engine, tmp_path):
    """The hook runs where each engine runs Python (the loop stack under
    greenlet and gevent, a GIL turn under --threads), and @thread's thread
    gets the GIL while the worker waits."""
    log = tmp_path / "postfork.log"
    srv = uwsgo(POSTFORK, "--master", "--enable-threads", *ENGINES[engine], env={"POSTFORK_LOG": str(log)})
    a = get_json(srv.url)
    wait_until(lambda: hooks_ran_in(read_notes(log), [a["pid"]]), what="the hooks")
    assert sorted(read_notes(log)[a["pid"]]) == sorted(expected_hooks(1))
    wait_until(lambda: get_json(srv.url)["ticks"] > 3, what="the @thread thread running")
