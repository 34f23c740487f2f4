package server

import (
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uwsgo/uwsgo/exchange"
)

type connState uint8

const (
	stHead   connState = iota // waiting for (the rest of) a request head
	stBody                    // reading a request body
	stApp                     // the request is with the app (or a static file); its response goes out
	stLinger                  // refused: our side is shut, what the client still sends is read and dropped
	stClosed                  // closed; only a request still with the app refers to it
)

// conn is one client connection. It lives on the loop's thread; its fd is
// in the epoll set edge-triggered for input, output and hang-up, so it
// costs no epoll_ctl per request.
type conn struct {
	s                    *Server
	fd                   int
	kind                 Kind
	ln                   *listener
	remoteIP, remotePort string
	state                connState
	deadline             time.Time // closed after this unless it is busy (zero)

	buf     []byte // read buffer, nil while not reading
	r, w    int    // unread bytes are buf[r:w]
	mayRead bool   // input arrived while we did not read: the socket may hold more
	inHead  bool   // a head began: its deadline runs from its first byte
	linger  bool   // refused: shut our side after the answer, then drain
	hup     bool   // the peer shut its side: read until EOF, no edge will come

	// the request in progress
	rl        reqLog
	method    string
	path      string // PATH_INFO, for static maps
	proto     string // protocol for the status line
	minor     int    // HTTP/1.minor
	keepAlive bool
	vars      []string
	varsBuf   []string // the last request's vars, emptied, for the next one on this connection
	scheme    string
	body      *bodyReader
	ref       *exchangeRef // the request with the app

	// its response
	headSent   bool
	finished   bool  // nothing more will be queued
	noBody     bool  // HEAD, 204, 304: the body is dropped
	chunked    bool  // chunked transfer coding
	clLeft     int64 // body bytes the head announced and we have not queued; -1: none announced
	closeAfter bool  // no keep-alive after this response
	cut        bool  // the response is incomplete: reset the connection
	quiet      bool  // answered by the server itself: no request log line
	out        []outItem
	headBuf    []byte // the last HTTP head, reused once it has been written
	iov        [][]byte
	iovecs     []syscall.Iovec
	writes     int // write calls for this response
	nodelay    bool
	watched    bool // in the epoll set

	ws *wsConn // switched to websocket mode by a 101 (websocket.go)
}

// outItem is one piece of output: bytes, or a span of a file to send.
type outItem struct {
	b      []byte
	f      *os.File
	off, n int64
	credit int // bytes to report to the producer once the item is out
}

// exchangeRef ties a response to the connection it goes to. When the
// client goes first, c is nil and the response is drained until the hub
// lets go of it.
type exchangeRef struct {
	s     *Server
	c     *conn
	resp  *exchange.Response
	done  bool // the hub let go (counted finished)
	dirty bool // queued in Server.dirty; guarded by Server.mu

	// where resp and the request point: one allocation per request
	respv exchange.Response
	req   exchange.Request
}

func (s *Server) newConn(fd int, l *listener, ip, port string) *conn {
	c := &conn{s: s, fd: fd, kind: l.kind, ln: l, clLeft: -1, remoteIP: ip, remotePort: port}
	c.deadline = time.Now().Add(c.timeout())
	return c
}

// watch puts the connection into the epoll set, edge-triggered for
// input, output and hang-up, once and for all.
func (c *conn) watch() {
	if c.watched || c.state == stClosed {
		return
	}
	if err := c.s.loop.Watch(c.fd, unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLRDHUP|unix.EPOLLET); err != nil {
		c.s.logger.Printf("cannot watch connection: %v", err)
		c.gone()
		return
	}
	c.watched = true
}

