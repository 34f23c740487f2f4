"""The smallest WSGI app: `uwsgo --http-socket :9090 --wsgi-file hello.py`."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
    return [b"Hello World"]
