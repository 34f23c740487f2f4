/*
 * --threads N: N Python threads per worker (threads.c). The hub keeps the
 * loop; each thread serves one request at a time on its core.
 */
#ifndef UWSGO_THREADS_H
#define UWSGO_THREADS_H

#include <Python.h>
#include <stddef.h>

#include "core.h"

/* ---- what threads.c uses from the interpreter glue (pyhost.c) ---- */

/* uw_core_py_new gives a core its Python-side state (start_response, write). */
int uw_core_py_new(uw_core *c);
/* uw_core_setup builds a request's environ on c (GIL held). */
int uw_core_setup(uw_core *c, const char *vars, const int *lens, int n, const char *scheme,
                  const char *body, size_t body_len, int body_fd);
/* uw_core_serve runs the whole request on c; each yield calls uw_threads_yield. */
void uw_core_serve(uw_core *c);
/* uw_core_clear drops what the request left on c (GIL held). */
void uw_core_clear(uw_core *c);

/* ---- the glue's calls into threads.c (hub thread, GIL held) ---- */

/* uw_threads_init prepares n request threads' cores (not the threads yet). */
int uw_threads_init(int n, int worker_id, int efd, char *err, size_t errlen);
/* uw_threads_spawn starts the threads once the app is loaded; the hub
 * thread then lets go of the GIL for good. */
int uw_threads_spawn(char *err, size_t errlen);

/* ---- on a request thread (GIL held) ---- */

/* uw_threads_yield: the app yielded on core c; its output goes to the hub. */
void uw_threads_yield(uw_core *c);
/* uw_threads_flush: the same, and the output goes now even if the hub
 * has not taken the last (the thread is about to block: websockets) */
void uw_threads_flush(uw_core *c);
/* the calling thread's core id, or -1 off the request threads */
int uw_threads_self_id(void);
/* the request thread's own core (the one its app writes into), or NULL */
uw_core *uw_threads_self_core(void);
/* the calling thread's state while it serves requests, or NULL */
PyThreadState *uw_threads_self_tstate(void);

/* ---- the hub's side (Go, through pyhost; no GIL) ---- */

/* uw_thread_start hands a request to core id's thread (vars as in
 * uw_core_start; body must stay valid until the core is released). */
int uw_thread_start(int id, const char *vars, const int *lens, int n, const char *scheme,
                    const char *body, size_t body_len, int body_fd);
/* uw_threads_collect lists the cores whose threads handed output over in
 * uw_the_hub.events and returns how many. */
int uw_threads_collect(void);
/* uw_threads_pending_word: non-zero while cores wait to be collected (read atomically by Go) */
uint32_t *uw_threads_pending_word(void);
/* uw_thread_give_back: the hub has taken core id's output; its thread may hand over more. */
void uw_thread_give_back(int id);
/* uw_threads_wait is the hub's epoll_wait in this mode (the GIL is not held). */
int uw_threads_wait(int epfd, void *events, int max, int timeout_ms);

#endif
