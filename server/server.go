// Package server is the network plane: listeners, the HTTP/1.1 and uwsgi
// protocol front ends, request bodies, static files and the request log.
// It runs on an exchange.Loop (the hub's thread, in uwsgo): one epoll set
// holds the listeners, the client connections and the fds the apps wait
// on, so a request is accepted, read, run and answered on one thread,
// with non-blocking system calls and no goroutine per connection. It
// talks to the Python side only through exchange.
package server

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uwsgo/uwsgo/exchange"
)

// Kind is the protocol a listener speaks.
type Kind int

const (
	UWSGI Kind = iota // uwsgi binary protocol, as nginx uwsgi_pass speaks it
	HTTP              // HTTP/1.1
)

// Defaults applied by New when the Config leaves a field at zero.
const (
	DefaultBufferSize    = 4096             // uWSGI's --buffer-size
	DefaultPostBuffering = 1 << 20          // matches config's --post-buffering default
	minHTTPHeaderBytes   = 8192             // 4 KiB of headers is too little for browsers' cookies
	DefaultMaxVars       = 64               // uWSGI's --max-vars
	DefaultHTTPTimeout   = 60 * time.Second // uWSGI's --http-timeout
	DefaultSocketTimeout = 4 * time.Second  // uWSGI's --socket-timeout
	idleTimeout          = 120 * time.Second
	lingerTimeout        = 2 * time.Second // reading what follows a refused request
	readBufferSize       = 8192            // a connection's read buffer, taken while it reads
	// Accepts per wake-up: a burst is taken in one turn (its requests run
	// together). Workers sharing a uwsgi socket watch it with
	// EPOLLEXCLUSIVE (see listenEvents), so a new connection wakes one
	// idle worker; on an HTTP socket every idle worker wakes, as in uWSGI.
	maxAcceptsPerEvent = 16
)

// ErrServerClosed is returned by Serve when called after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Config is what a Server needs from the command line.
type Config struct {
	Loop          exchange.Loop
	StaticMaps    []StaticMap // parsed from --static-map /mount=dir
	StaticIndex   []string    // --static-index names, e.g. index.html
	BufferSize    int         // max uwsgi packet vars size; HTTP header limit is max(BufferSize, 8192)
	PostBuffering int         // body bytes kept in memory; larger bodies are spooled to a file
	LimitPost     int64       // most request body bytes (413 past it); 0: no limit
	MaxVars       int         // most header fields (HTTP) or vars (uwsgi packet): 431 past it
	// A head must arrive whole, and a body must not stall, within these
	// (HTTP: 408; uwsgi: closed).
	HTTPTimeout    time.Duration
	SocketTimeout  time.Duration
	Logger         *log.Logger // request and error log (stderr when nil)
	DisableLogging bool        // no request lines (errors are still logged)
	RequestLog     RequestLog  // request line format, destination, conditional logging
	WorkerID       int         // which worker this is (uWSGI's line has no field for it)
	AddHeaders     []string    // --add-header: name, value, ... added to every response
	StaticExpires  []ExpiresRule
	StaticGzipAll  bool // --static-gzip-all: FILE.gz for FILE when the client takes gzip
	MemoryReport   bool // --memory-report: each request line starts with the worker's memory
	// OnRequest, if set, is told of every request when its response is
	// out (or its client gone), on the loop's thread: the stats.
	OnRequest func(RequestDone)
	// SharedListeners: other workers accept on the same sockets, so a
	// worker without a free core stops accepting and leaves new
	// connections to them. A lone worker keeps accepting: its queue is
	// no worse than the kernel's backlog, and static files need no core.
	SharedListeners bool
	// Websockets: the largest message (--websockets-max-size, in bytes),
	// how often to ping (--websockets-ping-freq; < 0: never) and how
	// long to wait for the pong (--websockets-pong-tolerance). 0: uWSGI's
	// defaults.
	WSMaxSize       int64
	WSPingFreq      time.Duration
	WSPongTolerance time.Duration
}

