"""Debian's uwsgidecorators on the spooler and mules: @spool, @spoolforever,
@spoolraw and @mulefunc, for uwsgo and uWSGI alike. Each decorated
function appends a JSON line to $SPOOL_LOG."""
import json
import os
import urllib.parse

import uwsgi
from uwsgidecorators import mulefunc, spool, spoolforever, spoolraw

LOG = os.environ.get("SPOOL_LOG", "/dev/null")


def record(**kw):
    kw.update(pid=os.getpid(), spooler=uwsgi.i_am_the_spooler(), mule=uwsgi.mule_id())
    with open(LOG, "a") as f:
        f.write(json.dumps(kw, sort_keys=True) + "\n")


def runs(fn):
    try:
        with open(LOG) as f:
            return sum(json.loads(line)["fn"] == fn for line in f)
    except FileNotFoundError:
        return 0


@spool
def plain(args):
    record(fn="plain", args={k: v for k, v in args.items() if k != "spooler_task_name"})


@spool(pass_arguments=True)
def with_arguments(a, b=None, *, c=()):
    record(fn="with_arguments", a=a, b=b, c=list(c))


@spoolforever
def forever(args):
    record(fn="forever")


@spoolraw
def raw(args):
    # SPOOL_RETRY once, then SPOOL_OK: spoolraw returns what the function says
    record(fn="raw", n=args["n"])
    return uwsgi.SPOOL_OK if runs("raw") >= 2 else uwsgi.SPOOL_RETRY


@mulefunc
def in_a_mule(x, y=0):
    record(fn="in_a_mule", x=x, y=y)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
    if path == "/plain":
        out = plain(q)
    elif path == "/with_arguments":
        out = with_arguments([1, "two"], b={"three": 3}, c=(4,))
    elif path == "/forever":
        out = forever.spool(q)  # uWSGI < 1.9.13's spelling too
    elif path == "/raw":
        out = raw(n="1")
    elif path == "/mule":
        out = in_a_mule(int(q["x"]), y=2)
    else:
        out = "ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(out).encode()]
