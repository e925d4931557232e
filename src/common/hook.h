/* SPDX-License-Identifier: MIT */
/*
 * Runs an external program (a site's helper script, nmcli, networkctl, ...) by argv, never
 * through a shell, and waits for it with a deadline, in the calling thread only.
 *
 * The child gets: stdin from /dev/null; stdout and stderr on two pipes read by us into
 * bounded buffers (what exceeds them is read and dropped, so the child never blocks on a
 * full pipe); an environment of PATH=/usr/sbin:/usr/bin:/sbin:/bin, LANG=C.UTF-8 and the
 * caller's extras only (nothing of ours such as LD_PRELOAD, NOTIFY_SOCKET or
 * JOURNAL_STREAM); an empty signal mask and default dispositions for every signal
 * (whatever the calling thread blocks or the daemon ignores; glibc itself leaves its two
 * internal signals 32 and 33 ignored in every child it spawns); "/" as working directory;
 * a process group of its own. No other descriptor reaches it: the spawn closes every
 * fd >= 3 in the child (posix_spawn_file_actions_addclosefrom_np, glibc >= 2.34), so even a
 * descriptor another thread opens without O_CLOEXEC at the same moment does not leak; with
 * an older glibc we rely on every descriptor of the daemon being O_CLOEXEC.
 *
 * Waiting uses a pidfd (pidfd_open, Linux >= 5.3) polled together with the pipes; without
 * one, a 10 ms poll tick with waitid(WNOHANG | WNOWAIT). No SIGCHLD handler is involved and
 * the daemon's signal mask and dispositions are left alone. The one rule for the rest of
 * the process: nobody may reap children it did not spawn (no waitpid(-1)).
 *
 * At the deadline the whole process group gets SIGKILL and the child is reaped before we
 * return (a helper's own children die with it); what it wrote until then is kept. If the
 * child exits but something it left behind keeps a pipe open, reading goes on until the
 * deadline and that group is killed then (the child's own exit status is reported). The
 * final reap after SIGKILL is the only unbounded wait (a process stuck in uninterruptible
 * sleep delays it).
 *
 * hook_run_opts() adds two things for hooks that may leave a process behind on purpose (a
 * database client holding a backup lock until a later call releases it):
 *  - drain_usec: once the child exited, its pipes are read at most this long more, so a
 *    leftover that inherited stdout cannot hold us until the deadline;
 *  - keep_group: when the child exits by itself, its process group is left alone and the
 *    child is not reaped. The zombie keeps its pid, which is also the group id, from being
 *    reused, so hook_groups_end() can later signal exactly that group and nobody else. Our
 *    read ends of pipes still held are kept open too (a leftover writing there fills the
 *    pipe buffer and then blocks, instead of dying of SIGPIPE, which would drop its lock).
 * A timeout still kills the whole group at once, kept or not.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

/* Bytes of stdout / stderr kept; the rest is drained and dropped. */
#define HOOK_STDOUT_MAX (64u * 1024u)
#define HOOK_STDERR_MAX (4u * 1024u)
/* At most this many caller-provided environment entries. */
#define HOOK_EXTRA_ENV_MAX 32u

typedef struct HookResult {
	bool exited;	    /* normal exit: exit_status is valid */
	int exit_status;    /* 0..255 when exited */
	int term_signal;    /* signal that ended the child (SIGKILL after a timeout), else 0 */
	bool timed_out;	    /* the deadline passed before the child exited; we killed it */
	char *out;	    /* stdout, NUL-terminated (possibly embedded NULs), never NULL */
	size_t out_size;    /* bytes in out, excluding the terminating NUL */
	bool out_truncated; /* more than HOOK_STDOUT_MAX bytes were written */
	char *err;	    /* stderr, same rules, HOOK_STDERR_MAX */
	size_t err_size;
	bool err_truncated;
	bool pipes_held; /* the child ended but something it left still held stdout or stderr */
} HookResult;

