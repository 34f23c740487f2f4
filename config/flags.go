package config

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Long flag names (uWSGI's spellings). The first name of each flag is the
// one FromContext reads; the others are aliases.
const (
	flagModule       = "module"
	flagWSGIFile     = "wsgi-file"
	flagCallable     = "callable"
	flagPythonPath   = "pythonpath"
	flagChdir        = "chdir"
	flagEnv          = "env"
	flagSocket       = "socket"
	flagHTTPSocket   = "http-socket"
	flagListen       = "listen"
	flagAsync        = "async"
	flagUGreen       = "ugreen"
	flagUGreenStack  = "ugreen-stacksize"
	flagUGreenSwitch = "ugreen-switch"
	flagGreenlet     = "greenlet"
	flagGevent       = "gevent"
	flagGeventMonkey = "gevent-monkey-patch"
	flagGeventEarly  = "gevent-early-monkey-patch"
	flagThreads      = "threads"
	flagMaster       = "master"
	flagProcesses    = "processes"
	flagHarakiri     = "harakiri"
	flagMaxRequests  = "max-requests"
	flagStaticMap    = "static-map"
	flagStaticIndex  = "static-index"
	flagBufferSize   = "buffer-size"
	flagPostBuffer   = "post-buffering"
	flagDisableLog   = "disable-logging"
	flagIni          = "ini"
)

// Defaults, as uWSGI has them (stack size and switch are uwsgo's own).
const (
	DefaultCallable         = "application"
	DefaultProcesses        = 1
	DefaultListen           = 100
	DefaultUGreenStackPages = 64 // 256 KiB with 4 KiB pages
	DefaultUGreenSwitch     = SwitchFast
	DefaultBufferSize       = 4096
	DefaultPostBuffering    = 1 << 20

	SwitchFast        = "fast"        // register-only context switch
	SwitchSwapcontext = "swapcontext" // POSIX swapcontext (one syscall per switch)
)

const (
	catApp     = "App loading"
	catSockets = "Sockets"
	catCores   = "Cores and engines"
	catProc    = "Processes"
	catFiles   = "Static files"
	catMisc    = "Limits, logging and config files"
)

// listValue is a repeatable string flag value. Unlike cli.StringSlice it
// never splits a value on commas nor trims it: `--env A=b,c` is one
// variable, as with uWSGI.
type listValue struct {
	items []string
}

func (l *listValue) Set(v string) error {
	l.items = append(l.items, v)
	return nil
}

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.items, ", ")
}

// Get returns the values in the order given.
func (l *listValue) Get() interface{} { return l.Values() }

// Values returns a copy of the values in the order given.
func (l *listValue) Values() []string {
	if l == nil || len(l.items) == 0 {
		return nil
	}
	return append([]string(nil), l.items...)
}

// fullFlag is what the cli help and parser use of a flag.
type fullFlag interface {
	cli.DocGenerationFlag
	cli.CategorizableFlag
}

// aliased wraps a cli flag whose aliases all write to one shared value
// (Destination, or the same Value), so `-w a --module b` means module b, as
// in uWSGI, and repeated list values are kept in command-line order across
// spellings. It reports only its first name to urfave/cli, whose
// normalizeFlags would otherwise refuse "two forms of the same flag" and
// copy values between aliases; Apply (promoted) still registers every
// spelling, and String (promoted) shows them all in --help.
type aliased struct {
	fullFlag
}

// Names returns the canonical name only (see aliased).
func (a aliased) Names() []string { return a.fullFlag.Names()[:1] }

// allNames returns the canonical name and the aliases.
func (a aliased) allNames() []string { return a.fullFlag.Names() }

func str(name string, aliases []string, category, def, usage string) cli.Flag {
	return aliased{&cli.StringFlag{Name: name, Aliases: aliases, Category: category,
		Value: def, Usage: usage, Destination: new(string)}}
}

func integer(name string, aliases []string, category string, def int, usage string) cli.Flag {
	return aliased{&cli.IntFlag{Name: name, Aliases: aliases, Category: category,
		Value: def, Usage: usage, Destination: new(int)}}
}

