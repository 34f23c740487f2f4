/*
 * PEP 3333 on a core: start_response and write(), the head, the body
 * iteration, wsgi.file_wrapper and close().
 */
#include "glue.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------ start_response */

typedef struct {
	PyObject_HEAD
	uw_core *core;
} uw_start_response;

PyObject *uw_start_response_new(uw_core *c) {
	uw_start_response *sr = PyObject_New(uw_start_response, &uw_start_response_type);
	if (sr) sr->core = c;
	return (PyObject *)sr;
}

/* a header name or value must be latin-1 and free of CR/LF */
static int check_header_str(PyObject *s, const char *what) {
	if (!PyUnicode_Check(s)) {
		PyErr_Format(PyExc_TypeError, "header %s must be str, not %.200s", what, Py_TYPE(s)->tp_name);
		return -1;
	}
	Py_ssize_t n;
	PyObject *b = PyUnicode_AsLatin1String(s);
	if (!b) return -1;
	const char *p = PyBytes_AS_STRING(b);
	n = PyBytes_GET_SIZE(b);
	for (Py_ssize_t i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') {
			Py_DECREF(b);
			PyErr_Format(PyExc_ValueError, "header %s must not contain control characters: %R", what, s);
			return -1;
		}
	}
	Py_DECREF(b);
	return 0;
}

static PyObject *uw_start_response_call(uw_start_response *self, PyObject *args, PyObject *kw) {
	uw_core *c = self->core;
	uw_pycore *p = c->py;
	PyObject *status, *headers, *exc_info = Py_None;
	static char *kwlist[] = {"status", "headers", "exc_info", NULL};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:start_response", kwlist, &status, &headers, &exc_info))
		return NULL;
	if (exc_info != Py_None) {
		if (p->head_committed) {
			/* too late to change the head: re-raise, as PEP 3333 says */
			if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
				PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
				return NULL;
			}
			PyObject *t = PyTuple_GET_ITEM(exc_info, 0), *v = PyTuple_GET_ITEM(exc_info, 1),
			         *tb = PyTuple_GET_ITEM(exc_info, 2);
			Py_INCREF(t);
			Py_INCREF(v);
			Py_INCREF(tb);
			PyErr_Restore(t, v, tb == Py_None ? NULL : tb);
			if (tb == Py_None) Py_DECREF(tb);
			return NULL;
		}
	} else if (p->status) {
		PyErr_SetString(PyExc_RuntimeError, "start_response() called again without exc_info");
		return NULL;
	}
	if (!PyUnicode_Check(status)) {
		PyErr_Format(PyExc_TypeError, "status must be str, not %.200s", Py_TYPE(status)->tp_name);
		return NULL;
	}
	if (check_header_str(status, "status")) return NULL;
	const char *st = PyUnicode_AsUTF8(status);
	if (!st || strlen(st) < 4 || st[0] < '1' || st[0] > '9' || st[1] < '0' || st[1] > '9' || st[2] < '0' ||
	    st[2] > '9' || st[3] != ' ') {
		PyErr_Format(PyExc_ValueError, "status must look like '200 OK', not %R", status);
		return NULL;
	}
	if (!PyList_Check(headers)) {
		PyErr_Format(PyExc_TypeError, "headers must be a list, not %.200s", Py_TYPE(headers)->tp_name);
		return NULL;
	}
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
		PyObject *h = PyList_GET_ITEM(headers, i);
		if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 2) {
			PyErr_Format(PyExc_TypeError, "each header must be a (name, value) tuple, not %R", h);
			return NULL;
		}
		if (check_header_str(PyTuple_GET_ITEM(h, 0), "name") || check_header_str(PyTuple_GET_ITEM(h, 1), "value"))
			return NULL;
	}
	Py_INCREF(status);
	Py_XSETREF(p->status, status);
	Py_INCREF(headers);
	Py_XSETREF(p->headers, headers);
	Py_INCREF(p->write);
	return p->write;
}

static int emit(uw_core *c, PyObject *data);

static PyObject *uw_write(uw_start_response *self, PyObject *data) {
	uw_pycore *p = self->core->py;
	if (!p->status) {
		PyErr_SetString(PyExc_RuntimeError, "write() called before start_response()");
		return NULL;
	}
	if (emit(self->core, data) < 0) return NULL;
	Py_RETURN_NONE;
}

