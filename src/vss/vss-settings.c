/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "common/conf.h"
#include "common/event.h"
#include "config.h"
#include "vss/vss-settings.h"

static const ConfItem vss_conf_table[] = {
	{ "vss", "device", CONF_PATH, offsetof(VssSettings, device), 0, 0 },
	{ "vss", "run_directory", CONF_PATH, offsetof(VssSettings, run_dir), 0, 0 },
	{ "vss", "hooks_directory", CONF_PATH, offsetof(VssSettings, hooks_dir), 0, 0 },
	{ "vss", "hook_failure", CONF_STRING, offsetof(VssSettings, hook_failure), 0, 0 },
	{ "vss", "hook_timeout", CONF_USEC, offsetof(VssSettings, hook_timeout_usec), USEC_PER_SEC,
	  600 * USEC_PER_SEC },
	{ "vss", "freeze_timeout", CONF_USEC, offsetof(VssSettings, freeze_timeout_usec),
	  USEC_PER_SEC, 800 * USEC_PER_SEC },
	{ "vss", "include_mounts", CONF_STRV, offsetof(VssSettings, include_mounts), 0, 0 },
	{ "vss", "exclude_mounts", CONF_STRV, offsetof(VssSettings, exclude_mounts), 0, 0 },
	{ "vss", "include_types", CONF_STRV, offsetof(VssSettings, include_types), 0, 0 },
	{ "vss", "exclude_types", CONF_STRV, offsetof(VssSettings, exclude_types), 0, 0 },
	{ "vss", "log_level", CONF_LOGLEVEL, offsetof(VssSettings, log_level), 0, 7 },
};

int vss_settings_init(VssSettings *s)
{
	*s = (VssSettings){
		.hook_timeout_usec = 30 * USEC_PER_SEC,
		/* What Windows VSS itself allows between freeze and thaw; far under the
		 * kernel's 15 min FREEZE window and the 120 s hung-task warnings. */
		.freeze_timeout_usec = 60 * USEC_PER_SEC,
		.log_level = LOG_INFO,
	};
	s->device = strdup(VSS_DEVICE);
	s->run_dir = strdup(VSS_RUN_DIR);
	s->hooks_dir = strdup(VSS_HOOKS_DIR);
	s->hook_failure = strdup("abort");
	if (!s->device || !s->run_dir || !s->hooks_dir || !s->hook_failure) {
		vss_settings_done(s);
		return -ENOMEM;
	}
	return 0;
}

int vss_settings_load(VssSettings *s, const char *file, const char *dropin_dir, ConfError *reterr)
{
	return conf_load(vss_conf_table, ELEMENTSOF(vss_conf_table), s, file, dropin_dir, reterr);
}

void vss_settings_done(VssSettings *s)
{
	conf_free(vss_conf_table, ELEMENTSOF(vss_conf_table), s);
	free(s->mountinfo);
	s->mountinfo = NULL;
}

VssHookFailure vss_hook_failure_from_string(const char *s)
{
	if (s && strcmp(s, "abort") == 0)
		return VSS_HOOK_FAILURE_ABORT;
	if (s && strcmp(s, "ignore") == 0)
		return VSS_HOOK_FAILURE_IGNORE;
	return _VSS_HOOK_FAILURE_INVALID;
}
