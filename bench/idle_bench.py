#!/usr/bin/python3
"""Many idle clients: N concurrent connections, each parked in the app for
S seconds, against uwsgo and Debian's uWSGI 2.0.21 with the same settings.

Each server runs with `--async N` (N = --conns, 10 000 by default), one
worker under a master, request logging off. One client process drives
all N non-blocking sockets with selectors (one HTTP/1.1 GET each), bounded
in time (S + --grace seconds after the last connect). Reported: how many
got a 200 with the whole body, when the last one came, and the peak RSS
(VmHWM) of the worker and of the master, read once every answer is in.

Rows:
  suspend.py /sleep?s=S  async_sleep + uwsgi.suspend(), --ugreen
  idle.py    /?s=S       `yield uwsgi.async_sleep(S)`, --ugreen and plain --async

Usage: bench/idle_bench.py [--uwsgo bin/uwsgo] [--conns 10000] [--sleep 5]
                           [--markdown FILE] [--only SUBSTRING]
"""
import argparse
import datetime
import errno
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time

from benchlib import free_port, machine, stop_group, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SUSPEND_APP = os.path.join(HERE, "apps", "suspend.py")
IDLE_APP = os.path.join(HERE, "apps", "idle.py")
BACKLOG = 4096






def status_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def running(pid):
    """Alive and not a zombie."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1] not in ("Z", "X")
    except OSError:
        pass
    return False


def smaps_breakdown(pid, stack_kib=256):
    """RSS (KiB) of a process by kind of mapping (heuristics: Go maps its
    heap at hinted addresses far below the 0x7f... mmap area; core stacks
    are rw anonymous mappings of exactly the stack size)."""
    kinds = {}
    cur = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    lo, hi = (int(x, 16) for x in first.split("-"))
                    parts = line.split()
                    name = " ".join(parts[5:])
                    size = (hi - lo) // 1024
                    if name == "[heap]":
                        cur = "malloc heap ([heap])"
                    elif "/dev/zero" in name or "SYSV" in name or "(deleted)" in name or parts[1][3] == "s":
                        cur = "shared memory"
                    elif name.startswith("["):
                        cur = name
                    elif name:
                        cur = "files (code, libraries)"
                    elif lo < 0x7e0000000000:
                        cur = "Go heap and goroutine stacks"
                    elif size == stack_kib and parts[1].startswith("rw"):
                        cur = "core stacks (%d KiB mappings)" % stack_kib
                    else:
                        cur = "other anonymous (Python obmalloc arenas, malloc arenas, mmap)"
                elif first == "Rss:" and cur:
                    kinds[cur] = kinds.get(cur, 0) + int(line.split()[1])
    except OSError:
        pass
    return kinds


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


class Server:
    def __init__(self, name, argv):
        self.name, self.argv = name, argv

    def start(self):
        self.logpath = "/tmp/bench-idle-%s.log" % re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=REPO, start_new_session=True)
        wait_port(self.port, self.proc, timeout=20)
        time.sleep(0.5)
        self.master = self.proc.pid
        kids = children(self.master)
        self.workers = kids or []
        if not kids:  # no master: the process is the worker
            self.master, self.workers = None, [self.proc.pid]

    def stop(self):
        stop_group(self.proc, signal.SIGINT, 15)
        self.log.close()


def run_clients(port, path, n, sleep_s, grace, on_parked=None):
    """n non-blocking connections, one GET each; returns a result dict.
    on_parked, if given, is called once, a second after the last request
    went out (while they are all parked, if the sleep is long enough)."""
    sel = selectors.DefaultSelector()
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    st = {"ok": 0, "bad": 0, "reset": 0, "refused": 0, "eof": 0, "unanswered": 0,
          "first": None, "last": None}
    bufs = {}
    t0 = time.monotonic()
    deadline = t0 + sleep_s + grace
    pending = 0
    opened = 0
    connected_at = None
    sent = 0
    sent_at = None

    def finish(s, how):
        nonlocal pending
        sel.unregister(s)
        s.close()
        bufs.pop(s, None)
        pending -= 1
        st[how] += 1
        if how == "ok":
            now = time.monotonic() - t0
            if st["first"] is None:
                st["first"] = now
            st["last"] = now

    def done(buf):
        head, sep, body = buf.partition(b"\r\n\r\n")
        if not sep:
            return None
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if m and len(body) >= int(m.group(1)):
            return head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")
        return None

    while time.monotonic() < deadline and (opened < n or pending > 0):
        # open more sockets, a batch per turn so answers are read meanwhile
        batch = 0
        while opened < n and batch < 500:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                st["refused"] += 1
            else:
                sel.register(s, selectors.EVENT_WRITE)
                bufs[s] = b""
                pending += 1
            opened += 1
            batch += 1
        if opened == n and connected_at is None:
            connected_at = time.monotonic() - t0
        if on_parked and sent_at is not None and time.monotonic() - t0 > sent_at + 1.0:
            on_parked()
            on_parked = None
        for key, ev in sel.select(timeout=0.05):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE and key.events == selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    finish(s, "refused")
                    continue
                try:
                    s.send(req)
                except OSError:
                    finish(s, "reset")
                    continue
                sel.modify(s, selectors.EVENT_READ)
                sent += 1
                if sent + st["refused"] >= n:
                    sent_at = time.monotonic() - t0
                continue
            try:
                d = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                finish(s, "reset")
                continue
            except BlockingIOError:
                continue
            if not d:
                finish(s, "eof")
                continue
            bufs[s] += d
            r = done(bufs[s])
            if r is not None:
                finish(s, "ok" if r else "bad")
    st["unanswered"] = pending
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    sel.close()
    st["connected_at"] = connected_at
    st["sent_at"] = sent_at
    return st


def uwsgo_argv(binary, app, n, port, ugreen):
    return [binary, "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", app, "--async", str(n),
            "--disable-logging", "--listen", str(BACKLOG), "-M", "-p", "1"] + (["--ugreen"] if ugreen else [])


def uwsgi_argv(app, n, port, ugreen):
    return ["uwsgi", "--plugin", "python3,ugreen" if ugreen else "python3", "--http-socket", "127.0.0.1:%d" % port,
            "--wsgi-file", app, "--async", str(n), "--disable-logging", "--listen", str(BACKLOG),
            "--master", "--processes", "1"] + (["--ugreen"] if ugreen else [])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--sleep", type=float, default=5)
    ap.add_argument("--grace", type=float, default=10, help="seconds allowed beyond the sleep")
    ap.add_argument("--markdown")
    ap.add_argument("--only")
    ap.add_argument("--smaps", action="store_true", help="also print the parked worker's RSS by mapping kind")
    args = ap.parse_args()
    args.uwsgo = os.path.abspath(args.uwsgo)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.conns + 100
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
        soft = min(need, hard)
    if soft < need:
        args.conns = soft - 100
        print("idle_bench: open-file limit %d: %d connections" % (soft, args.conns), file=sys.stderr)

    n, S = args.conns, args.sleep
    sleep_path = "/sleep?s=%g" % S
    idle_path = "/?s=%g" % S
    runs = [
        ("uwsgo --ugreen", "suspend.py %s (async_sleep + suspend)" % sleep_path,
         lambda p: uwsgo_argv(args.uwsgo, SUSPEND_APP, n, p, True), sleep_path),
        ("uWSGI --ugreen", "suspend.py %s (async_sleep + suspend)" % sleep_path,
         lambda p: uwsgi_argv(SUSPEND_APP, n, p, True), sleep_path),
        ("uwsgo --ugreen", "idle.py (yield async_sleep)", lambda p: uwsgo_argv(args.uwsgo, IDLE_APP, n, p, True),
         idle_path),
        ("uWSGI --ugreen", "idle.py (yield async_sleep)", lambda p: uwsgi_argv(IDLE_APP, n, p, True), idle_path),
        ("uwsgo --async", "idle.py (yield async_sleep)", lambda p: uwsgo_argv(args.uwsgo, IDLE_APP, n, p, False),
         idle_path),
        ("uWSGI --async", "idle.py (yield async_sleep)", lambda p: uwsgi_argv(IDLE_APP, n, p, False), idle_path),
    ]
    rows = []
    for label, app, argv_fn, path in runs:
        if args.only and args.only not in label + " " + app:
            continue
        port = free_port()
        srv = Server(label + " " + app.split()[0], argv_fn(port))
        srv.port = port
        row = {"label": label, "app": app}
        try:
            srv.start()
            try:
                base = sum(status_kib(p, "VmRSS") for p in srv.workers)
                parked = {}

                def sample():
                    for p in srv.workers:
                        parked[p] = smaps_breakdown(p)
                st = run_clients(port, path, n, S, args.grace, sample if args.smaps else None)
                row["smaps"] = parked
                workers_hwm = sum(status_kib(p, "VmHWM") for p in srv.workers)
                master_hwm = status_kib(srv.master, "VmHWM") if srv.master else 0
                alive = srv.proc.poll() is None and all(running(p) for p in srv.workers)
            finally:
                srv.stop()
            row.update(st)
            row["base"], row["worker"], row["master"] = base, workers_hwm, master_hwm
            row["alive"] = alive
            with open(srv.logpath, "rb") as f:
                log = f.read().decode("latin-1")
            row["segv"] = log.count("Segmentation Fault") + log.count("SIGSEGV")
        except Exception as e:
            row["error"] = str(e)[:80] or e.__class__.__name__
        rows.append(row)
        print(fmt_row(row, n), flush=True)

    lines = ["", "### %d idle clients (%s, %s)" % (n, datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), machine()),
             "",
             "Command: `make bench` (bench/idle_bench.py). %d concurrent HTTP connections from one selectors "
             "client, each request parked in the app for %g s; servers: `--http-socket --async %d "
             "[--ugreen] --listen %d --disable-logging`, one worker under a master (uwsgo `-M -p 1`, "
             "uWSGI 2.0.21 `--master --processes 1`). Answered: 200 with the whole body within %g s of the "
             "start; all sent: when the client had written its last request; last answer: when the last "
             "200 came (both from the first connect). Peak RSS: VmHWM read once the clients are done; \"before\" is the worker's VmRSS before "
             "the load." % (n, S, n, BACKLOG, S + args.grace), "",
             "| server | app | answered | all sent (s) | last answer (s) | worker peak RSS (MiB) | master peak RSS (MiB) | "
             "total (MiB) | worker before (MiB) | failures |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(md_row(r, n))
    if args.smaps:
        for r in rows:
            for pid, kinds in (r.get("smaps") or {}).items():
                lines += ["", "RSS by mapping while parked, %s, %s (worker %d):" % (r["label"], r["app"], pid), ""]
                for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]):
                    if v >= 1024:
                        lines.append("- %s: %.1f MiB" % (k, v / 1024.0))
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")


def failures(r):
    if "error" in r:
        return "fails: " + r["error"]
    parts = ["%s %d" % (k, r[k]) for k in ("unanswered", "eof", "reset", "refused", "bad") if r.get(k)]
    if r.get("segv"):
        parts.append("worker segfaulted%s" % (" %d times" % r["segv"] if r["segv"] > 1 else ""))
    if not r.get("alive", True):
        parts.append("worker dead at the end")
    return ", ".join(parts) or "none"


def md_row(r, n):
    if "error" in r:
        return "| %s | %s | 0/%d | - | - | - | - | - | - | %s |" % (r["label"], r["app"], n, failures(r))
    mib = lambda k: "%.1f" % (k / 1024.0)
    return "| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |" % (
        r["label"], r["app"], r["ok"], n, "%.1f" % r["sent_at"] if r.get("sent_at") is not None else "-",
        "%.1f" % r["last"] if r["last"] is not None else "-",
        mib(r["worker"]) if r["worker"] else "- (no worker)", mib(r["master"]) if r["master"] else "-",
        mib(r["worker"] + r["master"]) if r["worker"] else "-",
        mib(r["base"]), failures(r))


def fmt_row(r, n):
    return md_row(r, n).strip("| ").replace(" | ", "  |  ")


if __name__ == "__main__":
    sys.exit(main())
