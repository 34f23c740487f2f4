package procman

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
)

// The channel between the master and each process it starts.
//
// Every process the master starts (a worker; the spooler and mule
// processes too) gets one end of an AF_UNIX SOCK_SEQPACKET socketpair of
// its own, on the fd that EnvMasterFD names; the master keeps the other
// end. A packet is one message and its first byte says what it is
// (the Msg* constants). SEQPACKET keeps each message whole and the
// messages in order, needs no framing, and tells either side when the
// other is gone (a read of 0 bytes, EPIPE on a write). Both ends are
// non-blocking, and neither side's event loop ever waits for the other.
// A message to a process whose socket buffer is full (it is busy with a
// request, or a burst outran it) is held by the master and written in
// order as the process makes room (up to maxHeld per process; past that
// it is dropped and logged, uWSGI's "SIGNAL QUEUE IS FULL"). A process
// whose buffer to the master is full waits for room (the master reads
// all the time), so a burst of uwsgi.signal() calls loses nothing.
//
// The child reads its end from its own event loop (the hub watches the
// fd); Python code writes its messages straight to the fd (os.write: one
// write is one packet), so uwsgi.signal() costs one system call and no
// Go code runs on a green stack.

// EnvMasterFD names the fd of a process's end of its channel to the
// master. MasterChannel removes it from the environment.
const EnvMasterFD = "UWSGO_MASTER_FD"

// Messages. Numbers are little-endian; a signal number is one byte.
const (
	// child -> master
	MsgRegister = 'r' // signum, target: the target register_signal gave the signal
	MsgSignal   = 's' // signum: raise it (uwsgi.signal)
	MsgTimer    = 't' // signum, seconds (uint32): add_timer
	MsgRBTimer  = 'b' // signum, seconds, iterations (uint32 each; 0 iterations: forever): add_rb_timer
	MsgCron     = 'c' // signum, minute, hour, day, month, weekday (int16 each; -1: any, -N: every N): add_cron
	MsgFileMon  = 'f' // signum, path: add_file_monitor
	// master -> child
	MsgRun   = 'S' // signum: run the handler registered for it
	MsgKnown = 'K' // signum...: these signals are registered (by some process)
)

// MaxMessage is the largest message either side sends.
const MaxMessage = 4096

// ErrQueueFull: the other side's queue is full; the message was dropped.
var ErrQueueFull = errors.New("the queue is full")

// Channel is a process's end of its channel to the master.
type Channel struct{ fd int }

var (
	channelOnce sync.Once
	channel     *Channel
)

// MasterChannel returns this process's end of its channel to the
// master, or nil when no master started it. The first call takes the fd
// (marks it close-on-exec and non-blocking) and removes EnvMasterFD from
// the environment; call it before the interpreter starts.
func MasterChannel() *Channel {
	channelOnce.Do(func() {
		v := os.Getenv(EnvMasterFD)
		os.Unsetenv(EnvMasterFD)
		if v == "" {
			return
		}
		fd, err := strconv.Atoi(v)
		if err == nil {
			err = checkSeqpacket(fd)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "uwsgo (pid: %d): bad %s=%q from the master: %v\n", os.Getpid(), EnvMasterFD, v, err)
			os.Exit(1)
		}
		syscall.CloseOnExec(fd)
		syscall.SetNonblock(fd, true)
		channel = &Channel{fd: fd}
	})
	return channel
}

func checkSeqpacket(fd int) error {
	t, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	if err != nil {
		return err
	}
	if t != syscall.SOCK_SEQPACKET {
		return fmt.Errorf("fd %d is not a SOCK_SEQPACKET socket", fd)
	}
	return nil
}

// FD is the channel's file descriptor (for an event loop to watch, and
// for the interpreter to write to).
func (c *Channel) FD() int { return c.fd }

// Send sends one message without waiting: ErrQueueFull when the
// master's queue is full, io.EOF when the master is gone.
func (c *Channel) Send(msg []byte) error { return sendMsg(c.fd, msg) }

