package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uwsgo/uwsgo/config"
	"github.com/uwsgo/uwsgo/procman"
	"github.com/uwsgo/uwsgo/pyhost"
)

// The spooler and the mules are extra processes of the master
// (procman.Extra): the binary run again, which loads the app like a worker
// and then gives its main thread to the uwsgi module's loop for it
// (pyhost.RunExtra; pyhost/pyapi/40_spooler.py). What every process needs
// to know about them travels in two variables and a few inherited files:
//
//   - envSpoolerConf (JSON, every process): the spooler directories (one
//     entry per spooler process), the mules, the spooler options, and
//     which of the inherited files (procman.EnvInheritFDs) are what;
//   - envRole ("spooler 2", "mule 1"): what an extra process is, read by
//     the module before the app imports (uwsgi.mule_id() is right at
//     import time);
//   - a shared area of int32 slots: 0 the spooler frequency set by
//     uwsgi.set_spooler_frequency (0: the option's), then one pid per
//     extra, written by the master as it starts and reaps them
//     (uwsgi.spooler_pids(); spool() wakes the spoolers of its
//     directory with SIGUSR1, as uWSGI does), then three per spooler
//     that the spooler writes for the master: the tasks it ran since it
//     started, 1 while one runs (the stats server's), and the running
//     task's --spooler-harakiri deadline (CLOCK_MONOTONIC seconds);
//   - uWSGI's mule queues: a SOCK_SEQPACKET pair shared by all mules, and
//     one per mule, non-blocking (a full queue makes mule_msg() return
//     False), written on end 0 and read on end 1.
const (
	envSpoolerConf = "UWSGO_API_SPOOLER"
	envRole        = "UWSGO_API_ROLE"
)

// muleMsgSize is uWSGI's --mule-msg-size default: the queues' buffers.
const muleMsgSize = 65536

type spoolerConf struct {
	Spoolers  []string `json:"spoolers"`
	Frequency int      `json:"frequency"`
	Ordered   bool     `json:"ordered"`
	Quiet     bool     `json:"quiet"`
	MaxTasks  int      `json:"max_tasks"`
	Chdir     string   `json:"chdir"`    // --spooler-chdir
	Harakiri  int      `json:"harakiri"` // --spooler-harakiri seconds
	Mules     []string `json:"mules"`
	Pids      int      `json:"pids"`   // index into the inherited files
	Queues    []int    `json:"queues"` // indexes: shared w, r, then mule 1's w, r, ...
	Farms     []farm   `json:"farms"`
}

// farm is a --farm: mules sharing one more queue (uWSGI's mule farms).
type farm struct {
	Name  string `json:"name"`
	Mules []int  `json:"mules"` // 1-based
	Queue []int  `json:"queue"` // indexes into the inherited files: w, r
}

