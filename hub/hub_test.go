package hub

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uwsgo/uwsgo/exchange"
	"github.com/uwsgo/uwsgo/pyhost"
)

// The hub's rules, with a fake interpreter: each request runs a script
// of steps (output, wait on an fd, sleep, end), one step per Run.

type step struct {
	out   []byte
	waitR int // wait until this fd is readable (-1: none)
	sleep int // async_sleep, ms (0: none)
	end   bool
}

func out(s string) step         { return step{out: []byte(s), waitR: -1} }
func waitFD(fd int) step        { return step{waitR: fd} }
func sleepMs(ms int) step       { return step{sleep: ms, waitR: -1} }
func end() step                 { return step{end: true, waitR: -1} }
func bigOut(n int, b byte) step { return step{out: bytes.Repeat([]byte{b}, n), waitR: -1} }

type fakeCore struct {
	f        *fakePython
	id       int
	steps    []step
	events   int
	out      []byte
	waits    []pyhost.FdWait
	timeout  int64
	parked   bool
	hold     bool
	aborted  bool
	switches int
	headOut  bool
	// what the hub told it
	resumes []resume
	ran     int // steps run
}

type resume struct {
	fd       int
	timedOut bool
}

type fakePython struct {
	mu      sync.Mutex // the test reads what the hub thread wrote
	cores   []*fakeCore
	flag    int32
	runq    []int
	script  func(path string) []step
	started []string // PATH_INFO of each request, in the order cores got them
	apps    []int    // the app of each request, in the same order
}

func (f *fakePython) Start(s pyhost.Settings) error {
	for i := 0; i < s.Cores; i++ {
		f.cores = append(f.cores, &fakeCore{f: f, id: i, timeout: -1})
	}
	return nil
}
func (f *fakePython) LoadApp(string, string, string) error { return nil }
func (f *fakePython) PostFork()                            {}
func (f *fakePython) NumCores() int                        { return len(f.cores) }
func (f *fakePython) Runnable() int                        { return len(f.runq) }
func (f *fakePython) MailboxFlag() *int32                  { return &f.flag }
func (f *fakePython) OwnsLoop() bool                       { return false }
func (f *fakePython) Threaded() bool                       { return false }
func (f *fakePython) Turn(int) []int32                     { panic("not an engine with its own loop") }
func (f *fakePython) Rearm()                               {}
func (f *fakePython) Core(id int) Core                     { return f.cores[id] }

func (f *fakePython) StartCore(id, app int, vars []string, scheme string, body []byte, bodyFD int) error {
	path := ""
	for i := 0; i+1 < len(vars); i += 2 {
		if vars[i] == "PATH_INFO" {
			path = vars[i+1]
		}
	}
	f.mu.Lock()
	f.started = append(f.started, path)
	f.apps = append(f.apps, app)
	f.mu.Unlock()
	c := f.cores[id]
	*c = fakeCore{f: f, id: id, timeout: -1, steps: f.script(path)}
	f.runq = append(f.runq, id)
	return nil
}

func (f *fakePython) Run() []int32 {
	var ids []int32
	q := f.runq
	f.runq = nil
	for _, id := range q {
		c := f.cores[id]
		if c.hold { // as uw_run: a held core waits off the runqueue
			c.parked = true
			continue
		}
		f.mu.Lock()
		s := c.steps[0]
		c.steps = c.steps[1:]
		c.ran++
		f.mu.Unlock()
		switch {
		case s.end:
			c.events |= pyhost.EvDone
			if len(c.out) > 0 {
				c.events |= pyhost.EvOut
			}
			c.parked = true
		case s.out != nil:
			c.out = append(c.out, s.out...)
			c.events |= pyhost.EvOut
			c.switches++
			f.runq = append(f.runq, id)
		case s.waitR >= 0:
			c.waits = append(c.waits, pyhost.FdWait{FD: s.waitR, Mode: pyhost.WaitRead})
			c.events |= pyhost.EvWait
			c.parked = true
			c.switches++
		case s.sleep > 0:
			c.timeout = int64(s.sleep)
			c.events |= pyhost.EvWait
			c.parked = true
			c.switches++
		}
		if c.events != 0 {
			ids = append(ids, int32(id))
		}
	}
	return ids
}

func (f *fakePython) Wait(epfd int, events unsafe.Pointer, max, timeoutMs int) int {
	n, err := unix.EpollWait(epfd, unsafe.Slice((*unix.EpollEvent)(events), max), timeoutMs)
	if err != nil {
		return -1
	}
	return n
}

func (c *fakeCore) TakeEvents() int { e := c.events; c.events = 0; return e }
func (c *fakeCore) TakeHead() (string, []string, bool) {
	if c.ran == 0 || c.headOut {
		return "", nil, false
	}
	c.headOut = true
	return "200 OK", []string{"Content-Type", "text/plain"}, true
}
func (c *fakeCore) TakeOutput() []byte            { b := c.out; c.out = nil; return b }
func (c *fakeCore) TakeFile() (int, int64, int64) { return -1, 0, 0 }
func (c *fakeCore) TakeWaits(into []pyhost.FdWait) ([]pyhost.FdWait, int64) {
	into = append(into[:0], c.waits...)
	t := c.timeout
	c.waits, c.timeout = nil, -1
	return into, t
}
func (c *fakeCore) Failed() bool            { return false }
func (c *fakeCore) Switches() int           { return c.switches }
func (c *fakeCore) LogVars() (string, bool) { return "", false }
func (c *fakeCore) Abort()                  { c.aborted = true }
func (c *fakeCore) SetHold(h bool) {
	c.f.mu.Lock()
	c.hold = h
	c.f.mu.Unlock()
}
func (c *fakeCore) Parked() bool { return c.parked }
func (c *fakeCore) Resume(fd int, timedOut bool) {
	c.f.mu.Lock()
	c.resumes = append(c.resumes, resume{fd, timedOut})
	c.f.mu.Unlock()
	if c.parked {
		c.parked = false
		c.f.runq = append(c.f.runq, c.id)
	}
}
func (c *fakeCore) Release()           {}
func (c *fakeCore) SetConnFD(int)      {}
func (c *fakeCore) WSPush([]byte) int  { return 0 }
func (c *fakeCore) WSQueued() int      { return 0 }
func (c *fakeCore) WSClose()           {}
func (c *fakeCore) WSPending() bool    { return false }
func (c *fakeCore) GiveBack()          { panic("not a threaded engine") }
func (c *fakeCore) Disconnected() bool { return false }
func (c *fakeCore) SetDisconnected()   {}

// fakePlane runs test code on the hub's thread, in its Turn, and records
// the readiness of the fds it watches.
type fakePlane struct {
	mu    sync.Mutex
	work  []func()
	ready map[int]int
}

func (p *fakePlane) Ready(fd int, events uint32) {
	p.mu.Lock()
	p.ready[fd]++
	p.mu.Unlock()
}

func (p *fakePlane) Turn() int {
	p.mu.Lock()
	w := p.work
	p.work = nil
	p.mu.Unlock()
	for _, fn := range w {
		fn()
	}
	return -1
}

func (p *fakePlane) readyCount(fd int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready[fd]
}

type rig struct {
	t     *testing.T
	h     *Hub
	py    *fakePython
	plane *fakePlane
}

func newRig(t *testing.T, cores int, script func(path string) []step, cfg Config) *rig {
	py := &fakePython{script: script}
	cfg.Host = py
	cfg.Python.Cores = cores
	if cfg.Apps == nil {
		cfg.Apps = []App{{WSGIFile: "app.py", Callable: "application"}} // the fake loads nothing
	}
	h := New(cfg)
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	p := &fakePlane{ready: map[int]int{}}
	h.Attach(p)
	r := &rig{t: t, h: h, py: py, plane: p}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { h.Stop(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the hub did not stop: requests still on cores")
		}
	})
	return r
}

// onHub runs fn on the hub's thread and waits for it.
func (r *rig) onHub(fn func()) {
	done := make(chan struct{})
	r.plane.mu.Lock()
	r.plane.work = append(r.plane.work, func() { fn(); close(done) })
	r.plane.mu.Unlock()
	r.h.Wake()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.t.Fatal("the hub's loop did not turn")
	}
}

// request is one submitted request and what reached its client.
type request struct {
	path string
	resp *exchange.Response
	ch   chan struct{}
	mu   sync.Mutex
	body []byte
	done bool
}

func (r *rig) submit(paths ...string) []*request {
	var reqs []*request
	for _, p := range paths {
		q := &request{path: p, ch: make(chan struct{}, 1)}
		q.resp = exchange.NewResponse(func() {
			select {
			case q.ch <- struct{}{}:
			default:
			}
		})
		reqs = append(reqs, q)
	}
	r.onHub(func() {
		for _, q := range reqs {
			r.h.Submit(&exchange.Request{Vars: []string{"PATH_INFO", q.path}, Scheme: "http", Resp: q.resp})
		}
	})
	return reqs
}

// drain takes what the response has (as the network plane would) and
// reports whether it ended.
func (q *request) drain() bool {
	b := q.resp.Take(true)
	n := 0
	for _, c := range b.Chunks {
		q.body = append(q.body, c...)
		n += len(c)
	}
	if n > 0 {
		q.resp.Consumed(n)
	}
	if b.Done {
		q.done = true
	}
	return q.done
}

func (q *request) wait(t *testing.T) {
	deadline := time.After(10 * time.Second)
	for !q.drain() {
		select {
		case <-q.ch:
		case <-deadline:
			t.Fatalf("request %s did not end (body so far: %d bytes)", q.path, len(q.body))
		}
	}
}

func TestMailboxStartsEveryRequestInOrder(t *testing.T) {
	r := newRig(t, 2, func(path string) []step { return []step{out(path), sleepMs(5), out("!"), end()} }, Config{})
	var paths []string
	for i := 0; i < 50; i++ {
		paths = append(paths, fmt.Sprintf("/r%d", i))
	}
	// two batches: the second arrives while the first waits for cores
	reqs := r.submit(paths[:30]...)
	reqs = append(reqs, r.submit(paths[30:]...)...)
	for _, q := range reqs {
		q.wait(t)
		if got, want := string(q.body), q.path+"!"; got != want {
			t.Errorf("%s: body %q, want %q", q.path, got, want)
		}
	}
	r.py.mu.Lock()
	defer r.py.mu.Unlock()
	if fmt.Sprint(r.py.started) != fmt.Sprint(paths) {
		t.Errorf("requests started out of order: %v", r.py.started)
	}
}

func TestBackPressureHoldsTheCoreUntilTheClientDrains(t *testing.T) {
	r := newRig(t, 1, func(string) []step {
		return []step{bigOut(exchange.HighWater, 'a'), out("b"), end()}
	}, Config{})
	q := r.submit("/big")[0]
	// the first chunk reaches the response; the core is held
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.py.mu.Lock()
		held, ran := r.py.cores[0].hold, r.py.cores[0].ran
		r.py.mu.Unlock()
		if held {
			if ran != 1 {
				t.Fatalf("the core ran %d steps before it was held, want 1", ran)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a response past the high-water mark did not hold its core")
		}
		time.Sleep(time.Millisecond)
	}
	// nothing runs while the client has not read
	time.Sleep(50 * time.Millisecond)
	r.onHub(func() {})
	r.py.mu.Lock()
	ran := r.py.cores[0].ran
	r.py.mu.Unlock()
	if ran != 1 {
		t.Fatalf("a held core ran on: %d steps", ran)
	}
	q.wait(t) // reading drains it: the core is released and finishes
	if len(q.body) != exchange.HighWater+1 || q.body[len(q.body)-1] != 'b' {
		t.Fatalf("body of %d bytes", len(q.body))
	}
	r.py.mu.Lock()
	defer r.py.mu.Unlock()
	if r.py.cores[0].hold {
		t.Fatal("the core is still held")
	}
}

