/* SPDX-License-Identifier: MIT */
/*
 * The HostSim object's layout, shared by the files that implement the public API
 * (hostsim.c: set-up, KVP host; hostsim-vss-host.c: VSS host; hostsim-fcopy-host.c: fcopy
 * host). Not for other modules.
 */
#pragma once

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "hostsim/hostsim-env.h"
#include "hostsim/hostsim-fcopy.h"
#include "hostsim/hostsim-fuse.h"
#include "hostsim/hostsim-kvp.h"
#include "hostsim/hostsim-transport.h"
#include "hostsim/hostsim-uio.h"
#include "hostsim/hostsim-vss.h"
#include "hostsim/hostsim.h"

#define HOSTSIM_VSS_ALLOW_MAX 64u

struct HostSim {
	HostSimOptions opts;
	char *hostname, *domain, *os_release;
	HsEnv *env;
	char state_dir[PATH_MAX];
	char kvp_device[64];
	char vss_device[64];
	char fcopy_device[64];
	char syslog_path[PATH_MAX];

	pthread_mutex_t lock;	/* recursive; guards everything below that the FUSE thread sees */
	pthread_cond_t cond;	/* CLOCK_MONOTONIC: transaction done, service state changed */
	bool wake_pending;	/* the model changed; broadcast once the lock is dropped */
	unsigned ready_waiters; /* modified under lock, read atomically */
	pthread_mutex_t host_lock;	 /* the host sends one KVP transaction at a time */
	pthread_mutex_t vss_host_lock;	 /* and one VSS transaction at a time (independently) */
	pthread_mutex_t fcopy_host_lock; /* and one fcopy transaction at a time */

	HsFuse *fuse;
	HsTransport kvp_transport;
	HsKvpModel kvp;
	HsTransport vss_transport;
	HsVssModel vss;
	bool have_vss_result; /* vss_result holds the last completed VSS transaction */
	HostSimVssResult vss_result;
	dev_t vss_allowed[HOSTSIM_VSS_ALLOW_MAX]; /* block devices FREEZE/THAW may reach */
	size_t n_vss_allowed;
	HsTransport fcopy_transport;
	HsFcopyModel fcopy;
	HsUio *fcopy_uio; /* the fcopy uio channel once opened; set under lock, freed last */

	int log_sock, log_fd, log_stop;
	pthread_t log_thread;
	bool log_thread_started;

	pthread_mutex_t daemons_lock;
	HostSimDaemon **daemons;
	size_t n_daemons;
};

/* CLOCK_MONOTONIC in microseconds (the clock of the models and of sim->cond). */
uint64_t hs_now_usec(void);
/* Absolute CLOCK_MONOTONIC time for pthread_cond_timedwait() on sim->cond. */
struct timespec hs_to_timespec(uint64_t usec);
