package server

import (
	"strconv"
	"strings"
	"time"
)

// parseUwsgi parses a uwsgi packet from the buffer and starts the
// request: one request per connection, answered in raw HTTP, then the
// connection closes (what nginx's uwsgi_pass expects). False when more
// bytes are needed or the packet was refused (the connection is closed).
func (c *conn) parseUwsgi() bool {
	start := time.Now()
	vars, size, n, err := parseUwsgiPacket(c.buf[c.r:c.w], c.s.cfg.BufferSize)
	if err == errNeedMore {
		return false
	}
	if err != nil {
		c.s.logger.Printf("uwsgi: %s: %v; closing", c.remoteIP, err)
		c.close()
		return false
	}
	c.r += n
	v := lookupVars(vars, "REQUEST_METHOD", "PATH_INFO", "REQUEST_URI", "QUERY_STRING",
		"SERVER_PROTOCOL", "CONTENT_LENGTH", "REMOTE_ADDR", "REMOTE_USER", "HTTPS", "UWSGI_SCHEME")
	method, pathInfo, uri, proto := v[0], v[1], v[2], statusProto(v[4])
	if uri == "" {
		uri = pathInfo
		if v[3] != "" {
			uri += "?" + v[3]
		}
	}
	c.rl = reqLog{
		start: start, remote: v[6], user: v[7], method: method, uri: uri, proto: proto,
		vars: len(vars) / 2, varsBytes: size,
	}
	c.method, c.path, c.proto, c.vars = method, pathInfo, proto, vars
	c.scheme = uwsgiScheme(v[8], v[9])
	clen, err := parseContentLength(v[5])
	if err != nil {
		c.s.logger.Printf("uwsgi: %s %s %s: %v; closing", c.rl.remote, method, uri, err)
		c.close()
		return false
	}
	c.state = stBody
	if clen > 0 {
		c.body = newBodyReader(clen, c.s.cfg.PostBuffering)
	}
	return true
}

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
