package server

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const secret = "TOP SECRET"

// staticTree makes dir/static with files, an index, and symlinks in and
// out; dir/secret.txt lies outside.
func staticTree(t *testing.T) (staticDir string, maps []StaticMap) {
	t.Helper()
	dir := t.TempDir()
	st := filepath.Join(dir, "static")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(st, "sub"), 0o755))
	must(os.MkdirAll(filepath.Join(st, "noindex"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "secret.txt"), []byte(secret), 0o644))
	must(os.WriteFile(filepath.Join(st, "hello.txt"), []byte("hello world"), 0o644))
	must(os.WriteFile(filepath.Join(st, "style.css"), []byte("body{}"), 0o644))
	must(os.WriteFile(filepath.Join(st, "sub", "index.html"), []byte("<p>index</p>"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "favicon.ico"), []byte("ICON"), 0o644))
	must(os.Symlink("../secret.txt", filepath.Join(st, "rel-out")))
	must(os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(st, "abs-out")))
	must(os.Symlink(dir, filepath.Join(st, "dir-out")))
	must(os.Symlink(filepath.Join(st, "hello.txt"), filepath.Join(st, "abs-in")))
	must(os.Symlink("hello.txt", filepath.Join(st, "rel-in")))
	must(syscall.Mkfifo(filepath.Join(st, "fifo"), 0o644))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(st, "hello.txt"), old, old))

	for _, spec := range []string{"/static=" + st, "/static/deep=" + filepath.Join(st, "sub"), "/favicon.ico=" + filepath.Join(dir, "favicon.ico")} {
		m, err := ParseStaticMap(spec)
		must(err)
		maps = append(maps, m)
	}
	return st, maps
}

func staticServer(t *testing.T, kind Kind) *testServer {
	_, maps := staticTree(t)
	return startServer(t, kind, func(c *Config) {
		c.StaticMaps = maps
		c.StaticIndex = []string{"missing.html", "index.html"}
	})
}

// staticCase is one request and what must come back. app means the
// request falls through to the app.
type staticCase struct {
	path    string
	headers []string
	status  int
	body    string
	ctype   string
	app     bool
}

var staticCases = []staticCase{
	{path: "/static/hello.txt", status: 200, body: "hello world", ctype: "text/plain; charset=utf-8"},
	{path: "/static/style.css", status: 200, body: "body{}", ctype: "text/css; charset=utf-8"},
	{path: "/static/hello.txt", headers: []string{"Range", "bytes=0-4"}, status: 206, body: "hello"},
	{path: "/static/hello.txt", headers: []string{"If-Modified-Since", "Thu, 02 Jan 2020 03:04:05 GMT"}, status: 304},
	{path: "/static/hello.txt", headers: []string{"If-Modified-Since", "Wed, 01 Jan 2020 00:00:00 GMT"}, status: 200, body: "hello world"},
	{path: "/static/sub/", status: 200, body: "<p>index</p>", ctype: "text/html; charset=utf-8"},
	{path: "/static/sub", status: 200, body: "<p>index</p>"},
	{path: "/static/deep/index.html", status: 200, body: "<p>index</p>"},
	{path: "/static/abs-in", status: 200, body: "hello world"},
	{path: "/static/rel-in", status: 200, body: "hello world"},
	{path: "/favicon.ico", status: 200, body: "ICON"},
	{path: "/static/missing.txt", app: true},
	{path: "/static/noindex/", app: true},
	{path: "/staticx/hello.txt", app: true},
	{path: "/static/hello.txt/", app: true},
	// Refused: everything that leaves the directory.
	{path: "/static/../secret.txt", status: 404},
	{path: "/static/%2e%2e/secret.txt", status: 404},
	{path: "/static/%2E%2E%2Fsecret.txt", status: 404},
	{path: "/static/..%2fsecret.txt", status: 404},
	{path: "/static/sub/..%2f..%2fsecret.txt", status: 404},
	{path: "/static/rel-out", status: 404},
	{path: "/static/abs-out", status: 404},
	{path: "/static/dir-out/secret.txt", status: 404},
	{path: "/static/fifo", status: 404},
	{path: "/static/a%00b", status: 404},
}

