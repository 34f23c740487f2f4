"""A mule's own program (--mule=this file): it takes messages with
uwsgi.mule_get_msg() and appends one JSON line per message to $SPOOL_LOG;
the app (api_spooler_app.py) sends them."""
import json
import os

import uwsgi

LOG = os.environ["SPOOL_LOG"]


def record(**kw):
    with open(LOG, "a") as f:
        f.write(json.dumps(kw, sort_keys=True) + "\n")


record(event="started", mule=uwsgi.mule_id(), name=__name__, timeout=repr(uwsgi.mule_get_msg(timeout=1)))
while True:
    msg = uwsgi.mule_get_msg()
    record(event="message", mule=uwsgi.mule_id(), msg=msg.decode("latin-1"))
