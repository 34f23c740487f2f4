"""Locks and caches through the uwsgi module, run by uwsgo and by uWSGI.

GET /seq       every cache and lock call, in a fixed order, with good and
               bad arguments; JSON: one [kind, value] per call
GET /hammer?id=R&n=N
               N cache_inc on "counter" and 10 cache_set of keys of its
               own; JSON: pid, start and end times
GET /count     JSON: cache_num("counter") and every key's value
GET /locked?n=L&path=P
               under lock L: read the number in file P, wait a little,
               write it + 1; a marker file made with O_EXCL proves that no
               one else was inside meanwhile
GET /hold?n=L&secs=S
               lock L, park S seconds (the engine's way), unlock
GET /take?n=L  lock L and keep it (the test then kills this worker)
GET /relock    lock(1) twice: the second must raise, not hang
GET /get?k=K   cache_get(K); /set?k=K&v=V&e=E cache_set(K, V, E)
GET /loop?op=OP&n=N
               N calls in a row (inc, get, update, lock: lock+unlock);
               JSON: pid, start and end times (bench/shm_bench.py)
GET /ping      pid
"""
import json
import os
import time
from urllib.parse import parse_qs

import uwsgi


def call(fn, *args):
    try:
        v = getattr(uwsgi, fn)(*args)
    except Exception as e:
        return ["raise", type(e).__name__, str(e)]
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if isinstance(v, list):
        return ["list", [x.hex() if isinstance(x, bytes) else repr(x) for x in v]]
    return ["value", repr(v)]


SEQ = [
    ("cache_get", "a"),
    ("cache_set", "a", "1"),
    ("cache_set", "a", "2"),
    ("cache_get", "a"),
    ("cache_update", "a", "2"),
    ("cache_get", "a"),
    ("cache_exists", "a"),
    ("cache_exists", "zz"),
    ("cache_set", "b", b"\x00\xff binary\n"),
    ("cache_get", "b"),
    ("cache_set", b"bytes-key", "v"),
    ("cache_get", "bytes-key"),
    ("cache_set", "\u00e9t\u00e9", "utf-8 key"),
    ("cache_get", "\u00e9t\u00e9".encode()),
    ("cache_set", "big", "x" * 101),
    ("cache_set", "big", "x" * 100),
    ("cache_update", "big", "y" * 101),
    ("cache_get", "big"),
    ("cache_set", "", "v"),
    ("cache_set", "e", ""),
    ("cache_set", "k" * 2049, "v"),
    ("cache_set", "k" * 2048, "v"),
    ("cache_get", "k" * 2048),
    ("cache_del", "k" * 2048),
    ("cache_inc", "n"),
    ("cache_num", "n"),
    ("cache_inc", "n", 10),
    ("cache_num", "n"),
    ("cache_dec", "n", 3),
    ("cache_mul", "n", 5),
    ("cache_num", "n"),
    ("cache_div", "n", 3),
    ("cache_num", "n"),
    ("cache_get", "n"),
    ("cache_div", "n", 0),
    ("cache_num", "n"),
    ("cache_mul", "m"),
    ("cache_num", "m"),
    ("cache_dec", "d"),
    ("cache_num", "d"),
    ("cache_div", "q"),
    ("cache_num", "q"),
    ("cache_num", "a"),
    ("cache_num", "nothing"),
    ("cache_inc", "a"),
    ("cache_num", "a"),
    ("cache_get", "a"),
    ("cache_update", "a", "back to text"),
    ("cache_num", "a"),
    ("cache_set", "t", "v", 3600),
    ("cache_exists", "t"),
    ("cache_update", "t", "w", 3600),
    ("cache_inc", "n2", 1, 3600),
    ("cache_inc", "n2", 1, 3600),
    ("cache_num", "n2"),
    ("cache_keys",),
    ("cache_del", "a"),
    ("cache_del", "a"),
    ("cache_get", "a"),
    # the second cache, by name; it holds 3 keys (slot 0 is never used)
    ("cache_set", "a", "in c2", 0, "c2"),
    ("cache_get", "a", "c2"),
    ("cache_get", "a"),
    ("cache_set", "k1", "1", 0, "c2"),
    ("cache_set", "k2", "2", 0, "c2"),
    ("cache_set", "k3", "3", 0, "c2"),
    ("cache_update", "k1", "one", 0, "c2"),
    ("cache_set", "k4", "x" * 17, 0, "c2"),
    ("cache_keys", "c2"),
    ("cache_exists", "k2", "c2"),
    ("cache_del", "k2", "c2"),
    ("cache_set", "k3", "3", 0, "c2"),
    ("cache_inc", "k9", 1, 0, "c2"),
    ("cache_keys", "c2"),
    # a cache that does not exist
    ("cache_get", "a", "nope"),
    ("cache_set", "a", "v", 0, "nope"),
    ("cache_update", "a", "v", 0, "nope"),
    ("cache_exists", "a", "nope"),
    ("cache_del", "a", "nope"),
    ("cache_inc", "a", 1, 0, "nope"),
    ("cache_num", "a", "nope"),
    ("cache_keys", "nope"),
    ("cache_clear", "nope"),
    # arguments of the wrong type
    ("cache_set", 1, "v"),
    ("cache_get",),
    ("cache_set", "k", "v", "x"),
    ("cache_inc", "k", "x"),
    ("cache_get", "a", 5),
    ("cache_clear",),
    ("cache_keys",),
    ("cache_clear", "c2"),
    ("cache_keys", "c2"),
    # locks: 0 always, 1 and 2 with --locks 2
    ("is_locked",),
    ("lock",),
    ("is_locked",),
    ("is_locked", 0),
    ("unlock",),
    ("is_locked",),
    ("unlock",),
    ("lock", 2),
    ("is_locked", 2),
    ("is_locked", 1),
    ("unlock", 2),
    ("is_locked", 2),
    ("lock", 3),
    ("unlock", 3),
    ("is_locked", -1),
    ("lock", "x"),
]


