"""Fixtures for the uwsgo integration suite.

uwsgo      factory: start $UWSGO_BIN (default bin/uwsgo) on a free loopback
           port, wait until it accepts, stop it (SIGINT) at teardown.
uwsgo_run  run $UWSGO_BIN to completion (for start-up failures).
nginx      factory: a real nginx in front of a uwsgo -s port (uwsgi_pass).

Every wait is bounded, and every test is bounded by UWSGO_TEST_TIMEOUT
seconds (default 120). Missing tools fail the test; nothing is skipped.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO, free_port, live_processes, port_accepts

START_TIMEOUT = 10.0   # until the port accepts
STOP_TIMEOUT = 10.0    # from SIGINT until the process (and its workers) are gone
RUN_TIMEOUT = 20.0     # for a run expected to exit on its own
TEST_TIMEOUT = float(os.environ.get("UWSGO_TEST_TIMEOUT", "120"))
NGINX = "/usr/sbin/nginx"

# Printed by a Go runtime that crashed; a server log holding one fails the test.
CRASH_MARKERS = ("panic:", "fatal error:", "SIGSEGV", "runtime/cgo:")


def uwsgo_bin():
    path = os.environ.get("UWSGO_BIN") or str(REPO / "bin" / "uwsgo")
    if not os.path.isabs(path):
        path = str(REPO / path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("uwsgo binary not found at %s: run `make build` or set UWSGO_BIN" % path,
                    pytrace=False)
    return path


def child_env(extra=None):
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    if extra:
        env.update(extra)
    return env


def group_members(pgid):
    """Live (non-zombie) processes of process group pgid, from /proc."""
    return [pid for pid, fields in live_processes() if int(fields[2]) == pgid]


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(text, lines=150):
    parts = text.splitlines()
    if len(parts) > lines:
        parts = ["... (%d lines cut)" % (len(parts) - lines)] + parts[-lines:]
    return "\n".join(parts)


# ---------------------------------------------------------------- timeouts

class TimeoutHit(Exception):
    pass


def _on_alarm(signum, frame):
    raise TimeoutHit("test took longer than %g s (UWSGO_TEST_TIMEOUT)" % TEST_TIMEOUT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _test_failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


# ---------------------------------------------------------------- uwsgo

class Server:
    """A running uwsgo. .url, .port, .proc, .args, .log(), .wait_log(), .send_signal(), .stop()."""

    def __init__(self, argv, port, logpath, env, cwd, allow_crash):
        self.argv = argv
        self.args = argv[1:]
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.logpath = logpath
        self.allow_crash = allow_crash
        self._logf = open(logpath, "wb")
        self.proc = subprocess.Popen(
            argv, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL,
            stdout=self._logf, stderr=subprocess.STDOUT, start_new_session=True)
        self.pgid = self.proc.pid
        self.stopped = False
        self.reported = False   # its log is already in a failure message

    def log(self):
        """Everything the server printed so far (stdout and stderr, interleaved)."""
        try:
            return Path(self.logpath).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=5.0):
        """Wait until text appears in the log; return the log (fail after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if text in log:
                return log
            if time.monotonic() > deadline:
                raise AssertionError("%r not in the server log after %g s:\n%s"
                                     % (text, timeout, tail(log)))
            time.sleep(0.05)

    def describe(self):
        return "uwsgo %s\n--- server log ---\n%s\n--- end of server log ---" % (
            " ".join(self.args), tail(self.log()))

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.reported = True
                pytest.fail("uwsgo exited with code %s before accepting on port %d\n%s"
                            % (self.proc.returncode, self.port, self.describe()), pytrace=False)
            if port_accepts(self.port):
                return
            time.sleep(0.05)
        self.reported = True
        pytest.fail("uwsgo did not accept on port %d within %g s\n%s"
                    % (self.port, timeout, self.describe()), pytrace=False)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGINT, timeout=STOP_TIMEOUT):
        """Send sig, wait (bounded) for the process and its group to go.

        Returns a list of problems (empty when it stopped cleanly); whatever
        is still alive at the deadline is SIGKILLed.
        """
        problems = []
        if self.stopped:
            return problems
        self.stopped = True
        deadline = time.monotonic() + timeout
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problems.append("uwsgo did not exit within %g s of %s"
                                % (timeout, signal.Signals(sig).name))
        while group_members(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = group_members(self.pgid)
        if left:
            problems.append("processes left behind after %s: %s"
                            % (signal.Signals(sig).name, left))
        kill_group(self.pgid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            problems.append("uwsgo survived SIGKILL")
        self._logf.close()
        if not self.allow_crash:
            log = self.log()
            for m in CRASH_MARKERS:
                if m in log:
                    problems.append("the server log shows a crash (%r)" % m)
                    break
        return problems


@pytest.fixture
def uwsgo(request, tmp_path):
    """Factory: uwsgo(*args, proto="http", port=None, wait=True, env=None,
    cwd=REPO, allow_crash=False) -> Server.

    proto="http" adds --http-socket 127.0.0.1:PORT, proto="uwsgi" adds
    --socket 127.0.0.1:PORT, proto=None adds no socket (pass your own and
    port=). The server is SIGINTed at teardown; the test errors if it does
    not exit in time, leaves processes behind, or its log shows a Go crash.
    """
    servers = []

    def start(*args, proto="http", port=None, wait=True, env=None, cwd=REPO,
              allow_crash=False):
        binary = uwsgo_bin()
        if port is None:
            port = free_port()
        argv = [binary]
        if proto == "http":
            argv += ["--http-socket", "127.0.0.1:%d" % port]
        elif proto == "uwsgi":
            argv += ["--socket", "127.0.0.1:%d" % port]
        elif proto is not None:
            raise ValueError("proto must be 'http', 'uwsgi' or None")
        argv += [str(a) for a in args]
        logpath = tmp_path / ("uwsgo-%d-%d.log" % (len(servers), port))
        srv = Server(argv, port, logpath, child_env(env), cwd, allow_crash)
        servers.append(srv)
        if wait:
            srv.wait_ready()
        return srv

    yield start

    problems = []
    for srv in servers:
        p = srv.stop()
        if (p or _test_failed(request)) and not srv.reported:
            print("\n" + srv.describe())
        if p:
            problems.append("; ".join(p) + "\n" + srv.describe())
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def uwsgo_run(tmp_path):
    """Run uwsgo to completion: uwsgo_run(*args, proto="http", timeout=RUN_TIMEOUT,
    env=None) -> subprocess.CompletedProcess (text stdout/stderr).

    Fails the test if it is still running at the timeout.
    """
    def run(*args, proto="http", timeout=RUN_TIMEOUT, env=None, cwd=REPO):
        argv = [uwsgo_bin()]
        if proto == "http":
            argv += ["--http-socket", "127.0.0.1:%d" % free_port()]
        elif proto == "uwsgi":
            argv += ["--socket", "127.0.0.1:%d" % free_port()]
        argv += [str(a) for a in args]
        proc = subprocess.Popen(argv, cwd=str(cwd), env=child_env(env),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            out, err = proc.communicate(timeout=5)
            pytest.fail("uwsgo %s was still running after %g s (expected it to exit)\n"
                        "--- stdout ---\n%s\n--- stderr ---\n%s"
                        % (" ".join(argv[1:]), timeout, tail(out.decode(errors="replace")),
                           tail(err.decode(errors="replace"))), pytrace=False)
        kill_group(proc.pid)
        return subprocess.CompletedProcess(argv, proc.returncode,
                                           out.decode(errors="replace"),
                                           err.decode(errors="replace"))

    return run


# ---------------------------------------------------------------- nginx

NGINX_CONF = """\
worker_processes 1;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;

events {{
    worker_connections 128;
}}

http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 64m;

    server {{
        listen 127.0.0.1:{port};
        location / {{
            include /etc/nginx/uwsgi_params;
            uwsgi_pass 127.0.0.1:{upstream};
            uwsgi_read_timeout 30s;
            {buffering}
        }}
    }}
}}
"""


class Nginx:
    """A running nginx. .url, .port, .proc, .conf, .log()."""

    def __init__(self, proc, port, conf, tmp):
        self.proc = proc
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.conf = conf
        self.tmp = tmp

    def log(self):
        out = []
        for name in ("stderr.log", "error.log", "access.log"):
            p = self.tmp / name
            if p.exists():
                out.append("--- nginx %s ---\n%s" % (name, tail(p.read_text(errors="replace"), 60)))
        return "\n".join(out)


@pytest.fixture
def nginx(request, tmp_path):
    """Factory: nginx(upstream_port, buffering=True) -> Nginx, proxying every
    path with uwsgi_pass to 127.0.0.1:upstream_port (a uwsgo -s listener)."""
    servers = []

    def start(upstream_port, buffering=True):
        if not os.path.exists(NGINX):
            pytest.fail("%s is missing: install nginx-light (make deps)" % NGINX, pytrace=False)
        tmp = tmp_path / ("nginx%d" % len(servers))
        tmp.mkdir()
        port = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            tmp=tmp, port=port, upstream=upstream_port,
            # as root, nginx's workers would run as nobody and could not
            # use the temp dirs under pytest's private tmp_path
            user="user root root;" if os.geteuid() == 0 else "",
            buffering="" if buffering else "uwsgi_buffering off;"))
        # daemon off comes from -g (nginx refuses the directive twice).
        argv = [NGINX, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "error.log"),
                "-g", "daemon off;"]
        errf = open(tmp / "stderr.log", "wb")
        proc = subprocess.Popen(argv, cwd=str(tmp), stdin=subprocess.DEVNULL, stdout=errf,
                                stderr=subprocess.STDOUT, start_new_session=True)
        errf.close()
        ng = Nginx(proc, port, conf, tmp)
        servers.append(ng)
        deadline = time.monotonic() + START_TIMEOUT
        while not port_accepts(port):
            if proc.poll() is not None:
                pytest.fail("nginx exited with code %s at start\n%s\n--- conf ---\n%s"
                            % (proc.returncode, ng.log(), conf.read_text()), pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail("nginx did not accept on %d within %g s\n%s"
                            % (port, START_TIMEOUT, ng.log()), pytrace=False)
            time.sleep(0.05)
        return ng

    yield start

    problems = []
    for ng in servers:
        if _test_failed(request):
            print("\n" + ng.log())
        if ng.proc.poll() is None:
            ng.proc.send_signal(signal.SIGQUIT)
            try:
                ng.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append("nginx did not exit within %g s of SIGQUIT\n%s"
                                % (STOP_TIMEOUT, ng.log()))
        kill_group(ng.proc.pid)
        try:
            ng.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            problems.append("nginx survived SIGKILL")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
