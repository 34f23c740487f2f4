/*
 * The greenlet engine (--greenlet): each request is a greenlet, made and
 * switched through greenlet's C API. greenlet copies C stack slices, so
 * Python runs on the loop stack (loopstack.c).
 */
#include "glue.h"

/* greenlet's C API, from its capsule (indexes from greenlet.h) */
typedef PyObject *(*gl_new_fn)(PyObject *run, PyObject *parent);
typedef PyObject *(*gl_current_fn)(void);
typedef PyObject *(*gl_switch_fn)(PyObject *g, PyObject *args, PyObject *kwargs);
static gl_new_fn gl_new;
static gl_current_fn gl_current;
static gl_switch_fn gl_switch;
static PyObject *gl_main; /* the hub's greenlet */

static int greenlet_init(char *err, size_t errlen) {
	void **api = PyCapsule_Import("greenlet._C_API", 0);
	if (!api) {
		uw_exception_line(err, errlen, "the greenlet module is missing (install python3-greenlet)");
		return -1;
	}
	gl_new = (gl_new_fn)api[3];
	gl_current = (gl_current_fn)api[4];
	gl_switch = (gl_switch_fn)api[6];
	return 0;
}

/* the body of a core's greenlet: one request */
static PyObject *greenlet_body(PyObject *self, PyObject *unused) {
	(void)unused;
	uw_core *c = &uw_the_hub.cores[PyLong_AsLong(self)];
	uw_wsgi_run_request(c);
	c->state = UW_FREE;
	Py_RETURN_NONE;
}

static PyMethodDef greenlet_body_def = {"_uwsgo_request", greenlet_body, METH_NOARGS, NULL};

static void greenlet_resume(uw_core *c) {
	uw_pycore *p = c->py;
	if (!gl_main) gl_main = gl_current(); /* we are on the loop stack, in the hub's greenlet */
	if (!p->greenlet) {
		PyObject *id = PyLong_FromLong(c->id);
		PyObject *run = PyCFunction_New(&greenlet_body_def, id);
		Py_DECREF(id);
		p->greenlet = gl_new(run, NULL);
		Py_DECREF(run);
		if (!p->greenlet) {
			PyErr_Print();
			c->failed = 1;
			c->state = UW_FREE;
			return;
		}
	}
	/* threading.local is per core (greenlet keeps contextvars per greenlet,
	 * but not threading.local's storage) */
	uw_pystate_swap_local(&p->local);
	PyObject *r = gl_switch(p->greenlet, NULL, NULL);
	uw_pystate_swap_local(&p->local);
	if (!r)
		uw_wsgi_failed(c); /* the greenlet died of something uw_wsgi_run_request did not catch */
	else
		Py_DECREF(r);
}

static void greenlet_finish(uw_core *c) {
	uw_pycore *p = c->py;
	Py_CLEAR(p->greenlet);
}

static void greenlet_suspend(uw_core *c) {
	c->switches++;
	PyObject *r = gl_switch(gl_main, NULL, NULL);
	if (!r)
		PyErr_Print(); /* a GreenletExit thrown at shutdown: nothing to resume */
	else
		Py_DECREF(r);
}


const uw_engine uw_engine_greenlet = {
	.name = "greenlet",
	.needs_loop_stack = 1,
	.async_api = 1,
	.init = greenlet_init,
	.start = uw_runq_push,
	.resume = greenlet_resume,
	.suspend = greenlet_suspend,
	.finish = greenlet_finish,
};
