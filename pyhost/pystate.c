/*
 * The one file that reads and writes PyThreadState's fields. The gates
 * (UW_PY_*) and their reasons are in pystate.h. Written from CPython's
 * Include/cpython/pystate.h of each version and from what greenlet
 * (TPythonState.cpp) saves per greenlet.
 */
#include <patchlevel.h>
#if PY_VERSION_HEX >= 0x030D0000
/* 3.13's frame links and 3.14's stack bounds are in internal structs */
#define Py_BUILD_CORE 1
#endif
#include "pystate.h"
#if UW_PY_STACK_BOUNDS
#include <internal/pycore_pythonrun.h> /* _PyOS_STACK_MARGIN_BYTES */
#include <internal/pycore_tstate.h>
#endif
#if UW_PY_OWN_TRACEBACK
#if PY_VERSION_HEX >= 0x030E0000
#include <internal/pycore_interpframe_structs.h>
#else
#include <internal/pycore_frame.h>
#endif
#endif

#include <string.h>
#include <unistd.h>

/* 3.12.0 spells it without the Py_ prefix */
#if UW_PY_C_RECURSION && !defined(Py_C_RECURSION_LIMIT) && defined(C_RECURSION_LIMIT)
#define Py_C_RECURSION_LIMIT C_RECURSION_LIMIT
#endif

static PyThreadState *hub_ts;

void uw_pystate_bind(PyThreadState *ts) { hub_ts = ts; }

/* ------------------------------------------------------- stack bounds */

#if UW_PY_STACK_BOUNDS
/* CPython leaves this much below the soft limit for the RecursionError's
 * own work, and as much again below the hard one. A small green stack
 * (--ugreen-stacksize 8) gets proportionally smaller margins rather than
 * none to run in. */
#ifdef _PyOS_STACK_MARGIN_BYTES
#define UW_STACK_MARGIN ((uintptr_t)_PyOS_STACK_MARGIN_BYTES)
#else
#define UW_STACK_MARGIN ((uintptr_t)(2048 * sizeof(void *)))
#endif

static void bounds_for(uw_cstack *b, const char *lo, const char *hi) {
	uintptr_t base = (uintptr_t)lo, top = (uintptr_t)hi;
	uintptr_t margin = UW_STACK_MARGIN;
	if (margin > (top - base) / 8) margin = (top - base) / 8;
	b->top = top;
	b->hard_limit = base + margin;
	b->soft_limit = base + 2 * margin;
}

static inline void bounds_save(uw_cstack *b, PyThreadState *ts) {
	_PyThreadStateImpl *t = (_PyThreadStateImpl *)ts;
	b->top = t->c_stack_top;
	b->soft_limit = t->c_stack_soft_limit;
	b->hard_limit = t->c_stack_hard_limit;
}

static inline void bounds_load(const uw_cstack *b, PyThreadState *ts) {
	_PyThreadStateImpl *t = (_PyThreadStateImpl *)ts;
	t->c_stack_top = b->top;
	t->c_stack_soft_limit = b->soft_limit;
	t->c_stack_hard_limit = b->hard_limit;
}
#endif

void uw_pystate_enter_stack(uw_cstack *saved, const char *lo, const char *hi) {
#if UW_PY_STACK_BOUNDS
	uw_cstack b;
	bounds_save(saved, hub_ts);
	bounds_for(&b, lo, hi);
	bounds_load(&b, hub_ts);
#else
	(void)saved;
	(void)lo;
	(void)hi;
#endif
}

void uw_pystate_leave_stack(const uw_cstack *saved) {
#if UW_PY_STACK_BOUNDS
	bounds_load(saved, hub_ts);
#else
	(void)saved;
#endif
}

/* ---------------------------------------------------- per-request state */

/* moves a reference between the thread state and a saved slot */
static inline void exchange(PyObject **a, PyObject **b) {
	PyObject *t = *a;
	*a = *b;
	*b = t;
}

static inline void swap_local(uw_tlocal *l, PyThreadState *ts) {
	exchange(&l->dict, &ts->dict);
#if UW_PY_LOCAL_KEY
	exchange(&l->key, &ts->threading_local_key);
	exchange(&l->sentinel, &ts->threading_local_sentinel);
#endif
}

void uw_pystate_swap_local(uw_tlocal *local) { swap_local(local, hub_ts); }

