/* SPDX-License-Identifier: MIT */
/*
 * The jail builder: runs in the forked child that is PID 1 of the new PID namespace and owns
 * the new mount namespace (a private copy of the test process's). It never returns: it sends
 * VJ_MSG_SETUP on the control socket and execs the init inside the jail, or reports the
 * failing stage and exits.
 */
#pragma once

#include "vss-jail.h"

typedef struct VjBuildArgs {
	const VssJailOptions *o;
	const VssRootId *real_root;
	const char *init_path; /* host path of vss-jail-init; copied to the same jail path */
	/*
	 * Empty directory the work tmpfs is mounted on. Not /tmp itself: the binaries to copy
	 * (a build tree, a CI clone) may live below /tmp and must stay visible.
	 */
	const char *work_dir;
	const char *hostname;
	unsigned lifetime_sec;
	int ctl_fd; /* the jail's end of the control socket */
	int log_fd; /* memfd for captured syslog lines */
} VjBuildArgs;

_noreturn_ void vj_build_and_exec(const VjBuildArgs *a);
