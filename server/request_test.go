package server

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRequestHead(t *testing.T) {
	cases := []struct {
		name, in string
		n        int // bytes of the head; 0: all of in
		check    func(t *testing.T, h requestHead)
	}{
		{"simple", "GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			want(t, "method", h.method, "GET")
			want(t, "uri", h.uri, "/a/b?c=d")
			want(t, "proto", h.proto, "HTTP/1.1")
			want(t, "path", h.path, "/a/b")
			want(t, "query", h.query, "c=d")
			want(t, "host", h.host, "x")
			if !h.keepAlive || h.minor != 1 || h.contentLength != -1 || h.chunked || h.expectContinue {
				t.Errorf("keepAlive %v minor %d contentLength %d chunked %v expect %v",
					h.keepAlive, h.minor, h.contentLength, h.chunked, h.expectContinue)
			}
			wantVars(t, h, "HTTP_HOST", "x")
		}},
		{"leading CRLF tolerated", "\r\nGET /lead HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			want(t, "path", h.path, "/lead")
			want(t, "method", h.method, "GET")
		}},
		{"several leading CRLFs", "\r\n\r\n\r\nGET /lead HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			want(t, "path", h.path, "/lead")
		}},
		{"body and the next request left alone", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
			len("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"), func(t *testing.T, h requestHead) {
				if h.contentLength != 5 {
					t.Errorf("contentLength %d", h.contentLength)
				}
				wantVars(t, h, "CONTENT_LENGTH", "5", "HTTP_HOST", "x")
			}},
		{"a body that looks like a head end", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\r\n\r\n",
			len("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"), nil},
		{"HTTP/1.0 defaults", "GET / HTTP/1.0\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			if h.keepAlive || h.minor != 0 || h.host != "" {
				t.Errorf("keepAlive %v minor %d host %q", h.keepAlive, h.minor, h.host)
			}
			wantVars(t, h)
		}},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			if !h.keepAlive {
				t.Error("not kept alive")
			}
		}},
		{"HTTP/1.1 close in a list", "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nConnection: foo,  CLOSE \r\n\r\n", 0, func(t *testing.T, h requestHead) {
			if h.keepAlive {
				t.Error("kept alive after Connection: close")
			}
			wantVars(t, h, "HTTP_CONNECTION", "upgrade,foo,  CLOSE", "HTTP_HOST", "x")
		}},
		{"HTTP/1.1 keep-alive token is no close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			if !h.keepAlive {
				t.Error("not kept alive")
			}
		}},
		{"Transfer-Encoding in any ASCII case", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			if !h.chunked || h.contentLength != -1 {
				t.Errorf("chunked %v contentLength %d", h.chunked, h.contentLength)
			}
			wantVars(t, h, "HTTP_HOST", "x")
		}},
		{"Content-Length zero", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			if h.contentLength != 0 {
				t.Errorf("contentLength %d", h.contentLength)
			}
		}},
		{"Expect 100-continue", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			if !h.expectContinue {
				t.Error("expectContinue not set")
			}
		}},
		{"absolute form", "GET http://example.com:8080/p%20q?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			want(t, "path", h.path, "/p q")
			want(t, "query", h.query, "q=1")
			want(t, "host", h.host, "example.com:8080")
			want(t, "uri", h.uri, "http://example.com:8080/p%20q?q=1")
			wantVars(t, h, "HTTP_HOST", "example.com:8080")
		}},
		{"absolute form, no path, HTTP/1.0", "GET http://example.com HTTP/1.0\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			want(t, "path", h.path, "/")
			want(t, "host", h.host, "example.com")
		}},
		{"asterisk form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			want(t, "path", h.path, "*")
		}},
		{"percent-decoded path, raw query", "GET /a%20b%2F%C3%A9+?x=%20+ HTTP/1.1\r\nHost: x\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			want(t, "path", h.path, "/a b/é+")
			want(t, "query", h.query, "x=%20+")
			want(t, "uri", h.uri, "/a%20b%2F%C3%A9+?x=%20+")
		}},
		{"header vars", "GET / HTTP/1.1\r\nX-A: 1\r\nHost: x\r\nx-a:2\r\nX_A: no\r\nContent-Type: a/b\r\nUser-Agent: \t ua 1.0 \t\r\nX-Obs: caf\xc3\xa9\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			wantVars(t, h, "HTTP_X_A", "1,2", "CONTENT_TYPE", "a/b", "HTTP_USER_AGENT", "ua 1.0", "HTTP_X_OBS", "caf\xc3\xa9", "HTTP_HOST", "x")
		}},
		{"empty Host on HTTP/1.1", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, func(t *testing.T, h requestHead) {
			want(t, "host", h.host, "")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := parseRequestHead([]byte(tc.in), headLimits{8192, 100}, nameCache{})
			if err != nil {
				t.Fatalf("%q: %v", tc.in, err)
			}
			wantN := tc.n
			if wantN == 0 {
				wantN = len(tc.in)
			}
			if n != wantN {
				t.Errorf("took %d bytes, want %d", n, wantN)
			}
			if tc.check != nil {
				tc.check(t, h)
			}
			// Every shorter prefix of the head is incomplete.
			for i := 0; i < wantN; i++ {
				if _, _, err := parseRequestHead([]byte(tc.in[:i]), headLimits{8192, 100}, nameCache{}); err != errNeedMore {
					t.Fatalf("prefix %q: %v, want errNeedMore", tc.in[:i], err)
				}
			}
		})
	}
}

func want(t *testing.T, what, got, w string) {
	t.Helper()
	if got != w {
		t.Errorf("%s = %q, want %q", what, got, w)
	}
}

