#!/usr/bin/env python3
"""--threads: uwsgo against uWSGI and gunicorn's gthread worker, in one run.

    bench/threads_bench.py [--uwsgo bin/uwsgo] [--duration 10] [--markdown bench/RESULTS.md]

Rows (wrk -t1 -c32 each, req/s and p99, ratios to uwsgo in the same run):

  blocking view: /block sleeps 10 ms with the GIL released; 2 processes x
                 4 threads (at most 8 x 100 = 800 req/s whatever the server)
  hello world:   /hello, 1 process x 4 threads, and uwsgo without threads,
                 so that the cost of handing requests to threads shows

Then the hand-off itself: CPU and system calls per hello-world request in
uwsgo's worker, one process, without threads and with --threads 4 (CPU
from /proc over a wrk run; system calls counted by strace -f -c during its
own run, so compare counts, not its rate).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

from benchlib import free_port, machine
from http_bench import Proc, fmt_ms, parse_strace, wrk

HERE = os.path.dirname(os.path.abspath(__file__))
APPDIR = os.path.join(HERE, "apps")
APP = os.path.join(APPDIR, "threads.py")
CONNS = 32


def uwsgo_argv(binary, port, procs, threads):
    argv = [binary, "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", APP, "--disable-logging",
            "--listen", "1024"]
    if threads:
        argv += ["--threads", str(threads)]
    return argv + (["--master", "--processes", str(procs)] if procs > 1 else [])


def uwsgi_argv(port, procs, threads):
    return ["uwsgi", "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", APP,
            "--disable-logging", "--listen", "1024", "--master", "--processes", str(procs),
            "--threads", str(threads)]


def gunicorn_argv(port, procs, threads):
    return ["gunicorn", "-w", str(procs), "-k", "gthread", "--threads", str(threads), "-b", "127.0.0.1:%d" % port,
            "--pythonpath", APPDIR, "--log-level", "warning", "--backlog", "1024", "threads:application"]


def run_row(label, argv, path, duration, stop_sig=signal.SIGINT):
    port = int(argv[argv.index("--http-socket") + 1].rsplit(":", 1)[1]) if "--http-socket" in argv \
        else int(argv[argv.index("-b") + 1].rsplit(":", 1)[1])
    p = Proc("threads-" + label, argv, stop_sig)
    row = {"label": label, "rps": 0.0, "p99": None, "answers": "-", "ok": False}
    try:
        p.start(port)
        time.sleep(0.5)
        wrk(port, 1, CONNS, path)   # warm-up: every worker and thread has run the app
        w = wrk(port, duration, CONNS, path)
        errs = w["connect"] + w["read"] + w["write"] + w["timeout"]
        # a read error per request, and nothing else, is a server that
        # closes after each response (uWSGI's --http-socket), not a failure
        closes = w["connect"] + w["write"] + w["timeout"] == 0 and 0 < w["read"] <= w["requests"] + 50
        row.update(rps=w["rps"], p99=w["p99_ms"],
                   ok=w["requests"] > 0 and w["non2xx"] == 0 and (errs == 0 or closes))
        row["answers"] = "%d" % w["requests"] + (", %d non-2xx" % w["non2xx"] if w["non2xx"] else "")
        if closes:
            row["answers"] += " (no keep-alive: wrk counts a read error each)"
        elif errs:
            row["answers"] += ", errors c%d r%d w%d t%d" % (w["connect"], w["read"], w["write"], w["timeout"])
    except Exception as e:  # noqa: BLE001 - a failing server is a row that says so
        row["answers"] = "FAILS: %s" % (str(e)[:80] or e.__class__.__name__)
    finally:
        p.stop()
    return row


def proc_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def handoff(binary, threads, duration):
    """CPU µs and system calls per hello-world request in one uwsgo process."""
    port = free_port()
    p = Proc("threads-handoff-%d" % threads, uwsgo_argv(binary, port, 1, threads))
    out = {"threads": threads}
    try:
        p.start(port)
        time.sleep(0.5)
        wrk(port, 1, CONNS, "/hello")
        pid = p.proc.pid
        t0 = proc_ticks(pid)
        w = wrk(port, duration, CONNS, "/hello")
        ticks = proc_ticks(pid) - t0
        hz = os.sysconf("SC_CLK_TCK")
        out["cpu_us"] = ticks / hz * 1e6 / max(w["requests"], 1)
        out["rps"] = w["rps"]
        st = subprocess.Popen(["strace", "-f", "-c", "-p", str(pid)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
        time.sleep(1.0)   # attached to every thread
        w = wrk(port, 3, CONNS, "/hello")
        time.sleep(0.2)
        st.send_signal(signal.SIGINT)
        _, err = st.communicate(timeout=30)
        calls = parse_strace(err)
        n = max(w["requests"], 1)
        out["syscalls"] = {k: v / n for k, v in calls.items()}
        out["strace_requests"] = w["requests"]
    finally:
        p.stop()
    return out


def ratio(me, other, key, higher_better):
    if not (me["ok"] and other["ok"]) or not me[key] or not other[key]:
        return "-"
    return "%.2f×" % (me[key] / other[key])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(os.path.dirname(HERE), "bin", "uwsgo"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--markdown")
    args = ap.parse_args()
    binary = os.path.abspath(args.uwsgo)
    for tool in ("wrk", "uwsgi", "gunicorn", "strace"):
        if not shutil.which(tool):
            print("threads_bench: %s not found (make deps installs it)" % tool, file=sys.stderr)
            return 1
    D = args.duration
    groups = []
    block = [
        run_row("uwsgo --threads 4", uwsgo_argv(binary, free_port(), 2, 4), "/block", D),
        run_row("uWSGI 2.0.21 --threads 4", uwsgi_argv(free_port(), 2, 4), "/block", D),
        run_row("gunicorn 20.1 -k gthread --threads 4", gunicorn_argv(free_port(), 2, 4), "/block", D,
                signal.SIGTERM),
    ]
    groups.append(("blocking view (10 ms in time.sleep), 2 processes x 4 threads", block))
    hello = [
        run_row("uwsgo --threads 4", uwsgo_argv(binary, free_port(), 1, 4), "/hello", D),
        run_row("uwsgo, no threads", uwsgo_argv(binary, free_port(), 1, 0), "/hello", D),
        run_row("uWSGI 2.0.21 --threads 4", uwsgi_argv(free_port(), 1, 4), "/hello", D),
        run_row("gunicorn 20.1 -k gthread --threads 4", gunicorn_argv(free_port(), 1, 4), "/hello", D,
                signal.SIGTERM),
    ]
    groups.append(("hello world, 1 process x 4 threads", hello))
    plain = handoff(binary, 0, D)
    threaded = handoff(binary, 4, D)

    now = time.strftime("%Y-%m-%d %H:%M")
    lines = ["", "### --threads (%s, %s)" % (now, machine()), "",
             "Command: `bench/threads_bench.py` (`make bench`). `wrk -t1 -c%d -d%ds --latency` after a 1 s "
             "warm-up, one server at a time. The blocking view can do at most 800 req/s on 8 threads. Ratios "
             "are uwsgo's req/s over the other's (above 1: uwsgo serves more) and uwsgo's p99 over the "
             "other's (below 1: uwsgo answers sooner)." % (CONNS, D), ""]
    for title, rows in groups:
        me = rows[0]
        lines += ["%s:" % title, "", "| server | req/s | p99 | answers | uwsgo req/s ratio | uwsgo p99 ratio |",
                  "|---|---|---|---|---|---|"]
        for r in rows:
            mine = r is me
            lines.append("| %s | %s | %s | %s | %s | %s |" % (
                r["label"], "%.0f" % r["rps"] if r["ok"] else "~~%.0f~~" % r["rps"],
                fmt_ms(r["p99"]) if r["p99"] is not None else "-", r["answers"],
                "" if mine else ratio(me, r, "rps", True), "" if mine else ratio(me, r, "p99", False)))
        lines.append("")
    names = sorted(set(plain["syscalls"]) | set(threaded["syscalls"]),
                   key=lambda k: -(threaded["syscalls"].get(k, 0) + plain["syscalls"].get(k, 0)))
    lines += ["The hand-off, hello world in one uwsgo process (CPU of all its threads per request over the "
              "%d s run; system calls per request from `strace -f -c` over its own 3 s run):" % D, "",
              "| | no threads | --threads 4 |", "|---|---|---|",
              "| req/s | %.0f | %.0f |" % (plain["rps"], threaded["rps"]),
              "| CPU per request | %.1f µs | %.1f µs |" % (plain["cpu_us"], threaded["cpu_us"])]
    for k in names:
        a, b = plain["syscalls"].get(k, 0), threaded["syscalls"].get(k, 0)
        if a >= 0.005 or b >= 0.005:
            lines.append("| %s per request | %.2f | %.2f |" % (k, a, b))
    lines.append("| (requests under strace) | %d | %d |" % (plain["strace_requests"], threaded["strace_requests"]))
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
