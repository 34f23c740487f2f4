package hub

import (
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uwsgo/uwsgo/exchange"
)

// wsLink carries a websocket connection's messages to the core whose
// request answered 101 (exchange.WSSink; the network plane calls it on
// the loop's thread). A core waiting in websocket_recv waits on its
// connection fd: the plane owns that fd, so the hub never puts it in
// epoll for the app; it reports the fd readable when a message or the
// close is queued (rearm, wsReady). That is also what uWSGI's async form
// (wait_fd_read(connection_fd()), then websocket_recv_nb) waits for.
type wsLink struct {
	h    *Hub
	core int
	fd   int
	done bool // the request is over (or the connection closed): drop what comes
}

func (l *wsLink) WSMessage(data []byte) {
	if l.done {
		return
	}
	l.h.py.Core(l.core).WSPush(data)
	l.h.wsReady(l.fd)
}

func (l *wsLink) WSClosed() {
	if l.done {
		return
	}
	l.h.py.Core(l.core).WSClose()
	l.h.wsReady(l.fd)
	l.end()
}

// end detaches the link from its fd and its core.
func (l *wsLink) end() {
	l.done = true
	if l.h.ws[l.fd] == l {
		delete(l.h.ws, l.fd)
	}
	if st := &l.h.cores[l.core]; st.ws == l {
		st.ws = nil
	}
}

// isUpgrade: the app answered the handshake (websocket_handshake's 101).
func isUpgrade(status string) bool { return strings.HasPrefix(status, "101 ") }

// upgrade links core id's request to its connection before its 101 goes
// out: from then on the plane reads messages, not requests.
func (h *Hub) upgrade(id int, resp *exchange.Response) {
	st := &h.cores[id]
	fd := st.req.ConnFD
	if fd <= 0 || st.ws != nil {
		return
	}
	l := &wsLink{h: h, core: id, fd: fd}
	if h.ws == nil {
		h.ws = map[int]*wsLink{}
	}
	h.ws[fd] = l
	st.ws = l
	resp.SetWSSink(l)
}

// wsReady wakes the cores waiting on a websocket connection's fd.
func (h *Hub) wsReady(fd int) {
	if fw := h.waiters[fd]; fw != nil {
		h.rearm(fd, fw)
	}
}

// wsRearm handles the waiters of a plane fd that is a websocket
// connection: they are woken when something is queued for its request,
// and stay listed (out of epoll) until then.
func (h *Hub) wsRearm(fd int, fw *fdWaiters, l *wsLink) {
	fw.mask = 0
	if !h.py.Core(l.core).WSPending() {
		return
	}
	list := fw.list
	delete(h.waiters, fd)
	for _, w := range list {
		if st := &h.cores[w.core]; st.seq == w.seq && st.waiting {
			h.wakeCore(w.core, fd, false)
		}
	}
}

// wsBlock is websocket_recv() in the default one-core mode (pyhost.WSBlock):
// the one core waits inside the call, so the loop turns here, inside it,
// until a message or the close is queued for it. It hands the core's
// head and output over first (the client answers what it is sent), then
// lets the plane write and read; other connections are read and their
// requests queued for the core, as the worker would do anyway.
func (h *Hub) wsBlock(id int) {
	st := &h.cores[id]
	if st.req == nil {
		return
	}
	core := h.py.Core(id)
	events := make([]unix.EpollEvent, 64)
	for !core.WSPending() && !st.req.Resp.Gone() {
		h.takeOutput(id, core)
		timeout := minTimeout(h.turnPlane(), 1000)
		if core.WSPending() {
			break
		}
		h.sleeping.Store(true)
		if atomic.LoadInt32(h.flag) != 0 || h.planeWake.Load() {
			timeout = 0
		}
		n := h.py.Wait(h.epfd, unsafe.Pointer(&events[0]), len(events), timeout)
		h.sleeping.Store(false)
		h.dispatch(events[:max(n, 0)])
	}
}

// takeOutput hands what a running core produced so far to its response
// (back-pressure aside: the worker waits anyway).
func (h *Hub) takeOutput(id int, core Core) {
	st := &h.cores[id]
	resp := st.req.Resp
	if status, headers, ok := core.TakeHead(); ok {
		if isUpgrade(status) {
			h.upgrade(id, resp)
		}
		resp.SetHead(&exchange.Head{Status: status, Headers: headers})
	}
	if out := core.TakeOutput(); out != nil {
		resp.Write(out, st.drainFn)
	}
}
