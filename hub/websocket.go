package hub

import (
	"strings"

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
