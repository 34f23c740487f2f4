"""A mule's program (--mule=this file) in a farm: it takes messages with
uwsgi.farm_get_msg() and appends one JSON line per message to $SPOOL_LOG
(api_spooler_app.py's /farmmsg sends them)."""
import json
import os

import uwsgi

LOG = os.environ["SPOOL_LOG"]


def record(**kw):
    with open(LOG, "a") as f:
        f.write(json.dumps(kw, sort_keys=True) + "\n")


record(event="started", mule=uwsgi.mule_id())
while True:
    msg = uwsgi.farm_get_msg()
    record(event="message", mule=uwsgi.mule_id(), msg=msg.decode("latin-1"))
