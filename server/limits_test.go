package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The limits (--limit-post, --max-vars, --buffer-size, --http-timeout,
// --socket-timeout), each over a real connection, each with its status.

func TestLimitPostHTTP(t *testing.T) {
	ts := startServer(t, HTTP, func(c *Config) { c.LimitPost = 10 })
	post := func(cl string, extra ...string) string {
		return "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + cl + "\r\n" + strings.Join(extra, "") + "\r\n"
	}
	// At the limit: served.
	w := dialWire(t, ts.addr)
	w.send(post("10") + "0123456789")
	w.readResp("POST").check(t, 200, "0123456789")
	ts.nextReq(t)

	// Over it: 413 as soon as the head is read, no body byte waited for,
	// and no 100 Continue first.
	for _, cl := range []string{"11", "9223372036854775807"} {
		w := dialWire(t, ts.addr)
		w.send(post(cl, "Expect: 100-continue\r\n"))
		r := w.readResp("POST")
		r.check(t, 413, "413 Request Entity Too Large")
		w.expectClosedAfter(t, r)
		ts.noReq(t)
	}

	// Chunked: refused once the chunks pass it, served when they do not.
	chunked := "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	w = dialWire(t, ts.addr)
	w.send(chunked + "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n")
	w.readResp("POST").check(t, 200, "helloworld")
	ts.nextReq(t)
	w = dialWire(t, ts.addr)
	w.send(chunked + "5\r\nhello\r\n6\r\n")
	r := w.readResp("POST")
	r.check(t, 413, "413 Request Entity Too Large")
	w.expectClosedAfter(t, r)
	ts.noReq(t)
}

// Without --limit-post the largest Content-Length is read as announced
// (no allocation up front): the request waits for its body.
func TestNoLimitPostHugeContentLength(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	w.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\nsome bytes")
	w.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, err := w.br.ReadByte(); err == nil {
		t.Fatalf("answered (%q...) before the body came", b)
	}
	ts.noReq(t)
}

func TestLimitPostUwsgi(t *testing.T) {
	ts := startServer(t, UWSGI, func(c *Config) { c.LimitPost = 4 })
	resp, _ := uwsgiDo(t, ts.addr, uwsgiPacket(0, withBodyVars("/echo", "5")...), []byte("hello"))
	if resp.StatusCode != 413 {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
	waitLog(t, ts.logs, "over --limit-post 4")
	ts.noReq(t)
	if _, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, withBodyVars("/echo", "4")...), []byte("hell")); body != "hell" {
		t.Errorf("at the limit: %q", body)
	}
	ts.nextReq(t)
}

func TestMaxVarsHTTP(t *testing.T) {
	ts := startServer(t, HTTP, func(c *Config) { c.MaxVars = 8 })
	fields := func(n int) string { // n fields, Host included
		return getReq("/f", strings.Repeat("X-F: 1\r\n", n-1))
	}
	w := dialWire(t, ts.addr)
	w.send(fields(8))
	w.readResp("GET").check(t, 200, "app:/f")
	ts.nextReq(t)
	w = dialWire(t, ts.addr)
	w.send(fields(9))
	r := w.readResp("GET")
	r.check(t, 431, "431 Request Header Fields Too Large")
	w.expectClosedAfter(t, r)
	ts.noReq(t)
	// Trailer fields count too.
	w = dialWire(t, ts.addr)
	w.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + strings.Repeat("X-T: 1\r\n", 9) + "\r\n")
	r = w.readResp("POST")
	r.check(t, 431, "431 Request Header Fields Too Large")
	ts.noReq(t)
}

// The default is uWSGI's 64.
func TestMaxVarsDefault(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	w := dialWire(t, ts.addr)
	w.send(getReq("/f", strings.Repeat("X-F: 1\r\n", 63)))
	w.readResp("GET").check(t, 200, "app:/f")
	ts.nextReq(t)
	w.send(getReq("/f", strings.Repeat("X-F: 1\r\n", 64)))
	w.readResp("GET").check(t, 431, "431 Request Header Fields Too Large")
	ts.noReq(t)
}

func TestMaxVarsUwsgi(t *testing.T) {
	ts := startServer(t, UWSGI, func(c *Config) { c.MaxVars = 16 })
	withVars := func(n int) []byte { // n vars in all
		v := getVars("/v")
		for i := len(v) / 2; i < n; i++ {
			v = append(v, "HTTP_X_"+itoa(int64(i)), "1")
		}
		return uwsgiPacket(0, v...)
	}
	if _, body := uwsgiDo(t, ts.addr, withVars(16), nil); body != "app:/v" {
		t.Errorf("16 vars: %q", body)
	}
	ts.nextReq(t)
	resp, _ := uwsgiDo(t, ts.addr, withVars(17), nil)
	if resp.StatusCode != 431 {
		t.Errorf("17 vars, max 16: status %d, want 431", resp.StatusCode)
	}
	waitLog(t, ts.logs, "17 vars, more than --max-vars 16")
	ts.noReq(t)
}

