#!/usr/bin/python3
"""uwsgo on each Python: suspend cost and hello-world throughput.

For the host's Python (bin/uwsgo) and for each Debian root that
tests/pythons/mkroot.sh makes (trixie: 3.13, forky: 3.14; the binary is
built there as bin/uwsgo-py3.X): nanoseconds per uwsgi.suspend() under
--ugreen with the fast switch, 1 and 10 requests in flight (as in
bench/suspend_bench.py), and hello-world req/s (wrk -t1 -c50, --async 100
--ugreen, one worker, as in bench/http_bench.py).

Then Debian 13's own uWSGI (with its python3, ugreen, greenlet and gevent
plugins) inside the trixie root, on the nested-suspend view of
tests/apps/green_semantics.py: what it answers, how it exits, the last
lines of its log.

Usage (as root, from the repository):
  bench/pythons_bench.py [--markdown FILE] [--roots trixie,forky] [--duration S]
  bench/pythons_bench.py --one BINARY [--duration S]     (one Python, JSON line)
  bench/pythons_bench.py --uwsgi-nested                  (inside trixie, JSON line)
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from benchlib import free_port, stop_group, wait_port
import http_bench
import suspend_bench

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RUN_IN = os.path.join(REPO, "tests", "pythons", "run-in.sh")
NESTED_APP = os.path.join(REPO, "tests", "apps", "green_semantics.py")


def python_of(binary):
    """The 'Python version:' line of the binary's banner (it starts, then stops)."""
    port = free_port()
    p = subprocess.Popen([binary, "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", suspend_bench.APP],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        wait_port(port, p)
    finally:
        stop_group(p, signal.SIGINT, 10)
    out = p.stdout.read().decode("latin-1")
    m = re.search(r"^Python version: (\S+)", out, re.M)
    return m.group(1) if m else "unknown"


def measure_one(binary, duration):
    """ns per suspend (fast switch) and hello req/s for one binary."""
    r = {"python": python_of(binary), "binary": os.path.relpath(binary, REPO)}
    srv = suspend_bench.Server("uwsgo-py", suspend_bench.uwsgo_argv(binary, "--ugreen", "--ugreen-switch", "fast"))
    srv.start(16)
    try:
        r["ns1"] = suspend_bench.ns_per_switch(srv, 1, "suspend")
        r["ns10"] = suspend_bench.ns_per_switch(srv, 10, "suspend")
    finally:
        srv.stop()
    port = free_port()
    proc = http_bench.Proc("uwsgo-hello", http_bench.uwsgo_http(binary, 1, port))
    proc.start(port)
    try:
        http_bench.wrk(port, 1)  # warm up
        w = http_bench.wrk(port, duration)
    finally:
        proc.stop()
    errors = w["non2xx"] + w["connect"] + w["read"] + w["write"] + w["timeout"]
    r["rps"] = w["rps"] if errors == 0 and w["requests"] > 0 else None
    r["rps_errors"] = errors
    return r


# ------------------------------------------------- Debian's uWSGI, nested

UWSGI_ENGINES = [
    ("--ugreen", ["--plugin", "python3,ugreen", "--async", "10", "--ugreen"]),
    ("--greenlet", ["--plugin", "python3,greenlet_python3", "--async", "10", "--greenlet"]),
    ("--gevent", ["--plugin", "python3,gevent_python3", "--gevent", "10"]),
]


def uwsgi_version():
    out = subprocess.run(["uwsgi", "--version"], capture_output=True, text=True).stdout.strip()
    return out or "unknown"


def nested_case(flags):
    """Start Debian's uWSGI with flags on the nested-suspend app, send 4
    concurrent /nested requests, report answers, exit status, log tail."""
    port = free_port()
    # as the other benchmarks run it: a master, one worker (a crash is logged and respawned)
    argv = (["uwsgi"] + flags[:2] + ["--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", NESTED_APP]
            + flags[2:] + ["--master", "--processes", "1"])
    logpath = "/tmp/bench-uwsgi-nested.log"
    with open(logpath, "wb") as log:
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=REPO, start_new_session=True)
    res = {"argv": " ".join(argv).replace(REPO + "/", "").replace("127.0.0.1:%d" % port, ":PORT"),
           "first": "-", "answers": []}
    try:
        wait_port(port, p)

        def get_path(path):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
                    return "%d %s" % (r.status, r.read().decode("latin-1")[:60])
            except Exception as e:  # what the client saw is the result
                return "error: %s" % (e.__class__.__name__,)

        # one request that does not suspend first: it is what a server sees
        # before the first suspend (the greenlet plugin behaves differently
        # on a worker that has served nothing)
        res["first"] = get_path("/json_deep?depth=1")
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            res["answers"] = list(ex.map(lambda i: get_path("/nested?tag=t%d" % i), range(4)))
        time.sleep(0.5)
    except Exception as e:
        res["answers"].append("did not start: %s" % e)
    finally:
        res["exit"] = p.poll()
        if res["exit"] is None:
            stop_group(p, signal.SIGINT, 10)
            res["exit"] = "up"
        elif res["exit"] < 0:
            res["exit"] = "killed by %s" % signal.Signals(-res["exit"]).name
    with open(logpath, "rb") as f:
        lines = f.read().decode("latin-1").splitlines()
    lines = [l for l in lines if "running uWSGI as root" not in l]
    keep = [l for l in lines if re.search(r"Fatal|fatal|Segmentation|SIGSEGV|signal|Error|error|Abort|abort|DAMN|!!!", l)]
    res["log"] = keep[:8] or lines[-5:]
    if res["exit"] == "up" and any("DAMN" in l for l in lines):
        res["exit"] = "up; the worker died and was respawned"
    return res


