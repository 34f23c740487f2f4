"""Fixtures for the uwsgo integration suite.

uwsgo      factory: start $UWSGO_BIN (default bin/uwsgo) on a free loopback
           port, wait until it answers, stop it (SIGINT) at teardown. It
           comes from the pytest plugin in python/pytest_uwsgo, loaded from
           the source tree (pytest.ini puts python/ on sys.path and blocks
           an installed copy with -p no:uwsgo).
uwsgo_run  run $UWSGO_BIN to completion (for start-up failures).
nginx      factory: a real nginx in front of a uwsgo -s port (uwsgi_pass).

Every wait is bounded, and every test is bounded by UWSGO_TEST_TIMEOUT
seconds (default 120). Missing tools fail the test; nothing is skipped.
"""
import os
import signal
import subprocess
import time

import pytest

import pytest_uwsgo
from helpers import REPO, free_port, port_accepts
from pytest_uwsgo import Server, find_binary, group_members, kill_group  # noqa: F401 - tests import these from here
from pytest_uwsgo.server import START_TIMEOUT, STOP_TIMEOUT, tail

if not os.path.realpath(pytest_uwsgo.__file__).startswith(str(REPO / "python") + os.sep):
    raise ImportError("the suite must test python/pytest_uwsgo, not %s" % pytest_uwsgo.__file__)

pytest_plugins = ["pytest_uwsgo.plugin", "pytester"]

# The suite tests the binary make builds, unless told otherwise.
os.environ.setdefault("UWSGO_BIN", str(REPO / "bin" / "uwsgo"))

RUN_TIMEOUT = 20.0     # for a run expected to exit on its own
TEST_TIMEOUT = float(os.environ.get("UWSGO_TEST_TIMEOUT", "120"))
NGINX = "/usr/sbin/nginx"


def uwsgo_bin():
    """The binary under test, for tests that run it without the fixtures."""
    try:
        return find_binary()
    except LookupError as e:
        pytest.fail(str(e), pytrace=False)


def child_env(extra=None):
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    if extra:
        env.update(extra)
    return env


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


# ---------------------------------------------------------------- uwsgo_run

@pytest.fixture
def uwsgo_run(uwsgo_bin):
    """Run uwsgo to completion: uwsgo_run(*args, proto="http", timeout=RUN_TIMEOUT,
    env=None) -> subprocess.CompletedProcess (text stdout/stderr).

    Fails the test if it is still running at the timeout.
    """
    def run(*args, proto="http", timeout=RUN_TIMEOUT, env=None, cwd=REPO):
        argv = [uwsgo_bin]
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
            {passing}
        }}
    }}
}}
"""

UWSGI_PASS = """include /etc/nginx/uwsgi_params;
            uwsgi_pass 127.0.0.1:{upstream};
            uwsgi_read_timeout 30s;
            {buffering}"""

# nginx's documented websocket proxying, over HTTP/1.1
# (https://nginx.org/en/docs/http/websocket.html)
PROXY_PASS = """proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 30s;"""


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
    """Factory: nginx(upstream_port, buffering=True, http=False) -> Nginx,
    proxying every path with uwsgi_pass to 127.0.0.1:upstream_port (a uwsgo
    -s listener), or with proxy_pass over HTTP/1.1 (http=True: an
    --http-socket listener), passing websocket upgrades."""
    servers = []

    def start(upstream_port, buffering=True, http=False):
        if not os.path.exists(NGINX):
            pytest.fail("%s is missing: install nginx-light (make deps)" % NGINX, pytrace=False)
        tmp = tmp_path / ("nginx%d" % len(servers))
        tmp.mkdir()
        port = free_port()
        conf = tmp / "nginx.conf"
        passing = (PROXY_PASS if http else UWSGI_PASS).format(
            upstream=upstream_port, buffering="" if buffering else "uwsgi_buffering off;")
        conf.write_text(NGINX_CONF.format(
            tmp=tmp, port=port, passing=passing,
            # as root, nginx's workers would run as nobody and could not
            # use the temp dirs under pytest's private tmp_path
            user="user root root;" if os.geteuid() == 0 else ""))
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
