// Package hub runs the Python plane: one locked OS thread that owns the
// interpreter and the event loop. It gives each request a free core, runs
// the runnable cores, lets the network plane (attached as an
// exchange.Plane) write what they produced, and sleeps (GIL released) on
// one epoll set holding the network plane's sockets, the fds the apps
// wait on, an eventfd for other goroutines, and the nearest timer.
package hub

import (
	"container/heap"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uwsgo/uwsgo/exchange"
	"github.com/uwsgo/uwsgo/mounts"
	"github.com/uwsgo/uwsgo/pyhost"
)

// App is one WSGI app of a worker: the main one (Mount "") or a --mount.
type App struct {
	Mount    string // mount point, as written ("" for the main app)
	Module   string // a module to import, or
	WSGIFile string // a file to load
	Callable string
}

// Config says how to start the interpreter and the apps.
type Config struct {
	Python pyhost.Settings
	// Apps are loaded in order; requests go to them by mount point.
	Apps []App
	// ManageScriptName splits PATH_INFO at the mount point into
	// SCRIPT_NAME and the rest (--manage-script-name).
	ManageScriptName bool
	// NoDefaultApp: a request no mount point matches gets a 500
	// (--no-default-app) rather than going to the first app.
	NoDefaultApp bool
	// AppLoaded, if set, is called with each app's load error (nil when
	// it loaded) and may keep going; its error stops the start.
	AppLoaded func(app App, err error) error
	// Beat, if set, is called on every turn of the loop (harakiri's
	// heartbeat), after new requests are taken; busy tells whether
	// requests are on cores. BeatEvery bounds how long the hub sleeps
	// between beats (default 1 s).
	Beat      func(busy bool)
	BeatEvery time.Duration
	// BeatBusySince, if set, is called instead of Beat while requests run
	// on threads (--threads): since is when the oldest of them started,
	// as uWSGI counts harakiri from a request's start.
	BeatBusySince func(since time.Time)
	// CoreBusy, if set, is told when a core takes a request and when it
	// lets it go (the stats).
	CoreBusy func(core int, busy bool)
	// MaxRequests, if > 0: after this many requests the hub calls
	// OnMaxRequests once.
	MaxRequests   int
	OnMaxRequests func()
	// Master, if set, is this process's channel to the master
	// (procman.Channel): the hub watches it and hands each message to
	// OnMaster, on the hub's thread (jobs.go).
	Master   MasterChannel
	OnMaster func(msg []byte)
	// Host is the interpreter side; nil: the embedded CPython (pyhost).
	Host Python
}

// Hub is the Python plane of one worker.
type Hub struct {
	cfg      Config
	py       Python
	ownsLoop bool // the engine's loop is the event loop (gevent)
	threaded bool // the cores are threads (--threads)

	mu       sync.Mutex
	queue    []mail
	sleeping atomic.Bool
	flag     *int32    // the C-side "mailbox has work" word
	yielded  time.Time // when the loop last rescheduled itself (see yieldEvery)
	efd      int       // eventfd: wakes the hub when it sleeps
	epfd     int

	cores   []coreState
	free    []int
	waiters map[int]*fdWaiters
	timers  timerHeap
	served  int
	busy    int // cores with a request

	router *mounts.Router

	plane     atomic.Pointer[planeBox]
	planeWake atomic.Bool     // the plane has work: Turn before sleeping
	planeFDs  []bool          // by fd number: watched by the network plane
	ws        map[int]*wsLink // websocket connections, by fd (websocket.go)

	masterBuf []byte // messages from the master (jobs.go)

	stop     atomic.Bool
	stopped  chan struct{}
	startErr chan error
}

type planeBox struct{ p exchange.Plane }

// planeTag marks the network plane's fds in epoll events (in the word
// beside the fd), apart from the fds apps wait on.
const planeTag = 1

// mail is one message for the hub: a new request, or a core whose client
// has drained its output.
type mail struct {
	req     *exchange.Request
	drained int    // core id + 1
	fn      func() // run on the hub's thread (Do)
	job     *job   // req is a job, not a client's request (jobs.go)
}

