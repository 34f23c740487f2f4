"""Master and workers (procman, cmd/uwsgo/run.go): real processes, real
signals, every wait bounded.

-M / -p N: the master opens the sockets, starts N workers (the same binary,
each with its own interpreter) and keeps the sockets open, so a worker that
dies, is killed by harakiri, reloads or is recycled never makes a client see
"connection refused". Refused options (--processes 0 and friends) are also
covered by test_http.py::test_bad_options_exit.
"""
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import sys
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import group_members
from helpers import APPS, REQ_TIMEOUT, live_processes, recv_until, recv_until_closed, until, uwsgi_packet

APP = str(APPS / "master_app.py")
GREEN = ["--async", 4, "--ugreen"]


# ---------------------------------------------------------------- helpers

def get(url, timeout=REQ_TIMEOUT):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def get_json(url, timeout=REQ_TIMEOUT):
    status, body = get(url, timeout)
    assert status == 200, (status, body)
    return json.loads(body)


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def children(pid):
    """Live child processes of pid."""
    return sorted(p for p, fields in live_processes() if int(fields[1]) == pid)


SPAWN_RE = re.compile(r"(?:spawned uwsgo worker|Respawned uwsgo worker) (\d+) \((?:new )?pid: (\d+)\)")
READY_RE = re.compile(r"WSGI app 0 \(mountpoint=''\) ready in .* pid: (\d+),")


def workers(srv):
    """{worker id: pid} of the newest spawn of each worker, from the master's log."""
    out = {}
    for wid, pid in SPAWN_RE.findall(srv.log):
        out[int(wid)] = int(pid)
    return out


def wait_workers(srv, n, timeout=10, exclude=()):
    """Wait until n workers, none of them in exclude, are up and have loaded
    the app; return {worker id: pid}."""
    def ready():
        w = workers(srv)
        loaded = {int(p) for p in READY_RE.findall(srv.log)}
        if len(w) == n and all(p in loaded and p not in exclude and alive(p) for p in w.values()):
            return w
        return None
    return until("%d workers ready (log:\n%s)" % (n, srv.log[-3000:]), ready, timeout)


def see_all_workers(srv, n, timeout=10, path="/sleep?s=0.2"):
    """Concurrent requests until every worker id 1..n answered; {worker id: ids json}."""
    seen = {}
    deadline = time.monotonic() + timeout
    with concurrent.futures.ThreadPoolExecutor(2 * n + 2) as ex:
        while len(seen) < n:
            assert time.monotonic() < deadline, "only workers %s answered" % sorted(seen)
            for r in ex.map(get_json, [srv.url + path] * (2 * n + 2)):
                seen[r["worker_id"]] = r
    return seen


