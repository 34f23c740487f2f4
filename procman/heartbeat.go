package procman

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The heartbeat area is one shared, unlinked file (in /dev/shm when it can
// be) that the master creates when harakiri or the stats server is on,
// maps, and hands to every worker as one more inherited fd. Worker N owns
// slot N-1 (whole cache lines, so two workers never write the same line).
// A slot starts with one 64-bit word, written and read atomically:
//
//	bit 0      busy: requests were in flight at the last beat
//	bits 1-63  CLOCK_MONOTONIC of the last beat, in nanoseconds
//
// then the worker's counters for the stats server (see slotWord), then
// two words per app (requests, exceptions) and three per core (requests,
// in a request, the core's set_user_harakiri deadline). The worker writes its slot, except for the words the
// master keeps there for the uwsgi module's workers() (pid, last spawn,
// respawns); the master reads it. pyhost/pyapi/10_process.py reads the
// same words by the same numbers.
//
// 0 means "never beat": a worker still importing its app is never killed.
// The master zeroes a slot before it starts the slot's next worker; the old
// worker is reaped by then, so no stale write can land in it.
const hbSlotSize = 64

// Words of a slot's first cache line.
const (
	wBeat        = iota
	wRequests    // requests served
	wExceptions  // requests whose app raised
	wRunningTime // microseconds spent in requests, summed
	wAvgRT       // uWSGI's running average: (avg + rt) / 2 at each request
	wTx          // response bytes sent
	// set_user_harakiri's deadline when it was called outside a request
	// (CLOCK_MONOTONIC ns, 0: none); a request's is its core's
	// (cUserHarakiri). The master kills the worker once one passes.
	wUserHarakiri
	wNotAccepting // uwsgi.accepting(False) was called (the stats' accepting: 0)
	// written by the master when it starts the slot's worker
	wPID
	wLastSpawn  // Unix seconds
	wRespawns   // uWSGI's respawn_count
	headerWords = 16
)

// The words of each core, after the apps' words.
const (
	cRequests     = iota // requests served on the core
	cInRequest           // 1 while the core serves one
	cUserHarakiri        // set_user_harakiri's deadline for the core's request (CLOCK_MONOTONIC ns, 0: none)
	coreWords
)

// hbLayout sizes a slot: apps and cores per worker (0 and 0: the beat
// word and the worker counters only).
type hbLayout struct{ apps, cores int }

func (l hbLayout) slotSize() int {
	return roundUp((headerWords+2*l.apps+coreWords*l.cores)*8, hbSlotSize)
}

// coreWord is the index of word w (cRequests...) of core in a slot.
func (l hbLayout) coreWord(core, w int) int { return headerWords + 2*l.apps + coreWords*core + w }

// monoClock reads CLOCK_MONOTONIC without a syscall. The clock is the same
// for every process on the machine, so a worker's beat and the master's
// "now" compare directly. The one clock_gettime syscall is made when the
// clock is created; after that, Go's own monotonic reading (the vDSO, as
// time.Now uses) advances it.
type monoClock struct {
	base  time.Time // carries Go's monotonic reading
	mono0 int64     // CLOCK_MONOTONIC at base, ns
}

func newMonoClock() monoClock {
	var ts syscall.Timespec
	base := time.Now()
	const clockMonotonic = 1 // CLOCK_MONOTONIC, the same on every Linux arch
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		// Cannot happen on Linux; fall back to a clock only this process
		// knows, which at worst delays a harakiri.
		return monoClock{base: base}
	}
	return monoClock{base: base, mono0: ts.Nano()}
}

// now is CLOCK_MONOTONIC in nanoseconds, without a syscall.
func (c *monoClock) now() int64 { return c.mono0 + int64(time.Since(c.base)) }

