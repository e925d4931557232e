/* SPDX-License-Identifier: MIT */
/*
 * PI servo against synthetic offsets: a tiny closed loop in the test integrates the answered
 * frequency on top of a natural frequency error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "servo.h"

#define SEC 1000000000LL

typedef struct Loop {
	Servo *s;
	double offset;	/* ns, local minus reference */
	double natural; /* ppb */
	double ppb;	/* answered */
	int64_t t;
	unsigned jumps;
} Loop;

static int setup(void **state)
{
	static Loop l;
	ServoPiConfig c;

	servo_pi_config_default(&c);
	l = (Loop){ .natural = 50000.0 };
	assert_int_equal(servo_pi_new(&c, &l.s), 0);
	*state = &l;
	return 0;
}

static int teardown(void **state)
{
	Loop *l = *state;

	l->s = servo_free(l->s);
	return 0;
}

/* Advance dt with the current frequency, then sample. */
static ServoState tick(Loop *l, int64_t dt)
{
	ServoState st;

	l->offset += (l->natural + l->ppb) * 1e-9 * (double)dt;
	l->t += dt;
	st = servo_sample(l->s, l->offset, l->t, &l->ppb);
	if (st == SERVO_JUMP) {
		l->offset = 0;
		l->jumps++;
	}
	return st;
}

static void test_first_sample_steps_above_threshold(void **state)
{
	Loop *l = *state;

	l->offset = 3e6;
	assert_int_equal(tick(l, 0), SERVO_JUMP);
	assert_int_equal(tick(l, SEC / 4), SERVO_UNLOCKED);
}

static void test_first_sample_small_slews(void **state)
{
	Loop *l = *state;

	l->offset = 10000; /* 10 µs ahead, below the 20 µs first-step threshold */
	assert_int_equal(tick(l, 0), SERVO_UNLOCKED);
	assert_int_equal(l->jumps, 0);
	/* slewing backwards: negative frequency beyond the (unknown) natural error */
	assert_true(l->ppb < -5000);
}

static void test_acquires_frequency_and_locks(void **state)
{
	Loop *l = *state;
	int i;

	for (i = 0; i < 40 && tick(l, SEC / 4) != SERVO_LOCKED; i++)
		;
	assert_true(i < 40);
	/* 2 s acquisition; the regression finds -natural */
	assert_true(fabs(l->ppb + l->natural) < 500);
	for (i = 0; i < 400; i++)
		assert_int_equal(tick(l, SEC / 4), SERVO_LOCKED);
	assert_true(fabs(l->offset) < 1.0);
	assert_true(fabs(l->ppb + l->natural) < 1.0);
}

static void test_follows_frequency_change(void **state)
{
	Loop *l = *state;

	for (int i = 0; i < 400; i++)
		tick(l, SEC / 4);
	l->natural -= 20000; /* migration-like frequency change, no reset */
	/* slowest closed-loop pole at kp/2 - sqrt(kp²/4 - ki) = 0.1/s: 200 s is 20 time
	 * constants */
	for (int i = 0; i < 800; i++)
		assert_int_equal(tick(l, SEC / 4), SERVO_LOCKED);
	assert_true(fabs(l->offset) < 1.0);
	assert_true(fabs(l->ppb + l->natural) < 1.0);
}

static void test_long_interval_is_stable(void **state)
{
	Loop *l = *state;

	/* one sample per 5 s host refresh: gains are capped per sample */
	for (int i = 0; i < 200; i++)
		tick(l, 5 * SEC);
	assert_true(fabs(l->offset) < 1.0);
}

static void test_steps_later_above_threshold(void **state)
{
	Loop *l = *state;

	for (int i = 0; i < 100; i++)
		tick(l, SEC / 4);
	l->offset += 0.5e9; /* host time jumped: 0.5 s */
	assert_int_equal(tick(l, SEC / 4), SERVO_JUMP);
	assert_int_equal(l->jumps, 1); /* no first step: the offset started at 0 */
	assert_int_equal(tick(l, SEC / 4), SERVO_UNLOCKED);
	/* re-acquires without losing the frequency */
	for (int i = 0; i < 800; i++)
		tick(l, SEC / 4);
	assert_true(fabs(l->offset) < 1.0);
	/* below the threshold it slews */
	l->offset += 5e6;
	assert_int_equal(tick(l, SEC / 4), SERVO_LOCKED);
	assert_int_equal(l->jumps, 1);
}

static void test_holdover_and_reset(void **state)
{
	Loop *l = *state;
	double before;

	for (int i = 0; i < 100; i++)
		tick(l, SEC / 4);
	before = l->ppb;
	l->t += 10 * SEC;
	l->ppb = servo_holdover(l->s, l->t);
	/* the learnt frequency without phase correction */
	assert_true(fabs(l->ppb + l->natural) < 10.0);
	assert_true(fabs(l->ppb - before) < 50.0);
	servo_reset(l->s);
	assert_int_equal(tick(l, SEC / 4), SERVO_UNLOCKED);
}

static void test_frequency_is_clamped(void **state)
{
	ServoPiConfig c;
	Servo *s;
	double ppb;

	servo_pi_config_default(&c);
	c.max_frequency_ppb = 500000.0;
	c.first_step_threshold_ns = 0;
	assert_int_equal(servo_pi_new(&c, &s), 0);
	assert_int_equal(servo_sample(s, 50e6, 0, &ppb), SERVO_UNLOCKED);
	assert_true(ppb == -500000.0);
	servo_free(s);
}

static void test_config_and_names(void **state)
{
	ServoPiConfig c;
	Servo *s = NULL;

	servo_pi_config_default(&c);
	c.kp = -1;
	assert_int_equal(servo_pi_new(&c, &s), -EINVAL);
	servo_pi_config_default(&c);
	c.initial_frequency_ppb = 2 * c.max_frequency_ppb;
	assert_int_equal(servo_pi_new(&c, &s), -EINVAL);
	assert_null(s);
	assert_null(servo_free(NULL));
	assert_string_equal(servo_state_to_string(SERVO_LOCKED), "locked");
	assert_string_equal(servo_state_to_string(SERVO_JUMP), "jump");
	assert_null(servo_state_to_string(_SERVO_STATE_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_sample_steps_above_threshold, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_first_sample_small_slews, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acquires_frequency_and_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follows_frequency_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_interval_is_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steps_later_above_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holdover_and_reset, setup, teardown),
		cmocka_unit_test(test_frequency_is_clamped),
		cmocka_unit_test(test_config_and_names),
	};

	return cmocka_run_group_tests_name("timesync-servo-pi", tests, NULL, NULL);
}
