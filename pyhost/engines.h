/*
 * The greenlet and gevent engines. Included by pyhost.c only.
 *
 * greenlet switches by copying slices of the C stack in and out. The hub
 * thread's C stack is Go's g0 stack, which the Go runtime reuses between
 * cgo calls: a suspended greenlet's frames left below the hub's stack
 * pointer would be overwritten. So with these engines every piece of
 * Python the hub runs goes through on_loop_stack(): a private mmap'd
 * stack, entered with the uGreen switch, that nothing but Python uses.
 */

/* ------------------------------------------------------ the loop stack */

static ug_stack loop_stack;
static ug_context loop_ctx, g0_ctx;
static void (*loop_fn)(void *);
static void *loop_arg;

static void loop_entry(void) {
	for (;;) {
		loop_fn(loop_arg);
		ug_switch(&loop_ctx, &g0_ctx);
	}
}

static int uses_loop_stack(void) {
	return G.s.engine == UW_ENGINE_GREENLET || G.s.engine == UW_ENGINE_GEVENT;
}

static int loop_stack_init(char *err, size_t errlen) {
	/* 8 MiB, reserved not committed: like a thread's stack */
	if (ug_stack_alloc(&loop_stack, (8u << 20) / ug_page_size()) || ug_prepare(&loop_ctx, &loop_stack, loop_entry)) {
		snprintf(err, errlen, "cannot map the loop stack: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* on_loop_stack runs fn(arg) on the loop stack (directly for the other engines). */
static void on_loop_stack(void (*fn)(void *), void *arg) {
	in_python = 1; /* a fault from here on is the app's: see guard_fault */
	if (!uses_loop_stack()) {
		fn(arg);
	} else {
		loop_fn = fn;
		loop_arg = arg;
		ug_switch(&g0_ctx, &loop_ctx);
	}
	in_python = 0;
}

/* ------------------------------------------------------- greenlet API */

/* greenlet's C API, from its capsule (indexes from greenlet.h) */
typedef PyObject *(*gl_new_fn)(PyObject *run, PyObject *parent);
typedef PyObject *(*gl_current_fn)(void);
typedef PyObject *(*gl_switch_fn)(PyObject *g, PyObject *args, PyObject *kwargs);
static gl_new_fn gl_new;
static gl_current_fn gl_current;
static gl_switch_fn gl_switch;
static PyObject *gl_main; /* the hub's greenlet */

static int greenlet_api(char *err, size_t errlen) {
	void **api = PyCapsule_Import("greenlet._C_API", 0);
	if (!api) {
		exception_line(err, errlen, "the greenlet module is missing (install python3-greenlet)");
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
	wsgi_run_request(c);
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
	 * but not the thread dict) */
	PyThreadState *ts = G.tstate;
	PyObject *hub_dict = ts->dict;
	ts->dict = p->tdict;
	PyObject *r = gl_switch(p->greenlet, NULL, NULL);
	p->tdict = ts->dict;
	ts->dict = hub_dict;
	if (!r)
		wsgi_failed(c); /* the greenlet died of something wsgi_run_request did not catch */
	else
		Py_DECREF(r);
	if (c->state == UW_FREE) Py_CLEAR(p->greenlet);
}

static void greenlet_suspend(uw_core *c) {
	c->switches++;
	PyObject *r = gl_switch(gl_main, NULL, NULL);
	if (!r)
		PyErr_Print(); /* a GreenletExit thrown at shutdown: nothing to resume */
	else
		Py_DECREF(r);
}

/* --------------------------------------------------------------- gevent */

static const char gevent_src[] =
	"import gevent, gevent.hub\n"
	"_hub = gevent.get_hub()\n"
	"_watcher = _hub.loop.io(_EFD, 1)\n"
	"def _turn(timeout_ms):\n"
	"    # run gevent's loop until Go has something (the epoll set) or the timeout\n"
	"    waiter = gevent.hub.Waiter()\n"
	"    _watcher.start(waiter.switch, None)\n"
	"    timer = None\n"
	"    if timeout_ms >= 0:\n"
	"        timer = _hub.loop.timer(timeout_ms / 1000.0)\n"
	"        timer.start(waiter.switch, None)\n"
	"    try:\n"
	"        waiter.get()\n"
	"    finally:\n"
	"        _watcher.stop()\n"
	"        if timer is not None:\n"
	"            timer.stop()\n"
	"def _spawn(run, core):\n"
	"    gevent.spawn(run, core)\n"
	"def _idle():\n"
	"    gevent.sleep(0)\n";

static PyObject *gevent_turn_fn, *gevent_spawn_fn, *gevent_idle_fn, *gevent_run_fn;
static int gevent_efd = -1;
static int gevent_kicked;

/* kick wakes _turn so that Go takes the events (one write per turn) */
static void gevent_kick(void) {
	if (gevent_kicked) return;
	gevent_kicked = 1;
	uint64_t one = 1;
	(void)!write(gevent_efd, &one, sizeof one);
}

static PyObject *gevent_body(PyObject *self, PyObject *arg) {
	(void)self;
	uw_core *c = &uw_the_hub.cores[PyLong_AsLong(arg)];
	c->state = UW_RUNNING;
	wsgi_run_request(c);
	c->state = UW_PARKED; /* Go releases it */
	event(c, UW_EV_DONE | (c->head_len || c->out_len ? UW_EV_OUT : 0));
	gevent_kick();
	Py_RETURN_NONE;
}

static PyMethodDef gevent_body_def = {"_uwsgo_request", gevent_body, METH_O, NULL};

static int gevent_setup(int efd, int epfd, char *err, size_t errlen) {
	gevent_efd = efd;
	PyObject *g = PyDict_New();
	PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
	PyObject *fd = PyLong_FromLong(epfd);
	PyDict_SetItemString(g, "_EFD", fd);
	Py_DECREF(fd);
	PyObject *r = PyRun_String(gevent_src, Py_file_input, g, g);
	if (!r) {
		exception_line(err, errlen, "--gevent needs gevent (install python3-gevent)");
		Py_DECREF(g);
		return -1;
	}
	Py_DECREF(r);
	gevent_turn_fn = PyDict_GetItemString(g, "_turn");
	gevent_spawn_fn = PyDict_GetItemString(g, "_spawn");
	gevent_idle_fn = PyDict_GetItemString(g, "_idle");
	Py_INCREF(gevent_turn_fn);
	Py_INCREF(gevent_spawn_fn);
	Py_INCREF(gevent_idle_fn);
	gevent_run_fn = PyCFunction_New(&gevent_body_def, NULL);
	Py_DECREF(g);
	return 0;
}

/* with gevent a core "suspends" by letting gevent's hub run */
static void gevent_suspend(uw_core *c) {
	c->switches++;
	if (c->out_len) event(c, UW_EV_OUT), gevent_kick();
	do {
		PyObject *r = PyObject_CallNoArgs(gevent_idle_fn);
		if (!r) {
			PyErr_Print();
			return;
		}
		Py_DECREF(r);
	} while (c->hold && !c->aborted);
}

static void gevent_spawn(uw_core *c) {
	PyObject *id = PyLong_FromLong(c->id);
	PyObject *r = PyObject_CallFunctionObjArgs(gevent_spawn_fn, gevent_run_fn, id, NULL);
	Py_DECREF(id);
	if (!r)
		PyErr_Print();
	else
		Py_DECREF(r);
}

static void gevent_turn(void *arg) {
	int timeout_ms = *(int *)arg;
	PyObject *t = PyLong_FromLong(timeout_ms);
	PyObject *r = PyObject_CallOneArg(gevent_turn_fn, t);
	Py_DECREF(t);
	if (!r)
		PyErr_Print();
	else
		Py_DECREF(r);
}

static void monkey_patch(void) {
	PyObject *m = PyImport_ImportModule("gevent.monkey");
	PyObject *r = m ? PyObject_CallMethod(m, "patch_all", NULL) : NULL;
	if (!r) PyErr_Print();
	Py_XDECREF(r);
	Py_XDECREF(m);
}

static void gevent_setup_tramp(void *a) {
	struct gevent_setup_args *g = a;
	g->ret = gevent_setup(g->efd, g->epfd, g->err, g->errlen);
}
