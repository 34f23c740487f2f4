package server

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uwsgo/uwsgo/exchange"
)

// Buffers are reused: a uwsgi connection carries a single request, so
// per-connection buffers would be per-request garbage.
var (
	uwsgiReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	uwsgiWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}
)

// uwsgiConn is one uwsgi-protocol connection: one request, one response,
// then close (what nginx's uwsgi_pass expects).
type uwsgiConn struct {
	conn   net.Conn
	active bool // a request has started arriving; guarded by Server.mu
	closed bool // closed by Shutdown before any byte came; guarded by Server.mu
}

// closeIfIdle closes a connection that has not sent a byte yet; called
// under Server.mu.
func (c *uwsgiConn) closeIfIdle() {
	if !c.active && !c.closed {
		c.closed = true
		c.conn.Close()
	}
}

func (s *Server) serveUwsgi(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	err := s.acceptLoop(ln, s.handleUwsgi)
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
	return err
}

// track registers a new connection; false when shutting down.
func (s *Server) track(c *uwsgiConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// activate marks the connection busy so Shutdown waits for it; false when
// Shutdown already closed it.
func (s *Server) activate(c *uwsgiConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return false
	}
	c.active = true
	s.active++
	return true
}

func (s *Server) untrack(c *uwsgiConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if c.active {
		s.active--
		if s.active == 0 {
			s.wakeIdle()
		}
	}
}

func (s *Server) handleUwsgi(nc net.Conn) {
	c := &uwsgiConn{conn: nc}
	defer nc.Close()
	if !s.track(c) {
		return
	}
	defer s.untrack(c)

	nc.SetReadDeadline(time.Now().Add(readHeaderTimeout))
	br := uwsgiReaders.Get().(*bufio.Reader)
	br.Reset(nc)
	defer func() { br.Reset(nil); uwsgiReaders.Put(br) }()
	if _, err := br.Peek(1); err != nil || !s.activate(c) {
		return // closed without a request (a health check) or by Shutdown
	}
	start := time.Now()
	vars, size, err := readUwsgiPacket(br, s.cfg.BufferSize)
	if err != nil {
		s.logger.Printf("uwsgi: %s: %v; closing", nc.RemoteAddr(), err)
		return
	}
	nc.SetReadDeadline(time.Time{})

	v := lookupVars(vars, "REQUEST_METHOD", "PATH_INFO", "REQUEST_URI", "QUERY_STRING",
		"SERVER_PROTOCOL", "CONTENT_LENGTH", "REMOTE_ADDR", "REMOTE_USER", "HTTPS", "UWSGI_SCHEME")
	method, pathInfo, uri, proto := v[0], v[1], v[2], statusProto(v[4])
	if uri == "" {
		uri = pathInfo
		if v[3] != "" {
			uri += "?" + v[3]
		}
	}
	rl := reqLog{
		start: start, remote: v[6], user: v[7], method: method, uri: uri, proto: proto,
		vars: len(vars) / 2, varsBytes: size,
	}
	bw := uwsgiWriters.Get().(*bufio.Writer)
	bw.Reset(nc)
	defer func() { bw.Reset(nil); uwsgiWriters.Put(bw) }()

	if len(s.statics) > 0 && (method == http.MethodGet || method == http.MethodHead) {
		if h := s.findStatic(pathInfo); h.state != staticMiss {
			s.serveStaticUwsgi(nc, bw, vars, method, pathInfo, proto, h, &rl)
			return
		}
	}

	clen, err := parseContentLength(v[5])
	if err != nil {
		s.logger.Printf("uwsgi: %s %s %s: %v; closing", rl.remote, method, uri, err)
		return
	}
	b, err := readBody(br, clen, s.cfg.PostBuffering)
	if err != nil {
		s.logger.Printf("uwsgi: %s %s %s: reading request body: %v; closing", rl.remote, method, uri, err)
		return
	}

	// After the body nothing more comes: a read that returns means the
	// peer closed (nginx does when its client aborts).
	gone := make(chan struct{})
	go func() {
		var buf [512]byte
		for {
			if _, err := nc.Read(buf[:]); err != nil {
				close(gone)
				return
			}
		}
	}()

	resp := exchange.NewResponse()
	s.submit(&exchange.Request{
		Vars: vars, Scheme: uwsgiScheme(v[8], v[9]), Body: b.mem, BodyFile: b.file, Resp: resp,
	})
	sk := &rawSink{conn: nc, bw: bw, proto: proto}
	out := s.pump(gone, resp, sk)
	rl.status, rl.bodyBytes, rl.headers, rl.headerBytes = sk.code, sk.n, sk.nh, sk.hb
	switch out {
	case pumpOK:
		bw.Flush()
	case pumpFailedNoHead:
		rl.status = http.StatusInternalServerError
		const msg = "Internal Server Error\n"
		writeRawHead(bw, proto, "500 Internal Server Error",
			[]string{"Content-Type", "text/plain; charset=utf-8", "Content-Length", strconv.Itoa(len(msg))})
		bw.WriteString(msg)
		bw.Flush()
	case pumpFailedAfterHead:
		// End with a reset, not a FIN, so nginx knows the body is cut.
		bw.Flush()
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	}
	rl.core, rl.switches = resp.Stats() // the switches are known once done
	s.logRequest(&rl)
}

