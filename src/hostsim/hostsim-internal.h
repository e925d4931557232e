/* SPDX-License-Identifier: MIT */
/*
 * Glue between hostsim.c (the HostSim object) and hostsim-proc.c (process control).
 */
#pragma once

#include "hostsim/hostsim.h"

/* The sim stops tracked daemons in hostsim_free(). */
void hostsim_track_daemon(HostSim *sim, HostSimDaemon *d);
void hostsim_untrack_daemon(HostSim *sim, HostSimDaemon *d);

/*
 * After a daemon exited: its close() reaches the FUSE server asynchronously. Waits (at
 * most timeout_usec) until no one holds the KVP device, so that counters and state seen by
 * the caller already include the release.
 */
void hostsim_wait_released(HostSim *sim, uint64_t timeout_usec);