class Stream:
    """GET /stream?s=S on its own connection: .ids is the worker that took it
    (its first chunk); finish() reads the rest and returns (status line, body)."""

    def __init__(self, srv, seconds):
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT)
        self.sock.sendall(b"GET /stream?s=%g HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % seconds)
        self.head = recv_until(self.sock, b"}\n")
        self.ids = json.loads(self.head[self.head.index(b"{"):self.head.rindex(b"}") + 1])

    def finish(self, timeout=REQ_TIMEOUT):
        rest, closed = recv_until_closed(self.sock, timeout)
        self.sock.close()
        raw = self.head + rest
        return raw.split(b"\r\n", 1)[0].decode(), raw, closed

    def close(self):
        self.sock.close()


class Hammer(threading.Thread):
    """Sequential GET path in a loop until stop(); records every outcome."""

    def __init__(self, url, gap=0.03):
        super().__init__(daemon=True)
        self.url, self.gap = url, gap
        self.ok, self.failures = [], []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            t = time.monotonic()
            try:
                self.ok.append((t, get_json(self.url, timeout=15)))
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                self.failures.append((t, repr(e)))
            time.sleep(self.gap)

    def stop(self):
        self._halt.set()
        self.join(20)
        assert not self.is_alive(), "the request loop hung"


def wait_exit(srv, timeout=10):
    """Wait for the master to exit and its whole process group to go."""
    try:
        code = srv.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("uwsgo still running %g s after the signal\n%s"
                             % (timeout, srv.describe()))
    until("no process left in the group: %s" % group_members(srv.pgid),
          lambda: not group_members(srv.pgid), timeout)
    return code


# ---------------------------------------------------------------- identity

def test_two_workers_each_with_its_interpreter(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, *GREEN)
    pids = wait_workers(srv, 2)
    seen = see_all_workers(srv, 2)
    assert sorted(seen) == [1, 2]
    for wid, r in seen.items():
        assert r["numproc"] == 2, r
        assert r["masterpid"] == srv.proc.pid, r
        assert r["ppid"] == srv.proc.pid, r
        assert r["pid"] == pids[wid], (r, pids)
    assert seen[1]["pid"] != seen[2]["pid"]
    assert sorted(children(srv.proc.pid)) == sorted(pids.values())


@pytest.mark.parametrize("args,numproc,master", [
    ([], 1, False),
    (["-M"], 1, True),
    (["-p", 1, "--master"], 1, True),
], ids=["single", "master", "master-p1"])
def test_identity_one_worker(uwsgo, args, numproc, master):
    srv = uwsgo("--wsgi-file", APP, *args)
    r = get_json(srv.url + "/ids")
    assert r["worker_id"] == 1 and r["numproc"] == numproc, r
    if master:
        assert r["masterpid"] == srv.proc.pid and r["ppid"] == srv.proc.pid, r
    else:
        assert r["masterpid"] == 0 and r["pid"] == srv.proc.pid, r


# ---------------------------------------------------------------- deaths

DEATHS = {
    # how: (extra options, the cause in the master's "DAMN !" line)
    # A segfault in the app's C code: one line and the Python traceback,
    # then death by SIGSEGV (never Go's crash dump).
    "segv": ([], ("signal 11 (SIGSEGV",)),
    "guard": (["--ugreen-stacksize", 8], ("signal 11 (SIGSEGV",)),
    "exit": ([], ("exit status 3",)),
    "sigkill": ([], ("signal 9 (SIGKILL",)),
}


# 3.14 checks C recursion against the green stack's own bounds: json.dumps
# raises RecursionError there (test_ugreen.py shows it) and never reaches
# the guard page, so there is no guard-page death to test on 3.14.
if sys.version_info >= (3, 14):
    del DEATHS["guard"]


@pytest.mark.parametrize("how", list(DEATHS))
def test_dead_worker_is_logged_and_respawned(uwsgo, how):
    extra, causes = DEATHS[how]
    # 24 cores: the streams below never make the other requests queue.
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, "--async", 24, "--ugreen", *extra,
                allow_crash=True)
    pids = wait_workers(srv, 2)

    # A request in flight on each worker: bursts of concurrent connections
    # until both workers took one (which worker accepts is the kernel's call;
    # 7 bursts of 4 outnumber one worker's 24 cores, and a worker with no
    # free core stops accepting).
    streams = []
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            for _ in range(7):
                streams += ex.map(lambda _: Stream(srv, 3), range(4))
                if {s.ids["worker_id"] for s in streams} == {1, 2}:
                    break
        by_worker = {s.ids["worker_id"] for s in streams}
        assert by_worker == {1, 2}, "%d requests all went to worker %s" % (len(streams), by_worker)
        victim = streams[-1].ids["worker_id"]
        other = 3 - victim
        victim_pid = pids[victim]

        hammer = Hammer(srv.url + "/ids")
        hammer.start()
        t_crash = time.monotonic()
        if how == "sigkill":
            os.kill(victim_pid, signal.SIGKILL)
        else:
            for _ in range(100):
                try:
                    status, body = get(srv.url + "/crash?how=%s&wid=%d" % (how, victim), timeout=5)
                except Exception:  # noqa: BLE001 - the connection dies with the worker
                    break
                assert body.startswith("wrong worker"), (status, body)
            else:
                raise AssertionError("the crash request never reached worker %d" % victim)
        until("worker %d (pid %d) gone" % (victim, victim_pid), lambda: not alive(victim_pid), 5)
        t_dead = time.monotonic()

        damn = "DAMN ! worker %d (pid: %d) died, " % (victim, victim_pid)
        log = srv.wait_log(damn, timeout=5)
        line = log[log.index(damn):].split("\n", 1)[0]
        assert any(c in line for c in causes), "want %s in %r" % (causes, line)
        if how == "segv":
            assert "segmentation fault in the app" in log and "in crash" in log, log[-3000:]
            assert "goroutine" not in log, "Go's crash dump instead of one line and a traceback"
        new = wait_workers(srv, 2, exclude=(victim_pid,))
        assert new[other] == pids[other], "the other worker was replaced too: %s -> %s" % (pids, new)
        time.sleep(0.5)
        hammer.stop()

        # The other worker's requests were not disturbed.
        for s in streams:
            if s.ids["worker_id"] == other:
                status, raw, closed = s.finish()
                assert status.endswith("200 OK") and raw.endswith(b"done\n\r\n0\r\n\r\n") and closed, raw
        # Nobody was refused; every request sent after the death was served.
        late = [f for t, f in hammer.failures if t > t_dead]
        assert not late, "requests failed after worker %d died: %s" % (victim, late[:5])
        assert not any("refused" in f.lower() for _, f in hammer.failures), hammer.failures
        early = [f for t, f in hammer.failures if t <= t_dead]
        assert len(early) <= 1, early  # at most the one the dying worker had taken
        assert len(hammer.ok) >= 5
        assert t_dead - t_crash < 5
    finally:
        for s in streams:
            s.close()
    seen = see_all_workers(srv, 2)
    assert seen[victim]["pid"] == new[victim] != victim_pid


