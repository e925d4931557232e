/* SPDX-License-Identifier: MIT */
/*
 * hv_timesync_daemon settings: compiled-in defaults, then [timesync] in hvguest.conf and its
 * drop-ins, then the command line (timesync-daemon.c), later ones winning.
 */
#pragma once

#include <errno.h>
#include <stdint.h>

#include "common/conf.h"
#include "timesync/servo.h"

#define TIMESYNC_RUN_DIR_DEFAULT "/run/hvguest"
#define TIMESYNC_STEP_THRESHOLD_MS_DEFAULT 100U
#define TIMESYNC_POLL_INTERVAL_MS_DEFAULT 250U
#define TIMESYNC_POLL_INTERVAL_MS_MIN 10U
#define TIMESYNC_POLL_INTERVAL_MS_MAX 60000U
#define TIMESYNC_STEP_THRESHOLD_MS_MAX 3600000U /* 1 h; 0 = never step after the first sample */

typedef enum TimesyncMode {
	TIMESYNC_MODE_AUTO,	  /* discipline unless another time service is active: monitor */
	TIMESYNC_MODE_DISCIPLINE, /* adjust the system clock */
	TIMESYNC_MODE_MONITOR,	  /* measure and report only */
	_TIMESYNC_MODE_MAX,
	_TIMESYNC_MODE_INVALID = -EINVAL,
} TimesyncMode;

typedef struct TimesyncSettings {
	/* [timesync] in hvguest.conf. */
	TimesyncMode mode;	    /* mode = auto|discipline|monitor, default auto */
	unsigned step_threshold_ms; /* step_threshold_ms: step when |offset| above; 0 = never */
	unsigned poll_interval_ms;  /* poll_interval_ms: nominal, the manager dithers ±25 % */
	char *phc;		    /* phc = PATH; NULL: discovery by clock_name */
	int log_level;		    /* log_level */
	char *mode_name;	    /* internal: raw "mode" value while loading; NULL after load */

	/* Command line only (defaults filled by timesync_settings_init()). */
	char *sysfs_dir; /* --sysfs-dir: "/sys" */
	char *dev_dir;	 /* --dev-dir: "/dev" */
	char *proc_dir;	 /* --proc-dir: "/proc" (competitor scan) */
	char *run_dir;	 /* --run-dir: TIMESYNC_RUN_DIR_DEFAULT (timesync.json) */
} TimesyncSettings;

/* Fills s with the compiled-in defaults. 0 or -ENOMEM. */
int timesync_settings_init(TimesyncSettings *s);

/*
 * Loads the config file and drop-ins on top of s (either may be NULL or missing). An invalid
 * value fails with -EINVAL and *reterr naming file, line and key. An invalid mode is detected once
 * the main file (then once the drop-ins) are merged: *reterr names the main file (or the drop-in
 * directory), key "mode" and line 0.
 */
int timesync_settings_load(TimesyncSettings *s, const char *file, const char *dropin_dir,
			   ConfError *reterr);

/* Frees everything s owns (s may be re-initialised afterwards). */
void timesync_settings_done(TimesyncSettings *s);

/* "auto", "discipline", "monitor" -> the mode; anything else (or NULL) -> -EINVAL. */
TimesyncMode timesync_mode_from_string(const char *s);

/* Static name of the mode, or NULL when out of range. */
const char *timesync_mode_to_string(TimesyncMode m);

/*
 * The servo configuration for s: servo_pi_config_default() with step_threshold_ns from
 * step_threshold_ms (the first-sample step threshold of the servo, 20 µs, is kept).
 */
void timesync_settings_servo_config(const TimesyncSettings *s, ServoPiConfig *ret);
