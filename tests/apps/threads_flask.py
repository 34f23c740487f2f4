"""A Flask app for --threads: views that block in time.sleep (the GIL is
released) and then read back their own request, g and session-free state."""
import threading
import time

from flask import Flask, g, jsonify, request

app = application = Flask(__name__)


@app.before_request
def tag_request():
    g.tag = request.args.get("name")


@app.route("/echo", methods=["GET", "POST"])
def echo():
    t0 = time.monotonic()
    time.sleep(float(request.args.get("sleep", "0.5")))
    t1 = time.monotonic()
    return jsonify(
        name=request.args.get("name"),
        g_tag=g.tag,
        form=request.form.to_dict(flat=False),
        header=request.headers.get("X-Client-Id"),
        thread=threading.current_thread().name,
        t0=t0,
        t1=t1,
    )