// event handles what epoll reported.
func (c *conn) event(ev uint32) {
	if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		c.gone()
		return
	}
	if ev&unix.EPOLLOUT != 0 && len(c.out) > 0 {
		c.flush()
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP) == 0 {
		return
	}
	if ev&unix.EPOLLRDHUP != 0 {
		c.hup = true
	}
	switch c.state {
	case stHead, stBody:
		c.readable()
	case stLinger:
		c.drainLinger()
	case stApp:
		if c.ws != nil {
			c.wsReadable()
			return
		}
		if ev&unix.EPOLLRDHUP != 0 {
			c.gone() // the client hung up before its answer
			return
		}
		c.mayRead = true
	}
}

// readable reads while the connection is reading a request. Edge
// triggered: a short read means the socket is drained.
func (c *conn) readable() {
	for c.state == stHead || c.state == stBody {
		if c.buf == nil {
			c.buf = c.s.getBuf()
		}
		if c.w == len(c.buf) && !c.makeRoom() {
			return
		}
		n, err := sysRead(c.fd, c.buf[c.w:])
		switch {
		case n > 0:
			full := c.w+n == len(c.buf)
			c.w += n
			c.mayRead = false
			if c.state == stBody || !c.inHead {
				// a head must come whole within the timeout; a body
				// must not stall for longer
				c.inHead = c.state == stHead
				c.deadline = time.Now().Add(c.timeout())
			}
			c.process()
			if !full && !c.hup {
				return
			}
			c.mayRead = true
		case err == nil:
			c.peerClosed()
			return
		case err == unix.EAGAIN:
			c.mayRead = false
			c.releaseBuf()
			return
		case err == unix.EINTR:
		default:
			c.close()
			return
		}
	}
}

// makeRoom frees buffer space: move unread bytes down, or grow the buffer
// for a big head. False when the head is over the limit (answered).
func (c *conn) makeRoom() bool {
	if c.r > 0 {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
		return true
	}
	limit := c.s.maxHead + 4096 // room for the request line, as net/http allows
	if c.kind == UWSGI {
		limit = 4 + c.s.cfg.BufferSize
	}
	if len(c.buf) >= limit {
		if c.kind == UWSGI {
			c.s.logger.Printf("uwsgi: %s: invalid request block size (max %d); closing", c.remoteIP, c.s.cfg.BufferSize)
			c.close()
		} else {
			c.reject(&httpError{431, "request header fields too large"})
		}
		return false
	}
	nb := make([]byte, min(2*len(c.buf), limit))
	c.w = copy(nb, c.buf[:c.w])
	c.s.putBuf(c.buf)
	c.buf = nb
	return true
}

func (c *conn) releaseBuf() {
	if c.buf != nil && c.r == c.w {
		c.s.putBuf(c.buf)
		c.buf, c.r, c.w = nil, 0, 0
	}
}

// peerClosed: the client closed its side while we read.
func (c *conn) peerClosed() {
	if c.state == stHead && c.kind == UWSGI && c.r < c.w {
		c.s.logger.Printf("uwsgi: %s: truncated uwsgi packet; closing", c.remoteIP)
	}
	if c.state == stBody {
		c.s.logger.Printf("%s %s %s: reading request body: %v", c.remoteIP, c.method, c.rl.uri, errShortBody)
	}
	c.close()
}

// process acts on the buffered bytes: parse a head, take body bytes,
// hand a complete request over.
func (c *conn) process() {
	for {
		switch c.state {
		case stHead:
			if c.r == c.w {
				return
			}
			var ok bool
			if c.kind == HTTP {
				ok = c.parseHTTP()
			} else {
				ok = c.parseUwsgi()
			}
			if !ok {
				return
			}
		case stBody:
			if c.body != nil {
				n, err := c.body.feed(c.buf[c.r:c.w])
				c.r += n
				if err != nil {
					c.bodyFailed(err)
					return
				}
				if !c.body.done {
					if c.r == c.w {
						c.r, c.w = 0, 0
					}
					return
				}
			}
			c.dispatch()
		default:
			return
		}
	}
}

// goOn continues a kept-alive connection after a response: bytes of the
// next request may be buffered or waiting in the socket.
func (c *conn) goOn() {
	if c.state != stHead {
		return
	}
	c.process()
	if c.state == stHead && c.mayRead {
		c.readable()
	}
}