// Do runs fn on the hub's thread, with the interpreter's lock held, at
// the start of the loop's next turn (any goroutine).
func (h *Hub) Do(fn func()) { h.post(mail{fn: fn}) }

type coreState struct {
	req     *exchange.Request
	seq     uint64 // bumped at each park: stale timers and fd events are ignored
	waiting bool   // parked on fds/timeout
	held    bool   // parked because the client is slow
	cut     bool   // the response ended at uwsgi.disconnect(): drop what the core produces
	fds     []pyhost.FdWait
	drainFn func()
	started time.Time // when the request went to the core
	job     bool      // the core runs a job (jobs.go), not a request
	ws      *wsLink   // the request answered 101 (websocket.go)
	// why a held core was woken, kept until the client drains
	heldReady    int
	heldTimedOut bool
}

type fdWaiters struct {
	mask uint32
	list []fdWaiter
}

type fdWaiter struct {
	core int
	seq  uint64
	mode int
}

// New makes a hub; Start runs it.
func New(cfg Config) *Hub {
	py := cfg.Host
	if py == nil {
		py = embedded{}
	}
	return &Hub{cfg: cfg, py: py, waiters: map[int]*fdWaiters{}, stopped: make(chan struct{}), startErr: make(chan error, 1)}
}

// Start starts the hub thread, the interpreter and the app, and returns
// once the app is loaded (or failed to load).
func (h *Hub) Start() error {
	go h.thread()
	return <-h.startErr
}

// Stop makes the hub loop return once the requests in flight are done
// (the network plane stops submitting first).
func (h *Hub) Stop() {
	h.stop.Store(true)
	h.wake()
	<-h.stopped
}

// Attach makes p the network plane (exchange.Loop).
func (h *Hub) Attach(p exchange.Plane) {
	h.plane.Store(&planeBox{p})
	h.Wake()
}

// Watch adds a network fd to the hub's epoll set (on the hub's thread).
func (h *Hub) Watch(fd int, events uint32) error {
	err := unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd), Pad: planeTag})
	if err == nil {
		h.setPlaneFD(fd, true)
	}
	return err
}

// Unwatch removes a network fd.
func (h *Hub) Unwatch(fd int) {
	unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	h.setPlaneFD(fd, false)
}

// Forget: a network fd is about to be closed.
func (h *Hub) Forget(fd int) { h.setPlaneFD(fd, false) }

// setPlaneFD records which fd numbers are the network plane's, so that
// the app-side bookkeeping never changes their epoll registration: an
// app may close an fd a core waits on, and accept may reuse its number
// before the waiter is dropped.
func (h *Hub) setPlaneFD(fd int, mine bool) {
	if fd >= len(h.planeFDs) {
		if !mine {
			return
		}
		h.planeFDs = append(h.planeFDs, make([]bool, fd+1-len(h.planeFDs)+64)...)
	}
	h.planeFDs[fd] = mine
}

func (h *Hub) isPlaneFD(fd int) bool { return fd < len(h.planeFDs) && h.planeFDs[fd] }

// Submit starts a request on a free core at once (it is called on the
// hub's thread); beyond the free cores, requests wait in the queue, in
// order.
func (h *Hub) Submit(req *exchange.Request) {
	if h.HasFreeCore() {
		id := h.free[len(h.free)-1]
		h.free = h.free[:len(h.free)-1]
		h.startRequest(id, req, nil)
		return
	}
	h.post(mail{req: req})
}

// HasFreeCore tells whether a new request would start at once.
func (h *Hub) HasFreeCore() bool { return len(h.free) > 0 && h.queueEmpty() }

func (h *Hub) queueEmpty() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue) == 0
}

// Wake makes the loop turn soon (any goroutine). It has its own flag,
// cleared just before the plane's Turn: a response that ends on the hub's
// thread wakes the plane, and is written in the same turn, without
// costing the loop an extra zero-timeout epoll_wait.
func (h *Hub) Wake() {
	h.planeWake.Store(true)
	if h.sleeping.Load() {
		h.wake()
	}
}

