"""How workers sharing a listener are woken for a new connection.

A uwsgi-protocol listener shared by several workers (behind nginx: a
connection per request) is in each worker's epoll set with
EPOLLEXCLUSIVE, so the kernel wakes one idle worker per connection; an
HTTP listener is not (keep-alive clients stay with the worker that took
them, and the exclusive wake-up would give them all to the same idle
worker); a lone worker has no one to share with. Read from the kernel:
/proc/PID/fdinfo of each worker's epoll fd lists every watched fd with
its event mask.
"""
import os
import socket

from dropin_ref import children
from helpers import APPS, free_port, recv_until_closed, until, uwsgi_packet

EPOLLEXCLUSIVE = 1 << 28
APP = APPS / "basic.py"


def listener_inode(port):
    """The inode of the socket listening on 127.0.0.1:port (/proc/net/tcp)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fl = line.split()
            if fl[1] == want and fl[3] == "0A":
                return int(fl[9])
    raise AssertionError("nothing listens on 127.0.0.1:%d" % port)


def epoll_masks(pid):
    """{inode of a watched fd: event mask} over every epoll fd of pid."""
    masks = {}
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("tfd:"):
                        # "tfd: 4 events: 10000019 data: ... pos:0 ino:d73de0 sdev:9"
                        fl = line.split()
                        ino = int(line.split("ino:", 1)[1].split()[0], 16)
                        masks[ino] = int(fl[fl.index("events:") + 1], 16)
        except (OSError, ValueError):
            pass
    return masks


def masks_in_workers(srv, nworkers, uport, hport):
    uino, hino = listener_inode(uport), listener_inode(hport)

    def ready():
        pids = children(srv.proc.pid) if nworkers > 1 else [srv.proc.pid]
        if len(pids) != nworkers:
            return None
        got = [epoll_masks(p) for p in pids]
        if all(uino in m and hino in m for m in got):
            return [(m[uino], m[hino]) for m in got]
        return None
    return until("every worker watching both listeners", ready, 15)


def test_shared_uwsgi_listener_wakes_one_worker(uwsgo):
    uport = free_port()
    srv = uwsgo("--wsgi-file", APP, "-s", "127.0.0.1:%d" % uport, "-M", "-p", 2)
    for umask, hmask in masks_in_workers(srv, 2, uport, srv.port):
        assert umask & EPOLLEXCLUSIVE, hex(umask)
        assert not hmask & EPOLLEXCLUSIVE, hex(hmask)


def test_a_lone_worker_watches_plainly(uwsgo):
    uport = free_port()
    srv = uwsgo("--wsgi-file", APP, "-s", "127.0.0.1:%d" % uport)
    for umask, hmask in masks_in_workers(srv, 1, uport, srv.port):
        assert not umask & EPOLLEXCLUSIVE and not hmask & EPOLLEXCLUSIVE, (hex(umask), hex(hmask))
    # and it serves the uwsgi socket
    with socket.create_connection(("127.0.0.1", uport), timeout=10) as s:
        s.sendall(uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/hello", "QUERY_STRING": "",
                                "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "x", "SERVER_PORT": "80"}))
        data, _ = recv_until_closed(s)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"Hello World"), data