// bodyFailed: the body could not be read or stored; nothing reaches the app.
func (c *conn) bodyFailed(err error) {
	c.s.logger.Printf("%s %s %s: reading request body: %v", c.remoteIP, c.method, c.rl.uri, err)
	c.body.discard()
	c.body = nil
	he, ok := err.(*httpError)
	switch {
	case ok:
	case c.kind == UWSGI:
		c.close()
		return
	default: // a spool error: ours, not the client's
		he = &httpError{500, err.Error()}
	}
	c.reject(he)
}

// timeout is how long a head may take, or a body may stall.
func (c *conn) timeout() time.Duration {
	if c.kind == UWSGI {
		return c.s.cfg.SocketTimeout
	}
	return c.s.cfg.HTTPTimeout
}

// timedOut: the connection is past its deadline. A head that began, or
// a body, gets a 408 on HTTP; an idle connection, or a uwsgi one, is
// closed.
func (c *conn) timedOut() {
	stalled := c.state == stBody || c.state == stHead && c.inHead && c.r < c.w
	if stalled {
		what := "head"
		if c.state == stBody {
			what = "body"
		}
		c.s.logger.Printf("%s: request %s not complete after %v; closing", c.remoteIP, what, c.timeout())
	}
	if stalled && c.kind == HTTP {
		if c.body != nil {
			c.body.discard()
			c.body = nil
		}
		c.reject(&httpError{408, "request timeout"})
		return
	}
	c.close()
}

// lingerClose shuts our side once a refusal is out, then reads and drops
// what the client still sends, for a while: closing with unread bytes
// would reset the connection, and the reset can destroy the answer
// before the client reads it.
func (c *conn) lingerClose() {
	if unix.Shutdown(c.fd, unix.SHUT_WR) != nil {
		c.close()
		return
	}
	c.state = stLinger
	c.deadline = time.Now().Add(lingerTimeout)
	c.r, c.w = 0, 0
	c.drainLinger()
}

// drainLinger reads and drops input until EOF (then closes) or EAGAIN.
func (c *conn) drainLinger() {
	if c.buf == nil {
		c.buf = c.s.getBuf()
	}
	for c.state == stLinger {
		n, err := sysRead(c.fd, c.buf)
		switch {
		case n > 0:
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
		default: // EOF or an error
			c.close()
			return
		}
	}
}

// dispatch hands the whole request to the app, or answers it from a
// static map.
func (c *conn) dispatch() {
	c.state = stApp
	c.deadline = time.Time{}
	var mem []byte
	var file *os.File
	if c.body != nil {
		if c.body.chunked {
			// the body is whole now: give the app its length (apps that
			// see no CONTENT_LENGTH read nothing)
			v := []string{"CONTENT_LENGTH", itoa(c.body.size)}
			c.vars = append(c.vars, v...)
			c.rl.countVars(v)
		}
		mem, file = c.body.take()
		c.body = nil
	}
	c.releaseBuf()
	if len(c.s.statics) > 0 && (c.method == "GET" || c.method == "HEAD") {
		if h := c.s.findStatic(c.path, c.s.cfg.StaticGzipAll && acceptsGzip(c.vars)); h.state != staticMiss {
			if file != nil {
				file.Close()
			}
			c.serveStatic(h)
			return
		}
	}
	ref := &exchangeRef{s: c.s, c: c}
	ref.respv.Init(func() { c.s.markDirty(ref) })
	ref.resp = &ref.respv
	c.ref = ref
	ref.req = exchange.Request{Vars: c.vars, Scheme: c.scheme, Body: mem, BodyFile: file, Resp: ref.resp, ConnFD: c.fd}
	c.s.submit(&ref.req)
}