def test_worker_dying_at_every_start_backs_off(uwsgo, tmp_path):
    marker = tmp_path / "crash-at-import"
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 1, env={"CRASH_MARKER": str(marker)})
    pid = wait_workers(srv, 1)[1]
    marker.touch()
    os.kill(pid, signal.SIGKILL)
    window = 4.0
    time.sleep(window)
    log = srv.log
    respawns = log.count("Respawned uwsgo worker 1")
    # 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s of back-off (plus ~0.1 s per start):
    # about five starts in four seconds. A hot loop makes hundreds.
    assert 3 <= respawns <= 8, "%d respawns in %g s\n%s" % (respawns, window, log[-3000:])
    assert "backing off, respawn in" in log, log[-3000:]
    assert "died, exit status 1" in log, log[-3000:]
    # Nobody is refused meanwhile; fixed and SIGHUPed, the app comes back at once
    # (a slot waiting out its back-off is respawned on SIGHUP).
    with socket.create_connection(("127.0.0.1", srv.port), timeout=2):
        pass
    marker.unlink()
    t = time.monotonic()
    srv.send_signal(signal.SIGHUP)
    r = get_json(srv.url + "/ids", timeout=10)
    assert r["pid"] != pid
    assert time.monotonic() - t < 3, "the fixed app took %.1f s to come back" % (time.monotonic() - t)


# ---------------------------------------------------------------- harakiri

def test_harakiri_kills_a_stuck_worker(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M", "--harakiri", 2)
    pid = wait_workers(srv, 1)[1]
    t = time.monotonic()
    with pytest.raises(Exception):
        get(srv.url + "/sleep?s=5", timeout=10)
    took = time.monotonic() - t
    assert 1.9 < took < 4.5, "the stuck request ended after %.1f s" % took
    log = srv.wait_log("HARAKIRI", timeout=2)
    assert "HARAKIRI ON WORKER 1 (pid: %d" % pid in log, log[-2000:]
    r = get_json(srv.url + "/ids")
    assert r["pid"] != pid and r["worker_id"] == 1
    srv.wait_log("Respawned uwsgo worker 1", timeout=2)


def test_harakiri_spares_an_idle_worker(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M", "--harakiri", 2)
    pid = get_json(srv.url + "/ids")["pid"]
    time.sleep(3.5)
    assert get_json(srv.url + "/ids")["pid"] == pid
    assert "HARAKIRI" not in srv.log


def test_harakiri_spares_a_request_parked_in_async_sleep(uwsgo):
    """The hub keeps turning (and beating) while a core sleeps in
    uwsgi.async_sleep: 4 s parked is not 4 s stuck."""
    srv = uwsgo("--wsgi-file", APP, "-M", "--harakiri", 2, *GREEN)
    pid = get_json(srv.url + "/ids")["pid"]
    s = Stream(srv, 4)
    status, raw, closed = s.finish()
    assert status.endswith("200 OK") and b"done\n" in raw, raw
    assert s.ids["pid"] == pid
    assert get_json(srv.url + "/ids")["pid"] == pid
    assert "HARAKIRI" not in srv.log


# ---------------------------------------------------------------- signals

@pytest.mark.parametrize("sig,group", [
    (signal.SIGINT, True),     # Ctrl-C in a terminal: the whole foreground group
    (signal.SIGINT, False),
    (signal.SIGQUIT, False),
], ids=["ctrl-c", "sigint", "sigquit"])
def test_stop_signals_stop_master_and_workers(uwsgo, sig, group):
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, *GREEN)
    pids = wait_workers(srv, 2)
    if group:
        os.killpg(srv.pgid, sig)
    else:
        srv.send_signal(sig)
    assert wait_exit(srv) == 0, srv.describe()
    log = srv.log
    assert "goodbye to uwsgo." in log, log[-2000:]
    assert "DAMN" not in log and "Respawned" not in log, log[-2000:]
    assert not any(alive(p) for p in pids.values())


def test_sigterm_stops_gracefully(uwsgo):
    """README: SIGTERM stops like SIGINT: stop accepting, let the requests in
    flight finish, exit 0."""
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, *GREEN)
    wait_workers(srv, 2)
    s = Stream(srv, 1)
    srv.send_signal(signal.SIGTERM)
    status, raw, closed = s.finish()
    assert status.endswith("200 OK") and b"done\n" in raw, raw
    assert wait_exit(srv) == 0, srv.describe()
    assert "SIGTERM received: stopping workers" in srv.log


