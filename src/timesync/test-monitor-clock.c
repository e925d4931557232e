/* SPDX-License-Identifier: MIT */
/*
 * The monitor-mode clock against a fake real clock: commands are recorded and reflected in what
 * the loop reads back, the real clock is never written.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "timesync/monitor-clock.h"

typedef struct FakeClock {
	int64_t rt, mono; /* what the next read returns */
	double ppb;
	unsigned writes; /* set_frequency + step + set_sync_status calls: must stay 0 */
	int read_error;
} FakeClock;

static int fake_read(void *userdata, int64_t *ret_rt, int64_t *ret_mono)
{
	FakeClock *f = userdata;

	if (f->read_error)
		return f->read_error;
	*ret_rt = f->rt;
	*ret_mono = f->mono;
	return 0;
}

static int fake_get_frequency(void *userdata, double *ret_ppb)
{
	*ret_ppb = ((FakeClock *)userdata)->ppb;
	return 0;
}

static int fake_set_frequency(void *userdata, double ppb)
{
	((FakeClock *)userdata)->writes++;
	return 0;
}

static int fake_step(void *userdata, int64_t delta_ns)
{
	((FakeClock *)userdata)->writes++;
	return 0;
}

static int fake_set_sync_status(void *userdata, bool synced, int64_t maxerror_ns,
				int64_t esterror_ns)
{
	((FakeClock *)userdata)->writes++;
	return 0;
}

static const ClockOps fake_ops = {
	.read = fake_read,
	.get_frequency = fake_get_frequency,
	.set_frequency = fake_set_frequency,
	.step = fake_step,
	.set_sync_status = fake_set_sync_status,
	.max_frequency_ppb = 500000.0,
};

/* A reference that reads 1 s, with system stamps 10 and 20 ns around the real clock's 1 s. */
static int fake_source_read(void *userdata, SourceReading *readings, size_t n)
{
	readings[0] = (SourceReading){ .sys_before_ns = 1000000010,
				       .phc_ns = 1000000000,
				       .sys_after_ns = 1000000020 };
	return 1;
}

static const SourceOps fake_source_ops = { .read = fake_source_read };

static void advance(FakeClock *f, int64_t ns)
{
	f->rt += ns;
	f->mono += ns;
}

static void test_records_instead_of_applying(void **state)
{
	FakeClock f = { .rt = 1000000000, .mono = 5000000000, .ppb = 2000.0 };
	MonitorClock c;
	SourceReading rd[2];
	int64_t rt, mono;
	double ppb;

	assert_int_equal(monitor_clock_init(&c, &fake_ops, &f), 0);
	assert_true(c.ops.max_frequency_ppb == fake_ops.max_frequency_ppb);
	assert_int_equal(c.ops.get_frequency(&c, &ppb), 0);
	assert_true(ppb == 2000.0); /* starts from the real frequency */

	/* +1000 ppb above the real frequency for 1 s: the virtual clock gains 1 µs on both */
	assert_int_equal(c.ops.set_frequency(&c, 3000.0), 0);
	advance(&f, 1000000000);
	assert_int_equal(c.ops.read(&c, &rt, &mono), 0);
	assert_int_equal(rt - f.rt, 1000);
	assert_int_equal(mono - f.mono, 1000);

	/* a step moves realtime only */
	assert_int_equal(c.ops.step(&c, -500), 0);
	assert_int_equal(c.ops.read(&c, &rt, &mono), 0);
	assert_int_equal(rt - f.rt, 500);
	assert_int_equal(mono - f.mono, 1000);
	assert_int_equal(monitor_clock_phase_ns(&c), 500);
	assert_int_equal(c.ops.set_sync_status(&c, true, 1000, 100), 0);

	/* the reference is paired with the virtual clock */
	c.source = &fake_source_ops;
	c.source_data = NULL;
	assert_int_equal(monitor_clock_source_ops.read(&c, rd, 2), 1);
	assert_int_equal(rd[0].sys_before_ns, 1000000510);
	assert_int_equal(rd[0].phc_ns, 1000000000);
	assert_int_equal(rd[0].sys_after_ns, 1000000520);

	/* nothing reached the real clock, everything was counted */
	assert_int_equal(f.writes, 0);
	assert_int_equal(c.n_set_frequency, 1);
	assert_int_equal(c.n_steps, 1);
	assert_int_equal(c.n_set_sync_status, 1);
}

static void test_read_error_passes_through(void **state)
{
	FakeClock f = { .rt = 1, .mono = 1 };
	MonitorClock c;
	int64_t rt, mono;

	assert_int_equal(monitor_clock_init(&c, &fake_ops, &f), 0);
	f.read_error = -ENODEV;
	assert_int_equal(c.ops.read(&c, &rt, &mono), -ENODEV);
	assert_int_equal(c.ops.set_frequency(&c, 10.0), -ENODEV);
	assert_int_equal(c.n_set_frequency, 0);
	assert_int_equal(monitor_clock_init(&c, &fake_ops, &f), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_instead_of_applying),
		cmocka_unit_test(test_read_error_passes_through),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
