package main

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/uwsgo/uwsgo/filewatch"
	"github.com/uwsgo/uwsgo/hub"
	"github.com/uwsgo/uwsgo/procman"
	"github.com/uwsgo/uwsgo/pyhost"
)

// startAutoreload carries out --py-autoreload in worker 1 (one watcher
// is enough: the master reloads them all): the files of every loaded
// module are watched with inotify, and the first change sends SIGHUP to
// the master, a graceful reload of every worker. Every `every`, the
// module list is read again on the hub's thread, so modules imported
// after the start are watched too.
func startAutoreload(h *hub.Hub, w *procman.Worker, every time.Duration) error {
	if w == nil || w.ID != 1 || every <= 0 {
		return nil
	}
	var once sync.Once
	watcher, err := filewatch.New(func(path string) {
		once.Do(func() {
			fmt.Fprintf(os.Stderr, "[uwsgi-python-reloader] module/file %s has been modified\n", path)
			syscall.Kill(w.MasterPID, syscall.SIGHUP)
		})
	})
	if err != nil {
		return fmt.Errorf("--py-autoreload: %w", err)
	}
	scan := func() {
		files := make(chan []string, 1)
		h.Do(func() { files <- pyhost.ModuleFiles() })
		watcher.Add((<-files)...) // a module whose directory is gone is skipped
	}
	scan()
	fmt.Fprintf(os.Stderr, "python auto-reloader: watching the files of %d modules (inotify), new modules every %v\n", watcher.Len(), every)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for range t.C {
			scan()
		}
	}()
	return nil
}
