/*
 * Cores and the hub as the C side sees them. The hub's Go code reads and
 * writes these structs directly (they live in C memory), so that handing
 * output, waits and wake-ups across costs no cgo call.
 */
#ifndef UWSGO_CORE_H
#define UWSGO_CORE_H

#include <stddef.h>
#include <stdint.h>

/* engines: indexes into uw_engines[] (engine.c) */
enum { UW_ENGINE_ASYNC = 0, UW_ENGINE_UGREEN = 1, UW_ENGINE_GREENLET = 2, UW_ENGINE_GEVENT = 3, UW_ENGINE_THREADS = 4,
       UW_ENGINE_COUNT };

/* core states */
enum { UW_FREE = 0, UW_RUNNABLE = 1, UW_RUNNING = 2, UW_PARKED = 3 };

/* event bits: what the hub's Go code must look at after uw_run */
enum {
	UW_EV_OUT = 1,  /* head and/or output bytes are ready */
	UW_EV_WAIT = 2, /* the core parked on fds and/or a timeout */
	UW_EV_DONE = 4, /* the request finished */
	UW_EV_FILE = 8  /* a file to send (wsgi.file_wrapper) */
};

/* wait modes */
enum { UW_WAIT_READ = 1, UW_WAIT_WRITE = 2 };

#define UW_MAX_WAIT_FDS 32

/* the app id of a core that runs a signal handler (a job) instead of a
 * request: the uwsgi module's _signal_run (pyapi/20_signal.py) */
#define UW_APP_SIGNAL (-2)

typedef struct uw_core {
	int id;
	int app; /* which of the worker's apps serves the request (set by Go) */
	int conn_fd; /* the client's connection, uwsgi.connection_fd() (set by Go; -1: none) */
	int state;
	int events;    /* UW_EV_* bits not yet consumed by Go */
	int in_events; /* already listed in uw_hub.events */

	/* head: "status\0name\0value\0..." latin-1, ready when head_len > 0 */
	char *head;
	size_t head_len;
	int head_count; /* number of headers */
	int head_taken; /* Go has taken the head */

	/* output bytes not yet taken by Go */
	char *out;
	size_t out_len, out_cap;

	/* wsgi.file_wrapper over a real file: Go sends it and closes file_fd */
	int file_fd;
	int64_t file_off, file_count;

	/* waits requested by the app since it last ran */
	int wait_fd[UW_MAX_WAIT_FDS];
	int wait_mode[UW_MAX_WAIT_FDS];
	int nwait;
	int64_t timeout_ms; /* -1: none */
	/* why the core was resumed: set by Go before waking it */
	int ready_fd;  /* -1: none */
	int timed_out; /* the timeout passed before any fd was ready */

	int failed; /* the app failed before committing the head: answer 500 */
	int aborted; /* the client went away: stop iterating */
	int hold;    /* set by Go: the client is slow, do not run until resumed */
	/* uwsgi.disconnect(): 1 asked (Go ends the response with what was
	 * sent, and closes), 2 done (Go drops what the core produces next) */
	int disconnect;
	long switches;

	void *py; /* struct uw_pycore: Python-side state (opaque to Go) */
} uw_core;

typedef struct uw_hub {
	int ncores;
	uw_core *cores;
	/* runqueue: a ring of core ids */
	int *runq;
	int rq_head, rq_len;
	/* cores with events for Go, filled by uw_run */
	int *events;
	int nevents;
	/* set (non-zero) by Go when the mailbox has work: makes uw_run return */
	volatile int mailbox_pending;
	/* set by Go: return from uw_run after this many rounds with no events */
	int max_rounds;
} uw_hub;

extern uw_hub uw_the_hub;

#endif
