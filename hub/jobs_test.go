package hub

import (
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

// seqChannel is one end of a SOCK_SEQPACKET pair, as procman.Channel.
type seqChannel struct{ fd int }

func (c seqChannel) FD() int { return c.fd }
func (c seqChannel) Recv(buf []byte) (int, error) {
	n, _, err := syscall.Recvfrom(c.fd, buf, syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// A message from the master becomes a job on a free core: it runs the
// app the job names, waits for a core behind the requests before it, and
// counts as no request.
func TestMasterMessagesRunJobsOnFreeCores(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[1])
	defer syscall.Close(fds[0])
	var r *rig
	jobs := make(chan string, 8)
	r = newRig(t, 1, func(path string) []step {
		if path == "/slow" {
			return []step{out("slow"), sleepMs(200), end()}
		}
		return []step{end()} // a job: no PATH_INFO
	}, Config{
		Master:      seqChannel{fds[0]},
		MaxRequests: 3, // two requests and a job: reached only if the job counted
		OnMaster: func(msg []byte) {
			jobs <- string(msg)
			r.h.Job(-2, []string{"UWSGI_SIGNAL", string(msg)})
		},
		OnMaxRequests: func() { t.Error("a job was counted as a request") },
	})
	slow := r.submit("/slow") // the only core is busy for 200 ms
	r.onHub(func() {})
	if _, err := syscall.Write(fds[1], []byte("7")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-jobs:
		if m != "7" {
			t.Fatalf("OnMaster got %q, want %q", m, "7")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not read the master's message")
	}
	slow[0].wait(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.py.mu.Lock()
		got := fmt.Sprint(r.py.apps, r.py.started)
		r.py.mu.Unlock()
		if got == "[0 -2] [/slow ]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("apps and paths %s, want the request then the job", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// the job took the core after the request and gave it back
	for _, q := range r.submit("/after") {
		q.wait(t)
	}
	r.onHub(func() {
		if r.h.served != 2 || r.h.busy != 0 {
			t.Errorf("served %d busy %d, want 2 requests served and nothing busy", r.h.served, r.h.busy)
		}
	})
}
