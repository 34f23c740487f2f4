"""Sleeping without blocking the worker (uWSGI's tests/sleeping_async.py).

`uwsgi.async_sleep(seconds)` arms a timer for this core and returns b"";
yielding that value parks the core until the timer fires, while the other
cores keep serving. Choose the sleep with `?s=` (default 2 seconds):

    uwsgo --http-socket :9090 --wsgi-file python/examples/sleeping_async.py --async 10 --ugreen
"""
from urllib.parse import parse_qs

import uwsgi


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    seconds = float(query.get("s", ["2"])[0])
    start_response("200 OK", [("Content-Type", "text/html")])
    yield b"<h1>sleeping for %g seconds...</h1>\n" % seconds
    yield uwsgi.async_sleep(seconds)
    yield b"<h1>Hello World</h1>\n"
