package config

import (
	_ "embed"
	"strings"
)

//go:embed uwsgi-options.txt
var uwsgiOptionsText string

// uwsgiOptions holds the names of every option uWSGI 2.0.21 knows (core
// and the plugins Debian ships): an unknown option that is one of them is
// a uWSGI feature uwsgo lacks, not a typo.
var uwsgiOptions = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(uwsgiOptionsText, "\n") {
		if l = strings.TrimSpace(l); l != "" && l[0] != '#' {
			m[l] = true
		}
	}
	return m
}()
