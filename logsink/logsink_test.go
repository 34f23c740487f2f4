package logsink

import (
	"bytes"
	"testing"
	"time"
)

func TestDated(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 3, 4, 0, time.Local)
	for format, want := range map[string]string{
		"":               "Tue Dec  1 09:03:04 2026 - one\nTue Dec  1 09:03:04 2026 - two\n",
		"true":           "Tue Dec  1 09:03:04 2026 - one\nTue Dec  1 09:03:04 2026 - two\n",
		"%Y-%m-%d %H:%M": "2026-12-01 09:03 - one\n2026-12-01 09:03 - two\n",
	} {
		var out bytes.Buffer
		d, err := NewDated(&out, format)
		if err != nil {
			t.Fatal(err)
		}
		d.now = func() time.Time { return at }
		if n, err := d.Write([]byte("one\ntwo\n")); err != nil || n != 8 {
			t.Fatalf("Write: %d, %v", n, err)
		}
		if out.String() != want {
			t.Errorf("%q: got %q, want %q", format, out.String(), want)
		}
	}
}

func TestFileTarget(t *testing.T) {
	for spec, want := range map[string]string{
		"file:/var/log/a.log": "/var/log/a.log", "mylog file:/tmp/x": "/tmp/x",
		"syslog": "", "file:": "",
	} {
		got, ok := FileTarget(spec)
		if got != want || ok != (want != "") {
			t.Errorf("%q: got %q %v", spec, got, ok)
		}
	}
}
