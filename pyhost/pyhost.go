// Package pyhost is uwsgo's thin binding to CPython (3.11 to 3.14): start
// the interpreter, load the WSGI app, and drive the cores that run
// requests. Its C is in this directory (cgo compiles every .c file here);
// glue.h says which file does what.
//
// Every function here must be called from the hub's OS thread (the one
// that called Start, locked with runtime.LockOSThread), which holds the GIL
// except inside Wait.
package pyhost

/*
#cgo pkg-config: python3-embed
#cgo CFLAGS: -O2 -Wall -Wno-unused-function -Wno-missing-braces
#include "pyhost.h"
#include <stdlib.h>
*/
import "C"

import (
	"errors"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Engine says how cores switch.
type Engine int

const (
	EngineAsync    Engine = C.UW_ENGINE_ASYNC    // a core runs until its iterator yields
	EngineUGreen   Engine = C.UW_ENGINE_UGREEN   // each core has its own C stack
	EngineGreenlet Engine = C.UW_ENGINE_GREENLET // each core is a greenlet
	EngineGevent   Engine = C.UW_ENGINE_GEVENT   // gevent's loop runs the requests, a greenlet each
	EngineThreads  Engine = C.UW_ENGINE_THREADS  // each core is a Python thread (--threads); see threads.go
)

// Switch modes for uGreen.
const (
	SwitchFast        = 0 // register-only switch (amd64), no syscall
	SwitchSwapcontext = 1 // POSIX swapcontext
)

// Settings for Start.
type Settings struct {
	Program    string
	PythonPath []string
	Engine     Engine
	Cores      int
	StackPages int
	SwitchMode int
	WorkerID   int
	NumProc    int
	MasterPID  int
	Version    string // uwsgi.version
	BufferSize int    // uwsgi.buffer_size
	StartedOn  int64  // uwsgi.started_on (Unix seconds)
	IsAReload  bool   // uwsgi.is_a_reload
	Sockets    []int  // uwsgi.sockets: the listening fds
	// Slots is the master's shared area (procman.Heartbeat.Area): every
	// worker's slot of SlotWords words, with SlotApps and SlotCores; nil
	// without a master.
	Slots                          []byte
	SlotWords, SlotApps, SlotCores int
	// ArgvArea is the memory of the process's command line, which
	// uwsgi.setprocname() writes over (procman.ArgvArea).
	ArgvArea []byte
	// Magic is uwsgi.magic_table: uWSGI's magic variables of the last
	// configuration file.
	Magic map[byte]string
	// Opt is what uwsgi.opt holds: every option as given, in order.
	Opt  []Option
	Home string // --home: virtualenv or Python home ("" none)
	// gevent
	GeventMonkey bool // patch_all() after the app loads
	GeventEarly  bool // patch_all() before the app loads
	EventFD      int  // the hub's eventfd, written to wake the hub
	EpollFD      int  // the hub's epoll set (eventfd and sockets), which gevent's loop watches
	// MasterFD is this process's channel to the master (procman.Channel),
	// which the uwsgi module's signal functions write to; 0: none.
	MasterFD int
}

// Option is one option as the user gave it, for uwsgi.opt: a bare flag
// shows as True, a value as bytes, a repeated key as a list.
type Option struct {
	Key   string
	Value string
	Bare  bool
}

// encodeOpt lays the options out as uw_settings.opt expects them.
func encodeOpt(opts []Option) []byte {
	var b []byte
	for _, o := range opts {
		b = append(b, o.Key...)
		b = append(b, 0)
		if o.Bare {
			b = append(b, 'f', 0)
			continue
		}
		b = append(b, 'v')
		b = append(b, o.Value...)
		b = append(b, 0)
	}
	return b
}

// encodeMagic lays the table out as uw_settings.magic expects it, in key
// order; empty values are left out, as uWSGI leaves them out.
func encodeMagic(m map[byte]string) []byte {
	var b []byte
	for k := 0; k < 256; k++ {
		if v := m[byte(k)]; v != "" {
			b = append(b, byte(k))
			b = append(b, v...)
			b = append(b, 0)
		}
	}
	return b
}

// PostFork runs uwsgi.post_fork_hook, as uWSGI does in each new worker:
// call it once the apps are loaded.
func PostFork() { C.uw_post_fork() }

func errFrom(buf []byte) error {
	n := 0
	for n < len(buf) && buf[n] != 0 {
		n++
	}
	return errors.New(string(buf[:n]))
}

// Start starts the interpreter, registers the uwsgi module and allocates
// the cores. The calling thread keeps the GIL.
func Start(s Settings) error {
	var cs C.uw_settings
	cs.program = C.CString(s.Program)
	paths := make([]*C.char, len(s.PythonPath)+1)
	for i, p := range s.PythonPath {
		paths[i] = C.CString(p)
	}
	cpaths := (**C.char)(C.malloc(C.size_t(len(paths)) * C.size_t(unsafe.Sizeof(paths[0]))))
	copy(unsafe.Slice(cpaths, len(paths)), paths)
	cs.pythonpath = cpaths
	cs.npythonpath = C.int(len(s.PythonPath))
	cs.engine = C.int(s.Engine)
	cs.ncores = C.int(s.Cores)
	cs.stack_pages = C.int(s.StackPages)
	cs.switch_mode = C.int(s.SwitchMode)
	cs.worker_id = C.int(s.WorkerID)
	cs.numproc = C.int(s.NumProc)
	cs.masterpid = C.int(s.MasterPID)
	cs.version = C.CString(s.Version)
	if opt := encodeOpt(s.Opt); len(opt) > 0 {
		cs.opt = (*C.char)(C.CBytes(opt))
		cs.opt_len = C.size_t(len(opt))
	}
	cs.buffer_size = C.int(s.BufferSize)
	cs.started_on = C.longlong(s.StartedOn)
	cs.is_a_reload = cbool(s.IsAReload)
	if len(s.Sockets) > 0 {
		fds := (*C.int)(C.malloc(C.size_t(len(s.Sockets)) * C.size_t(unsafe.Sizeof(C.int(0)))))
		for i, fd := range s.Sockets {
			unsafe.Slice(fds, len(s.Sockets))[i] = C.int(fd)
		}
		cs.sockets, cs.nsockets = fds, C.int(len(s.Sockets))
	}
	if len(s.Slots) > 0 {
		// shared memory mapped for the life of the process
		cs.slots, cs.slots_len = unsafe.Pointer(&s.Slots[0]), C.size_t(len(s.Slots))
		cs.slot_words, cs.slot_apps, cs.slot_cores = C.int(s.SlotWords), C.int(s.SlotApps), C.int(s.SlotCores)
	}
	if len(s.ArgvArea) > 0 {
		// the kernel's argv strings, outside Go's heap
		cs.argv_area, cs.argv_len = (*C.char)(unsafe.Pointer(&s.ArgvArea[0])), C.size_t(len(s.ArgvArea))
	}
	if m := encodeMagic(s.Magic); len(m) > 0 {
		cs.magic = (*C.char)(C.CBytes(m))
		cs.magic_len = C.size_t(len(m))
	}
	if src := pyapiSources(); len(src) > 0 {
		cs.pyapi = (*C.char)(C.CBytes(src))
		cs.pyapi_len = C.size_t(len(src))
	}
	if s.Home != "" {
		cs.home = C.CString(s.Home)
	}
	cs.gevent_monkey = cbool(s.GeventMonkey)
	cs.gevent_early = cbool(s.GeventEarly)
	cs.efd = C.int(s.EventFD)
	cs.epfd = C.int(s.EpollFD)
	cs.master_fd = C.int(s.MasterFD)
	// the strings stay allocated: the interpreter keeps using them
	errbuf := make([]byte, 1024)
	if C.uw_start(&cs, (*C.char)(unsafe.Pointer(&errbuf[0])), C.size_t(len(errbuf))) != 0 {
		return errFrom(errbuf)
	}
	if C.uw_cores_init((*C.char)(unsafe.Pointer(&errbuf[0])), C.size_t(len(errbuf))) != 0 {
		return errFrom(errbuf)
	}
	if s.Engine == EngineThreads {
		threadsInit(s.Cores)
	}
	return nil
}

// LoadApp imports a WSGI app and adds it to the worker's apps: the first
// one loaded is app 0, the next app 1, ... The error is one line.
func LoadApp(module, wsgiFile, callable string) error {
	cm, cf, cc := C.CString(module), C.CString(wsgiFile), C.CString(callable)
	defer C.free(unsafe.Pointer(cm))
	defer C.free(unsafe.Pointer(cf))
	defer C.free(unsafe.Pointer(cc))
	errbuf := make([]byte, 2048)
	if C.uw_load_app(cm, cf, cc, (*C.char)(unsafe.Pointer(&errbuf[0])), C.size_t(len(errbuf))) != 0 {
		return errFrom(errbuf)
	}
	return nil
}

// ModuleFiles returns the file of every loaded module (sys.modules'
// __file__ values), for --py-autoreload.
func ModuleFiles() []string {
	var n C.size_t
	p := C.uw_module_files(&n)
	if p == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(p))
	raw := C.GoStringN(p, C.int(n))
	return strings.Split(strings.TrimSuffix(raw, "\x00"), "\x00")
}

