/*
 * The uwsgi module: websockets, with uWSGI 2.0's calls and semantics.
 *
 * After the 101 the network plane owns the connection: it reads and
 * parses the frames (pings, fragments, close, limits), and hands whole
 * messages to the hub, which queues them here, on the request's core
 * (uw_ws_push). websocket_recv() takes from that queue and parks the
 * core while it is empty, as its engine parks one: a green core waits on
 * its connection fd, which the hub reports readable when a message is
 * queued; a gevent greenlet waits on an event; a thread on a condition;
 * the default one-core mode (no green stacks) calls back into the hub,
 * which turns its loop until something is queued.
 * Messages the app sends are framed here (a server's frames are never
 * masked, so a frame is a 2-10 byte header and the payload) and go out
 * with the core's output, in order, with its back-pressure.
 *
 * Pure C on the Python side: these calls run on green stacks.
 */
#define PY_SSIZE_T_CLEAN
#include "api.h"
#include "glue.h"
#include "threads.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ws_msg {
	struct ws_msg *next;
	size_t len;
	char data[];
};

/* per core, by id (a --threads thread's own core has its hub core's id) */
struct ws_core {
	pthread_mutex_t mu; /* --threads: the hub pushes while the thread takes */
	pthread_cond_t cv;
	struct ws_msg *head, *tail;
	size_t bytes; /* queued */
	int full;     /* bytes reached WS_QUEUE_HIGH: the plane stopped reading */
	int on;      /* the handshake was answered */
	int closed;  /* the plane said the connection is closing or gone */
	int refused; /* the handshake was refused with a 400 */
};

/* pyhost/wsblock.go: the default one-core mode's blocking wait (Go, on the
 * hub thread's own stack: that mode runs no green stacks) */
extern void uwsgoWSBlock(int core);

/* hub/websocket.go's wsQueueHigh: past it the plane stops reading the
 * connection until the request has taken half */
#define WS_QUEUE_HIGH (1 << 20)

static struct ws_core *wsc;
static int nwsc;

static struct ws_core *ws_of(int id) { return id >= 0 && id < nwsc ? &wsc[id] : NULL; }

static uw_core *core_or_ioerror(const char *what) {
	uw_core *c = uw_api_request_core();
	if (!c || !ws_of(c->id)) PyErr_Format(PyExc_IOError, "unable to %s: not called from a request", what);
	return c && ws_of(c->id) ? c : NULL;
}

/* --------------------------------------------------- Go's side (hub thread) */

/* gevent: wake the greenlet waiting in websocket_recv (pyapi/50_websocket.py) */
static void gevent_notify_tramp(void *a) {
	PyObject *m = PyImport_AddModule("uwsgi"); /* borrowed */
	PyObject *r = m ? PyObject_CallMethod(m, "_ws_gevent_notify", "i", *(int *)a) : NULL;
	if (!r) PyErr_Print();
	Py_XDECREF(r);
}

static void ws_notify(int id, struct ws_core *w) {
	if (uw_eng->threaded) {
		pthread_cond_signal(&w->cv);
	} else if (uw_g.s.engine == UW_ENGINE_GEVENT) {
		uw_on_loop_stack(gevent_notify_tramp, &id);
	}
}

size_t uw_ws_push(int id, const char *data, size_t len) {
	struct ws_core *w = ws_of(id);
	if (!w) return 0;
	struct ws_msg *m = malloc(sizeof *m + len);
	if (!m) return 0;
	m->next = NULL;
	m->len = len;
	memcpy(m->data, data, len);
	pthread_mutex_lock(&w->mu);
	if (w->tail)
		w->tail->next = m;
	else
		w->head = m;
	w->tail = m;
	size_t queued = w->bytes += len;
	if (queued >= WS_QUEUE_HIGH) w->full = 1;
	pthread_mutex_unlock(&w->mu);
	ws_notify(id, w);
	return queued;
}

