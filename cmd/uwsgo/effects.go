package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uwsgo/uwsgo/logsink"
	"github.com/uwsgo/uwsgo/procman"
	"github.com/uwsgo/uwsgo/server"
)

// effects are the uWSGI options about sockets, privileges, process names
// and logs, as run() carries them out.
type effects struct {
	// sockets
	vacuum      bool
	chmodSocket string // "": leave; "666", ...
	chownSocket string // "user", "user:group", numbers too
	umask       string // octal; "": leave
	uid, gid    string // names or numbers; "": keep
	protocol    string // of --socket listeners: "uwsgi" (default), "http", "http11"

	// files
	pidfile, pidfile2     string
	daemonize, daemonize2 string
	logto, logto2         string
	loggers, reqLoggers   []string // "file:PATH"
	logDate               string   // "": off; "1": ctime; else strftime
	logDateSet            bool
	logFormat             string
	logXFF                bool
	log4xx, log5xx        bool
	logSlowMS             int
	maxWorkerLifetime     int // seconds
	reloadOnRSSMB         int
	reloadMercy           int // seconds
	harakiriVerbose       bool
	gracefulTerm          bool // hook-master-start = unix_signal:15 gracefully_kill_them_all
	names                 procman.Names
	httpSockets           []string // http11-socket: more HTTP listeners
	hooks                 []string // hook-master-start values
}

// creds is a resolved uid/gid drop.
type creds struct {
	uid, gid      int // -1: unchanged
	userName      string
	supplementary []int
	setGroups     bool
}

// resolveCreds turns uid/gid names into numbers, as uWSGI does: a number is
// taken as it is, a name must exist. Looked up before anything starts, so
// a bad name is one line and nothing is half-started.
func resolveCreds(e *effects) (*creds, error) {
	c := &creds{uid: -1, gid: -1}
	if e.gid != "" {
		g, err := lookupGroup(e.gid)
		if err != nil {
			return nil, fmt.Errorf("--gid %q: %w", e.gid, err)
		}
		c.gid, c.setGroups = g, true
	}
	if e.uid != "" {
		u, name, err := lookupUser(e.uid)
		if err != nil {
			return nil, fmt.Errorf("--uid %q: %w", e.uid, err)
		}
		c.uid, c.userName = u, name
	}
	if c.setGroups && c.uid >= 0 && c.userName != "" {
		// initgroups(user, gid): the user's own groups, as uWSGI
		if u, err := user.Lookup(c.userName); err == nil {
			if ids, err := u.GroupIds(); err == nil {
				for _, id := range ids {
					if n, err := strconv.Atoi(id); err == nil && n != c.gid {
						c.supplementary = append(c.supplementary, n)
					}
				}
			}
		}
		c.supplementary = append([]int{c.gid}, c.supplementary...)
	}
	if c.uid < 0 && c.gid < 0 {
		return nil, nil
	}
	return c, nil
}

func lookupUser(s string) (int, string, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		name := ""
		if u, err := user.LookupId(s); err == nil {
			name = u.Username
		}
		return n, name, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, "", errors.New("no such user")
	}
	n, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, "", fmt.Errorf("user id %q is not a number", u.Uid)
	}
	return n, u.Username, nil
}

func lookupGroup(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, errors.New("no such group")
	}
	n, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group id %q is not a number", g.Gid)
	}
	return n, nil
}

// drop gives up root as uWSGI does: the group first (with the user's own
// groups when both are given, none when only the group is), then the user.
// Go applies each call to every thread of the process.
func (c *creds) drop(say func(string, ...any)) error {
	if c == nil {
		return nil
	}
	if c.gid >= 0 {
		say("setgid() to %d", c.gid)
		if err := syscall.Setgid(c.gid); err != nil {
			return fmt.Errorf("setgid(%d): %w", c.gid, err)
		}
		groups := c.supplementary
		if c.uid < 0 {
			groups = nil
		}
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	if c.uid >= 0 {
		say("setuid() to %d", c.uid)
		if err := syscall.Setuid(c.uid); err != nil {
			return fmt.Errorf("setuid(%d): %w", c.uid, err)
		}
	}
	return nil
}

// socketOptions resolves --chmod-socket and --chown-socket.
func socketOptions(e *effects, backlog int) (server.SocketOptions, error) {
	opt := server.SocketOptions{Backlog: backlog, UID: -1, GID: -1}
	switch m := e.chmodSocket; m {
	case "":
	case "1", "true", "yes", "on":
		opt.Mode = 0o666 // bare --chmod-socket, as uWSGI
	default:
		n, err := strconv.ParseUint(m, 8, 32)
		if err != nil || len(m) != 3 {
			return opt, fmt.Errorf("--chmod-socket %q: expected a 3-digit octal mode such as 660", m)
		}
		opt.Mode = os.FileMode(n)
	}
	if e.chownSocket != "" {
		u, g, hasGroup := strings.Cut(e.chownSocket, ":")
		uid, _, err := lookupUser(u)
		if err != nil {
			return opt, fmt.Errorf("--chown-socket %q: %w", e.chownSocket, err)
		}
		opt.UID = uid
		if hasGroup {
			gid, err := lookupGroup(g)
			if err != nil {
				return opt, fmt.Errorf("--chown-socket %q: %w", e.chownSocket, err)
			}
			opt.GID = gid
		}
	}
	return opt, nil
}

// parseUmask reads --umask (octal, as uWSGI).
func parseUmask(s string) (int, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("--umask %q: expected an octal mask such as 022", s)
	}
	return int(n), nil
}