// pump moves what the app produced into the output queue and writes it.
func (x *exchangeRef) pump() {
	if x.done {
		return
	}
	c := x.c
	if c == nil || c.ref != x {
		x.drain()
		return
	}
	b := x.resp.Take(c.headSent)
	if !c.headSent && b.Head != nil && isUpgradeHead(b.Head.Status) {
		c.upgrade(b.Head.Status, b.Head.Headers)
		c.headSent = true
	}
	if b.Done && b.Close {
		c.closeAfter = true // uwsgi.disconnect(): the app goes on without its client
	}
	if !c.headSent {
		switch {
		case b.Done && b.Close && b.Head == nil:
			// disconnected before start_response: nothing to answer
			closeFiles(b.Files)
			c.endExchange()
			c.finished = true
			c.flush()
			return
		case !b.Done && (b.Head == nil || len(b.Chunks) == 0 && len(b.Files) == 0):
			// The head waits for the first body bytes or the end: a
			// response that is whole by then gets a Content-Length.
			return
		case b.Head == nil || b.Err != nil && b.Done:
			// The app failed before any of its response left: a 500
			// says so better than a cut connection.
			c.rl.failed = b.Err != nil
			closeFiles(b.Files)
			c.endExchange()
			c.fail500()
			return
		}
		if err := c.queueHead(b.Head, b); err != nil {
			c.s.logger.Printf("bad response status %q: %v", b.Head.Status, err)
			closeFiles(b.Files)
			x.resp.Abandon()
			if b.Done {
				c.endExchange()
			} else {
				x.c = nil // drained on its own until the hub lets go
			}
			c.fail500()
			return
		}
		c.headSent = true
	}
	c.queueBody(b)
	if b.Done {
		c.endExchange()
		c.finished = true
		if c.ws != nil {
			c.wsAppDone(b.Err != nil)
		} else if b.Err != nil {
			c.rl.failed = true
			c.cut = true // the head is out and the body incomplete
		} else if c.chunked {
			c.out = append(c.out, outItem{b: lastChunk})
		}
		if c.clLeft > 0 {
			c.closeAfter = true // shorter than announced: the client must see the end
		}
	}
	c.flush()
	c.wsAfterPump()
}

// drain empties a response whose client is gone, until the hub lets go.
func (x *exchangeRef) drain() {
	b := x.resp.Take(true)
	closeFiles(b.Files)
	if b.Done {
		x.done = true
		x.s.finished()
	}
}

// endExchange: the hub is done with the request.
func (c *conn) endExchange() {
	x := c.ref
	c.rl.core, c.rl.switches = x.resp.Stats()
	c.rl.app = x.resp.App()
	c.rl.logVars, c.rl.logThis = x.resp.LogExtras()
	x.done = true
	c.ref = nil
	c.s.finished()
}

var lastChunk = []byte("0\r\n\r\n")

// queueBody queues a batch's chunks and files in order.
func (c *conn) queueBody(b exchange.Batch) {
	files := b.Files
	for i, ch := range b.Chunks {
		for len(files) > 0 && files[0].Seq <= i {
			c.queueFile(files[0])
			files = files[1:]
		}
		c.queueBytes(ch, len(ch))
	}
	for _, f := range files {
		c.queueFile(f)
	}
}

// queueBytes queues a body chunk, framed as the head said; credit is what
// the producer gets back once it is out.
func (c *conn) queueBytes(p []byte, credit int) {
	if c.noBody || c.clLeft == 0 {
		if credit > 0 {
			c.out = append(c.out, outItem{credit: credit})
		}
		return
	}
	if c.clLeft > 0 && int64(len(p)) > c.clLeft {
		p = p[:c.clLeft] // no more than announced
	}
	if c.clLeft > 0 {
		c.clLeft -= int64(len(p))
	}
	c.rl.bodyBytes += int64(len(p))
	if c.chunked {
		size := append(strconv.AppendInt(make([]byte, 0, 12), int64(len(p)), 16), '\r', '\n')
		c.out = append(c.out, outItem{b: size}, outItem{b: p, credit: credit}, outItem{b: crlf})
		return
	}
	c.out = append(c.out, outItem{b: p, credit: credit})
}

