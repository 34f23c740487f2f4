// Package server is the network plane: listeners, the HTTP/1.1 and uwsgi
// protocol front ends, request body buffering, static files and the
// request log. It talks to the Python side only through exchange.
package server

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

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
	DefaultBufferSize    = 4096    // uWSGI's --buffer-size
	DefaultPostBuffering = 1 << 20 // matches config's --post-buffering default
	minHTTPHeaderBytes   = 8192    // 4 KiB of headers is too little for browsers' cookies
	readHeaderTimeout    = 30 * time.Second
	idleTimeout          = 120 * time.Second
)

// ErrServerClosed is returned by Serve when called after Shutdown.
var ErrServerClosed = http.ErrServerClosed

// Config is what a Server needs from the command line.
type Config struct {
	Mailbox        exchange.Mailbox
	StaticMaps     []StaticMap // parsed from --static-map /mount=dir
	StaticIndex    []string    // --static-index names, e.g. index.html
	BufferSize     int         // max uwsgi packet vars size; HTTP header limit is max(BufferSize, 8192)
	PostBuffering  int         // body bytes kept in memory; larger bodies are spooled to a file
	Logger         *log.Logger // request and error log (stderr when nil)
	DisableLogging bool        // no request lines (errors are still logged)
	WorkerID       int         // which worker this is (uWSGI's line has no field for it)
}

// Server serves requests from any number of listeners.
type Server struct {
	cfg     Config
	statics []StaticMap // longest mount first
	logger  *log.Logger
	pid     int

	inflight atomic.Int64  // submitted, not finished by the hub
	reqs     atomic.Uint64 // requests seen by this worker

	mu        sync.Mutex
	closed    bool
	httpSrvs  map[*http.Server]struct{}
	listeners map[net.Listener]struct{} // uwsgi listeners
	conns     map[*uwsgiConn]struct{}   // open uwsgi connections
	active    int                       // uwsgi connections that started a request
	idle      chan struct{}             // closed and replaced whenever a count drops to zero
}

// totalReqs counts requests across every Server in the process, for the
// second number of the log line's "req: a/b".
var totalReqs atomic.Uint64

// New makes a Server; it starts nothing.
func New(cfg Config) *Server {
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	if cfg.PostBuffering <= 0 {
		cfg.PostBuffering = DefaultPostBuffering
	}
	lg := cfg.Logger
	if lg == nil {
		lg = log.New(os.Stderr, "", 0)
	}
	return &Server{
		cfg:       cfg,
		statics:   sortStaticMaps(cfg.StaticMaps),
		logger:    lg,
		pid:       os.Getpid(),
		httpSrvs:  map[*http.Server]struct{}{},
		listeners: map[net.Listener]struct{}{},
		conns:     map[*uwsgiConn]struct{}{},
		idle:      make(chan struct{}),
	}
}

// InFlight returns the number of requests submitted and not yet finished.
func (s *Server) InFlight() int { return int(s.inflight.Load()) }

// Serve accepts on ln until Shutdown; each connection gets its own
// goroutine. It returns nil after Shutdown, or the accept error.
func (s *Server) Serve(ln net.Listener, kind Kind) error {
	switch kind {
	case HTTP:
		return s.serveHTTP(ln)
	case UWSGI:
		return s.serveUwsgi(ln)
	}
	ln.Close()
	return errors.New("server: unknown listener kind")
}

// Shutdown stops accepting on every listener, lets in-flight requests
// finish (bounded by ctx), then returns. When ctx ends first, remaining
// connections are cut and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.closeIfIdle() // accepted but nothing read yet: nobody waits for it
	}
	srvs := make([]*http.Server, 0, len(s.httpSrvs))
	for hs := range s.httpSrvs {
		srvs = append(srvs, hs)
	}
	s.mu.Unlock()

	// net/http waits for active connections and closes idle keep-alives.
	errc := make(chan error, len(srvs))
	for _, hs := range srvs {
		go func() { errc <- hs.Shutdown(ctx) }()
	}
	var err error
	for range srvs {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	if err == nil {
		err = s.waitIdle(ctx)
	}
	if err != nil {
		s.forceClose()
	}
	return err
}

// forceClose cuts every connection still open after Shutdown's deadline.
func (s *Server) forceClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for hs := range s.httpSrvs {
		hs.Close()
	}
	for c := range s.conns {
		c.conn.Close()
	}
}

// waitIdle waits until no request is in flight and no uwsgi connection is
// busy.
func (s *Server) waitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.inflight.Load() == 0 && s.active == 0 {
			s.mu.Unlock()
			return nil
		}
		ch := s.idle
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// wakeIdle tells waitIdle to look again; called under s.mu.
func (s *Server) wakeIdle() {
	close(s.idle)
	s.idle = make(chan struct{})
}

// submit hands a request to the hub and counts it in flight.
func (s *Server) submit(req *exchange.Request) {
	s.inflight.Add(1)
	s.cfg.Mailbox.Submit(req)
}

// finished marks a submitted request as finished by the hub.
func (s *Server) finished() {
	if s.inflight.Add(-1) == 0 {
		s.mu.Lock()
		s.wakeIdle()
		s.mu.Unlock()
	}
}

// acceptLoop runs Accept with net/http's back-off on temporary errors
// (EMFILE and friends must not spin or end the server).
func (s *Server) acceptLoop(ln net.Listener, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger.Printf("accept error: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		go handle(c)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}
