/*
 * Plain async (--async N alone): a step is one next() on the app's
 * iterator, with the request's own contextvars context and the core's
 * threading.local storage in place. A core cannot give way in the middle
 * of a step: uwsgi.suspend() does nothing, as in uWSGI.
 */
#include "glue.h"

static void async_resume(uw_core *c) {
	uw_pycore *p = c->py;
	uw_pystate_swap_request(&p->context, &p->local);
	int more = uw_wsgi_step(c);
	c->switches++;
	uw_pystate_swap_request(&p->context, &p->local);
	if (!more) c->state = UW_FREE;
}

static void async_finish(uw_core *c) {
	uw_pycore *p = c->py;
	Py_CLEAR(p->context); /* the next request gets its own */
}

const uw_engine uw_engine_async = {
	.name = "async",
	.async_api = 1,
	.start = uw_runq_push,
	.resume = async_resume,
	.finish = async_finish,
};