void uw_pystate_swap_request(PyObject **context, uw_tlocal *local) {
	PyThreadState *ts = hub_ts;
	exchange(context, &ts->context);
	ts->context_ver++; /* contextvars caches lookups by this version */
	swap_local(local, ts);
}

void uw_pystate_drop_context(void) { Py_CLEAR(hub_ts->context); }

/* ----------------------------------------------------- the whole switch */

void uw_pystate_fresh(uw_pystate *st, const char *lo, const char *hi) {
	memset(st, 0, sizeof *st);
#if UW_PY_CFRAME
	/* a bottom C frame of its own (as greenlet gives each greenlet),
	 * linked to the thread's root so that unwinding ends there */
	PyThreadState *ts = hub_ts;
	st->root_cframe.current_frame = NULL;
	st->root_cframe.previous = &ts->root_cframe;
#if UW_PY_CFRAME_TRACING
	st->root_cframe.use_tracing = ts->cframe->use_tracing;
	st->use_tracing = st->root_cframe.use_tracing;
#endif
	st->cframe = &st->root_cframe;
#endif
	st->exc_info = &st->exc_bottom;
#if UW_PY_STACK_BOUNDS
	bounds_for(&st->stack, lo, hi);
#else
	(void)lo;
	(void)hi;
#endif
}

static inline void save(uw_pystate *st, PyThreadState *ts) {
#if UW_PY_CFRAME
	st->cframe = ts->cframe;
#if UW_PY_CFRAME_TRACING
	st->use_tracing = ts->cframe->use_tracing;
#endif
#else
	st->current_frame = ts->current_frame;
#endif
#if UW_PY_SPLIT_RECURSION
	st->py_recursion_depth = ts->py_recursion_limit - ts->py_recursion_remaining;
#else
	st->py_recursion_depth = ts->recursion_limit - ts->recursion_remaining;
#endif
#if UW_PY_C_RECURSION
	st->c_recursion_depth = Py_C_RECURSION_LIMIT - ts->c_recursion_remaining;
#endif
#if UW_PY_STACK_BOUNDS
	bounds_save(&st->stack, ts);
#endif
#if UW_PY_EXECUTOR
	st->current_executor = ts->current_executor;
#endif
	st->datastack_chunk = ts->datastack_chunk;
	st->datastack_top = ts->datastack_top;
	st->datastack_limit = ts->datastack_limit;
	st->exc_info = ts->exc_info;
	/* references move out of the thread state: restore puts them back */
	st->context = ts->context;
	ts->context = NULL;
	st->local.dict = ts->dict;
	ts->dict = NULL;
#if UW_PY_LOCAL_KEY
	st->local.key = ts->threading_local_key;
	ts->threading_local_key = NULL;
	st->local.sentinel = ts->threading_local_sentinel;
	ts->threading_local_sentinel = NULL;
#endif
#if UW_PY_TRASH_STRUCT
	st->trash_delete_nesting = ts->trash.delete_nesting;
	st->trash_delete_later = ts->trash.delete_later;
#elif UW_PY_DELETE_LATER
	st->trash_delete_later = ts->delete_later;
#else
	st->trash_delete_nesting = ts->trash_delete_nesting;
	st->trash_delete_later = ts->trash_delete_later;
#endif
#if UW_PY_CRITICAL_SECTION
	st->critical_section = ts->critical_section;
#endif
}

