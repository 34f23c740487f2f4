package procman

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Environment variables by which the master describes a worker to the
// worker. CurrentWorker removes them from the worker's environment once
// read, so neither the app's os.environ nor the app's child processes see
// them.
const (
	EnvWorkerID    = "UWSGO_WORKER_ID"    // 1-based worker id
	EnvNumProc     = "UWSGO_NUMPROC"      // number of workers (--processes)
	EnvMasterPID   = "UWSGO_MASTER_PID"   // the master's pid
	EnvListenFDs   = "UWSGO_LISTEN_FDS"   // number of listeners, on fds 3, 4, ... in Spec order
	EnvHeartbeatFD = "UWSGO_HEARTBEAT_FD" // fd of the heartbeat area; absent when harakiri is off
	EnvHarakiri    = "UWSGO_HARAKIRI"     // harakiri timeout as a Go duration ("30s"); absent when off
	EnvProcname    = "UWSGO_PROCNAME"     // the name ps shows for the worker; absent when names are off
	EnvReqLogFD    = "UWSGO_REQLOG_FD"    // fd of the request log file; absent without one
	EnvSlotLayout  = "UWSGO_SLOT_LAYOUT"  // "APPS,CORES": the size of a heartbeat slot's counters
	EnvStartedOn   = "UWSGO_STARTED_ON"   // when the master started, in Unix seconds (uwsgi.started_on)
	EnvIsAReload   = "UWSGO_IS_A_RELOAD"  // "1" for workers started after a reload (uwsgi.is_a_reload)
)

// workerVars are the variables above, removed from a worker's environment.
var workerVars = []string{EnvWorkerID, EnvNumProc, EnvMasterPID, EnvListenFDs, EnvHeartbeatFD, EnvHarakiri, EnvProcname, EnvReqLogFD, EnvSlotLayout,
	EnvStartedOn, EnvIsAReload, EnvExtra}

// processStart is when this process started: the master's is every
// worker's uwsgi.started_on.
var processStart = time.Now()

// StartedOn is when the instance started: the master's start for a
// worker it started, else this process's own.
func StartedOn() time.Time {
	if w, ok := CurrentWorker(); ok && !w.StartedOn.IsZero() {
		return w.StartedOn
	}
	return processStart
}

// FirstListenFD is the fd of the first inherited listener.
const FirstListenFD = 3

// Exit codes a worker uses to tell the master why it left. Any other
// status, or death by a signal, is a crash: the master logs it and
// respawns the worker, backing off when it keeps dying at start.
const (
	// ExitReload: the worker finished a graceful reload (SIGHUP) or reached
	// --max-requests. The master respawns it at once. (uWSGI's
	// UWSGI_RELOAD_CODE.)
	ExitReload = 17
	// ExitNoApp: the app could not be loaded and --need-app is set; the
	// master then stops every worker and exits with it (uWSGI's
	// UWSGI_FAILED_APP_CODE).
	ExitNoApp = 22
)

// Worker describes this process when a master started it.
type Worker struct {
	ID        int        // 1-based, as uwsgi.worker_id()
	NumProc   int        // uwsgi.numproc
	MasterPID int        // uwsgi.masterpid(); 0 when there is no master
	Listeners []*os.File // inherited, in Spec order; close-on-exec
	Heartbeat *Heartbeat // nil when harakiri is off or no master
	ReqLog    *os.File   // request log file opened by the master; nil: none
	StartedOn time.Time  // when the master started
	IsAReload bool       // started after the master reloaded its workers
	Harakiri  time.Duration
	// Extra is what kind of extra process this is ("spooler", "mule"),
	// "" for a worker; ExtraIndex its 1-based number. An extra's ID is 0.
	Extra      string
	ExtraIndex int
	// Harakiri is the master's harakiri timeout (0: off). A hub that
	// blocks while busy should wake (and Beat) well within it.
}

var (
	currentOnce   sync.Once
	currentWorker *Worker
)

// CurrentWorker reports whether this process was started by a master, and
// its description. The first call reads the environment (and removes the
// UWSGO_* variables from it), marks the inherited listeners close-on-exec
// and maps the heartbeat area; later calls return the same *Worker. Call it
// early, before the interpreter starts, so os.environ is clean.
//
// When the variables are present but make no sense (a bug, never a user
// error), it prints why on stderr and exits with status 1; the master then
// logs the death and respawns with back-off.
func CurrentWorker() (*Worker, bool) {
	currentOnce.Do(func() {
		if os.Getenv(EnvWorkerID) == "" {
			return
		}
		w, err := workerFromEnv(os.Getenv)
		if name := os.Getenv(EnvProcname); name != "" && err == nil {
			SetProcessName(name)
		}
		for _, k := range workerVars {
			os.Unsetenv(k)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "uwsgo worker (pid: %d): bad environment from the master: %v\n", os.Getpid(), err)
			os.Exit(1)
		}
		currentWorker = w
	})
	return currentWorker, currentWorker != nil
}

