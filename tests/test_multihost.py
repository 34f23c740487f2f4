"""Scale-out across hosts: nginx balancing over three uwsgo hosts, and no
request lost when a host dies, comes back, or reloads.

The "hosts" are network namespaces, each joined to a front namespace by
its own veth pair (iproute2):

    front 10.231.K.1 <-> host K 10.231.K.2   (K = 1, 2, 3)

Each host runs `uwsgo --master --processes 2 -s 10.231.K.2:3031`; nginx
runs in the front namespace with the three in one `upstream` and
`uwsgi_next_upstream error timeout`, and wrk loads it from there, so
every packet stays inside the namespaces. Under that steady load:

  1. SIGKILL host 1's master (its workers die with it) mid-run;
  2. start host 1 again;
  3. a rolling graceful reload: SIGHUP each host's master in turn, the
     next only once the host serves from new workers.

The test asserts that no request failed (wrk's errors and non-2xx, and
nginx's access log, where a retry shows as two upstream addresses). It
asserts nothing about timings; bench/multihost_bench.py runs the same
scenario and prints the throughput around each event.

Each namespace is held by a `sleep` started with `unshare --net`, and
entered with `nsenter --net` (util-linux): `ip netns exec` remounts /
and /sys, which fails inside the chroots of `make test-pythons`. The
namespaces go when their processes do.

Needs root (namespaces), iproute2, util-linux, nginx and wrk; a missing
one fails.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from dropin_ref import children
from helpers import APPS, until

NGINX = "/usr/sbin/nginx"

APP = APPS / "basic.py"
HOSTS = 3
PORT = 3031

NGINX_CONF = """\
worker_processes 1;
%(user)s
error_log %(dir)s/error.log warn;
pid %(dir)s/nginx.pid;
events { worker_connections 1024; }
http {
    log_format t '$msec $status $upstream_addr $upstream_status';
    access_log %(dir)s/access.log t buffer=64k flush=1s;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    upstream hosts {
%(servers)s
    }
    server {
        listen 127.0.0.1:8080;
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass hosts;
            uwsgi_next_upstream error timeout;
            uwsgi_connect_timeout 2s;
        }
    }
}
"""

# One uwsgi-protocol GET /hello to ADDR:PORT, run inside a namespace:
# exits 0 when the answer is a 200.
PROBE = r"""
import socket, struct, sys
def kv(k, v):
    k, v = k.encode(), v.encode()
    return struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
