"""Drop-in: uWSGI's pidfile, daemonize, log file and request-log options
do what they do under uWSGI, side by side with Debian's uWSGI 2.0.21."""
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from dropin_ref import KINDS, argv_for, pair, pid_alive, wait_until  # noqa: F401
from helpers import APPS, REPO, free_port, port_accepts

APP = APPS / "dropin_app.py"


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def lines_with(text, sub):
    return [line for line in text.splitlines() if sub in line]


def request_lines(text):
    return [line for line in text.splitlines() if re.match(r"^\[pid: \d+\|app: ", line)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("opt", ["--pidfile", "--pidfile2"])
@pytest.mark.parametrize("master", [False, True])
def test_pidfile_holds_the_main_pid(pair, tmp_path, kind, opt, master):
    pid = tmp_path / "app.pid"
    srv = pair(kind, "--wsgi-file", APP, opt, pid, *(["--master"] if master else []))
    assert pid.read_text() == "%d\n" % srv.proc.pid


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("opt", ["--daemonize", "--daemonize2"])
def test_daemonize(pair, tmp_path, kind, opt):
    """The command returns at once with 0; the daemon serves, in its own
    session, logging to the file; its pid is in the pidfile."""
    log, pidf, port = tmp_path / "daemon.log", tmp_path / "d.pid", free_port()
    argv = argv_for(kind, ["--wsgi-file", APP, "--http-socket", "127.0.0.1:%d" % port, opt, log,
                           "--pidfile", pidf, "--master"])
    p = subprocess.run(argv, cwd=str(REPO), capture_output=True, text=True, timeout=20)
    pid = 0
    try:
        assert p.returncode == 0, (p.stdout, p.stderr)
        # read once: uWSGI truncates and rewrites the file, so a second
        # read can land between the two
        pid = int(wait_until(lambda: pidf.exists() and pidf.read_text().strip(), what="the pidfile"))
        if kind == "uwsgi" and opt == "--daemonize2":
            # uWSGI writes the pidfile before it forks into the background
            # (after the app loads), so it names the foreground process;
            # find the daemon's master by its command line
            pid = wait_until(lambda: daemon_master("127.0.0.1:%d" % port), what="the uWSGI daemon")
        pair.track(pid)
        wait_until(lambda: port_accepts(port), what="the daemon accepting")
        assert get("http://127.0.0.1:%d/daemon-path" % port)[0] == 200
        assert os.getsid(pid) != os.getsid(0)  # out of our session
        wait_until(lambda: "GET /daemon-path" in log.read_text(), what="the request line in the log")
        assert "GET /daemon-path" not in p.stdout + p.stderr
    finally:
        if pid:
            os.kill(pid, signal.SIGINT)
            wait_until(lambda: not pid_alive(pid), what="the daemon stopping")


def daemon_master(arg):
    """The pid of a process whose parent is init and whose command line has arg."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if arg.encode() in cmd and ppid == 1:
            return int(d)
    return 0


def test_daemonize2_fails_in_the_foreground_when_it_cannot_bind(tmp_path):
    """daemonize2 waits until the daemon is up: a socket that cannot be
    bound fails the command itself, and the log says why."""
    log = tmp_path / "daemon.log"
    with open("/dev/null") as _:
        pass
    busy = free_port()
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", busy))
        s.listen()
        p = subprocess.run(argv_for("uwsgo", ["--wsgi-file", APP, "--http-socket", "127.0.0.1:%d" % busy,
                                              "--daemonize2", log]),
                           cwd=str(REPO), capture_output=True, text=True, timeout=20)
    assert p.returncode != 0, p
    assert "daemon" in p.stderr and "cannot bind" in log.read_text()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("master", [False, True])
def test_logto(pair, tmp_path, kind, master):
    log = tmp_path / "app.log"
    srv = pair(kind, "--wsgi-file", APP, "--logto", log, *(["--master"] if master else []))
    assert get(srv.url + "/logto-path")[0] == 200
    wait_until(lambda: "GET /logto-path" in log.read_text(), what="the request line in the file")
    assert "GET /logto-path" not in srv.log
    assert "Starting" in log.read_text()


def logfile_plugin(kind):
    """Debian's uWSGI has its file logger in a plugin (uwsgo has it built in)."""
    return ["--plugin", "logfile"] if kind == "uwsgi" else []


@pytest.mark.parametrize("kind", KINDS)
def test_logger_file(pair, tmp_path, kind):
    log = tmp_path / "app.log"
    srv = pair(kind, "--wsgi-file", APP, "--master", "--logger", "file:%s" % log, *logfile_plugin(kind))
    assert get(srv.url + "/logger-path")[0] == 200
    wait_until(lambda: "GET /logger-path" in log.read_text(), what="the request line in the file")


@pytest.mark.parametrize("kind", KINDS)
def test_req_logger_file_takes_the_request_lines(pair, tmp_path, kind):
    reqs = tmp_path / "req.log"
    srv = pair(kind, "--wsgi-file", APP, "--master", "--req-logger", "file:%s" % reqs, *logfile_plugin(kind))
    assert get(srv.url + "/req-path")[0] == 200
    wait_until(lambda: reqs.exists() and "GET /req-path" in reqs.read_text(),
               what="the request line in the req-logger file")
    time.sleep(0.2)
    assert "GET /req-path" not in srv.log
    assert "spawned" in srv.log  # the other lines stay on stderr


CTIME = r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} - "


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("opt,pattern", [(["--log-date"], CTIME),
                                         (["--log-date=%Y-%m-%d %H:%M"], r"\d{4}-\d\d-\d\d \d\d:\d\d - ")])
def test_log_date(pair, kind, opt, pattern):
    srv = pair(kind, "--wsgi-file", APP, "--master", *opt)
    log = srv.wait_log("spawned")
    spawned = lines_with(log, "spawned")[0]
    assert re.match(pattern + ".*spawned", spawned), spawned
    assert get(srv.url + "/dated")[0] == 200
    wait_until(lambda: request_lines(srv.log), what="a request line")
    # request lines are not dated, as in uWSGI
    assert request_lines(srv.log)[0].startswith("[pid: ")


VARS = ["method", "uri", "status", "msecs", "micros", "addr", "size", "proto", "host", "referer",
        "uagent", "ltime", "epoch", "wid", "pid", "core"]
FORMAT = "LF " + " ".join("%s=%%(%s)" % (v, v) for v in VARS) + " end"


def parse_lf(line):
    # ltime has a space in it: "01/Dec/2026:19:31:38 +0000"
    m = re.match(r"^LF (.*) end$", line)
    assert m, line
    out, key = {}, None
    for tok in m.group(1).split(" "):
        if "=" in tok and tok.split("=", 1)[0] in VARS:
            key, val = tok.split("=", 1)
            out[key] = val
        else:
            out[key] += " " + tok
    return out


@pytest.mark.parametrize("opt", ["--log-format", "--logformat"])
def test_log_format_variables_side_by_side(pair, opt):
    got = {}
    for kind in KINDS:
        srv = pair(kind, "--wsgi-file", APP, "--master", opt, FORMAT)
        before = time.time()
        status, _ = get(srv.url + "/status/201?x=1", {"Host": "example.test", "Referer": "http://ref/",
                                                      "User-Agent": "dropin-test/1"})
        assert status == 201
        line = wait_until(lambda: lines_with(srv.log, "uri=/status/201"), what="the formatted line")[0]
        v = parse_lf(line)
        assert abs(int(v["epoch"]) - before) < 5, v
        assert re.match(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$", v["ltime"]), v
        assert v["msecs"].isdigit() and v["micros"].isdigit() and int(v["micros"]) >= int(v["msecs"]), v
        assert int(v["size"]) > 7, v  # headers and body
        worker = [p for p in lines_with(srv.log, "pid: ") if re.search(r"spawned \w+ worker 1", p)]
        assert worker, srv.log
        assert re.search(r"pid: %s\b" % v["pid"], worker[0]), (v["pid"], worker)
        got[kind] = v
    same = ["method", "uri", "status", "addr", "proto", "host", "referer", "uagent", "wid", "core"]
    assert {k: got["uwsgo"][k] for k in same} == {k: got["uwsgi"][k] for k in same}
    assert got["uwsgo"]["uri"] == "/status/201?x=1" and got["uwsgo"]["uagent"] == "dropin-test/1"


@pytest.mark.parametrize("kind", KINDS)
def test_log_x_forwarded_for(pair, kind):
    srv = pair(kind, "--wsgi-file", APP, "--log-x-forwarded-for")
    assert get(srv.url + "/xff", {"X-Forwarded-For": "203.0.113.7"})[0] == 200
    line = wait_until(lambda: lines_with(srv.log, "GET /xff"), what="the request line")[0]
    assert "] 203.0.113.7 (" in line, line


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("opts,logged,quiet", [
    (["--disable-logging"], [], ["/status/200", "/status/404", "/status/500", "/sleep"]),
    (["--disable-logging", "--log-4xx"], ["/status/404"], ["/status/200", "/status/500"]),
    (["--disable-logging", "--log-5xx"], ["/status/500"], ["/status/200", "/status/404"]),
    (["--disable-logging", "--log-slow", "300"], ["/sleep"], ["/status/200", "/status/404"]),
])
def test_conditional_logging(pair, kind, opts, logged, quiet):
    srv = pair(kind, "--wsgi-file", APP, *opts)
    for path in quiet + logged:
        get(srv.url + path + ("?0.5" if path == "/sleep" else ""))
    get(srv.url + "/status/299")  # the last request, logged by nobody: give the others time
    time.sleep(0.5)
    log = srv.log
    for path in logged:
        assert lines_with(log, "GET " + path), (path, log[-2000:])
    for path in quiet:
        assert not lines_with(log, "GET " + path + " ") and not lines_with(log, "GET " + path + "?"), (path, log[-2000:])


@pytest.mark.parametrize("kind", KINDS)
def test_logto2_opens_after_the_drop(pair, kind):
    import tempfile
    d = tempfile.mkdtemp(prefix="uwsgo-dropin-")
    os.chmod(d, 0o777)
    try:
        log = os.path.join(d, "app.log")
        srv = pair(kind, "--wsgi-file", APP, "--uid", "nobody", "--gid", "nogroup", "--logto2", log)
        assert get(srv.url + "/logto2-path")[0] == 200
        wait_until(lambda: os.path.exists(log) and "GET /logto2-path" in open(log).read(),
                   what="the request line in the file")
        assert os.stat(log).st_uid == 65534  # created by nobody
    finally:
        subprocess.run(["rm", "-rf", d], check=False)
