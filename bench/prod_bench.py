#!/usr/bin/python3
"""The production path: uwsgo against uWSGI behind nginx, and what a second
worker buys on this machine.

Sections (each a table of rows measured in one run, servers alternated):

  nginx     nginx (worker_processes 1, or --nginx-workers N; uwsgi_pass,
            a connection per request) in front of uwsgo `-s` (--async 100
            --ugreen) and Debian's uWSGI 2.0.21 `-s` sync (its best mode
            here), over TCP and over a unix socket, 1 and 2 backend
            workers; gunicorn behind nginx proxy_pass (TCP) for reference.
  direct    direct HTTP: uwsgo --ugreen, --gevent 100 against uWSGI's
            sync --http11-socket and --http-socket --async 100 --ugreen,
            and gunicorn -k gevent, 1 and 2 workers.
  null      in each section, bench/nullbackend.c (built with cc): a
            backend that answers every request with the same bytes and
            does nothing else. Its rows are the ceiling of the path: what
            nginx, the kernel and wrk leave for any server on this machine.
  pinned    uwsgo --ugreen direct with wrk pinned to CPU 0 and the
            server's processes to CPU 1 (taskset): what one core gives,
            with one worker and with two sharing it.

Each row runs `wrk -t1 -c50` and reports req/s and the CPU each party
used per request (µs, utime+stime from /proc of every process of the
backend, of nginx, and wrk's rusage), and the share of the machine's two
cores each took. Rows are run in rounds (--rounds): in each round every
row runs once, in order, so uwsgo and uWSGI alternate and a change of load
on the machine hits both; the table gives each row's median over rounds,
and the ratios divide medians of the same run. The load average before
and after is printed with the table (other work on the machine skews
every number).

--syscalls adds, for the nginx rows with one worker, `strace -f -c` on
the backend during its own short wrk run (per request, by name) and one
request traced in full (`strace -f -tt` on the backend while one curl
request goes through nginx).

Usage: bench/prod_bench.py [--uwsgo bin/uwsgo] [--duration 6] [--rounds 3]
                           [--only SUBSTRING] [--sections nginx,direct]
                           [--syscalls] [--markdown FILE]
"""
import argparse
import datetime
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, machine, stop_group, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APP = os.path.join(HERE, "apps", "suspend.py")
TICK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1

NGINX_CONF = """\
worker_processes %(nginx_workers)d;
%(user)s
error_log %(dir)s/error.log warn;
pid %(dir)s/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    upstream app { server %(upstream)s; }
    server {
        listen 127.0.0.1:%(port)d backlog=1024;
        location / {
            %(pass)s
        }
    }
}
"""


