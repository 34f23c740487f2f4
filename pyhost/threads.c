/*
 * --threads N: N Python threads per worker, each with its own thread state
 * and serving one request at a time, synchronously, as in uWSGI's threaded
 * mode. A request that blocks (I/O, time.sleep, a C driver) releases the
 * GIL and the other threads run.
 *
 * The hub keeps the loop (sockets, parsing, timers, writing responses) and
 * in this mode never holds the GIL once the app is loaded. A request goes
 * to an idle thread through its core (uw_thread_start: copy the environ
 * strings, bump a futex word, wake the thread). The thread builds the
 * environ and runs the app. What the app produces comes back through the
 * hub's core, the fields Go reads for every engine:
 *
 *  - The app writes into the thread's own core ("own": start_response and
 *    write() are bound to it), never into the hub's.
 *  - Publishing moves head, output and file from own into the hub's core
 *    (pointer swaps) and lists the core for the hub. It may do so only
 *    while the hub has given that core back (xfer == 0): xfer is 1 from
 *    the publish until the hub has taken the output.
 *  - A thread that yields while the hub still holds its last chunk keeps
 *    the new one in own and goes on running the app; it waits (GIL
 *    released) only at the end of the request or once 256 KiB pile up.
 *    A slow client keeps the core held (not given back) and so stops its
 *    thread at that bound.
 *  - The hub's eventfd is written only when the hub sleeps in epoll_wait
 *    (T.asleep); a hub that is awake finds T.pending on its next turn.
 *
 * Nothing here calls Go; the threads are Python's own (threading.Thread),
 * named as uWSGI names them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "threads.h"

extern uw_hub uw_the_hub;

/* output a thread piles up while the hub holds its last chunk */
#define PILE_LIMIT (256 * 1024)

typedef struct uw_tcore {
	uw_core own;  /* the app writes here */
	uw_core *hub; /* the hub's core: Go reads it */
	PyThreadState *tstate;

	uint32_t cmd;          /* futex: bumped by the hub for each request */
	uint32_t cmd_seen;     /* the thread's: the last request it took */
	uint32_t cmd_sleeping; /* the thread sleeps on cmd */
	uint32_t xfer;         /* futex: 1 while the hub owns the hub core's output */
	uint32_t xfer_sleeping;

	/* the request, copied by uw_thread_start */
	char *vars;
	size_t vars_cap;
	int *lens;
	int lens_cap, nvars;
	const char *scheme;
	const char *body;
	size_t body_len;
	int body_fd;
} uw_tcore;

