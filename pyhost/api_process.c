/* The uwsgi module: process control, attributes and request I/O. */
#define PY_SSIZE_T_CLEAN
#include "api.h"
#include "glue.h"
#include "threads.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ------------------------------------------------------- process control */

/* requests finished per core: uwsgi.request_id() is the running core's
 * count, as uWSGI counts each core's requests when they close */
static uint64_t *core_requests;
static int ncore_requests;

/* per core: the request's logvars ("key\0value\0" ...), which the
 * request log shows as %(key), and log_this_request()'s flag; the hub
 * takes them as the request ends, and they are cleared when the core is
 * released */
struct core_log {
	char *buf;
	size_t len, cap;
	int log_this;
};
static struct core_log *core_logs;

static uint64_t *slot_of(int worker);
static int current_core_id(void);

/* set_user_harakiri()'s deadlines (procman/heartbeat.go): a request's is
 * its core's word (cUserHarakiri: three words per core after the apps'),
 * so each async core is timed alone, as in uWSGI 2.1; outside a request
 * the worker's (wUserHarakiri) */
#define W_USER_HARAKIRI 6
#define W_HEADER 16
#define CORE_WORDS 3
#define C_USER_HARAKIRI 2

static uint64_t *user_harakiri_word(int core) {
	uint64_t *slot = slot_of(uw_g.s.worker_id);
	if (!slot) return NULL;
	if (core < 0 || core >= uw_g.s.slot_cores) return &slot[W_USER_HARAKIRI];
	int i = W_HEADER + 2 * uw_g.s.slot_apps + CORE_WORDS * core + C_USER_HARAKIRI;
	return i < uw_g.s.slot_words ? &slot[i] : NULL;
}

void uw_api_process_request_done(int id) {
	if (id >= 0 && id < ncore_requests) {
		__atomic_add_fetch(&core_requests[id], 1, __ATOMIC_RELAXED);
		if (core_logs) {
			core_logs[id].len = 0;
			core_logs[id].log_this = 0;
		}
		/* as uWSGI, a user harakiri ends with the request that set it */
		uint64_t *w = user_harakiri_word(id);
		if (w && __atomic_load_n(w, __ATOMIC_RELAXED))
			__atomic_store_n(w, 0, __ATOMIC_RELAXED);
	}
}

/* api.h */
uw_core *uw_api_request_core(void) {
	uw_core *c = uw_current_core();
	if (c) return c;
	if (uw_g.s.engine == UW_ENGINE_GEVENT) {
		int id = uw_gevent_current_core();
		return id >= 0 ? &uw_the_hub.cores[id] : NULL;
	}
	return uw_threads_self_core();
}

static int current_core_id(void) {
	uw_core *c = uw_api_request_core();
	return c ? c->id : -1;
}

static PyObject *uwp_request_id(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	int id = current_core_id();
	if (id < 0 || id >= ncore_requests)
		return PyErr_Format(PyExc_RuntimeError, "uwsgi.request_id() can only be called from a request");
	return PyLong_FromUnsignedLongLong(__atomic_load_n(&core_requests[id], __ATOMIC_RELAXED));
}

/* _core_requests(): every core's count (total_requests without a master) */
static PyObject *uwp_core_requests(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	PyObject *t = PyTuple_New(ncore_requests);
	for (int i = 0; t && i < ncore_requests; i++)
		PyTuple_SET_ITEM(t, i, PyLong_FromUnsignedLongLong(__atomic_load_n(&core_requests[i], __ATOMIC_RELAXED)));
	return t;
}

/* the master's slots (procman/heartbeat.go): words read and written
 * atomically, as the Go side does */
static uint64_t *slot_of(int worker) {
	if (!uw_g.s.slots || uw_g.s.slot_words <= 0 || worker < 1) return NULL;
	size_t off = (size_t)(worker - 1) * (size_t)uw_g.s.slot_words * 8;
	if (off + (size_t)uw_g.s.slot_words * 8 > uw_g.s.slots_len) return NULL;
	return (uint64_t *)((char *)uw_g.s.slots + off);
}

/* _slots(): (apps, cores, ((word, ...) per worker)), or None without a master */
static PyObject *uwp_slots(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	if (!slot_of(1)) Py_RETURN_NONE;
	PyObject *all = PyTuple_New(uw_g.s.numproc);
	for (int w = 1; all && w <= uw_g.s.numproc; w++) {
		uint64_t *slot = slot_of(w);
		PyObject *t = PyTuple_New(slot ? uw_g.s.slot_words : 0);
		for (int i = 0; t && slot && i < uw_g.s.slot_words; i++)
			PyTuple_SET_ITEM(t, i, PyLong_FromUnsignedLongLong(__atomic_load_n(&slot[i], __ATOMIC_RELAXED)));
		if (!t) Py_CLEAR(all);
		else PyTuple_SET_ITEM(all, w - 1, t);
	}
	return all ? Py_BuildValue("(iiN)", uw_g.s.slot_apps, uw_g.s.slot_cores, all) : NULL;
}

