/* SPDX-License-Identifier: MIT */
/*
 * RUN/kvp-status: hv_kvp_daemon's state for `hvctl status`, "key=value" lines like
 * RUN/vss-status. The file exists while the daemon runs (removed on a clean exit), so a reader
 * takes "file present and pid alive" as running. Keys, in this order:
 *   pid, started (CLOCK_REALTIME µs), device,
 *   requests_get, requests_set, requests_delete, requests_enumerate, requests_get_ip_info,
 *   requests_set_ip_info, requests_invalid (counts since start),
 *   and after the first request: last_op (kvp_op_to_string(), or "op-N" for an unknown one),
 *   last_pool, last_status (hv_status_to_string()), last_time (CLOCK_REALTIME µs).
 * Rewritten at most once per second, and only after something changed: an idle daemon arms
 * no timer at all.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/event.h"
#include "common/macro.h"
#include "kvp/kvp-msg.h"

#define KVP_STATUS_FILE "kvp-status"
/* Where the file goes when systemd gives no $RUNTIME_DIRECTORY (shared with the other daemons). */
#define KVP_RUN_DIR "/run/hvguest"
/* Shortest time between two writes of the file, µs. */
#define KVP_STATUS_INTERVAL_USEC USEC_PER_SEC

/* What the file says. */
typedef struct KvpStatusInfo {
	pid_t pid;
	uint64_t started_usec; /* CLOCK_REALTIME µs */
	const char *device;
	uint64_t requests[_KVP_OP_MAX]; /* by operation */
	uint64_t requests_invalid;	/* undecodable messages */
	bool has_last;			/* false until the first request */
	uint8_t last_op;		/* raw operation code */
	uint8_t last_pool;		/* raw pool number */
	uint32_t last_status;		/* HV status answered */
	uint64_t last_usec;		/* CLOCK_REALTIME µs of the answer */
} KvpStatusInfo;

/*
 * Formats info as the file's text (see above) into buf[0..size), NUL-terminated. Pure.
 * Returns the length, or -ENOBUFS when buf is too small.
 */
int kvp_status_format(const KvpStatusInfo *info, char *buf, size_t size);

typedef struct KvpStatus KvpStatus;

/*
 * Starts the status file in the directory run_fd (taken over, also on failure) and writes it
 * once. device is copied. The one-shot rate-limit timer lives in e. Returns 0, -ENOMEM, or
 * the errno of the first write (the caller may go on without a status then).
 */
int kvp_status_new(Event *e, int run_fd, const char *device, KvpStatus **ret);

/*
 * Counts one answered request: valid false for a message that could not be decoded (op and
 * pool are then the raw bytes). Schedules a write at most KVP_STATUS_INTERVAL_USEC after the
 * previous one. NULL s is ignored.
 */
void kvp_status_note_request(KvpStatus *s, bool valid, uint8_t raw_op, uint8_t raw_pool,
			     uint32_t hv_status);

/* The current state (for tests). */
const KvpStatusInfo *kvp_status_info(const KvpStatus *s);

/* Removes the file (clean exit), frees s. Accepts NULL; returns NULL. */
KvpStatus *kvp_status_free(KvpStatus *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpStatus *, kvp_status_free);
