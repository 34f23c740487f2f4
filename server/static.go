package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uwsgo/uwsgo/exchange"
)

// StaticMap is one --static-map: URLs under Mount are files under Dir.
type StaticMap struct{ Mount, Dir string }

// ParseStaticMap parses "/static=/var/www/static". Dir may also be a
// single file ("/favicon.ico=/var/www/favicon.ico"), as in uWSGI.
func ParseStaticMap(spec string) (StaticMap, error) {
	mount, dir, ok := strings.Cut(spec, "=")
	switch {
	case !ok:
		return StaticMap{}, fmt.Errorf("static-map %q: want /mountpoint=directory", spec)
	case !strings.HasPrefix(mount, "/"):
		return StaticMap{}, fmt.Errorf("static-map %q: the mountpoint must start with /", spec)
	case dir == "":
		return StaticMap{}, fmt.Errorf("static-map %q: empty directory", spec)
	}
	return StaticMap{Mount: cleanMount(mount), Dir: filepath.Clean(dir)}, nil
}

func cleanMount(m string) string {
	m = strings.TrimRight(m, "/")
	if m == "" {
		return "/"
	}
	return m
}

// sortStaticMaps puts the longest mount first, so /static/img wins over
// /static.
func sortStaticMaps(ms []StaticMap) []StaticMap {
	out := make([]StaticMap, len(ms))
	for i, m := range ms {
		out[i] = StaticMap{Mount: cleanMount(m.Mount), Dir: m.Dir}
	}
	slices.SortStableFunc(out, func(a, b StaticMap) int { return len(b.Mount) - len(a.Mount) })
	return out
}

type staticState int

const (
	staticMiss   staticState = iota // not a static file: the app gets the request
	staticFile                      // serve f
	staticReject                    // escapes its directory (or is not a plain file): 404
)

type staticHit struct {
	state staticState
	f     *os.File
	name  string // base name, for the Content-Type
	mtime time.Time
	path  string // the file's path (for --static-expires)
	gzip  bool   // f is the name.gz beside it (--static-gzip-all)
}

// findStatic maps a decoded URL path to a file. As in uWSGI, every
// matching mount is tried in turn and a missing file falls through to the
// app; anything that would leave its directory is refused.
func (s *Server) findStatic(urlPath string, gz bool) staticHit {
	for _, m := range s.statics {
		rel, ok := underMount(urlPath, m.Mount)
		if !ok {
			continue
		}
		if h := s.lookupStatic(m, rel, gz); h.state != staticMiss {
			return h
		}
	}
	return staticHit{}
}

func underMount(p, mount string) (string, bool) {
	switch {
	case mount == "/":
		return strings.TrimPrefix(p, "/"), strings.HasPrefix(p, "/")
	case p == mount:
		return "", true
	case strings.HasPrefix(p, mount) && p[len(mount)] == '/':
		return p[len(mount)+1:], true
	}
	return "", false
}

// lookupStatic finds rel under m; with gz (--static-gzip-all and a
// client that takes gzip) a regular file's name.gz is served instead
// when there is one.
func (s *Server) lookupStatic(m StaticMap, rel string, gz bool) staticHit {
	if strings.IndexByte(rel, 0) >= 0 || slices.Contains(strings.Split(rel, "/"), "..") {
		return staticHit{state: staticReject}
	}
	name := strings.TrimPrefix(path.Clean("/"+rel), "/")
	if name == "" {
		name = "."
		// The mount itself may map to one file.
		if fi, err := os.Stat(m.Dir); err == nil && fi.Mode().IsRegular() {
			f, err := os.Open(m.Dir)
			if err != nil {
				return staticHit{}
			}
			return staticHit{state: staticFile, f: f, name: filepath.Base(m.Dir), mtime: fi.ModTime(), path: m.Dir}
		}
	}
	// os.Root refuses, without races, any path or symlink that leaves Dir.
	// Opened per request so a Dir that is swapped (a deploy's "current"
	// symlink) is followed.
	root, err := os.OpenRoot(m.Dir)
	if err != nil {
		return staticHit{}
	}
	defer root.Close()
	h, isDir := openInRoot(root, m.Dir, name)
	if !isDir {
		if h.state == staticFile && strings.HasSuffix(rel, "/") {
			h.f.Close() // "file.txt/" names no file (stat gives ENOTDIR)
			return staticHit{}
		}
		return gzipped(root, m.Dir, h, gz)
	}
	for _, idx := range s.cfg.StaticIndex {
		if h, isDir := openInRoot(root, m.Dir, path.Join(name, idx)); !isDir && h.state != staticMiss {
			return gzipped(root, m.Dir, h, gz)
		}
	}
	return staticHit{} // a directory without an index: the app decides
}

// openInRoot opens name if it is a regular file inside root.
func openInRoot(root *os.Root, dir, name string) (h staticHit, isDir bool) {
	fi, err := root.Stat(name)
	if err != nil {
		if notExist(err) {
			return staticHit{}, false
		}
		// os.Root also refuses absolute symlinks that point back inside
		// dir; uWSGI serves those, so check the real path before refusing.
		real, ok := realPathInside(dir, name)
		if !ok {
			return staticHit{state: staticReject}, false
		}
		if fi, err = root.Stat(real); err != nil {
			return staticHit{state: staticReject}, false
		}
		name = real
	}
	if fi.IsDir() {
		return staticHit{}, true
	}
	if !fi.Mode().IsRegular() {
		return staticHit{state: staticReject}, false // no FIFOs or devices
	}
	f, err := root.Open(name)
	if err != nil {
		if notExist(err) {
			return staticHit{}, false
		}
		return staticHit{state: staticReject}, false
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return staticHit{state: staticReject}, false
	}
	return staticHit{state: staticFile, f: f, name: path.Base(name), mtime: fi.ModTime(), path: filepath.Join(dir, name)}, false
}

