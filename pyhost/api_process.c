/* The uwsgi module: process control, attributes and request I/O. */
#include "api.h"

int uw_api_process_init(PyObject *m) {
	(void)m;
	return 0;
}