// NumCores is how many cores there are.
func NumCores() int { return int(C.uw_the_hub.ncores) }

// Runnable is how many cores wait in the runqueue.
func Runnable() int {
	if threadsPending != nil {
		return int(atomic.LoadUint32(threadsPending))
	}
	return int(C.uw_the_hub.rq_len)
}

// MailboxFlag is the word Go sets (atomically) when new requests arrive,
// so that Run returns to take them.
func MailboxFlag() *int32 { return (*int32)(unsafe.Pointer(&C.uw_the_hub.mailbox_pending)) }

// startBuf and startLens are reused by every StartCore (hub thread only).
var (
	startBuf  []byte
	startLens []C.int
)

// StartCore gives a request for app (LoadApp's order) to a free core. vars
// are environ pairs.
func StartCore(id, app int, vars []string, scheme string, body []byte, bodyFD int) error {
	buf := startBuf[:0]
	lens := startLens[:0]
	for _, v := range vars {
		buf = append(buf, v...)
		lens = append(lens, C.int(len(v)))
	}
	buf = append(buf, 0)
	lens = append(lens, 0)
	startBuf, startLens = buf, lens
	var bp *C.char
	if len(body) > 0 {
		bp = (*C.char)(unsafe.Pointer(&body[0]))
	}
	csch := schemeCString(scheme)
	CoreAt(id).c.app = C.int(app)
	if threadsPending != nil && len(body) > 0 {
		threadPins[id].Pin(&body[0]) // the core's thread reads it later; unpinned at Release
	}
	r := C.uw_core_start(C.int(id), (*C.char)(unsafe.Pointer(&buf[0])), &lens[0], C.int(len(vars)), csch,
		bp, C.size_t(len(body)), C.int(bodyFD))
	if r != 0 {
		return errors.New("cannot build the WSGI environ")
	}
	return nil
}