// Server serves requests from any number of listeners.
type Server struct {
	cfg     Config
	statics []StaticMap // longest mount first
	logger  *log.Logger
	pid     int
	loop    exchange.Loop
	maxHead int // HTTP head limit
	// websockets (websocket.go)
	wsMaxSize                   int64
	wsPingFreq, wsPongTolerance time.Duration
	lim                         headLimits

	reqOut    io.Writer  // request lines
	logFormat *LogFormat // nil: uWSGI's default line

	inflight atomic.Int64  // submitted, not finished by the hub
	reqs     atomic.Uint64 // requests seen by this worker

	// Used on the loop's thread only.
	lns       map[int]*listener
	conns     map[int]*conn
	freeBufs  [][]byte
	headVars  []string // parseHTTP's scratch for header fields (one loop, one head at a time)
	names     nameCache
	resume    []*conn // connections with bytes to go on with
	unwatched []*conn // accepted this turn, not in the epoll set yet
	closing   bool    // Shutdown began: no keep-alive, no accepts
	nextSweep time.Time
	retryAt   time.Time // listeners paused by EMFILE come back then
	paused    []*listener
	full      bool // no free core: the listeners are out of the epoll set
	date      dateCache
	logBuf    []byte // the request line being written

	// Shared with other goroutines.
	work    atomic.Bool // pending or dirty is non-empty
	mu      sync.Mutex
	pending []func()       // to run on the loop's thread
	dirty   []*exchangeRef // responses with news
	spare   []*exchangeRef // the other half of dirty's double buffer
	closed  bool           // Shutdown was called
	drained chan struct{}  // closed on the loop once closing with no connection or request left
}

// listener is one listening socket on the loop.
type listener struct {
	fd     int
	kind   Kind
	ip     string // "" for unix sockets and wildcard binds
	port   string
	done   chan struct{} // closed when the loop stops accepting on it
	paused bool
}

// totalReqs counts requests across every Server in the process, for the
// second number of the log line's "req: a/b".
var totalReqs atomic.Uint64

// New makes a Server and attaches it to cfg.Loop; it listens on nothing.
func New(cfg Config) *Server {
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	if cfg.PostBuffering <= 0 {
		cfg.PostBuffering = DefaultPostBuffering
	}
	if cfg.MaxVars <= 0 {
		cfg.MaxVars = DefaultMaxVars
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = DefaultHTTPTimeout
	}
	if cfg.SocketTimeout <= 0 {
		cfg.SocketTimeout = DefaultSocketTimeout
	}
	lg := cfg.Logger
	if lg == nil {
		lg = log.New(os.Stderr, "", 0)
	}
	s := &Server{
		cfg:     cfg,
		statics: sortStaticMaps(cfg.StaticMaps),
		logger:  lg,
		pid:     os.Getpid(),
		loop:    cfg.Loop,
		maxHead: max(cfg.BufferSize, minHTTPHeaderBytes),
		lim:     headLimits{bytes: max(cfg.BufferSize, minHTTPHeaderBytes), fields: cfg.MaxVars},
		lns:     map[int]*listener{},
		conns:   map[int]*conn{},
		names:   nameCache{},
		drained: make(chan struct{}),
	}
	s.wsMaxSize, s.wsPingFreq, s.wsPongTolerance = cfg.WSMaxSize, cfg.WSPingFreq, cfg.WSPongTolerance
	if s.wsMaxSize <= 0 {
		s.wsMaxSize = DefaultWSMaxSize
	}
	if s.wsPingFreq == 0 {
		s.wsPingFreq = DefaultWSPingFreq
	}
	if s.wsPongTolerance <= 0 {
		s.wsPongTolerance = DefaultWSPongTolerance
	}
	s.reqOut = cfg.RequestLog.Out
	if s.reqOut == nil {
		s.reqOut = lg.Writer()
	}
	if cfg.RequestLog.Format != "" {
		s.logFormat = CompileLogFormat(cfg.RequestLog.Format)
	}
	s.loop.Attach(s)
	return s
}

// InFlight returns the number of requests submitted and not yet finished.
func (s *Server) InFlight() int { return int(s.inflight.Load()) }

// Serve accepts on ln until Shutdown or StopAccepting, then returns nil.
// ln is taken over: its socket moves to the loop and ln is closed.
func (s *Server) Serve(ln net.Listener, kind Kind) error {
	fd, err := DetachListener(ln)
	if err != nil {
		return err
	}
	return s.ServeFD(fd, kind)
}

// ServeFD is Serve on a listening socket already taken from its
// net.Listener by DetachListener (uwsgi.sockets names these fds before
// the app loads). The fd is the server's from here on.
func (s *Server) ServeFD(fd int, kind Kind) error {
	l := &listener{fd: fd, kind: kind, done: make(chan struct{})}
	l.ip, l.port = listenerAddr(fd)
	if !s.onLoop(func() { s.addListener(l) }) {
		unix.Close(fd)
		return ErrServerClosed
	}
	<-l.done
	return nil
}

// DetachListener takes a duplicate of ln's socket (non-blocking) and
// closes ln, so that Go's own poller lets go of it.
func DetachListener(ln net.Listener) (int, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return -1, errors.New("server: listener has no file descriptor")
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the socket lives on in the copy
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) {
		fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	ln.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// listenerAddr gives the bound address as SERVER_NAME/SERVER_PORT need it.
func listenerAddr(fd int) (ip, port string) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", ""
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		if a.Addr != [4]byte{} {
			ip = net.IP(a.Addr[:]).String()
		}
		return ip, strconv.Itoa(a.Port)
	case *unix.SockaddrInet6:
		if a.Addr != [16]byte{} {
			ip = net.IP(a.Addr[:]).String()
		}
		return ip, strconv.Itoa(a.Port)
	}
	return "", ""
}