func TestWaitOnAnFdWakesTheCoreWithThatFd(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	r := newRig(t, 1, func(string) []step { return []step{waitFD(p[0]), out("read"), end()} }, Config{})
	q := r.submit("/wait")[0]
	time.Sleep(50 * time.Millisecond)
	if q.drain() {
		t.Fatal("the request ended before its fd was readable")
	}
	unix.Write(p[1], []byte("x"))
	q.wait(t)
	r.py.mu.Lock()
	defer r.py.mu.Unlock()
	if got := r.py.cores[0].resumes; len(got) != 1 || got[0] != (resume{p[0], false}) {
		t.Fatalf("resumes %v, want one with fd %d", got, p[0])
	}
}

func TestSleepWakesTheCoreWithTheTimeoutFlag(t *testing.T) {
	r := newRig(t, 1, func(string) []step { return []step{sleepMs(30), out("late"), end()} }, Config{})
	t0 := time.Now()
	q := r.submit("/sleep")[0]
	q.wait(t)
	if took := time.Since(t0); took < 30*time.Millisecond {
		t.Fatalf("woke after %v, before its 30 ms", took)
	}
	r.py.mu.Lock()
	defer r.py.mu.Unlock()
	if got := r.py.cores[0].resumes; len(got) != 1 || got[0] != (resume{-1, true}) {
		t.Fatalf("resumes %v, want one timed out", got)
	}
}

// An app closed the fd a core waits on, and the network plane got the same
// number for a connection: the waiter is reported ready (as poll reports a
// closed fd) and the connection's registration is left alone.
func TestAppWaitOnAReusedNumberSparesThePlanesFd(t *testing.T) {
	var conn [2]int // stands for the plane's connection: conn[0] is the number reused
	if err := unix.Pipe2(conn[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(conn[0])
	defer unix.Close(conn[1])
	fd := conn[0]
	r := newRig(t, 1, func(string) []step { return []step{waitFD(fd), out("woke"), end()} }, Config{})
	var werr error
	r.onHub(func() { werr = r.h.Watch(fd, unix.EPOLLIN|unix.EPOLLET) })
	if werr != nil {
		t.Fatal(werr)
	}
	q := r.submit("/stale")[0]
	q.wait(t)
	r.py.mu.Lock()
	resumes := r.py.cores[0].resumes
	r.py.mu.Unlock()
	if len(resumes) != 1 || resumes[0].fd != fd {
		t.Fatalf("resumes %v, want one reporting fd %d ready", resumes, fd)
	}
	// the plane still gets its fd's events, tagged as its own
	unix.Write(conn[1], []byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for r.plane.readyCount(fd) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the plane's fd lost its registration to an app waiter")
		}
		r.onHub(func() {})
		time.Sleep(time.Millisecond)
	}
}

func TestMaxRequestsCallsBackOnce(t *testing.T) {
	var calls, servedAtCall atomic.Int32
	var r *rig
	r = newRig(t, 2, func(string) []step { return []step{out("x"), end()} }, Config{
		MaxRequests: 3,
		OnMaxRequests: func() {
			calls.Add(1)
			servedAtCall.Store(int32(r.h.served))
		},
	})
	for _, q := range r.submit("/1", "/2", "/3", "/4", "/5") {
		q.wait(t)
	}
	r.onHub(func() {})
	if calls.Load() != 1 || servedAtCall.Load() != 3 {
		t.Fatalf("OnMaxRequests called %d times (at request %d), want once at the 3rd", calls.Load(), servedAtCall.Load())
	}
}

func TestMountsRouteEachRequestToItsApp(t *testing.T) {
	r := newRig(t, 2, func(path string) []step { return []step{out(path), end()} }, Config{
		Apps:             []App{{WSGIFile: "main.py", Callable: "application"}, {Mount: "/b", WSGIFile: "b.py", Callable: "application"}},
		ManageScriptName: true,
	})
	for _, q := range r.submit("/b/x", "/a", "/bx") {
		q.wait(t)
	}
	r.py.mu.Lock()
	defer r.py.mu.Unlock()
	// /b/x is app 1 with PATH_INFO /x; /bx is not under /b
	if got, want := fmt.Sprint(r.py.apps, r.py.started), "[1 0 0] [/x /a /bx]"; got != want {
		t.Errorf("apps and paths %s, want %s", got, want)
	}
}