def group_pids(pgid):
    """Every process in a process group (the server and its workers)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                pids.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return pids


def cpu_ticks(pids):
    """utime+stime of these processes (all threads), in clock ticks."""
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return t


class Proc:
    def __init__(self, name, argv, stop_sig=signal.SIGINT):
        self.name, self.argv, self.stop_sig = name, argv, stop_sig
        self.proc = None

    def start(self, port=None, sockpath=None):
        self.logpath = os.path.join(TMP, "log-%s" % re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name))
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=REPO, start_new_session=True)
        if sockpath:
            deadline = time.monotonic() + 15
            while not os.path.exists(sockpath):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("%s did not start" % self.name)
                time.sleep(0.05)
        else:
            wait_port(port, self.proc)

    def pids(self):
        return group_pids(self.proc.pid)

    def stop(self):
        if self.proc:
            stop_group(self.proc, self.stop_sig, 10)
            self.log.close()
            self.proc = None


class Nginx(Proc):
    def __init__(self, upstream, passline):
        self.dir = tempfile.mkdtemp(prefix="nginx-", dir=TMP)
        self.upstream, self.passline = upstream, passline
        self.conf = os.path.join(self.dir, "nginx.conf")
        super().__init__("nginx", ["nginx", "-p", self.dir, "-c", self.conf, "-g", "daemon off;"], signal.SIGTERM)

    def start(self, port=None, sockpath=None):
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF % {"dir": self.dir, "upstream": self.upstream, "port": port, "pass": self.passline,
                                  "user": "user root;" if os.geteuid() == 0 else "",
                                  "nginx_workers": NGINX_WORKERS})
        super().start(port)


def wrk(port, duration, conns=50, pin=None):
    argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "http://127.0.0.1:%d/hello" % port]
    if pin is not None:
        argv = ["taskset", "-c", pin] + argv
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    r = {"requests": 0, "rps": 0.0, "errors": 0, "non2xx": 0, "cpu": ru.ru_utime + ru.ru_stime, "raw": out}
    m = re.search(r"(\d+) requests in", out)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["errors"] = sum(map(int, m.groups()))
        r["read_errors"] = int(m.group(2))
    return r


# ------------------------------------------------------------------- rows

class Row:
    """One configuration: how to start it, and its results over rounds."""

    def __init__(self, section, label, workers, backend, via=None, closes=False, pin=None):
        self.section, self.label, self.workers = section, label, workers
        self.backend = backend  # fn(addr) -> Proc; addr is "127.0.0.1:PORT" or a socket path
        self.via = via  # None (direct), "uwsgi-tcp", "uwsgi-unix", "http" (proxy_pass)
        self.closes = closes  # the server closes each connection: wrk counts a read error per request
        self.pin = pin  # (wrk cpus, server cpus) or None
        self.runs = []

    def median(self, key):
        vals = [r[key] for r in self.runs if r.get("ok")]
        return statistics.median(vals) if vals else 0.0


def run_row(row, duration):
    port = free_port()
    sock = None
    started = []
    try:
        if row.via == "uwsgi-unix":
            sock = os.path.join(TMP, "app-%d.sock" % port)
            b = row.backend(sock)
            b.start(sockpath=sock)
            upstream = "unix:" + sock
        elif row.via is not None:
            bport = free_port()
            b = row.backend("127.0.0.1:%d" % bport)
            b.start(bport)
            upstream = "127.0.0.1:%d" % bport
        else:
            b = row.backend("127.0.0.1:%d" % port)
            b.start(port)
        started.append(b)
        ng = None
        if row.via is not None:
            passline = ("proxy_pass http://app;" if row.via == "http" else
                        "include /etc/nginx/uwsgi_params; uwsgi_pass app;")
            ng = Nginx(upstream, passline)
            ng.start(port)
            started.append(ng)
        time.sleep(0.5)
        wrk(port, 1)  # warm-up: imports done, workers forked
        if row.pin:
            for p in b.pids() + (ng.pids() if ng else []):
                subprocess.run(["taskset", "-a", "-p", "-c", row.pin[1], str(p)], capture_output=True)
        bp, np_ = b.pids(), (ng.pids() if ng else [])
        b0, n0, t0 = cpu_ticks(bp), cpu_ticks(np_), time.monotonic()
        w = wrk(port, duration, pin=row.pin[0] if row.pin else None)
        wall = time.monotonic() - t0
        b1, n1 = cpu_ticks(bp), cpu_ticks(np_)
        n = max(w["requests"], 1)
        errs = w["errors"] - (w.get("read_errors", 0) if row.closes else 0)
        res = {"rps": w["rps"], "requests": w["requests"], "ok": w["requests"] > 0 and w["non2xx"] == 0 and errs == 0,
               "server_us": (b1 - b0) / TICK * 1e6 / n, "nginx_us": (n1 - n0) / TICK * 1e6 / n if ng else None,
               "wrk_us": w["cpu"] * 1e6 / n,
               "server_share": (b1 - b0) / TICK / wall, "nginx_share": (n1 - n0) / TICK / wall if ng else None,
               "wrk_share": w["cpu"] / wall, "errors": errs, "non2xx": w["non2xx"]}
        return res
    except Exception as e:
        return {"ok": False, "note": str(e)[:80]}
    finally:
        for p in reversed(started):
            p.stop()


# --------------------------------------------------------------- syscalls

def strace_counts(row, seconds):
    """strace -f -c on the backend's processes during a wrk run: {name: calls/request}."""
    port, bport = free_port(), free_port()
    sock = os.path.join(TMP, "st-%d.sock" % port) if row.via == "uwsgi-unix" else None
    b = row.backend(sock or "127.0.0.1:%d" % bport)
    b.start(bport if not sock else None, sockpath=sock)
    ng = Nginx("unix:" + sock if sock else "127.0.0.1:%d" % bport, "include /etc/nginx/uwsgi_params; uwsgi_pass app;")
    try:
        ng.start(port)
        wrk(port, 1)
        out = os.path.join(TMP, "strace-c-%d.txt" % port)
        argv = ["strace", "-f", "-c", "-o", out]
        for p in b.pids():
            argv += ["-p", str(p)]
        st = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1)
        w = wrk(port, seconds)
        time.sleep(0.2)
        st.send_signal(signal.SIGINT)
        st.wait(30)
        calls = {}
        with open(out) as f:
            for line in f:
                fl = line.split()
                if len(fl) >= 5 and re.match(r"^[\d.]+$", fl[0]) and fl[-1] != "total":
                    calls[fl[-1]] = int(fl[3])
        n = max(w["requests"], 1)
        return {k: v / n for k, v in calls.items()}, w
    finally:
        ng.stop()
        b.stop()


