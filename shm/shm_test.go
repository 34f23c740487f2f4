package shm

import (
	"os"
	"strings"
	"testing"
)

func TestParseCache2(t *testing.T) {
	var warned []string
	c, err := ParseCache2("name=c1,items=10,blocksize=100,keysize=64,hashsize=8,math_initial=-5,ignore_full=1,store=/x", func(w string) { warned = append(warned, w) })
	if err != nil {
		t.Fatal(err)
	}
	want := Cache{Name: "c1", Items: 10, BlockSize: 100, KeySize: 64, HashSize: 8, MathInitial: -5, IgnoreFull: true}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "store=") {
		t.Fatalf("warnings: %q", warned)
	}
	c, err = ParseCache2("name=d,maxitems=3", func(string) {})
	if err != nil || c.BlockSize != DefaultBlockSize || c.KeySize != DefaultKeySize || c.HashSize != DefaultHashSize {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	for _, bad := range []string{"items=3", "name=a", "name=a,items=0", "name=a,items=1", "name=a,items=3,x=1",
		"name=a@b,items=3", "name=a,items=3,keysize=70000", "name=a,items=3,blocksize", "name=a,items=3,hash=fnv"} {
		if _, err := ParseCache2(bad, func(string) {}); err == nil || !strings.HasPrefix(err.Error(), "--cache2 \""+bad+"\": ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The parts never overlap, each starts on its own line, and the area is
// whole pages.
func TestLayout(t *testing.T) {
	s := Spec{Locks: 3, Caches: []Cache{
		{Name: "a", Items: 10, BlockSize: 100, KeySize: 13, HashSize: 7},
		{Name: "b", Items: 3, BlockSize: 1, KeySize: 1, HashSize: 1},
	}}
	l := s.Layout()
	if l.NLocks != 4 || l.Locks != 64 {
		t.Fatalf("locks: %+v", l)
	}
	end := l.Locks + uint64(l.NLocks)*64
	for _, c := range l.Caches {
		parts := [][2]uint64{{c.Hdr, 64}, {c.Hash, c.HashSize * 8}, {c.Stack, c.Items * 8}, {c.Slots, c.Items * c.Stride}, {c.Data, c.Items * c.BlockSize}}
		for _, p := range parts {
			if p[0]%64 != 0 || p[0] < end {
				t.Fatalf("cache %s: part at %d overlaps (previous end %d)", c.Name, p[0], end)
			}
			end = p[0] + p[1]
		}
		if c.Stride%8 != 0 || c.Stride < 64+c.KeySize {
			t.Fatalf("stride %d", c.Stride)
		}
	}
	if l.Size < end || l.Size%uint64(os.Getpagesize()) != 0 {
		t.Fatalf("size %d, end %d", l.Size, end)
	}
}

func TestCreateAndMap(t *testing.T) {
	s := Spec{Locks: 1, Caches: []Cache{{Name: "a", Items: 4, BlockSize: 8, KeySize: 8, HashSize: 4}}}
	a, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer a.File.Close()
	a.Mem[a.Layout.Caches[0].Data] = 42 // the worker sees the master's memory
	fd, err := dupFd(a.File)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Map(fd, s)
	if err != nil {
		t.Fatal(err)
	}
	if b.Mem[b.Layout.Caches[0].Data] != 42 {
		t.Fatal("not the same memory")
	}
	fd, _ = dupFd(a.File)
	if _, err := Map(fd, Spec{Locks: 2000}); err == nil {
		t.Fatal("another layout was mapped")
	}
}