static inline void load(uw_pystate *st, PyThreadState *ts) {
#if UW_PY_CFRAME
	ts->cframe = st->cframe;
#if UW_PY_CFRAME_TRACING
	ts->cframe->use_tracing = st->use_tracing;
#endif
#else
	ts->current_frame = st->current_frame;
#endif
#if UW_PY_SPLIT_RECURSION
	ts->py_recursion_remaining = ts->py_recursion_limit - st->py_recursion_depth;
#else
	ts->recursion_remaining = ts->recursion_limit - st->py_recursion_depth;
#endif
#if UW_PY_C_RECURSION
	ts->c_recursion_remaining = Py_C_RECURSION_LIMIT - st->c_recursion_depth;
#endif
#if UW_PY_STACK_BOUNDS
	bounds_load(&st->stack, ts);
#endif
#if UW_PY_EXECUTOR
	ts->current_executor = st->current_executor;
#endif
	ts->datastack_chunk = st->datastack_chunk;
	ts->datastack_top = st->datastack_top;
	ts->datastack_limit = st->datastack_limit;
	ts->exc_info = st->exc_info;
	/* normally NULL in the thread state: save moved them out */
	Py_XSETREF(ts->context, st->context);
	st->context = NULL;
	ts->context_ver++; /* contextvars caches lookups by this version */
	Py_XSETREF(ts->dict, st->local.dict);
	st->local.dict = NULL;
#if UW_PY_LOCAL_KEY
	Py_XSETREF(ts->threading_local_key, st->local.key);
	st->local.key = NULL;
	Py_XSETREF(ts->threading_local_sentinel, st->local.sentinel);
	st->local.sentinel = NULL;
#endif
#if UW_PY_TRASH_STRUCT
	ts->trash.delete_nesting = st->trash_delete_nesting;
	ts->trash.delete_later = st->trash_delete_later;
#elif UW_PY_DELETE_LATER
	ts->delete_later = st->trash_delete_later;
#else
	ts->trash_delete_nesting = st->trash_delete_nesting;
	ts->trash_delete_later = st->trash_delete_later;
#endif
#if UW_PY_CRITICAL_SECTION
	ts->critical_section = st->critical_section;
#endif
}

void uw_pystate_switch(uw_pystate *from, uw_pystate *to) {
	PyThreadState *ts = hub_ts;
	save(from, ts);
	load(to, ts);
}

/* ------------------------------------------------------ the traceback */

#if UW_PY_OWN_TRACEBACK
static void put(int fd, const char *s, size_t n) { (void)!write(fd, s, n); }
static void puts_(int fd, const char *s) { put(fd, s, strlen(s)); }

static void put_int(int fd, long v) {
	char buf[24], *p = buf + sizeof buf;
	int neg = v < 0;
	unsigned long u = neg ? (unsigned long)-v : (unsigned long)v;
	do *--p = (char)('0' + u % 10); while (u /= 10);
	if (neg) *--p = '-';
	put(fd, p, (size_t)(buf + sizeof buf - p));
}

/* a str, ASCII only (others as '?'), at most 200 characters */
static void put_str(int fd, PyObject *o) {
	if (!o || !PyUnicode_Check(o)) {
		puts_(fd, "???");
		return;
	}
	Py_ssize_t n = PyUnicode_GET_LENGTH(o);
	int kind = PyUnicode_KIND(o);
	const void *data = PyUnicode_DATA(o);
	char buf[200];
	size_t k = 0;
	for (Py_ssize_t i = 0; i < n && k < sizeof buf; i++) {
		Py_UCS4 ch = PyUnicode_READ(kind, data, i);
		buf[k++] = ch >= 32 && ch < 127 ? (char)ch : '?';
	}
	put(fd, buf, k);
}

void uw_pystate_dump_traceback(int fd, PyThreadState *ts) {
	if (!ts) return;
	puts_(fd, "Stack (most recent call first):\n");
	int depth = 0;
	for (struct _PyInterpreterFrame *f = ts->current_frame; f && depth < 100; f = f->previous) {
		/* frames the C stack owns (entry trampolines) have no code */
#if PY_VERSION_HEX >= 0x030E0000
		if (f->owner >= FRAME_OWNED_BY_INTERPRETER) continue;
#else
		if (f->owner == FRAME_OWNED_BY_CSTACK) continue;
#endif
		PyObject *code = PyUnstable_InterpreterFrame_GetCode(f); /* a new reference: the process is dying */
		if (!code || !PyCode_Check(code)) continue;
		PyCodeObject *co = (PyCodeObject *)code;
		puts_(fd, "  File \"");
		put_str(fd, co->co_filename);
		puts_(fd, "\", line ");
		put_int(fd, PyUnstable_InterpreterFrame_GetLine(f));
		puts_(fd, " in ");
		put_str(fd, co->co_name);
		puts_(fd, "\n");
		depth++;
	}
}
#else
/* CPython's own (pycore_traceback.h): what faulthandler calls */
PyAPI_FUNC(void) _Py_DumpTraceback(int fd, PyThreadState *tstate);

void uw_pystate_dump_traceback(int fd, PyThreadState *ts) {
	if (ts) _Py_DumpTraceback(fd, ts);
}
#endif
