#!/usr/bin/python3
"""Scale-out across hosts: the scenario of tests/test_multihost.py (three
uwsgo hosts in network namespaces behind nginx; under wrk load, SIGKILL a
host's master, restart it, then a rolling SIGHUP reload), with the numbers:
failed requests, requests nginx retried on another host, and the
throughput in each phase and in its worst 250 ms, against the steady rate
before the first event.

Usage: bench/multihost_bench.py [--uwsgo bin/uwsgo] [--settle 3] [--markdown FILE]
Needs root, iproute2, nginx, wrk.
"""
import argparse
import datetime
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "python"))

from test_multihost import scenario  # noqa: E402

from benchlib import machine  # noqa: E402

BUCKET = 0.25


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--settle", type=float, default=3.0, help="seconds of steady load between events")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="uwsgo-multihost-bench-")
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    try:
        totals, events, rows, _ = scenario(os.path.abspath(args.uwsgo), tmp, settle=args.settle)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with open("/proc/loadavg") as f:
        load_after = " ".join(f.read().split()[:3])
    ok = sorted(t for t, st, _ in rows if st == "200")
    failed = [r for r in rows if r[1] != "200"]
    retried = sum(1 for r in rows if r[2])
    t0 = events[0][1]

    def rate(a, b):
        n = sum(1 for t in ok if a <= t < b)
        return n / (b - a) if b > a else 0.0

    def worst(a, b):
        rates = []
        t = a
        while t + BUCKET <= b:
            rates.append(rate(t, t + BUCKET))
            t += BUCKET
        return min(rates) if rates else 0.0

    at = dict((name, t) for name, t in events)
    phases = [("steady", at["load starts"] + 0.5, at["SIGKILL host 1's master"]),
              ("host 1 killed, until it serves again", at["SIGKILL host 1's master"], at["host 1 serves"]),
              ("steady, host 1 back", at["host 1 serves"], at["SIGHUP host 1"]),
              ("rolling reload (SIGHUP host 1, 2, 3, each once the previous serves)", at["SIGHUP host 1"],
               at["host %d reloaded" % 3]),
              ("steady, after", at["host 3 reloaded"], at["load stops"])]
    steady = rate(phases[0][1], phases[0][2])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["", "### Scale-out: three uwsgo hosts behind nginx (%s, %s)" % (now, machine()), "",
           "Command: `make bench` (bench/multihost_bench.py; the scenario of tests/test_multihost.py). Three "
           "network namespaces, each `uwsgo --master --processes 2 -s 10.231.K.2:3031` (tests/apps/basic.py "
           "/hello), nginx 1.22 in a fourth (`worker_processes 1`, the three in one upstream, "
           "`uwsgi_next_upstream error timeout`), `wrk -t1 -c16` from there; %.0f s of steady load between "
           "events. All on the same 2 cores, load average before %s, after %s. Rates from nginx's access "
           "log ($msec, status 200), per phase and in the phase's worst %d ms." % (
               args.settle, load_before, load_after, BUCKET * 1000), "",
           "| phase | from (s) | to (s) | req/s | worst %d ms (req/s) | worst / steady |" % (BUCKET * 1000),
           "|---|---|---|---|---|---|"]
    for name, a, b in phases:
        r, w = rate(a, b), worst(a, b)
        out.append("| %s | %.1f | %.1f | %.0f | %.0f | %.2f |" % (name, a - t0, b - t0, r, w,
                                                                w / steady if steady else 0))
    out += ["", "- requests: %d (wrk), non-2xx %d, socket errors %d; nginx logged %d failures; "
            "%d requests retried on another host (uwsgi_next_upstream)" % (
                totals["requests"], totals["non2xx"], totals["errors"], len(failed), retried)]
    text = "\n".join(out)
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text + "\n")
    return 1 if failed or totals["non2xx"] or totals["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
