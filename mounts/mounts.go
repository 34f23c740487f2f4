// Package mounts picks which of a worker's apps serves a request, and
// splits its path into SCRIPT_NAME and PATH_INFO, the way uWSGI 2.0 does
// for --mount and --manage-script-name.
package mounts

import "strings"

// Router routes requests to apps by their mount points.
type Router struct {
	points []string // mount point of app i, as written ("" for the main app)
	manage bool     // --manage-script-name
	def    int      // the default app, -1: none
}

// New makes a router for apps mounted at points, in load order. As in
// uWSGI 2.0, the default app (the one a request that matches no mount
// point goes to) is the first app whose mount point is empty or starts
// with '/', which in practice is the first app.
// With noDefault (--no-default-app) there is none.
func New(points []string, manageScriptName, noDefault bool) *Router {
	r := &Router{points: points, manage: manageScriptName, def: -1}
	for i, p := range points {
		if noDefault {
			break
		}
		if p == "" || p[0] == '/' {
			r.def = i
			break
		}
	}
	return r
}

// Trivial reports whether every request goes to app 0 unchanged, so that
// Route need not be called.
func (r *Router) Trivial() bool { return len(r.points) <= 1 && !r.manage && r.def == 0 }

// Route returns the app for a request (-1: none, answer 500) and its
// environ pairs, with SCRIPT_NAME and PATH_INFO rewritten (in place, or
// SCRIPT_NAME appended) when --manage-script-name splits them.
//
// The split (uWSGI's core/protocol.c): for a PATH_INFO longer than "/",
// the longest mount point (a trailing '/' ignored) that is a prefix of
// PATH_INFO ending at a '/' or at its end becomes SCRIPT_NAME, as it was
// written, and PATH_INFO loses that many bytes. The app is then the one
// whose mount point equals SCRIPT_NAME exactly (uwsgi_get_app_id), else
// the default app.
func (r *Router) Route(vars []string) (int, []string) {
	sn, pi := -1, -1
	for i := 0; i+1 < len(vars); i += 2 {
		switch vars[i] {
		case "SCRIPT_NAME":
			if sn < 0 {
				sn = i + 1
			}
		case "PATH_INFO":
			if pi < 0 {
				pi = i + 1
			}
		}
	}
	if r.manage && pi >= 0 && len(vars[pi]) > 1 {
		path := vars[pi]
		best := 0
		for _, mp := range r.points {
			n := len(mp)
			if n > 0 && mp[n-1] == '/' {
				n--
			}
			if len(path) < n || n <= best || !strings.HasPrefix(path, mp[:n]) ||
				(len(path) > n && path[n] != '/') {
				continue
			}
			best = n
			if sn < 0 {
				vars = append(vars, "SCRIPT_NAME", "")
				sn = len(vars) - 1
			}
			vars[sn] = mp
			// uWSGI cuts the mount point's full length, trailing '/' too
			vars[pi] = path[min(len(mp), len(path)):]
		}
	}
	script := ""
	if sn >= 0 {
		script = vars[sn]
	}
	for i, mp := range r.points {
		if mp == script {
			return i, vars
		}
	}
	return r.def, vars
}
