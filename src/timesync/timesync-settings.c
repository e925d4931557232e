/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "common/conf.h"
#include "timesync/timesync-settings.h"

static const ConfItem timesync_conf_table[] = {
	{ "timesync", "mode", CONF_STRING, offsetof(TimesyncSettings, mode_name), 0, 0 },
	{ "timesync", "step_threshold_ms", CONF_UINT, offsetof(TimesyncSettings, step_threshold_ms),
	  0, TIMESYNC_STEP_THRESHOLD_MS_MAX },
	{ "timesync", "poll_interval_ms", CONF_UINT, offsetof(TimesyncSettings, poll_interval_ms),
	  TIMESYNC_POLL_INTERVAL_MS_MIN, TIMESYNC_POLL_INTERVAL_MS_MAX },
	{ "timesync", "phc", CONF_PATH, offsetof(TimesyncSettings, phc), 0, 0 },
	{ "timesync", "log_level", CONF_LOGLEVEL, offsetof(TimesyncSettings, log_level), 0, 7 },
};

static const char *const mode_names[_TIMESYNC_MODE_MAX] = {
	[TIMESYNC_MODE_AUTO] = "auto",
	[TIMESYNC_MODE_DISCIPLINE] = "discipline",
	[TIMESYNC_MODE_MONITOR] = "monitor",
};

TimesyncMode timesync_mode_from_string(const char *s)
{
	if (!s)
		return _TIMESYNC_MODE_INVALID;
	for (size_t i = 0; i < ELEMENTSOF(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0)
			return (TimesyncMode)i;
	return _TIMESYNC_MODE_INVALID;
}

const char *timesync_mode_to_string(TimesyncMode m)
{
	if (m < 0 || m >= _TIMESYNC_MODE_MAX)
		return NULL;
	return mode_names[m];
}

int timesync_settings_init(TimesyncSettings *s)
{
	*s = (TimesyncSettings){
		.mode = TIMESYNC_MODE_AUTO,
		.step_threshold_ms = TIMESYNC_STEP_THRESHOLD_MS_DEFAULT,
		.poll_interval_ms = TIMESYNC_POLL_INTERVAL_MS_DEFAULT,
		.log_level = LOG_INFO,
	};
	s->sysfs_dir = strdup("/sys");
	s->dev_dir = strdup("/dev");
	s->proc_dir = strdup("/proc");
	s->run_dir = strdup(TIMESYNC_RUN_DIR_DEFAULT);
	if (!s->sysfs_dir || !s->dev_dir || !s->proc_dir || !s->run_dir) {
		timesync_settings_done(s);
		return -ENOMEM;
	}
	return 0;
}

/*
 * conf.h has no enum type: "mode" is loaded as a string and converted here, after each load, so
 * that a later valid assignment still overrides an earlier one within the same load.
 */
static int apply_mode(TimesyncSettings *s, const char *where, ConfError *reterr)
{
	TimesyncMode m;

	if (!s->mode_name)
		return 0;
	m = timesync_mode_from_string(s->mode_name);
	if (m < 0) {
		*reterr = (ConfError){ .line = 0 };
		(void)snprintf(reterr->file, sizeof(reterr->file), "%s", where);
		(void)snprintf(reterr->key, sizeof(reterr->key), "mode");
		(void)snprintf(reterr->message, sizeof(reterr->message),
			       "'%.100s' is not auto, discipline or monitor", s->mode_name);
		return -EINVAL;
	}
	s->mode = m;
	free(s->mode_name);
	s->mode_name = NULL;
	return 0;
}

int timesync_settings_load(TimesyncSettings *s, const char *file, const char *dropin_dir,
			   ConfError *reterr)
{
	int r;

	r = conf_load(timesync_conf_table, ELEMENTSOF(timesync_conf_table), s, file, NULL, reterr);
	if (r < 0)
		return r;
	r = apply_mode(s, file ? file : "(none)", reterr);
	if (r < 0)
		return r;
	r = conf_load(timesync_conf_table, ELEMENTSOF(timesync_conf_table), s, NULL, dropin_dir,
		      reterr);
	if (r < 0)
		return r;
	return apply_mode(s, dropin_dir ? dropin_dir : "(none)", reterr);
}

void timesync_settings_done(TimesyncSettings *s)
{
	conf_free(timesync_conf_table, ELEMENTSOF(timesync_conf_table), s);
	free(s->sysfs_dir);
	free(s->dev_dir);
	free(s->proc_dir);
	free(s->run_dir);
	s->sysfs_dir = s->dev_dir = s->proc_dir = s->run_dir = NULL;
}

void timesync_settings_servo_config(const TimesyncSettings *s, ServoPiConfig *ret)
{
	servo_pi_config_default(ret);
	/* ms -> ns; 0 keeps meaning "never step after the first sample". */
	ret->step_threshold_ns = (int64_t)s->step_threshold_ms * 1000000;
}
