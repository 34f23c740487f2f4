/*
 * What the C files of the interpreter glue share with each other (not
 * with Go: that is pyhost.h and core.h). Everything here runs on the
 * hub's OS thread with the GIL held; no Go code is ever called from it:
 * green stacks are not Go stacks. The one exception is websocket_recv()
 * in the default one-core mode (api_websocket.c), which has no green
 * stacks: it calls back into the hub to wait.
 */
#ifndef UWSGO_GLUE_H
#define UWSGO_GLUE_H

#include "pystate.h" /* first: it includes Python.h */

#include <signal.h>
#include <stddef.h>

#include "core.h"
#include "engine.h"
#include "pyhost.h"
#include "ugreen.h"

/* a core's Python side (uw_core.py) */
typedef struct uw_pycore {
	PyObject *app; /* the request's app (borrowed from uw_g.apps) */
	PyObject *environ;
	PyObject *result; /* what the app returned */
	PyObject *iter;
	PyObject *status, *headers; /* from start_response */
	PyObject *start_response;   /* per-core callable, reused */
	PyObject *write;            /* per-core write() callable, reused */
	int started;                /* the app has been called */
	int head_committed;         /* the head has been handed to Go */
	/* uGreen */
	ug_stack stack;
	ug_context ctx;
	uw_pystate py;
	int fresh; /* the green thread has not run yet */
	/* plain async: the request's contextvars context */
	PyObject *context;
	/* greenlet engine: the request's greenlet */
	PyObject *greenlet;
	/* plain async and greenlet: the core's threading.local storage */
	uw_tlocal local;
} uw_pycore;

struct uw_glue {
	uw_settings s;
	PyThreadState *tstate; /* the hub thread's */
	PyObject *apps[UW_MAX_APPS]; /* app 0 first, then --mount points, in load order */
	int napps;
	PyObject *version_tuple;
	PyObject *file_wrapper_type;
	PyObject *wait_read_fn, *wait_write_fn;
	PyObject *signal_app; /* runs a signal handler on a core (jobs: UW_APP_SIGNAL) */
	PyObject *empty_bytes;
	uw_core *current; /* the core running now, or NULL */
	int cores_ready;
};
extern struct uw_glue uw_g;

/* pyhost.c */
uw_core *uw_current_core(void);
void uw_runq_push(uw_core *c);
void uw_event(uw_core *c, int bits);
void uw_exception_line(char *err, size_t errlen, const char *prefix);
/* uw_core_suspend: the running core gives way, as its engine does it */
void uw_core_suspend(uw_core *c);

/* fault.c: one line, then death by the signal, for faults in Python's
 * code or in a guard page; other faults go on to Go's handler */
void uw_watch_faults(void);
extern volatile sig_atomic_t uw_in_python; /* the hub thread is inside a C entry point */

/* loopstack.c */
int uw_loop_stack_init(char *err, size_t errlen);
/* uw_on_loop_stack runs fn(arg) on the loop stack when the engine needs
 * it, else directly; every C entry point that runs Python goes through it */
void uw_on_loop_stack(void (*fn)(void *), void *arg);

/* wsgi.c */
extern PyTypeObject uw_start_response_type, uw_file_wrapper_type;
PyObject *uw_start_response_new(uw_core *c);
/* the whole request, on a core that can suspend anywhere */
void uw_wsgi_run_request(uw_core *c);
int uw_wsgi_commit_head(uw_core *c); /* the head goes out now (uwsgi.disconnect) */
/* plain async: one step; returns 0 when the request is over */
int uw_wsgi_step(uw_core *c);
/* the app failed: log the traceback; Go answers 500 or cuts the response */
void uw_wsgi_failed(uw_core *c);

/* wsgi.c: for api_websocket.c */
int uw_wsgi_commit_head(uw_core *c);
int uw_wsgi_emit_bytes(uw_core *c, const char *b, size_t n);

/* api_websocket.c */
int uw_ws_refused(int id);

/* input.c */
extern PyTypeObject uw_input_type;
PyObject *uw_input_new(const char *body, size_t len, int fd);

/* uwsgimodule.c */
PyObject *uw_uwsgimodule_init(void);

/* engine_gevent.c */
void uw_gevent_monkey_patch(void);
/* the core whose request greenlet runs now, or -1 */
int uw_gevent_current_core(void);
/* the core's head and output go to Go now (a greenlet about to wait) */
void uw_gevent_flush(uw_core *c);

#endif /* UWSGO_GLUE_H */
