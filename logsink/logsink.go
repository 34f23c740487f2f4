// Package logsink is where uwsgo's logs go: log files opened as uWSGI
// opens them (--logto, --daemonize, logger/req-logger file:PATH), stdout
// and stderr pointed at one, and the date prefix of --log-date.
package logsink

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lestrrat-go/strftime"
)

// OpenFile opens a log file for appending, creating it with uWSGI's mode
// (owner read-write, group read).
func OpenFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Redirect points stdout and stderr (fds 1 and 2) at f, as uWSGI's
// --logto does: everything this process and its workers print, the app's
// own output included, goes to the file. f itself can be closed after.
func Redirect(f *os.File) error {
	for _, fd := range []int{1, 2} {
		if err := syscall.Dup3(int(f.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup3 onto fd %d: %w", fd, err)
		}
	}
	return nil
}

// FileTarget returns PATH from a "file:PATH" logger spec (uWSGI's
// --logger and --req-logger), and whether spec is one.
func FileTarget(spec string) (string, bool) {
	// "name file:PATH" names the logger; the name does not matter here
	if _, rest, ok := strings.Cut(spec, " "); ok && !strings.HasPrefix(spec, "file:") {
		spec = rest
	}
	path, ok := strings.CutPrefix(spec, "file:")
	if !ok || path == "" {
		return "", false
	}
	return path, true
}

// Dated prefixes every line written through it with the time, as uWSGI's
// --log-date does: ctime's shape ("Tue Dec  1 19:31:38 2026 - "), or a
// strftime format's.
type Dated struct {
	mu   sync.Mutex
	out  io.Writer
	f    *strftime.Strftime // nil: ctime's shape
	now  func() time.Time
	line bytes.Buffer
}

// NewDated makes a Dated writer; format "" (or uWSGI's boolean spellings)
// means ctime's shape.
func NewDated(out io.Writer, format string) (*Dated, error) {
	d := &Dated{out: out, now: time.Now}
	switch strings.ToLower(format) {
	case "", "1", "true", "yes", "on":
		return d, nil
	}
	f, err := strftime.New(format)
	if err != nil {
		return nil, fmt.Errorf("log-date %q: %w", format, err)
	}
	d.f = f
	return d, nil
}

// Write writes p with the date before each of its lines.
func (d *Dated) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.line.Reset()
	now := d.now()
	var stamp []byte
	if d.f != nil {
		stamp = d.f.FormatBuffer(nil, now)
	} else {
		stamp = now.AppendFormat(nil, time.ANSIC)
	}
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		line := rest
		if i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		d.line.Write(stamp)
		d.line.WriteString(" - ")
		d.line.Write(line)
	}
	if _, err := d.out.Write(d.line.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
