"""The WebSocket chat (python/examples/wschat.py) on every engine, and on
Debian's uWSGI 2.0.21 under --gevent side by side.

- two (and a third, in another room) headless Chromium pages chat over
  WebSockets, straight to the server and through nginx's uwsgi_pass;
  screenshots stay in the test's tmp_path (wschat-*.png)
- 1 000 clients (python3-websockets, asyncio) in one room: every message
  reaches every one of them, in the same order, each sender's in the order
  it sent them
- bad input: a plain GET of the WebSocket URL and bad names get 400, a
  message that is too long or not UTF-8 gets an error frame, and the
  connection (and the others) go on; without a suspend engine (plain
  --async) the app refuses the WebSocket with a 500 that says why
"""
import asyncio
import json
import resource

import pytest
import requests

from cdp import Chromium
from dropin_ref import pair  # noqa: F401 - the fixture
from helpers import EXAMPLES, REQ_TIMEOUT, free_port

try:  # a missing client fails the module, it is not skipped
    import websockets
    import websockets.client
except ImportError as e:  # pragma: no cover - make deps installs it
    raise ImportError("python3-websockets is missing: run make deps (%s)" % e)

APP = ["--wsgi-file", EXAMPLES / "wschat.py", "--disable-logging"]

# (server, engine) -> the options that pick the engine, with cores for n members
SERVERS = {
    "uwsgo-ugreen": ("uwsgo", lambda n: ["--async", n, "--ugreen"]),
    "uwsgo-greenlet": ("uwsgo", lambda n: ["--async", n, "--greenlet"]),
    "uwsgo-gevent": ("uwsgo", lambda n: ["--gevent", n]),
    "uwsgi-gevent": ("uwsgi", lambda n: ["--plugin", "gevent_python3", "--gevent", n]),
}
ALL = list(SERVERS)


@pytest.fixture
def chat(request, uwsgo, pair, nginx):  # noqa: F811
    """chat(name, cores, via="http") -> a running server with the chat (.url,
    .port); name is a SERVERS key. via="nginx": the server listens on a
    uwsgi-protocol socket behind nginx's uwsgi_pass, and .url is nginx's."""
    def start(name, cores, via="http"):
        kind, engine = SERVERS[name]
        opts = APP + engine(cores) + ["--listen", "1024"]
        if via == "http":
            return uwsgo(*opts) if kind == "uwsgo" else pair("uwsgi", *opts)
        if kind == "uwsgo":
            up = uwsgo(*opts, proto="uwsgi")
        else:
            port = free_port()
            up = pair("uwsgi", *opts, "--socket", "127.0.0.1:%d" % port, port=port, http=False)
        return nginx(up.port, buffering=False)
    return start


def ws_url(srv, room, user, **extra):
    q = "&".join("%s=%s" % kv for kv in dict(room=room, user=user, **extra).items())
    return "ws://127.0.0.1:%d/ws?%s" % (srv.port, q)