static struct {
	int n;
	int worker_id;
	int efd;
	uw_tcore *t;
	PyObject *threads; /* list of threading.Thread */
	pthread_mutex_t mu;
	int *ready; /* cores handed over, for the hub (under mu) */
	int nready;
	uint32_t pending; /* cores are listed in ready */
	uint32_t asleep;  /* the hub sleeps in epoll_wait */
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

static __thread uw_tcore *self;

static void futex_wait(uint32_t *w, uint32_t val) {
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(uint32_t *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static uint32_t load(uint32_t *w) { return __atomic_load_n(w, __ATOMIC_SEQ_CST); }
static void store(uint32_t *w, uint32_t v) { __atomic_store_n(w, v, __ATOMIC_SEQ_CST); }

/* sleep on *w while it holds val; *sleeping tells the waker a futex wake is needed */
static void wait_while(uint32_t *w, uint32_t val, uint32_t *sleeping) {
	while (load(w) == val) {
		store(sleeping, 1);
		if (load(w) == val) futex_wait(w, val);
		store(sleeping, 0);
	}
}

/* ------------------------------------------------------------ set-up */

int uw_threads_init(int n, int worker_id, int efd, char *err, size_t errlen) {
	T.n = n;
	T.worker_id = worker_id;
	T.efd = efd;
	T.t = calloc((size_t)n, sizeof *T.t);
	T.ready = calloc((size_t)n, sizeof *T.ready);
	if (!T.t || !T.ready) {
		snprintf(err, errlen, "cannot allocate %d thread cores", n);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		uw_tcore *t = &T.t[i];
		t->hub = &uw_the_hub.cores[i];
		t->own.id = i;
		if (uw_core_py_new(&t->own)) {
			snprintf(err, errlen, "cannot set up thread core %d", i);
			return -1;
		}
	}
	return 0;
}

static PyObject *thread_main(PyObject *unused, PyObject *arg);
static PyMethodDef thread_main_def = {"_uwsgo_thread", thread_main, METH_O,
                                      "a request thread: serves one request at a time"};

int uw_threads_spawn(char *err, size_t errlen) {
	PyObject *threading = PyImport_ImportModule("threading");
	PyObject *cls = threading ? PyObject_GetAttrString(threading, "Thread") : NULL;
	PyObject *target = PyCFunction_New(&thread_main_def, NULL);
	T.threads = PyList_New(0);
	int ok = cls && target && T.threads;
	for (int i = 0; ok && i < T.n; i++) {
		/* uWSGI's names, so that logs and tracebacks read the same */
		PyObject *kw = Py_BuildValue("{s:O,s:(i),s:N,s:O}", "target", target, "args", i, "name",
		                             PyUnicode_FromFormat("uWSGIWorker%dCore%d", T.worker_id, i), "daemon",
		                             Py_True);
		PyObject *th = kw ? PyObject_Call(cls, PyTuple_New(0), kw) : NULL;
		Py_XDECREF(kw);
		PyObject *r = th ? PyObject_CallMethod(th, "start", NULL) : NULL;
		ok = r && PyList_Append(T.threads, th) == 0;
		Py_XDECREF(r);
		Py_XDECREF(th);
	}
	Py_XDECREF(target);
	Py_XDECREF(cls);
	Py_XDECREF(threading);
	if (!ok) {
		PyObject *type, *value, *tb;
		PyErr_Fetch(&type, &value, &tb);
		PyObject *s = value ? PyObject_Str(value) : NULL;
		const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
		snprintf(err, errlen, "cannot start the request threads: %s", msg ? msg : "unknown error");
		PyErr_Clear();
		Py_XDECREF(s);
		Py_XDECREF(type);
		Py_XDECREF(value);
		Py_XDECREF(tb);
		return -1;
	}
	/* From here on only the request threads run Python: the hub keeps to
	 * the loop and never waits for the GIL. */
	PyEval_SaveThread();
	return 0;
}

/* ------------------------------------------------- on a request thread */

int uw_threads_self_id(void) { return self ? self->own.id : -1; }

uw_core *uw_threads_self_core(void) { return self ? &self->own : NULL; }

PyThreadState *uw_threads_self_tstate(void) { return self ? self->tstate : NULL; }

/* Signals are the Go runtime's, on its own threads; faults stay deliverable. */
static void block_signals(void) {
	sigset_t set;
	sigfillset(&set);
	int sync_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
	for (size_t i = 0; i < sizeof sync_sigs / sizeof sync_sigs[0]; i++) sigdelset(&set, sync_sigs[i]);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* publish hands what own holds over to the hub's core; final adds the end;
 * force waits for the hub to take the last hand-over rather than keep the
 * output for the next one (the thread is about to block); 2: hand over
 * even with nothing, so that the hub looks at the core (websockets). */
static void publish(uw_tcore *t, int final, int force) {
	uw_core *s = &t->own, *c = t->hub;
	int cut = s->disconnect == 1; /* uwsgi.disconnect(): hand over now */
	if (!final && force < 2 && !s->head_len && !s->out_len && s->file_fd < 0 && !cut) return;
	if (load(&t->xfer)) {
		if (!final && !force && s->out_len < PILE_LIMIT && s->file_fd < 0 && !cut) return; /* the next publish takes it along */
		Py_BEGIN_ALLOW_THREADS
		wait_while(&t->xfer, 1, &t->xfer_sleeping);
		Py_END_ALLOW_THREADS
	}
	/* the hub's core is ours until xfer is set again */
	if (c->aborted) s->aborted = 1;
	int bits = 0;
	if (cut) {
		c->disconnect = 1;
		s->disconnect = 2;
		bits |= UW_EV_OUT; /* the hub looks at the core */
	}
	if (s->head_len) {
		free(c->head);
		c->head = s->head;
		c->head_len = s->head_len;
		c->head_count = s->head_count;
		c->head_taken = 0;
		s->head = NULL;
		s->head_len = 0;
		bits |= UW_EV_OUT;
	}
	if (s->out_len) {
		if (c->out_len == 0) {
			char *b = c->out;
			size_t cap = c->out_cap;
			c->out = s->out;
			c->out_cap = s->out_cap;
			c->out_len = s->out_len;
			s->out = b;
			s->out_cap = cap;
		} else {
			/* not taken yet (cannot happen while Go takes every output it is shown) */
			char *b = realloc(c->out, c->out_len + s->out_len);
			if (b) {
				memcpy(b + c->out_len, s->out, s->out_len);
				c->out = b;
				c->out_len += s->out_len;
				c->out_cap = c->out_len;
			}
		}
		s->out_len = 0;
		bits |= UW_EV_OUT;
	}
	if (s->file_fd >= 0) {
		c->file_fd = s->file_fd;
		c->file_off = s->file_off;
		c->file_count = s->file_count;
		s->file_fd = -1;
		bits |= UW_EV_FILE;
	}
	if (final) {
		c->failed = s->failed;
		c->switches = s->switches;
		bits |= UW_EV_DONE;
	}
	c->events |= bits;
	store(&t->xfer, 1);
	pthread_mutex_lock(&T.mu);
	T.ready[T.nready++] = c->id;
	pthread_mutex_unlock(&T.mu);
	store(&T.pending, 1);
	/* one write wakes a sleeping hub; the first thread to see it asleep writes */
	if (__atomic_exchange_n(&T.asleep, 0, __ATOMIC_SEQ_CST)) {
		uint64_t one = 1;
		(void)!write(T.efd, &one, sizeof one);
	}
}

void uw_threads_flush(uw_core *c, int poke) {
	uw_tcore *t = self;
	if (!t || c != &t->own) return;
	publish(t, 0, poke ? 2 : 1);
}

void uw_threads_yield(uw_core *c) {
	uw_tcore *t = self;
	if (!t || c != &t->own) return;
	c->switches++;
	publish(t, 0, 0);
}

/* serve runs one request on the calling thread (GIL held). */
static void serve(uw_tcore *t) {
	uw_core *s = &t->own;
	s->head_len = 0;
	s->out_len = 0;
	s->file_fd = -1;
	s->failed = 0;
	s->aborted = 0;
	s->disconnect = 0;
	s->switches = 0;
	/* every request starts with a fresh contextvars context */
	PyObject *ctx = PyContext_New();
	int entered = ctx && PyContext_Enter(ctx) == 0;
	if (!entered) PyErr_Print();
	if (uw_core_setup(s, t->vars, t->lens, t->nvars, t->scheme, t->body, t->body_len, t->body_fd) == 0)
		uw_core_serve(s);
	else
		s->failed = 1; /* the hub answers 500 */
	publish(t, 1, 0);
	uw_core_clear(s);
	if (entered && PyContext_Exit(ctx)) PyErr_Print();
	Py_XDECREF(ctx);
	if (PyErr_Occurred()) PyErr_Print();
}

static PyObject *thread_main(PyObject *unused, PyObject *arg) {
	(void)unused;
	long i = PyLong_AsLong(arg);
	if (i < 0 || i >= T.n) {
		PyErr_SetString(PyExc_RuntimeError, "not a request thread's core");
		return NULL;
	}
	uw_tcore *t = &T.t[i];
	self = t;
	t->tstate = PyThreadState_Get();
	block_signals();
	for (;;) {
		Py_BEGIN_ALLOW_THREADS
		wait_while(&t->cmd, t->cmd_seen, &t->cmd_sleeping);
		Py_END_ALLOW_THREADS
		t->cmd_seen = load(&t->cmd);
		serve(t);
	}
	Py_RETURN_NONE;
}

/* ------------------------------------------------------ the hub's side */

int uw_thread_start(int id, const char *vars, const int *lens, int n, const char *scheme,
                    const char *body, size_t body_len, int body_fd) {
	uw_tcore *t = &T.t[id];
	t->own.app = uw_the_hub.cores[id].app; /* set by Go (--mount) */
	size_t total = 0;
	for (int i = 0; i < n; i++) total += (size_t)lens[i];
	if (total > t->vars_cap) {
		char *b = realloc(t->vars, total);
		if (!b) return -1;
		t->vars = b;
		t->vars_cap = total;
	}
	if (n > t->lens_cap) {
		int *l = realloc(t->lens, (size_t)n * sizeof *l);
		if (!l) return -1;
		t->lens = l;
		t->lens_cap = n;
	}
	if (total) memcpy(t->vars, vars, total);
	if (n) memcpy(t->lens, lens, (size_t)n * sizeof *lens);
	t->nvars = n;
	t->scheme = scheme;
	t->body = body;
	t->body_len = body_len;
	t->body_fd = body_fd;

	uw_core *c = t->hub;
	c->events = 0;
	c->in_events = 0;
	c->head_len = 0;
	c->head_taken = 0;
	c->out_len = 0;
	c->file_fd = -1;
	c->failed = 0;
	c->aborted = 0;
	c->hold = 0;
	c->switches = 0;
	c->nwait = 0;
	c->timeout_ms = -1;
	c->state = UW_RUNNING;
	store(&t->xfer, 0);
	__atomic_add_fetch(&t->cmd, 1, __ATOMIC_SEQ_CST);
	if (load(&t->cmd_sleeping)) futex_wake(&t->cmd);
	return 0;
}

int uw_threads_collect(void) {
	store(&T.pending, 0); /* a core listed after this raises it again */
	pthread_mutex_lock(&T.mu);
	int n = T.nready;
	memcpy(uw_the_hub.events, T.ready, (size_t)n * sizeof *T.ready);
	T.nready = 0;
	pthread_mutex_unlock(&T.mu);
	uw_the_hub.nevents = n;
	return n;
}

uint32_t *uw_threads_pending_word(void) { return &T.pending; }

void uw_thread_give_back(int id) {
	uw_tcore *t = &T.t[id];
	store(&t->xfer, 0);
	if (load(&t->xfer_sleeping)) futex_wake(&t->xfer);
}

int uw_threads_wait(int epfd, void *events, int max, int timeout_ms) {
	if (timeout_ms != 0) {
		store(&T.asleep, 1);
		if (load(&T.pending)) timeout_ms = 0; /* a thread listed a core before it could see us asleep */
	}
	int n = epoll_wait(epfd, (struct epoll_event *)events, max, timeout_ms);
	int e = errno;
	store(&T.asleep, 0);
	return n < 0 ? -e : n;
}
