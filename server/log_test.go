package server

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestLogFormatVariables(t *testing.T) {
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s := &Server{pid: 4242, cfg: Config{WorkerID: 3}}
	c := &conn{rl: reqLog{start: start, remote: "10.0.0.1", method: "POST", uri: "/a?b=1",
		proto: "HTTP/1.1", status: 404, bodyBytes: 12, headerBytes: 30, core: 2, switches: 5},
		vars: []string{"HTTP_HOST", "example.org", "HTTP_USER_AGENT", "curl/8", "CONTENT_LENGTH", "7", "X_APP", "v"}}
	cases := map[string]string{
		"%(method) %(uri) %(proto) %(status)":    "POST /a?b=1 HTTP/1.1 404",
		"%(addr) %(host) [%(uagent)] %(referer)": "10.0.0.1 example.org [curl/8] -",
		"%(size) %(rsize) %(hsize) %(cl)":        "42 12 30 7",
		"%(wid) %(pid) %(core) %(switches)":      "3 4242 2 5",
		"%(time) %(tmsecs)":                      "1772600767 1772600767000",
		"%(ltime)":                               "04/Mar/2026:05:06:07 +0000",
		"%(var.X_APP) %(var.NOPE) %(nope)":       "v - -",
		"100%( literal %() %(status":             "100- %(status", // the ")" closes a variable named " literal %("
		"no variables":                           "no variables",
	}
	for format, want := range cases {
		c.rl.start = start
		got := string(CompileLogFormat(format).appendLine(nil, s, c, c.rl.remote))
		got = strings.ReplaceAll(got, start.Local().Format(ltimeLayout), start.Format(ltimeLayout))
		if got != want {
			t.Errorf("%q: got %q, want %q", format, got, want)
		}
	}
	got := string(CompileLogFormat("%(msecs)|%(micros)|%(epoch)").appendLine(nil, s, c, ""))
	if parts := strings.Split(got, "|"); len(parts) != 3 || parts[0] == "-" || len(parts[2]) < 10 {
		t.Errorf("times: %q", got)
	}
}

// BenchmarkLogRequestDefault: uWSGI's default line, written to a
// discarding writer; go test ./server -bench LogRequest -benchmem shows
// the allocations per request line (0: the buffer is reused).
func BenchmarkLogRequestDefault(b *testing.B) {
	s := &Server{pid: 4242, reqOut: io.Discard}
	c := &conn{rl: reqLog{start: time.Now(), remote: "127.0.0.1", method: "GET", uri: "/", proto: "HTTP/1.1",
		status: 200, bodyBytes: 12, headers: 2, headerBytes: 60}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.logRequest(c)
	}
}

func TestLogRequestAllocatesNothing(t *testing.T) {
	s := &Server{pid: 4242, reqOut: io.Discard}
	c := &conn{rl: reqLog{start: time.Now(), remote: "127.0.0.1", method: "GET", uri: "/", proto: "HTTP/1.1"}}
	s.logRequest(c) // the first line makes the buffer
	if n := testing.AllocsPerRun(100, func() { s.logRequest(c) }); n != 0 {
		t.Errorf("%v allocations per default request line", n)
	}
}
