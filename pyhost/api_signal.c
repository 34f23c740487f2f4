/* The uwsgi module: signals, timers, cron, file monitors and rpc.
 *
 * Most of it is Python (pyapi/20_signal.py): a signal is a message on the
 * process's channel to the master (an fd: one os.write is one message),
 * and a handler runs on a free core as a job (the hub starts it like a
 * request). What is here is what Python cannot see by itself: the
 * channel's fd, and which signals some process has registered, which the
 * hub learns from the master and stores here without calling Python. */
#include "api.h"
#include "glue.h"

#include <string.h>

unsigned char uw_signal_known[256];

unsigned char *uw_signal_known_table(void) { return uw_signal_known; }

/* _signal_known(num): some process of this master has registered num */
static PyObject *uwm_signal_known(PyObject *self, PyObject *arg) {
	(void)self;
	long n = PyLong_AsLong(arg);
	if (n == -1 && PyErr_Occurred()) return NULL;
	if (n < 0 || n > 255) Py_RETURN_FALSE;
	return PyBool_FromLong(__atomic_load_n(&uw_signal_known[n], __ATOMIC_RELAXED));
}

/* _signal_mark_known(nums): signal_wait() read the master's MsgKnown itself */
static PyObject *uwm_signal_mark_known(PyObject *self, PyObject *arg) {
	(void)self;
	Py_buffer b;
	if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
	for (Py_ssize_t i = 0; i < b.len; i++) __atomic_store_n(&uw_signal_known[((unsigned char *)b.buf)[i]], 1, __ATOMIC_RELAXED);
	PyBuffer_Release(&b);
	Py_RETURN_NONE;
}

static PyMethodDef signal_methods[] = {
	{"_signal_known", uwm_signal_known, METH_O, "_signal_known(num): a process of this master registered num"},
	{"_signal_mark_known", uwm_signal_mark_known, METH_O, "_signal_mark_known(nums): record MsgKnown"},
	{NULL, NULL, 0, NULL},
};

int uw_api_signal_init(PyObject *m) {
	if (PyModule_AddIntConstant(m, "_master_fd", uw_g.s.master_fd > 0 ? uw_g.s.master_fd : -1) < 0) return -1;
	if (PyModule_AddIntConstant(m, "_signal_job_app", UW_APP_SIGNAL) < 0) return -1;
	if (PyModule_AddStringConstant(m, "_engine", uw_eng ? uw_eng->name : "async") < 0) return -1;
	return PyModule_AddFunctions(m, signal_methods);
}
