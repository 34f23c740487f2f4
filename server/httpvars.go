package server

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// httpVars builds the CGI/PEP 3333 environ pairs for an HTTP request.
// CONTENT_LENGTH of a chunked body is added once the body is read.
func httpVars(r *http.Request) []string {
	vars := make([]string, 0, 2*(12+len(r.Header)))
	add := func(k, v string) { vars = append(vars, k, v) }

	add("REQUEST_METHOD", r.Method)
	add("REQUEST_URI", r.RequestURI)
	add("PATH_INFO", r.URL.Path) // percent-decoded, as uWSGI does
	add("QUERY_STRING", r.URL.RawQuery)
	add("SERVER_PROTOCOL", r.Proto)
	add("SCRIPT_NAME", "")
	name, port := serverNamePort(r)
	add("SERVER_NAME", name)
	add("SERVER_PORT", port)
	raddr, rport := splitAddr(r.RemoteAddr)
	add("REMOTE_ADDR", raddr)
	add("REMOTE_PORT", rport)
	if ct, ok := r.Header["Content-Type"]; ok {
		add("CONTENT_TYPE", strings.Join(ct, ","))
	}
	if _, ok := r.Header["Content-Length"]; ok && len(r.TransferEncoding) == 0 {
		add("CONTENT_LENGTH", strconv.FormatInt(r.ContentLength, 10))
	}
	if r.Host != "" {
		add("HTTP_HOST", r.Host) // net/http moves Host out of r.Header
	}
	if r.TLS != nil {
		add("HTTPS", "on")
	}

	// Sorted, so the environ (and the log's byte count) does not depend
	// on map order.
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		// A name with "_" would pass for its "-" twin once converted
		// (X_Forwarded_For as X-Forwarded-For): drop it, as nginx and
		// Apache do by default.
		if k != "Content-Type" && k != "Content-Length" && k != "Host" && !strings.Contains(k, "_") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(cgiHeaderName(k), strings.Join(r.Header[k], ","))
	}
	return vars
}

// cgiHeaderName turns "X-Forwarded-For" into "HTTP_X_FORWARDED_FOR".
func cgiHeaderName(k string) string {
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
	return string(b)
}

// serverNamePort gives SERVER_NAME from the Host header (else the local
// address) and SERVER_PORT from the listener's port (else Host's port).
func serverNamePort(r *http.Request) (name, port string) {
	hostName, hostPort := r.Host, ""
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		hostName, hostPort = h, p
	}
	var localIP string
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := la.(*net.TCPAddr); ok {
			localIP, port = ta.IP.String(), strconv.Itoa(ta.Port)
		}
	}
	name = hostName
	if name == "" {
		name = localIP
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

// splitAddr splits "1.2.3.4:5678". A unix-socket peer (net/http says
// "@") has neither address nor port.
func splitAddr(a string) (host, port string) {
	if h, p, err := net.SplitHostPort(a); err == nil {
		return h, p
	}
	if a == "@" {
		return "", ""
	}
	return a, ""
}

func hostOnly(a string) string {
	h, _ := splitAddr(a)
	return h
}
