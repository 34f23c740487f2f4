package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// parse loads argv (without the program name) with an empty environment,
// the way cmd/uwsgo does.
func parse(t *testing.T, argv ...string) (*Options, error) {
	t.Helper()
	return parseEnv(t, nil, argv...)
}

func parseEnv(t *testing.T, env []string, argv ...string) (*Options, error) {
	t.Helper()
	ld, err := Load(argv, env)
	if err != nil {
		return nil, err
	}
	return ld.Options, nil
}

// bare drops what Load records beside the options, for comparisons.
func bare(o *Options) *Options {
	c := *o
	c.Raw, c.Magic, c.Accepted, c.Warnings = nil, nil, nil, nil
	return &c
}

func mustParse(t *testing.T, argv ...string) *Options {
	t.Helper()
	o, err := parse(t, argv...)
	if err != nil {
		t.Fatalf("parse %q: %v", argv, err)
	}
	if o == nil {
		t.Fatalf("parse %q: no options", argv)
	}
	return o
}

func wantErr(t *testing.T, wants []string, argv ...string) {
	t.Helper()
	o, err := parse(t, argv...)
	if err == nil {
		t.Fatalf("parse %q: want an error containing %q, got %+v", argv, wants, o)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("parse %q: error %q does not contain %q", argv, err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("parse %q: error is not one line: %q", argv, err)
	}
}

func TestDefaults(t *testing.T) {
	o := mustParse(t, "-w", "app", "-s", ":3031")
	want := Defaults()
	want.Module = "app"
	want.Sockets = []string{":3031"}
	if !reflect.DeepEqual(*bare(o), want) {
		t.Fatalf("got  %+v\nwant %+v", *o, want)
	}
	if o.Callable != "application" || o.Processes != 1 || o.Listen != 100 ||
		o.UGreenStackPages != 64 || o.UGreenSwitch != "fast" ||
		o.BufferSize != 4096 || o.PostBuffering != 1048576 || o.Async != 0 {
		t.Fatalf("defaults: %+v", o)
	}
}

func TestAllFlags(t *testing.T) {
	o := mustParse(t,
		"--module=pkg.web", "--callable", "app",
		"--pythonpath", "/a", "--python-path=/b", "--pp", "c",
		"--chdir", "/srv", "--env", "A=1", "--env=B=x,y",
		"-s", ":3031", "--socket", "/tmp/u.sock", "--uwsgi-socket=127.0.0.1:3032",
		"--http-socket", ":8080", "--http", ":8081",
		"--listen", "1024",
		"--async", "30", "--ugreen", "--ugreen-stacksize", "128", "--ugreen-switch", "swapcontext",
		"-M", "-p", "4", "--harakiri", "20", "--max-requests", "1000",
		"--static-map", "/static=public", "--static-map=/img=/var/img",
		"--static-index", "index.html", "--static-index", "index.htm",
		"--buffer-size", "32768", "--post-buffering", "8192", "--disable-logging",
	)
	want := Defaults()
	want = Options{
		SocketTimeout: want.SocketTimeout, HTTPTimeout: want.HTTPTimeout, MaxVars: want.MaxVars,
		ReloadMercy: want.ReloadMercy, WorkerReloadMercy: want.WorkerReloadMercy,
		WSMaxSize: want.WSMaxSize, WSPingFreq: want.WSPingFreq, WSPongTolerance: want.WSPongTolerance,
		Module: "pkg.web", Callable: "app",
		PythonPath: []string{"/a", "/b", "c"}, Chdir: "/srv", Env: []string{"A=1", "B=x,y"},
		Sockets:     []string{":3031", "/tmp/u.sock", "127.0.0.1:3032"},
		HTTPSockets: []string{":8080", ":8081"}, Listen: 1024,
		Async: 30, UGreen: true, UGreenStackPages: 128, UGreenSwitch: "swapcontext",
		Master: true, Processes: 4, Harakiri: 20, MaxRequests: 1000,
		StaticMap:   []string{"/static=public", "/img=/var/img"},
		StaticIndex: []string{"index.html", "index.htm"},
		BufferSize:  32768, PostBuffering: 8192, DisableLogging: true,
	}
	if !reflect.DeepEqual(*bare(o), want) {
		t.Fatalf("got  %+v\nwant %+v", *bare(o), want)
	}
}

func TestAliases(t *testing.T) {
	o := mustParse(t, "--wsgi", "a", "--http", ":1", "--workers", "3", "--master")
	if o.Module != "a" || o.Processes != 3 || !o.Master || !reflect.DeepEqual(o.HTTPSockets, []string{":1"}) {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "--wsgi-file", "app.py", "--processes=2", "--uwsgi-socket", ":2")
	if o.WSGIFile != "app.py" || o.Module != "" || o.Processes != 2 || o.Sockets[0] != ":2" {
		t.Fatalf("%+v", o)
	}
	// uWSGI's short flags, bundled too, with their values attached or not
	o = mustParse(t, "-w", "b", "-s:3", "-Mp", "4", "-b", "8192", "-L", "-T", "-t", "30", "-z", "9", "-H", "/venv")
	if o.Module != "b" || o.Sockets[0] != ":3" || !o.Master || o.Processes != 4 || o.BufferSize != 8192 ||
		!o.DisableLogging || o.Harakiri != 30 || o.SocketTimeout != 9 || o.Home != "/venv" {
		t.Fatalf("%+v", o)
	}
}

func TestAliasesMixed(t *testing.T) {
	// Two spellings of one option: the last wins (uWSGI); lists keep order.
	o := mustParse(t, "-w", "a", "--module", "b", "--wsgi=c",
		"-s", ":1", "--uwsgi-socket", ":2", "--socket=:3",
		"-p", "2", "--workers", "5",
		"--http", ":8", "--http-socket", ":9")
	if o.Module != "c" || o.Processes != 5 ||
		!reflect.DeepEqual(o.Sockets, []string{":1", ":2", ":3"}) ||
		!reflect.DeepEqual(o.HTTPSockets, []string{":8", ":9"}) {
		t.Fatalf("%+v", o)
	}
	// scalar repeated: last wins
	o = mustParse(t, "-w", "a", "-s", ":1", "--async", "2", "--async", "7")
	if o.Async != 7 {
		t.Fatalf("%+v", o)
	}
}

func TestHelpShowsAliases(t *testing.T) {
	var b strings.Builder
	WriteHelp(&b, "9.9")
	for _, w := range []string{"  -w, --module, --wsgi MODULE   load a WSGI module", "  -p, --processes, --workers N  number of worker processes",
		"  --http-socket, --http ADDR    HTTP/1.1 listener", "  -M, --master                  run a master", "default application",
		"  -C, --chmod-socket, --chmod[=MODE]\n                                chmod unix sockets",
		"  --thunder-lock                serialize accept() between workers (accepted, no effect: uwsgo's workers do not share an accept lock",
		"Usage: uwsgo"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("help lacks %q:\n%s", w, b.String())
		}
	}
	// every option of the table is in it
	for _, o := range Table() {
		if !strings.Contains(b.String(), "--"+o.Name) {
			t.Errorf("help lacks --%s", o.Name)
		}
	}
}

