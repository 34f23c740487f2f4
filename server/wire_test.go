package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of what goes over the wire: raw requests on real TCP connections,
// responses read byte-exactly, framing and connection handling checked
// against RFC 9112.

// wireConn is a raw client connection. Every read and write has a 10 s
// deadline, only so that a broken server cannot hang the test.
type wireConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialWire(t *testing.T, addr string) *wireConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &wireConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (w *wireConn) send(s string) {
	w.t.Helper()
	if _, err := io.WriteString(w.c, s); err != nil {
		w.t.Fatalf("writing %q: %v", s, err)
	}
}

// wireResp is a response as it came over the wire.
type wireResp struct {
	status  string // the status line
	code    int
	header  textproto.MIMEHeader
	body    string
	framing string // "length", "chunked", "close" or "none"
}

// readHead reads a status line and its header fields.
func (w *wireConn) readHead() (string, int, textproto.MIMEHeader) {
	w.t.Helper()
	tp := textproto.NewReader(w.br)
	line, err := tp.ReadLine()
	if err != nil {
		w.t.Fatalf("reading a status line: %v", err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	if proto != "HTTP/1.1" || len(rest) < 3 {
		w.t.Fatalf("status line %q", line)
	}
	code, err := strconv.Atoi(rest[:3])
	if err != nil {
		w.t.Fatalf("status line %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		w.t.Fatalf("reading the header of %q: %v", line, err)
	}
	return line, code, h
}

// readResp reads one response, framed as RFC 9112 section 6.3 says: no
// body for HEAD, 1xx, 204 and 304; chunked; Content-Length; else to the
// end of the connection.
func (w *wireConn) readResp(method string) wireResp {
	w.t.Helper()
	line, code, h := w.readHead()
	r := wireResp{status: line, code: code, header: h}
	te, cl := h.Values("Transfer-Encoding"), h.Values("Content-Length")
	switch {
	case method == "HEAD" || code < 200 || code == 204 || code == 304:
		r.framing = "none"
	case len(te) > 0:
		if len(cl) > 0 {
			w.t.Errorf("%q: both Transfer-Encoding %q and Content-Length %q", line, te, cl)
		}
		if len(te) != 1 || te[0] != "chunked" {
			w.t.Fatalf("%q: Transfer-Encoding %q", line, te)
		}
		r.framing, r.body = "chunked", w.readChunked()
	case len(cl) > 0:
		if len(cl) != 1 {
			w.t.Fatalf("%q: Content-Length %q", line, cl)
		}
		n, err := strconv.Atoi(cl[0])
		if err != nil || n < 0 {
			w.t.Fatalf("%q: Content-Length %q", line, cl)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(w.br, b); err != nil {
			w.t.Fatalf("%q: reading %d bytes of body: %v", line, n, err)
		}
		r.framing, r.body = "length", string(b)
	default:
		b, err := io.ReadAll(w.br)
		if err != nil && !(code >= 400 && errors.Is(err, syscall.ECONNRESET)) {
			// (a refusal may be followed by a reset: the server does not
			// read the rest of a request it refused)
			w.t.Fatalf("%q: reading a close-delimited body: %v", line, err)
		}
		r.framing, r.body = "close", string(b)
	}
	return r
}

// readChunk reads one chunk as the server writes it (a hex size line with
// no extensions, the data, CRLF); "" for the last chunk, with no trailer.
func (w *wireConn) readChunk() string {
	w.t.Helper()
	line, err := w.br.ReadString('\n')
	if err != nil || !strings.HasSuffix(line, "\r\n") {
		w.t.Fatalf("chunk size line %q: %v", line, err)
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(line, "\r\n"), 16, 31)
	if err != nil {
		w.t.Fatalf("chunk size line %q", line)
	}
	if n == 0 {
		if end, err := w.br.ReadString('\n'); end != "\r\n" {
			w.t.Fatalf("after the last chunk %q (%v), want an empty line", end, err)
		}
		return ""
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(w.br, b); err != nil {
		w.t.Fatalf("chunk of %d bytes: %v", n, err)
	}
	if string(b[n:]) != "\r\n" {
		w.t.Fatalf("chunk %q does not end in CRLF", b)
	}
	return string(b[:n])
}

func (w *wireConn) readChunked() string {
	w.t.Helper()
	var b strings.Builder
	for {
		ch := w.readChunk()
		if ch == "" {
			return b.String()
		}
		b.WriteString(ch)
	}
}

// expectEOF checks that the server closed the connection and sent
// nothing more. A reset counts as closed: it can follow a refusal.
func (w *wireConn) expectEOF() {
	w.t.Helper()
	b, err := io.ReadAll(w.br)
	if len(b) > 0 {
		w.t.Errorf("unexpected bytes after the response: %q", b)
	}
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET):
	case errors.As(err, &ne) && ne.Timeout():
		w.t.Error("the server kept the connection open; want it closed")
	default:
		w.t.Errorf("reading to the end of the connection: %v", err)
	}
}

// check compares a response's status and body.
// expectClosedAfter checks that r said Connection: close and that the
// server then closed.
func (w *wireConn) expectClosedAfter(t *testing.T, r wireResp) {
	t.Helper()
	if r.header.Get("Connection") != "close" {
		t.Errorf("Connection %q, want close", r.header.Get("Connection"))
	}
	w.expectEOF()
}

func (r wireResp) check(t *testing.T, code int, body string) {
	t.Helper()
	if r.code != code || r.body != body {
		t.Errorf("%q: body %q; want status %d, body %q", r.status, r.body, code, body)
	}
}

func getReq(path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(extra, "") + "\r\n"
}

// reqVars waits for the next request the hub sees and returns its vars.
func (ts *testServer) reqVars(t *testing.T) map[string]string {
	t.Helper()
	return varsMap(ts.nextReq(t).Vars)
}

func TestWirePipelining(t *testing.T) {
	t.Run("three GETs in one write", func(t *testing.T) {
		ts := startServer(t, HTTP, nil)
		w := dialWire(t, ts.addr)
		w.send(getReq("/p1") + getReq("/p2") + getReq("/p3"))
		for i := 1; i <= 3; i++ {
			r := w.readResp("GET")
			r.check(t, 200, "app:/p"+strconv.Itoa(i))
			if r.header.Get("Connection") != "" {
				t.Errorf("response %d: Connection %q on a kept-alive HTTP/1.1 connection", i, r.header.Get("Connection"))
			}
		}
		for i := 1; i <= 3; i++ {
			if p := ts.reqVars(t)["PATH_INFO"]; p != "/p"+strconv.Itoa(i) {
				t.Errorf("request %d reached the hub as %q", i, p)
			}
		}
		// still open
		w.send(getReq("/p4"))
		w.readResp("GET").check(t, 200, "app:/p4")
	})

	t.Run("bodies and HEAD in between", func(t *testing.T) {
		ts := startServer(t, HTTP, nil)
		w := dialWire(t, ts.addr)
		w.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
			"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n" +
			"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" +
			getReq("/g"))
		w.readResp("POST").check(t, 200, "hello")
		head := w.readResp("HEAD")
		head.check(t, 200, "")
		if cl := head.header.Get("Content-Length"); cl != strconv.Itoa(len("app:/h")) {
			t.Errorf("HEAD: Content-Length %q, want the length a GET would get", cl)
		}
		w.readResp("POST").check(t, 200, "abcde")
		w.readResp("GET").check(t, 200, "app:/g")
	})

	t.Run("Connection close ends the pipeline", func(t *testing.T) {
		ts := startServer(t, HTTP, nil)
		w := dialWire(t, ts.addr)
		w.send(getReq("/a") + getReq("/b", "Connection: close\r\n") + getReq("/c"))
		w.readResp("GET").check(t, 200, "app:/a")
		r := w.readResp("GET")
		r.check(t, 200, "app:/b")
		w.expectClosedAfter(t, r)
		ts.reqVars(t)
		ts.reqVars(t)
		ts.noReq(t) // /c came after close: never served
	})

	t.Run("more than the read buffer", func(t *testing.T) {
		ts := startServer(t, HTTP, nil)
		w := dialWire(t, ts.addr)
		const n = 300
		pad := "X-Pad: " + strings.Repeat("p", 100) + "\r\n"
		var all strings.Builder
		for i := range n {
			all.WriteString(getReq("/r"+strconv.Itoa(i), pad))
		}
		if all.Len() < 4*readBufferSize {
			t.Fatalf("only %d bytes of requests", all.Len())
		}
		errc := make(chan error, 1)
		go func() {
			_, err := io.WriteString(w.c, all.String())
			errc <- err
		}()
		for i := range n {
			w.readResp("GET").check(t, 200, "app:/r"+strconv.Itoa(i))
			if t.Failed() {
				t.FailNow()
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

func TestWireHTTP10(t *testing.T) {
	t.Run("closes without keep-alive", func(t *testing.T) {
		ts := startServer(t, HTTP, nil)
		w := dialWire(t, ts.addr)
		w.send("GET /a HTTP/1.0\r\n\r\n")
		r := w.readResp("GET")
		r.check(t, 200, "app:/a")
		if r.framing != "length" || r.header.Get("Connection") != "close" {
			t.Errorf("framing %s, Connection %q; want a length and close", r.framing, r.header.Get("Connection"))
		}
		w.expectEOF()
		v := ts.reqVars(t)
		if v["SERVER_PROTOCOL"] != "HTTP/1.0" {
			t.Errorf("SERVER_PROTOCOL %q", v["SERVER_PROTOCOL"])
		}
		if _, ok := v["HTTP_HOST"]; ok {
			t.Errorf("HTTP_HOST %q without a Host header", v["HTTP_HOST"])
		}
	})

	t.Run("keep-alive with a known length", func(t *testing.T) {
		ts := startServer(t, HTTP, nil)
		w := dialWire(t, ts.addr)
		for _, p := range []string{"/a", "/b"} {
			w.send("GET " + p + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			r := w.readResp("GET")
			r.check(t, 200, "app:"+p)
			if r.framing != "length" || !strings.EqualFold(r.header.Get("Connection"), "keep-alive") {
				t.Errorf("%s: framing %s, Connection %q; want a length and keep-alive", p, r.framing, r.header.Get("Connection"))
			}
		}
		w.send("GET /c HTTP/1.0\r\n\r\n") // no keep-alive this time
		w.readResp("GET").check(t, 200, "app:/c")
		w.expectEOF()
	})

	for _, ka := range []bool{false, true} {
		t.Run(fmt.Sprintf("streamed response ends with close (keep-alive asked %v)", ka), func(t *testing.T) {
			ts := startServer(t, HTTP, nil)
			w := dialWire(t, ts.addr)
			req := "GET /stream HTTP/1.0\r\n"
			if ka {
				req += "Connection: keep-alive\r\n"
			}
			w.send(req + "\r\n")
			_, code, h := w.readHead()
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			if h.Get("Transfer-Encoding") != "" || h.Get("Content-Length") != "" {
				t.Errorf("HTTP/1.0 streamed response: Transfer-Encoding %q, Content-Length %q; want neither",
					h.Get("Transfer-Encoding"), h.Get("Content-Length"))
			}
			if h.Get("Connection") != "close" {
				t.Errorf("Connection %q, want close", h.Get("Connection"))
			}
			first := make([]byte, len("first;"))
			if _, err := io.ReadFull(w.br, first); err != nil || string(first) != "first;" {
				t.Fatalf("first part %q, %v (must come before the app goes on)", first, err)
			}
			ts.release()
			rest, err := io.ReadAll(w.br)
			if err != nil || string(rest) != "second" {
				t.Errorf("rest %q, %v; want \"second\" then the end of the connection", rest, err)
			}
		})
	}
}

func TestWireChunkedResponse(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	w.send(getReq("/stream"))
	_, code, h := w.readHead()
	if code != 200 || h.Get("Transfer-Encoding") != "chunked" || h.Get("Content-Length") != "" {
		t.Fatalf("status %d, Transfer-Encoding %q, Content-Length %q; want 200, chunked and no length",
			code, h.Get("Transfer-Encoding"), h.Get("Content-Length"))
	}
	if h.Get("Connection") != "" {
		t.Errorf("Connection %q", h.Get("Connection"))
	}
	if d, err := http.ParseTime(h.Get("Date")); err != nil || d.Year() < 2020 {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if ch := w.readChunk(); ch != "first;" {
		t.Fatalf("first chunk %q", ch)
	}
	ts.release()
	var rest strings.Builder
	for ch := w.readChunk(); ch != ""; ch = w.readChunk() {
		rest.WriteString(ch)
	}
	if rest.String() != "second" {
		t.Errorf("rest %q", rest.String())
	}
	// The last chunk ended the response, not the connection.
	w.send(getReq("/after"))
	w.readResp("GET").check(t, 200, "app:/after")

	// And net/http reads it whole.
	_, body := get(t, client(t), "http://"+ts.addr+"/stream")
	if body != "first;second" {
		t.Errorf("net/http read %q", body)
	}
}

func TestWireConnectionClose(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	for _, v := range []string{"close", "Close", "foo, close", "keep-alive, close"} {
		t.Run(v, func(t *testing.T) {
			w := dialWire(t, ts.addr)
			w.send(getReq("/a", "Connection: "+v+"\r\n"))
			r := w.readResp("GET")
			r.check(t, 200, "app:/a")
			w.expectClosedAfter(t, r)
		})
	}
	t.Run("streamed", func(t *testing.T) {
		ts.release()
		w := dialWire(t, ts.addr)
		w.send(getReq("/stream", "Connection: close\r\n"))
		r := w.readResp("GET")
		r.check(t, 200, "first;second")
		w.expectClosedAfter(t, r)
	})
}

func TestWireExpectContinue(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	for i, framing := range []string{"Content-Length: 11\r\n", "Transfer-Encoding: chunked\r\n"} {
		w.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n" + framing + "\r\n")
		line, code, h := w.readHead()
		if code != 100 || line != "HTTP/1.1 100 Continue" || len(h) != 0 {
			t.Fatalf("request %d: %q %v; want a bare HTTP/1.1 100 Continue", i, line, h)
		}
		if i == 0 {
			w.send("hello world")
		} else {
			w.send("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
		}
		w.readResp("POST").check(t, 200, "hello world")
		if v := ts.reqVars(t); v["HTTP_EXPECT"] != "100-continue" || v["CONTENT_LENGTH"] != "11" {
			t.Errorf("request %d: HTTP_EXPECT %q, CONTENT_LENGTH %q", i, v["HTTP_EXPECT"], v["CONTENT_LENGTH"])
		}
	}

	// A body sent along with the head needs no 100 (RFC 9110 10.1.1).
	w.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
	w.readResp("POST").check(t, 200, "hi")
	// Nor does a request without a body.
	w.send(getReq("/nobody", "Expect: 100-continue\r\n"))
	w.readResp("GET").check(t, 200, "app:/nobody")
}

// RFC 9110 10.1.1: "A server that receives a 100-continue expectation in
// an HTTP/1.0 request MUST ignore that expectation", and 15.2: "A server
// MUST NOT send a 1xx response to an HTTP/1.0 client".
func TestWireExpectContinueIgnoredForHTTP10(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	w.send("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	// Give the server time to read the head alone (a slow server only makes
	// this test pass when it should not, never fail when it should not).
	time.Sleep(100 * time.Millisecond)
	w.send("hello")
	r := w.readResp("POST")
	if r.code == 100 {
		t.Fatalf("%q sent to an HTTP/1.0 client", r.status)
	}
	r.check(t, 200, "hello")
}

func TestWireServerErrors(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	bigHead := getReq("/", "X-Big: "+strings.Repeat("b", 10000)+"\r\n")
	cases := []struct {
		name, req string
		code      int
	}{
		{"header block over the limit", bigHead, 431},
		{"header block over the limit, unfinished", bigHead[:9000], 431},
		{"many header lines over the limit", getReq("/", strings.Repeat("X-Many: 0123456789012345678901234567890123456789\r\n", 300)), 431},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505},
		{"HTTP/2 prior knowledge", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"Transfer-Encoding gzip", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"Transfer-Encoding gzip, chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"Expect something else", getReq("/", "Expect: something-else\r\n"), 417},
		{"missing Host on HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Host headers", getReq("/", "Host: y\r\n"), 400},
		{"Content-Length not a number", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
		{"Content-Length negative", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
		{"Content-Length with a sign", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", 400},
		{"Content-Length empty", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400},
		{"Content-Length as a list", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400},
		{"two different Content-Lengths", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400},
		{"control character in the target", "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"DEL in the target", "GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"space in the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"tab in the target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"bad percent-encoding", "GET /a%zzb HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"lower-case protocol", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
		{"obsolete line folding", getReq("/", "X-A: a\r\n b\r\n"), 400},
		{"space before the colon", getReq("/", "X-A : a\r\n"), 400},
		{"no colon", getReq("/", "X-A\r\n"), 400},
		{"NUL in a value", getReq("/", "X-A: a\x00b\r\n"), 400},
		{"bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, ts.addr)
			w.send(tc.req)
			r := w.readResp("GET")
			if r.code != tc.code {
				t.Errorf("%q; want %d", r.status, tc.code)
			}
			if want := strconv.Itoa(tc.code) + " " + http.StatusText(tc.code); r.status != "HTTP/1.1 "+want {
				t.Errorf("status line %q", r.status)
			}
			w.expectClosedAfter(t, r)
			ts.noReq(t)

			w = dialWire(t, ts.addr)
			w.send(getReq("/ok"))
			w.readResp("GET").check(t, 200, "app:/ok")
			ts.reqVars(t)
		})
	}
}

// A version past HTTP/1.1 is refused, as llhttp's strict mode does (RFC
// 9110 2.5 would let a server serve HTTP/1.2 as 1.1; no client sends it).
func TestWireHTTP12Refused(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	w.send("GET /v HTTP/1.2\r\nHost: x\r\n\r\n")
	r := w.readResp("GET")
	r.check(t, 505, "505 HTTP Version Not Supported")
	w.expectClosedAfter(t, r)
}

// RFC 9112 6.1: a request with both Transfer-Encoding and Content-Length
// may be rejected; it is, as llhttp does, since a proxy in front may have
// framed it by its Content-Length.
func TestWireTransferEncodingWithContentLengthRefused(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	w.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n0\r\n\r\n")
	r := w.readResp("POST")
	r.check(t, 400, "400 Bad Request")
	w.expectClosedAfter(t, r)
	ts.noReq(t)
}

// RFC 9112 6.1: "A server or client that receives an HTTP/1.0 message
// containing a Transfer-Encoding header field MUST treat the message as
// if the framing is faulty, even if a Content-Length is present, and
// close the connection after processing the message." (nginx answers
// 400.)
func TestWireHTTP10TransferEncodingCloses(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	w.send("POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n0\r\n\r\n")
	r := w.readResp("POST")
	r.check(t, 400, "400 Bad Request")
	w.expectClosedAfter(t, r)
	ts.noReq(t)
}

func TestWireAbsoluteFormTarget(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	_, port, _ := net.SplitHostPort(ts.addr)
	for _, host := range []string{"example.com:8080", "other.example"} {
		t.Run("Host "+host, func(t *testing.T) {
			w := dialWire(t, ts.addr)
			w.send("GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
			w.readResp("GET").check(t, 200, "app:/p")
			v := ts.reqVars(t)
			want := map[string]string{
				"PATH_INFO":    "/p",
				"QUERY_STRING": "q=1",
				"REQUEST_URI":  "http://example.com:8080/p?q=1",
				// RFC 9112 3.2.2: the origin server MUST ignore Host and
				// use the target's authority.
				"SERVER_NAME": "example.com",
				"HTTP_HOST":   "example.com:8080",
				"SERVER_PORT": port, // the listener's, as for any request
			}
			for k, wv := range want {
				if v[k] != wv {
					t.Errorf("%s = %q, want %q", k, v[k], wv)
				}
			}
		})
	}
	t.Run("HTTP/1.0 without Host, no path", func(t *testing.T) {
		w := dialWire(t, ts.addr)
		w.send("GET http://example.com HTTP/1.0\r\n\r\n")
		w.readResp("GET").check(t, 200, "app:/")
		if v := ts.reqVars(t); v["PATH_INFO"] != "/" || v["SERVER_NAME"] != "example.com" {
			t.Errorf("PATH_INFO %q, SERVER_NAME %q", v["PATH_INFO"], v["SERVER_NAME"])
		}
	})
}

func TestWirePercentDecodedPath(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	const uri = "/caf%C3%A9/a%2Fb/%41+c%3F?x=%41&y=a+b%26"
	w := dialWire(t, ts.addr)
	w.send(getReq(uri))
	w.readResp("GET").check(t, 200, "app:/café/a/b/A+c?")
	v := ts.reqVars(t)
	want := map[string]string{
		"PATH_INFO":    "/café/a/b/A+c?",
		"REQUEST_URI":  uri,
		"QUERY_STRING": "x=%41&y=a+b%26",
	}
	for k, wv := range want {
		if v[k] != wv {
			t.Errorf("%s = %q, want %q", k, v[k], wv)
		}
	}
	// No query: QUERY_STRING is there, empty; "?" alone gives the same.
	for _, u := range []string{"/q", "/q?"} {
		w.send(getReq(u))
		w.readResp("GET").check(t, 200, "app:/q")
		if qs, ok := ts.reqVars(t)["QUERY_STRING"]; !ok || qs != "" {
			t.Errorf("%s: QUERY_STRING %q (present %v)", u, qs, ok)
		}
	}
}

func TestWireHeaderVars(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	w.send("GET /h HTTP/1.1\r\n" +
		"X-Multi: a\r\n" +
		"Host: x\r\n" +
		"x-multi: b\r\n" +
		"X-MULTI:c  \r\n" +
		"X_Multi: spoofed\r\n" +
		"X-Forwarded-For: 10.0.0.1\r\n" +
		"X_Forwarded_For: 6.6.6.6\r\n" +
		"Only_Underscore: gone\r\n" +
		"X-Empty:\r\n" +
		"Accept-Encoding: gzip\r\n" +
		"Accept-Encoding: br\r\n" +
		"\r\n")
	w.readResp("GET").check(t, 200, "app:/h")
	r := ts.nextReq(t)
	v := varsMap(r.Vars)
	want := map[string]string{
		"HTTP_X_MULTI":         "a,b,c",
		"HTTP_X_FORWARDED_FOR": "10.0.0.1",
		"HTTP_ACCEPT_ENCODING": "gzip,br",
		"HTTP_X_EMPTY":         "",
		"HTTP_HOST":            "x",
	}
	for k, wv := range want {
		if got, ok := v[k]; !ok || got != wv {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, wv)
		}
	}
	count := map[string]int{}
	for i := 0; i < len(r.Vars); i += 2 {
		count[r.Vars[i]]++
		if strings.Contains(r.Vars[i+1], "spoofed") || strings.Contains(r.Vars[i+1], "6.6.6.6") || r.Vars[i+1] == "gone" {
			t.Errorf("%s = %q: a header named with \"_\" got through", r.Vars[i], r.Vars[i+1])
		}
	}
	for k, n := range count {
		if n != 1 {
			t.Errorf("%s appears %d times", k, n)
		}
	}
}

func TestWireHeadByteByByte(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	trickle := func(s string) {
		for i := 0; i < len(s); i++ {
			w.send(s[i : i+1])
			time.Sleep(time.Millisecond)
		}
	}
	// A leading empty line is tolerated (RFC 9112 2.2).
	trickle("\r\nGET /slow?x=1 HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n")
	w.readResp("GET").check(t, 200, "app:/slow")
	if v := ts.reqVars(t); v["QUERY_STRING"] != "x=1" || v["HTTP_X_A"] != "b" {
		t.Errorf("QUERY_STRING %q, HTTP_X_A %q", v["QUERY_STRING"], v["HTTP_X_A"])
	}
	// Then a chunked body, byte by byte too, on the same connection.
	trickle("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"4;ext=1\r\nwire\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n")
	w.readResp("POST").check(t, 200, "wire!")
	// A bare LF is refused as soon as it arrives, not at the end of the head.
	trickle("GET /lf HTTP/1.1\n")
	r := w.readResp("GET")
	r.check(t, 400, "400 Bad Request")
	w.expectClosedAfter(t, r)
}

func TestWireChunkedRequestBody(t *testing.T) {
	t.Run("extensions and trailers", func(t *testing.T) {
		ts := startServer(t, HTTP, nil)
		w := dialWire(t, ts.addr)
		w.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" +
			"5;name=val\r\nhello\r\n" +
			"6;a;b=\"q;r\"\r\n world\r\n" +
			"A\r\n0123456789\r\n" +
			"0;last\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n" +
			getReq("/after"))
		w.readResp("POST").check(t, 200, "hello world0123456789")
		w.readResp("GET").check(t, 200, "app:/after")
		v := ts.reqVars(t)
		if v["CONTENT_LENGTH"] != "21" || v["CONTENT_TYPE"] != "text/plain" {
			t.Errorf("CONTENT_LENGTH %q, CONTENT_TYPE %q", v["CONTENT_LENGTH"], v["CONTENT_TYPE"])
		}
		if _, ok := v["HTTP_TRANSFER_ENCODING"]; ok {
			t.Error("HTTP_TRANSFER_ENCODING passed on")
		}
	})

	t.Run("empty", func(t *testing.T) {
		ts := startServer(t, HTTP, nil)
		w := dialWire(t, ts.addr)
		w.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
		r := w.readResp("POST")
		r.check(t, 200, "")
		if r.header.Get("X-Spooled") != "false" {
			t.Errorf("X-Spooled %q", r.header.Get("X-Spooled"))
		}
		if v := ts.reqVars(t); v["CONTENT_LENGTH"] != "0" {
			t.Errorf("CONTENT_LENGTH %q", v["CONTENT_LENGTH"])
		}
	})

	t.Run("larger than PostBuffering is spooled", func(t *testing.T) {
		ts := startServer(t, HTTP, func(c *Config) { c.PostBuffering = 1024 })
		w := dialWire(t, ts.addr)
		var req, want strings.Builder
		req.WriteString("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := range 100 {
			data := strings.Repeat(string(rune('a'+i%26)), 50+i)
			fmt.Fprintf(&req, "%x;i=%d\r\n%s\r\n", len(data), i, data)
			want.WriteString(data)
		}
		req.WriteString("0\r\nX-Sum: whatever\r\n\r\n")
		w.send(req.String() + getReq("/after"))
		r := w.readResp("POST")
		r.check(t, 200, want.String())
		if r.header.Get("X-Spooled") != "true" {
			t.Errorf("a %d-byte chunked body over PostBuffering 1024 was not spooled", want.Len())
		}
		w.readResp("GET").check(t, 200, "app:/after")
		if v := ts.reqVars(t); v["CONTENT_LENGTH"] != strconv.Itoa(want.Len()) {
			t.Errorf("CONTENT_LENGTH %q, want %d", v["CONTENT_LENGTH"], want.Len())
		}
	})
}

func TestWireUwsgiByteByByte(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	p := append(withBody("/echo", 5), "hello"...)
	for i := range p {
		if _, err := c.Write(p[i : i+1]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "hello" {
		t.Errorf("%d %q", resp.StatusCode, b)
	}
}
