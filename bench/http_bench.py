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
  engines: the other suspend engines, direct HTTP
    uwsgo       --http-socket --async 100 --greenlet, and --gevent 100
    uWSGI       the same, with --plugin python3,greenlet_python3 or
                python3,gevent_python3 (--master --processes N)
  through nginx (nginx-light, uwsgi_pass, no upstream keepalive)
    uwsgo -s    --async 100 --ugreen
    uWSGI -s    sync, and --async 100 --ugreen

Each row checks what came back: wrk's non-2xx count and socket errors.
A server that closes the connection after each response makes wrk count
one read error per request; the preflight (two requests on one
connection) tells that apart from a failure. While wrk runs, a probe
opens a fresh connection every 0.5 s and times one request (3 s limit):
it shows a server that serves only the connections it already holds.

The ratios below the table divide uwsgo's req/s by the best other row of
its group; an engine row by the same engine elsewhere (greenlet: uWSGI;
gevent: uWSGI and gunicorn -k gevent).

With --profile, also profiles one uwsgo worker per request (HTTP direct,
and -s behind nginx), each tool during its own short wrk run: software
counters (perf stat: CPU time, syscalls, context switches), cgo crossings
and Go scheduler events (uprobes on a private copy of the binary, removed
afterwards), syscalls by name (strace -c -f, perf trace -s), CPU samples
by thread and by what the code does (perf record -e cpu-clock -g); the
same counters for uWSGI's worker; and a one-connection (wrk -c1) run.
Needs root (or perf_event_paranoid <= 0) and Debian's linux-perf and
strace; without perf it says so and skips. bench/PROFILE.md interprets
the numbers. BENCH_KEEP_TMP=1 keeps the perf data and traces.

Usage: bench/http_bench.py [--uwsgo bin/uwsgo] [--duration 10] [--workers 1,2]
                           [--markdown FILE] [--only SUBSTRING]
                           [--profile [--profile-seconds 3]] [--no-http]
"""
import argparse
import datetime
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, machine, stop_group, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APPDIR = os.path.join(HERE, "apps")
APP = os.path.join(APPDIR, "suspend.py")
PY = "/usr/bin/python3"  # Debian's: gunicorn and gevent live there






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
        stop_group(self.proc, self.stop_sig, 10)
        self.log.close()
        self.proc = None

    def logtext(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("latin-1")
        except OSError:
            return ""


# ----------------------------------------------------------------- servers

# suspend engines, same flags in uwsgo and uWSGI; uWSGI loads each from its plugin
ENGINES = {"ugreen": ["--async", "100", "--ugreen"], "greenlet": ["--async", "100", "--greenlet"],
           "gevent": ["--gevent", "100"]}
UWSGI_PLUGINS = {None: "python3", "ugreen": "python3,ugreen", "greenlet": "python3,greenlet_python3",
                 "gevent": "python3,gevent_python3"}


def uwsgo_http(binary, workers, port, engine="ugreen"):
    return [binary, "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", APP] + ENGINES[engine] + [
        "--disable-logging", "--listen", "1024"] + (["-M", "-p", str(workers)] if workers > 1 else [])


def uwsgo_sock(binary, workers, port):
    return [binary, "--socket", "127.0.0.1:%d" % port, "--wsgi-file", APP, "--async", "100", "--ugreen",
            "--disable-logging", "--listen", "1024"] + (["-M", "-p", str(workers)] if workers > 1 else [])


def uwsgi_argv(sock, mode, workers, port):
    """mode: None (sync) or a key of ENGINES."""
    argv = ["uwsgi", "--plugin", UWSGI_PLUGINS[mode], sock, "127.0.0.1:%d" % port, "--wsgi-file", APP,
            "--disable-logging", "--listen", "1024", "--master", "--processes", str(workers)]
    return argv + ENGINES.get(mode, [])


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
        # a server that leaves new connections unanswered for 3 s serves only those it holds
        row["fair"] = row["ok"] and probe.failed == 0 and len(probe.lat) > 0
        notes = []
        if row["ok"] and codes is not None and not keep:
            notes.append("no keep-alive: closes each connection" + (" (wrk counts a read error each)" if w["read"] else ""))
        if row["ok"] and not row["fair"] and row["queued"] >= 5:
            notes.append("%d of the 50 connections wait in the accept queue and new ones go unanswered: it "
                         "serves only the connections it holds, so p99 counts only those" % row["queued"])
        elif row["ok"] and row["queued"] >= 5:
            notes.append("connections wait their turn in the accept queue (%d, median)" % row["queued"])
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
#
# Each tool watches the uwsgo worker during its own short wrk run (tracers
# slow the server, so their runs give counts per request, not rates).

PROBE_GROUP = "uwsgobench"
# C entry points of pyhost (one cgo crossing each) and the Go runtime's
# cgo doors: runtime.cgocall counts every Go->C call, cgocallbackg every
# C->Go call.
PROBES = [("uw_run", "uw_run"), ("uw_wait", "uw_wait"), ("uw_core_start", "uw_core_start"),
          ("uw_core_resume", "uw_core_resume"), ("uw_core_release", "uw_core_release"),
          ("cgocall", "runtime.cgocall"), ("cgocallback", "runtime.cgocallbackg")]
# Go scheduler events: P hand-offs (sysmon retaking the P of a thread in a
# cgo call or syscall), threads woken and parked, poller wake-ups.
RT_PROBES = [("handoffp", "runtime.handoffp"), ("startm", "runtime.startm"), ("stopm", "runtime.stopm"),
             ("notewakeup", "runtime.notewakeup"), ("netpollBreak", "runtime.netpollBreak"),
             ("runqgrab", "runtime.runqgrab")]
RT_NOTES = {"handoffp": "a P handed to another thread (sysmon's retake, or a blocking call)",
            "startm": "a thread started or woken to run a P", "stopm": "a thread parks (futex)",
            "notewakeup": "futex wake of a parked thread", "netpollBreak": "poller interrupted (eventfd write)",
            "runqgrab": "a thread steals goroutines from another P"}


def start_chain(procs, started, port):
    """Start (proc, port) pairs in order, each recorded in started for the
    caller's cleanup; check that the chain answers on port and return the
    first one's worker pid."""
    for p, pp in procs:
        p.start(pp)
        started.append(p)
    preflight(port)
    return worker_pid(started[0].proc)


