/*
 * The uwsgi module: user locks (lock, unlock, is_locked) and caches
 * (cache_get, cache_set, ...), with uWSGI 2.0's arguments and return
 * values, in the area the master shares with every worker (shm.h; the Go
 * package shm lays it out and zero is its empty state).
 *
 * A lock is a futex word in the area. A cache is uWSGI's structure: a hash
 * table of slot numbers (djb33x, chained), fixed slots holding a key and
 * one block for the value, a stack of freed slots; its own lock guards it
 * for the few microseconds an operation takes, during which no Python runs
 * (values are copied out before any Python object is made), so a holder
 * never waits for anything and contention is a short futex wait.
 *
 * Everything here may run on a green stack: nothing calls Go. A request
 * that waits for a user lock held elsewhere gives way the way its engine
 * does (uGreen and greenlet park the core on a short timer, gevent sleeps)
 * instead of blocking the worker's other requests; a thread blocks on the
 * futex with the GIL released.
 */
#include "glue.h" /* first: PY_SSIZE_T_CLEAN, for the s# formats */
#include "api.h"
#include "shm.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ locks */

typedef struct shm_lock {
	_Atomic uint32_t state; /* 0 free, 1 held, 2 held and maybe waited for */
	_Atomic int32_t pid;    /* the holder's process, 0 while free */
	_Atomic int32_t tid;    /* the holder's thread */
	_Atomic int32_t core;   /* the holder's core + 1 (0: not a request on a core) */
} shm_lock;

static int my_pid;
static __thread int my_tid;

static void after_fork_child(void) {
	my_pid = getpid();
	my_tid = 0;
}

static int self_tid(void) {
	if (!my_tid) my_tid = (int)syscall(SYS_gettid);
	return my_tid;
}

static void own(shm_lock *l, int core) {
	atomic_store(&l->pid, my_pid);
	atomic_store(&l->tid, self_tid());
	atomic_store(&l->core, core);
}

static int lock_try(shm_lock *l, int core) {
	uint32_t free_ = 0;
	if (atomic_compare_exchange_strong(&l->state, &free_, 1)) {
		own(l, core);
		return 1;
	}
	return 0;
}

