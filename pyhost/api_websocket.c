/* The uwsgi module: websockets. */
#include "api.h"

int uw_api_websocket_init(PyObject *m) {
	(void)m;
	return 0;
}
