/* SPDX-License-Identifier: MIT */
/*
 * The freeze engine (hyperv-abi.md §7): open every target, syncfs() them all in parallel while
 * writes still flow, then FIFREEZE level by level (all targets of one level in parallel), and
 * FITHAW in reverse level order through the descriptors held since the open.
 *
 * Everything a freeze needs is allocated, opened and started in vss_freeze_session_new(): the
 * descriptors, the result arrays and a small pool of worker threads. Between the first FIFREEZE
 * and the last FITHAW the engine allocates nothing, creates no thread or file, execs nothing and
 * logs nothing; workers and the caller meet on a mutex and condition variables only.
 *
 * errno contract (§7.2): FIFREEZE EOPNOTSUPP = "cannot freeze" (skipped, recorded); EBUSY =
 * frozen by somebody else ("not ours", never thawed by us); anything else rolls the freeze back
 * (thaw what was frozen, reverse order) and names the target. FITHAW EINVAL = somebody else
 * thawed it already, which is fine.
 *
 * Non-logging module. Side effects go through VssFreezerOps only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

/* The one seam for freeze side effects. All return >= 0 on success or a negative errno. */
typedef struct VssFreezerOps {
	/* Returns a descriptor for the mount point; it must survive fork() (guardian). */
	int (*open)(void *userdata, const char *path);
	int (*syncfs)(void *userdata, int fd);
	int (*freeze)(void *userdata, int fd);
	int (*thaw)(void *userdata, int fd);
} VssFreezerOps;

/*
 * The real thing: open(path, O_RDONLY|O_DIRECTORY|O_CLOEXEC), syncfs(2), ioctl FIFREEZE and
 * FITHAW. userdata is unused (pass NULL). Never used by unit tests.
 */
extern const VssFreezerOps vss_freezer_ops_linux;

/*
 * One filesystem to freeze, named by a path on it (its mount point). Lower levels freeze first
 * and thaw last: a filesystem living on a loop or dm device backed by another filesystem gets a
 * lower level than that backing filesystem (§7.4). Levels need not be contiguous.
 */
typedef struct VssTarget {
	const char *path;
	unsigned level;
} VssTarget;

typedef enum VssTargetState {
	VSS_TARGET_OPEN,	  /* opened, not frozen (not reached, or the freeze stopped) */
	VSS_TARGET_FREEZING,	  /* FIFREEZE still running after a timeout (see freeze()) */
	VSS_TARGET_FROZEN,	  /* frozen by us, not thawed yet */
	VSS_TARGET_CANNOT_FREEZE, /* FIFREEZE: EOPNOTSUPP; skipped */
	VSS_TARGET_NOT_OURS,	  /* FIFREEZE: EBUSY; somebody else's freeze, left alone */
	VSS_TARGET_FAILED, /* open or FIFREEZE failed otherwise: the freeze was rolled back */
	VSS_TARGET_THAWED, /* frozen and thawed by us */
	VSS_TARGET_THAWED_ELSEWHERE, /* frozen by us; FITHAW: EINVAL, somebody thawed it first */
	VSS_TARGET_THAW_FAILED, /* frozen by us; FITHAW failed otherwise: may still be frozen */
	_VSS_TARGET_STATE_MAX,
	_VSS_TARGET_STATE_INVALID = -EINVAL,
} VssTargetState;

typedef struct VssTargetResult {
	VssTargetState state;
	int error;	  /* negative errno behind FAILED or THAW_FAILED, else 0 */
	int syncfs_error; /* negative errno from syncfs(); not fatal: FIFREEZE flushes again */
	uint64_t syncfs_usec, freeze_usec, thaw_usec; /* duration of this target's calls */
} VssTargetResult;

typedef struct VssFreezeResult {
	VssTargetResult *targets; /* n_targets entries, in the order given to _new() */
	size_t n_targets;
	size_t n_frozen; /* frozen by us when the freeze phase ended (before any thaw) */
	size_t n_cannot_freeze, n_not_ours, n_syncfs_failed, n_thaw_failed;
	ssize_t failed_index;  /* target that made the freeze fail, or -1 */
	int error;	       /* its negative errno (-ETIMEDOUT for a timeout), or 0 */
	uint64_t syncfs_usec;  /* syncfs phase, all targets in parallel; writers still flow */
	uint64_t freeze_usec;  /* first FIFREEZE issued -> last one returned */
	uint64_t thaw_usec;    /* first FITHAW issued -> last one returned (a rollback included) */
	uint64_t blocked_usec; /* writers blocked: first FIFREEZE issued -> last FITHAW returned */
	uint64_t freeze_start_usec; /* CLOCK_MONOTONIC µs of the first FIFREEZE (window start) */
} VssFreezeResult;

