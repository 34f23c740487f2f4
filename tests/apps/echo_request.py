"""Answers every request with what the server read: method, target, body.

The conformance tables (tests/test_http_conformance.py) compare this with
what node's llhttp reads (tests/llhttp_ref.js answers the same way).
"""
import json


def application(environ, start_response):
    n = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(n) if n else b""
    out = json.dumps({
        "method": environ["REQUEST_METHOD"],
        "uri": environ.get("REQUEST_URI", ""),
        "path": environ.get("PATH_INFO", ""),
        "body": body.decode("latin-1"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]
