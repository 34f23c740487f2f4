"""Apps that suspend in every awkward place a green thread can be.

Each view suspends many times while other requests run on other cores,
then checks that its own state survived, and answers "ok <details>" or
"FAIL <details>". Run under --async N --ugreen (and the other engines).
"""
import contextvars
import json
import sys
import threading
import time
from urllib.parse import parse_qs

import uwsgi

request_tag = contextvars.ContextVar("request_tag", default=None)


def qs(env):
    return {k: v[0] for k, v in parse_qs(env.get("QUERY_STRING", "")).items()}


def suspend_n(n):
    for _ in range(n):
        uwsgi.suspend()


# --- nested plain function calls ---------------------------------------

def nested(depth, tag):
    local = [tag, depth]
    if depth == 0:
        suspend_n(20)
        return [tag]
    below = nested(depth - 1, tag)
    uwsgi.suspend()
    if local != [tag, depth]:
        raise AssertionError("locals changed at depth %d: %r" % (depth, local))
    return below + [depth]


def view_nested(env):
    tag = qs(env).get("tag", "x")
    got = nested(30, tag)
    want = [tag] + list(range(1, 31))
    return "ok" if got == want else "FAIL %r" % (got,)


# --- exceptions ----------------------------------------------------------

def view_except(env):
    tag = qs(env).get("tag", "x")
    try:
        raise ValueError(tag)
    except ValueError:
        suspend_n(20)
        exc = sys.exc_info()[1]
        if not isinstance(exc, ValueError) or exc.args != (tag,):
            return "FAIL exc_info is %r" % (exc,)
        try:
            raise KeyError(tag)
        except KeyError:
            suspend_n(5)
            inner = sys.exc_info()[1]
            if not isinstance(inner, KeyError) or inner.args != (tag,):
                return "FAIL inner exc_info is %r" % (inner,)
        suspend_n(5)
        again = sys.exc_info()[1]
        if again is not exc:
            return "FAIL outer exc_info not restored: %r" % (again,)
    if sys.exc_info()[1] is not None:
        return "FAIL exc_info leaked: %r" % (sys.exc_info()[1],)
    return "ok"


# --- generators and with blocks -----------------------------------------

class Guard:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def __enter__(self):
        self.log.append("enter " + self.name)
        uwsgi.suspend()
        return self

    def __exit__(self, *exc):
        uwsgi.suspend()
        self.log.append("exit " + self.name)
        return False


def gen(tag, n):
    for i in range(n):
        uwsgi.suspend()
        yield "%s%d" % (tag, i)


def view_gen_with(env):
    tag = qs(env).get("tag", "x")
    log = []
    with Guard(log, tag):
        items = list(gen(tag, 10))
        with Guard(log, tag + "2"):
            items += [x.upper() for x in gen(tag, 3)]
    want_items = ["%s%d" % (tag, i) for i in range(10)] + [("%s%d" % (tag, i)).upper() for i in range(3)]
    want_log = ["enter " + tag, "enter " + tag + "2", "exit " + tag + "2", "exit " + tag]
    if items != want_items or log != want_log:
        return "FAIL %r %r" % (items, log)
    return "ok"


# --- deep recursion -------------------------------------------------------

def recurse(n, tag):
    if n == 0:
        uwsgi.suspend()
        return tag
    r = recurse(n - 1, tag)
    if n % 50 == 0:
        uwsgi.suspend()
    return r


def view_recursion(env):
    tag = qs(env).get("tag", "x")
    depth = int(qs(env).get("depth", "500"))
    got = recurse(depth, tag)
    # the recursion limit is per green thread: a fresh core starts at 0
    return "ok" if got == tag else "FAIL %r" % (got,)


def view_recursion_limit(env):
    try:
        recurse(100000, "x")
    except RecursionError:
        return "ok"
    return "FAIL no RecursionError"


# --- contextvars ------------------------------------------------------------

def view_contextvar(env):
    tag = qs(env).get("tag", "x")
    before = request_tag.get()
    request_tag.set(tag)
    suspend_n(20)
    after = request_tag.get()
    if before is not None:
        return "FAIL a new request saw %r" % (before,)
    if after != tag:
        return "FAIL saw %r" % (after,)
    return "ok"