// Heartbeat is a worker's slot in the heartbeat area. The zero of a
// *Heartbeat (nil) is valid: Beat on nil does nothing, so the hub may call
// it whether harakiri is on or not.
type Heartbeat struct {
	word   *uint64
	words  []uint64 // the whole slot
	layout hbLayout
	clock  monoClock
	mem    []byte // keeps the mapping referenced
}

// RequestDone counts a finished request of app on core for the stats
// server: rt is how long it took, tx the bytes sent, failed whether the
// app raised. No syscall: a few stores into shared memory.
func (h *Heartbeat) RequestDone(app, core int, rt time.Duration, tx int64, failed bool) {
	if h == nil {
		return
	}
	us := uint64(rt / time.Microsecond)
	w := h.words
	atomic.AddUint64(&w[wRequests], 1)
	atomic.AddUint64(&w[wRunningTime], us)
	atomic.StoreUint64(&w[wAvgRT], (atomic.LoadUint64(&w[wAvgRT])+us)/2)
	atomic.AddUint64(&w[wTx], uint64(max(tx, 0)))
	if failed {
		atomic.AddUint64(&w[wExceptions], 1)
	}
	if app >= 0 && app < h.layout.apps {
		atomic.AddUint64(&w[headerWords+2*app], 1)
		if failed {
			atomic.AddUint64(&w[headerWords+2*app+1], 1)
		}
	}
	if core >= 0 && core < h.layout.cores {
		atomic.AddUint64(&w[h.layout.coreWord(core, cRequests)], 1)
	}
}

// CoreBusy records whether core is serving a request.
func (h *Heartbeat) CoreBusy(core int, busy bool) {
	if h == nil || core < 0 || core >= h.layout.cores {
		return
	}
	var v uint64
	if busy {
		v = 1
	}
	atomic.StoreUint64(&h.words[h.layout.coreWord(core, cInRequest)], v)
}

// Beat records that the worker's hub loop turned, and whether requests are
// in flight. Call it on every turn of the loop, and right before the loop
// blocks. It costs no syscall: a vDSO clock read and one store into shared
// memory.
//
// The master kills a worker when its last beat said busy and is older than
// the harakiri timeout. A hub that sleeps (in epoll) while requests wait on
// I/O should therefore either bound its sleep well below Worker.Harakiri
// and beat on waking, or beat with busy=false before sleeping if waiting on
// I/O must not count as stuck; uWSGI counts the whole request time.
func (h *Heartbeat) Beat(busy bool) {
	if h == nil {
		return
	}
	v := uint64(h.clock.now()) << 1
	if busy {
		v |= 1
	}
	atomic.StoreUint64(h.word, v)
}

// BeatBusySince records a beat that says busy since t: the master kills
// the worker once t is older than the harakiri timeout. A worker whose
// loop turns while its requests run elsewhere (on threads) reports when
// the oldest of them started, as uWSGI counts harakiri from a request's
// start.
func (h *Heartbeat) BeatBusySince(t time.Time) {
	if h == nil {
		return
	}
	at := h.clock.mono0 + int64(t.Sub(h.clock.base))
	if now := h.clock.now(); at > now {
		at = now
	}
	atomic.StoreUint64(h.word, uint64(at)<<1|1)
}

// Area is the whole heartbeat area as this worker mapped it (every
// worker's slot), and the size of a slot in 64-bit words: the uwsgi
// module reads the other workers' counters there and writes its own
// words (user harakiri, accepting). Nil memory without one.
func (h *Heartbeat) Area() (mem []byte, slotWords, apps, cores int) {
	if h == nil {
		return nil, 0, 0, 0
	}
	return h.mem, h.layout.slotSize() / 8, h.layout.apps, h.layout.cores
}

// hbArea is the master's view of the heartbeat area.
type hbArea struct {
	file   *os.File
	mem    []byte
	n      int
	layout hbLayout
}

func newHBArea(n int) (*hbArea, error) { return newHBAreaLayout(n, hbLayout{}) }

