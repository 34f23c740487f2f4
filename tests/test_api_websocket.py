"""uWSGI's websocket API (uwsgi.websocket_*) on every engine, driven by real
clients: Debian's python3-websockets, python3-autobahn, and raw sockets for
what a well-behaved client never sends."""
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct

import pytest
import requests
import websockets

from dropin_ref import KINDS, pair  # noqa: F401 - the fixture
from helpers import APPS, REQ_TIMEOUT, engine_params, recv_until, recv_until_closed, until

APP = ["-w", "wsapp", "--pythonpath", APPS]
# engines whose websocket_recv() waits for a message without stopping the
# others: a green core or a greenlet parks, a thread blocks on its own
RECV_ENGINES = engine_params("ugreen", "greenlet", "gevent") + [pytest.param(["--threads", "4"], id="threads")]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_url(srv, path):
    return "ws://127.0.0.1:%d%s" % (srv.port, path)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, REQ_TIMEOUT))


async def echo_session(url, messages, **kw):
    got = []
    async with websockets.connect(url, open_timeout=REQ_TIMEOUT, close_timeout=REQ_TIMEOUT, **kw) as ws:
        for m in messages:
            await ws.send(m)
            got.append(await ws.recv())
    return got


def with_cores(engine, n):
    """The engine's options with n cores instead of 4."""
    return [str(n) if o == "4" else o for o in engine]


