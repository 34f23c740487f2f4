package main

import (
	"fmt"

	"github.com/uwsgo/uwsgo/config"
	"github.com/uwsgo/uwsgo/pyhost"
	"github.com/uwsgo/uwsgo/shm"
)

// shmSpec reads --locks, --cache (the old-style cache "default", first, as
// in uWSGI) and --cache2. warn gets a line per part not carried out.
func shmSpec(o *config.Options, warn func(string)) (shm.Spec, error) {
	s := shm.Spec{Locks: o.Locks}
	if o.Cache < 0 {
		return s, fmt.Errorf("--cache %d: want a number of items", o.Cache)
	}
	if o.Cache > 0 {
		bs := uint64(shm.DefaultBlockSize)
		if o.CacheBlocksize < 0 {
			return s, fmt.Errorf("--cache-blocksize %d: want a number of bytes", o.CacheBlocksize)
		}
		if o.CacheBlocksize > 0 {
			bs = uint64(o.CacheBlocksize)
		}
		if o.Cache < 2 {
			return s, fmt.Errorf("--cache %d: slot 0 is never used, so a cache needs 2 items or more", o.Cache)
		}
		s.Caches = append(s.Caches, shm.Cache{Name: "default", Items: uint64(o.Cache), BlockSize: bs,
			KeySize: shm.DefaultKeySize, HashSize: shm.DefaultHashSize})
	}
	for _, v := range o.Cache2 {
		c, err := shm.ParseCache2(v, warn)
		if err != nil {
			return s, err
		}
		s.Caches = append(s.Caches, c)
	}
	return s, s.Check()
}

// attachShm hands the area to the uwsgi module.
func attachShm(a *shm.Area) error {
	l := a.Layout
	caches := make([]pyhost.ShmCache, len(l.Caches))
	for i, c := range l.Caches {
		caches[i] = pyhost.ShmCache{Name: c.Name, Items: c.Items, BlockSize: c.BlockSize, KeySize: c.KeySize,
			HashSize: c.HashSize, MathInitial: c.MathInitial, IgnoreFull: c.IgnoreFull,
			Hdr: c.Hdr, Hash: c.Hash, Stack: c.Stack, Slots: c.Slots, Data: c.Data, Stride: c.Stride}
	}
	return pyhost.AttachShm(a.Mem, l.NLocks, l.Locks, caches)
}

// shmBanner says what the area holds, as uWSGI's start-up lines do.
func shmBanner(a *shm.Area) {
	l := a.Layout
	if l.NLocks > 1 {
		say("%d user locks (0 to %d) in shared memory\n", l.NLocks, l.NLocks-1)
	}
	for _, c := range l.Caches {
		say("*** Cache %q initialized: %dMB (%d items of up to %d bytes, keys up to %d bytes) in shared memory ***\n",
			c.Name, (c.Items*(c.Stride+c.BlockSize))>>20, c.Items-1, c.BlockSize, c.KeySize)
	}
}

// workerShm maps the area the master made and hands it to the module.
func workerShm(o *config.Options) error {
	s, err := shmSpec(o, func(string) {}) // the master said it already
	if err != nil {
		return err
	}
	a, ok, err := shm.FromEnv(s)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the master passed no shared memory (%s)", shm.EnvFD)
	}
	return attachShm(a)
}
