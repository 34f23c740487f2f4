package procman

import (
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The master's signal router: uWSGI's signal framework, as its master
// runs it. Processes tell the router (over their channels) which target
// each signal has (register_signal), raise signals (uwsgi.signal), and add
// timers, red-black timers, crons and file monitors; the router sends each
// raised signal to the process(es) its target names, where the handler
// runs.
//
// Every worker imports the app itself (uwsgo's apps are always lazy), so
// every worker registers the same signals and adds the same timers. The
// router keeps one target per signal (the last registered) and one timer
// per (signal, period): the second and later identical add_timer calls,
// a respawned worker's among them, change nothing. The result is what
// uWSGI does when the app is imported once in its master.
type router struct {
	log      *log.Logger
	numproc  int
	in       chan inMsg
	peerLock sync.Mutex
	peers    map[string]map[int]*peer // kind -> id -> peer
	next     map[string]int           // round-robin position for "worker", "mule", "spooler"

	// under peerLock: what the processes registered
	targets [256]string
	known   [256]bool

	// owned by the router's goroutine
	timers []*sigTimer
	crons  []sigCron
	fmon   *fileMonitor
	done   chan struct{}
}

type inMsg struct {
	from *peer
	msg  []byte
}

type sigTimer struct {
	sig        uint8
	period     time.Duration
	iterations int // 0: forever
	rb         bool
	fired      int
	at         time.Time
}

type sigCron struct {
	sig                            uint8
	minute, hour, day, month, wday int
	last                           time.Time // the minute it last fired
}

func newRouter(lg *log.Logger, numproc int) *router {
	return &router{
		log: lg, numproc: numproc,
		in:    make(chan inMsg, 64),
		peers: map[string]map[int]*peer{},
		next:  map[string]int{},
		done:  make(chan struct{}),
	}
}

func (r *router) join(p *peer) {
	r.peerLock.Lock()
	defer r.peerLock.Unlock()
	if r.peers[p.kind] == nil {
		r.peers[p.kind] = map[int]*peer{}
	}
	r.peers[p.kind][p.id] = p
	// a new process learns every signal registered so far (uwsgi.signal
	// may raise those even when this process has no handler)
	known := []byte{MsgKnown}
	for i, k := range r.known {
		if k {
			known = append(known, byte(i))
		}
	}
	if len(known) > 1 {
		p.send(known)
	}
}

func (r *router) leave(p *peer) {
	r.peerLock.Lock()
	defer r.peerLock.Unlock()
	if r.peers[p.kind][p.id] == p {
		delete(r.peers[p.kind], p.id)
	}
}

// stop ends the router's goroutine.
func (r *router) stop() {
	close(r.done)
	if r.fmon != nil {
		r.fmon.close()
	}
}

// run is the router's goroutine: messages, timers and crons.
func (r *router) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wake := r.nextWake(time.Now())
		t.Reset(max(time.Until(wake), 0))
		select {
		case <-r.done:
			return
		case m := <-r.in:
			r.onMessage(m.from, m.msg)
		case <-t.C:
			r.fire(time.Now())
		}
	}
}

func (r *router) nextWake(now time.Time) time.Time {
	wake := now.Add(time.Hour)
	for _, tm := range r.timers {
		if tm.at.Before(wake) {
			wake = tm.at
		}
	}
	if len(r.crons) > 0 {
		// crons are checked at the start of every minute
		if m := now.Truncate(time.Minute).Add(time.Minute); m.Before(wake) {
			wake = m
		}
	}
	return wake
}

func (r *router) fire(now time.Time) {
	keep := r.timers[:0]
	for _, tm := range r.timers {
		if !now.Before(tm.at) {
			r.route(tm.sig)
			tm.fired++
			// the next tick follows the period, not the late wake-up
			tm.at = tm.at.Add(tm.period)
			if tm.at.Before(now) {
				tm.at = now.Add(tm.period)
			}
			if tm.iterations > 0 && tm.fired >= tm.iterations {
				continue
			}
		}
		keep = append(keep, tm)
	}
	r.timers = keep
	r.checkCrons(now)
}

// checkCrons raises the signal of each cron entry that matches the
// current minute and has not fired in it. A new entry is checked at once:
// uWSGI's master runs an entry that matches the minute it was added in.
func (r *router) checkCrons(now time.Time) {
	minute := now.Truncate(time.Minute)
	lt := now.Local()
	for i := range r.crons {
		c := &r.crons[i]
		if !c.last.Equal(minute) && cronMatches(lt, c) {
			c.last = minute
			r.route(c.sig)
		}
	}
}

