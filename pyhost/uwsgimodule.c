/*
 * The `uwsgi` Python module: the async API of uWSGI (suspend,
 * green_schedule, wait_fd_read, wait_fd_write, async_sleep, async_connect,
 * ready_fd, ...) with uWSGI's semantics.
 *
 * Pure C: these functions run on green stacks, where no Go code may run.
 */
#include "api.h"
#include "glue.h"
#include "threads.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

static uw_core *core_or_raise(const char *fn) {
	if (!uw_eng->async_api) {
		PyErr_Format(PyExc_RuntimeError, uw_eng->no_async_api, fn);
		return NULL;
	}
	uw_core *c = uw_current_core();
	if (!c)
		PyErr_Format(PyExc_RuntimeError,
		             "uwsgi.%s() can only be called from a request running on an async core "
		             "(start uwsgo with --async N and call it from the request's thread)",
		             fn);
	return c;
}

/* suspend(): switch to the hub; other cores run. Without a suspend engine
 * (plain --async) it does nothing, as in uWSGI: the app's next yield is
 * where it gives way. */
static PyObject *uwm_suspend(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	if (uw_eng->threaded) Py_RETURN_TRUE; /* as uWSGI: no suspend engine, nothing to do */
	uw_core *c = core_or_raise("suspend");
	if (!c) return NULL;
	uw_core_suspend(c);
	Py_RETURN_TRUE;
}

static int add_wait(uw_core *c, int fd, int mode, int timeout) {
	if (fd < 0) {
		PyErr_Format(PyExc_ValueError, "invalid file descriptor %d", fd);
		return -1;
	}
	if (c->nwait >= UW_MAX_WAIT_FDS) {
		PyErr_Format(PyExc_OSError, "unable to add fd %d to the event queue: at most %d fds per core", fd,
		             UW_MAX_WAIT_FDS);
		return -1;
	}
	c->wait_fd[c->nwait] = fd;
	c->wait_mode[c->nwait] = mode;
	c->nwait++;
	if (timeout > 0) c->timeout_ms = (int64_t)timeout * 1000;
	return 0;
}

static PyObject *wait_fd(PyObject *args, int mode, const char *name) {
	int fd, timeout = 0;
	if (!PyArg_ParseTuple(args, "i|i", &fd, &timeout)) return NULL;
	uw_core *c = core_or_raise(name);
	if (!c || add_wait(c, fd, mode, timeout)) return NULL;
	/* bytes, so that `yield uwsgi.wait_fd_read(fd)` works */
	Py_INCREF(uw_g.empty_bytes);
	return uw_g.empty_bytes;
}

static PyObject *uwm_wait_fd_read(PyObject *self, PyObject *args) {
	(void)self;
	return wait_fd(args, UW_WAIT_READ, "wait_fd_read");
}

static PyObject *uwm_wait_fd_write(PyObject *self, PyObject *args) {
	(void)self;
	return wait_fd(args, UW_WAIT_WRITE, "wait_fd_write");
}

static PyObject *uwm_async_sleep(PyObject *self, PyObject *args) {
	(void)self;
	double secs;
	if (!PyArg_ParseTuple(args, "d:async_sleep", &secs)) return NULL;
	uw_core *c = core_or_raise("async_sleep");
	if (!c) return NULL;
	if (secs > 0) c->timeout_ms = (int64_t)(secs * 1000.0 + 0.5);
	Py_INCREF(uw_g.empty_bytes);
	return uw_g.empty_bytes;
}

static PyObject *uwm_ready_fd(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	uw_core *c = core_or_raise("ready_fd");
	if (!c) return NULL;
	return PyLong_FromLong(c->ready_fd);
}

/* async_connect("host:port" or "/unix/path"): a non-blocking connect;
 * wait_fd_write(fd) then tells when it is done. */
