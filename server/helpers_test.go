package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uwsgo/uwsgo/exchange"
)

// fakeHub answers requests from goroutines, by PATH_INFO, the way the
// real hub would through exchange.Response.
type fakeHub struct {
	seen chan *exchange.Request // every submitted request
	gate chan struct{}          // closed by a test to let /stream, /late, /hold go on
	file atomic.Value           // a file for /file (set while the loop runs)
}

func newFakeHub() *fakeHub {
	return &fakeHub{seen: make(chan *exchange.Request, 1000), gate: make(chan struct{})}
}

func (h *fakeHub) Submit(req *exchange.Request) {
	// Vars are the network plane's again once the response ends (the
	// next request on the connection refills them): keep a copy, as the
	// real hub keeps only the environ it makes of them.
	req.Vars = slices.Clone(req.Vars)
	h.seen <- req
	go h.serve(req)
}

func varsMap(vars []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return m
}

func readReqBody(req *exchange.Request) []byte {
	if req.BodyFile != nil {
		defer req.BodyFile.Close()
		b, _ := io.ReadAll(req.BodyFile)
		return b
	}
	return req.Body
}

func (h *fakeHub) serve(req *exchange.Request) {
	r := req.Resp
	r.SetStats(3, 2)
	head := func(status string, hs ...string) { r.SetHead(&exchange.Head{Status: status, Headers: hs}) }
	// whole ends a response in one step, as the hub does for a core that
	// finished: head, last output and end together.
	whole := func(status string, out []byte, err error, hs ...string) {
		r.End(exchange.Ending{Head: &exchange.Head{Status: status, Headers: hs}, Last: out, Err: err, Switches: -1})
	}
	body := readReqBody(req)
	switch p := varsMap(req.Vars)["PATH_INFO"]; p {
	case "/env":
		var b strings.Builder
		for i := 0; i+1 < len(req.Vars); i += 2 {
			fmt.Fprintf(&b, "%s=%s\n", req.Vars[i], req.Vars[i+1])
		}
		whole("200 OK", []byte(b.String()), nil, "Content-Type", "text/plain")
	case "/echo":
		whole("200 OK", body, nil, "X-Spooled", fmt.Sprint(req.BodyFile != nil), "Content-Length", fmt.Sprint(len(body)))
	case "/stream":
		head("200 OK", "Content-Type", "text/plain")
		r.Write([]byte("first;"), nil)
		<-h.gate
		r.Write([]byte("second"), nil)
		r.Finish(nil)
	case "/late", "/hold":
		<-h.gate
		head("200 OK")
		r.Write([]byte(p[1:]), nil)
		r.Finish(nil)
	case "/fail-early":
		r.Finish(errors.New("boom"))
	case "/fail-late":
		whole("200 OK", []byte("partial"), errors.New("boom"))
	case "/fail-streaming":
		head("200 OK")
		r.Write([]byte("partial"), nil)
		<-h.gate
		r.Finish(errors.New("boom"))
	case "/bad-status":
		head("abc")
		r.Write([]byte("x"), nil)
		r.Finish(nil)
	case "/file":
		head("200 OK", "Content-Type", "application/octet-stream")
		f1, _ := os.Open(h.file.Load().(string))
		f2, _ := os.Open(h.file.Load().(string))
		r.Write([]byte("<"), nil)
		r.SendFile(f1, 2, 5)
		r.Write([]byte(">"), nil)
		r.SendFile(f2, 0, -1)
		r.Finish(nil)
	case "/big":
		// More than exchange.HighWater: the producer must wait for the
		// client, as the hub parks a core.
		head("200 OK", "Content-Type", "application/octet-stream")
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for range bigChunks {
			drained := make(chan struct{})
			if r.Write(append([]byte(nil), chunk...), func() { close(drained) }) {
				<-drained
			}
		}
		r.Finish(nil)
	default:
		whole("200 OK", []byte("app:"+p), nil, "Content-Type", "text/plain")
	}
}

const bigChunks = 48 // 48 × 64 KiB = 3 MiB

// testLoop is an exchange.Loop without Python: an epoll loop on a locked
// thread, as the hub runs one, handing requests to a fakeHub.
type testLoop struct {
	hub   *fakeHub
	epfd  int
	efd   int
	plane exchange.Plane
	ready chan exchange.Plane
	quit  atomic.Bool
}

func startLoop(t *testing.T, hub *fakeHub) *testLoop {
	t.Helper()
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd), Pad: -1})
	l := &testLoop{hub: hub, epfd: epfd, efd: efd, ready: make(chan exchange.Plane, 1)}
	done := make(chan struct{})
	go l.run(done)
	t.Cleanup(func() {
		l.quit.Store(true)
		l.Wake()
		<-done
		unix.Close(epfd)
		unix.Close(efd)
	})
	return l
}

func (l *testLoop) run(done chan struct{}) {
	defer close(done)
	runtime.LockOSThread()
	l.plane = <-l.ready
	events := make([]unix.EpollEvent, 64)
	for !l.quit.Load() {
		n, err := unix.EpollWait(l.epfd, events, l.plane.Turn())
		if err != nil && err != unix.EINTR {
			panic(err)
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Pad == -1 {
				var b [8]byte
				unix.Read(l.efd, b[:])
				continue
			}
			l.plane.Ready(int(ev.Fd), ev.Events)
		}
	}
}

