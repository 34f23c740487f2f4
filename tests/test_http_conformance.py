"""HTTP/1.1 and uwsgi request parsing, case by case, through the real binary.

Each case of HTTP_CASES is raw bytes on one connection (the client then
shuts its side) and what a strict parser makes of them (RFC 9112, as
llhttp's strict mode reads it): the requests it serves, in order, and
whether it then refuses what follows (a 4xx/5xx answer) or simply sees the
end. Every framing case is followed by a pipelined request, so a case
also shows where the parser thinks the request ended.

The same bytes go to node's HTTP server (llhttp, insecureHTTPParser:
false; tests/llhttp_ref.js) as the reference: a case fails when llhttp
reads them differently, unless the case lists a deliberate difference,
with what llhttp does and why uwsgo does otherwise.

"src" names the corpus files that informed a case: gunicorn's
tests/requests/{valid,invalid}/*.http and llhttp's test/request/*.md
fixtures (the cases are written here from RFC 9112, not copied).

UWSGI_CASES do the same for the uwsgi protocol (no reference parser; the
expectations are uWSGI's rules: the last of a repeated var wins, one
request per connection).
"""
import json
import os
import re
import socket
import struct
import subprocess
import time

import pytest

from helpers import REPO, free_port, port_accepts, recv_until_closed

APP = str(REPO / "tests" / "apps" / "echo_request.py")
NODE_REF = str(REPO / "tests" / "llhttp_ref.js")

H = "Host: x\r\n"
NEXT = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"   # the pipelined follow-up


def g(path="/", headers=H, version="HTTP/1.1", method="GET"):
    return "%s %s %s\r\n%s\r\n" % (method, path, version, headers)


def post(body_headers, body, path="/p", version="HTTP/1.1", host=H):
    return "POST %s %s\r\n%s%s\r\n%s" % (path, version, host, body_headers, body)


def chunked(body, extra=""):
    return post("Transfer-Encoding: chunked\r\n" + extra, body)


class Case:
    def __init__(self, id, raw, served=(), refused=False, src="", llhttp=None, eof=False):
        self.id = id
        self.eof = eof  # incomplete on purpose: the client's end is what ends it
        self.raw = raw.encode("latin-1") if isinstance(raw, str) else raw
        self.want = (tuple(_req(r) for r in served), refused)
        self.src = src
        # A deliberate difference: (served, refused, why uwsgo differs).
        self.llhttp = None
        self.why = ""
        if llhttp is not None:
            served_l, refused_l, self.why = llhttp
            self.llhttp = (tuple(_req(r) for r in served_l), refused_l)


def _req(r):
    """"GET /x" or ("POST", "/p", "body") -> (method, uri, body)."""
    if isinstance(r, str):
        m, u = r.split(" ", 1)
        return (m, u, "")
    return tuple(r)


P = ("POST", "/p", "hello")          # the usual body
NX = "GET /next"

