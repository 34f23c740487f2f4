package server

import (
	"strings"

	"github.com/uwsgo/uwsgo/exchange"
)

// ParseAddHeader splits an --add-header value "Name: value" into its
// name and value (the value trimmed, as uWSGI sends it).
func ParseAddHeader(s string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(s, ":")
	return strings.TrimSpace(name), strings.TrimSpace(value), ok && strings.TrimSpace(name) != ""
}

// withAddedHeaders returns h with the --add-header headers after the
// app's own, as uWSGI appends them to every response.
func (c *conn) withAddedHeaders(h *exchange.Head) *exchange.Head {
	add := c.s.cfg.AddHeaders
	hs := make([]string, 0, len(h.Headers)+len(add))
	hs = append(hs, h.Headers...)
	hs = append(hs, add...)
	return &exchange.Head{Status: h.Status, Headers: hs}
}
