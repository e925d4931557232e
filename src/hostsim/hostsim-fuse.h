/* SPDX-License-Identifier: MIT */
/*
 * FUSE back-end of the emulated /dev/vmbus (test-harness.md §3): one low-level FUSE mount
 * whose regular files (mode 0600) map open/read/write/poll/release onto HsTransport models.
 * One loop thread serves every device; reads with nothing queued are parked and answered
 * later from whichever thread queues the next message; interrupted reads get EINTR; poll
 * waiters are woken with fuse_lowlevel_notify_poll().
 *
 * All transports are guarded by the caller's lock, which must be a recursive mutex (libfuse
 * may run the interrupt callback synchronously while the loop thread holds it). Threads
 * that queue messages must hold that lock.
 */
#pragma once

#include <pthread.h>
#include <stddef.h>

#include "hostsim/hostsim-transport.h"

typedef struct HsFuse HsFuse;

typedef struct HsFuseDevice {
	const char *name;	/* file name under the mount point, e.g. "hv_kvp" */
	HsTransport *transport; /* the service's transport model */
} HsFuseDevice;

/* FUSE operations served, summed over all devices. */
typedef struct HsFuseStats {
	unsigned opens, reads, writes, polls, notifies, parked, interrupts;
} HsFuseStats;

/*
 * Mounts the devices (table copied; names must stay valid) at mountpoint with fsname and
 * subtype "hvguest-sim" and starts the loop thread with all signals blocked. activity (may
 * be NULL) runs after every open, read, write and release, after the lock was dropped (and
 * the FUSE reply sent), so that it can wake waiters without making them block on the lock
 * at once. ctl_dir: a private scratch directory where the fusectl filesystem may be mounted
 * to abort a connection that does not end on unmount (NULL: never).
 */
int hs_fuse_start(const char *mountpoint, const HsFuseDevice *devices, size_t n_devices,
		  pthread_mutex_t *lock, void (*activity)(void *userdata), void *userdata,
		  const char *ctl_dir, HsFuse **ret);

/*
 * Unmounts (lazily), ends the loop thread (aborting the connection if it lingers because
 * someone still holds a device open), answers parked reads and frees. Call without the lock.
 * Returns NULL.
 */
HsFuse *hs_fuse_stop(HsFuse *f);

/* Counters; the caller holds the lock. */
void hs_fuse_get_stats(HsFuse *f, HsFuseStats *ret);