static PyObject *uwm_async_connect(PyObject *self, PyObject *args) {
	(void)self;
	const char *addr;
	if (!PyArg_ParseTuple(args, "s:async_connect", &addr)) return NULL;
	int fd = -1;
	const char *colon = strrchr(addr, ':');
	if (!colon || strchr(addr, '/')) {
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(addr) >= sizeof sun.sun_path) return PyErr_Format(PyExc_ValueError, "unix socket path too long: %s", addr);
		strcpy(sun.sun_path, addr);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) return PyErr_SetFromErrno(PyExc_OSError);
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
			int e = errno;
			close(fd);
			errno = e;
			return PyErr_Format(PyExc_OSError, "unable to connect to %s: %s", addr, strerror(e));
		}
		return PyLong_FromLong(fd);
	}
	char host[256];
	size_t hl = (size_t)(colon - addr);
	if (hl >= sizeof host) return PyErr_Format(PyExc_ValueError, "address too long: %s", addr);
	memcpy(host, addr, hl);
	host[hl] = 0;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int gai = getaddrinfo(hl ? host : "127.0.0.1", colon + 1, &hints, &res);
	if (gai) return PyErr_Format(PyExc_OSError, "unable to resolve %s: %s", addr, gai_strerror(gai));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		freeaddrinfo(res);
		close(fd);
		return PyErr_Format(PyExc_OSError, "unable to connect to %s: %s", addr, strerror(e));
	}
	freeaddrinfo(res);
	return PyLong_FromLong(fd);
}

static PyObject *uwm_is_connected(PyObject *self, PyObject *args) {
	(void)self;
	int fd, err = 0;
	socklen_t len = sizeof err;
	if (!PyArg_ParseTuple(args, "i:is_connected", &fd)) return NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) Py_RETURN_FALSE;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl)) Py_RETURN_FALSE;
	Py_RETURN_TRUE;
}

static PyObject *uwm_send(PyObject *self, PyObject *args) {
	(void)self;
	int fd;
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "iy*:send", &fd, &b)) return NULL;
	ssize_t n = write(fd, b.buf, (size_t)b.len);
	PyBuffer_Release(&b);
	if (n < 0) return PyErr_SetFromErrno(PyExc_OSError);
	return PyLong_FromSsize_t(n);
}