def worker_pid(proc):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else proc.pid


def thread_ticks(pid):
    """{tid: utime+stime in clock ticks}."""
    ticks = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return ticks
    for t in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                f_ = f.read().rsplit(")", 1)[1].split()
            ticks[int(t)] = int(f_[11]) + int(f_[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks


def bg(argv):
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def stop_tool(p, timeout=30):
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return err or ""


def under(tool_argv, port, seconds, settle=1.0, conns=50):
    """Run a tool (already given -p PID) around a wrk run; returns (wrk, tool stderr)."""
    p = bg(tool_argv)
    time.sleep(settle)  # let it attach to every thread
    w = wrk(port, seconds, conns)
    time.sleep(0.2)
    return w, stop_tool(p)


def parse_strace(text):
    calls = {}
    for line in text.splitlines():
        f = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] != "total":
            try:
                calls[f[-1]] = int(f[3])
            except ValueError:
                pass
    return calls


def parse_perf_trace(text):
    """perf trace -s: ({syscall: calls}, {syscall: total ms}, {tid: {syscall: calls}})."""
    calls, msec, per_tid = {}, {}, {}
    tid = None
    for line in text.splitlines():
        m = re.match(r"^\s*\S+ \((\d+)\), \d+ events", line)
        if m:
            tid = int(m.group(1))
            per_tid[tid] = {}
            continue
        f = line.split()
        if tid is not None and len(f) >= 4 and re.match(r"^[a-z_0-9]+$", f[0]) and f[1].isdigit():
            n = int(f[1])
            per_tid[tid][f[0]] = n
            calls[f[0]] = calls.get(f[0], 0) + n
            msec[f[0]] = msec.get(f[0], 0.0) + float(f[3])
    return calls, msec, per_tid


def perf_stat_values(err, names):
    vals = {}
    for line in err.splitlines():
        m = re.match(r"^\s*([\d,.]+)\s+(?:msec\s+)?(\S+)", line)
        if m and m.group(2) in names:
            vals[m.group(2)] = float(m.group(1).replace(",", ""))
    return vals


def add_probes(binary, probes=PROBES):
    subprocess.run(["perf", "probe", "-q", "-d", PROBE_GROUP + ":*"], capture_output=True)
    ok = []
    for ev, fn in probes:
        r = subprocess.run(["perf", "probe", "-q", "-x", binary, "--add", "%s:%s=%s" % (PROBE_GROUP, ev, fn)],
                           capture_output=True, text=True)
        if r.returncode == 0:
            ok.append(ev)
    return ok


def del_probes():
    subprocess.run(["perf", "probe", "-q", "-d", PROBE_GROUP + ":*"], capture_output=True)


def perf_record_report(data):
    def rep(*extra):
        return subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none"] + list(extra),
                              capture_output=True, text=True, timeout=180).stdout

    def rows(text):
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            m = re.match(r"^\s*([\d.]+)%\s+(.*)$", line)
            if m:
                yield float(m.group(1)), m.group(2).strip()

    by_tid_dso = {}
    for pct, rest in rows(rep("--sort", "pid,dso")):
        m = re.match(r"^(\d+):\S+\s+(.*)$", rest)
        if m:
            by_tid_dso.setdefault(int(m.group(1)), {})[m.group(2).strip()] = pct
    sysmon = set()
    for pct, rest in rows(rep("--sort", "pid,sym")):
        m = re.match(r"^(\d+):\S+\s+\[.\]\s+(runtime\.sysmon|runtime\.usleep\S*)$", rest)
        if m:
            sysmon.add(int(m.group(1)))
    syms = [(pct, rest) for pct, rest in rows(rep("--sort", "dso,sym", "--percent-limit", "0.4"))]
    return by_tid_dso, sysmon, syms


