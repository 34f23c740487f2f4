/*
 * uGreen: green threads for async cores.
 *
 * Header-only so that the interpreter glue (pyhost) and this package's own
 * self-test compile it into one translation unit: cgo cannot link C symbols
 * across Go packages.
 *
 * Three pieces:
 *   - stacks: mmap'd, with a PROT_NONE guard page below and above, so an
 *     overflow faults instead of corrupting a neighbour;
 *   - the switch: a register-only switch on amd64 (callee-saved registers,
 *     stack pointer, mxcsr and x87 control word: no syscall), or POSIX
 *     swapcontext (one sigprocmask syscall per switch) when asked;
 *   - the interpreter state that CPython 3.11 keeps per thread but that
 *     belongs to each green thread: saved and restored around each switch.
 */
#ifndef UWSGO_UGREEN_H
#define UWSGO_UGREEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

/* ---------------------------------------------------------------- stacks */

typedef struct ug_stack {
	char *base;    /* start of the mapping (guard page) */
	size_t mapped; /* whole mapping, guards included */
	char *lo, *hi; /* usable stack */
} ug_stack;

static size_t ug_page_size(void) {
	static size_t ps;
	if (!ps) ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

/* ug_stack_alloc maps pages usable pages between two guard pages. */
static int ug_stack_alloc(ug_stack *s, size_t pages) {
	size_t ps = ug_page_size();
	size_t len = (pages + 2) * ps;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) return -1;
	if (mprotect(m, ps, PROT_NONE) || mprotect(m + len - ps, ps, PROT_NONE)) {
		munmap(m, len);
		return -1;
	}
	s->base = m;
	s->mapped = len;
	s->lo = m + ps;
	s->hi = m + len - ps;
	return 0;
}

