#!/usr/bin/python3
"""Hello-world throughput and latency: uwsgo against uWSGI and gunicorn.

Every server serves bench/apps/suspend.py's /hello view (Content-Length
set), with request logging off, with 1 and with 2 worker processes. The
load is Debian's wrk, `wrk -t1 -c50 -d10s --latency`, keep-alive (wrk's
default). Rows:

  direct HTTP
    uwsgo       --http-socket --async 100 --ugreen (2 workers: -M -p 2)
    uWSGI sync  --http11-socket (its only keep-alive mode)
    uWSGI async --http-socket --async 100 --ugreen (closes each connection)
    uWSGI       --http11-socket --async 100 --ugreen (checked: it fails)
    gunicorn    sync worker (closes each connection)
    gunicorn    gevent worker (-k gevent)
  through nginx (nginx-light, uwsgi_pass, no upstream keepalive)
    uwsgo -s    --async 100 --ugreen
    uWSGI -s    sync, and --async 100 --ugreen

Each row checks what came back: wrk's non-2xx count and socket errors.
A server that closes the connection after each response makes wrk count
one read error per request; the preflight (two requests on one
connection) tells that apart from a failure. While wrk runs, a probe
opens a fresh connection every 0.5 s and times one request (3 s limit):
it shows a server that serves only the connections it already holds.

With --profile, also counts uwsgo's syscalls per request (strace -c -f
and perf trace -s on the worker during a short wrk run) and samples its
CPU (perf record); bench/PROFILE.md interprets the numbers.

Usage: bench/http_bench.py [--uwsgo bin/uwsgo] [--duration 10] [--markdown FILE]
                           [--only SUBSTRING] [--profile] [--no-http]
"""
import argparse
import datetime
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APPDIR = os.path.join(HERE, "apps")
APP = os.path.join(APPDIR, "suspend.py")
PY = "/usr/bin/python3"  # Debian's: gunicorn and gevent live there


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("exited with %s at start" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("did not start in %d s" % timeout)


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %s, %d CPUs, Linux %s" % (platform.machine(), model, os.cpu_count(), platform.release())


class Proc:
    """A server process in its own session, stopped with its whole group."""

    def __init__(self, name, argv, stop_sig=signal.SIGINT, cwd=REPO):
        self.name, self.argv, self.stop_sig, self.cwd = name, argv, stop_sig, cwd
        self.proc = None

    def start(self, port):
        self.logpath = "/tmp/bench-http-%s.log" % re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.cwd, start_new_session=True)
        wait_port(port, self.proc)

    def stop(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, self.stop_sig)
            self.proc.wait(10)
        except Exception:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        self.log.close()
        self.proc = None

    def logtext(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("latin-1")
        except OSError:
            return ""


# ----------------------------------------------------------------- servers

def uwsgo_http(binary, workers, port):
    return [binary, "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", APP, "--async", "100", "--ugreen",
            "--disable-logging", "--listen", "1024"] + (["-M", "-p", str(workers)] if workers > 1 else [])


def uwsgo_sock(binary, workers, port):
    return [binary, "--socket", "127.0.0.1:%d" % port, "--wsgi-file", APP, "--async", "100", "--ugreen",
            "--disable-logging", "--listen", "1024"] + (["-M", "-p", str(workers)] if workers > 1 else [])


def uwsgi_argv(sock, mode, workers, port):
    plugin = "python3,ugreen" if mode == "ugreen" else "python3"
    argv = ["uwsgi", "--plugin", plugin, sock, "127.0.0.1:%d" % port, "--wsgi-file", APP, "--disable-logging",
            "--listen", "1024", "--master", "--processes", str(workers)]
    if mode == "ugreen":
        argv += ["--async", "100", "--ugreen"]
    return argv


def gunicorn_argv(shim, kind, workers, port):
    argv = ["gunicorn", "-w", str(workers), "-b", "127.0.0.1:%d" % port, "--pythonpath", "%s,%s" % (shim, APPDIR),
            "--log-level", "warning", "--backlog", "1024"]
    if kind == "gevent":
        argv += ["-k", "gevent", "--worker-connections", "1000"]
    return argv + ["suspend:application"]


NGINX_CONF = """\
worker_processes %(workers)d;
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
    upstream app { server 127.0.0.1:%(upstream)d; }
    server {
        listen 127.0.0.1:%(port)d backlog=1024;
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass app;
        }
    }
}
"""


class Nginx(Proc):
    def __init__(self, workers, upstream, tmp):
        self.dir = tempfile.mkdtemp(prefix="nginx-", dir=tmp)
        self.workers, self.upstream = workers, upstream
        conf = os.path.join(self.dir, "nginx.conf")
        super().__init__("nginx", ["nginx", "-p", self.dir, "-c", conf, "-g", "daemon off;"], signal.SIGTERM)
        self.conf = conf

    def start(self, port):
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF % {"workers": self.workers, "dir": self.dir, "upstream": self.upstream,
                                  "port": port, "user": "user root;" if os.geteuid() == 0 else ""})
        super().start(port)


