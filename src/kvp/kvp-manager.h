/* SPDX-License-Identifier: MIT */
/*
 * The KVP Manager owns everything hv_kvp_daemon runs: the event loop, the channel to the
 * kernel, the pool store and its writer thread, the auto pool and the FQDN resolver. It
 * turns each kernel message into a store or auto-pool operation and answers it; every
 * non-debug log line of the daemon is written here.
 */
#pragma once

#include "common/channel.h"
#include "common/event.h"
#include "common/macro.h"
#include "kvp/kvp-settings.h"

typedef struct Manager Manager;

/*
 * Builds the manager: opens the state directory and pools, starts the worker threads.
 * Does not touch the device yet. Blocks SIGTERM/SIGINT/SIGHUP first so that no thread
 * inherits them unblocked. Logs its own failures.
 */
int manager_new(const KvpSettings *settings, Manager **ret);
/* Stops the writer (bounded by flush_timeout), then frees everything. */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/*
 * Opens the device and registers with the kernel, then tells systemd READY=1. Logs its own
 * failures; -ENOENT when the device node does not exist, -EBUSY when another daemon holds it.
 */
int manager_start(Manager *m);

/* Runs the event loop until SIGTERM/SIGINT. Returns 0 or a negative errno. */
int manager_run(Manager *m);
