/* SPDX-License-Identifier: MIT */
/*
 * Deterministic, seeded model of a Hyper-V guest's clocks for the timesync tests and benchmark.
 *
 * Time bases (all ns): true time T (simulation time since start), host time H = T + host jumps
 * (the reference the guest should follow), the guest's CLOCK_REALTIME G = T +
 * guest_err, CLOCK_MONOTONIC (same frequency, no steps). The guest clock runs with a natural
 * frequency error (ppb, random-walk wander) plus whatever is commanded through ClockOps.
 *
 * The reference (SourceOps, PTP_SYS_OFFSET-like) is either continuous (reads H) or the Hyper-V
 * sawtooth: a host sample (H, counter) every sample_period, carried forward by the guest
 * reference counter which runs with counter_error; -ESTALE when the last sample is older than
 * stale_after. Readings have delay, exponential jitter and truncation to resolution.
 *
 * Events: VM pause (all guest clocks and the counter stop; a host sample and optionally the
 * kernel's SYNC step follow on resume), live migration (frequency change plus step), host time
 * jump, host samples stopping for a while (ESTALE once older than stale_after). A migration step
 * moves the whole guest timeline (counter, realtime, monotonic) against host time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timesync/clock.h"
#include "timesync/source.h"

#define CLOCK_MODEL_EVENTS_MAX 8

typedef enum ClockModelEventType {
	CLOCK_MODEL_PAUSE,     /* duration_ns; kernel_step, kernel_step_after_reads */
	CLOCK_MODEL_MIGRATION, /* freq_change_ppb, step_ns (guest clock) */
	CLOCK_MODEL_HOST_JUMP, /* step_ns (host time) */
	CLOCK_MODEL_STALE,     /* duration_ns without host samples */
} ClockModelEventType;

typedef struct ClockModelEvent {
	ClockModelEventType type;
	int64_t at_ns;
	int64_t duration_ns;
	int64_t step_ns;
	double freq_change_ppb;
	bool kernel_step;		  /* pause: the kernel steps the guest to host time */
	unsigned kernel_step_after_reads; /* 0: at resume; N: racing, after the Nth reading */
} ClockModelEvent;

typedef struct ClockModelConfig {
	uint64_t seed;
	double freq_ppb;	      /* natural guest frequency error, positive = fast */
	double wander_ppb_per_sqrt_s; /* random walk of that frequency */
	int64_t initial_offset_ns;    /* guest minus host at start */
	int64_t read_delay_ns;	      /* minimum width of one paired reading */
	int64_t read_jitter_ns;	      /* mean extra width (exponential, split on both sides) */
	int64_t resolution_ns;	      /* reference truncation */
	bool sawtooth;
	int64_t sample_period_ns; /* host samples */
	double counter_error_ppb; /* reference counter rate error, positive = fast */
	int64_t stale_after_ns;	  /* hyperv: 600 s */
	int64_t resume_sample_ns; /* host sample this long after resume or migration */
	ClockModelEvent events[CLOCK_MODEL_EVENTS_MAX];
	size_t n_events;
} ClockModelConfig;

typedef struct ClockModel {
	ClockModelConfig c;
	uint64_t rng[4];
	int64_t now;	    /* true time since start */
	double guest_err;   /* realtime minus true time */
	double mono_err;    /* monotonic minus true time (no steps) */
	double natural_ppb; /* current natural frequency error (with wander) */
	double cmd_ppb;	    /* commanded through ClockOps */
	double host_jump;   /* host time minus true time */
	double counter_err; /* reference counter minus true time */
	int64_t next_sample;
	int64_t last_sample;
	double sample_host; /* host time of the last sample */
	double sample_counter;
	size_t next_event;
	unsigned kstep_reads; /* racing kernel step: readings left before it arms */
	bool kstep_armed;     /* applied on the next ClockOps call */
	/* observations */
	unsigned n_steps, n_kernel_steps, n_reads;
	bool synced;
	int64_t maxerror_ns, esterror_ns;
} ClockModel;

/* Defaults: +100 ppm, 1 ppb/√s wander, 2 µs delay, 3 µs jitter, 100 ns resolution, continuous,
 * 5 s host samples (when sawtooth), 600 s staleness, host sample 50 ms after resume. */
void clock_model_config_default(ClockModelConfig *c);

/* Initialises the model at true time 0. */
void clock_model_init(ClockModel *m, const ClockModelConfig *c);

/* Advances true time to t_ns (≥ now), applying wander, host samples and events on the way. */
void clock_model_advance_to(ClockModel *m, int64_t t_ns);

/* Guest realtime minus host time now (ns): the error the loop should drive to zero. */
double clock_model_offset(const ClockModel *m);

/* ClockOps and SourceOps over a ClockModel (userdata = ClockModel *). */
extern const ClockOps clock_model_clock_ops;
extern const SourceOps clock_model_source_ops;
