"""A gevent app: gevent.sleep must not block the other requests."""
from urllib.parse import parse_qs

import gevent


def application(environ, start_response):
    s = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["1"])[0])
    jobs = [gevent.spawn(gevent.sleep, s / 2) for _ in range(3)]
    gevent.joinall(jobs, timeout=10)
    gevent.sleep(s / 2)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"gevent slept"]
