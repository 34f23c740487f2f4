"""uwsgi.set_logvar/get_logvar (shown by %(who) in --log-format) and
uwsgi.log_this_request(): /loud asks to be logged, /quiet does not."""
import uwsgi


def application(environ, start_response):
    path = environ["PATH_INFO"]
    uwsgi.set_logvar("who", "nobody")
    uwsgi.set_logvar("who", "alice")  # the last value wins
    uwsgi.set_logvar("path", path)
    if path == "/loud":
        uwsgi.log_this_request()
    body = b"%r %r" % (uwsgi.get_logvar("who"), uwsgi.get_logvar("nothing"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
