// Package shm is the shared memory behind uWSGI's user locks (--locks) and
// caches (--cache2, --cache): the geometry the options describe, the area's
// layout, and the area itself, made once by the process the user started
// (before any worker) and inherited by every worker as an fd.
//
// Workers are this binary run again, not forks, so memory cannot simply be
// inherited: the area is a memfd that the master hands on (procman's Spec
// Shared; the worker finds its number in EnvFD). All-zero memory is a
// valid state (every lock free, every cache empty), so nothing but the
// header is written before the workers start; the C side (pyhost/api_shm.c)
// does the locking and the cache operations.
package shm

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// EnvFD names the inherited fd of the area in a worker's environment.
const EnvFD = "UWSGO_SHM_FD"

// Defaults of a --cache2 cache, as uWSGI's.
const (
	DefaultBlockSize = 65536
	DefaultKeySize   = 2048
	DefaultHashSize  = 65536
)

// Cache is one cache's geometry.
type Cache struct {
	Name        string
	Items       uint64 // slots; as in uWSGI slot 0 is never used, so Items-1 keys fit
	BlockSize   uint64 // largest value
	KeySize     uint64 // longest key
	HashSize    uint64 // hash buckets
	MathInitial int64  // what cache_inc & co. start a missing key from
	IgnoreFull  bool   // no log line when the cache is full
}

// Spec is what the area holds: Locks+1 user locks (uWSGI's lock 0 always
// exists; --locks N adds 1..N) and the caches, the default one first.
type Spec struct {
	Locks  int
	Caches []Cache
}

// ParseCache2 reads a --cache2 value (uWSGI's key=value,key=value list).
// warn gets one line per key that uwsgo accepts but does not carry out.
func ParseCache2(v string, warn func(string)) (Cache, error) {
	c := Cache{BlockSize: DefaultBlockSize, KeySize: DefaultKeySize, HashSize: DefaultHashSize}
	bad := func(format string, a ...any) (Cache, error) {
		return Cache{}, fmt.Errorf("--cache2 %q: %s", v, fmt.Sprintf(format, a...))
	}
	num := func(key, val string) (uint64, error) {
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("--cache2 %q: %s=%q: want a positive integer", v, key, val)
		}
		return n, nil
	}
	var err error
	items := false
	for _, kv := range strings.Split(v, ",") {
		if kv == "" {
			continue
		}
		key, val, ok := strings.Cut(kv, "=")
		if !ok {
			return bad("%q is not key=value", kv)
		}
		switch key {
		case "name":
			if val == "" || strings.Contains(val, "@") {
				return bad("name=%q: want a name without '@' (name@server is a remote cache)", val)
			}
			c.Name = val
		case "items", "max_items", "maxitems":
			if c.Items, err = num(key, val); err != nil {
				return Cache{}, err
			}
			items = true
		case "blocksize":
			if c.BlockSize, err = num(key, val); err != nil {
				return Cache{}, err
			}
		case "keysize", "key_size":
			if c.KeySize, err = num(key, val); err != nil {
				return Cache{}, err
			}
			if c.KeySize >= 65535 {
				return bad("%s=%s: keys are shorter than 65535 bytes", key, val)
			}
		case "hashsize", "hash_size":
			if c.HashSize, err = num(key, val); err != nil {
				return Cache{}, err
			}
		case "hash":
			if val != "djb33x" {
				return bad("hash=%q: uwsgo has djb33x (uWSGI's default) only", val)
			}
		case "math_initial":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return bad("math_initial=%q: want an integer", val)
			}
			c.MathInitial = n
		case "ignore_full":
			c.IgnoreFull = true
		case "lazy_expire", "lazy":
			// uwsgo always expires lazily: an expired key is gone at once
		case "store", "store_sync", "storesync", "store_delete", "storedelete":
			warn(fmt.Sprintf("*** WARNING: --cache2 %s: %s= (persistence to a file) is not implemented: the cache lives in memory only ***", v, key))
		case "blocks", "bitmap", "purge_lru", "lru", "sweep_on_full", "clear_on_full", "no_expire", "lastmod",
			"node", "nodes", "sync", "udp", "udp_servers", "udp_server", "udpservers", "udpserver":
			warn(fmt.Sprintf("*** WARNING: --cache2 %s: %s= is not implemented: ignored ***", v, key))
		default:
			return bad("unknown key %q", key)
		}
	}
	if c.Name == "" {
		return bad("a cache needs a name (name=...)")
	}
	if !items {
		return bad("a cache needs its number of items (items=...)")
	}
	if c.Items < 2 {
		return bad("items=%d: slot 0 is never used, so a cache needs 2 items or more", c.Items)
	}
	return c, nil
}