body = b"".join(kv(k, v) for k, v in (("REQUEST_METHOD", "GET"), ("PATH_INFO", "/hello"), ("QUERY_STRING", ""),
       ("SERVER_PROTOCOL", "HTTP/1.1"), ("SERVER_NAME", "x"), ("SERVER_PORT", "80"), ("REQUEST_URI", "/hello")))
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(struct.pack("<BHB", 0, len(body), 0) + body)
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
sys.exit(0 if data.startswith(b"HTTP/1.1 200") and data.endswith(b"Hello World") else 1)
"""


def need(tool):
    path = shutil.which(tool) or (tool if os.access(tool, os.X_OK) else None)
    if not path:
        raise RuntimeError("%s is missing: install it (make deps)" % tool)
    return path


def run(*argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()))
    return r.stdout


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Cluster:
    """The namespaces, the hosts, nginx; torn down by close()."""

    def __init__(self, binary, tmp):
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root")
        self.ip, self.wrk, self.nginx_bin = need("ip"), need("wrk"), need(NGINX)
        self.unshare, self.nsenter = need("unshare"), need("nsenter")
        self.binary, self.tmp = binary, tmp
        self.holders = {}  # namespace name -> the sleep that holds it
        self.procs = {}  # host index -> Popen of its master
        self.logs = {}
        self.nginx = None

    def hold(self, name):
        p = subprocess.Popen([self.unshare, "--net", "--", "sleep", "100000"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.holders[name] = p
        # the sleep runs once unshare has made the namespace and exec'd it
        until("namespace %s" % name, lambda: os.readlink("/proc/%d/ns/net" % p.pid) != os.readlink(
            "/proc/self/ns/net"), 10, step=0.02)
        return p.pid

    def addr(self, k):
        return "10.231.%d.2" % (k + 1)

    def setup(self):
        self.hold("front")
        hosts = [self.hold("host%d" % (k + 1)) for k in range(HOSTS)]
        self.run_in("front", self.ip, "link", "set", "lo", "up")
        for k, pid in enumerate(hosts):
            a, b = "uwmhf%d" % k, "uwmhh%d" % k  # each end lives in its own namespace
            self.run_in("front", self.ip, "link", "add", a, "type", "veth", "peer", "name", b, "netns", str(pid))
            self.run_in("front", self.ip, "addr", "add", "10.231.%d.1/24" % (k + 1), "dev", a)
            self.run_in("front", self.ip, "link", "set", a, "up")
            h = "host%d" % (k + 1)
            self.run_in(h, self.ip, "link", "set", "lo", "up")
            self.run_in(h, self.ip, "addr", "add", "%s/24" % self.addr(k), "dev", b)
            self.run_in(h, self.ip, "link", "set", b, "up")
        for k in range(HOSTS):
            self.start_host(k)
        for k in range(HOSTS):
            self.wait_serving(k)
        self.start_nginx()

    def in_ns(self, ns, argv):
        """argv run in namespace ns (nsenter execs it: the pid is argv's)."""
        return [self.nsenter, "--net=/proc/%d/ns/net" % self.holders[ns].pid, "--"] + [str(a) for a in argv]

    def run_in(self, ns, *argv):
        return run(*self.in_ns(ns, argv))

    def start_host(self, k):
        log = open(os.path.join(self.tmp, "host%d.log" % (k + 1)), "ab")
        self.logs[k] = log
        argv = self.in_ns("host%d" % (k + 1), [self.binary, "--master", "--processes", 2,
                                           "-s", "%s:%d" % (self.addr(k), PORT), "--wsgi-file", APP,
                                           "--disable-logging"])
        # nsenter execs the command: the pid is the master's
        self.procs[k] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def probe(self, k):
        r = subprocess.run(self.in_ns("front", [sys.executable, "-c", PROBE, self.addr(k), PORT]),
                           capture_output=True, timeout=10)
        return r.returncode == 0

    def workers(self, k):
        return children(self.procs[k].pid)

    def wait_serving(self, k, old=(), timeout=30):
        """Until host k has 2 workers, none of them in old, and answers."""
        def ready():
            if self.procs[k].poll() is not None:
                raise AssertionError("host %d exited: %s" % (k + 1, self.logtext(k)[-2000:]))
            w = self.workers(k)
            return len(w) == 2 and not set(w) & set(old) and self.probe(k)
        until("host %d serving from new workers" % (k + 1), ready, timeout, step=0.1)

    def logtext(self, k):
        with open(os.path.join(self.tmp, "host%d.log" % (k + 1)), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def start_nginx(self):
        d = os.path.join(self.tmp, "nginx")
        os.makedirs(d, exist_ok=True)
        self.nginx_dir = d
        conf = os.path.join(d, "nginx.conf")
        servers = "\n".join("        server %s:%d;" % (self.addr(k), PORT) for k in range(HOSTS))
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {"dir": d, "servers": servers, "user": "user root;"})
        self.nginx = subprocess.Popen(self.in_ns("front", [self.nginx_bin, "-p", d, "-c", conf, "-g", "daemon off;"]),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        until("nginx answering", lambda: subprocess.run(
            self.in_ns("front", ["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:8080/hello"]),
            capture_output=True).returncode == 0, 10, step=0.1)

    def kill_host(self, k):
        """SIGKILL the master; its workers die with it. Waits until they are gone."""
        workers = self.workers(k)
        self.procs[k].send_signal(signal.SIGKILL)
        self.procs[k].wait(10)
        until("host %d's workers gone" % (k + 1), lambda: not any(alive(p) for p in workers), 15)

    def close(self):
        for k, p in self.procs.items():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(10)
            for w in children(p.pid):
                os.kill(w, signal.SIGKILL)
        if self.nginx and self.nginx.poll() is None:
            os.killpg(self.nginx.pid, signal.SIGKILL)
            self.nginx.wait(10)
        for log in self.logs.values():
            log.close()
        for p in self.holders.values():  # the last process in each namespace: it goes, with its veth
            p.kill()
            p.wait(10)


class Load:
    """wrk through nginx in the front namespace until stop()."""

    def __init__(self, cluster, conns=16):
        self.c = cluster
        self.out = os.path.join(cluster.tmp, "wrk.txt")
        self.f = open(self.out, "w")
        self.p = subprocess.Popen(cluster.in_ns("front", [cluster.wrk, "-t1", "-c%d" % conns, "-d300s",
                                                                "http://127.0.0.1:8080/hello"]),
                                  stdout=self.f, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        self.p.send_signal(signal.SIGINT)  # wrk prints its totals on SIGINT
        self.p.wait(20)
        self.f.close()
        with open(self.out) as f:
            text = f.read()
        res = {"text": text, "requests": 0, "non2xx": 0, "errors": 0}
        m = re.search(r"(\d+) requests in", text)
        if m:
            res["requests"] = int(m.group(1))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        if m:
            res["non2xx"] = int(m.group(1))
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        if m:
            res["errors"] = sum(map(int, m.groups()))
        return res


def scenario(binary, tmp, settle=2.0, say=print):
    """Runs the whole scenario; returns (wrk totals, events [(name, t)], access log rows [(t, status, retried)])."""
    c = Cluster(binary, tmp)
    events = []

    def mark(name):
        events.append((name, time.time()))
        say("%s %s" % (time.strftime("%H:%M:%S"), name))
    try:
        c.setup()
        load = Load(c)
        mark("load starts")
        time.sleep(settle)
        mark("SIGKILL host 1's master")
        c.kill_host(0)
        mark("host 1 is gone")
        time.sleep(settle)
        mark("host 1 starts again")
        c.start_host(0)
        c.wait_serving(0)
        mark("host 1 serves")
        time.sleep(settle)
        for k in range(HOSTS):
            old = c.workers(k)
            mark("SIGHUP host %d" % (k + 1))
            c.procs[k].send_signal(signal.SIGHUP)
            c.wait_serving(k, old=old)
            mark("host %d reloaded" % (k + 1))
        time.sleep(settle)
        mark("load stops")
        totals = load.stop()
        # nginx writes its buffered log at exit
        c.nginx.send_signal(signal.SIGQUIT)
        c.nginx.wait(15)
        rows = []
        with open(os.path.join(c.nginx_dir, "access.log")) as f:
            for line in f:
                fl = line.split(" ", 2)
                if len(fl) >= 2:
                    rows.append((float(fl[0]), fl[1], "," in (fl[2] if len(fl) > 2 else "")))
        return totals, events, rows, {k: c.logtext(k) for k in range(HOSTS)}
    finally:
        c.close()


def test_no_request_lost_across_host_death_restart_and_rolling_reload():
    from conftest import uwsgo_bin
    tmp = tempfile.mkdtemp(prefix="uwsgo-multihost-")  # nginx (as root) writes here
    try:
        totals, events, rows, logs = scenario(uwsgo_bin(), tmp, say=lambda s: None)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bad = [r for r in rows if r[1] != "200"]
    assert totals["requests"] > 0, totals["text"]
    assert totals["non2xx"] == 0 and totals["errors"] == 0, totals["text"]
    assert not bad, "nginx logged failures: %s" % bad[:20]
    # nginx really retried: the killed host's requests went to another one
    assert any(r[2] for r in rows), "no request was retried: the kill hit nothing?"
    # every request wrk counted went through nginx (the log also has the probe's and those cut at the end)
    assert len(rows) >= totals["requests"], (len(rows), totals)
