// Command uwsgo runs Python WSGI apps the way uWSGI does, with uWSGI's
// option spellings, async cores and uGreen green threads.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/uwsgo/uwsgo/config"
)

// Version is uwsgo's version.
const Version = "0.1.0"

func main() {
	if os.Getenv("GOGC") == "" {
		// The Go heap of a worker is small and short-lived (buffers per
		// request): collecting it four times less often costs a few MiB
		// and takes work off the request path.
		debug.SetGCPercent(400)
	}
	args, err := config.ExpandIni(os.Args)
	if err != nil {
		fail(err)
	}
	cli.VersionPrinter = func(c *cli.Context) { fmt.Println(Version) }
	app := &cli.App{
		Name:            "uwsgo",
		Usage:           "run Python WSGI apps the way uWSGI does",
		UsageText:       "uwsgo -w myapp --async 30 --ugreen --http-socket :9090",
		Version:         Version,
		Flags:           config.Flags(),
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			opts, err := config.FromContext(c)
			if err != nil {
				return err
			}
			return run(opts)
		},
	}
	if err := app.Run(args); err != nil {
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
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}
