package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
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

func hasWarning(o *Options, parts ...string) bool {
	for _, w := range o.Warnings {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(w, p)
		}
		if ok {
			return true
		}
	}
	return false
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
processes = 2 # two workers
chdir = %d
wsgi-file-not-used-here = x
`)
	o := mustParse(t, "--ini", ini)
	if o.Module != "pkg.web" || o.Callable != "app" || !o.UGreen || !o.Master || o.Greenlet ||
		o.DisableLogging || o.Async != 30 || o.Processes != 2 || o.Chdir != dir+"/" ||
		!reflect.DeepEqual(o.HTTPSockets, []string{":8080", ":8081"}) ||
		!reflect.DeepEqual(o.Sockets, []string{"/run/myapp.sock"}) {
		t.Fatalf("%+v", o)
	}
	// an unknown key is one warning naming it and its file:line
	if !hasWarning(o, `"wsgi-file-not-used-here"`, ini+":19") || len(o.Warnings) != 1 {
		t.Fatalf("warnings: %q", o.Warnings)
	}
	// ...and fatal under strict
	wantErr(t, []string{"wsgi-file-not-used-here", ini + ":19"}, "--ini", ini, "--strict")
	// Raw keeps every option as given, in order, after expansion
	if o.Raw[0].Key != "ini" || o.Raw[1].Key != "module" || o.Raw[4].Value != "/run/myapp.sock" ||
		o.Raw[4].From.Line != 11 {
		t.Fatalf("raw: %+v", o.Raw[:5])
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
	o = mustParse(t, "--ini", ini, "--http-socket", ":9090")
	if !reflect.DeepEqual(o.HTTPSockets, []string{":8080", ":9090"}) {
		t.Fatalf("%+v", o.HTTPSockets)
	}
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
	o = mustParse(t, a, "-s", ":2")
	if o.Module != "m" || o.Sockets[0] != ":2" {
		t.Fatalf("%+v", o)
	}
}

func TestIniErrors(t *testing.T) {
	dir := t.TempDir()
	badBool := writeIni(t, dir, "badbool.ini", "[uwsgi]\nmaster = maybe\n")
	noValue := writeIni(t, dir, "novalue.ini", "[uwsgi]\nmodule\n")
	noEq := writeIni(t, dir, "noeq.ini", "[uwsgi]\n= x\n")
	self := writeIni(t, dir, "self.ini", "[uwsgi]\nini = %p\n")
	loop := writeIni(t, dir, "loop.ini", "[uwsgi]\na = %(b)\nb = %(a)\nmodule = %(a)\nsocket = :1\n")
	badInt := writeIni(t, dir, "badint.ini", "[uwsgi]\nmodule = m\nsocket = :1\nprocesses = four\n")
	missingInc := writeIni(t, dir, "inc.ini", "[uwsgi]\nmodule = m\nini = "+filepath.Join(dir, "nope.ini")+"\n")
	os.Mkdir(filepath.Join(dir, "adir.ini"), 0o755)

	cases := []struct {
		argv  []string
		wants []string
	}{
		{[]string{"--ini", filepath.Join(dir, "missing.ini")}, []string{"missing.ini", "no such file"}},
		{[]string{"--ini"}, []string{"--ini", "value"}},
		{[]string{"--ini", badBool}, []string{"badbool.ini:2", "master", "maybe"}},
		{[]string{"--ini", noValue}, []string{"novalue.ini:2", "module", "value"}},
		{[]string{"--ini", noEq}, []string{"noeq.ini:2", "key = value"}},
		{[]string{"--ini", self}, []string{"self.ini", "includes itself"}},
		{[]string{"--ini", loop}, []string{"loop.ini:2", "loop"}},
		{[]string{"--ini", badInt}, []string{"badint.ini:4", "processes", "four", "whole number"}},
		{[]string{"--ini", missingInc}, []string{"nope.ini", "no such file", "inc.ini:3"}},
		{[]string{"--ini", filepath.Join(dir, "adir.ini")}, []string{"adir.ini", "directory"}},
	}
	for _, tc := range cases {
		_, err := parse(t, tc.argv...)
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
	// a missing section is a warning, as uWSGI's
	noSection := writeIni(t, dir, "nosec.ini", "[server]\nmodule = m\n")
	o := mustParse(t, "--ini", noSection, "-w", "m", "-s", ":1")
	if !hasWarning(o, "nosec.ini", "[uwsgi]") {
		t.Fatalf("%q", o.Warnings)
	}
}

func TestIniMagicAndPlaceholders(t *testing.T) {
	dir := realDir(t)
	old := numCPU
	numCPU = func() int { return 6 }
	t.Cleanup(func() { numCPU = old })
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
		"env = DIR=%c",
		"env = PCT=100%%",
		"env = GONE=%q",
		"env = CPU=%k",
		"env = ONEMORE=%(%k + 1)",
		"env = LATER=%(later)",
		"env = CALC=%(processes * 3)",
		"processes = 2",
		"later = %(base)/x",
		"chdir = relative/dir",
		"",
	}, "\r\n")) // CRLF line ends too
	o, err := parseEnv(t, []string{"UWSGO_TEST_PORT=9000"}, "--ini", ini)
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{"NAME=site.conf", "FILE=site.conf.ini", "EXT=ini", "DIR=" + filepath.Base(dir),
		"PCT=100%", "GONE=", "CPU=6", "ONEMORE=7", "LATER=/srv/app/x", "CALC=6"}
	if o.WSGIFile != dir+"/app.py" || o.Chdir != "relative/dir" ||
		!reflect.DeepEqual(o.PythonPath, []string{"/srv/app/lib", dir + "/"}) ||
		!reflect.DeepEqual(o.HTTPSockets, []string{":9000"}) ||
		!reflect.DeepEqual(o.Env, wantEnv) {
		t.Fatalf("%+v\nenv  %q\nwant %q", o, o.Env, wantEnv)
	}
	if len(o.Warnings) != 0 {
		t.Fatalf("placeholders warned: %q", o.Warnings)
	}
}

func TestIniSectionAndInclude(t *testing.T) {
	dir := t.TempDir()
	common := writeIni(t, dir, "common.ini", "[uwsgi]\nmaster = true\nprocesses = 3\n[dev]\nprocesses = 1\nenv = WHO=%(who)\n")
	main := writeIni(t, dir, "main.ini", "[uwsgi]\nwho = main\nini = "+common+"\nmodule = m\nsocket = :1\nini = :dev\n")
	o := mustParse(t, "--ini", main)
	// the included file sees the includer's placeholder; `ini = :dev`
	// reads another section of the last file read
	if !o.Master || o.Processes != 1 || o.Module != "m" || !reflect.DeepEqual(o.Env, []string{"WHO=main"}) {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "--ini", main, "--ini", common+":uwsgi")
	if o.Processes != 3 {
		t.Fatalf("%+v", o)
	}
}

func TestLogic(t *testing.T) {
	dir := realDir(t)
	lines := writeIni(t, dir, "paths.txt", "/a\n/b\n")
	os.WriteFile(filepath.Join(dir, "g1.py"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "g2.py"), nil, 0o644)
	ini := writeIni(t, dir, "logic.ini", strings.Join([]string{
		"[uwsgi]",
		"module = m",
		"socket = :1",
		"if-env = DEPLOY",
		"env = DEPLOYED=%(_)",
		"endif =",
		"if-not-env = NOPE_NOT_SET",
		"env = NOPE=unset",
		"endif",
		"if-env = DEPLOY=staging",
		"env = STAGING=1",
		"else =",
		"env = NOT_STAGING=1",
		"endif =",
		"if-exists = " + lines,
		"env = EXISTS=%(_)",
		"endif =",
		"if-not-exists = /no/such/file",
		"env = NOFILE=1",
		"endif =",
		"if-file = " + dir,
		"env = WRONG=dir-is-no-file",
		"endif =",
		"if-dir = " + dir,
		"env = ISDIR=1",
		"endif =",
		"for = x y",
		"env = FOR_%(_)=1",
		"endfor =",
		"for-readline = " + lines,
		"pythonpath = %(_)",
		"endfor =",
		"for-glob = " + dir + "/g*.py",
		"env = GLOB=%(_)",
		"endfor",
		"",
	}, "\n"))
	o, err := parseEnv(t, []string{"DEPLOY=prod"}, "--ini", ini)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"DEPLOYED=prod", "NOPE=unset", "NOT_STAGING=1", "EXISTS=" + lines, "NOFILE=1", "ISDIR=1",
		"FOR_x=1", "FOR_y=1", "GLOB=" + dir + "/g1.py", "GLOB=" + dir + "/g2.py"}
	if !reflect.DeepEqual(o.Env, want) || !reflect.DeepEqual(o.PythonPath, []string{"/a", "/b"}) {
		t.Fatalf("env  %q\nwant %q\npath %q", o.Env, want, o.PythonPath)
	}
	if len(o.Warnings) != 0 {
		t.Fatalf("%q", o.Warnings)
	}
}

func TestEnvironmentOptions(t *testing.T) {
	o, err := parseEnv(t, []string{"UWSGI_MODULE=envapp", "UWSGI_HTTP_SOCKET=:7000", "UWSGI_MASTER=1", "UWSGI_RELOADS=3", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Module != "envapp" || !o.Master || !reflect.DeepEqual(o.HTTPSockets, []string{":7000"}) {
		t.Fatalf("%+v", o)
	}
	// the command line comes after, so it wins
	o, err = parseEnv(t, []string{"UWSGI_MODULE=envapp", "UWSGI_SOCKET=:1"}, "-w", "cli")
	if err != nil || o.Module != "cli" {
		t.Fatalf("%v %+v", err, o)
	}
	o, err = parseEnv(t, []string{"UWSGI_MODULE=m", "UWSGI_SOCKET=:1", "UWSGI_NO_SUCH=1"})
	if err != nil || !hasWarning(o, "no-such", "UWSGI_NO_SUCH") {
		t.Fatalf("%v %q", err, o.Warnings)
	}
}

func TestUnknownCommandLineFlag(t *testing.T) {
	o := mustParse(t, "-w", "m", "-s", ":1", "--procesess", "4")
	if !hasWarning(o, "--procesess", "--processes") || len(o.Warnings) != 1 {
		t.Fatalf("%q", o.Warnings)
	}
	_, err := parse(t, "-w", "m", "-s", ":1", "--procesess", "4", "--strict")
	var ce *Error
	if err == nil || !strings.Contains(err.Error(), "--processes") || !asError(err, &ce) || ce.Code != 2 {
		t.Fatalf("err = %v", err)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

// withStatus gives the named options a status for one test, so that the
// tests of the policy hold whatever the table says today.
func withStatus(t *testing.T, st Status, names ...string) {
	t.Helper()
	for _, n := range names {
		o := Lookup(n)
		old := o.Status
		o.Status = st
		t.Cleanup(func() { o.Status = old })
	}
}

func TestStatusOfOptions(t *testing.T) {
	withStatus(t, NotImplemented, "vacuum", "chmod-socket")
	o := mustParse(t, "-w", "m", "-s", ":1", "--thunder-lock", "--lazy-apps", "--vacuum", "--chmod-socket",
		"--cheaper", "2", "--cheaper-step", "1", "--plugins", "python3,router_static", "--plugin", "php", "--need-plugins", "python311")
	var names []string
	for _, n := range o.Accepted {
		names = append(names, n.Option)
	}
	if !reflect.DeepEqual(names, []string{"thunder-lock", "lazy-apps", "cheaper", "cheaper-step"}) {
		t.Fatalf("accepted %q", names)
	}
	if !hasWarning(o, "vacuum", "not implemented") || !hasWarning(o, `plugin "php"`) || len(o.Warnings) != 3 {
		t.Fatalf("%q", o.Warnings)
	}
	if !o.Vacuum || o.ChmodSocket != "666" || o.Cheaper != 2 ||
		!reflect.DeepEqual(o.Plugins, []string{"python3,router_static", "php", "python311"}) {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "-w", "m", "-s", ":1", "--chmod-socket=664", "-C", "--log-date")
	if o.ChmodSocket != "666" || o.LogDate != DefaultLogDate {
		t.Fatalf("%+v", o)
	}
	o = mustParse(t, "-w", "m", "-s", ":1", "--chmod-socket", "660")
	if o.ChmodSocket != "660" {
		t.Fatalf("%+v", o)
	}
}

func TestOptGroupsRawLikeUWSGI(t *testing.T) {
	dir := t.TempDir()
	ini := writeIni(t, dir, "o.ini", "[uwsgi]\nmodule = m\nsocket = :1\nsocket = :2\nenable-threads\nmaster = true\n")
	withStatus(t, NotImplemented, "vacuum")
	o := mustParse(t, "--ini", ini, "--strict", "--vacuum")
	got := map[string][]string{}
	var order []string
	for _, kv := range o.Opt() {
		order = append(order, kv.Key)
		for _, v := range kv.Values {
			if v == nil {
				got[kv.Key] = append(got[kv.Key], "<True>")
			} else {
				got[kv.Key] = append(got[kv.Key], *v)
			}
		}
	}
	if !reflect.DeepEqual(order, []string{"ini", "module", "socket", "enable-threads", "master", "strict", "vacuum"}) ||
		!reflect.DeepEqual(got["socket"], []string{":1", ":2"}) ||
		!reflect.DeepEqual(got["enable-threads"], []string{"<True>"}) ||
		!reflect.DeepEqual(got["master"], []string{"true"}) {
		t.Fatalf("%q %q", order, got)
	}
	// a known option that is not implemented stays a warning under strict
	if !hasWarning(o, "vacuum", "not implemented") {
		t.Fatalf("%q", o.Warnings)
	}
}

func TestPlaceholderUnderStrict(t *testing.T) {
	dir := t.TempDir()
	ini := writeIni(t, dir, "p.ini", "[uwsgi]\nstrict = true\nbase = /srv\nchdir = %(base)\nmodule = m\nsocket = :1\n")
	wantErr(t, []string{"base", "p.ini:3", "set-placeholder"}, "--ini", ini)
	ini = writeIni(t, dir, "q.ini", "[uwsgi]\nstrict = true\nset-placeholder = base=/srv\nchdir = %(base)\nmodule = m\nsocket = :1\n")
	if o := mustParse(t, "--ini", ini); o.Chdir != "/srv" {
		t.Fatalf("%+v", o)
	}
}

func TestUWSGIOptionNotSupported(t *testing.T) {
	o := mustParse(t, "-w", "m", "-s", ":1", "--emperor", "/tmp/vassals", "--route", "^/x break:404")
	if !hasWarning(o, "uWSGI option --emperor is not supported") || !hasWarning(o, "--route") {
		t.Fatalf("%q", o.Warnings)
	}
	// every option of the table that uWSGI has is spelled as uWSGI spells it
	own := map[string]bool{"ugreen-switch": true, "else": true} // uwsgo's, and newer uWSGI's
	for _, opt := range Table() {
		for _, n := range opt.Names() {
			if !uwsgiOptions[n] && !own[n] {
				t.Errorf("--%s is not a uWSGI option", n)
			}
		}
	}
}

func TestIncludeNamedByPlaceholder(t *testing.T) {
	dir := t.TempDir()
	withStatus(t, NotImplemented, "add-header")
	writeIni(t, dir, "common.ini", "[uwsgi]\nprocesses = 3\nadd-header = A: 1\nadd-header = B: 2\n")
	ini := writeIni(t, dir, "main.ini", "[uwsgi]\nconfdir = "+dir+"\nini = %(confdir)/common.ini\nini = $(I12_DIR)/common.ini\nmodule = m\nsocket = :1\n")
	o, err := parseEnv(t, []string{"I12_DIR=" + dir}, "--ini", ini)
	if err != nil {
		t.Fatal(err)
	}
	if o.Processes != 3 || len(o.AddHeaders) != 4 {
		t.Fatalf("%+v", o)
	}
	// add-header given four times is one warning
	n := 0
	for _, w := range o.Warnings {
		if strings.Contains(w, "add-header") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%q", o.Warnings)
	}
}

func TestYAMLAndJSON(t *testing.T) {
	dir := realDir(t)
	y := writeIni(t, dir, "app.yaml", `
