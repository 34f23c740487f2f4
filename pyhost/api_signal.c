/* The uwsgi module: signals, timers, cron, file monitors and rpc. */
#include "api.h"

int uw_api_signal_init(PyObject *m) {
	(void)m;
	return 0;
}
