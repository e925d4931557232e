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
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
} HookResult;

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

/* Frees the output buffers and zeroes *r. Accepts a zeroed or already released result. */
void hook_result_done(HookResult *r);

/* True if the child exited by itself with status 0. */
static inline bool hook_result_success(const HookResult *r)
{
	return r->exited && r->exit_status == 0;
}