// writePidfile writes this process's pid, as uWSGI: the number and a
// newline.
func writePidfile(path string) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("cannot write the pidfile: %w", err)
	}
	return nil
}

// vacuum removes what this process created (socket files, pidfiles) when
// it ends, as uWSGI's --vacuum.
func vacuum(files []string, say func(string, ...any)) {
	for _, f := range files {
		if f == "" {
			continue
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			say("vacuum: %v", err)
		} else if err == nil {
			say("removed %s", f)
		}
	}
}

// Daemonizing: Go cannot fork a running process, so the foreground
// process starts itself again in a new session with stdio on the log file,
// marked by envDaemon, and leaves. With daemonize2 ("after app loading")
// it first waits for the daemon to say it is up (a byte on a pipe, fd
// readyFD in the daemon), so a socket that cannot be bound or an app that
// cannot load still fails the command that started it.
const (
	envDaemon  = "UWSGO_DAEMON"
	envReadyFD = "UWSGO_DAEMON_READY_FD"
)

// daemonize runs in the foreground process; it returns the exit code the
// foreground process leaves with.
func daemonize(logPath string, waitReady bool) (int, error) {
	f, err := logsink.OpenFile(logPath)
	if err != nil {
		return 1, fmt.Errorf("--daemonize: %w", err)
	}
	defer f.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 1, err
	}
	defer null.Close()
	cmd := exec.Command(exePath(), os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, f, f
	cmd.Env = append(os.Environ(), envDaemon+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var r *os.File
	if waitReady {
		var w *os.File
		if r, w, err = os.Pipe(); err != nil {
			return 1, err
		}
		cmd.ExtraFiles = []*os.File{w}
		cmd.Env = append(cmd.Env, envReadyFD+"=3")
		defer r.Close()
		defer w.Close()
	}
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("--daemonize: %w", err)
	}
	if r == nil {
		cmd.Process.Release()
		return 0, nil
	}
	cmd.ExtraFiles[0].Close()
	ready := make(chan bool, 1)
	go func() {
		var b [1]byte
		n, _ := r.Read(b[:])
		ready <- n == 1
	}()
	if <-ready {
		cmd.Process.Release()
		return 0, nil
	}
	err = cmd.Wait()
	code := 1
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
		code = ee.ExitCode()
	}
	return code, fmt.Errorf("the daemon exited before it was ready (see %s)", logPath)
}

// daemonReady tells a daemonize2 foreground process the daemon is up.
func daemonReady() {
	fdStr := os.Getenv(envReadyFD)
	if fdStr == "" {
		return
	}
	os.Unsetenv(envReadyFD)
	fd, err := strconv.Atoi(fdStr)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "daemon-ready")
	f.Write([]byte{1})
	f.Close()
}

// isDaemon reports (once) whether this process is the daemon a
// --daemonize foreground process started.
func isDaemon() bool {
	if os.Getenv(envDaemon) == "" {
		return false
	}
	os.Unsetenv(envDaemon)
	if fd := os.Getenv(envReadyFD); fd != "" {
		if n, err := strconv.Atoi(fd); err == nil {
			syscall.CloseOnExec(n)
		}
	}
	return true
}

// logger is where uwsgo's own lines go: stderr, dated with --log-date.
func newLogger(e *effects) (*log.Logger, error) {
	var out io.Writer = os.Stderr
	if e.logDateSet {
		d, err := logsink.NewDated(os.Stderr, e.logDate)
		if err != nil {
			return nil, err
		}
		out = d
	}
	return log.New(out, "", 0), nil
}

// rssWatch recycles the worker when its resident memory passes limit
// (uWSGI's --reload-on-rss), checked once a second: a read of
// /proc/self/statm off the request path.
func rssWatch(limitMB int, recycle func(reason string)) {
	if limitMB <= 0 {
		return
	}
	limit := int64(limitMB) << 20
	page := int64(os.Getpagesize())
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for range t.C {
			b, err := os.ReadFile("/proc/self/statm")
			if err != nil {
				return
			}
			f := strings.Fields(string(b))
			if len(f) < 2 {
				return
			}
			pages, _ := strconv.ParseInt(f[1], 10, 64)
			if rss := pages * page; rss >= limit {
				recycle(fmt.Sprintf("reload-on-rss limit reached (%d >= %d)", rss, limit))
				return
			}
		}
	}()
}

// isGracefulTermHook: hook-master-start = unix_signal:15
// gracefully_kill_them_all, the way uWSGI configurations make SIGTERM a
// graceful stop.
func isGracefulTermHook(h string) bool {
	sig, action, _ := strings.Cut(strings.TrimSpace(h), " ")
	return (sig == "unix_signal:15" || sig == "unix_signal:SIGTERM") && strings.TrimSpace(action) == "gracefully_kill_them_all"
}
