/*
 * What CPython keeps in the thread state but uwsgo keeps per core: the
 * only place that knows PyThreadState's fields (pystate.c). Every field
 * that differs between the CPython versions uwsgo supports sits behind
 * one of the UW_PY_* gates below, with the reason beside it.
 */
#ifndef UWSGO_PYSTATE_H
#define UWSGO_PYSTATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* The versions whose thread state pystate.c was written against. A new
 * CPython must be read (Include/cpython/pystate.h, greenlet's
 * TPythonState.cpp) before it is let in. */
#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030F0000
#error "uwsgo supports CPython 3.11, 3.12, 3.13 and 3.14 only: the thread state it saves per green thread (pyhost/pystate.c) has not been checked against this version"
#endif

/* 3.11, 3.12: the running frame hangs off a _PyCFrame on the C stack,
 * tstate->cframe. 3.13 dropped _PyCFrame (gh-108035): the frame is
 * tstate->current_frame. */
#define UW_PY_CFRAME (PY_VERSION_HEX < 0x030D0000)
/* 3.11: use_tracing lives in the _PyCFrame; 3.12 traces through
 * sys.monitoring and dropped it (PEP 669). */
#define UW_PY_CFRAME_TRACING (PY_VERSION_HEX < 0x030C0000)
/* 3.12 splits the recursion counter in two: py_recursion_remaining for
 * Python calls, c_recursion_remaining for C calls (gh-91079). */
#define UW_PY_SPLIT_RECURSION (PY_VERSION_HEX >= 0x030C0000)
/* 3.14 drops c_recursion_remaining: C recursion is checked against stack
 * bounds kept in the thread state (_PyThreadStateImpl.c_stack_*,
 * gh-130396), so each green stack needs its own bounds. */
#define UW_PY_STACK_BOUNDS (PY_VERSION_HEX >= 0x030E0000)
#define UW_PY_C_RECURSION (UW_PY_SPLIT_RECURSION && !UW_PY_STACK_BOUNDS)
/* 3.12 moves the trashcan's nesting and list into tstate->trash; 3.13
 * counts nesting by C stack depth and keeps only tstate->delete_later. */
#define UW_PY_TRASH_STRUCT (PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000)
#define UW_PY_DELETE_LATER (PY_VERSION_HEX >= 0x030D0000)
#define UW_PY_TRASH_NESTING (!UW_PY_DELETE_LATER)
/* 3.13: threading.local no longer keeps its values in tstate->dict but
 * under a per-thread key object, tstate->threading_local_key (with a
 * sentinel whose death drops the values; gh-112538, for free threading).
 * 3.13 also adds tstate->critical_section (free threading's lock stack). */
#define UW_PY_LOCAL_KEY (PY_VERSION_HEX >= 0x030D0000)
#define UW_PY_CRITICAL_SECTION (PY_VERSION_HEX >= 0x030D0000)
/* 3.14: the JIT's executor running now (tstate->current_executor) is per
 * call stack; greenlet saves it from 3.14 on. */
#define UW_PY_EXECUTOR (PY_VERSION_HEX >= 0x030E0000)

/* Until 3.12 the traceback dump faulthandler uses (_Py_DumpTraceback) is
 * exported; 3.13 hides CPython's private functions (gh-106320), so from
 * 3.13 on pystate.c walks the frames itself, through the unstable frame
 * API and the internal frame struct (its previous link). */
#define UW_PY_OWN_TRACEBACK (PY_VERSION_HEX >= 0x030D0000)

/* threading.local's storage: one per core, as it would be one per thread */
typedef struct uw_tlocal {
	PyObject *dict; /* tstate->dict (owned while saved) */
#if UW_PY_LOCAL_KEY
	PyObject *key, *sentinel; /* tstate->threading_local_key / _sentinel (owned while saved) */
#endif
} uw_tlocal;

/* a C stack's bounds, as 3.14 checks them */
typedef struct uw_cstack {
#if UW_PY_STACK_BOUNDS
	uintptr_t top, soft_limit, hard_limit;
#else
	char unused;
#endif
} uw_cstack;

/*
 * Everything a green thread switch saves and restores: what CPython keeps
 * per thread but is really per call stack. Saving only the frame and the
 * recursion depth corrupts the frame data stack when two green threads
 * suspend inside nested calls.
 */
typedef struct uw_pystate {
#if UW_PY_CFRAME
	_PyCFrame *cframe;
	_PyCFrame root_cframe; /* the bottom C frame of a green thread */
#else
	struct _PyInterpreterFrame *current_frame;
#endif
#if UW_PY_CFRAME_TRACING
	int use_tracing;
#endif
	int py_recursion_depth;
#if UW_PY_C_RECURSION
	int c_recursion_depth;
#endif
	uw_cstack stack;
#if UW_PY_EXECUTOR
	PyObject *current_executor; /* borrowed: the executor keeps itself alive while it runs */
#endif
	_PyStackChunk *datastack_chunk;
	PyObject **datastack_top;
	PyObject **datastack_limit;
	_PyErr_StackItem *exc_info;
	_PyErr_StackItem exc_bottom; /* the bottom of a green thread's exception stack */
	PyObject *context;           /* contextvars (owned while saved) */
	uw_tlocal local;
#if UW_PY_TRASH_NESTING
	int trash_delete_nesting;
#endif
	PyObject *trash_delete_later;
#if UW_PY_CRITICAL_SECTION
	uintptr_t critical_section;
#endif
} uw_pystate;

/* uw_pystate_bind: the hub's thread state, the one every switch changes. */
void uw_pystate_bind(PyThreadState *ts);

/* uw_pystate_fresh prepares the state of a green thread that has not run,
 * on the stack [lo, hi): its own bottom frame, empty data and exception
 * stacks, a full recursion budget, its own stack bounds, no contextvars
 * context (made on first use, so each request starts with its own) and
 * its own threading.local storage. */
void uw_pystate_fresh(uw_pystate *st, const char *lo, const char *hi);

/* uw_pystate_switch saves the running state into save and loads load:
 * called just before switching C stacks. */
void uw_pystate_switch(uw_pystate *save, uw_pystate *load);

/* uw_pystate_swap_request exchanges the thread's contextvars context and
 * threading.local storage with a request's (plain async: each step). */
void uw_pystate_swap_request(PyObject **context, uw_tlocal *local);

/* uw_pystate_swap_local exchanges threading.local storage only (greenlet
 * keeps contextvars per greenlet itself). */
void uw_pystate_swap_local(uw_tlocal *local);

/* uw_pystate_drop_context forgets the running contextvars context: the
 * next request on this green thread starts with a fresh one. */
void uw_pystate_drop_context(void);

/* uw_pystate_enter_stack makes the C stack [lo, hi) the one CPython
 * checks depth against (3.14), keeping the old bounds in saved;
 * uw_pystate_leave_stack puts them back. No-ops before 3.14. */
void uw_pystate_enter_stack(uw_cstack *saved, const char *lo, const char *hi);
void uw_pystate_leave_stack(const uw_cstack *saved);

/* uw_pystate_dump_traceback writes ts's Python stack to fd, innermost
 * call first, as faulthandler does. For a fatal signal's handler: it
 * allocates nothing and takes no lock. */
void uw_pystate_dump_traceback(int fd, PyThreadState *ts);

#endif /* UWSGO_PYSTATE_H */