def seq():
    return [call(*c) for c in SEQ]


def hammer(q):
    rid, n = q["id"], int(q["n"])
    start = time.time()
    for _ in range(n):
        if not uwsgi.cache_inc("counter"):
            raise RuntimeError("cache_inc failed")
    for j in range(10):
        if not uwsgi.cache_set("r%s-%d" % (rid, j), "%s/%d" % (rid, j)):
            raise RuntimeError("cache_set failed")
    return {"pid": os.getpid(), "start": start, "end": time.time()}


def count():
    keys = uwsgi.cache_keys()
    return {"counter": uwsgi.cache_num("counter"),
            "values": {k.decode(): (uwsgi.cache_get(k) or b"").decode() for k in keys if k != b"counter"}}


def locked(q):
    n, path = int(q["n"]), q["path"]
    uwsgi.lock(n)
    try:
        if not uwsgi.is_locked(n):
            return {"error": "is_locked(%d) is False inside the lock" % n}
        try:
            fd = os.open(path + ".inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return {"error": "two holders of lock %d at once" % n}
        os.close(fd)
        with open(path) as f:
            v = int(f.read() or "0")
        time.sleep(0.002)
        with open(path + ".tmp", "w") as f:
            f.write(str(v + 1))
        os.rename(path + ".tmp", path)
        os.unlink(path + ".inside")
    finally:
        uwsgi.unlock(n)
    return {"pid": os.getpid()}


def hold(q):
    n, secs = int(q["n"]), float(q["secs"])
    asked = time.time()
    uwsgi.lock(n)
    got = time.time()
    try:
        if "gevent" in q:
            import gevent
            gevent.sleep(secs)
        else:
            uwsgi.async_sleep(secs)
            uwsgi.suspend()
    finally:
        released = time.time()
        uwsgi.unlock(n)
    return {"pid": os.getpid(), "asked": asked, "got": got, "released": released}


def relock():
    uwsgi.lock(1)
    try:
        uwsgi.lock(1)
        return {"error": "the second lock(1) returned"}
    except RuntimeError as e:
        return {"raised": str(e)}
    finally:
        uwsgi.unlock(1)


def loop(q):
    op, n = q["op"], int(q["n"])
    uwsgi.cache_update("bench", "x" * 64)
    start = time.time()
    if op == "inc":
        for _ in range(n):
            uwsgi.cache_inc("bench-n")
    elif op == "get":
        for _ in range(n):
            uwsgi.cache_get("bench")
    elif op == "update":
        v = "y" * 64
        for _ in range(n):
            uwsgi.cache_update("bench", v)
    elif op == "lock":
        for _ in range(n):
            uwsgi.lock(1)
            uwsgi.unlock(1)
    return {"pid": os.getpid(), "start": start, "end": time.time()}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/seq":
        body = seq()
    elif path == "/hammer":
        body = hammer(q)
    elif path == "/count":
        body = count()
    elif path == "/locked":
        body = locked(q)
    elif path == "/hold":
        body = hold(q)
    elif path == "/take":
        uwsgi.lock(int(q["n"]))
        body = {"pid": os.getpid()}
    elif path == "/relock":
        body = relock()
    elif path == "/loop":
        body = loop(q)
    elif path == "/get":
        v = uwsgi.cache_get(q["k"])
        body = None if v is None else v.decode()
    elif path == "/set":
        body = uwsgi.cache_set(q["k"], q["v"], int(q.get("e", "0")))
    elif path == "/call":
        body = call(q["fn"], *json.loads(q.get("args", "[]")))
    else:
        body = {"pid": os.getpid(), "t": time.time()}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