// parseFarms reads the --farm options: NAME:MULE[,MULE...], every mule
// one of the nmules configured.
func parseFarms(specs []string, nmules int) ([]farm, error) {
	var out []farm
	seen := map[string]bool{}
	for _, spec := range specs {
		name, list, ok := strings.Cut(spec, ":")
		if !ok || name == "" || list == "" {
			return nil, fmt.Errorf("--farm %q: want NAME:MULE[,MULE...]", spec)
		}
		if seen[name] {
			return nil, fmt.Errorf("--farm %q: farm %q is given twice", spec, name)
		}
		seen[name] = true
		f := farm{Name: name}
		for _, v := range strings.Split(list, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > nmules {
				return nil, fmt.Errorf("--farm %q: %q is not a mule (the mules are 1 to %d: --mules N or --mule)", spec, v, nmules)
			}
			if !slices.Contains(f.Mules, n) {
				f.Mules = append(f.Mules, n)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// extraSetup is what the master gets for its spooler and mules.
type extraSetup struct {
	extras  []procman.Extra
	env     []string
	inherit []*os.File
	area    []byte
}

// started records extra i's pid in the shared area (0: gone).
func (x *extraSetup) started(i, pid int) {
	atomic.StoreInt32((*int32)(unsafe.Pointer(&x.area[4*(1+i)])), int32(pid))
}

// spoolerState reads what spooler i wrote in the shared area.
func (x *extraSetup) spoolerState(i int) procman.SpoolerState {
	base := 4 * (1 + len(x.extras) + spoolerWords*i)
	word := func(k int) uint32 { return atomic.LoadUint32((*uint32)(unsafe.Pointer(&x.area[base+4*k]))) }
	return procman.SpoolerState{Tasks: uint64(word(0)), Running: word(1) != 0, HarakiriAt: int64(word(2))}
}

func (x *extraSetup) stateOf() func(i int) procman.SpoolerState {
	if x == nil {
		return nil
	}
	return x.spoolerState
}

// spoolerWords: the int32 slots each spooler has in the shared area after
// the pids (tasks, running, harakiri deadline).
const spoolerWords = 3

// What the master's Spec takes (a nil setup: nothing).
func (x *extraSetup) list() []procman.Extra {
	if x == nil {
		return nil
	}
	return x.extras
}

func (x *extraSetup) environ() []string {
	if x == nil {
		return nil
	}
	return x.env
}

func (x *extraSetup) files() []*os.File {
	if x == nil {
		return nil
	}
	return x.inherit
}

func (x *extraSetup) onStart() func(i, pid int) {
	if x == nil {
		return nil
	}
	return x.started
}

// spoolerDirs makes each --spooler directory if it is missing (mode 0750,
// as uWSGI) and returns their absolute, resolved paths, each repeated
// --spooler-processes times. Relative names are read from the directory
// uwsgo started in (uWSGI resolves them before --chdir too).
func spoolerDirs(o *config.Options) ([]string, error) {
	n := max(o.SpoolerProcesses, 1)
	var out []string
	for _, d := range o.Spoolers {
		if err := os.Mkdir(d, 0o750); err != nil && !os.IsExist(err) {
			return nil, fmt.Errorf("--spooler %s: %w", d, err)
		}
		if err := unix.Access(d, unix.R_OK|unix.W_OK|unix.X_OK); err != nil {
			return nil, fmt.Errorf("--spooler %s: %w", d, err)
		}
		abs, err := filepath.Abs(d)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			return nil, fmt.Errorf("--spooler %s: %w", d, err)
		}
		for i := 0; i < n; i++ {
			out = append(out, abs)
		}
	}
	return out, nil
}

// mulePatches lists the mules in the order the options gave them: "" for a
// mule that waits for messages (--mule alone, --mules N), else what it
// runs (--mule FILE.py, --mule MODULE:CALLABLE).
func mulePatches(o *config.Options) []string {
	var out []string
	for _, e := range o.Raw {
		switch e.Key {
		case "mule":
			v := e.Value
			if e.Bare {
				v = ""
			}
			out = append(out, v)
		case "mules":
			n, _ := strconv.Atoi(e.Value)
			for i := 0; i < n; i++ {
				out = append(out, "")
			}
		}
	}
	return out
}

// setupExtras makes the shared area and the mule queues; nil when there
// is neither a spooler nor a mule.
func setupExtras(o *config.Options, dirs []string) (*extraSetup, error) {
	mules := mulePatches(o)
	if len(dirs) == 0 && len(mules) == 0 {
		if len(o.Farms) > 0 {
			return nil, fmt.Errorf("--farm %q: there are no mules (--mules N or --mule)", o.Farms[0])
		}
		return nil, nil
	}
	x := &extraSetup{}
	conf := spoolerConf{
		Spoolers: dirs, Frequency: o.SpoolerFrequency, Ordered: o.SpoolerOrdered,
		Quiet: o.SpoolerQuiet, MaxTasks: o.SpoolerMaxTasks, Mules: mules,
		Chdir: o.SpoolerChdir, Harakiri: o.SpoolerHarakiri,
	}
	if conf.Frequency <= 0 {
		conf.Frequency = 30
	}
	if conf.Mules == nil {
		conf.Mules = []string{}
	}
	farms, err := parseFarms(o.Farms, len(mules))
	if err != nil {
		return nil, err
	}
	size := 4 * (1 + len(dirs) + len(mules) + spoolerWords*len(dirs))
	fd, err := unix.MemfdCreate("uwsgo-extras", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("spooler and mules: memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("spooler and mules: ftruncate: %w", err)
	}
	if x.area, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("spooler and mules: mmap: %w", err)
	}
	conf.Pids = len(x.inherit)
	x.inherit = append(x.inherit, os.NewFile(uintptr(fd), "uwsgo-extras"))
	// a queue: a non-blocking SOCK_SEQPACKET pair, its two ends' indexes
	queue := func() ([]int, error) {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("mule queue: socketpair: %w", err)
		}
		var ends []int
		for _, s := range p {
			unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, muleMsgSize)
			unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, muleMsgSize)
			ends = append(ends, len(x.inherit))
			x.inherit = append(x.inherit, os.NewFile(uintptr(s), "uwsgo-mule-queue"))
		}
		return ends, nil
	}
	if len(mules) > 0 {
		for i := 0; i <= len(mules); i++ {
			ends, err := queue()
			if err != nil {
				return nil, err
			}
			conf.Queues = append(conf.Queues, ends...)
		}
	}
	for _, f := range farms {
		if f.Queue, err = queue(); err != nil {
			return nil, err
		}
		conf.Farms = append(conf.Farms, f)
	}
	js, err := json.Marshal(conf)
	if err != nil {
		return nil, err
	}
	x.env = []string{envSpoolerConf + "=" + string(js)}
	for i := range dirs {
		x.extras = append(x.extras, procman.Extra{Kind: "spooler", Index: i + 1, Name: "uWSGI spooler",
			Env: []string{envRole + "=spooler " + strconv.Itoa(i+1)}, Dir: dirs[i]})
	}
	for i := range mules {
		x.extras = append(x.extras, procman.Extra{Kind: "mule", Index: i + 1, Name: "uWSGI mule " + strconv.Itoa(i+1),
			Env: []string{envRole + "=mule " + strconv.Itoa(i+1)}, Patch: mules[i]})
	}
	return x, nil
}

