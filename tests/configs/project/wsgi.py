"""A top-level wsgi.py, as Flask tutorials have it (`module = wsgi:app`)."""
from flaskapp.app import app

application = app
