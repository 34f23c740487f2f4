"""RFC 6455 conformance, case by case, on uwsgo and on Debian's uWSGI.

Each row of FRAME_CASES is what a client sends on one WebSocket connection
to the echo app tests/apps/ws_conformance.py (frames written by the small
frame writer below, so that malformed ones can be sent too) and what must
come back, from RFC 6455: the echoed messages, the pongs, and how the
server ends the connection. The categories follow the numbering of
Autobahn's published case list (1 framing, 2 pings and pongs, 3 reserved
bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close handling, 9 limits);
the rows are written here from the RFC, not taken from Autobahn.

How an answer is compared (what the RFC fixes and nothing more): the data
messages must come back in order, as the kind the app sends them (text
on /text, binary on /binary); the pongs must come back in order with the
ping's payload (RFC 5.5.3), interleaved with the data in any order; a
close frame, if any, must be the last thing the server sends, and then
the server must close the TCP connection. Unless a row says otherwise the
client closes (1000) once what the row wants before the end has come back,
so a server that wrongly lets a bad frame pass is seen answering that
close, with no waiting.

Every row runs on uwsgo under --async with --ugreen and with --greenlet,
and under --gevent; on Debian's uWSGI 2.0.21 under --gevent; and on
Debian's python3-websockets server (tests/websockets_ref.py), which must
answer every row as the RFC column says, so that the table is checked
against an implementation other than the two it compares. One server of
each for the whole module. Where uWSGI 2.0.21 departs from the RFC,
UWSGI_DIFFERENCES says what uWSGI does instead and why (from its
core/websockets.c), and the uWSGI run asserts exactly that. After every
row the worker must still serve: a connection opened when the server
started echoes again, and so does a new one.

HANDSHAKE_CASES do the same for the opening handshake (RFC 6455 4.2).
"""
import base64
import hashlib
import os
import socket
import struct
import time

import pytest

from conftest import Server, child_env, tail, uwsgo_bin
from dropin_ref import children, uwsgi_argv, wait_serving
from helpers import APPS, REPO, REQ_TIMEOUT, free_port, until

APP = str(APPS / "ws_conformance.py")
MAX_KIB = 128                 # --websockets-max-size, in KiB as uWSGI takes it
MAX = MAX_KIB * 1024

# A long ping interval: the table is about the client's frames, and the
# servers' own pings are not part of any row.
COMMON = ["--wsgi-file", APP, "--websockets-max-size", str(MAX_KIB),
          "--websockets-ping-freq", "3600"]

TARGETS = {
    "uwsgo-ugreen": ("uwsgo", ["--async", "100", "--ugreen"]),
    "uwsgo-greenlet": ("uwsgo", ["--async", "100", "--greenlet"]),
    "uwsgo-gevent": ("uwsgo", ["--gevent", "100"]),
    # uWSGI with its master: a worker that crashes is replaced (see UWSGI_CRASHES)
    "uwsgi-gevent": ("uwsgi", ["--plugin", "gevent_python3", "--gevent", "100", "--master"]),
    # the RFC column checked against an independent implementation (tests/websockets_ref.py)
    "websockets-ref": ("ref", []),
}
REF = str(REPO / "tests" / "websockets_ref.py")