// turnPlane lets the network plane write and run its posted work; it
// returns how long the loop may sleep for the plane's sake.
func (h *Hub) turnPlane() int {
	h.planeWake.Store(false)
	if b := h.plane.Load(); b != nil {
		return b.p.Turn()
	}
	return -1
}

// dispatch hands epoll events to their owners.
func (h *Hub) dispatch(events []unix.EpollEvent) {
	var pl exchange.Plane
	if b := h.plane.Load(); b != nil {
		pl = b.p
	}
	for _, ev := range events {
		switch {
		case ev.Pad == planeTag && pl != nil:
			pl.Ready(int(ev.Fd), ev.Events)
		case ev.Pad == masterTag:
			h.readMaster()
		case int(ev.Fd) == h.efd:
			var buf [8]byte
			unix.Read(h.efd, buf[:])
		default:
			h.fdReady(int(ev.Fd), ev.Events)
		}
	}
}

// minTimeout combines two sleep bounds (-1: none).
func minTimeout(a, b int) int {
	if a < 0 || (b >= 0 && b < a) {
		return b
	}
	return a
}

func (h *Hub) post(m mail) {
	h.mu.Lock()
	h.queue = append(h.queue, m)
	h.mu.Unlock()
	atomic.StoreInt32(h.flag, 1)
	if h.sleeping.Load() {
		h.wake()
	}
}

func (h *Hub) wake() {
	var one = [8]byte{1}
	unix.Write(h.efd, one[:])
}

func (h *Hub) thread() {
	runtime.LockOSThread() // the interpreter belongs to this thread for good
	err := h.setup()
	h.startErr <- err
	if err != nil {
		return
	}
	switch {
	case h.ownsLoop:
		h.loopOwned()
	case h.threaded:
		h.loopThreads()
	default:
		h.loop()
	}
	close(h.stopped)
}

func (h *Hub) setup() error {
	var err error
	if h.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	if h.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	if err = unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, h.efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(h.efd)}); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	if err = h.watchMaster(); err != nil {
		return err
	}
	h.cfg.Python.EventFD = h.efd
	h.cfg.Python.EpollFD = h.epfd
	if err = h.py.Start(h.cfg.Python); err != nil {
		return err
	}
	h.flag = h.py.MailboxFlag()
	if _, ok := h.py.(embedded); ok {
		pyhost.WSBlock = h.wsBlock
	}
	h.ownsLoop = h.py.OwnsLoop()
	h.threaded = h.py.Threaded()
	points := make([]string, 0, len(h.cfg.Apps))
	for _, a := range h.cfg.Apps {
		err := h.py.LoadApp(a.Module, a.WSGIFile, a.Callable)
		if h.cfg.AppLoaded != nil {
			err = h.cfg.AppLoaded(a, err)
		}
		if err != nil {
			return err
		}
		points = append(points, a.Mount)
	}
	h.router = mounts.New(points, h.cfg.ManageScriptName, h.cfg.NoDefaultApp)
	h.py.PostFork()
	n := h.py.NumCores()
	h.cores = make([]coreState, n)
	for i := n - 1; i >= 0; i-- {
		h.free = append(h.free, i)
	}
	return nil
}

const maxEvents = 256

// yieldEvery is how often the loop goroutine reschedules itself. It runs
// for good on its locked thread, mostly inside cgo calls, so Go's
// scheduler never sees it reschedule: after 10 ms on one scheduling tick
// sysmon forces it off its P while it is in C, and each time that resets
// sysmon's own sleep to 20 µs for the next hundreds of wake-ups. Behind
// nginx that cost 12-27 µs of CPU per request in sysmon's thread
// (bench/PROFILE.md). A voluntary reschedule costs two thread hand-offs,
// about 200 a second at this period.
const yieldEvery = 5 * time.Millisecond

