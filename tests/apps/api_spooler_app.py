"""The spooler's API, for uwsgo and Debian's uWSGI alike.

The spooler function appends one JSON line per run to $SPOOL_LOG: the
task's dict (keys and values as reprs), the spooler's pid and what the
task asked for. A task's b"mode" says what the function does:
ok (SPOOL_OK), retry (SPOOL_RETRY), ignore (SPOOL_IGNORE), raise,
locks (try uwsgi.lock/unlock/is_locked and log what each did, SPOOL_OK),
slow (log "start", sleep b"secs", log "done", SPOOL_OK). With $SPOOL_HOLD
set, every task is left in place (SPOOL_RETRY) without running: a server
that only writes tasks for another to run.

GET /spool?k=v&... spools {b"k": b"v", ...} and answers the file name;
/bad?what=... tries a bad spool() and answers the exception; /info the
spooler attributes; /mulemsg?msg=...&mule=N uwsgi.mule_msg();
/farmmsg?farm=F&msg=...[&how=mule_msg] uwsgi.farm_msg(F, msg) (or mule_msg(msg, F)); /lock uwsgi.lock(), unlock(), is_locked(); /jobs uwsgi.spooler_jobs(); /task?path=...
uwsgi.spooler_get_task().
"""
import json
import os
import time
import urllib.parse

import uwsgi

LOG = os.environ.get("SPOOL_LOG", "/dev/null")


def record(event, env):
    line = {"event": event, "pid": os.getpid(), "cwd": os.getcwd(),
            "spooler": uwsgi.i_am_the_spooler(),
            "task": {repr(k): repr(v) for k, v in env.items()}}
    with open(LOG, "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")


def spooler(env):
    if os.environ.get("SPOOL_HOLD"):
        return uwsgi.SPOOL_RETRY
    mode = env.get(b"mode", b"ok")
    if mode == b"slow":
        record("start", env)
        time.sleep(float(env.get(b"secs", b"2")))
        record("done", env)
        return uwsgi.SPOOL_OK
    if mode == b"locks":
        line = {"event": "locks"}
        for name, args in (("lock", ()), ("unlock", ()), ("is_locked", ()), ("lock", (1,)), ("is_locked", (1,))):
            try:
                line["%s%r" % (name, args)] = ["value", repr(getattr(uwsgi, name)(*args))]
            except Exception as e:
                line["%s%r" % (name, args)] = [type(e).__name__, str(e)]
        with open(LOG, "a") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
        return uwsgi.SPOOL_OK
    record(mode.decode(), env)
    if mode == b"retry":
        return uwsgi.SPOOL_RETRY
    if mode == b"ignore":
        return uwsgi.SPOOL_IGNORE
    if mode == b"raise":
        raise RuntimeError("task failed")
    return uwsgi.SPOOL_OK


uwsgi.spooler = spooler


def bad(what):
    cases = {
        "str-value": lambda: uwsgi.spool({b"a": "text"}),
        "int-value": lambda: uwsgi.spool({b"a": 5}),
        "str-key": lambda: uwsgi.spool({"a": b"x"}),
        "none-value": lambda: uwsgi.spool({b"a": None}),
        "not-a-dict": lambda: uwsgi.spool([b"a"]),
        "unknown-spooler": lambda: uwsgi.spool({b"a": b"1", b"spooler": b"/nowhere"}),
    }
    try:
        r = cases[what]()
    except Exception as e:
        return {"type": type(e).__name__, "message": str(e)}
    return {"returned": repr(r)}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if path == "/spool":
        out = repr(uwsgi.spool({k.encode(): v.encode() for k, v in q}))
    elif path == "/spool-body":
        d = {k.encode(): v.encode() for k, v in q}
        d[b"body"] = environ["wsgi.input"].read()
        out = repr(uwsgi.spool(d))
    elif path == "/bad":
        out = json.dumps(bad(dict(q)["what"]))
    elif path == "/info":
        out = json.dumps({"pids": uwsgi.spooler_pids(), "pid": uwsgi.spooler_pid(),
                          "spoolers": [s.decode() for s in uwsgi.spoolers],
                          "consts": [uwsgi.SPOOL_OK, uwsgi.SPOOL_RETRY, uwsgi.SPOOL_IGNORE],
                          "i_am": uwsgi.i_am_the_spooler(), "freq": uwsgi.set_spooler_frequency(1)
                          if dict(q).get("freq") else None})
    elif path == "/mulemsg":
        try:
            mule = dict(q).get("mule")
            out = repr(uwsgi.mule_msg(dict(q)["msg"].encode(), *([int(mule)] if mule else [])))
        except Exception as e:
            out = json.dumps({"type": type(e).__name__, "message": str(e)})
    elif path == "/farmmsg":
        q = dict(q)
        try:
            if q.get("how") == "mule_msg":
                out = repr(uwsgi.mule_msg(q["msg"].encode(), q["farm"].encode()))  # uWSGI takes bytes
            else:
                out = repr(uwsgi.farm_msg(q["farm"], q["msg"].encode()))
        except Exception as e:
            out = json.dumps({"type": type(e).__name__, "message": str(e)})
    elif path == "/farm_get_msg":
        try:
            out = repr(uwsgi.farm_get_msg())
        except Exception as e:
            out = json.dumps({"type": type(e).__name__, "message": str(e)})
    elif path == "/mule_get_msg":
        try:
            out = repr(uwsgi.mule_get_msg(timeout=0))
        except Exception as e:
            out = json.dumps({"type": type(e).__name__, "message": str(e)})
    elif path == "/lock":
        out = "%r %r" % (uwsgi.lock(), uwsgi.unlock())
        out += " %r" % uwsgi.is_locked()
    elif path == "/jobs":
        out = repr(sorted(uwsgi.spooler_jobs()))
    elif path == "/task":
        t = uwsgi.spooler_get_task(dict(q)["path"])
        out = repr(sorted((repr(k), v) for k, v in t.items()) if t else t)
    else:
        out = "ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [out.encode()]
