/* The uwsgi module: the spooler and mules. */
#include "api.h"

int uw_api_spooler_init(PyObject *m) {
	(void)m;
	return 0;
}
