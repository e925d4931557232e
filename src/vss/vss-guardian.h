/* SPDX-License-Identifier: MIT */
/*
 * The thaw that cannot be forgotten (issue 4 item 4), in three layers:
 *
 * 1. The daemon's own deadline timer (the manager's job): thaw and answer the host.
 * 2. A guardian child, forked after the syncfs phase and before the first FIFREEZE. It inherits
 *    the target descriptors and one end of a socketpair, closes every other descriptor, ignores
 *    SIGTERM/SIGINT/SIGHUP/SIGPIPE, optionally mlockall()s, pre-faults its stack and waits in
 *    poll(). A "done" byte from the daemon (after its normal thaw) -> exit without doing
 *    anything. EOF (the daemon died, even by SIGKILL: the kernel closes its end) or the
 *    backstop deadline -> thaw through the inherited descriptors, then exit. It never
 *    allocates, logs, creates files or execs.
 * 3. A marker file on /run (tmpfs, never frozen), written before the first freeze, listing the
 *    targets in thaw order and the daemon's pid. A restarted daemon (or ExecStopPost=) calls
 *    vss_freeze_recover(): thaw everything listed, then remove the marker. This covers the case
 *    where the guardian died too (e.g. SIGKILL to the whole cgroup).
 *
 * Non-logging module.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"
#include "vss/vss-freeze.h"

typedef enum VssGuardianOutcome {
	VSS_GUARDIAN_DONE,     /* told "done": thawed nothing */
	VSS_GUARDIAN_ORPHANED, /* the daemon's end closed: thawed everything */
	VSS_GUARDIAN_DEADLINE, /* the backstop deadline passed: thawed everything */
	_VSS_GUARDIAN_OUTCOME_MAX,
	_VSS_GUARDIAN_OUTCOME_INVALID = -EINVAL,
} VssGuardianOutcome;

/* Runs in the forked child: no allocation, no locks, no logging (async-signal-safe calls). */
typedef void (*VssGuardianThawFn)(void *userdata);

typedef struct VssGuardianConfig {
	/*
	 * Backstop, relative to vss_guardian_start(); 0 = none. Make it the daemon's own freeze
	 * deadline plus a few seconds, so the daemon normally thaws (and answers) first.
	 */
	uint64_t deadline_usec;
	VssGuardianThawFn thaw; /* e.g. vss_freeze_session_guardian_thaw */
	void *userdata;		/* e.g. the VssFreezeSession */
	/* Descriptors the thaw needs (e.g. vss_freeze_session_fds()); all others are closed. */
	const int *keep_fds;
	size_t n_keep_fds;
	bool lock_memory; /* mlockall() in the child (not under AddressSanitizer) */
} VssGuardianConfig;

/* A running guardian. Plain value: pid 0 and fd -EBADF when there is none. */
typedef struct VssGuardian {
	pid_t pid;
	int fd; /* our end of the socketpair; closing it (or dying) makes the guardian thaw */
} VssGuardian;

#define VSS_GUARDIAN_NULL ((VssGuardian){ .pid = 0, .fd = -EBADF })

/*
 * Forks the guardian. Call it after vss_freeze_session_sync() and before
 * vss_freeze_session_freeze(), with the session's descriptors in keep_fds. Our end of the
 * socketpair is close-on-exec, so hooks spawned later do not keep the guardian waiting.
 */
int vss_guardian_start(const VssGuardianConfig *config, VssGuardian *ret);

/*
 * After the daemon's own thaw: sends "done" (unless our end was closed already), closes our end
 * and reaps the child. Returns its VssGuardianOutcome (>= 0): VSS_GUARDIAN_DEADLINE means the
 * backstop thawed before we did. -EPROTO if the child died otherwise (e.g. killed), -ECHILD if
 * there is none. Resets *g to VSS_GUARDIAN_NULL.
 */
int vss_guardian_stop(VssGuardian *g);

const char *vss_guardian_outcome_to_string(VssGuardianOutcome o);

/*
 * Writes the frozen-marker atomically (temporary file + rename, mode 0600) at the absolute
 * path, creating its directory (0755). Lists pid and the targets in thaw order (highest level
 * first), one "thaw <level> <path>" line each, bytes <= 0x20, 0x7f and '\' escaped as \ooo
 * (mountinfo style). Call it before the first freeze; the directory must be on tmpfs.
 */
int vss_marker_write(const char *path, pid_t pid, const VssTarget *targets, size_t n_targets);

/* Removes the marker after the last thaw; a missing marker is fine. */
int vss_marker_remove(const char *path);

/*
 * Start-up / ExecStopPost recovery: if the marker exists, opens each listed path through ops
 * (a path that no longer exists is skipped) and thaws it (EINVAL = not frozen, fine), in the
 * marker's order. Removes the marker when every entry was handled; keeps it and returns the
 * first error otherwise (every entry is still tried). Returns the number of filesystems that
 * FITHAW actually thawed (0 also when there is no marker). *ret_pid (optional) gets the pid
 * recorded in the marker, 0 if none. Limitation: a target that was "not ours" (EBUSY) during
 * the crashed freeze is listed too and gets thawed.
 */
int vss_freeze_recover(const char *marker_path, const VssFreezerOps *ops, void *userdata,
		       pid_t *ret_pid);
