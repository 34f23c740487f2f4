// Package ugreen holds uwsgo's green threads: stacks with guard pages and
// the context switch (ugreen.h, compiled into the interpreter glue). The Go
// side here only checks them: a ping-pong between contexts in both switch
// modes, float state preserved across switches, and guard pages that fault.
package ugreen

/*
#cgo CFLAGS: -O2 -Wall -Wno-unused-function
#include <stdlib.h>
#include <signal.h>
#include "ugreen.h"

static ug_context main_ctx, green_ctx;
static ug_stack green_stack;
static volatile long counter;
static volatile double acc;

static void pingpong_entry(void) {
	double local = 1.5; // lives on the green stack across switches
	for (;;) {
		counter++;
		local *= 1.0000001;
		acc = local;
		ug_switch(&green_ctx, &main_ctx);
	}
}

// ug_selftest switches into a green thread and back n times; returns the
// number of times the green thread ran, or -1.
static long ug_selftest(int mode, long n, size_t pages) {
	ug_switch_mode = mode;
	if (ug_stack_alloc(&green_stack, pages)) return -1;
	if (ug_prepare(&green_ctx, &green_stack, pingpong_entry)) return -1;
	counter = 0;
	for (long i = 0; i < n; i++) ug_switch(&main_ctx, &green_ctx);
	ug_stack_free(&green_stack);
	return counter;
}

static double ug_selftest_acc(void) { return acc; }
static int ug_have_fast(void) { return UG_HAVE_FAST_SWITCH; }

// ug_touch_guard writes just below the usable stack: must fault.
static void ug_touch_guard(void) {
	ug_stack s;
	if (ug_stack_alloc(&s, 4)) return;
	s.lo[-1] = 1;
}
*/
import "C"

import "errors"

// Mode is a switch implementation.
type Mode int

const (
	Fast        Mode = 0 // registers only, no syscall (amd64)
	Swapcontext Mode = 1 // POSIX swapcontext
)

// HaveFast reports whether the register-only switch exists on this CPU.
func HaveFast() bool { return C.ug_have_fast() != 0 }

// PingPong switches into a green thread and back n times on a stack of
// pages pages and returns how many times the green thread ran.
func PingPong(mode Mode, n int, pages int) (int, error) {
	r := int(C.ug_selftest(C.int(mode), C.long(n), C.size_t(pages)))
	if r < 0 {
		return 0, errors.New("cannot set up a green stack")
	}
	return r, nil
}

// LastFloat is the float the green thread computed last.
func LastFloat() float64 { return float64(C.ug_selftest_acc()) }

// TouchGuardPage writes into a guard page; the process gets SIGSEGV.
func TouchGuardPage() { C.ug_touch_guard() }
