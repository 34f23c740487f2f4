package pyhost

/*
#include "threads.h"
*/
import "C"

import "runtime"

// With EngineThreads (--threads N) each core is a Python thread that runs
// its request to the end (threads.c). The hub calls the same functions as
// for the other engines, from its own thread and without the GIL: StartCore
// wakes the core's thread, Run lists the cores whose threads handed output
// over, Wait is the loop's epoll_wait. After taking a core's output the
// hub gives the core back (GiveBack) unless the client is slow.

var (
	// threadsPending is the C word the threads raise when they hand output
	// over (nil unless the engine is EngineThreads).
	threadsPending *uint32
	// threadPins keep each request's body where its thread reads it.
	threadPins []runtime.Pinner
)

func threadsInit(n int) {
	threadPins = make([]runtime.Pinner, n)
	threadsPending = (*uint32)(C.uw_threads_pending_word())
}

// Threaded reports whether the cores are threads (EngineThreads).
func Threaded() bool { return threadsPending != nil }

// GiveBack: the hub has taken the core's output; its thread may hand over
// the next (the threads' engine only).
func (k Core) GiveBack() { C.uw_thread_give_back(k.c.id) }
