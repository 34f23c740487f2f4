/*
 * The loop stack, for the engines built on greenlet (greenlet, gevent).
 *
 * greenlet switches by copying slices of the C stack in and out. The hub
 * thread's C stack is Go's g0 stack, which the Go runtime reuses between
 * cgo calls: a suspended greenlet's frames left below the hub's stack
 * pointer would be overwritten. So with these engines every piece of
 * Python the hub runs goes through uw_on_loop_stack(): a private mmap'd
 * stack, entered with the uGreen switch, that nothing but Python uses.
 */
#include "glue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static ug_stack loop_stack;
static ug_context loop_ctx, g0_ctx;
static void (*loop_fn)(void *);
static void *loop_arg;
static uw_cstack g0_bounds; /* the thread's own stack bounds, while on the loop stack */

static void loop_entry(void) {
	for (;;) {
		loop_fn(loop_arg);
		ug_switch(&loop_ctx, &g0_ctx);
	}
}

int uw_loop_stack_init(char *err, size_t errlen) {
	/* 8 MiB, reserved not committed: like a thread's stack */
	if (ug_stack_alloc(&loop_stack, (8u << 20) / ug_page_size()) || ug_prepare(&loop_ctx, &loop_stack, loop_entry)) {
		snprintf(err, errlen, "cannot map the loop stack: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void uw_on_loop_stack(void (*fn)(void *), void *arg) {
	uw_in_python = 1; /* a fault from here on is the app's: see fault.c */
	if (!uw_eng->needs_loop_stack || !loop_stack.base) {
		fn(arg);
	} else {
		loop_fn = fn;
		loop_arg = arg;
		uw_pystate_enter_stack(&g0_bounds, loop_stack.lo, loop_stack.hi);
		ug_switch(&g0_ctx, &loop_ctx);
		uw_pystate_leave_stack(&g0_bounds);
	}
	uw_in_python = 0;
}