// beginTurn starts a turn of either loop: take new requests, beat, and
// report whether the hub has stopped with nothing left to do.
func (h *Hub) beginTurn() (stopped bool) {
	if now := time.Now(); now.Sub(h.yielded) >= yieldEvery {
		runtime.Gosched()
		h.yielded = now
	}
	h.takeMail()
	if h.cfg.Beat != nil {
		// after takeMail: a request that gets stuck in its first run is
		// already counted as busy
		h.beat()
	}
	if !h.stop.Load() || h.busy > 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue) == 0
}

func (h *Hub) loop() {
	events := make([]unix.EpollEvent, maxEvents)
	for {
		if h.beginTurn() {
			return
		}
		if h.py.Runnable() > 0 {
			for _, id := range h.py.Run() {
				h.handle(int(id))
			}
		}
		planeTimeout := h.turnPlane()
		timeout := minTimeout(h.nextTimeout(), planeTimeout)
		if timeout != 0 {
			h.sleeping.Store(true)
			if atomic.LoadInt32(h.flag) != 0 || h.planeWake.Load() {
				timeout = 0
			}
		}
		n := h.py.Wait(h.epfd, unsafe.Pointer(&events[0]), maxEvents, timeout)
		h.sleeping.Store(false)
		h.dispatch(events[:max(n, 0)]) // < 0: interrupted by a signal
		h.fireTimers()
	}
}

// loopOwned is the hub loop when the engine's loop (gevent's) is the
// event loop: the hub's epoll set (with the eventfd and the network
// plane's sockets in it) is one of its watchers, and each request is a
// greenlet.
func (h *Hub) loopOwned() {
	events := make([]unix.EpollEvent, maxEvents)
	for {
		if h.beginTurn() {
			return
		}
		timeout := h.turnPlane()
		if h.cfg.Beat != nil {
			timeout = minTimeout(timeout, h.beatMs())
		}
		h.sleeping.Store(true)
		if atomic.LoadInt32(h.flag) != 0 || h.planeWake.Load() || (h.stop.Load() && h.busy == 0) {
			timeout = 0
		}
		ids := h.py.Turn(timeout)
		h.sleeping.Store(false)
		h.py.Rearm()
		for _, id := range ids {
			h.handle(int(id))
		}
		// the network's events (gevent's loop watches the epoll set)
		n := h.py.Wait(h.epfd, unsafe.Pointer(&events[0]), maxEvents, 0)
		h.dispatch(events[:max(n, 0)])
	}
}

// takeMail moves queued requests onto free cores and resumes drained ones.
// Requests beyond the free cores go back to the front of the queue; a
// core that frees raises the flag again.
func (h *Hub) takeMail() {
	if atomic.LoadInt32(h.flag) == 0 {
		return
	}
	h.mu.Lock()
	q := h.queue
	h.queue = nil
	atomic.StoreInt32(h.flag, 0) // posts from now on raise it again
	h.mu.Unlock()
	var left []mail
	for _, m := range q {
		switch {
		case m.fn != nil:
			m.fn()
		case m.req == nil:
			h.undrain(m.drained - 1)
		case len(h.free) == 0:
			left = append(left, m)
		default:
			id := h.free[len(h.free)-1]
			h.free = h.free[:len(h.free)-1]
			h.startRequest(id, m.req, m.job)
		}
	}
	if len(left) > 0 {
		h.mu.Lock()
		h.queue = append(left, h.queue...)
		h.mu.Unlock()
	}
}

