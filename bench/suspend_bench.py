#!/usr/bin/python3
"""Side-by-side suspend cost and memory: uwsgo against Debian's uWSGI.

For each server: nanoseconds per uwsgi.suspend() with 1 and with 10
requests in flight (wall time from the first request's start to the last
one's end, measured inside the app, divided by the number of suspends),
and peak RSS (VmHWM) of the worker with 1000 cores all busy.

Usage: bench/suspend_bench.py [--uwsgo bin/uwsgo] [--markdown FILE]
Prints a table; with --markdown appends it to FILE.
"""
import argparse
import concurrent.futures
import datetime
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from benchlib import free_port, stop_group, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APP = os.path.join(HERE, "apps", "suspend.py")
N_SUSPENDS = 200000






class Server:
    def __init__(self, name, argv_fn, pid_fn=None):
        self.name = name
        self.argv_fn = argv_fn

    def start(self, cores, extra=()):
        self.port = free_port()
        argv = self.argv_fn(self.port, cores) + list(extra)
        self.log = open("/tmp/bench-%s.log" % self.name.replace(" ", "_"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=REPO, start_new_session=True)
        wait_port(self.port, self.proc)
        return self

    def stop(self):
        stop_group(self.proc, signal.SIGINT, 10)
        self.log.close()

    def get(self, path, timeout=120):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=timeout) as r:
            return r.read()

    def worker_pids(self):
        """The process serving requests (the server itself, or its children)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout.split()
        return [int(p) for p in out] or [self.proc.pid]


def ns_per_switch(srv, inflight, view):
    srv.get("/%s?n=1000" % view, timeout=10)  # warm up; a server that hangs here fails the row
    with concurrent.futures.ThreadPoolExecutor(inflight) as ex:
        res = list(ex.map(lambda _: srv.get("/%s?n=%d" % (view, N_SUSPENDS)), range(inflight)))
    spans = [tuple(map(int, r.split())) for r in res]
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans)
    return (end - start) / (N_SUSPENDS * inflight)


def peak_rss_kib(srv, cores):
    with concurrent.futures.ThreadPoolExecutor(200) as ex:
        res = list(ex.map(lambda _: srv.get("/sleep?s=3"), range(cores)))
    assert all(r == b"slept" for r in res), "some requests failed"
    total = 0
    for pid in srv.worker_pids():
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total


def uwsgo_argv(binary, *engine):
    return lambda port, cores: [binary, "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", APP,
                                "--async", str(cores), "--disable-logging", "--listen", "1024"] + list(engine)


def uwsgi_argv(engine):
    plugin = {"ugreen": "python3,ugreen", "greenlet": "python3,greenlet_python3", None: "python3"}[engine]
    return lambda port, cores: ["uwsgi", "--plugin", plugin, "--http-socket", "127.0.0.1:%d" % port,
                                "--wsgi-file", APP, "--async", str(cores),
                                "--disable-logging", "--listen", "1024", "--master", "--processes", "1"] + (
                                    ["--%s" % engine] if engine else [])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--markdown")
    ap.add_argument("--cores", type=int, default=1000)
    args = ap.parse_args()
    # (label, server, view): the suspend view under a suspend engine, the
    # yield view under plain --async (every yield switches cores)
    runs = [
        ("uwsgo --ugreen, uwsgi.suspend()", Server("uwsgo", uwsgo_argv(args.uwsgo, "--ugreen")), "suspend"),
        ("uwsgo --ugreen --ugreen-switch swapcontext, uwsgi.suspend()",
         Server("uwsgo-swapcontext", uwsgo_argv(args.uwsgo, "--ugreen", "--ugreen-switch", "swapcontext")), "suspend"),
        ("uwsgo --greenlet, uwsgi.suspend()", Server("uwsgo-greenlet", uwsgo_argv(args.uwsgo, "--greenlet")), "suspend"),
        ("uWSGI 2.0 --ugreen, uwsgi.suspend()", Server("uwsgi-ugreen", uwsgi_argv("ugreen")), "suspend"),
        ("uWSGI 2.0 --greenlet, uwsgi.suspend()", Server("uwsgi-greenlet", uwsgi_argv("greenlet")), "suspend"),
        ("uwsgo --async, yield", Server("uwsgo-async", uwsgo_argv(args.uwsgo)), "yield"),
        ("uWSGI 2.0 --async, yield", Server("uwsgi-async", uwsgi_argv(None)), "yield"),
    ]
    rows = []
    for label, srv, view in runs:
        row = [label]
        try:
            srv.start(16)
            try:
                row += ["%.0f" % ns_per_switch(srv, 1, view), "%.0f" % ns_per_switch(srv, 10, view)]
            finally:
                srv.stop()
        except Exception as e:  # a server that cannot do this is reported, not hidden
            row += ["fails: %s" % (e.__class__.__name__ if "timed out" not in str(e) else "no answer in 10 s")] * (3 - len(row))
        try:
            srv.start(args.cores)
            try:
                row.append("%.1f" % (peak_rss_kib(srv, args.cores) / 1024.0))
            finally:
                srv.stop()
        except Exception as e:
            row.append("fails: %s" % (e.__class__.__name__ if "timed out" not in str(e) else "no answer"))
        rows.append(row)
        print(" | ".join(row), flush=True)

    lines = ["", "### Switch cost and memory (%s, %s, %d CPUs)" % (
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), platform.machine(), os.cpu_count()), "",
        "Command: `make bench` (bench/suspend_bench.py); %d switches per request; "
        "ns per switch = wall time from the first request's start to the last one's end, "
        "measured in the app, over all switches. Peak RSS: VmHWM of the worker with %d requests "
        "parked in async_sleep at once." % (N_SUSPENDS, args.cores), "",
        "| server, switch | ns/switch, 1 in flight | ns/switch, 10 in flight | peak RSS, %d cores busy (MiB) |" % args.cores,
        "|---|---|---|---|"]
    for row in rows:
        lines.append("| %s |" % " | ".join(row[:4]))
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    sys.exit(main())