// wantVars checks the head's vars, in order.
func wantVars(t *testing.T, h requestHead, kv ...string) {
	t.Helper()
	if strings.Join(h.vars, "\x00") != strings.Join(kv, "\x00") {
		t.Errorf("vars %q, want %q", h.vars, kv)
	}
}

func TestParseRequestHeadErrors(t *testing.T) {
	cases := []struct {
		name, in string
		status   int
	}{
		{"garbage", "GARBAGE\r\n\r\n", 400},
		{"no target", "GET HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
		{"HTTP/1.10", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400},
		{"HTTP/1", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400},
		{"lower-case protocol", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"missing Host, absolute form", "GET http://example.com/ HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n", 400},
		{"control character in target", "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"DEL in target", "GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"tab in target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"bad escape", "GET /%G0 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"bad Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400},
		{"negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400},
		{"signed Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400},
		{"empty Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400},
		{"huge Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"conflicting Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
		{"Transfer-Encoding gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"Transfer-Encoding identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 501},
		{"Transfer-Encoding chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"Transfer-Encoding with Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"Transfer-Encoding with a KELVIN SIGN", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chun\xe2\x84\xaaed\r\n\r\n", 501},
		{"same Content-Length twice", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", 400},
		{"Content-Length -0", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -0\r\n\r\n", 400},
		{"Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n", 400},
		{"bare LF line ends", "GET /lf HTTP/1.1\nHost: x\nX-A: 1\n\n", 400},
		{"bare LF inside a CRLF head", "GET / HTTP/1.1\r\nHost: x\r\nDummy: x\nContent-Length: 23\r\n\r\n", 400},
		{"bare LF ends the head", "GET /m HTTP/1.1\r\nHost: x\r\n\n", 400},
		{"leading bare LF", "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505},
		{"non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"Expect other", "GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 417},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n", 400},
		{"space in name", "GET / HTTP/1.1\r\nHost: x\r\nX A: a\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00\r\n\r\n", 400},
		{"CR in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400},
		{"bare CR line end", "GET / HTTP/1.1\rHost: x\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseRequestHead([]byte(tc.in), headLimits{8192, 100}, nameCache{})
			var he *httpError
			if !errors.As(err, &he) {
				t.Fatalf("%q: %v, want an httpError %d", tc.in, err, tc.status)
			}
			if he.status != tc.status {
				t.Errorf("%q: %d %s, want %d", tc.in, he.status, he.msg, tc.status)
			}
		})
	}
}

func TestParseRequestHeadLimit(t *testing.T) {
	head := func(size int) string {
		const pre, post = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ", "\r\n\r\n"
		return pre + strings.Repeat("p", size-len(pre)-len(post)) + post
	}
	if _, n, err := parseRequestHead([]byte(head(1000)), headLimits{1000, 100}, nameCache{}); err != nil || n != 1000 {
		t.Errorf("a head of exactly the limit: %d, %v", n, err)
	}
	for _, in := range []string{head(1001), head(5000)[:1001], head(5000)[:2000]} {
		_, _, err := parseRequestHead([]byte(in), headLimits{1000, 100}, nameCache{})
		if he, ok := err.(*httpError); !ok || he.status != 431 {
			t.Errorf("%d bytes over a limit of 1000: %v, want 431", len(in), err)
		}
	}
	// The field count: at the limit served, one more 431.
	fields := func(n int) string {
		return "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-F: 1\r\n", n-1) + "\r\n"
	}
	if _, _, err := parseRequestHead([]byte(fields(10)), headLimits{8192, 10}, nameCache{}); err != nil {
		t.Errorf("10 fields, max 10: %v", err)
	}
	if _, _, err := parseRequestHead([]byte(fields(11)), headLimits{8192, 10}, nameCache{}); err == nil || err.(*httpError).status != 431 {
		t.Errorf("11 fields, max 10: %v, want 431", err)
	}
	// Incomplete but within the limit: wait for more.
	if _, _, err := parseRequestHead([]byte(head(5000)[:1000]), headLimits{1000, 100}, nameCache{}); err != errNeedMore {
		t.Errorf("incomplete head at the limit: %v", err)
	}
}

func FuzzParseRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a%20b?c HTTP/1.0\nConnection: keep-alive\n\n",
		"\r\nPOST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
		"GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: y\r\nExpect: 100-continue\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\nX_A: 1\r\nX-A: 2\r\nx-a: 3\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"\n\n\r\n",
		"\r",
		"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 512
		h, n, err := parseRequestHead(data, headLimits{limit, 100}, nameCache{})
		if err == errNeedMore {
			return
		}
		if err != nil {
			he, ok := err.(*httpError)
			if !ok {
				t.Fatalf("%q: error %v is no httpError", data, err)
			}
			switch he.status {
			case 400, 417, 431, 501, 505:
			default:
				t.Fatalf("%q: status %d", data, he.status)
			}
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("%q: took %d bytes of %d", data, n, len(data))
		}
		if len(h.vars)%2 != 0 {
			t.Fatalf("%q: odd vars %q", data, h.vars)
		}
		if h.size > limit || h.size > n {
			t.Fatalf("%q: head of %d bytes (took %d, limit %d)", data, h.size, n, limit)
		}
		if h.method == "" || h.path == "" || h.uri == "" {
			t.Fatalf("%q: method %q path %q uri %q", data, h.method, h.path, h.uri)
		}
		// The head is all in the bytes it took: they parse alone, the same.
		h2, n2, err := parseRequestHead(data[:n], headLimits{limit, 100}, nameCache{})
		if err != nil || n2 != n || h2.uri != h.uri || strings.Join(h2.vars, "\x00") != strings.Join(h.vars, "\x00") {
			t.Fatalf("%q: its head %q alone parses to %d, %v", data, data[:n], n2, err)
		}
	})
}
