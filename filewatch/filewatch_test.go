package filewatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestChangesAreSeen(t *testing.T) {
	dir := t.TempDir()
	a, b, later := filepath.Join(dir, "a.py"), filepath.Join(dir, "b.py"), filepath.Join(dir, "later")
	os.WriteFile(a, []byte("1"), 0o644)
	os.WriteFile(b, []byte("1"), 0o644)
	got := make(chan string, 10)
	w, err := New(func(p string) { got <- p })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add(a, later); err != nil {
		t.Fatal(err)
	}
	// expect waits for a change of want, and no other. One save is one
	// change (the watcher lets a burst of events settle), but a machine
	// stalled past the settling time may split it: a repeat of want is
	// let pass.
	expect := func(want string) {
		t.Helper()
		select {
		case p := <-got:
			if p != want {
				t.Fatalf("changed: %s, want %s", p, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change seen for %s", want)
		}
		for {
			select {
			case p := <-got:
				if p != want {
					t.Fatalf("changed: %s, want %s", p, want)
				}
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	os.WriteFile(b, []byte("22"), 0o644) // not watched
	os.WriteFile(a, []byte("22"), 0o644)
	expect(a)
	future := time.Now().Add(time.Hour)
	os.Chtimes(a, future, future) // touch
	expect(a)
	os.WriteFile(later, nil, 0o644) // created after the watch began
	expect(later)
	// saved by renaming a new file over the old one
	tmp := filepath.Join(dir, "a.py.tmp")
	os.WriteFile(tmp, []byte("333"), 0o644)
	os.Rename(tmp, a)
	expect(a)
	select {
	case p := <-got:
		t.Fatalf("unexpected change: %s", p)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestMissingDirectory(t *testing.T) {
	w, err := New(func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add(filepath.Join(t.TempDir(), "no", "such", "file")); err == nil {
		t.Fatal("a file in a missing directory was accepted")
	}
}