func (h *Hub) startRequest(id int, req *exchange.Request, job *job) {
	bodyFD := -1
	if req.BodyFile != nil {
		bodyFD = int(req.BodyFile.Fd())
	}
	st := &h.cores[id]
	st.req = req
	st.waiting, st.held = false, false
	st.heldReady, st.heldTimedOut = -1, false
	core := id
	st.drainFn = func() { h.post(mail{drained: core + 1}) }
	req.Resp.SetStats(id, 0)
	if h.cfg.BeatBusySince != nil {
		st.started = time.Now()
	}
	st.job = job != nil
	app := 0
	if job != nil {
		app = job.app
	} else if !h.router.Trivial() {
		app, req.Vars = h.router.Route(req.Vars)
		if app < 0 {
			fmt.Fprintf(os.Stderr, "--- no python application found, check your startup logs for errors ---\n")
			req.Resp.Finish(errNoApp)
			h.closeBody(req)
			st.req = nil
			h.free = append(h.free, id)
			return
		}
	}
	if app != 0 {
		req.Resp.SetApp(app)
	}
	connFD := req.ConnFD
	if connFD <= 0 {
		connFD = -1
	}
	h.py.Core(id).SetConnFD(connFD)
	if err := h.py.StartCore(id, app, req.Vars, req.Scheme, req.Body, bodyFD); err != nil {
		fmt.Fprintf(os.Stderr, "core %d: %v\n", id, err)
		req.Resp.Finish(err)
		h.closeBody(req)
		st.req = nil
		h.free = append(h.free, id)
		return
	}
	h.busy++
	if h.cfg.CoreBusy != nil && !st.job {
		h.cfg.CoreBusy(id, true)
	}
}

func (h *Hub) closeBody(req *exchange.Request) {
	if req.BodyFile != nil {
		req.BodyFile.Close()
	}
}

var (
	errApp   = errors.New("the application raised an exception")
	errNoApp = errors.New("no python application found")
)

// handle acts on what a core reported.
func (h *Hub) handle(id int) {
	core := h.py.Core(id)
	st := &h.cores[id]
	ev := core.TakeEvents()
	resp := st.req.Resp
	if st.ws != nil {
		st.ws.wsCheck(core)
	}
	done := ev&pyhost.EvDone != 0
	if st.cut {
		// the response ended at uwsgi.disconnect(): the app goes on, and
		// what it produces goes nowhere
		h.dropOutput(core, ev)
		if done {
			core.Release()
			h.finishCore(id, st)
		} else if ev&pyhost.EvWait != 0 {
			h.park(id, core)
		}
		return
	}
	if resp.Gone() {
		core.Abort()
	}
	// a finished core's head and last output go out with the end, in one step
	var end exchange.Ending
	if ev&pyhost.EvOut != 0 {
		if status, headers, ok := core.TakeHead(); ok {
			end.Head = &exchange.Head{Status: status, Headers: headers}
			if isUpgrade(status) {
				h.upgrade(id, resp)
			}
			if !done || ev&pyhost.EvFile != 0 {
				resp.SetHead(end.Head)
			}
		}
		if out := core.TakeOutput(); out != nil {
			if done && ev&pyhost.EvFile == 0 {
				end.Last = out
			} else if resp.Write(out, st.drainFn) && !done {
				st.held = true
				core.SetHold(true)
			}
		}
	}
	if ev&pyhost.EvFile != 0 {
		if fd, off, count := core.TakeFile(); fd >= 0 {
			resp.SendFile(os.NewFile(uintptr(fd), "file_wrapper"), off, count)
		}
	}
	if done {
		end.Switches = core.Switches()
		end.LogVars, end.LogThis = core.LogVars()
		if core.Failed() {
			end.Err = errApp
		}
		if st.ws != nil {
			st.ws.end()
		}
		core.Release()
		resp.End(end)
		h.finishCore(id, st)
		return
	}
	if core.Disconnected() {
		// uwsgi.disconnect(): the response ends with what was sent (the
		// head and output were queued above), the connection closes, and
		// the core goes on without its client
		core.SetDisconnected()
		st.cut = true
		if st.held {
			st.held = false
			core.SetHold(false)
		}
		vars, logThis := core.LogVars()
		resp.End(exchange.Ending{Switches: core.Switches(), LogVars: vars, LogThis: logThis, Close: true})
	}
	if ev&pyhost.EvWait != 0 {
		h.park(id, core)
	}
}

