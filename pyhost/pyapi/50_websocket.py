# WebSockets (the C part is api_websocket.c): uWSGI 2.0's calls. The
# handshake is checked and answered here; after the 101 the network plane
# reads the frames and queues whole messages on the request's core.
import base64 as _base64
import binascii as _binascii
import hashlib as _hashlib
import re as _re

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _ws_str(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return str(v)


def _ws_refuse(reason):
    # RFC 6455 4.4: a version we do not speak is answered with the one we do
    _ws_answer("400 Bad Request",
               [("Content-Type", "text/plain"), ("Sec-WebSocket-Version", "13"), ("Connection", "close"),
                ("Content-Length", str(len(reason) + 1))],
               (reason + "\n").encode(), False)
    raise IOError("unable to complete websocket handshake: " + reason)


def _ws_tokens(value):
    # a comma-separated header's tokens, case-folded in ASCII only (a
    # Kelvin sign must not pass for a "k")
    return {t.strip() for t in value.encode("latin-1", "replace").lower().split(b",")}


def _ws_request_refusal(env):
    """Why the request is no websocket opening handshake (RFC 6455 4.2.1),
    or None: a GET of HTTP/1.1 or later, with Upgrade: websocket and
    Connection: Upgrade."""
    if env.get("REQUEST_METHOD") != "GET":
        return "the handshake is a GET"
    m = _re.fullmatch(r"HTTP/(\d+)\.(\d+)", env.get("SERVER_PROTOCOL", ""), _re.ASCII)
    if not m or (int(m[1]), int(m[2])) < (1, 1):
        return "the handshake needs HTTP/1.1 or later"
    if b"websocket" not in _ws_tokens(env.get("HTTP_UPGRADE", "")):
        return "missing Upgrade: websocket"
    if b"upgrade" not in _ws_tokens(env.get("HTTP_CONNECTION", "")):
        return "missing Connection: Upgrade"
    return None


def websocket_handshake(key=None, origin=None, proto=None):
    """Answer the request's websocket handshake with 101 (key, origin and
    protocol from the request unless given). A malformed handshake gets a
    400 and raises IOError."""
    try:
        env = _request_environ()
    except RuntimeError:
        raise IOError("unable to complete websocket handshake: not called from a request") from None
    refusal = _ws_request_refusal(env)
    if refusal:
        _ws_refuse(refusal)
    key = _ws_str(key) or env.get("HTTP_SEC_WEBSOCKET_KEY", "")
    key = key.strip()
    if not key:
        _ws_refuse("missing Sec-WebSocket-Key")
    try:
        raw = _base64.b64decode(key.encode("latin-1"), validate=True)
    except (_binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        _ws_refuse("invalid Sec-WebSocket-Key")
    version = env.get("HTTP_SEC_WEBSOCKET_VERSION")
    if version is not None and version.strip() != "13":
        _ws_refuse("unsupported Sec-WebSocket-Version (13 is supported)")
    if version is None and "HTTP_SEC_WEBSOCKET_KEY" in env:
        _ws_refuse("missing Sec-WebSocket-Version")
    accept = _base64.b64encode(_hashlib.sha1(key.encode("latin-1") + _WS_GUID).digest()).decode()
    headers = [("Upgrade", "WebSocket"), ("Connection", "Upgrade")]
    origin = _ws_str(origin) or env.get("HTTP_ORIGIN") or "*"
    headers.append(("Sec-WebSocket-Origin", origin))
    proto = _ws_str(proto)
    if not proto:
        offered = env.get("HTTP_SEC_WEBSOCKET_PROTOCOL", "")
        # uWSGI echoes the header; the RFC wants one of the offered ones
        proto = offered.split(",")[0].strip()
    if proto:
        headers.append(("Sec-WebSocket-Protocol", proto))
    headers.append(("Sec-WebSocket-Accept", accept))
    _ws_answer("101 Web Socket Protocol Handshake", headers, b"", True)


def websocket_recv():
    """The next whole message (bytes); the core waits until one arrives.
    IOError once the connection is closed."""
    while True:
        m = _ws_take()
        if m is not None:
            return m
        _ws_park()


def websocket_recv_nb():
    """The next whole message, or b'' when none has arrived."""
    m = _ws_take()
    return b"" if m is None else m


# --gevent: a greenlet waits in websocket_recv on an event of its core
_ws_events = {}


def _ws_gevent_wait(core):
    ev = _ws_events.get(core)
    if ev is None:
        import gevent.event
        ev = _ws_events[core] = gevent.event.Event()
    ev.wait()
    ev.clear()


def _ws_gevent_notify(core):
    ev = _ws_events.get(core)
    if ev is not None:
        ev.set()
