/* SPDX-License-Identifier: MIT */
/*
 * Pure helpers for PTP_SYS_OFFSET style readings: unpacking the ioctl's interleaved stamps and
 * keeping the narrowest pair (chrony's approach in sys_linux.c: the shortest window bounds the
 * error of pairing the reference reading with the midpoint of the two system readings).
 */
#include <errno.h>
#include <linux/ptp_clock.h>
#include <stdbool.h>

#include "source.h"

int source_pick_narrowest(const SourceReading *readings, size_t n, SourceSample *ret)
{
	bool found = false;
	SourceSample best = {};

	if (n == 0)
		return -EINVAL;

	for (size_t i = 0; i < n; i++) {
		const SourceReading *r = &readings[i];
		int64_t width;

		/* An overflowing width (stamps of other sources are not range-checked) is as
		 * unusable as a negative one. */
		if (__builtin_sub_overflow(r->sys_after_ns, r->sys_before_ns, &width) || width < 0)
			continue;
		if (found && width >= best.width_ns)
			continue;
		best = (SourceSample){
			/* Halve first so that the sum cannot overflow. */
			.sys_ns = r->sys_before_ns + width / 2,
			.phc_ns = r->phc_ns,
			.width_ns = width,
		};
		found = true;
	}
	if (!found)
		return -ERANGE;
	*ret = best;
	return 0;
}

/*
 * Stamps are accepted within ±2^62 ns (±146 years) of the epoch: then the difference of any two
 * (a width, an offset) fits in int64. Anything beyond is garbage.
 */
static int ptp_time_to_ns(const struct ptp_clock_time *t, int64_t *ret)
{
	int64_t ns;

	if (t->nsec >= 1000000000u)
		return -EINVAL;
	if (t->sec > SOURCE_TIME_MAX_NS / 1000000000 || t->sec < -(SOURCE_TIME_MAX_NS / 1000000000))
		return -EINVAL;
	ns = t->sec * 1000000000 + (int64_t)t->nsec;
	if (ns > SOURCE_TIME_MAX_NS || ns < -SOURCE_TIME_MAX_NS)
		return -EINVAL;
	*ret = ns;
	return 0;
}

int source_parse_ptp_sys_offset(const struct ptp_sys_offset *p, SourceReading *readings, size_t n)
{
	size_t count;

	if (p->n_samples == 0 || p->n_samples > PTP_MAX_SAMPLES)
		return -EINVAL;
	count = p->n_samples < n ? p->n_samples : n;

	for (size_t i = 0; i < count; i++) {
		SourceReading r;
		int k;

		k = ptp_time_to_ns(&p->ts[2 * i], &r.sys_before_ns);
		if (k < 0)
			return k;
		k = ptp_time_to_ns(&p->ts[2 * i + 1], &r.phc_ns);
		if (k < 0)
			return k;
		k = ptp_time_to_ns(&p->ts[2 * i + 2], &r.sys_after_ns);
		if (k < 0)
			return k;
		readings[i] = r;
	}
	return (int)count;
}