# --- threading.local ------------------------------------------------------
# per core, as per thread: apps that keep the request in one (bottle) see
# their own while other requests run in between

thread_local = threading.local()


def view_thread_local(env):
    tag = qs(env).get("tag", "x")
    thread_local.tag = tag
    suspend_n(20)
    got = getattr(thread_local, "tag", None)
    return "ok" if got == tag else "FAIL saw %r" % (got,)


# --- waits ---------------------------------------------------------------

def view_sleep(env):
    ms = int(qs(env).get("ms", "200"))
    t0 = time.monotonic()
    uwsgi.async_sleep(ms / 1000.0)
    uwsgi.suspend()
    took = (time.monotonic() - t0) * 1000
    timed_out = env.get("x-wsgiorg.fdevent.timeout")
    if took < ms * 0.9:
        return "FAIL woke after %.0f ms" % took
    return "ok timeout=%r" % (timed_out,)


def view_wait_pipe(env):
    """A thread writes into a pipe later; the core waits for it readable."""
    import os
    r, w = os.pipe()

    def later():
        time.sleep(0.2)
        os.write(w, b"x")

    threading.Thread(target=later).start()
    uwsgi.wait_fd_read(r, 5)
    uwsgi.suspend()
    ready = uwsgi.ready_fd()
    timed_out = env["x-wsgiorg.fdevent.timeout"]
    data = os.read(r, 1)
    os.close(r)
    os.close(w)
    if ready != r or timed_out is not None or data != b"x":
        return "FAIL ready=%r r=%r timeout=%r data=%r" % (ready, r, timed_out, data)
    return "ok"


def view_wait_timeout(env):
    import os
    r, w = os.pipe()
    uwsgi.wait_fd_read(r, 1)
    uwsgi.suspend()
    ready = uwsgi.ready_fd()
    timed_out = env["x-wsgiorg.fdevent.timeout"]
    os.close(r)
    os.close(w)
    if ready != -1 or timed_out is not True:
        return "FAIL ready=%r timeout=%r" % (ready, timed_out)
    return "ok"


def view_count(env):
    n = int(qs(env).get("n", "100000"))
    for _ in range(n):
        uwsgi.suspend()
    return "ok %d" % n


def view_thread_runs(env):
    """The hub releases the GIL while it waits: a thread makes progress."""
    box = []
    t = threading.Thread(target=lambda: box.append(sum(range(100000))))
    t.start()
    uwsgi.async_sleep(0.3)
    uwsgi.suspend()
    return "ok" if box == [sum(range(100000))] else "FAIL thread did not run: %r" % (box,)


def view_outside_core(env):
    """uwsgi.suspend() from another thread raises instead of crashing."""
    box = []

    def other():
        try:
            uwsgi.suspend()
            box.append("no error")
        except RuntimeError as e:
            box.append("RuntimeError")

    t = threading.Thread(target=other)
    t.start()
    t.join()
    return "ok" if box == ["RuntimeError"] else "FAIL %r" % (box,)


def view_json_deep(env):
    depth = int(qs(env).get("depth", "100"))
    obj = []
    for _ in range(depth):
        obj = [obj]
    return "ok %d" % len(json.dumps(obj))


VIEWS = {
    "/nested": view_nested,
    "/except": view_except,
    "/gen_with": view_gen_with,
    "/recursion": view_recursion,
    "/recursion_limit": view_recursion_limit,
    "/contextvar": view_contextvar,
    "/thread_local": view_thread_local,
    "/sleep": view_sleep,
    "/wait_pipe": view_wait_pipe,
    "/wait_timeout": view_wait_timeout,
    "/count": view_count,
    "/thread_runs": view_thread_runs,
    "/outside_core": view_outside_core,
    "/json_deep": view_json_deep,
}


def application(env, start_response):
    view = VIEWS.get(env["PATH_INFO"])
    if view is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such view"]
    body = view(env).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def generator_app(env, start_response):
    """The same views, from a generator app (suspends happen inside its body)."""
    view = VIEWS.get(env["PATH_INFO"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b""
    yield view(env).encode()
