/* SPDX-License-Identifier: MIT */
/*
 * sd_notify() wrappers. All are no-ops returning 0 when not started by systemd
 * (NOTIFY_SOCKET unset). Errors are returned, never logged (callers decide).
 */
#pragma once

#include <stdint.h>

#include "common/macro.h"

int notify_ready(void);
int notify_status(const char *fmt, ...) _printf_(1, 2);
int notify_stopping(void);
int notify_reloading(void);
int notify_watchdog(void);

/*
 * Returns in *ret_usec the watchdog interval systemd asked for (WATCHDOG_USEC), or 0 if the
 * watchdog is off. Returns 0 on success or a negative errno.
 */
int notify_watchdog_usec(uint64_t *ret_usec);
