package server

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uwsgo/uwsgo/exchange"
)

// parseHTTP parses a request head from the buffer and starts the request;
// false when more bytes are needed or the request was refused.
func (c *conn) parseHTTP() bool {
	h, n, err := parseRequestHeadInto(c.buf[c.r:c.w], c.s.lim, c.s.names, c.s.headVars)
	defer c.s.keepHeadVars(h.vars)
	if err == errNeedMore {
		return false
	}
	if err != nil {
		c.reject(err.(*httpError))
		return false
	}
	c.r += n
	c.rl = reqLog{start: time.Now(), remote: c.remoteIP, method: h.method, uri: h.uri, proto: h.proto}
	c.method, c.path, c.proto, c.minor, c.keepAlive = h.method, h.path, h.proto, h.minor, h.keepAlive
	c.scheme = "http"

	name, port := c.serverNamePort(h.host)
	vars := c.varsBuf[:0]
	c.varsBuf = nil
	if cap(vars) < 20+len(h.vars) {
		vars = make([]string, 0, 20+len(h.vars))
	}
	vars = append(vars,
		"REQUEST_METHOD", h.method,
		"REQUEST_URI", h.uri,
		"PATH_INFO", h.path, // percent-decoded, as uWSGI does
		"QUERY_STRING", h.query,
		"SERVER_PROTOCOL", h.proto,
		"SCRIPT_NAME", "",
		"SERVER_NAME", name,
		"SERVER_PORT", port,
		"REMOTE_ADDR", c.remoteIP,
		"REMOTE_PORT", c.remotePort,
	)
	c.vars = append(vars, h.vars...)
	c.rl.countVars(c.vars)

	if lp := c.s.cfg.LimitPost; lp > 0 && h.contentLength > lp {
		// refused before a byte of it is read (and before 100-continue)
		c.reject(errBodyTooLarge)
		return false
	}
	c.state = stBody
	switch {
	case h.chunked:
		c.body = newBodyReader(-1, c.s.cfg.PostBuffering, c.s.cfg.LimitPost, c.s.lim)
	case h.contentLength > 0:
		c.body = newBodyReader(h.contentLength, c.s.cfg.PostBuffering, c.s.cfg.LimitPost, c.s.lim)
	}
	if c.body != nil {
		c.deadline = time.Now().Add(c.s.cfg.HTTPTimeout) // the body must not stall
	}
	if c.body != nil && h.expectContinue && h.minor >= 1 && c.r == c.w {
		c.writeNow(continueLine)
	}
	return true
}

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// writeNow writes a few bytes outside the response queue (an interim
// response); a full socket drops them, which a client waiting for
// 100-continue survives by sending anyway.
func (c *conn) writeNow(p []byte) {
	sysWrite(c.fd, p)
}

// serverNamePort gives SERVER_NAME from the Host header (else the
// listener's address) and SERVER_PORT from the listener's port (else
// Host's).
func (c *conn) serverNamePort(host string) (name, port string) {
	hostName, hostPort := host, ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		hostName, hostPort = h, p
	}
	name, port = hostName, c.ln.port
	if name == "" {
		name = c.ln.ip
	}
	if name == "" {
		name = "localhost"
	}
	if port == "" {
		port = hostPort
	}
	if port == "" {
		port = "80"
	}
	return name, port
}

