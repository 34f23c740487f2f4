/* The uwsgi module: locks and caches in shared memory. */
#include "api.h"

int uw_api_shm_init(PyObject *m) {
	(void)m;
	return 0;
}