static PyMethodDef uw_start_response_methods[] = {
	{"write", (PyCFunction)uw_write, METH_O, "write(data): the WSGI write() callable"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject uw_start_response_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "uwsgi._StartResponse",
	.tp_basicsize = sizeof(uw_start_response),
	.tp_dealloc = (destructor)PyObject_Free,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_call = (ternaryfunc)uw_start_response_call,
	.tp_methods = uw_start_response_methods,
};

/* --------------------------------------------------------- file_wrapper */

typedef struct {
	PyObject_HEAD
	PyObject *filelike;
	Py_ssize_t blksize;
} uw_file_wrapper;

static int uw_file_wrapper_init(uw_file_wrapper *self, PyObject *args, PyObject *kw) {
	PyObject *f;
	Py_ssize_t blksize = 8192;
	static char *kwlist[] = {"filelike", "blksize", NULL};
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:file_wrapper", kwlist, &f, &blksize)) return -1;
	Py_INCREF(f);
	Py_XSETREF(self->filelike, f);
	self->blksize = blksize > 0 ? blksize : 8192;
	return 0;
}

static void uw_file_wrapper_dealloc(uw_file_wrapper *self) {
	Py_XDECREF(self->filelike);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *uw_file_wrapper_next(uw_file_wrapper *self) {
	PyObject *data = PyObject_CallMethod(self->filelike, "read", "n", self->blksize);
	if (!data) return NULL;
	if (PyObject_Length(data) <= 0) {
		Py_DECREF(data);
		return NULL;
	}
	return data;
}

static PyObject *uw_file_wrapper_close(uw_file_wrapper *self, PyObject *unused) {
	(void)unused;
	if (PyObject_HasAttrString(self->filelike, "close")) return PyObject_CallMethod(self->filelike, "close", NULL);
	Py_RETURN_NONE;
}

static PyMethodDef uw_file_wrapper_methods[] = {
	{"close", (PyCFunction)uw_file_wrapper_close, METH_NOARGS, "close the wrapped file"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject uw_file_wrapper_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "uwsgi.FileWrapper",
	.tp_basicsize = sizeof(uw_file_wrapper),
	.tp_dealloc = (destructor)uw_file_wrapper_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "wsgi.file_wrapper: a file sent by the server (sendfile when it is a real file)",
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = (iternextfunc)uw_file_wrapper_next,
	.tp_methods = uw_file_wrapper_methods,
	.tp_init = (initproc)uw_file_wrapper_init,
	.tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------ the head */

static int buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
	if (*len + n > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (nc < *len + n) nc *= 2;
		char *b = realloc(*buf, nc);
		if (!b) {
			PyErr_NoMemory();
			return -1;
		}
		*buf = b;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

static int put_latin1(char **buf, size_t *len, size_t *cap, PyObject *s) {
	PyObject *b = PyUnicode_AsLatin1String(s);
	if (!b) return -1;
	int r = buf_put(buf, len, cap, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b) + 1); /* with NUL */
	Py_DECREF(b);
	return r;
}

/* commit_head hands the head to Go: done before the first body byte. */
static int commit_head(uw_core *c) {
	uw_pycore *p = c->py;
	if (p->head_committed) return 0;
	if (!p->status) {
		PyErr_SetString(PyExc_RuntimeError, "the app returned a body without calling start_response()");
		return -1;
	}
	static size_t cap;
	static char *scratch;
	size_t len = 0;
	if (put_latin1(&scratch, &len, &cap, p->status)) return -1;
	Py_ssize_t n = PyList_GET_SIZE(p->headers);
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *h = PyList_GET_ITEM(p->headers, i);
		if (put_latin1(&scratch, &len, &cap, PyTuple_GET_ITEM(h, 0)) ||
		    put_latin1(&scratch, &len, &cap, PyTuple_GET_ITEM(h, 1)))
			return -1;
	}
	free(c->head);
	c->head = malloc(len);
	memcpy(c->head, scratch, len);
	c->head_len = len;
	c->head_count = (int)n;
	p->head_committed = 1;
	return 0;
}

/* emit queues one body chunk for Go. */
static int emit(uw_core *c, PyObject *data) {
	Py_buffer view;
	if (PyUnicode_Check(data)) {
		PyErr_Format(PyExc_TypeError, "response body must be bytes, not str (%.100R)", data);
		return -1;
	}
	if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
		PyErr_Clear();
		PyErr_Format(PyExc_TypeError, "response body must be bytes, not %.200s", Py_TYPE(data)->tp_name);
		return -1;
	}
	int r = 0;
	if (view.len > 0 && c->disconnect) {
		/* after uwsgi.disconnect() the response is over: output ends the
		 * iteration, as uWSGI's failed write does (a write() call returns) */
		c->aborted = 1;
	}
	if (view.len > 0 && !c->aborted) {
		r = commit_head(c);
		if (r == 0) r = buf_put(&c->out, &c->out_len, &c->out_cap, view.buf, (size_t)view.len);
	}
	PyBuffer_Release(&view);
	/* a green thread that write()s a lot lets Go take the output */
	if (r == 0 && c->out_len >= 256 * 1024 && uw_eng->suspend && (uw_eng->threaded || uw_current_core() == c))
		uw_core_suspend(c);
	return r;
}

/* uw_wsgi_commit_head: the head start_response gave goes out now, body
 * or not (uwsgi.disconnect(), the websocket calls); 0 without one */
int uw_wsgi_commit_head(uw_core *c) {
	uw_pycore *p = c->py;
	return p && p->status ? commit_head(c) : 0;
}

/* the head and raw body bytes, for the websocket calls (api_websocket.c):
 * nothing is dropped or split, so frames stay whole */
int uw_wsgi_emit_bytes(uw_core *c, const char *b, size_t n) {
	if (commit_head(c)) return -1;
	return n ? buf_put(&c->out, &c->out_len, &c->out_cap, b, n) : 0;
}

/* ------------------------------------------------------------ a request */

/* a real file behind wsgi.file_wrapper: let Go sendfile it */
static int try_sendfile(uw_core *c, PyObject *result) {
	if (Py_TYPE(result) != &uw_file_wrapper_type) return 0;
	PyObject *f = ((uw_file_wrapper *)result)->filelike;
	PyObject *fdo = PyObject_CallMethod(f, "fileno", NULL);
	if (!fdo) {
		PyErr_Clear();
		return 0;
	}
	int fd = (int)PyLong_AsLong(fdo);
	Py_DECREF(fdo);
	if (fd < 0) {
		PyErr_Clear();
		return 0;
	}
	struct stat sb;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) return 0;
	long long off = 0;
	PyObject *pos = PyObject_CallMethod(f, "tell", NULL);
	if (pos) {
		off = PyLong_AsLongLong(pos);
		Py_DECREF(pos);
	}
	if (PyErr_Occurred()) PyErr_Clear();
	if (commit_head(c) < 0) return -1;
	c->file_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (c->file_fd < 0) return 0;
	c->file_off = off;
	c->file_count = -1;
	return 1;
}

/* the app has been called: start iterating, or hand a file over */
static int wsgi_call_app(uw_core *c) {
	uw_pycore *p = c->py;
	p->started = 1;
	PyObject *res = PyObject_CallFunctionObjArgs(p->app, p->environ, p->start_response, NULL);
	if (!res) return -1;
	p->result = res;
	int sf = try_sendfile(c, res);
	if (sf < 0) return -1;
	if (sf > 0) return 1;
	p->iter = PyObject_GetIter(res);
	return p->iter ? 0 : -1;
}

/* the app failed: log the traceback; Go answers 500 or cuts the response */
void uw_wsgi_failed(uw_core *c) {
	PyErr_Print();
	/* a refused websocket handshake has its 400 out already */
	c->failed = !uw_ws_refused(c->id);
}

/* wsgi_finish commits an empty body's head and calls close(), in every case. */
static void wsgi_finish(uw_core *c) {
	uw_pycore *p = c->py;
	if (!c->failed && commit_head(c) < 0) uw_wsgi_failed(c);
	if (p->result && PyObject_HasAttrString(p->result, "close")) {
		PyObject *r = PyObject_CallMethod(p->result, "close", NULL);
		if (!r)
			uw_wsgi_failed(c);
		else
			Py_DECREF(r);
	}
	Py_CLEAR(p->iter);
	Py_CLEAR(p->result);
	Py_CLEAR(p->environ);
	Py_CLEAR(p->status);
	Py_CLEAR(p->headers);
	c->nwait = 0;
	c->timeout_ms = -1;
}

/* wsgi_next pulls one chunk: 1 emitted, 0 the iterator ended, -1 error */
static int wsgi_next(uw_core *c) {
	uw_pycore *p = c->py;
	PyObject *item = PyIter_Next(p->iter);
	if (!item) return PyErr_Occurred() ? -1 : 0;
	int r = emit(c, item);
	Py_DECREF(item);
	return r < 0 ? -1 : 1;
}

/* a list or tuple body is already computed: nothing to wait for between items */
static int body_is_computed(uw_core *c) {
	PyObject *res = ((uw_pycore *)c->py)->result;
	return PyList_CheckExact(res) || PyTuple_CheckExact(res);
}

/* the whole request, on a core that can give way anywhere (uGreen, greenlet, gevent) */
void uw_wsgi_run_request(uw_core *c) {
	int r = wsgi_call_app(c);
	if (r == 0) {
		int computed = body_is_computed(c);
		while (!c->aborted && (r = wsgi_next(c)) == 1) {
			/* every yield gives the other cores a turn; an empty yield
			 * after wait_fd_read, wait_fd_write or async_sleep parks it */
			if (!computed) uw_core_suspend(c);
		}
	}
	if (r < 0) uw_wsgi_failed(c);
	wsgi_finish(c);
}

/* plain async: one step; returns 0 when the request is over */
int uw_wsgi_step(uw_core *c) {
	uw_pycore *p = c->py;
	int r;
	if (!p->started) {
		r = wsgi_call_app(c);
		if (r == 1) return 1; /* the file goes out; the next step finishes */
		if (r == 0) r = c->aborted ? 0 : wsgi_next(c);
	} else if (p->iter && !c->aborted) {
		r = wsgi_next(c);
	} else {
		r = 0;
	}
	/* a computed body goes out whole, with the end of the request */
	while (r == 1 && p->iter && !c->aborted && body_is_computed(c)) r = wsgi_next(c);
	if (r == 1) return 1;
	if (r < 0) uw_wsgi_failed(c);
	wsgi_finish(c);
	return 0;
}
