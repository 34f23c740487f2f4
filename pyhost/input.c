/*
 * wsgi.input: the request body, from memory or from the file the network
 * plane spooled a large body into.
 */
#include "glue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	PyObject_HEAD
	char *buf;           /* memory body, or the read buffer for a file */
	size_t start, end;   /* unread bytes are buf[start:end] */
	size_t cap;          /* buffer size (file bodies) */
	int fd;              /* spooled body, or -1 */
	off_t fdpos;         /* next file offset to read */
	int owns_buf;
} uw_input;

#define UW_INPUT_BUF (64 * 1024)

PyObject *uw_input_new(const char *body, size_t len, int fd) {
	uw_input *in = PyObject_New(uw_input, &uw_input_type);
	if (!in) return NULL;
	in->fd = fd;
	in->fdpos = 0;
	in->start = 0;
	if (fd >= 0) {
		in->buf = malloc(UW_INPUT_BUF);
		in->cap = UW_INPUT_BUF;
		in->end = 0;
	} else {
		in->buf = len ? malloc(len) : NULL;
		if (len) memcpy(in->buf, body, len);
		in->cap = len;
		in->end = len;
	}
	in->owns_buf = 1;
	return (PyObject *)in;
}

static void uw_input_dealloc(uw_input *in) {
	if (in->owns_buf) free(in->buf);
	PyObject_Free(in);
}

/* refill: make unread bytes available; returns how many (0 at the end) */
static ssize_t in_fill(uw_input *in) {
	if (in->start < in->end) return (ssize_t)(in->end - in->start);
	if (in->fd < 0) return 0;
	ssize_t n;
	do {
		n = pread(in->fd, in->buf, in->cap, in->fdpos);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		PyErr_SetFromErrno(PyExc_OSError);
		return -1;
	}
	in->fdpos += n;
	in->start = 0;
	in->end = (size_t)n;
	return n;
}

/* read up to limit bytes (limit < 0: all), stopping after '\n' if line */
static PyObject *in_read(uw_input *in, Py_ssize_t limit, int line) {
	/* fast path: the whole answer is in the buffer */
	ssize_t avail = in_fill(in);
	if (avail < 0) return NULL;
	char *p = in->buf + in->start;
	size_t want = limit < 0 ? (size_t)avail : ((size_t)limit < (size_t)avail ? (size_t)limit : (size_t)avail);
	int found_nl = 0;
	if (line) {
		char *nl = memchr(p, '\n', want);
		if (nl) {
			want = (size_t)(nl - p) + 1;
			found_nl = 1;
		}
	}
	if (in->fd < 0 || avail == 0 || found_nl || (limit >= 0 && (Py_ssize_t)want == limit)) {
		PyObject *r = PyBytes_FromStringAndSize(p, (Py_ssize_t)want);
		in->start += want;
		return r;
	}
	/* slow path: gather across refills of a file body */
	PyObject *acc = PyByteArray_FromStringAndSize(NULL, 0);
	if (!acc) return NULL;
	for (;;) {
		avail = in_fill(in);
		if (avail < 0) {
			Py_DECREF(acc);
			return NULL;
		}
		if (avail == 0) break;
		p = in->buf + in->start;
		size_t have = (size_t)PyByteArray_GET_SIZE(acc);
		size_t take = (size_t)avail;
		if (limit >= 0 && have + take > (size_t)limit) take = (size_t)limit - have;
		int done = 0;
		if (line) {
			char *nl = memchr(p, '\n', take);
			if (nl) {
				take = (size_t)(nl - p) + 1;
				done = 1;
			}
		}
		if (PyByteArray_Resize(acc, (Py_ssize_t)(have + take)) < 0) {
			Py_DECREF(acc);
			return NULL;
		}
		memcpy(PyByteArray_AS_STRING(acc) + have, p, take);
		in->start += take;
		if (done || (limit >= 0 && (Py_ssize_t)(have + take) >= limit)) break;
	}
	PyObject *r = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(acc), PyByteArray_GET_SIZE(acc));
	Py_DECREF(acc);
	return r;
}

static int size_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *out) {
	*out = -1;
	if (nargs > 1) {
		PyErr_SetString(PyExc_TypeError, "expected at most one argument");
		return -1;
	}
	if (nargs == 1 && args[0] != Py_None) {
		*out = PyLong_AsSsize_t(args[0]);
		if (*out == -1 && PyErr_Occurred()) return -1;
	}
	return 0;
}

static PyObject *uw_input_read(uw_input *in, PyObject *const *args, Py_ssize_t nargs) {
	Py_ssize_t n;
	if (size_arg(args, nargs, &n)) return NULL;
	return in_read(in, n, 0);
}

static PyObject *uw_input_readline(uw_input *in, PyObject *const *args, Py_ssize_t nargs) {
	Py_ssize_t n;
	if (size_arg(args, nargs, &n)) return NULL;
	return in_read(in, n, 1);
}

static PyObject *uw_input_readlines(uw_input *in, PyObject *const *args, Py_ssize_t nargs) {
	Py_ssize_t hint;
	if (size_arg(args, nargs, &hint)) return NULL;
	PyObject *list = PyList_New(0);
	Py_ssize_t total = 0;
	for (;;) {
		PyObject *l = in_read(in, -1, 1);
		if (!l) {
			Py_DECREF(list);
			return NULL;
		}
		if (PyBytes_GET_SIZE(l) == 0) {
			Py_DECREF(l);
			break;
		}
		total += PyBytes_GET_SIZE(l);
		PyList_Append(list, l);
		Py_DECREF(l);
		if (hint > 0 && total >= hint) break;
	}
	return list;
}

static PyObject *uw_input_iternext(uw_input *in) {
	PyObject *l = in_read(in, -1, 1);
	if (l && PyBytes_GET_SIZE(l) == 0) {
		Py_DECREF(l);
		return NULL; /* StopIteration */
	}
	return l;
}

static PyMethodDef uw_input_methods[] = {
	{"read", (PyCFunction)(void (*)(void))uw_input_read, METH_FASTCALL, "read([size]) -> bytes"},
	{"readline", (PyCFunction)(void (*)(void))uw_input_readline, METH_FASTCALL, "readline([size]) -> bytes"},
	{"readlines", (PyCFunction)(void (*)(void))uw_input_readlines, METH_FASTCALL, "readlines([hint]) -> list"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject uw_input_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "uwsgi._Input",
	.tp_basicsize = sizeof(uw_input),
	.tp_dealloc = (destructor)uw_input_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "wsgi.input: the request body",
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = (iternextfunc)uw_input_iternext,
	.tp_methods = uw_input_methods,
};
