package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestHTTPEnviron(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	c := client(t)
	req, _ := http.NewRequest("GET", "http://"+ts.addr+"/env/a%20b%2Fc?x=1&y=%20", nil)
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	req.Header.Set("Content-Type", "text/weird")
	req.Header["X_multi"] = []string{"spoofed"}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	r := ts.nextReq(t)
	v := varsMap(r.Vars)
	_, port, _ := net.SplitHostPort(ts.addr)
	want := map[string]string{
		"REQUEST_METHOD":  "GET",
		"SCRIPT_NAME":     "",
		"PATH_INFO":       "/env/a b/c",
		"REQUEST_URI":     "/env/a%20b%2Fc?x=1&y=%20",
		"QUERY_STRING":    "x=1&y=%20",
		"SERVER_NAME":     "127.0.0.1",
		"SERVER_PORT":     port,
		"SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR":     "127.0.0.1",
		"HTTP_HOST":       ts.addr,
		"HTTP_X_MULTI":    "a,b",
		"CONTENT_TYPE":    "text/weird",
	}
	for k, w := range want {
		if got, ok := v[k]; !ok || got != w {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, w)
		}
	}
	if n := strings.Count(strings.Join(r.Vars, "\x00"), "\x00HTTP_X_MULTI\x00"); n != 1 {
		t.Errorf("HTTP_X_MULTI appears %d times (X_multi must be dropped)", n)
	}
	if p, err := strconv.Atoi(v["REMOTE_PORT"]); err != nil || p == 0 {
		t.Errorf("REMOTE_PORT = %q", v["REMOTE_PORT"])
	}
	for _, k := range []string{"CONTENT_LENGTH", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
		if _, ok := v[k]; ok {
			t.Errorf("%s present for a GET without body", k)
		}
	}
	if r.Scheme != "http" {
		t.Errorf("scheme %q", r.Scheme)
	}
	if len(r.Vars)%2 != 0 {
		t.Fatal("odd Vars")
	}

	// A POST with a body: CONTENT_LENGTH, and no HTTP_ twin.
	resp, err = c.Post("http://"+ts.addr+"/echo", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"a":1}` {
		t.Errorf("echo: %q", b)
	}
	v = varsMap(ts.nextReq(t).Vars)
	if v["CONTENT_LENGTH"] != "7" || v["CONTENT_TYPE"] != "application/json" || v["REQUEST_METHOD"] != "POST" {
		t.Errorf("POST vars: %v", v)
	}
	if _, ok := v["HTTP_CONTENT_LENGTH"]; ok {
		t.Error("HTTP_CONTENT_LENGTH present")
	}
}

var logLineRE = regexp.MustCompile(`^\[pid: \d+\|app: 0\|req: \d+/\d+\] 127\.0\.0\.1 \(\) \{\d+ vars in \d+ bytes\} \[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] GET /env\?q=1 => generated \d+ bytes in \d+ msecs \(HTTP/1\.1 200\) 1 headers in \d+ bytes \(2 switches on core 3\)$`)

func TestHTTPLogLine(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	c := client(t)
	get(t, c, "http://"+ts.addr+"/env?q=1")
	line := waitLog(t, ts.logs, "GET /env")
	if !logLineRE.MatchString(line) {
		t.Errorf("log line %q does not match uWSGI's shape", line)
	}

	quiet := startServer(t, HTTP, func(c *Config) { c.DisableLogging = true })
	get(t, c, "http://"+quiet.addr+"/env")
	quiet.nextReq(t)
	select {
	case l := <-quiet.logs:
		t.Errorf("DisableLogging still logged %q", l)
	default:
	}
}

func TestHTTPChunkedBody(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	c := client(t)
	payload := strings.Repeat("chunky ", 1000)
	// A reader of unknown length makes the client send chunked.
	req, _ := http.NewRequest("POST", "http://"+ts.addr+"/echo", io.MultiReader(strings.NewReader(payload)))
	req.Header.Set("Expect", "100-continue")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != payload {
		t.Fatalf("echoed %d bytes, want %d", len(b), len(payload))
	}
	r := ts.nextReq(t)
	v := varsMap(r.Vars)
	if v["CONTENT_LENGTH"] != strconv.Itoa(len(payload)) {
		t.Errorf("CONTENT_LENGTH %q, want %d", v["CONTENT_LENGTH"], len(payload))
	}
	if _, ok := v["HTTP_TRANSFER_ENCODING"]; ok {
		t.Error("HTTP_TRANSFER_ENCODING passed on for a body that is no longer chunked")
	}
}

func TestHTTPBigBodySpooled(t *testing.T) {
	ts := startServer(t, HTTP, func(c *Config) { c.PostBuffering = 1024 })
	c := client(t)
	payload := bytes.Repeat([]byte("0123456789"), 20000)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(payload)
		if chunked {
			body = io.MultiReader(body)
		}
		resp, err := c.Post("http://"+ts.addr+"/echo", "application/octet-stream", body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(b, payload) {
			t.Fatalf("chunked=%v: echoed %d bytes, want %d", chunked, len(b), len(payload))
		}
		if resp.Header.Get("X-Spooled") != "true" {
			t.Errorf("chunked=%v: body over PostBuffering was not spooled to a file", chunked)
		}
		ts.nextReq(t)
	}
	// A small one stays in memory.
	resp, err := c.Post("http://"+ts.addr+"/echo", "text/plain", strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Spooled") != "false" {
		t.Error("small body spooled")
	}
}

func TestHTTPShortBody(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort")
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c) // a 400, or nothing: either way the connection ends
	c.Close()
	if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 400")) {
		t.Errorf("short body answered %q", b)
	}
	waitLog(t, ts.logs, "reading request body")
	ts.noReq(t)
	if _, body := get(t, client(t), "http://"+ts.addr+"/ok"); body != "app:/ok" {
		t.Errorf("next request: %q", body)
	}
}

func TestHTTPStreaming(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	resp, err := client(t).Get("http://" + ts.addr + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	expectStreamed(t, ts, resp.Body)
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("streamed response not chunked: %v", resp.TransferEncoding)
	}
}

func TestHTTPSmallResponseGetsContentLength(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	resp, body := get(t, client(t), "http://"+ts.addr+"/hello")
	if body != "app:/hello" || resp.ContentLength != int64(len(body)) {
		t.Errorf("body %q, Content-Length %d", body, resp.ContentLength)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestHTTPNoSniffedContentType(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	ts.release()
	resp, body := get(t, client(t), "http://"+ts.addr+"/late")
	if body != "late" {
		t.Fatalf("body %q", body)
	}
	if ct, ok := resp.Header["Content-Type"]; ok {
		t.Errorf("net/http invented Content-Type %q", ct)
	}
}

func TestHTTPLateHead(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	done := make(chan string)
	go func() {
		resp, err := http.Get("http://" + ts.addr + "/late")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	ts.nextReq(t) // the app now waits before start_response
	select {
	case b := <-done:
		t.Fatalf("answered %q before the app set its head", b)
	default:
	}
	ts.release()
	if b := <-done; b != "late" {
		t.Errorf("late: %q", b)
	}
}

func TestHTTPErrors(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	c := client(t)
	for _, p := range []string{"/fail-early", "/bad-status"} {
		resp, body := get(t, c, "http://"+ts.addr+p)
		if resp.StatusCode != 500 || !strings.Contains(body, "Internal Server Error") {
			t.Errorf("%s: %d %q", p, resp.StatusCode, body)
		}
	}
	// Head and error in one batch: nothing has reached the client yet,
	// so it still gets a 500.
	if resp, body := get(t, c, "http://"+ts.addr+"/fail-late"); resp.StatusCode != 500 || !strings.Contains(body, "Internal Server Error") {
		t.Errorf("error with the head: %d %q", resp.StatusCode, body)
	}
	// Once output has been flushed, the chunked body must not end cleanly.
	resp, err := c.Get("http://" + ts.addr + "/fail-streaming")
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, len("partial"))
	if _, err := io.ReadFull(resp.Body, part); err != nil {
		t.Fatal(err)
	}
	ts.release()
	if _, err = io.ReadAll(resp.Body); err == nil {
		t.Error("error after streamed output: body ended cleanly")
	}
	resp.Body.Close()
	if _, body := get(t, c, "http://"+ts.addr+"/ok"); body != "app:/ok" {
		t.Errorf("after errors: %q", body)
	}
}

func TestHTTPFile(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	ts.hub.file.Store(writeTemp(t, "0123456789"))
	_, body := get(t, client(t), "http://"+ts.addr+"/file")
	if body != "<23456>0123456789" {
		t.Errorf("file response %q", body)
	}
}

func TestHTTPBackpressure(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	_, body := get(t, client(t), "http://"+ts.addr+"/big")
	if len(body) != bigChunks*64<<10 {
		t.Errorf("got %d bytes, want %d", len(body), bigChunks*64<<10)
	}
}

func TestHTTPClientGone(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ts.addr+"/hold", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := client(t).Do(req)
		errc <- err
	}()
	r := ts.nextReq(t)
	cancel()
	<-errc
	waitLog(t, ts.logs, "GET /hold") // the handler gave up on the client
	if !r.Resp.Gone() {
		t.Error("response not marked gone")
	}
	if ts.InFlight() != 1 {
		t.Errorf("InFlight %d while the app still runs", ts.InFlight())
	}
	ts.release()
	if err := ts.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ts.InFlight() != 0 {
		t.Errorf("InFlight %d after the app finished", ts.InFlight())
	}
}

func TestHTTPHead(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	resp, err := client(t).Head("http://" + ts.addr + "/env")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != 0 {
		t.Errorf("HEAD: %d, %q", resp.StatusCode, b)
	}
}

func TestHTTPMalformed(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	resp, _ := rawHTTP(t, ts.addr, "GARBAGE\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Errorf("garbage: %d", resp.StatusCode)
	}
	resp, _ = rawHTTP(t, ts.addr, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
	if resp.StatusCode != 431 && resp.StatusCode != 400 {
		t.Errorf("oversize header: %d", resp.StatusCode)
	}
	resp, _ = rawHTTP(t, ts.addr, "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Errorf("bad escape: %d", resp.StatusCode)
	}
	ts.noReq(t)
	if _, body := get(t, client(t), "http://"+ts.addr+"/ok"); body != "app:/ok" {
		t.Errorf("after malformed: %q", body)
	}
}

func TestHTTPKeepAlive(t *testing.T) {
	ts := startServer(t, HTTP, nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 3 {
		io.WriteString(c, "GET /n"+strconv.Itoa(i)+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "app:/n"+strconv.Itoa(i) {
			t.Fatalf("request %d: %q", i, b)
		}
	}
}

func TestHTTPUnixSocket(t *testing.T) {
	path := t.TempDir() + "/http.sock"
	ln, err := Listen(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	ts := startOn(t, ln, HTTP, nil)
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	_, body := get(t, c, "http://app.example:8080/x")
	if body != "app:/x" {
		t.Fatalf("body %q", body)
	}
	v := varsMap(ts.nextReq(t).Vars)
	if v["REMOTE_ADDR"] != "" || v["REMOTE_PORT"] != "" {
		t.Errorf("unix peer: REMOTE_ADDR %q REMOTE_PORT %q", v["REMOTE_ADDR"], v["REMOTE_PORT"])
	}
	if v["SERVER_NAME"] != "app.example" || v["SERVER_PORT"] != "8080" {
		t.Errorf("SERVER_NAME %q SERVER_PORT %q", v["SERVER_NAME"], v["SERVER_PORT"])
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := t.TempDir() + "/f"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHTTPSpoolFailure(t *testing.T) {
	ts := startServer(t, HTTP, func(c *Config) { c.PostBuffering = 10 })
	t.Setenv("TMPDIR", t.TempDir()+"/missing")
	resp, err := client(t).Post("http://"+ts.addr+"/echo", "text/plain", strings.NewReader(strings.Repeat("x", 100)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("status %d, want 500 when the body cannot be spooled", resp.StatusCode)
	}
	waitLog(t, ts.logs, "spooling request body")
	ts.noReq(t)
}
