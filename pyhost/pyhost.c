/*
 * The interpreter glue: start CPython, load the WSGI app, run requests on
 * cores. Everything here runs on the hub's OS thread with the GIL held,
 * except uw_wait, which releases it while the hub sleeps.
 *
 * No Go code is ever called from here: green stacks are not Go stacks.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyhost.h"
#include "threads.h"

#define UG_WITH_PYTHON 1
#include "../ugreen/ugreen.h"

uw_hub uw_the_hub;

typedef struct uw_pycore {
	PyObject *environ;
	PyObject *result; /* what the app returned */
	PyObject *iter;
	PyObject *status, *headers; /* from start_response */
	PyObject *start_response;   /* per-core callable, reused */
	PyObject *write;            /* per-core write() callable, reused */
	int started;                /* the app has been called */
	int head_committed;         /* the head has been handed to Go */
	/* uGreen */
	ug_stack stack;
	ug_context ctx;
	ug_pystate py;
	_PyCFrame root_cframe;
	_PyErr_StackItem exc_bottom;
	int fresh; /* the green thread has not run yet */
	/* plain async: the request's contextvars context */
	PyObject *context;
	/* greenlet engine: the request's greenlet */
	PyObject *greenlet;
	/* plain async and greenlet: the core's thread dict (threading.local) */
	PyObject *tdict;
} uw_pycore;

static struct {
	uw_settings s;
	PyThreadState *tstate; /* the hub thread's */
	PyObject *app;
	PyObject *sys_stderr_name;
	PyObject *version_tuple;
	PyObject *file_wrapper_type;
	PyObject *wait_read_fn, *wait_write_fn;
	PyObject *empty_bytes;
	uw_core *current; /* the core running now, or NULL */
	ug_context hub_ctx;
	ug_pystate hub_py;
	int cores_ready;
} G;

static uw_core *uw_current_core(void);
static void core_suspend(uw_core *c);

static pthread_t hub_thread;
static volatile sig_atomic_t in_python; /* the hub thread is inside a C entry point */

/* engines.h */
struct gevent_setup_args {
	int efd, epfd;
	char *err;
	size_t errlen;
	int ret;
};
static int uses_loop_stack(void);
static int loop_stack_init(char *err, size_t errlen);
static void on_loop_stack(void (*fn)(void *), void *arg);
static int greenlet_api(char *err, size_t errlen);
static void gevent_setup_tramp(void *a);
static void gevent_spawn(uw_core *c);
static void greenlet_suspend(uw_core *c);
static void gevent_suspend(uw_core *c);
static void greenlet_resume(uw_core *c);

#include "input.h"
#include "wsgi.h"
#include "../uwsgimodule/uwsgimodule.h"

/* ------------------------------------------------------------ start-up */

int uw_start(const uw_settings *s, char *err, size_t errlen) {
	G.s = *s;
	if (PyImport_AppendInittab("uwsgi", uwsgimodule_init) < 0) {
		snprintf(err, errlen, "cannot register the uwsgi module");
		return -1;
	}
	PyConfig config;
	PyConfig_InitPythonConfig(&config);
	config.install_signal_handlers = 0; /* Go owns the signals */
	config.parse_argv = 0;
	config.buffered_stdio = 0;
	wchar_t *wprog = Py_DecodeLocale(s->program ? s->program : "uwsgo", NULL);
	PyConfig_SetString(&config, &config.program_name, wprog);
	wchar_t *argv0[] = {wprog};
	PyConfig_SetArgv(&config, 1, argv0);
	PyStatus st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	PyMem_RawFree(wprog);
	if (PyStatus_Exception(st)) {
		snprintf(err, errlen, "cannot start Python: %s", st.err_msg ? st.err_msg : "unknown error");
		return -1;
	}
	G.tstate = PyThreadState_GET();
	hub_thread = pthread_self();

	/* sys.path: --pythonpath entries first, then the current directory, as uwsgi does */
	PyObject *path = PySys_GetObject("path");
	if (path) {
		PyObject *cwd = PyUnicode_FromString("");
		PyList_Insert(path, 0, cwd);
		Py_DECREF(cwd);
		for (int i = s->npythonpath - 1; i >= 0; i--) {
			PyObject *p = PyUnicode_DecodeFSDefault(s->pythonpath[i]);
			PyList_Insert(path, 0, p);
			Py_DECREF(p);
		}
	}
	G.version_tuple = Py_BuildValue("(ii)", 1, 0);
	G.empty_bytes = PyBytes_FromStringAndSize("", 0);
	if (PyType_Ready(&uw_input_type) < 0 || PyType_Ready(&uw_file_wrapper_type) < 0 ||
	    PyType_Ready(&uw_start_response_type) < 0) {
		snprintf(err, errlen, "cannot set up WSGI types");
		return -1;
	}
	G.file_wrapper_type = (PyObject *)&uw_file_wrapper_type;
	PyObject *m = PyImport_ImportModule("uwsgi");
	if (!m) {
		PyErr_Print();
		snprintf(err, errlen, "cannot import the uwsgi module");
		return -1;
	}
	G.wait_read_fn = PyObject_GetAttrString(m, "wait_fd_read");
	G.wait_write_fn = PyObject_GetAttrString(m, "wait_fd_write");
	Py_DECREF(m);
	return 0;
}

