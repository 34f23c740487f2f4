package server

import (
	"net/http"
	"regexp"
	"strings"
	"time"
)

// ExpiresRule is one static-expires* option: a static file it matches
// gets an Expires header Seconds after now (or after its mtime).
type ExpiresRule struct {
	Kind    string         // "type", "filename", "uri" or "path-info"
	Match   *regexp.Regexp // the file's path, REQUEST_URI or PATH_INFO
	Type    string         // for "type": the Content-Type, without parameters
	Seconds int64
	MTime   bool
}

// expires returns the Expires value the first matching rule gives, "" if
// none does.
func (s *Server) expires(h staticHit, contentType, uri, pathInfo string) string {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(ct)
	for _, r := range s.cfg.StaticExpires {
		var hit bool
		switch r.Kind {
		case "type":
			hit = ct != "" && strings.EqualFold(ct, r.Type)
		case "filename":
			hit = r.Match.MatchString(h.path)
		case "uri":
			hit = r.Match.MatchString(uri)
		case "path-info":
			hit = r.Match.MatchString(pathInfo)
		}
		if !hit {
			continue
		}
		base := time.Now()
		if r.MTime {
			base = h.mtime
		}
		return base.Add(time.Duration(r.Seconds) * time.Second).UTC().Format(http.TimeFormat)
	}
	return ""
}

// acceptsGzip tells whether the request's Accept-Encoding takes gzip.
func acceptsGzip(vars []string) bool {
	for i := 0; i+1 < len(vars); i += 2 {
		if vars[i] == "HTTP_ACCEPT_ENCODING" {
			for _, e := range strings.Split(vars[i+1], ",") {
				name, q, _ := strings.Cut(strings.TrimSpace(e), ";")
				if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
					return true
				}
			}
		}
	}
	return false
}
