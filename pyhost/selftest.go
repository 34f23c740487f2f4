package pyhost

/*
#include "selftest.h"
#include "ugreen.h"
*/
import "C"

import "errors"

// These drive the uGreen switch's self-tests (ugreen_test.go): the switch
// lives here because cgo links C only within one package.

// haveFastSwitch reports whether the register-only switch exists on this CPU.
func haveFastSwitch() bool { return C.ug_have_fast_switch != 0 }

// pingPong switches into a green thread and back n times on a stack of
// pages pages and returns how many times the green thread ran.
func pingPong(mode int, n int, pages int) (int, error) {
	r := int(C.ug_selftest(C.int(mode), C.long(n), C.size_t(pages)))
	if r < 0 {
		return 0, errors.New("cannot set up a green stack")
	}
	return r, nil
}

// lastFloat is the float the green thread computed last.
func lastFloat() float64 { return float64(C.ug_selftest_acc()) }

// touchGuardPage writes into a guard page; the process gets SIGSEGV.
func touchGuardPage() { C.ug_touch_guard() }
