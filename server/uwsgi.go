package server

import (
	"strings"
	"time"
)

// parseUwsgi parses a uwsgi packet from the buffer and starts the
// request: one request per connection, answered in raw HTTP, then the
// connection closes (what nginx's uwsgi_pass expects). False when more
// bytes are needed or the packet was refused: a malformed one is closed
// without an answer (nginx says 502, as with uWSGI); one over a limit
// gets its status (431, 413), which nginx passes on.
func (c *conn) parseUwsgi() bool {
	start := time.Now()
	vars, size, n, err := parseUwsgiPacket(c.buf[c.r:c.w], c.s.cfg.BufferSize)
	if err == errNeedMore {
		return false
	}
	if err != nil {
		c.s.logger.Printf("uwsgi: %s: %v; closing", c.remoteIP, err)
		if he, ok := err.(*httpError); ok {
			c.reject(he)
		} else {
			c.close()
		}
		return false
	}
	c.r += n
	if len(vars)/2 > c.s.cfg.MaxVars {
		c.s.logger.Printf("uwsgi: %s: %d vars, more than --max-vars %d; refused", c.remoteIP, len(vars)/2, c.s.cfg.MaxVars)
		c.reject(&httpError{431, "too many vars"})
		return false
	}
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
	var clen int64
	if v[5] != "" { // nginx sends it empty for a request without a body
		var ok bool
		if clen, ok = parseContentLength(v[5]); !ok {
			c.s.logger.Printf("uwsgi: %s %s %s: bad CONTENT_LENGTH %q; closing", c.rl.remote, method, uri, v[5])
			c.close()
			return false
		}
	}
	if lp := c.s.cfg.LimitPost; lp > 0 && clen > lp {
		c.s.logger.Printf("uwsgi: %s %s %s: CONTENT_LENGTH %d is over --limit-post %d; refused", c.rl.remote, method, uri, clen, lp)
		c.reject(errBodyTooLarge)
		return false
	}
	c.state = stBody
	if clen > 0 {
		c.body = newBodyReader(clen, c.s.cfg.PostBuffering, 0, headLimits{})
		c.deadline = time.Now().Add(c.s.cfg.SocketTimeout)
	}
	return true
}

// lookupVars returns the values of keys, "" if absent. A repeated var
// reads as its last value, everywhere (uWSGI's rule; nginx sends two
// when uwsgi_params is followed by an uwsgi_param of the same name), so
// static maps and the app's environ see the same one.
func lookupVars(vars []string, keys ...string) []string {
	out := make([]string, len(keys))
	for i := 0; i+1 < len(vars); i += 2 {
		for j, k := range keys {
			if vars[i] == k {
				out[j] = vars[i+1]
			}
		}
	}
	return out
}

// uwsgiScheme follows uWSGI: UWSGI_SCHEME wins, then HTTPS=on/1.
func uwsgiScheme(https, scheme string) string {
	if scheme != "" {
		return scheme
	}
	if asciiEqualFold(https, "on") || https == "1" {
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