defaults: &defaults
  master: true
  processes: 2
uwsgi:
  <<: *defaults
  module: m
  socket:
    - ":1"
    - ":2"
  processes: 4
  enable-threads:
  env: NAME=%n
other:
  module: n
`)
	o := mustParse(t, "--yaml", y)
	if !o.Master || o.Processes != 4 || o.Module != "m" || !reflect.DeepEqual(o.Sockets, []string{":1", ":2"}) ||
		!reflect.DeepEqual(o.Env, []string{"NAME=app"}) {
		t.Fatalf("%+v", o)
	}
	if o.Raw[len(o.Raw)-2].Key != "enable-threads" || !o.Raw[len(o.Raw)-2].Bare || o.Raw[len(o.Raw)-2].From.Line != 12 {
		t.Fatalf("%+v", o.Raw)
	}
	if o := mustParse(t, y+":other", "-s", ":3"); o.Module != "n" {
		t.Fatalf("%+v", o)
	}
	j := writeIni(t, dir, "app.json", `{"other": {"x": [1, {"a": 2}]},
 "uwsgi": {"module": "m", "socket": [":1", ":2"], "master": true, "lazy-apps": false,
  "processes": 3, "env": "N=%n"}}`)
	o = mustParse(t, "--json", j)
	if !o.Master || o.Processes != 3 || !reflect.DeepEqual(o.Sockets, []string{":1", ":2"}) ||
		!reflect.DeepEqual(o.Env, []string{"N=app"}) || len(o.Accepted) != 0 {
		t.Fatalf("%+v", o)
	}
	if e := o.Raw[5]; e.Key != "lazy-apps" || e.Value != "0" || e.From.Line != 2 {
		t.Fatalf("%+v", o.Raw)
	}
	bad := writeIni(t, dir, "bad.json", "{\"uwsgi\": {\"module\": \"m\",\n \"socket\": }}")
	wantErr(t, []string{"bad.json:2", "JSON"}, "--json", bad)
	badY := writeIni(t, dir, "bad.yaml", "uwsgi:\n  module: [\n")
	wantErr(t, []string{"bad.yaml", "YAML"}, "--yaml", badY)
}

func TestMisspeltOption(t *testing.T) {
	dir := t.TempDir()
	ini := writeIni(t, dir, "m.ini", "[uwsgi]\nmodule = m\nsocket = :1\nlogfile = /var/log/app.log\n")
	if o := mustParse(t, "--ini", ini); !hasWarning(o, `"logfile"`, "m.ini:4", "uWSGI spells it logto") {
		t.Fatalf("%q", o.Warnings)
	}
}

// Options.Magic is the table of the last file read (uwsgi.magic_table),
// with the first file's in the upper-case letters, as uWSGI keeps it.
func TestMagicTableOfTheLastFile(t *testing.T) {
	dir := realDir(t)
	second := writeIni(t, dir, "second.ini", "[uwsgi]\nprocesses = 2\n")
	first := writeIni(t, dir, "first.ini", "[uwsgi]\nmodule = m\nsocket = :1\nini = "+second+"\n")
	o := mustParse(t, "--ini", first)
	m := o.Magic
	if m['s'] != "second.ini" || m['S'] != "first.ini" || m['d'] != dir+"/" || m['n'] != "second" ||
		m['%'] != "%" || m['V'] != UWSGIVersion {
		t.Fatalf("%q", m)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(second, &st); err != nil {
		t.Fatal(err)
	}
	if m['i'] != strconv.FormatUint(st.Ino, 10) || m['j'] != djb33xHex(second) || len(m['J']) != 8 {
		t.Fatalf("i=%q j=%q J=%q", m['i'], m['j'], m['J'])
	}
	// uWSGI's hash of /tmp/i14p/p.ini, as its magic_table showed it
	if got := djb33xHex("/tmp/i14p/p.ini"); got != "CF55A0CF" {
		t.Fatalf("djb33x: %s", got)
	}
	// without a file: the table uWSGI starts with
	o = mustParse(t, "-w", "m", "-s", ":1")
	if o.Magic['h'] == "" || o.Magic['v'] == "" || o.Magic['d'] != "" || o.Magic['%'] != "%" {
		t.Fatalf("%q", o.Magic)
	}
}
