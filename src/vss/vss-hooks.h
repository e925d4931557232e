/* SPDX-License-Identifier: MIT */
/*
 * Application-consistency hooks for one backup: the executables in a hooks directory
 * (default /etc/hvguest/vss.d), run one at a time through common/hook.h. Nothing here
 * freezes anything; the manager calls, in this order:
 *
 *   vss_hooks_new()            one object per backup (FREEZE request)
 *   vss_hooks_freeze()         before the first FIFREEZE: every hook with "freeze", in name
 *                              order (strcmp, i.e. the C locale)
 *   vss_hooks_thaw()           after the last FITHAW (and after answering the host), or
 *   vss_hooks_freeze_failed()  when the backup did not go ahead (a hook aborted it, or
 *                              freezing failed): every hook whose freeze call was started
 *                              gets exactly one of "thaw" or "freeze-failed", in REVERSE
 *                              name order, including a hook whose own freeze call failed
 *                              or timed out (it may have half-acquired something: it is the
 *                              only one that knows how to undo it; a hook with nothing to
 *                              undo exits 0). HVGUEST_VSS_FREEZE_RESULT tells it how its
 *                              freeze call ended. Hooks never started get neither.
 *   vss_hooks_runs()           what ran, for the journal entry; vss_hooks_free().
 *
 * Which files are hooks. Every directory entry, in strcmp order, is:
 *  - skipped (not a hook, no failure): a name starting with '.'; editor and package leftovers
 *    (`*~`, `#*#`, `*.dpkg-*`, `*.rpmnew`, `*.rpmsave`, `*.rpmorig`, `*.ucf-*`, `*.orig`,
 *    `*.bak`, `*.swp`, `*.disabled`); not a regular file after following symlinks (directory,
 *    FIFO, dangling link, ...); no execute bit at all (chmod -x is how to disable a hook);
 *  - refused (a failure, reported as REFUSED): owned by neither root nor our effective uid,
 *    or writable by group or others. Such a file would let its writer run code as root at
 *    the next backup. The directory itself is held to the same rule; if it fails it, every
 *    hook is refused (vss_hooks_dir_error() says why). A missing directory means no hooks.
 *  - a hook: run as `<dir>/<name> <operation>`.
 *
 * Failures. A freeze call fails when the hook exits non-zero, dies of a signal, outlives
 * its timeout (its whole process group is then killed) or cannot be started; a refused
 * hook or directory fails too. With abort (the default, [vss] hook_failure=abort), the
 * first failure stops the freeze phase: the remaining hooks are recorded as NOT_RUN and
 * vss_hooks_freeze() returns -ECANCELED. With ignore_failures the failure is recorded and
 * the next hook runs. Failures of thaw and freeze-failed calls are recorded only.
 *
 * Environment of a hook (and nothing else of ours; see common/hook.h):
 *   PATH=/usr/sbin:/usr/bin:/sbin:/bin  LANG=C.UTF-8 (config extra_env may replace them)
 *   HVGUEST_VSS_OPERATION     freeze | thaw | freeze-failed (also argv[1])
 *   HVGUEST_VSS_MOUNTS        the plan's mount points, one per line; a newline or backslash
 *                             inside one is written \012 or \134, as in /proc/self/mountinfo
 *   HVGUEST_VSS_TIMEOUT_SEC   this call's timeout, whole seconds
 *   HVGUEST_VSS_BACKUP_ID     the same string in every call of one backup
 *   HVGUEST_VSS_DEADLINE      CLOCK_REALTIME seconds since the epoch at which the daemon
 *                             thaws whatever happens (absent if the manager gave none)
 *   HVGUEST_VSS_FREEZE_RESULT thaw / freeze-failed only: ok | failed | signal | timeout,
 *                             how this hook's own freeze call ended
 *
 * Holder contract (a hook that must keep something open until thaw, e.g. a database client
 * holding a backup lock):
 *  - Its freeze call may leave processes behind in its own process group (a plain `&` in a
 *    shell script does exactly that). Nothing in that group is signalled while the backup
 *    is in progress, whatever the call's exit status.
 *  - They must not keep the hook's stdout/stderr: redirect them (to /dev/null or a file in
 *    /run). We stop reading drain_usec after the hook's own process exited; our pipe ends
 *    stay open, so a holder that still writes there blocks once the pipe buffer (64 KiB)
 *    is full instead of dying of SIGPIPE, but it is a bug all the same.
 *  - They must not write to a filesystem in HVGUEST_VSS_MOUNTS while it is frozen (they
 *    would block until the thaw): keep their files in /run (tmpfs, never frozen).
 *  - The hook's thaw / freeze-failed call is expected to tell the holder to release and exit
 *    (a FIFO in /run is the usual channel). When that closing phase has finished for all
 *    hooks, every process still in any hook's process group gets SIGTERM, then SIGKILL
 *    after holder_grace_usec. Leaving them alone would be worse: a forgotten holder keeps a
 *    lock such as MariaDB's BACKUP STAGE BLOCK_COMMIT, which stops every commit on the
 *    server, indefinitely. The same happens to whatever a thaw call leaves behind.
 *  - A holder that must outlive the backup on purpose leaves the group itself (setsid,
 *    systemd-run); we neither track nor signal it.
 *  - If the daemon dies mid-backup the holders are orphaned; the unit's stop (KillMode=
 *    control-group) ends them with the rest of the service's cgroup.
 *
 * Not thread-safe; one thread drives one VssHooks. Non-logging: results are returned.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/macro.h"

#define VSS_HOOKS_TIMEOUT_DEFAULT_USEC (30u * 1000u * 1000u)
#define VSS_HOOKS_HOLDER_GRACE_DEFAULT_USEC (5u * 1000u * 1000u)
#define VSS_HOOKS_DRAIN_DEFAULT_USEC (500u * 1000u)
/* Bytes kept of a hook's first stderr line, NUL included. */
#define VSS_HOOK_MESSAGE_MAX 160u
/* A backup id: 1..64 of [A-Za-z0-9._:-]. */
#define VSS_HOOKS_BACKUP_ID_MAX 64u

