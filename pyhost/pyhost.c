/*
 * The interpreter glue: start CPython, load the WSGI app, run requests on
 * cores through the engine in use (engine.h). Everything here runs on the
 * hub's OS thread with the GIL held, except uw_wait, which releases it
 * while the hub sleeps.
 *
 * No Go code is ever called from here: green stacks are not Go stacks.
 */
#include "api.h"
#include "glue.h"
#include "threads.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

uw_hub uw_the_hub;
struct uw_glue uw_g;

/* ------------------------------------------------------------ start-up */

/*
 * --home, as uWSGI has it: a PEP 405 virtualenv (it holds pyvenv.cfg) is
 * entered the way its own bin/python enters it, by taking that as the
 * program: CPython then finds pyvenv.cfg, sets sys.prefix to the venv and
 * lets site add its site-packages (and the system's, if the venv says
 * so). Any other directory is a Python home (PYTHONHOME).
 */
static int set_home(PyConfig *config, const char *home, char *err, size_t errlen) {
	if (!home || !*home) return 0;
	char path[4096];
	struct stat st;
	if (stat(home, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--home %s: %s", home, stat(home, &st) != 0 ? strerror(errno) : "not a directory");
		return -1;
	}
	snprintf(path, sizeof path, "%s/pyvenv.cfg", home);
	PyStatus ps;
	if (access(path, R_OK) == 0) {
		snprintf(path, sizeof path, "%s/bin/python", home);
		wchar_t *w = Py_DecodeLocale(path, NULL);
		ps = PyConfig_SetString(config, &config->program_name, w);
		PyMem_RawFree(w);
		fprintf(stderr, "PEP 405 virtualenv detected: %s\n", home);
	} else {
		wchar_t *w = Py_DecodeLocale(home, NULL);
		ps = PyConfig_SetString(config, &config->home, w);
		PyMem_RawFree(w);
		fprintf(stderr, "Set PythonHome to %s\n", home);
	}
	if (PyStatus_Exception(ps)) {
		snprintf(err, errlen, "--home %s: %s", home, ps.err_msg ? ps.err_msg : "cannot set it");
		return -1;
	}
	return 0;
}

int uw_start(const uw_settings *s, char *err, size_t errlen) {
	uw_g.s = *s;
	if (s->engine < 0 || s->engine >= UW_ENGINE_COUNT) {
		snprintf(err, errlen, "unknown engine %d", s->engine);
		return -1;
	}
	uw_eng = uw_engines[s->engine];
	if (PyImport_AppendInittab("uwsgi", uw_uwsgimodule_init) < 0) {
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
	if (set_home(&config, s->home, err, errlen)) {
		PyConfig_Clear(&config);
		PyMem_RawFree(wprog);
		return -1;
	}
	wchar_t *argv0[] = {wprog};
	PyConfig_SetArgv(&config, 1, argv0);
	PyStatus st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	PyMem_RawFree(wprog);
	if (PyStatus_Exception(st)) {
		snprintf(err, errlen, "cannot start Python: %s", st.err_msg ? st.err_msg : "unknown error");
		return -1;
	}
	uw_g.tstate = PyThreadState_GET();
	uw_pystate_bind(uw_g.tstate);

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
	uw_g.version_tuple = Py_BuildValue("(ii)", 1, 0);
	uw_g.empty_bytes = PyBytes_FromStringAndSize("", 0);
	if (PyType_Ready(&uw_input_type) < 0 || PyType_Ready(&uw_file_wrapper_type) < 0 ||
	    PyType_Ready(&uw_start_response_type) < 0) {
		snprintf(err, errlen, "cannot set up WSGI types");
		return -1;
	}
	uw_g.file_wrapper_type = (PyObject *)&uw_file_wrapper_type;
	PyObject *m = PyImport_ImportModule("uwsgi");
	if (!m) {
		PyErr_Print();
		snprintf(err, errlen, "cannot import the uwsgi module");
		return -1;
	}
	uw_g.wait_read_fn = PyObject_GetAttrString(m, "wait_fd_read");
	uw_g.wait_write_fn = PyObject_GetAttrString(m, "wait_fd_write");
	uw_g.signal_app = PyObject_GetAttrString(m, "_signal_run"); /* pyapi/20_signal.py */
	if (!uw_g.signal_app) {
		PyErr_Print();
		snprintf(err, errlen, "the uwsgi module has no signal dispatcher");
		return -1;
	}
	Py_DECREF(m);
	return 0;
}

/* one line describing the pending exception, then clear it */
void uw_exception_line(char *err, size_t errlen, const char *prefix) {
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
		uw_exception_line(err, errlen, "internal loader error");
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
		uw_exception_line(err, errlen, prefix);
		return -1;
	}
	if (uw_g.napps == UW_MAX_APPS) {
		Py_DECREF(mod);
		snprintf(err, errlen, "unable to load app from '%s': at most %d apps per worker", what, UW_MAX_APPS);
		return -1;
	}
	PyObject *app = PyObject_GetAttrString(mod, callable);
	Py_DECREF(mod);
	if (!app || !PyCallable_Check(app)) {
		PyErr_Clear();
		snprintf(err, errlen, "unable to find a callable named '%s' in '%s'", callable, what);
		Py_XDECREF(app);
		return -1;
	}
	uw_g.apps[uw_g.napps++] = app;
	return 0;
}

/* --------------------------------------------------------------- cores */

struct init_args {
	char *err;
	size_t errlen;
	int ret;
};

static void engine_init_tramp(void *a) {
	struct init_args *i = a;
	i->ret = uw_eng->init(i->err, i->errlen);
}

int uw_cores_init(char *err, size_t errlen) {
	uw_hub *h = &uw_the_hub;
	int n = uw_g.s.ncores < 1 ? 1 : uw_g.s.ncores;
	h->ncores = n;
	h->cores = calloc((size_t)n, sizeof(uw_core));
	h->runq = calloc((size_t)n, sizeof(int));
	h->events = calloc((size_t)n, sizeof(int));
	if (h->max_rounds <= 0) h->max_rounds = 64;
	ug_switch_mode = uw_g.s.switch_mode;
	if (ug_switch_mode == UG_SWITCH_FAST && !ug_have_fast_switch) ug_switch_mode = UG_SWITCH_SWAPCONTEXT;
	for (int i = 0; i < n; i++) {
		uw_core *c = &h->cores[i];
		c->id = i;
		if (uw_core_py_new(c)) {
			uw_exception_line(err, errlen, "cannot set up a core");
			return -1;
		}
		if (uw_eng->core_init && uw_eng->core_init(c, err, errlen)) return -1;
	}
	uw_watch_faults();
	if (uw_eng->threaded && uw_threads_init(n, uw_g.s.worker_id, uw_g.s.efd, err, errlen)) return -1;
	if (uw_eng->needs_loop_stack && uw_loop_stack_init(err, errlen)) return -1;
	if (uw_eng->init) {
		struct init_args a = {err, errlen, -1};
		uw_on_loop_stack(engine_init_tramp, &a);
		if (a.ret) return -1;
	}
	uw_g.cores_ready = 1;
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

uw_core *uw_current_core(void) {
	if (!uw_g.current || PyThreadState_GET() != uw_g.tstate) return NULL;
	return uw_g.current;
}

void uw_runq_push(uw_core *c) {
	uw_hub *h = &uw_the_hub;
	c->state = UW_RUNNABLE;
	h->runq[(h->rq_head + h->rq_len) % h->ncores] = c->id;
	h->rq_len++;
}

void uw_event(uw_core *c, int bits) {
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
	PyDict_SetItemString(t, "wsgi.version", uw_g.version_tuple);
	PyDict_SetItemString(t, "wsgi.errors", errors ? errors : Py_None);
	PyDict_SetItemString(t, "wsgi.multithread", uw_eng->threaded ? Py_True : Py_False);
	PyDict_SetItemString(t, "wsgi.multiprocess", uw_g.s.numproc > 1 ? Py_True : Py_False);
	PyDict_SetItemString(t, "wsgi.run_once", Py_False);
	PyDict_SetItemString(t, "wsgi.file_wrapper", uw_g.file_wrapper_type);
	PyDict_SetItemString(t, "wsgi.input_terminated", Py_True);
	if (uw_the_hub.ncores > 1 && !uw_eng->threaded) {
		PyDict_SetItemString(t, "x-wsgiorg.fdevent.readable", uw_g.wait_read_fn);
		PyDict_SetItemString(t, "x-wsgiorg.fdevent.writable", uw_g.wait_write_fn);
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
	p->app = c->app == UW_APP_SIGNAL ? uw_g.signal_app : uw_g.apps[c->app >= 0 && c->app < uw_g.napps ? c->app : 0];
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
	uw_eng->start(c);
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
		uw_runq_push(c);
	}
}

void uw_core_clear(uw_core *c) {
	uw_pycore *p = c->py;
	Py_CLEAR(p->environ);
	Py_CLEAR(p->status);
	Py_CLEAR(p->headers);
}

/* with --threads the hub's cores hold no Python objects: this touches none */
static void core_release_impl(int id) {
	uw_core *c = &uw_the_hub.cores[id];
	uw_core_clear(c);
	if (uw_eng->finish) uw_eng->finish(c);
	c->head_len = 0;
	c->out_len = 0;
	c->events = 0;
	c->in_events = 0;
	c->disconnect = 0;
	c->state = UW_FREE;
}

void uw_core_suspend(uw_core *c) {
	if (uw_eng->suspend) uw_eng->suspend(c);
}

/* ------------------------------------------------------------ the run */

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
			uw_g.current = c;
			uw_eng->resume(c);
			uw_g.current = NULL;

			if (c->state == UW_FREE) {
				/* finished: Go releases it after taking its last output */
				c->state = UW_PARKED;
				uw_event(c, UW_EV_DONE | (c->head_len || c->out_len ? UW_EV_OUT : 0));
				urgent = 1;
				continue;
			}
			if ((c->head_len && !c->head_taken) || c->out_len || c->disconnect == 1) {
				/* what the app yielded goes out now: it may sleep next */
				uw_event(c, UW_EV_OUT);
				urgent = 1;
			}
			if (c->file_fd >= 0) {
				uw_event(c, UW_EV_FILE);
				urgent = 1;
			}
			if (c->nwait || c->timeout_ms >= 0) {
				c->state = UW_PARKED;
				uw_event(c, UW_EV_WAIT);
				urgent = 1;
			} else {
				uw_runq_push(c);
			}
		}
		if (urgent || h->mailbox_pending) break;
	}
	return h->nevents;
}