// workerFromEnv builds a Worker from the master's variables, taking
// ownership of the inherited fds. Every variable and every fd is checked
// before any fd is taken: an *os.File made of an fd and then dropped
// closes that fd when it is collected, and a wrong variable may name fds
// this process uses for something else (Go's poller among them). So
// files are made only of the fds the Worker keeps, once nothing can fail.
func workerFromEnv(getenv func(string) string) (*Worker, error) {
	num := func(key string, min int) (int, error) {
		v, err := strconv.Atoi(getenv(key))
		if err != nil || v < min {
			return 0, fmt.Errorf("%s=%q: want an integer >= %d", key, getenv(key), min)
		}
		return v, nil
	}
	isOpen := func(what string, fd int) error {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return fmt.Errorf("%s fd %d: %w", what, fd, err)
		}
		return nil
	}
	w := &Worker{}
	var err error
	if w.ID, err = num(EnvWorkerID, 1); err != nil {
		return nil, err
	}
	if v := getenv(EnvExtra); v != "" {
		if w.Extra, w.ExtraIndex, err = parseExtra(v); err != nil {
			return nil, err
		}
		w.ID = 0
	}
	if w.NumProc, err = num(EnvNumProc, w.ID); err != nil {
		return nil, err
	}
	if w.MasterPID, err = num(EnvMasterPID, 1); err != nil {
		return nil, err
	}
	nfds, err := num(EnvListenFDs, 0)
	if err != nil {
		return nil, err
	}
	for i := 0; i < nfds; i++ {
		if err := isOpen("listener", FirstListenFD+i); err != nil {
			return nil, err
		}
	}
	if v := getenv(EnvStartedOn); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: want Unix seconds", EnvStartedOn, v)
		}
		w.StartedOn = time.Unix(secs, 0)
	}
	w.IsAReload = getenv(EnvIsAReload) == "1"
	if getenv(EnvHarakiri) != "" {
		if w.Harakiri, err = time.ParseDuration(getenv(EnvHarakiri)); err != nil || w.Harakiri < 0 {
			return nil, fmt.Errorf("%s=%q: want a duration", EnvHarakiri, getenv(EnvHarakiri))
		}
	}
	reqLog := -1
	if getenv(EnvReqLogFD) != "" {
		if reqLog, err = num(EnvReqLogFD, FirstListenFD+nfds); err != nil {
			return nil, err
		}
		if err := isOpen("request log", reqLog); err != nil {
			return nil, err
		}
	}
	hbFD := -1
	if getenv(EnvHeartbeatFD) != "" {
		if hbFD, err = num(EnvHeartbeatFD, FirstListenFD+nfds); err != nil {
			return nil, err
		}
		if err := isOpen("heartbeat", hbFD); err != nil {
			return nil, err
		}
		var layout hbLayout
		if v := getenv(EnvSlotLayout); v != "" {
			if _, err := fmt.Sscanf(v, "%d,%d", &layout.apps, &layout.cores); err != nil || layout.apps < 0 || layout.cores < 0 {
				return nil, fmt.Errorf("%s=%q: want APPS,CORES", EnvSlotLayout, v)
			}
		}
		// harakiri and the counters are for workers only
		if w.Extra == "" {
			if w.Heartbeat, err = mapHeartbeatLayout(hbFD, w.ID, layout); err != nil {
				return nil, err
			}
		}
	}
	// nothing can fail from here on: take the fds
	for i := 0; i < nfds; i++ {
		fd := FirstListenFD + i
		syscall.CloseOnExec(fd)
		w.Listeners = append(w.Listeners, os.NewFile(uintptr(fd), fmt.Sprintf("uwsgo-listener-%d", i)))
	}
	if reqLog >= 0 {
		syscall.CloseOnExec(reqLog)
		w.ReqLog = os.NewFile(uintptr(reqLog), "uwsgo-request-log")
	}
	if hbFD >= 0 {
		syscall.Close(hbFD) // mapped, or not wanted
	}
	return w, nil
}

// WatchMaster returns a channel closed when the master dies: when this
// process's parent is no longer masterPID (the orphan was re-parented). It
// polls getppid once a second. This is the second line of defence: the
// master starts every worker with Pdeathsig=SIGKILL, so a worker normally
// dies with its master before this notices. With masterPID 0 (no master)
// the channel is never closed.
func WatchMaster(masterPID int) <-chan struct{} {
	ch := make(chan struct{})
	if masterPID <= 0 {
		return ch
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for os.Getppid() == masterPID {
			<-t.C
		}
		close(ch)
	}()
	return ch
}
