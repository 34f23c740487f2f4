package procman

import (
	"bytes"
	"encoding/binary"
	"io"
	"log"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestParseSignalTarget(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind string
		n    int
		ok   bool
	}{
		{"", "worker", 0, true}, {"worker", "worker", 0, true}, {"worker0", "worker", 0, true},
		{"worker3", "worker", 3, true}, {"workers", "worker", -1, true}, {"active-workers", "worker", -1, true},
		{"spooler", "spooler", 0, true}, {"mule", "mule", 0, true}, {"mule2", "mule", 2, true}, {"mules", "mule", -1, true},
		{"worker-1", "", 0, false}, {"worker03", "", 0, false}, {"wrokers", "", 0, false}, {"farm1", "", 0, false},
		{"worker 1", "", 0, false},
	} {
		kind, n, ok := ParseSignalTarget(c.in)
		if kind != c.kind || n != c.n || ok != c.ok {
			t.Errorf("ParseSignalTarget(%q) = %q, %d, %v; want %q, %d, %v", c.in, kind, n, ok, c.kind, c.n, c.ok)
		}
	}
}

// uWSGI's cron rules (uwsgi_cron_task_needs_execution).
func TestCronMatches(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		when                    string
		min, hour, day, mon, wd int
		want                    bool
	}{
		{"2026-12-01 10:30", -1, -1, -1, -1, -1, true},
		{"2026-12-01 10:30", 30, 10, -1, -1, -1, true},
		{"2026-12-01 10:31", 30, 10, -1, -1, -1, false},
		{"2026-12-01 10:30", -15, -1, -1, -1, -1, true},  // */15
		{"2026-12-01 10:31", -15, -1, -1, -1, -1, false}, // */15
		{"2026-12-01 10:30", 30, 10, 1, 12, -1, true},
		{"2026-12-01 10:30", 30, 10, 2, 12, -1, false},
		{"2026-12-06 00:00", 0, 0, -1, -1, 0, true}, // 2026-12-06 is a Sunday
		{"2026-12-06 00:00", 0, 0, -1, -1, 7, true}, // 7 is Sunday too
		{"2026-12-07 00:00", 0, 0, -1, -1, 0, false},
		{"2026-12-01 10:30", 30, 10, 15, -1, 2, true},  // day or weekday: Tuesday matches
		{"2026-12-15 10:30", 30, 10, 15, -1, 5, true},  // day matches
		{"2026-12-16 10:30", 30, 10, 15, -1, 5, false}, // neither
	} {
		cr := sigCron{minute: c.min, hour: c.hour, day: c.day, month: c.mon, wday: c.wd}
		if got := cronMatches(at(c.when), &cr); got != c.want {
			t.Errorf("%s against %d %d %d %d %d: %v, want %v", c.when, c.min, c.hour, c.day, c.mon, c.wd, got, c.want)
		}
	}
}

// fakeKid is a started process's end of its channel, held by the test.
type fakeKid struct {
	fd int
}

func (k fakeKid) send(t *testing.T, msg ...byte) {
	t.Helper()
	if _, err := syscall.Write(k.fd, msg); err != nil {
		t.Fatal(err)
	}
}