func boolean(name string, aliases []string, category, usage string) cli.Flag {
	return aliased{&cli.BoolFlag{Name: name, Aliases: aliases, Category: category,
		Usage: usage, Destination: new(bool)}}
}

func listFlag(name string, aliases []string, category, usage string) cli.Flag {
	return aliased{&cli.GenericFlag{Name: name, Aliases: aliases, Category: category,
		Usage: usage + " (repeatable)", Value: &listValue{}}}
}

// Flags returns the urfave/cli/v2 flags with uWSGI's spellings and aliases.
// Each call returns fresh flags (repeatable flags hold their values in the
// flag itself), so build one cli.App per Flags() call.
func Flags() []cli.Flag {
	return []cli.Flag{
		// App loading
		str(flagModule, []string{"w", "wsgi"}, catApp, "",
			"load a WSGI module (`MODULE` or MODULE:CALLABLE)"),
		str(flagWSGIFile, nil, catApp, "", "load a WSGI `FILE` (.py/.wsgi)"),
		str(flagCallable, nil, catApp, DefaultCallable,
			"`NAME` of the WSGI callable in the module or file"),
		listFlag(flagPythonPath, []string{"python-path", "pp"}, catApp, "add `DIR` to sys.path"),
		str(flagChdir, nil, catApp, "", "chdir to `DIR` before loading the app"),
		listFlag(flagEnv, nil, catApp, "set environment variable `K=V`"),

		// Sockets
		listFlag(flagSocket, []string{"s", "uwsgi-socket"}, catSockets,
			"uwsgi-protocol listener `ADDR` (:3031, 127.0.0.1:3031, /path/unix.sock)"),
		listFlag(flagHTTPSocket, []string{"http"}, catSockets, "HTTP/1.1 listener `ADDR`"),
		integer(flagListen, nil, catSockets, DefaultListen, "socket listen backlog `N`"),

		// Cores and engines
		integer(flagAsync, nil, catCores, 0, "run `N` async cores per worker"),
		boolean(flagUGreen, nil, catCores, "suspend engine: green threads on their own C stacks"),
		integer(flagUGreenStack, nil, catCores, DefaultUGreenStackPages,
			"ugreen stack size in memory `PAGES`"),
		str(flagUGreenSwitch, nil, catCores, DefaultUGreenSwitch,
			"ugreen context switch: `fast|swapcontext`"),
		boolean(flagGreenlet, nil, catCores, "suspend engine: greenlet"),
		integer(flagGevent, nil, catCores, 0, "run the gevent loop with `N` async cores"),
		boolean(flagGeventMonkey, nil, catCores,
			"call gevent.monkey.patch_all() before loading the app"),
		boolean(flagGeventEarly, nil, catCores,
			"call gevent.monkey.patch_all() as early as possible, before anything else is imported"),
		integer(flagThreads, nil, catCores, 0, "run `N` threads per worker"),

		// Processes
		boolean(flagMaster, []string{"M"}, catProc, "run a master process that manages the workers"),
		integer(flagProcesses, []string{"p", "workers"}, catProc, DefaultProcesses,
			"spawn `N` worker processes"),
		integer(flagHarakiri, nil, catProc, 0,
			"kill a worker whose request takes longer than `SECONDS` (0: off)"),
		integer(flagMaxRequests, nil, catProc, 0, "recycle a worker after `N` requests (0: never)"),

		// Static files
		listFlag(flagStaticMap, nil, catFiles, "map `/MOUNT=DIR`: serve the files of DIR under the URL path /MOUNT"),
		listFlag(flagStaticIndex, nil, catFiles, "`NAME` of the index file served for a directory"),

		// Limits, logging, config files
		integer(flagBufferSize, nil, catMisc, DefaultBufferSize,
			"max request header / uwsgi packet size in `BYTES`"),
		integer(flagPostBuffer, nil, catMisc, DefaultPostBuffering,
			"request body `BYTES` kept in memory before spooling to a file"),
		boolean(flagDisableLog, nil, catMisc, "disable request logging"),
		listFlag(flagIni, nil, catMisc,
			"load options from the [uwsgi] section of ini `FILE` (FILE:SECTION for another section)"),
	}
}
