/* SPDX-License-Identifier: MIT */
/*
 * The fcopy Manager owns hv_fcopy_daemon: the event loop, the channel to the kernel (char
 * device or uio ring), the one transfer in progress and the crash-cleanup record. It turns
 * each host message into a transfer step and answers it; every non-debug log line of the
 * daemon is written here, including one journald entry per transfer.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/channel.h"
#include "common/macro.h"
#include "fcopy/fcopy-msg.h"
#include "fcopy/fcopy-settings.h"

/* How host messages are framed on the channel (hyperv-abi.md §8.2 vs §8.6). */
typedef enum FcopyTransport {
	FCOPY_TRANSPORT_CHARDEV, /* kernel < 6.10: bare bodies, UTF-8 names, 4-byte status reply */
	FCOPY_TRANSPORT_IC,	 /* uio: IC header + negotiation, UTF-16LE names, echoed reply */
	_FCOPY_TRANSPORT_MAX,
	_FCOPY_TRANSPORT_INVALID = -EINVAL,
} FcopyTransport;

typedef struct Manager Manager;

/*
 * Fills *ret with the char-device registration: the 4-byte FCOPY_VERSION_1 handshake built
 * into msg (which must outlive the channel) and the check of the kernel's 4-byte reply.
 */
void fcopy_chardev_registration(uint8_t msg[FCOPY_CHARDEV_REPLY_SIZE], HvRegistration *ret);

/*
 * Builds the manager around ch, which it takes over on success (freed by manager_free()).
 * label names the channel in log lines (device path). Resolves the settings' owner/group.
 * Does not connect yet. Logs its own failures.
 */
int manager_new(const FcopySettings *settings, FcopyTransport transport, HvChannel *ch,
		const char *label, Manager **ret);
/* Cancels the transfer in progress (nothing is left at the destination), frees everything. */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/*
 * Removes temporary files a crashed instance left (RUN_DIR/fcopy-inflight), connects the
 * channel, then tells systemd READY=1. Logs its own failures.
 */
int manager_start(Manager *m);

/* Runs the event loop until SIGTERM/SIGINT. Returns 0 or a negative errno. */
int manager_run(Manager *m);

/*
 * For a uio node found by discovery: when the host withdraws the channel (EIO, end of file, or
 * the node gone on reopen) cancel the transfer and end manager_run() with 0 instead of
 * reconnecting; the re-offered channel is a new VMBus device whose udev event starts the daemon
 * again. Default off (reconnect), which suits the char device and inherited descriptors.
 */
void manager_set_exit_on_loss(Manager *m, bool b);

/*
 * Runs one event-loop iteration, waiting at most timeout_usec: for tests that play the
 * kernel in the same process. Returns like event_run().
 */
int manager_run_once(Manager *m, uint64_t timeout_usec);
