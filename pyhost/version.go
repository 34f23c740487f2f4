package pyhost

/*
#include <Python.h>
*/
import "C"

import "strings"

// PythonVersion is the version of the CPython uwsgo runs, as Py_GetVersion
// gives it (callable before the interpreter starts), on one line:
// "3.13.5 (main, Jun 25 2025, 18:55:22) [GCC 14.2.0]".
func PythonVersion() string {
	return strings.Join(strings.Fields(C.GoString(C.Py_GetVersion())), " ")
}