/* _slot_store(word, value): a word of this worker's own slot; False
 * without a master */
static PyObject *uwp_slot_store(PyObject *self, PyObject *args) {
	(void)self;
	int word;
	unsigned long long v;
	if (!PyArg_ParseTuple(args, "iK:_slot_store", &word, &v)) return NULL;
	uint64_t *slot = slot_of(uw_g.s.worker_id);
	if (!slot || uw_g.s.masterpid <= 0) Py_RETURN_FALSE;
	if (word < 0 || word >= uw_g.s.slot_words) return PyErr_Format(PyExc_IndexError, "no slot word %d", word);
	__atomic_store_n(&slot[word], (uint64_t)v, __ATOMIC_RELAXED);
	Py_RETURN_TRUE;
}

/* disconnect(): end the response with what was sent so far and close the
 * connection, while the app's code goes on (what it sends next goes
 * nowhere). The hub does it when the core next gives way: at once where
 * the engine can switch (uGreen, greenlet, gevent; a thread hands over),
 * at the app's next yield or return under plain --async. */
static PyObject *uwp_disconnect(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	uw_core *c = uw_api_request_core();
	if (!c) return PyErr_Format(PyExc_RuntimeError, "uwsgi.disconnect() can only be called from a request");
	if (c->disconnect) Py_RETURN_NONE;
	if (uw_wsgi_commit_head(c) < 0) return NULL;
	c->disconnect = 1;
	if (uw_eng->threaded) {
		uw_core_suspend(c); /* hands the head, the output and the mark to the hub */
		Py_RETURN_NONE;
	}
	uw_event(c, UW_EV_OUT);
	if (uw_eng->suspend && (uw_current_core() == c || uw_g.s.engine == UW_ENGINE_GEVENT))
		uw_core_suspend(c);
	Py_RETURN_NONE;
}

/* _user_harakiri(deadline): set_user_harakiri()'s deadline for the
 * running request's core (the worker's outside a request); False
 * without a master */
static PyObject *uwp_user_harakiri(PyObject *self, PyObject *args) {
	(void)self;
	unsigned long long v;
	if (!PyArg_ParseTuple(args, "K:_user_harakiri", &v)) return NULL;
	uint64_t *w = uw_g.s.masterpid > 0 ? user_harakiri_word(current_core_id()) : NULL;
	if (!w) Py_RETURN_FALSE;
	__atomic_store_n(w, (uint64_t)v, __ATOMIC_RELAXED);
	Py_RETURN_TRUE;
}

/* setprocname(name): what ps shows, written over the command line as
 * uWSGI's uwsgi_set_processname does (and procman.SetProcessName), and
 * the kernel's command name (15 bytes, the main thread's) */
static PyObject *uwp_setprocname(PyObject *self, PyObject *args) {
	(void)self;
	const char *name;
	Py_ssize_t len;
	if (!PyArg_ParseTuple(args, "s#:setprocname", &name, &len)) return NULL;
	if (uw_g.s.argv_area && uw_g.s.argv_len > 0) {
		size_t n = (size_t)len < uw_g.s.argv_len - 1 ? (size_t)len : uw_g.s.argv_len - 1;
		memcpy(uw_g.s.argv_area, name, n);
		memset(uw_g.s.argv_area + n, 0, uw_g.s.argv_len - n);
	}
	int fd = open("/proc/self/comm", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t w = write(fd, name, (size_t)(len > 15 ? 15 : len));
		(void)w;
		close(fd);
	}
	Py_RETURN_NONE;
}

/* ------------------------------------------------------------- logvars */

static struct core_log *current_log(const char *fn) {
	int id = current_core_id();
	if (id < 0 || id >= ncore_requests || !core_logs) {
		PyErr_Format(PyExc_RuntimeError, "uwsgi.%s() can only be called from a request", fn);
		return NULL;
	}
	return &core_logs[id];
}

/* find key in a core's logvars: the offset of its entry, or -1 */
static ssize_t logvar_find(struct core_log *l, const char *key, size_t klen) {
	size_t off = 0;
	while (off < l->len) {
		const char *k = l->buf + off;
		size_t kl = strlen(k);
		const char *v = k + kl + 1;
		if (kl == klen && memcmp(k, key, klen) == 0) return (ssize_t)off;
		off = (size_t)(v - l->buf) + strlen(v) + 1;
	}
	return -1;
}

