/* SPDX-License-Identifier: MIT */
/*
 * ClockOps: the seam through which timesync disciplines the system clock (CLOCK_REALTIME).
 * Mirrors chrony's localp.h driver types. The real implementation (clock-linux.c) uses
 * clock_adjtime(); tests and the benchmark plug in a simulated clock (tests/timesync).
 *
 * Signs: a positive frequency makes the clock run faster; a positive step moves it forward.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct ClockOps {
	/*
	 * Reads CLOCK_REALTIME and CLOCK_MONOTONIC (ns) back to back. Their difference changes only
	 * when the clock is stepped (frequency changes slew both), which is how the loop notices a
	 * step made by someone else (the kernel on a host SYNC). Returns 0 or a negative errno.
	 */
	int (*read)(void *userdata, int64_t *ret_realtime_ns, int64_t *ret_monotonic_ns);
	/* Reads the current frequency correction in ppb (positive = faster). */
	int (*get_frequency)(void *userdata, double *ret_ppb);
	/* Sets the frequency correction in ppb; callers stay within max_frequency_ppb. */
	int (*set_frequency)(void *userdata, double ppb);
	/* Steps the clock by delta_ns (positive = forward). */
	int (*step)(void *userdata, int64_t delta_ns);
	/*
	 * Tells the kernel whether the clock is synchronised (STA_UNSYNC cleared when synced) with
	 * maximum and estimated error in ns (converted to the µs of struct timex by the
	 * implementation).
	 */
	int (*set_sync_status)(void *userdata, bool synced, int64_t maxerror_ns,
			       int64_t esterror_ns);
	/* Largest |frequency| in ppb that set_frequency accepts. */
	double max_frequency_ppb;
} ClockOps;

/*
 * The Linux implementation over clock_adjtime(CLOCK_REALTIME) and clock_gettime(). Frequencies
 * beyond the ±500 ppm of ADJ_FREQUENCY are reached with ADJ_TICK (as chrony does), up to ±5 %.
 * userdata is unused (pass NULL).
 */
extern const ClockOps clock_linux_ops;
