/* The shared area of the user locks and caches, as Go hands it to the C
 * side (shm.go, api_shm.c). The Go package shm lays the area out. */
#ifndef UWSGO_SHM_H
#define UWSGO_SHM_H

#include <stddef.h>
#include <stdint.h>

typedef struct uw_shm_cache_desc {
	const char *name;
	uint64_t items, blocksize, keysize, hashsize;
	int64_t math_initial;
	int ignore_full;
	/* byte offsets into the area */
	uint64_t hdr, hash, stack, slots, data, stride;
} uw_shm_cache_desc;

/* uw_shm_attach tells the module where the area is: nlocks user locks
 * (lock 0 included) at locks_off, and the caches (the default one first).
 * The descriptors are copied. Called once, before the interpreter starts. */
int uw_shm_attach(void *base, uint64_t size, int nlocks, uint64_t locks_off, int ncaches,
                  const uw_shm_cache_desc *caches);

#endif