size_t uw_ws_queued(int id) {
	struct ws_core *w = ws_of(id);
	if (!w) return 0;
	pthread_mutex_lock(&w->mu);
	size_t n = w->bytes;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void uw_ws_close(int id) {
	struct ws_core *w = ws_of(id);
	if (!w) return;
	pthread_mutex_lock(&w->mu);
	w->closed = 1;
	pthread_mutex_unlock(&w->mu);
	ws_notify(id, w);
}

int uw_ws_pending(int id) {
	struct ws_core *w = ws_of(id);
	if (!w) return 0;
	pthread_mutex_lock(&w->mu);
	int r = w->head != NULL || w->closed;
	pthread_mutex_unlock(&w->mu);
	return r;
}

int uw_ws_refused(int id) {
	struct ws_core *w = ws_of(id);
	return w && w->refused;
}

/* the request is over: drop what is left */
void uw_ws_reset(int id) {
	struct ws_core *w = ws_of(id);
	if (!w) return;
	pthread_mutex_lock(&w->mu);
	struct ws_msg *m = w->head;
	w->head = w->tail = NULL;
	w->bytes = 0;
	w->on = w->closed = w->refused = w->full = 0;
	pthread_mutex_unlock(&w->mu);
	while (m) {
		struct ws_msg *n = m->next;
		free(m);
		m = n;
	}
}

/* ----------------------------------------------------------- the calls */

/* output the core produced goes to the hub now, where it cannot wait for
 * the core to give way; block: the caller is about to wait for the client,
 * so a thread's output must not stay behind for its next hand-over */
static void ws_flush(uw_core *c, int block) {
	struct ws_core *w = ws_of(c->id);
	/* a thread's hub only looks at its core when it hands something over:
	 * a thread that took enough to let its connection be read again says so */
	int poke = 0;
	if (w && w->full && block) {
		pthread_mutex_lock(&w->mu);
		if (w->bytes < WS_QUEUE_HIGH / 2) poke = 1, w->full = 0;
		pthread_mutex_unlock(&w->mu);
	}
	if (uw_eng->threaded && block)
		uw_threads_flush(c, poke);
	else if (uw_eng->threaded)
		uw_threads_yield(c);
	else if (uw_g.s.engine == UW_ENGINE_GEVENT)
		uw_gevent_flush(c);
}

static PyObject *uww_connection_fd(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	uw_core *c = uw_api_request_core();
	if (!c) return PyErr_Format(PyExc_RuntimeError, "uwsgi.connection_fd() can only be called from a request");
	return PyLong_FromLong(uw_the_hub.cores[c->id].conn_fd);
}

/* _ws_answer(status, headers, body, ok): the handshake's answer (101, or
 * 400 when ok is false), committed at once */
static PyObject *uww_answer(PyObject *self, PyObject *args) {
	(void)self;
	PyObject *status, *headers;
	Py_buffer body;
	int ok;
	if (!PyArg_ParseTuple(args, "UO!y*p:_ws_answer", &status, &PyList_Type, &headers, &body, &ok)) return NULL;
	uw_core *c = core_or_ioerror("complete websocket handshake");
	uw_pycore *p = c ? c->py : NULL;
	if (!p || p->head_committed || p->status) {
		PyBuffer_Release(&body);
		if (p) PyErr_SetString(PyExc_IOError, "unable to complete websocket handshake: the response has already started");
		return NULL;
	}
	Py_INCREF(status);
	Py_XSETREF(p->status, status);
	Py_INCREF(headers);
	Py_XSETREF(p->headers, headers);
	int r = uw_wsgi_commit_head(c);
	if (r == 0 && body.len) r = uw_wsgi_emit_bytes(c, body.buf, (size_t)body.len);
	PyBuffer_Release(&body);
	if (r) return NULL;
	struct ws_core *w = ws_of(c->id);
	if (ok)
		w->on = 1;
	else
		w->refused = 1;
	ws_flush(c, 0);
	Py_RETURN_NONE;
}

/* _ws_take(): the next whole message, None when there is none yet;
 * IOError once the connection is closed and the queue empty */
static PyObject *uww_take(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	uw_core *c = core_or_ioerror("receive websocket message");
	if (!c) return NULL;
	struct ws_core *w = ws_of(c->id);
	if (!w->on) return PyErr_Format(PyExc_IOError, "unable to receive websocket message: no websocket handshake");
	pthread_mutex_lock(&w->mu);
	struct ws_msg *m = w->head;
	if (m) {
		w->head = m->next;
		if (!w->head) w->tail = NULL;
		w->bytes -= m->len;
	}
	int closed = w->closed;
	pthread_mutex_unlock(&w->mu);
	if (!m) {
		if (closed || c->aborted) return PyErr_Format(PyExc_IOError, "unable to receive websocket message");
		Py_RETURN_NONE;
	}
	PyObject *b = PyBytes_FromStringAndSize(m->data, (Py_ssize_t)m->len);
	free(m);
	return b;
}

/* _ws_park(): wait until a message is queued or the connection closes,
 * as the engine parks a core */
static PyObject *uww_park(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	uw_core *c = core_or_ioerror("receive websocket message");
	if (!c) return NULL;
	struct ws_core *w = ws_of(c->id);
	if (uw_eng->threaded) {
		ws_flush(c, 1);
		Py_BEGIN_ALLOW_THREADS;
		pthread_mutex_lock(&w->mu);
		while (!w->head && !w->closed) pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
		Py_END_ALLOW_THREADS;
		Py_RETURN_NONE;
	}
	if (uw_g.s.engine == UW_ENGINE_GEVENT) {
		ws_flush(c, 1);
		PyObject *m = PyImport_AddModule("uwsgi");
		return m ? PyObject_CallMethod(m, "_ws_gevent_wait", "i", c->id) : NULL;
	}
	if (!uw_eng->suspend && uw_the_hub.ncores == 1 && uw_current_core() == c && !uw_eng->needs_loop_stack) {
		/* one core: nothing else could run meanwhile; block the worker
		 * (the plane goes on reading this connection), as uWSGI's sync
		 * mode does */
		uwsgoWSBlock(c->id);
		Py_RETURN_NONE;
	}
	if (!uw_eng->suspend)
		return PyErr_Format(PyExc_RuntimeError,
		                    "uwsgi.websocket_recv() would block every core of the worker in plain --async mode: "
		                    "use --ugreen, --greenlet or --gevent, or uWSGI's async form "
		                    "(yield uwsgi.wait_fd_read(uwsgi.connection_fd()), then uwsgi.websocket_recv_nb())");
	/* the hub reports the connection fd readable once a message is queued */
	c->wait_fd[0] = uw_the_hub.cores[c->id].conn_fd;
	c->wait_mode[0] = UW_WAIT_READ;
	c->nwait = 1;
	uw_core_suspend(c);
	Py_RETURN_NONE;
}

/* a server frame: FIN + opcode, the length, the payload (never masked) */
static PyObject *ws_send(PyObject *args, uint8_t opcode, const char *what) {
	const char *msg;
	Py_ssize_t len;
	if (!PyArg_ParseTuple(args, "s#", &msg, &len)) return NULL;
	uw_core *c = core_or_ioerror(what);
	if (!c) return NULL;
	struct ws_core *w = ws_of(c->id);
	if (!w->on || w->closed || c->aborted) return PyErr_Format(PyExc_IOError, "unable to %s", what);
	uint8_t h[10];
	size_t hl = 2;
	h[0] = 0x80 | opcode;
	if (len < 126) {
		h[1] = (uint8_t)len;
	} else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (uw_wsgi_emit_bytes(c, (const char *)h, hl) || uw_wsgi_emit_bytes(c, msg, (size_t)len)) return NULL;
	ws_flush(c, 0);
	Py_RETURN_NONE;
}

static PyObject *uww_send(PyObject *self, PyObject *args) {
	(void)self;
	return ws_send(args, 0x1, "send websocket message");
}

static PyObject *uww_send_binary(PyObject *self, PyObject *args) {
	(void)self;
	return ws_send(args, 0x2, "send websocket binary message");
}

static PyMethodDef uww_methods[] = {
	{"connection_fd", uww_connection_fd, METH_NOARGS, "connection_fd(): the fd of the request's client connection"},
	{"websocket_send", uww_send, METH_VARARGS, "websocket_send(msg): send a text message"},
	{"websocket_send_binary", uww_send_binary, METH_VARARGS, "websocket_send_binary(msg): send a binary message"},
	{"_ws_answer", uww_answer, METH_VARARGS, "_ws_answer(status, headers, body, ok): the handshake's answer"},
	{"_ws_take", uww_take, METH_NOARGS, "_ws_take(): the next queued message, or None"},
	{"_ws_park", uww_park, METH_NOARGS, "_ws_park(): wait for a message"},
	{NULL, NULL, 0, NULL},
};

int uw_api_websocket_init(PyObject *m) {
	if (!wsc) {
		nwsc = uw_the_hub.ncores > uw_g.s.ncores ? uw_the_hub.ncores : uw_g.s.ncores;
		if (nwsc < 1) nwsc = 1;
		wsc = calloc((size_t)nwsc, sizeof *wsc);
		if (!wsc) {
			PyErr_NoMemory();
			return -1;
		}
		for (int i = 0; i < nwsc; i++) {
			pthread_mutex_init(&wsc[i].mu, NULL);
			pthread_cond_init(&wsc[i].cv, NULL);
		}
	}
	return PyModule_AddFunctions(m, uww_methods);
}
