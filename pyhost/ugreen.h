/*
 * uGreen: green threads for async cores. No Python in here.
 *
 *   - stacks: mmap'd, with a PROT_NONE guard page below and above, so an
 *     overflow faults instead of corrupting a neighbour;
 *   - the switch: a register-only switch on amd64 (callee-saved registers,
 *     stack pointer, mxcsr and x87 control word: no syscall), or POSIX
 *     swapcontext (one sigprocmask syscall per switch) when asked.
 *
 * What CPython keeps per thread but belongs to each green thread is saved
 * around the switch by pystate.c, not here.
 */
#ifndef UWSGO_UGREEN_H
#define UWSGO_UGREEN_H

#include <stddef.h>
#include <ucontext.h>

typedef struct ug_stack {
	char *base;    /* start of the mapping (guard page) */
	size_t mapped; /* whole mapping, guards included */
	char *lo, *hi; /* usable stack */
} ug_stack;

size_t ug_page_size(void);
/* ug_stack_alloc maps pages usable pages between two guard pages. */
int ug_stack_alloc(ug_stack *s, size_t pages);
void ug_stack_free(ug_stack *s);

typedef void (*ug_entry_fn)(void);

typedef struct ug_context {
	void *sp;      /* fast switch: saved stack pointer */
	ucontext_t uc; /* swapcontext switch */
} ug_context;

enum { UG_SWITCH_FAST = 0, UG_SWITCH_SWAPCONTEXT = 1 };

/* 1 when the register-only switch exists on this CPU */
extern const int ug_have_fast_switch;
/* UG_SWITCH_*: set once, before any context is prepared */
extern int ug_switch_mode;

/* ug_prepare makes c start running entry on stack s at its first switch. */
int ug_prepare(ug_context *c, ug_stack *s, ug_entry_fn entry);

/* the register-only switch (ugreen.c, assembly) */
void ug_fast_switch(void **save_sp, void *load_sp) __asm__("ug_fast_switch");

/* ug_switch saves the running context into from and resumes to.
 * Inline: it is on every suspend; the switch itself is out of line. */
static inline void ug_switch(ug_context *from, ug_context *to) {
	if (ug_switch_mode == UG_SWITCH_FAST)
		ug_fast_switch(&from->sp, to->sp);
	else
		swapcontext(&from->uc, &to->uc);
}

#endif /* UWSGO_UGREEN_H */
