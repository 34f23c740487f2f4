package server

import (
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// errNeedMore: the buffer does not hold a whole head yet.
var errNeedMore = errors.New("incomplete request head")

// httpError is a request the server answers itself, with status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string) error { return &httpError{400, msg} }

// requestHead is a parsed HTTP/1.x request head. Its strings share one
// copy of the head's bytes.
type requestHead struct {
	method, uri, proto string
	minor              int // HTTP/1.minor
	path, query        string
	host               string
	vars               []string // the HTTP_* (and CONTENT_*) pairs, in order received
	contentLength      int64    // -1: none
	chunked            bool
	keepAlive          bool
	absolute           bool // absolute-form target: its host is the host
	expectContinue     bool
	size               int // bytes of the head, for the log
}

// parseRequestHead parses the head at the start of buf (request line,
// headers, blank line; bare LF line ends are accepted, as by most
// servers). It returns the head and the bytes it took, errNeedMore when
// buf ends first, or an *httpError.
func parseRequestHead(buf []byte, maxBytes int, names nameCache) (requestHead, int, error) {
	var h requestHead
	end := bytes.Index(buf, []byte("\n\r\n"))
	if lf := bytes.Index(buf, []byte("\n\n")); lf >= 0 && (end < 0 || lf < end) {
		end = lf + 2
	} else if end >= 0 {
		end += 3
	}
	if end < 0 {
		if len(buf) > maxBytes {
			return h, 0, &httpError{431, "request header fields too large"}
		}
		// a first line that is only a line end: tolerated before a request
		if len(buf) > 0 && (buf[0] == '\n' || buf[0] == '\r') {
			if i := bytes.IndexByte(buf, '\n'); i >= 0 && i <= 1 {
				h, n, err := parseRequestHead(buf[i+1:], maxBytes, names)
				return h, n + i + 1, err
			}
		}
		return h, 0, errNeedMore
	}
	if end > maxBytes {
		return h, 0, &httpError{431, "request header fields too large"}
	}
	if buf[0] == '\n' || buf[0] == '\r' {
		if i := bytes.IndexByte(buf, '\n'); i <= 1 {
			h, n, err := parseRequestHead(buf[i+1:], maxBytes, names)
			return h, n + i + 1, err
		}
	}
	s := string(buf[:end]) // the one copy every string below points into
	h.size = end
	line, rest := cutLine(s)
	if err := h.parseRequestLine(line); err != nil {
		return h, 0, err
	}
	h.contentLength = -1
	h.keepAlive = h.minor >= 1
	h.vars = make([]string, 0, 16)
	var clSeen, hostSeen bool
	var conn []string
	for {
		line, rest = cutLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return h, 0, badRequest("obsolete header line folding")
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return h, 0, badRequest("malformed header line")
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !validHeaderName(name) {
			return h, 0, badRequest("invalid header name " + strconv.Quote(name))
		}
		if !validHeaderValue(value) {
			return h, 0, badRequest("invalid header value for " + name)
		}
		switch {
		case strings.EqualFold(name, "Host"):
			if hostSeen {
				return h, 0, badRequest("too many Host headers")
			}
			hostSeen = true
			if !h.absolute {
				h.host = value // an absolute-form target's host wins (RFC 9112 3.2.2)
			}
			continue // added after the URI had its say
		case strings.EqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || value[0] == '+' {
				return h, 0, badRequest("bad Content-Length " + strconv.Quote(value))
			}
			if clSeen && n != h.contentLength {
				return h, 0, badRequest("conflicting Content-Length headers")
			}
			if clSeen {
				continue
			}
			clSeen, h.contentLength = true, n
			h.addVar("CONTENT_LENGTH", value)
			continue
		case strings.EqualFold(name, "Content-Type"):
			h.addVar("CONTENT_TYPE", value)
			continue
		case strings.EqualFold(name, "Transfer-Encoding"):
			if !strings.EqualFold(value, "chunked") || h.chunked {
				return h, 0, &httpError{501, "unsupported transfer encoding " + strconv.Quote(value)}
			}
			h.chunked = true
			continue // hop by hop: the app sees a plain body
		case strings.EqualFold(name, "Connection"):
			conn = append(conn, value)
		case strings.EqualFold(name, "Expect"):
			if !strings.EqualFold(value, "100-continue") {
				return h, 0, &httpError{417, "unsupported Expect " + strconv.Quote(value)}
			}
			h.expectContinue = true
		}
		// A name with "_" would pass for its "-" twin once converted
		// (X_Forwarded_For as X-Forwarded-For): dropped, as nginx does.
		if strings.IndexByte(name, '_') < 0 {
			h.addVar(names.cgiName(name), value)
		}
	}
	if h.chunked && clSeen {
		h.dropVar("CONTENT_LENGTH") // Transfer-Encoding wins (RFC 9112 6.3)
		h.contentLength = -1
	}
	// A message with both, or chunked from an HTTP/1.0 client, may be
	// framed differently by a proxy in front: answer, then close (RFC
	// 9112 6.1).
	mustClose := h.chunked && (clSeen || h.minor == 0)
	if h.minor >= 1 && !hostSeen {
		return h, 0, badRequest("missing required Host header")
	}
	if h.host != "" {
		h.addVar("HTTP_HOST", h.host)
	}
	for _, c := range conn {
		for _, tok := range strings.Split(c, ",") {
			switch tok = strings.TrimSpace(tok); {
			case strings.EqualFold(tok, "close"):
				h.keepAlive = false
			case strings.EqualFold(tok, "keep-alive") && h.minor == 0:
				h.keepAlive = true
			}
		}
	}
	if mustClose {
		h.keepAlive = false
	}
	return h, end, nil
}

// parseRequestLine reads "GET /path?q HTTP/1.1".
func (h *requestHead) parseRequestLine(line string) error {
	sp1 := strings.IndexByte(line, ' ')
	sp2 := strings.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return badRequest("malformed request line")
	}
	h.method, h.uri, h.proto = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !validHeaderName(h.method) {
		return badRequest("malformed method")
	}
	switch h.proto {
	case "HTTP/1.1":
		h.minor = 1
	case "HTTP/1.0":
		h.minor = 0
	default:
		if len(h.proto) == 8 && strings.HasPrefix(h.proto, "HTTP/1.") && '2' <= h.proto[7] && h.proto[7] <= '9' {
			h.minor = 1 // a later 1.x is served as 1.1 (RFC 9110 2.5)
			break
		}
		if strings.HasPrefix(h.proto, "HTTP/") && len(h.proto) == 8 && h.proto[6] == '.' {
			return &httpError{505, "unsupported protocol version " + strconv.Quote(h.proto)}
		}
		return badRequest("malformed protocol " + strconv.Quote(h.proto))
	}
	return h.parseURI()
}