// Recv reads one message into buf without waiting: (0, nil) when there
// is none, io.EOF when the master is gone.
func (c *Channel) Recv(buf []byte) (int, error) {
	for {
		n, _, err := syscall.Recvfrom(c.fd, buf, syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, nil
		case err == syscall.ECONNRESET:
			return 0, io.EOF // gone with messages of ours unread
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func sendMsg(fd int, msg []byte) error {
	for {
		err := syscall.Sendto(fd, msg, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, nil)
		switch err {
		case nil:
			return nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN, syscall.ENOBUFS:
			return ErrQueueFull
		case syscall.EPIPE, syscall.ECONNRESET:
			return io.EOF
		}
		return err
	}
}

// peer is the master's side of one process's channel.
type peer struct {
	kind string // "worker", "spooler", "mule"
	id   int    // 1-based within its kind
	pid  int
	conn *net.UnixConn // the master's end (Go's poller reads it)
	raw  syscall.RawConn
	kid  *os.File // the child's end, until the child has started

	outMu    sync.Mutex
	held     [][]byte // messages p could not take yet, oldest first
	flushing bool     // a flush goroutine is writing held
	gone     bool     // a write failed for good: p's process is gone
}

// openChannel makes the channel of the process cmd is about to start
// (kind and id say which it is: "worker" 3, "mule" 1): it appends the
// child's end to cmd.ExtraFiles and names its fd in cmd.Env. Call it
// last before cmd.Start (after every other ExtraFiles entry), then
// started with Start's result; closeChannel once the process is reaped.
// The spooler and mule processes are started the same way.
func (r *router) openChannel(cmd *exec.Cmd, kind string, id int) (*peer, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("signal channel: socketpair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "uwsgo-master-channel")
	kid := os.NewFile(uintptr(fds[1]), "uwsgo-channel")
	c, err := net.FileConn(mine) // dups the fd, non-blocking, on Go's poller
	mine.Close()
	if err != nil {
		kid.Close()
		return nil, fmt.Errorf("signal channel: %w", err)
	}
	uc := c.(*net.UnixConn)
	raw, err := uc.SyscallConn()
	if err != nil {
		uc.Close()
		kid.Close()
		return nil, fmt.Errorf("signal channel: %w", err)
	}
	cmd.Env = append(cmd.Env, EnvMasterFD+"="+strconv.Itoa(FirstListenFD+len(cmd.ExtraFiles)))
	cmd.ExtraFiles = append(cmd.ExtraFiles, kid)
	return &peer{kind: kind, id: id, conn: uc, raw: raw, kid: kid}, nil
}

// started: cmd.Start returned err. On success the peer joins the router
// (its messages are read and signals can reach it); either way the
// master's copy of the child's end is closed.
func (r *router) started(p *peer, pid int, err error) {
	p.kid.Close()
	p.kid = nil
	if err != nil {
		p.conn.Close()
		return
	}
	p.pid = pid
	r.join(p)
	go r.read(p)
}

// closeChannel: the process is gone (reaped).
func (r *router) closeChannel(p *peer) {
	if p == nil {
		return
	}
	r.leave(p)
	p.conn.Close()
}

// read hands every message of p to the router, until p's process is
// gone (its end closes when it exits) or the master closes p.
func (r *router) read(p *peer) {
	buf := make([]byte, MaxMessage)
	for {
		n, err := p.conn.Read(buf)
		if err != nil || n == 0 {
			return
		}
		msg := make([]byte, n)
		copy(msg, buf[:n])
		r.in <- inMsg{from: p, msg: msg}
	}
}

// maxHeld is how many messages the master holds for one process that
// cannot take them at once (its socket buffer is full: it is busy, or a
// burst outran it). Past that, a message is dropped and logged.
const maxHeld = 65536

// send sends one message to p without waiting. When p's socket buffer is
// full the message is held, behind any held before it, and a goroutine
// writes them in order as p makes room: ErrQueueFull only when maxHeld
// are already held, io.EOF when p is gone.
func (p *peer) send(msg []byte) error {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	if p.gone {
		return io.EOF
	}
	if len(p.held) == 0 {
		var err error
		cerr := p.raw.Write(func(fd uintptr) bool {
			err = sendMsg(int(fd), msg)
			return true // one attempt
		})
		switch {
		case cerr != nil:
			p.gone = true
			return cerr
		case err != ErrQueueFull:
			return err
		}
	}
	if len(p.held) >= maxHeld {
		return ErrQueueFull
	}
	p.held = append(p.held, msg)
	if !p.flushing {
		p.flushing = true
		go p.flush()
	}
	return nil
}

// flush writes p's held messages in order, waiting on Go's poller for
// room, until none is left or p is gone.
func (p *peer) flush() {
	for {
		p.outMu.Lock()
		if len(p.held) == 0 || p.gone {
			p.held, p.flushing = nil, false
			p.outMu.Unlock()
			return
		}
		msg := p.held[0] // only flush takes messages off held
		p.outMu.Unlock()
		var err error
		cerr := p.raw.Write(func(fd uintptr) bool {
			err = sendMsg(int(fd), msg)
			return err != ErrQueueFull // full: wait until writable
		})
		p.outMu.Lock()
		if cerr != nil || err != nil {
			p.gone = true // closed by the master, or the process is gone
		} else {
			p.held[0] = nil
			p.held = p.held[1:]
		}
		p.outMu.Unlock()
	}
}
