package server

import "testing"

// The request-smuggling cases of issue 11, each over a real connection:
// every one is refused, or read as a strict parser (llhttp's strict
// mode) reads it, and nothing after it reaches the app.

// refusedAlone sends raw, expects one refusal with status and the
// connection closed, and no request at the app.
func refusedAlone(t *testing.T, ts *testServer, raw string, status int) {
	t.Helper()
	w := dialWire(t, ts.addr)
	w.send(raw)
	r := w.readResp("GET")
	if r.code != status {
		t.Errorf("%q: %q, want %d", raw, r.status, status)
	}
	w.expectClosedAfter(t, r)
	ts.noReq(t)
}

// servedThenRefused: the first request is served (path), the rest refused.
func servedThenRefused(t *testing.T, ts *testServer, raw, path string, status int) {
	t.Helper()
	w := dialWire(t, ts.addr)
	w.send(raw)
	w.readResp("GET").check(t, 200, "app:"+path)
	if v := ts.reqVars(t); v["PATH_INFO"] != path {
		t.Errorf("PATH_INFO %q, want %q", v["PATH_INFO"], path)
	}
	r := w.readResp("GET")
	if r.code != status {
		t.Errorf("%q: second answer %q, want %d", raw, r.status, status)
	}
	w.expectClosedAfter(t, r)
	ts.noReq(t)
}

