"""The uwsgi module's process API (pyhost/api_process.c, pyapi/10_process.py):
Debian's python3-uwsgidecorators unmodified, post-fork hooks in every
worker (respawned and reloaded ones too), the module's attributes, process
control and request I/O. Wherever Debian's uWSGI 2.0.21 can run the same
app, it runs there too and the two are compared."""
import json
import os
import signal
import socket
import time
import urllib.request

import pytest

from dropin_ref import KINDS, children, pair, pid_alive, wait_until  # noqa: F401
from helpers import APPS, REQ_TIMEOUT, read_stats

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


# ---------------------------------------------------------------- process control

CONTROL = APPS / "api_process_control.py"


def get_raw(url, timeout=REQ_TIMEOUT):
    """(status, body), or (None, error) when the connection was cut."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return None, str(e).encode()


@pytest.mark.parametrize("kind", KINDS)
def test_request_id_and_total_requests(pair, kind):
    srv = pair(kind, "--wsgi-file", CONTROL, "--master")
    first = get_json(srv.url + "/ids")
    got = [get_json(srv.url + "/ids") for _ in range(3)]
    # a core counts the requests it finished before this one
    assert [g["request_id"] - first["request_id"] for g in got] == [1, 2, 3]
    assert [g["total_requests"] - first["total_requests"] for g in got] == [1, 2, 3]


@pytest.mark.parametrize("kind", KINDS)
def test_total_requests_counts_every_worker(pair, kind):
    srv = pair(kind, "--wsgi-file", CONTROL, "--master", "--processes", "2")
    before = get_json(srv.url + "/ids")["total_requests"]
    for _ in range(12):
        get_json(srv.url + "/ids")
    if kind == "uwsgi":
        # uWSGI's master re-adds its workers' counts about once a second,
        # and every read is a request of its own: let it catch up quietly
        time.sleep(2.5)
        assert get_json(srv.url + "/ids")["total_requests"] - before in (12, 13)
    else:
        # uwsgo's is exact at once, the current request included
        assert get_json(srv.url + "/ids")["total_requests"] - before == 13


WORKER_KEYS = {"id", "pid", "requests", "delta_requests", "signals", "exceptions", "status", "rss", "vsz",
               "running_time", "last_spawn", "respawn_count", "tx", "avg_rt", "apps"}
APP_KEYS = {"id", "modifier1", "mountpoint", "startup_time", "interpreter", "callable", "requests",
            "exceptions", "chdir"}


@pytest.mark.parametrize("kind", KINDS)
def test_workers_has_the_stats_servers_numbers(pair, kind):
    from helpers import free_port
    sport = free_port()
    srv = pair(kind, "--wsgi-file", CONTROL, "--master", "--processes", "2", "--stats", "127.0.0.1:%d" % sport)
    wait_until(lambda: len(workers_of(srv)) == 2, what="two workers")
    for _ in range(6):
        get_json(srv.url + "/ids")
    ws = get_json(srv.url + "/workers")
    assert [w["id"] for w in ws] == [1, 2]
    for w in ws:
        assert set(w) == WORKER_KEYS, w
        assert [set(a) for a in w["apps"]] == [APP_KEYS] * len(w["apps"])
    assert sorted(w["pid"] for w in ws) == workers_of(srv)
    assert sorted(w["status"] for w in ws) == ["busy", "idle"]  # the one answering is busy
    assert all(w["respawn_count"] == 0 for w in ws)
    st = {w["id"]: w for w in read_stats(sport)["workers"]}
    for w in ws:
        s = st[w["id"]]
        assert (w["pid"], w["last_spawn"]) == (s["pid"], s["last_spawn"]), (w, s)
        # the worker that answered /workers finished one more request since
        assert s["requests"] - w["requests"] in (0, 1), (w, s)
        assert w["requests"] > 0 or s["requests"] == 0
    assert sum(w["requests"] for w in ws) >= 7
    # a respawned worker counts its respawn
    victim = ws[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(workers_of(srv)) == 2 and victim not in workers_of(srv), what="the respawn")

    def respawned():
        ws = get_json(srv.url + "/workers")
        return sorted(w["respawn_count"] for w in ws) == [0, 1] and victim not in [w["pid"] for w in ws]
    wait_until(respawned, what="respawn_count 1")


@pytest.mark.parametrize("kind", KINDS)
def test_accepting_shows_in_the_stats(pair, kind):
    from helpers import free_port
    sport = free_port()
    srv = pair(kind, "--wsgi-file", CONTROL, "--master", "--stats", "127.0.0.1:%d" % sport)
    assert read_stats(sport)["workers"][0]["accepting"] == 1
    assert get_json(srv.url + "/accepting?0") is True
    wait_until(lambda: read_stats(sport)["workers"][0]["accepting"] == 0, what="accepting 0")
    get_json(srv.url + "/accepting?1")
    wait_until(lambda: read_stats(sport)["workers"][0]["accepting"] == 1, what="accepting 1")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ["user_harakiri?2", "harakiri_slow"])
def test_user_harakiri_kills_the_worker(pair, kind, how):
    """set_user_harakiri(2) (and uwsgidecorators' @harakiri(2)) over a
    request that would sleep on: the master kills the worker in about
    2 s, and respawns it."""
    import time
    srv = pair(kind, "--wsgi-file", CONTROL, "--master")
    pid = get_json(srv.url + "/ids")["pid"]
    start = time.monotonic()
    status, body = get_raw(srv.url + "/" + how, timeout=30)
    took = time.monotonic() - start
    assert status in (None, 502) or b"survived" not in body, (status, body)
    assert 1.5 <= took < 8, took
    wait_until(lambda: get_json(srv.url + "/ids")["pid"] != pid, what="a new worker")
    assert "HARAKIRI" in srv.log


@pytest.mark.parametrize("kind", KINDS)
def test_harakiri_decorator_lets_a_quick_call_be(pair, kind):
    import time
    srv = pair(kind, "--wsgi-file", CONTROL, "--master")
    pid = get_json(srv.url + "/ids")["pid"]
    assert get_json(srv.url + "/harakiri_ok") == "done"
    time.sleep(3.5)  # past the 2 s the call had: the timer was cleared
    assert get_json(srv.url + "/ids")["pid"] == pid
    assert "HARAKIRI" not in srv.log


@pytest.mark.parametrize("kind", KINDS)
def test_user_harakiri_needs_a_master(pair, kind):
    import time
    srv = pair(kind, "--wsgi-file", CONTROL)
    pid = get_json(srv.url + "/ids")["pid"]
    srv.wait_log("/ids")
    threading_get = __import__("threading").Thread(target=get_raw, args=(srv.url + "/user_harakiri?1", 30),
                                                   daemon=True)
    threading_get.start()
    wait_until(lambda: "unable to set user harakiri without the master process" in srv.log,
               what="the message")
    time.sleep(2.5)
    assert srv.proc.poll() is None and pid_alive(pid)


def comm_of(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


@pytest.mark.parametrize("kind", KINDS)
def test_setprocname(pair, kind):
    from dropin_ref import cmdline_name
    srv = pair(kind, "--wsgi-file", CONTROL, "--master")
    pid = get_json(srv.url + "/ids")["pid"]
    assert get_json(srv.url + "/procname?my-worker-name") == "my-worker-name"
    assert cmdline_name(pid) == "my-worker-name"
    # uwsgo names the command too, as its process names do (uWSGI 2.0.21
    # does not)
    if kind == "uwsgo":
        assert comm_of(pid) == "my-worker-name"


@pytest.mark.parametrize("kind", KINDS)
def test_mem_micros_and_listen_queue(pair, kind):
    import time
    srv = pair(kind, "--wsgi-file", CONTROL, "--master")
    pid = get_json(srv.url + "/ids")["pid"]
    rss, vsz = get_json(srv.url + "/mem")
    with open("/proc/%d/statm" % pid) as f:
        pvsz, prss = [int(x) * os.sysconf("SC_PAGE_SIZE") for x in f.read().split()[:2]]
    assert abs(rss - prss) < prss * 0.2 and abs(vsz - pvsz) < pvsz * 0.2, (rss, prss, vsz, pvsz)
    assert abs(get_json(srv.url + "/micros") - time.time() * 1e6) < 2e6
    assert get_json(srv.url + "/listen_queue?0") == 0
    assert get_json(srv.url + "/listen_queue?5") == "ValueError: unable to find socket 5"


@pytest.mark.parametrize("kind", KINDS)
def test_reload_and_stop(pair, kind):
    # uWSGI 2.0.21 may keep a worker to the end of its reload mercy
    srv = pair(kind, "--wsgi-file", CONTROL, "--master", "--processes", "2", "--worker-reload-mercy", "3",
               "--reload-mercy", "3")
    wait_until(lambda: len(workers_of(srv)) == 2, what="two workers")
    before = set(workers_of(srv))
    assert get_json(srv.url + "/reload") is True
    wait_until(lambda: len(workers_of(srv)) == 2 and not set(workers_of(srv)) & before, timeout=20,
               what="both workers reloaded")
    wait_until(lambda: get_raw(srv.url + "/ids")[0] == 200, what="serving after the reload")
    assert get_raw(srv.url + "/stop")[0] in (200, None)
    srv.proc.wait(timeout=20)


# ---------------------------------------------------------------- logvars

LOGVARS = APPS / "api_process_logvars.py"


@pytest.mark.parametrize("kind", KINDS)
def test_logvars_in_the_log_format(pair, kind):
    srv = pair(kind, "--wsgi-file", LOGVARS, "--log-format",
               "LOGVAR %(method) %(uri) who=%(who) path=%(path) missing=%(nothing)")
    status, body = get_raw(srv.url + "/hello")
    assert (status, body) == (200, b"b'alice' None")
    srv.wait_log("LOGVAR GET /hello who=alice path=/hello missing=-")


@pytest.mark.parametrize("kind", KINDS)
def test_log_this_request_logs_under_disable_logging(pair, kind):
    srv = pair(kind, "--wsgi-file", LOGVARS, "--disable-logging")
    assert get_raw(srv.url + "/quiet")[0] == 200
    assert get_raw(srv.url + "/loud")[0] == 200
    srv.wait_log("GET /loud")
    assert "GET /quiet" not in srv.log


@pytest.mark.parametrize("engine", ENGINES)
def test_logvars_under_every_engine(uwsgo, engine):
    srv = uwsgo(LOGVARS, "--log-format", "LOGVAR %(uri) who=%(who) path=%(path)", *ENGINES[engine])
    for p in ("/a", "/b", "/c"):
        assert get_raw(srv.url + p) == (200, b"b'alice' None")
    for p in ("/a", "/b", "/c"):
        srv.wait_log("LOGVAR %s who=alice path=%s" % (p, p))


@pytest.mark.parametrize("engine", ENGINES)
def test_request_id_under_every_engine(uwsgo, engine):
    """The running core's count, wherever the engine runs the request
    (a green core, a gevent greenlet, a request thread)."""
    srv = uwsgo(CONTROL, "--master", *ENGINES[engine])
    first = get_json(srv.url + "/ids")
    ids = [get_json(srv.url + "/ids") for _ in range(4)]
    assert ids[-1]["total_requests"] - first["total_requests"] == 4
    assert all(i["request_id"] >= 0 for i in ids)
    if engine == "threads":
        return  # any of the 4 threads may take the next request
    # one request at a time: the same core (the first free) serves each
    assert [i["request_id"] - first["request_id"] for i in ids] == [1, 2, 3, 4]


# ---------------------------------------------------------------- request I/O

IO = APPS / "api_process_io.py"


def chunked_post(port, path, parts):
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    req = (b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           % path.encode()) + body
    from helpers import dechunk, raw_http, split_response
    line, headers, body = split_response(raw_http(port, req))
    if "chunked" in headers.get("transfer-encoding", ""):
        body = dechunk(body)
    return int(line.split()[1]), headers, body


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("nb", [False, True])
def test_chunked_read(pair, kind, nb):
    srv = pair(kind, "--wsgi-file", IO)
    parts = [b"hello ", b"chunked ", b"x" * 100000, b" world"]
    status, headers, body = chunked_post(srv.port, "/echo" + ("?nb" if nb else ""), parts)
    assert status == 200 and body == b"".join(parts), (status, body[:200])


@pytest.mark.parametrize("kind", KINDS)
def test_sendfile(pair, kind, tmp_path):
    f = tmp_path / "data.txt"
    f.write_bytes(b"0123456789" * 10000)
    srv = pair(kind, "--wsgi-file", IO, env={"SENDFILE": str(f)})
    assert get_raw(srv.url + "/file") == (200, b"<" + f.read_bytes() + b">True")
    # bytes 3 to 9 of an open file; uWSGI 2.0.21 then drops the body the
    # app returns after it (uwsgo sends it, as after a path)
    status, body = get_raw(srv.url + "/file?part")
    assert status == 200 and body == (b"<345678>True" if kind == "uwsgo" else b"<345678")


@pytest.mark.parametrize("engine", ENGINES)
def test_request_io_under_every_engine(uwsgo, engine, tmp_path):
    f = tmp_path / "data.txt"
    f.write_bytes(b"abcdef" * 30000)
    srv = uwsgo(IO, *ENGINES[engine], env={"SENDFILE": str(f)})
    assert get_raw(srv.url + "/file") == (200, b"<" + f.read_bytes() + b">True")
    status, _, body = chunked_post(srv.port, "/echo", [b"a" * 70000, b"b"])
    assert (status, body) == (200, b"a" * 70000 + b"b")


# --------------------------------------------- set_user_harakiri per core

CORES_HARAKIRI = str(APPS / "api_user_harakiri_cores.py")


def cores_args(kind, engine):
    if engine == "gevent":
        return (["--plugin", "gevent_python3"] if kind == "uwsgi" else []) + ["--gevent", "4"]
    return ["--threads", "4"]


@pytest.mark.parametrize("kind,engine", [("uwsgo", "gevent"), ("uwsgo", "threads"), ("uwsgi", "gevent")])
def test_user_harakiri_times_the_core_that_set_it(pair, kind, engine):
    """A request sets set_user_harakiri(2) and sleeps on while other
    requests come and go on the worker's other cores: they do not clear
    its deadline, and the master kills the worker (uWSGI 2.1's rule: each
    core has its own). uWSGI 2.0.21 keeps one deadline per worker, which
    any request's end clears: there the slow request survives."""
    import threading
    import time
    srv = pair(kind, "--wsgi-file", CORES_HARAKIRI, "--master", *cores_args(kind, engine),
               env={"ENGINE": engine})
    pid = get_json(srv.url + "/ids")
    result = {}
    slow = threading.Thread(target=lambda: result.update(r=get_raw(srv.url + "/slow?2", timeout=30)), daemon=True)
    slow.start()
    # other requests meanwhile, ending one after another on other cores
    while slow.is_alive():
        try:
            get_json(srv.url + "/ids")
        except OSError:
            pass  # the worker is being killed and respawned
        time.sleep(0.2)
    status, body = result["r"]
    if kind == "uwsgi":
        assert (status, body) == (200, b'"survived"')
        assert "HARAKIRI" not in srv.log
        return
    assert status in (None, 502) and b"survived" not in body, (status, body)
    wait_until(lambda: get_json(srv.url + "/ids") != pid, what="a new worker")
    assert "HARAKIRI (user) triggered by worker 1 core " in srv.log
    assert "HARAKIRI ON WORKER 1 (pid: %d, user harakiri)" % pid in srv.log


@pytest.mark.parametrize("kind,engine", [("uwsgo", "gevent"), ("uwsgo", "threads"), ("uwsgi", "gevent")])
def test_another_cores_user_harakiri_ends_with_its_request(pair, kind, engine):
    """A request that sets set_user_harakiri(1) and ends clears its own
    deadline: the request napping on another core meanwhile (3 s, with no
    harakiri of its own) is not killed."""
    import threading
    srv = pair(kind, "--wsgi-file", CORES_HARAKIRI, "--master", *cores_args(kind, engine),
               env={"ENGINE": engine})
    pid = get_json(srv.url + "/ids")
    result = {}
    nap = threading.Thread(target=lambda: result.update(r=get_raw(srv.url + "/nap?3", timeout=30)), daemon=True)
    nap.start()
    assert get_json(srv.url + "/quick?1") == "quick"
    nap.join(30)
    assert result["r"] == (200, b'"rested"')
    assert get_json(srv.url + "/ids") == pid
    assert "HARAKIRI" not in srv.log


# ------------------------------------------------------------ disconnect()

DISCONNECT = str(APPS / "api_disconnect.py")


def read_to_close(port, path):
    from helpers import recv_until_closed
    with socket.create_connection(("127.0.0.1", port), timeout=REQ_TIMEOUT) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        return recv_until_closed(s)


@pytest.mark.parametrize("kind,engine", [("uwsgo", None), ("uwsgo", "gevent"), ("uwsgo", "threads"),
                                         ("uwsgo", "ugreen"), ("uwsgi", None), ("uwsgi", "gevent")])
def test_disconnect_ends_the_response_and_the_code_goes_on(pair, kind, engine, tmp_path):
    """uwsgi.disconnect(): the client gets what was sent and the
    connection closes while the app still runs (it waits for a file the
    test writes only after it saw the close), then the app goes on; what
    it sends after goes nowhere: its next output ends the iteration, as
    uWSGI's failed write does. The worker serves on."""
    args = {None: [], "threads": ["--threads", "2"], "ugreen": ["--async", "4", "--ugreen"],
            "gevent": cores_args(kind, "gevent")}[engine]
    srv = pair(kind, "--wsgi-file", DISCONNECT, "--master", *args, env={"DISC_DIR": str(tmp_path), "ENGINE": engine or ""})
    data, closed = read_to_close(srv.port, "/part")
    assert closed, data
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"part one\n" in data and b"never seen" not in data, data
    assert not (tmp_path / "log").exists() or "after" not in (tmp_path / "log").read_text()
    (tmp_path / "go").write_text("")
    wait_until(lambda: (tmp_path / "log").exists() and "closed" in (tmp_path / "log").read_text(), what="the app to go on")
    assert (tmp_path / "log").read_text().split() == ["disconnected", "after", "closed"]
    (tmp_path / "go").unlink()
    # before start_response: the connection closes with no answer
    data, closed = read_to_close(srv.port, "/none")
    assert closed and data == b"", data
    (tmp_path / "go").write_text("")
    wait_until(lambda: "after none" in (tmp_path / "log").read_text(), what="the app to go on")
    assert urllib.request.urlopen(srv.url + "/", timeout=REQ_TIMEOUT).read() == b"ok"