// parseURI splits the request target into PATH_INFO (percent-decoded, as
// uWSGI gives it) and QUERY_STRING.
func (h *requestHead) parseURI() error {
	u := h.uri
	for i := 0; i < len(u); i++ {
		if u[i] <= ' ' || u[i] == 0x7f {
			return badRequest("invalid character in the request target")
		}
	}
	if u == "*" {
		h.path = "*"
		return nil
	}
	if u[0] != '/' {
		// absolute form (a proxy's request): its host wins over Host
		pu, err := url.ParseRequestURI(u)
		if err != nil || pu.Host == "" {
			return badRequest("malformed request target")
		}
		h.path, h.query = pu.Path, pu.RawQuery
		if h.path == "" {
			h.path = "/"
		}
		h.host, h.absolute = pu.Host, true
		return nil
	}
	p := u
	if q := strings.IndexByte(u, '?'); q >= 0 {
		p, h.query = u[:q], u[q+1:]
	}
	if strings.IndexByte(p, '%') >= 0 {
		var err error
		if p, err = url.PathUnescape(p); err != nil {
			return badRequest("malformed percent-encoding in the path")
		}
	}
	h.path = p
	return nil
}

// addVar adds a pair; a repeated name joins its values with ",".
func (h *requestHead) addVar(k, v string) {
	for i := 0; i < len(h.vars); i += 2 {
		if h.vars[i] == k {
			h.vars[i+1] += "," + v
			return
		}
	}
	h.vars = append(h.vars, k, v)
}

func (h *requestHead) dropVar(k string) {
	for i := 0; i < len(h.vars); i += 2 {
		if h.vars[i] == k {
			h.vars = append(h.vars[:i], h.vars[i+2:]...)
			return
		}
	}
}

// cutLine splits off the first line (without its CRLF or LF).
func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// nameCache maps "X-Forwarded-For" to "HTTP_X_FORWARDED_FOR": real
// clients send few distinct names. One per server, used on its loop only.
type nameCache map[string]string

// cgiName turns "X-Forwarded-For" into "HTTP_X_FORWARDED_FOR".
func (c nameCache) cgiName(k string) string {
	if n, ok := c[k]; ok {
		return n
	}
	b := make([]byte, 0, 5+len(k))
	b = append(b, "HTTP_"...)
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	n := string(b)
	if len(c) < 1024 {
		c[strings.Clone(k)] = n // k points into a whole head
	}
	return n
}
