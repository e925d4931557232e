/* SPDX-License-Identifier: MIT */
/*
 * Glue between hostsim.c (the HostSim object) and hostsim-proc.c (process control).
 */
#pragma once

#include <stddef.h>

#include "hostsim/hostsim.h"

/* The sim stops tracked daemons in hostsim_free(). */
void hostsim_track_daemon(HostSim *sim, HostSimDaemon *d);
void hostsim_untrack_daemon(HostSim *sim, HostSimDaemon *d);

/*
 * After a daemon exited: its close() reaches the FUSE server asynchronously. Waits (at
 * most timeout_usec) until no process of session sid (the daemon's pid: daemons are started
 * as session leaders) holds a device (KVP, VSS or fcopy; a holder of unknown session counts too),
 * so that counters and state seen by the caller already include the release.
 */
void hostsim_wait_released(HostSim *sim, pid_t sid, uint64_t timeout_usec);

/*
 * Descriptors every daemon inherits (without O_CLOEXEC, same numbers): the guest's ends of the
 * fcopy uio channel once it is open. Fills at most max entries; returns how many.
 */
#define HOSTSIM_INHERITED_FDS_MAX 2
size_t hostsim_inherited_fds(HostSim *sim, int *fds, size_t max);
