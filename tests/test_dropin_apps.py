"""uWSGI options real configurations use for their apps, checked through the
real binary and, wherever the effect can be observed, side by side with
Debian's uWSGI 2.0.21 (/usr/bin/uwsgi --plugin python3): virtualenvs
(--home), reloads (--py-autoreload, --touch-reload), --need-app, --mount
with --manage-script-name, --add-header, --buffer-size, static file
options, the stats server and --memory-report.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import START_TIMEOUT, STOP_TIMEOUT, child_env, group_members, kill_group, tail
from helpers import REQ_TIMEOUT, free_port, port_accepts, raw_http, read_stats, split_response, until

UWSGI = "/usr/bin/uwsgi"
PY = "/usr/bin/python3"


# ---------------------------------------------------------------- helpers

def get(url, headers=None, timeout=REQ_TIMEOUT):
    """(status, headers dict with lower-case names, body bytes); errors too."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def get_json(url):
    status, _, body = get(url)
    assert status == 200, (status, body)
    return json.loads(body)


class Uwsgi:
    """Debian's uWSGI 2.0.21 with the python3 plugin, on an HTTP socket."""

    def __init__(self, args, tmp, cwd):
        if not os.path.exists(UWSGI):
            pytest.fail("%s is missing: install uwsgi-core and uwsgi-plugin-python3 (make deps)"
                        % UWSGI, pytrace=False)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.logpath = tmp / ("uwsgi-%d.log" % self.port)
        argv = [UWSGI, "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % self.port]
        argv += [str(a) for a in args]
        self.argv = argv
        self._logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(argv, cwd=str(cwd), env=child_env(),
                                     stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not port_accepts(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("uwsgi did not start: %s\n%s" % (" ".join(argv), tail(self.log)),
                            pytrace=False)
            time.sleep(0.05)

    @property
    def log(self):
        return self.logpath.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self.proc.pid)
        self.proc.wait(timeout=5)
        self._logf.close()


@pytest.fixture
def uwsgi(tmp_path):
    """Factory: uwsgi(*args, cwd=tmp_path) -> Uwsgi (Debian's uWSGI on HTTP)."""
    started = []

    def start(*args, cwd=None):
        u = Uwsgi(args, tmp_path, cwd or tmp_path)
        started.append(u)
        return u

    yield start
    for u in started:
        u.stop()


def write(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


ENV_APP = '''\
import json
NAME = %r
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"app": NAME, "SCRIPT_NAME": environ.get("SCRIPT_NAME") or "",
                        "PATH_INFO": environ.get("PATH_INFO")}).encode()]
'''


# ---------------------------------------------------------------- --home

VENV_APP = '''\
import json, sys
def application(environ, start_response):
    import venv_only_module
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix,
                        "mark": venv_only_module.MARK,
                        "venv_site": [p for p in sys.path if p.startswith(sys.prefix)]}).encode()]
'''


@pytest.fixture
def venv(tmp_path):
    """A venv made by Debian's python3 -m venv --system-site-packages, with
    a module only its site-packages holds."""
    d = tmp_path / "venv"
    r = subprocess.run([PY, "-m", "venv", "--system-site-packages", "--without-pip", str(d)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "python3 -m venv failed (python3-venv missing?): " + r.stderr
    site = d / "lib" / ("python%d.%d" % tuple(map(int, subprocess.check_output(
        [PY, "-c", "import sys; print(*sys.version_info[:2])"], text=True).split()))) / "site-packages"
    write(site / "venv_only_module.py", "MARK = 'from the venv'\n")
    return d


@pytest.mark.parametrize("spelling", ["--home", "--virtualenv", "--venv", "-H"])
def test_home_runs_the_app_in_the_venv(uwsgo, uwsgi, tmp_path, venv, spelling):
    app = write(tmp_path / "venvapp.py", VENV_APP)
    srv = uwsgo("--wsgi-file", app, spelling, venv)
    got = get_json(srv.url + "/")
    assert got["prefix"] == str(venv)
    assert got["base_prefix"] == "/usr"
    assert got["mark"] == "from the venv"
    assert any(p.endswith("site-packages") for p in got["venv_site"]), got
    assert "PEP 405 virtualenv detected: %s" % venv in srv.log
    if spelling == "--home":
        theirs = get_json(uwsgi("--wsgi-file", app, "--home", venv).url + "/")
        assert got == theirs


def test_home_without_venv_cannot_import(uwsgo, tmp_path, venv):
    # the module really is only in the venv: without --home the app fails
    app = write(tmp_path / "venvapp.py", VENV_APP)
    srv = uwsgo("--wsgi-file", app)
    status, _, _ = get(srv.url + "/")
    assert status == 500
    assert "No module named 'venv_only_module'" in srv.log


def test_home_that_is_not_there(uwsgo_run, tmp_path):
    r = uwsgo_run("--wsgi-file", write(tmp_path / "a.py", ENV_APP % "a"), "--home", tmp_path / "nope")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert lines[-1] == "uwsgo: --home %s: No such file or directory" % (tmp_path / "nope"), r.stderr


# ---------------------------------------------------------------- --need-app

@pytest.mark.parametrize("master", [[], ["--master"], ["--master", "--processes", "2", "--lazy-apps"]])
def test_need_app_exits_when_the_app_cannot_load(uwsgo_run, tmp_path, master):
    bad = write(tmp_path / "bad.py", "raise ImportError('boom')\n")
    r = uwsgo_run("--wsgi-file", bad, "--need-app", *master, timeout=15)
    assert r.returncode == 22, r.stderr
    assert "ImportError: boom" in r.stderr
    if master:
        assert "need-app requested, destroying the instance" in r.stderr
    # Debian's uWSGI exits with the same status
    theirs = subprocess.run([UWSGI, "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % free_port(),
                             "--wsgi-file", str(bad), "--need-app", *master],
                            capture_output=True, text=True, timeout=30, cwd=str(tmp_path))
    if "--lazy-apps" in master:
        # with lazy apps each of uWSGI's workers fails on its own and its
        # master's status depends on which death it reaps first: 22 or 0
        assert theirs.returncode in (0, 22), theirs.stderr
        assert "no app loaded. GAME OVER" in theirs.stderr
    else:
        assert theirs.returncode == 22, theirs.stderr


def test_without_need_app_the_master_keeps_retrying(uwsgo, tmp_path):
    bad = write(tmp_path / "bad.py", "raise ImportError('boom')\n")
    srv = uwsgo("--wsgi-file", bad, "--master", wait=False)
    srv.wait_log("backing off", timeout=10)
    assert srv.proc.poll() is None


# ---------------------------------------------------------------- --mount

MOUNT_PATHS = ["/", "/a", "/a/", "/a/x/y", "/ab", "/b/x", "/b/", "/c/d", "/deep/er/z", "/deep/x"]


@pytest.mark.parametrize("args", [
    ["--mount", "/a=a.py", "--mount", "/b/=b.py", "--mount", "/deep/er=deep.py", "--manage-script-name"],
    ["--wsgi-file", "root.py", "--mount", "/a=a.py", "--manage-script-name"],
    ["--mount", "/a=a.py", "--mount", "/b=b.py"],   # no split: the first app gets everything
], ids=["split", "main-and-mount", "no-manage"])
def test_mount_split_as_uwsgi(uwsgo, uwsgi, tmp_path, args):
    for name in ("a", "b", "deep", "root"):
        write(tmp_path / (name + ".py"), ENV_APP % name)
    srv = uwsgo(*args, cwd=tmp_path)
    ref = uwsgi(*args, cwd=tmp_path)
    for path in MOUNT_PATHS:
        ours = get_json(srv.url + path)
        if args[1] == "/b/=b.py" and path == "/b/":
            # uWSGI 2.0.21 reads PATH_INFO from before its buffer here
            # (length -1); uwsgo gives the empty rest
            assert ours == {"app": "b", "SCRIPT_NAME": "/b/", "PATH_INFO": ""}
            continue
        assert ours == get_json(ref.url + path), path
    assert "WSGI app 1 (mountpoint='/" in srv.log


def test_mount_several_apps_in_one_worker(uwsgo, tmp_path):
    write(tmp_path / "a.py", ENV_APP % "a")
    write(tmp_path / "m.py", ENV_APP.replace("def application", "def app2") % "module")
    srv = uwsgo("--mount", "/a=a.py", "--mount", "/m=m:app2", "--manage-script-name",
                "--pythonpath", tmp_path, cwd=tmp_path)
    assert get_json(srv.url + "/m/q") == {"app": "module", "SCRIPT_NAME": "/m", "PATH_INFO": "/q"}
    assert get_json(srv.url + "/a/q") == {"app": "a", "SCRIPT_NAME": "/a", "PATH_INFO": "/q"}


def test_mount_split_over_uwsgi_protocol_behind_nginx(uwsgo, nginx, tmp_path):
    write(tmp_path / "a.py", ENV_APP % "a")
    write(tmp_path / "root.py", ENV_APP % "root")
    srv = uwsgo("--wsgi-file", "root.py", "--mount", "/a=a.py", "--manage-script-name",
                proto="uwsgi", cwd=tmp_path)
    ng = nginx(srv.port)
    assert get_json(ng.url + "/a/x") == {"app": "a", "SCRIPT_NAME": "/a", "PATH_INFO": "/x"}
    assert get_json(ng.url + "/x") == {"app": "root", "SCRIPT_NAME": "", "PATH_INFO": "/x"}


@pytest.mark.parametrize("master", [[], ["--master"]])
def test_mount_whose_file_cannot_load(uwsgo_run, tmp_path, master):
    write(tmp_path / "a.py", ENV_APP % "a")
    r = uwsgo_run("--mount", "/a=a.py", "--mount", "/b=missing.py", *master, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "uwsgo: --mount /b=missing.py: unable to load app: no such file or directory"], r.stderr


def test_mount_whose_file_raises(uwsgo_run, tmp_path):
    write(tmp_path / "a.py", ENV_APP % "a")
    write(tmp_path / "bad.py", "import no_such_module_here\n")
    r = uwsgo_run("--mount", "/a=a.py", "--mount", "/b=bad.py", cwd=tmp_path)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("uwsgo: --mount /b=bad.py: unable to load app from 'bad.py'"), r.stderr
    assert "no_such_module_here" in last


@pytest.mark.parametrize("value", ["a.py", "/a=", "/a=notafile"])
def test_mount_bad_value(uwsgo_run, value):
    r = uwsgo_run("--mount", value)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('uwsgo: --mount "%s"' % value), r.stderr


# ---------------------------------------------------------------- --add-header, --buffer-size

def test_add_header_on_every_response(uwsgo, uwsgi, tmp_path):
    app = write(tmp_path / "a.py", ENV_APP % "a")
    static = tmp_path / "static"
    write(static / "f.txt", "file\n")
    args = ["--wsgi-file", app, "--add-header", "X-Frame-Options: DENY",
            "--add-header", "X-Served-By:   uwsgo or uwsgi"]
    srv = uwsgo(*args, "--static-map", "/s=%s" % static)
    ref = uwsgi(*args)
    for url in (srv.url + "/", srv.url + "/s/f.txt", ref.url + "/"):
        status, headers, _ = get(url)
        assert status == 200
        assert headers["x-frame-options"] == "DENY", url
        assert headers["x-served-by"] == "uwsgo or uwsgi", url


def test_add_header_bad_value(uwsgo_run):
    r = uwsgo_run("--module", "x", "--add-header", "NoColonHere")
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        'uwsgo: --add-header "NoColonHere": expected "Name: value"'], r.stderr


def big_header_status(port, size):
    """The status a request with a size-byte header gets, or None if the
    connection was cut."""
    req = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * size + b"\r\nConnection: close\r\n\r\n"
    try:
        raw = raw_http(port, req)
    except ConnectionResetError:
        return None
    if not raw:
        return None
    return int(raw.split(b" ", 2)[1])


@pytest.mark.parametrize("spelling", ["--buffer-size", "-b"])
def test_buffer_size_raises_the_header_limit(uwsgo, uwsgi, tmp_path, spelling):
    app = write(tmp_path / "a.py", ENV_APP % "a")
    default = uwsgo("--wsgi-file", app)
    assert big_header_status(default.port, 20000) in (None, 431)
    big = uwsgo("--wsgi-file", app, spelling, 32768)
    assert big_header_status(big.port, 20000) == 200
    assert big_header_status(big.port, 40000) in (None, 431)
    # the same with Debian's uWSGI
    assert big_header_status(uwsgi("--wsgi-file", app).port, 20000) is None
    assert big_header_status(uwsgi("--wsgi-file", app, spelling, 32768).port, 20000) == 200


# ---------------------------------------------------------------- --stats

STATS_APP = '''\
import time
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise RuntimeError("counted as an exception")
    if path == "/slow":
        time.sleep(1.5)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\\n"]
'''


def key_sets(doc):
    w = doc["workers"][0]
    return {
        "top": set(doc),
        "socket": set(doc["sockets"][0]),
        "worker": set(w),
        "app": set(w["apps"][0]),
        "core": set(w["cores"][0]),
    }


UWSGITOP_KEYS = {"id", "pid", "requests", "exceptions", "status", "rss", "vsz",
                 "running_time", "avg_rt", "cores", "tx", "last_spawn", "respawn_count",
                 "harakiri_count", "delta_requests", "signals"}


@pytest.mark.parametrize("http", [False, True], ids=["plain", "stats-http"])
def test_stats_keys_as_uwsgi(uwsgo, uwsgi, tmp_path, http):
    app = write(tmp_path / "s.py", STATS_APP)
    sp, up = free_port(), free_port()
    extra = ["--stats-http"] if http else []
    srv = uwsgo("--wsgi-file", app, "--master", "--processes", 2, "--stats", "127.0.0.1:%d" % sp, *extra)
    ref = uwsgi("--wsgi-file", app, "--master", "--processes", 2, "--stats", "127.0.0.1:%d" % up, *extra)
    for url in (srv.url, ref.url):
        assert get(url + "/")[0] == 200
    ours, theirs = read_stats(sp, http), read_stats(up, http)
    assert key_sets(ours) == key_sets(theirs)
    assert UWSGITOP_KEYS <= key_sets(ours)["worker"]
    assert ours["pid"] == srv.proc.pid
    assert ours["version"]
    assert ours["sockets"][0]["name"] == "127.0.0.1:%d" % srv.port
    assert ours["sockets"][0]["proto"] == "http"


def test_stats_numbers_come_from_the_workers(uwsgo, tmp_path):
    app = write(tmp_path / "s.py", STATS_APP)
    sp = free_port()
    srv = uwsgo("--wsgi-file", app, "--processes", 2, "--async", 2, "--ugreen",
                "--stats", "127.0.0.1:%d" % sp)
    assert "master process enabled" in srv.log
    for _ in range(5):
        assert get(srv.url + "/")[0] == 200
    assert get(srv.url + "/raise")[0] == 500
    doc = until("6 requests counted", lambda: (lambda d: d if sum(
        w["requests"] for w in d["workers"]) == 6 else None)(read_stats(sp)), 5)
    workers = doc["workers"]
    assert sorted(w["id"] for w in workers) == [1, 2]
    pids = {w["pid"] for w in workers}
    assert len(pids) == 2 and all(p > 0 for p in pids)
    assert sum(w["exceptions"] for w in workers) == 1
    assert sum(w["apps"][0]["requests"] for w in workers) == 6
    for w in workers:
        assert len(w["cores"]) == 2
        assert sum(c["requests"] for c in w["cores"]) == w["requests"]
        assert w["status"] == "idle"
        assert w["rss"] > 1 << 20 and w["vsz"] >= w["rss"]
        assert w["tx"] >= 6 * w["requests"] - 6
        if w["requests"]:
            assert w["running_time"] > 0 and 0 < w["avg_rt"] <= w["running_time"]
    # a request in flight makes its worker busy
    import threading
    t = threading.Thread(target=get, args=(srv.url + "/slow",))
    t.start()
    try:
        busy = until("a busy worker", lambda: [w for w in read_stats(sp)["workers"]
                                               if w["status"] == "busy"], 5)
        assert len(busy) == 1
        assert sum(c["in_request"] for c in busy[0]["cores"]) == 1
        assert read_stats(sp)["load"] == 1
    finally:
        t.join()


def test_stats_on_a_unix_socket(uwsgo, tmp_path):
    app = write(tmp_path / "s.py", STATS_APP)
    path = tmp_path / "stats.sock"
    srv = uwsgo("--wsgi-file", app, "--stats", path)
    assert get(srv.url + "/")[0] == 200

    # counted once the response is out, which may be just after the client has it
    until("the request counted", lambda: read_stats(path)["workers"][0]["requests"] == 1, 5)
    srv.stop()
    assert not path.exists()


def test_stats_address_in_use(uwsgo_run, tmp_path):
    app = write(tmp_path / "s.py", STATS_APP)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = uwsgo_run("--wsgi-file", app, "--stats", "127.0.0.1:%d" % port)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "uwsgo: cannot bind the stats socket 127.0.0.1:%d: address already in use" % port], r.stderr


# ---------------------------------------------------------------- reloads

RELOAD_APP = '''\
import os
import helper
def application(environ, start_response):
    if environ["PATH_INFO"] == "/late":
        import late_helper
        value = late_helper.VALUE
    else:
        value = helper.VALUE
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %d" % (value, os.getpid())).encode()]
'''


def wait_for_body(url, prefix, timeout):
    """Poll url until its body starts with prefix; return (seconds, body)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=REQ_TIMEOUT) as r:
                body = r.read().decode()
        except OSError as e:
            body = "error: %s" % e
        if body.startswith(prefix):
            return time.monotonic() - t0, body
        if time.monotonic() > deadline:
            raise AssertionError("%s: body %r, not %r after %g s" % (url, body, prefix, timeout))
        time.sleep(0.02)


def reload_app(tmp_path, name):
    d = tmp_path / name
    write(d / "app.py", RELOAD_APP)
    write(d / "helper.py", "VALUE = 'one'\n")
    write(d / "late_helper.py", "VALUE = 'late-one'\n")
    return d


@pytest.mark.parametrize("spelling", ["--py-autoreload", "--python-autoreload", "--py-auto-reload"])
def test_py_autoreload_reloads_on_an_edited_module(uwsgo, uwsgi, tmp_path, spelling):
    N = 2
    d = reload_app(tmp_path, "ours")
    srv = uwsgo("--wsgi-file", "app.py", spelling, N, "--processes", 2, cwd=d)
    until("both workers loaded", lambda: srv.log.count("WSGI app 0 (mountpoint='') ready") == 2, 10)
    srv.wait_log("python auto-reloader: watching")
    before = get(srv.url + "/")[2].decode()
    assert before.startswith("one ")
    write(d / "helper.py", "VALUE = 'two'\n")
    secs, after = wait_for_body(srv.url + "/", "two ", N + 10)
    print("uwsgo %s %d: reloaded %.3f s after the edit" % (spelling, N, secs))
    assert "[uwsgi-python-reloader] module/file %s has been modified" % (d / "helper.py") in srv.log
    srv.wait_log("worker 2 (pid:", timeout=5)
    # both workers run the new code
    for _ in range(6):
        assert get(srv.url + "/")[2].decode().startswith("two ")
    # a module first imported by a request is watched from the next scan on
    assert get(srv.url + "/late")[2].decode().startswith("late-one ")
    time.sleep(N + 1)
    write(d / "late_helper.py", "VALUE = 'late-two'\n")
    wait_for_body(srv.url + "/late", "late-two ", N + 10)
    if spelling == "--py-autoreload":
        # Debian's uWSGI reloads too (it polls the modules' mtimes every N s)
        theirs = reload_app(tmp_path, "theirs")
        ref = uwsgi("--wsgi-file", "app.py", spelling, N, "--master", "--processes", 2, cwd=theirs)
        assert get(ref.url + "/")[2].decode().startswith("one ")
        # uWSGI's reloader thread records the mtimes at its first scan, N s
        # after the start: an edit before that goes unseen
        time.sleep(N + 1.5)
        write(theirs / "helper.py", "VALUE = 'two'\n")
        secs, _ = wait_for_body(ref.url + "/", "two ", N + 10)
        print("uWSGI 2.0.21 %s %d: reloaded %.3f s after the edit" % (spelling, N, secs))


def test_touch_reload(uwsgo, uwsgi, tmp_path):
    d = reload_app(tmp_path, "ours")
    trigger = d / "reload.trigger"
    trigger.write_text("")
    srv = uwsgo("--wsgi-file", "app.py", "--touch-reload", trigger, cwd=d)
    srv.wait_log("WSGI app 0 (mountpoint='') ready")
    pid = get(srv.url + "/")[2].decode().split()[1]
    write(d / "helper.py", "VALUE = 'two'\n")   # not watched: nothing happens
    time.sleep(0.5)
    assert get(srv.url + "/")[2].decode() == "one " + pid
    future = time.time() + 100
    os.utime(trigger, (future, future))          # touch
    secs, body = wait_for_body(srv.url + "/", "two ", 10)
    assert body.split()[1] != pid
    assert "*** %s has been touched... grace them all !!! ***" % trigger in srv.log
    # Debian's uWSGI reloads on the touch too
    theirs = reload_app(tmp_path, "theirs")
    ttrigger = theirs / "reload.trigger"
    ttrigger.write_text("")
    ref = uwsgi("--wsgi-file", "app.py", "--touch-reload", ttrigger, "--master", cwd=theirs)
    assert get(ref.url + "/")[2].decode().startswith("one ")
    write(theirs / "helper.py", "VALUE = 'two'\n")
    os.utime(ttrigger, (future, future))
    wait_for_body(ref.url + "/", "two ", 10)


def test_touch_reload_file_created_later(uwsgo, tmp_path):
    d = reload_app(tmp_path, "ours")
    trigger = d / "not-yet"
    srv = uwsgo("--wsgi-file", "app.py", "--touch-reload", trigger, cwd=d)
    assert get(srv.url + "/")[2].decode().startswith("one ")
    write(d / "helper.py", "VALUE = 'two'\n")
    trigger.write_text("")
    wait_for_body(srv.url + "/", "two ", 10)


# ---------------------------------------------------------------- static files

@pytest.fixture
def static_dir(tmp_path):
    import gzip
    d = tmp_path / "static"
    write(d / "a.txt", "hello static\n")
    write(d / "s.css", "body {}\n")
    write(d / "sub" / "index.html", "<p>index</p>\n")
    (d / "a.txt.gz").write_bytes(gzip.compress(b"hello static\n"))
    old = time.time() - 86400
    for p in d.rglob("*"):
        os.utime(p, (old, old))
    return d


def http_date(s):
    from email.utils import parsedate_to_datetime
    return parsedate_to_datetime(s).timestamp()


def static_args(d):
    return ["--static-map", "/s=%s" % d, "--check-static", d, "--static-index", "index.html",
            "--static-expires-type", "text/plain=3600",
            "--static-expires", "%s/.*\\.css 60" % d,
            "--static-expires-uri-mtime", "^/s/sub/ 7200",
            "--static-gzip-all"]


def test_static_options_as_uwsgi(uwsgo, uwsgi, tmp_path, static_dir):
    import gzip
    app = write(tmp_path / "root.py", ENV_APP % "root")
    args = ["--wsgi-file", app] + static_args(static_dir)
    srv, ref = uwsgo(*args), uwsgi(*args)
    mtime = os.stat(static_dir / "sub" / "index.html").st_mtime
    for base in (srv.url, ref.url):
        who = "uwsgo" if base == srv.url else "uwsgi"
        # --static-expires-type: an hour from now
        status, h, body = get(base + "/s/a.txt")
        assert status == 200 and body == b"hello static\n", who
        assert abs(http_date(h["expires"]) - (time.time() + 3600)) < 5, (who, h)
        # --static-expires (file name regexp): a minute from now
        status, h, _ = get(base + "/s/s.css")
        assert abs(http_date(h["expires"]) - (time.time() + 60)) < 5, (who, h)
        # --static-index, --static-expires-uri-mtime: two hours after the mtime
        status, h, body = get(base + "/s/sub/")
        assert status == 200 and body == b"<p>index</p>\n", who
        assert abs(http_date(h["expires"]) - (mtime + 7200)) < 2, (who, h)
        # --check-static: DIR + PATH_INFO
        status, h, body = get(base + "/a.txt")
        assert status == 200 and body == b"hello static\n", who
        # --static-gzip-all: a.txt.gz for a client that takes gzip
        status, h, body = get(base + "/s/a.txt", headers={"Accept-Encoding": "gzip"})
        assert h.get("content-encoding") == "gzip", (who, h)
        assert h["content-type"].startswith("text/plain"), (who, h)
        assert gzip.decompress(body) == b"hello static\n"
        status, h, _ = get(base + "/s/a.txt", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in h, who
        # not a file: the app answers
        assert get_json(base + "/nothing/here")["app"] == "root"


@pytest.mark.parametrize("value", ["text/plain", "text/plain=soon"])
def test_static_expires_bad_value(uwsgo_run, value):
    r = uwsgo_run("--module", "x", "--static-expires-type", value)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('uwsgo: --static-expires-type "%s"' % value), r.stderr


def test_static_expires_bad_regexp(uwsgo_run):
    r = uwsgo_run("--module", "x", "--static-expires", "([a-z 60")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad regexp" in lines[0], r.stderr


# ---------------------------------------------------------------- memory-report, leaving clients

MEMORY_LINE = re.compile(r"^\{address space usage: (\d+) bytes/(\d+)MB\} \{rss usage: (\d+) bytes/(\d+)MB\} \[pid: \d+\|")


@pytest.mark.parametrize("spelling", [["--memory-report"], ["-m"]])
def test_memory_report_in_the_request_line(uwsgo, uwsgi, tmp_path, spelling):
    app = write(tmp_path / "a.py", ENV_APP % "a")
    srv = uwsgo("--wsgi-file", app, *spelling)
    ref = uwsgi("--wsgi-file", app, "--memory-report")
    for s in (srv, ref):
        get_json(s.url + "/")
        line = until("the request line", lambda: [l for l in s.log.splitlines() if "GET / =>" in l], 5)[0]
        m = MEMORY_LINE.match(line)
        assert m, line
        vsz, vsz_mb, rss, rss_mb = map(int, m.groups())
        assert vsz_mb == vsz >> 20 and rss_mb == rss >> 20
        assert 1 << 20 < rss <= vsz, line


STREAM_APPS = {
    "yield": '''\
import sys, time
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(400):
        yield b"x" * 65536
        time.sleep(0.002)
    sys.stderr.write("APP FINISHED\\n")
''',
    "write": '''\
import sys, time
def application(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(100):
        write(b"x" * 65536)
        time.sleep(0.002)
    sys.stderr.write("APP FINISHED\\n")
    return []
''',
}


@pytest.mark.parametrize("style", ["yield", "write"])
@pytest.mark.parametrize("options", [[], ["--ignore-sigpipe", "--ignore-write-errors", "--disable-write-exception"]],
                         ids=["default", "ignore-options"])
def test_a_client_that_leaves_costs_one_log_line(uwsgo, uwsgi, tmp_path, style, options):
    app = write(tmp_path / "stream.py", STREAM_APPS[style])
    servers = [uwsgo("--wsgi-file", app, *options)]
    if options:
        servers.append(uwsgi("--wsgi-file", app, *options))
    for srv in servers:
        until("the app loaded", lambda: "WSGI app 0 (mountpoint='') ready" in srv.log, 10)
        before = len(srv.log.splitlines())
        with socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT) as s:
            s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(1000).startswith(b"HTTP/1.1 200")
        until("the request line", lambda: "GET /stream =>" in srv.log, 10)
        time.sleep(0.5)
        new = [l for l in srv.log.splitlines()[before:] if l != "APP FINISHED"]
        assert len(new) == 1 and "GET /stream =>" in new[0], "\n".join(new)
        # the app was not handed an exception by write()
        if style == "write":
            until("the app finished", lambda: "APP FINISHED" in srv.log, 10)
        # and the server goes on serving
        status, _, body = get(srv.url + "/stream")
        assert status == 200 and len(body) == (400 if style == "yield" else 100) * 65536