def strace_one(row):
    """One request through nginx, the backend traced in full: the lines of that request."""
    port, bport = free_port(), free_port()
    sock = os.path.join(TMP, "one-%d.sock" % port) if row.via == "uwsgi-unix" else None
    b = row.backend(sock or "127.0.0.1:%d" % bport)
    b.start(bport if not sock else None, sockpath=sock)
    ng = Nginx("unix:" + sock if sock else "127.0.0.1:%d" % bport, "include /etc/nginx/uwsgi_params; uwsgi_pass app;")
    try:
        ng.start(port)
        subprocess.run(["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:%d/hello" % port])
        time.sleep(0.5)
        out = os.path.join(TMP, "strace-one-%d.txt" % port)
        argv = ["strace", "-f", "-qq", "-o", out, "-e", "trace=!futex,nanosleep,rt_sigreturn"]
        for p in b.pids():
            argv += ["-p", str(p)]
        st = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1)
        subprocess.run(["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:%d/hello" % port])
        time.sleep(0.5)
        st.send_signal(signal.SIGINT)
        st.wait(30)
        with open(out) as f:
            lines = [re.sub(r"^\d+\s+", "", l.rstrip()) for l in f]
        # drop timer and idle noise that is not the request's (the master's polls, Go's sysmon)
        keep = [l for l in lines if not re.match(r"^(epoll_pwait\(\d+, \[\], |wait4|clock_nanosleep|getpid|"
                                                 r"rt_sig|sched_yield|getrusage|\+\+\+|---)", l)]
        return keep
    finally:
        ng.stop()
        b.stop()


# ------------------------------------------------------------------- main

