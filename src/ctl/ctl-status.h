/* SPDX-License-Identifier: MIT */
/*
 * hvctl status: one screen for an admin, from the daemons' status files in the run directory
 * (--run-dir, default /run/hvguest): kvp-status, fcopy-status (pid, counters, last request
 * or transfer; removed on a clean exit), vss-status (the last backup; kept) and
 * timesync.json (offset and servo; removed on a clean exit, rewritten at least every 30 s).
 *
 * A daemon is running when its file is present and its pid is alive (kvp, fcopy; also vss
 * once vss-status carries a pid) or, for timesync.json, which has no pid, when the file was
 * updated within CTL_TIME_STALE_USEC. Present but dead or old is "stale" (a crash). When the
 * file gives no usable pid (absent, no pid=, or timesync.json), /proc/PID/comm is searched
 * for the program name (cut to 15 bytes by the kernel): found is "running" with that pid,
 * otherwise "stopped" (or the file's verdict); "unknown" remains only when /proc cannot be
 * read. Reading is separate from printing so that the three output formats are tested on a
 * fixed report.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ctl/ctl-kvp.h"
#include "ctl/ctl-time.h"

typedef enum CtlDaemon {
	CTL_DAEMON_KVP,
	CTL_DAEMON_VSS,
	CTL_DAEMON_FCOPY,
	CTL_DAEMON_TIMESYNC,
	_CTL_DAEMON_MAX,
	_CTL_DAEMON_INVALID = -EINVAL,
} CtlDaemon;

typedef enum CtlDaemonState {
	CTL_STATE_RUNNING,
	CTL_STATE_STOPPED, /* no status file */
	CTL_STATE_STALE,   /* a status file whose process is gone (or too old) */
	CTL_STATE_UNKNOWN, /* neither the file nor /proc can tell (vss-status without pid) */
	_CTL_STATE_MAX,
	_CTL_STATE_INVALID = -EINVAL,
} CtlDaemonState;

/* kvp-status request counters, in file order; the last one counts undecodable messages. */
#define CTL_KVP_N_OPS 7

/* Everything `hvctl status` shows. Strings are "" when the file lacks them. */
typedef struct CtlStatusReport {
	CtlDaemonState state[_CTL_DAEMON_MAX];
	pid_t pid[_CTL_DAEMON_MAX]; /* 0: unknown */

	struct {
		char device[256];
		uint64_t requests[CTL_KVP_N_OPS];
		bool has_last;
		char last_op[32]; /* "get", "set-ip-info", "op-9", ... */
		unsigned last_pool;
		char last_status[32]; /* "HV_S_OK", ... */
		uint64_t last_usec;   /* CLOCK_REALTIME µs */
	} kvp;

	struct {
		bool has_backup; /* vss-status present */
		char id[64];
		char result[64];  /* "ok", ... */
		int error;	  /* errno of a failed backup, 0 */
		int64_t finished; /* CLOCK_REALTIME s */
		unsigned filesystems, frozen;
		uint64_t blocked_usec; /* how long writers were blocked */
	} vss;

	struct {
		char device[256];
		char transport[32];
		uint64_t transfers[3]; /* ok, failed, cancelled */
		bool has_last;
		char last_dest[4096];
		uint64_t last_bytes;
		char last_result[16];
		uint64_t last_usec; /* CLOCK_REALTIME µs */
	} fcopy;

	bool has_timesync; /* timesync.json present and valid */
	CtlTimeStatus timesync;
} CtlStatusReport;

/* "kvp", "vss", "fcopy", "timesync"; NULL for an invalid value. */
const char *ctl_daemon_to_string(CtlDaemon d);
/* "running", "stopped", "stale", "unknown"; NULL for an invalid value. */
const char *ctl_daemon_state_to_string(CtlDaemonState s);

/*
 * Reads the status files below the directory dirfd into *ret; now_usec is CLOCK_REALTIME
 * (timesync freshness). Unreadable or malformed files count as absent. Liveness of a pid is
 * kill(pid, 0) (EPERM counts as alive); without a usable pid the daemon is looked up by name
 * in proc_dir/PID/comm (proc_dir NULL: "/proc"; tests pass a fake tree). Returns 0, or
 * -ENOMEM.
 */
int ctl_status_read(int dirfd, const char *proc_dir, uint64_t now_usec, CtlStatusReport *ret);

/*
 * One line per daemon: name, state, details with ages relative to now_usec (CLOCK_REALTIME
 * µs) and the backup time in local time. -ENOMEM, or -EIO on a stream error.
 */
int ctl_status_print_text(FILE *f, const CtlStatusReport *r, uint64_t now_usec);

/* One JSON object, keys in a fixed order, and a newline. -EIO on a stream error. */
int ctl_status_print_json(FILE *f, const CtlStatusReport *r);

/*
 * Prometheus text exposition format (node_exporter textfile collector): hvguest_* families,
 * each with one HELP and one TYPE line, printed only when it has a sample. -EIO on a stream
 * error.
 */
int ctl_status_print_prometheus(FILE *f, const CtlStatusReport *r);

/*
 * hvctl status [--json | --prometheus] [--run-dir=DIR]: CTL_EXIT_OK, or CTL_EXIT_NOT_FOUND (1)
 * when the run directory cannot be opened, CTL_EXIT_IO when the output cannot be written.
 */
CtlExit ctl_status(const CtlOptions *o, char *const *args);
