/* SPDX-License-Identifier: MIT */
/*
 * Sawtooth-aware processing of PHC offsets (pure).
 *
 * The hyperv PHC returns the latest host sample (about every 5 s) carried forward by the
 * guest's reference counter. If that counter runs fast by e (e.g. 10 ppm), readings run ahead
 * of host time by e·age (age = time since the host sample) and drop back by e·period when a
 * new sample arrives: a sawtooth of 50 µs at 10 ppm. The filter
 *   - works on the "free-running" offset u = offset - corr (corr: phase the loop itself put into
 *     the clock), which is smooth except at host refreshes and real events;
 *   - predicts u from a line fitted to the current segment (readings since the last refresh)
 *     and declares a discontinuity when a reading and the one after it both leave the line;
 *   - classifies a discontinuity as a host refresh when it matches the counter error learnt so
 *     far (jump = e·interval between refreshes), otherwise as an event (pause, migration, host
 *     time jump);
 *   - estimates e from the refresh jumps and corrects carried-forward readings by e·age;
 *   - recognises a continuous reference (no refreshes) and then passes readings through;
 *   - asks for holdover when no refresh came for too long (host samples stopped; ESTALE next).
 *
 * Signs: offset_ns is system minus reference (positive = system clock ahead). A counter that
 * is fast makes carried-forward readings too high, hence offsets too low: corrected offset =
 * offset + e·age.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PHC_FILTER_SEGMENT_MAX 32
#define PHC_FILTER_EC_HISTORY 5

typedef enum PhcFilterMode {
	PHC_FILTER_MODE_UNKNOWN,    /* no refresh seen yet */
	PHC_FILTER_MODE_CONTINUOUS, /* reference without sawtooth: readings pass through */
	PHC_FILTER_MODE_SAWTOOTH,   /* host samples carried forward */
	_PHC_FILTER_MODE_MAX,
	_PHC_FILTER_MODE_INVALID = -EINVAL,
} PhcFilterMode;

typedef enum PhcFilterVerdict {
	PHC_FILTER_USE,	     /* *ret_offset is usable */
	PHC_FILTER_EVENT,    /* usable, and the reference moved discontinuously: reset the servo */
	PHC_FILTER_SKIP,     /* not usable (waiting to confirm a jump, or not fresh) */
	PHC_FILTER_HOLDOVER, /* no host refresh for too long: do not use, hold the frequency */
	_PHC_FILTER_VERDICT_MAX,
	_PHC_FILTER_VERDICT_INVALID = -EINVAL,
} PhcFilterVerdict;

typedef struct PhcFilterConfig {
	int64_t min_jump_ns;	     /* smallest residual counted as a discontinuity */
	double jump_sigmas;	     /* ... or this many noise sigmas, whichever is larger */
	int64_t max_refresh_jump_ns; /* first refreshes: bigger jumps are events */
	int64_t continuous_after_ns; /* no refresh for this long from the start: continuous */
	int64_t max_age_ns;	     /* sawtooth: holdover when the last refresh is older */
	bool fresh_only;	     /* sawtooth: use only the first reading after a refresh */
} PhcFilterConfig;

typedef struct PhcFilterPoint {
	int64_t t_ns; /* monotonic */
	double u_ns;  /* free-running offset */
} PhcFilterPoint;

/* All state is plain data so that the filter can live inside the loop without allocation. */
typedef struct PhcFilter {
	PhcFilterConfig c;
	PhcFilterMode mode;
	bool started;
	int64_t t_start;
	int64_t t_last; /* last accepted reading */
	/* Current segment (readings since the last discontinuity), newest last. */
	PhcFilterPoint seg[PHC_FILTER_SEGMENT_MAX];
	size_t n_seg;
	bool seg_fresh_used; /* fresh_only: the segment's first reading was handed out */
	double slope;	     /* ns of u per s within a segment (= guest minus counter error) */
	bool have_slope;
	double sigma_ns; /* smoothed residual size */
	/* A reading that left the line, waiting for confirmation by the next one. */
	bool have_cand;
	PhcFilterPoint cand;
	double cand_residual_ns;
	int64_t cand_prev_t; /* last accepted reading before the candidate */
	/* Host refreshes. */
	bool have_refresh;
	int64_t last_refresh_ns; /* estimated (midpoint between the readings around the jump) */
	double ec_hist[PHC_FILTER_EC_HISTORY]; /* counter error estimates, ppb (ns/s) */
	size_t n_ec;
	size_t ec_next;
	unsigned n_refreshes;
	unsigned n_events;
} PhcFilter;

/* Defaults: min jump 5 µs or 8 sigmas, first refreshes ≤ 2 ms, continuous after 20 s without a
 * refresh, holdover after 12 s without one, all readings used (corrected). */
void phc_filter_config_default(PhcFilterConfig *c);

/* Initialises @f with configuration @c (copied). */
void phc_filter_init(PhcFilter *f, const PhcFilterConfig *c);

/* Forgets the current segment and pending candidate (e.g. after the device was reopened);
 * keeps the mode and the counter error estimate. */
void phc_filter_reset(PhcFilter *f);

/**
 * phc_filter_sample() - process one reading
 * @f: filter
 * @t_ns: CLOCK_MONOTONIC time of the reading
 * @offset_ns: system minus reference, ns (positive = system ahead)
 * @corr_ns: cumulative phase the loop has applied to the system clock (frequency integrated
 *	     over time plus steps, including steps detected as made by others), ns
 * @ret_offset_ns: for USE/EVENT, the offset corrected for the carried-forward error
 *
 * Returns the verdict.
 */
PhcFilterVerdict phc_filter_sample(PhcFilter *f, int64_t t_ns, double offset_ns, double corr_ns,
				   double *ret_offset_ns);

/* Counter error estimate in ppb (positive = counter fast), false if none yet. */
bool phc_filter_counter_error(const PhcFilter *f, double *ret_ppb);

/* Returns a static name for the mode or NULL. */
const char *phc_filter_mode_to_string(PhcFilterMode m);