static void ug_stack_free(ug_stack *s) {
	if (s->base) munmap(s->base, s->mapped);
	memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- switch */

typedef void (*ug_entry_fn)(void);

typedef struct ug_context {
	void *sp;      /* fast switch: saved stack pointer */
	ucontext_t uc; /* swapcontext switch */
} ug_context;

enum { UG_SWITCH_FAST = 0, UG_SWITCH_SWAPCONTEXT = 1 };

#if defined(__x86_64__)
#define UG_HAVE_FAST_SWITCH 1
/*
 * ug_fast_switch(void **save_sp, void *load_sp): push the callee-saved
 * registers and the SSE/x87 control words on the current stack, store the
 * stack pointer in *save_sp, load load_sp and pop the same set from there.
 */
__asm__(
	".text\n"
	".p2align 4\n"
	".type ug_fast_switch, @function\n"
	"ug_fast_switch:\n"
	"\tpushq %rbp\n"
	"\tpushq %rbx\n"
	"\tpushq %r12\n"
	"\tpushq %r13\n"
	"\tpushq %r14\n"
	"\tpushq %r15\n"
	"\tsubq $8, %rsp\n"
	"\tstmxcsr (%rsp)\n"
	"\tfnstcw 4(%rsp)\n"
	"\tmovq %rsp, (%rdi)\n"
	"\tmovq %rsi, %rsp\n"
	"\tldmxcsr (%rsp)\n"
	"\tfldcw 4(%rsp)\n"
	"\taddq $8, %rsp\n"
	"\tpopq %r15\n"
	"\tpopq %r14\n"
	"\tpopq %r13\n"
	"\tpopq %r12\n"
	"\tpopq %rbx\n"
	"\tpopq %rbp\n"
	"\tret\n"
	".size ug_fast_switch, .-ug_fast_switch\n");
void ug_fast_switch(void **save_sp, void *load_sp) __asm__("ug_fast_switch");

/* Lay out a fresh stack so that the first switch to it "returns" into entry. */
static void ug_fast_prepare(ug_context *c, ug_stack *s, ug_entry_fn entry) {
	uintptr_t top = ((uintptr_t)s->hi) & ~(uintptr_t)15;
	uint64_t *p = (uint64_t *)top;
	*--p = 0;                  /* fake return address of entry: keeps the ABI alignment */
	*--p = (uint64_t)entry;    /* popped by ret */
	for (int i = 0; i < 6; i++) /* rbp rbx r12 r13 r14 r15 */
		*--p = 0;
	--p;
	((uint32_t *)p)[0] = 0x1F80; /* default mxcsr */
	((uint16_t *)p)[2] = 0x037F; /* default x87 control word */
	c->sp = p;
}
#else
#define UG_HAVE_FAST_SWITCH 0
static void ug_fast_switch(void **save_sp, void *load_sp) { (void)save_sp; (void)load_sp; }
static void ug_fast_prepare(ug_context *c, ug_stack *s, ug_entry_fn entry) { (void)c; (void)s; (void)entry; }
#endif

static int ug_switch_mode = UG_SWITCH_FAST;

/* ug_prepare makes c start running entry on stack s at its first switch. */
static int ug_prepare(ug_context *c, ug_stack *s, ug_entry_fn entry) {
	if (ug_switch_mode == UG_SWITCH_FAST) {
		ug_fast_prepare(c, s, entry);
		return 0;
	}
	if (getcontext(&c->uc)) return -1;
	c->uc.uc_stack.ss_sp = s->lo;
	c->uc.uc_stack.ss_size = (size_t)(s->hi - s->lo);
	c->uc.uc_link = NULL;
	makecontext(&c->uc, entry, 0);
	return 0;
}

/* ug_switch saves the running context into from and resumes to. */
static inline void ug_switch(ug_context *from, ug_context *to) {
	if (ug_switch_mode == UG_SWITCH_FAST)
		ug_fast_switch(&from->sp, to->sp);
	else
		swapcontext(&from->uc, &to->uc);
}

#ifdef UG_WITH_PYTHON
/* ---------------------------------------------------- interpreter state */

/*
 * Everything CPython 3.11 keeps in the thread state that is really per
 * call stack. Saving only the frame and the recursion depth corrupts the
 * frame data stack when two green threads suspend inside nested calls.
 */
typedef struct ug_pystate {
	_PyCFrame *cframe;
	int use_tracing;
	int recursion_depth;
	_PyStackChunk *datastack_chunk;
	PyObject **datastack_top;
	PyObject **datastack_limit;
	_PyErr_StackItem *exc_info;
	PyObject *context; /* owned while saved */
	PyObject *dict;    /* the thread's dict, where threading.local keeps its values: one per core */
	int trash_delete_nesting;
	PyObject *trash_delete_later;
} ug_pystate;

/* ug_pystate_fresh prepares the state of a green thread that has not run:
 * its own bottom C frame, an empty data stack and exception stack, no
 * contextvars context (one is created on first use, so each request
 * starts with its own), and no thread dict: threading.local values are
 * per core, as they would be per thread, so apps that keep the request in
 * one (bottle, ...) see their own. */
static void ug_pystate_fresh(ug_pystate *st, _PyCFrame *root, _PyErr_StackItem *exc_bottom) {
	PyThreadState *ts = PyThreadState_GET();
	memset(st, 0, sizeof *st);
	root->use_tracing = ts->cframe->use_tracing;
	root->current_frame = NULL;
	root->previous = &ts->root_cframe;
	st->cframe = root;
	st->use_tracing = root->use_tracing;
	memset(exc_bottom, 0, sizeof *exc_bottom);
	st->exc_info = exc_bottom;
}

static inline void ug_pystate_save(ug_pystate *st, PyThreadState *ts) {
	st->cframe = ts->cframe;
	st->use_tracing = ts->cframe->use_tracing;
	st->recursion_depth = ts->recursion_limit - ts->recursion_remaining;
	st->datastack_chunk = ts->datastack_chunk;
	st->datastack_top = ts->datastack_top;
	st->datastack_limit = ts->datastack_limit;
	st->exc_info = ts->exc_info;
	st->context = ts->context; /* reference moves into st */
	ts->context = NULL;
	st->dict = ts->dict; /* likewise */
	ts->dict = NULL;
	st->trash_delete_nesting = ts->trash_delete_nesting;
	st->trash_delete_later = ts->trash_delete_later;
}

static inline void ug_pystate_restore(ug_pystate *st, PyThreadState *ts) {
	ts->cframe = st->cframe;
	ts->cframe->use_tracing = st->use_tracing;
	ts->recursion_remaining = ts->recursion_limit - st->recursion_depth;
	ts->datastack_chunk = st->datastack_chunk;
	ts->datastack_top = st->datastack_top;
	ts->datastack_limit = st->datastack_limit;
	ts->exc_info = st->exc_info;
	Py_XDECREF(ts->context); /* normally NULL: save moved it out */
	ts->context = st->context; /* reference moves back */
	st->context = NULL;
	ts->context_ver++;
	Py_XDECREF(ts->dict);
	ts->dict = st->dict;
	st->dict = NULL;
	ts->trash_delete_nesting = st->trash_delete_nesting;
	ts->trash_delete_later = st->trash_delete_later;
}
#endif /* UG_WITH_PYTHON */

#endif /* UWSGO_UGREEN_H */
