/* The C API of the interpreter glue, as the Go side of pyhost calls it. */
#ifndef UWSGO_PYHOST_H
#define UWSGO_PYHOST_H

#include <stddef.h>

#include "core.h"

typedef struct uw_settings {
	const char *program;   /* argv[0] */
	const char **pythonpath; /* prepended to sys.path, in order */
	int npythonpath;
	int engine;        /* UW_ENGINE_* */
	int ncores;
	int stack_pages;   /* uGreen stack size, in pages */
	int switch_mode;   /* UG_SWITCH_* */
	int worker_id, numproc, masterpid;
	int gevent_monkey, gevent_early; /* --gevent-monkey-patch, --gevent-early-monkey-patch */
	int master_fd;     /* this process's channel to the master (procman); 0: none */
	int efd;           /* gevent: the hub's eventfd, written to wake the hub */
	int epfd;          /* gevent: the hub's epoll set, watched by gevent's loop */
	const char *version;
	/* uwsgi.opt, the options as given, in order: per option its key, NUL,
	 * 'v' and its value or 'f' for a bare flag, NUL. */
	const char *opt;
	size_t opt_len;
	/* api_process.c's attributes */
	int buffer_size;           /* uwsgi.buffer_size */
	long long started_on;      /* uwsgi.started_on, Unix seconds */
	int is_a_reload;           /* uwsgi.is_a_reload */
	const int *sockets;        /* uwsgi.sockets: the listening fds */
	int nsockets;
	/* the master's shared slots, one per worker (procman/heartbeat.go):
	 * workers(), total_requests(), set_user_harakiri(), accepting() */
	void *slots;
	size_t slots_len;
	int slot_words, slot_apps, slot_cores;
	/* the process's argv strings, which setprocname() writes over */
	char *argv_area;
	size_t argv_len;
	/* uwsgi.magic_table: per entry its one-byte key, its value, NUL */
	const char *magic;
	size_t magic_len;
	/* the module's Python parts: per file its name, NUL, its source, NUL */
	const char *pyapi;
	size_t pyapi_len;
	const char *home;  /* --home: a virtualenv (or a Python home), or NULL */
} uw_settings;

/* uw_start starts the interpreter; the calling thread keeps the GIL. */
int uw_start(const uw_settings *s, char *err, size_t errlen);
/* most apps (the main one and --mount points) a worker holds */
#define UW_MAX_APPS 64

/* uw_load_app imports an app and adds it to the worker's apps (ids in
 * load order); on failure err holds one line. */
int uw_load_app(const char *module, const char *wsgi_file, const char *callable, char *err, size_t errlen);
/* uw_cores_init allocates the cores (and their stacks for uGreen). */
int uw_cores_init(char *err, size_t errlen);

/* uw_core_start gives a request to a free core (for the app Go put in
 * its app field) and makes it runnable.
 * vars: n strings back to back, lens[i] bytes each (key, value, ...). */
int uw_core_start(int id, const char *vars, const int *lens, int n, const char *scheme,
                  const char *body, size_t body_len, int body_fd);
/* websockets (api_websocket.c): a whole message for core id's request,
 * copied; the connection closed; whether a message (or the close) waits
 * to be taken; the request is over */
void uw_ws_push(int id, const char *data, size_t len);
void uw_ws_close(int id);
int uw_ws_pending(int id);
void uw_ws_reset(int id);
/* uw_core_release returns a finished core to the free state. */
void uw_core_release(int id);
/* uw_core_resume makes a parked core runnable again. */
void uw_core_resume(int id);

/* uw_run runs the runqueue until a core has an event for Go (listed in
 * uw_the_hub.events), the mailbox has work, or max_rounds rounds pass. */
int uw_run(void);

/* uw_engine_owns_loop: the engine runs its own event loop (gevent) and the
 * hub turns it with uw_engine_turn instead of calling uw_run. */
int uw_engine_owns_loop(void);
/* uw_engine_turn runs the engine's loop until the eventfd fires or the timeout. */
void uw_engine_turn(int timeout_ms);
/* uw_engine_rearm: Go drained the eventfd; the next event writes it again. */
void uw_engine_rearm(void);

/* uw_module_files returns the __file__ of every module in sys.modules,
 * NUL-separated, in a malloc'd buffer of *len bytes (NULL if none). */
char *uw_module_files(size_t *len);

/* uw_wait releases the GIL and waits on epfd (epoll_wait). */
int uw_wait(int epfd, void *events, int max, int timeout_ms);

/* uw_post_fork calls uwsgi.post_fork_hook (uwsgidecorators' @postfork
 * chain) once the apps are loaded, as uWSGI does in each new worker; an
 * exception is printed and the worker goes on. */
void uw_post_fork(void);

/* uw_signal_known_table: 256 flags, one per signal: some process of the
 * master registered it (the hub sets them; api_signal.c) */
unsigned char *uw_signal_known_table(void);

/* uw_api_process_logvars (api_process.c): the logvars core id's request
 * set ("key\0value\0" ..., *len bytes) and whether it called
 * uwsgi.log_this_request(); the hub reads them as the request ends. */
const char *uw_api_process_logvars(int id, size_t *len, int *log_this);

/* uw_log_exception prints the pending Python exception to sys.stderr. */
void uw_log_exception(void);

#endif
