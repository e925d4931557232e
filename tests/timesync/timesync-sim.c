/* SPDX-License-Identifier: MIT */
/*
 * Scenario runner: see timesync-sim.h.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timesync-sim.h"
#include "timesync/timesync-loop.h"

#define S(x) ((int64_t)((x)*1e9))

const char *const sim_scenario_names[] = {
	"ideal", "saw10", "saw100", "pause", "pause-kstep", "migration", "step", "stale", NULL,
};

static void hyperv(ClockModelConfig *m, double counter_ppm)
{
	m->sawtooth = true;
	m->counter_error_ppb = counter_ppm * 1000.0;
	/* The guest clock runs off the same counter, plus a little of its own. */
	m->freq_ppb = counter_ppm * 1000.0 + 3000.0;
}

int sim_scenario_get(const char *name, uint64_t seed, SimScenario *ret)
{
	SimScenario s = {
		.name = name,
		.duration_ns = S(600),
		.poll_ns = S(0.25),
		.window_start_ns = S(300),
		.event_grace_ns = S(30),
	};
	ClockModelConfig *m = &s.model;

	clock_model_config_default(m);
	m->seed = seed;
	m->initial_offset_ns = 3000000; /* 3 ms off at start */

	if (strcmp(name, "ideal") == 0) {
		/* continuous PHC, +100 ppm with wander: the defaults */
	} else if (strcmp(name, "saw10") == 0)
		hyperv(m, 10);
	else if (strcmp(name, "saw100") == 0)
		hyperv(m, 100);
	else if (strcmp(name, "pause") == 0 || strcmp(name, "pause-kstep") == 0) {
		hyperv(m, 10);
		m->events[m->n_events++] = (ClockModelEvent){
			.type = CLOCK_MODEL_PAUSE,
			.at_ns = S(360),
			.duration_ns = S(30),
			.kernel_step = strcmp(name, "pause-kstep") == 0,
			/* the kernel's SYNC step lands between our reading and our step */
			.kernel_step_after_reads = 3,
		};
	} else if (strcmp(name, "migration") == 0) {
		hyperv(m, 10);
		m->events[m->n_events++] = (ClockModelEvent){
			.type = CLOCK_MODEL_MIGRATION,
			.at_ns = S(360),
			.freq_change_ppb = -20000.0,
			.step_ns = 5000000,
		};
	} else if (strcmp(name, "step") == 0) {
		hyperv(m, 10);
		m->events[m->n_events++] = (ClockModelEvent){
			.type = CLOCK_MODEL_HOST_JUMP,
			.at_ns = S(360),
			.step_ns = 500000000,
		};
	} else if (strcmp(name, "stale") == 0) {
		hyperv(m, 10);
		s.duration_ns = S(1200);
		m->events[m->n_events++] = (ClockModelEvent){
			.type = CLOCK_MODEL_STALE,
			.at_ns = S(300),
			.duration_ns = S(700), /* 600 s carried forward, then 100 s of ESTALE */
		};
	} else
		return -ENOENT;
	*ret = s;
	return 0;
}

/* End of an event as seen by the guest (when its effect is visible). */
static int64_t event_end(const ClockModelEvent *e)
{
	switch (e->type) {
	case CLOCK_MODEL_PAUSE:
	case CLOCK_MODEL_STALE:
		return e->at_ns + e->duration_ns;
	case CLOCK_MODEL_MIGRATION:
		return e->at_ns;
	case CLOCK_MODEL_HOST_JUMP:
		/* visible with the next host sample, up to one period later */
		return e->at_ns;
	}
	return e->at_ns;
}

static bool in_event_window(const SimScenario *s, int64_t t)
{
	for (size_t i = 0; i < s->model.n_events; i++) {
		const ClockModelEvent *e = &s->model.events[i];

		if (t >= e->at_ns && t < event_end(e) + s->event_grace_ns)
			return true;
	}
	return false;
}

typedef struct Trace {
	int64_t *t;
	double *off;
	size_t n;
} Trace;

