package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ExpiresRule is one static-expires* option: static files it matches get
// an Expires header Seconds ahead of now, or of the file's mtime.
type ExpiresRule struct {
	Kind    string         // "filename", "uri", "path-info" or "type"
	Match   *regexp.Regexp // for all kinds but "type"
	Type    string         // for "type": a MIME type
	Seconds int64
	MTime   bool
}

// ExpiresRules parses the static-expires* options, in uWSGI's order of
// precedence (type, filename, uri, path-info; as given within each).
func (o *Options) ExpiresRules() ([]ExpiresRule, error) {
	var rules []ExpiresRule
	add := func(name, kind string, mtime bool, values []string) error {
		for _, v := range values {
			r, err := parseExpires(name, kind, v)
			if err != nil {
				return err
			}
			r.MTime = mtime
			rules = append(rules, r)
		}
		return nil
	}
	for _, e := range []struct {
		name, kind string
		mtime      bool
		values     []string
	}{
		{"static-expires-type", "type", false, o.StaticExpiresType},
		{"static-expires-type-mtime", "type", true, o.StaticExpiresTypeMtime},
		{"static-expires", "filename", false, o.StaticExpires},
		{"static-expires-mtime", "filename", true, o.StaticExpiresMtime},
		{"static-expires-uri", "uri", false, o.StaticExpiresURI},
		{"static-expires-uri-mtime", "uri", true, o.StaticExpiresURIMtime},
		{"static-expires-path-info", "path-info", false, o.StaticExpiresPathInfo},
		{"static-expires-path-info-mtime", "path-info", true, o.StaticExpiresPathInfoMtime},
	} {
		if err := add(e.name, e.kind, e.mtime, e.values); err != nil {
			return nil, err
		}
	}
	return rules, nil
}

// parseExpires reads "MIME=SECONDS" (by type) or "REGEXP SECONDS" (the
// others), as uWSGI does.
func parseExpires(name, kind, v string) (ExpiresRule, error) {
	sep, want := " ", "REGEXP SECONDS"
	if kind == "type" {
		sep, want = "=", "MIME=SECONDS"
	}
	i := strings.LastIndex(v, sep)
	if i <= 0 {
		return ExpiresRule{}, fmt.Errorf("--%s %q: expected %s", name, v, want)
	}
	pat, num := strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:])
	secs, err := strconv.ParseInt(num, 10, 64)
	if err != nil || secs < 0 {
		return ExpiresRule{}, fmt.Errorf("--%s %q: %q is not a number of seconds", name, v, num)
	}
	r := ExpiresRule{Kind: kind, Seconds: secs}
	if kind == "type" {
		r.Type = pat
		return r, nil
	}
	if r.Match, err = regexp.Compile(pat); err != nil {
		return ExpiresRule{}, fmt.Errorf("--%s %q: bad regexp: %v", name, v, err)
	}
	return r, nil
}

// validateApps checks the app and serving options of this file's
// concern: mounts, headers, the stats server, static expiry.
func (o *Options) validateApps() error {
	if o.PyAutoReload < 0 {
		return fmt.Errorf("--py-autoreload %d: must not be negative", o.PyAutoReload)
	}
	for _, m := range o.Mounts {
		mp, app, ok := strings.Cut(m, "=")
		if !ok || app == "" {
			return fmt.Errorf("--mount %q: expected /PREFIX=FILE.py or /PREFIX=MODULE:CALLABLE", m)
		}
		if mp != "" && mp[0] != '/' {
			return fmt.Errorf("--mount %q: the mount point must start with '/'", m)
		}
		if !strings.HasSuffix(app, ".py") && !strings.HasSuffix(app, ".wsgi") && !strings.Contains(app, ":") {
			return fmt.Errorf("--mount %q: %q is neither a .py/.wsgi file nor MODULE:CALLABLE", m, app)
		}
	}
	for _, h := range o.AddHeaders {
		k, _, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(strings.TrimSpace(k), " \t") || strings.ContainsAny(h, "\r\n") {
			return fmt.Errorf("--add-header %q: expected \"Name: value\"", h)
		}
	}
	for _, d := range o.CheckStatic {
		if d == "" {
			return errors.New("--check-static: empty directory")
		}
	}
	for _, f := range o.TouchReload {
		if f == "" {
			return errors.New("--touch-reload: empty file name")
		}
	}
	if o.StatsHTTP && o.Stats == "" {
		return errors.New("--stats-http needs --stats ADDR")
	}
	_, err := o.ExpiresRules()
	return err
}