# ---------------------------------------------------------------- the frame writer

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MASK = b"\x37\xfa\x21\x3d"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode, payload=b"", fin=True, rsv=0, mask=MASK, length=None):
    """One frame as a client writes it (RFC 6455 5.2). mask=None sends it
    unmasked; length replaces the length written in the header."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def T(payload, **kw):
    return frame(TEXT, payload, **kw)


def B(payload, **kw):
    return frame(BINARY, payload, **kw)


def C(payload, fin=True, **kw):
    return frame(CONT, payload, fin=fin, **kw)


def PI(payload=b"", **kw):
    return frame(PING, payload, **kw)


def PO(payload=b"", **kw):
    return frame(PONG, payload, **kw)


def CL(code=None, reason=b"", **kw):
    body = b"" if code is None else struct.pack("!H", code) + reason
    return frame(CLOSE, body, **kw)


class Await:
    """In a row's frames: send nothing more until n messages, pings or
    pongs have come back (a server may fail the connection without first
    echoing what came just ahead of the bad frame)."""

    def __init__(self, n):
        self.n = n


def frags(opcode, parts):
    """A message sent as len(parts) frames: opcode, then continuations."""
    out = []
    for i, p in enumerate(parts):
        out.append(frame(opcode if i == 0 else CONT, p, fin=i == len(parts) - 1))
    return out


def pieces(data, n):
    return [data[i:i + n] for i in range(0, len(data), n)]


def ascii_payload(n):
    return bytes(0x41 + i % 26 for i in range(n))


def bin_payload(n):
    return bytes((i * 7 + 3) % 256 for i in range(n))


# ---------------------------------------------------------------- what comes back

def text(p):
    return ("text", p.encode() if isinstance(p, str) else p)


def binary(p):
    return ("binary", p)


def pong(p=b""):
    return ("pong", p.encode() if isinstance(p, str) else p)


def closes(*codes):
    """A close frame whose status code is one of codes (None: no body)."""
    return ("close", frozenset(codes))


BYE = closes(1000, None)      # the answer to the client's own close (RFC 5.5.1: echo it, or send none)
FAIL = closes(1002)           # _Fail the WebSocket Connection_ with a protocol error (RFC 7.1.7, 7.4.1)
BAD_UTF8 = closes(1007)       # a text message that is not UTF-8 (RFC 8.1)
TOO_BIG = closes(1009)        # a message over --websockets-max-size


class Case:
    """One row. send: frames (lists are flattened). want: the answer, the
    end of the connection implied. end: once the messages and pongs that
    want holds have come back, the client closes (1000) (a server may
    answer a close before the messages that came ahead of it, RFC 7.1.2;
    waiting for them keeps the rows exact). chop: None sends the frames in
    one write, an int in writes of that many bytes, "frames" one frame per
    write. eof: the client shuts its side after sending (a client that
    goes away)."""

    def __init__(self, id, what, send, want, end=True, chop=None, eof=False):
        self.id = id
        self.what = what
        flat = []
        for f in send:
            flat.extend(f if isinstance(f, list) else [f])
        self.steps = [[]]
        for f in flat:
            if isinstance(f, Await):
                self.steps.append(f)
                self.steps.append([])
            else:
                self.steps[-1].append(f)
        self.frames = [f for f in flat if not isinstance(f, Await)]
        self.end = end
        self.want = list(want)
        self.chop = chop
        self.eof = eof
        first_data = next((f[0] & 0x0F for f in self.frames if f[0] & 0x0F in (TEXT, BINARY)), TEXT)
        self.path = "/binary" if first_data == BINARY else "/text"


KOSME = "κόσμε".encode()
HELLO = "Hello-µ@ßöäüàá-UTF-8!!".encode()
INVALID_IN_KOSME = KOSME + b"\xed\xa0\x80edited"   # a surrogate in the middle


def utf8_fail(id, what, payload):
    return Case(id, what, [T(payload)], [BAD_UTF8])


INVALID_UTF8 = [
    ("6.3.1", "0xFF", b"\xff"),
    ("6.3.2", "a lone continuation byte", b"ab\x80cd"),
    ("6.3.3", "overlong '/' in two bytes", b"\xc0\xaf"),
    ("6.3.4", "overlong '/' in three bytes", b"\xe0\x80\xaf"),
    ("6.3.5", "overlong '/' in four bytes", b"\xf0\x80\x80\xaf"),
    ("6.3.6", "a surrogate, U+D800", b"\xed\xa0\x80"),
    ("6.3.7", "a surrogate pair encoded as two code points (CESU-8)", b"\xed\xa0\x80\xed\xb0\x80"),
    ("6.3.8", "past U+10FFFF", b"\xf4\x90\x80\x80"),
    ("6.3.9", "a five-byte sequence", b"\xf8\x88\x80\x80\x80"),
    ("6.3.10", "a code point cut short at the end", KOSME + b"\xce"),
    ("6.3.11", "a surrogate inside valid text", INVALID_IN_KOSME),
]


FRAME_CASES = [
    # ------------------------------------------------------------ 1 framing
    Case("1.1.1", "text, empty", [T(b"")], [text(b""), BYE]),
    Case("1.1.2", "text, 125 bytes (7-bit length)", [T(ascii_payload(125))], [text(ascii_payload(125)), BYE]),
    Case("1.1.3", "text, 126 bytes (16-bit length)", [T(ascii_payload(126))], [text(ascii_payload(126)), BYE]),
    Case("1.1.4", "text, 127 bytes", [T(ascii_payload(127))], [text(ascii_payload(127)), BYE]),
    Case("1.1.5", "text, 65535 bytes (largest 16-bit length)", [T(ascii_payload(65535))],
         [text(ascii_payload(65535)), BYE]),
    Case("1.1.6", "text, 65536 bytes (64-bit length)", [T(ascii_payload(65536))], [text(ascii_payload(65536)), BYE]),
    Case("1.1.7", "text, 65536 bytes in writes of 997 bytes", [T(ascii_payload(65536))],
         [text(ascii_payload(65536)), BYE], chop=997),
    Case("1.1.8", "text, every byte its own write", [T(b"Hello, world!")], [text(b"Hello, world!"), BYE], chop=1),
    Case("1.2.1", "binary, empty", [B(b"")], [binary(b""), BYE]),
    Case("1.2.2", "binary, 125 bytes", [B(bin_payload(125))], [binary(bin_payload(125)), BYE]),
    Case("1.2.3", "binary, 126 bytes", [B(bin_payload(126))], [binary(bin_payload(126)), BYE]),
    Case("1.2.4", "binary, 65535 bytes", [B(bin_payload(65535))], [binary(bin_payload(65535)), BYE]),
    Case("1.2.5", "binary, 65536 bytes", [B(bin_payload(65536))], [binary(bin_payload(65536)), BYE]),
    Case("1.2.6", "binary, 65536 bytes in writes of 997 bytes", [B(bin_payload(65536))],
         [binary(bin_payload(65536)), BYE], chop=997),
    Case("1.3.1", "ten text messages in one write", [T("m%d" % i) for i in range(10)],
         [text("m%d" % i) for i in range(10)] + [BYE]),
    Case("1.3.2", "a zero masking key", [T(b"zero mask", mask=b"\0\0\0\0")], [text(b"zero mask"), BYE]),
    Case("1.4.1", "an unmasked text frame (RFC 5.1: the server MUST close)", [T(b"bare", mask=None)], [FAIL]),
    Case("1.4.2", "an unmasked binary frame", [B(b"bare", mask=None)], [FAIL]),
    Case("1.4.3", "a text message, then an unmasked ping", [T(b"ok"), Await(1), PI(b"bare", mask=None)], [text(b"ok"), FAIL]),
    Case("1.4.4", "a 64-bit length with the most significant bit set (RFC 5.2)",
         [frame(BINARY, b"", length=1 << 63)], [closes(1002, 1009)], end=False),
    Case("1.5.1", "the client goes away in the middle of a header", [T(b"gone")[:1]], [], end=False, eof=True),
    Case("1.5.2", "the client goes away in the middle of a payload", [T(ascii_payload(100))[:30]], [],
         end=False, eof=True),
    Case("1.5.3", "the client goes away after a message, without a close", [T(b"last"), Await(1)], [text(b"last")],
         end=False, eof=True),

    # ------------------------------------------------------------ 2 pings and pongs
    Case("2.1", "ping, empty", [PI()], [pong(), BYE]),
    Case("2.2", "ping with a text payload", [PI(b"Hello, world!")], [pong(b"Hello, world!"), BYE]),
    Case("2.3", "ping with 125 binary bytes", [PI(bin_payload(125))], [pong(bin_payload(125)), BYE]),
    Case("2.4", "ping with 125 bytes, a byte per write", [PI(ascii_payload(125))], [pong(ascii_payload(125)), BYE],
         chop=1),
    Case("2.5", "ping with 126 bytes (RFC 5.5: control frames carry 125 at most)", [PI(ascii_payload(126))], [FAIL]),
    Case("2.6", "an unsolicited pong, empty", [PO()], [BYE]),
    Case("2.7", "an unsolicited pong with a payload", [PO(b"unsolicited")], [BYE]),
    Case("2.8", "an unsolicited pong, then a ping", [PO(b"first"), PI(b"second")], [pong(b"second"), BYE]),
    Case("2.9", "a pong with 126 bytes", [PO(ascii_payload(126))], [FAIL]),
    Case("2.10", "ping, text, ping", [PI(b"a"), T(b"between"), PI(b"b")], [pong(b"a"), text(b"between"), pong(b"b"), BYE]),

    # ------------------------------------------------------------ 3 reserved bits (no extension was agreed)
    Case("3.1", "text with RSV1", [T(b"rsv", rsv=4)], [FAIL]),
    Case("3.2", "text, text with RSV2, ping", [T(b"ok"), Await(1), T(b"rsv", rsv=2), PI(b"p")], [text(b"ok"), FAIL]),
    Case("3.3", "text, text with RSV1+RSV2, ping, a frame per write", [T(b"ok"), Await(1), T(b"rsv", rsv=6), PI(b"p")],
         [text(b"ok"), FAIL], chop="frames"),
    Case("3.4", "binary with RSV3", [B(b"rsv", rsv=1)], [FAIL]),
    Case("3.5", "binary with RSV1+RSV3", [B(bin_payload(10), rsv=5)], [FAIL]),
    Case("3.6", "ping with all three RSV bits", [PI(b"rsv", rsv=7)], [FAIL]),
    Case("3.7", "close with RSV1", [CL(1000, rsv=4)], [FAIL], end=False),
    Case("3.8", "a continuation frame with RSV1", [T(b"frag", fin=False), C(b"ment", rsv=4)], [FAIL]),
    Case("3.9", "a pong with RSV2", [PO(b"rsv", rsv=2)], [FAIL]),

    # ------------------------------------------------------------ 4 opcodes (RFC 5.2: reserved ones fail)
    Case("4.1.1", "reserved data opcode 3, empty", [frame(3)], [FAIL]),
    Case("4.1.2", "reserved data opcode 4 with a payload", [frame(4, b"reserved")], [FAIL]),
    Case("4.1.3", "text, opcode 5, ping", [T(b"ok"), Await(1), frame(5), PI(b"p")], [text(b"ok"), FAIL]),
    Case("4.1.4", "text, opcode 6 with a payload, ping", [T(b"ok"), Await(1), frame(6, b"x"), PI(b"p")], [text(b"ok"), FAIL]),
    Case("4.1.5", "text, opcode 7, ping, a frame per write", [T(b"ok"), Await(1), frame(7, b"x"), PI(b"p")],
         [text(b"ok"), FAIL], chop="frames"),
    Case("4.2.1", "reserved control opcode 0xB, empty", [frame(0xB)], [FAIL]),
    Case("4.2.2", "reserved control opcode 0xC with a payload", [frame(0xC, b"reserved")], [FAIL]),
    Case("4.2.3", "text, opcode 0xD, ping", [T(b"ok"), Await(1), frame(0xD), PI(b"p")], [text(b"ok"), FAIL]),
    Case("4.2.4", "text, opcode 0xE with a payload, ping", [T(b"ok"), Await(1), frame(0xE, b"x"), PI(b"p")],
         [text(b"ok"), FAIL]),
    Case("4.2.5", "text, opcode 0xF, ping, a frame per write", [T(b"ok"), Await(1), frame(0xF, b"x"), PI(b"p")],
         [text(b"ok"), FAIL], chop="frames"),

    # ------------------------------------------------------------ 5 fragmentation
    Case("5.1", "a ping in two fragments (RFC 5.5: control frames are never fragmented)",
         [PI(b"frag", fin=False), C(b"ment")], [FAIL]),
    Case("5.2", "a pong in two fragments", [PO(b"frag", fin=False), C(b"ment")], [FAIL]),
    Case("5.3", "text in two fragments", frags(TEXT, [b"frag", b"ment"]), [text(b"fragment"), BYE]),
    Case("5.4", "text in two fragments, a frame per write", frags(TEXT, [b"frag", b"ment"]),
         [text(b"fragment"), BYE], chop="frames"),
    Case("5.5", "text in two fragments, a ping between them", [T(b"frag", fin=False), PI(b"p"), C(b"ment")],
         [pong(b"p"), text(b"fragment"), BYE]),
    Case("5.6", "text in two fragments, a ping between, a frame per write",
         [T(b"frag", fin=False), PI(b"p"), C(b"ment")], [pong(b"p"), text(b"fragment"), BYE], chop="frames"),
    Case("5.7", "text in three fragments, a ping between each",
         [T(b"a", fin=False), PI(b"1"), C(b"b", fin=False), PI(b"2"), C(b"c")],
         [pong(b"1"), pong(b"2"), text(b"abc"), BYE]),
    Case("5.8", "binary in two fragments", frags(BINARY, [b"\x00\xff", b"\xfe\x01"]),
         [binary(b"\x00\xff\xfe\x01"), BYE]),
    Case("5.9", "binary in two fragments, a ping between", [B(b"\x00", fin=False), PI(b"p"), C(b"\xff")],
         [pong(b"p"), binary(b"\x00\xff"), BYE]),
    Case("5.10", "a final continuation with no message started", [C(b"orphan")], [FAIL]),
    Case("5.11", "a non-final continuation with no message started, then its end",
         [C(b"orph", fin=False), C(b"an")], [FAIL]),
    Case("5.12", "a continuation with no message started, then a text message", [C(b"orphan"), T(b"ok")], [FAIL]),
    Case("5.13", "a text message started inside a fragmented one", [T(b"one", fin=False), T(b"two")], [FAIL]),
    Case("5.14", "a binary message started inside a fragmented text", [T(b"one", fin=False), B(b"two")], [FAIL]),
    Case("5.15", "two non-final text frames, then the end", [T(b"a", fin=False), T(b"b", fin=False), C(b"c")],
         [FAIL]),
    Case("5.16", "text in 100 one-byte fragments", frags(TEXT, pieces(ascii_payload(100), 1)),
         [text(ascii_payload(100)), BYE]),
    Case("5.17", "text with empty first, middle and last fragments", frags(TEXT, [b"", b"a", b"", b"b", b""]),
         [text(b"ab"), BYE]),
    Case("5.18", "two fragmented messages back to back", frags(TEXT, [b"on", b"e"]) + frags(TEXT, [b"tw", b"o"]),
         [text(b"one"), text(b"two"), BYE]),
    Case("5.19", "a close inside a fragmented message", [T(b"unfinished", fin=False), CL(1000)], [BYE], end=False),
    Case("5.20", "text in two fragments, an unsolicited pong between", [T(b"frag", fin=False), PO(b"x"), C(b"ment")],
         [text(b"fragment"), BYE]),
    Case("5.21", "the client goes away inside a fragmented message", [T(b"unfinished", fin=False)], [],
         end=False, eof=True),
    Case("5.22", "binary, 64 KiB in 16 fragments", frags(BINARY, pieces(bin_payload(65536), 4096)),
         [binary(bin_payload(65536)), BYE]),

    # ------------------------------------------------------------ 6 UTF-8 in text messages
    Case("6.1.1", "valid UTF-8: %s" % HELLO.decode(), [T(HELLO)], [text(HELLO), BYE]),
    Case("6.1.2", "valid UTF-8: κόσμε", [T(KOSME)], [text(KOSME), BYE]),
    Case("6.1.3", "the first and last code point of each UTF-8 length",
         [T("\u0080\u07ff\u0800\uffff\U00010000\U0010ffff")],
         [text("\u0080\u07ff\u0800\uffff\U00010000\U0010ffff"), BYE]),
    Case("6.1.4", "the code points beside the surrogates, U+D7FF and U+E000", [T("\ud7ff\ue000")],
         [text("\ud7ff\ue000"), BYE]),
    Case("6.1.5", "noncharacters U+FFFE and U+FDD0 are valid UTF-8", [T("\ufffe\ufdd0")], [text("\ufffe\ufdd0"), BYE]),
    Case("6.1.6", "NUL bytes", [T(b"a\0b\0")], [text(b"a\0b\0"), BYE]),
    Case("6.2.1", "κόσμε in two fragments, split between code points", frags(TEXT, [KOSME[:5], KOSME[5:]]),
         [text(KOSME), BYE]),
    Case("6.2.2", "κόσμε in two fragments, split inside a code point", frags(TEXT, [KOSME[:1], KOSME[1:]]),
         [text(KOSME), BYE]),
    Case("6.2.3", "κόσμε, a byte per fragment", frags(TEXT, pieces(KOSME, 1)), [text(KOSME), BYE]),
    Case("6.2.4", "a 4-byte code point in four fragments", frags(TEXT, pieces("\U0001f600".encode(), 1)),
         [text("\U0001f600"), BYE]),
    *[utf8_fail(id, what, payload) for id, what, payload in INVALID_UTF8],
    Case("6.4.1", "fragmented text, invalid in the first fragment", frags(TEXT, [b"\xce\xba\xff", KOSME]),
         [BAD_UTF8]),
    Case("6.4.2", "fragmented text, invalid in the last fragment", frags(TEXT, [KOSME, b"\xc0\xaf"]), [BAD_UTF8]),
    Case("6.4.3", "fragmented text that ends inside a code point", frags(TEXT, [KOSME, b"\xe1\xbd"]), [BAD_UTF8]),
    Case("6.4.4", "fragmented text, invalid in the middle, valid after",
         frags(TEXT, [KOSME, b"\xed\xa0\x80", KOSME]), [BAD_UTF8]),
    Case("6.4.5", "invalid text, a byte per fragment", frags(TEXT, pieces(INVALID_IN_KOSME, 1)), [BAD_UTF8]),
    Case("6.5.1", "binary is not UTF-8 checked", [B(b"\xff\xc0\xaf\xed\xa0\x80")],
         [binary(b"\xff\xc0\xaf\xed\xa0\x80"), BYE]),
    Case("6.5.2", "fragmented binary is not UTF-8 checked", frags(BINARY, [b"\xce", b"\xff"]),
         [binary(b"\xce\xff"), BYE]),

    # ------------------------------------------------------------ 7 close handling
    Case("7.1.1", "close 1000", [CL(1000)], [BYE], end=False),
    Case("7.1.2", "close with no body", [CL()], [BYE], end=False),
    Case("7.1.3", "close, then a text message (nothing is read after a close)", [CL(1000), T(b"late")], [BYE],
         end=False),
    Case("7.1.4", "close, then a ping", [CL(1000), PI(b"late")], [BYE], end=False),
    Case("7.1.5", "text, then close", [T(b"last")], [text(b"last"), BYE]),
    Case("7.1.6", "close 1000 with a reason", [CL(1000, b"bye")], [BYE], end=False),
    Case("7.1.7", "close 1000 with a 123-byte reason (125 in all)", [CL(1000, ascii_payload(123))], [BYE], end=False),
    Case("7.2.1", "close with a 1-byte body", [frame(CLOSE, b"\x03")], [FAIL], end=False),
    Case("7.2.2", "close with a 124-byte reason (126 in all)", [CL(1000, ascii_payload(124))], [FAIL], end=False),
    Case("7.2.3", "close with a reason that is not UTF-8", [CL(1000, b"\xce\xba\xff")], [closes(1002, 1007)],
         end=False),
] + [
    Case("7.3.%d" % code, "close %d, a valid code (RFC 7.4.1, 7.4.2)" % code, [CL(code)], [closes(code, 1000, None)],
         end=False)
    for code in (1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999)
] + [
    Case("7.4.%d" % code, "close %d, %s" % (code, why), [CL(code)], [FAIL], end=False)
    for why, codes in [
        ("in 0-999, which RFC 7.4.2 says are not used", (0, 999)),
        ("a code RFC 7.4.1 keeps out of close frames", (1004, 1005, 1006, 1015)),
        ("in 1000-2999 and not defined (RFC 7.4.2)", (1016, 1100, 2000, 2999)),
    ]
    for code in codes
] + [
    # RFC 7.4.2 defines no range past 4999 and says nothing of such a code
    # (Autobahn's 7.13 grades it informational): failing with 1002 and
    # echoing it are both conform; a clean close is what is checked.
    Case("7.5.%d" % code, "close %d, past the last range RFC 7.4.2 defines" % code, [CL(code)],
         [closes(1002, code, 1000, None)], end=False)
    for code in (5000, 65535)
] + [
    # ------------------------------------------------------------ 9 limits (--websockets-max-size 128)
    Case("9.1", "text of exactly the cap", [T(ascii_payload(MAX))], [text(ascii_payload(MAX)), BYE]),
    Case("9.2", "text one byte over the cap", [T(ascii_payload(MAX + 1))], [TOO_BIG]),
    Case("9.3", "binary of exactly the cap, in writes of 997 bytes", [B(bin_payload(MAX))],
         [binary(bin_payload(MAX)), BYE], chop=997),
    Case("9.4", "binary one byte over the cap", [B(bin_payload(MAX + 1))], [TOO_BIG]),
    Case("9.5", "text of exactly the cap in four fragments", frags(TEXT, pieces(ascii_payload(MAX), MAX // 4)),
         [text(ascii_payload(MAX)), BYE]),
    Case("9.6", "binary over the cap in two fragments, each under it",
         frags(BINARY, [bin_payload(MAX // 2), bin_payload(MAX // 2 + 1)]), [TOO_BIG]),
    Case("9.7", "text over the cap in 2000 fragments of 66 bytes", frags(TEXT, pieces(ascii_payload(2000 * 66), 66)),
         [TOO_BIG]),
    Case("9.8", "text in 1000 fragments of 100 bytes", frags(TEXT, pieces(ascii_payload(100000), 100)),
         [text(ascii_payload(100000)), BYE]),
    Case("9.9", "a header announcing 4 GiB, and nothing after it", [frame(BINARY, b"", length=1 << 32)],
         [TOO_BIG], end=False),
    Case("9.10", "100 text messages of 1000 bytes in one write", [T(ascii_payload(1000)) for _ in range(100)],
         [text(ascii_payload(1000))] * 100 + [BYE]),
]

CASE_IDS = [c.id for c in FRAME_CASES]

# Where uWSGI 2.0.21 departs from the RFC: case id -> (what uWSGI answers, why).
# Read from uWSGI's core/websockets.c: its reader takes the opcode and
# the length of a frame and nothing else, answers every ping with an
# empty pong and every close with an empty close, and hands the app a
# one-byte b"\0" for each frame of a message that is not the last.
MASKING = "uWSGI unmasks a frame when the mask bit is set and takes it as it is when not"
EMPTY_PONG = "uWSGI answers every ping with the same empty pong, not with the ping's payload"
CTRL_LEN = "uWSGI does not hold control frames to 125 bytes"
RSV = "uWSGI ignores the RSV bits"
OPCODES = "uWSGI skips frames with a reserved opcode"
NUL_MARK = ("uWSGI's websocket_recv() returns b'\\0' for every frame of a message but the last, "
            "as its 'message not complete' mark, and the echo app sends it back")
NEW_INSIDE = "uWSGI starts a new message on a text or binary frame inside a fragmented one, dropping the unfinished one"
CRASH = ("a continuation frame with no message started makes uWSGI's parser free a buffer it "
         "never had: the worker dies of SIGSEGV, with every connection it holds (UWSGI_CRASHES)")
NO_UTF8 = "uWSGI does not check UTF-8: the app gets bytes, as for binary, and the echo goes back as text"
CLOSE_BODY = "uWSGI answers every close frame with an empty close and never reads its body"
SIZE_DROP = "uWSGI drops the connection, with no close frame, on a frame whose length is over --websockets-max-size"
SIZE_FRAME = "uWSGI's --websockets-max-size caps each frame, not the message"


def nuls(kind, n):
    return [(kind, b"\0")] * n


T0, B0 = nuls("text", 1), nuls("binary", 1)

UWSGI_DIFFERENCES = {
    "1.4.1": ([text(b"bare"), BYE], MASKING),
    "1.4.2": ([binary(b"bare"), BYE], MASKING),
    "1.4.3": ([text(b"ok"), pong(), BYE], MASKING + "; " + EMPTY_PONG),
    "1.4.4": ([], SIZE_DROP + "; it does not check the top bit of a 64-bit length"),
    "2.2": ([pong(), BYE], EMPTY_PONG),
    "2.3": ([pong(), BYE], EMPTY_PONG),
    "2.4": ([pong(), BYE], EMPTY_PONG),
    "2.5": ([pong(), BYE], CTRL_LEN + "; " + EMPTY_PONG),
    "2.8": ([pong(), BYE], EMPTY_PONG),
    "2.9": ([BYE], CTRL_LEN),
    "2.10": ([pong(), text(b"between"), pong(), BYE], EMPTY_PONG),
    "3.1": ([text(b"rsv"), BYE], RSV),
    "3.2": ([text(b"ok"), text(b"rsv"), pong(), BYE], RSV + "; " + EMPTY_PONG),
    "3.3": ([text(b"ok"), text(b"rsv"), pong(), BYE], RSV + "; " + EMPTY_PONG),
    "3.4": ([binary(b"rsv"), BYE], RSV),
    "3.5": ([binary(bin_payload(10)), BYE], RSV),
    "3.6": ([pong(), BYE], RSV + "; " + EMPTY_PONG),
    "3.7": ([BYE], RSV),
    "3.8": (T0 + [text(b"fragment"), BYE], RSV + "; " + NUL_MARK),
    "3.9": ([BYE], RSV),
    "4.1.1": ([BYE], OPCODES),
    "4.1.2": ([BYE], OPCODES),
    "4.1.3": ([text(b"ok"), pong(), BYE], OPCODES + "; " + EMPTY_PONG),
    "4.1.4": ([text(b"ok"), pong(), BYE], OPCODES + "; " + EMPTY_PONG),
    "4.1.5": ([text(b"ok"), pong(), BYE], OPCODES + "; " + EMPTY_PONG),
    "4.2.1": ([BYE], OPCODES),
    "4.2.2": ([BYE], OPCODES),
    "4.2.3": ([text(b"ok"), pong(), BYE], OPCODES + "; " + EMPTY_PONG),
    "4.2.4": ([text(b"ok"), pong(), BYE], OPCODES + "; " + EMPTY_PONG),
    "4.2.5": ([text(b"ok"), pong(), BYE], OPCODES + "; " + EMPTY_PONG),
    "5.1": ([pong()], "uWSGI takes a non-final ping as a ping; " + CRASH),
    "5.2": ([], "uWSGI takes a non-final pong as a pong; " + CRASH),
    "5.3": (T0 + [text(b"fragment"), BYE], NUL_MARK),
    "5.4": (T0 + [text(b"fragment"), BYE], NUL_MARK),
    "5.5": (T0 + [pong(), text(b"fragment"), BYE], NUL_MARK + "; " + EMPTY_PONG),
    "5.6": (T0 + [pong(), text(b"fragment"), BYE], NUL_MARK + "; " + EMPTY_PONG),
    "5.7": (T0 + [pong()] + T0 + [pong(), text(b"abc"), BYE], NUL_MARK + "; " + EMPTY_PONG),
    "5.8": (B0 + [binary(b"\x00\xff\xfe\x01"), BYE], NUL_MARK),
    "5.9": (B0 + [pong(), binary(b"\x00\xff"), BYE], NUL_MARK + "; " + EMPTY_PONG),
    "5.10": ([], CRASH),
    "5.11": ([], CRASH),
    "5.12": ([], CRASH),
    "5.13": (T0 + [text(b"two"), BYE], NEW_INSIDE + "; " + NUL_MARK),
    "5.14": (T0 + [text(b"two"), BYE], NEW_INSIDE + "; " + NUL_MARK),
    "5.15": (T0 + T0 + [text(b"bc"), BYE], NEW_INSIDE + "; " + NUL_MARK),
    "5.16": (nuls("text", 99) + [text(ascii_payload(100)), BYE], NUL_MARK),
    "5.17": (nuls("text", 4) + [text(b"ab"), BYE], NUL_MARK),
    "5.18": (T0 + [text(b"one")] + T0 + [text(b"two"), BYE], NUL_MARK),
    "5.19": (T0 + [BYE], NUL_MARK),
    "5.20": (T0 + [text(b"fragment"), BYE], NUL_MARK),
    "5.21": (T0, NUL_MARK),
    "5.22": (nuls("binary", 15) + [binary(bin_payload(65536)), BYE], NUL_MARK),
    "6.2.1": (T0 + [text(KOSME), BYE], NUL_MARK),
    "6.2.2": (T0 + [text(KOSME), BYE], NUL_MARK),
    "6.2.3": (nuls("text", len(KOSME) - 1) + [text(KOSME), BYE], NUL_MARK),
    "6.2.4": (nuls("text", 3) + [text("\U0001f600"), BYE], NUL_MARK),
    **{id: ([text(payload), BYE], NO_UTF8) for id, _, payload in INVALID_UTF8},
    "6.4.1": (T0 + [text(b"\xce\xba\xff" + KOSME), BYE], NO_UTF8 + "; " + NUL_MARK),
    "6.4.2": (T0 + [text(KOSME + b"\xc0\xaf"), BYE], NO_UTF8 + "; " + NUL_MARK),
    "6.4.3": (T0 + [text(KOSME + b"\xe1\xbd"), BYE], NO_UTF8 + "; " + NUL_MARK),
    "6.4.4": (T0 + T0 + [text(KOSME + b"\xed\xa0\x80" + KOSME), BYE], NO_UTF8 + "; " + NUL_MARK),
    "6.4.5": (nuls("text", len(INVALID_IN_KOSME) - 1) + [text(INVALID_IN_KOSME), BYE], NO_UTF8 + "; " + NUL_MARK),
    "6.5.2": (B0 + [binary(b"\xce\xff"), BYE], NUL_MARK),
    "7.2.1": ([BYE], CLOSE_BODY),
    "7.2.2": ([BYE], CLOSE_BODY + "; " + CTRL_LEN),
    "7.2.3": ([BYE], CLOSE_BODY),
    **{c.id: ([BYE], CLOSE_BODY) for c in FRAME_CASES if c.id.startswith("7.4.")},
    "9.2": ([], SIZE_DROP),
    "9.4": ([], SIZE_DROP),
    "9.5": (nuls("text", 3) + [text(ascii_payload(MAX)), BYE], NUL_MARK),
    "9.6": (B0 + [binary(bin_payload(MAX // 2) + bin_payload(MAX // 2 + 1)), BYE], SIZE_FRAME + "; " + NUL_MARK),
    "9.7": (nuls("text", 1999) + [text(ascii_payload(2000 * 66)), BYE], SIZE_FRAME + "; " + NUL_MARK),
    "9.8": (nuls("text", 999) + [text(ascii_payload(100000)), BYE], NUL_MARK),
    "9.9": ([], SIZE_DROP),
}

# The rows on which uWSGI 2.0.21's worker dies (see CRASH above).
UWSGI_CRASHES = {"5.1", "5.2", "5.10", "5.11", "5.12"}

# ---------------------------------------------------------------- the reader

class Conn:
    """A client WebSocket connection: the socket and what was read past the handshake."""

    def __init__(self, sock, buf):
        self.sock = sock
        self.buf = buf

    def close(self):
        self.sock.close()


def handshake_request(path, key="dGhlIHNhbXBsZSBub25jZQ==", method="GET", version="HTTP/1.1", extra=None):
    headers = [("Host", "127.0.0.1"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
    if extra is not None:
        headers = extra(headers)
    lines = ["%s %s %s" % (method, path, version)] + ["%s: %s" % h for h in headers if h[1] is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def read_head(sock, buf=b""):
    """Read an HTTP response head: (status, headers lower-cased, bytes after it)."""
    deadline = time.monotonic() + REQ_TIMEOUT
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no response head within %g s; got %r" % (REQ_TIMEOUT, buf[:500]))
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            data = b""
        if not data:
            raise AssertionError("connection closed before a response head; got %r" % buf[:500])
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert len(parts) >= 2 and parts[0].startswith("HTTP/1.") and parts[1].isdigit(), lines[0]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return int(parts[1]), {k: ", ".join(v) for k, v in headers.items()}, rest


def answer_status(sock):
    """(status, headers) of the answer to a handshake; (None, {}) when the
    server closed the connection without answering."""
    sock.settimeout(REQ_TIMEOUT)
    try:
        first = sock.recv(65536)
    except ConnectionResetError:
        first = b""
    if not first:
        return None, {}
    status, headers, _ = read_head(sock, first)
    return status, headers


def ws_connect(port, path="/text"):
    """Open a WebSocket; assert the server's 101 is right (RFC 6455 4.2.2)."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=REQ_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(handshake_request(path, key))
    status, headers, rest = read_head(sock)
    assert status == 101, "handshake answered %d %r" % (status, headers)
    assert headers.get("sec-websocket-accept") == accept_for(key), headers
    assert headers.get("upgrade", "").lower() == "websocket", headers
    assert "upgrade" in [t.strip().lower() for t in headers.get("connection", "").split(",")], headers
    return Conn(sock, rest)


