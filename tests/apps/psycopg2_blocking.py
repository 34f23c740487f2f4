"""python/examples/psycopg2_green.py without its wait callback: the control.

psycopg2 then blocks in libpq, and the whole worker with it, so concurrent
queries run one after another whatever --async says.
"""
import psycopg2.extensions

from psycopg2_green import application  # noqa: F401 (the WSGI callable)

psycopg2.extensions.set_wait_callback(None)
