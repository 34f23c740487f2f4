package pyhost

/*
#include "shm.h"
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// ShmCache is where one cache lives in the shared area (offsets in bytes).
type ShmCache struct {
	Name                                  string
	Items, BlockSize, KeySize, HashSize   uint64
	MathInitial                           int64
	IgnoreFull                            bool
	Hdr, Hash, Stack, Slots, Data, Stride uint64
}

// AttachShm gives the uwsgi module the shared area of its locks and caches
// (nlocks locks, lock 0 included, at locksOff). Call it before Start; mem
// must stay mapped for the life of the process.
func AttachShm(mem []byte, nlocks int, locksOff uint64, caches []ShmCache) error {
	if len(mem) == 0 {
		return fmt.Errorf("shared memory: empty area")
	}
	descs := (*C.uw_shm_cache_desc)(C.calloc(C.size_t(len(caches)+1), C.size_t(unsafe.Sizeof(C.uw_shm_cache_desc{}))))
	defer C.free(unsafe.Pointer(descs))
	ds := unsafe.Slice(descs, len(caches)+1)
	for i, c := range caches {
		d := &ds[i]
		d.name = C.CString(c.Name) // kept: the module names its caches by it
		d.items, d.blocksize, d.keysize, d.hashsize = C.uint64_t(c.Items), C.uint64_t(c.BlockSize), C.uint64_t(c.KeySize), C.uint64_t(c.HashSize)
		d.math_initial = C.int64_t(c.MathInitial)
		d.ignore_full = cbool(c.IgnoreFull)
		d.hdr, d.hash, d.stack, d.slots, d.data, d.stride = C.uint64_t(c.Hdr), C.uint64_t(c.Hash), C.uint64_t(c.Stack), C.uint64_t(c.Slots), C.uint64_t(c.Data), C.uint64_t(c.Stride)
	}
	if C.uw_shm_attach(unsafe.Pointer(&mem[0]), C.uint64_t(len(mem)), C.int(nlocks), C.uint64_t(locksOff), C.int(len(caches)), descs) != 0 {
		return fmt.Errorf("shared memory: the layout does not fit the area")
	}
	return nil
}