static PyObject *uwm_recv(PyObject *self, PyObject *args) {
	(void)self;
	int fd, max = 4096;
	if (!PyArg_ParseTuple(args, "i|i:recv", &fd, &max)) return NULL;
	if (max <= 0) max = 4096;
	PyObject *b = PyBytes_FromStringAndSize(NULL, max);
	if (!b) return NULL;
	ssize_t n = read(fd, PyBytes_AS_STRING(b), (size_t)max);
	if (n < 0) {
		Py_DECREF(b);
		if (errno == EAGAIN) Py_RETURN_NONE;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	_PyBytes_Resize(&b, n);
	return b;
}

static PyObject *uwm_close(PyObject *self, PyObject *args) {
	(void)self;
	int fd;
	if (!PyArg_ParseTuple(args, "i:close", &fd)) return NULL;
	close(fd);
	Py_RETURN_NONE;
}

static PyObject *uwm_worker_id(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	return PyLong_FromLong(uw_g.s.worker_id);
}

static PyObject *uwm_masterpid(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	return PyLong_FromLong(uw_g.s.masterpid);
}

static PyObject *uwm_core_id(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	uw_core *c = uw_current_core();
	return PyLong_FromLong(c ? c->id : uw_threads_self_id());
}

static PyObject *uwm_log(PyObject *self, PyObject *args) {
	(void)self;
	const char *msg;
	if (!PyArg_ParseTuple(args, "s:log", &msg)) return NULL;
	fprintf(stderr, "%s\n", msg);
	Py_RETURN_TRUE;
}

static PyMethodDef uwm_methods[] = {
	{"suspend", uwm_suspend, METH_NOARGS, "suspend(): give the other cores a turn (uGreen switches here)"},
	{"green_schedule", uwm_suspend, METH_NOARGS, "green_schedule(): same as suspend()"},
	{"wait_fd_read", uwm_wait_fd_read, METH_VARARGS, "wait_fd_read(fd, timeout=0): park until fd is readable"},
	{"wait_fd_write", uwm_wait_fd_write, METH_VARARGS, "wait_fd_write(fd, timeout=0): park until fd is writable"},
	{"async_sleep", uwm_async_sleep, METH_VARARGS, "async_sleep(seconds): park for that long"},
	{"ready_fd", uwm_ready_fd, METH_NOARGS, "ready_fd(): the fd that woke the core, or -1"},
	{"async_connect", uwm_async_connect, METH_VARARGS, "async_connect(addr): non-blocking connect, returns the fd"},
	{"is_connected", uwm_is_connected, METH_VARARGS, "is_connected(fd)"},
	{"send", uwm_send, METH_VARARGS, "send(fd, data)"},
	{"recv", uwm_recv, METH_VARARGS, "recv(fd, max=4096)"},
	{"close", uwm_close, METH_VARARGS, "close(fd)"},
	{"worker_id", uwm_worker_id, METH_NOARGS, "worker_id(): this worker's number, from 1"},
	{"masterpid", uwm_masterpid, METH_NOARGS, "masterpid(): the master's pid, 0 without a master"},
	{"core_id", uwm_core_id, METH_NOARGS, "core_id(): the core running this request"},
	{"log", uwm_log, METH_VARARGS, "log(message)"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef uwm_def = {
	PyModuleDef_HEAD_INIT, "uwsgi", "uwsgo's implementation of the uwsgi module", -1, uwm_methods,
	NULL, NULL, NULL, NULL,
};

/* uwm_opt builds uwsgi.opt as uWSGI does: bytes for a value, True for a
 * bare flag, and a list once a key is given again. */
static PyObject *uwm_opt(const char *p, size_t len) {
	PyObject *d = PyDict_New();
	const char *end = p + len;
	while (d && p < end) {
		const char *key = p;
		p += strlen(p) + 1;
		if (p >= end) break;
		PyObject *v;
		if (*p == 'f') {
			v = Py_NewRef(Py_True);
		} else {
			v = PyBytes_FromString(p + 1);
		}
		p += strlen(p) + 1;
		PyObject *old = v ? PyDict_GetItemString(d, key) : NULL; /* borrowed */
		int rc;
		if (!v) {
			rc = -1;
		} else if (!old) {
			rc = PyDict_SetItemString(d, key, v);
		} else if (PyList_Check(old)) {
			rc = PyList_Append(old, v);
		} else {
			PyObject *l = PyList_New(2);
			if (l) {
				PyList_SET_ITEM(l, 0, Py_NewRef(old));
				PyList_SET_ITEM(l, 1, Py_NewRef(v));
			}
			rc = l ? PyDict_SetItemString(d, key, l) : -1;
			Py_XDECREF(l);
		}
		Py_XDECREF(v);
		if (rc < 0) Py_CLEAR(d);
	}
	return d;
}

/* exec_pyapi runs the module's Python parts (the .py files of pyapi/, embedded in the
 * binary) in its namespace, in name order: uWSGI's module is C throughout,
 * but what needs no C is clearer, and safer on a green stack, as Python. */
static int exec_pyapi(PyObject *m) {
	const char *p = uw_g.s.pyapi, *end = p ? p + uw_g.s.pyapi_len : NULL;
	PyObject *ns = PyModule_GetDict(m); /* borrowed */
	if (PyDict_GetItemString(ns, "__builtins__") == NULL &&
	    PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0)
		return -1;
	while (p && p < end) {
		const char *name = p;
		const char *src = name + strlen(name) + 1;
		p = src + strlen(src) + 1;
		char filename[256];
		snprintf(filename, sizeof filename, "<uwsgi:%s>", name);
		PyObject *code = Py_CompileString(src, filename, Py_file_input);
		if (!code) return -1;
		PyObject *r = PyEval_EvalCode(code, ns, ns);
		Py_DECREF(code);
		if (!r) return -1;
		Py_DECREF(r);
	}
	return 0;
}

PyObject *uw_uwsgimodule_init(void) {
	PyObject *m = PyModule_Create(&uwm_def);
	if (!m) return NULL;
	PyModule_AddIntConstant(m, "numproc", uw_g.s.numproc);
	PyModule_AddIntConstant(m, "cores", uw_the_hub.ncores ? uw_the_hub.ncores : (uw_g.s.ncores < 1 ? 1 : uw_g.s.ncores));
	PyModule_AddObject(m, "version", PyBytes_FromString(uw_g.s.version ? uw_g.s.version : "0"));
	PyModule_AddObject(m, "opt", uwm_opt(uw_g.s.opt ? uw_g.s.opt : "", uw_g.s.opt ? uw_g.s.opt_len : 0));
	if (uw_api_process_init(m) || uw_api_signal_init(m) || uw_api_shm_init(m) || uw_api_spooler_init(m) ||
	    uw_api_websocket_init(m) || exec_pyapi(m)) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