var crlf = []byte("\r\n")

// queueFile queues a file span (wsgi.file_wrapper, or a static file).
func (c *conn) queueFile(fs exchange.FileSpan) {
	n := fs.Count
	if fi, err := fs.File.Stat(); err == nil && fi.Mode().IsRegular() {
		if left := fi.Size() - fs.Offset; n < 0 || n > left {
			n = max(left, 0)
		}
	} else {
		// a pipe or socket: no sendfile, no size; read it here
		data := readAllFrom(fs.File, fs.Offset, n)
		fs.File.Close()
		c.queueBytes(data, 0)
		return
	}
	if c.noBody || c.clLeft == 0 || n == 0 {
		fs.File.Close()
		return
	}
	if c.clLeft > 0 && n > c.clLeft {
		n = c.clLeft
	}
	if c.clLeft > 0 {
		c.clLeft -= n
	}
	c.rl.bodyBytes += n
	if c.chunked {
		c.out = append(c.out, outItem{b: append(strconv.AppendInt(nil, n, 16), '\r', '\n')})
	}
	c.out = append(c.out, outItem{f: fs.File, off: fs.Offset, n: n})
	if c.chunked {
		c.out = append(c.out, outItem{b: crlf})
	}
}

// readAllFrom reads a file that cannot be sent with sendfile (a pipe):
// n bytes from off, or to the end when n < 0.
func readAllFrom(f *os.File, off, n int64) []byte {
	if off > 0 {
		f.Seek(off, io.SeekStart)
	}
	var r io.Reader = f
	if n >= 0 {
		r = io.LimitReader(f, n)
	}
	b, _ := io.ReadAll(r)
	return b
}

// parseChunkSize reads 1*HEXDIG (no sign, no 0x, at most 15 digits).
func parseChunkSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(c)
	}
	return n, true
}

// flush writes the output queue until it is empty or the socket is full
// (the EPOLLOUT edge brings us back).
func (c *conn) flush() {
	for len(c.out) > 0 && c.state != stClosed {
		if it := &c.out[0]; it.f != nil {
			if !c.sendFile(it) {
				return
			}
			continue
		}
		c.iov = c.iov[:0]
		for _, it := range c.out {
			if it.f != nil || len(c.iov) == 64 {
				break
			}
			if len(it.b) > 0 {
				c.iov = append(c.iov, it.b)
			}
		}
		if len(c.iov) == 0 {
			c.advance(0)
			continue
		}
		if c.writes > 0 && !c.nodelay {
			// A response in several writes: Nagle would hold the later
			// pieces back until the client acknowledges the first.
			unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			c.nodelay = true
		}
		c.writes++
		var n int
		var err error
		if len(c.iov) == 1 {
			n, err = sysWrite(c.fd, c.iov[0])
		} else {
			n, c.iovecs, err = sysWritev(c.fd, c.iov, c.iovecs)
		}
		if err == unix.EAGAIN {
			return
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			c.gone()
			return
		}
		c.advance(n)
	}
	if len(c.out) == 0 && c.state == stApp && c.ws != nil && c.ws.ending {
		c.wsEnd()
		return
	}
	if len(c.out) == 0 && c.finished && c.state == stApp {
		c.responseDone()
	}
}

// advance drops n written bytes from the queue, crediting the producer
// for each chunk that is out.
func (c *conn) advance(n int) {
	i := 0
	for ; i < len(c.out); i++ {
		it := &c.out[i]
		if it.f != nil {
			break
		}
		if n < len(it.b) {
			it.b = it.b[n:]
			break
		}
		n -= len(it.b)
		if it.credit > 0 && c.ref != nil {
			c.ref.resp.Consumed(it.credit)
		}
	}
	if i == len(c.out) {
		clear(c.out)
		c.out = c.out[:0] // all out: the next response appends to the same array
		return
	}
	clear(c.out[:i])
	c.out = c.out[i:]
}