void uw_core_serve(uw_core *c) { uw_wsgi_run_request(c); }

int uw_wait(int epfd, void *events, int max, int timeout_ms) {
	if (uw_eng->threaded) return uw_threads_wait(epfd, events, max, timeout_ms); /* no GIL here */
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
	if (uw_g.s.gevent_early) uw_gevent_monkey_patch();
	l->ret = load_app_impl(l->module, l->wsgi_file, l->callable, l->err, l->errlen);
	/* the threads start once the app is there; the hub lets go of the GIL */
	if (l->ret == 0 && uw_eng->threaded) l->ret = uw_threads_spawn(l->err, l->errlen);
	/* uWSGI patches before the app starts, not before it loads */
	if (l->ret == 0 && uw_g.s.gevent_monkey && !uw_g.s.gevent_early) uw_gevent_monkey_patch();
}

int uw_load_app(const char *module, const char *wsgi_file, const char *callable, char *err, size_t errlen) {
	struct load_args l = {module, wsgi_file, callable, err, errlen, -1};
	uw_on_loop_stack(load_app_tramp, &l);
	return l.ret;
}

/* the files of the loaded modules (sys.modules' __file__s), for
 * --py-autoreload: NUL-separated in one malloc'd buffer */
struct files_args {
	char *buf;
	size_t len;
};