// onLoop runs fn on the loop's thread soon; false once Shutdown began.
func (s *Server) onLoop(fn func()) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.pending = append(s.pending, fn)
	s.mu.Unlock()
	s.work.Store(true)
	s.loop.Wake()
	return true
}

func (s *Server) addListener(l *listener) {
	s.lns[l.fd] = l
	if s.full {
		return // watched when a core frees
	}
	if err := s.loop.Watch(l.fd, s.listenEvents(l)); err != nil {
		delete(s.lns, l.fd)
		s.logger.Printf("cannot watch listening socket: %v", err)
		unix.Close(l.fd)
		close(l.done)
		return
	}
}

// listenEvents is how a listener is watched. Workers that share a uwsgi
// protocol listener (nginx's uwsgi_pass: a connection per request) use
// EPOLLEXCLUSIVE: the kernel then wakes one of the workers sleeping in
// epoll_wait for a new connection, not all of them (the others found
// nothing to accept: measured behind nginx with 2 workers, 0.22 failed
// accept4, 0.35 epoll_wait and 0.16 futex more per request). A worker
// that is busy, not in epoll_wait, is passed over, and still sees the
// connection when it next polls; one whose cores fill up unwatches the
// listener and rejoins at the end of the kernel's queue. HTTP listeners
// keep waking every idle worker: a keep-alive connection stays with the
// worker that took it, and the kernel's choice would be the same idle
// worker every time, so one worker could end up with every client.
func (s *Server) listenEvents(l *listener) uint32 {
	if s.cfg.SharedListeners && l.kind == UWSGI {
		return unix.EPOLLIN | unix.EPOLLEXCLUSIVE
	}
	return unix.EPOLLIN
}

// StopAccepting closes every listener (their Serve calls return); the
// connections already accepted are served on.
func (s *Server) StopAccepting() {
	s.onLoop(s.closeListeners)
}

func (s *Server) closeListeners() {
	for fd, l := range s.lns {
		s.loop.Forget(fd)
		unix.Close(fd) // also leaves the epoll set
		delete(s.lns, fd)
		close(l.done)
	}
	s.paused = nil
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish (bounded by ctx; keep-alive ends after them), then
// returns. When ctx ends first, the remaining connections are cut and
// ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.waitDrained(ctx)
	}
	s.pending = append(s.pending, s.beginShutdown)
	s.closed = true
	s.mu.Unlock()
	s.work.Store(true)
	s.loop.Wake()
	return s.waitDrained(ctx)
}

func (s *Server) waitDrained(ctx context.Context) error {
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.pending = append(s.pending, func() { s.forceClose(); close(done) })
	s.mu.Unlock()
	s.work.Store(true)
	s.loop.Wake()
	select {
	case <-done:
	case <-time.After(time.Second): // the loop is stuck in the app
	}
	return ctx.Err()
}

func (s *Server) beginShutdown() {
	s.closing = true
	s.closeListeners()
	for _, c := range s.conns {
		c.shutdown()
	}
	s.checkDrained()
}

func (s *Server) forceClose() {
	for _, c := range s.conns {
		c.gone()
	}
}

// checkDrained closes drained once shutting down with nothing left.
func (s *Server) checkDrained() {
	if !s.closing || len(s.conns) > 0 || s.inflight.Load() > 0 {
		return
	}
	select {
	case <-s.drained:
	default:
		close(s.drained)
	}
}

// Ready handles epoll events for a listener or a connection.
func (s *Server) Ready(fd int, events uint32) {
	if c := s.conns[fd]; c != nil {
		c.event(events)
	} else if l := s.lns[fd]; l != nil {
		s.accept(l)
	}
}

// Turn runs posted work, writes out responses with news, goes on with
// connections that have bytes left, and closes connections past their
// deadline.
func (s *Server) Turn() int {
	if s.work.Load() {
		s.work.Store(false)
		s.mu.Lock()
		pending := s.pending
		s.pending = nil
		dirty := s.dirty
		s.dirty = s.spare[:0]
		for _, x := range dirty {
			x.dirty = false
		}
		s.mu.Unlock()
		for _, fn := range pending {
			fn()
		}
		for _, x := range dirty {
			x.pump()
		}
		s.spare = dirty
	}
	for len(s.resume) > 0 {
		r := s.resume
		s.resume = nil
		for _, c := range r {
			c.goOn()
		}
	}
	s.watchNew()
	s.checkFull()
	return s.sweep()
}