// Check refuses two caches of one name.
func (s Spec) Check() error {
	seen := map[string]bool{}
	for _, c := range s.Caches {
		if seen[c.Name] {
			return fmt.Errorf("--cache2: two caches named %q", c.Name)
		}
		seen[c.Name] = true
	}
	if s.Locks < 0 {
		return fmt.Errorf("--locks %d: want 0 or more", s.Locks)
	}
	return nil
}

// The layout. Every part starts on its own 64-byte line.
//
//	header        64 bytes: magic, version, total size
//	locks         (Locks+1) x 64 bytes: a futex word and its holder
//	per cache:
//	  header      64 bytes: its lock, allocation counters
//	  hash table  HashSize x 8: the first slot of each bucket (0: none)
//	  free stack  Items x 8: slots freed by deletes
//	  slots       Items x stride: an item header (64 bytes) and its key
//	  data        Items x BlockSize: slot i's value at i x BlockSize
const (
	line          = 64
	itemHdrSize   = 64
	magic         = "uwsgoshm"
	layoutVersion = 1
)

// CacheLayout is where one cache lives in the area (byte offsets).
type CacheLayout struct {
	Cache
	Hdr, Hash, Stack, Slots, Data uint64
	Stride                        uint64 // bytes per slot in Slots
}

// Layout is the whole area's.
type Layout struct {
	Size   uint64
	Locks  uint64 // offset of lock 0
	NLocks int    // Locks+1
	Caches []CacheLayout
}

func align(n uint64) uint64 { return (n + line - 1) / line * line }

// Layout computes where everything goes.
func (s Spec) Layout() Layout {
	l := Layout{Locks: line, NLocks: s.Locks + 1}
	off := align(l.Locks + uint64(l.NLocks)*line)
	for _, c := range s.Caches {
		cl := CacheLayout{Cache: c, Stride: (itemHdrSize + c.KeySize + 7) / 8 * 8}
		cl.Hdr = off
		cl.Hash = align(cl.Hdr + line)
		cl.Stack = align(cl.Hash + c.HashSize*8)
		cl.Slots = align(cl.Stack + c.Items*8)
		cl.Data = align(cl.Slots + c.Items*cl.Stride)
		off = align(cl.Data + c.Items*c.BlockSize)
		l.Caches = append(l.Caches, cl)
	}
	pg := uint64(os.Getpagesize())
	l.Size = (off + pg - 1) / pg * pg
	return l
}

// Area is the mapped memory.
type Area struct {
	File   *os.File // the memfd; nil in a worker once mapped
	Mem    []byte
	Layout Layout
}

// Create makes the area: a memfd (close-on-exec: the master passes it on
// explicitly), sized and mapped, with its header written.
func Create(s Spec) (*Area, error) {
	l := s.Layout()
	fd, err := unix.MemfdCreate("uwsgo-shm", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("shared memory for locks and caches: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "uwsgo-shm")
	if err := f.Truncate(int64(l.Size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("shared memory for locks and caches (%d bytes): %w", l.Size, err)
	}
	mem, err := syscall.Mmap(fd, 0, int(l.Size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("shared memory for locks and caches (%d bytes): mmap: %w", l.Size, err)
	}
	copy(mem, magic)
	*(*uint64)(unsafe.Pointer(&mem[8])) = layoutVersion
	*(*uint64)(unsafe.Pointer(&mem[16])) = l.Size
	return &Area{File: f, Mem: mem, Layout: l}, nil
}

// Map maps the area a worker inherited on fd, checking that it is the one
// s describes (the master and the worker read the same options). The fd is
// closed: the mapping outlives it and the app's children must not get it.
func Map(fd int, s Spec) (*Area, error) {
	defer syscall.Close(fd)
	l := s.Layout()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("shared memory fd %d: %w", fd, err)
	}
	if uint64(st.Size) != l.Size {
		return nil, fmt.Errorf("shared memory fd %d: %d bytes, the options say %d", fd, st.Size, l.Size)
	}
	mem, err := syscall.Mmap(fd, 0, int(l.Size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shared memory fd %d: mmap: %w", fd, err)
	}
	if string(mem[:8]) != magic || *(*uint64)(unsafe.Pointer(&mem[16])) != l.Size {
		syscall.Munmap(mem)
		return nil, errors.New("shared memory: not uwsgo's area, or another layout")
	}
	return &Area{Mem: mem, Layout: l}, nil
}

// FromEnv maps the area named by EnvFD and removes the variable, so the
// app's os.environ does not see it. ok is false when there is none.
func FromEnv(s Spec) (a *Area, ok bool, err error) {
	v, present := os.LookupEnv(EnvFD)
	if !present {
		return nil, false, nil
	}
	os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, true, fmt.Errorf("%s=%q: want an fd", EnvFD, v)
	}
	a, err = Map(fd, s)
	return a, true, err
}
