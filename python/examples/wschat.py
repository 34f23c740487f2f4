"""wschat: a multi-room chat over WebSockets, on uWSGI's websocket API.

A plain WSGI app; the same file runs on uwsgo and on uWSGI:

    uwsgo --http-socket :9090 --wsgi-file python/examples/wschat.py --async 1000 --ugreen
    uwsgo --http-socket :9090 --wsgi-file python/examples/wschat.py --async 1000 --greenlet
    uwsgo --http-socket :9090 --wsgi-file python/examples/wschat.py --gevent 1000
    uwsgi --plugin python3,gevent_python3 --http-socket :9090 \\
          --wsgi-file python/examples/wschat.py --gevent 1000

then open http://127.0.0.1:9090/?room=lobby&user=alice in one browser and
http://127.0.0.1:9090/?room=lobby&user=bob in another. The rooms live in
the worker's memory: run one worker (the default), since members of one
room in two workers would not hear each other.

How it works. Every member of a room is one request that did the
websocket handshake and then holds its core (--async N: N members at
most, less the page loads). A room keeps its latest messages, each with an
id (1, 2, 3, ...), and each member remembers the id it has sent last.
A message from one member is appended to the room, and every member gets
a wake-up: a write to an eventfd of its own. A member's core waits for
either of two things at once: a frame from its own browser, or a wake-up.
On waking it reads what its browser sent, then sends its browser every
message after the last id it sent: in order, none twice, none lost even
when several wake-ups came together. A waiting core costs no CPU: no
polling, no sleep loop; the server's event loop watches the fds.

How a core waits depends on the engine:
  --ugreen, --greenlet (uwsgo): uwsgi.wait_fd_read() on both fds, then
      uwsgi.suspend(): the core switches away until one is readable.
  --gevent (uwsgo and uWSGI): gevent.select.poll() on both fds: the
      greenlet waits in gevent's hub (uWSGI's async calls do not apply
      there, and uwsgo's raise).
  plain --async, or no --async: refused with a 500 (uwsgi.suspend() would
      return at once, and the loop would spin).

Protocol: GET /ws?room=NAME&user=NAME[&since=ID] upgrades to a WebSocket.
The client sends text frames, each one message. The server sends JSON
text frames: {"type": "welcome", "room", "user", "members", "last"},
then {"type": "msg", "id", "user", "text", "time", "members"} for each
message (the ones after `since`, or the latest few, come first), and
{"type": "error", "error"} for a message it refused (the connection
stays open).
"""
import json
import os
import re
import time
from urllib.parse import parse_qs

import uwsgi

HISTORY = 1000        # messages a room keeps (for members that lag, and for `since`)
ON_JOIN = 20          # messages a new member gets without `since`
MAX_TEXT = 1000       # characters in one message
KEEPALIVE = 30        # seconds a wait lasts at most: recv_nb then answers pings, sends its own
NAME = re.compile(r"^[\w .-]{1,40}$")

rooms = {}            # name -> Room


class Member:
    __slots__ = ("user", "wake_fd", "last", "woken")

    def __init__(self, user, last):
        self.user = user
        # The member's wake-up channel: readable while a wake-up is pending.
        self.wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.last = last      # id of the last message sent to this member
        self.woken = False    # a wake-up is pending: no need to write another

    def wake(self):
        if not self.woken:
            self.woken = True
            os.eventfd_write(self.wake_fd, 1)

    def drain(self):
        self.woken = False
        try:
            os.eventfd_read(self.wake_fd)
        except BlockingIOError:
            pass

    def close(self):
        os.close(self.wake_fd)


class Room:
    def __init__(self, name):
        self.name = name
        self.messages = []    # the latest messages, oldest first (HISTORY to 2*HISTORY of them)
        self.last_id = 0
        self.members = set()

    def after(self, since):
        """The messages kept with an id greater than since, oldest first."""
        if since >= self.last_id:
            return []
        first = self.last_id - len(self.messages) + 1
        return self.messages[max(0, since + 1 - first):]

    def say(self, user, text):
        self.last_id += 1
        self.messages.append({"type": "msg", "id": self.last_id, "user": user, "text": text,
                              "time": round(time.time(), 3), "members": len(self.members)})
        if len(self.messages) > 2 * HISTORY:
            del self.messages[:HISTORY]   # now and then, not on every message
        for m in self.members:
            m.wake()


