"""A wsgiref.validate.validator-wrapped app, served by every engine."""
import http.client

import pytest
import requests

from helpers import APPS, REQ_TIMEOUT, engine_params

APP = ["-w", "validated", "--pythonpath", APPS]

REQUESTS = [
    ("GET", "/", None),
    ("GET", "/?a=1&b=2", None),
    ("GET", "/gen", None),
    ("GET", "/write", None),
    ("GET", "/empty", None),
    ("HEAD", "/", None),
    ("HEAD", "/gen", None),
    ("POST", "/post", b"x" * 1000),
    ("POST", "/post?readline", b"a\nbb\nccc\n"),
    ("POST", "/post?readlines", b"a\nbb\nccc"),
    ("POST", "/post?iter", b"a\nbb\nccc\n"),
    ("POST", "/post", b""),
    ("PUT", "/put", b"put-body"),
    ("DELETE", "/thing", None),
    ("OPTIONS", "/", None),
    ("PATCH", "/thing", b"{}"),
]


@pytest.mark.parametrize("engine", engine_params("sync", "async", "ugreen", "greenlet", "gevent"))
def test_validator_clean(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    s = requests.Session()
    for method, path, body in REQUESTS:
        r = s.request(method, srv.url + path, data=body, timeout=REQ_TIMEOUT)
        assert r.status_code == 200, (method, path, r.status_code, r.text, srv.log[-3000:])
        if method == "HEAD" or path == "/empty":
            assert r.content == b""
        else:
            size = len(body) if body else 0
            path_info = path.partition("?")[0]
            query = path.partition("?")[2]
            assert r.text == "%s %s %s %d\n" % (method, path_info, query, size), (method, path)
    # keep-alive across a validator app too
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=REQ_TIMEOUT)
    try:
        for _ in range(3):
            conn.request("GET", "/gen")
            r = conn.getresponse()
            assert r.status == 200 and r.read() == b"GET /gen  0\n"
    finally:
        conn.close()
    log = srv.wait_log("validator-app: PATCH /thing")
    assert "validator-app: writelines" in log
    # stop first so that anything printed at the end (iterators never closed,
    # warnings) is in the log too
    problems = srv.stop()
    log = srv.log
    assert not problems, problems
    assert "AssertionError" not in log, log[-5000:]
    assert "WSGIWarning" not in log, log[-5000:]
    assert "Traceback" not in log, log[-5000:]