const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// 1. A bare LF inside a CRLF head ends nothing: the head is refused.
func TestSmugglingBareLFInHead(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	refusedAlone(t, ts, "GET / HTTP/1.1\r\nHost: x\r\nDummy: x\nContent-Length: 23\r\n\r\n"+
		"GET / HTTP/1.1\r\nDummy: GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400)
	refusedAlone(t, ts, "GET / HTTP/1.1\nHost: x\n\n"+smuggled, 400)
	refusedAlone(t, ts, "GET / HTTP/1.1\r\nHost: x\r\n\n"+smuggled, 400)
	refusedAlone(t, ts, "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n"+smuggled, 400)
	refusedAlone(t, ts, "GET / HTTP/1.1\rHost: x\r\n\r\n"+smuggled, 400)
	// after a first request on the same connection too
	servedThenRefused(t, ts, getReq("/first")+"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n"+smuggled, "/first", 400)
}

// 2. Only ASCII letters fold: U+212A KELVIN SIGN is no "k".
func TestSmugglingUnicodeCaseFolding(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	refusedAlone(t, ts, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chun\xe2\x84\xaaed\r\n\r\n"+
		"5\r\nhello\r\n0\r\n\r\n"+smuggled, 501)

	// HTTP/1.0 with "\u212aeep-alive" is not kept alive: the pipelined
	// request behind it is not served.
	w := dialWire(t, ts.addr)
	w.send("GET /ten HTTP/1.0\r\nConnection: \xe2\x84\xaaeep-alive\r\n\r\n" + smuggled)
	r := w.readResp("GET")
	r.check(t, 200, "app:/ten")
	if r.framing != "close" && r.header.Get("Connection") != "close" {
		t.Errorf("kept alive: framing %s, Connection %q", r.framing, r.header.Get("Connection"))
	}
	w.expectEOF()
	ts.nextReq(t)
	ts.noReq(t)

	// Nor does "\u212a" pass in a field name (it is no token) or in Expect.
	refusedAlone(t, ts, "GET / HTTP/1.1\r\nHost: x\r\nX-\xe2\x84\xaa: 1\r\n\r\n", 400)
	refusedAlone(t, ts, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continu\xc3\xa9\r\n\r\nx", 417)
	// ASCII case folding still works.
	w = dialWire(t, ts.addr)
	w.send("POST /echo HTTP/1.1\r\nHOST: x\r\ntransfer-ENCODING: ChunKed\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + getReq("/after"))
	w.readResp("POST").check(t, 200, "hello")
	w.readResp("GET").check(t, 200, "app:/after")
}

// 3. Chunked framing: CRLF only, extensions as RFC 9112 7.1.1 writes them.
func TestSmugglingChunkFraming(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	head := "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, body := range []string{
		"5\nhello\n0\n\n",
		"5\r\nhello\n0\r\n\r\n",
		"5\r\r\nhello\r\n0\r\n\r\n",
		"5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n",
		"5 \r\nhello\r\n0\r\n\r\n",
		"2;\r\nhi\r\n0\r\n\r\n",
		"5;a\rb\r\nhello\r\n0\r\n\r\n",
		"5;a\x00\r\nhello\r\n0\r\n\r\n",
		"5\r\nhello\r0\r\n\r\n",
		"5\r\nhelloXX0\r\n\r\n",
	} {
		w := dialWire(t, ts.addr)
		w.send(head + body + smuggled)
		r := w.readResp("POST")
		if r.code != 400 {
			t.Errorf("chunked body %q: %q, want 400", body, r.status)
		}
		w.expectClosedAfter(t, r)
		ts.noReq(t)
	}
	// Valid extensions, then the pipelined request is served.
	w := dialWire(t, ts.addr)
	w.send(head + "5;a=b;c;d=\"q \\\" ;\"\r\nhello\r\n0;z\r\n\r\n" + getReq("/after"))
	w.readResp("POST").check(t, 200, "hello")
	w.readResp("GET").check(t, 200, "app:/after")
}

// 4. Trailer lines are checked like header lines; framing and routing
// fields are refused there.
func TestSmugglingTrailers(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	head := "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, trailer := range []string{
		"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"X-T: a\x00b\r\n\r\n",
		"X-T: a\r\n folded\r\n\r\n",
		"no colon here\r\n\r\n",
		"X-T: a\n\r\n",
		"Content-Length: 5\r\n\r\n",
		"Transfer-Encoding: chunked\r\n\r\n",
		"host: other\r\n\r\n",
	} {
		w := dialWire(t, ts.addr)
		w.send(head + "5\r\nhello\r\n0\r\n" + trailer + getReq("/after"))
		r := w.readResp("POST")
		if r.code != 400 {
			t.Errorf("trailer %q: %q, want 400", trailer, r.status)
		}
		w.expectClosedAfter(t, r)
		ts.noReq(t)
	}
	w := dialWire(t, ts.addr)
	w.send(head + "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n" + getReq("/after"))
	w.readResp("POST").check(t, 200, "hello")
	w.readResp("GET").check(t, 200, "app:/after")
}

// 5. Content-Length is 1*DIGIT: "-0", "+5", " 5 5", "5, 5" are refused.
func TestSmugglingContentLength(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	for _, cl := range []string{"-0", "+5", "5 5", "5, 5", "0x5", "5.0", "", "9223372036854775808"} {
		refusedAlone(t, ts, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "+cl+"\r\n\r\nhello"+smuggled, 400)
	}
	refusedAlone(t, ts, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400)
	refusedAlone(t, ts, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
	// leading zeros are digits
	w := dialWire(t, ts.addr)
	w.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\nhello" + getReq("/after"))
	w.readResp("POST").check(t, 200, "hello")
	w.readResp("GET").check(t, 200, "app:/after")
}

// 6. uwsgi: a repeated var reads as its last value everywhere (static
// maps and the app alike), and CONTENT_LENGTH is read as on HTTP.
func TestSmugglingUwsgiRepeatedVars(t *testing.T) {
	ts := staticServer(t, UWSGI)
	// uwsgi_params' PATH_INFO first, then an uwsgi_param override.
	vars := append(getVars("/static/hello.txt"), "PATH_INFO", "/app/path")
	resp, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, vars...), nil)
	if resp.StatusCode != 200 || body != "app:/app/path" {
		t.Errorf("static decided on the first PATH_INFO: %d %q", resp.StatusCode, body)
	}
	if v := ts.reqVars(t); v["PATH_INFO"] != "/app/path" {
		t.Errorf("app's PATH_INFO %q", v["PATH_INFO"])
	}
	// The other way round: the last one is the static file.
	vars = append(getVars("/app/path"), "PATH_INFO", "/static/hello.txt")
	if resp, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, vars...), nil); resp.StatusCode != 200 || body != "hello world" {
		t.Errorf("last PATH_INFO a static file: %d %q", resp.StatusCode, body)
	}
	ts.noReq(t)
	// CONTENT_LENGTH: the last one frames the body.
	vars = append(withBodyVars("/echo", "3"), "CONTENT_LENGTH", "5")
	if _, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, vars...), []byte("hello")); body != "hello" {
		t.Errorf("body %q, want the 5 bytes of the last CONTENT_LENGTH", body)
	}
	ts.nextReq(t)
	for _, cl := range []string{"+5", "-0", " 5", "5 ", "0x5"} {
		c := uwsgiDial(t, ts.addr, uwsgiPacket(0, withBodyVars("/echo", cl)...), []byte("hello"))
		expectClosed(t, c)
		waitLog(t, ts.logs, "bad CONTENT_LENGTH \""+cl+"\"")
		ts.noReq(t)
	}
}

// withBodyVars is getVars for a POST with CONTENT_LENGTH cl.
func withBodyVars(path, cl string) []string {
	v := getVars(path)
	for i := 0; i < len(v); i += 2 {
		switch v[i] {
		case "REQUEST_METHOD":
			v[i+1] = "POST"
		case "CONTENT_LENGTH":
			v[i+1] = cl
		}
	}
	return v
}