/* First time ≥ from at which |offset| stays under 10 µs for hold_ns (within the trace). */
static double settle_time(const Trace *tr, int64_t from, int64_t hold_ns)
{
	int64_t good_since = -1;

	for (size_t i = 0; i < tr->n; i++) {
		if (tr->t[i] < from)
			continue;
		if (fabs(tr->off[i]) < SIM_GOOD_NS) {
			if (good_since < 0)
				good_since = tr->t[i];
			if (tr->t[i] - good_since >= hold_ns)
				return (double)(good_since - from) * 1e-9;
		} else
			good_since = -1;
	}
	return -1;
}

/*
 * The manager's poll policy: the interval is dithered by ±25 % so that the reading after a host
 * refresh does not always land at the same delay behind it (host samples and our polls are both
 * periodic; a fixed phase would turn the unknown delay into a constant bias).
 */
static int64_t next_poll(const SimScenario *s, uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return s->poll_ns * 3 / 4 + (int64_t)(z % (uint64_t)(s->poll_ns / 2 + 1));
}

int sim_run(const SimScenario *s, bool naive, SimResult *ret)
{
	uint64_t dither = s->model.seed ^ 0x5eed;
	TimesyncLoopConfig lc;
	ServoPiConfig sc;
	ClockModel m;
	TimesyncLoop loop;
	Servo *servo = NULL;
	Trace tr = {};
	size_t cap = (size_t)(s->duration_ns / (s->poll_ns * 3 / 4)) + 2;
	double sum2 = 0, max = 0;
	size_t nwin = 0;
	SimResult res = {};
	int r;

	clock_model_init(&m, &s->model);
	servo_pi_config_default(&sc);
	sc.max_frequency_ppb = clock_model_clock_ops.max_frequency_ppb;
	r = servo_pi_new(&sc, &servo);
	if (r < 0)
		return r;
	timesync_loop_config_default(&lc);
	lc.use_filter = !naive;
	r = timesync_loop_init(&loop, &lc, &clock_model_clock_ops, &m, &clock_model_source_ops, &m,
			       servo, 0.0);
	if (r < 0)
		goto out;

	tr.t = calloc(cap, sizeof(int64_t));
	tr.off = calloc(cap, sizeof(double));
	if (!tr.t || !tr.off) {
		r = -ENOMEM;
		goto out;
	}

	for (int64_t t = 0; t <= s->duration_ns && tr.n < cap; t += next_poll(s, &dither)) {
		double off;

		clock_model_advance_to(&m, t);
		/* Pauses move true time on; keep polling on the true-time grid. */
		if (m.now > t)
			t = m.now - m.now % s->poll_ns;
		off = clock_model_offset(&m);
		tr.t[tr.n] = m.now;
		tr.off[tr.n] = off;
		tr.n++;
		if (m.now >= s->window_start_ns && !in_event_window(s, m.now)) {
			sum2 += off * off;
			max = fmax(max, fabs(off));
			nwin++;
		}
		r = timesync_loop_step(&loop);
		if (r < 0)
			goto out;
	}

	res.rms_ns = nwin ? sqrt(sum2 / (double)nwin) : 0;
	res.max_ns = max;
	res.lock_s = settle_time(&tr, 0, S(10));
	for (size_t i = 0; i < s->model.n_events; i++) {
		const ClockModelEvent *e = &s->model.events[i];
		int64_t end = event_end(e);

		res.recovery_s[i] = settle_time(&tr, end, S(5));
		for (size_t j = 0; j < tr.n; j++)
			if (tr.t[j] >= end + S(1) && tr.t[j] < end + s->event_grace_ns)
				res.max_in_event_ns[i] =
					fmax(res.max_in_event_ns[i], fabs(tr.off[j]));
		if (e->type == CLOCK_MODEL_STALE)
			for (size_t j = 0; j < tr.n; j++)
				if (tr.t[j] >= e->at_ns && tr.t[j] < end)
					res.max_in_event_ns[i] =
						fmax(res.max_in_event_ns[i], fabs(tr.off[j]));
	}
	res.n_steps = loop.status.n_steps;
	res.n_kernel_steps = m.n_kernel_steps;
	res.n_skipped_steps = loop.status.n_skipped_steps;
	res.n_events = loop.status.n_events;
	res.n_stale = loop.status.n_stale;
	res.synced_at_end = m.synced;
	*ret = res;
	r = 0;
out:
	free(tr.t);
	free(tr.off);
	servo_free(servo);
	return r;
}