static void lock_release(shm_lock *l) {
	atomic_store(&l->pid, 0);
	atomic_store(&l->tid, 0);
	atomic_store(&l->core, 0);
	if (atomic_exchange(&l->state, 0) == 2) syscall(SYS_futex, &l->state, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* A holder that died (SIGKILL, harakiri) never unlocks: a waiter that
 * finds its process gone takes the lock over, as uWSGI's robust mutexes
 * recover. */
static int take_from_dead(shm_lock *l, const char *what) {
	int32_t pid = atomic_load(&l->pid);
	if (pid <= 0 || pid == my_pid || kill(pid, 0) == 0 || errno != ESRCH) return 0;
	if (!atomic_compare_exchange_strong(&l->pid, &pid, my_pid)) return 0;
	atomic_store(&l->tid, self_tid());
	atomic_store(&l->state, 2);
	fprintf(stderr, "[deadlock-detector] process %d died holding %s: recovering...\n", (int)pid, what);
	return 1;
}

/* lock_block waits on the futex; the caller has released the GIL */
static void lock_block(shm_lock *l, int core, const char *what) {
	if (lock_try(l, core)) return;
	for (;;) {
		if (atomic_exchange(&l->state, 2) == 0) {
			own(l, core);
			return;
		}
		struct timespec ts = {0, 200 * 1000 * 1000};
		if (syscall(SYS_futex, &l->state, FUTEX_WAIT, 2, &ts, NULL, 0) < 0 && errno == ETIMEDOUT &&
		    take_from_dead(l, what)) {
			atomic_store(&l->core, core);
			return;
		}
	}
}

/* ------------------------------------------------------------ the area */

typedef struct cache_hdr {
	shm_lock lock;
	uint64_t fresh_used; /* slots taken from the never-used ones, handed out from items-1 down */
	uint64_t free_top;   /* entries in the free stack */
	uint64_t n_items;
	uint64_t hits, miss, full;
} cache_hdr;

typedef struct item {
	uint64_t keysize; /* 0: a free slot */
	uint64_t hash;
	uint64_t valsize;
	uint64_t expires; /* Unix time in seconds; 0: never */
	uint64_t hits;
	uint64_t prev, next; /* the bucket's chain */
	uint64_t flags;
	char key[];
} item;

typedef struct cache {
	uw_shm_cache_desc d;
	cache_hdr *h;
	uint64_t *hash, *stack;
	char *slots, *data;
} cache;

static struct {
	char *base;
	uint64_t size;
	int nlocks;
	shm_lock *locks;
	int ncaches;
	cache *caches;
} shm;

static shm_lock private_lock0; /* when no area was attached (pyhost's own tests) */

int uw_shm_attach(void *base, uint64_t size, int nlocks, uint64_t locks_off, int ncaches,
                  const uw_shm_cache_desc *caches) {
	if (nlocks < 1 || locks_off + (uint64_t)nlocks * 64 > size) return -1;
	cache *cs = calloc((size_t)ncaches + 1, sizeof *cs);
	if (!cs) return -1;
	char *b = base;
	for (int i = 0; i < ncaches; i++) {
		const uw_shm_cache_desc *d = &caches[i];
		if (d->items < 2 || d->stride < sizeof(item) + d->keysize || d->data + d->items * d->blocksize > size ||
		    sizeof(cache_hdr) > 64) {
			free(cs);
			return -1;
		}
		cs[i].d = *d;
		cs[i].d.name = strdup(d->name);
		cs[i].h = (cache_hdr *)(b + d->hdr);
		cs[i].hash = (uint64_t *)(b + d->hash);
		cs[i].stack = (uint64_t *)(b + d->stack);
		cs[i].slots = b + d->slots;
		cs[i].data = b + d->data;
	}
	shm.base = b;
	shm.size = size;
	shm.nlocks = nlocks;
	shm.locks = (shm_lock *)(b + locks_off);
	shm.ncaches = ncaches;
	shm.caches = cs;
	return 0;
}

/* -------------------------------------------------------- user locks */

static int user_lock_num(PyObject *args, const char *fmt) {
	int n = 0;
	if (!PyArg_ParseTuple(args, fmt, &n)) return -1;
	if (n < 0 || n >= shm.nlocks) {
		if (shm.nlocks <= 1)
			PyErr_Format(PyExc_ValueError, "Invalid lock number %d: there is only lock 0 (start with --locks N for locks 1 to N)", n);
		else
			PyErr_Format(PyExc_ValueError, "Invalid lock number %d: the locks are 0 to %d (--locks %d)", n,
			             shm.nlocks - 1, shm.nlocks - 1);
		return -1;
	}
	return n;
}

static PyObject *gevent_sleep_fn;

/* the lock is held elsewhere: wait the way the caller can */
static int user_lock_wait(shm_lock *l, int n) {
	uw_core *c = uw_current_core();
	int core = c ? c->id + 1 : 0;
	int on_hub = PyThreadState_GET() == uw_g.tstate;
	if (atomic_load(&l->pid) == my_pid && atomic_load(&l->tid) == self_tid() &&
	    (atomic_load(&l->core) == core || !(c && uw_eng->suspend) || !on_hub) && uw_eng != &uw_engine_gevent) {
		/* the holder is this very request, or one that cannot run while this one waits */
		PyErr_Format(PyExc_RuntimeError,
		             "uwsgi.lock(%d): lock %d is held by %s: waiting would hang this worker (unlock it first)", n, n,
		             atomic_load(&l->core) == core ? "this request already" : "another request of this thread, which cannot run while this one waits");
		return -1;
	}
	if (c && uw_eng->suspend && !uw_eng->threaded && on_hub) {
		/* a green core: park on a short timer and try again; the other
		 * requests (the holder among them, maybe) run meanwhile */
		int ms = 1;
		while (!lock_try(l, core)) {
			char what[32];
			snprintf(what, sizeof what, "lock %d", n);
			if (take_from_dead(l, what)) {
				atomic_store(&l->core, core);
				break;
			}
			c->timeout_ms = ms;
			uw_core_suspend(c);
			if (ms < 16) ms *= 2;
		}
		return 0;
	}
	if (uw_eng == &uw_engine_gevent && on_hub) {
		if (!gevent_sleep_fn) {
			PyObject *g = PyImport_ImportModule("gevent");
			gevent_sleep_fn = g ? PyObject_GetAttrString(g, "sleep") : NULL;
			Py_XDECREF(g);
			if (!gevent_sleep_fn) return -1;
		}
		double secs = 0.001;
		while (!lock_try(l, 0)) {
			char what[32];
			snprintf(what, sizeof what, "lock %d", n);
			if (take_from_dead(l, what)) break;
			PyObject *r = PyObject_CallFunction(gevent_sleep_fn, "d", secs);
			if (!r) return -1;
			Py_DECREF(r);
			if (secs < 0.016) secs *= 2;
		}
		return 0;
	}
	char what[32];
	snprintf(what, sizeof what, "lock %d", n);
	Py_BEGIN_ALLOW_THREADS
	lock_block(l, core, what);
	Py_END_ALLOW_THREADS
	return 0;
}

static PyObject *shm_lock_fn(PyObject *self, PyObject *args) {
	(void)self;
	int n = user_lock_num(args, "|i:lock");
	if (n < 0) return NULL;
	shm_lock *l = &shm.locks[n];
	uw_core *c = uw_current_core();
	if (!lock_try(l, c ? c->id + 1 : 0) && user_lock_wait(l, n) < 0) return NULL;
	Py_RETURN_NONE;
}

static PyObject *shm_unlock_fn(PyObject *self, PyObject *args) {
	(void)self;
	int n = user_lock_num(args, "|i:unlock");
	if (n < 0) return NULL;
	shm_lock *l = &shm.locks[n];
	if (atomic_load(&l->state)) lock_release(l);
	Py_RETURN_NONE;
}

static PyObject *shm_is_locked_fn(PyObject *self, PyObject *args) {
	(void)self;
	int n = user_lock_num(args, "|i:is_locked");
	if (n < 0) return NULL;
	if (atomic_load(&shm.locks[n].state)) Py_RETURN_TRUE;
	Py_RETURN_FALSE;
}

/* ------------------------------------------------------------ caches */

enum { F_UPDATE = 1, F_MATH = 2, F_FIXEXPIRE = 4, F_INC = 8, F_DEC = 16, F_MUL = 32, F_DIV = 64 };

static cache *cache_named(const char *name) {
	if (!name || !*name) return shm.ncaches ? &shm.caches[0] : NULL;
	if (strchr(name, '@')) {
		static int said;
		if (!said++)
			fprintf(stderr, "*** uwsgo: remote caches (%s: name@server) are not supported: the call returns None ***\n", name);
		return NULL;
	}
	for (int i = 0; i < shm.ncaches; i++)
		if (!strcmp(shm.caches[i].d.name, name)) return &shm.caches[i];
	return NULL;
}

static void cache_lock(cache *c) {
	if (lock_try(&c->h->lock, 0)) return;
	char what[300];
	snprintf(what, sizeof what, "the lock of cache \"%.256s\"", c->d.name);
	Py_BEGIN_ALLOW_THREADS
	lock_block(&c->h->lock, 0, what);
	Py_END_ALLOW_THREADS
}

static void cache_unlock(cache *c) { lock_release(&c->h->lock); }

static item *slot_at(cache *c, uint64_t i) { return (item *)(c->slots + i * c->d.stride); }
static char *block_of(cache *c, uint64_t i) { return c->data + i * c->d.blocksize; }

/* Bernstein's hash as uWSGI computes it (bytes as signed chars) */
static uint32_t djb33x(const char *key, size_t len) {
	uint32_t h = 5381;
	for (size_t i = 0; i < len; i++) h = ((h << 5) + h) ^ (uint32_t)(int32_t)(signed char)key[i];
	return h;
}

static void del_slot(cache *c, uint64_t s) {
	item *it = slot_at(c, s);
	if (it->keysize) {
		if (c->h->free_top < c->d.items) c->stack[c->h->free_top++] = s;
		if (it->prev)
			slot_at(c, it->prev)->next = it->next;
		else
			c->hash[it->hash % c->d.hashsize] = it->next;
		if (it->next) slot_at(c, it->next)->prev = it->prev;
		c->h->n_items--;
	}
	it->keysize = it->valsize = it->hash = it->prev = it->next = it->expires = 0;
}

static int expired(const item *it, uint64_t now) { return it->expires && it->expires <= now; }

/* the slot holding key, 0 if none; an expired key is deleted on the way */
static uint64_t find(cache *c, const char *key, size_t klen, uint32_t hv, uint64_t now) {
	uint64_t s = c->hash[hv % c->d.hashsize], rounds = 0;
	while (s && s < c->d.items) {
		item *it = slot_at(c, s);
		if (it->hash == hv && it->keysize == klen && !memcmp(it->key, key, klen)) {
			if (expired(it, now)) {
				del_slot(c, s);
				return 0;
			}
			return s;
		}
		s = it->next;
		if (++rounds > c->d.items) {
			fprintf(stderr, "!!! cache \"%s\": a loop in the hash chain (the cache is damaged) !!!\n", c->d.name);
			return 0;
		}
	}
	return 0;
}

static uint64_t alloc_slot(cache *c) {
	cache_hdr *h = c->h;
	if (h->free_top > 0) return c->stack[--h->free_top];
	if (h->fresh_used < c->d.items - 1) return c->d.items - 1 - h->fresh_used++;
	return 0;
}

static uint64_t sweep(cache *c, uint64_t now) {
	uint64_t n = 0;
	for (uint64_t i = 1; i < c->d.items; i++) {
		item *it = slot_at(c, i);
		if (it->keysize && expired(it, now)) {
			del_slot(c, i);
			n++;
		}
	}
	return n;
}

static int64_t do_math(int64_t num, int64_t d, int flags) {
	if (flags & F_INC) return (int64_t)((uint64_t)num + (uint64_t)d);
	if (flags & F_DEC) return (int64_t)((uint64_t)num - (uint64_t)d);
	if (flags & F_MUL) return (int64_t)((uint64_t)num * (uint64_t)d);
	if (d == 0) return 0;
	if (num == INT64_MIN && d == -1) return INT64_MIN;
	return num / d;
}

enum { SET_OK = 0, SET_NO = -1, SET_TOO_BIG = -2, SET_FULL = -3 };

/* uWSGI's cache_set2: a new key is stored; an existing one only with
 * F_UPDATE; math (8-byte values) works on the int64 at the block's start */
static int cache_store(cache *c, const char *key, size_t klen, const char *val, size_t vlen, uint64_t expires,
                       int flags) {
	if (!klen || !vlen || klen > c->d.keysize) return SET_NO;
	if (vlen > c->d.blocksize) return SET_TOO_BIG;
	uint64_t now = (uint64_t)time(NULL);
	uint32_t hv = djb33x(key, klen);
	uint64_t s = find(c, key, klen, hv, now);
	int64_t num;
	if (!s) {
		s = alloc_slot(c);
		if (!s && sweep(c, now)) s = alloc_slot(c);
		if (!s) {
			c->h->full++;
			return SET_FULL;
		}
		item *it = slot_at(c, s);
		it->expires = expires ? expires + now : 0;
		it->hash = hv;
		it->hits = 0;
		it->flags = (uint64_t)flags;
		memcpy(it->key, key, klen);
		if (flags & F_MATH) {
			int64_t d;
			memcpy(&d, val, 8);
			num = do_math(c->d.math_initial, d, flags);
			memcpy(block_of(c, s), &num, 8);
		} else {
			memcpy(block_of(c, s), val, vlen);
		}
		it->valsize = vlen;
		it->keysize = klen;
		it->prev = it->next = 0;
		uint64_t *head = &c->hash[hv % c->d.hashsize];
		if (!*head) {
			*head = s;
		} else {
			uint64_t last = *head;
			while (slot_at(c, last)->next) last = slot_at(c, last)->next;
			slot_at(c, last)->next = s;
			it->prev = last;
		}
		c->h->n_items++;
		return SET_OK;
	}
	if (!(flags & F_UPDATE)) return SET_NO;
	item *it = slot_at(c, s);
	if (!(flags & F_FIXEXPIRE)) it->expires = expires ? expires + now : 0;
	if (flags & F_MATH) {
		int64_t d;
		memcpy(&num, block_of(c, s), 8);
		memcpy(&d, val, 8);
		num = do_math(num, d, flags);
		memcpy(block_of(c, s), &num, 8);
	} else {
		memcpy(block_of(c, s), val, vlen);
	}
	it->valsize = vlen;
	return SET_OK;
}

static PyObject *set_result(cache *c, int r, const char *fn, const char *key, Py_ssize_t klen, Py_ssize_t vlen) {
	if (r == SET_OK) Py_RETURN_TRUE;
	if (r == SET_TOO_BIG)
		fprintf(stderr, "uwsgi.%s(%.*s%s): the value is %zd bytes, more than the blocksize of cache \"%s\" (%llu): not stored\n",
		        fn, (int)(klen > 64 ? 64 : klen), key, klen > 64 ? "..." : "", vlen, c->d.name,
		        (unsigned long long)c->d.blocksize);
	if (r == SET_FULL && !c->d.ignore_full) fprintf(stderr, "*** DANGER cache \"%s\" is FULL !!! ***\n", c->d.name);
	Py_RETURN_NONE;
}

static PyObject *set_common(PyObject *args, const char *fmt, const char *fn, int flags) {
	const char *key, *val, *name = NULL;
	Py_ssize_t klen = 0, vlen = 0;
	long expires = 0;
	if (!PyArg_ParseTuple(args, fmt, &key, &klen, &val, &vlen, &expires, &name)) return NULL;
	cache *c = cache_named(name);
	if (!c) Py_RETURN_NONE;
	cache_lock(c);
	int r = cache_store(c, key, (size_t)klen, val, (size_t)vlen, (uint64_t)expires, flags);
	cache_unlock(c);
	return set_result(c, r, fn, key, klen, vlen);
}

static PyObject *shm_cache_set(PyObject *self, PyObject *args) {
	(void)self;
	return set_common(args, "s#s#|ls:cache_set", "cache_set", 0);
}

static PyObject *shm_cache_update(PyObject *self, PyObject *args) {
	(void)self;
	return set_common(args, "s#s#|ls:cache_update", "cache_update", F_UPDATE);
}

static PyObject *math_common(PyObject *args, const char *fmt, const char *fn, int op, long dflt) {
	const char *key, *name = NULL;
	Py_ssize_t klen = 0;
	long delta = dflt, expires = 0;
	if (!PyArg_ParseTuple(args, fmt, &key, &klen, &delta, &expires, &name)) return NULL;
	cache *c = cache_named(name);
	if (!c) Py_RETURN_NONE;
	int64_t d = delta;
	char v[8];
	memcpy(v, &d, 8);
	cache_lock(c);
	int r = cache_store(c, key, (size_t)klen, v, 8, (uint64_t)expires, F_UPDATE | F_MATH | F_FIXEXPIRE | op);
	cache_unlock(c);
	return set_result(c, r, fn, key, klen, 8);
}

static PyObject *shm_cache_inc(PyObject *self, PyObject *args) {
	(void)self;
	return math_common(args, "s#|lls:cache_inc", "cache_inc", F_INC, 1);
}
static PyObject *shm_cache_dec(PyObject *self, PyObject *args) {
	(void)self;
	return math_common(args, "s#|lls:cache_dec", "cache_dec", F_DEC, 1);
}
static PyObject *shm_cache_mul(PyObject *self, PyObject *args) {
	(void)self;
	return math_common(args, "s#|lls:cache_mul", "cache_mul", F_MUL, 2);
}
static PyObject *shm_cache_div(PyObject *self, PyObject *args) {
	(void)self;
	return math_common(args, "s#|lls:cache_div", "cache_div", F_DIV, 2);
}

/* the value of key, copied out of the cache; *out is buf or malloc'd */
static int cache_copy(cache *c, const char *key, size_t klen, char *buf, size_t bufsz, char **out, size_t *len) {
	int found = 0;
	*out = NULL;
	if (!klen || klen > c->d.keysize) {
		c->h->miss++;
		return 0;
	}
	uint64_t s = find(c, key, klen, djb33x(key, klen), (uint64_t)time(NULL));
	if (s) {
		item *it = slot_at(c, s);
		*len = it->valsize;
		*out = *len <= bufsz ? buf : malloc(*len);
		if (*out) {
			memcpy(*out, block_of(c, s), *len);
			it->hits++;
			c->h->hits++;
			found = 1;
		}
	} else {
		c->h->miss++;
	}
	return found;
}

static PyObject *shm_cache_get(PyObject *self, PyObject *args) {
	(void)self;
	const char *key, *name = NULL;
	Py_ssize_t klen = 0;
	if (!PyArg_ParseTuple(args, "s#|s:cache_get", &key, &klen, &name)) return NULL;
	cache *c = cache_named(name);
	if (!c) Py_RETURN_NONE;
	char buf[1024], *v;
	size_t len = 0;
	cache_lock(c);
	int found = cache_copy(c, key, (size_t)klen, buf, sizeof buf, &v, &len);
	cache_unlock(c);
	if (!found) {
		if (!v && len) return PyErr_NoMemory();
		Py_RETURN_NONE;
	}
	PyObject *r = PyBytes_FromStringAndSize(v, (Py_ssize_t)len);
	if (v != buf) free(v);
	return r;
}

static PyObject *shm_cache_num(PyObject *self, PyObject *args) {
	(void)self;
	const char *key, *name = NULL;
	Py_ssize_t klen = 0;
	if (!PyArg_ParseTuple(args, "s#|s:cache_num", &key, &klen, &name)) return NULL;
	cache *c = cache_named(name);
	int64_t num = 0;
	if (c) {
		char buf[1024], *v;
		size_t len = 0;
		cache_lock(c);
		int found = cache_copy(c, key, (size_t)klen, buf, sizeof buf, &v, &len);
		cache_unlock(c);
		if (found && len == 8) memcpy(&num, v, 8);
		if (v && v != buf) free(v);
	}
	return PyLong_FromLongLong(num);
}

static PyObject *shm_cache_exists(PyObject *self, PyObject *args) {
	(void)self;
	const char *key, *name = NULL;
	Py_ssize_t klen = 0;
	if (!PyArg_ParseTuple(args, "s#|s:cache_exists", &key, &klen, &name)) return NULL;
	cache *c = cache_named(name);
	if (!c || !klen || (uint64_t)klen > c->d.keysize) Py_RETURN_NONE;
	cache_lock(c);
	uint64_t s = find(c, key, (size_t)klen, djb33x(key, (size_t)klen), (uint64_t)time(NULL));
	cache_unlock(c);
	if (s) Py_RETURN_TRUE;
	Py_RETURN_NONE;
}

static PyObject *shm_cache_del(PyObject *self, PyObject *args) {
	(void)self;
	const char *key, *name = NULL;
	Py_ssize_t klen = 0;
	if (!PyArg_ParseTuple(args, "s#|s:cache_del", &key, &klen, &name)) return NULL;
	cache *c = cache_named(name);
	if (!c || !klen || (uint64_t)klen > c->d.keysize) Py_RETURN_NONE;
	cache_lock(c);
	uint64_t s = find(c, key, (size_t)klen, djb33x(key, (size_t)klen), (uint64_t)time(NULL));
	if (s) del_slot(c, s);
	cache_unlock(c);
	if (s) Py_RETURN_TRUE;
	Py_RETURN_NONE;
}

static PyObject *shm_cache_clear(PyObject *self, PyObject *args) {
	(void)self;
	const char *name = NULL;
	if (!PyArg_ParseTuple(args, "|s:cache_clear", &name)) return NULL;
	cache *c = cache_named(name);
	if (!c) Py_RETURN_NONE;
	cache_lock(c);
	for (uint64_t i = 1; i < c->d.items; i++)
		if (slot_at(c, i)->keysize) del_slot(c, i);
	cache_unlock(c);
	Py_RETURN_TRUE;
}

/* cache_keys: in uWSGI's order (bucket by bucket, each chain in order) */
static PyObject *shm_cache_keys(PyObject *self, PyObject *args) {
	(void)self;
	const char *name = NULL;
	if (!PyArg_ParseTuple(args, "|s:cache_keys", &name)) return NULL;
	cache *c = cache_named(name);
	if (!c) return PyErr_Format(PyExc_ValueError, "no local uWSGI cache available");
	uint64_t now = (uint64_t)time(NULL);
	cache_lock(c);
	size_t total = 0, n = 0;
	for (uint64_t b = 0; b < c->d.hashsize; b++)
		for (uint64_t s = c->hash[b], r = 0; s && s < c->d.items && r <= c->d.items; s = slot_at(c, s)->next, r++)
			if (!expired(slot_at(c, s), now)) total += slot_at(c, s)->keysize, n++;
	/* lengths then keys, back to back */
	char *buf = malloc(n * sizeof(size_t) + total + 1);
	if (buf) {
		size_t *lens = (size_t *)buf, i = 0;
		char *p = buf + n * sizeof(size_t);
		for (uint64_t b = 0; b < c->d.hashsize && i < n; b++)
			for (uint64_t s = c->hash[b], r = 0; s && s < c->d.items && r <= c->d.items && i < n;
			     s = slot_at(c, s)->next, r++) {
				item *it = slot_at(c, s);
				if (expired(it, now)) continue;
				lens[i++] = it->keysize;
				memcpy(p, it->key, it->keysize);
				p += it->keysize;
			}
	}
	cache_unlock(c);
	if (!buf) return PyErr_NoMemory();
	PyObject *l = PyList_New((Py_ssize_t)n);
	const size_t *lens = (const size_t *)buf;
	const char *p = buf + n * sizeof(size_t);
	for (size_t i = 0; l && i < n; i++) {
		PyObject *k = PyBytes_FromStringAndSize(p, (Py_ssize_t)lens[i]);
		if (!k) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, k);
		p += lens[i];
	}
	free(buf);
	return l;
}

static PyMethodDef shm_methods[] = {
	{"lock", shm_lock_fn, METH_VARARGS, "lock(n=0): take user lock n, shared by every worker (--locks N)"},
	{"unlock", shm_unlock_fn, METH_VARARGS, "unlock(n=0): release user lock n"},
	{"is_locked", shm_is_locked_fn, METH_VARARGS, "is_locked(n=0): whether user lock n is held"},
	{"cache_get", shm_cache_get, METH_VARARGS, "cache_get(key, cache=None): the value (bytes) or None"},
	{"cache_set", shm_cache_set, METH_VARARGS, "cache_set(key, value, expires=0, cache=None): store a new key; True, or None"},
	{"cache_update", shm_cache_update, METH_VARARGS, "cache_update(key, value, expires=0, cache=None): store; True, or None"},
	{"cache_del", shm_cache_del, METH_VARARGS, "cache_del(key, cache=None): True if it was there, else None"},
	{"cache_exists", shm_cache_exists, METH_VARARGS, "cache_exists(key, cache=None): True, or None"},
	{"cache_clear", shm_cache_clear, METH_VARARGS, "cache_clear(cache=None): empty the cache; True, or None"},
	{"cache_keys", shm_cache_keys, METH_VARARGS, "cache_keys(cache=None): the keys (bytes)"},
	{"cache_inc", shm_cache_inc, METH_VARARGS, "cache_inc(key, delta=1, expires=0, cache=None): add to the 64-bit number"},
	{"cache_dec", shm_cache_dec, METH_VARARGS, "cache_dec(key, delta=1, expires=0, cache=None): subtract"},
	{"cache_mul", shm_cache_mul, METH_VARARGS, "cache_mul(key, factor=2, expires=0, cache=None): multiply"},
	{"cache_div", shm_cache_div, METH_VARARGS, "cache_div(key, divisor=2, expires=0, cache=None): divide (by 0: 0)"},
	{"cache_num", shm_cache_num, METH_VARARGS, "cache_num(key, cache=None): the 64-bit number, 0 if none"},
	{NULL, NULL, 0, NULL},
};

int uw_api_shm_init(PyObject *m) {
	static int once;
	if (!once++) {
		my_pid = getpid();
		pthread_atfork(NULL, NULL, after_fork_child);
	}
	if (!shm.locks) {
		shm.nlocks = 1;
		shm.locks = &private_lock0;
	}
	return PyModule_AddFunctions(m, shm_methods);
}
