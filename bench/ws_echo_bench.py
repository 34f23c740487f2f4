#!/usr/bin/env python3
"""WebSocket echo: C clients at once, each sending M messages and waiting
for each echo, against uwsgo (--async N --ugreen, --gevent N) and Debian's
uWSGI 2.0.21 (--gevent N) in the same run, with tests/apps/wsapp.py's
/echo (uwsgi.websocket_recv/websocket_send).

    bench/ws_echo_bench.py [--uwsgo bin/uwsgo] [--clients 300] [--messages 20] [--rounds 3]

Prints the wall time of each round (the clients are Debian's
python3-websockets in one asyncio loop, so they cost CPU of their own on
the same machine: compare the rows, not the absolute numbers).
"""
import argparse
import asyncio
import os
import subprocess
import sys
import time
import urllib.request

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APPS = os.path.join(REPO, "tests", "apps")
sys.path.insert(0, HERE)
from benchlib import free_port, machine  # noqa: E402


def start(argv, port):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         cwd=APPS)
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/hello" % port, timeout=5) as r:
                r.read()
            return p
        except OSError:
            if time.monotonic() > deadline or p.poll() is not None:
                raise SystemExit("%s did not start" % argv[0])
            time.sleep(0.1)


async def session(url, i, n):
    async with websockets.connect(url, open_timeout=60, close_timeout=10, ping_interval=None) as ws:
        for j in range(n):
            m = "%d-%d" % (i, j)
            await ws.send(m)
            if await ws.recv() != m:
                raise SystemExit("wrong echo")


async def round_(url, clients, n):
    t0 = time.monotonic()
    await asyncio.gather(*[session(url, i, n) for i in range(clients)])
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--clients", type=int, default=300)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    cores = str(a.clients + 100)
    app = ["-w", "wsapp", "--pythonpath", APPS, "--disable-logging"]
    servers = [
        ("uwsgo --async %s --ugreen" % cores, [a.uwsgo, *app, "--async", cores, "--ugreen"]),
        ("uwsgo --gevent %s" % cores, [a.uwsgo, *app, "--gevent", cores]),
        ("uWSGI 2.0.21 --gevent %s" % cores,
         ["uwsgi", "--plugin", "python3", "--plugin", "gevent_python3", *app, "--gevent", cores]),
    ]
    print(machine())
    print("%d clients x %d messages, %d rounds (seconds per round)" % (a.clients, a.messages, a.rounds))
    for name, argv in servers:
        port = free_port()
        p = start(argv + ["--http-socket", "127.0.0.1:%d" % port], port)
        try:
            times = [asyncio.run(round_("ws://127.0.0.1:%d/echo" % port, a.clients, a.messages))
                     for _ in range(a.rounds)]
        finally:
            p.send_signal(2)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        print("%-32s %s" % (name, "  ".join("%.2f" % t for t in times)))


if __name__ == "__main__":
    main()
