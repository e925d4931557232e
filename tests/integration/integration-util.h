/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the integration tests: one HostSim per test process, one daemon per
 * test with its own state directory, and pool-file readers that check the on-disk format.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostsim/hostsim.h"

#define POOL_RECORD 2560u

typedef struct Guest {
	HostSim *sim;
	HostSimDaemon *daemon;
	char state_dir[512];
	unsigned n;
} Guest;

/* Creates the process-wide HostSim (netns on, 3 s kernel timeout) on first use. */
HostSim *it_sim(void);
/* Starts $HV_KVP_DAEMON on a fresh (or, with reuse, the previous) state directory. */
int it_start(Guest *g, bool reuse_state, char *const extra_args[]);
/* Stops the daemon with SIGTERM; returns its wait status. */
int it_stop(Guest *g);
/* Path of pool file n in the guest's state directory. */
void it_pool_path(const Guest *g, unsigned pool, char *buf, size_t size);
/* Reads the whole pool file; returns the number of whole records or negative errno. */
ssize_t it_pool_read(const Guest *g, unsigned pool, uint8_t **ret);
/* Waits up to timeout for pool n to hold exactly want records; returns the count seen. */
ssize_t it_pool_wait_count(const Guest *g, unsigned pool, size_t want, uint64_t timeout_usec);
/* Appends records like cloud-init: O_APPEND, flock(LOCK_EX), one write() per record. */
int it_append_records(const Guest *g, unsigned pool, const char *prefix, unsigned first,
		      unsigned count);
/* Number of entries in a /proc/<pid>/<sub> directory (fd, task). */
int it_count_proc_dir(pid_t pid, const char *sub);