typedef struct HookOptions {
	uint64_t timeout_usec; /* > 0: the child's deadline, as for hook_run() */
	uint64_t drain_usec;   /* after the child exited, read its pipes at most this much longer;
				* 0: until the deadline, as hook_run() does */
	bool keep_group;       /* child exited by itself: leave its group alive, see above */
} HookOptions;

/*
 * A process group kept by hook_run_opts(). pgid > 0 while kept: the hook's own pid, whose
 * unreaped zombie pins the id. fds: our read ends of its stdout and stderr if something
 * still held them when the hook exited, else -EBADF. Ended and released by
 * hook_groups_end() only.
 */
typedef struct HookGroup {
	pid_t pgid;
	int fds[2];
} HookGroup;

#define HOOK_GROUP_INIT ((HookGroup){ .pgid = 0, .fds = { -EBADF, -EBADF } })

/* What hook_groups_end() found; HOOK_GROUP_UNCOUNTED if /proc could not be read. */
#define HOOK_GROUP_UNCOUNTED UINT32_MAX
typedef struct HookGroupEnd {
	uint32_t alive;	 /* processes left in the group (zombies aside) when the end began */
	uint32_t killed; /* ... still there after the grace period: they got SIGKILL */
} HookGroupEnd;

/*
 * Runs argv[0] (an absolute path, else -EINVAL) with argv as its arguments and extra_env
 * (NULL or a NULL-terminated list of "NAME=value"; a PATH= or LANG= entry replaces our
 * default, more than HOOK_EXTRA_ENV_MAX entries or one without '=' is -EINVAL) added
 * to the sanitized environment, and waits at most timeout_usec (> 0, else -EINVAL).
 *
 * Returns 0 once the child has been reaped, whatever its fate: *ret then tells how it
 * ended and holds its output (release with hook_result_done()). Returns a negative
 * errno and leaves *ret untouched when nothing could be run: -ENOENT (no such program),
 * -EACCES, -ENOEXEC and the like straight from posix_spawn, or -ENOMEM, -EMFILE.
 */
int hook_run(const char *const argv[], const char *const extra_env[], uint64_t timeout_usec,
	     HookResult *ret);

/*
 * hook_run() with options (see the top of this file). ret_group is required with keep_group
 * (else -EINVAL): when the child exited by itself it receives the group to end later with
 * hook_groups_end(), whatever the exit status; after a timeout or an error the group is
 * already killed and *ret_group is HOOK_GROUP_INIT. Without keep_group ret_group may be
 * NULL and the group is killed if anything still holds its pipes when reading stops.
 */
int hook_run_opts(const char *const argv[], const char *const extra_env[], const HookOptions *opts,
		  HookResult *ret, HookGroup *ret_group);

/*
 * Ends the kept groups among groups[0..n) (entries with pgid <= 0 are ignored), all at once:
 * SIGTERM to every group with live members, up to grace_usec for them to exit, SIGKILL to
 * what remains, up to HOOK_KILL_WAIT_USEC for that to take effect; then reaps each hook's
 * zombie, closes the kept pipes and resets each of them to HOOK_GROUP_INIT. Members are found
 * by scanning /proc (pgrp field of /proc/PID/stat); without /proc the groups get SIGTERM,
 * the whole grace period, then SIGKILL. ret_end (NULL or n entries) receives per group what
 * was found. Members that moved to another group or session (setsid, a daemon's double
 * fork) are not ours to find and are left alone. Returns 0 or -EINVAL.
 */
#define HOOK_KILL_WAIT_USEC (1000u * 1000u)
int hook_groups_end(HookGroup groups[], size_t n, uint64_t grace_usec, HookGroupEnd ret_end[]);

/* Frees the output buffers and zeroes *r. Accepts a zeroed or already released result. */
void hook_result_done(HookResult *r);

/* True if the child exited by itself with status 0. */
static inline bool hook_result_success(const HookResult *r)
{
	return r->exited && r->exit_status == 0;
}
