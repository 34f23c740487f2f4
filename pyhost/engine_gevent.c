/*
 * The gevent engine (--gevent N): gevent's loop is the event loop. The
 * hub's epoll set (the eventfd and the network plane's sockets are in it)
 * is a gevent io watcher; turn() runs gevent's loop until the set is
 * readable or a core has events (a core kicks the eventfd once per turn),
 * then the hub collects the events. Each request is gevent.spawn()ed.
 * greenlet copies C stack slices, so Python runs on the loop stack.
 */
#include "glue.h"

#include <stdint.h>
#include <unistd.h>

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
	uw_wsgi_run_request(c);
	c->state = UW_PARKED; /* Go releases it */
	uw_event(c, UW_EV_DONE | (c->head_len || c->out_len ? UW_EV_OUT : 0));
	gevent_kick();
	Py_RETURN_NONE;
}

/* uw_gevent_current_core: the core whose request greenlet is running
 * (spawned with gevent_run_fn and the core's id), or -1 */
int uw_gevent_current_core(void) {
	static PyObject *getcurrent;
	if (!getcurrent) {
		PyObject *m = PyImport_ImportModule("greenlet");
		getcurrent = m ? PyObject_GetAttrString(m, "getcurrent") : NULL;
		Py_XDECREF(m);
	}
	PyObject *g = getcurrent ? PyObject_CallNoArgs(getcurrent) : NULL;
	PyObject *run = g ? PyObject_GetAttrString(g, "_run") : NULL;
	PyObject *args = run == gevent_run_fn ? PyObject_GetAttrString(g, "args") : NULL;
	int id = -1;
	if (args && PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 1) id = (int)PyLong_AsLong(PyTuple_GET_ITEM(args, 0));
	Py_XDECREF(args);
	Py_XDECREF(run);
	Py_XDECREF(g);
	PyErr_Clear();
	return id < 0 || id >= uw_the_hub.ncores ? -1 : id;
}

static PyMethodDef gevent_body_def = {"_uwsgo_request", gevent_body, METH_O, NULL};

static int gevent_init(char *err, size_t errlen) {
	int epfd = uw_g.s.epfd;
	gevent_efd = uw_g.s.efd;
	PyObject *g = PyDict_New();
	PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
	PyObject *fd = PyLong_FromLong(epfd);
	PyDict_SetItemString(g, "_EFD", fd);
	Py_DECREF(fd);
	PyObject *r = PyRun_String(gevent_src, Py_file_input, g, g);
	if (!r) {
		uw_exception_line(err, errlen, "--gevent needs gevent (install python3-gevent)");
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
	if (c->out_len || c->disconnect == 1) uw_event(c, UW_EV_OUT), gevent_kick();
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

static void gevent_turn(int timeout_ms) {
	PyObject *t = PyLong_FromLong(timeout_ms);
	PyObject *r = PyObject_CallOneArg(gevent_turn_fn, t);
	Py_DECREF(t);
	if (!r)
		PyErr_Print();
	else
		Py_DECREF(r);
}

void uw_gevent_monkey_patch(void) {
	PyObject *m = PyImport_ImportModule("gevent.monkey");
	PyObject *r = m ? PyObject_CallMethod(m, "patch_all", NULL) : NULL;
	if (!r) PyErr_Print();
	Py_XDECREF(r);
	Py_XDECREF(m);
}


void uw_gevent_flush(uw_core *c) {
	uw_event(c, UW_EV_OUT);
	gevent_kick();
}

static void gevent_rearm(void) { gevent_kicked = 0; }

const uw_engine uw_engine_gevent = {
	.name = "gevent",
	.needs_loop_stack = 1,
	.async_api = 0, /* the gevent document: mixing the two is explicitly forbidden */
	.no_async_api = "uwsgi.%s() cannot be used with --gevent: mixing uWSGI's async API with gevent's "
	                "is forbidden; use gevent's own (gevent.sleep, gevent.socket, gevent.select)",
	.init = gevent_init,
	.start = gevent_spawn,
	.suspend = gevent_suspend,
	.turn = gevent_turn,
	.rearm = gevent_rearm,
};