// extraStopWait is how long a stopping spooler or mule may take to finish
// what it runs (a task, a message) before it leaves anyway; a task cut
// short stays on disk and runs again.
const extraStopWait = 3 * time.Second

// runExtra is a spooler or mule process: it loads the app as a worker
// does, without sockets, and runs the loop of the uwsgi module for it.
func runExtra(o *config.Options, w *procman.Worker) error {
	for _, f := range w.Listeners {
		f.Close()
	}
	if w.ReqLog != nil {
		w.ReqLog.Close()
	}
	runtime.LockOSThread() // Python is started and runs on this thread
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return err
	}
	who := fmt.Sprintf("%s %d (pid: %d)", w.Extra, w.ExtraIndex, os.Getpid())
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	go func() {
		gone := procman.WatchMaster(w.MasterPID)
		for {
			var c byte
			var wait time.Duration
			code := 0
			select {
			case sig := <-sigs:
				switch sig {
				case syscall.SIGUSR1:
					c = 'w'
				case syscall.SIGHUP:
					c, wait, code = 'r', extraStopWait, procman.ExitReload
				default:
					c, wait = 's', extraStopWait
				}
			case <-gone:
				c, wait = 's', time.Millisecond
			}
			ctlW.Write([]byte{c})
			if wait > 0 {
				// the loop leaves at once when it waits; a task or a
				// mule's own code may hold it longer
				go func() {
					time.Sleep(wait)
					say("%s: leaving without waiting for the code it runs\n", who)
					os.Exit(code)
				}()
			}
		}
	}()
	engine, cores := pyhost.EngineAsync, 1
	settings := pyhost.Settings{
		Program:    exePath(),
		PythonPath: o.PythonPath,
		Engine:     engine,
		Cores:      cores,
		StackPages: o.UGreenStackPages,
		WorkerID:   0,
		NumProc:    w.NumProc,
		MasterPID:  w.MasterPID,
		Version:    moduleVersion,
		Opt:        pythonOpt(o),
		BufferSize: o.BufferSize,
		StartedOn:  procman.StartedOn().Unix(),
		Magic:      o.Magic,
	}
	if ch := procman.MasterChannel(); ch != nil {
		// signals: the loop of the uwsgi module reads the channel itself
		settings.MasterFD = ch.FD()
	}
	if err := pyhost.Start(settings); err != nil {
		return err
	}
	if o.Module != "" || o.WSGIFile != "" {
		if err := pyhost.LoadApp(o.Module, o.WSGIFile, o.Callable); err != nil {
			// as uWSGI's spooler and mules, carry on without the app
			say("%s: the app did not load: %v\n", who, err)
		}
	}
	pyhost.PostFork() // uWSGI runs the post-fork hooks in its spooler and mules too
	code := pyhost.RunExtra(w.Extra, w.ExtraIndex, int(ctlR.Fd()))
	runtime.KeepAlive(ctlR)
	if code == procman.ExitReload {
		return &exitError{code: code, err: fmt.Errorf("reload"), silent: true}
	}
	if code != 0 {
		return &exitError{code: code, err: fmt.Errorf("%s exited with status %d", who, code), silent: true}
	}
	return nil
}
