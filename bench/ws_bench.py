#!/usr/bin/python3
"""Many WebSockets in one worker: N concurrent connections (5 000 by
default) to an echo app (bench/apps/ws_echo.py, uWSGI's websocket API),
each sending a message every second for D seconds (30) and checking the
echo; then all of them held open and silent for I seconds (10).

Servers, one at a time in the same run, one worker under a master each:
  uwsgo --async N --ugreen          (websocket_recv parks the core)
  uwsgo --gevent N
  uWSGI 2.0.21 --gevent N           (Debian's, --plugin python3,gevent_python3)

The clients are Debian's python3-websockets (asyncio) in P processes (2),
N/P connections each, no client pings, each connection's sends spread
over the second. Reported per server: connections made and still open at
the end, messages echoed (and wrong or missing ones), the echo round trip
(p50, p99), the worker's RSS before the clients, with all connections
open, and its growth per connection, the worker's CPU (% of one core)
while echoing and while idle, and the clients' CPU while echoing (to see
that they were not the bottleneck).

Usage: bench/ws_bench.py [--uwsgo bin/uwsgo] [--conns 5000] [--duration 30]
                         [--idle 10] [--procs 2] [--rounds 1] [--only SUBSTRING]
                         [--markdown FILE]
"""
import argparse
import asyncio
import collections
import datetime
import gc
import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
import time

from benchlib import free_port, machine, stop_group, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APP = os.path.join(HERE, "apps", "ws_echo.py")
BACKLOG = 4096
TICK = os.sysconf("SC_CLK_TCK")
GRACE = 10          # seconds an echo may take


# ---------------------------------------------------------------- client side

class EchoClient(asyncio.Protocol):
    """One WebSocket: python3-websockets' Sans-I/O ClientConnection (the
    handshake, framing, masking, close, answering pings) on an asyncio
    Protocol. Its asyncio client costs several coroutine hops per message;
    with thousands of connections in one process they, not the server,
    would set the round trip."""

    def __init__(self, loop, url):
        from websockets.client import ClientConnection
        from websockets.uri import parse_uri

        self.loop = loop
        self.conn = ClientConnection(parse_uri(url), max_size=None)
        self.opened = loop.create_future()
        self.closed = loop.create_future()
        self.on_text = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.conn.send_request(self.conn.connect())
        self.flush()

    def flush(self):
        for data in self.conn.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def data_received(self, data):
        from websockets.connection import OPEN
        from websockets.frames import Opcode
        from websockets.http11 import Response

        self.conn.receive_data(data)
        for ev in self.conn.events_received():
            if isinstance(ev, Response):
                if self.conn.state is OPEN:
                    self.opened.set_result(True)
                else:
                    self.opened.set_exception(ConnectionError("handshake refused: %s" % ev.status_code))
            elif ev.opcode is Opcode.TEXT and self.on_text:
                self.on_text(ev.data)
        self.flush()

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(exc)

    @property
    def open(self):
        from websockets.connection import OPEN
        return not self.closed.done() and self.conn.state is OPEN

    def send(self, text):
        self.conn.send_text(text)
        self.flush()

    async def close(self):
        if self.open:
            self.conn.send_close(1000)
            self.flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), 5)
        except asyncio.TimeoutError:
            self.transport.abort()


