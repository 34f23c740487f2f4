package exchange

import (
	"bytes"
	"errors"
	"testing"
)

func TestHeadBeforeBody(t *testing.T) {
	r := NewResponse(func() {})
	r.Write([]byte("early"), nil)
	if b := r.Take(false); b.Head != nil || len(b.Chunks) != 0 {
		t.Fatalf("body handed out before the head: %+v", b)
	}
	r.SetHead(&Head{Status: "200 OK"})
	b := r.Take(false)
	if b.Head == nil || b.Head.Status != "200 OK" || len(b.Chunks) != 1 || string(b.Chunks[0]) != "early" {
		t.Fatalf("%+v", b)
	}
}

func TestEndCarriesHeadAndLastChunk(t *testing.T) {
	r := NewResponse(func() {})
	r.SetStats(4, 0)
	r.End(Ending{Head: &Head{Status: "200 OK"}, Last: []byte("last"), Switches: 9})
	b := r.Take(false)
	if b.Head == nil || !b.Done || len(b.Chunks) != 1 || string(b.Chunks[0]) != "last" {
		t.Fatalf("the end came apart from its head or last bytes: %+v", b)
	}
	if c, s := r.Stats(); c != 4 || s != 9 {
		t.Fatalf("stats %d %d", c, s)
	}
}

func TestFailureWithoutHeadDropsTheBody(t *testing.T) {
	r := NewResponse(func() {})
	r.Write([]byte("x"), nil)
	r.Finish(errors.New("boom"))
	b := r.Take(false)
	if !b.Done || b.Err == nil || b.Head != nil || len(b.Chunks) != 0 {
		t.Fatalf("%+v", b)
	}
}

func TestBackpressureReleasesOnDrain(t *testing.T) {
	r := NewResponse(func() {})
	r.SetHead(&Head{Status: "200 OK"})
	drained := 0
	onDrain := func() { drained++ }
	chunk := bytes.Repeat([]byte("a"), HighWater/4)
	waits := 0
	for i := 0; i < 4; i++ {
		if r.Write(chunk, onDrain) {
			waits++
		}
	}
	if waits != 1 {
		t.Fatalf("the producer was told to wait %d times at the high-water mark, want 1", waits)
	}
	b := r.Take(true)
	for i, c := range b.Chunks {
		r.Consumed(len(c))
		if i == 0 && drained != 0 {
			t.Fatal("released above half the high-water mark")
		}
	}
	if drained != 1 {
		t.Fatalf("onDrain called %d times, want 1", drained)
	}
}

func TestAbandonReleasesAWaitingProducer(t *testing.T) {
	r := NewResponse(func() {})
	r.SetHead(&Head{Status: "200 OK"})
	released := false
	if !r.Write(bytes.Repeat([]byte("a"), HighWater), func() { released = true }) {
		t.Fatal("no back-pressure at the high-water mark")
	}
	r.Abandon()
	if !released || !r.Gone() {
		t.Fatalf("released=%v gone=%v", released, r.Gone())
	}
	if r.Write([]byte("more"), nil) {
		t.Fatal("a gone client still holds the producer back")
	}
}

func TestStats(t *testing.T) {
	r := NewResponse(func() {})
	r.SetStats(7, 0)
	r.SetStats(7, 42)
	if c, s := r.Stats(); c != 7 || s != 42 {
		t.Fatalf("%d %d", c, s)
	}
}

func TestNotifyOnEveryChange(t *testing.T) {
	n := 0
	r := NewResponse(func() { n++ })
	r.SetHead(&Head{Status: "200 OK"})
	r.Write([]byte("a"), nil)
	r.End(Ending{Switches: -1})
	if n != 3 {
		t.Fatalf("notified %d times for head, write and end; want 3", n)
	}
}
