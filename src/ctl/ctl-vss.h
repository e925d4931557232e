/* SPDX-License-Identifier: MIT */
/*
 * The "hvctl vss" verbs. Messages on stderr, results on stdout, exit status as in ctl-kvp.h.
 */
#pragma once

#include "ctl/ctl-kvp.h"

/*
 * hvctl vss plan: every mount of the mount table with the freeze verdict and its reason,
 * then the freeze order by level and whether an application-consistent backup is possible.
 * Plans only: nothing is opened, frozen or written. Globs come from [vss] include_mounts,
 * exclude_mounts, include_types, exclude_types of the configuration (o->vss_config, or
 * hvguest.conf and its drop-ins) plus o->vss_include/o->vss_exclude (a glob containing '/'
 * matches mount points, any other glob filesystem types). CTL_EXIT_IO when the
 * configuration or the mount table cannot be read.
 */
CtlExit ctl_vss_plan(const CtlOptions *o, char *const *args);
/* hvctl vss status: the last backup's outcome, from the daemon's status file. */
CtlExit ctl_vss_status(const CtlOptions *o, char *const *args);

/*
 * Appends a copy of s to the NULL-terminated list *l (NULL is an empty list). 0 or -ENOMEM
 * (*l unchanged).
 */
int ctl_strv_push(char ***l, const char *s);