# ---------------------------------------------------------------- measuring

def preflight(port):
    """Two GET /hello on one connection: (status codes, server kept the connection)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/hello")
        r = c.getresponse()
        body = r.read()
        codes = [r.status]
        closed = r.will_close
        if r.status != 200 or body != b"Hello World":
            raise RuntimeError("preflight: %s %r" % (r.status, body[:40]))
        if not closed:
            try:
                c.request("GET", "/hello")
                r = c.getresponse()
                r.read()
                codes.append(r.status)
            except (OSError, http.client.HTTPException):
                closed = True
        return codes, not closed
    finally:
        c.close()


class Probe(threading.Thread):
    """A fresh connection every 0.5 s, one request each, 3 s limit."""

    def __init__(self, port, start_after, stop_after):
        super().__init__(daemon=True)
        self.port, self.start_after, self.stop_after = port, start_after, stop_after
        self.lat, self.failed = [], 0
        self.backlog = []  # accept-queue length samples (ss Recv-Q of the listener)

    def sample_backlog(self):
        out = subprocess.run(["ss", "-ltnH", "sport = :%d" % self.port], capture_output=True, text=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 2 and f[1].isdigit():
                self.backlog.append(int(f[1]))
                return

    def one(self):
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=3)
        try:
            s.settimeout(max(0.05, 3 - (time.monotonic() - t0)))
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            buf = b""
            while b"Hello World" not in buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            if not buf.startswith(b"HTTP/1.1 200") or b"Hello World" not in buf:
                raise OSError("bad answer %r" % buf[:30])
            return time.monotonic() - t0
        finally:
            s.close()

    def run(self):
        time.sleep(self.start_after)
        end = time.monotonic() + self.stop_after - self.start_after
        while time.monotonic() < end:
            t0 = time.monotonic()
            self.sample_backlog()
            try:
                self.lat.append(self.one())
            except (OSError, socket.timeout):
                self.failed += 1
            time.sleep(max(0, 0.5 - (time.monotonic() - t0)))

    def queued(self):
        """Connections left waiting in the accept queue (the median sample)."""
        if not self.backlog:
            return 0
        return sorted(self.backlog)[len(self.backlog) // 2]

    def summary(self):
        n = len(self.lat) + self.failed
        if n == 0:
            return "-"
        s = "%d/%d" % (len(self.lat), n)
        if self.lat:
            s += ", max %s" % fmt_ms(max(self.lat) * 1000)
        return s


def fmt_ms(ms):
    if ms >= 1000:
        return "%.2f s" % (ms / 1000)
    if ms >= 10:
        return "%.0f ms" % ms
    return "%.2f ms" % ms


def parse_dur_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def wrk(port, duration, conns=50, path="/hello"):
    argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency", "http://127.0.0.1:%d%s" % (port, path)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30).stdout
    r = {"requests": 0, "rps": 0.0, "p99_ms": None, "p50_ms": None, "non2xx": 0,
         "connect": 0, "read": 0, "write": 0, "timeout": 0, "raw": out}
    m = re.search(r"(\d+) requests in", out)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("99", "p99_ms"), ("50", "p50_ms")):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M)
        if m:
            r[key] = parse_dur_ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["connect"], r["read"], r["write"], r["timeout"] = map(int, m.groups())
    return r


def measure(label, workers, procs, port, duration, kind):
    """Start procs (last one is what wrk talks to), check, load, stop."""
    row = {"label": label, "workers": workers, "kind": kind, "rps": 0.0, "p99": "-", "answers": "-",
           "probe": "-", "note": "", "ok": False, "fair": False, "queued": 0}
    started = []
    try:
        for p, pport in procs:
            p.start(pport)
            started.append(p)
        time.sleep(0.5)
        try:
            codes, keep = preflight(port)
        except Exception as e:
            codes, keep = None, False
            row["note"] = "preflight failed: %s" % (str(e)[:60] or e.__class__.__name__)
        probe = Probe(port, 1.0, duration - 0.5)
        probe.start()
        w = wrk(port, duration)
        probe.join(duration + 10)
        row["probe"] = probe.summary()
        row["rps"] = w["rps"]
        row["requests"] = w["requests"]
        row["p99"] = fmt_ms(w["p99_ms"]) if w["p99_ms"] is not None else "-"
        errs = w["connect"] + w["read"] + w["write"] + w["timeout"]
        parts = ["%d" % w["requests"]]
        if w["non2xx"]:
            parts.append("%d non-2xx" % w["non2xx"])
        if errs:
            parts.append("errors c%d r%d w%d t%d" % (w["connect"], w["read"], w["write"], w["timeout"]))
        row["answers"] = ", ".join(parts)
        # a read error per request, and nothing else, is a server that
        # closes after each response (no keep-alive), not a failure
        closes = codes is not None and not keep and w["connect"] + w["write"] + w["timeout"] == 0 \
            and w["read"] <= w["requests"] + 50
        logtext = "".join(p.logtext() for p in started)
        segv = logtext.count("Segmentation Fault") + logtext.count("SIGSEGV")
        good = w["requests"] - w["non2xx"]
        row["ok"] = codes is not None and w["requests"] > 0 and w["non2xx"] == 0 and (errs == 0 or closes) \
            and segv == 0 and w["rps"] > 100
        row["queued"] = probe.queued()
        row["fair"] = row["ok"] and probe.failed == 0 and len(probe.lat) > 0 and row["queued"] < 5
        notes = []
        if row["ok"] and codes is not None and not keep:
            notes.append("no keep-alive: closes each connection" + (" (wrk counts a read error each)" if w["read"] else ""))
        if row["ok"] and row["queued"] >= 5:
            notes.append("%d of the 50 connections wait in the accept queue (median of samples): it serves only "
                         "the connections it holds, so p99 counts only those" % row["queued"])
        if segv:
            notes.append("worker segfaulted %d times (log: %s)" % (segv, os.path.basename(started[0].logpath)))
        if not row["ok"]:
            notes.insert(0, "FAILS: %d good answers in %d s" % (max(good, 0), duration))
        if row["note"]:
            notes.insert(0, row["note"])
        row["note"] = "; ".join(notes)
    except Exception as e:
        row["note"] = "FAILS: %s" % (str(e)[:80] or e.__class__.__name__)
    finally:
        for p in reversed(started):
            p.stop()
    return row


# ------------------------------------------------------------------ profile

def worker_pid(proc):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else proc.pid


def threads_of(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 0


def strace_count(pid, port, seconds, outdir):
    """strace -c -f on the worker during a wrk run: (requests, {syscall: calls}, strace's own table)."""
    out = os.path.join(outdir, "strace.txt")
    st = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(pid)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(1.0)  # attach to every thread
    w = wrk(port, seconds)
    time.sleep(0.3)
    st.send_signal(signal.SIGINT)
    st.wait(20)
    with open(out) as f:
        text = f.read()
    return w, parse_syscall_table(text), text


def parse_syscall_table(text):
    calls = {}
    for line in text.splitlines():
        f = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] not in ("total",):
            try:
                calls[f[-1]] = int(f[3])
            except ValueError:
                pass
    return calls


