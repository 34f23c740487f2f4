package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUwsgiEnviron(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	vars := getVars("/env", "HTTP_X_MULTI", "a,b", "HTTP_COOKIE", "k=v")
	resp, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, vars...), nil)
	if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" || resp.Status != "200 OK" {
		t.Errorf("status line %q %q", resp.Proto, resp.Status)
	}
	r := ts.nextReq(t)
	if !slices.Equal(r.Vars, vars) {
		t.Errorf("vars not passed through in order:\n got %q\nwant %q", r.Vars, vars)
	}
	if !strings.Contains(body, "PATH_INFO=/env\n") || !strings.Contains(body, "HTTP_X_MULTI=a,b\n") {
		t.Errorf("body %q", body)
	}
	if r.Scheme != "http" || r.Body != nil || r.BodyFile != nil {
		t.Errorf("scheme %q body %q file %v", r.Scheme, r.Body, r.BodyFile)
	}
	line := waitLog(t, ts.logs, "GET /env")
	want := "10.0.0.7 () {" + strconv.Itoa(len(vars)/2) + " vars in "
	if !strings.Contains(line, want) || !strings.Contains(line, "(HTTP/1.1 200) 1 headers in") ||
		!strings.HasSuffix(line, "(2 switches on core 3)") {
		t.Errorf("log line %q", line)
	}

	// The status line follows SERVER_PROTOCOL; HTTPS=on gives https.
	vars = slices.Clone(getVars("/x", "HTTPS", "on"))
	vars[slices.Index(vars, "SERVER_PROTOCOL")+1] = "HTTP/1.0"
	resp, _ = uwsgiDo(t, ts.addr, uwsgiPacket(0, vars...), nil)
	if resp.Proto != "HTTP/1.0" {
		t.Errorf("proto %q", resp.Proto)
	}
	if r := ts.nextReq(t); r.Scheme != "https" {
		t.Errorf("HTTPS=on: scheme %q", r.Scheme)
	}
}

// withBody makes a POST var set for a body of n bytes.
func withBody(path string, n int) []byte {
	v := getVars(path)
	v[slices.Index(v, "REQUEST_METHOD")+1] = "POST"
	v[slices.Index(v, "CONTENT_LENGTH")+1] = strconv.Itoa(n)
	return uwsgiPacket(0, v...)
}

func TestUwsgiBody(t *testing.T) {
	ts := startServer(t, UWSGI, func(c *Config) { c.PostBuffering = 1000 })
	for _, n := range []int{5, 1000, 1001, 300000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		resp, body := uwsgiDo(t, ts.addr, withBody("/echo", n), payload)
		if body != string(payload) {
			t.Fatalf("%d bytes: echoed %d", n, len(body))
		}
		if spooled := resp.Header.Get("X-Spooled") == "true"; spooled != (n > 1000) {
			t.Errorf("%d bytes: spooled=%v", n, spooled)
		}
		ts.nextReq(t)
	}
}

func TestUwsgiShortBody(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	c := uwsgiDial(t, ts.addr, withBody("/echo", 100), []byte("only ten.."))
	c.(*net.TCPConn).CloseWrite()
	expectClosed(t, c)
	waitLog(t, ts.logs, "reading request body")
	ts.noReq(t)
	if _, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars("/ok")...), nil); body != "app:/ok" {
		t.Errorf("next request: %q", body)
	}
}