def build_rows(args):
    U = args.uwsgo
    common = ["--wsgi-file", APP, "--disable-logging", "--listen", "1024"]

    def uwsgo_s(n, extra=()):
        return lambda addr: Proc("uwsgo-s", [U, "-s", addr] + common + ["--async", "100", "--ugreen"] + list(extra)
                                 + (["-M", "-p", str(n)] if n > 1 else []))

    def uwsgi(sock, n, plugin="python3", extra=()):
        return lambda addr: Proc("uwsgi", ["uwsgi", "--plugin", plugin, sock, addr] + common +
                                 ["--master", "--processes", str(n)] + list(extra))

    def uwsgo_http(n, eng):
        return lambda addr: Proc("uwsgo-http", [U, "--http-socket", addr] + common + eng +
                                 (["-M", "-p", str(n)] if n > 1 else []))

    def gunicorn(n, kind):
        shim = os.path.join(TMP, "shim")
        os.makedirs(shim, exist_ok=True)
        with open(os.path.join(shim, "uwsgi.py"), "w") as f:
            f.write("# stand-in for uWSGI's module: /hello calls nothing from it\n")

        def mk(addr):
            argv = ["gunicorn", "-w", str(n), "-b", addr, "--pythonpath", "%s,%s" % (shim, os.path.dirname(APP)),
                    "--log-level", "warning", "--backlog", "1024"]
            if kind == "gevent":
                argv += ["-k", "gevent", "--worker-connections", "1000"]
            return Proc("gunicorn", argv + ["suspend:application"], signal.SIGTERM)
        return mk

    def null(mode, n):
        # the ceiling: a backend that only accepts, reads, writes and closes
        return lambda addr: Proc("null", [NULL_BACKEND, mode, addr, str(n)], signal.SIGTERM)

    rows = []
    ws = [int(x) for x in args.workers.split(",")]
    if "nginx" in args.sections:
        for n in ws:
            for via, what in (("uwsgi-tcp", "TCP"), ("uwsgi-unix", "unix")):
                rows.append(Row("nginx", "nginx -> null backend (%s)" % what, n, null("uwsgi", n), via))
                rows.append(Row("nginx", "nginx -> uwsgo -s (%s)" % what, n, uwsgo_s(n), via))
                if via == "uwsgi-tcp":
                    # what TCP_DEFER_ACCEPT (uWSGI's default, and uwsgo's) saves
                    rows.append(Row("nginx", "nginx -> uwsgo -s --no-defer-accept (TCP)", n,
                                    uwsgo_s(n, ["--no-defer-accept"]), via))
                rows.append(Row("nginx", "nginx -> uWSGI -s sync (%s)" % what, n, uwsgi("--socket", n), via))
            rows.append(Row("nginx", "nginx proxy_pass -> gunicorn sync (TCP)", n, gunicorn(n, "sync"), "http"))
    if "direct" in args.sections:
        for n in ws:
            rows.append(Row("direct", "null backend, HTTP keep-alive", n, null("http", n)))
            rows.append(Row("direct", "uwsgo --http-socket --ugreen", n, uwsgo_http(n, ["--async", "100", "--ugreen"])))
            rows.append(Row("direct", "uWSGI --http-socket --async 100 --ugreen", n,
                            uwsgi("--http-socket", n, "python3,ugreen", ["--async", "100", "--ugreen"]), closes=True))
            rows.append(Row("direct", "uWSGI sync --http11-socket", n, uwsgi("--http11-socket", n)))
            rows.append(Row("direct", "uwsgo --http-socket --gevent 100", n, uwsgo_http(n, ["--gevent", "100"])))
            rows.append(Row("direct", "gunicorn -k gevent", n, gunicorn(n, "gevent")))
        if "pinned" in args.sections:
            # wrk alone on CPU 0, the server alone on CPU 1: the ceiling of one core
            for n in ws:
                rows.append(Row("direct", "uwsgo --http-socket --ugreen, pinned", n,
                                uwsgo_http(n, ["--async", "100", "--ugreen"]), pin=("0", "1")))
    if args.only:
        rows = [r for r in rows if args.only in r.label]
    return rows


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def table(rows, args, load_before, load_after):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["", "### The production path (%s, %s)" % (now, machine()), "",
           "Command: `make bench` (bench/prod_bench.py). `wrk -t1 -c50 -d%ds` on bench/apps/suspend.py /hello, "
           "%d rounds, every row once per round in the order below (uwsgo and uWSGI alternate); each cell is "
           "the median over rounds. CPU µs per request: utime+stime of every process of the server "
           "(master and workers), of nginx (`worker_processes %d`, master and workers), and wrk's rusage, "
           "divided by wrk's requests; share: of one core, over the run. uwsgo: `--async 100 --ugreen` "
           "(2 workers: `-M -p 2`); uWSGI 2.0.21: `--master --processes N`; nginx 1.22 `uwsgi_pass`, "
           "no upstream keepalive (a connection per request). Load average (1, 5, 15 min) before: %s, "
           "after: %s. The null backend (bench/nullbackend.c) answers every request with the same bytes and "
           "does nothing else: its rows are the ceiling of each path on this machine." % (
               args.duration, args.rounds, NGINX_WORKERS, load_before, load_after), ""]
    out.append("| path | workers | server | req/s | server µs/req | nginx µs/req | wrk µs/req | "
               "CPU share server / nginx / wrk | runs ok |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ok = [x for x in r.runs if x.get("ok")]
        share = "%s / %s / %s" % (fmt(r.median("server_share"), "%.2f"),
                                  fmt(r.median("nginx_share") if r.via else None, "%.2f"),
                                  fmt(r.median("wrk_share"), "%.2f"))
        note = "" if len(ok) == len(r.runs) else " (%s)" % "; ".join(
            x.get("note", "errors %s, non-2xx %s" % (x.get("errors"), x.get("non2xx"))) for x in r.runs if not x.get("ok"))
        out.append("| %s | %d | %s | %.0f | %s | %s | %s | %s | %d/%d%s |" % (
            r.section, r.workers, r.label, r.median("rps"), fmt(r.median("server_us")),
            fmt(r.median("nginx_us") if r.via else None), fmt(r.median("wrk_us")), share,
            len(ok), len(r.runs), note))
    out.append("")

    def find(label, n):
        for r in rows:
            if r.label == label and r.workers == n:
                return r
        return None

    def ratio(what, mine, theirs, n):
        a, b = find(mine, n), find(theirs, n)
        if a and b and b.median("rps"):
            ratios = [x["rps"] / y["rps"] for x, y in zip(a.runs, b.runs) if x.get("ok") and y.get("ok")]
            per = " (per round: %s)" % ", ".join("%.2f" % q for q in ratios) if len(ratios) > 1 else ""
            out.append("- %s, %d worker%s: %s / %s = **%.2f**%s" % (
                what, n, "s" if n > 1 else "", mine, theirs, a.median("rps") / b.median("rps"), per))

    for n in sorted({r.workers for r in rows}):
        ratio("ceiling behind nginx, TCP (the most any backend reaches)", "nginx -> null backend (TCP)",
              "nginx -> uWSGI -s sync (TCP)", n)
        ratio("ceiling behind nginx, unix socket", "nginx -> null backend (unix)", "nginx -> uWSGI -s sync (unix)", n)
        ratio("behind nginx, TCP", "nginx -> uwsgo -s (TCP)", "nginx -> uWSGI -s sync (TCP)", n)
        ratio("behind nginx, unix socket", "nginx -> uwsgo -s (unix)", "nginx -> uWSGI -s sync (unix)", n)
        ratio("behind nginx, TCP, against gunicorn", "nginx -> uwsgo -s (TCP)", "nginx proxy_pass -> gunicorn sync (TCP)", n)
        ratio("direct HTTP", "uwsgo --http-socket --ugreen", "uWSGI --http-socket --async 100 --ugreen", n)
        ratio("direct HTTP, against uWSGI sync (serves only the connections it holds)",
              "uwsgo --http-socket --ugreen", "uWSGI sync --http11-socket", n)
        ratio("gevent engine", "uwsgo --http-socket --gevent 100", "gunicorn -k gevent", n)
        ratio("ceiling direct (the most any server reaches)", "null backend, HTTP keep-alive",
              "uWSGI sync --http11-socket", n)
    return out


def syscall_section(args):
    out = []
    for n in args.workers.split(","):
        out += syscall_table(args, n)
    return out


def syscall_table(args, workers):
    rows = [r for r in build_rows(argparse.Namespace(**{**vars(args), "sections": "nginx", "workers": workers,
                                                          "only": None}))
            if r.label.startswith(("nginx -> uwsgo", "nginx -> uWSGI")) and "no-defer" not in r.label]
    out = ["", "#### System calls per request behind nginx, %s worker%s (`strace -f -c` on all the server's "
           "processes, %d s wrk run each; strace slows the servers: counts, not rates; calls made by time "
           "rather than by request, such as Go's sysmon nanosleep, weigh more at the lower rate)" % (
               workers, "s" if workers != "1" else "", args.strace_seconds), ""]
    res = []
    for r in rows:
        calls, w = strace_counts(r, args.strace_seconds)
        res.append((r, calls, w))
    names = sorted({k for _, c, _ in res for k, v in c.items() if v >= 0.01},
                   key=lambda k: -max(c.get(k, 0) for _, c, _ in res))
    out.append("| syscall | " + " | ".join(r.label for r, _, _ in res) + " |")
    out.append("|---|" + "---|" * len(res))
    for k in names:
        out.append("| %s | %s |" % (k, " | ".join("%.2f" % c.get(k, 0) for _, c, _ in res)))
    out.append("| **total** | %s |" % " | ".join("%.2f" % sum(c.values()) for _, c, _ in res))
    out.append("| (requests) | %s |" % " | ".join("%d" % w["requests"] for _, _, w in res))
    for r in rows:
        if "TCP" not in r.label or workers != "1":
            continue
        lines = strace_one(r)
        out += ["", "One request through nginx, %s (`strace -f` on the server's processes; futex, nanosleep, "
                "idle polls left out):" % r.label, "", "```"] + lines[:60] + ["```"]
    return out


def main():
    global TMP, NULL_BACKEND, NGINX_WORKERS
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--duration", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--sections", default="nginx,direct,pinned")
    ap.add_argument("--only")
    ap.add_argument("--syscalls", action="store_true")
    ap.add_argument("--strace-seconds", type=int, default=3)
    ap.add_argument("--nginx-workers", type=int, default=1)
    ap.add_argument("--markdown")
    args = ap.parse_args()
    args.uwsgo = os.path.abspath(args.uwsgo)
    for tool in ("wrk", "uwsgi", "nginx", "gunicorn", "strace", "curl"):
        if not shutil.which(tool):
            sys.exit("prod_bench: %s not found (make deps installs it)" % tool)
    TMP = tempfile.mkdtemp(prefix="uwsgo-prod-bench-")
    NGINX_WORKERS = args.nginx_workers
    try:
        NULL_BACKEND = os.path.join(TMP, "nullbackend")
        subprocess.run(["cc", "-O2", "-o", NULL_BACKEND, os.path.join(HERE, "nullbackend.c")], check=True)
        rows = build_rows(args)
        load_before = loadavg()
        for rnd in range(args.rounds):
            for r in rows:
                res = run_row(r, args.duration)
                r.runs.append(res)
                print("round %d  %-44s %d  %7.0f req/s  server %s µs  nginx %s µs  wrk %s µs  %s" % (
                    rnd + 1, r.label, r.workers, res.get("rps", 0), fmt(res.get("server_us")),
                    fmt(res.get("nginx_us")), fmt(res.get("wrk_us")), "" if res.get("ok") else "FAIL %s" % res),
                    flush=True)
        lines = table(rows, args, load_before, loadavg())
        if args.syscalls:
            lines += syscall_section(args)
        text = "\n".join(lines)
        print(text)
        if args.markdown:
            with open(args.markdown, "a") as f:
                f.write(text + "\n")
    finally:
        if not os.environ.get("BENCH_KEEP_TMP"):
            shutil.rmtree(TMP, ignore_errors=True)


TMP = None
NULL_BACKEND = None
NGINX_WORKERS = 1

if __name__ == "__main__":
    sys.exit(main())
