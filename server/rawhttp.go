package server

import (
	"fmt"
	"net/http"
	"strconv"
)

// statusCode parses the code from "200 OK". 1xx is refused: an app's
// start_response gives the final status, never an interim one.
func statusCode(status string) (int, error) {
	if len(status) < 3 || (len(status) > 3 && status[3] != ' ') {
		return 0, fmt.Errorf("malformed status %q", status)
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil || code < 200 {
		return 0, fmt.Errorf("malformed status %q", status)
	}
	return code, nil
}

// appendRawHead appends a status line and headers the way a uwsgi
// response carries them (raw HTTP on the connection). Names that are not
// HTTP tokens are dropped and line breaks in values blanked, so an app
// cannot split the response.
func appendRawHead(p []byte, proto, status string, headers []string) []byte {
	p = append(p, proto...)
	p = append(p, ' ')
	p = appendClean(p, status)
	p = append(p, '\r', '\n')
	for i := 0; i+1 < len(headers); i += 2 {
		if !validHeaderName(headers[i]) {
			continue
		}
		p = append(p, headers[i]...)
		p = append(p, ':', ' ')
		p = appendClean(p, headers[i+1])
		p = append(p, '\r', '\n')
	}
	return append(p, '\r', '\n')
}

// appendClean appends s with CR and LF blanked.
func appendClean(p []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		p = append(p, c)
	}
	return p
}

func validHeaderName(s string) bool { return validToken(s) }

// headBytes is the size of the head as written, for the log line.
func headBytes(proto, status string, headers []string) int {
	n := len(proto) + 1 + len(status) + 2 + 2
	for i := 0; i+1 < len(headers); i += 2 {
		n += len(headers[i]) + 2 + len(headers[i+1]) + 2
	}
	return n
}

// countHeaders sizes a net/http header map the same way.
func countHeaders(proto string, code int, h http.Header) (count, size int) {
	size = len(proto) + 5 + len(http.StatusText(code)) + 2 + 2
	for k, vs := range h {
		for _, v := range vs {
			count++
			size += len(k) + 2 + len(v) + 2
		}
	}
	return count, size
}
