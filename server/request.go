package server

import (
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
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

// headLimits bound what one request head (or trailer section) may hold.
type headLimits struct {
	bytes  int // the head, request line included
	fields int // header field lines (uWSGI's --max-vars)
}

// parseRequestHead parses the head at the start of buf: request line,
// header fields, blank line, every line ended by CRLF (RFC 9112 2.2; a
// bare LF or CR is refused, as llhttp's strict mode does, since a proxy
// that reads it another way would see another request). Empty lines
// before the request line are skipped. It returns the head and the
// bytes it took, errNeedMore when buf ends first, or an *httpError.
func parseRequestHead(buf []byte, lim headLimits, names nameCache) (requestHead, int, error) {
	return parseRequestHeadInto(buf, lim, names, nil)
}

// parseRequestHeadInto is parseRequestHead with h.vars appended to
// scratch[:0] (the loop reuses one slice for every head it parses).
func parseRequestHeadInto(buf []byte, lim headLimits, names nameCache, scratch []string) (requestHead, int, error) {
	var h requestHead
	skip := 0
	for len(buf)-skip >= 2 && buf[skip] == '\r' && buf[skip+1] == '\n' && skip < lim.bytes {
		skip += 2
	}
	end, err := headEnd(buf, skip, lim.bytes)
	if err != nil {
		return h, 0, err
	}
	s := string(buf[skip:end]) // the one copy every string below points into
	h.size = end - skip
	line, rest := cutLine(s)
	if err := h.parseRequestLine(line); err != nil {
		return h, 0, err
	}
	h.contentLength = -1
	h.keepAlive = h.minor >= 1
	if h.vars = scratch[:0]; h.vars == nil {
		h.vars = make([]string, 0, 16)
	}
	var clSeen, hostSeen bool
	var conn []string
	fields := 0
	for {
		line, rest = cutLine(rest)
		if line == "" {
			break
		}
		if fields++; fields > lim.fields {
			return h, 0, &httpError{431, "too many header fields (max " + strconv.Itoa(lim.fields) + ")"}
		}
		name, value, err := splitField(line)
		if err != nil {
			return h, 0, err
		}
		switch {
		case asciiEqualFold(name, "Host"):
			if hostSeen {
				return h, 0, badRequest("too many Host headers")
			}
			if !httpguts.ValidHostHeader(value) {
				return h, 0, badRequest("malformed Host header")
			}
			hostSeen = true
			if !h.absolute {
				h.host = value // an absolute-form target's host wins (RFC 9112 3.2.2)
			}
			continue // added after the URI had its say
		case asciiEqualFold(name, "Content-Length"):
			n, ok := parseContentLength(value)
			if !ok {
				return h, 0, badRequest("bad Content-Length " + strconv.Quote(value))
			}
			if clSeen {
				// even an equal one: llhttp refuses it, and a proxy
				// that joins them reads "5, 5"
				return h, 0, badRequest("more than one Content-Length")
			}
			clSeen, h.contentLength = true, n
			h.addVar("CONTENT_LENGTH", value)
			continue
		case asciiEqualFold(name, "Content-Type"):
			h.addVar("CONTENT_TYPE", value)
			continue
		case asciiEqualFold(name, "Transfer-Encoding"):
			if h.chunked {
				return h, 0, badRequest("chunked applied more than once")
			}
			if !asciiEqualFold(value, "chunked") {
				return h, 0, &httpError{501, "unsupported transfer coding " + strconv.Quote(value)}
			}
			h.chunked = true
			continue // hop by hop: the app sees a plain body
		case asciiEqualFold(name, "Connection"):
			conn = append(conn, value)
		case asciiEqualFold(name, "Expect"):
			if !asciiEqualFold(value, "100-continue") {
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
		// RFC 9112 6.1 lets a server refuse it; a proxy in front may
		// have framed it by the Content-Length
		return h, 0, badRequest("both Transfer-Encoding and Content-Length")
	}
	if h.minor >= 1 && !hostSeen {
		return h, 0, badRequest("missing required Host header")
	}
	if h.host != "" {
		h.addVar("HTTP_HOST", h.host)
	}
	if httpguts.HeaderValuesContainsToken(conn, "close") {
		h.keepAlive = false
	} else if h.minor == 0 && httpguts.HeaderValuesContainsToken(conn, "keep-alive") {
		h.keepAlive = true
	}
	if h.chunked && h.minor == 0 {
		// RFC 9112 6.1: its framing is to be taken as faulty; net/http
		// reads such a body by its Content-Length, llhttp as chunked
		return h, 0, badRequest("Transfer-Encoding in an HTTP/1.0 request")
	}
	return h, end, nil
}

// headEnd finds the end of the head that starts at buf[from:]: the
// offset after its CRLFCRLF. Every LF must follow a CR.
func headEnd(buf []byte, from, limit int) (int, error) {
	i := from
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			if len(buf)-from > limit {
				return 0, &httpError{431, "request header fields too large"}
			}
			return 0, errNeedMore
		}
		j += i
		if j == from || buf[j-1] != '\r' {
			return 0, badRequest("bare LF in the request head")
		}
		if j+1-from > limit {
			return 0, &httpError{431, "request header fields too large"}
		}
		if j-from >= 3 && buf[j-2] == '\n' {
			return j + 1, nil // (buf[j-3] is the CR checked for that LF)
		}
		i = j + 1
	}
}

// splitField splits "Name: value" (RFC 9112 5): a token, a colon right
// after it, the value without its surrounding whitespace. A line that
// starts with whitespace (obs-fold) is refused.
func splitField(line string) (name, value string, err error) {
	colon := strings.IndexByte(line, ':')
	if colon < 0 {
		return "", "", badRequest("header line without a colon")
	}
	name, value = line[:colon], trimOWS(line[colon+1:])
	if !validToken(name) {
		if line[0] == ' ' || line[0] == '\t' {
			return "", "", badRequest("obsolete header line folding")
		}
		return "", "", badRequest("invalid header name " + strconv.Quote(name))
	}
	if !validFieldValue(value) {
		return "", "", badRequest("invalid header value for " + name)
	}
	return name, value, nil
}

// parseRequestLine reads "GET /path?q HTTP/1.1".
func (h *requestHead) parseRequestLine(line string) error {
	sp1 := strings.IndexByte(line, ' ')
	sp2 := strings.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return badRequest("malformed request line")
	}
	h.method, h.uri, h.proto = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !validToken(h.method) {
		return badRequest("malformed method")
	}
	switch h.proto {
	case "HTTP/1.1":
		h.minor = 1
	case "HTTP/1.0":
		h.minor = 0
	default:
		// a later 1.x too, as llhttp's strict mode does (RFC 9110 2.5
		// would allow serving it as 1.1; no client sends it)
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
		if u[i] <= ' ' || u[i] >= 0x7f { // visible ASCII only (RFC 9112 3.2)
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

// cutLine splits off the first line of a head headEnd checked: every
// LF follows a CR.
func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	return s[:i-1], s[i+1:]
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
