"""An app wrapped in wsgiref.validate.validator: every PEP 3333 rule the
server breaks raises AssertionError (or warns WSGIWarning) in the log.

/           plain answer with Content-Length
/gen        a generator, no Content-Length
/write      the write() callable
/empty      an empty body
/post       reads the body with read(n) / readline() / readlines() / iteration
"""
from wsgiref.validate import validator


def _app(environ, start_response):
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "")
    inp = environ["wsgi.input"]
    errors = environ["wsgi.errors"]
    errors.write("validator-app: %s %s\n" % (method, path))
    errors.writelines(["validator-app: writelines\n"])
    errors.flush()

    size = 0
    cl = environ.get("CONTENT_LENGTH")
    if cl:
        how = environ.get("QUERY_STRING", "")
        if how == "readline":
            while True:
                line = inp.readline()
                if not line:
                    break
                size += len(line)
        elif how == "readlines":
            size = sum(len(x) for x in inp.readlines())
        elif how == "iter":
            size = sum(len(x) for x in inp)
        else:
            size = len(inp.read(int(cl)))

    out = ("%s %s %s %d\n" % (method, path, environ.get("QUERY_STRING", ""), size)).encode()
    if path == "/gen":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield out[:3]
            yield out[3:]
        return gen()
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain"),
                                          ("Content-Length", str(len(out)))])
        write(out)
        return []
    if path == "/empty":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return []
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


application = validator(_app)
