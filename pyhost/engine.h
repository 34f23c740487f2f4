/*
 * An engine is how cores run and give way: one table of operations per
 * engine, each in its own file (engine_async.c, engine_ugreen.c,
 * engine_greenlet.c, engine_gevent.c), listed once in uw_engines[]
 * (engine.c). Nothing else in the glue asks which engine is running.
 */
#ifndef UWSGO_ENGINE_H
#define UWSGO_ENGINE_H

#include <stddef.h>

#include "core.h"

typedef struct uw_engine {
	const char *name;
	/* Python runs on the private loop stack, never on Go's g0 stack
	 * (loopstack.c says why) */
	int needs_loop_stack;
	/* uWSGI's async API (suspend, wait_fd_*, async_sleep) may be used:
	 * gevent forbids mixing it with its own */
	int async_api;
	/* why not, when it may not (uwsgi.%s() is filled in) */
	const char *no_async_api;
	/* requests run on threads of their own (--threads, threads.c): the
	 * entry points hand them over instead of running them here */
	int threaded;

	/* once, after the cores exist (on the loop stack when it is used) */
	int (*init)(char *err, size_t errlen);
	/* per core, before init: allocate what the core needs (may be NULL) */
	int (*core_init)(uw_core *c, char *err, size_t errlen);
	/* a request was put on core c: make it runnable */
	void (*start)(uw_core *c);
	/* run core c (from uw_run) until it gives way or finishes; a finished
	 * core is left in UW_FREE (may be NULL when the engine runs its own
	 * loop) */
	void (*resume)(uw_core *c);
	/* the running core c gives way to the others (NULL: it cannot: the
	 * app's next yield is where it gives way) */
	void (*suspend)(uw_core *c);
	/* the request on c is over and Go has taken its output (may be NULL) */
	void (*finish)(uw_core *c);

	/* engines with their own event loop (gevent): run it until the hub's
	 * eventfd fires or timeout_ms passes; rearm after Go drained it */
	void (*turn)(int timeout_ms);
	void (*rearm)(void);
} uw_engine;

/* the engines, by UW_ENGINE_* index */
extern const uw_engine *const uw_engines[UW_ENGINE_COUNT];
/* the engine in use, set by uw_start */
extern const uw_engine *uw_eng;

extern const uw_engine uw_engine_async, uw_engine_ugreen, uw_engine_greenlet, uw_engine_gevent, uw_engine_threads;

#endif /* UWSGO_ENGINE_H */