func (l *testLoop) Attach(p exchange.Plane) { l.ready <- p }
func (l *testLoop) Watch(fd int, events uint32) error {
	return unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)})
}
func (l *testLoop) Unwatch(fd int)               { unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil) }
func (l *testLoop) Forget(fd int)                {}
func (l *testLoop) HasFreeCore() bool            { return true }
func (l *testLoop) Submit(req *exchange.Request) { l.hub.Submit(req) }
func (l *testLoop) Wake() {
	one := [8]byte{1}
	unix.Write(l.efd, one[:])
}

// lineLog is a log destination that hands each line to the test.
type lineLog chan string

func (l lineLog) Write(p []byte) (int, error) {
	l <- strings.TrimRight(string(p), "\n")
	return len(p), nil
}

// waitLog returns the first line containing sub, skipping others.
func waitLog(t *testing.T, l lineLog, sub string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line := <-l:
			if strings.Contains(line, sub) {
				return line
			}
		case <-timeout:
			t.Fatalf("no log line containing %q", sub)
		}
	}
}

type testServer struct {
	*Server
	hub   *fakeHub
	logs  lineLog
	addr  string
	serve chan error // Serve's result
}

// startServer serves kind on a fresh loopback port.
func startServer(t *testing.T, kind Kind, tweak func(*Config)) *testServer {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", 16)
	if err != nil {
		t.Fatal(err)
	}
	return startOn(t, ln, kind, tweak)
}

func startOn(t *testing.T, ln net.Listener, kind Kind, tweak func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{hub: newFakeHub(), logs: make(lineLog, 1000), addr: ln.Addr().String(), serve: make(chan error, 1)}
	cfg := Config{Loop: startLoop(t, ts.hub), Logger: log.New(ts.logs, "", 0), PostBuffering: 64 << 10}
	if tweak != nil {
		tweak(&cfg)
	}
	ts.Server = New(cfg)
	go func() { ts.serve <- ts.Serve(ln, kind) }()
	t.Cleanup(func() {
		select {
		case <-ts.hub.gate:
		default:
			close(ts.hub.gate)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.serve; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// expectStreamed reads the fake hub's /stream body: "first;" must arrive
// while the app still waits on the gate (so only if it was flushed on
// its own), then "second" once the gate opens.
func expectStreamed(t *testing.T, ts *testServer, body io.Reader) {
	t.Helper()
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(body, first); err != nil || string(first) != "first;" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	ts.release()
	rest, err := io.ReadAll(body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

// release lets the fake hub's waiting handlers go on.
func (ts *testServer) release() { close(ts.hub.gate) }

// nextReq returns the next submitted request.
func (ts *testServer) nextReq(t *testing.T) *exchange.Request {
	t.Helper()
	select {
	case r := <-ts.hub.seen:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the hub")
		return nil
	}
}

// noReq checks that nothing was submitted.
func (ts *testServer) noReq(t *testing.T) {
	t.Helper()
	select {
	case r := <-ts.hub.seen:
		t.Fatalf("unexpected request reached the hub: %v", r.Vars)
	default:
	}
}

// client is an HTTP client of its own, so keep-alive never crosses tests.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(b)
}

// rawHTTP sends a request as bytes and reads the response.
func rawHTTP(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", req, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// uwsgiPacket encodes vars (k, v, k, v...) as nginx's uwsgi_pass does.
func uwsgiPacket(mod1 byte, vars ...string) []byte {
	var block []byte
	for _, s := range vars {
		block = binary.LittleEndian.AppendUint16(block, uint16(len(s)))
		block = append(block, s...)
	}
	p := []byte{mod1, 0, 0, 0}
	binary.LittleEndian.PutUint16(p[1:3], uint16(len(block)))
	return append(p, block...)
}

// getVars is a minimal nginx uwsgi_params set for a GET.
func getVars(path string, extra ...string) []string {
	v := []string{
		"QUERY_STRING", "", "REQUEST_METHOD", "GET", "CONTENT_TYPE", "", "CONTENT_LENGTH", "",
		"REQUEST_URI", path, "PATH_INFO", path, "DOCUMENT_ROOT", "/var/www",
		"SERVER_PROTOCOL", "HTTP/1.1", "REMOTE_ADDR", "10.0.0.7", "REMOTE_PORT", "40000",
		"SERVER_PORT", "80", "SERVER_NAME", "example.com", "HTTP_HOST", "example.com",
	}
	return append(v, extra...)
}

// uwsgiDial sends a packet (and body) and returns the open connection.
func uwsgiDial(t *testing.T, addr string, packet, body []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(append(append([]byte(nil), packet...), body...)); err != nil {
		t.Fatal(err)
	}
	return c
}

// uwsgiDo sends a request and parses the raw HTTP response that ends
// with the connection.
func uwsgiDo(t *testing.T, addr string, packet, body []byte) (*http.Response, string) {
	t.Helper()
	c := uwsgiDial(t, addr, packet, body)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading uwsgi response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading uwsgi response body: %v", err)
	}
	return resp, string(b)
}

// expectClosed checks the server closed c without answering.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if len(b) != 0 {
		t.Fatalf("server answered %q; want the connection closed", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open")
	}
}
