#!/usr/bin/env python3
"""Locks and caches: what a call costs from Python, uwsgo against Debian's
uWSGI 2.0.21 in the same run.

    bench/shm_bench.py [--uwsgo bin/uwsgo] [--calls 200000]

Each server runs tests/apps/api_shm_app.py with 4 workers under a master,
--locks 1 and one cache. For each operation (cache_inc on one key,
cache_get of a 64-byte value, cache_update of one, lock(1)+unlock(1)) it
times a loop of --calls calls inside one request (one worker alone), then
4 such requests at once (one per worker, all on the same key or lock), and
prints nanoseconds per call (the mean of the requests' own clocks). After
the inc rows it checks the counter: nothing may be lost.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APP = os.path.join(REPO, "tests", "apps", "api_shm_app.py")
sys.path.insert(0, HERE)
from benchlib import free_port, machine  # noqa: E402


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=120) as r:
        return json.loads(r.read())


def start(argv, port):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 15
    while True:
        try:
            get(port, "/ping")
            return p
        except OSError:
            if time.monotonic() > deadline or p.poll() is not None:
                raise SystemExit("%s did not start" % argv[0])
            time.sleep(0.1)


def per_call(rs, n):
    return sum(r["end"] - r["start"] for r in rs) / len(rs) / n * 1e9


def run(kind, argv, calls):
    port = free_port()
    p = start(argv + ["--http-socket", "127.0.0.1:%d" % port], port)
    rows, incs = [], 0
    try:
        for op in ("inc", "get", "update", "lock"):
            alone = per_call([get(port, "/loop?op=%s&n=%d" % (op, calls))], calls)
            n = 1
            # 4 at once, until the 4 ran on the 4 workers (their pids)
            for _ in range(20):
                with ThreadPoolExecutor(4) as ex:
                    rs = list(ex.map(lambda _: get(port, "/loop?op=%s&n=%d" % (op, calls)), range(4)))
                n += 4
                if len({r["pid"] for r in rs}) == 4:
                    break
            if op == "inc":
                incs = n * calls
            rows.append((op, alone, per_call(rs, calls), len({r["pid"] for r in rs})))
        num = get(port, "/call?fn=cache_num&args=%5B%22bench-n%22%5D")
        num = "%s of %d" % (num[1], incs)
    finally:
        os.killpg(p.pid, 9)
        p.wait()
    return rows, num


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--calls", type=int, default=200000)
    a = ap.parse_args()
    common = ["--wsgi-file", APP, "--master", "--processes", "4", "--locks", "1",
              "--cache2", "name=b,items=100,blocksize=128", "--disable-logging"]
    print(machine())
    print("ns per call from Python, %d calls per request" % a.calls)
    print("| server | op | 1 worker | 4 workers at once (pids) |")
    print("|---|---|---|---|")
    for kind, base in (("uwsgo", [a.uwsgo]), ("uWSGI 2.0.21", ["/usr/bin/uwsgi", "--plugin", "python3"])):
        rows, num = run(kind, base + common, a.calls)
        for op, alone, together, pids in rows:
            print("| %s | %s | %.0f | %.0f (%d) |" % (kind, op, alone, together, pids))
        print("| %s | counter after the inc rows | %s | |" % (kind, num))


if __name__ == "__main__":
    main()
