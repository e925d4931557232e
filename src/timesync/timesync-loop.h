/* SPDX-License-Identifier: MIT */
/*
 * One iteration of the time-sync control loop, as pure policy over the seams: read the clock
 * (to notice steps made by others), read the source, pick the narrowest reading, run the
 * sawtooth filter, feed the servo, apply step and frequency, publish the sync status. The
 * daemon's manager calls timesync_loop_step() from its timer; tests and the benchmark call it
 * against the simulated clock. Does no logging above debug and owns no resources.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "phc-filter.h"
#include "servo.h"
#include "source.h"

#define TIMESYNC_LOOP_READINGS_MAX 25 /* PTP_MAX_SAMPLES */

typedef struct TimesyncLoopConfig {
	unsigned n_readings;		    /* paired readings per poll, 1..25 */
	int64_t resolution_ns;		    /* reference truncates to this; half is added back */
	bool use_filter;		    /* false: every reading straight to the servo (naive) */
	int64_t external_step_tolerance_ns; /* realtime-monotonic change seen as a foreign step */
	PhcFilterConfig filter;
} TimesyncLoopConfig;

typedef struct TimesyncLoopStatus {
	ServoState servo_state;
	PhcFilterVerdict last_verdict;
	bool synced;	      /* what was last told to the kernel */
	bool stale;	      /* the source answered -ESTALE on the last poll */
	bool holdover;	      /* the last poll held the frequency without a measurement */
	double offset_ns;     /* last offset handed to the servo (system minus reference) */
	double frequency_ppb; /* frequency in force */
	int64_t width_ns;     /* width of the last chosen reading */
	unsigned n_polls;
	unsigned n_steps;	   /* steps we made */
	unsigned n_external_steps; /* steps made by someone else (kernel SYNC) */
	unsigned n_skipped_steps;  /* our steps cancelled because the kernel stepped first */
	unsigned n_events;	   /* discontinuities reported by the filter */
	unsigned n_stale;	   /* polls answered -ESTALE */
} TimesyncLoopStatus;

typedef struct TimesyncLoop {
	TimesyncLoopConfig c;
	const ClockOps *clock;
	void *clock_data;
	const SourceOps *source;
	void *source_data;
	Servo *servo; /* not owned */
	PhcFilter filter;
	bool have_base;
	int64_t base_ns; /* realtime minus monotonic after our last action */
	double freq_ppb; /* frequency in force since freq_since_ns (monotonic) */
	int64_t freq_since_ns;
	double corr_ns; /* phase applied up to freq_since_ns: see phc_filter_sample() */
	TimesyncLoopStatus status;
} TimesyncLoop;

/* Defaults: 5 readings, 100 ns resolution, filter on with its defaults, 1 µs tolerance. */
void timesync_loop_config_default(TimesyncLoopConfig *c);

/**
 * timesync_loop_init() - prepare a loop
 * @l: loop to initialise
 * @c: configuration (copied)
 * @clock, @clock_data: the clock to discipline
 * @source, @source_data: the reference
 * @servo: servo to drive (borrowed; must outlive the loop)
 * @initial_frequency_ppb: frequency the clock runs with now (what the servo starts from)
 *
 * Returns 0 or -EINVAL for a bad configuration.
 */
int timesync_loop_init(TimesyncLoop *l, const TimesyncLoopConfig *c, const ClockOps *clock,
		       void *clock_data, const SourceOps *source, void *source_data, Servo *servo,
		       double initial_frequency_ppb);

/**
 * timesync_loop_step() - one poll
 * @l: loop
 *
 * Returns 0 (also for -ESTALE, which is a holdover: see status.stale), or the negative errno of
 * a clock or source failure (-ENODEV: the device went away; reopen and call again).
 */
int timesync_loop_step(TimesyncLoop *l);