// --buffer-size bounds a uwsgi packet as it bounds an HTTP head.
func TestBufferSizeBothProtocols(t *testing.T) {
	for _, kind := range []Kind{HTTP, UWSGI} {
		ts := startServer(t, kind, func(c *Config) { c.BufferSize = 16384 })
		if kind == HTTP {
			w := dialWire(t, ts.addr)
			w.send(getReq("/", "X-Pad: "+strings.Repeat("p", 16400)+"\r\n"))
			r := w.readResp("GET")
			r.check(t, 431, "431 Request Header Fields Too Large")
			w.expectClosedAfter(t, r)
		} else {
			resp, _ := uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars("/", "HTTP_X_PAD", strings.Repeat("p", 16400))...), nil)
			if resp.StatusCode != 431 {
				t.Errorf("uwsgi packet over --buffer-size: %d, want 431", resp.StatusCode)
			}
		}
		ts.noReq(t)
	}
}

func TestHTTPTimeout(t *testing.T) {
	ts := startServer(t, HTTP, func(c *Config) { c.HTTPTimeout = time.Second })

	t.Run("stalled head", func(t *testing.T) {
		w := dialWire(t, ts.addr)
		w.send("GET / HTTP/1.1\r\nHost: x\r\n")
		r := w.readResp("GET")
		r.check(t, 408, "408 Request Timeout")
		w.expectClosedAfter(t, r)
		waitLog(t, ts.logs, "request head not complete after 1s")
	})

	// A byte every 200 ms keeps the connection busy but does not move
	// the head's deadline: it must come whole within the timeout.
	t.Run("dripping head", func(t *testing.T) {
		w := dialWire(t, ts.addr)
		head := getReq("/", "X-Pad: "+strings.Repeat("p", 100)+"\r\n")
		got := make(chan wireResp, 1)
		go func() { got <- w.readRespNoFatal() }()
		for i := 0; i < len(head); i++ {
			select {
			case r := <-got:
				if r.code != 408 {
					t.Fatalf("%q after %d of %d bytes, want 408", r.status, i, len(head))
				}
				ts.noReq(t)
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := io.WriteString(w.c, head[i:i+1]); err != nil {
				break // closed after the 408
			}
		}
		r := <-got
		if r.code != 408 {
			t.Fatalf("the head dripped whole (%d bytes in %v): %q, want 408", len(head), 200*time.Millisecond*time.Duration(len(head)), r.status)
		}
	})

	t.Run("stalled body", func(t *testing.T) {
		w := dialWire(t, ts.addr)
		w.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
		r := w.readResp("POST")
		r.check(t, 408, "408 Request Timeout")
		w.expectClosedAfter(t, r)
		waitLog(t, ts.logs, "request body not complete after 1s")
		ts.noReq(t)
	})

	// A body that keeps coming is not stalled, however long it takes.
	t.Run("slow body", func(t *testing.T) {
		w := dialWire(t, ts.addr)
		w.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
		for _, b := range []string{"s", "l", "o", "w"} {
			time.Sleep(600 * time.Millisecond)
			w.send(b)
		}
		w.readResp("POST").check(t, 200, "slow")
		ts.nextReq(t)
	})

	t.Run("idle connection closed without an answer", func(t *testing.T) {
		w := dialWire(t, ts.addr)
		w.expectEOF()
	})
}

func TestSocketTimeoutUwsgi(t *testing.T) {
	ts := startServer(t, UWSGI, func(c *Config) { c.SocketTimeout = time.Second })
	c := uwsgiDial(t, ts.addr, uwsgiPacket(0, getVars("/")...)[:20], nil)
	expectClosed(t, c)
	ts.noReq(t)
	c = uwsgiDial(t, ts.addr, uwsgiPacket(0, withBodyVars("/echo", "10")...), []byte("half"))
	expectClosed(t, c)
	waitLog(t, ts.logs, "request body not complete after 1s")
	ts.noReq(t)
}

// readRespNoFatal reads one response from a goroutine (no t.Fatal there).
func (w *wireConn) readRespNoFatal() wireResp {
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return wireResp{status: err.Error()}
	}
	b, _ := io.ReadAll(resp.Body)
	return wireResp{status: resp.Status, code: resp.StatusCode, body: string(b)}
}
