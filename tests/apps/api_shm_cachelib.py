"""Debian's python3-cachelib UWSGICache (what flask-caching's "uwsgi"
cache type uses) over the local cache, by name and as the default.

GET /  JSON: what each call returned, in order
"""
import json

from cachelib.uwsgi import UWSGICache


def application(environ, start_response):
    out = []
    for name in ("", "c2"):
        c = UWSGICache(default_timeout=300, cache=name)
        out.append(c.get("missing"))
        out.append(c.set("k", {"a": [1, 2, 3]}))
        out.append(c.get("k"))
        out.append(c.add("k", "other"))
        out.append(c.add("k2", "second"))
        out.append(c.has("k2"))
        out.append(c.set("k", "replaced", timeout=60))
        out.append(c.get("k"))
        out.append(c.get_many("k", "k2", "missing"))
        out.append(c.delete("k"))
        out.append(c.delete("k"))
        out.append(c.has("k"))
        out.append(c.set("big", "x" * 200))
        out.append(c.clear())
        out.append(c.has("k2"))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]
