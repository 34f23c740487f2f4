"""gevent apps: thread-locals per greenlet when monkey-patched, the
forbidden uwsgi async API, and when patching happened."""
import threading
import time
from urllib.parse import parse_qs

import gevent.monkey

PATCHED_AT_IMPORT = gevent.monkey.is_module_patched("threading")

import gevent  # noqa: E402

# Created at the first request, as Django creates its per-thread DB
# connections: by then --gevent-monkey-patch has patched threading (uWSGI
# patches before the app starts, not before it loads).
_local = None


def request_local():
    global _local
    if _local is None:
        _local = threading.local()
    return _local


def application(env, start_response):
    path = env["PATH_INFO"]
    tag = parse_qs(env.get("QUERY_STRING", "")).get("tag", ["x"])[0]
    if path == "/local":
        # like Django's per-thread DB connection: each request must see its own
        local = request_local()
        local.tag = tag
        time.sleep(0.2)  # gevent.sleep when monkey-patched: other requests run
        body = "%s %s" % (tag, local.tag)
    elif path == "/patched":
        body = "import=%s now=%s" % (PATCHED_AT_IMPORT, gevent.monkey.is_module_patched("threading"))
    elif path == "/mix":
        import uwsgi
        try:
            uwsgi.async_sleep(1)
            body = "no error"
        except RuntimeError as e:
            body = "RuntimeError: %s" % e
    elif path == "/sleep":
        gevent.sleep(float(parse_qs(env.get("QUERY_STRING", "")).get("s", ["1"])[0]))
        body = "slept"
    else:
        body = "?"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
