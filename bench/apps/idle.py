"""Idle-client benchmark app, the same file for uwsgo and uWSGI.

/?s=S  parks for S seconds in the plain-async form every --async engine
       knows (uWSGI's docs: `yield uwsgi.async_sleep(S)`), then answers
       "slept". No uwsgi.suspend(): under uWSGI 2.0.21 with ugreen or
       greenlet on Python 3.11 it never returns (bench/suspend_bench.py).
"""
import uwsgi

BODY = b"slept"


def application(env, start_response):
    qs = env.get("QUERY_STRING", "")
    s = 5.0
    for part in qs.split("&"):
        k, _, v = part.partition("=")
        if k == "s" and v:
            s = float(v)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    # uWSGI's async_sleep returns an empty string: never hand that on
    yield uwsgi.async_sleep(s) or b""
    yield BODY
