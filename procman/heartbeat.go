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
// be) that the master creates when harakiri is on, maps, and hands to every
// worker as one more inherited fd. Worker N owns the 64-byte slot N-1 (one
// cache line each, so two workers never write the same line). A slot holds
// one 64-bit word, written and read atomically:
//
//	bit 0      busy: requests were in flight at the last beat
//	bits 1-63  CLOCK_MONOTONIC of the last beat, in nanoseconds
//
// 0 means "never beat": a worker still importing its app is never killed.
// The master zeroes a slot before it starts the slot's next worker; the old
// worker is reaped by then, so no stale write can land in it.
const hbSlotSize = 64

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
	word  *uint64
	clock monoClock
	mem   []byte // keeps the mapping referenced
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

// hbArea is the master's view of the heartbeat area.
type hbArea struct {
	file *os.File
	mem  []byte
	n    int
}

func newHBArea(n int) (*hbArea, error) {
	size := roundUp(n*hbSlotSize, os.Getpagesize())
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
	return &hbArea{file: f, mem: mem, n: n}, nil
}

func (a *hbArea) slot(id int) *uint64 {
	return (*uint64)(unsafe.Pointer(&a.mem[(id-1)*hbSlotSize]))
}

// reset clears worker id's slot before a new worker takes it.
func (a *hbArea) reset(id int) { atomic.StoreUint64(a.slot(id), 0) }

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
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("heartbeat fd %d: %w", fd, err)
	}
	if int64(id*hbSlotSize) > st.Size {
		return nil, fmt.Errorf("heartbeat fd %d: %d bytes, no slot for worker %d", fd, st.Size, id)
	}
	mem, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("heartbeat fd %d: mmap: %w", fd, err)
	}
	return &Heartbeat{
		word:  (*uint64)(unsafe.Pointer(&mem[(id-1)*hbSlotSize])),
		clock: newMonoClock(),
		mem:   mem,
	}, nil
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }
