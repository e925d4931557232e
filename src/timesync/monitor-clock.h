/* SPDX-License-Identifier: MIT */
/*
 * The clock and reference the loop sees in monitor mode (and when another time service is in
 * charge): a ClockOps that records what the loop commands instead of applying it, and a
 * SourceOps that pairs the reference with that virtual clock, so the loop's offset and state
 * stay right while the real clock is never written.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "timesync/clock.h"
#include "timesync/source.h"

/*
 * Monitor mode: the clock and reference the loop sees. Reads pass through with a phase added:
 * the loop's recorded steps plus the integral of its recorded frequency change against the real
 * frequency. Realtime and monotonic both get the frequency part (the kernel slews both), only
 * realtime gets the steps, exactly as if the commands had been applied. Nothing is ever written
 * to the real clock.
 */
typedef struct MonitorClock {
	ClockOps ops; /* per instance: max_frequency_ppb is copied from the real clock */
	const ClockOps *real;
	void *real_data;
	const SourceOps *source;
	void *source_data;
	double base_ppb; /* the real clock's frequency (never changed by us) */
	double cmd_ppb;	 /* what the loop commanded */
	bool have_mono;
	int64_t last_mono;   /* real monotonic of the last update of freq_corr_ns */
	double freq_corr_ns; /* ∫ (cmd_ppb − base_ppb) dt, ns */
	int64_t step_ns;     /* sum of recorded steps, ns */
	unsigned n_steps, n_set_frequency, n_set_sync_status;
} MonitorClock;

/*
 * Wraps the real clock (read and get_frequency only are ever called on it); set c->source and
 * c->source_data before reading through monitor_clock_source_ops. Returns 0 or the real
 * clock's error.
 */
int monitor_clock_init(MonitorClock *c, const ClockOps *real, void *real_data);

/* Virtual minus real CLOCK_REALTIME, ns: the recorded steps plus the recorded slew. */
int64_t monitor_clock_phase_ns(const MonitorClock *c);

/* SourceOps over c->source whose system stamps are moved onto the virtual clock (userdata c). */
extern const SourceOps monitor_clock_source_ops;