func TestModuleCallable(t *testing.T) {
	o := mustParse(t, "-w", "pkg.mod:make_app", "-s", ":1")
	if o.Module != "pkg.mod" || o.Callable != "make_app" {
		t.Fatalf("%+v", o)
	}
	// the part after the colon wins over --callable, as in uWSGI
	o = mustParse(t, "--callable", "other", "-w", "pkg.mod:app", "-s", ":1")
	if o.Module != "pkg.mod" || o.Callable != "app" {
		t.Fatalf("%+v", o)
	}
	wantErr(t, []string{"--module"}, "-w", "pkg.mod:", "-s", ":1")
	wantErr(t, []string{"--module"}, "-w", ":app", "-s", ":1")
}

func TestEngines(t *testing.T) {
	o := mustParse(t, "-w", "a", "-s", ":1", "--ugreen")
	if !o.UGreen || o.Async != 0 {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "-w", "a", "-s", ":1", "--greenlet", "--async", "10")
	if !o.Greenlet || o.Async != 10 {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "-w", "a", "-s", ":1", "--gevent", "100", "--gevent-monkey-patch", "--gevent-early-monkey-patch")
	if o.Gevent != 100 || !o.GeventMonkey || !o.GeventEarly {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "-w", "a", "-s", ":1", "--gevent", "100", "--threads", "1")
	if o.Threads != 1 {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "-w", "a", "-s", ":1", "--threads", "8", "--processes", "2")
	if o.Threads != 8 || o.Processes != 2 {
		t.Fatalf("%+v", o)
	}
}

