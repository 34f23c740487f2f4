package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeIni(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func realDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestIniBasic(t *testing.T) {
	dir := realDir(t)
	ini := writeIni(t, dir, "myapp.ini", `
# a comment
; another comment
[other]
module = wrong

[uwsgi]
module = pkg.web:app
http-socket = :8080
http = :8081
socket = /run/%n.sock
async = 30
ugreen = true
master = yes
disable-logging = off
greenlet = 0
processes = 2
chdir = %d
wsgi-file-not-used-here = x
`)
	// wsgi-file-not-used-here is unknown: first check that it is refused...
	if _, err := ExpandIni([]string{"uwsgo", "--ini", ini}); err == nil ||
		!strings.Contains(err.Error(), "wsgi-file-not-used-here") || !strings.Contains(err.Error(), "myapp.ini") {
		t.Fatalf("unknown key: err = %v", err)
	}
	// ...then drop it.
	body, _ := os.ReadFile(ini)
	writeIni(t, dir, "myapp.ini", strings.Replace(string(body), "wsgi-file-not-used-here = x\n", "", 1))

	args, err := ExpandIni([]string{"uwsgo", "--ini", ini})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"uwsgo",
		"--module=pkg.web:app", "--http-socket=:8080", "--http-socket=:8081",
		"--socket=/run/myapp.sock", "--async=30", "--ugreen", "--master",
		"--processes=2", "--chdir=" + dir + "/",
	}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("got  %q\nwant %q", args, want)
	}

	o := mustParse(t, "--ini", ini)
	if o.Module != "pkg.web" || o.Callable != "app" || !o.UGreen || !o.Master || o.Greenlet ||
		o.DisableLogging || o.Async != 30 || o.Processes != 2 || o.Chdir != dir+"/" ||
		!reflect.DeepEqual(o.HTTPSockets, []string{":8080", ":8081"}) ||
		!reflect.DeepEqual(o.Sockets, []string{"/run/myapp.sock"}) {
		t.Fatalf("%+v", o)
	}
}

func TestIniOverride(t *testing.T) {
	dir := t.TempDir()
	ini := writeIni(t, dir, "a.ini", "[uwsgi]\nmodule = fromini\nprocesses = 4\nhttp-socket = :8080\n")
	o := mustParse(t, "--ini="+ini, "--processes", "8", "-w", "fromcli")
	if o.Processes != 8 || o.Module != "fromcli" {
		t.Fatalf("%+v", o)
	}
	// before --ini, the ini wins (it comes later)
	o = mustParse(t, "--processes", "8", "--ini", ini)
	if o.Processes != 4 {
		t.Fatalf("%+v", o)
	}
	// repeatable options add up
	o = mustParse(t, "--ini", ini, "--http-socket", ":9090")
	if !reflect.DeepEqual(o.HTTPSockets, []string{":8080", ":9090"}) {
		t.Fatalf("%+v", o.HTTPSockets)
	}
	// a boolean set in the ini can be turned off on the command line
	ini2 := writeIni(t, dir, "b.ini", "[uwsgi]\nmodule = m\nsocket = :1\nmaster = true\n")
	o = mustParse(t, "--ini", ini2, "--master=false")
	if o.Master {
		t.Fatalf("%+v", o)
	}
}

func TestIniTwoFilesAndBare(t *testing.T) {
	dir := t.TempDir()
	a := writeIni(t, dir, "a.ini", "[uwsgi]\nmodule = m\n")
	b := writeIni(t, dir, "b.ini", "[uwsgi]\nsocket = :1\nmaster\n")
	o := mustParse(t, "--ini", a, "--ini", b)
	if o.Module != "m" || o.Sockets[0] != ":1" || !o.Master {
		t.Fatalf("%+v", o)
	}
	// a bare *.ini argument is loaded too (uWSGI does so)
	o = mustParse(t, a, "-s", ":2")
	if o.Module != "m" || o.Sockets[0] != ":2" {
		t.Fatalf("%+v", o)
	}
}

