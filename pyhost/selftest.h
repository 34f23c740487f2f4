/* Self-tests of the C parts that need no interpreter (ugreen_selftest.c). */
#ifndef UWSGO_SELFTEST_H
#define UWSGO_SELFTEST_H

#include <stddef.h>

/* ug_selftest switches into a green thread and back n times in switch
 * mode mode; returns the number of times the green thread ran, or -1. */
long ug_selftest(int mode, long n, size_t pages);
/* the float the green thread computed last */
double ug_selftest_acc(void);
/* ug_touch_guard writes just below a usable stack: must fault */
void ug_touch_guard(void);

#endif
