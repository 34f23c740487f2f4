package server

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/uwsgo/uwsgo/exchange"
)

// serveHTTP runs a net/http server on ln: it brings keep-alive, chunked
// request bodies, Expect: 100-continue, limits and timeouts.
func (s *Server) serveHTTP(ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    max(s.cfg.BufferSize, minHTTPHeaderBytes),
		ErrorLog:          log.New(s.logger.Writer(), "http: ", 0),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.httpSrvs[hs] = struct{}{}
	s.mu.Unlock()

	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeHTTP turns one HTTP request into an exchange.Request, or serves it
// from a static map.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	vars := httpVars(r)
	rl := reqLog{
		start: start, remote: hostOnly(r.RemoteAddr), method: r.Method,
		uri: r.RequestURI, proto: r.Proto,
	}
	rl.countVars(vars)

	if len(s.statics) > 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if f := s.findStatic(r.URL.Path); f.state != staticMiss {
			rec := &statusRecorder{ResponseWriter: w}
			serveStatic(rec, r, f)
			rl.status, rl.bodyBytes = rec.code, rec.n
			rl.headers, rl.headerBytes = countHeaders(r.Proto, rec.code, w.Header())
			s.logRequest(&rl)
			return
		}
	}

	body, err := readBody(r.Body, r.ContentLength, s.cfg.PostBuffering)
	if err != nil {
		// The client sent less than it announced (or we could not store
		// it): nothing reaches the app.
		s.logger.Printf("%s %s %s: reading request body: %v", rl.remote, r.Method, r.RequestURI, err)
		w.Header().Set("Connection", "close")
		if _, ours := err.(*spoolError); ours {
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		} else {
			http.Error(w, "Bad Request", http.StatusBadRequest)
		}
		return
	}
	if len(r.TransferEncoding) > 0 {
		// Chunked: the body is whole now, so give the app its length
		// (apps that see no CONTENT_LENGTH read nothing).
		vars = append(vars, "CONTENT_LENGTH", itoa(body.size))
		rl.countVars(vars[len(vars)-2:])
	}

	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	resp := exchange.NewResponse()
	s.submit(&exchange.Request{
		Vars: vars, Scheme: scheme, Body: body.mem, BodyFile: body.file, Resp: resp,
	})

	sk := &httpSink{w: w, rc: http.NewResponseController(w), proto: r.Proto}
	out := s.pump(r.Context().Done(), resp, sk)
	rl.status, rl.bodyBytes, rl.headers, rl.headerBytes = sk.code, sk.n, sk.nh, sk.hb
	switch out {
	case pumpFailedNoHead:
		rl.status = http.StatusInternalServerError
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	}
	rl.core, rl.switches = resp.Stats() // the switches are known once done
	s.logRequest(&rl)
	if out == pumpFailedAfterHead {
		// The head is out and the body is incomplete: only cutting the
		// connection tells the client.
		panic(http.ErrAbortHandler)
	}
}

// httpSink writes a response through net/http.
type httpSink struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	proto string
	code  int
	n     int64 // body bytes
	nh    int   // header count, for the log
	hb    int   // header bytes, for the log
}

func (k *httpSink) head(h *exchange.Head) error {
	code, err := statusCode(h.Status)
	if err != nil {
		return err
	}
	hdr := k.w.Header()
	for i := 0; i+1 < len(h.Headers); i += 2 {
		hdr.Add(h.Headers[i], h.Headers[i+1])
	}
	if _, ok := hdr["Content-Type"]; !ok {
		// Stop net/http from sniffing a Content-Type the app did not set.
		hdr["Content-Type"] = nil
	}
	k.code = code
	k.nh, k.hb = len(h.Headers)/2, headBytes(k.proto, h.Status, h.Headers)
	k.w.WriteHeader(code)
	return nil
}

func (k *httpSink) write(p []byte) error {
	n, err := k.w.Write(p)
	k.n += int64(n)
	if errors.Is(err, http.ErrBodyNotAllowed) {
		return nil // 204/304 with a body from the app: drop it, as net/http must
	}
	return err
}

func (k *httpSink) sendFile(fs exchange.FileSpan) error {
	// net/http's ReadFrom uses sendfile for an *os.File (or a limited one).
	n, err := copyFileSpan(k.w, fs)
	k.n += n
	if errors.Is(err, http.ErrBodyNotAllowed) {
		return nil
	}
	return err
}

func (k *httpSink) flush() error { return k.rc.Flush() }

// statusRecorder notes what static serving wrote, for the log line.
type statusRecorder struct {
	http.ResponseWriter
	code int
	n    int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	return n, err
}

// ReadFrom keeps sendfile reachable through the wrapper.
func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := readFrom(r.ResponseWriter, src)
	r.n += n
	return n, err
}