/* one line describing the pending exception, then clear it */
static void exception_line(char *err, size_t errlen, const char *prefix) {
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	const char *tname = type ? ((PyTypeObject *)type)->tp_name : "Error";
	PyObject *s = value ? PyObject_Str(value) : NULL;
	const char *msg = s ? PyUnicode_AsUTF8(s) : "";
	if (!msg) {
		PyErr_Clear();
		msg = "";
	}
	snprintf(err, errlen, "%s: %s: %s", prefix, tname, msg);
	Py_XDECREF(s);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
}

static const char loader_src[] =
	"def _uwsgo_load(module, wsgi_file):\n"
	"    import importlib, importlib.util, os, sys\n"
	"    if wsgi_file:\n"
	"        name = 'uwsgi_file_' + ''.join(c if c.isalnum() else '_' for c in wsgi_file)\n"
	"        if not os.path.isfile(wsgi_file):\n"
	"            raise FileNotFoundError('no such file: %s' % wsgi_file)\n"
	"        spec = importlib.util.spec_from_file_location(name, wsgi_file)\n"
	"        mod = importlib.util.module_from_spec(spec)\n"
	"        sys.modules[name] = mod\n"
	"        spec.loader.exec_module(mod)\n"
	"        return mod\n"
	"    return importlib.import_module(module)\n";