def perf_trace(pid, port, seconds, outdir):
    """perf trace -s (per-thread syscall summary, much lighter than strace)."""
    out = os.path.join(outdir, "perftrace.txt")
    pt = subprocess.Popen(["perf", "trace", "-s", "-o", out, "-p", str(pid)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(1.0)
    w = wrk(port, seconds)
    time.sleep(0.3)
    pt.send_signal(signal.SIGINT)
    try:
        pt.wait(30)
    except subprocess.TimeoutExpired:
        pt.kill()
        pt.wait()
        return w, {}, "", {}
    with open(out) as f:
        text = f.read()
    total, per_thread = {}, {}
    thread = None
    for line in text.splitlines():
        m = re.match(r"^\s*(\S+) \((\d+)\), (\d+) events", line)
        if m:
            thread = "%s/%s" % (m.group(1), m.group(2))
            per_thread[thread] = {}
            continue
        f = line.split()
        if thread and len(f) >= 3 and re.match(r"^[a-z_0-9]+$", f[0]) and f[1].isdigit():
            n = int(f[1])
            per_thread[thread][f[0]] = n
            total[f[0]] = total.get(f[0], 0) + n
    return w, total, text, per_thread


def perf_stat(pid, port, seconds):
    """Software counters over the worker during a wrk run."""
    ev = "task-clock,context-switches,cpu-migrations,page-faults,raw_syscalls:sys_enter"
    p = subprocess.Popen(["perf", "stat", "-e", ev, "-p", str(pid)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(0.5)
    w = wrk(port, seconds)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=20)
    vals = {}
    for line in err.splitlines():
        m = re.match(r"^\s*([\d,.]+)\s+(?:msec\s+)?(\S+)", line)
        if m and m.group(2) in ev.split(","):
            vals[m.group(2)] = float(m.group(1).replace(",", ""))
    return w, vals, err


def perf_record(pid, port, seconds, outdir):
    data = os.path.join(outdir, "perf.data")
    p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2999", "-g", "-o", data, "-p", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)
    w = wrk(port, seconds)
    p.send_signal(signal.SIGINT)
    p.wait(30)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,sym",
                          "-g", "none", "--percent-limit", "0.7"], capture_output=True, text=True, timeout=120).stdout
    dso = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso", "-g", "none"],
                         capture_output=True, text=True, timeout=120).stdout
    return w, rep, dso


