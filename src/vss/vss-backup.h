/* SPDX-License-Identifier: MIT */
/*
 * One live backup, from the host's FREEZE to the thaw: plan the filesystems, run the
 * freeze hooks, sync, freeze (with the guardian and the /run marker in place so a killed
 * daemon still thaws), and afterwards thaw, run the thaw hooks and record the outcome (one
 * journal entry with fields, and the status file hvctl reads). Logging is deferred in memory
 * from just before the first freeze until after the last thaw: nothing here writes to any
 * filesystem in between.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/macro.h"
#include "vss/vss-freeze.h"
#include "vss/vss-settings.h"

typedef struct VssBackup VssBackup;

/* The freezer to use: the real ioctls in production, a fake in tests. */
typedef struct VssBackupEnv {
	const VssSettings *settings;
	const VssFreezerOps *ops;
	void *ops_userdata;
} VssBackupEnv;

/*
 * HOT_BACKUP: can the backup be application-consistent? 0 if yes; -EOPNOTSUPP if a writable
 * filesystem in scope cannot be frozen (reason names it); other errors if no plan could be
 * made. Logs its own decision.
 */
int vss_backup_check(const VssBackupEnv *env);

/*
 * FREEZE: everything up to and including the freeze. On success *ret is a frozen backup
 * (possibly with nothing to freeze). On failure nothing is left frozen, the freeze-failed
 * hooks have run, the outcome is recorded, and a negative errno is returned.
 */
int vss_backup_freeze(const VssBackupEnv *env, VssBackup **ret);

/*
 * Thaws (reverse order), removes the marker and ends deferred logging: the fast part,
 * after which the host can be answered. Returns 0 or the first thaw error;
 * never leaves anything frozen that a thaw could release. Idempotent.
 */
int vss_backup_unfreeze(VssBackup *b);

/*
 * Stops the guardian, runs the thaw hooks (they may take up to their timeouts) and records
 * the outcome. why is
 * "host", "deadline", "shutdown" or "reconnect"; thaw_result what vss_backup_unfreeze()
 * returned.
 */
void vss_backup_finish(VssBackup *b, const char *why, int thaw_result);

/* vss_backup_unfreeze() then vss_backup_finish(). */
int vss_backup_thaw(VssBackup *b, const char *why);

VssBackup *vss_backup_free(VssBackup *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(VssBackup *, vss_backup_free);

/* At start-up: thaws whatever a previous instance's marker lists. Returns how many. */
int vss_backup_recover(const VssBackupEnv *env);
