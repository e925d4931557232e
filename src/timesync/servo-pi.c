/* SPDX-License-Identifier: MIT */
/*
 * PI servo with a regression-based acquisition phase.
 *
 * The servo keeps its own account of the phase it has put into the clock (its frequency answers
 * integrated over time plus the steps it asked for), so it can compute the "free-running" offset
 * (offset minus own corrections) whose slope is the clock's natural frequency error whatever was
 * commanded. While UNLOCKED it slews the phase out and fits that slope over acquire_span; the
 * fitted frequency seeds the integrator and the servo LOCKs. LOCKED is a linuxptp-style PI:
 *   drift -= ki·offset·dt;  ppb = drift - kp·offset
 * with kp·dt and ki·dt² capped so that long intervals stay stable.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/macro.h"
#include "servo.h"

#define ACQ_MAX 64

typedef struct ServoPi {
	Servo servo;
	ServoPiConfig c;
	ServoState state;
	bool have_last;	   /* last_ts / last_ppb valid */
	bool ever_sampled; /* first-step rule applies only to the very first sample */
	int64_t last_ts;   /* monotonic ns of the previous sample */
	double last_ppb;   /* frequency in force since last_ts */
	double corr_ns;	   /* phase we added: ∫ppb dt + steps, positive = moved forward */
	double drift_ppb;  /* integrator: learned frequency correction */
	double interval_s; /* smoothed sample interval, 0 until known */
	size_t n_acq;
	double acq_t[ACQ_MAX]; /* s since acq_t0 */
	double acq_free[ACQ_MAX];
	int64_t acq_t0;
} ServoPi;

const char *servo_state_to_string(ServoState st)
{
	switch (st) {
	case SERVO_UNLOCKED:
		return "unlocked";
	case SERVO_JUMP:
		return "jump";
	case SERVO_LOCKED:
		return "locked";
	case _SERVO_STATE_MAX:
	case _SERVO_STATE_INVALID:
		break;
	}
	return NULL;
}

void servo_pi_config_default(ServoPiConfig *c)
{
	*c = (ServoPiConfig){
		.kp = 0.3,
		.ki = 0.02,
		.max_kp_per_sample = 0.7,
		.max_ki_per_sample = 0.3,
		.max_frequency_ppb = 50000000.0,
		.initial_frequency_ppb = 0.0,
		.first_step_threshold_ns = 20000,
		.step_threshold_ns = 100000000,
		.acquire_span_ns = 2000000000,
		.slew_time_ns = 500000000,
		.lock_threshold_ns = 20000,
	};
}

static double clamp_abs(double v, double limit)
{
	if (v > limit)
		return limit;
	if (v < -limit)
		return -limit;
	return v;
}

/* Least-squares slope of acq_free over acq_t, in ns/s = ppb; residual RMS to ret_rms. */
static double acq_fit(const ServoPi *p, double *ret_rms)
{
	double mt = 0, mf = 0, stt = 0, stf = 0;

	for (size_t i = 0; i < p->n_acq; i++) {
		mt += p->acq_t[i];
		mf += p->acq_free[i];
	}
	mt /= (double)p->n_acq;
	mf /= (double)p->n_acq;
	for (size_t i = 0; i < p->n_acq; i++) {
		stt += (p->acq_t[i] - mt) * (p->acq_t[i] - mt);
		stf += (p->acq_t[i] - mt) * (p->acq_free[i] - mf);
	}
	if (ret_rms) {
		double b = stt > 0 ? stf / stt : 0.0, ss = 0;

		for (size_t i = 0; i < p->n_acq; i++) {
			double e = p->acq_free[i] - mf - b * (p->acq_t[i] - mt);

			ss += e * e;
		}
		*ret_rms = sqrt(ss / (double)p->n_acq);
	}
	return stt > 0 ? stf / stt : 0.0;
}

static double acq_slope(const ServoPi *p)
{
	return acq_fit(p, NULL);
}

static void acq_add(ServoPi *p, int64_t ts, double free_ns)
{
	if (p->n_acq == 0)
		p->acq_t0 = ts;
	if (p->n_acq == ACQ_MAX) {
		/* Long acquisitions keep the newest points (cannot happen with sane spans). */
		for (size_t i = 1; i < ACQ_MAX; i++) {
			p->acq_t[i - 1] = p->acq_t[i];
			p->acq_free[i - 1] = p->acq_free[i];
		}
		p->n_acq--;
	}
	p->acq_t[p->n_acq] = (double)(ts - p->acq_t0) * 1e-9;
	p->acq_free[p->n_acq] = free_ns;
	p->n_acq++;
}

static bool over(double offset_ns, int64_t threshold_ns)
{
	return threshold_ns > 0 && fabs(offset_ns) > (double)threshold_ns;
}

/*
 * Phase slewing while unlocked: remove the offset over max(slew_time, 2 intervals), on top of
 * the frequency fitted so far (once the points span half a second) so that a frequency change
 * (migration) does not leave the slew lagging by change × slew time.
 */
static double slew_ppb(const ServoPi *p, double offset_ns)
{
	double t = MAX((double)p->c.slew_time_ns * 1e-9, 2.0 * p->interval_s);
	double base = p->drift_ppb;

	if (p->n_acq >= 3 && p->acq_t[p->n_acq - 1] >= 0.5)
		base = -acq_slope(p);
	return clamp_abs(base - offset_ns / t, p->c.max_frequency_ppb);
}

/* Proportional gain for a sample interval dt (s), capped for stability. */
static double pi_kp(const ServoPi *p, double dt)
{
	return dt > 0 ? MIN(p->c.kp, p->c.max_kp_per_sample / dt) : p->c.kp;
}

/* Integral gain for a sample interval dt (s), capped for stability. */
static double pi_ki(const ServoPi *p, double dt)
{
	return dt > 0 ? MIN(p->c.ki, p->c.max_ki_per_sample / (dt * dt)) : p->c.ki;
}

static ServoState pi_sample(Servo *s, double offset_ns, int64_t local_ts_ns, double *ret_ppb)
{
	ServoPi *p = (ServoPi *)s;
	double dt = 0, free_ns, ppb;
	bool first = !p->ever_sampled;
	ServoState st;

	if (p->have_last) {
		dt = (double)(local_ts_ns - p->last_ts) * 1e-9;
		if (dt < 0)
			dt = 0;
		/* dt is monotonic, which runs with our frequency: see corr_at() in the loop. */
		p->corr_ns += p->last_ppb * dt / (1.0 + p->last_ppb * 1e-9);
		if (dt > 0)
			p->interval_s = p->interval_s > 0 ? 0.8 * p->interval_s + 0.2 * dt : dt;
	}
	free_ns = offset_ns - p->corr_ns;
	p->ever_sampled = true;

	if ((first && over(offset_ns, p->c.first_step_threshold_ns)) ||
	    over(offset_ns, p->c.step_threshold_ns)) {
		/* The caller steps by -offset: account for it, restart acquisition. */
		p->corr_ns -= offset_ns;
		p->n_acq = 0;
		acq_add(p, local_ts_ns, free_ns);
		ppb = p->drift_ppb;
		p->state = SERVO_UNLOCKED;
		st = SERVO_JUMP;
	} else if (p->state != SERVO_LOCKED) {
		acq_add(p, local_ts_ns, free_ns);
		double rms = 0, slope = 0;
		bool span_ok = p->n_acq >= 2 &&
			       p->acq_t[p->n_acq - 1] >= (double)p->c.acquire_span_ns * 1e-9;

		if (span_ok)
			slope = acq_fit(p, &rms);
		/*
		 * Lock once the span is long enough and the phase has been slewed down to the
		 * measurement noise: locking with a large phase left would wind the integrator up
		 * and overshoot.
		 */
		if (span_ok && fabs(offset_ns) <= MAX((double)p->c.lock_threshold_ns, 4.0 * rms)) {
			/* Free offset grows at the natural frequency error: cancel it. */
			p->drift_ppb = clamp_abs(-slope, p->c.max_frequency_ppb);
			p->state = SERVO_LOCKED;
			ppb = clamp_abs(p->drift_ppb - pi_kp(p, dt) * offset_ns,
					p->c.max_frequency_ppb);
		} else
			ppb = slew_ppb(p, offset_ns);
		st = p->state;
	} else {
		p->drift_ppb = clamp_abs(p->drift_ppb - pi_ki(p, dt) * offset_ns * dt,
					 p->c.max_frequency_ppb);
		ppb = clamp_abs(p->drift_ppb - pi_kp(p, dt) * offset_ns, p->c.max_frequency_ppb);
		st = SERVO_LOCKED;
	}

	p->have_last = true;
	p->last_ts = local_ts_ns;
	p->last_ppb = ppb;
	*ret_ppb = ppb;
	return st;
}

static double pi_holdover(Servo *s, int64_t local_ts_ns)
{
	ServoPi *p = (ServoPi *)s;

	if (p->have_last) {
		double dt = (double)(local_ts_ns - p->last_ts) * 1e-9;

		if (dt > 0)
			p->corr_ns += p->last_ppb * dt / (1.0 + p->last_ppb * 1e-9);
	}
	p->have_last = true;
	p->last_ts = local_ts_ns;
	p->last_ppb = p->drift_ppb;
	return p->drift_ppb;
}

static void pi_reset(Servo *s)
{
	ServoPi *p = (ServoPi *)s;

	p->state = SERVO_UNLOCKED;
	p->n_acq = 0;
}

static Servo *pi_free(Servo *s)
{
	free(s);
	return NULL;
}

static const ServoOps pi_ops = {
	.free = pi_free,
	.sample = pi_sample,
	.holdover = pi_holdover,
	.reset = pi_reset,
};

int servo_pi_new(const ServoPiConfig *c, Servo **ret)
{
	ServoPi *p;

	if (!(c->kp >= 0) || !(c->ki >= 0) || !(c->max_frequency_ppb > 0) ||
	    !(c->max_kp_per_sample > 0) || !(c->max_ki_per_sample > 0) ||
	    fabs(c->initial_frequency_ppb) > c->max_frequency_ppb || c->acquire_span_ns < 0 ||
	    c->slew_time_ns <= 0 || c->lock_threshold_ns < 0 || c->step_threshold_ns < 0 ||
	    c->first_step_threshold_ns < 0)
		return -EINVAL;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->servo.ops = &pi_ops;
	p->c = *c;
	p->state = SERVO_UNLOCKED;
	p->drift_ppb = c->initial_frequency_ppb;
	*ret = &p->servo;
	return 0;
}