// queueHead queues the status line and headers of an app's response and
// decides the framing: the app's Content-Length, else one we count when
// the whole body is known, else chunked (HTTP/1.1), else close (HTTP/1.0).
func (c *conn) queueHead(h *exchange.Head, b exchange.Batch) error {
	code, err := statusCode(h.Status)
	if err != nil {
		return err
	}
	if len(c.s.cfg.AddHeaders) > 0 {
		h = c.withAddedHeaders(h)
	}
	c.rl.status = code
	if c.kind == UWSGI {
		c.rl.headers, c.rl.headerBytes = len(h.Headers)/2, headBytes(c.proto, h.Status, h.Headers)
		c.out = append(c.out, outItem{b: appendRawHead(nil, c.proto, h.Status, h.Headers)})
		return nil // nginx frames the body for its client
	}
	c.rl.headers, c.rl.headerBytes = len(h.Headers)/2, headBytes("HTTP/1.1", h.Status, h.Headers)
	bodyless := code == 204 || code == 304
	c.noBody = bodyless || c.method == "HEAD"
	// The last head's buffer is free once nothing queued points into it.
	p := c.headBuf[:0]
	if len(c.out) != 0 || p == nil {
		p = make([]byte, 0, 256)
	}
	p = append(p, "HTTP/1.1 "...)
	p = appendClean(p, h.Status)
	p = append(p, '\r', '\n')
	hasLength, hasDate := false, false
	for i := 0; i+1 < len(h.Headers); i += 2 {
		k, v := h.Headers[i], h.Headers[i+1]
		if !validHeaderName(k) {
			continue
		}
		switch {
		case asciiEqualFold(k, "Content-Length"):
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if !bodyless {
				if err != nil || n < 0 || hasLength {
					continue // unusable: we frame the body ourselves
				}
				hasLength, c.clLeft = true, n
			}
		case asciiEqualFold(k, "Transfer-Encoding"):
			continue // hop by hop: ours to decide
		case asciiEqualFold(k, "Connection"):
			if hasToken(v, "close") {
				c.closeAfter = true
			}
		case asciiEqualFold(k, "Date"):
			hasDate = true
		}
		p = append(p, k...)
		p = append(p, ':', ' ')
		p = appendClean(p, v)
		p = append(p, '\r', '\n')
	}
	switch {
	case hasLength || bodyless:
	case b.Done && len(b.Files) == 0:
		// the whole body is here: announce its length
		var n int
		for _, ch := range b.Chunks {
			n += len(ch)
		}
		if c.method != "HEAD" || n > 0 {
			p = appendHeader(p, "Content-Length", strconv.Itoa(n))
			c.clLeft = int64(n)
		}
	case c.minor >= 1:
		c.chunked = !c.noBody
		if c.chunked {
			p = appendHeader(p, "Transfer-Encoding", "chunked")
		}
	default:
		c.closeAfter = true // HTTP/1.0: the end of the body is the end of the connection
	}
	if c.method == "HEAD" {
		c.clLeft = -1
	}
	p = c.connectionHeader(p)
	if !hasDate {
		p = appendHeader(p, "Date", c.s.date.get())
	}
	p = append(p, '\r', '\n')
	c.out = append(c.out, outItem{b: p})
	if cap(p) <= 4096 {
		c.headBuf = p
	}
	return nil
}

// connectionHeader says whether the connection stays open.
func (c *conn) connectionHeader(p []byte) []byte {
	if !c.keepAlive || c.s.closing {
		c.closeAfter = true
	}
	switch {
	case c.closeAfter:
		return appendHeader(p, "Connection", "close")
	case c.minor == 0:
		return appendHeader(p, "Connection", "keep-alive")
	}
	return p
}

// fail500 answers a request whose app failed before its response began.
func (c *conn) fail500() {
	const msg = "Internal Server Error\n"
	c.rl.status = 500
	c.finished = true
	if c.kind == UWSGI {
		c.out = append(c.out, outItem{b: appendRawHead(nil, c.proto, "500 Internal Server Error",
			[]string{"Content-Type", "text/plain; charset=utf-8", "Content-Length", strconv.Itoa(len(msg))})})
	} else {
		p := append([]byte(nil), "HTTP/1.1 500 Internal Server Error\r\n"...)
		p = appendHeader(p, "Content-Type", "text/plain; charset=utf-8")
		p = appendHeader(p, "X-Content-Type-Options", "nosniff")
		p = appendHeader(p, "Content-Length", strconv.Itoa(len(msg)))
		p = c.connectionHeader(p)
		p = appendHeader(p, "Date", c.s.date.get())
		c.out = append(c.out, outItem{b: append(p, '\r', '\n')})
	}
	c.noBody = c.method == "HEAD" && c.kind == HTTP
	c.clLeft = -1
	c.queueBytes([]byte(msg), 0)
	c.rl.bodyBytes = 0 // the log counts what the app generated
	c.flush()
}

// reject answers a request the server refuses (malformed, too large) and
// closes the connection; the app never sees it. A uwsgi connection gets
// the same raw HTTP answer, which nginx passes on.
func (c *conn) reject(e *httpError) {
	c.state, c.finished, c.closeAfter, c.quiet, c.linger = stApp, true, true, true, true
	text := strconv.Itoa(e.status) + " " + http.StatusText(e.status)
	p := append([]byte(nil), "HTTP/1.1 "...)
	p = append(p, text...)
	p = append(p, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"...)
	p = append(p, text...)
	c.out = append(c.out, outItem{b: p})
	c.r, c.w = 0, 0
	c.flush()
}

func appendHeader(p []byte, k, v string) []byte {
	p = append(p, k...)
	p = append(p, ':', ' ')
	p = append(p, v...)
	return append(p, '\r', '\n')
}

// dateCache formats the Date header once a second.
type dateCache struct {
	sec int64
	val string
}

func (d *dateCache) get() string {
	now := time.Now()
	if s := now.Unix(); s != d.sec {
		d.sec, d.val = s, now.UTC().Format(http.TimeFormat)
	}
	return d.val
}
