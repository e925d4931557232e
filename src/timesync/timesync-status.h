/* SPDX-License-Identifier: MIT */
/*
 * RUN/timesync.json: the daemon's state for `hvctl time status`. One JSON object with the keys
 * "mode","adjusting","reason","phc","state","offset_ns","frequency_ppb","stale","synced","steps",
 * "external_steps","events","last_step_ns","last_event","updated_usec".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMESYNC_STATUS_FILE "timesync.json"

typedef struct TimesyncStatusInfo {
	const char *mode;	      /* "discipline" or "monitor" */
	bool adjusting;		      /* we are adjusting the system clock */
	const char *reason;	      /* why not adjusting, "" when adjusting */
	const char *phc;	      /* device path; NULL: none (JSON null) */
	const char *state;	      /* servo state ("unlocked", "locked", ...) or "holdover" */
	double offset_ns;	      /* local minus reference, ns; NaN: no measurement (null) */
	double frequency_ppb;	      /* frequency correction applied, ppb (positive = faster) */
	bool stale;		      /* the PHC answers -ESTALE (no host sample for 600 s) */
	bool synced;		      /* locked and |offset| small */
	uint64_t n_steps;	      /* steps we made */
	uint64_t n_external_steps;    /* steps someone else made, detected */
	uint64_t n_events;	      /* pauses, migrations and other discontinuities */
	int64_t last_step_ns;	      /* size of the last step we made (ns, signed), 0: none */
	const char *last_event;	      /* description of the last event; "" or NULL: none ("") */
	uint64_t updated_realtime_ns; /* CLOCK_REALTIME of this update (ns); JSON: µs */
} TimesyncStatusInfo;

/**
 * timesync_status_format_json() - format @info as one JSON object followed by a newline
 * @info: the state; NULL strings become JSON null, non-finite numbers null
 * @buf: output, NUL-terminated on success
 * @size: size of @buf
 *
 * offset_ns has one decimal, frequency_ppb three; strings are escaped (", \, control characters
 * as \uXXXX; bytes >= 0x80 are passed through). Returns the length written (without the NUL) or
 * -ENOBUFS when @buf is too small (its content is unspecified then).
 */
int timesync_status_format_json(const TimesyncStatusInfo *info, char *buf, size_t size);

/**
 * timesync_status_write() - replace RUN/timesync.json atomically (mode 0644)
 * @run_dir_fd: the run directory
 * @info: the state
 *
 * Returns 0 or a negative errno (-ENOBUFS when the formatted state exceeds 4 KiB).
 */
int timesync_status_write(int run_dir_fd, const TimesyncStatusInfo *info);