var schemes = map[string]*C.char{}

func schemeCString(s string) *C.char {
	if p, ok := schemes[s]; ok {
		return p
	}
	p := C.CString(s)
	schemes[s] = p
	return p
}

// Run runs the runqueue and returns the ids of the cores with events.
func Run() []int32 {
	n := int(C.uw_run())
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(C.uw_the_hub.events)), n)
}

// Wait releases the GIL and waits on an epoll set; events is a buffer of
// epoll_event structs (12 bytes each on amd64, packed).
func Wait(epfd int, events unsafe.Pointer, max int, timeoutMs int) int {
	return int(C.uw_wait(C.int(epfd), events, C.int(max), C.int(timeoutMs)))
}

// Core is one request slot, seen from Go.
type Core struct{ c *C.uw_core }

// CoreAt returns core id.
func CoreAt(id int) Core {
	return Core{(*C.uw_core)(unsafe.Add(unsafe.Pointer(C.uw_the_hub.cores), uintptr(id)*unsafe.Sizeof(C.uw_core{})))}
}

// Event bits.
const (
	EvOut  = C.UW_EV_OUT
	EvWait = C.UW_EV_WAIT
	EvDone = C.UW_EV_DONE
	EvFile = C.UW_EV_FILE
)

// Wait modes.
const (
	WaitRead  = C.UW_WAIT_READ
	WaitWrite = C.UW_WAIT_WRITE
)

// TakeEvents returns and clears the core's pending events.
func (k Core) TakeEvents() int {
	e := int(k.c.events)
	k.c.events = 0
	k.c.in_events = 0
	return e
}

// TakeHead returns the status and headers once, when they are ready.
func (k Core) TakeHead() (status string, headers []string, ok bool) {
	if k.c.head_len == 0 || k.c.head_taken != 0 {
		return "", nil, false
	}
	k.c.head_taken = 1
	raw := unsafe.Slice((*byte)(unsafe.Pointer(k.c.head)), int(k.c.head_len))
	parts := make([]string, 0, 1+2*int(k.c.head_count))
	start := 0
	for i, b := range raw {
		if b == 0 {
			parts = append(parts, string(raw[start:i]))
			start = i + 1
		}
	}
	return parts[0], parts[1:], true
}

// HeadTaken reports whether the head has gone to the client side.
func (k Core) HeadTaken() bool { return k.c.head_taken != 0 }

// TakeOutput copies out and clears the body bytes produced so far.
func (k Core) TakeOutput() []byte {
	n := int(k.c.out_len)
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(k.c.out)), n))
	k.c.out_len = 0
	return b
}

// TakeFile returns the file the app handed to wsgi.file_wrapper (the fd is
// the caller's to close), or fd -1.
func (k Core) TakeFile() (fd int, offset, count int64) {
	fd = int(k.c.file_fd)
	if fd >= 0 {
		k.c.file_fd = -1
	}
	return fd, int64(k.c.file_off), int64(k.c.file_count)
}

