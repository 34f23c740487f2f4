/*
 * --threads N: each core is a Python thread of its own (threads.c); the
 * glue's entry points hand requests to it (uw_core_start, uw_run, uw_wait
 * check .threaded) and an app's yield hands its output to the hub.
 */
#include "glue.h"
#include "threads.h"

const uw_engine uw_engine_threads = {
	.name = "threads",
	.threaded = 1,
	.async_api = 0,
	/* a thread blocks in the call itself; nothing parks it */
	.no_async_api = "uwsgi.%s() cannot be used with --threads: a request thread simply blocks "
	                "(time.sleep, select, a blocking socket); uWSGI's async API needs --async N",
	.suspend = uw_threads_yield,
};
