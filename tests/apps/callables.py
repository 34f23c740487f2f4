"""Several callables in one module, for --callable and module:callable."""


def _answer(text):
    body = text.encode()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    return app


application = _answer("from application")
myapp = _answer("from myapp")
other = _answer("from other")