func TestStaticHTTP(t *testing.T) {
	ts := staticServer(t, HTTP)
	for _, tc := range staticCases {
		var req strings.Builder
		req.WriteString("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
		for i := 0; i < len(tc.headers); i += 2 {
			req.WriteString(tc.headers[i] + ": " + tc.headers[i+1] + "\r\n")
		}
		req.WriteString("\r\n")
		resp, body := rawHTTP(t, ts.addr, req.String())
		checkStatic(t, ts, tc, resp, body)
	}
	waitLog(t, ts.logs, "GET /static/style.css => generated 6 bytes")

	// HEAD: the length, no body. POST goes to the app.
	resp, err := client(t).Head("http://" + ts.addr + "/static/hello.txt")
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 11 {
		t.Errorf("HEAD: %v %v", resp, err)
	}
	_, body := rawHTTP(t, ts.addr, "POST /static/hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	if body != "app:/static/hello.txt" {
		t.Errorf("POST to a static path: %q", body)
	}
}

func TestStaticUwsgi(t *testing.T) {
	ts := staticServer(t, UWSGI)
	for _, tc := range staticCases {
		if strings.Contains(tc.path, "%") {
			continue // nginx hands PATH_INFO decoded; the decoded forms are below
		}
		var extra []string
		for i := 0; i < len(tc.headers); i += 2 {
			extra = append(extra, "HTTP_"+strings.ToUpper(strings.ReplaceAll(tc.headers[i], "-", "_")), tc.headers[i+1])
		}
		resp, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars(tc.path, extra...)...), nil)
		checkStatic(t, ts, tc, resp, body)
	}
	for _, p := range []string{"/static/../secret.txt", "/static/sub/../../secret.txt", "/static/a\x00b"} {
		resp, body := uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars(p)...), nil)
		checkStatic(t, ts, staticCase{path: p, status: 404}, resp, body)
	}
	waitLog(t, ts.logs, "GET /static/style.css => generated 6 bytes")

	v := slices.Clone(getVars("/static/hello.txt"))
	v[slices.Index(v, "REQUEST_METHOD")+1] = "HEAD"
	c := uwsgiDial(t, ts.addr, uwsgiPacket(0, v...), nil)
	raw, _ := io.ReadAll(c)
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") || body != "" || !strings.Contains(head, "\r\nContent-Length: 11") {
		t.Errorf("HEAD: %q", raw)
	}
}

func checkStatic(t *testing.T, ts *testServer, tc staticCase, resp *http.Response, body string) {
	t.Helper()
	if tc.app {
		if !strings.HasPrefix(body, "app:") {
			t.Errorf("%s: want the app, got %d %q", tc.path, resp.StatusCode, body)
		}
		ts.nextReq(t)
		return
	}
	ts.noReq(t)
	if strings.Contains(body, secret) {
		t.Fatalf("%s: leaked the secret", tc.path)
	}
	if resp.StatusCode != tc.status {
		t.Errorf("%s %v: status %d, want %d (%q)", tc.path, tc.headers, resp.StatusCode, tc.status, body)
	}
	if tc.status != 404 && body != tc.body {
		t.Errorf("%s %v: body %q, want %q", tc.path, tc.headers, body, tc.body)
	}
	if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
		t.Errorf("%s: Content-Type %q, want %q", tc.path, resp.Header.Get("Content-Type"), tc.ctype)
	}
	if tc.status == 206 && resp.Header.Get("Content-Range") != "bytes 0-4/11" {
		t.Errorf("%s: Content-Range %q", tc.path, resp.Header.Get("Content-Range"))
	}
}

func TestParseStaticMap(t *testing.T) {
	good := map[string]StaticMap{
		"/static=/var/www/static":   {"/static", "/var/www/static"},
		"/static/=/var/www/static/": {"/static", "/var/www/static"},
		"/=public":                  {"/", "public"},
		"/a=b=c":                    {"/a", "b=c"},
	}
	for spec, want := range good {
		if got, err := ParseStaticMap(spec); err != nil || got != want {
			t.Errorf("ParseStaticMap(%q) = %v, %v; want %v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"", "/static", "static=/var/www", "/static="} {
		if _, err := ParseStaticMap(spec); err == nil {
			t.Errorf("ParseStaticMap(%q) accepted", spec)
		}
	}
}
