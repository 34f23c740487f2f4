/* The uwsgi module: the spooler and mules. Their Python parts are in
 * pyapi/40_spooler.py (the task format, spool(), the spooler's loop, the
 * mule queues); C is only the entry by which a spooler or mule process
 * hands its main thread to that loop. */
#include "api.h"

int uw_api_spooler_init(PyObject *m) {
	(void)m;
	return 0;
}

/* uw_api_extra_main runs uwsgi._uwsgo_extra_main(kind, index, ctl) on the
 * calling thread, which holds the GIL (it started the interpreter and
 * loaded the app): the spooler's or a mule's loop. Its result is the
 * process's exit status. */
int uw_api_extra_main(const char *kind, int index, int ctl) {
	PyObject *m = PyImport_ImportModule("uwsgi");
	if (!m) {
		PyErr_Print();
		return 1;
	}
	PyObject *r = PyObject_CallMethod(m, "_uwsgo_extra_main", "sii", kind, index, ctl);
	Py_DECREF(m);
	if (!r) {
		PyErr_Print();
		return 1;
	}
	long code = PyLong_AsLong(r);
	Py_DECREF(r);
	if (code == -1 && PyErr_Occurred()) {
		PyErr_Print();
		return 1;
	}
	return (int)code;
}