static PyObject *uwp_set_logvar(PyObject *self, PyObject *args) {
	(void)self;
	const char *key, *val;
	Py_ssize_t klen, vlen;
	if (!PyArg_ParseTuple(args, "s#s#:set_logvar", &key, &klen, &val, &vlen)) return NULL;
	struct core_log *l = current_log("set_logvar");
	if (!l) return NULL;
	/* a NUL ends a key or value, as in a C string */
	klen = (Py_ssize_t)strnlen(key, (size_t)klen);
	vlen = (Py_ssize_t)strnlen(val, (size_t)vlen);
	ssize_t at = logvar_find(l, key, (size_t)klen);
	if (at >= 0) { /* the new value replaces the old */
		const char *v = l->buf + at + klen + 1;
		size_t old = (size_t)klen + 1 + strlen(v) + 1;
		memmove(l->buf + at, l->buf + at + old, l->len - (size_t)at - old);
		l->len -= old;
	}
	size_t need = l->len + (size_t)klen + (size_t)vlen + 2;
	if (need > l->cap) {
		size_t cap = need * 2 < 256 ? 256 : need * 2;
		char *nb = realloc(l->buf, cap);
		if (!nb) return PyErr_NoMemory();
		l->buf = nb;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, key, (size_t)klen);
	l->buf[l->len + (size_t)klen] = 0;
	memcpy(l->buf + l->len + (size_t)klen + 1, val, (size_t)vlen);
	l->buf[need - 1] = 0;
	l->len = need;
	Py_RETURN_NONE;
}

static PyObject *uwp_get_logvar(PyObject *self, PyObject *args) {
	(void)self;
	const char *key;
	Py_ssize_t klen;
	if (!PyArg_ParseTuple(args, "s#:get_logvar", &key, &klen)) return NULL;
	struct core_log *l = current_log("get_logvar");
	if (!l) return NULL;
	ssize_t at = logvar_find(l, key, (size_t)klen);
	if (at < 0) Py_RETURN_NONE;
	return PyBytes_FromString(l->buf + at + klen + 1);
}

static PyObject *uwp_log_this_request(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	struct core_log *l = current_log("log_this_request");
	if (!l) return NULL;
	l->log_this = 1;
	Py_RETURN_NONE;
}

const char *uw_api_process_logvars(int id, size_t *len, int *log_this) {
	if (id < 0 || id >= ncore_requests || !core_logs) {
		*len = 0;
		*log_this = 0;
		return NULL;
	}
	*len = core_logs[id].len;
	*log_this = core_logs[id].log_this;
	return core_logs[id].buf;
}

/* ------------------------------------------------------------ request I/O */

static uw_pycore *request_py(const char *fn) {
	uw_core *c = uw_api_request_core();
	uw_pycore *p = c ? c->py : NULL;
	if (!p || !p->environ) {
		PyErr_Format(PyExc_RuntimeError, "uwsgi.%s() can only be called from a request", fn);
		return NULL;
	}
	return p;
}

/* _request_environ(): the running request's environ (chunked_read) */
static PyObject *uwp_request_environ(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	uw_pycore *p = request_py("chunked_read");
	return p ? Py_NewRef(p->environ) : NULL;
}

/* _request_write(data): the running request's WSGI write() (sendfile) */
static PyObject *uwp_request_write(PyObject *self, PyObject *data) {
	(void)self;
	uw_pycore *p = request_py("sendfile");
	return p ? PyObject_CallOneArg(p->write, data) : NULL;
}

static PyMethodDef uwp_methods[] = {
	{"_request_environ", uwp_request_environ, METH_NOARGS, "_request_environ(): the running request's environ"},
	{"_request_write", uwp_request_write, METH_O, "_request_write(data): the running request's write()"},
	{"set_logvar", uwp_set_logvar, METH_VARARGS, "set_logvar(key, value): %(key) in --log-format shows value"},
	{"get_logvar", uwp_get_logvar, METH_VARARGS, "get_logvar(key): the request's logvar, or None"},
	{"log_this_request", uwp_log_this_request, METH_NOARGS, "log_this_request(): log this request even with --disable-logging"},
	{"request_id", uwp_request_id, METH_NOARGS, "request_id(): how many requests this core served before this one"},
	{"setprocname", uwp_setprocname, METH_VARARGS, "setprocname(name): the name ps shows for this process"},
	{"_core_requests", uwp_core_requests, METH_NOARGS, "_core_requests(): requests served per core"},
	{"_slots", uwp_slots, METH_NOARGS, "_slots(): the master's shared counters, per worker"},
	{"disconnect", uwp_disconnect, METH_NOARGS, "disconnect(): end the response with what was sent and close the connection; the code goes on"},
	{"_user_harakiri", uwp_user_harakiri, METH_VARARGS, "_user_harakiri(deadline): set_user_harakiri's word for this core"},
	{"_slot_store", uwp_slot_store, METH_VARARGS, "_slot_store(word, value): a word of this worker's slot"},
	{NULL, NULL, 0, NULL},
};

int uw_api_process_init(PyObject *m) {
	if (!core_requests) {
		ncore_requests = uw_the_hub.ncores > uw_g.s.ncores ? uw_the_hub.ncores : uw_g.s.ncores;
		if (ncore_requests < 1) ncore_requests = 1;
		core_requests = calloc((size_t)ncore_requests, sizeof *core_requests);
		core_logs = calloc((size_t)ncore_requests, sizeof *core_logs);
		if (!core_requests || !core_logs) {
			PyErr_NoMemory();
			return -1;
		}
	}
	if (PyModule_AddFunctions(m, uwp_methods) < 0) return -1;
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