typedef enum VssHookPhase {
	VSS_HOOK_PHASE_FREEZE,
	VSS_HOOK_PHASE_THAW,
	VSS_HOOK_PHASE_FREEZE_FAILED,
	_VSS_HOOK_PHASE_MAX,
	_VSS_HOOK_PHASE_INVALID = -EINVAL,
} VssHookPhase;

/* What a directory entry is to us (see the top of this file). */
typedef enum VssHookFile {
	VSS_HOOK_FILE_HOOK,	      /* run it */
	VSS_HOOK_FILE_HIDDEN,	      /* skipped: name starts with '.' */
	VSS_HOOK_FILE_BACKUP,	      /* skipped: editor or package-manager leftover */
	VSS_HOOK_FILE_NOT_REGULAR,    /* skipped: not a regular file (after symlinks) */
	VSS_HOOK_FILE_NOT_EXECUTABLE, /* skipped: no execute bit */
	VSS_HOOK_FILE_BAD_OWNER,      /* refused: owned by neither root nor our euid */
	VSS_HOOK_FILE_WRITABLE,	      /* refused: group- or world-writable */
	_VSS_HOOK_FILE_MAX,
	_VSS_HOOK_FILE_INVALID = -EINVAL,
} VssHookFile;

typedef enum VssHookOutcome {
	VSS_HOOK_OUTCOME_OK,	      /* exited 0 */
	VSS_HOOK_OUTCOME_FAILED,      /* exited non-zero: exit_status */
	VSS_HOOK_OUTCOME_SIGNAL,      /* died of a signal not sent by us: term_signal */
	VSS_HOOK_OUTCOME_TIMEOUT,     /* outlived its timeout; its process group got SIGKILL */
	VSS_HOOK_OUTCOME_SPAWN_ERROR, /* could not be started: error */
	VSS_HOOK_OUTCOME_REFUSED,     /* unsafe file or directory, not run: file says why */
	VSS_HOOK_OUTCOME_NOT_RUN,     /* freeze: an earlier failure aborted the phase */
	_VSS_HOOK_OUTCOME_MAX,
	_VSS_HOOK_OUTCOME_INVALID = -EINVAL,
} VssHookOutcome;

/* One call of one hook (or one hook not called), in the order they happened. */
typedef struct VssHookRun {
	char name[NAME_MAX + 1];
	VssHookPhase phase;
	VssHookOutcome outcome;
	VssHookFile file;	/* REFUSED: BAD_OWNER or WRITABLE (directory refused: see
				 * vss_hooks_dir_error()); else VSS_HOOK_FILE_HOOK */
	int exit_status;	/* OK, FAILED: 0..255 */
	int term_signal;	/* SIGNAL; SIGKILL for TIMEOUT; else 0 */
	int error;		/* SPAWN_ERROR: negative errno (-ENOEXEC: no "#!" line...) */
	uint64_t duration_usec; /* spawn to return, CLOCK_MONOTONIC; 0 if not started */
	bool pipes_held;	/* it exited but left a process holding its stdout/stderr */
	/*
	 * Filled when the backup ends: processes still in this call's process group at that
	 * point (they got SIGTERM), and how many of those were still there after the grace
	 * period (SIGKILL). UINT32_MAX if /proc could not be read. 0 for a well-behaved hook
	 * whose holder was released by its thaw call.
	 */
	uint32_t left_alive;
	uint32_t left_killed;
	char message[VSS_HOOK_MESSAGE_MAX]; /* first non-blank stderr line, control bytes as
					     * '?', valid UTF-8 kept whole; "" if none */
} VssHookRun;

