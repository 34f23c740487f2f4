package pyhost

/*
#include "pyhost.h"
*/
import "C"

import "unsafe"

// AppSignal is the app id (hub.Job) of a core that runs a signal handler:
// its environ's UWSGI_SIGNAL names the signal.
const AppSignal = int(C.UW_APP_SIGNAL)

var knownTable *[256]byte

// MarkSignalsKnown records that some process of the master registered
// these signals (the master's MsgKnown), so that uwsgi.signal() may raise
// them here too. It calls no Python, and costs no cgo call after the
// first: the table is C memory.
func MarkSignalsKnown(sigs []byte) {
	if knownTable == nil {
		knownTable = (*[256]byte)(unsafe.Pointer(C.uw_signal_known_table()))
	}
	for _, s := range sigs {
		knownTable[s] = 1 // a byte store; C reads it with a relaxed load
	}
}