MESSAGES = ("text", "binary", "ping", "pong")


def parse_frame(buf):
    """(fin, rsv, opcode, masked, payload, rest) of the server's first frame, or None if incomplete."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n, pos = b1 & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack("!Q", buf[2:10])[0], 10
    masked = bool(b1 & 0x80)
    if masked:
        if len(buf) < pos + 4:
            return None
        mask, pos = buf[pos:pos + 4], pos + 4
    if len(buf) < pos + n:
        return None
    payload = buf[pos:pos + n]
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, payload, buf[pos + n:]


def read_events(conn, count=None):
    """What the server sends, as events: ("text"|"binary", message),
    ("ping"|"pong", payload), ("close", code or None or "short"),
    ("bad", why) for a frame no server may send, and last ("eof",) when
    the server closed the connection or ("open",) when it did not within
    REQ_TIMEOUT. With count, stop once that many messages and pings or
    pongs have come, unless a close came first."""
    events, partial = [], None
    deadline = time.monotonic() + REQ_TIMEOUT
    while True:
        if count is not None and not any(e[0] == "close" for e in events) and \
                sum(e[0] in MESSAGES for e in events) >= count:
            break
        f = parse_frame(conn.buf)
        if f is None:
            left = deadline - time.monotonic()
            if left <= 0:
                events.append(("open",))
                break
            conn.sock.settimeout(left)
            try:
                data = conn.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                if conn.buf:
                    events.append(("bad", "%d bytes of a cut frame: %r" % (len(conn.buf), conn.buf[:20])))
                events.append(("eof",))
                break
            conn.buf += data
            continue
        fin, rsv, op, masked, payload, conn.buf = f
        if masked:
            events.append(("bad", "a masked frame from the server (RFC 5.1)"))
        if rsv:
            events.append(("bad", "RSV bits %d set by the server" % rsv))
        if op in (TEXT, BINARY):
            if partial is not None:
                events.append(("bad", "a new message inside a fragmented one"))
            partial = [op, payload]
        elif op == CONT:
            if partial is None:
                events.append(("bad", "a continuation with no message started"))
                continue
            partial[1] += payload
        elif op in (PING, PONG, CLOSE):
            if not fin or len(payload) > 125:
                events.append(("bad", "a fragmented or long control frame"))
            if op == CLOSE:
                code = None if not payload else "short" if len(payload) == 1 else struct.unpack("!H", payload[:2])[0]
                events.append(("close", code))
            else:
                events.append(("ping" if op == PING else "pong", payload))
            continue
        else:
            events.append(("bad", "opcode %#x from the server" % op))
            continue
        if fin:
            events.append(("text" if partial[0] == TEXT else "binary", partial[1]))
            partial = None
    return events


def send(conn, chunks):
    try:
        for c in chunks:
            conn.sock.sendall(c)
    except (BrokenPipeError, ConnectionResetError):
        pass   # the server gave up early; what it sent before is still to be read


def exchange(conn, case, want):
    """Send the row's frames, and its close when want's messages are back; return the events."""
    got = []

    def ended():
        return got and got[-1][0] in ("eof", "open") or any(e[0] == "close" for e in got)

    for step in case.steps:
        if isinstance(step, Await):
            got += read_events(conn, count=step.n - sum(e[0] in MESSAGES for e in got))
            if ended():
                return got
            continue
        if case.chop is None:
            chunks = [b"".join(step)]
        elif case.chop == "frames":
            chunks = step
        else:
            chunks = pieces(b"".join(step), case.chop)
        send(conn, chunks)
    if case.eof:
        conn.sock.shutdown(socket.SHUT_WR)
    if not case.end:
        return got + read_events(conn)
    got += read_events(conn, count=sum(e[0] in MESSAGES for e in want) - sum(e[0] in MESSAGES for e in got))
    if ended():
        return got
    send(conn, [CL(1000)])
    return got + read_events(conn)


def judge(want, got):
    """Whether got (events) answers want (the row), by the rules in the module docstring."""
    want = list(want) + [("eof",)]

    def data(evs):
        return [e for e in evs if e[0] in ("text", "binary")]

    def ctrl(evs):
        return [e for e in evs if e[0] in ("ping", "pong")]

    def ends(evs):
        return [e for e in evs if e[0] not in ("text", "binary", "ping", "pong")]

    if data(want) != data(got) or ctrl(want) != ctrl(got):
        return False
    tw, tg = ends(want), ends(got)
    if len(tw) != len(tg):
        return False
    for w, g in zip(tw, tg):
        if w[0] != g[0] or (w[0] == "close" and g[1] not in w[1]):
            return False
    # a close, if any, is the last frame the server sends
    last_close = max((i for i, e in enumerate(got) if e[0] == "close"), default=None)
    return last_close is None or got[last_close + 1:] == [("eof",)]


def show(events):
    out = []
    for e in events:
        if e[0] in ("text", "binary", "ping", "pong") and len(e[1]) > 24:
            out.append("(%s, %d bytes %r...)" % (e[0], len(e[1]), e[1][:12]))
        elif e[0] == "close" and isinstance(e[1], frozenset):
            out.append("(close, one of %s)" % sorted(e[1], key=str))
        else:
            out.append(repr(e))
    return "[" + ", ".join(out) + "]"


# ---------------------------------------------------------------- the servers

class Target:
    """A server of one kind and engine, with a bystander connection kept
    open from the start: the worker must keep serving it through every row."""

    def __init__(self, name, srv):
        self.name, self.srv = name, srv
        self.kind = srv.kind
        self.worker = self.workers()
        self.bystander = ws_connect(srv.port)
        self.rounds = 0

    def workers(self):
        """uWSGI's workers (its master's children); uwsgo, the process it started."""
        return children(self.srv.pid) if self.kind == "uwsgi" else [self.srv.pid]

    def still_serving(self):
        """The same worker still runs, and the bystander and a new connection both echo."""
        assert self.srv.proc.poll() is None, "%s exited with %s" % (self.name, self.srv.proc.returncode)
        old, self.worker = self.worker, self.workers()
        assert self.worker == old, "%s: the worker %s is gone, now %s" % (self.name, old, self.worker)
        self.rounds += 1
        msg = b"still here %d" % self.rounds
        self.bystander.sock.sendall(T(msg))
        got = read_events(self.bystander, count=1)
        assert got == [text(msg)], "%s: the connection kept open since start-up answered %s, not the echo" % (
            self.name, show(got))
        fresh = ws_connect(self.srv.port)
        try:
            fresh.sock.sendall(T(b"fresh"))
            got = read_events(fresh, count=1)
            fresh.sock.sendall(CL(1000))
            got += read_events(fresh)
        finally:
            fresh.close()
        assert judge([text(b"fresh"), BYE], got), "%s: a new connection answered %s" % (self.name, show(got))

    def crashed(self):
        """The worker died on the row (uWSGI, see UWSGI_CRASHES): every
        connection it held is gone, and the master forks a new one."""
        old = self.worker
        self.worker = until("uWSGI's master replacing worker %s" % old,
                            lambda: [w for w in self.workers() if w not in old], REQ_TIMEOUT)
        got = read_events(self.bystander)
        assert got == [("eof",)], "%s: the bystander of the crashed worker saw %s" % (self.name, show(got))
        self.bystander.close()
        self.bystander = ws_connect(self.srv.port)
        self.still_serving()


@pytest.fixture(scope="module", params=list(TARGETS))
def target(request, tmp_path_factory):
    kind, engine = TARGETS[request.param]
    port = free_port()
    if kind == "ref":
        try:
            import websockets  # noqa: F401
        except ImportError:
            pytest.fail("python3-websockets is missing (make deps)", pytrace=False)
        argv = ["/usr/bin/python3", REF, port, MAX]
    else:
        base = [uwsgo_bin()] if kind == "uwsgo" else uwsgi_argv()
        argv = base + ["--http-socket", "127.0.0.1:%d" % port] + engine + COMMON
    log = tmp_path_factory.mktemp(request.param) / "server.log"
    srv = Server([str(a) for a in argv], port, log, child_env(), REPO, False)
    srv.kind = kind
    try:
        srv.wait_ready()
        wait_serving(srv)
        t = Target(request.param, srv)
    except Exception as e:
        srv.stop()
        pytest.fail("%s did not start (%s): %s\n%s" % (request.param, " ".join(map(str, argv)), e, tail(srv.log)),
                    pytrace=False)
    yield t
    t.bystander.close()
    problems = srv.stop()
    if problems and kind != "uwsgi":
        pytest.fail("%s: %s\n%s" % (request.param, "; ".join(problems), tail(srv.log)), pytrace=False)


def expected(target, case_id, want):
    if target.kind == "uwsgi" and case_id in UWSGI_DIFFERENCES:
        return UWSGI_DIFFERENCES[case_id]
    return want, None


# ---------------------------------------------------------------- the table

@pytest.mark.parametrize("case", FRAME_CASES, ids=CASE_IDS)
def test_frames(target, case):
    want, why = expected(target, case.id, case.want)
    conn = ws_connect(target.srv.port, case.path)
    try:
        got = exchange(conn, case, want)
    finally:
        conn.close()
    note = "uWSGI 2.0.21 differs from the RFC here: %s" % why if why else "from RFC 6455"
    assert judge(want, got), "%s %s (%s on %s)\n  sent:    %d frames\n  want:    %s (%s)\n  got:     %s\n%s" % (
        case.id, case.what, case.path, target.name, len(case.frames), show(want + [("eof",)]), note, show(got),
        tail(target.srv.log, 8))
    if target.kind == "uwsgi" and case.id in UWSGI_CRASHES:
        target.crashed()
    else:
        target.still_serving()


def hs_without(*names):
    return lambda hs: [(k, v) for k, v in hs if k not in names]


def hs_with(name, value):
    return lambda hs: [(k, value if k == name else v) for k, v in hs]


class HCase:
    """A handshake: the request's bytes and the statuses that may answer it.
    A 426 must say what to upgrade to (RFC 9110 15.5.22): the header
    need426 names, with its value."""

    def __init__(self, id, what, raw, want, need426=("upgrade", "websocket")):
        self.id, self.what, self.raw, self.want, self.need426 = id, what, raw, want, need426


RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="          # RFC 6455 1.3's example
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

HANDSHAKE_CASES = [
    HCase("h.1", "the RFC's example handshake", handshake_request("/text"), {101}),
    HCase("h.2", "header values in other cases, Upgrade among other Connection tokens",
          handshake_request("/text", extra=lambda hs: hs_with("Connection", "keep-alive, UPGRADE")(
              hs_with("Upgrade", "WebSocket")(hs))), {101}),
    HCase("h.3", "no Sec-WebSocket-Key", handshake_request("/text", extra=hs_without("Sec-WebSocket-Key")), {400}),
    HCase("h.4", "an empty Sec-WebSocket-Key", handshake_request("/text", key=""), {400}),
    HCase("h.5", "a key of 10 bytes, not 16 (RFC 4.1)", handshake_request("/text", key="dGhlIHNhbXBsZQ=="), {400}),
    HCase("h.6", "a key that is not base64", handshake_request("/text", key="not base64 at all!"), {400}),
    HCase("h.7", "Sec-WebSocket-Version 8 (RFC 4.2.2: 426 or another error)",
          handshake_request("/text", extra=hs_with("Sec-WebSocket-Version", "8")), {400, 426},
          need426=("sec-websocket-version", "13")),
    HCase("h.8", "no Sec-WebSocket-Version", handshake_request("/text", extra=hs_without("Sec-WebSocket-Version")),
          {400, 426}, need426=("sec-websocket-version", "13")),
    HCase("h.9", "a POST (RFC 4.2.1: the handshake is a GET)", handshake_request("/text", method="POST"), {400, 405}),
    HCase("h.10", "no Upgrade header", handshake_request("/text", extra=hs_without("Upgrade")), {400, 426}),
    HCase("h.11", "Upgrade: h2c", handshake_request("/text", extra=hs_with("Upgrade", "h2c")), {400, 426}),
    HCase("h.12", "Connection: keep-alive, without Upgrade",
          handshake_request("/text", extra=hs_with("Connection", "keep-alive")), {400, 426}),
    HCase("h.13", "HTTP/1.0 (RFC 4.2.1: HTTP/1.1 or higher)", handshake_request("/text", version="HTTP/1.0"), {400}),
]

# Where uWSGI 2.0.21's handshake departs from the RFC: id -> (statuses, why);
# None is a connection closed with no answer.
NO_KEY = ("uWSGI's websocket_handshake() raises IOError and writes nothing; the app's exception then "
          "ends the request with no answer at all (uWSGI logs a 500 it never sends)")
UWSGI_HANDSHAKE_DIFFERENCES = {
    "h.3": ({None}, NO_KEY),
    "h.4": ({None}, NO_KEY),
    "h.5": ({101}, "uWSGI hashes whatever key it gets; it does not check for 16 bytes in base64"),
    "h.6": ({101}, "uWSGI hashes whatever key it gets; it does not check for 16 bytes in base64"),
    "h.7": ({101}, "uWSGI does not look at Sec-WebSocket-Version"),
    "h.8": ({101}, "uWSGI does not look at Sec-WebSocket-Version"),
    "h.9": ({101}, "uWSGI does not look at the method"),
    "h.10": ({101}, "uWSGI does not look at Upgrade or Connection: a key is enough"),
    "h.11": ({101}, "uWSGI does not look at Upgrade or Connection: a key is enough"),
    "h.12": ({101}, "uWSGI does not look at Upgrade or Connection: a key is enough"),
    "h.13": ({101}, "uWSGI does not look at the HTTP version"),
}


@pytest.mark.parametrize("case", HANDSHAKE_CASES, ids=[c.id for c in HANDSHAKE_CASES])
def test_handshake(target, case):
    want, why = case.want, None
    if target.kind == "uwsgi" and case.id in UWSGI_HANDSHAKE_DIFFERENCES:
        want, why = UWSGI_HANDSHAKE_DIFFERENCES[case.id]
    with socket.create_connection(("127.0.0.1", target.srv.port), timeout=REQ_TIMEOUT) as s:
        s.sendall(case.raw)
        status, headers = answer_status(s)
    note = "uWSGI 2.0.21 differs from the RFC here: %s" % why if why else "from RFC 6455 4.2"
    assert status in want, "%s %s on %s: answered %s %r, want one of %s (%s)" % (
        case.id, case.what, target.name, status, headers, sorted(want, key=str), note)
    if status == 101:
        key = [line.split(": ", 1)[1] for line in case.raw.decode("latin-1").split("\r\n")
               if line.lower().startswith("sec-websocket-key:")]
        assert headers.get("sec-websocket-accept") == accept_for(key[0]), headers
        if key[0] == RFC_KEY:
            assert headers["sec-websocket-accept"] == RFC_ACCEPT
    if status == 426:
        name, value = case.need426
        assert headers.get(name, "").lower() == value, "%s on %s: a 426 without %s: %s" % (
            case.id, target.name, name, value)
    target.still_serving()


def test_http_still_served(target):
    """Plain HTTP on the same worker, next to the WebSockets."""
    import urllib.request
    with urllib.request.urlopen(target.srv.url + "/", timeout=REQ_TIMEOUT) as r:
        assert (r.status, r.read()) == (200, b"ok\n")
    target.still_serving()


def test_table():
    assert len(FRAME_CASES) + len(HANDSHAKE_CASES) >= 100
    assert len(set(CASE_IDS)) == len(CASE_IDS), "case ids repeat"
    rows = {c.id: c for c in FRAME_CASES}
    assert UWSGI_CRASHES <= set(UWSGI_DIFFERENCES)
    for cid, (want, why) in UWSGI_DIFFERENCES.items():
        assert cid in rows, "UWSGI_DIFFERENCES lists %s, which is not a case" % cid
        assert want != rows[cid].want, "%s is listed as a uWSGI difference but expects what the RFC does" % cid
        assert why, cid
    hrows = {c.id: c for c in HANDSHAKE_CASES}
    for cid, (want, why) in UWSGI_HANDSHAKE_DIFFERENCES.items():
        assert cid in hrows and want != hrows[cid].want and why, cid
