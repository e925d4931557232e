/* SPDX-License-Identifier: MIT */
/*
 * Servo interface in the style of linuxptp's servo.h: feed it one offset per measurement and it
 * answers with a frequency correction and a state. Implementations embed struct Servo first and
 * export one constructor (servo-pi.c: servo_pi_new()). Pure: no I/O, no clock access.
 *
 * Signs and units: offset_ns is local clock minus reference (positive = local clock ahead);
 * the returned frequency is in ppb, positive = make the local clock faster. local_ts_ns is a
 * timestamp on a clock that is never stepped (CLOCK_MONOTONIC), used for intervals.
 */
#pragma once

#include <errno.h>
#include <stdint.h>

typedef enum ServoState {
	SERVO_UNLOCKED, /* acquiring: frequency not yet estimated */
	SERVO_JUMP,	/* caller must step the clock by -offset_ns, then apply the frequency */
	SERVO_LOCKED,	/* tracking */
	_SERVO_STATE_MAX,
	_SERVO_STATE_INVALID = -EINVAL,
} ServoState;

typedef struct Servo Servo;

typedef struct ServoOps {
	Servo *(*free)(Servo *s);
	ServoState (*sample)(Servo *s, double offset_ns, int64_t local_ts_ns, double *ret_ppb);
	double (*holdover)(Servo *s, int64_t local_ts_ns);
	void (*reset)(Servo *s);
} ServoOps;

struct Servo {
	const ServoOps *ops;
};

/* Frees the servo; accepts NULL and returns NULL. */
static inline Servo *servo_free(Servo *s)
{
	return s ? s->ops->free(s) : NULL;
}

/**
 * servo_sample() - feed one measurement
 * @s: servo
 * @offset_ns: local minus reference in ns (positive = local ahead)
 * @local_ts_ns: CLOCK_MONOTONIC time of the measurement
 * @ret_ppb: frequency to apply (positive = faster), within the configured maximum
 *
 * Returns the new state. On SERVO_JUMP the caller steps by -offset_ns before applying *ret_ppb.
 * The servo assumes its answers are applied until the next call (or servo_holdover()).
 */
static inline ServoState servo_sample(Servo *s, double offset_ns, int64_t local_ts_ns,
				      double *ret_ppb)
{
	return s->ops->sample(s, offset_ns, local_ts_ns, ret_ppb);
}

/**
 * servo_holdover() - no measurement this time; returns the frequency (ppb) to keep
 * @s: servo
 * @local_ts_ns: CLOCK_MONOTONIC now
 *
 * The answer is the learned frequency without phase correction; it is assumed applied.
 */
static inline double servo_holdover(Servo *s, int64_t local_ts_ns)
{
	return s->ops->holdover(s, local_ts_ns);
}

/* Forgets phase history and re-acquires the frequency (after a discontinuity); keeps the learned
 * frequency as the starting point. */
static inline void servo_reset(Servo *s)
{
	s->ops->reset(s);
}

/* Returns a static name for the state ("unlocked", "jump", "locked") or NULL. */
const char *servo_state_to_string(ServoState st);

typedef struct ServoPiConfig {
	double kp;			 /* 1/s: ppb per ns of offset */
	double ki;			 /* 1/s²: ppb per ns of offset per s */
	double max_kp_per_sample;	 /* cap on kp·interval, for stability at long intervals */
	double max_ki_per_sample;	 /* cap on ki·interval² */
	double max_frequency_ppb;	 /* |output| limit (ClockOps.max_frequency_ppb) */
	double initial_frequency_ppb;	 /* starting frequency (the kernel's current one) */
	int64_t first_step_threshold_ns; /* step on the first sample above this; 0 = never */
	int64_t step_threshold_ns;	 /* step later when |offset| above this; 0 = never */
	int64_t acquire_span_ns;	 /* measurements span this long before locking */
	int64_t slew_time_ns;	   /* phase is slewed out over about this long when unlocked */
	int64_t lock_threshold_ns; /* lock when |offset| below this (or 4 × fit noise) */
} ServoPiConfig;

/* Fills defaults: kp 0.3/s, ki 0.02/s², first step above 20 µs, step above 100 ms, 2 s
 * acquisition, 0.5 s slewing, lock below 20 µs, 5 % frequency limit. */
void servo_pi_config_default(ServoPiConfig *c);

/**
 * servo_pi_new() - create a PI servo with regression-based frequency acquisition
 * @c: configuration (copied)
 * @ret: the servo
 *
 * Returns 0, -EINVAL for inconsistent configuration, or -ENOMEM.
 */
int servo_pi_new(const ServoPiConfig *c, Servo **ret);