// sweep closes connections past their deadline, once a second; it
// returns how long until it is due again.
func (s *Server) sweep() int {
	if len(s.conns) == 0 && len(s.paused) == 0 {
		return -1
	}
	now := time.Now()
	if now.Before(s.nextSweep) {
		return int(s.nextSweep.Sub(now)/time.Millisecond) + 1
	}
	s.nextSweep = now.Add(time.Second)
	for _, c := range s.conns {
		if !c.deadline.IsZero() && now.After(c.deadline) {
			c.timedOut()
		} else if c.ws != nil && c.state == stApp {
			c.wsTick(now)
		}
	}
	if len(s.paused) > 0 && !now.Before(s.retryAt) {
		for _, l := range s.paused {
			l.paused = false
			if !s.full {
				s.loop.Watch(l.fd, s.listenEvents(l))
			}
		}
		s.paused = nil
	}
	s.checkDrained()
	return 1000
}

// checkFull stops accepting while the app has no free core and starts
// again when one frees: a connection accepted meanwhile would only wait
// in this worker's queue, while another worker may be idle. (It costs an
// epoll_ctl per listener at each change, only at saturation.)
func (s *Server) checkFull() {
	if !s.cfg.SharedListeners {
		return
	}
	full := !s.loop.HasFreeCore()
	if full == s.full || len(s.lns) == 0 {
		return
	}
	s.full = full
	for _, l := range s.lns {
		if l.paused {
			continue // EMFILE's pause brings it back
		}
		if full {
			s.loop.Unwatch(l.fd)
		} else {
			s.loop.Watch(l.fd, s.listenEvents(l))
		}
	}
}

// accept takes new connections; each is read at once (a client usually
// sends its request with or right after the handshake).
func (s *Server) accept(l *listener) {
	for range maxAcceptsPerEvent {
		if s.full || s.cfg.SharedListeners && !s.loop.HasFreeCore() {
			return // checkFull pauses the listener at the end of the turn
		}
		fd, ip, port, err := sysAccept4(l.fd)
		if err != nil {
			switch err {
			case syscall.EAGAIN, syscall.EINTR, syscall.ECONNABORTED:
			case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
				// Level-triggered: stop watching for a while rather
				// than spin on a queue we cannot take from.
				s.logger.Printf("accept error: %v; retrying in 100ms", err)
				s.loop.Unwatch(l.fd)
				l.paused = true
				s.paused = append(s.paused, l)
				s.retryAt = time.Now().Add(100 * time.Millisecond)
			default:
				s.logger.Printf("accept error: %v", err)
			}
			return
		}
		c := s.newConn(fd, l, ip, port)
		s.conns[fd] = c
		c.readable()
		if c.state != stClosed {
			s.unwatched = append(s.unwatched, c)
		}
	}
}

// watchNew puts the connections accepted this turn that are still open
// into the epoll set. Most uwsgi requests are read, run and answered in
// the turn they arrive, and never cost an epoll_ctl.
func (s *Server) watchNew() {
	for _, c := range s.unwatched {
		c.watch()
	}
	clear(s.unwatched)
	s.unwatched = s.unwatched[:0]
}

// getBuf and putBuf recycle read buffers: a connection holds one only
// while it reads a request, so idle and parked connections cost little.
func (s *Server) getBuf() []byte {
	if n := len(s.freeBufs); n > 0 {
		b := s.freeBufs[n-1]
		s.freeBufs = s.freeBufs[:n-1]
		return b
	}
	return make([]byte, readBufferSize)
}

func (s *Server) putBuf(b []byte) {
	if cap(b) == readBufferSize && len(s.freeBufs) < 256 {
		s.freeBufs = append(s.freeBufs, b[:readBufferSize])
	}
}

// keepHeadVars takes back parseHTTP's scratch slice (its strings are
// copied out by then) for the next head.
func (s *Server) keepHeadVars(v []string) {
	if v != nil && cap(v) <= 512 {
		clear(v)
		s.headVars = v[:0]
	}
}

// markDirty queues a response with news for the next Turn; any goroutine.
func (s *Server) markDirty(x *exchangeRef) {
	s.mu.Lock()
	if !x.dirty {
		x.dirty = true
		s.dirty = append(s.dirty, x)
	}
	s.mu.Unlock()
	s.work.Store(true)
	s.loop.Wake()
}

// submit hands a request to the Python side and counts it in flight.
func (s *Server) submit(req *exchange.Request) {
	s.inflight.Add(1)
	s.loop.Submit(req)
}

// finished marks a submitted request as let go by the hub.
func (s *Server) finished() {
	s.inflight.Add(-1)
	s.checkDrained()
}
