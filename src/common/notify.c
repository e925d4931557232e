/* SPDX-License-Identifier: MIT */
/*
 * sd_notify() wrappers. libsystemd returns 0 when NOTIFY_SOCKET is unset and > 0 when the
 * message was sent; both are success for us, so every wrapper returns 0 or a negative errno.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "common/notify.h"

/* STATUS= is shown by systemctl status on one line; longer texts are truncated. */
#define NOTIFY_STATUS_MAX 512

static int notify_result(int r)
{
	return r < 0 ? r : 0;
}

int notify_ready(void)
{
	return notify_result(sd_notify(0, "READY=1"));
}

int notify_status(const char *fmt, ...)
{
	char text[NOTIFY_STATUS_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return notify_result(sd_notifyf(0, "STATUS=%s", text));
}

int notify_stopping(void)
{
	return notify_result(sd_notify(0, "STOPPING=1"));
}

int notify_reloading(void)
{
	struct timespec ts;

	/* Type=notify-reload wants the CLOCK_MONOTONIC time of the reload start, in µs. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return negative_errno();
	return notify_result(
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
			   (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000));
}

int notify_watchdog(void)
{
	return notify_result(sd_notify(0, "WATCHDOG=1"));
}

int notify_watchdog_usec(uint64_t *ret_usec)
{
	uint64_t usec = 0;
	int r;

	/* unset_environment = 0: the variables must survive for a later re-query. */
	r = sd_watchdog_enabled(0, &usec);
	if (r < 0)
		return r;
	*ret_usec = r > 0 ? usec : 0;
	return 0;
}