// serveStaticUwsgi answers a static hit with http.ServeContent writing raw
// HTTP on the connection.
func (s *Server) serveStaticUwsgi(nc net.Conn, bw *bufio.Writer, vars []string, method, pathInfo, proto string, h staticHit, rl *reqLog) {
	req := &http.Request{
		Method: method, URL: &url.URL{Path: pathInfo}, Proto: proto,
		Header: headerFromVars(vars), RequestURI: rl.uri,
	}
	w := &rawResponseWriter{conn: nc, bw: bw, proto: proto, hdr: http.Header{}}
	serveStatic(w, req, h)
	w.WriteHeader(http.StatusOK) // a zero-length file writes nothing
	bw.Flush()
	rl.status, rl.bodyBytes = w.code, w.n
	rl.headers, rl.headerBytes = countHeaders(proto, w.code, w.hdr)
	s.logRequest(rl)
}

// rawSink writes a response as raw HTTP on a uwsgi connection: no chunked
// encoding, the end of the body is the end of the connection.
type rawSink struct {
	conn  net.Conn
	bw    *bufio.Writer
	proto string
	code  int
	n     int64
	nh    int
	hb    int
}

func (k *rawSink) head(h *exchange.Head) error {
	code, err := statusCode(h.Status)
	if err != nil {
		return err
	}
	k.code = code
	k.nh, k.hb = len(h.Headers)/2, headBytes(k.proto, h.Status, h.Headers)
	writeRawHead(k.bw, k.proto, h.Status, h.Headers)
	return nil
}

func (k *rawSink) write(p []byte) error {
	n, err := k.bw.Write(p)
	k.n += int64(n)
	return err
}

func (k *rawSink) sendFile(fs exchange.FileSpan) error {
	if err := k.bw.Flush(); err != nil {
		return err
	}
	n, err := copyFileSpan(k.conn, fs) // TCPConn.ReadFrom: sendfile
	k.n += n
	return err
}

func (k *rawSink) flush() error { return k.bw.Flush() }

// lookupVars returns the values of keys (first occurrence), "" if absent.
func lookupVars(vars []string, keys ...string) []string {
	out := make([]string, len(keys))
	found := make([]bool, len(keys))
	for i := 0; i+1 < len(vars); i += 2 {
		for j, k := range keys {
			if !found[j] && vars[i] == k {
				out[j], found[j] = vars[i+1], true
			}
		}
	}
	return out
}

// parseContentLength reads CONTENT_LENGTH; nginx sends it empty for a
// request without a body.
func parseContentLength(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, &strconv.NumError{Func: "CONTENT_LENGTH", Num: s, Err: strconv.ErrSyntax}
	}
	return n, nil
}

// uwsgiScheme follows uWSGI: UWSGI_SCHEME wins, then HTTPS=on/1.
func uwsgiScheme(https, scheme string) string {
	if scheme != "" {
		return scheme
	}
	if strings.EqualFold(https, "on") || https == "1" {
		return "https"
	}
	return "http"
}

// statusProto picks the protocol for the status line from
// SERVER_PROTOCOL, falling back to HTTP/1.1 for anything odd.
func statusProto(p string) string {
	if strings.HasPrefix(p, "HTTP/") && len(p) <= 16 && !strings.ContainsAny(p, " \r\n") {
		return p
	}
	return "HTTP/1.1"
}

// headerFromVars rebuilds request headers from HTTP_* vars (for
// http.ServeContent: Range, If-Modified-Since...).
func headerFromVars(vars []string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(vars); i += 2 {
		k, ok := strings.CutPrefix(vars[i], "HTTP_")
		if !ok {
			continue
		}
		h.Add(strings.ReplaceAll(k, "_", "-"), vars[i+1])
	}
	return h
}
