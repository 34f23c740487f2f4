"""CPU-bound app for a suspend engine (uWSGI's tests/cpubound_green.py).

`uwsgi.suspend()` switches to another green thread (core); the request
returns how many times it suspended. Set the count with `?n=` (default
100000):

    uwsgo -s :3031 -w cpubound_green --pythonpath python/examples --async 30 --ugreen
    curl 'http://127.0.0.1:9090/?n=1000'    # with --http-socket :9090
"""
from urllib.parse import parse_qs

import uwsgi


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    n = int(query.get("n", ["100000"])[0])
    for _ in range(n):
        uwsgi.suspend()
    body = b"%d" % n
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
