/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/ptp_clock.h>

#include "source.h"

static void test_pick_narrowest(void **state)
{
	const SourceReading r[] = {
		{ .sys_before_ns = 1000, .phc_ns = 5000, .sys_after_ns = 4000 },
		{ .sys_before_ns = 5000, .phc_ns = 9000, .sys_after_ns = 6001 },
		{ .sys_before_ns = 7000, .phc_ns = 9500, .sys_after_ns = 9000 },
	};
	SourceSample s;

	assert_int_equal(source_pick_narrowest(r, 3, &s), 0);
	assert_int_equal(s.width_ns, 1001);
	assert_int_equal(s.sys_ns, 5500);
	assert_int_equal(s.phc_ns, 9000);
}

static void test_pick_skips_backwards_and_empty(void **state)
{
	const SourceReading r[] = {
		/* realtime stepped back during the reading: unusable even though "narrow" */
		{ .sys_before_ns = 9000, .phc_ns = 1, .sys_after_ns = 100 },
		{ .sys_before_ns = 100, .phc_ns = 2, .sys_after_ns = 300 },
	};
	SourceSample s = {};

	assert_int_equal(source_pick_narrowest(r, 2, &s), 0);
	assert_int_equal(s.phc_ns, 2);
	assert_int_equal(source_pick_narrowest(r, 1, &s), -ERANGE);
	assert_int_equal(source_pick_narrowest(r, 0, &s), -EINVAL);
}

static void test_pick_no_overflow(void **state)
{
	const SourceReading r[] = {
		{ .sys_before_ns = INT64_MAX - 10, .phc_ns = 0, .sys_after_ns = INT64_MAX },
	};
	SourceSample s;

	assert_int_equal(source_pick_narrowest(r, 1, &s), 0);
	assert_int_equal(s.sys_ns, INT64_MAX - 5);
}

/* Regression (fuzz-ptp-sys-offset): stamps far apart made the width overflow (UB). */
static void test_pick_width_overflow_skipped(void **state)
{
	const SourceReading r[] = {
		{ .sys_before_ns = -INT64_MAX + 5, .phc_ns = 1, .sys_after_ns = INT64_MAX - 5 },
		{ .sys_before_ns = 100, .phc_ns = 2, .sys_after_ns = 300 },
	};
	SourceSample s = {};

	assert_int_equal(source_pick_narrowest(r, 2, &s), 0);
	assert_int_equal(s.phc_ns, 2);
	assert_int_equal(s.width_ns, 200);
	assert_int_equal(source_pick_narrowest(r, 1, &s), -ERANGE);
}

/* Regression (fuzz-ptp-sys-offset): stamps ±292 years apart passed the parser, and their
 * difference overflowed in source_pick_narrowest() and the loop's offset. */
static void test_parse_limits_range(void **state)
{
	struct ptp_sys_offset p = { .n_samples = 1 };
	SourceReading r[1];
	SourceSample s;
	const int64_t max_sec = SOURCE_TIME_MAX_NS / 1000000000;

	p.ts[0] = (struct ptp_clock_time){ .sec = -max_sec, .nsec = 0 };
	p.ts[2] = (struct ptp_clock_time){ .sec = max_sec, .nsec = 0 };
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, 1), 1);
	assert_int_equal(source_pick_narrowest(r, 1, &s), 0);
	assert_true(s.width_ns == 2 * max_sec * 1000000000);

	/* one second more either way, or nanoseconds that carry past 2^62: rejected */
	p.ts[2].sec = max_sec + 1;
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, 1), -EINVAL);
	p.ts[2].sec = max_sec;
	p.ts[2].nsec = 999999999;
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, 1), -EINVAL);
	p.ts[2].nsec = 0;
	p.ts[1].sec = -max_sec - 1;
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, 1), -EINVAL);
	/* the former limit, ±(INT64_MAX / 10^9 - 1) s, is garbage now */
	p.ts[1].sec = INT64_MAX / 1000000000 - 1;
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, 1), -EINVAL);
}

static void test_parse_ptp_sys_offset(void **state)
{
	struct ptp_sys_offset p = { .n_samples = 2 };
	SourceReading r[4];

	/* sys0 phc0 sys1 phc1 sys2 */
	p.ts[0] = (struct ptp_clock_time){ .sec = 10, .nsec = 100 };
	p.ts[1] = (struct ptp_clock_time){ .sec = 11, .nsec = 200 };
	p.ts[2] = (struct ptp_clock_time){ .sec = 10, .nsec = 300 };
	p.ts[3] = (struct ptp_clock_time){ .sec = 11, .nsec = 400 };
	p.ts[4] = (struct ptp_clock_time){ .sec = 10, .nsec = 999999999 };

	assert_int_equal(source_parse_ptp_sys_offset(&p, r, 4), 2);
	assert_int_equal(r[0].sys_before_ns, 10000000100);
	assert_int_equal(r[0].phc_ns, 11000000200);
	assert_int_equal(r[0].sys_after_ns, 10000000300);
	assert_int_equal(r[1].sys_before_ns, 10000000300);
	assert_int_equal(r[1].phc_ns, 11000000400);
	assert_int_equal(r[1].sys_after_ns, 10999999999);

	/* capacity limits the count */
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, 1), 1);
}

static void test_parse_rejects_garbage(void **state)
{
	struct ptp_sys_offset p = { .n_samples = 1 };
	SourceReading r[PTP_MAX_SAMPLES];

	p.ts[1].nsec = 1000000000; /* not normalised */
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, PTP_MAX_SAMPLES), -EINVAL);
	p.ts[1].nsec = 0;
	p.ts[2].sec = INT64_MAX;
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, PTP_MAX_SAMPLES), -EINVAL);
	p.ts[2].sec = 0;
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, PTP_MAX_SAMPLES), 1);
	p.n_samples = 0;
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, PTP_MAX_SAMPLES), -EINVAL);
	p.n_samples = PTP_MAX_SAMPLES + 1;
	assert_int_equal(source_parse_ptp_sys_offset(&p, r, PTP_MAX_SAMPLES), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_narrowest),
		cmocka_unit_test(test_pick_skips_backwards_and_empty),
		cmocka_unit_test(test_pick_no_overflow),
		cmocka_unit_test(test_parse_ptp_sys_offset),
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_pick_width_overflow_skipped),
		cmocka_unit_test(test_parse_limits_range),
	};

	return cmocka_run_group_tests_name("timesync-source", tests, NULL, NULL);
}