// sendFile sends from a file span; false when the socket is full.
func (c *conn) sendFile(it *outItem) bool {
	for it.n > 0 {
		off := it.off
		n, err := unix.Sendfile(c.fd, int(it.f.Fd()), &off, int(min(it.n, 1<<30)))
		if err == unix.EAGAIN {
			return false
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			c.gone()
			return false
		}
		if n == 0 {
			// the file shrank: the announced length cannot be kept
			c.cut = true
			break
		}
		it.off += int64(n)
		it.n -= int64(n)
	}
	it.f.Close()
	c.out = c.out[1:]
	return true
}

// responseDone: the response is out. Log it, then keep the connection
// for the next request or close it.
func (c *conn) responseDone() {
	if !c.quiet {
		c.s.logRequest(c)
	}
	if c.cut {
		// only a reset tells the client the body is incomplete
		unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		c.close()
		return
	}
	if c.linger {
		c.lingerClose()
		return
	}
	if c.closeAfter || !c.keepAlive || c.kind == UWSGI || c.s.closing {
		c.close()
		return
	}
	c.reset()
	if c.r < c.w {
		c.inHead = true // the next head is here in part
		c.deadline = time.Now().Add(c.timeout())
	} else {
		c.deadline = time.Now().Add(idleTimeout)
	}
	if c.r < c.w || c.mayRead {
		c.s.resume = append(c.s.resume, c)
	} else {
		c.releaseBuf()
	}
}

// reset clears the request state for the next one on this connection.
func (c *conn) reset() {
	c.state, c.inHead = stHead, false
	c.rl = reqLog{}
	// The hub is done with the vars (it turned them into an environ when
	// the request started, and the request has ended): the next request
	// on this connection fills the same array.
	if cap(c.vars) <= 256 {
		clear(c.vars)
		c.varsBuf = c.vars[:0]
	}
	c.vars, c.body, c.ref = nil, nil, nil
	c.headSent, c.finished, c.noBody, c.chunked = false, false, false, false
	c.clLeft, c.closeAfter, c.cut, c.quiet, c.writes = -1, false, false, false, 0
	clear(c.out)
	c.out = c.out[:0]
}

// shutdown (Shutdown began): close an idle connection now; a busy one
// closes after its response. A connection that was accepted but has not
// been read yet gets one read, so a request already sent is served.
func (c *conn) shutdown() {
	if c.state == stLinger {
		c.close()
		return
	}
	if c.state == stHead && c.r == c.w {
		c.readable()
		if c.state == stHead && c.r == c.w {
			c.close()
		}
	}
}

// gone: the client went away or cannot be written to. The request's log
// line says what it got; close abandons the request.
func (c *conn) gone() {
	if c.state == stClosed {
		return
	}
	if c.state == stApp && !c.quiet {
		c.s.logRequest(c) // what the client got before it went
	}
	c.close()
}

// close closes the connection and forgets it. A request still with the
// app is abandoned: the app sees Gone, and its response is drained (and
// counted finished) from the next Turn on.
func (c *conn) close() {
	if c.state == stClosed {
		return
	}
	c.wsTell()
	if x := c.ref; x != nil && !c.finished {
		x.resp.Abandon()
		x.c = nil
		c.ref = nil
		c.s.markDirty(x)
	}
	c.state = stClosed
	if c.watched {
		c.s.loop.Forget(c.fd)
	}
	sysClose(c.fd)
	delete(c.s.conns, c.fd)
	if c.body != nil {
		c.body.discard()
		c.body = nil
	}
	for _, it := range c.out {
		if it.f != nil {
			it.f.Close()
		}
	}
	c.out = nil
	if c.buf != nil {
		c.s.putBuf(c.buf)
		c.buf = nil
	}
	c.s.checkDrained()
}

func closeFiles(fs []exchange.FileSpan) {
	for _, f := range fs {
		f.File.Close()
	}
}
