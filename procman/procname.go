package procman

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// Process names (uWSGI's --auto-procname, --procname*): what ps shows.
//
// ps shows two things: the command name (comm, 15 bytes, set with
// prctl(PR_SET_NAME)) and the command line, which the kernel reads from the
// process's own argv area in memory. Like uWSGI's uwsgi_set_processname,
// SetProcessName writes the new name over that area and blanks the rest of
// it, so `ps aux` shows "uWSGI worker 1" instead of the whole command line.
// uWSGI also borrows the environment strings that follow argv when the
// name is longer; uwsgo does not (libc's environ still points at them), so
// a name longer than the original command line is cut. Workers never hit
// that: the master starts each one with its name as argv[0].

var argvArea struct {
	sync.Mutex
	mem []byte // the original argv strings, NUL-separated; nil: unknown
}

// CaptureArgv remembers where the kernel put this process's argv and gives
// os.Args (and everything later parsed from it) copies of its own, so that
// SetProcessName can overwrite the original memory. Call it first thing in
// main, before anything keeps a substring of os.Args.
//
// Go's runtime builds os.Args without copying: each string points into the
// argv area. The strings are contiguous there, each followed by a NUL.
func CaptureArgv(args []string) []string {
	argvArea.Lock()
	defer argvArea.Unlock()
	if len(args) == 0 || len(args[0]) == 0 {
		return args
	}
	start := unsafe.StringData(args[0])
	end := uintptr(unsafe.Pointer(start))
	contiguous := true
	for _, a := range args {
		if len(a) > 0 && uintptr(unsafe.Pointer(unsafe.StringData(a))) != end {
			contiguous = false
			break
		}
		end += uintptr(len(a)) + 1
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.Clone(a)
	}
	if contiguous {
		argvArea.mem = unsafe.Slice(start, end-uintptr(unsafe.Pointer(start)))
	}
	return out
}

// ArgvArea is the memory of the command line that SetProcessName writes
// over (nil when unknown), for the uwsgi module's setprocname(), which
// writes it from C the same way.
func ArgvArea() []byte {
	argvArea.Lock()
	defer argvArea.Unlock()
	return argvArea.mem
}

// SetProcessName shows name as this process's command line and command
// name. It reports whether the whole name fit in the command line.
func SetProcessName(name string) bool {
	setComm(name)
	argvArea.Lock()
	defer argvArea.Unlock()
	mem := argvArea.mem
	if len(mem) == 0 {
		return false
	}
	n := copy(mem[:len(mem)-1], name)
	clear(mem[n:])
	return n == len(name)
}

// setComm sets the kernel's command name (ps -o comm, top), which keeps
// the first 15 bytes. prctl(PR_SET_NAME) would name only the calling
// thread, and Go may run us on any; /proc/self/comm names the main
// thread, whose name is the process's.
func setComm(name string) {
	if len(name) > 15 {
		name = name[:15]
	}
	os.WriteFile("/proc/self/comm", []byte(name), 0)
}

// Names is uWSGI's naming scheme for the processes (see uwsgi_fork and the
// master's start-up in uWSGI's core): with Auto or any procname option,
// the master is "uWSGI master" and worker N "uWSGI worker N", each with
// Prefix before and Append after. Procname names every process alike,
// ProcnameMaster the master only.
type Names struct {
	Auto           bool
	Prefix, Append string
	Procname       string
	ProcnameMaster string
}

// Enabled reports whether processes get names at all.
func (n Names) Enabled() bool {
	return n.Auto || n.Prefix != "" || n.Append != "" || n.Procname != "" || n.ProcnameMaster != ""
}

func (n Names) wrap(s string) string { return n.Prefix + s + n.Append }

// Master is the master's name ("" when names are off).
func (n Names) Master() string {
	switch {
	case !n.Enabled():
		return ""
	case n.ProcnameMaster != "":
		return n.wrap(n.ProcnameMaster)
	case n.Procname != "":
		return n.wrap(n.Procname)
	}
	return n.wrap("uWSGI master")
}

// Worker is worker id's name ("" when names are off).
func (n Names) Worker(id int) string {
	switch {
	case !n.Enabled():
		return ""
	case n.Procname != "":
		return n.wrap(n.Procname)
	}
	return n.wrap("uWSGI worker " + strconv.Itoa(id))
}