def send(obj):
    uwsgi.websocket_send(json.dumps(obj).encode())


def engine():
    """"gevent", "green" (a core can switch away from anywhere) or None.
    uWSGI and uwsgo both list the options they run with in uwsgi.opt."""
    opt = getattr(uwsgi, "opt", {})
    if "gevent" in opt:
        return "gevent"
    if "ugreen" in opt or "greenlet" in opt:
        return "green"
    return None


def make_waiter(ws_fd, wake_fd):
    """wait(): return once either fd is readable (or KEEPALIVE seconds passed)."""
    if engine() == "gevent":
        import select
        import gevent.select   # its poll() has no FD_SETSIZE limit, unlike its select()

        poller = gevent.select.poll()
        poller.register(ws_fd, select.POLLIN)
        poller.register(wake_fd, select.POLLIN)

        def wait():
            poller.poll(KEEPALIVE * 1000)
    else:
        def wait():
            uwsgi.wait_fd_read(ws_fd, KEEPALIVE)
            uwsgi.wait_fd_read(wake_fd)
            uwsgi.suspend()
    return wait


def incoming():
    """The text messages the browser has sent so far (b'' from recv_nb: nothing more)."""
    while True:
        data = uwsgi.websocket_recv_nb()   # answers pings itself; IOError once the client is gone
        if not data:
            return
        yield data


def member_loop(room, user, since):
    if since is None:
        since = max(0, room.last_id - ON_JOIN)
    since = min(since, room.last_id)
    me = Member(user, since)
    wait = make_waiter(uwsgi.connection_fd(), me.wake_fd)
    room.members.add(me)
    try:
        send({"type": "welcome", "room": room.name, "user": user,
              "members": len(room.members), "last": room.last_id})
        while True:
            for data in incoming():
                try:
                    text = data.decode("utf-8").strip()
                except UnicodeDecodeError:
                    send({"type": "error", "error": "messages must be UTF-8 text"})
                    continue
                if len(text) > MAX_TEXT:
                    send({"type": "error", "error": "message too long (at most %d characters)" % MAX_TEXT})
                elif text:
                    room.say(user, text)
            news = room.after(me.last)
            if news and news[0]["id"] != me.last + 1:
                # this member fell more than HISTORY messages behind
                send({"type": "error", "error": "missed messages %d to %d" % (me.last + 1, news[0]["id"] - 1)})
            for msg in news:
                send(msg)     # may switch to other cores while the socket is full
                me.last = msg["id"]
            wait()
            # Drained before the messages are read: a wake-up that comes
            # after this point makes the next wait return at once.
            me.drain()
    except OSError:
        pass              # the browser went away (uWSGI's API raises IOError)
    finally:
        room.members.discard(me)
        me.close()
        if not room.members and not room.messages:
            rooms.pop(room.name, None)


