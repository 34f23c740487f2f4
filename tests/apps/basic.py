"""The test suite's general-purpose WSGI app; routes on PATH_INFO.

/hello              b"Hello World" with Content-Length
/environ...         the environ as JSON (any path below /environ)
/echo               the request body back, with Content-Length
/readline           wsgi.input read with readline() until b"", as a JSON list
/readline4          the same with readline(4)
/readlines          wsgi.input.readlines()
/iter               list(wsgi.input)
/nolength           three chunks and no Content-Length
/slowstream?gap=S  three chunks S (default 0.2) seconds apart, no Content-Length
/write              the write() callable, then a returned iterable
/close?marker=PATH  an iterable whose close() creates the file PATH
/error              raises before start_response
/error-midstream    raises after the first chunk was yielded
/status?code=N      responds with status N
/cookies            two Set-Cookie headers
/errors?msg=TEXT    writes TEXT to wsgi.errors, answers "ok"
/stream?s=SECONDS   "first", then uwsgi.async_sleep(SECONDS), then "second"
/sleep?s=SECONDS    time.sleep (blocks the worker), then "slept"
"""
import json
import time
from urllib.parse import parse_qs

JSON_TYPES = (str, int, float, bool, type(None))


def query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""),
                                         keep_blank_values=True).items()}


def respond(start_response, body, status="200 OK", ctype="text/plain", extra=()):
    if isinstance(body, str):
        body = body.encode()
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))]
                   + list(extra))
    return [body]


def respond_json(start_response, obj):
    return respond(start_response, json.dumps(obj), ctype="application/json")


def environ_json(environ):
    out = {}
    for k, v in environ.items():
        if isinstance(v, JSON_TYPES):
            out[k] = v
        elif k == "wsgi.version":
            out[k] = list(v)
        else:
            out[k] = "<%s>" % type(v).__name__
    return out


def read_body(environ):
    inp = environ["wsgi.input"]
    cl = environ.get("CONTENT_LENGTH", "")
    chunks = []
    if cl:
        left = int(cl)
        while left > 0:
            data = inp.read(min(left, 65536))
            if not data:
                break
            chunks.append(data)
            left -= len(data)
    else:
        while True:
            data = inp.read(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


class ClosingIterable:
    def __init__(self, marker, chunks):
        self.marker = marker
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        with open(self.marker, "w") as f:
            f.write("closed\n")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = query(environ)

    if path == "/hello" or path == "/":
        return respond(start_response, b"Hello World")

    if path.startswith("/environ"):
        return respond_json(start_response, environ_json(environ))

    if path == "/echo":
        body = read_body(environ)
        return respond(start_response, body, ctype="application/octet-stream",
                       extra=[("X-Content-Length", environ.get("CONTENT_LENGTH", "") or "-")])

    if path in ("/readline", "/readline4", "/readlines", "/iter"):
        inp = environ["wsgi.input"]
        if path == "/readline":
            lines = list(iter(inp.readline, b""))
        elif path == "/readline4":
            lines = list(iter(lambda: inp.readline(4), b""))
        elif path == "/readlines":
            lines = inp.readlines()
        else:
            lines = [line for line in inp]
        assert all(isinstance(x, bytes) for x in lines), [type(x) for x in lines]
        return respond_json(start_response, [x.decode("latin-1") for x in lines])

    if path == "/nolength":
        def gen():
            yield b"part1-"
            yield b"part2-"
            yield b"part3"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()

    if path == "/slowstream":
        def gen():
            gap = float(q.get("gap", "0.2"))
            yield b"part1-"
            time.sleep(gap)
            yield b"part2-"
            time.sleep(gap)
            yield b"part3"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()

    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"foo")
        write(b"bar")
        return [b"baz"]

    if path == "/close":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ClosingIterable(q["marker"], [b"closing ", b"iterable"])

    if path == "/error":
        raise RuntimeError("boom-in-app")

    if path == "/error-midstream":
        def gen():
            yield b"first chunk\n"
            raise RuntimeError("boom-midstream")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()

    if path == "/status":
        code = int(q.get("code", "200"))
        reasons = {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found",
                   418: "I'm a teapot", 503: "Service Unavailable"}
        status = "%d %s" % (code, reasons.get(code, "Whatever"))
        if code == 204:
            start_response(status, [])
            return []
        return respond(start_response, status, status=status)

    if path == "/cookies":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2"),
                                  ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return [b"ok"]

    if path == "/errors":
        environ["wsgi.errors"].write(q.get("msg", "") + "\n")
        environ["wsgi.errors"].flush()
        return respond(start_response, b"ok")

    if path == "/stream":
        import uwsgi
        seconds = float(q.get("s", "2"))

        def gen():
            yield b"first\n"
            yield uwsgi.async_sleep(seconds)
            yield b"second\n"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()

    if path == "/sleep":
        time.sleep(float(q.get("s", "1")))
        return respond(start_response, b"slept")

    return respond(start_response, "no route for %s\n" % path, status="404 Not Found")
