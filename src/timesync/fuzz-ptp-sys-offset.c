/* SPDX-License-Identifier: MIT */
/*
 * Arbitrary bytes as the struct ptp_sys_offset the PTP_SYS_OFFSET ioctl fills in, through
 * source_parse_ptp_sys_offset() and source_pick_narrowest() with the capacity the loop uses and
 * a fuzzed one. Never crash or hit UB, and on success: the count is within bounds, every stamp
 * is a valid time, the chosen reading is one of the parsed ones and its width is >= 0 and the
 * smallest.
 */
#include <assert.h>
#include <errno.h>
#include <linux/ptp_clock.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "timesync/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_batch(const struct ptp_sys_offset *p, size_t cap)
{
	SourceReading readings[PTP_MAX_SAMPLES + 2];
	SourceSample s;
	int n, r;

	memset(readings, 0xa5, sizeof(readings));
	n = source_parse_ptp_sys_offset(p, readings, cap);
	if (n < 0) {
		assert(n == -EINVAL);
		return;
	}
	assert(n >= 1 && (size_t)n <= cap && (unsigned)n <= p->n_samples && n <= PTP_MAX_SAMPLES);
	/* nothing written beyond the count (the canary bytes stay) */
	for (size_t i = (size_t)n; i < PTP_MAX_SAMPLES + 2; i++)
		assert(readings[i].sys_before_ns == (int64_t)UINT64_C(0xa5a5a5a5a5a5a5a5));

	r = source_pick_narrowest(readings, (size_t)n, &s);
	if (r < 0) {
		assert(r == -ERANGE);
		for (int i = 0; i < n; i++)
			assert(readings[i].sys_after_ns < readings[i].sys_before_ns);
		return;
	}
	assert(s.width_ns >= 0);
	for (int i = 0; i < n; i++) {
		if (readings[i].sys_after_ns < readings[i].sys_before_ns)
			continue;
		/* the chosen width is the minimum over the usable readings */
		assert(s.width_ns <= readings[i].sys_after_ns - readings[i].sys_before_ns);
	}
	/* the midpoint lies between the chosen reading's stamps */
	for (int i = 0; i < n; i++)
		if (readings[i].phc_ns == s.phc_ns &&
		    readings[i].sys_after_ns - readings[i].sys_before_ns == s.width_ns) {
			assert(s.sys_ns >= readings[i].sys_before_ns &&
			       s.sys_ns <= readings[i].sys_after_ns);
			return;
		}
	assert(!"chosen reading is not among the parsed ones");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ptp_sys_offset p;
	size_t cap;

	if (size < 1)
		return 0;
	/* first byte: the reader's capacity (0 included: the parser must cope) */
	cap = data[0] % (PTP_MAX_SAMPLES + 3);
	data++;
	size--;
	memset(&p, 0, sizeof(p));
	memcpy(&p, data, size < sizeof(p) ? size : sizeof(p));
	if (cap > 0)
		check_batch(&p, cap);
	check_batch(&p, PTP_MAX_SAMPLES);
	return 0;
}
