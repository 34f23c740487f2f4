"""A Flask app whose views give way to other requests in the middle.

    uwsgo --http-socket :9090 --wsgi-file python/examples/flask_app.py --async 50 --ugreen
    curl 'http://127.0.0.1:9090/echo?name=ann&sleep=1'
    curl -d 'x=1' 'http://127.0.0.1:9090/echo?name=bob'
    curl 'http://127.0.0.1:9090/stream?name=cy&n=5'

Flask keeps the current request (flask.request, flask.g, flask.session) in
contextvars. uwsgo starts every request in a fresh contextvars context and
every green thread keeps its own, so while 50 views sleep at once, each
still sees its own request when it wakes up, on whatever core.

/echo      sleeps (uwsgi.async_sleep + uwsgi.suspend: parks the core, no
           CPU used), suspends some more from nested calls, then answers with
           what it sees of its request: args, form, body, path, headers, g
/stream    a streamed response (stream_with_context): each chunk is produced
           after a sleep and still reads its own request.args
/          a short page
"""
import time

from flask import Flask, Response, g, jsonify, request, stream_with_context

try:
    import uwsgi
except ImportError:   # under `flask run`: plain blocking sleeps
    uwsgi = None

app = application = Flask(__name__)


def green_sleep(secs):
    """Give the core away for secs seconds (other requests run meanwhile)."""
    if uwsgi is None:
        time.sleep(secs)
        return
    if secs > 0:
        uwsgi.async_sleep(secs)   # arm this core's timer...
    uwsgi.suspend()               # ...and park until it fires


def deep(n):
    """Suspend at every level of a recursion: views may give way from anywhere."""
    if n == 0:
        return request.args.get("name")
    green_sleep(0)
    return deep(n - 1)


@app.before_request
def tag_request():
    g.tag = request.args.get("name")
    g.started = time.monotonic()


@app.route("/echo", methods=["GET", "POST"])
def echo():
    green_sleep(float(request.args.get("sleep", "0.2")))
    from_deep = deep(int(request.args.get("depth", "10")))
    return jsonify(
        name=request.args.get("name"),
        args=request.args.to_dict(flat=False),
        form=request.form.to_dict(flat=False),
        data=request.get_data(as_text=True),
        path=request.path,
        method=request.method,
        header=request.headers.get("X-Client-Id"),
        g_tag=g.tag,
        from_deep=from_deep,
        core=uwsgi.core_id() if uwsgi else None,
        waited=round(time.monotonic() - g.started, 3),
    )


@app.route("/stream")
def stream():
    n = int(request.args.get("n", "3"))

    @stream_with_context
    def chunks():
        for i in range(n):
            green_sleep(float(request.args.get("sleep", "0.1")))
            yield "%s %d %s\n" % (request.args.get("name"), i, g.tag)

    return Response(chunks(), mimetype="text/plain")


@app.route("/")
def index():
    return "<h1>Flask on uwsgo</h1><p>Try <a href='/echo?name=you'>/echo?name=you</a>.</p>\n"