// gzipped swaps a found file for the name.gz beside it, if gz and there
// is one (a regular file inside the root); the Content-Type stays the
// original's.
func gzipped(root *os.Root, dir string, h staticHit, gz bool) staticHit {
	if !gz || h.state != staticFile {
		return h
	}
	rel, err := filepath.Rel(dir, h.path)
	if err != nil {
		return h
	}
	g, isDir := openInRoot(root, dir, rel+".gz")
	if isDir || g.state != staticFile {
		return h
	}
	h.f.Close()
	g.name, g.gzip = h.name, true
	return g
}

// realPathInside resolves every symlink of dir/name and returns the path
// relative to dir's real path, if it stays inside.
func realPathInside(dir, name string) (string, bool) {
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", false
	}
	real, err := filepath.EvalSymlinks(filepath.Join(dir, name))
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(realDir, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// serveStatic answers from a hit: Content-Type by extension, Range,
// If-Modified-Since and HEAD come from http.ServeContent.
func serveStatic(w http.ResponseWriter, r *http.Request, h staticHit) {
	if h.state == staticReject {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	defer h.f.Close()
	http.ServeContent(w, r, h.name, h.mtime, h.f)
}

// serveStatic answers a static hit on the connection: http.ServeContent
// writes into a staticWriter, whose file part goes out with sendfile.
func (c *conn) serveStatic(h staticHit) {
	req := &http.Request{
		Method: c.method, URL: &url.URL{Path: c.path}, Proto: c.proto,
		Header: headerFromVars(c.vars), RequestURI: c.rl.uri,
	}
	if c.kind == HTTP {
		req.ProtoMajor, req.ProtoMinor = 1, c.minor
	}
	w := &staticWriter{hdr: http.Header{}}
	if h.gzip {
		w.hdr.Set("Content-Encoding", "gzip")
		w.hdr.Set("Vary", "Accept-Encoding")
	}
	if h.state == staticFile && len(c.s.cfg.StaticExpires) > 0 {
		ctype := mime.TypeByExtension(filepath.Ext(h.name))
		if e := c.s.expires(h, ctype, c.rl.uri, c.path); e != "" {
			w.hdr.Set("Expires", e)
		}
	}
	serveStatic(w, req, h)
	if w.code == 0 {
		w.code = http.StatusOK // a zero-length file writes nothing
	}
	hs := make([]string, 0, 2*len(w.hdr))
	for k, vs := range w.hdr {
		for _, v := range vs {
			hs = append(hs, k, v)
		}
	}
	if _, ok := w.hdr["Content-Length"]; !ok && w.code != 204 && w.code != 304 {
		hs = append(hs, "Content-Length", itoa(w.size)) // all of it is known now
	}
	status := strconv.Itoa(w.code) + " " + http.StatusText(w.code)
	if err := c.queueHead(&exchange.Head{Status: status, Headers: hs}, exchange.Batch{Done: true}); err != nil {
		c.fail500()
		return
	}
	c.rl.headers, c.rl.headerBytes = countHeaders(c.rl.proto, w.code, w.hdr)
	for _, p := range w.parts {
		if p.f != nil {
			c.queueFile(exchange.FileSpan{File: p.f, Offset: p.off, Count: p.n})
		} else {
			c.queueBytes(p.b, 0)
		}
	}
	c.finished = true
	c.flush()
}

// staticWriter is the http.ResponseWriter http.ServeContent writes a
// static file into: the head and small writes are kept, and the file
// itself becomes a span to send.
type staticWriter struct {
	hdr   http.Header
	code  int
	parts []outItem
	size  int64
}

func (w *staticWriter) Header() http.Header { return w.hdr }

func (w *staticWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *staticWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.parts = append(w.parts, outItem{b: append([]byte(nil), p...)})
	w.size += int64(len(p))
	return len(p), nil
}

// ReadFrom takes the file ServeContent copies (limited to the range)
// as a span of a duplicate descriptor: serveStatic closes its own.
func (w *staticWriter) ReadFrom(src io.Reader) (int64, error) {
	w.WriteHeader(http.StatusOK)
	n := int64(-1)
	if lr, ok := src.(*io.LimitedReader); ok {
		src, n = lr.R, lr.N
	}
	var f *os.File
	var off int64
	switch r := src.(type) {
	case *os.File:
		f = r
		off, _ = r.Seek(0, io.SeekCurrent)
	case *io.SectionReader:
		if of, ok := outerFile(r); ok {
			f = of
			pos, _ := r.Seek(0, io.SeekCurrent)
			_, base, _ := r.Outer()
			off = base + pos
		}
	}
	if f == nil {
		return io.Copy(writerOnly{w}, src)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if left := fi.Size() - off; n < 0 || n > left {
		n = max(left, 0)
	}
	dup, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return 0, err
	}
	syscall.CloseOnExec(dup)
	w.parts = append(w.parts, outItem{f: os.NewFile(uintptr(dup), f.Name()), off: off, n: n})
	w.size += n
	return n, nil
}

func outerFile(r *io.SectionReader) (*os.File, bool) {
	ra, _, _ := r.Outer()
	f, ok := ra.(*os.File)
	return f, ok
}

// writerOnly hides ReadFrom, so io.Copy does not come back to it.
type writerOnly struct{ io.Writer }

// headerFromVars rebuilds request headers from HTTP_* vars (for
// http.ServeContent: Range, If-Modified-Since...).
func headerFromVars(vars []string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(vars); i += 2 {
		k, ok := strings.CutPrefix(vars[i], "HTTP_")
		if !ok {
			continue
		}
		h.Add(strings.ReplaceAll(k, "_", "-"), vars[i+1])
	}
	return h
}