async def client_main(port, n, duration, first, total):
    loop = asyncio.get_running_loop()
    url = "ws://127.0.0.1:%d/ws" % port

    async def connect():
        _, c = await loop.create_connection(lambda: EchoClient(loop, url), "127.0.0.1", port)
        await asyncio.wait_for(c.opened, 30)
        return c

    conns, failed = [], 0
    t0 = time.monotonic()
    for start in range(0, n, 100):     # a batch at a time: within the listen queue
        res = await asyncio.gather(*(connect() for _ in range(start, min(start + 100, n))),
                                   return_exceptions=True)
        for r in res:
            if isinstance(r, Exception):
                failed += 1
            else:
                conns.append(r)
    report({"connected": len(conns), "failed": failed, "secs": time.monotonic() - t0})

    # The connections' objects are there to stay: keep the collector's full
    # passes over them (long pauses with thousands of connections) out of
    # the round trips.
    gc.collect()
    gc.freeze()
    await loop.run_in_executor(None, sys.stdin.readline)   # "echo"
    stats = {"sent": 0, "echoed": 0, "wrong": 0, "missing": 0, "errors": 0}
    rtts = []
    begin = loop.time()

    async def one(i, c):
        # The sends keep their schedule whatever the echoes do; the echoes
        # come back in order, so each is checked against the oldest one
        # outstanding.
        at = begin + (first + i) / total      # all clients' sends spread over the second
        waiting = collections.deque()
        back = 0
        all_back = loop.create_future()

        def on_text(got):
            nonlocal back
            if not waiting:
                stats["wrong"] += 1
                return
            msg, t = waiting.popleft()
            rtts.append(loop.time() - t)
            back += 1
            stats["echoed" if got == msg else "wrong"] += 1
            if back == duration and not all_back.done():
                all_back.set_result(None)

        c.on_text = on_text
        for k in range(duration):
            delay = at + k - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not c.open:
                stats["errors"] += 1
                break
            msg = b"%d:%d" % (first + i, k)
            waiting.append((msg, loop.time()))
            c.send(msg)
            stats["sent"] += 1
        # the last echo has GRACE seconds to come back
        await asyncio.wait([all_back, c.closed], timeout=GRACE, return_when=asyncio.FIRST_COMPLETED)
        c.on_text = None
        stats["missing"] += duration - back

    async def lag():
        # how late this loop runs a 10 ms timer: the client's own delay
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - t - 0.01)

    lags = []
    watch = asyncio.ensure_future(lag())
    await asyncio.gather(*(one(i, c) for i, c in enumerate(conns)))
    watch.cancel()
    lags.sort()
    rtts.sort()
    stats["lag"] = [lags[int(q * (len(lags) - 1))] for q in (0.5, 0.99)] if lags else None
    stats["rtts"] = [rtts[int(q * (len(rtts) - 1))] for q in (0.5, 0.99)] if rtts else None
    stats["cpu"] = cpu_secs(os.getpid())
    report(stats)

    await loop.run_in_executor(None, sys.stdin.readline)   # "close"
    still = sum(1 for c in conns if c.open)
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    report({"open_at_end": still})


