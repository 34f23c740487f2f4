"""A Flask app as tutorials write it: `module = flaskapp.app:app`, or
`wsgi-file = flaskapp/app.py` with `callable = app`."""
import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "flaskapp cwd=%s mode=%s\n" % (os.getcwd(), os.environ.get("APP_MODE", "-"))


@app.route("/<path:rest>")
def anything(rest):
    return "flaskapp path=%s\n" % rest