# perf script call chains -> where each sample's time goes
SYSCALL_USER = [
    (re.compile(r"^(?:syscall|golang\.org/x/sys/unix)\.([a-z][a-z0-9_]*)$"), None),
    (re.compile(r"^runtime\.futex"), "futex"),
    (re.compile(r"^runtime\.usleep"), "nanosleep"),
    (re.compile(r"^runtime\.netpollopen|^runtime\.netpollclose"), "epoll_ctl"),
    (re.compile(r"^runtime\.netpoll$"), "epoll_pwait"),
    (re.compile(r"^runtime\.write1|^runtime\.netpollBreak"), "write"),
    (re.compile(r"^runtime\.nanotime|^runtime\.walltime"), "clock_gettime"),
    (re.compile(r"^(?:__GI_)?(?:__)?(epoll_wait|read|write|epoll_pwait)$"), None),
    # the server's raw system calls (server/sys.go): sysRead -> read, ...
    (re.compile(r"^github\.com/uwsgo/uwsgo/server\.sys(Read|Write|Writev|Accept4|Close)$"), None),
]
GC = re.compile(r"^runtime\.(gcBgMarkWorker|gcDrain|bgsweep|bgscavenge|gcStart|markroot|gcMarkDone|gcAssistAlloc|scanobject)")
SCHED = re.compile(r"^runtime\.(schedule|findRunnable|park_m|goready|ready|wakep|startm|stopm|notewakeup|notesleep|"
                   r"mcall|gopark|goexit0|runqget|runqput|runqsteal|lock2|unlock2|handoffp|newproc|newproc1|"
                   r"execute|injectglist|netpollgoready|semacquire|semrelease|chansend|chanrecv|selectgo|"
                   r"mPark|stealWork|checkTimers|resetspinning)")
SYSENTRY = re.compile(r"^(runtime\.(entersyscall|exitsyscall|reentersyscall|setBlockOnExitSyscall|casgstatus|"
                      r"exitsyscallfast|entersyscallblock)|internal/runtime/syscall/linux\.Syscall6|"
                      r"syscall\.(RawSyscall6|Syscall6|Syscall|RawSyscall))")
CGO = re.compile(r"^runtime\.(cgocall|asmcgocall)|_cgo_|^(uw_|ug_|core_|run_impl|async_|ugreen_|greenlet_|gevent_)")


_C_FUNCS = None


def c_funcs():
    """Names of the C functions in pyhost/ (to tell them from Go's asm)."""
    global _C_FUNCS
    if _C_FUNCS is None:
        _C_FUNCS = set()
        for d in ("pyhost",):
            try:
                names = os.listdir(os.path.join(REPO, d))
            except OSError:
                continue
            for n in names:
                if n.endswith((".c", ".h")):
                    with open(os.path.join(REPO, d, n), errors="replace") as f:
                        for m in re.finditer(r"^[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\([^;]*$", f.read(), re.M):
                            _C_FUNCS.add(m.group(1))
    return _C_FUNCS


SKIP_PKG = ("runtime.", "internal/", "sync.", "sync/", "context.", "time.", "strconv.", "strings.", "bytes.",
            "unicode", "sort.", "maps.", "slices.", "errors.", "fmt.", "io.", "type:", "aeshash", "memeqbody",
            "indexbyte", "cmpbody")


def classify(frames):
    """frames: [(sym, dso)] leaf first. Returns (bucket, syscall or None)."""
    if not frames:
        return "unknown", None
    leaf_sym, leaf_dso = frames[0]
    if "kernel" in leaf_dso:
        name = None
        for sym, dso in frames:
            m = re.match(r"^__(?:x64|se|do)_sys_(\w+)$", sym)
            if m:
                name = m.group(1)
                break
        if name is None:
            for sym, dso in frames:
                if "kernel" in dso:
                    continue
                for rx, fixed in SYSCALL_USER:
                    m = rx.match(sym)
                    if m:
                        name = fixed or m.group(1).lower()
                        break
                if name:
                    break
        syms = [s for s, _ in frames]
        if name in ("write", "read") and any(s.startswith("github.com/uwsgo/uwsgo/hub.") for s in syms) \
                and not any(s.startswith("github.com/uwsgo/uwsgo/server.") for s in syms):
            name += " (hub eventfd)"
        elif name == "write" and any(s.startswith("runtime.netpollBreak") for s in syms):
            name += " (netpollBreak: wake the poller)"
        elif name == "nanosleep":
            if "runtime.sysmon" in syms:
                name += " (sysmon)"
            elif any(s.startswith("runtime.runqgrab") for s in syms):
                name += " (runqgrab: a spinning M waits 3 µs)"
        elif name == "futex":
            if any(s.startswith(("runtime.futexwakeup", "runtime.notewakeup")) for s in syms):
                name += " (wake an M)"
            elif any(s.startswith(("runtime.futexsleep", "runtime.notesleep", "runtime.notetsleep")) for s in syms):
                name += " (an M parks)"
        return "kernel", name or "(no syscall: interrupts, faults)"
    if "libpython" in leaf_dso:
        return "Python interpreter", None
    syms = [s for s, _ in frames]
    if any(s.startswith("runtime.sysmon") for s in syms):
        return "Go sysmon", None
    if any(GC.match(s) for s in syms):
        return "Go GC", None
    if any(s.startswith("runtime.mallocgc") or s.startswith("runtime.newobject") or s.startswith("runtime.makeslice")
           or s.startswith("runtime.growslice") for s in syms[:6]):
        return "Go allocation", None
    if SYSENTRY.match(leaf_sym) or (len(syms) > 1 and SYSENTRY.match(syms[1]) and leaf_sym.startswith("runtime.")):
        return "Go syscall entry/exit", None
    base = leaf_sym.split(".")[0]
    if CGO.match(leaf_sym) or leaf_sym in c_funcs() or (base in c_funcs() and "/" not in leaf_sym):
        return "cgo + pyhost C", None
    if leaf_dso.startswith("libc") or leaf_dso == "[vdso]":
        return "libc/vdso", None
    if SCHED.match(leaf_sym) or (leaf_sym.startswith("runtime.") and any(SCHED.match(s) for s in syms[:4])):
        return "Go scheduler, locks, channels", None
    for s in syms:
        if s.startswith(SKIP_PKG):
            continue
        for pfx, name in (("net/http.", "net/http"), ("net/textproto.", "net/http"), ("github.com/uwsgo/uwsgo/server.", "uwsgo server"),
                          ("github.com/uwsgo/uwsgo/hub.", "uwsgo hub (Go)"),
                          ("github.com/uwsgo/uwsgo/pyhost.", "uwsgo pyhost (Go)"),
                          ("github.com/uwsgo/uwsgo/exchange.", "uwsgo exchange"), ("bufio.", "bufio, net, poll"),
                          ("net.", "bufio, net, poll"), ("internal/poll.", "bufio, net, poll")):
            if s.startswith(pfx):
                return name, None
        break
    return "Go runtime, other", None


