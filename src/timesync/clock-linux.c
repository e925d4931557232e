/* SPDX-License-Identifier: MIT */
/*
 * ClockOps over clock_adjtime(CLOCK_REALTIME). Frequency is split like chrony's sys_linux.c:
 * the tick length (µs per USER_HZ jiffy, nominal 10000 at USER_HZ 100) carries the coarse part
 * in steps of 100 ppm, ADJ_FREQUENCY the rest (scaled ppm: ppm << 16). This is the only file
 * in timesync that changes the system clock; tests call only its read-only paths.
 */
#include <errno.h>
#include <math.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* USER_HZ is 100 on every Linux ABI; the tick is in µs per jiffy. */
#define NOMINAL_TICK_US 10000
/* One µs of tick per 10000 µs jiffy is 100 ppm = 100000 ppb. */
#define PPB_PER_TICK_US 100000.0
/* ADJ_FREQUENCY takes scaled ppm: ppm * 65536. */
#define SCALED_PPM_PER_PPB (65536.0 / 1000.0)
#define MAX_FREQUENCY_PPB 50000000.0 /* 5 %: within the kernel's ±10 % tick range */

static int64_t timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int linux_read(void *userdata, int64_t *ret_realtime_ns, int64_t *ret_monotonic_ns)
{
	struct timespec rt, mono;

	if (clock_gettime(CLOCK_REALTIME, &rt) < 0)
		return -errno;
	if (clock_gettime(CLOCK_MONOTONIC, &mono) < 0)
		return -errno;
	*ret_realtime_ns = timespec_ns(&rt);
	*ret_monotonic_ns = timespec_ns(&mono);
	return 0;
}

static int linux_get_frequency(void *userdata, double *ret_ppb)
{
	struct timex tx = { .modes = 0 }; /* read only */

	if (clock_adjtime(CLOCK_REALTIME, &tx) < 0)
		return -errno;
	*ret_ppb = (double)(tx.tick - NOMINAL_TICK_US) * PPB_PER_TICK_US +
		   (double)tx.freq / SCALED_PPM_PER_PPB;
	return 0;
}

static int linux_set_frequency(void *userdata, double ppb)
{
	struct timex tx = { .modes = ADJ_FREQUENCY | ADJ_TICK };
	double tick_part;

	if (!isfinite(ppb) || fabs(ppb) > MAX_FREQUENCY_PPB)
		return -ERANGE;
	tick_part = round(ppb / PPB_PER_TICK_US);
	tx.tick = NOMINAL_TICK_US + (long)tick_part;
	/* Remainder within ±50 ppm, well inside ADJ_FREQUENCY's ±500 ppm. */
	tx.freq = lround((ppb - tick_part * PPB_PER_TICK_US) * SCALED_PPM_PER_PPB);
	if (clock_adjtime(CLOCK_REALTIME, &tx) < 0)
		return -errno;
	return 0;
}

static int linux_step(void *userdata, int64_t delta_ns)
{
	struct timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO };

	/* ADJ_SETOFFSET wants a normalised timeval: tv_usec (ns with ADJ_NANO) in [0, 1e9). */
	tx.time.tv_sec = delta_ns / 1000000000;
	tx.time.tv_usec = delta_ns % 1000000000;
	if (tx.time.tv_usec < 0) {
		tx.time.tv_sec -= 1;
		tx.time.tv_usec += 1000000000;
	}
	if (clock_adjtime(CLOCK_REALTIME, &tx) < 0)
		return -errno;
	return 0;
}

static int linux_set_sync_status(void *userdata, bool synced, int64_t maxerror_ns,
				 int64_t esterror_ns)
{
	struct timex tx = { .modes = 0 };

	/* Read the status first so that only STA_UNSYNC changes (leap bits stay). */
	if (clock_adjtime(CLOCK_REALTIME, &tx) < 0)
		return -errno;
	tx.modes = ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR;
	if (synced)
		tx.status &= ~STA_UNSYNC;
	else
		tx.status |= STA_UNSYNC;
	/* struct timex carries µs; the kernel caps maxerror at NTP_PHASE_LIMIT itself. */
	tx.maxerror = maxerror_ns < 0 ? 0 : maxerror_ns / 1000;
	tx.esterror = esterror_ns < 0 ? 0 : esterror_ns / 1000;
	if (clock_adjtime(CLOCK_REALTIME, &tx) < 0)
		return -errno;
	return 0;
}

const ClockOps clock_linux_ops = {
	.read = linux_read,
	.get_frequency = linux_get_frequency,
	.set_frequency = linux_set_frequency,
	.step = linux_step,
	.set_sync_status = linux_set_sync_status,
	.max_frequency_ppb = MAX_FREQUENCY_PPB,
};