def test_sighup_reloads_gracefully_with_new_code(uwsgo, tmp_path):
    app = tmp_path / "reloaded_app.py"
    shutil.copy(APP, app)
    srv = uwsgo("--wsgi-file", app, "-M", "-p", 2, *GREEN)
    old = wait_workers(srv, 2)
    before = see_all_workers(srv, 2)
    assert {r["version"] for r in before.values()} == {"v1"}

    s = Stream(srv, 2)
    app.write_text(app.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    hammer = Hammer(srv.url + "/ids")
    hammer.start()
    srv.send_signal(signal.SIGHUP)
    try:
        status, raw, closed = s.finish()
        assert status.endswith("200 OK") and raw.endswith(b"done\n\r\n0\r\n\r\n") and closed, raw
        assert s.ids["version"] == "v1"
        srv.wait_log("...gracefully reloading workers...", timeout=2)
        new = until("both workers reloaded",
                    lambda: srv.log.count(") reloaded") >= 2 and wait_workers(srv, 2, exclude=old.values()),
                    10)
        time.sleep(0.3)
    finally:
        hammer.stop()
    assert not hammer.failures, "requests failed during the reload: %s" % hammer.failures[:5]
    after = see_all_workers(srv, 2)
    for wid, r in after.items():
        assert r["version"] == "v2", r
        assert r["pid"] == new[wid] and r["pid"] not in old.values(), (r, old)
        assert r["masterpid"] == srv.proc.pid
    assert srv.proc.poll() is None


def test_master_sigkill_leaves_no_orphans(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, *GREEN)
    pids = list(wait_workers(srv, 2).values())
    srv.proc.kill()
    srv.proc.wait(timeout=5)
    until("workers %s gone after the master's SIGKILL" % pids,
          lambda: not any(alive(p) for p in pids), 5)
    until("process group empty", lambda: not group_members(srv.pgid), 5)


@pytest.mark.parametrize("sig,group", [
    (signal.SIGINT, True),
    (signal.SIGTERM, False),
    (signal.SIGQUIT, False),
    (signal.SIGHUP, False),    # without a master: a graceful stop
], ids=["ctrl-c", "sigterm", "sigquit", "sighup"])
def test_single_process_stops(uwsgo, sig, group):
    srv = uwsgo("--wsgi-file", APP, *GREEN)
    assert get_json(srv.url + "/ids")["pid"] == srv.proc.pid
    s = Stream(srv, 0.5)
    if group:
        os.killpg(srv.pgid, sig)
    else:
        srv.send_signal(sig)
    status, raw, closed = s.finish()
    assert status.endswith("200 OK") and b"done\n" in raw, raw
    assert wait_exit(srv) == 0, srv.describe()


# ---------------------------------------------------------------- recycling

def test_max_requests_recycles_the_worker(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M", "--max-requests", 5)
    pids = []
    for i in range(17):
        r = get_json(srv.url + "/ids")
        pids.append(r["pid"])
        assert r["served"] <= 5, (i, r)
    assert pids[:5] == [pids[0]] * 5, pids
    assert len(set(pids)) >= 3, pids
    assert all(pids.count(p) <= 5 for p in set(pids)), pids
    log = srv.log
    assert "max requests reached (5), recycling" in log
    assert "recycled" in log and "DAMN" not in log, log[-2000:]


@pytest.mark.parametrize("proto", ["http", "uwsgi"])
def test_max_requests_loses_no_concurrent_request(uwsgo, proto):
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, "--max-requests", 5, *GREEN,
                "--disable-logging", proto=proto)
    wait_workers(srv, 2)
    if proto == "http":
        call = lambda i: get_json(srv.url + "/ids?i=%d" % i)  # noqa: E731
    else:
        call = lambda i: uwsgi_get_json(srv.port, "/ids", "i=%d" % i)  # noqa: E731
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda i: _outcome(call, i), range(60)))
    failures = [r for r in results if isinstance(r, str)]
    assert not failures, "%d of 60 failed: %s" % (len(failures), failures[:5])
    assert len({r["pid"] for r in results}) >= 6
    assert "DAMN" not in srv.log


