"""A client for the uwsgi protocol, which nginx's uwsgi_pass speaks: ask an
app served on a uwsgo --socket what nginx would ask it."""
import socket
import struct
import time
from urllib.parse import urlsplit

REQ_TIMEOUT = 10.0


def uwsgi_packet(vars_, body=b"", modifier1=0, modifier2=0):
    """A uwsgi-protocol request: 4-byte header, then key/value pairs, then the body."""
    payload = b""
    for k, v in vars_.items():
        kb, vb = k.encode("latin-1"), v.encode("latin-1")
        payload += struct.pack("<H", len(kb)) + kb + struct.pack("<H", len(vb)) + vb
    return struct.pack("<BHB", modifier1, len(payload), modifier2) + payload + body


class Response:
    """What the app answered: .status (int), .reason, .headers (names
    lower-cased, repeated ones joined with ", "), .body (bytes), .raw, .text."""

    def __init__(self, raw):
        self.raw = raw
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("not an HTTP response: %r" % raw[:300])
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ValueError("bad status line %r" % lines[0])
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        self.headers = {k: ", ".join(v) for k, v in headers.items()}
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            body = dechunk(body)
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        return "<Response %d, %d bytes>" % (self.status, len(self.body))


def dechunk(body):
    """Decode a chunked transfer-coded body (trailers ignored)."""
    out = b""
    while True:
        line, _, body = body.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return out
        out += body[:size]
        if body[size:size + 2] != b"\r\n":
            raise ValueError("bad chunk framing")
        body = body[size + 2:]


def _connect(addr, timeout):
    """addr: a port, (host, port), "host:port", "http://host:port" or a unix socket path."""
    if isinstance(addr, int):
        addr = ("127.0.0.1", addr)
    elif isinstance(addr, str) and "://" in addr:
        u = urlsplit(addr)
        addr = (u.hostname, u.port)
    elif isinstance(addr, str) and not addr.startswith(("/", ".", "@")) and ":" in addr:
        host, _, port = addr.rpartition(":")
        addr = (host or "127.0.0.1", int(port))
    if isinstance(addr, tuple):
        return socket.create_connection(addr, timeout=timeout), addr
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    path = str(addr)
    s.connect("\0" + path[1:] if path.startswith("@") else path)
    return s, ("localhost", 0)


def uwsgi_request(addr, path="/", method="GET", headers=None, body=b"", vars=None,
                  timeout=REQ_TIMEOUT):
    """Send one request in the uwsgi protocol to addr and return its Response.

    addr: a port on 127.0.0.1, (host, port), "host:port" or a unix socket
    path (a leading "@" is an abstract socket). path may hold a query
    string. headers become HTTP_* variables (Content-Type and
    Content-Length their own), as nginx's uwsgi_params sends them; vars
    adds or overrides any variable. The response is read until the server
    closes the connection; TimeoutError if it does not within timeout.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    sock, (host, port) = _connect(addr, timeout)
    path_info, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": method, "REQUEST_URI": path, "PATH_INFO": path_info,
        "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http",
        "SERVER_NAME": host, "SERVER_PORT": str(port), "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "0", "HTTP_HOST": "%s:%d" % (host, port) if port else host,
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    for k, v in (headers or {}).items():
        key = k.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        env[key] = str(v)
    env.update(vars or {})
    deadline = time.monotonic() + timeout
    chunks = []
    with sock:
        sock.sendall(uwsgi_packet(env, body))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no end of response from %s within %g s; got %r"
                                   % (addr, timeout, b"".join(chunks)[:300]))
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return Response(b"".join(chunks))
