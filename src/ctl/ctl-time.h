/* SPDX-License-Identifier: MIT */
/*
 * The "hvctl time" verbs: the time sync daemon's state from its status file
 * (RUN/timesync.json, written by hv_timesync_daemon at most once per second). Messages on
 * stderr, results on stdout, exit status as in ctl-kvp.h.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl/ctl-kvp.h"

/* Name of the status file below the run directory (--run-dir, default /run/hvguest). */
#define CTL_TIME_STATUS_FILE "timesync.json"
/* Larger status files are refused: the real one is well under 1 KiB. */
#define CTL_TIME_STATUS_MAX 65536u
/* A status older than this (µs) means the daemon is probably not running (watchdog 30 s). */
#define CTL_TIME_STALE_USEC (30u * 1000000u)

/*
 * One status file, parsed. Strings are NUL-terminated UTF-8 (JSON escapes decoded, bytes
 * that are not UTF-8 read as U+FFFD, longer ones truncated at a character boundary, null
 * read as ""); has_* is false when the file holds null for that number.
 */
typedef struct CtlTimeStatus {
	char mode[32];	  /* "discipline" or "monitor" */
	bool adjusting;	  /* whether the daemon steers CLOCK_REALTIME */
	char reason[256]; /* why not adjusting, or "" */
	char phc[256];	  /* the PTP clock's path */
	char state[32];	  /* servo state */
	double offset_ns; /* system clock minus host clock, ns (positive: guest ahead) */
	bool has_offset;
	double frequency_ppb; /* kernel frequency correction, ppb */
	bool has_frequency;
	bool stale; /* the host's samples stopped changing (hold-over) */
	bool synced;
	uint64_t steps;		 /* steps the daemon made */
	uint64_t external_steps; /* steps someone else made */
	uint64_t events;	 /* pause/migration events seen */
	double last_step_ns;	 /* size of the last step, ns, signed like offset_ns */
	bool has_last_step;
	char last_event[256];  /* description of the last event, or "" */
	uint64_t updated_usec; /* CLOCK_REALTIME of the write, µs since the epoch */
} CtlTimeStatus;

/*
 * Parses the JSON object text[0..len) of a status file into *ret. Every key of the format
 * must be present with its type (strings, and numbers where has_* exists, may be null);
 * unknown keys are skipped (any JSON value), so newer daemons stay readable. Pure. Returns 0, or
 * -EBADMSG with a human-readable reason in err[0..err_size) ("missing key \"mode\"", "line 3:
 * ...").
 */
int ctl_time_status_parse(const char *text, size_t len, CtlTimeStatus *ret, char *err,
			  size_t err_size);

/*
 * Formats ns (signed) with a sign and a unit that keeps three to six significant digits:
 * "+412 ns", "-12.345 µs", "+1.500 ms", "+3.000 s". Returns buf.
 */
char *ctl_time_format_ns(double ns, char *buf, size_t size);

/*
 * Writes the human-readable status (one "Label: value" line each), with the age of the
 * status relative to now_usec (CLOCK_REALTIME µs). Strings from the file are escaped for the
 * terminal. -ENOMEM, or -EIO on a stream error.
 */
int ctl_time_status_print_text(FILE *f, const CtlTimeStatus *s, uint64_t now_usec);

/*
 * hvctl time status [--json] [--run-dir=DIR]: reads DIR/timesync.json (o->vss_run_dir, the
 * shared --run-dir option; default /run/hvguest). CTL_EXIT_IO (3) when there is no status
 * file (the daemon is not running) or it cannot be read, CTL_EXIT_NOT_FOUND (1) when it is
 * malformed. --json prints the validated object as the daemon wrote it (bytes that are not
 * UTF-8 as \ufffd).
 */
CtlExit ctl_time_status(const CtlOptions *o, char *const *args);