def profile(args, tmp):
    """Per-request syscalls, counters and CPU samples of a 1-worker uwsgo."""
    port = free_port()
    srv = Proc("uwsgo-profile", uwsgo_http(args.uwsgo, 1, port))
    srv.start(port)
    res = {}
    try:
        preflight(port)
        wrk(port, 2)  # warm up
        pid = worker_pid(srv.proc)
        res["threads"] = threads_of(pid)
        res["plain"] = wrk(port, args.profile_seconds)
        if shutil.which("strace"):
            res["strace"] = strace_count(pid, port, args.profile_seconds, tmp)
        if shutil.which("perf"):
            res["perftrace"] = perf_trace(pid, port, args.profile_seconds, tmp)
            res["perfstat"] = perf_stat(pid, port, args.profile_seconds)
            res["perfrecord"] = perf_record(pid, port, args.profile_seconds, tmp)
        res["threads_after"] = threads_of(pid)
    finally:
        srv.stop()
    return res


def profile_lines(res, seconds):
    lines = []
    base = res["plain"]
    lines.append("uwsgo 1 worker, wrk -t1 -c50 -d%ds: %.0f req/s without a tracer; worker has %d threads." % (
        seconds, base["rps"], res["threads_after"]))
    if "perfstat" in res:
        w, v, _ = res["perfstat"]
        n = max(w["requests"], 1)
        lines.append("")
        lines.append("perf stat (software counters; the VM has no hardware counters) during %d requests (%.0f req/s):" % (
            w["requests"], w["rps"]))
        lines.append("")
        lines.append("| counter | total | per request |")
        lines.append("|---|---|---|")
        for k in ("task-clock", "context-switches", "cpu-migrations", "page-faults", "raw_syscalls:sys_enter"):
            if k in v:
                per = v[k] / n
                if k == "task-clock":
                    lines.append("| CPU time (task-clock) | %.0f ms | %.1f µs |" % (v[k], per * 1000))
                else:
                    lines.append("| %s | %.0f | %.2f |" % (k, v[k], per))
    tables = []
    if "strace" in res:
        w, calls, _ = res["strace"]
        tables.append(("strace -c -f", w, calls))
    if "perftrace" in res and res["perftrace"][1]:
        w, calls, _, _ = res["perftrace"]
        tables.append(("perf trace -s", w, calls))
    if tables:
        names = set()
        for _, _, c in tables:
            names |= set(c)
        order = sorted(names, key=lambda k: -max(c.get(k, 0) / max(w["requests"], 1) for _, w, c in tables))
        lines.append("")
        lines.append("Syscalls per request, by name (worker process, all threads):")
        lines.append("")
        lines.append("| syscall | " + " | ".join("%s (%d req, %.0f req/s)" % (t, w["requests"], w["rps"])
                                                  for t, w, _ in tables) + " |")
        lines.append("|---|" + "---|" * len(tables))
        for k in order:
            vals = [c.get(k, 0) / max(w["requests"], 1) for _, w, c in tables]
            if max(vals) < 0.01:
                continue
            lines.append("| %s | %s |" % (k, " | ".join("%.2f" % x for x in vals)))
        lines.append("| **total** | %s |" % " | ".join("%.2f" % (sum(c.values()) / max(w["requests"], 1))
                                                     for _, w, c in tables))
    return lines


