/* SPDX-License-Identifier: MIT */
/*
 * RUN/fcopy-status: hv_fcopy_daemon's state for `hvctl status`, "key=value" lines like
 * RUN/vss-status. The file exists while the daemon runs (removed on a clean exit), so a reader
 * takes "file present and pid alive" as running. Keys, in this order:
 *   pid, started (CLOCK_REALTIME µs), device (channel label), transport ("chardev" or "uio"),
 *   transfers_ok, transfers_failed, transfers_cancelled (counts since start),
 *   and after the first transfer: last_dest, last_bytes, last_result ("ok", "failed" or
 *   "cancelled"), last_time (CLOCK_REALTIME µs of the end).
 * Rewritten when a transfer ends: a host needs several messages per file, so this is rare.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

#define FCOPY_STATUS_FILE "fcopy-status"

typedef enum FcopyResult {
	FCOPY_RESULT_OK,
	FCOPY_RESULT_FAILED,
	FCOPY_RESULT_CANCELLED,
	_FCOPY_RESULT_MAX,
	_FCOPY_RESULT_INVALID = -EINVAL,
} FcopyResult;

/* "ok", "failed", "cancelled"; NULL for an invalid value. */
const char *fcopy_result_to_string(FcopyResult r);

typedef struct FcopyStatusInfo {
	pid_t pid;
	uint64_t started_usec; /* CLOCK_REALTIME µs */
	const char *device;
	const char *transport;
	uint64_t transfers[_FCOPY_RESULT_MAX];
	const char *last_dest; /* NULL until the first transfer ended */
	uint64_t last_bytes;
	FcopyResult last_result;
	uint64_t last_usec; /* CLOCK_REALTIME µs */
} FcopyStatusInfo;

/*
 * Formats info as the file's text into buf[0..size), NUL-terminated. A newline or CR in
 * last_dest (a host-chosen name) is written as '?', so it cannot forge a key. Pure.
 * Returns the length, or -ENOBUFS when buf is too small.
 */
int fcopy_status_format(const FcopyStatusInfo *info, char *buf, size_t size);

typedef struct FcopyStatus FcopyStatus;

/*
 * Starts the status file in the directory run_fd (not taken over: it must outlive s) and
 * writes it once. device and transport are copied. Returns 0, -ENOMEM, or the errno of the
 * first write.
 */
int fcopy_status_new(int run_fd, const char *device, const char *transport, FcopyStatus **ret);

/* Records a finished transfer and rewrites the file. NULL s is ignored. 0 or a negative errno. */
int fcopy_status_note_transfer(FcopyStatus *s, const char *dest, uint64_t bytes,
			       FcopyResult result);

/* Removes the file (clean exit), frees s. Accepts NULL; returns NULL. */
FcopyStatus *fcopy_status_free(FcopyStatus *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(FcopyStatus *, fcopy_status_free);