def report(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- measuring

def cpu_secs(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


class Clients:
    """P client processes, driven by lines on their stdin and stdout."""

    def __init__(self, port, conns, procs, duration):
        self.procs = []
        share = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
        first = 0
        for n in share:
            self.procs.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--client", str(port), str(n), str(duration), str(first),
                 str(conns)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            first += n

    def read(self, timeout):
        """One JSON line from each client process."""
        out = []
        deadline = time.monotonic() + timeout
        for p in self.procs:
            left = deadline - time.monotonic()
            if not select.select([p.stdout], [], [], max(0, left))[0]:
                raise RuntimeError("a client process said nothing in %g s" % timeout)
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("a client process exited (code %s)" % p.wait())
            out.append(json.loads(line))
        return out

    def tell(self, word):
        for p in self.procs:
            p.stdin.write(word + "\n")
            p.stdin.flush()

    def cpu(self):
        return sum(cpu_secs(p.pid) for p in self.procs)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def run_one(label, argv, port, args):
    row = {"label": label}
    row["log"] = "/tmp/bench-ws-%s.log" % re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
    log = open(row["log"], "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=REPO, start_new_session=True)
    clients = None
    try:
        wait_port(port, proc, timeout=30)
        time.sleep(1.0)
        kids = children(proc.pid)
        if len(kids) != 1:
            raise RuntimeError("expected one worker under the master, found %s" % kids)
        worker = kids[0]
        row["base"] = status_kib(worker, "VmRSS")

        clients = Clients(port, args.conns, args.procs, args.duration)
        made = clients.read(120)
        row["connected"] = sum(m["connected"] for m in made)
        row["connect_failed"] = sum(m["failed"] for m in made)
        row["connect_secs"] = max(m["secs"] for m in made)
        time.sleep(1.0)
        row["held"] = status_kib(worker, "VmRSS")

        c0, k0, t0 = cpu_secs(worker), clients.cpu(), time.monotonic()
        clients.tell("echo")
        echoed = clients.read(args.duration + GRACE + 30)
        c1, k1, t1 = cpu_secs(worker), clients.cpu(), time.monotonic()
        row["echo_cpu"] = 100.0 * (c1 - c0) / (t1 - t0)
        row["client_cpu"] = 100.0 * (k1 - k0) / (t1 - t0)
        for k in ("sent", "echoed", "wrong", "missing", "errors"):
            row[k] = sum(e[k] for e in echoed)
        rtts = [e["rtts"] for e in echoed if e["rtts"]]
        row["p50"] = max(r[0] for r in rtts) if rtts else None
        row["p99"] = max(r[1] for r in rtts) if rtts else None
        lags = [e["lag"] for e in echoed if e["lag"]]
        row["lag"] = max(r[1] for r in lags) if lags else None

        time.sleep(1.0)      # the last echoes settle
        c0, t0 = cpu_secs(worker), time.monotonic()
        time.sleep(args.idle)
        c1, t1 = cpu_secs(worker), time.monotonic()
        row["idle_cpu"] = 100.0 * (c1 - c0) / (t1 - t0)
        row["after"] = status_kib(worker, "VmRSS")
        row["hwm"] = status_kib(worker, "VmHWM")

        clients.tell("close")
        row["open_at_end"] = sum(e["open_at_end"] for e in clients.read(60))
        row["alive"] = proc.poll() is None and os.path.exists("/proc/%d" % worker)
    except Exception as e:  # noqa: BLE001 - a failed row is reported, the others still run
        row["error"] = (str(e) or e.__class__.__name__)[:100]
    finally:
        if clients:
            clients.stop()
        stop_group(proc, signal.SIGINT, 15)
        log.close()
    return row


def uwsgo_argv(binary, engine, n, port):
    return [binary, "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", APP, *engine(n),
            "--disable-logging", "--listen", str(BACKLOG), "-M", "-p", "1"]


def uwsgi_argv(n, port):
    return ["uwsgi", "--plugin", "python3,gevent_python3", "--http-socket", "127.0.0.1:%d" % port,
            "--wsgi-file", APP, "--gevent", str(n), "--disable-logging", "--listen", str(BACKLOG),
            "--master", "--processes", "1"]


def mib(k):
    return "%.1f" % (k / 1024.0)


def failures(r, n, duration):
    if "error" in r:
        return "fails: " + r["error"]
    parts = []
    if r["connected"] < n:
        parts.append("%d connections not made" % (n - r["connected"]))
    for k in ("wrong", "missing", "errors"):
        if r[k]:
            parts.append("%s %d" % (k, r[k]))
    if r["open_at_end"] < r["connected"]:
        parts.append("%d connections dropped" % (r["connected"] - r["open_at_end"]))
    if not r["alive"]:
        parts.append("worker dead at the end")
    return ", ".join(parts) or "none"


def md_row(r, n, duration):
    if "error" in r:
        return "| %s |%s %s |" % (r["label"], " - |" * 12, failures(r, n, duration))
    ms = lambda s: "%.1f" % (s * 1000) if s is not None else "-"
    return "| %s | %d/%d | %d/%d | %s / %s | %s | %s | %s / %s | %.1f | %.1f | %.1f | %s | %.2f | %.1f | %s |" % (
        r["label"], r["open_at_end"], n, r["echoed"], n * duration, ms(r["p50"]), ms(r["p99"]),
        mib(r["base"]), mib(r["held"]), mib(r["after"]), mib(r["hwm"]), (r["held"] - r["base"]) / max(1, r["connected"]),
        r["echo_cpu"], r["client_cpu"], ms(r["lag"]), r["idle_cpu"], r["connect_secs"], failures(r, n, duration))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", nargs=5, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--conns", type=int, default=5000)
    ap.add_argument("--duration", type=int, default=30, help="seconds (messages) of echo per connection")
    ap.add_argument("--idle", type=float, default=10, help="seconds held open and silent")
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--rounds", type=int, default=1, help="run the servers in turn this many times")
    ap.add_argument("--only")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    if args.client:
        asyncio.run(client_main(*args.client))
        return 0
    args.uwsgo = os.path.abspath(args.uwsgo)

    # the server holds conns sockets, each client process conns/procs
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.conns + 200
    if soft < need:
        soft = min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft < need:
        print("ws_bench: open-file limit %d is below %d (ulimit -Hn)" % (soft, need), file=sys.stderr)
        return 1

    n, d = args.conns, args.duration
    runs = [
        ("uwsgo --async %d --ugreen" % n, lambda p: uwsgo_argv(args.uwsgo, lambda n: ["--async", n, "--ugreen"], n, p)),
        ("uwsgo --gevent %d" % n, lambda p: uwsgo_argv(args.uwsgo, lambda n: ["--gevent", n], n, p)),
        ("uWSGI 2.0 --gevent %d" % n, lambda p: uwsgi_argv(n, p)),
    ]
    rows = []
    for rnd in range(args.rounds):
        for label, argv_fn in runs:
            if args.only and args.only not in label:
                continue
            port = free_port()
            argv = [str(a) for a in argv_fn(port)]
            row = run_one(label, argv, port, args)
            if args.rounds > 1:
                row["label"] += " (round %d)" % (rnd + 1)
            rows.append(row)
            print(md_row(row, n, d), flush=True)

    lines = ["", "### %d WebSockets in one worker (%s, %s)" % (n, datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                                                             machine()),
             "",
             "Command: `bench/ws_bench.py --conns %d --duration %d --idle %g --procs %d --rounds %d` (open-file limit %d). "
             "App: bench/apps/ws_echo.py (`websocket_recv()` then `websocket_send()`). One worker under a master "
             "(`-M -p 1`; uWSGI `--master --processes 1`), `--listen %d --disable-logging`. Clients: python3-websockets "
             "10.4 (its Sans-I/O connection on asyncio) in %d processes on the same 2 cores, no pings; every connection sends one message a "
             "second for %d s and waits for its echo. Open: connections still open at the end of all that. RSS: the "
             "worker's VmRSS before the clients and with all of them connected; per connection = the difference / "
             "connections. CPU: the worker's user+system time over wall time (100 = one core) while echoing (%d "
             "messages/s in all) and while the connections are held open and silent (%g s); clients: both client "
             "processes together while echoing, and how late their event loops ran a 10 ms timer (p99, the worse of the two): a client that keeps up has a small lag. RSS after echoing: VmRSS once the echoes are done and the connections idle; peak: VmHWM. With --rounds R the servers take turns R times, so that a change in the machine's load shows as a difference between rounds." % (n, d, args.idle, args.procs, args.rounds, soft, BACKLOG, args.procs, d, n,
                                                    args.idle),
             "",
             "| server | open at the end | echoed | round trip p50 / p99 (ms) | RSS before (MiB) | RSS, all connected (MiB) "
             "| RSS after echoing / peak (MiB) | KiB per connection | worker CPU echoing (%) | clients' CPU echoing (%) "
             "| clients' loop lag p99 (ms) | worker CPU idle (%) | connect all (s) | failures |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [md_row(r, n, d) for r in rows]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
