/* SPDX-License-Identifier: MIT */
/*
 * Scenario runner shared by the scenario tests and bench-timesync: the real loop, filter and
 * PI servo against the clock model, in simulated time, with the metrics of issue 6.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "clock-model.h"

#define SIM_GOOD_NS 10000.0 /* "under 10 µs" */

typedef struct SimScenario {
	const char *name;
	ClockModelConfig model;
	int64_t duration_ns;
	int64_t poll_ns;
	int64_t window_start_ns; /* RMS/max from here to the end, minus event windows */
	int64_t event_grace_ns;	 /* excluded after each event's end */
} SimScenario;

typedef struct SimResult {
	double rms_ns; /* over the window, outside event windows */
	double max_ns; /* same window */
	double lock_s; /* first time from which |offset| < 10 µs for 10 s; < 0: never */
	double recovery_s[CLOCK_MODEL_EVENTS_MAX]; /* after each event's end, same rule for 5 s */
	double max_in_event_ns[CLOCK_MODEL_EVENTS_MAX]; /* max |offset| from event end + 1 s to
							   the end of its grace window */
	unsigned n_steps, n_kernel_steps, n_skipped_steps, n_events, n_stale;
	bool synced_at_end;
} SimResult;

/* Names of the standard scenarios, NULL-terminated. */
extern const char *const sim_scenario_names[];

/* Fills the named standard scenario for seed; returns 0 or -ENOENT. */
int sim_scenario_get(const char *name, uint64_t seed, SimScenario *ret);

/* Runs a scenario; naive = the same servo fed every reading without the sawtooth processing. */
int sim_run(const SimScenario *s, bool naive, SimResult *ret);