static void module_files_tramp(void *a) {
	struct files_args *f = a;
	PyObject *mods = PySys_GetObject("modules"); /* borrowed */
	PyObject *vals = mods ? PyDict_Values(mods) : NULL;
	size_t cap = 0;
	for (Py_ssize_t i = 0; vals && i < PyList_GET_SIZE(vals); i++) {
		PyObject *file = PyObject_GetAttrString(PyList_GET_ITEM(vals, i), "__file__");
		if (!file) {
			PyErr_Clear();
			continue;
		}
		Py_ssize_t n;
		const char *s = PyUnicode_Check(file) ? PyUnicode_AsUTF8AndSize(file, &n) : NULL;
		if (!s) PyErr_Clear();
		if (s && n > 0) {
			if (f->len + (size_t)n + 1 > cap) {
				cap = (f->len + (size_t)n + 1) * 2;
				char *nb = realloc(f->buf, cap);
				if (!nb) {
					Py_DECREF(file);
					break;
				}
				f->buf = nb;
			}
			memcpy(f->buf + f->len, s, (size_t)n + 1);
			f->len += (size_t)n + 1;
		}
		Py_DECREF(file);
	}
	Py_XDECREF(vals);
}

char *uw_module_files(size_t *len) {
	struct files_args f = {NULL, 0};
	if (uw_eng->threaded) {
		/* the request threads hold the GIL by turns; the hub takes its turn */
		PyGILState_STATE g = PyGILState_Ensure();
		module_files_tramp(&f);
		PyGILState_Release(g);
	} else {
		uw_on_loop_stack(module_files_tramp, &f);
	}
	*len = f.len;
	return f.buf;
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
	if (uw_eng->threaded) return uw_thread_start(id, vars, lens, n, scheme, body, body_len, body_fd);
	struct start_args s = {id, vars, lens, n, scheme, body, body_len, body_fd, -1};
	uw_on_loop_stack(core_start_tramp, &s);
	return s.ret;
}

static void core_resume_tramp(void *a) { core_resume_impl(*(int *)a); }
static void core_release_tramp(void *a) { core_release_impl(*(int *)a); }

void uw_core_resume(int id) { uw_on_loop_stack(core_resume_tramp, &id); }
void uw_core_release(int id) {
	uw_api_process_request_done(id);
	uw_ws_reset(id);
	uw_on_loop_stack(core_release_tramp, &id);
}

static void run_tramp(void *a) { *(int *)a = run_impl(); }

int uw_run(void) {
	if (uw_eng->threaded) return uw_threads_collect();
	int n = 0;
	uw_on_loop_stack(run_tramp, &n);
	return n;
}

static void turn_tramp(void *a) { uw_eng->turn(*(int *)a); }

int uw_engine_owns_loop(void) { return uw_eng->turn != NULL; }

void uw_engine_turn(int timeout_ms) { uw_on_loop_stack(turn_tramp, &timeout_ms); }

void uw_engine_rearm(void) { uw_eng->rearm(); }
