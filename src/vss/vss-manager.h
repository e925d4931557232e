/* SPDX-License-Identifier: MIT */
/*
 * The VSS Manager owns hv_vss_daemon: event loop, channel to the kernel, the worker that
 * runs a backup's slow steps, the freeze deadline, and the backup in progress. It answers
 * HOT_BACKUP, FREEZE and THAW and guarantees a thaw on THAW, on the deadline, on SIGTERM
 * and before any device reconnect.
 */
#pragma once

#include "common/macro.h"
#include "vss/vss-settings.h"

typedef struct Manager Manager;

int manager_new(const VssSettings *settings, Manager **ret);
/* Thaws anything still frozen first, then frees everything. */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Thaws leftovers of a previous instance, registers with the kernel, READY=1. */
int manager_start(Manager *m);
int manager_run(Manager *m);