SYSMON_TIDS = set()  # threads seen running runtime.sysmon


def perf_buckets(data):
    """({bucket: samples}, {syscall: kernel samples}, total samples)."""
    p = subprocess.Popen(["perf", "script", "-i", data, "-F", "tid,ip,sym,dso"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, errors="replace")
    buckets, sysc, total = {}, {}, 0
    frames = []
    tid = [None]

    def flush():
        nonlocal total
        if frames:
            if any(s == "runtime.sysmon" for s, _ in frames):
                SYSMON_TIDS.add(tid[0])
            b, name = classify(frames)
            buckets[b] = buckets.get(b, 0) + 1
            if name:
                sysc[name] = sysc.get(name, 0) + 1
            total += 1

    for line in p.stdout:
        if not line.startswith("\t") and not line.startswith(" " * 4 + " "):
            s = line.strip()
            if not s:
                continue
            if re.match(r"^\d+\s*$", s):  # sample header: tid
                flush()
                frames = []
                tid[0] = int(s)
                continue
        m = re.match(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
            frames.append((sym, os.path.basename(m.group(2))))
    flush()
    p.wait()
    return buckets, sysc, total


def dso_kind(dso):
    if "kernel" in dso:
        return "kernel"
    if "libpython" in dso:
        return "Python"
    if dso.startswith("libc") or dso.startswith("ld-linux"):
        return "libc"
    if dso == "[vdso]":
        return "vdso"
    return "Go + pyhost C"  # the binary itself


def profile_mode(args, tmp, binary, mode):
    S = args.profile_seconds
    port = free_port()
    procs = []
    if mode == "http":
        procs.append((Proc("uwsgo-profile", uwsgo_http(binary, 1, port)), port))
    else:
        up = free_port()
        procs.append((Proc("uwsgo-profile-s", uwsgo_sock(binary, 1, up)), up))
        procs.append((Nginx(1, up, tmp), port))
    res = {"mode": mode}
    started = []
    try:
        pid = start_chain(procs, started, port)
        wrk(port, 2)  # warm up
        # 1. no tracer: rate and CPU per thread
        t0, c0 = thread_ticks(pid), time.monotonic()
        res["plain"] = w = wrk(port, S)
        t1 = thread_ticks(pid)
        hz = os.sysconf("SC_CLK_TCK")
        res["cpu_by_tid"] = {t: (t1.get(t, 0) - t0.get(t, 0)) / hz for t in t1}
        res["threads"] = len(t1)
        # 2. software counters and syscalls
        names = ["task-clock", "context-switches", "cpu-migrations", "page-faults", "raw_syscalls:sys_enter"]
        w, err = under(["perf", "stat", "-e", ",".join(names), "-p", str(pid)], port, S, 0.5)
        res["stat"] = (w, perf_stat_values(err, names))
        # 3. cgo crossings (uprobes; on a private copy of the binary)
        evs = add_probes(binary)
        try:
            if evs:
                full = ["%s:%s" % (PROBE_GROUP, e) for e in evs]
                w, err = under(["perf", "stat", "-e", ",".join(full), "-p", str(pid)], port, S, 0.5)
                res["cgo"] = (w, perf_stat_values(err, full))
        finally:
            del_probes()
        evs = add_probes(binary, RT_PROBES)
        try:
            if evs:
                full = ["%s:%s" % (PROBE_GROUP, e) for e in evs]
                w, err = under(["perf", "stat", "-e", ",".join(full), "-p", str(pid)], port, S, 0.5)
                res["rt"] = (w, perf_stat_values(err, full))
        finally:
            del_probes()
        if mode == "http":
            # one connection: no batching, every request pays the whole hand-off chain
            plain1 = wrk(port, S, 1)
            w, err = under(["perf", "stat", "-e", ",".join(STAT_NAMES), "-p", str(pid)], port, S, 0.5, 1)
            res["c1"] = {"plain": plain1, "stat": (w, perf_stat_values(err, STAT_NAMES))}
            evs = add_probes(binary, PROBES[:2] + PROBES[5:6])
            try:
                if evs:
                    full = ["%s:%s" % (PROBE_GROUP, e) for e in evs]
                    w, err = under(["perf", "stat", "-e", ",".join(full), "-p", str(pid)], port, S, 0.5, 1)
                    res["c1"]["cgo"] = (w, perf_stat_values(err, full))
            finally:
                del_probes()
        # 4. strace -c -f
        if shutil.which("strace"):
            out = os.path.join(tmp, "strace-%s.txt" % mode)
            w, _ = under(["strace", "-c", "-f", "-o", out, "-p", str(pid)], port, S)
            with open(out) as f:
                res["strace"] = (w, parse_strace(f.read()))
        # 5. perf trace -s: per thread, with time in the kernel
        out = os.path.join(tmp, "perftrace-%s.txt" % mode)
        w, _ = under(["perf", "trace", "-s", "-o", out, "-p", str(pid)], port, S)
        with open(out) as f:
            res["trace"] = (w,) + parse_perf_trace(f.read())
        # 6. CPU samples
        data = os.path.join(tmp, "perf-%s.data" % mode)
        w, _ = under(["perf", "record", "-e", "cpu-clock", "-F", "1999", "-g", "-o", data, "-p", str(pid)],
                     port, S, 0.5)
        res["record"] = (w,) + perf_record_report(data)
        res["buckets"] = perf_buckets(data)
        res["pid"] = pid
    except Exception as e:
        res["error"] = "%s: %s" % (e.__class__.__name__, e)
    finally:
        for p in reversed(started):
            p.stop()
    return res


def perf_works():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-e", "task-clock", "true"], capture_output=True, text=True)
    return r.returncode == 0 and "task-clock" in r.stderr


STAT_NAMES = ["task-clock", "context-switches", "raw_syscalls:sys_enter"]


def stat_other(label, mk, nginx, tmp, seconds, conns=50):
    """The same software counters on another server's worker process."""
    port = free_port()
    procs = []
    if nginx:
        up = free_port()
        procs = [(mk(up), up), (Nginx(1, up, tmp), port)]
    else:
        procs = [(mk(port), port)]
    started = []
    try:
        pid = start_chain(procs, started, port)
        wrk(port, 1, conns)
        plain = wrk(port, seconds, conns)
        w, err = under(["perf", "stat", "-e", ",".join(STAT_NAMES), "-p", str(pid)], port, seconds, 0.5, conns)
        return {"label": label, "plain": plain, "stat": (w, perf_stat_values(err, STAT_NAMES)), "conns": conns}
    except Exception as e:
        return {"label": label, "error": "%s: %s" % (e.__class__.__name__, e)}
    finally:
        for p in reversed(started):
            p.stop()


def profile(args, tmp):
    binary = os.path.join(tmp, "uwsgo")  # uprobes want an inode nobody rebuilds meanwhile
    shutil.copy2(args.uwsgo, binary)
    have_perf = shutil.which("perf") is not None
    if not have_perf:
        return {"error": "perf not found (Debian linux-perf)"}
    prof = {m: profile_mode(args, tmp, binary, m) for m in ("http", "nginx")}
    S = args.profile_seconds
    prof["others"] = [
        stat_other("uWSGI sync --http11-socket (1 process)",
                   lambda p: Proc("uwsgi-h11-stat", uwsgi_argv("--http11-socket", None, 1, p)), False, tmp, S),
        stat_other("uWSGI --http-socket --async 100 --ugreen",
                   lambda p: Proc("uwsgi-ugreen-stat", uwsgi_argv("--http-socket", "ugreen", 1, p)), False, tmp, S),
        stat_other("nginx -> uWSGI -s sync",
                   lambda p: Proc("uwsgi-s-stat", uwsgi_argv("--socket", None, 1, p)), True, tmp, S),
        stat_other("uWSGI sync --http11-socket (1 process)",
                   lambda p: Proc("uwsgi-h11-stat1", uwsgi_argv("--http11-socket", None, 1, p)), False, tmp, S, 1),
        stat_other("uWSGI --http-socket --async 100 --ugreen",
                   lambda p: Proc("uwsgi-ugreen-stat1", uwsgi_argv("--http-socket", "ugreen", 1, p)), False, tmp, S, 1),
    ]
    return prof


def per_req(n, w):
    return n / max(w["requests"], 1)


def thread_roles(r):
    """Name the threads: the hub runs Python, sysmon sleeps in usleep."""
    by_tid = r["record"][1]
    sysmon = SYSMON_TIDS
    hub = max(by_tid, key=lambda t: sum(p for d, p in by_tid[t].items() if "libpython" in d), default=None)
    roles = {}
    for t in by_tid:
        roles[t] = "hub (Python)" if t == hub else "sysmon" if t in sysmon else "network (Go)"
    return roles


def profile_lines(prof, seconds):
    if "error" in prof:
        return ["profile: " + prof["error"]]
    modes = [m for m in ("http", "nginx") if m in prof]
    title = {"http": "uwsgo --http-socket, wrk direct", "nginx": "nginx -> uwsgo -s"}
    lines = []
    for m in modes:
        if "error" in prof[m]:
            lines.append("- %s: profile failed: %s" % (title[m], prof[m]["error"]))
    modes = [m for m in modes if "error" not in prof[m]]
    if not modes:
        return lines
    # summary
    lines += ["| per request | " + " | ".join(title[m] for m in modes) + " |", "|---|" + "---|" * len(modes)]

    def row(name, vals):
        lines.append("| %s | %s |" % (name, " | ".join(vals)))

    row("req/s, no tracer (1 worker, wrk -t1 -c50)", ["%.0f" % prof[m]["plain"]["rps"] for m in modes])
    row("CPU time of the worker (task-clock)", ["%.1f µs" % (per_req(prof[m]["stat"][1].get("task-clock", 0), prof[m]["stat"][0]) * 1000)
                                                 for m in modes])
    row("syscalls (raw_syscalls:sys_enter)", ["%.2f" % per_req(prof[m]["stat"][1].get("raw_syscalls:sys_enter", 0),
                                                               prof[m]["stat"][0]) for m in modes])
    row("context switches", ["%.2f" % per_req(prof[m]["stat"][1].get("context-switches", 0), prof[m]["stat"][0])
                             for m in modes])
    if all("cgo" in prof[m] for m in modes):
        row("(cgo run: requests, req/s under uprobes)", ["%d, %.0f" % (prof[m]["cgo"][0]["requests"], prof[m]["cgo"][0]["rps"])
                                                         for m in modes])
    for ev, fn in PROBES:
        key = "%s:%s" % (PROBE_GROUP, ev)
        if all("cgo" in prof[m] and key in prof[m]["cgo"][1] for m in modes):
            row("cgo: %s" % ("`%s` (every Go->C call)" % fn if ev == "cgocall" else
                             "`%s` (C->Go calls)" % fn if ev == "cgocallback" else "`%s()`" % fn),
                ["%.3f" % per_req(prof[m]["cgo"][1][key], prof[m]["cgo"][0]) for m in modes])
    for ev, fn in RT_PROBES:
        key = "%s:%s" % (PROBE_GROUP, ev)
        if all("rt" in prof[m] and key in prof[m]["rt"][1] for m in modes):
            row("Go runtime: `%s` (%s)" % (fn, RT_NOTES[ev]),
                ["%.3f" % per_req(prof[m]["rt"][1][key], prof[m]["rt"][0]) for m in modes])
    others = [o for o in prof.get("others", []) if "error" not in o]
    if others:
        lines += ["", "The same counters on uWSGI 2.0.21's worker process (1 worker), and with one connection "
                  "(`wrk -t1 -c1`: no batching, each request pays every hand-off):", "",
                  "| per request | wrk connections | req/s, no tracer | p50 | CPU time (task-clock) | syscalls | "
                  "context switches |", "|---|---|---|---|---|---|---|"]

        def srow(label, conns, plain, stat):
            w, v = stat
            lines.append("| %s | %d | %.0f | %s | %.1f µs | %.2f | %.2f |" % (
                label, conns, plain["rps"], fmt_ms(plain["p50_ms"]) if plain["p50_ms"] is not None else "-",
                per_req(v.get("task-clock", 0), w) * 1000, per_req(v.get("raw_syscalls:sys_enter", 0), w),
                per_req(v.get("context-switches", 0), w)))
        for m in modes:
            srow("uwsgo, " + title[m], 50, prof[m]["plain"], prof[m]["stat"])
        for o in others:
            if o["conns"] == 50:
                srow(o["label"], 50, o["plain"], o["stat"])
        if "c1" in prof.get("http", {}):
            srow("uwsgo, " + title["http"], 1, prof["http"]["c1"]["plain"], prof["http"]["c1"]["stat"])
        for o in others:
            if o["conns"] == 1:
                srow(o["label"], 1, o["plain"], o["stat"])
        c1 = prof.get("http", {}).get("c1", {})
        if "cgo" in c1:
            w, v = c1["cgo"]
            lines += ["", "uwsgo with one connection, cgo crossings per request: " + ", ".join(
                "`%s` %.2f" % (k.split(":", 1)[1], per_req(x, w)) for k, x in sorted(v.items())) + "."]
    for o in prof.get("others", []):
        if "error" in o:
            lines.append("- %s: %s" % (o["label"], o["error"]))
    # CPU by thread role and object
    lines += ["", "Where the worker's CPU goes (perf record -e cpu-clock, share of the worker's samples; "
              "\"kernel\" is time in syscalls and interrupts):", ""]
    for m in modes:
        roles = thread_roles(prof[m])
        by_tid = prof[m]["record"][1]
        agg = {}
        for t, dsos in by_tid.items():
            for d, p in dsos.items():
                k = (roles[t], dso_kind(d))
                agg[k] = agg.get(k, 0) + p
        cpu_us = per_req(prof[m]["stat"][1].get("task-clock", 0), prof[m]["stat"][0]) * 1000
        kinds = ["kernel", "Go + pyhost C", "Python", "libc", "vdso"]
        lines += ["%s (CPU per request %.1f µs; µs columns apportion it by the samples):" % (title[m], cpu_us), "",
                  "| thread | " + " | ".join(kinds) + " | all | µs/request |", "|---|" + "---|" * (len(kinds) + 2)]
        for role in ("hub (Python)", "network (Go)", "sysmon"):
            tot = sum(v for (r_, k), v in agg.items() if r_ == role)
            if tot == 0:
                continue
            n = sum(1 for t in roles if roles[t] == role)
            lines.append("| %s%s | %s | %.1f%% | %.1f |" % (
                role, " (%d threads)" % n if n > 1 else "",
                " | ".join("%.1f%%" % agg.get((role, k), 0) for k in kinds), tot, tot / 100 * cpu_us))
        lines.append("")
    # CPU by what it does, and kernel time by syscall
    if all("buckets" in prof[m] for m in modes):
        cpu = {m: per_req(prof[m]["stat"][1].get("task-clock", 0), prof[m]["stat"][0]) * 1000 for m in modes}
        for idx, what in ((0, "what the code does"), (1, "syscall (kernel samples, by the syscall they are in)")):
            names = set()
            for m in modes:
                names |= set(prof[m]["buckets"][idx])
            order = sorted(names, key=lambda k: -max(prof[m]["buckets"][idx].get(k, 0) / max(prof[m]["buckets"][2], 1)
                                                     for m in modes))
            lines += ["CPU per request by %s: µs (share of the worker's samples)%s:" % (
                what, "" if idx == 0 else "; write/read of the hub's eventfd shown apart"), "",
                "| %s | %s |" % ("bucket" if idx == 0 else "syscall", " | ".join(title[m] for m in modes)),
                "|---|" + "---|" * len(modes)]
            for k in order:
                vals = []
                for m in modes:
                    sh = prof[m]["buckets"][idx].get(k, 0) / max(prof[m]["buckets"][2], 1)
                    vals.append("%.1f (%.1f%%)" % (sh * cpu[m], sh * 100))
                if max(prof[m]["buckets"][idx].get(k, 0) / max(prof[m]["buckets"][2], 1) for m in modes) < 0.003:
                    continue
                lines.append("| %s | %s |" % (k, " | ".join(vals)))
            if idx == 0:
                lines.append("| **all** | %s |" % " | ".join("%.1f" % cpu[m] for m in modes))
            lines.append("")
    # syscalls by name
    cols = []
    for m in modes:
        if "strace" in prof[m]:
            cols.append(("%s, strace -c -f" % title[m], prof[m]["strace"][0], prof[m]["strace"][1], None))
        if "trace" in prof[m]:
            w, calls, msec, _ = prof[m]["trace"]
            cols.append(("%s, perf trace -s" % title[m], w, calls, msec))
    if cols:
        names = set()
        for _, _, c, _ in cols:
            names |= set(c)
        order = sorted(names, key=lambda k: -max(per_req(c.get(k, 0), w) for _, w, c, _ in cols))
        lines += ["Syscalls per request by name, all threads of the worker. strace counts every call; "
                  "perf trace drops events when the server runs fast (its totals are a lower bound: compare "
                  "raw_syscalls above), but it gives the mean time per call in the kernel, blocking "
                  "included, with tracing overhead:", ""]
        lines.append("| syscall | " + " | ".join(c[0] for c in cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for k in order:
            vals = []
            for _, w, c, ms in cols:
                v = "%.2f" % per_req(c.get(k, 0), w)
                if ms is not None and c.get(k):
                    v += " (%.1f µs)" % (ms.get(k, 0) * 1000 / c[k])
                vals.append(v)
            if max(per_req(c.get(k, 0), w) for _, w, c, _ in cols) < 0.005:
                continue
            lines.append("| %s | %s |" % (k, " | ".join(vals)))
        lines.append("| **total** | %s |" % " | ".join("%.2f" % per_req(sum(c.values()), w) for _, w, c, _ in cols))
        lines.append("| (requests seen) | %s |" % " | ".join("%d at %.0f req/s" % (w["requests"], w["rps"])
                                                           for _, w, _, _ in cols))
        # per thread role, from perf trace
        for m in modes:
            if "trace" not in prof[m]:
                continue
            roles = thread_roles(prof[m])
            w, _, _, per_tid = prof[m]["trace"]
            agg = {}
            for t, calls in per_tid.items():
                role = roles.get(t, "network (Go)")
                for k, v in calls.items():
                    agg.setdefault(role, {})
                    agg[role][k] = agg[role].get(k, 0) + v
            parts = []
            for role, calls in sorted(agg.items()):
                top = sorted(calls.items(), key=lambda kv: -kv[1])[:5]
                parts.append("%s: %s" % (role, ", ".join("%s %.2f" % (k, per_req(v, w)) for k, v in top)))
            lines += ["", "%s, syscalls per request by thread (perf trace): %s." % (title[m], "; ".join(parts))]
    return lines


def top_symbol_lines(prof):
    """Printed, not appended to RESULTS.md (long, and it changes with every build)."""
    lines = []
    for m in ("http", "nginx"):
        if m in prof and "record" in prof[m]:
            syms = prof[m]["record"][3][:30]
            lines += ["", "%s, top symbols (perf record, %% of the worker's samples):" % m, ""]
            lines += ["%6.2f%%  %s" % (p, s) for p, s in syms]
    return lines


# --------------------------------------------------------------------- main

# engine rows: (uwsgo's label, uWSGI's label)
ENGINE_ROWS = {"greenlet": ("engines: uwsgo --http-socket --async 100 --greenlet",
                            "engines: uWSGI --http-socket --async 100 --greenlet"),
               "gevent": ("engines: uwsgo --http-socket --gevent 100", "engines: uWSGI --http-socket --gevent 100")}


def ratio_line(lines, what, n, me, others):
    """uwsgo's req/s over the best of others (and the best that serves every connection)."""
    if not me or not others:
        return
    best = max(others, key=lambda r: r["rps"])
    line = "- %s, %d worker%s: uwsgo %.0f req/s / best other (%s) %.0f req/s = **%.2f**" % (
        what, n, "s" if n > 1 else "", me[0]["rps"], best["label"], best["rps"],
        me[0]["rps"] / best["rps"] if best["rps"] else 0)
    fair = [r for r in others if r["fair"]]
    if not best["fair"] and fair:
        bf = max(fair, key=lambda r: r["rps"])
        line += "; against the best that serves every connection (%s, %.0f req/s): **%.2f**" % (
            bf["label"], bf["rps"], me[0]["rps"] / bf["rps"])
    lines.append(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--markdown")
    ap.add_argument("--only", help="run only rows whose label contains this")
    ap.add_argument("--profile", action="store_true", help="also profile uwsgo (strace, perf)")
    ap.add_argument("--profile-seconds", type=int, default=3)
    ap.add_argument("--no-http", action="store_true", help="skip the side-by-side table")
    args = ap.parse_args()
    args.uwsgo = os.path.abspath(args.uwsgo)
    for tool in ("wrk", "uwsgi", "gunicorn", "nginx"):
        if not shutil.which(tool):
            print("http_bench: %s not found (make deps installs it)" % tool, file=sys.stderr)

    tmp = tempfile.mkdtemp(prefix="uwsgo-http-bench-")
    TMPDIRS.append(tmp)  # removed at exit (BENCH_KEEP_TMP=1 keeps it: perf data, strace output)
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
        print("%-51s %d %7.0f req/s  p99 %-8s %-28s probe %-14s q %-3d %s" % (
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
            # other engines: a kind of their own, so the ugreen ratios above stay as they were
            for eng in ("greenlet", "gevent"):
                add(ENGINE_ROWS[eng][0], n,
                    lambda p, n=n, eng=eng: Proc("uwsgo-" + eng, uwsgo_http(args.uwsgo, n, p, eng)), "engines")
                add(ENGINE_ROWS[eng][1], n,
                    lambda p, n=n, eng=eng: Proc("uwsgi-" + eng, uwsgi_argv("--http-socket", eng, n, p)), "engines")
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
                  "--disable-logging`; \"engines:\" rows swap `--async 100 --ugreen` for `--async 100 "
                  "--greenlet` or `--gevent 100` (uWSGI: plugin `greenlet_python3` or `gevent_python3`), "
                  "direct HTTP; gunicorn 20.1: `-w N [-k gevent]`; nginx 1.22 (nginx-light): "
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
        for kind, mine in (("http", "uwsgo"), ("nginx", "nginx -> uwsgo")):
            for n in sorted({r["workers"] for r in rows}):
                me = [r for r in rows if r["kind"] == kind and r["workers"] == n and r["label"].startswith(mine)]
                others = [r for r in rows if r["kind"] == kind and r["workers"] == n and r["ok"]
                          and not r["label"].startswith(mine)]
                ratio_line(lines, "direct HTTP" if kind == "http" else "through nginx", n, me, others)
        # each engine against the same engine elsewhere (gevent: gunicorn's gevent worker too)
        for eng, theirs in (("greenlet", ENGINE_ROWS["greenlet"][1:]),
                            ("gevent", ENGINE_ROWS["gevent"][1:] + ("gunicorn -k gevent",))):
            for n in sorted({r["workers"] for r in rows}):
                me = [r for r in rows if r["workers"] == n and r["label"] == ENGINE_ROWS[eng][0]]
                others = [r for r in rows if r["workers"] == n and r["ok"] and r["label"] in theirs]
                ratio_line(lines, "direct HTTP, %s engine" % eng, n, me, others)
    extra = []
    if args.profile and not perf_works():
        lines += ["", "(profile skipped: `perf stat -e task-clock` does not work here; it needs Debian's "
                  "linux-perf and root or kernel.perf_event_paranoid <= 0)"]
    elif args.profile:
        prof = profile(args, tmp)
        extra = top_symbol_lines(prof)
        lines += ["", "### uwsgo per-request profile, hello world (%s, %s)" % (now, machine()), "",
                  "Command: `bench/http_bench.py --profile` (interpretation: bench/PROFILE.md). One worker, "
                  "`--async 100 --ugreen`; each tool watches it during its own %d s `wrk -t1 -c50` run: tracers "
                  "slow the server, so compare counts per request, not rates. The VM has no hardware counters "
                  "(`perf stat -e instructions` is not supported): CPU time is task-clock, samples are "
                  "cpu-clock. cgo crossings are counted with uprobes." % args.profile_seconds, ""]
        lines += profile_lines(prof, args.profile_seconds)
    table = "\n".join(lines)
    print("\n".join(extra))
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")


def run():
    try:
        return main()
    finally:
        del_probes() if shutil.which("perf") else None
        if not os.environ.get("BENCH_KEEP_TMP"):
            for d in TMPDIRS:
                shutil.rmtree(d, ignore_errors=True)


TMPDIRS = []

if __name__ == "__main__":
    sys.exit(run())
