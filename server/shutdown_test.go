package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// shutdownWaits checks, for one protocol, that Shutdown stops accepting
// at once but returns only when the in-flight request is done, and that
// the request completes.
func shutdownWaits(t *testing.T, kind Kind, send func(addr string) (string, error)) {
	ts := startServer(t, kind, nil)
	got := make(chan string, 1)
	go func() {
		body, err := send(ts.addr)
		if err != nil {
			body = "error: " + err.Error()
		}
		got <- body
	}()
	ts.nextReq(t)
	if n := ts.InFlight(); n != 1 {
		t.Fatalf("InFlight %d, want 1", n)
	}
	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(context.Background()) }()

	if err := <-ts.serve; err != nil { // Serve returns once accepting stopped
		t.Fatalf("Serve: %v", err)
	}
	ts.serve <- nil // for the cleanup
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	ts.release()
	if body := <-got; body != "hold" {
		t.Errorf("in-flight request got %q", body)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := ts.InFlight(); n != 0 {
		t.Errorf("InFlight %d after Shutdown", n)
	}
}

func TestShutdownWaitsHTTP(t *testing.T) {
	shutdownWaits(t, HTTP, func(addr string) (string, error) {
		resp, err := http.Get("http://" + addr + "/hold")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	})
}

func TestShutdownWaitsUwsgi(t *testing.T) {
	shutdownWaits(t, UWSGI, func(addr string) (string, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.Write(uwsgiPacket(0, getVars("/hold")...))
		b, err := io.ReadAll(c)
		if err != nil {
			return "", err
		}
		_, body, _ := strings.Cut(string(b), "\r\n\r\n")
		return body, nil
	})
}

func TestShutdownDeadline(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	c := uwsgiDial(t, ts.addr, uwsgiPacket(0, getVars("/hold")...), nil)
	ts.nextReq(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stuck request: %v", err)
	}
	expectClosed(t, c) // cut when the deadline passed
	ts.release()
}

func TestShutdownClosesIdleUwsgi(t *testing.T) {
	ts := startServer(t, UWSGI, nil)
	idle, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Make sure the server has accepted it: a full request on a second
	// connection is answered after the first was accepted (one listener,
	// FIFO accept queue).
	uwsgiDo(t, ts.addr, uwsgiPacket(0, getVars("/x")...), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an idle connection: %v", err)
	}
	expectClosed(t, idle)
}

func TestServeAfterShutdown(t *testing.T) {
	s := New(Config{Loop: startLoop(t, newFakeHub())})
	s.Shutdown(context.Background())
	for _, kind := range []Kind{HTTP, UWSGI} {
		ln, err := Listen("127.0.0.1:0", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Serve(ln, kind); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	}
}