// dropOutput throws away what a core produced for a response that has
// already ended (uwsgi.disconnect()).
func (h *Hub) dropOutput(core Core, ev int) {
	if ev&pyhost.EvOut != 0 {
		core.TakeHead()
		core.TakeOutput()
	}
	if ev&pyhost.EvFile != 0 {
		if fd, _, _ := core.TakeFile(); fd >= 0 {
			unix.Close(fd)
		}
	}
}

// finishCore: the request on core id is over and the core released.
func (h *Hub) finishCore(id int, st *coreState) {
	h.closeBody(st.req)
	st.req = nil
	st.cut = false
	st.seq++
	h.busy--
	h.free = append(h.free, id)
	atomic.StoreInt32(h.flag, 1) // a queued request may take this core
	if st.job {
		st.job = false
		return // a job is no request: not counted, not in the stats
	}
	h.served++
	if h.cfg.CoreBusy != nil {
		h.cfg.CoreBusy(id, false)
	}
	if h.cfg.MaxRequests > 0 && h.served == h.cfg.MaxRequests && h.cfg.OnMaxRequests != nil {
		h.cfg.OnMaxRequests()
	}
}

// undrain: the client caught up with a held core's output.
func (h *Hub) undrain(id int) {
	st := &h.cores[id]
	if st.req == nil || !st.held {
		return
	}
	st.held = false
	core := h.py.Core(id)
	core.SetHold(false)
	if h.threaded {
		core.GiveBack()
		return
	}
	if !h.ownsLoop && core.Parked() && !st.waiting {
		core.Resume(st.heldReady, st.heldTimedOut)
	}
}

// park registers what a core waits for.
func (h *Hub) park(id int, core Core) {
	st := &h.cores[id]
	st.seq++
	st.waiting = true
	var timeout int64
	st.fds, timeout = core.TakeWaits(st.fds)
	nfds := len(st.fds)
	for _, w := range st.fds {
		h.addWaiter(w.FD, fdWaiter{core: id, seq: st.seq, mode: w.Mode})
		if !st.waiting {
			return // an fd epoll refuses (or the plane's) woke it at once
		}
	}
	if timeout >= 0 {
		heap.Push(&h.timers, timer{at: time.Now().Add(time.Duration(timeout) * time.Millisecond), core: id, seq: st.seq})
	} else if nfds == 0 {
		h.wakeCore(id, -1, false)
	}
}

func epollMask(mode int) uint32 {
	if mode == pyhost.WaitWrite {
		return unix.EPOLLOUT
	}
	return unix.EPOLLIN
}

func (h *Hub) addWaiter(fd int, w fdWaiter) {
	fw := h.waiters[fd]
	if fw == nil {
		fw = &fdWaiters{}
		h.waiters[fd] = fw
	}
	fw.list = append(fw.list, w)
	h.rearm(fd, fw)
}

// rearm makes the epoll registration of fd match its waiters.
func (h *Hub) rearm(fd int, fw *fdWaiters) {
	if l := h.ws[fd]; l != nil {
		h.wsRearm(fd, fw, l)
		return
	}
	if h.isPlaneFD(fd) {
		// The app's fd was closed and its number now belongs to a
		// connection: report it ready (as poll would a closed fd) and
		// leave the connection's registration alone.
		fw.mask = 0
		h.failWaiters(fd, fw)
		return
	}
	var mask uint32
	for _, w := range fw.list {
		mask |= epollMask(w.mode)
	}
	switch {
	case mask == fw.mask:
	case mask == 0:
		unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		delete(h.waiters, fd)
	case fw.mask == 0:
		ev := unix.EpollEvent{Events: mask, Fd: int32(fd)}
		if err := unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err == unix.EEXIST {
			unix.EpollCtl(h.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
		} else if err != nil {
			h.failWaiters(fd, fw)
			return
		}
	default:
		unix.EpollCtl(h.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: mask, Fd: int32(fd)})
	}
	fw.mask = mask
	if mask == 0 {
		delete(h.waiters, fd)
	}
}