def events(srv):
    r = requests.get(srv.url + "/events", timeout=REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


# ------------------------------------------------------------ raw clients

def handshake_request(path="/echo", key=None, version="13", extra=""):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade"]
    if key:
        lines.append("Sec-WebSocket-Key: " + key)
    if version:
        lines.append("Sec-WebSocket-Version: " + version)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode(), key


def raw_connect(srv, path="/echo", **kw):
    """A socket past the 101; returns (sock, head, leftover bytes)."""
    req, key = handshake_request(path, **kw)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT)
    s.sendall(req)
    data = recv_until(s, b"\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    return s, head.decode("latin-1"), rest, key


def frame(opcode, payload, fin=True, mask=True, key=None):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = key or os.urandom(4)
    if key == b"\0\0\0\0":
        return hdr + key + payload
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def read_frame(sock, buf=b""):
    """One server frame: (opcode, payload, rest of the buffer)."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed with %r buffered" % buf)
            buf += chunk
    need(2)
    op, ln = buf[0] & 0x0F, buf[1] & 0x7F
    assert buf[0] & 0x80, "server frames here are never fragmented"
    assert not buf[1] & 0x80, "server frames must not be masked"
    pos = 2
    if ln == 126:
        need(4)
        ln, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif ln == 127:
        need(10)
        ln, pos = struct.unpack("!Q", buf[2:10])[0], 10
    need(pos + ln)
    return op, buf[pos:pos + ln], buf[pos + ln:]


def read_close(sock, buf=b""):
    """Frames until the server's close; returns its status code."""
    while True:
        op, payload, buf = read_frame(sock, buf)
        if op == 0x8:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


# ------------------------------------------------------------ the tests

@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_echo_text_and_binary(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    msgs = ["hello", "é ☃ unicode", "x" * 200, "y" * 70000]
    assert run(echo_session(ws_url(srv, "/echo"), msgs)) == msgs
    bins = [b"\x00\x01\xff", os.urandom(1000), b""]
    assert run(echo_session(ws_url(srv, "/echo-binary"), bins)) == bins


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_many_clients_at_once(uwsgo, engine):
    srv = uwsgo(*APP, *with_cores(engine, 16))

    async def many():
        sessions = [echo_session(ws_url(srv, "/echo"), ["%d-%d" % (i, j) for j in range(20)]) for i in range(12)]
        return await asyncio.gather(*sessions)

    results = run(many())
    assert results == [["%d-%d" % (i, j) for j in range(20)] for i in range(12)]


@pytest.mark.parametrize("engine", engine_params("async", "ugreen", "greenlet"))
def test_async_form_yield(uwsgo, engine):
    # uWSGI's async form: wait_fd_read(connection_fd()), suspend(), a
    # yield, ready_fd() and websocket_recv_nb(); the hub reports the
    # connection fd readable when a message is queued for the request
    srv = uwsgo(*APP, *engine)
    msgs = ["m%d" % i for i in range(10)]

    async def two():
        return await asyncio.gather(echo_session(ws_url(srv, "/async"), msgs),
                                    echo_session(ws_url(srv, "/async"), msgs[::-1]))

    assert run(two()) == [msgs, msgs[::-1]]


@pytest.mark.parametrize("engine", engine_params("ugreen", "greenlet"))
def test_async_form_suspend(uwsgo, engine):
    # the same without a yield: suspend() parks the green core
    srv = uwsgo(*APP, *engine)
    msgs = ["s%d" % i for i in range(10)]
    assert run(echo_session(ws_url(srv, "/suspend"), msgs)) == msgs


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_handshake_answer(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    s, head, rest, key = raw_connect(srv, "/echo")
    lines = head.split("\r\n")
    fields = {k.lower(): v for k, v in (ln.split(": ", 1) for ln in lines[1:])}
    assert lines[0] == "HTTP/1.1 101 Web Socket Protocol Handshake"
    assert fields["upgrade"].lower() == "websocket"
    assert fields["connection"].lower() == "upgrade"
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    assert fields["sec-websocket-accept"] == want
    assert fields["sec-websocket-origin"] == "*"
    assert "content-length" not in fields and "transfer-encoding" not in fields
    s.sendall(frame(0x1, b"raw hello"))
    op, payload, rest = read_frame(s, rest)
    assert (op, payload) == (0x1, b"raw hello")
    s.close()


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_fragmented_message_is_reassembled(uwsgo, engine):
    srv = uwsgo(*APP, *engine)

    async def frag():
        async with websockets.connect(ws_url(srv, "/echo"), open_timeout=REQ_TIMEOUT) as ws:
            await ws.send(["frag", "men", "ted ☃"])     # a text message in 3 frames
            first = await ws.recv()
            await ws.send("whole")
            return first, await ws.recv()

    assert run(frag()) == ("fragmented ☃", "whole")
    # a ping between the fragments is answered, and the message still comes whole
    s, _, rest, _ = raw_connect(srv, "/echo")
    s.sendall(frame(0x1, b"ab", fin=False) + frame(0x9, b"ping!") + frame(0x0, b"cd", fin=False)
              + frame(0x0, b"ef"))
    op, payload, rest = read_frame(s, rest)
    assert (op, payload) == (0xA, b"ping!")
    op, payload, rest = read_frame(s, rest)
    assert (op, payload) == (0x1, b"abcdef")
    s.close()


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_ping_is_answered(uwsgo, engine):
    srv = uwsgo(*APP, *engine)

    async def ping():
        async with websockets.connect(ws_url(srv, "/echo"), open_timeout=REQ_TIMEOUT) as ws:
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, REQ_TIMEOUT)
            await ws.send("after the ping")
            return await ws.recv()

    assert run(ping()) == "after the ping"


@pytest.mark.parametrize("engine", RECV_ENGINES)
@pytest.mark.parametrize("code", [1000, 1001, 4000])
def test_close_code_is_echoed_and_the_app_gets_ioerror(uwsgo, engine, code):
    srv = uwsgo(*APP, *engine)

    async def close():
        async with websockets.connect(ws_url(srv, "/echo"), open_timeout=REQ_TIMEOUT) as ws:
            await ws.send("one")
            assert await ws.recv() == "one"
            await ws.close(code=code, reason="bye")
            return ws.close_code

    assert run(close()) == code
    ev = until("the app saw the close", lambda: events(srv), REQ_TIMEOUT)
    assert ev[0]["how"] == "IOError: unable to receive websocket message after 1", ev


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_app_return_closes_with_1000(uwsgo, engine):
    srv = uwsgo(*APP, *engine)

    async def proto():
        async with websockets.connect(ws_url(srv, "/proto"), open_timeout=REQ_TIMEOUT,
                                      subprotocols=["chat"], origin="https://example.org") as ws:
            assert ws.subprotocol == "chat"
            # websockets 10 (Debian 12) and 14+ (Debian 13) name the response apart
            headers = ws.response.headers if hasattr(ws, "response") else ws.response_headers
            assert headers["Sec-WebSocket-Origin"] == "https://example.org"
            await ws.send("only one")
            got = await ws.recv()
            await ws.wait_closed()
            return got, ws.close_code

    assert run(proto()) == ("only one", 1000)


# ------------------------------------------------------------ bad input

@pytest.mark.parametrize("engine", RECV_ENGINES)
@pytest.mark.parametrize("key,version,why", [
    ("", "13", "missing Sec-WebSocket-Key"),
    ("not base64!", "13", "invalid Sec-WebSocket-Key"),
    (base64.b64encode(b"short").decode(), "13", "invalid Sec-WebSocket-Key"),
    (None, "8", "unsupported Sec-WebSocket-Version"),
    (None, "", "missing Sec-WebSocket-Version"),
])
def test_bad_handshake_gets_400(uwsgo, engine, key, version, why):
    srv = uwsgo(*APP, *engine)
    req, _ = handshake_request("/echo", key=key, version=version)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT)
    s.sendall(req)
    data = recv_until(s, b"\r\n\r\n")
    s.close()
    head = data.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 400 "), head
    assert "Sec-WebSocket-Version: 13" in head
    ev = until("the app saw the refusal", lambda: events(srv), REQ_TIMEOUT)
    assert ev[0]["how"].startswith("handshake: unable to complete websocket handshake: " + why), ev
    # the worker keeps serving
    assert run(echo_session(ws_url(srv, "/echo"), ["still here"])) == ["still here"]


@pytest.mark.parametrize("engine", RECV_ENGINES)
@pytest.mark.parametrize("case,code", [
    ("unmasked", 1002),
    ("invalid-utf8", 1007),
    ("invalid-utf8-fragmented", 1007),
    ("too-big", 1009),
    ("too-big-fragmented", 1009),
    ("reserved-opcode", 1002),
    ("rsv-bit", 1002),
    ("continuation-first", 1002),
    ("text-inside-fragmented", 1002),
    ("ping-too-long", 1002),
    ("close-bad-code", 1002),
])
def test_bad_frames_get_closed_with_their_code(uwsgo, engine, case, code):
    srv = uwsgo(*APP, *engine, "--websockets-max-size", "1")   # 1 KiB
    bad = {
        "unmasked": frame(0x1, b"hello", mask=False),
        "invalid-utf8": frame(0x1, b"ok \xff\xfe"),
        "invalid-utf8-fragmented": frame(0x1, b"\xce", fin=False) + frame(0x0, b"\x28"),
        "too-big": frame(0x2, b"x" * 1025),
        "too-big-fragmented": frame(0x2, b"x" * 600, fin=False) + frame(0x0, b"x" * 600),
        "reserved-opcode": frame(0x3, b"?"),
        "rsv-bit": bytes([0xC1]) + frame(0x1, b"rsv")[1:],
        "continuation-first": frame(0x0, b"lost"),
        "text-inside-fragmented": frame(0x1, b"a", fin=False) + frame(0x1, b"b"),
        "ping-too-long": frame(0x9, b"p" * 126),
        "close-bad-code": frame(0x8, struct.pack("!H", 1005)),
    }[case]
    s, _, rest, _ = raw_connect(srv, "/echo")
    s.sendall(frame(0x1, b"fine"))
    op, payload, rest = read_frame(s, rest)
    assert (op, payload) == (0x1, b"fine")
    s.sendall(bad)
    assert read_close(s, rest) == code
    s.close()
    ev = until("the app saw the close", lambda: events(srv), REQ_TIMEOUT)
    assert ev[0]["how"].startswith("IOError"), ev
    assert run(echo_session(ws_url(srv, "/echo"), ["next client"])) == ["next client"]


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_message_at_the_cap_passes(uwsgo, engine):
    srv = uwsgo(*APP, *engine, "--websockets-max-size", "1")
    msg = "z" * 1024
    assert run(echo_session(ws_url(srv, "/echo"), [msg])) == [msg]


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_vanishing_client_raises_ioerror_and_others_go_on(uwsgo, engine):
    srv = uwsgo(*APP, *engine)

    async def scenario():
        async with websockets.connect(ws_url(srv, "/echo"), open_timeout=REQ_TIMEOUT) as other:
            await other.send("before")
            assert await other.recv() == "before"
            # a client that goes without a close frame
            s, _, rest, _ = raw_connect(srv, "/echo")
            s.sendall(frame(0x1, b"bye"))
            op, payload, rest = read_frame(s, rest)
            assert payload == b"bye"
            s.close()
            ev = await asyncio.get_running_loop().run_in_executor(
                None, lambda: until("the app saw the client go", lambda: events(srv), REQ_TIMEOUT))
            await other.send("after")
            return ev, await other.recv()

    ev, after = run(scenario())
    assert after == "after"
    assert len(ev) == 1 and ev[0]["how"] == "IOError: unable to receive websocket message after 1", ev
    assert requests.get(srv.url + "/hello", timeout=REQ_TIMEOUT).text == "hello"


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_server_pings_and_drops_a_silent_client(uwsgo, engine):
    srv = uwsgo(*APP, *engine, "--websockets-ping-freq", "1", "--websockets-pong-tolerance", "1")
    s, _, rest, _ = raw_connect(srv, "/echo")
    op, payload, rest = read_frame(s, rest)
    assert op == 0x9, "the server pings"
    s.sendall(frame(0xA, payload))
    op, _, rest = read_frame(s, rest)
    assert op == 0x9, "and pings again after the pong"
    # no pong this time: the server drops the connection
    with pytest.raises(EOFError):
        while True:
            op, payload, rest = read_frame(s, rest)
            assert op == 0x9, (op, payload)
    s.close()
    ev = until("the app saw the drop", lambda: events(srv), REQ_TIMEOUT)
    assert ev[0]["how"].startswith("IOError"), ev
    srv.wait_log("no PONG received in 1 seconds")


def test_blocking_recv_in_plain_async_says_why(uwsgo):
    # plain --async N cannot park a core in the middle of a call:
    # websocket_recv() raises instead of stalling the other cores and
    # every other connection; the app's failure closes with 1011
    srv = uwsgo(*APP, "--async", "4")
    s, _, rest, _ = raw_connect(srv, "/echo")
    s.sendall(frame(0x1, b"anyone?"))
    assert read_close(s, rest) == 1011
    s.close()
    srv.wait_log("uwsgi.websocket_recv() would block every core of the worker in plain --async mode")
    assert requests.get(srv.url + "/hello", timeout=REQ_TIMEOUT).text == "hello"


def test_one_core_mode_blocks_the_worker_as_uwsgi_does(uwsgo):
    # the default mode has one core: websocket_recv() blocks the worker
    # (the loop turns inside the call) as uWSGI's sync mode does; a second
    # client waits until the first is done, then is served
    srv = uwsgo(*APP)

    async def scenario():
        async with websockets.connect(ws_url(srv, "/echo"), open_timeout=REQ_TIMEOUT) as first:
            for m in ["one", "two", "x" * 100000]:
                await first.send(m)
                assert await first.recv() == m
            second = asyncio.ensure_future(echo_session(ws_url(srv, "/echo"), ["second"]))
            await first.send("three")
            assert await first.recv() == "three"
            assert not second.done()
            await first.close()
        return await second

    assert run(scenario()) == ["second"]
    ev = until("the app saw the first client go", lambda: events(srv), REQ_TIMEOUT)
    assert ev[0]["how"] == "IOError: unable to receive websocket message after 4", ev
    # the bad input of the other engines, in this mode too
    s, _, rest, _ = raw_connect(srv, "/echo")
    s.sendall(frame(0x1, b"\xff"))
    assert read_close(s, rest) == 1007
    s.close()
    assert requests.get(srv.url + "/hello", timeout=REQ_TIMEOUT).text == "hello"


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_a_request_that_does_not_read_stops_the_reading(uwsgo, engine):
    # a client that floods an app which reads nothing: past 1 MiB queued
    # the server stops reading the connection, so the client waits in TCP
    # (its send fails with EAGAIN) instead of the worker's memory growing;
    # once the app takes its messages, reading goes on and nothing is lost
    srv = uwsgo(*APP, *engine)
    nap = {"--gevent": "gevent", "--threads": "threads"}.get(engine[0], "green")
    s, _, rest, _ = raw_connect(srv, "/lazy?nap=" + nap)
    one = frame(0x2, b"f" * 16384, key=b"\0\0\0\0")
    limit = 64 << 20
    s.setblocking(False)
    sent, frames, pending, blocked = 0, 0, b"", False
    while sent < limit:
        if not pending:
            pending, frames = one, frames + 1
        try:
            n = s.send(pending)
        except BlockingIOError:
            blocked = True
            break
        sent += n
        pending = pending[n:]
    assert blocked, "the server read all %d bytes while the app read nothing" % sent
    assert requests.get(srv.url + "/release", timeout=REQ_TIMEOUT).text == "released"
    s.setblocking(True)
    s.settimeout(REQ_TIMEOUT)
    s.sendall(pending + frame(0x1, b"end"))
    op, payload, rest = read_frame(s, rest)
    assert (op, payload) == (0x1, str(frames).encode())
    s.close()


# ------------------------------------------------------------ autobahn

def autobahn_echo(url, messages):
    """Echo messages through python3-autobahn's asyncio client: a second,
    independent implementation of the client side. Returns what came back
    as (payload, is_binary) and the close code autobahn saw."""
    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        got = []

        class Client(WebSocketClientProtocol):
            def onOpen(self):
                self.left = list(messages)
                self.next()

            def next(self):
                if self.left:
                    payload, binary = self.left.pop(0)
                    self.sendMessage(payload, isBinary=binary)
                else:
                    self.sendClose(code=1000)

            def onMessage(self, payload, isBinary):
                got.append((payload, isBinary))
                self.next()

            def onClose(self, wasClean, code, reason):
                if not done.done():
                    done.set_result((wasClean, code))

        factory = WebSocketClientFactory(url)
        factory.protocol = Client
        host, port = url.split("//")[1].split("/")[0].split(":")
        transport, _ = await loop.create_connection(factory, host, int(port))
        try:
            clean, code = await done
        finally:
            transport.close()
        return got, clean, code

    return run(main())


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_autobahn_client_echo(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    texts = [("hello autobahn ☃".encode(), False), (b"t" * 5000, False), (b"u" * 70000, False)]
    got, clean, code = autobahn_echo(ws_url(srv, "/echo"), texts)
    assert got == texts
    assert (clean, code) == (True, 1000)
    bins = [(b"\x00\xff\x10", True), (os.urandom(3000), True)]
    got, clean, code = autobahn_echo(ws_url(srv, "/echo-binary"), bins)
    assert got == bins
    assert (clean, code) == (True, 1000)


# ------------------------------------------------------------ behind nginx

@pytest.mark.parametrize("engine", RECV_ENGINES[:1] + RECV_ENGINES[2:3])
def test_echo_behind_nginx_uwsgi_pass(uwsgo, nginx, engine):
    # nginx's upstream passes the Upgrade and Connection headers as
    # HTTP_UPGRADE/HTTP_CONNECTION in the uwsgi packet and switches to a
    # tunnel when the answer is a 101
    srv = uwsgo(*APP, *engine, proto="uwsgi")
    front = nginx(srv.port)
    url = "ws://127.0.0.1:%d/echo" % front.port
    msgs = ["through nginx", "x" * 100000, "☃"]
    assert run(echo_session(url, msgs)) == msgs
    got, clean, code = autobahn_echo(url, [(b"autobahn via nginx", False)])
    assert got == [(b"autobahn via nginx", False)] and (clean, code) == (True, 1000)
    # a vanishing client behind nginx: nginx closes the upstream, the app
    # gets IOError
    s = socket.create_connection(("127.0.0.1", front.port), timeout=REQ_TIMEOUT)
    req, _ = handshake_request("/echo")
    s.sendall(req)
    data = recv_until(s, b"\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 101 "), data
    s.close()
    ev = until("the app saw the client go", lambda: [e for e in requests.get(
        front.url + "/events", timeout=REQ_TIMEOUT).json() if e["how"].endswith("after 0")], REQ_TIMEOUT)
    assert ev[0]["how"] == "IOError: unable to receive websocket message after 0", ev


@pytest.mark.parametrize("engine", RECV_ENGINES[:1] + RECV_ENGINES[2:3])
def test_echo_behind_nginx_proxy_pass(uwsgo, nginx, engine):
    # nginx's websocket proxying over HTTP/1.1 (proxy_http_version 1.1 and
    # the Upgrade/Connection headers set again, as hop-by-hop headers are
    # not passed on) in front of --http-socket
    srv = uwsgo(*APP, *engine)
    front = nginx(srv.port, http=True)
    url = "ws://127.0.0.1:%d/echo" % front.port
    msgs = ["through nginx's proxy_pass", "y" * 100000, "☃"]
    assert run(echo_session(url, msgs)) == msgs
    got, clean, code = autobahn_echo(url, [(b"autobahn via proxy_pass", False)])
    assert got == [(b"autobahn via proxy_pass", False)] and (clean, code) == (True, 1000)
    # a hand-made handshake gets uwsgo's 101 through nginx, and plain
    # requests pass on the same front
    s = socket.create_connection(("127.0.0.1", front.port), timeout=REQ_TIMEOUT)
    req, _ = handshake_request("/echo")
    s.sendall(req)
    assert recv_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 101 ")
    s.close()
    assert requests.get(front.url + "/events", timeout=REQ_TIMEOUT).status_code == 200


# ------------------------------------------------------------ side by side with uWSGI 2.0.21
# Debian's uWSGI runs the same app over --http-socket with --gevent. Its
# --ugreen never returns from suspend on Python 3.11, and in plain --async
# ("async mode without coroutine/greenthread engine loaded") the async
# form's core never wakes for a message: neither can be compared.

def start_pair(pair, kind, engine):  # noqa: F811
    gevent = ["--gevent", "10"]
    if kind == "uwsgi":
        gevent = ["--plugin", "gevent_python3"] + gevent
    return pair(kind, *APP, *{"gevent": gevent}[engine])


@pytest.mark.parametrize("kind", KINDS)
def test_side_by_side_echo_and_handshake(pair, kind):  # noqa: F811
    srv = start_pair(pair, kind, "gevent")
    msgs = ["hello", "☃", "x" * 70000]
    assert run(echo_session(ws_url(srv, "/echo"), msgs)) == msgs
    bins = [b"\x00\xff", os.urandom(2000)]
    assert run(echo_session(ws_url(srv, "/echo-binary"), bins)) == bins
    got, clean, code = autobahn_echo(ws_url(srv, "/echo"), [(b"autobahn", False)])
    assert got == [(b"autobahn", False)]
    s, head, rest, key = raw_connect(srv, "/echo", key="dGhlIHNhbXBsZSBub25jZQ==")
    assert head.split("\r\n") == [
        "HTTP/1.1 101 Web Socket Protocol Handshake", "Upgrade: WebSocket", "Connection: Upgrade",
        "Sec-WebSocket-Origin: *", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    s.sendall(frame(0x9, b"hi"))
    # uWSGI's pong carries nothing; RFC 6455 5.5.3 (and uwsgo) echo the ping's data
    assert read_frame(s, rest)[:2] == (0xA, b"hi" if kind == "uwsgo" else b"")
    s.close()
    ev = until("the app saw the client go", lambda: [e for e in events(srv) if e["how"].endswith("after 0")],
               REQ_TIMEOUT)
    assert ev[0]["how"] == "IOError: unable to receive websocket message after 0"


@pytest.mark.parametrize("kind", KINDS)
def test_side_by_side_close_from_the_client(pair, kind):  # noqa: F811
    srv = start_pair(pair, kind, "gevent")

    async def close():
        async with websockets.connect(ws_url(srv, "/echo"), open_timeout=REQ_TIMEOUT,
                                      close_timeout=2) as ws:
            await ws.send("one")
            assert await ws.recv() == "one"
            await ws.close(code=1000)
            return ws.close_code

    code = run(close())
    ev = until("the app saw the close", lambda: events(srv), REQ_TIMEOUT)
    assert ev[0]["how"] == "IOError: unable to receive websocket message after 1", ev
    # uWSGI answers a close frame with an empty one (no status: 1005 to the
    # client); uwsgo echoes the client's code, as RFC 6455 5.5.1 asks
    assert code == (1000 if kind == "uwsgo" else 1005)


@pytest.mark.parametrize("kind", KINDS)
def test_side_by_side_deliberate_differences(pair, kind):  # noqa: F811
    srv = start_pair(pair, kind, "gevent")
    # a handshake without a key: uWSGI's handshake raises and the client
    # gets a 500 with no body (or nothing); uwsgo answers 400, as the RFC asks
    req, _ = handshake_request("/echo", key="")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT)
    s.sendall(req)
    answer, closed = recv_until_closed(s)
    s.close()
    assert closed
    if kind == "uwsgo":
        assert answer.startswith(b"HTTP/1.1 400 "), answer
    else:
        assert answer == b"" or answer.startswith(b"HTTP/1.1 500 "), answer
    # a text message in two frames: uWSGI hands the app a b"\x00" for the
    # first fragment (its "not complete yet" marker) and then only the last
    # fragment; uwsgo reassembles the message
    s, _, rest, _ = raw_connect(srv, "/echo")
    s.sendall(frame(0x1, b"ab", fin=False) + frame(0x0, b"cd"))
    op, payload, rest = read_frame(s, rest)
    assert op == 0x1
    assert payload == (b"abcd" if kind == "uwsgo" else b"\x00")
    s.close()


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_frames_sent_with_the_handshake_are_read(uwsgo, engine):
    # a client that does not wait for the 101: its first frames arrive
    # with the request and are read once the connection has switched
    srv = uwsgo(*APP, *engine)
    req, _ = handshake_request("/echo")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=REQ_TIMEOUT)
    s.sendall(req + frame(0x1, b"early") + frame(0x1, b"bird"))
    data = recv_until(s, b"\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    op, payload, rest = read_frame(s, rest)
    assert payload == b"early"
    op, payload, rest = read_frame(s, rest)
    assert payload == b"bird"
    s.close()


def test_uwsgi_docs_command_line_http_and_http_websockets(uwsgo):
    # uWSGI's documented `--http :PORT --http-websockets --gevent N`: here
    # --http is the workers' own HTTP socket, and --http-websockets has
    # nothing to switch on (the banner says so)
    from helpers import free_port
    port = free_port()
    srv = uwsgo(*APP, "--http", "127.0.0.1:%d" % port, "--http-websockets", "--gevent", "4",
                proto=None, port=port)
    assert run(echo_session("ws://127.0.0.1:%d/echo" % port, ["docs"])) == ["docs"]
    srv.wait_log("accepted, no effect: http-websockets")


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_recv_nb_returns_empty_bytes_when_nothing_came(uwsgo, engine):
    srv = uwsgo(*APP, *engine)
    s, _, rest, _ = raw_connect(srv, "/nb")
    op, payload, rest = read_frame(s, rest)
    assert (op, payload) == (0x1, b"b''")
    s.sendall(frame(0x1, b"then this"))
    assert read_frame(s, rest)[:2] == (0x1, b"then this")
    s.close()


@pytest.mark.parametrize("engine", RECV_ENGINES)
def test_frames_arriving_in_small_pieces(uwsgo, engine):
    # a frame whose header and payload come a few bytes at a time
    srv = uwsgo(*APP, *engine)
    s, _, rest, _ = raw_connect(srv, "/echo")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = os.urandom(35000).hex().encode()   # 70000 bytes of text
    data = frame(0x1, payload)
    pieces = [data[:1], data[1:2], data[2:5], data[5:9], data[9:14]]
    pieces += [data[i:i + 4096] for i in range(14, len(data), 4096)]
    for p in pieces:
        s.sendall(p)
    op, got, rest = read_frame(s, rest)
    assert (op, got) == (0x1, payload)
    s.close()
