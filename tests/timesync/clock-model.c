/* SPDX-License-Identifier: MIT */
/*
 * Deterministic guest clock model; see clock-model.h.
 */
#include <errno.h>
#include <math.h>

#include "clock-model.h"

/* Realtime starts here (2024-01-01), monotonic at 1000 s, like a machine that booted earlier. */
#define EPOCH_NS 1704067200000000000LL
#define MONO_START_NS 1000000000000LL
#define WANDER_CHUNK_NS 100000000LL
#define MAX_FREQUENCY_PPB 50000000.0

/* splitmix64 expands the seed; xoshiro256** generates (public-domain algorithms). */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(ClockModel *m)
{
	uint64_t *s = m->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in (0, 1). */
static double rng_uniform(ClockModel *m)
{
	return ((double)(rng_next(m) >> 11) + 0.5) * 0x1.0p-53;
}

static double rng_normal(ClockModel *m)
{
	return sqrt(-2.0 * log(rng_uniform(m))) * cos(2.0 * M_PI * rng_uniform(m));
}

static double rng_exponential(ClockModel *m, double mean)
{
	return -mean * log(rng_uniform(m));
}

void clock_model_config_default(ClockModelConfig *c)
{
	*c = (ClockModelConfig){
		.seed = 1,
		.freq_ppb = 100000.0,
		.wander_ppb_per_sqrt_s = 1.0,
		.read_delay_ns = 2000,
		.read_jitter_ns = 3000,
		.resolution_ns = 100,
		.sawtooth = false,
		.sample_period_ns = 5000000000LL,
		.counter_error_ppb = 0.0,
		.stale_after_ns = 600000000000LL,
		.resume_sample_ns = 50000000LL,
	};
}

static void take_host_sample(ClockModel *m)
{
	m->last_sample = m->now;
	m->sample_host = (double)m->now + m->host_jump;
	m->sample_counter = (double)m->now + m->counter_err;
}

void clock_model_init(ClockModel *m, const ClockModelConfig *c)
{
	uint64_t x = c->seed;

	*m = (ClockModel){
		.c = *c,
		.guest_err = (double)c->initial_offset_ns,
		.natural_ppb = c->freq_ppb,
	};
	for (size_t i = 0; i < 4; i++)
		m->rng[i] = splitmix64(&x);
	/* The first host sample was taken at a random point of the period before start. */
	take_host_sample(m);
	m->next_sample = c->sawtooth ? (int64_t)(rng_uniform(m) * (double)c->sample_period_ns) : 0;
	m->last_sample = m->next_sample - c->sample_period_ns;
}

/* Free running from now to t (no events, no samples in between). */
static void integrate(ClockModel *m, int64_t t)
{
	while (m->now < t) {
		int64_t step = t - m->now < WANDER_CHUNK_NS ? t - m->now : WANDER_CHUNK_NS;
		double dt = (double)step * 1e-9;
		double rate = (m->natural_ppb + m->cmd_ppb) * 1e-9;

		m->guest_err += rate * (double)step;
		m->mono_err += rate * (double)step;
		m->counter_err += m->c.counter_error_ppb * 1e-9 * (double)step;
		m->natural_ppb += m->c.wander_ppb_per_sqrt_s * sqrt(dt) * rng_normal(m);
		m->now += step;
	}
}

static void kernel_step(ClockModel *m)
{
	/* do_settimeofday64(host time): absolute, so the guest equals host time afterwards. */
	m->guest_err = m->host_jump;
	m->n_kernel_steps++;
	m->kstep_armed = false;
}

static void apply_event(ClockModel *m, const ClockModelEvent *e)
{
	switch (e->type) {
	case CLOCK_MODEL_PAUSE:
		/* Guest clocks and the reference counter stand still while true time passes. */
		m->now += e->duration_ns;
		m->guest_err -= (double)e->duration_ns;
		m->mono_err -= (double)e->duration_ns;
		m->counter_err -= (double)e->duration_ns;
		m->next_sample = m->now + m->c.resume_sample_ns;
		if (e->kernel_step) {
			if (e->kernel_step_after_reads == 0) {
				integrate(m, m->next_sample);
				take_host_sample(m);
				m->next_sample += m->c.sample_period_ns;
				kernel_step(m);
			} else
				m->kstep_reads = e->kernel_step_after_reads;
		}
		break;
	case CLOCK_MODEL_MIGRATION:
		/* The guest's whole timeline (counter, hence realtime and monotonic) moves against
		 * the new host's time; the kernel sees no step. */
		m->natural_ppb += e->freq_change_ppb;
		m->guest_err += (double)e->step_ns;
		m->mono_err += (double)e->step_ns;
		m->counter_err += (double)e->step_ns;
		m->next_sample = m->now + m->c.resume_sample_ns;
		break;
	case CLOCK_MODEL_HOST_JUMP:
		m->host_jump += (double)e->step_ns;
		break;
	case CLOCK_MODEL_STALE:
		m->next_sample = m->now + e->duration_ns;
		break;
	}
}

void clock_model_advance_to(ClockModel *m, int64_t t_ns)
{
	for (;;) {
		int64_t next = t_ns;
		bool is_event = false, is_sample = false;

		if (m->next_event < m->c.n_events && m->c.events[m->next_event].at_ns <= next) {
			next = m->c.events[m->next_event].at_ns;
			is_event = true;
		}
		if (m->c.sawtooth && m->next_sample <= next) {
			next = m->next_sample;
			is_sample = true;
			is_event = false;
		}
		if (next > m->now)
			integrate(m, next);
		if (is_sample) {
			take_host_sample(m);
			m->next_sample += m->c.sample_period_ns;
		} else if (is_event)
			apply_event(m, &m->c.events[m->next_event++]);
		else
			break;
	}
}

double clock_model_offset(const ClockModel *m)
{
	return m->guest_err - m->host_jump;
}

/* Guest realtime at true time now + dt_ns (dt small: frequency held). */
static double realtime_at(const ClockModel *m, double dt_ns)
{
	double rate = (m->natural_ppb + m->cmd_ppb) * 1e-9;

	return (double)m->now + dt_ns + m->guest_err + rate * dt_ns;
}

/* Reference reading at true time now + dt_ns, before truncation (relative to EPOCH). */
static double reference_at(const ClockModel *m, double dt_ns)
{
	if (!m->c.sawtooth)
		return (double)m->now + dt_ns + m->host_jump;
	/* Host sample carried forward by the counter (which runs with counter_error). */
	return m->sample_host + ((double)m->now + dt_ns + m->counter_err +
				 m->c.counter_error_ppb * 1e-9 * dt_ns - m->sample_counter);
}

static void before_clock_op(ClockModel *m)
{
	if (m->kstep_armed)
		kernel_step(m);
}

static int model_read(void *userdata, int64_t *ret_realtime_ns, int64_t *ret_monotonic_ns)
{
	ClockModel *m = userdata;

	before_clock_op(m);
	*ret_realtime_ns = EPOCH_NS + llround(realtime_at(m, 0));
	*ret_monotonic_ns = MONO_START_NS + llround((double)m->now + m->mono_err);
	return 0;
}

static int model_get_frequency(void *userdata, double *ret_ppb)
{
	ClockModel *m = userdata;

	*ret_ppb = m->cmd_ppb;
	return 0;
}

static int model_set_frequency(void *userdata, double ppb)
{
	ClockModel *m = userdata;

	before_clock_op(m);
	if (!isfinite(ppb) || fabs(ppb) > MAX_FREQUENCY_PPB)
		return -ERANGE;
	m->cmd_ppb = ppb;
	return 0;
}

static int model_step(void *userdata, int64_t delta_ns)
{
	ClockModel *m = userdata;

	before_clock_op(m);
	m->guest_err += (double)delta_ns;
	m->n_steps++;
	return 0;
}

static int model_set_sync_status(void *userdata, bool synced, int64_t maxerror_ns,
				 int64_t esterror_ns)
{
	ClockModel *m = userdata;

	before_clock_op(m);
	m->synced = synced;
	m->maxerror_ns = maxerror_ns;
	m->esterror_ns = esterror_ns;
	return 0;
}

static int model_source_read(void *userdata, SourceReading *readings, size_t n)
{
	ClockModel *m = userdata;
	double t = 0, res = (double)(m->c.resolution_ns > 0 ? m->c.resolution_ns : 1);

	if (m->c.sawtooth && m->now - m->last_sample > m->c.stale_after_ns)
		return -ESTALE;
	for (size_t i = 0; i < n; i++) {
		double e1 = rng_exponential(m, (double)m->c.read_jitter_ns / 2);
		double e2 = rng_exponential(m, (double)m->c.read_jitter_ns / 2);
		double half = (double)m->c.read_delay_ns / 2;
		double ref = reference_at(m, t + half + e1);

		readings[i] = (SourceReading){
			.sys_before_ns = EPOCH_NS + llround(realtime_at(m, t)),
			.phc_ns = EPOCH_NS + (int64_t)(floor(ref / res) * res),
			.sys_after_ns = EPOCH_NS + llround(realtime_at(m, t + 2 * half + e1 + e2)),
		};
		t += 2 * half + e1 + e2;
	}
	m->n_reads++;
	if (m->kstep_reads > 0 && --m->kstep_reads == 0)
		m->kstep_armed = true;
	return (int)n;
}

const ClockOps clock_model_clock_ops = {
	.read = model_read,
	.get_frequency = model_get_frequency,
	.set_frequency = model_set_frequency,
	.step = model_step,
	.set_sync_status = model_set_sync_status,
	.max_frequency_ppb = MAX_FREQUENCY_PPB,
};

const SourceOps clock_model_source_ops = {
	.read = model_source_read,
};