typedef struct VssFreezeSession VssFreezeSession;

/* Upper bounds: more targets is -E2BIG; more targets in one level freeze in batches. */
#define VSS_FREEZE_MAX_TARGETS 4096u
#define VSS_FREEZE_MAX_THREADS 32u

/*
 * Copies the targets, allocates every buffer the freeze will use, opens every target through
 * ops->open (before anything is frozen) and starts min(n_targets, VSS_FREEZE_MAX_THREADS)
 * worker threads with all signals blocked, and returns once all of them finished starting up
 * (thread start-up may allocate). ops and userdata must outlive the session. If an
 * open fails, nothing stays open, *reterr_index names the target and its error is returned;
 * -EINVAL for a NULL or empty path.
 */
int vss_freeze_session_new(const VssFreezerOps *ops, void *userdata, const VssTarget *targets,
			   size_t n_targets, VssFreezeSession **ret, size_t *reterr_index);

/*
 * syncfs() every target in parallel, while writers still flow, so that FIFREEZE has little
 * left to flush. Failures are recorded per target and are not fatal. Returns the number of
 * targets whose syncfs failed, or -EALREADY after the freeze started.
 */
int vss_freeze_session_sync(VssFreezeSession *s);

/*
 * Freezes level by level, lowest first; the targets of one level in parallel on the pool.
 * Returns 0 when every target is FROZEN, CANNOT_FREEZE or NOT_OURS. On any other failure it
 * waits for the rest of that level, thaws everything frozen (highest level first) and returns
 * the failing target's error (result: failed_index, error). If timeout_usec (0 = none) passes
 * before the last level is done, it thaws everything frozen so far and returns -ETIMEDOUT; a
 * FIFREEZE still running then (state FREEZING) is thawed by its worker as soon as it returns.
 * A session freezes once: -EALREADY on a second call.
 */
int vss_freeze_session_freeze(VssFreezeSession *s, uint64_t timeout_usec);

/*
 * Thaws every target frozen by us, highest level first, the targets of one level in parallel;
 * EINVAL counts as thawed. Goes on after errors and returns the first one. Never touches
 * NOT_OURS or CANNOT_FREEZE targets. Calling it again, or without a freeze, is a no-op.
 */
int vss_freeze_session_thaw(VssFreezeSession *s);

/* Results so far. Stable while no freeze/thaw call runs (after -ETIMEDOUT: until _free()). */
const VssFreezeResult *vss_freeze_session_result(const VssFreezeSession *s);

/* The target descriptors (n_targets, in target order), e.g. to keep them open in a guardian. */
const int *vss_freeze_session_fds(const VssFreezeSession *s, size_t *ret_n);

/*
 * Emergency thaw for a forked guardian child (VssGuardianConfig.thaw; userdata = session):
 * FITHAW through ops on every target that the parent marked frozen or freezing in memory
 * shared across fork(), highest level first, one by one. Takes no lock and allocates nothing.
 */
void vss_freeze_session_guardian_thaw(void *session);

/*
 * Thaws whatever is still frozen, stops the workers, closes the descriptors and frees.
 * If a FIFREEZE is still stuck in a worker, the last worker frees the session when it
 * returns. Accepts NULL; returns NULL.
 */
VssFreezeSession *vss_freeze_session_free(VssFreezeSession *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(VssFreezeSession *, vss_freeze_session_free);

/*
 * Touches VSS_FREEZE_PREFAULT_STACK bytes below the caller's stack pointer, so that no stack
 * page fault (and no reclaim) happens later; workers and the guardian call it themselves, the
 * daemon calls it on its main thread.
 */
#define VSS_FREEZE_PREFAULT_STACK (32u * 1024u)
void vss_freeze_prefault_stack(void);

/*
 * mlockall(MCL_CURRENT|MCL_FUTURE) for the daemon, before the first session. Do not call it
 * under AddressSanitizer (its shadow mappings are terabytes).
 */
int vss_freeze_lock_memory(void);

const char *vss_target_state_to_string(VssTargetState s);