func TestValidation(t *testing.T) {
	app := []string{"-w", "a", "-s", ":1"}
	with := func(extra ...string) []string { return append(append([]string{}, app...), extra...) }
	cases := []struct {
		name  string
		argv  []string
		wants []string
	}{
		{"no app", []string{"-s", ":1"}, []string{"--module", "--wsgi-file"}},
		{"two apps", []string{"-w", "a", "--wsgi-file", "b.py", "-s", ":1"}, []string{"--module", "--wsgi-file"}},
		{"no socket", []string{"-w", "a"}, []string{"--socket", "--http-socket"}},
		{"processes 0", with("--processes", "0"), []string{"--processes"}},
		{"processes negative", with("-p", "-2"), []string{"--processes"}},
		{"harakiri negative", with("--harakiri", "-1"), []string{"--harakiri"}},
		{"async negative", with("--async", "-1"), []string{"--async"}},
		{"max-requests negative", with("--max-requests", "-5"), []string{"--max-requests"}},
		{"listen 0", with("--listen", "0"), []string{"--listen"}},
		{"listen negative", with("--listen", "-1"), []string{"--listen"}},
		{"gevent negative", with("--gevent", "-1"), []string{"--gevent"}},
		{"threads negative", with("--threads", "-1"), []string{"--threads", "must not be negative"}},
		{"threads 0", with("--threads", "0"), []string{"--threads 0: must be at least 1"}},
		{"threads+async", with("--threads", "4", "--async", "10"), []string{"--threads 4 cannot be used with --async 10"}},
		{"threads+ugreen", with("--threads", "4", "--ugreen"), []string{"--threads cannot be used with --ugreen"}},
		{"threads+greenlet", with("--threads", "4", "--async", "1", "--greenlet"), []string{"--threads cannot be used with --greenlet"}},
		{"buffer-size 0", with("--buffer-size", "0"), []string{"--buffer-size"}},
		{"post-buffering negative", with("--post-buffering", "-1"), []string{"--post-buffering"}},
		{"limit-post negative", with("--limit-post", "-1"), []string{"--limit-post"}},
		{"max-vars 0", with("--max-vars", "0"), []string{"--max-vars"}},
		{"socket-timeout 0", with("--socket-timeout", "0"), []string{"--socket-timeout"}},
		{"http-timeout negative", with("--http-timeout", "-3"), []string{"--http-timeout"}},
		{"stacksize 1", with("--ugreen", "--ugreen-stacksize", "1"), []string{"--ugreen-stacksize"}},
		{"stacksize 0", with("--ugreen-stacksize", "0"), []string{"--ugreen-stacksize"}},
		{"stacksize huge", with("--ugreen-stacksize", "100000000"), []string{"--ugreen-stacksize", "1 GiB"}},
		{"switch", with("--ugreen-switch", "longjmp"), []string{"--ugreen-switch", "fast", "swapcontext"}},
		{"ugreen+greenlet", with("--ugreen", "--greenlet"), []string{"--ugreen", "--greenlet"}},
		{"ugreen+gevent", with("--ugreen", "--gevent", "10"), []string{"--ugreen", "--gevent"}},
		{"greenlet+gevent", with("--greenlet", "--gevent", "10"), []string{"--greenlet", "--gevent"}},
		{"threads+gevent", with("--threads", "4", "--gevent", "10"),
			[]string{"--threads cannot be used with --gevent (uWSGI multithread mode does not work with gevent)"}},
		{"monkey without gevent", with("--gevent-monkey-patch"), []string{"--gevent-monkey-patch", "--gevent"}},
		{"early monkey without gevent", with("--gevent-early-monkey-patch"), []string{"--gevent-early-monkey-patch"}},
		{"static-map without =", with("--static-map", "/static"), []string{"--static-map", "="}},
		{"static-map empty side", with("--static-map", "=dir"), []string{"--static-map"}},
		{"env without =", with("--env", "FOO"), []string{"--env", "FOO"}},
		{"env empty key", with("--env", "=x"), []string{"--env"}},
		{"stray argument", with("extra"), []string{"extra"}},
		{"bad int", with("--async", "many"), []string{"async"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.wants, tc.argv...) })
	}
}

func TestRepeatedFlagsFreshPerApp(t *testing.T) {
	// Two apps built from two Flags() calls do not share repeatable values.
	a := mustParse(t, "-w", "a", "-s", ":1", "-s", ":2")
	b := mustParse(t, "-w", "a", "-s", ":3")
	if len(a.Sockets) != 2 || !reflect.DeepEqual(b.Sockets, []string{":3"}) {
		t.Fatalf("a=%v b=%v", a.Sockets, b.Sockets)
	}
}

func TestValidateDirect(t *testing.T) {
	o := Defaults()
	o.WSGIFile = "app.py"
	o.HTTPSockets = []string{":8080"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	o.UGreenStackPages = int((1<<30)/os.Getpagesize()) + 1
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--ugreen-stacksize") {
		t.Fatalf("err = %v", err)
	}
}
