/* SPDX-License-Identifier: MIT */
/*
 * Read-only tests of the Linux ClockOps: this machine's clock must never be changed, so only
 * read() and get_frequency() (clock_adjtime with modes = 0) are exercised.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

static void test_read_pairs_realtime_and_monotonic(void **state)
{
	int64_t rt1, mono1, rt2, mono2;
	struct timespec ts;

	assert_int_equal(clock_linux_ops.read(NULL, &rt1, &mono1), 0);
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	assert_int_equal(clock_linux_ops.read(NULL, &rt2, &mono2), 0);
	/* realtime is in ns since the epoch and bracketed by a direct read */
	assert_true(rt1 <= (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	assert_true(rt2 >= (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	assert_true(mono2 >= mono1);
	/* realtime - monotonic is stable between two reads (nobody steps in a microsecond;
	 * allow 1 ms for a slow, preempted CI machine) */
	assert_true(llabs((rt2 - mono2) - (rt1 - mono1)) < 1000000);
}

static void test_get_frequency_is_sane(void **state)
{
	double ppb = NAN;

	assert_int_equal(clock_linux_ops.get_frequency(NULL, &ppb), 0);
	assert_true(isfinite(ppb));
	/* within the tick range the implementation can express */
	assert_true(fabs(ppb) <= clock_linux_ops.max_frequency_ppb * 2);
	assert_true(clock_linux_ops.max_frequency_ppb >= 500000.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_pairs_realtime_and_monotonic),
		cmocka_unit_test(test_get_frequency_is_sane),
	};

	return cmocka_run_group_tests_name("timesync-clock-linux", tests, NULL, NULL);
}