func TestIniErrors(t *testing.T) {
	dir := t.TempDir()
	noSection := writeIni(t, dir, "nosec.ini", "[server]\nmodule = m\n")
	unknown := writeIni(t, dir, "unknown.ini", "[uwsgi]\nmodule = m\nmodul = x\n")
	badBool := writeIni(t, dir, "badbool.ini", "[uwsgi]\nmaster = maybe\n")
	noValue := writeIni(t, dir, "novalue.ini", "[uwsgi]\nmodule\n")
	short := writeIni(t, dir, "short.ini", "[uwsgi]\nw = app\n")
	badHeader := writeIni(t, dir, "header.ini", "[uwsgi\nmodule = m\n")
	noEq := writeIni(t, dir, "noeq.ini", "[uwsgi]\n= x\n")
	placeholder := writeIni(t, dir, "ph.ini", "[uwsgi]\nmodule = %(nope)\n")
	self := writeIni(t, dir, "self.ini", "[uwsgi]\nini = %p\n")

	cases := []struct {
		argv  []string
		wants []string
	}{
		{[]string{"--ini", filepath.Join(dir, "missing.ini")}, []string{"missing.ini", "not found"}},
		{[]string{"--ini"}, []string{"--ini", "missing file name"}},
		{[]string{"--ini", noSection}, []string{"nosec.ini", "[uwsgi]"}},
		{[]string{"--ini", unknown}, []string{"unknown.ini", "line 3", `"modul"`, `did you mean "module"`}},
		{[]string{"--ini", badBool}, []string{"badbool.ini", "master", "maybe"}},
		{[]string{"--ini", noValue}, []string{"novalue.ini", "module", "value"}},
		{[]string{"--ini", short}, []string{"short.ini", `"w"`}},
		{[]string{"--ini", badHeader}, []string{"header.ini", "section"}},
		{[]string{"--ini", noEq}, []string{"noeq.ini", "key = value"}},
		{[]string{"--ini", placeholder}, []string{"ph.ini", "%(nope)"}},
		{[]string{"--ini", self}, []string{"self.ini", "includes itself"}},
		{[]string{"--ini", noSection + ":other"}, []string{"nosec.ini", "[other]"}},
	}
	for _, tc := range cases {
		_, err := ExpandIni(append([]string{"uwsgo"}, tc.argv...))
		if err == nil {
			t.Errorf("%q: no error", tc.argv)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error not one line: %q", tc.argv, err)
		}
		for _, w := range tc.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not contain %q", tc.argv, err, w)
			}
		}
	}
}

func TestIniMagicAndPlaceholders(t *testing.T) {
	dir := realDir(t)
	t.Setenv("UWSGO_TEST_PORT", "9000")
	ini := writeIni(t, dir, "site.conf.ini", strings.Join([]string{
		"[uwsgi]",
		"base = /srv/app",
		"pythonpath = %(base)/lib",
		"pythonpath = %d",
		"wsgi-file = %dapp.py",
		"http-socket = :$(UWSGO_TEST_PORT)",
		"env = NAME=%n",
		"env = FILE=%s",
		"env = EXT=%e",
		"env = PCT=100%",
		"env = LIT=%q",
		"static-map = /static=%(d)static",
		"chdir = relative/dir",
		"",
	}, "\r\n")) // CRLF line ends too
	o := mustParse(t, "--ini", ini)
	if o.WSGIFile != dir+"/app.py" || o.Chdir != "relative/dir" ||
		!reflect.DeepEqual(o.PythonPath, []string{"/srv/app/lib", dir + "/"}) ||
		!reflect.DeepEqual(o.HTTPSockets, []string{":9000"}) ||
		!reflect.DeepEqual(o.Env, []string{"NAME=site.conf", "FILE=site.conf.ini", "EXT=ini", "PCT=100%", "LIT=%q"}) ||
		!reflect.DeepEqual(o.StaticMap, []string{"/static=" + dir + "/static"}) {
		t.Fatalf("%+v", o)
	}
}

func TestIniSectionAndInclude(t *testing.T) {
	dir := t.TempDir()
	common := writeIni(t, dir, "common.ini", "[uwsgi]\nmaster = true\nprocesses = 3\n[dev]\nprocesses = 1\n")
	main := writeIni(t, dir, "main.ini", "[uwsgi]\nini = "+common+"\nmodule = m\nsocket = :1\n")
	o := mustParse(t, "--ini", main)
	if !o.Master || o.Processes != 3 || o.Module != "m" {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "--ini", main, "--ini", common+":dev")
	if o.Processes != 1 {
		t.Fatalf("%+v", o)
	}
}

func TestExpandIniLeavesOtherArgs(t *testing.T) {
	in := []string{"uwsgo", "--chdir", "x.ini", "-w", "a", "--", "--ini", "y.ini"}
	out, err := ExpandIni(in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("got %q", out)
	}
	if out, err := ExpandIni(nil); err != nil || len(out) != 0 {
		t.Fatalf("%q %v", out, err)
	}
}
