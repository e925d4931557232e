/* SPDX-License-Identifier: MIT */
/*
 * Sawtooth filter against synthetic readings: a reference carried forward from host samples
 * every 5 s by a counter with a known rate error, polled every 0.25 s (dithered), and a
 * continuous reference for comparison. corr is 0 throughout (no servo), so the free-running
 * offset is the offset itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "phc-filter.h"

#define SEC 1000000000LL

typedef struct Synth {
	PhcFilter f;
	double ec_ppb;	  /* counter error */
	double slope_ppb; /* true offset drift */
	double true0;	  /* true offset at t = 0, ns */
	int64_t period;	  /* host samples */
	int64_t phase;	  /* first host sample */
	int64_t t;
	unsigned n;
	bool continuous;
	double event_ns; /* added to the true offset from event_at */
	int64_t event_at;
	int64_t refresh_stop; /* no host samples after this (0: never) */
} Synth;

static double true_offset(const Synth *s, int64_t t)
{
	return s->true0 + s->slope_ppb * 1e-9 * (double)t + (t >= s->event_at ? s->event_ns : 0);
}

/* Offset measured at t: too low by ec·age while carried forward (see phc-filter.h). */
static double measured(const Synth *s, int64_t t)
{
	int64_t last, age;

	if (s->continuous)
		return true_offset(s, t);
	last = s->phase + ((t - s->phase) / s->period) * s->period;
	if (s->refresh_stop && last > s->refresh_stop)
		last = s->phase + ((s->refresh_stop - s->phase) / s->period) * s->period;
	age = t - last;
	/* A jump of host time shows with the next host sample, not before. */
	return s->true0 + s->slope_ppb * 1e-9 * (double)t +
	       (last >= s->event_at ? s->event_ns : 0) - s->ec_ppb * 1e-9 * (double)age;
}

static PhcFilterVerdict step(Synth *s, double *ret)
{
	/* deterministic dither of ±25 % around 0.25 s */
	s->t += SEC / 4 + (int64_t)((s->n * 7919u) % 125) * (SEC / 1000) - SEC / 16;
	s->n++;
	return phc_filter_sample(&s->f, s->t, measured(s, s->t), 0.0, ret);
}

static void init(Synth *s, bool fresh_only)
{
	PhcFilterConfig c;

	phc_filter_config_default(&c);
	c.fresh_only = fresh_only;
	*s = (Synth){
		.ec_ppb = 10000,
		.slope_ppb = 3000,
		.true0 = 1000,
		.period = 5 * SEC,
		.phase = 1234567890,
		.event_at = INT64_MAX,
	};
	phc_filter_init(&s->f, &c);
}

static void test_sawtooth_corrected(void **state)
{
	Synth s;
	double ec, out, worst = 0;
	unsigned uses = 0;

	init(&s, false);
	for (int i = 0; i < 240; i++) { /* 60 s */
		PhcFilterVerdict v = step(&s, &out);

		assert_true(v == PHC_FILTER_USE || v == PHC_FILTER_SKIP);
		if (v == PHC_FILTER_USE && s.t > 20 * SEC) {
			worst = fmax(worst, fabs(out - true_offset(&s, s.t)));
			uses++;
		}
	}
	assert_int_equal(s.f.mode, PHC_FILTER_MODE_SAWTOOTH);
	assert_int_equal(s.f.n_events, 0);
	assert_true(s.f.n_refreshes >= 10);
	assert_true(phc_filter_counter_error(&s.f, &ec));
	assert_true(fabs(ec - 10000) < 1000);
	/* the raw sawtooth is 0..50 µs; corrected readings are within the refresh-time
	 * uncertainty (±0.15 s × 10 ppm = ±1.5 µs) plus the estimate's error */
	assert_true(worst < 4000);
	assert_true(uses > 100);
}

static void test_fresh_only_one_per_refresh(void **state)
{
	Synth s;
	double out;
	unsigned uses = 0;

	init(&s, true);
	for (int i = 0; i < 80; i++) /* 20 s: learn */
		step(&s, &out);
	for (int i = 0; i < 160; i++) /* 40 s: 8 refreshes */
		if (step(&s, &out) == PHC_FILTER_USE)
			uses++;
	assert_true(uses >= 7 && uses <= 9);
}

static void test_continuous_passes_through(void **state)
{
	Synth s;
	double out;

	init(&s, false);
	s.continuous = true;
	for (int i = 0; i < 120; i++) {
		assert_int_equal(step(&s, &out), PHC_FILTER_USE);
		assert_true(out == measured(&s, s.t));
	}
	assert_int_equal(s.f.mode, PHC_FILTER_MODE_CONTINUOUS);
	assert_int_equal(s.f.n_refreshes, 0);
}

static void test_outlier_is_skipped_not_an_event(void **state)
{
	Synth s;
	double out;
	unsigned n_seg;

	init(&s, false);
	s.continuous = true;
	for (int i = 0; i < 20; i++)
		step(&s, &out);
	n_seg = (unsigned)s.f.n_seg;
	assert_true(n_seg < PHC_FILTER_SEGMENT_MAX);
	s.t += SEC / 4;
	assert_int_equal(phc_filter_sample(&s.f, s.t, measured(&s, s.t) + 50000, 0, &out),
			 PHC_FILTER_SKIP);
	assert_int_equal(step(&s, &out), PHC_FILTER_USE);
	assert_int_equal(s.f.n_events, 0);
	assert_int_equal(s.f.n_seg, n_seg + 1);
}

static void test_event_in_sawtooth(void **state)
{
	Synth s;
	double out;
	unsigned events = 0;

	init(&s, false);
	for (int i = 0; i < 120; i++)
		step(&s, &out);
	/* the reference jumps 1 ms (host time jump) */
	s.event_ns = -1e6;
	s.event_at = s.t + 1;
	for (int i = 0; i < 40; i++) {
		PhcFilterVerdict v = step(&s, &out);

		if (v == PHC_FILTER_EVENT) {
			events++;
			/* reported once the host sample shows it, corrected like a refresh */
			assert_true(fabs(out - true_offset(&s, s.t)) < 4000);
		}
	}
	assert_int_equal(events, 1);
	assert_int_equal(s.f.mode, PHC_FILTER_MODE_SAWTOOTH);
}

static void test_holdover_when_refreshes_stop(void **state)
{
	Synth s;
	double out;
	PhcFilterVerdict v = PHC_FILTER_USE;

	init(&s, false);
	for (int i = 0; i < 120; i++)
		step(&s, &out);
	s.refresh_stop = s.t;
	for (int i = 0; i < 80; i++) /* 20 s without refresh */
		v = step(&s, &out);
	assert_int_equal(v, PHC_FILTER_HOLDOVER);
	assert_int_equal(s.f.mode, PHC_FILTER_MODE_SAWTOOTH);
}

static void test_names(void **state)
{
	assert_string_equal(phc_filter_mode_to_string(PHC_FILTER_MODE_SAWTOOTH), "sawtooth");
	assert_null(phc_filter_mode_to_string(_PHC_FILTER_MODE_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sawtooth_corrected),
		cmocka_unit_test(test_fresh_only_one_per_refresh),
		cmocka_unit_test(test_continuous_passes_through),
		cmocka_unit_test(test_outlier_is_skipped_not_an_event),
		cmocka_unit_test(test_event_in_sawtooth),
		cmocka_unit_test(test_holdover_when_refreshes_stop),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("timesync-phc-filter", tests, NULL, NULL);
}
