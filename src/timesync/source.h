/* SPDX-License-Identifier: MIT */
/*
 * SourceOps: paired readings of a reference clock against the system clock, in the shape of
 * the PTP_SYS_OFFSET ioctl (n triples sys_before / phc / sys_after). The real implementation
 * will read /dev/ptp_hyperv; tests use the simulated clock (tests/timesync).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ptp_sys_offset;

/* Largest |stamp| source_parse_ptp_sys_offset() accepts: 2^62 ns (about 146 years), so that the
 * difference of two stamps always fits in int64. */
#define SOURCE_TIME_MAX_NS (INT64_C(1) << 62)

/* One reading: CLOCK_REALTIME before and after, the reference clock in between (all ns). */
typedef struct SourceReading {
	int64_t sys_before_ns;
	int64_t phc_ns;
	int64_t sys_after_ns;
} SourceReading;

typedef struct SourceOps {
	/*
	 * Takes up to n readings into readings[]. Returns how many were taken (≥ 1), -ESTALE when
	 * the reference has no recent host sample (hyperv: none for 600 s; hold over), -ENODEV when
	 * the device went away, or another negative errno.
	 */
	int (*read)(void *userdata, SourceReading *readings, size_t n);
} SourceOps;

/* The reading chosen from a batch: the narrowest one, reduced to a midpoint. */
typedef struct SourceSample {
	int64_t sys_ns;	  /* midpoint of sys_before and sys_after */
	int64_t phc_ns;	  /* reference clock reading */
	int64_t width_ns; /* sys_after - sys_before: bound on the pairing error */
} SourceSample;

/**
 * source_pick_narrowest() - choose the reading with the smallest sys_after - sys_before
 * @readings: readings as returned by SourceOps.read
 * @n: number of readings
 * @ret: the chosen reading as midpoint and width
 *
 * Readings whose sys_after is before sys_before (clock stepped in between), or whose width does
 * not fit in int64, are skipped.
 * Returns 0, -EINVAL for n == 0, or -ERANGE when no reading was usable.
 */
int source_pick_narrowest(const SourceReading *readings, size_t n, SourceSample *ret);

/**
 * source_parse_ptp_sys_offset() - unpack a filled struct ptp_sys_offset
 * @p: as returned by the PTP_SYS_OFFSET ioctl (ts[] holds 2 * n_samples + 1 stamps:
 *     sys, phc, sys, phc, ..., sys)
 * @readings: output array
 * @n: capacity of @readings
 *
 * Returns the number of readings (min(n_samples, n)) or -EINVAL when n_samples is 0 or larger
 * than PTP_MAX_SAMPLES, or a nanosecond field is out of range (nsec >= 10^9, or a stamp beyond
 * ±SOURCE_TIME_MAX_NS).
 */
int source_parse_ptp_sys_offset(const struct ptp_sys_offset *p, SourceReading *readings, size_t n);