// failWaiters: an fd that epoll refuses (closed, or a regular file) is
// reported ready at once, as a poll(2) would.
func (h *Hub) failWaiters(fd int, fw *fdWaiters) {
	list := fw.list
	delete(h.waiters, fd)
	for _, w := range list {
		if h.cores[w.core].seq == w.seq && h.cores[w.core].waiting {
			h.wakeCore(w.core, fd, false)
		}
	}
}

func (h *Hub) fdReady(fd int, events uint32) {
	fw := h.waiters[fd]
	if fw == nil {
		unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		return
	}
	var ready []fdWaiter
	keep := fw.list[:0]
	for _, w := range fw.list {
		st := &h.cores[w.core]
		if st.seq != w.seq || !st.waiting {
			continue // stale
		}
		if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 || events&epollMask(w.mode) != 0 {
			ready = append(ready, w)
		} else {
			keep = append(keep, w)
		}
	}
	fw.list = keep
	h.rearm(fd, fw)
	for _, w := range ready {
		if h.cores[w.core].seq == w.seq {
			h.wakeCore(w.core, fd, false)
		}
	}
}

// wakeCore resumes a waiting core and forgets its other registrations.
func (h *Hub) wakeCore(id, readyFD int, timedOut bool) {
	st := &h.cores[id]
	st.seq++
	st.waiting = false
	for _, w := range st.fds {
		if w.FD == readyFD {
			continue
		}
		if fw := h.waiters[w.FD]; fw != nil {
			keep := fw.list[:0]
			for _, x := range fw.list {
				if x.core != id {
					keep = append(keep, x)
				}
			}
			fw.list = keep
			h.rearm(w.FD, fw)
		}
	}
	st.fds = st.fds[:0]
	if st.held {
		st.heldReady, st.heldTimedOut = readyFD, timedOut
		return // resumed when the client drains
	}
	h.py.Core(id).Resume(readyFD, timedOut)
}

func (h *Hub) nextTimeout() int {
	if h.py.Runnable() > 0 || atomic.LoadInt32(h.flag) != 0 || h.planeWake.Load() {
		return 0
	}
	if h.stop.Load() && h.busy == 0 {
		return 0
	}
	for h.timers.Len() > 0 {
		t := h.timers[0]
		if st := &h.cores[t.core]; st.seq != t.seq || !st.waiting {
			heap.Pop(&h.timers)
			continue
		}
		d := time.Until(t.at)
		if d <= 0 {
			return 0
		}
		ms := int((d + time.Millisecond - 1) / time.Millisecond)
		if h.cfg.Beat != nil && ms > h.beatMs() {
			ms = h.beatMs() // keep the heartbeat fresh while parked
		}
		return ms
	}
	if h.cfg.Beat != nil {
		return h.beatMs()
	}
	return -1
}

// beatMs is the longest sleep between two heartbeats.
func (h *Hub) beatMs() int {
	if h.cfg.BeatEvery > 0 {
		return int(h.cfg.BeatEvery / time.Millisecond)
	}
	return 1000
}

func (h *Hub) fireTimers() {
	if h.timers.Len() == 0 {
		return
	}
	now := time.Now()
	for h.timers.Len() > 0 {
		t := h.timers[0]
		st := &h.cores[t.core]
		if st.seq != t.seq || !st.waiting {
			heap.Pop(&h.timers)
			continue
		}
		if t.at.After(now) {
			return
		}
		heap.Pop(&h.timers)
		h.wakeCore(t.core, -1, true)
	}
}

type timer struct {
	at   time.Time
	core int
	seq  uint64
}

type timerHeap []timer

func (t timerHeap) Len() int            { return len(t) }
func (t timerHeap) Less(i, j int) bool  { return t[i].at.Before(t[j].at) }
func (t timerHeap) Swap(i, j int)       { t[i], t[j] = t[j], t[i] }
func (t *timerHeap) Push(x interface{}) { *t = append(*t, x.(timer)) }
func (t *timerHeap) Pop() interface{} {
	old := *t
	x := old[len(old)-1]
	*t = old[:len(old)-1]
	return x
}
