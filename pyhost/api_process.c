/* The uwsgi module: process control, attributes and request I/O. */
#include "api.h"
#include "glue.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ attributes */

/* sockets: the listening fds, as uWSGI lists its sockets' fds */
static PyObject *sockets_list(void) {
	PyObject *l = PyList_New(0);
	for (int i = 0; l && i < uw_g.s.nsockets; i++) {
		PyObject *fd = PyLong_FromLong(uw_g.s.sockets[i]);
		if (!fd || PyList_Append(l, fd) < 0) Py_CLEAR(l);
		Py_XDECREF(fd);
	}
	return l;
}

/* magic_table: {b'd': b'/srv/app/', ...}, bytes both sides as in uWSGI */
static PyObject *magic_dict(void) {
	PyObject *d = PyDict_New();
	const char *p = uw_g.s.magic, *end = p ? p + uw_g.s.magic_len : NULL;
	while (d && p && p < end) {
		PyObject *k = PyBytes_FromStringAndSize(p, 1);
		PyObject *v = PyBytes_FromString(p + 1);
		if (!k || !v || PyDict_SetItem(d, k, v) < 0) Py_CLEAR(d);
		Py_XDECREF(k);
		Py_XDECREF(v);
		p += strlen(p + 1) + 2;
	}
	return d;
}

int uw_api_process_init(PyObject *m) {
	if (PyModule_AddIntConstant(m, "buffer_size", uw_g.s.buffer_size > 0 ? uw_g.s.buffer_size : 4096) < 0 ||
	    PyModule_AddObject(m, "started_on", PyLong_FromLongLong(uw_g.s.started_on)) < 0 ||
	    PyModule_AddObject(m, "is_a_reload", PyBool_FromLong(uw_g.s.is_a_reload)) < 0 ||
	    PyModule_AddObject(m, "sockets", sockets_list()) < 0 ||
	    PyModule_AddObject(m, "magic_table", magic_dict()) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------- post-fork */

/* post_fork_tramp calls uwsgi.post_fork_hook if the app set one (it can
 * only have, if it imported uwsgi). uWSGI calls it in each worker after
 * the fork from a master that loaded the app; a uwsgo worker loads the app
 * itself, so this is right after it did. */
static void post_fork_tramp(void *unused) {
	(void)unused;
	PyObject *name = PyUnicode_FromString("uwsgi");
	PyObject *m = name ? PyImport_GetModule(name) : NULL;
	Py_XDECREF(name);
	PyObject *hook = m ? PyObject_GetAttrString(m, "post_fork_hook") : NULL;
	Py_XDECREF(m);
	if (!hook) {
		PyErr_Clear();
		return;
	}
	PyObject *r = PyObject_CallNoArgs(hook);
	Py_DECREF(hook);
	if (!r) {
		fprintf(stderr, "uwsgi.post_fork_hook raised:\n");
		PyErr_Print();
	}
	Py_XDECREF(r);
}

void uw_post_fork(void) {
	if (uw_eng->threaded) {
		/* the request threads hold the GIL by turns; the hub takes its turn */
		PyGILState_STATE g = PyGILState_Ensure();
		post_fork_tramp(NULL);
		PyGILState_Release(g);
		return;
	}
	uw_on_loop_stack(post_fork_tramp, NULL);
}
