/* SPDX-License-Identifier: MIT */
/*
 * The "hvctl kvp" verbs. Each one prints its result on stdout and its messages on stderr
 * (logging side of the split: the pool module below only returns errors) and returns the
 * process exit status, documented in hvctl(8).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kvp/kvp-msg.h"

typedef enum CtlExit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_NOT_FOUND = 1, /* key absent, or request refused (pool, limits, encoding) */
	CTL_EXIT_USAGE = 2,	/* bad command line */
	CTL_EXIT_IO = 3,	/* state directory or pool file unusable, lock timeout, I/O */
} CtlExit;

typedef struct CtlOptions {
	const char *state_dir;
	KvpPoolId pool; /* KVP_POOL_GUEST unless --pool was given */
	bool json;
	bool prometheus; /* status: Prometheus text format (--prometheus) */
	uint64_t lock_timeout_usec;
	/* vss plan (ctl-vss.h): NULL for the defaults */
	const char *vss_mountinfo;	   /* mount table file instead of /proc/self/mountinfo */
	const char *vss_config;		   /* instead of hvguest.conf and its drop-ins */
	const char *vss_sys_root;	   /* sysfs and /dev below this directory; "": not at all */
	char **vss_include, **vss_exclude; /* --include/--exclude globs, owned */
	const char *vss_run_dir;	   /* vss status: NULL for VSS_RUN_DIR */
	/* devices (ctl-devices.h) */
	bool verbose;	       /* -v: details per device */
	const char *sysfs_dir; /* --sysfs-dir: read DIR/bus/vmbus instead of libudev; NULL */
	/* status (ctl-status.h) */
	const char *proc_dir; /* --proc-dir (tests): find daemons in DIR/PID/comm; NULL: /proc */
} CtlOptions;

/* A verb: args holds exactly the positional arguments the verb table allows. */
typedef CtlExit (*ctl_verb_t)(const CtlOptions *o, char *const *args);

/* hvctl kvp list: every record of o->pool in file order. */
CtlExit ctl_kvp_list(const CtlOptions *o, char *const *args);
/* hvctl kvp get KEY: args[0] is the key; CTL_EXIT_NOT_FOUND if absent. */
CtlExit ctl_kvp_get(const CtlOptions *o, char *const *args);
/* hvctl kvp set KEY VALUE: pool 1 only, limits checked before anything is written. */
CtlExit ctl_kvp_set(const CtlOptions *o, char *const *args);
/* hvctl kvp delete KEY: pool 1 only; CTL_EXIT_NOT_FOUND if absent. */
CtlExit ctl_kvp_delete(const CtlOptions *o, char *const *args);
/* hvctl kvp watch: prints changes of o->pool until SIGINT or SIGTERM (then CTL_EXIT_OK). */
CtlExit ctl_kvp_watch(const CtlOptions *o, char *const *args);
