// Package filewatch tells when one of a set of files is modified or
// touched: --touch-reload (the master) and --py-autoreload (a worker,
// for the files of the app's modules).
//
// It uses inotify (through fsnotify) on the files' directories, so a
// change is seen at once and nothing is polled; a directory watch also
// sees a file created after the watch began, and an editor that saves by
// renaming a new file over the old one. A burst of events on a file is
// one change, and it counts only when the file's modification time or
// size differs from what was last seen, as uWSGI compares mtimes.
package filewatch

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher watches a set of files.
type Watcher struct {
	w        *fsnotify.Watcher
	onChange func(path string)

	mu    sync.Mutex
	files map[string]stamp // absolute path -> last seen
	dirs  map[string]bool  // watched directories
	done  chan struct{}
}

type stamp struct {
	mtime time.Time
	size  int64
	ok    bool // the file existed
}

func stampOf(path string) stamp {
	st, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{st.ModTime(), st.Size(), true}
}

// New starts a watcher; onChange is called (from the watcher's goroutine)
// with the path of each file that changed.
func New(onChange func(path string)) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &Watcher{w: fw, onChange: onChange, files: map[string]stamp{}, dirs: map[string]bool{}, done: make(chan struct{})}
	go w.run()
	return w, nil
}

// Add adds files to the set (relative names are taken from the current
// directory). A directory that cannot be watched (say, it does not
// exist) is skipped, and reported in the error; the others are watched.
func (w *Watcher) Add(paths ...string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first error
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		if _, ok := w.files[abs]; ok {
			continue
		}
		dir := filepath.Dir(abs)
		if !w.dirs[dir] {
			if err := w.w.Add(dir); err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			w.dirs[dir] = true
		}
		w.files[abs] = stampOf(abs)
	}
	return first
}

// Len is how many files are watched.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.files)
}

// settle is how long a burst of events on a file (an editor truncates,
// writes, renames) is let finish before the file is compared: one save
// is one change.
const settle = 50 * time.Millisecond

func (w *Watcher) run() {
	pending := map[string]bool{}
	var fire <-chan time.Time
	for {
		select {
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Chmod|fsnotify.Rename) == 0 {
				continue
			}
			w.mu.Lock()
			_, watched := w.files[ev.Name]
			w.mu.Unlock()
			if watched {
				pending[ev.Name] = true
				if fire == nil {
					fire = time.After(settle)
				}
			}
		case <-fire:
			fire = nil
			for p := range pending {
				delete(pending, p)
				now := stampOf(p)
				w.mu.Lock()
				old := w.files[p]
				w.files[p] = now
				w.mu.Unlock()
				if now.ok && now != old {
					w.onChange(p)
				}
			}
		case _, ok := <-w.w.Errors:
			if !ok {
				return
			}
		case <-w.done:
			return
		}
	}
}

// Close stops the watcher.
func (w *Watcher) Close() {
	close(w.done)
	w.w.Close()
}
