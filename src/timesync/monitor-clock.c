/* SPDX-License-Identifier: MIT */
/* Monitor-mode clock: see monitor-clock.h. Never writes the real clock. */
#include <math.h>

#include "timesync/monitor-clock.h"

/* Reads the real clock and brings freq_corr_ns up to its monotonic time. */
static int mon_update(MonitorClock *c, int64_t *ret_rt, int64_t *ret_mono)
{
	int64_t rt, mono;
	int r;

	r = c->real->read(c->real_data, &rt, &mono);
	if (r < 0)
		return r;
	if (c->have_mono)
		c->freq_corr_ns +=
			(c->cmd_ppb - c->base_ppb) * 1e-9 * (double)(mono - c->last_mono);
	c->have_mono = true;
	c->last_mono = mono;
	if (ret_rt)
		*ret_rt = rt;
	if (ret_mono)
		*ret_mono = mono;
	return 0;
}

/* Virtual minus real CLOCK_REALTIME, ns. */
int64_t monitor_clock_phase_ns(const MonitorClock *c)
{
	return llround(c->freq_corr_ns) + c->step_ns;
}

static int mon_read(void *userdata, int64_t *ret_realtime_ns, int64_t *ret_monotonic_ns)
{
	MonitorClock *c = userdata;
	int64_t rt, mono;
	int r;

	r = mon_update(c, &rt, &mono);
	if (r < 0)
		return r;
	*ret_realtime_ns = rt + monitor_clock_phase_ns(c);
	*ret_monotonic_ns = mono + llround(c->freq_corr_ns);
	return 0;
}

static int mon_get_frequency(void *userdata, double *ret_ppb)
{
	MonitorClock *c = userdata;

	*ret_ppb = c->cmd_ppb;
	return 0;
}

static int mon_set_frequency(void *userdata, double ppb)
{
	MonitorClock *c = userdata;
	int r;

	r = mon_update(c, NULL, NULL); /* the old frequency applies up to now */
	if (r < 0)
		return r;
	c->cmd_ppb = ppb;
	c->n_set_frequency++;
	return 0;
}

static int mon_step(void *userdata, int64_t delta_ns)
{
	MonitorClock *c = userdata;

	c->step_ns += delta_ns;
	c->n_steps++;
	return 0;
}

static int mon_set_sync_status(void *userdata, bool synced, int64_t maxerror_ns,
			       int64_t esterror_ns)
{
	MonitorClock *c = userdata;

	c->n_set_sync_status++;
	return 0;
}

/* The reference as the virtual clock would pair it: system stamps moved by the phase. */
static int mon_source_read(void *userdata, SourceReading *readings, size_t n)
{
	MonitorClock *c = userdata;
	int64_t phase;
	int r;

	r = mon_update(c, NULL, NULL);
	if (r < 0)
		return r;
	phase = monitor_clock_phase_ns(c);
	r = c->source->read(c->source_data, readings, n);
	for (int i = 0; i < r; i++) {
		readings[i].sys_before_ns += phase;
		readings[i].sys_after_ns += phase;
	}
	return r;
}

const SourceOps monitor_clock_source_ops = { .read = mon_source_read };

int monitor_clock_init(MonitorClock *c, const ClockOps *real, void *real_data)
{
	int r;

	*c = (MonitorClock){
		.ops = {
			.read = mon_read,
			.get_frequency = mon_get_frequency,
			.set_frequency = mon_set_frequency,
			.step = mon_step,
			.set_sync_status = mon_set_sync_status,
			.max_frequency_ppb = real->max_frequency_ppb,
		},
		.real = real,
		.real_data = real_data,
	};
	r = real->get_frequency(real_data, &c->base_ppb);
	if (r < 0)
		return r;
	c->cmd_ppb = c->base_ppb;
	return mon_update(c, NULL, NULL);
}
