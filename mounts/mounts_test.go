package mounts

import (
	"reflect"
	"testing"
)

func env(kv ...string) []string { return kv }

func lookup(vars []string, k string) (string, bool) {
	for i := 0; i+1 < len(vars); i += 2 {
		if vars[i] == k {
			return vars[i+1], true
		}
	}
	return "", false
}

func TestRouteSplit(t *testing.T) {
	r := New([]string{"", "/app", "/app/deeper", "/slash/"}, true, false)
	cases := []struct {
		path, script, pathInfo string
		app                    int
	}{
		{"/", "", "/", 0},                         // "/" is never split
		{"/other/x", "", "/other/x", 0},           // no mount: the default app
		{"/app", "/app", "", 1},                   // the mount point itself
		{"/app/", "/app", "/", 1},                 //
		{"/app/x/y", "/app", "/x/y", 1},           //
		{"/apple", "", "/apple", 0},               // not at a '/': no match
		{"/app/deeper/z", "/app/deeper", "/z", 2}, // the longest wins
		{"/slash/x", "/slash/", "x", 3},           // uWSGI cuts the trailing '/' too
		{"/slash", "/slash/", "", 3},
	}
	for _, c := range cases {
		app, vars := r.Route(env("REQUEST_METHOD", "GET", "PATH_INFO", c.path, "SCRIPT_NAME", ""))
		sn, _ := lookup(vars, "SCRIPT_NAME")
		pi, _ := lookup(vars, "PATH_INFO")
		if app != c.app || sn != c.script || pi != c.pathInfo {
			t.Errorf("%q: app %d SCRIPT_NAME %q PATH_INFO %q, want %d %q %q", c.path, app, sn, pi, c.app, c.script, c.pathInfo)
		}
	}
}

func TestRouteAddsScriptName(t *testing.T) {
	r := New([]string{"/a"}, true, false)
	app, vars := r.Route(env("PATH_INFO", "/a/b"))
	want := env("PATH_INFO", "/b", "SCRIPT_NAME", "/a")
	if app != 0 || !reflect.DeepEqual(vars, want) {
		t.Fatalf("got %d %q, want 0 %q", app, vars, want)
	}
}

func TestRouteWithoutManage(t *testing.T) {
	// without --manage-script-name the web server's SCRIPT_NAME picks the app
	r := New([]string{"/a", "/b"}, false, false)
	if app, _ := r.Route(env("PATH_INFO", "/b/x", "SCRIPT_NAME", "/b")); app != 1 {
		t.Errorf("SCRIPT_NAME /b: app %d, want 1", app)
	}
	app, vars := r.Route(env("PATH_INFO", "/b/x", "SCRIPT_NAME", ""))
	if app != 0 {
		t.Errorf("no SCRIPT_NAME: app %d, want the default 0", app)
	}
	if pi, _ := lookup(vars, "PATH_INFO"); pi != "/b/x" {
		t.Errorf("PATH_INFO changed to %q", pi)
	}
	if New([]string{""}, false, false).Trivial() != true || r.Trivial() {
		t.Error("Trivial is wrong")
	}
}

func TestNoDefaultApp(t *testing.T) {
	r := New([]string{"/a"}, true, true)
	if app, _ := r.Route(env("PATH_INFO", "/b")); app != -1 {
		t.Errorf("no mount matches: app %d, want -1", app)
	}
	if app, _ := r.Route(env("PATH_INFO", "/a/x")); app != 0 {
		t.Errorf("/a/x: app %d, want 0", app)
	}
}