def raise_fd_limit(need):
    """The clients' sockets are in this process; the server inherits the limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.fail("this test needs %d file descriptors; ulimit -Hn is %d" % (need, hard), pytrace=False)
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


async def connect(url):
    # no client pings: the test sees every frame the server sends, nothing else
    return await websockets.client.connect(url, ping_interval=None, open_timeout=REQ_TIMEOUT,
                                           close_timeout=2, max_queue=None)


async def recv_json(ws, timeout=REQ_TIMEOUT):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


# ---------------------------------------------------------------- the browser

MESSAGES_JS = ("Array.from(document.querySelectorAll('#log .msg'))"
               ".map(d => [Number(d.dataset.id), d.textContent])")


def wait_messages(page, texts, timeout=20.0):
    expr = ("(() => { const t = %s.map(m => m[1]); return %s.every(x => t.includes(x)); })()"
            % (MESSAGES_JS, json.dumps(texts)))
    page.wait_for(expr, timeout=timeout, what="messages %s on the page" % texts)
    return page.evaluate(MESSAGES_JS)


@pytest.mark.parametrize("name, via", [(n, "http") for n in ALL] + [
    ("uwsgo-ugreen", "nginx"), ("uwsgo-gevent", "nginx"), ("uwsgi-gevent", "nginx")])
def test_browsers_chat_over_websockets(chat, name, via, tmp_path):
    srv = chat(name, 20, via)
    base = srv.url + "/"
    with Chromium(tmp_path) as browser:
        pages = {}
        for user, room in (("alice", "lobby"), ("bob", "lobby"), ("carol", "kitchen")):
            p = pages[user] = browser.new_page(base + "?room=%s&user=%s" % (room, user))
            p.wait_for("document.getElementById('status').textContent.startsWith('connected to %s as %s')"
                       % (room, user), what="%s's page to join %s over its WebSocket" % (user, room))
        alice, bob, carol = pages["alice"], pages["bob"], pages["carol"]
        # the page really holds a WebSocket (not some fallback)
        assert alice.evaluate("ws instanceof WebSocket && ws.readyState === WebSocket.OPEN")

        alice.type_and_enter("text", "hello from alice")
        wait_messages(bob, ["alice: hello from alice"])
        bob.type_and_enter("text", "hi alice, bob here")
        carol.type_and_enter("text", "anyone in the kitchen?")
        both = ["alice: hello from alice", "bob: hi alice, bob here"]
        seen_by_alice = wait_messages(alice, both)
        seen_by_bob = wait_messages(bob, both)
        seen_by_carol = wait_messages(carol, ["carol: anyone in the kitchen?"])

        assert seen_by_alice == seen_by_bob == [[1, both[0]], [2, both[1]]]
        # rooms are apart: the kitchen has its own ids and hears nothing of the lobby
        assert seen_by_carol == [[1, "carol: anyone in the kitchen?"]]
        assert len(alice.evaluate(MESSAGES_JS)) == 2
        for p in (alice, bob):
            assert p.evaluate("document.getElementById('status').textContent").endswith("(2 here)")
        for user, p in pages.items():
            shot = p.screenshot(tmp_path / ("wschat-%s-%s-%s.png" % (name, via, user)))
            assert shot.stat().st_size > 5000

        # a page that comes later gets the room's history, once
        dave = browser.new_page(base + "?room=lobby&user=dave")
        assert wait_messages(dave, both) == [[1, both[0]], [2, both[1]]]
    # the server is still fine once the browser has gone
    assert requests.get(base, timeout=REQ_TIMEOUT).status_code == 200


# ---------------------------------------------------------------- 1 000 clients

CLIENTS = 1000
SENDERS = 10
PER_SENDER = 5


async def crowd(srv):
    """CLIENTS members in one room; SENDERS of them send PER_SENDER messages
    each, all at once. Returns what each member received, in order."""
    total = SENDERS * PER_SENDER
    socks = []
    for start in range(0, CLIENTS, 100):   # in batches, within the listen queue
        socks += await asyncio.gather(*(connect(ws_url(srv, "crowd", "u%d" % i))
                                        for i in range(start, min(start + 100, CLIENTS))))
    welcomes = await asyncio.gather(*(recv_json(ws) for ws in socks))
    assert all(w["type"] == "welcome" and w["last"] == 0 for w in welcomes)
    assert max(w["members"] for w in welcomes) == CLIENTS

    async def receive(ws):
        got = []
        while len(got) < total:
            m = await recv_json(ws, timeout=60)
            got.append(m)
        return got

    async def speak(i):
        for j in range(PER_SENDER):
            await socks[i].send("m %d %d" % (i, j))

    receivers = [asyncio.ensure_future(receive(ws)) for ws in socks]
    await asyncio.gather(*(speak(i * (CLIENTS // SENDERS)) for i in range(SENDERS)))
    try:
        received = await asyncio.gather(*receivers)
    finally:
        for r in receivers:
            r.cancel()
        await asyncio.gather(*(ws.close() for ws in socks), return_exceptions=True)
    return received


@pytest.mark.parametrize("name", ALL)
def test_thousand_clients_one_room(chat, name):
    raise_fd_limit(4 * CLIENTS + 256)
    srv = chat(name, CLIENTS + 20)
    received = asyncio.run(crowd(srv))

    total = SENDERS * PER_SENDER
    first = received[0]
    assert [m["type"] for m in first] == ["msg"] * total
    assert [m["id"] for m in first] == list(range(1, total + 1))
    # every sender's messages in the order it sent them
    for i in range(SENDERS):
        sender = "u%d" % (i * (CLIENTS // SENDERS))
        mine = [m["text"] for m in first if m["user"] == sender]
        assert mine == ["m %d %d" % (i * (CLIENTS // SENDERS), j) for j in range(PER_SENDER)]
    # every member got exactly the same messages, in the same order
    order = [(m["id"], m["user"], m["text"]) for m in first]
    differ = [k for k, got in enumerate(received)
              if [(m["id"], m["user"], m["text"]) for m in got] != order]
    assert not differ, "%d of %d members got other messages, e.g. u%d: %r" % (
        len(differ), CLIENTS, differ[0], received[differ[0]][:5])
    # all of them were in the room when each message was said
    assert {m["members"] for m in first} == {CLIENTS}
    # and the server serves on
    assert requests.get(srv.url + "/", timeout=REQ_TIMEOUT).status_code == 200


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("name", ALL)
def test_bad_input(chat, name):
    srv = chat(name, 10)
    for path, why in (("/ws?room=lobby&user=x", "WebSocket client"),
                      ("/ws?room=lobby&user=", "room and user"),
                      ("/ws?room=%3Cscript%3E&user=x", "room and user"),
                      ("/ws?room=lobby&user=x&since=abc", "since must be")):
        r = requests.get(srv.url + path, timeout=REQ_TIMEOUT)
        assert r.status_code == 400 and why in r.text, (path, r.status_code, r.text)
    assert requests.get(srv.url + "/nope", timeout=REQ_TIMEOUT).status_code == 404

    async def talk():
        a = await connect(ws_url(srv, "r", "a"))
        b = await connect(ws_url(srv, "r", "b"))
        assert (await recv_json(a))["type"] == (await recv_json(b))["type"] == "welcome"
        await a.send("x" * 1001)
        err = await recv_json(a)
        assert err["type"] == "error" and "too long" in err["error"]
        await a.send(b"\xff\xfe not utf-8")
        err = await recv_json(a)
        assert err["type"] == "error" and "UTF-8" in err["error"]
        await a.send("   ")          # nothing to say: ignored
        await a.send("still here")
        for ws in (a, b):
            m = await recv_json(ws)
            assert (m["type"], m["id"], m["user"], m["text"]) == ("msg", 1, "a", "still here")
        # a client that vanishes without a close frame leaves the room (once
        # its core has seen the EOF); the others go on
        a.transport.abort()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REQ_TIMEOUT
        n = 1
        while True:
            n += 1
            await b.send("said %d" % n)
            m = await recv_json(b)
            assert (m["id"], m["text"]) == (n, "said %d" % n)
            if m["members"] == 1:
                break
            assert loop.time() < deadline, "the vanished client is still a member"
        # a late joiner with since gets what it missed, and only that
        c = await connect(ws_url(srv, "r", "c", since=n - 1))
        w = await recv_json(c)
        assert (w["type"], w["last"], w["members"]) == ("welcome", n, 2)
        m = await recv_json(c)
        assert (m["id"], m["text"]) == (n, "said %d" % n)
        await b.close()
        await c.close()

    asyncio.run(talk())


@pytest.mark.parametrize("kind", ["uwsgo", "uwsgi"])
def test_plain_async_is_refused(uwsgo, pair, kind):  # noqa: F811
    """Without a suspend engine the member loop would spin: the app says so instead."""
    opts = APP + ["--async", "10"]
    srv = uwsgo(*opts) if kind == "uwsgo" else pair("uwsgi", *opts)
    r = requests.get(srv.url + "/ws?room=lobby&user=x", timeout=REQ_TIMEOUT,
                     headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert r.status_code == 500 and "--ugreen or --greenlet, or --gevent" in r.text
    assert requests.get(srv.url + "/", timeout=REQ_TIMEOUT).status_code == 200