// FdWait is one fd a core waits on.
type FdWait struct{ FD, Mode int }

// TakeWaits returns and clears what the core asked to wait for: fds and a
// timeout in milliseconds (-1: none).
func (k Core) TakeWaits(into []FdWait) ([]FdWait, int64) {
	into = into[:0]
	for i := 0; i < int(k.c.nwait); i++ {
		into = append(into, FdWait{int(k.c.wait_fd[i]), int(k.c.wait_mode[i])})
	}
	t := int64(k.c.timeout_ms)
	k.c.nwait = 0
	k.c.timeout_ms = -1
	return into, t
}

// Failed reports whether the app raised (traceback already logged).
func (k Core) Failed() bool { return k.c.failed != 0 }

// Switches is how many times the core switched away in this request.
func (k Core) Switches() int { return int(k.c.switches) }

// LogVars is what the request set for its log line: uwsgi.set_logvar's
// pairs ("key\x00value\x00" ..., a copy; "" and no allocation when it
// set none) and whether it called uwsgi.log_this_request(). Read it
// before Release, which clears them.
func (k Core) LogVars() (vars string, logThis bool) {
	var n C.size_t
	var this C.int
	p := C.uw_api_process_logvars(k.c.id, &n, &this)
	if n > 0 {
		vars = C.GoStringN(p, C.int(n))
	}
	return vars, this != 0
}

// SetConnFD records the request's connection fd (uwsgi.connection_fd();
// -1: none), before StartCore.
func (k Core) SetConnFD(fd int) { k.c.conn_fd = C.int(fd) }

// WSPush queues a whole websocket message for the core's request
// (copied) and returns how many bytes are queued now.
func (k Core) WSPush(msg []byte) int {
	var p *C.char
	if len(msg) > 0 {
		p = (*C.char)(unsafe.Pointer(&msg[0]))
	}
	return int(C.uw_ws_push(k.c.id, p, C.size_t(len(msg))))
}

// WSQueued is how many message bytes wait for the request to take them.
func (k Core) WSQueued() int { return int(C.uw_ws_queued(k.c.id)) }

// WSClose tells the core's request its websocket connection is closed.
func (k Core) WSClose() { C.uw_ws_close(k.c.id) }

// WSPending reports whether a message (or the close) waits to be taken.
func (k Core) WSPending() bool { return C.uw_ws_pending(k.c.id) != 0 }

// Disconnected reports whether the app called uwsgi.disconnect() and
// the hub has not yet ended the response for it.
func (k Core) Disconnected() bool { return k.c.disconnect == 1 }

// SetDisconnected: the hub ended the response uwsgi.disconnect() asked
// to end; what the core produces from now on goes nowhere.
func (k Core) SetDisconnected() { k.c.disconnect = 2 }

// Abort tells the core the client went away.
func (k Core) Abort() { k.c.aborted = 1 }

// SetHold stops (true) or allows (false) running the core.
func (k Core) SetHold(h bool) {
	if h {
		k.c.hold = 1
	} else {
		k.c.hold = 0
	}
}

// Parked reports whether the core is off the runqueue.
func (k Core) Parked() bool { return k.c.state == C.UW_PARKED }

// Resume makes a parked core runnable, telling it which fd woke it (-1
// for none) and whether its timeout passed.
func (k Core) Resume(readyFD int, timedOut bool) {
	k.c.ready_fd = C.int(readyFD)
	if timedOut {
		k.c.timed_out = 1
	} else {
		k.c.timed_out = 0
	}
	C.uw_core_resume(k.c.id)
}

// Release returns a finished core to the free pool.
func (k Core) Release() {
	C.uw_core_release(k.c.id)
	if threadsPending != nil {
		threadPins[k.c.id].Unpin()
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// OwnsLoop reports whether the engine runs its own event loop (gevent):
// the hub then calls Turn instead of Run and Wait. Valid after Start.
func OwnsLoop() bool { return C.uw_engine_owns_loop() != 0 }

// Turn runs the engine's own loop until the eventfd fires or timeoutMs
// passes (-1: no timeout), then returns the ids of cores with events.
// The GIL stays held: gevent's loop releases it while it polls.
func Turn(timeoutMs int) []int32 {
	C.uw_engine_turn(C.int(timeoutMs))
	n := int(C.uw_the_hub.nevents)
	C.uw_the_hub.nevents = 0
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(C.uw_the_hub.events)), n)
}

// Rearm tells the engine's loop the eventfd was drained.
func Rearm() { C.uw_engine_rearm() }
