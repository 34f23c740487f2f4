package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
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

// writeRawHead writes a status line and headers the way a uwsgi response
// carries them (raw HTTP on the connection). Names that are not HTTP
// tokens are dropped and line breaks in values blanked, so an app cannot
// split the response.
func writeRawHead(w *bufio.Writer, proto, status string, headers []string) {
	w.WriteString(proto)
	w.WriteByte(' ')
	w.WriteString(blankCRLF(status))
	w.WriteString("\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		if !validHeaderName(headers[i]) {
			continue
		}
		w.WriteString(headers[i])
		w.WriteString(": ")
		w.WriteString(blankCRLF(headers[i+1]))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

func blankCRLF(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

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

// rawResponseWriter is the minimal http.ResponseWriter that lets
// http.ServeContent answer on a uwsgi connection.
type rawResponseWriter struct {
	conn  net.Conn
	bw    *bufio.Writer
	proto string
	hdr   http.Header
	code  int
	n     int64
}

func (w *rawResponseWriter) Header() http.Header { return w.hdr }

func (w *rawResponseWriter) WriteHeader(code int) {
	if w.code != 0 {
		return
	}
	w.code = code
	hs := make([]string, 0, 2*len(w.hdr))
	for k, vs := range w.hdr {
		for _, v := range vs {
			hs = append(hs, k, v)
		}
	}
	writeRawHead(w.bw, w.proto, strconv.Itoa(code)+" "+http.StatusText(code), hs)
}

func (w *rawResponseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	n, err := w.bw.Write(p)
	w.n += int64(n)
	return n, err
}

// ReadFrom flushes the head and hands the file to the connection, whose
// ReadFrom uses sendfile.
func (w *rawResponseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.WriteHeader(http.StatusOK)
	if err := w.bw.Flush(); err != nil {
		return 0, err
	}
	n, err := readFrom(w.conn, src)
	w.n += n
	return n, err
}