def _outcome(call, i):
    try:
        return call(i)
    except Exception as e:  # noqa: BLE001
        return "request %d: %r" % (i, e)


def uwsgi_get_json(port, path, qs, unix=None):
    pkt = uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": qs,
                        "REQUEST_URI": path + "?" + qs, "SERVER_PROTOCOL": "HTTP/1.1",
                        "SERVER_NAME": "t", "SERVER_PORT": str(port), "HTTP_HOST": "t"})
    if unix:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(REQ_TIMEOUT)
        s.connect(unix)
    else:
        s = socket.create_connection(("127.0.0.1", port), timeout=REQ_TIMEOUT)
    with s:
        s.sendall(pkt)
        data, closed = recv_until_closed(s)
    assert closed and data.startswith(b"HTTP/1.1 200"), data[:300]
    return json.loads(data.partition(b"\r\n\r\n")[2])


def test_unix_socket_shared_by_workers(uwsgo, tmp_path):
    """A unix listener opened by the master serves through every worker,
    and survives a worker's death."""
    path = str(tmp_path / "uwsgo.sock")
    srv = uwsgo("--wsgi-file", APP, "-s", path, "-M", "-p", 2, *GREEN, proto=None,
                port=0, wait=False)
    pids = wait_workers(srv, 2)
    seen = {}
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            for r in ex.map(lambda i: uwsgi_get_json(0, "/sleep", "s=0.2", unix=path), range(6)):
                seen[r["worker_id"]] = r["pid"]
    assert seen == pids
    os.kill(pids[1], signal.SIGKILL)
    new = wait_workers(srv, 2, exclude=(pids[1],))
    for i in range(10):
        assert uwsgi_get_json(0, "/ids", "i=%d" % i, unix=path)["pid"] in new.values()


# ---------------------------------------------------------------- sockets, options

def backlog_of(port):
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True,
                         text=True, timeout=10).stdout
    lines = [l.split() for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, out
    return int(lines[0][2])   # State Recv-Q Send-Q ...: Send-Q is the backlog


@pytest.mark.parametrize("args", [[], ["-M", "-p", 2]], ids=["single", "master"])
def test_listen_sets_the_backlog(uwsgo, args):
    srv = uwsgo("--wsgi-file", APP, "--listen", 1024, *args)
    assert backlog_of(srv.port) == 1024
    assert "(listen backlog 1024)" in srv.log


def test_default_backlog_is_100(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "-M")
    assert backlog_of(srv.port) == 100


@pytest.mark.parametrize("args,needle", [
    (["--harakiri", "-1"], "--harakiri"),
    (["--max-requests", "-1"], "--max-requests"),
    (["-M", "-p", "-2"], "--processes"),
    (["--listen", "0"], "--listen"),
], ids=["harakiri-negative", "max-requests-negative", "processes-negative", "listen-0"])
def test_bad_process_options_are_refused(uwsgo_run, args, needle):
    """One line on stderr and a non-zero exit, before any worker starts
    (--processes 0: test_http.py::test_bad_options_exit)."""
    res = uwsgo_run("--wsgi-file", APP, *args)
    assert res.returncode != 0, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("uwsgo: ") and needle in lines[0], res.stderr
    assert "master process" not in res.stdout + res.stderr


def test_worker_without_a_free_core_leaves_new_connections_to_others(uwsgo):
    # One core per worker. While worker A's core is parked in a streaming
    # request, A must not accept: every new request goes to worker B and
    # is answered while A's stream is still open, instead of waiting in
    # A's queue for the stream to end (which one of two idle workers
    # takes a connection is the kernel's call, so a worker that kept
    # accepting would be caught within a few tries).
    srv = uwsgo("--wsgi-file", APP, "-M", "-p", 2, "--async", 1, "--ugreen")
    wait_workers(srv, 2)
    stream = Stream(srv, 4)
    try:
        busy = stream.ids["worker_id"]
        for i in range(10):
            ids = get_json(srv.url + "/ids", timeout=2)
            assert ids["worker_id"] != busy, "request %d went to worker %d, whose only core is busy" % (i, busy)
        status, raw, closed = stream.finish()
        assert status == "HTTP/1.1 200 OK" and b"done\n" in raw, raw
    finally:
        stream.close()