/* A directory entry that is not a hook (skipped); refused entries appear as runs. */
typedef struct VssHookSkip {
	char name[NAME_MAX + 1];
	VssHookFile why;
} VssHookSkip;

typedef struct VssHooksConfig {
	const char *dir;	    /* absolute; NULL: VSS_HOOKS_DIR from config.h */
	uint64_t timeout_usec;	    /* per call; 0: VSS_HOOKS_TIMEOUT_DEFAULT_USEC */
	bool ignore_failures;	    /* false: a failing freeze call aborts the backup */
	uint64_t holder_grace_usec; /* SIGTERM to SIGKILL at the end; 0: the default above */
	uint64_t drain_usec;	    /* read pipes this long after a hook exits; 0: default */
	/*
	 * NULL or a NULL-terminated list of "NAME=value" added to every hook's environment
	 * (PATH= or LANG= replaces ours); at most 24 entries, none named HVGUEST_VSS_*.
	 */
	const char *const *extra_env;
} VssHooksConfig;

typedef struct VssHooksBackup {
	const char *id;		   /* HVGUEST_VSS_BACKUP_ID, see VSS_HOOKS_BACKUP_ID_MAX */
	const char *const *mounts; /* NULL or NULL-terminated: the plan's mount points */
	int64_t deadline_sec;	   /* HVGUEST_VSS_DEADLINE; <= 0: not exported */
} VssHooksBackup;

typedef struct VssHooks VssHooks;

/*
 * Classifies one directory entry (pure): name, its stat() after following symlinks (NULL
 * if that failed: a dangling link is NOT_REGULAR) and the uid allowed to own hooks besides
 * root (our euid). The checks apply in the order of the VssHookFile enum.
 */
VssHookFile vss_hook_classify(const char *name, const struct stat *st, uid_t euid);

/* True for the verdicts that refuse a hook (and count as a failure). */
static inline bool vss_hook_file_refused(VssHookFile f)
{
	return f == VSS_HOOK_FILE_BAD_OWNER || f == VSS_HOOK_FILE_WRITABLE;
}

/*
 * Prepares one backup's hooks: copies cfg and builds the environment from backup. No hook
 * runs and the directory is not read yet. -EINVAL: relative dir, bad id, bad or too many
 * extra_env entries; -E2BIG: the mount list exceeds what one environment string may hold
 * (128 KiB); -ENOMEM.
 */
int vss_hooks_new(const VssHooksConfig *cfg, const VssHooksBackup *backup, VssHooks **ret);

/*
 * Frees h. If neither closing phase ran, no hook is called but process groups still kept
 * get SIGTERM and, at once, SIGKILL. Returns NULL.
 */
VssHooks *vss_hooks_free(VssHooks *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(VssHooks *, vss_hooks_free);

/*
 * Reads the directory and runs every hook with "freeze", in name order, one at a time.
 * Returns 0: go ahead and freeze (no failure, or failures ignored); -ECANCELED: a failure
 * with abort policy, do not freeze; -EALREADY: called twice; -ENOMEM. Whatever it returns,
 * finish with vss_hooks_thaw() (froze) or vss_hooks_freeze_failed() (did not).
 */
int vss_hooks_freeze(VssHooks *h);

/*
 * The closing phase: "thaw" (resp. "freeze-failed") to every hook whose freeze call was
 * started, in reverse name order, each with its own timeout; then every process left in
 * a hook's process group is ended (SIGTERM, holder_grace_usec, SIGKILL). Returns how many
 * calls did not succeed (0..n), or -EALREADY if a closing phase already ran (nothing done).
 */
int vss_hooks_thaw(VssHooks *h);
int vss_hooks_freeze_failed(VssHooks *h);

/* Every call and non-call so far, in order; valid until the next call on h. */
const VssHookRun *vss_hooks_runs(const VssHooks *h, size_t *ret_n);

/* Entries that were not hooks, in name order. */
const VssHookSkip *vss_hooks_skipped(const VssHooks *h, size_t *ret_n);

/*
 * 0, or why the directory yielded no hooks: -EPERM (unsafe owner or mode: every hook
 * refused), -ENOTDIR, -EACCES, ... A missing directory is not an error (0, no hooks).
 */
int vss_hooks_dir_error(const VssHooks *h);

/*
 * One line for the backup's journal entry, e.g.
 *   50-postgresql freeze ok 0.121s; 60-app freeze exit 3 0.004s "no database"; 60-app
 *   freeze-failed ok 0.002s; 50-postgresql freeze-failed ok 0.050s; skipped: x~ (backup)
 * "" when nothing was there. *ret is malloc'ed. Returns 0 or -ENOMEM.
 */
int vss_hooks_format_summary(const VssHooks *h, char **ret);

const char *vss_hook_phase_to_string(VssHookPhase p);
const char *vss_hook_outcome_to_string(VssHookOutcome o);
const char *vss_hook_file_to_string(VssHookFile f);
