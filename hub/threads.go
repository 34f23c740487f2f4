package hub

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loopThreads is the hub loop with --threads: each core is a Python
// thread that runs its request to the end, and the hub never holds the
// GIL. The loop hands requests to idle threads (Submit, takeMail), takes
// what the threads handed over (Run lists those cores), lets the plane
// write, and sleeps in epoll_wait; a thread writes the eventfd only when
// it finds the hub asleep there (pyhost.Wait marks it).
func (h *Hub) loopThreads() {
	events := make([]unix.EpollEvent, maxEvents)
	for {
		if h.beginTurn() {
			return
		}
		if h.py.Runnable() > 0 {
			for _, id := range h.py.Run() {
				h.handleThread(int(id))
			}
		}
		timeout := minTimeout(h.nextTimeout(), h.turnPlane())
		if timeout != 0 {
			h.sleeping.Store(true)
			if atomic.LoadInt32(h.flag) != 0 || h.planeWake.Load() {
				timeout = 0
			}
		}
		n := h.py.Wait(h.epfd, unsafe.Pointer(&events[0]), maxEvents, timeout)
		h.sleeping.Store(false)
		h.dispatch(events[:max(n, 0)])
	}
}

// handleThread acts on what a thread handed over, then gives the core
// back to it, unless the request is over (the thread waits for the next)
// or the client is slow (undrain gives it back).
func (h *Hub) handleThread(id int) {
	h.handle(id)
	if st := &h.cores[id]; st.req != nil && !st.held {
		h.py.Core(id).GiveBack()
	}
}

// beat tells the master the loop is alive. With threads, the loop turns
// whatever the requests do, so it reports the oldest request's start:
// a thread stuck past harakiri gets the worker recycled.
func (h *Hub) beat() {
	if h.cfg.BeatBusySince == nil || h.busy == 0 || !h.threaded {
		h.cfg.Beat(h.busy > 0)
		return
	}
	var oldest time.Time
	for i := range h.cores {
		if st := &h.cores[i]; st.req != nil && (oldest.IsZero() || st.started.Before(oldest)) {
			oldest = st.started
		}
	}
	h.cfg.BeatBusySince(oldest)
}