// cronMatches is uWSGI's rule (uwsgi_cron_task_needs_execution): -1 is
// any value, -N every N-th, 7 is Sunday too; when both the day of the
// month and the weekday are given, either may match, as in crontab.
func cronMatches(t time.Time, c *sigCron) bool {
	field := func(want, have int) bool {
		if want < 0 {
			return have%(-want) == 0
		}
		return want == have
	}
	wday := c.wday
	if wday == 7 {
		wday = 0
	}
	ok := field(c.minute, t.Minute()) && field(c.hour, t.Hour()) && field(c.month, int(t.Month()))
	if !ok {
		return false
	}
	dayOK, wdayOK := field(c.day, t.Day()), field(wday, int(t.Weekday()))
	if c.day >= 0 && c.wday >= 0 {
		return dayOK || wdayOK
	}
	return dayOK && wdayOK
}

func (p *peer) String() string { return fmt.Sprintf("%s %d", p.kind, p.id) }

// onMessage acts on one message from a process.
func (r *router) onMessage(from *peer, msg []byte) {
	if len(msg) < 2 {
		r.log.Printf("[uwsgi-signal] malformed message from %v (%d bytes)", from, len(msg))
		return
	}
	sig, body := msg[1], msg[2:]
	u32 := func(i int) (int, bool) {
		if len(body) < 4*(i+1) {
			return 0, false
		}
		return int(binary.LittleEndian.Uint32(body[4*i:])), true
	}
	switch msg[0] {
	case MsgRegister:
		target := string(body)
		r.peerLock.Lock()
		first := !r.known[sig]
		r.known[sig], r.targets[sig] = true, target
		if first {
			for _, ps := range r.peers {
				for _, p := range ps {
					p.send([]byte{MsgKnown, sig})
				}
			}
		}
		r.peerLock.Unlock()
		if first {
			show := target
			if show == "" {
				show = "default, any worker"
			}
			r.log.Printf("[uwsgi-signal] signum %d registered (%v, target: %s)", sig, from, show)
		}
	case MsgSignal:
		r.route(sig)
	case MsgTimer, MsgRBTimer:
		secs, ok := u32(0)
		iters := 0
		if msg[0] == MsgRBTimer {
			iters, ok = u32(1)
		}
		if !ok || secs <= 0 {
			r.log.Printf("[uwsgi-signal] malformed timer from %v", from)
			return
		}
		r.addTimer(sig, secs, iters, msg[0] == MsgRBTimer)
	case MsgCron:
		if len(body) < 10 {
			r.log.Printf("[uwsgi-signal] malformed cron from %v", from)
			return
		}
		f := func(i int) int { return int(int16(binary.LittleEndian.Uint16(body[2*i:]))) }
		c := sigCron{sig: sig, minute: f(0), hour: f(1), day: f(2), month: f(3), wday: f(4)}
		for _, old := range r.crons {
			if old.sig == c.sig && old.minute == c.minute && old.hour == c.hour && old.day == c.day && old.month == c.month && old.wday == c.wday {
				return
			}
		}
		r.crons = append(r.crons, c)
		r.log.Printf("[uwsgi-cron] signal %d at %d %d %d %d %d (minute hour day month weekday)", sig, c.minute, c.hour, c.day, c.month, c.wday)
		r.checkCrons(time.Now())
	case MsgFileMon:
		r.addFileMonitor(sig, string(body))
	default:
		r.log.Printf("[uwsgi-signal] unknown message %q from %v", msg[0], from)
	}
}

// maxTimers is uWSGI's limit on timers (and on rb timers).
const maxTimers = 64

func (r *router) addTimer(sig uint8, secs, iterations int, rb bool) {
	period := time.Duration(secs) * time.Second
	for _, tm := range r.timers {
		if tm.sig == sig && tm.period == period && tm.rb == rb && tm.iterations == iterations {
			return // the same timer, from another worker (or a respawned one)
		}
	}
	if len(r.timers) >= maxTimers {
		r.log.Printf("you can register max %d timers !!!", maxTimers)
		return
	}
	r.timers = append(r.timers, &sigTimer{sig: sig, period: period, iterations: iterations, rb: rb, at: time.Now().Add(period)})
	kind := "timer"
	if rb {
		kind = "rb_timer"
	}
	r.log.Printf("[uwsgi-signal] %s: signal %d every %d second(s)", kind, sig, secs)
}

// route sends a raised signal where its target says, as uWSGI's
// uwsgi_route_signal does.
func (r *router) route(sig uint8) {
	r.peerLock.Lock()
	defer r.peerLock.Unlock()
	if !r.known[sig] {
		r.log.Printf("[uwsgi-signal] signal %d is not registered: dropped", sig)
		return
	}
	target := r.targets[sig]
	msg := []byte{MsgRun, sig}
	deliver := func(p *peer) {
		if err := p.send(msg); err != nil {
			if err == ErrQueueFull {
				r.log.Printf("*** SIGNAL QUEUE IS FULL: signal %d to %v dropped ***", sig, p)
			} else {
				r.log.Printf("could not deliver signal %d to %v: %v", sig, p, err)
			}
		}
	}
	one := func(kind string) {
		p := r.pick(kind)
		if p == nil {
			r.log.Printf("could not deliver signal %d: no %s is running", sig, kind)
			return
		}
		deliver(p)
	}
	all := func(kind string) {
		for _, p := range r.sorted(kind) {
			deliver(p)
		}
	}
	switch kind, n, ok := ParseSignalTarget(target); {
	case !ok:
		r.log.Printf("^^^ UNSUPPORTED SIGNAL TARGET: %s ^^^", target)
	case n < 0:
		all(kind)
	case n == 0:
		one(kind)
	default:
		p := r.peers[kind][n]
		if p == nil {
			r.log.Printf("could not deliver signal %d to %s %d: not running", sig, kind, n)
			return
		}
		deliver(p)
	}
}

