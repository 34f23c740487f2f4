/*
 * uGreen (--ugreen): each core runs its whole request on its own mmap'd
 * stack between guard pages, and switches with ugreen.c's switch; the
 * interpreter state that belongs to the green thread moves with it
 * (pystate.c).
 */
#include "glue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ug_context hub_ctx;
static uw_pystate hub_py;

/* the body of every green thread: one request after another */
static void green_entry(void) {
	for (;;) {
		uw_core *c = uw_g.current;
		uw_wsgi_run_request(c);
		uw_pystate_drop_context(); /* a fresh contextvars context for the next request */
		c->state = UW_FREE;        /* uw_run sees it done */
		uw_core_suspend(c);
	}
}

static int ugreen_core_init(uw_core *c, char *err, size_t errlen) {
	uw_pycore *p = c->py;
	if (ug_stack_alloc(&p->stack, (size_t)uw_g.s.stack_pages)) {
		snprintf(err, errlen, "cannot map a %d-page stack for core %d: %s", uw_g.s.stack_pages, c->id,
		         strerror(errno));
		return -1;
	}
	p->fresh = 1; /* the context is laid out at first use: an idle core touches no stack page */
	return 0;
}

static void ugreen_resume(uw_core *c) {
	uw_pycore *p = c->py;
	if (p->fresh) {
		if (ug_prepare(&p->ctx, &p->stack, green_entry)) {
			/* getcontext failing is not something a request can recover from */
			fprintf(stderr, "!!! cannot prepare the context of core %d !!!\n", c->id);
			abort();
		}
		uw_pystate_fresh(&p->py, p->stack.lo, p->stack.hi);
		p->fresh = 0;
	}
	uw_pystate_switch(&hub_py, &p->py);
	ug_switch(&hub_ctx, &p->ctx);
}

static void ugreen_suspend(uw_core *c) {
	uw_pycore *p = c->py;
	c->switches++;
	uw_pystate_switch(&p->py, &hub_py);
	ug_switch(&p->ctx, &hub_ctx);
}

const uw_engine uw_engine_ugreen = {
	.name = "ugreen",
	.async_api = 1,
	.core_init = ugreen_core_init,
	.start = uw_runq_push,
	.resume = ugreen_resume,
	.suspend = ugreen_suspend,
};
