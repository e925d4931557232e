/* SPDX-License-Identifier: MIT */
/*
 * hv_vss_daemon settings: compiled-in defaults, then [vss] in hvguest.conf and its
 * drop-ins, then the command line.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"

typedef enum VssHookFailure {
	VSS_HOOK_FAILURE_ABORT,	 /* a failing freeze hook aborts the backup */
	VSS_HOOK_FAILURE_IGNORE, /* ... or is logged and the freeze goes on */
	_VSS_HOOK_FAILURE_MAX,
	_VSS_HOOK_FAILURE_INVALID = -EINVAL,
} VssHookFailure;

typedef struct VssSettings {
	char *device;	    /* /dev/vmbus/hv_vss */
	char *run_dir;	    /* /run/hvguest: frozen-marker and status file; tmpfs, never frozen */
	char *hooks_dir;    /* /etc/hvguest/vss.d */
	char *hook_failure; /* "abort" or "ignore" */
	uint64_t hook_timeout_usec;
	uint64_t freeze_timeout_usec;		 /* thaw by ourselves this long after the freeze */
	char **include_mounts, **exclude_mounts; /* fnmatch globs on the mount point */
	char **include_types, **exclude_types;	 /* ... and on the filesystem type */
	char *mountinfo; /* testing: plan from this file instead of /proc/self/mountinfo */
	int log_level;
} VssSettings;

int vss_settings_init(VssSettings *s);
int vss_settings_load(VssSettings *s, const char *file, const char *dropin_dir, ConfError *reterr);
void vss_settings_done(VssSettings *s);
VssHookFailure vss_hook_failure_from_string(const char *s);