static int load_app_impl(const char *module, const char *wsgi_file, const char *callable, char *err, size_t errlen) {
	PyObject *globals = PyDict_New();
	PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
	PyObject *r = PyRun_String(loader_src, Py_file_input, globals, globals);
	if (!r) {
		exception_line(err, errlen, "internal loader error");
		Py_DECREF(globals);
		return -1;
	}
	Py_DECREF(r);
	PyObject *fn = PyDict_GetItemString(globals, "_uwsgo_load");
	const char *what = wsgi_file && *wsgi_file ? wsgi_file : module;
	PyObject *mod = PyObject_CallFunction(fn, "zz", module && *module ? module : NULL,
	                                      wsgi_file && *wsgi_file ? wsgi_file : NULL);
	Py_DECREF(globals);
	if (!mod) {
		/* a module that is simply not there gets one line; an error inside
		 * the app's own import also gets its traceback, which is what
		 * the user needs to fix it */
		int missing = PyErr_ExceptionMatches(PyExc_ModuleNotFoundError) ||
		              PyErr_ExceptionMatches(PyExc_FileNotFoundError);
		if (!missing) {
			PyObject *t, *v, *tb;
			PyErr_Fetch(&t, &v, &tb);
			Py_XINCREF(t);
			Py_XINCREF(v);
			Py_XINCREF(tb);
			PyErr_Restore(t, v, tb);
			PyErr_Print();
			PyErr_Restore(t, v, tb);
		}
		char prefix[512];
		snprintf(prefix, sizeof prefix, "unable to load app from '%s'", what);
		exception_line(err, errlen, prefix);
		return -1;
	}
	G.app = PyObject_GetAttrString(mod, callable);
	Py_DECREF(mod);
	if (!G.app || !PyCallable_Check(G.app)) {
		PyErr_Clear();
		snprintf(err, errlen, "unable to find a callable named '%s' in '%s'", callable, what);
		Py_CLEAR(G.app);
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- cores */

static void core_entry(void);

/*
 * A green thread that overflows its stack writes into a guard page. Say so
 * in one line and die by SIGSEGV, as uWSGI does (the master respawns the
 * worker). A fault while the hub thread runs Python or a C extension gets
 * one line and the Python traceback (what faulthandler prints), then the
 * same death. Any other fault goes on to Go's own handler, which was there
 * first: Go relies on SIGSEGV for its nil-pointer panics.
 */
static struct sigaction go_segv, go_bus;

/* from CPython's internals (pycore_traceback.h): async-signal-safe, faulthandler uses it */
PyAPI_FUNC(void) _Py_DumpTraceback(int fd, PyThreadState *tstate);

static void say(const char *msg) { (void)!write(2, msg, strlen(msg)); }

static int in_guard_page(const char *addr, int *core) {
	size_t ps = ug_page_size();
	for (int i = 0; i < uw_the_hub.ncores; i++) {
		uw_pycore *p = uw_the_hub.cores[i].py;
		if (!p || !p->stack.base) continue;
		if ((addr >= p->stack.base && addr < p->stack.base + ps) || (addr >= p->stack.hi && addr < p->stack.hi + ps)) {
			*core = i;
			return 1;
		}
	}
	return 0;
}

static void guard_fault(int sig, siginfo_t *si, void *uc) {
	int core = -1;
	if (in_guard_page(si->si_addr, &core)) {
		char msg[160];
		int n = snprintf(msg, sizeof msg,
		                 "!!! uGreen stack overflow on core %d: guard page hit (raise --ugreen-stacksize); the worker dies !!!\n",
		                 core);
		if (n > 0) (void)!write(2, msg, (size_t)n);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	PyThreadState *thread_ts = uw_threads_self_tstate();
	if ((in_python && pthread_equal(pthread_self(), hub_thread)) || thread_ts) {
		say(sig == SIGBUS ? "!!! bus error" : "!!! segmentation fault");
		say(" in the app or a C extension; the worker dies !!!\n");
		_Py_DumpTraceback(2, thread_ts ? thread_ts : G.tstate);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	struct sigaction *prev = sig == SIGBUS ? &go_bus : &go_segv;
	if (prev->sa_flags & SA_SIGINFO)
		prev->sa_sigaction(sig, si, uc);
	else if (prev->sa_handler != SIG_IGN && prev->sa_handler != SIG_DFL)
		prev->sa_handler(sig);
	else {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

static void watch_guard_pages(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = guard_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART; /* the overflowed stack is unusable: run on the alternate one */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &go_segv);
	sigaction(SIGBUS, &sa, &go_bus);
}

int uw_cores_init(char *err, size_t errlen) {
	uw_hub *h = &uw_the_hub;
	int n = G.s.ncores < 1 ? 1 : G.s.ncores;
	h->engine = G.s.engine;
	h->ncores = n;
	h->cores = calloc((size_t)n, sizeof(uw_core));
	h->runq = calloc((size_t)n, sizeof(int));
	h->events = calloc((size_t)n, sizeof(int));
	if (h->max_rounds <= 0) h->max_rounds = 64;
	ug_switch_mode = G.s.switch_mode;
	if (ug_switch_mode == UG_SWITCH_FAST && !UG_HAVE_FAST_SWITCH) ug_switch_mode = UG_SWITCH_SWAPCONTEXT;
	for (int i = 0; i < n; i++) {
		uw_core *c = &h->cores[i];
		c->id = i;
		if (uw_core_py_new(c)) {
			exception_line(err, errlen, "cannot set up a core");
			return -1;
		}
		uw_pycore *p = c->py;
		if (h->engine == UW_ENGINE_UGREEN) {
			if (ug_stack_alloc(&p->stack, (size_t)G.s.stack_pages)) {
				snprintf(err, errlen, "cannot map a %d-page stack for core %d: %s", G.s.stack_pages, i, strerror(errno));
				return -1;
			}
			p->fresh = 1; /* the context is laid out at first use: an idle core touches no stack page */
		}
	}
	watch_guard_pages();
	if (h->engine == UW_ENGINE_THREADS && uw_threads_init(n, G.s.worker_id, G.s.efd, err, errlen)) return -1;
	if (uses_loop_stack() && loop_stack_init(err, errlen)) return -1;
	if (h->engine == UW_ENGINE_GREENLET && greenlet_api(err, errlen)) return -1;
	if (h->engine == UW_ENGINE_GEVENT) {
		struct gevent_setup_args a = {G.s.efd, G.s.epfd, err, errlen, -1};
		on_loop_stack(gevent_setup_tramp, &a);
		if (a.ret) return -1;
	}
	G.cores_ready = 1;
	return 0;
}

int uw_core_py_new(uw_core *c) {
	c->file_fd = -1;
	c->timeout_ms = -1;
	c->ready_fd = -1;
	uw_pycore *p = calloc(1, sizeof *p);
	if (!p) return -1;
	c->py = p;
	p->start_response = uw_start_response_new(c);
	p->write = p->start_response ? PyObject_GetAttrString(p->start_response, "write") : NULL;
	return p->write ? 0 : -1;
}

static uw_core *uw_current_core(void) {
	if (!G.current || PyThreadState_GET() != G.tstate) return NULL;
	return G.current;
}

static void runq_push(uw_core *c) {
	uw_hub *h = &uw_the_hub;
	c->state = UW_RUNNABLE;
	h->runq[(h->rq_head + h->rq_len) % h->ncores] = c->id;
	h->rq_len++;
}

static void event(uw_core *c, int bits) {
	c->events |= bits;
	if (!c->in_events) {
		c->in_events = 1;
		uw_the_hub.events[uw_the_hub.nevents++] = c->id;
	}
}

static PyObject *latin1(const char *s, int len) { return PyUnicode_DecodeLatin1(s, len, NULL); }

/*
 * Environ strings: keys and short values repeat from request to request
 * ("REQUEST_METHOD", "GET", "HTTP/1.1", ...). A small cache of immutable
 * str objects, keyed by their bytes, saves decoding and allocating them.
 */
#define STR_CACHE 1024
#define STR_CACHE_MAX_LEN 32
static PyObject *str_cache[STR_CACHE];

static PyObject *cached_latin1(const char *s, int len, int intern) {
	if (len > STR_CACHE_MAX_LEN) return latin1(s, len);
	uint32_t h = 2166136261u;
	for (int i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
	PyObject **slot = &str_cache[h % STR_CACHE];
	PyObject *o = *slot;
	if (o && PyUnicode_GET_LENGTH(o) == len && PyUnicode_KIND(o) == PyUnicode_1BYTE_KIND &&
	    memcmp(PyUnicode_1BYTE_DATA(o), s, (size_t)len) == 0) {
		Py_INCREF(o);
		return o;
	}
	o = latin1(s, len);
	if (!o) return NULL;
	if (intern) PyUnicode_InternInPlace(&o);
	Py_XSETREF(*slot, o);
	Py_INCREF(o);
	return o;
}

/* the entries every environ has, copied per request */
static PyObject *environ_template(void) {
	static PyObject *t;
	if (t) return t;
	t = PyDict_New();
	PyObject *errors = PySys_GetObject("stderr");
	PyDict_SetItemString(t, "wsgi.version", G.version_tuple);
	PyDict_SetItemString(t, "wsgi.errors", errors ? errors : Py_None);
	PyDict_SetItemString(t, "wsgi.multithread", uw_the_hub.engine == UW_ENGINE_THREADS ? Py_True : Py_False);
	PyDict_SetItemString(t, "wsgi.multiprocess", G.s.numproc > 1 ? Py_True : Py_False);
	PyDict_SetItemString(t, "wsgi.run_once", Py_False);
	PyDict_SetItemString(t, "wsgi.file_wrapper", G.file_wrapper_type);
	PyDict_SetItemString(t, "wsgi.input_terminated", Py_True);
	if (uw_the_hub.ncores > 1 && uw_the_hub.engine != UW_ENGINE_THREADS) {
		PyDict_SetItemString(t, "x-wsgiorg.fdevent.readable", G.wait_read_fn);
		PyDict_SetItemString(t, "x-wsgiorg.fdevent.writable", G.wait_write_fn);
		PyDict_SetItemString(t, "x-wsgiorg.fdevent.timeout", Py_None);
	}
	PyDict_SetItemString(t, "uwsgi.ready_fd", Py_None);
	return t;
}

int uw_core_setup(uw_core *c, const char *vars, const int *lens, int n, const char *scheme,
                  const char *body, size_t body_len, int body_fd) {
	static PyObject *k_scheme, *k_input, *k_core;
	if (!k_scheme) {
		k_scheme = PyUnicode_InternFromString("wsgi.url_scheme");
		k_input = PyUnicode_InternFromString("wsgi.input");
		k_core = PyUnicode_InternFromString("uwsgi.core");
	}
	uw_pycore *p = c->py;
	PyObject *env = PyDict_Copy(environ_template());
	if (!env) return -1;
	const char *s = vars;
	for (int i = 0; i + 1 < n; i += 2) {
		PyObject *k = cached_latin1(s, lens[i], 1);
		s += lens[i];
		PyObject *v = cached_latin1(s, lens[i + 1], 0);
		s += lens[i + 1];
		if (!k || !v || PyDict_SetItem(env, k, v) < 0) {
			Py_XDECREF(k);
			Py_XDECREF(v);
			Py_DECREF(env);
			return -1;
		}
		Py_DECREF(k);
		Py_DECREF(v);
	}
	PyObject *input = uw_input_new(body, body_len, body_fd);
	PyObject *sch = cached_latin1(scheme, (int)strlen(scheme), 0);
	PyObject *coreid = PyLong_FromLong(c->id);
	PyDict_SetItem(env, k_scheme, sch);
	PyDict_SetItem(env, k_input, input);
	PyDict_SetItem(env, k_core, coreid);
	Py_DECREF(coreid);
	Py_DECREF(sch);
	Py_DECREF(input);
	if (PyErr_Occurred()) {
		PyErr_Print();
		Py_DECREF(env);
		return -1;
	}
	p->environ = env;
	p->started = 0;
	p->head_committed = 0;
	c->events = 0;
	c->in_events = 0;
	c->head_len = 0;
	c->head_taken = 0;
	c->out_len = 0;
	c->file_fd = -1;
	c->nwait = 0;
	c->timeout_ms = -1;
	c->ready_fd = -1;
	c->timed_out = 0;
	c->failed = 0;
	c->aborted = 0;
	c->switches = 0;
	return 0;
}

static int core_start_impl(int id, const char *vars, const int *lens, int n, const char *scheme,
                  const char *body, size_t body_len, int body_fd) {
	uw_core *c = &uw_the_hub.cores[id];
	if (uw_core_setup(c, vars, lens, n, scheme, body, body_len, body_fd)) return -1;
	if (uw_the_hub.engine == UW_ENGINE_GEVENT)
		gevent_spawn(c);
	else
		runq_push(c);
	return 0;
}

/* after a wait: tell the app why it was resumed */
static void note_resume(uw_core *c) {
	uw_pycore *p = c->py;
	PyDict_SetItemString(p->environ, "x-wsgiorg.fdevent.timeout", c->timed_out ? Py_True : Py_None);
	if (c->ready_fd >= 0) {
		PyObject *fd = PyLong_FromLong(c->ready_fd);
		PyDict_SetItemString(p->environ, "uwsgi.ready_fd", fd);
		Py_DECREF(fd);
	} else {
		PyDict_SetItemString(p->environ, "uwsgi.ready_fd", Py_None);
	}
}

static void core_resume_impl(int id) {
	uw_core *c = &uw_the_hub.cores[id];
	if (c->state == UW_PARKED) {
		note_resume(c);
		runq_push(c);
	}
}

void uw_core_clear(uw_core *c) {
	uw_pycore *p = c->py;
	Py_CLEAR(p->environ);
	Py_CLEAR(p->status);
	Py_CLEAR(p->headers);
	Py_CLEAR(p->context);
}

/* with --threads the hub's cores hold no Python objects: this touches none */
static void core_release_impl(int id) {
	uw_core *c = &uw_the_hub.cores[id];
	uw_core_clear(c);
	c->head_len = 0;
	c->out_len = 0;
	c->events = 0;
	c->in_events = 0;
	c->state = UW_FREE;
}

#include "engines.h"

/* ------------------------------------------------------------- engines */

/* uGreen: each core's whole request runs on its own stack. */
static void core_entry(void) {
	for (;;) {
		uw_core *c = G.current;
		wsgi_run_request(c);
		/* a fresh contextvars context for the next request */
		Py_CLEAR(PyThreadState_GET()->context);
		c->state = UW_FREE; /* uw_run sees it done */
		core_suspend(c);
	}
}

/* core_suspend leaves the running core for the hub. */
static void core_suspend(uw_core *c) {
	switch (uw_the_hub.engine) {
	case UW_ENGINE_GREENLET:
		greenlet_suspend(c);
		return;
	case UW_ENGINE_GEVENT:
		gevent_suspend(c);
		return;
	case UW_ENGINE_THREADS:
		uw_threads_yield(c);
		return;
	}
	uw_pycore *p = c->py;
	PyThreadState *ts = G.tstate;
	c->switches++;
	ug_pystate_save(&p->py, ts);
	ug_pystate_restore(&G.hub_py, ts);
	ug_switch(&p->ctx, &G.hub_ctx);
}

static void ugreen_resume(uw_core *c) {
	uw_pycore *p = c->py;
	PyThreadState *ts = G.tstate;
	if (p->fresh) {
		if (ug_prepare(&p->ctx, &p->stack, core_entry)) {
			/* getcontext failing is not something a request can recover from */
			fprintf(stderr, "!!! cannot prepare the context of core %d !!!\n", c->id);
			abort();
		}
		ug_pystate_fresh(&p->py, &p->root_cframe, &p->exc_bottom);
		p->fresh = 0;
	}
	ug_pystate_save(&G.hub_py, ts);
	ug_pystate_restore(&p->py, ts);
	ug_switch(&G.hub_ctx, &p->ctx);
}

/* plain async: one step is one next() on the app's iterator, with the
 * request's own contextvars context in place. */
static void async_step(uw_core *c) {
	uw_pycore *p = c->py;
	PyThreadState *ts = G.tstate;
	PyObject *saved = ts->context, *saved_dict = ts->dict;
	ts->context = p->context;
	ts->context_ver++;
	ts->dict = p->tdict;
	int more = wsgi_step(c);
	c->switches++;
	p->context = ts->context;
	ts->context = saved;
	ts->context_ver++;
	p->tdict = ts->dict;
	ts->dict = saved_dict;
	if (!more) {
		Py_CLEAR(p->context);
		c->state = UW_FREE;
	}
}

static int run_impl(void) {
	uw_hub *h = &uw_the_hub;
	h->nevents = 0;
	/* Pure suspends stay in here; anything Go must act on ends the run
	 * after the current round. */
	int urgent = 0;
	for (int round = 0; round < h->max_rounds && h->rq_len > 0; round++) {
		int n = h->rq_len;
		for (int i = 0; i < n; i++) {
			uw_core *c = &h->cores[h->runq[h->rq_head]];
			h->rq_head = (h->rq_head + 1) % h->ncores;
			h->rq_len--;
			if (c->hold) {
				c->state = UW_PARKED; /* Go resumes it when the client has drained */
				continue;
			}
			c->state = UW_RUNNING;
			G.current = c;
			if (h->engine == UW_ENGINE_UGREEN)
				ugreen_resume(c);
			else if (h->engine == UW_ENGINE_GREENLET)
				greenlet_resume(c);
			else
				async_step(c);
			G.current = NULL;

			if (c->state == UW_FREE) {
				/* finished: Go releases it after taking its last output */
				c->state = UW_PARKED;
				event(c, UW_EV_DONE | (c->head_len || c->out_len ? UW_EV_OUT : 0));
				urgent = 1;
				continue;
			}
			if ((c->head_len && !c->head_taken) || c->out_len) {
				/* what the app yielded goes out now: it may sleep next */
				event(c, UW_EV_OUT);
				urgent = 1;
			}
			if (c->file_fd >= 0) {
				event(c, UW_EV_FILE);
				urgent = 1;
			}
			if (c->nwait || c->timeout_ms >= 0) {
				c->state = UW_PARKED;
				event(c, UW_EV_WAIT);
				urgent = 1;
			} else {
				runq_push(c);
			}
		}
		if (urgent || h->mailbox_pending) break;
	}
	return h->nevents;
}

void uw_core_serve(uw_core *c) { wsgi_run_request(c); }

int uw_wait(int epfd, void *events, int max, int timeout_ms) {
	if (uw_the_hub.engine == UW_ENGINE_THREADS) return uw_threads_wait(epfd, events, max, timeout_ms); /* no GIL here */
	PyThreadState *ts = PyEval_SaveThread();
	int n = epoll_wait(epfd, (struct epoll_event *)events, max, timeout_ms);
	int e = errno;
	PyEval_RestoreThread(ts);
	errno = e;
	return n < 0 ? -e : n;
}

void uw_log_exception(void) {
	if (PyErr_Occurred()) PyErr_Print();
}

/* ------------------------------------------------ entry points from Go */

/* Every entry point that runs Python goes through on_loop_stack, which
 * with the greenlet and gevent engines moves onto the private loop stack. */

struct load_args {
	const char *module, *wsgi_file, *callable;
	char *err;
	size_t errlen;
	int ret;
};

static void load_app_tramp(void *a) {
	struct load_args *l = a;
	if (G.s.gevent_early) monkey_patch();
	l->ret = load_app_impl(l->module, l->wsgi_file, l->callable, l->err, l->errlen);
	/* the threads start once the app is there; the hub lets go of the GIL */
	if (l->ret == 0 && G.s.engine == UW_ENGINE_THREADS) l->ret = uw_threads_spawn(l->err, l->errlen);
	/* uWSGI patches before the app starts, not before it loads */
	if (l->ret == 0 && G.s.gevent_monkey && !G.s.gevent_early) monkey_patch();
}

int uw_load_app(const char *module, const char *wsgi_file, const char *callable, char *err, size_t errlen) {
	struct load_args l = {module, wsgi_file, callable, err, errlen, -1};
	on_loop_stack(load_app_tramp, &l);
	return l.ret;
}

struct start_args {
	int id;
	const char *vars;
	const int *lens;
	int n;
	const char *scheme;
	const char *body;
	size_t body_len;
	int body_fd;
	int ret;
};

static void core_start_tramp(void *a) {
	struct start_args *s = a;
	s->ret = core_start_impl(s->id, s->vars, s->lens, s->n, s->scheme, s->body, s->body_len, s->body_fd);
}

int uw_core_start(int id, const char *vars, const int *lens, int n, const char *scheme,
                  const char *body, size_t body_len, int body_fd) {
	if (uw_the_hub.engine == UW_ENGINE_THREADS) return uw_thread_start(id, vars, lens, n, scheme, body, body_len, body_fd);
	struct start_args s = {id, vars, lens, n, scheme, body, body_len, body_fd, -1};
	on_loop_stack(core_start_tramp, &s);
	return s.ret;
}

static void core_resume_tramp(void *a) { core_resume_impl(*(int *)a); }
static void core_release_tramp(void *a) { core_release_impl(*(int *)a); }

void uw_core_resume(int id) { on_loop_stack(core_resume_tramp, &id); }
void uw_core_release(int id) { on_loop_stack(core_release_tramp, &id); }

static void run_tramp(void *a) { *(int *)a = run_impl(); }

int uw_run(void) {
	if (uw_the_hub.engine == UW_ENGINE_THREADS) return uw_threads_collect();
	int n = 0;
	on_loop_stack(run_tramp, &n);
	return n;
}

void uw_gevent_turn(int timeout_ms) {
	on_loop_stack(gevent_turn, &timeout_ms);
}

void uw_gevent_rearm(void) { gevent_kicked = 0; }
