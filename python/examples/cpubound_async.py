"""CPU-bound streaming app for async mode (uWSGI's tests/cpubound_async.py).

Every `yield` gives the core back to the server, so with `--async N` other
requests are served between the chunks:

    uwsgo --http-socket :9090 -w cpubound_async --pythonpath python/examples --async 10
"""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html")])
    for i in range(1, 10001):
        yield b"<h1>%d</h1>" % i