HTTP_CASES = [
    # ---------------------------------------------------------- valid requests
    Case("get", g(), ["GET /"], src="gunicorn valid/001.http; llhttp sample.md"),
    Case("get-query", g("/a/b?c=d&e"), ["GET /a/b?c=d&e"], src="gunicorn valid/002.http"),
    Case("get-then-next", g() + NEXT, ["GET /", NX]),
    Case("three-pipelined", g("/1") + g("/2") + g("/3"), ["GET /1", "GET /2", "GET /3"], src="llhttp pipelining.md"),
    Case("leading-crlf", "\r\n" + g(), ["GET /"], src="RFC 9112 2.2; llhttp sample.md"),
    Case("leading-crlfs-between", g("/1") + "\r\n\r\n" + g("/2"), ["GET /1", "GET /2"]),
    Case("method-put", g(method="PUT"), ["PUT /"]),
    Case("method-delete", g(method="DELETE"), ["DELETE /"]),
    Case("method-patch", g(method="PATCH"), ["PATCH /"]),
    Case("method-options-asterisk", g("*", method="OPTIONS"), ["OPTIONS *"], src="llhttp uri.md"),
    Case("method-m-search", g("*", method="M-SEARCH"), ["M-SEARCH *"], src="llhttp method.md"),
    Case("method-unknown-token", g(method="FROB"), ["FROB /"],
         src="gunicorn valid/ (custom methods)",
         llhttp=([], True, "llhttp knows a fixed list of methods; RFC 9110 9.1 makes any token a method, as nginx and gunicorn take it")),
    Case("absolute-form", g("http://example.com/x?y"), ["GET http://example.com/x?y"], src="llhttp uri.md"),
    Case("absolute-form-port", g("http://example.com:8080/"), ["GET http://example.com:8080/"]),
    Case("percent-encoded", g("/a%20b%2Fc"), ["GET /a%20b%2Fc"], src="gunicorn valid/027.http"),
    Case("http10", g(version="HTTP/1.0", headers=""), ["GET /"]),
    Case("http10-host", g(version="HTTP/1.0"), ["GET /"]),
    Case("http10-keep-alive", g(version="HTTP/1.0", headers="Connection: keep-alive\r\n") + NEXT, ["GET /", NX],
         src="llhttp connection.md"),
    Case("http10-not-kept", g(version="HTTP/1.0", headers="") + NEXT, ["GET /"], src="llhttp connection.md"),
    Case("http10-keep-alive-kelvin", g(version="HTTP/1.0", headers="Connection: \xe2\x84\xaaeep-alive\r\n") + NEXT, ["GET /"],
         src="issue 11 case 2"),
    Case("http11-close", g(headers=H + "Connection: close\r\n") + NEXT, ["GET /"], src="llhttp connection.md"),
    Case("http11-close-upper", g(headers=H + "Connection: CLOSE\r\n") + NEXT, ["GET /"]),
    Case("http11-close-in-list", g(headers=H + "Connection: foo, close\r\n") + NEXT, ["GET /"]),
    Case("http11-upgrade-token", g(headers=H + "Connection: keep-alive\r\n") + NEXT, ["GET /", NX]),
    Case("empty-value", g(headers=H + "X-Empty:\r\n") + NEXT, ["GET /", NX], src="gunicorn valid/ (empty values)"),
    Case("value-ows-trimmed", g(headers=H + "X-A: \t a b \t\r\n") + NEXT, ["GET /", NX]),
    Case("value-obs-text", g(headers=H + "X-A: caf\xc3\xa9\r\n") + NEXT, ["GET /", NX], src="RFC 9110 5.5 obs-text"),
    Case("value-tab-inside", g(headers=H + "X-A: a\tb\r\n") + NEXT, ["GET /", NX]),
    Case("name-all-tchars", g(headers=H + "!#$%&'*+-.^_`|~09azAZ: 1\r\n") + NEXT, ["GET /", NX]),
    Case("no-space-after-colon", g(headers=H + "X-A:b\r\n") + NEXT, ["GET /", NX]),
    Case("many-headers", g(headers=H + "X-F: 1\r\n" * 60) + NEXT, ["GET /", NX]),
    Case("long-value", g(headers=H + "X-Long: " + "v" * 6000 + "\r\n") + NEXT, ["GET /", NX]),
    Case("host-with-port", g(headers="Host: example.com:8080\r\n") + NEXT, ["GET /", NX]),
    Case("host-ipv6", g(headers="Host: [::1]:80\r\n") + NEXT, ["GET /", NX]),
    Case("host-empty", g(headers="Host:\r\n") + NEXT, ["GET /", NX], src="RFC 9112 3.2"),

    # ---------------------------------------------------- the request line
    Case("lowercase-version", g(version="http/1.1"), [], True, src="gunicorn invalid/version_01.http"),
    Case("http12", g(version="HTTP/1.2"), [], True, src="gunicorn invalid/version_02.http; llhttp invalid.md"),
    Case("http20", g(version="HTTP/2.0"), [], True,
         llhttp=(["GET /"], False, "an HTTP/2.0 request line is no HTTP/1.x request: 505 (RFC 9110 15.6.6)")),
    Case("http09-line", "GET /\r\n\r\n", [], True,
         llhttp=(["GET /"], False, "HTTP/0.9 is not served (RFC 9112 has no version-less request line)")),
    Case("http09-version", g(version="HTTP/0.9", headers=""), [], True,
         llhttp=(["GET /"], False, "HTTP/0.9 is not served: 505")),
    Case("http110", g(version="HTTP/1.10"), [], True),
    Case("version-no-minor", g(version="HTTP/1"), [], True),
    Case("version-space", "GET / HTTP/ 1.1\r\n" + H + "\r\n", [], True),
    Case("two-spaces-after-method", "GET  / HTTP/1.1\r\n" + H + "\r\n", [], True, src="llhttp invalid.md",
         llhttp=(["GET /"], False, "RFC 9112 3: one SP between the parts; a proxy splitting on SP would read another target")),
    Case("two-spaces-before-version", "GET /  HTTP/1.1\r\n" + H + "\r\n", [], True,
         llhttp=(["GET /"], False, "RFC 9112 3: one SP between the parts")),
    Case("trailing-space", "GET / HTTP/1.1 \r\n" + H + "\r\n", [], True),
    Case("tab-separator", "GET\t/ HTTP/1.1\r\n" + H + "\r\n", [], True),
    Case("no-target", "GET HTTP/1.1\r\n" + H + "\r\n", [], True),
    Case("method-nul", "GET\x00PROXY /foo HTTP/1.1\r\n\r\n", [], True, src="gunicorn invalid/prefix_01.http"),
    Case("method-paren", g(method="G(T"), [], True, src="gunicorn invalid/method_01.http"),
    Case("method-empty", " / HTTP/1.1\r\n" + H + "\r\n", [], True),
    Case("method-nonascii", g(method="G\xc3\x89T"), [], True, src="gunicorn invalid/nonascii_01.http"),
    Case("target-ctl", g("/a\x01b"), [], True),
    Case("target-del", g("/a\x7fb"), [], True),
    Case("target-nonascii", g("/caf\xc3\xa9"), [], True, src="gunicorn invalid/nonascii_02.http; llhttp uri.md"),
    Case("target-bad-escape", g("/%zz"), [], True,
         llhttp=(["GET /%zz"], False, "PATH_INFO is percent-decoded (as uWSGI does); a malformed escape has no decoding")),
    Case("target-relative", g("a/b"), [], True, src="gunicorn invalid/rfc9112_target_relative_01.http"),
    Case("bare-cr-request-line", "GET / HTTP/1.1\rHost: x\r\n\r\n", [], True),
    Case("bare-lf-request-line", "GET / HTTP/1.1\n" + H + "\r\n", [], True, src="llhttp invalid.md"),
    Case("leading-bare-lf", "\n" + g(), [], True,
         llhttp=(["GET /"], False,
                 "CRLF only: RFC 9112 2.2 lets a server skip empty lines; uwsgo skips CRLFs only, not a bare LF")),
    Case("leading-space", " " + g(), [], True),
    Case("garbage", "GARBAGE\r\n\r\n", [], True),

    # ---------------------------------------------------- header lines
    Case("missing-host-11", g(headers=""), [], True, src="RFC 9112 3.2; llhttp lenient-host-header.md"),
    Case("missing-host-after-ok", g("/1") + g("/2", headers=""), ["GET /1"], True),
    Case("two-hosts", g(headers=H + H), [], True,
         llhttp=(["GET /"], False, "RFC 9112 3.2: a request with more than one Host is a 400")),
    Case("host-invalid", g(headers="Host: a b\r\n"), [], True,
         llhttp=(["GET /"], False, "the Host value is checked as net/http does (httpguts.ValidHostHeader)")),
    Case("space-before-colon", g(headers=H + "X-A : b\r\n"), [], True, src="RFC 9112 5.1; llhttp invalid.md"),
    Case("tab-before-colon", g(headers=H + "X-A\t: b\r\n"), [], True),
    Case("no-colon", g(headers=H + "X-A\r\n"), [], True, src="gunicorn invalid/ (no colon)"),
    Case("empty-name", g(headers=H + ": b\r\n"), [], True),
    Case("name-paren", g(headers=H + "X(A): b\r\n"), [], True),
    Case("name-at", g(headers=H + "X@A: b\r\n"), [], True),
    Case("name-del", g(headers=H + "X\x7fA: b\r\n"), [], True),
    Case("name-nonascii", g(headers=H + "Content-Length\xff: 3\r\n"), [], True, src="gunicorn invalid/nonascii_04.http"),
    Case("name-kelvin", g(headers=H + "X-\xe2\x84\xaa: 1\r\n"), [], True, src="issue 11 case 2"),
    Case("obs-fold", g(headers=H + "X-A: a\r\n b\r\n"), [], True, src="gunicorn invalid/obs_fold_01.http; RFC 9112 5.2"),
    Case("obs-fold-tab", g(headers=H + "X-A: a\r\n\tb\r\n"), [], True),
    Case("first-line-folded", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", [], True),
    Case("value-nul", g(headers=H + "X-A: a\x00b\r\n"), [], True, src="RFC 9110 5.5"),
    Case("value-bel", g(headers=H + "X-A: a\x07b\r\n"), [], True, src="gunicorn invalid/rfc9110_field_value_ctl_bel_01.http"),
    Case("value-del", g(headers=H + "X-A: a\x7fb\r\n"), [], True, src="gunicorn invalid/rfc9110_field_value_ctl_del_01.http"),
    Case("value-vt", g(headers=H + "X-A: a\x0bb\r\n"), [], True, src="gunicorn invalid/chunked_whitespace.http"),
    Case("value-bare-cr", g(headers=H + "X-A: a\rb\r\n"), [], True, src="llhttp invalid.md"),
    Case("bare-lf-in-head", "GET / HTTP/1.1\r\nHost: x\r\nDummy: x\nContent-Length: 23\r\n\r\n"
         "GET / HTTP/1.1\r\nDummy: GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", [], True, src="issue 11 case 1"),
    Case("bare-lf-heads", "GET / HTTP/1.1\nHost: x\n\n" + NEXT, [], True, src="gunicorn valid/ (LF heads, taken by gunicorn)"),
    Case("bare-lf-ends-head", "GET / HTTP/1.1\r\nHost: x\r\n\n" + NEXT, [], True),
    Case("cr-cr-lf", "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", [], True),
    Case("too-many-headers", g(headers=H + "X-F: 1\r\n" * 64), [], True,
         llhttp=(["GET /"], False, "--max-vars (default 64, as uWSGI) caps the header fields: 431")),
    Case("head-too-large", g(headers=H + "X-Big: " + "b" * 9000 + "\r\n"), [], True,
         llhttp=(["GET /"], False, "--buffer-size (at least 8 KiB for HTTP) caps the head: 431; node's cap is 16 KiB")),
    Case("expect-unknown", post("Expect: 200-ok\r\nContent-Length: 5\r\n", "hello"), [], True,
         src="RFC 9110 10.1.1 (417; node answers 417 too)"),
    Case("expect-continue", post("Expect: 100-continue\r\nContent-Length: 5\r\n", "hello") + NEXT, [P, NX]),

    # ---------------------------------------------------- Content-Length
    Case("cl-body", post("Content-Length: 5\r\n", "hello") + NEXT, [P, NX], src="llhttp content-length.md"),
    Case("cl-zero", post("Content-Length: 0\r\n", "") + NEXT, [("POST", "/p", ""), NX]),
    Case("cl-leading-zeros", post("Content-Length: 005\r\n", "hello") + NEXT, [P, NX]),
    Case("cl-ows", post("Content-Length:  5 \r\n", "hello") + NEXT, [P, NX]),
    Case("cl-get-body", g(headers=H + "Content-Length: 5\r\n") + "hello" + NEXT, [("GET", "/", "hello"), NX]),
    Case("cl-body-looks-like-request", post("Content-Length: 35\r\n", "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n") + NEXT,
         [("POST", "/p", "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), NX]),
    Case("cl-short-body", post("Content-Length: 10\r\n", "hello"), [], eof=True),
    Case("cl-minus-zero", post("Content-Length: -0\r\n", "hello") + NEXT, [], True, src="issue 11 case 5"),
    Case("cl-negative", post("Content-Length: -5\r\n", "hello") + NEXT, [], True),
    Case("cl-plus", post("Content-Length: +5\r\n", "hello") + NEXT, [], True, src="gunicorn invalid/ (signed lengths)"),
    Case("cl-hex", post("Content-Length: 0x5\r\n", "hello") + NEXT, [], True),
    Case("cl-space-inside", post("Content-Length: 5 5\r\n", "hello") + NEXT, [], True, src="llhttp content-length.md"),
    Case("cl-list-same", post("Content-Length: 5, 5\r\n", "hello") + NEXT, [], True),
    Case("cl-decimal", post("Content-Length: 5.0\r\n", "hello") + NEXT, [], True),
    Case("cl-empty", post("Content-Length:\r\n", "hello") + NEXT, [], True),
    Case("cl-overflow", post("Content-Length: 99999999999999999999\r\n", "hello") + NEXT, [], True,
         src="llhttp content-length.md"),
    Case("cl-duplicate-same", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello") + NEXT, [], True,
         src="llhttp content-length.md"),
    Case("cl-duplicate-differ", post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello") + NEXT, [], True,
         src="gunicorn invalid/ (conflicting lengths)"),
    Case("cl-kelvin-name", post("Content-\xe2\x84\xaaength: 5\r\n", "hello") + NEXT, [], True),

    # ---------------------------------------------------- Transfer-Encoding
    Case("te-chunked", chunked("5\r\nhello\r\n0\r\n\r\n") + NEXT, [P, NX], src="llhttp transfer-encoding.md"),
    Case("te-chunked-case", post("Transfer-Encoding: ChUnKeD\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [P, NX]),
    Case("te-name-case", post("transfer-encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [P, NX]),
    Case("te-chunked-ows", post("Transfer-Encoding:  chunked \r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [P, NX]),
    Case("te-kelvin", post("Transfer-Encoding: chun\xe2\x84\xaaed\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         src="issue 11 case 2"),
    Case("te-gzip", post("Transfer-Encoding: gzip\r\n", "hello") + NEXT, [], True, src="RFC 9112 6.1 (501)"),
    Case("te-identity", post("Transfer-Encoding: identity\r\n", "hello") + NEXT, [], True),
    Case("te-gzip-chunked", post("Transfer-Encoding: gzip, chunked\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         src="llhttp transfer-encoding.md",
         llhttp=([P, NX], False, "uwsgo decodes no coding but chunked: 501 (RFC 9112 6.1), rather than pass a gzip body on as plain")),
    Case("te-chunked-gzip", post("Transfer-Encoding: chunked, gzip\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         src="gunicorn invalid/chunked_01.http"),
    Case("te-chunked-identity-headers", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
                                             "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True, src="gunicorn invalid/chunked_06.http"),
    Case("te-chunked-twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                                  "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("te-chunked-comma-twice", post("Transfer-Encoding: chunked, chunked\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("te-vt-chunked", post("Transfer-Encoding: identity, \x0bchunked\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         src="gunicorn invalid/chunked_whitespace.http"),
    Case("te-and-cl", post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         src="gunicorn invalid/rfc9112_smuggle_cl_te_chunked_01.http; llhttp transfer-encoding.md"),
    Case("cl-and-te", post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("te-http10", post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", version="HTTP/1.0", host="") + NEXT,
         [], True, src="RFC 9112 6.1 (faulty framing in HTTP/1.0)",
         llhttp=([P], False, "RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing (nginx says 400; net/http ignores it and reads by length)")),

    # ---------------------------------------------------- chunk lines
    Case("chunk-two", chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") + NEXT, [("POST", "/p", "hello world"), NX]),
    Case("chunk-empty-body", chunked("0\r\n\r\n") + NEXT, [("POST", "/p", ""), NX]),
    Case("chunk-upper-hex", chunked("A\r\n0123456789\r\n0\r\n\r\n") + NEXT, [("POST", "/p", "0123456789"), NX]),
    Case("chunk-lower-hex", chunked("a\r\n0123456789\r\n0\r\n\r\n") + NEXT, [("POST", "/p", "0123456789"), NX]),
    Case("chunk-leading-zeros", chunked("0005\r\nhello\r\n000\r\n\r\n") + NEXT, [P, NX]),
    Case("chunk-data-crlf", chunked("4\r\n\r\n\r\n\r\n0\r\n\r\n") + NEXT, [("POST", "/p", "\r\n\r\n"), NX]),
    Case("chunk-ext", chunked("5;a=b\r\nhello\r\n0\r\n\r\n") + NEXT, [P, NX], src="llhttp transfer-encoding.md"),
    Case("chunk-ext-name-only", chunked("5;a\r\nhello\r\n0\r\n\r\n") + NEXT, [P, NX]),
    Case("chunk-ext-several", chunked("5;a=b;c;d=e\r\nhello\r\n0\r\n\r\n") + NEXT, [P, NX]),
    Case("chunk-ext-quoted", chunked('5;a="b c;d"\r\nhello\r\n0\r\n\r\n') + NEXT, [P, NX]),
    Case("chunk-ext-quoted-escape", chunked('5;a="b\\"c"\r\nhello\r\n0\r\n\r\n') + NEXT, [P, NX]),
    Case("chunk-ext-on-last", chunked("5\r\nhello\r\n0;end=1\r\n\r\n") + NEXT, [P, NX]),
    Case("chunk-bare-lf", chunked("5\nhello\n0\n\n") + NEXT, [], True, src="issue 11 case 3; llhttp transfer-encoding.md"),
    Case("chunk-bare-lf-after-data", chunked("5\r\nhello\n0\r\n\r\n") + NEXT, [], True, src="issue 11 case 3"),
    Case("chunk-bare-lf-after-size", chunked("5\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("chunk-bare-lf-last", chunked("5\r\nhello\r\n0\n\r\n") + NEXT, [], True),
    Case("chunk-bare-lf-final", chunked("5\r\nhello\r\n0\r\n\n") + NEXT, [], True,
         src="gunicorn invalid/rfc9112_chunked_missing_final_crlf_01.http"),
    Case("chunk-cr-cr-lf", chunked("5\r\r\nhello\r\n0\r\n\r\n") + NEXT, [], True, src="issue 11 case 3"),
    Case("chunk-cr-after-data", chunked("5\r\nhello\r0\r\n\r\n") + NEXT, [], True),
    Case("chunk-no-crlf-after-data", chunked("5\r\nhelloXX0\r\n\r\n") + NEXT, [], True, src="gunicorn invalid/chunked_02.http"),
    Case("chunk-data-too-long", chunked("3\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("chunk-space-after-size", chunked("5 \r\nhello\r\n0\r\n\r\n") + NEXT, [], True, src="issue 11 case 3"),
    Case("chunk-tab-after-size", chunked("5\t\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("chunk-space-before-size", chunked(" 5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("chunk-space-before-ext", chunked("5 ;a\r\nhello\r\n0\r\n\r\n") + NEXT, [], True, src="llhttp transfer-encoding.md"),
    Case("chunk-space-after-semi", chunked("5; a\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("chunk-empty-ext", chunked("2;\r\nhi\r\n0\r\n\r\n") + NEXT, [], True, src="issue 11 case 3"),
    Case("chunk-ext-cr", chunked("5;a\rb\r\nhello\r\n0\r\n\r\n") + NEXT, [], True, src="issue 11 case 3"),
    Case("chunk-ext-nul", chunked("5;a\x00\r\nhello\r\n0\r\n\r\n") + NEXT, [], True, src="issue 11 case 3"),
    Case("chunk-ext-lf-in-quotes", chunked('5;a="x\ny"\r\nhello\r\n0\r\n\r\n') + NEXT, [], True, src="issue 11 case 3"),
    Case("chunk-ext-unterminated-quote", chunked('5;a="x\r\nhello\r\n0\r\n\r\n') + NEXT, [], True),
    Case("chunk-ext-empty-value", chunked("5;a=\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         llhttp=([P, NX], False, "RFC 9112 7.1.1: chunk-ext-val is a token or a quoted-string, neither of them empty")),
    Case("chunk-ext-bad-name", chunked("5;(a)\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("chunk-size-empty", chunked("\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("chunk-size-not-hex", chunked("zz\r\nhello\r\n0\r\n\r\n") + NEXT, [], True, src="gunicorn invalid/chunked_03.http"),
    Case("chunk-size-0x", chunked("0x5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True),
    Case("chunk-size-plus", chunked("+5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         src="gunicorn invalid/rfc9112_chunked_size_plus_sign_01.http"),
    Case("chunk-size-minus", chunked("-5\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         src="gunicorn invalid/rfc9112_chunked_size_minus_sign_01.http"),
    Case("chunk-size-overflow", chunked("fffffffffffffffff\r\nhello\r\n0\r\n\r\n") + NEXT, [], True,
         src="llhttp transfer-encoding.md"),
    Case("chunk-missing-last", chunked("5\r\nhello\r\n"), [], eof=True),

    # ---------------------------------------------------- trailers
    Case("trailer", chunked("5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n") + NEXT, [P, NX], src="llhttp transfer-encoding.md"),
    Case("trailers-two", chunked("5\r\nhello\r\n0\r\nX-T: 1\r\nX-U: two\r\n\r\n") + NEXT, [P, NX]),
    Case("trailer-empty-value", chunked("5\r\nhello\r\n0\r\nX-T:\r\n\r\n") + NEXT, [P, NX]),
    Case("trailer-smuggled-request", chunked("5\r\nhello\r\n0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n") + NEXT,
         [], True, src="issue 11 case 4"),
    Case("trailer-nul", chunked("5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n") + NEXT, [], True, src="issue 11 case 4"),
    Case("trailer-obs-fold", chunked("5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n") + NEXT, [], True, src="issue 11 case 4"),
    Case("trailer-no-colon", chunked("5\r\nhello\r\n0\r\nX-T\r\n\r\n") + NEXT, [], True, src="issue 11 case 4"),
    Case("trailer-bare-lf", chunked("5\r\nhello\r\n0\r\nX-T: a\n\r\n") + NEXT, [], True),
    Case("trailer-space-before-colon", chunked("5\r\nhello\r\n0\r\nX-T : a\r\n\r\n") + NEXT, [], True),
    Case("trailer-content-length", chunked("5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n") + NEXT, [], True,
         src="gunicorn invalid/rfc9110_trailer_forbidden_cl_01.http"),
    Case("trailer-transfer-encoding", chunked("5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n") + NEXT, [], True,
         src="gunicorn invalid/rfc9110_trailer_forbidden_te_01.http"),
    Case("trailer-host", chunked("5\r\nhello\r\n0\r\nHost: other\r\n\r\n") + NEXT, [], True,
         src="gunicorn invalid/rfc9110_trailer_forbidden_host_01.http",
         llhttp=([P, NX], False, "RFC 9110 6.5.1: routing fields are not allowed in a trailer; one a hop merged into the head would route the request elsewhere")),
]

# A follow-up behind each refusal must never be served: every refused case
# above ends with NEXT or with a request of its own, and expects nothing after.


def uwsgi_packet(pairs, modifier1=0):
    block = b""
    for k, v in pairs:
        k = k.encode("latin-1") if isinstance(k, str) else k
        v = v.encode("latin-1") if isinstance(v, str) else v
        block += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
    return struct.pack("<BHB", modifier1, len(block), 0) + block


def uvars(path="/u", method="GET", cl="", extra=()):
    v = [("REQUEST_METHOD", method), ("REQUEST_URI", path), ("PATH_INFO", path), ("QUERY_STRING", ""),
         ("SERVER_PROTOCOL", "HTTP/1.1"), ("CONTENT_LENGTH", cl), ("SERVER_NAME", "x"), ("SERVER_PORT", "80"),
         ("REMOTE_ADDR", "10.0.0.1"), ("HTTP_HOST", "x")]
    return v + list(extra)


class UCase:
    """A uwsgi packet (and body); want: (method, uri, path, body), or a status, or "closed"."""

    def __init__(self, id, raw, want, why=""):
        self.id, self.raw, self.want, self.why = id, raw, want, why


UWSGI_CASES = [
    UCase("get", uwsgi_packet(uvars()), ("GET", "/u", "/u", "")),
    UCase("post-body", uwsgi_packet(uvars(method="POST", cl="5")) + b"hello", ("POST", "/u", "/u", "hello")),
    UCase("cl-empty-is-zero", uwsgi_packet(uvars(method="POST", cl="")) + b"hello", ("POST", "/u", "/u", ""),
          "nginx sends CONTENT_LENGTH empty for no body"),
    UCase("cl-zero", uwsgi_packet(uvars(method="POST", cl="0")), ("POST", "/u", "/u", "")),
    UCase("cl-leading-zeros", uwsgi_packet(uvars(method="POST", cl="005")) + b"hello", ("POST", "/u", "/u", "hello")),
    UCase("cl-plus", uwsgi_packet(uvars(method="POST", cl="+5")) + b"hello", "closed", "issue 11 case 6: as on HTTP"),
    UCase("cl-minus-zero", uwsgi_packet(uvars(method="POST", cl="-0")), "closed"),
    UCase("cl-negative", uwsgi_packet(uvars(method="POST", cl="-5")), "closed"),
    UCase("cl-space", uwsgi_packet(uvars(method="POST", cl=" 5")) + b"hello", "closed"),
    UCase("cl-trailing-space", uwsgi_packet(uvars(method="POST", cl="5 ")) + b"hello", "closed"),
    UCase("cl-hex", uwsgi_packet(uvars(method="POST", cl="0x5")) + b"hello", "closed"),
    UCase("cl-overflow", uwsgi_packet(uvars(method="POST", cl="99999999999999999999")), "closed"),
    UCase("cl-short-body", uwsgi_packet(uvars(method="POST", cl="10")) + b"hello", "closed"),
    UCase("path-info-twice-last-wins", uwsgi_packet(uvars("/first", extra=[("PATH_INFO", "/last")])),
          ("GET", "/first", "/last", ""), "issue 11 case 6: uWSGI's rule, for static maps and the app alike"),
    UCase("cl-twice-last-wins", uwsgi_packet(uvars(method="POST", cl="3", extra=[("CONTENT_LENGTH", "5")])) + b"hello",
          ("POST", "/u", "/u", "hello")),
    UCase("cl-twice-last-bad", uwsgi_packet(uvars(method="POST", cl="5", extra=[("CONTENT_LENGTH", "+5")])) + b"hello",
          "closed"),
    UCase("method-twice-last-wins", uwsgi_packet(uvars(extra=[("REQUEST_METHOD", "DELETE")])), ("DELETE", "/u", "/u", "")),
    UCase("modifier1-not-0", uwsgi_packet(uvars(), modifier1=5), "closed", "only modifier1 0 (WSGI) is served"),
    UCase("var-past-block", struct.pack("<BHB", 0, 8, 0) + b"\x04\x00PATH\x32\x00", "closed"),
    UCase("key-past-block", struct.pack("<BHB", 0, 3, 0) + b"\x09\x00X", "closed"),
    UCase("truncated-header", b"\x00\x10", "closed"),
    UCase("truncated-block", uwsgi_packet(uvars())[:30], "closed"),
    UCase("block-over-buffer-size", struct.pack("<BHB", 0, 5000, 0) + b"\x00" * 5000, 431,
          "--buffer-size bounds the packet as it bounds an HTTP head"),
    UCase("too-many-vars", uwsgi_packet(uvars(extra=[("HTTP_X_%d" % i, "1") for i in range(60)])), 431,
          "--max-vars 64 (uWSGI's default)"),
    UCase("at-max-vars", uwsgi_packet(uvars(extra=[("HTTP_X_%d" % i, "1") for i in range(54)])), ("GET", "/u", "/u", "")),
    UCase("http-request-on-uwsgi-socket", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "closed"),
]


# ---------------------------------------------------------------- plumbing

def read_outcome(data):
    """Parse the responses a server sent: ((method, uri, body), ...) served, and refused."""
    served, refused = [], False
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError("truncated response head: %r" % data[:300])
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        assert m, "bad status line %r" % lines[0]
        status = int(m.group(1))
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if 100 <= status < 200:
            data = rest
            continue
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            body, data = rest[:n], rest[n:]
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                line, _, rest = rest.partition(b"\r\n")
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    _, _, rest = rest.partition(b"\r\n")
                    break
                body, rest = body + rest[:size], rest[size + 2:]
            data = rest
        else:
            body, data = rest, b""
        if status == 200:
            j = json.loads(body)
            served.append((j["method"], j["uri"], j["body"]))
        else:
            assert status >= 400, "unexpected status %d" % status
            refused = True
            break
    return tuple(served), refused


# Closes every exchange: the server answers it and closes (or never reaches
# it). A half-close would end the case sooner, but uwsgo takes a client
# that shuts its side for a client that left (the app sees it gone), so
# only cases that end incomplete are ended that way.
END = b"GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def exchange(port, raw, eof=True, timeout=10.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        if eof:
            s.shutdown(socket.SHUT_WR)
        data, closed = recv_until_closed(s, timeout)
    assert closed, "the server kept the connection open; got %r" % data[:500]
    return data


def http_outcome(port, case):
    served, refused = read_outcome(exchange(port, case.raw if case.eof else case.raw + END, eof=case.eof))
    if served and served[-1] == ("GET", "/end", ""):
        served = served[:-1]
    return served, refused


@pytest.fixture(scope="module")
def node_ref():
    """node's HTTP server (llhttp, strict), started once for the module."""
    node = "/usr/bin/node" if os.path.exists("/usr/bin/node") else "node"
    try:
        proc = subprocess.Popen([node, NODE_REF], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        pytest.fail("node not found: it is the reference parser (make deps installs Debian's nodejs)", pytrace=False)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        pytest.fail("node reference did not start: %r %r" % (line, proc.stderr.read()), pytrace=False)
    port = int(line)
    yield port
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def http_port(tmp_path_factory):
    """One uwsgo --http-socket serving the echo app, for the whole table."""
    from conftest import Server, child_env, uwsgo_bin
    port = free_port()
    log = tmp_path_factory.mktemp("conf") / "uwsgo.log"
    srv = Server([uwsgo_bin(), "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", APP],
                 port, log, child_env(), REPO, False)
    srv.wait_ready()
    yield port
    problems = srv.stop()
    assert not problems, "; ".join(problems) + "\n" + srv.describe()


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c.id for c in HTTP_CASES])
def test_http_case(case, http_port, node_ref):
    got = http_outcome(http_port, case)
    ref = http_outcome(node_ref, case)
    assert got == case.want, "uwsgo read %r as %r; a strict parser: %r (%s)" % (case.raw[:300], got, case.want, case.src)
    if case.llhttp is None:
        assert ref == case.want, "llhttp read %r as %r; the table says %r (%s)" % (case.raw[:300], ref, case.want, case.src)
    else:
        assert ref == case.llhttp, "listed as a deliberate difference (%s), but llhttp read %r as %r, not %r" % (
            case.why, case.raw[:300], ref, case.llhttp)


def test_table_size():
    assert len(HTTP_CASES) >= 150, len(HTTP_CASES)
    assert len({c.id for c in HTTP_CASES}) == len(HTTP_CASES), "case ids repeat"


@pytest.fixture(scope="module")
def uwsgi_port(tmp_path_factory):
    from conftest import Server, child_env, uwsgo_bin
    port = free_port()
    log = tmp_path_factory.mktemp("uconf") / "uwsgo.log"
    srv = Server([uwsgo_bin(), "--socket", "127.0.0.1:%d" % port, "--wsgi-file", APP],
                 port, log, child_env(), REPO, False)
    srv.wait_ready()
    yield port
    problems = srv.stop()
    assert not problems, "; ".join(problems) + "\n" + srv.describe()


@pytest.mark.parametrize("case", UWSGI_CASES, ids=[c.id for c in UWSGI_CASES])
def test_uwsgi_case(case, uwsgi_port):
    data = exchange(uwsgi_port, case.raw, eof=case.want == "closed")
    if case.want == "closed":
        assert data == b"", "%s: want the connection closed unanswered, got %r" % (case.id, data[:300])
        return
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    assert m, "%s: no raw HTTP answer: %r" % (case.id, data[:300])
    status = int(m.group(1))
    if isinstance(case.want, int):
        assert status == case.want, "%s: %r" % (case.id, data[:300])
        return
    assert status == 200, "%s: %r" % (case.id, data[:300])
    j = json.loads(data.partition(b"\r\n\r\n")[2])
    assert (j["method"], j["uri"], j["path"], j["body"]) == case.want, case.why


# ---------------------------------------------------------------- the limits, through the binary

def one(port, raw, eof=False):
    data = exchange(port, raw, eof=eof)
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    assert m, "no answer: %r" % data[:300]
    return int(m.group(1)), data


def test_limit_post(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--limit-post", "10")
    status, data = one(srv.port, post("Content-Length: 10\r\nConnection: close\r\n", "0123456789").encode())
    assert status == 200 and b'"body": "0123456789"' in data
    # refused on its head: the 8 EiB body is never waited for
    for cl in ("11", "9223372036854775807"):
        status, _ = one(srv.port, post("Content-Length: %s\r\n" % cl, "").encode())
        assert status == 413, cl
    status, _ = one(srv.port, chunked("6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n").encode())
    assert status == 413


def test_limit_post_uwsgi(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--limit-post", "4", proto="uwsgi")
    status, _ = one(srv.port, uwsgi_packet(uvars(method="POST", cl="5")) + b"hello")
    assert status == 413
    srv.wait_log("over --limit-post 4")


def test_max_vars(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--max-vars", "5")
    status, _ = one(srv.port, g(headers=H + "X-F: 1\r\n" * 4 + "Connection: close\r\n").encode())
    assert status == 431   # 6 fields
    status, _ = one(srv.port, g(headers=H + "X-F: 1\r\n" * 3 + "Connection: close\r\n").encode())
    assert status == 200   # 5 fields


def test_http_timeout_408(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--http-timeout", "1")
    status, _ = one(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert status == 408
    status, _ = one(srv.port, post("Content-Length: 10\r\n", "half").encode())
    assert status == 408
    srv.wait_log("request body not complete after 1s")


def test_socket_timeout_closes_uwsgi(uwsgo):
    srv = uwsgo("--wsgi-file", APP, "--socket-timeout", "1", proto="uwsgi")
    assert exchange(srv.port, uwsgi_packet(uvars(method="POST", cl="10")) + b"half", eof=False) == b""
    srv.wait_log("request body not complete after 1s")


@pytest.mark.parametrize("opt,value", [("--limit-post", "-1"), ("--max-vars", "0"),
                                       ("--http-timeout", "0"), ("--socket-timeout", "-2"),
                                       ("--max-vars", "many")])
def test_limit_option_refused(uwsgo_run, opt, value):
    r = uwsgo_run("--wsgi-file", APP, opt, value)
    assert r.returncode != 0
    assert opt.lstrip("-") in r.stderr, r.stderr
