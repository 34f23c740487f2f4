"""Exercises the uwsgi module's async API; routes on PATH_INFO.

/timeout?t=T        wait_fd_read on a pipe nobody writes, timeout T seconds
/ready              wait_fd_read on a readable pipe; reports ready_fd()
/write-ready        wait_fd_write on a writable pipe
/rendezvous?me=A&peer=B
                    spins on uwsgi.suspend() until request `peer` has
                    arrived too (or 5 s passed): needs the server to keep
                    taking new requests while a core suspends
/nested?seed=S&depth=D
                    suspends at every level of a recursive call and inside
                    an except block, then checks its own locals and
                    exception state survived the switches
/ctx?id=X           a contextvars.ContextVar must start unset in every
                    request and keep this request's value across suspends
/sleep?s=S          yield uwsgi.async_sleep(S)
/orphan-wait?t=T    wait_fd_read on a pipe that /close-orphans closes
                    while the core waits (its number is then free for the
                    server's next connection); answers after the timeout
/close-orphans      closes those pipes
"""
import contextvars
import json
import os
import sys
import time
from urllib.parse import parse_qs

import uwsgi

ARRIVED = set()
ORPHANS = []
CTX = contextvars.ContextVar("request_id", default=None)


def q(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def answer(start_response, obj):
    body = json.dumps(obj).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return body


def nested(seed, depth):
    if depth == 0:
        uwsgi.suspend()
        return seed
    local = seed * depth
    v = nested(seed, depth - 1)
    uwsgi.suspend()
    assert local == seed * depth, "local clobbered across a switch"
    return v + local


def exc_state(seed):
    try:
        raise ValueError("seed-%d" % seed)
    except ValueError as e:
        for _ in range(5):
            uwsgi.suspend()
        cur = sys.exc_info()[1]
        return cur is e and str(cur) == "seed-%d" % seed


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    args = q(environ)

    if path == "/timeout":
        r, w = os.pipe()
        try:
            t0 = time.monotonic()
            yield uwsgi.wait_fd_read(r, int(args.get("t", "1")))
            elapsed = time.monotonic() - t0
            flag = environ.get("x-wsgiorg.fdevent.timeout")
        finally:
            os.close(r)
            os.close(w)
        yield answer(start_response, {"timeout": flag, "elapsed": elapsed})
        return

    if path == "/ready":
        r, w = os.pipe()
        try:
            os.write(w, b"x")
            yield uwsgi.wait_fd_read(r, 5)
            flag = environ.get("x-wsgiorg.fdevent.timeout")
            ready = uwsgi.ready_fd()
            yield answer(start_response, {"timeout": flag, "ready_fd": ready, "fd": r})
        finally:
            os.close(r)
            os.close(w)
        return

    if path == "/write-ready":
        r, w = os.pipe()
        try:
            yield uwsgi.wait_fd_write(w, 5)
            flag = environ.get("x-wsgiorg.fdevent.timeout")
            yield answer(start_response, {"timeout": flag, "ready_fd": uwsgi.ready_fd(), "fd": w})
        finally:
            os.close(r)
            os.close(w)
        return

    if path == "/rendezvous":
        me, peer = args["me"], args["peer"]
        ARRIVED.add(me)
        deadline = time.monotonic() + 5
        spins = 0
        while peer not in ARRIVED and time.monotonic() < deadline:
            uwsgi.suspend()
            spins += 1
        yield answer(start_response, {"saw_peer": peer in ARRIVED, "spins": spins})
        return

    if path == "/nested":
        seed, depth = int(args["seed"]), int(args.get("depth", "20"))
        total = nested(seed, depth)
        ok_exc = exc_state(seed)
        yield answer(start_response, {"total": total, "exc_ok": ok_exc})
        return

    if path == "/ctx":
        before = CTX.get()
        CTX.set(args["id"])
        for _ in range(50):
            uwsgi.suspend()
        yield answer(start_response, {"before": before, "after": CTX.get()})
        return

    if path == "/orphan-wait":
        r, w = os.pipe()
        ORPHANS.extend((r, w))
        yield uwsgi.wait_fd_read(r, int(args.get("t", "2")))
        yield answer(start_response, {"timeout": environ.get("x-wsgiorg.fdevent.timeout")})
        return

    if path == "/close-orphans":
        closed = list(ORPHANS)
        for fd in ORPHANS:
            os.close(fd)
        del ORPHANS[:]
        yield answer(start_response, {"closed": closed})
        return

    if path == "/sleep":
        yield uwsgi.async_sleep(float(args.get("s", "1")))
        yield answer(start_response, {"slept": True})
        return

    start_response("404 Not Found", [("Content-Type", "text/plain")])
    yield b"no route\n"
