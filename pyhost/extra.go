package pyhost

/*
#include <stdlib.h>
int uw_api_extra_main(const char *kind, int index, int ctl);
*/
import "C"

import "unsafe"

// RunExtra gives this thread to the loop of an extra process (the spooler
// or a mule: kind "spooler" or "mule", index from 1), once Start and
// LoadApp have run on it. The loop reads ctl, a pipe on which the process's
// Go side writes 's' (stop), 'r' (reload) or 'w' (wake up: a task was
// spooled). It returns the process's exit status.
func RunExtra(kind string, index, ctl int) int {
	ck := C.CString(kind)
	defer C.free(unsafe.Pointer(ck))
	return int(C.uw_api_extra_main(ck, C.int(index), C.int(ctl)))
}
