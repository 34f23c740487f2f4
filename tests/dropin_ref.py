"""Side by side: run the same options under uwsgo and under Debian's
uWSGI 2.0.21 (/usr/bin/uwsgi --plugin python3).

The `pair` fixture is a factory: pair(kind, *args, port=None, wait=True,
env=None, cwd=REPO) -> a running server (conftest.Server) of kind "uwsgo"
or "uwsgi", with --http-socket 127.0.0.1:PORT added so that readiness can
be seen. Everything is stopped at teardown, and so is any pid handed to
pair.track(pid) (daemons leave the process group).
"""
import os
import signal

import pytest

from conftest import Server, child_env, tail, uwsgo_bin
from helpers import REPO, free_port, until

UWSGI = "/usr/bin/uwsgi"
KINDS = ["uwsgo", "uwsgi"]


def uwsgi_argv():
    if not os.access(UWSGI, os.X_OK):
        pytest.fail("%s is missing: install uwsgi-core and uwsgi-plugin-python3 (make deps)" % UWSGI,
                    pytrace=False)
    return [UWSGI, "--plugin", "python3"]


def argv_for(kind, args):
    base = [uwsgo_bin()] if kind == "uwsgo" else uwsgi_argv()
    return base + [str(a) for a in args]


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_until(cond, timeout=10.0, what="condition"):
    return until(what, cond, timeout)


def wait_serving(srv, timeout=10.0):
    """Until the app answers (the port accepts before the app is loaded)."""
    import urllib.request

    def ok():
        try:
            with urllib.request.urlopen(srv.url + "/", timeout=5) as r:
                return r.status == 200
        except OSError:
            return srv.proc.poll() is not None
    wait_until(ok, timeout, "%s answering on %s" % (srv.kind, srv.url))
    if srv.proc.poll() is not None:
        pytest.fail("%s exited with %s\n%s" % (srv.kind, srv.proc.returncode, tail(srv.log)), pytrace=False)


def children(pid):
    """Live child pids of pid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[1]) == pid:
                out.append(int(d))
    return sorted(out)


def cmdline_name(pid):
    """What ps shows as the command line, up to the first NUL (uWSGI pads
    with spaces after it, uwsgo with NULs)."""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().split(b"\0")[0].decode().rstrip()


@pytest.fixture
def pair(request, tmp_path):
    servers, tracked = [], []

    def start(kind, *args, port=None, wait=True, env=None, cwd=REPO, http=True):
        port = port or free_port()
        extra = ["--http-socket", "127.0.0.1:%d" % port] if http else []
        argv = argv_for(kind, extra + list(args))
        logpath = tmp_path / ("%s-%d-%d.log" % (kind, len(servers), port))
        srv = Server(argv, port, logpath, child_env(env), cwd, allow_crash=False)
        srv.kind = kind
        servers.append(srv)
        if wait:
            srv.wait_ready()
            if http:
                wait_serving(srv)
        return srv

    start.track = tracked.append
    yield start

    problems = []
    for srv in servers:
        p = srv.stop()
        if p and srv.kind == "uwsgi":
            # the reference is not under test: uWSGI 2.0.21 sometimes takes
            # more than 10 s to leave after SIGINT with several workers
            print("\nuWSGI at teardown: %s" % "; ".join(p))
            continue
        if p:
            problems.append("%s: %s\n%s" % (srv.kind, "; ".join(p), tail(srv.log)))
        elif getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print("\n--- %s %s ---\n%s" % (srv.kind, " ".join(srv.args), tail(srv.log)))
    for pid in tracked:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