func TestUwsgiMalformed(t *testing.T) {
	ts := startServer(t, UWSGI, func(c *Config) { c.BufferSize = 4096 })
	good := uwsgiPacket(0, getVars("/ok")...)

	overLimit := []byte{0, 0, 0, 0}
	binary.LittleEndian.PutUint16(overLimit[1:3], 5000)
	overLimit = append(overLimit, make([]byte, 5000)...)

	pastBlock := []byte{0, 8, 0, 0, 4, 0, 'P', 'A', 'T', 'H', 50, 0} // value of 50 bytes in an 8-byte block
	keyPast := []byte{0, 3, 0, 0, 9, 0, 'X'}

	cases := []struct {
		name, log string
		data      []byte
		closeW    bool
	}{
		{"truncated header", "truncated", []byte{0, 10}, true},
		{"truncated block", "truncated", good[:20], true},
		{"value past block", "past the end", pastBlock, false},
		{"key past block", "past the end", keyPast, false},
		{"modifier1 not 0", "modifier1 5", append([]byte{5}, good[1:]...), false},
		{"garbage", "modifier1 71", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
	}
	// Over the head-size limit: a status nginx can pass on, as for HTTP.
	t.Run("datasize over limit", func(t *testing.T) {
		resp, _ := uwsgiDo(t, ts.addr, overLimit, nil)
		if resp.StatusCode != 431 {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
		waitLog(t, ts.logs, "invalid request block size: 5000 (max 4096)")
		ts.noReq(t)
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := uwsgiDial(t, ts.addr, tc.data, nil)
			if tc.closeW {
				c.(*net.TCPConn).CloseWrite()
			}
			expectClosed(t, c)
			waitLog(t, ts.logs, tc.log)
			ts.noReq(t)
			if _, body := uwsgiDo(t, ts.addr, good, nil); body != "app:/ok" {
				t.Errorf("next good request: %q", body)
			}
			ts.nextReq(t)
		})
	}
}

func TestUwsgiStreaming(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	c := uwsgiDial(t, ts.addr, uwsgiPacket(0, getVars("/stream")...), nil)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	expectStreamed(t, ts, resp.Body)
	if len(resp.TransferEncoding) != 0 {
		t.Errorf("uwsgi response used %v", resp.TransferEncoding)
	}
}

func TestUwsgiErrors(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	for _, p := range []string{"/fail-early", "/bad-status"} {
		resp, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars(p)...), nil)
		if resp.StatusCode != 500 || body != "Internal Server Error\n" {
			t.Errorf("%s: %d %q", p, resp.StatusCode, body)
		}
		waitLog(t, ts.logs, "GET "+p+" => generated 0 bytes")
	}
	// Head and error in one batch: nothing was sent yet, so a 500.
	if resp, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars("/fail-late")...), nil); resp.StatusCode != 500 || body != "Internal Server Error\n" {
		t.Errorf("error with the head: %d %q", resp.StatusCode, body)
	}
	c := uwsgiDial(t, ts.addr, uwsgiPacket(0, getVars("/fail-streaming")...), nil)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	if _, err := http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	ts.release()
	if b, err := io.ReadAll(br); err == nil {
		t.Errorf("error after streamed output ended cleanly after %q", b)
	}
}

func TestUwsgiFile(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	ts.hub.file.Store(writeTemp(t, "0123456789"))
	_, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars("/file")...), nil)
	if body != "<23456>0123456789" {
		t.Errorf("file response %q", body)
	}
}

func TestUwsgiBackpressure(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	_, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars("/big")...), nil)
	if len(body) != bigChunks*64<<10 {
		t.Errorf("got %d bytes, want %d", len(body), bigChunks*64<<10)
	}
}

func TestUwsgiClientGone(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	c := uwsgiDial(t, ts.addr, uwsgiPacket(0, getVars("/hold")...), nil)
	r := ts.nextReq(t)
	c.Close() // nginx does this when its client aborts
	waitLog(t, ts.logs, "GET /hold")
	if !r.Resp.Gone() {
		t.Error("response not marked gone")
	}
}

func TestUwsgiUnixSocket(t *testing.T) {
	path := t.TempDir() + "/uwsgi.sock"
	ln, err := Listen(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	ts := startOn(t, ln, UWSGI, nil)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(uwsgiPacket(0, getVars("/u")...))
	b, _ := io.ReadAll(c)
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(b, []byte("app:/u")) {
		t.Errorf("response %q", b)
	}
	ts.nextReq(t)
}
