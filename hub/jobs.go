package hub

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/uwsgo/uwsgo/exchange"
)

// Jobs and the channel to the master.
//
// A job is Python work that is not a client's request: a signal handler.
// It runs on a free core exactly as a request does (so under gevent in a
// greenlet of its own, under --threads on a thread, under uGreen on a
// green stack, and it may suspend there), through an app id that the
// Python side knows instead of the WSGI app; what it writes goes nowhere,
// and it is not counted as a request. A job waits for a free core behind
// the requests queued before it, and never blocks the loop.

// MasterChannel is this process's end of its channel to the master
// (procman.Channel).
type MasterChannel interface {
	FD() int
	// Recv reads one message without waiting: (0, nil) when there is
	// none, io.EOF when the master is gone.
	Recv(buf []byte) (int, error)
}

// masterTag marks the channel to the master in epoll events.
const masterTag = 2

type job struct {
	app int // the app id the core runs (pyhost.AppSignal)
}

// Job runs app (an app id the Python side knows, such as
// pyhost.AppSignal) on a free core with vars (environ pairs) as its
// environ. Any goroutine; the job starts on a later turn of the loop.
func (h *Hub) Job(app int, vars []string) {
	req := &exchange.Request{Vars: vars, Scheme: "http", Resp: exchange.NewResponse(func() {})}
	h.post(mail{req: req, job: &job{app: app}})
}

func (h *Hub) watchMaster() error {
	if h.cfg.Master == nil {
		return nil
	}
	fd := h.cfg.Master.FD()
	if err := unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd), Pad: masterTag}); err != nil {
		return fmt.Errorf("epoll: the channel to the master: %w", err)
	}
	return nil
}

// readMaster hands every waiting message from the master to OnMaster.
func (h *Hub) readMaster() {
	if h.masterBuf == nil {
		h.masterBuf = make([]byte, 4096)
	}
	for {
		n, err := h.cfg.Master.Recv(h.masterBuf)
		if err != nil {
			// the master is gone (the worker follows it: WatchMaster);
			// stop watching, or epoll reports the hang-up forever
			unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, h.cfg.Master.FD(), nil)
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(os.Stderr, "the channel to the master: %v\n", err)
			}
			return
		}
		if n == 0 {
			return
		}
		if h.cfg.OnMaster != nil {
			h.cfg.OnMaster(h.masterBuf[:n])
		}
	}
}