def bad_request(start_response, why):
    start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
    return [why.encode() + b"\n"]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Cache-Control", "no-store")])
        return [PAGE.encode()]
    if path != "/ws":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    q = parse_qs(environ.get("QUERY_STRING", ""))
    room_name = (q.get("room") or ["lobby"])[0].strip()
    user = (q.get("user") or [""])[0].strip()
    if not NAME.match(room_name) or not NAME.match(user):
        return bad_request(start_response, "room and user: 1 to 40 letters, digits, spaces, '.', '_' or '-'")
    try:
        since = int(q["since"][0]) if "since" in q else None
    except ValueError:
        return bad_request(start_response, "since must be a message id")
    if environ.get("HTTP_UPGRADE", "").lower() != "websocket" or "HTTP_SEC_WEBSOCKET_KEY" not in environ:
        return bad_request(start_response, "this is the chat's WebSocket: connect with a WebSocket client")

    if engine() is None:
        # without a suspend engine uwsgi.suspend() returns at once: the
        # member loop would spin instead of wait
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"wschat needs --async N with --ugreen or --greenlet, or --gevent N\n"]
    uwsgi.websocket_handshake()   # 101 Switching Protocols; raises IOError on a bad key or version
    room = rooms.get(room_name)
    if room is None:
        room = rooms[room_name] = Room(room_name)
    member_loop(room, user, since)
    return []


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wschat</title>
<style>
  body { font: 15px/1.4 sans-serif; margin: 2em auto; max-width: 46em; color: #222; }
  h1 { font-size: 1.4em; }
  #who { display: flex; gap: .5em; margin-bottom: .8em; }
  #log { border: 1px solid #aaa; height: 22em; overflow-y: auto; padding: .5em; background: #fafafa; }
  #log div { margin: .15em 0; }
  #log b { color: #035; }
  #log .error { color: #a00; }
  #form { margin-top: .8em; display: flex; gap: .5em; }
  #text { flex: 1; }
  #status { color: #777; font-size: .85em; margin-top: .4em; }
</style>
</head>
<body>
<h1>wschat</h1>
<form id="who">
  <input id="user" placeholder="your name" autocomplete="off">
  <input id="room" placeholder="room" autocomplete="off">
  <button id="join" type="submit">Join</button>
</form>
<div id="log"></div>
<form id="form">
  <input id="text" placeholder="say something" autocomplete="off">
  <button id="send" type="submit">Send</button>
</form>
<div id="status">not connected</div>
<script>
"use strict";
const log = document.getElementById("log");
const status = document.getElementById("status");
const params = new URLSearchParams(location.search);
document.getElementById("user").value = params.get("user") || "";
document.getElementById("room").value = params.get("room") || "lobby";
let ws = null;
let last = 0;          // the id of the last message shown, to resume after a reconnect
let joined = null;     // [user, room] this page is in

function line(cls, who, text, id) {
  const div = document.createElement("div");
  div.className = cls;
  if (id) div.dataset.id = id;
  if (who) {
    const b = document.createElement("b");
    b.textContent = who + ": ";
    div.appendChild(b);
  }
  div.appendChild(document.createTextNode(text));
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
}

function here(members) {
  status.textContent = "connected to " + joined[1] + " as " + joined[0] + " (" + members + " here)";
}

function connect() {
  const [user, room] = joined;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  // after a reconnect, ask for what came since the last message shown
  const q = last ? {room: room, user: user, since: last} : {room: room, user: user};
  const url = proto + "//" + location.host + location.pathname.replace(/[^/]*$/, "") + "ws?" +
    new URLSearchParams(q);
  const sock = ws = new WebSocket(url);
  status.textContent = "connecting...";
  sock.onmessage = ev => {
    const m = JSON.parse(ev.data);
    if (m.type === "welcome") {
      if (m.last < last) { last = 0; log.textContent = ""; }   // the server restarted
      here(m.members);
    } else if (m.type === "msg" && m.id > last) {
      line("msg", m.user, m.text, m.id);
      last = m.id;
      here(m.members);
    } else if (m.type === "error") {
      line("error", "", m.error);
    }
  };
  sock.onclose = () => {
    if (ws !== sock) return;        // replaced by a join to another room
    status.textContent = "reconnecting...";
    setTimeout(() => { if (ws === sock) connect(); }, 1000);
  };
}

document.getElementById("who").addEventListener("submit", ev => {
  ev.preventDefault();
  const user = document.getElementById("user").value.trim();
  const room = document.getElementById("room").value.trim() || "lobby";
  if (!user) { status.textContent = "give a name first"; return; }
  const old = ws;
  ws = null;
  if (old) old.close();
  joined = [user, room];
  last = 0;
  log.textContent = "";
  connect();
});

document.getElementById("form").addEventListener("submit", ev => {
  ev.preventDefault();
  const text = document.getElementById("text");
  if (!ws || ws.readyState !== WebSocket.OPEN || !text.value.trim()) return;
  ws.send(text.value);
  text.value = "";
});

if (params.get("user")) document.getElementById("join").click();
</script>
</body>
</html>
"""
