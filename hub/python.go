package hub

import (
	"unsafe"

	"github.com/uwsgo/uwsgo/pyhost"
)

// Python is everything the hub asks of the interpreter side: pyhost in
// the server, a fake in the hub's own tests, which run no Python. All of
// it is called on the hub's thread.
type Python interface {
	// Start starts the interpreter and allocates the cores.
	Start(s pyhost.Settings) error
	LoadApp(module, wsgiFile, callable string) error
	// PostFork runs the app's post-fork hook, once the apps are loaded.
	PostFork()
	NumCores() int
	// Runnable is how many cores wait in the runqueue.
	Runnable() int
	// MailboxFlag is the word the hub raises (atomically) when it has
	// mail, so that Run returns to let it take it.
	MailboxFlag() *int32
	// OwnsLoop: the engine runs its own event loop; Turn replaces Run.
	OwnsLoop() bool
	// Threaded: the cores are threads (--threads; hub/threads.go).
	Threaded() bool
	// StartCore gives a request for app (LoadApp's order) to a free core.
	StartCore(id, app int, vars []string, scheme string, body []byte, bodyFD int) error
	// Run runs the runqueue and returns the cores with events.
	Run() []int32
	// Turn runs the engine's own loop (gevent) and returns the cores with events.
	Turn(timeoutMs int) []int32
	Rearm()
	// Wait sleeps on an epoll set (the GIL released): unix.EpollWait's contract.
	Wait(epfd int, events unsafe.Pointer, max, timeoutMs int) int
	Core(id int) Core
}

// Core is one request slot (pyhost.Core).
type Core interface {
	TakeEvents() int
	TakeHead() (status string, headers []string, ok bool)
	TakeOutput() []byte
	TakeFile() (fd int, offset, count int64)
	TakeWaits(into []pyhost.FdWait) ([]pyhost.FdWait, int64)
	Failed() bool
	Switches() int
	// LogVars: what the request set for its log line (uwsgi.set_logvar,
	// log_this_request); read before Release.
	LogVars() (vars string, logThis bool)
	Abort()
	// SetConnFD: the request's connection fd, before StartCore (-1: none).
	SetConnFD(fd int)
	// Websockets (hub/websocket.go): queue a message for the request,
	// tell it the connection closed, and whether either waits for it.
	WSPush(msg []byte) (queued int)
	WSQueued() int
	WSClose()
	WSPending() bool
	// Disconnected: the app called uwsgi.disconnect() (the hub has not
	// yet ended the response); SetDisconnected: it has.
	Disconnected() bool
	SetDisconnected()
	SetHold(bool)
	Parked() bool
	Resume(readyFD int, timedOut bool)
	// GiveBack (--threads): the hub took the output; the thread may go on.
	GiveBack()
	Release()
}

// embedded is the real interpreter, through pyhost.
type embedded struct{}

func (embedded) Start(s pyhost.Settings) error { return pyhost.Start(s) }
func (embedded) PostFork()                     { pyhost.PostFork() }
func (embedded) LoadApp(module, wsgiFile, callable string) error {
	return pyhost.LoadApp(module, wsgiFile, callable)
}
func (embedded) NumCores() int       { return pyhost.NumCores() }
func (embedded) Runnable() int       { return pyhost.Runnable() }
func (embedded) MailboxFlag() *int32 { return pyhost.MailboxFlag() }
func (embedded) OwnsLoop() bool      { return pyhost.OwnsLoop() }
func (embedded) Threaded() bool      { return pyhost.Threaded() }
func (embedded) Run() []int32        { return pyhost.Run() }
func (embedded) Turn(ms int) []int32 { return pyhost.Turn(ms) }
func (embedded) Rearm()              { pyhost.Rearm() }
func (embedded) Core(id int) Core    { return pyhost.CoreAt(id) }
func (embedded) StartCore(id, app int, vars []string, scheme string, body []byte, bodyFD int) error {
	return pyhost.StartCore(id, app, vars, scheme, body, bodyFD)
}
func (embedded) Wait(epfd int, events unsafe.Pointer, max, timeoutMs int) int {
	return pyhost.Wait(epfd, events, max, timeoutMs)
}
