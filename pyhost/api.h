/* The parts of the `uwsgi` module, one file per area. Each init adds its
 * functions and constants to the module; 0 on success, -1 with a Python
 * error set. They run when the module is created, before pyapi/'s Python
 * parts are executed in the module's namespace. */
#ifndef UWSGO_API_H
#define UWSGO_API_H

#include <Python.h>

int uw_api_process_init(PyObject *m);   /* api_process.c: process control, attributes, request I/O */
int uw_api_signal_init(PyObject *m);    /* api_signal.c: signals, timers, cron, file monitors, rpc */
int uw_api_shm_init(PyObject *m);       /* api_shm.c: locks and caches in shared memory */
int uw_api_spooler_init(PyObject *m);   /* api_spooler.c: the spooler and mules */
int uw_api_websocket_init(PyObject *m); /* api_websocket.c: websockets */

/* api_process.c: a request on core id finished (uwsgi.request_id counts
 * them); plain C, called by the hub as it releases the core */
void uw_api_process_request_done(int id);

/* api_process.c: the running request's core (a green or async core,
 * gevent's request greenlet's, or a --threads thread's own); NULL outside
 * a request. struct uw_core is core.h's. */
struct uw_core;
struct uw_core *uw_api_request_core(void);

#endif