// runs collects the signals the master told this process to run, until
// want of them came (or 10 s), then for settle more.
func (k fakeKid) runs(t *testing.T, want int, settle time.Duration) []byte {
	t.Helper()
	var got []byte
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, MaxMessage)
	for {
		n, _, err := syscall.Recvfrom(k.fd, buf, syscall.MSG_DONTWAIT)
		if err == nil && n == 2 && buf[0] == MsgRun {
			got = append(got, buf[1])
			continue
		}
		if err == nil {
			continue // MsgKnown
		}
		if len(got) >= want {
			if settle <= 0 {
				return got
			}
			time.Sleep(settle)
			settle = 0
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("got signals %v, want %d of them", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// routerLog is what a router logged.
type routerLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *routerLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *routerLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newRouterWith starts a router with n "workers" whose ends the test holds.
func newRouterWith(t *testing.T, n int) (*router, []fakeKid, *routerLog) {
	lb := &routerLog{}
	r := newRouter(log.New(lb, "", 0), n)
	go r.run()
	t.Cleanup(r.stop)
	var kids []fakeKid
	for i := 1; i <= n; i++ {
		cmd := &exec.Cmd{}
		p, err := r.openChannel(cmd, "worker", i)
		if err != nil {
			t.Fatal(err)
		}
		if len(cmd.ExtraFiles) != 1 || !strings.HasPrefix(cmd.Env[0], EnvMasterFD+"=3") {
			t.Fatalf("the child's end is not named: %v %v", cmd.Env, cmd.ExtraFiles)
		}
		fd, err := syscall.Dup(int(p.kid.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(fd) })
		r.started(p, 1000+i, nil)
		t.Cleanup(func() { r.closeChannel(p) })
		kids = append(kids, fakeKid{fd})
	}
	return r, kids, lb
}

func TestRouterSendsEachSignalWhereItsTargetSays(t *testing.T) {
	r, kids, lb := newRouterWith(t, 3)
	w1, w2, w3 := kids[0], kids[1], kids[2]
	w1.send(t, append([]byte{MsgRegister, 5}, "workers"...)...)
	w1.send(t, append([]byte{MsgRegister, 6}, "worker2"...)...)
	w1.send(t, MsgRegister, 7) // "": one worker, any
	w2.send(t, append([]byte{MsgRegister, 5}, "workers"...)...)
	waitKnown(t, r, 5, 6, 7) // the registrations came on other channels
	w3.send(t, MsgSignal, 5)
	w3.send(t, MsgSignal, 6)
	for i := 0; i < 3; i++ {
		w3.send(t, MsgSignal, 7)
	}
	w3.send(t, MsgSignal, 9) // registered nowhere: dropped, logged
	if got := w1.runs(t, 2, 100*time.Millisecond); string(got) != "\x05\x07" {
		t.Errorf("worker 1 ran %v, want [5 7]", got)
	}
	if got := w2.runs(t, 3, 0); string(got) != "\x05\x06\x07" {
		t.Errorf("worker 2 ran %v, want [5 6 7]", got)
	}
	if got := w3.runs(t, 2, 0); string(got) != "\x05\x07" {
		t.Errorf("worker 3 ran %v, want [5 7]", got)
	}
	if !strings.Contains(lb.String(), "signal 9 is not registered") {
		t.Errorf("an unregistered signal was not logged:\n%s", lb)
	}
}

func waitKnown(t *testing.T, r *router, sigs ...uint8) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range sigs {
		for {
			r.peerLock.Lock()
			k := r.known[s]
			r.peerLock.Unlock()
			if k {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the registration of signal %d did not arrive", s)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Every worker adds the same timer (each imports the app): the master
// keeps one.
func TestRouterKeepsOneTimerPerSignalAndPeriod(t *testing.T) {
	_, kids, _ := newRouterWith(t, 2)
	rb := []byte{MsgRBTimer, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(rb[2:], 1) // every second
	binary.LittleEndian.PutUint32(rb[6:], 2) // twice
	for _, k := range kids {
		k.send(t, append([]byte{MsgRegister, 4}, "worker1"...)...)
		k.send(t, rb...)
	}
	if got := kids[0].runs(t, 2, 1500*time.Millisecond); string(got) != "\x04\x04" {
		t.Errorf("worker 1 ran %v, want the rb timer's 2 ticks", got)
	}
}

// A process started after a signal was registered learns of it.
func TestRouterTellsNewProcessesTheKnownSignals(t *testing.T) {
	r, kids, _ := newRouterWith(t, 1)
	kids[0].send(t, MsgRegister, 200)
	waitKnown(t, r, 200)
	cmd := &exec.Cmd{}
	p, err := r.openChannel(cmd, "mule", 1)
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := syscall.Dup(int(p.kid.Fd()))
	defer syscall.Close(fd)
	r.started(p, 2000, nil)
	defer r.closeChannel(p)
	buf := make([]byte, MaxMessage)
	n, err := syscall.Read(fd, buf)
	if err != nil || string(buf[:n]) != string([]byte{MsgKnown, 200}) {
		t.Fatalf("the new process read %q (%v), want the known signals", buf[:n], err)
	}
}

// Channel: one message per packet, none when empty, EOF once the
// master's end is gone.
func TestChannelMessages(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := &Channel{fd: fds[0]}
	defer syscall.Close(fds[0])
	buf := make([]byte, 16)
	if n, err := c.Recv(buf); n != 0 || err != nil {
		t.Fatalf("empty channel: %d, %v", n, err)
	}
	syscall.Write(fds[1], []byte{MsgRun, 3})
	syscall.Write(fds[1], []byte{MsgRun, 4})
	for _, want := range []byte{3, 4} {
		if n, err := c.Recv(buf); n != 2 || err != nil || buf[1] != want {
			t.Fatalf("got %q, %v; want signal %d", buf[:n], err, want)
		}
	}
	if err := c.Send([]byte{MsgSignal, 1}); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fds[1])
	if _, err := c.Recv(buf); err != io.EOF {
		t.Fatalf("after the master left: %v, want EOF", err)
	}
	if err := c.Send([]byte{MsgSignal, 1}); err != io.EOF {
		t.Fatalf("send after the master left: %v, want EOF", err)
	}
}

// A process that reads nothing while a burst is raised for it (it is
// busy) gets the whole burst, in order, once it reads: the master holds
// what its socket buffer cannot.
func TestRouterHoldsABurstForABusyProcess(t *testing.T) {
	r, kids, lb := newRouterWith(t, 2)
	busy, raiser := kids[0], kids[1]
	busy.send(t, append([]byte{MsgRegister, 8}, "worker1"...)...)
	busy.send(t, append([]byte{MsgRegister, 9}, "worker1"...)...)
	waitKnown(t, r, 8, 9)
	const n = 3000 // several times what a socket buffer holds
	for i := 0; i < n; i++ {
		msg := []byte{MsgSignal, byte(8 + i%2)}
		for {
			_, err := syscall.Write(raiser.fd, msg)
			if err == nil {
				break
			}
			if err != syscall.EAGAIN { // the raiser waits for room, as pyapi does
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	got := busy.runs(t, n, 100*time.Millisecond)
	if len(got) != n {
		t.Fatalf("worker 1 ran %d signals, want %d\n%s", len(got), n, lb)
	}
	for i, s := range got {
		if s != byte(8+i%2) {
			t.Fatalf("signal %d of the burst is %d, want %d: out of order", i, s, 8+i%2)
		}
	}
	if strings.Contains(lb.String(), "QUEUE IS FULL") {
		t.Errorf("signals were dropped:\n%s", lb)
	}
}