func newHBAreaLayout(n int, layout hbLayout) (*hbArea, error) {
	size := roundUp(n*layout.slotSize(), os.Getpagesize())
	var f *os.File
	var err error
	for _, dir := range []string{"/dev/shm", os.TempDir()} {
		f, err = os.CreateTemp(dir, "uwsgo-heartbeat-*")
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("heartbeat area: %w", err)
	}
	os.Remove(f.Name()) // the open fds keep it; nothing is left behind
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("heartbeat area: %w", err)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("heartbeat area: mmap: %w", err)
	}
	return &hbArea{file: f, mem: mem, n: n, layout: layout}, nil
}

func (a *hbArea) slot(id int) *uint64 {
	return (*uint64)(unsafe.Pointer(&a.mem[(id-1)*a.layout.slotSize()]))
}

// words is worker id's whole slot.
func (a *hbArea) words(id int) []uint64 {
	return unsafe.Slice(a.slot(id), a.layout.slotSize()/8)
}

// reset clears worker id's slot before a new worker takes it.
func (a *hbArea) reset(id int) {
	for i := range a.words(id) {
		atomic.StoreUint64(&a.words(id)[i], 0)
	}
}

// started records, in worker id's slot, what workers() shows of its
// start: pid, when, and how many times the slot was respawned.
func (a *hbArea) started(id, pid int, at time.Time, respawns int) {
	w := a.words(id)
	atomic.StoreUint64(&w[wPID], uint64(pid))
	atomic.StoreUint64(&w[wLastSpawn], uint64(at.Unix()))
	atomic.StoreUint64(&w[wRespawns], uint64(respawns))
}

// userHarakiri is the earliest set_user_harakiri deadline of worker id
// (0: none), and the core whose request set it (-1: set outside a request).
func (a *hbArea) userHarakiri(id int) (deadline int64, core int) {
	w := a.words(id)
	deadline, core = int64(atomic.LoadUint64(&w[wUserHarakiri])), -1
	for c := 0; c < a.layout.cores; c++ {
		if d := int64(atomic.LoadUint64(&w[a.layout.coreWord(c, cUserHarakiri)])); d > 0 && (deadline == 0 || d < deadline) {
			deadline, core = d, c
		}
	}
	return deadline, core
}

// accepting is what the worker last told uwsgi.accepting().
func (a *hbArea) accepting(id int) bool {
	return atomic.LoadUint64(&a.words(id)[wNotAccepting]) == 0
}

// read returns worker id's last beat (CLOCK_MONOTONIC ns, 0 if none) and
// whether it said busy.
func (a *hbArea) read(id int) (last int64, busy bool) {
	v := atomic.LoadUint64(a.slot(id))
	return int64(v >> 1), v&1 == 1
}

func (a *hbArea) close() {
	syscall.Munmap(a.mem)
	a.file.Close()
}

// mapHeartbeat maps the area inherited on fd and returns worker id's slot.
// The fd is closed: the mapping outlives it, and the app's children must
// not inherit it.
func mapHeartbeat(fd, id int) (*Heartbeat, error) {
	defer syscall.Close(fd)
	return mapHeartbeatLayout(fd, id, hbLayout{})
}

// mapHeartbeatLayout maps the area on fd; the caller keeps (and closes) fd.
func mapHeartbeatLayout(fd, id int, layout hbLayout) (*Heartbeat, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("heartbeat fd %d: %w", fd, err)
	}
	size := layout.slotSize()
	if int64(id*size) > st.Size {
		return nil, fmt.Errorf("heartbeat fd %d: %d bytes, no slot for worker %d", fd, st.Size, id)
	}
	mem, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("heartbeat fd %d: mmap: %w", fd, err)
	}
	word := (*uint64)(unsafe.Pointer(&mem[(id-1)*size]))
	return &Heartbeat{
		word:   word,
		words:  unsafe.Slice(word, size/8),
		layout: layout,
		clock:  newMonoClock(),
		mem:    mem,
	}, nil
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }
