/* SPDX-License-Identifier: MIT */
/*
 * One poll of the time-sync loop; see timesync-loop.h.
 *
 * Foreign steps: CLOCK_REALTIME minus CLOCK_MONOTONIC changes only when someone steps the clock
 * (frequency slews both). We remember that difference after each of our own actions; a change
 * means the kernel (host SYNC after resume) or an administrator stepped the clock. It is folded
 * into the phase bookkeeping so the filter does not see a fake discontinuity, and it is checked
 * again right before we step, so that a step computed from a reading taken before the kernel's
 * step is dropped instead of being applied on top of it (no double step).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "common/macro.h"
#include "timesync-loop.h"

void timesync_loop_config_default(TimesyncLoopConfig *c)
{
	*c = (TimesyncLoopConfig){
		.n_readings = 5,
		.resolution_ns = 100,
		.use_filter = true,
		.external_step_tolerance_ns = 1000,
	};
	phc_filter_config_default(&c->filter);
}

int timesync_loop_init(TimesyncLoop *l, const TimesyncLoopConfig *c, const ClockOps *clock,
		       void *clock_data, const SourceOps *source, void *source_data, Servo *servo,
		       double initial_frequency_ppb)
{
	if (c->n_readings == 0 || c->n_readings > TIMESYNC_LOOP_READINGS_MAX ||
	    c->resolution_ns < 0 || c->external_step_tolerance_ns <= 0 || !servo)
		return -EINVAL;
	*l = (TimesyncLoop){
		.c = *c,
		.clock = clock,
		.clock_data = clock_data,
		.source = source,
		.source_data = source_data,
		.servo = servo,
		.freq_ppb = initial_frequency_ppb,
		.status.servo_state = SERVO_UNLOCKED,
		.status.last_verdict = PHC_FILTER_SKIP,
		.status.frequency_ppb = initial_frequency_ppb,
	};
	phc_filter_init(&l->filter, &c->filter);
	return 0;
}

/*
 * Phase applied by us (and foreign steps) up to monotonic time t. Monotonic runs with our
 * frequency too, so f·Δmono overstates the phase by f²·Δt: at a 5000 ppm slew that is 8 µs per
 * 0.3 s, enough to look like a jump. One monotonic ns is 1/(1+f) reference ns.
 */
static double corr_at(const TimesyncLoop *l, int64_t t)
{
	double f = l->freq_ppb * 1e-9;

	return l->corr_ns + f / (1.0 + f) * (double)(t - l->freq_since_ns);
}

static int set_frequency(TimesyncLoop *l, double ppb, int64_t mono)
{
	int r;

	ppb = MAX(-l->clock->max_frequency_ppb, MIN(l->clock->max_frequency_ppb, ppb));
	r = l->clock->set_frequency(l->clock_data, ppb);
	if (r < 0)
		return r;
	l->corr_ns = corr_at(l, mono);
	l->freq_since_ns = mono;
	l->freq_ppb = ppb;
	l->status.frequency_ppb = ppb;
	return 0;
}

/* Returns true if realtime moved against monotonic since our last action (and accounts it). */
static bool check_foreign_step(TimesyncLoop *l, int64_t rt, int64_t mono)
{
	int64_t base = rt - mono, delta;

	if (!l->have_base) {
		l->have_base = true;
		l->base_ns = base;
		l->freq_since_ns = mono;
		return false;
	}
	delta = base - l->base_ns;
	if (llabs(delta) <= l->c.external_step_tolerance_ns)
		return false;
	l->base_ns = base;
	l->corr_ns += (double)delta;
	l->status.n_external_steps++;
	return true;
}

static int holdover(TimesyncLoop *l, int64_t mono)
{
	l->status.holdover = true;
	return set_frequency(l, servo_holdover(l->servo, mono), mono);
}

static int publish(TimesyncLoop *l, ServoState st, double offset, int64_t width)
{
	bool synced = st == SERVO_LOCKED;
	/* Estimated error: the last offset; maximum adds the pairing width and resolution. */
	int64_t est = (int64_t)fabs(offset);
	int64_t max = est + width + l->c.resolution_ns;

	l->status.synced = synced;
	return l->clock->set_sync_status(l->clock_data, synced, max, est);
}

int timesync_loop_step(TimesyncLoop *l)
{
	SourceReading readings[TIMESYNC_LOOP_READINGS_MAX];
	SourceSample s;
	int64_t rt, mono, t_read;
	double offset, ppb;
	ServoState st;
	int r, n;

	l->status.n_polls++;
	l->status.holdover = false;
	r = l->clock->read(l->clock_data, &rt, &mono);
	if (r < 0)
		return r;
	if (check_foreign_step(l, rt, mono)) {
		/* The kernel set the clock from the host: re-acquire from there. */
		servo_reset(l->servo);
	}

	n = l->source->read(l->source_data, readings, l->c.n_readings);
	if (n == -ESTALE) {
		l->status.stale = true;
		l->status.n_stale++;
		return holdover(l, mono);
	}
	if (n < 0)
		return n;
	l->status.stale = false;
	r = source_pick_narrowest(readings, (size_t)MIN((unsigned)n, l->c.n_readings), &s);
	if (r < 0)
		return r;

	/* Offset of the system clock against the reference; positive = system ahead. The
	 * reference truncates, so its true value is on average half a resolution higher. */
	offset = (double)(s.sys_ns - s.phc_ns) - (double)l->c.resolution_ns / 2;
	t_read = mono + (s.sys_ns - rt);
	l->status.width_ns = s.width_ns;

	if (l->c.use_filter) {
		PhcFilterVerdict v;

		v = phc_filter_sample(&l->filter, t_read, offset, corr_at(l, t_read), &offset);
		l->status.last_verdict = v;
		switch (v) {
		case PHC_FILTER_SKIP:
			return 0;
		case PHC_FILTER_HOLDOVER:
			return holdover(l, mono);
		case PHC_FILTER_EVENT:
			l->status.n_events++;
			servo_reset(l->servo);
			break;
		case PHC_FILTER_USE:
			break;
		case _PHC_FILTER_VERDICT_MAX:
		case _PHC_FILTER_VERDICT_INVALID:
			return -EINVAL;
		}
	}

	st = servo_sample(l->servo, offset, t_read, &ppb);
	l->status.servo_state = st;
	l->status.offset_ns = offset;
	if (st == SERVO_JUMP) {
		int64_t delta = -llround(offset);

		/* Re-read: if the kernel stepped since our reading, this step is stale. */
		r = l->clock->read(l->clock_data, &rt, &mono);
		if (r < 0)
			return r;
		if (check_foreign_step(l, rt, mono)) {
			l->status.n_skipped_steps++;
			servo_reset(l->servo);
			return set_frequency(l, servo_holdover(l->servo, mono), mono);
		}
		r = l->clock->step(l->clock_data, delta);
		if (r < 0)
			return r;
		l->base_ns += delta;
		l->corr_ns += (double)delta;
		l->status.n_steps++;
	}
	r = set_frequency(l, ppb, t_read);
	if (r < 0)
		return r;
	return publish(l, st, offset, s.width_ns);
}