def uwsgi_nested():
    return {"uwsgi": uwsgi_version(), "python": platform.python_version(),
            "cases": [dict(name=n, **nested_case(f)) for n, f in UWSGI_ENGINES]}


# ---------------------------------------------------------------- driver

def in_root(root, *argv, capture=True):
    out = subprocess.run([RUN_IN, root] + list(argv), cwd=REPO, check=True,
                         stdout=subprocess.PIPE if capture else None, text=True)
    return out.stdout if capture else ""


def last_json(text):
    return json.loads([l for l in text.splitlines() if l.startswith("{")][-1])


def fmt(v, spec):
    return spec % v if v is not None else "fails"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", metavar="BINARY")
    ap.add_argument("--uwsgi-nested", action="store_true")
    ap.add_argument("--uwsgo", default=os.path.join(REPO, "bin", "uwsgo"))
    ap.add_argument("--roots", default="trixie,forky")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--markdown")
    ap.add_argument("--no-uwsgo", action="store_true", help="only Debian's uWSGI on nested suspends")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_one(os.path.abspath(args.one), args.duration)), flush=True)
        return 0
    if args.uwsgi_nested:
        print(json.dumps(uwsgi_nested()), flush=True)
        return 0

    rows = []
    roots = [x for x in args.roots.split(",") if x]
    if not args.no_uwsgo:
        r = measure_one(os.path.abspath(args.uwsgo), args.duration)
        r["where"] = "host (Debian 12)"
        rows.append(r)
        print(json.dumps(r), flush=True)
    for root in roots if not args.no_uwsgo else []:
        v = in_root(root, "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").strip()
        binary = "bin/uwsgo-py%s" % v
        row = {"where": "Debian %s root" % root, "binary": binary, "python": v}
        try:
            in_root(root, "make", "-s", "build", "BIN=" + binary, capture=False)
            row.update(last_json(in_root(root, "/usr/bin/python3", "bench/pythons_bench.py",
                                         "--one", binary, "--duration", str(args.duration))))
        except subprocess.CalledProcessError as e:
            row["failed"] = "build or run failed (exit %d)" % e.returncode
        rows.append(row)
        print(json.dumps(row), flush=True)
    nested = None
    if "trixie" in roots:
        nested = last_json(in_root("trixie", "/usr/bin/python3", "bench/pythons_bench.py", "--uwsgi-nested"))
        print(json.dumps(nested), flush=True)

    lines = [] if not rows else ["", "### uwsgo on each Python (%s, %s, %d CPUs)" % (
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), platform.machine(), os.cpu_count()), "",
        "Command: `make bench` (bench/pythons_bench.py). ns per uwsgi.suspend(): `--async 16 --ugreen "
        "--ugreen-switch fast`, %d suspends per request (as in the switch-cost table). Hello world: "
        "`wrk -t1 -c50 -d%ds` against `--async 100 --ugreen`, one worker. The 3.13 and 3.14 rows run "
        "inside the Debian roots of tests/pythons/ on the same machine." % (suspend_bench.N_SUSPENDS, args.duration),
        "",
        "| where | Python | ns/suspend, 1 in flight | ns/suspend, 10 in flight | hello req/s |",
        "|---|---|---|---|---|"]
    for r in rows:
        if "failed" in r:
            lines.append("| %s | %s | %s | | |" % (r["where"], r["python"], r["failed"]))
            continue
        rps = fmt(r.get("rps"), "%.0f")
        if r.get("rps") is None:
            rps += " (%d errors)" % r.get("rps_errors", 0)
        lines.append("| %s | %s | %s | %s | %s |" % (r["where"], r["python"], fmt(r.get("ns1"), "%.0f"),
                                                      fmt(r.get("ns10"), "%.0f"), rps))
    if nested:
        lines += ["", "### Debian 13's uWSGI on nested suspends (%s)" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                  "",
                  "uWSGI %s from Debian 13's packages (uwsgi-core, uwsgi-plugin-python3, -greenlet-, "
                  "-gevent-), Python %s, inside the trixie root: `tests/pythons/run-in.sh trixie "
                  "bench/pythons_bench.py --uwsgi-nested`. Four concurrent GET /nested (30 nested calls, "
                  "each suspending; tests/apps/green_semantics.py), 10 s limit each, after one request that "
                  "does not suspend (GET /json_deep?depth=1). uWSGI's greenlet plugin hangs instead when the "
                  "worker's very first request suspends." % (nested["uwsgi"], nested["python"]),
                  "", "| engine | command | first request | 4 nested-suspend requests | master after | log |",
                  "|---|---|---|---|---|---|"]
        for c in nested["cases"]:
            lines.append("| %s | `%s` | %s | %s | %s | %s |" % (
                c["name"], c["argv"], c["first"], "; ".join(c["answers"]), c["exit"],
                " / ".join("`%s`" % l.strip().replace("|", "\\|") for l in c["log"])))
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
