"""Request I/O: /echo reads the body with uwsgi.chunked_read() (or
chunked_read_nb() with ?nb) to its end; /file sends $SENDFILE with
uwsgi.sendfile between two pieces of body (?part: bytes 3 to 9, through
an open file)."""
import os

import uwsgi


def application(environ, start_response):
    path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
    if path == "/echo":
        read = uwsgi.chunked_read_nb if query == "nb" else uwsgi.chunked_read
        parts = []
        while True:
            part = read()
            if not part:
                break
            parts.append(part)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"".join(parts)]
    if path == "/file":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"<")
        if query == "part":
            with open(os.environ["SENDFILE"], "rb") as f:
                ok = uwsgi.sendfile(f, 0, 3, 6)
        else:
            ok = uwsgi.sendfile(os.environ["SENDFILE"])
        return [b">%r" % ok]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
