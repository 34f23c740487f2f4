// Command uwsgo runs Python WSGI apps the way uWSGI does, with uWSGI's
// option spellings, async cores and uGreen green threads.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/uwsgo/uwsgo/config"
	"github.com/uwsgo/uwsgo/procman"
)

// Version is uwsgo's version.
const Version = "0.1.0"

// envStartDir tells a worker the directory its master started in.
const envStartDir = "UWSGO_START_DIR"

func main() {
	// before anything keeps a piece of argv (see procman.SetProcessName)
	os.Args = procman.CaptureArgv(os.Args)
	if os.Getenv("GOGC") == "" {
		// The Go heap of a worker is small and short-lived (buffers per
		// request): collecting it four times less often costs a few MiB
		// and takes work off the request path.
		debug.SetGCPercent(400)
	}
	// A worker reads the same configuration as its master, which already
	// printed what there was to say about it.
	worker := os.Getenv(procman.EnvWorkerID) != ""
	if dir, ok := os.LookupEnv(envStartDir); ok {
		// A worker reads the configuration where its master read it:
		// relative file names and %v mean the same, before --chdir.
		os.Unsetenv(envStartDir)
		if worker {
			if err := os.Chdir(dir); err != nil {
				fail(fmt.Errorf("worker cannot go back to the master's start directory %s: %w", dir, err))
			}
		}
	}
	ld, err := config.Load(os.Args[1:], os.Environ())
	if ld == nil {
		fail(err)
	}
	switch {
	case ld.Help:
		config.WriteHelp(os.Stdout, Version)
		return
	case ld.Version:
		fmt.Printf("uwsgo %s\n", Version)
		return
	}
	if !worker {
		for _, w := range ld.Options.Warnings {
			fmt.Fprintf(os.Stderr, "uwsgo: warning: %s\n", w)
		}
		if ld.ShowConfig != "" {
			fmt.Fprint(os.Stderr, ld.ShowConfig)
		}
		for _, p := range ld.Prints {
			fmt.Println(p)
		}
	}
	if err != nil {
		fail(err)
	}
	if o := ld.Options; !worker && withMaster(o) {
		if wd, err := os.Getwd(); err == nil {
			os.Setenv(envStartDir, wd) // inherited by the workers
		}
	}
	if err := run(ld.Options); err != nil {
		fail(err)
	}
}

// fail prints one line and exits non-zero.
func fail(err error) {
	if e, ok := err.(*exitError); ok && e.silent {
		os.Exit(e.code)
	}
	msg := strings.TrimSpace(err.Error())
	fmt.Fprintf(os.Stderr, "uwsgo: %s\n", msg)
	os.Exit(exitCode(err))
}

// exitError carries an exit code chosen by the run.
type exitError struct {
	code   int
	err    error
	silent bool // the code says it all (a worker telling its master it reloads)
}

func (e *exitError) Error() string { return e.err.Error() }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 1
}