// ParseSignalTarget reads a register_signal target: ("worker", 0) for one
// worker (any: "", "worker", "worker0"), ("worker", N) for worker N,
// ("worker", -1) for all of them ("workers", "active-workers"); the same
// for "mule"/"muleN"/"mules"; ("spooler", 0) for the spooler. ok is false
// for anything else (uWSGI's farms and subscribers are not there).
func ParseSignalTarget(t string) (kind string, n int, ok bool) {
	switch t {
	case "", "worker", "worker0":
		return "worker", 0, true
	case "workers", "active-workers":
		return "worker", -1, true
	case "spooler":
		return "spooler", 0, true
	case "mule", "mule0":
		return "mule", 0, true
	case "mules":
		return "mule", -1, true
	}
	for _, kind := range []string{"worker", "mule"} {
		if rest, found := strings.CutPrefix(t, kind); found {
			n, err := strconv.Atoi(rest)
			if err == nil && n > 0 && strconv.Itoa(n) == rest {
				return kind, n, true
			}
		}
	}
	return "", 0, false
}

// pick chooses one process of a kind, in turn (uWSGI hands such a signal
// to the first process of the kind that reads it).
func (r *router) pick(kind string) *peer {
	ps := r.sorted(kind)
	if len(ps) == 0 {
		return nil
	}
	i := r.next[kind] % len(ps)
	r.next[kind] = i + 1
	return ps[i]
}

func (r *router) sorted(kind string) []*peer {
	m := r.peers[kind]
	out := make([]*peer, 0, len(m))
	for id := 1; len(out) < len(m); id++ {
		if p := m[id]; p != nil {
			out = append(out, p)
		}
		if id > 1<<16 {
			break
		}
	}
	return out
}

// ------------------------------------------------------- file monitors

// fileMonitor raises signals when files or directories change, with
// inotify, as uWSGI's add_file_monitor does (one signal per batch of
// events on a path).
type fileMonitor struct {
	f     *os.File
	mu    sync.Mutex
	bywd  map[int32]uint8
	paths map[string]bool
}

const fmonEvents = unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_MODIFY | unix.IN_DELETE | unix.IN_DELETE_SELF |
	unix.IN_MOVE_SELF | unix.IN_MOVED_FROM | unix.IN_MOVED_TO

func (r *router) addFileMonitor(sig uint8, path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if r.fmon == nil {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			r.log.Printf("[uwsgi-fmon] inotify: %v", err)
			return
		}
		r.fmon = &fileMonitor{f: os.NewFile(uintptr(fd), "inotify"), bywd: map[int32]uint8{}, paths: map[string]bool{}}
		go r.fmon.run(r)
	}
	fm := r.fmon
	fm.mu.Lock()
	defer fm.mu.Unlock()
	key := fmt.Sprintf("%d %s", sig, abs)
	if fm.paths[key] {
		return
	}
	if len(fm.paths) >= maxTimers {
		r.log.Printf("you can register max %d file monitors !!!", maxTimers)
		return
	}
	wd, err := unix.InotifyAddWatch(int(fm.f.Fd()), abs, fmonEvents)
	if err != nil {
		r.log.Printf("[uwsgi-fmon] cannot monitor %s for signal %d: %v", abs, sig, err)
		return
	}
	fm.paths[key] = true
	fm.bywd[int32(wd)] = sig
	r.log.Printf("[uwsgi-fmon] watching %s (signal %d)", abs, sig)
}

func (fm *fileMonitor) run(r *router) {
	buf := make([]byte, 64*1024)
	for {
		n, err := fm.f.Read(buf)
		if err != nil {
			return
		}
		seen := map[int32]bool{}
		var sigs []uint8
		fm.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.LittleEndian.Uint32(buf[off:]))
			nameLen := int(binary.LittleEndian.Uint32(buf[off+12:]))
			off += unix.SizeofInotifyEvent + nameLen
			if sig, ok := fm.bywd[wd]; ok && !seen[wd] {
				seen[wd] = true
				sigs = append(sigs, sig)
			}
		}
		fm.mu.Unlock()
		for _, sig := range sigs {
			select {
			case r.in <- inMsg{from: fmonPeer, msg: []byte{MsgSignal, sig}}:
			case <-r.done:
				return
			}
		}
	}
}

// fmonPeer stands for the file monitor in the router's messages.
var fmonPeer = &peer{kind: "file monitor"}

func (fm *fileMonitor) close() { fm.f.Close() }