# --------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--markdown")
    ap.add_argument("--only", help="run only rows whose label contains this")
    ap.add_argument("--profile", action="store_true", help="also profile uwsgo (strace, perf)")
    ap.add_argument("--profile-seconds", type=int, default=5)
    ap.add_argument("--no-http", action="store_true", help="skip the side-by-side table")
    args = ap.parse_args()
    args.uwsgo = os.path.abspath(args.uwsgo)
    for tool in ("wrk", "uwsgi", "gunicorn", "nginx"):
        if not shutil.which(tool):
            print("http_bench: %s not found (make deps installs it)" % tool, file=sys.stderr)

    tmp = tempfile.mkdtemp(prefix="uwsgo-http-bench-")
    shim = os.path.join(tmp, "shim")
    os.mkdir(shim)
    with open(os.path.join(shim, "uwsgi.py"), "w") as f:
        f.write("# stand-in for uWSGI's module: /hello calls nothing from it\n")

    D = args.duration
    rows = []

    def add(label, workers, mk, kind, duration=D):
        if args.only and args.only not in label:
            return
        port = free_port()
        if kind == "nginx":
            up = free_port()
            procs = [(mk(up), up), (Nginx(workers, up, tmp), port)]
        else:
            procs = [(mk(port), port)]
        row = measure(label, workers, procs, port, duration, kind)
        rows.append(row)
        print("%-44s %d %7.0f req/s  p99 %-8s %-28s probe %-14s q %-3d %s" % (
            label, workers, row["rps"], row["p99"], row["answers"], row["probe"], row["queued"], row["note"]),
            flush=True)

    if not args.no_http:
        for n in [int(x) for x in args.workers.split(",")]:
            add("uwsgo --http-socket --async 100 --ugreen", n,
                lambda p, n=n: Proc("uwsgo", uwsgo_http(args.uwsgo, n, p)), "http")
            add("uWSGI sync --http11-socket", n,
                lambda p, n=n: Proc("uwsgi-h11", uwsgi_argv("--http11-socket", None, n, p)), "http")
            add("uWSGI --http-socket --async 100 --ugreen", n,
                lambda p, n=n: Proc("uwsgi-ugreen", uwsgi_argv("--http-socket", "ugreen", n, p)), "http")
            if n == 1:
                add("uWSGI --http11-socket --async 100 --ugreen", n,
                    lambda p, n=n: Proc("uwsgi-h11-ugreen", uwsgi_argv("--http11-socket", "ugreen", n, p)), "http",
                    duration=3)
            add("gunicorn sync", n,
                lambda p, n=n: Proc("gunicorn-sync", gunicorn_argv(shim, "sync", n, p), signal.SIGTERM), "http")
            add("gunicorn -k gevent", n,
                lambda p, n=n: Proc("gunicorn-gevent", gunicorn_argv(shim, "gevent", n, p), signal.SIGTERM), "http")
            add("nginx -> uwsgo -s --async 100 --ugreen", n,
                lambda p, n=n: Proc("uwsgo-s", uwsgo_sock(args.uwsgo, n, p)), "nginx")
            add("nginx -> uWSGI -s sync", n,
                lambda p, n=n: Proc("uwsgi-s", uwsgi_argv("--socket", None, n, p)), "nginx")
            add("nginx -> uWSGI -s --async 100 --ugreen", n,
                lambda p, n=n: Proc("uwsgi-s-ugreen", uwsgi_argv("--socket", "ugreen", n, p)), "nginx")

    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = []
    if rows:
        lines += ["", "### Hello world over HTTP (%s, %s)" % (now, machine()), "",
                  "Command: `make bench` (bench/http_bench.py). Load: `wrk -t1 -c50 -d%ds --latency` on "
                  "bench/apps/suspend.py /hello (keep-alive), request logging off everywhere, wrk and the "
                  "server on the same 2 cores. uwsgo: `--async 100 --ugreen --disable-logging` "
                  "(2 workers: `-M -p 2`); uWSGI 2.0.21: `--plugin python3[,ugreen] --master --processes N "
                  "--disable-logging`; gunicorn 20.1: `-w N [-k gevent]`; nginx 1.22 (nginx-light): "
                  "`worker_processes N`, `uwsgi_pass` to an upstream without keepalive. "
                  "Answers: wrk's request count, non-2xx count and socket errors (c/r/w/t: connect, read, "
                  "write, timeout). Probe: requests on a fresh connection (one every 0.5 s, 3 s limit) "
                  "answered while wrk runs, and the slowest. Accept queue: connections the server has not accepted "
                  "(ss Recv-Q of its listener, median of samples); a struck-out req/s is a row that failed." % D, ""]
        lines.append("| server | workers | req/s | p99 | answers | probe | accept queue | notes |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in rows:
            lines.append("| %s | %d | %s | %s | %s | %s | %d | %s |" % (
                r["label"], r["workers"], "%.0f" % r["rps"] if r["ok"] else "~~%.0f~~" % r["rps"], r["p99"],
                r["answers"], r["probe"], r["queued"], r["note"]))
        lines.append("")
        for kind, mine, theirs in (("http", "uwsgo", None), ("nginx", "nginx -> uwsgo", None)):
            for n in sorted({r["workers"] for r in rows}):
                me = [r for r in rows if r["kind"] == kind and r["workers"] == n and r["label"].startswith(mine)]
                others = [r for r in rows if r["kind"] == kind and r["workers"] == n and r["ok"]
                          and not r["label"].startswith(mine)]
                if not me or not others:
                    continue
                best = max(others, key=lambda r: r["rps"])
                line = "- %s, %d worker%s: uwsgo %.0f req/s / best other (%s) %.0f req/s = **%.2f**" % (
                    "direct HTTP" if kind == "http" else "through nginx", n, "s" if n > 1 else "",
                    me[0]["rps"], best["label"], best["rps"], me[0]["rps"] / best["rps"] if best["rps"] else 0)
                fair = [r for r in others if r["fair"]]
                if not best["fair"] and fair:
                    bf = max(fair, key=lambda r: r["rps"])
                    line += "; against the best that serves every connection (%s, %.0f req/s): **%.2f**" % (
                        bf["label"], bf["rps"], me[0]["rps"] / bf["rps"])
                lines.append(line)
    if args.profile:
        res = profile(args, tmp)
        lines += ["", "### uwsgo per-request profile, hello world (%s, %s)" % (now, machine()), "",
                  "Command: `bench/http_bench.py --profile` (see bench/PROFILE.md). "
                  "Each tool watches the worker during its own %d s wrk run; tracers slow the server, "
                  "so compare counts per request, not rates." % args.profile_seconds, ""]
        lines += profile_lines(res, args.profile_seconds)
        if "perfrecord" in res:
            _, rep, dso = res["perfrecord"]
            keep = [l for l in dso.splitlines() if l.strip() and not l.startswith("#")][:12]
            lines += ["", "CPU samples by object (perf record -e cpu-clock):", "", "```"] + keep + ["```"]
            with open(os.path.join(tmp, "perf-report.txt"), "w") as f:
                f.write(rep)
            lines += ["", "(full symbol report: %s)" % os.path.join(tmp, "perf-report.txt")]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    sys.exit(main())
