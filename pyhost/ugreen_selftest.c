/* A self-test of the uGreen switch, driven by ugreen_test.go (through selftest.go). */
#include "ugreen.h"

#include "selftest.h"

static ug_context main_ctx, green_ctx;
static ug_stack green_stack;
static volatile long counter;
static volatile double acc;

static void pingpong_entry(void) {
	double local = 1.5; /* lives on the green stack across switches */
	for (;;) {
		counter++;
		local *= 1.0000001;
		acc = local;
		ug_switch(&green_ctx, &main_ctx);
	}
}

long ug_selftest(int mode, long n, size_t pages) {
	int saved = ug_switch_mode;
	ug_switch_mode = mode;
	long r = -1;
	if (ug_stack_alloc(&green_stack, pages) == 0) {
		if (ug_prepare(&green_ctx, &green_stack, pingpong_entry) == 0) {
			counter = 0;
			for (long i = 0; i < n; i++) ug_switch(&main_ctx, &green_ctx);
			r = counter;
		}
		ug_stack_free(&green_stack);
	}
	ug_switch_mode = saved;
	return r;
}

double ug_selftest_acc(void) { return acc; }

void ug_touch_guard(void) {
	ug_stack s;
	if (ug_stack_alloc(&s, 4)) return;
	s.lo[-1] = 1;
}
