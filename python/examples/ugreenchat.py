"""ugreenchat: a small multiuser Comet (long-poll) chat on uGreen, with Bottle.

The chat uWSGI's uGreen documentation talks about, rewritten for uwsgo:

    uwsgo -s :3031 -w ugreenchat --pythonpath python/examples --async 30 --ugreen
    uwsgo --http-socket :9090 -w ugreenchat --pythonpath python/examples --async 30 --ugreen

then open http://127.0.0.1:9090/ in two browsers (or put nginx with
`uwsgi_pass 127.0.0.1:3031` in front of the -s one).

How it works. Every message gets an id (1, 2, 3, ...). A client asks
GET /poll?since=N for the messages after id N. If there are some, it gets
them at once; if not, the request *waits* for the next message: it parks
its core on a pipe of its own, and POST /post writes one byte into the pipe
of every waiting client. A parked core costs no CPU (no busy loop): the
server's event loop watches the pipe and wakes the core when the byte
arrives. The client then asks again with the last id it saw, so nothing
posted in between is lost. --async 30 means 30 cores: 30 clients can wait
at the same time in one worker process; each client should keep at most
one request (a poll or a post) in flight, so posts always find a free core.

Lines that are about uGreen are marked "# uGreen:".

Bottle note: bottle.request and bottle.response are thread-locals. uwsgo
gives each core its own thread-local storage, so a handler may use them
across uwsgi.suspend() as in any threaded server. (Under uWSGI all green
threads share them; the handlers here read the request before they suspend
and answer with a complete bottle.HTTPResponse, so they run there too.)
"""
import json
import math
import os
import time

import bottle
import uwsgi  # uGreen: uwsgo's (and uWSGI's) module: suspend(), wait_fd_read(), ...

HISTORY = 10000       # messages kept; a client further behind gets "truncated": true
POLL_TIMEOUT = 25     # seconds a poll waits for news before it answers an empty list
MAX_TEXT = 1000

messages = []         # [{"id": .., "user": .., "text": .., "time": ..}], oldest first
first_id = 1          # id of messages[0]
waiters = set()       # uGreen: write ends of the pipes of the parked polls

app = application = bottle.Bottle()


def json_response(obj, status=200):
    # A complete response object: bottle copies its status and headers over
    # bottle.response (a thread-local, which uWSGI shares between cores).
    return bottle.HTTPResponse(
        body=json.dumps(obj), status=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"})


def messages_after(since):
    """The messages with an id greater than since, and whether some are gone."""
    start = max(since + 1 - first_id, 0)
    return messages[start:], since + 1 < first_id


def wake_waiters():
    # uGreen: one byte into each parked poll's pipe makes its read end
    # readable; the event loop sees it and resumes that poll's core. Each
    # waiter is woken once: it leaves the set, and puts itself back if it
    # has to wait again, so a burst of posts costs one write per waiter.
    woken = list(waiters)
    waiters.clear()
    for w in woken:
        try:
            os.write(w, b"!")
        except OSError:
            pass      # a full pipe has wake-ups pending already


def drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def wait_for_messages(environ, since, timeout):
    """Park this core until there are messages after `since` (or timeout)."""
    found, truncated = messages_after(since)
    if found or timeout <= 0:
        return found, truncated
    r, w = os.pipe()            # uGreen: this poll's own wake-up channel
    os.set_blocking(r, False)   # uGreen: never block the worker on it...
    os.set_blocking(w, False)   # uGreen: ...nor the poster (a full pipe is fine)
    try:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return [], False
            waiters.add(w)          # uGreen: the next post writes to us
            # uGreen: register r with the event loop (timeout in whole seconds)...
            uwsgi.wait_fd_read(r, max(1, math.ceil(left)))
            # uGreen: ...and switch to the other cores. This call returns when
            # a byte arrived in the pipe or the timeout passed. It works from
            # here, deep inside bottle's call stack, because every core has
            # its own C stack: no generator or yield is needed.
            uwsgi.suspend()
            # uGreen: a timed-out wait sets this in the environ of the request
            # (read from our own environ: bottle.request may be another's now).
            if environ.get("x-wsgiorg.fdevent.timeout"):
                return [], False
            drain(r)            # uGreen: empty the pipe, or the next wait fires at once
            found, truncated = messages_after(since)
            if found:
                return found, truncated
    finally:
        waiters.discard(w)      # uGreen: no more wake-ups for us
        os.close(r)
        os.close(w)


@app.get("/poll")
def poll():
    # Everything from bottle.request is read before the first suspend.
    environ = bottle.request.environ
    try:
        since = int(bottle.request.query.get("since") or 0)
        timeout = float(bottle.request.query.get("timeout") or POLL_TIMEOUT)
    except ValueError:
        return json_response({"error": "since and timeout must be numbers"}, 400)
    timeout = min(max(timeout, 0), 300)
    newest = first_id + len(messages) - 1
    if since > newest:
        # The client saw ids this server never gave (it restarted): start over.
        return json_response({"messages": [], "last": newest, "truncated": False, "reset": True})
    found, truncated = wait_for_messages(environ, since, timeout)  # uGreen: may park here
    last = found[-1]["id"] if found else since
    return json_response({"messages": found, "last": last, "truncated": truncated})


@app.post("/post")
def post():
    global first_id
    user = (bottle.request.forms.getunicode("user") or "").strip()[:40]
    text = (bottle.request.forms.getunicode("text") or "").strip()[:MAX_TEXT]
    if not user or not text:
        return json_response({"error": "user and text are required"}, 400)
    msg = {"id": first_id + len(messages), "user": user, "text": text, "time": time.time()}
    messages.append(msg)
    if len(messages) > HISTORY:
        drop = len(messages) - HISTORY
        del messages[:drop]
        first_id += drop
    wake_waiters()   # uGreen: every parked poll wakes up and answers with the news
    return json_response({"id": msg["id"]})


@app.get("/")
def index():
    return bottle.HTTPResponse(body=PAGE, headers={"Content-Type": "text/html; charset=utf-8"})


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ugreenchat</title>
<style>
  body { font: 15px/1.4 sans-serif; margin: 2em auto; max-width: 46em; color: #222; }
  h1 { font-size: 1.4em; }
  #log { border: 1px solid #aaa; height: 22em; overflow-y: auto; padding: .5em; background: #fafafa; }
  #log div { margin: .15em 0; }
  #log b { color: #035; }
  form { margin-top: .8em; display: flex; gap: .5em; }
  #user { width: 8em; }
  #text { flex: 1; }
  #status { color: #777; font-size: .85em; margin-top: .4em; }
</style>
</head>
<body>
<h1>ugreenchat</h1>
<div id="log"></div>
<form id="form">
  <input id="user" placeholder="your name" autocomplete="off">
  <input id="text" placeholder="say something" autocomplete="off">
  <button id="send" type="submit">Send</button>
</form>
<div id="status">connecting...</div>
<script>
"use strict";
const log = document.getElementById("log");
const status = document.getElementById("status");
const params = new URLSearchParams(location.search);
document.getElementById("user").value = params.get("user") || "";
let last = 0;
let waitFor = 0;   // the first poll answers at once (history); the next ones wait for news

function show(m) {
  const div = document.createElement("div");
  div.className = "msg";
  div.dataset.id = m.id;
  const who = document.createElement("b");
  who.textContent = m.user + ": ";
  div.appendChild(who);
  div.appendChild(document.createTextNode(m.text));
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
}

async function pollLoop() {
  for (;;) {
    try {
      const r = await fetch("poll?since=" + last + "&timeout=" + waitFor, {cache: "no-store"});
      if (!r.ok) throw new Error("HTTP " + r.status);
      const data = await r.json();
      waitFor = 25;
      if (data.reset) { last = 0; log.textContent = ""; continue; }
      for (const m of data.messages) {
        if (m.id > last) { show(m); last = m.id; }
      }
      status.textContent = "connected, last message #" + last;
    } catch (e) {
      status.textContent = "reconnecting (" + e + ")";
      await new Promise(res => setTimeout(res, 1000));
    }
  }
}

document.getElementById("form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const user = document.getElementById("user").value.trim();
  const text = document.getElementById("text");
  if (!user || !text.value.trim()) return;
  const body = new URLSearchParams({user: user, text: text.value});
  text.value = "";
  try {
    const r = await fetch("post", {method: "POST", body: body});
    if (!r.ok) throw new Error("HTTP " + r.status);
  } catch (e) {
    status.textContent = "could not send (" + e + ")";
  }
});

pollLoop();
</script>
</body>
</html>
"""
