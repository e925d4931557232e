/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/channel.h"
#include "common/daemon-cli.h"
#include "common/event.h"
#include "common/fileio.h"
#include "common/hv-status.h"
#include "common/icmsg.h"
#include "common/log.h"
#include "common/message-id.h"
#include "common/notify.h"
#include "fcopy/fcopy-manager.h"
#include "fcopy/fcopy-msg.h"
#include "fcopy/fcopy-status.h"
#include "fcopy/fcopy-transfer.h"

/* The kernel answers the handshake at once; 5 s is generous even on a loaded guest. */
#define REGISTER_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define RECONNECT_MIN_USEC (100 * USEC_PER_MSEC)
#define RECONNECT_MAX_USEC (5 * USEC_PER_SEC)
/* RUN_DIR/fcopy-inflight: the directory of a transfer with a named temporary file. */
#define INFLIGHT_FILE "fcopy-inflight"
#define INFLIGHT_TMP_PREFIX ".fcopy-inflight."
/*
 * Largest message: an IC header plus WRITE_TO_FILE (the char device sends less). Twice that,
 * so that an over-long message arrives whole and is judged by the decoder, not truncated.
 */
#define IN_BUFFER_SIZE (2 * (ICMSG_HDR + FCOPY_WRITE_SIZE))

/* Our IC versions in preference order (hyperv-abi.md §2.3): what the kernel offered < 6.10. */
static const IcVersion fcopy_fw_versions[] = { { 3, 0 } };
static const IcVersion fcopy_svc_versions[] = { { 1, 1 } };

/* receive_burst(): longest wait for the next message, longest stay away from the loop (µs). */
#define BURST_WAIT_USEC (100 * USEC_PER_MSEC)
#define BURST_MAX_USEC (1000 * USEC_PER_MSEC)

typedef struct FcopyFraming FcopyFraming;

struct Manager {
	const FcopySettings *settings;
	FcopyPolicy policy;
	const FcopyFraming *framing;
	char *label; /* the channel, for log lines */
	Event *event;
	EventSource *io, *reconnect_timer, *kick_timer;
	HvChannel *channel;
	uint64_t reconnect_delay_usec;
	bool exit_on_loss;   /* discovered uio node: a withdrawn channel ends the daemon */
	int run_fd;	     /* settings->run_dir, -EBADF when unusable (no crash cleanup then) */
	FcopyStatus *status; /* RUN/fcopy-status for hvctl status; NULL without run_fd */

	/* The transfer in progress (at most one: the host sends one file at a time). */
	FcopyTransfer *transfer;
	char dest[2 * FCOPY_NAME_SIZE + 1]; /* "path/file", for log and status lines */
	uint64_t received;		    /* highest offset + size written so far, bytes */
	uint64_t started_usec;		    /* CLOCK_MONOTONIC at START */
	bool inflight;			    /* INFLIGHT_FILE names this transfer's directory */

	FcopyRequest req;
	uint8_t in[IN_BUFFER_SIZE];
	uint8_t out[FCOPY_CHARDEV_REPLY_SIZE];
};

/*
 * One per transport: handles the message in m->in[0..len) and sets the reply to send
 * (*ret_len 0: nothing can be answered).
 */
struct FcopyFraming {
	const char *name;
	/*
	 * uio: keep reading until the ring is empty (no interrupt comes for packets already
	 * queued). Char device: the kernel queues the next message only after our reply, so a
	 * second read would only cost a zero-timeout poll per message.
	 */
	bool drain;
	void (*handle)(Manager *m, size_t len, const void **ret_reply, size_t *ret_len);
};

static int check_register_reply(const void *reply, size_t len, void *userdata)
{
	return fcopy_msg_parse_chardev_register_reply(reply, len);
}

void fcopy_chardev_registration(uint8_t msg[FCOPY_CHARDEV_REPLY_SIZE], HvRegistration *ret)
{
	fcopy_msg_build_chardev_register(msg);
	*ret = (HvRegistration){
		.msg = msg,
		.msg_len = FCOPY_CHARDEV_REPLY_SIZE,
		.reply_size = FCOPY_CHARDEV_REPLY_SIZE,
		.reply_timeout_usec = REGISTER_TIMEOUT_USEC,
		.check_reply = check_register_reply,
	};
}

/*
 * The host knows three answers to a file copy step (hyperv-abi.md §2.4): the shared mapping's
 * finer codes (HV_INVALIDARG, HV_S_CONT, ...) would only confuse Copy-VMFile.
 */
static uint32_t status_from_errno(int r)
{
	uint32_t s = hv_status_from_errno(r);

	if (s == HV_S_OK || s == HV_ERROR_ALREADY_EXISTS || s == HV_ERROR_DISK_FULL)
		return s;
	return HV_E_FAIL;
}

static void inflight_record(Manager *m, const char *dir)
{
	char text[FCOPY_NAME_SIZE + 2];
	int n, r;

	if (m->run_fd < 0)
		return;
	n = snprintf(text, sizeof(text), "%s\n", dir);
	if (n < 0 || (size_t)n >= sizeof(text))
		return;
	r = write_file_atomic_at(m->run_fd, INFLIGHT_FILE, INFLIGHT_TMP_PREFIX, text, (size_t)n,
				 0600);
	if (r < 0) {
		log_warning_errno(r, "Could not record '%s' for crash cleanup, ignoring: %m", dir);
		return;
	}
	m->inflight = true;
}

static void inflight_clear(Manager *m)
{
	if (!m->inflight)
		return;
	m->inflight = false;
	if (unlinkat(m->run_fd, INFLIGHT_FILE, 0) < 0 && errno != ENOENT)
		log_warning_errno(errno, "Could not remove '%s/%s', ignoring: %m",
				  m->settings->run_dir, INFLIGHT_FILE);
}

/* Start-up: a crashed instance may have left a named temporary file; remove it. */
static void inflight_cleanup_stale(Manager *m)
{
	_cleanup_free_ char *text = NULL;
	size_t size;
	int r;

	if (m->run_fd < 0)
		return;
	r = read_full_file_at(m->run_fd, INFLIGHT_FILE, PATH_MAX, &text, &size);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		log_warning_errno(r, "Could not read '%s/%s', ignoring: %m", m->settings->run_dir,
				  INFLIGHT_FILE);
		return;
	}
	if (size > 0 && text[size - 1] == '\n')
		text[--size] = '\0';
	if (text[0] != '/' || strlen(text) != size) {
		log_warning("'%s/%s' does not name a directory, ignoring it.", m->settings->run_dir,
			    INFLIGHT_FILE);
	} else {
		r = fcopy_cleanup_stale(text);
		if (r < 0)
			log_notice_errno(r,
					 "Could not clean up after an interrupted copy in '%s': %m",
					 text);
		else
			log_info("Removed %d temporary file(s) an interrupted copy left in '%s'.",
				 r, text);
	}
	if (unlinkat(m->run_fd, INFLIGHT_FILE, 0) < 0)
		log_warning_errno(errno, "Could not remove '%s/%s', ignoring: %m",
				  m->settings->run_dir, INFLIGHT_FILE);
}

/*
 * The one journald entry of a transfer (contract E). reason NULL: the outcome is r (0:
 * delivered). status is what the host was answered for the step that ended it.
 */
static void transfer_end(Manager *m, int r, uint32_t status, const char *reason)
{
	uint64_t usec = now_usec(CLOCK_MONOTONIC) - m->started_usec;
	char f_dest[sizeof(m->dest) + 16], f_size[48], f_usec[48], f_status[32];
	const char *const *fields;

	(void)snprintf(f_dest, sizeof(f_dest), "HV_FCOPY_DEST=%s", m->dest);
	(void)snprintf(f_size, sizeof(f_size), "HV_FCOPY_SIZE=%" PRIu64, m->received);
	(void)snprintf(f_usec, sizeof(f_usec), "HV_FCOPY_DURATION_USEC=%" PRIu64, usec);
	(void)snprintf(f_status, sizeof(f_status), "HV_STATUS=0x%08" PRIx32, status);
	fields = LOG_FIELDS("HV_OP=fcopy", f_dest, f_size, f_usec, f_status,
			    reason || r < 0 ? HV_MESSAGE_ID_FILE_COPY_FAILED
					    : HV_MESSAGE_ID_FILE_RECEIVED);

	if (reason)
		log_fields_errno(LOG_INFO, 0, fields, "File copy to %s ended: %s.", m->dest,
				 reason);
	else if (r < 0)
		log_fields_errno(LOG_NOTICE, r, fields, "File copy to %s ended: %m.", m->dest);
	else
		log_fields_errno(LOG_INFO, 0, fields,
				 "Received %s (%" PRIu64 " bytes in %" PRIu64 " ms).", m->dest,
				 m->received, usec / USEC_PER_MSEC);
	(void)notify_status("Last: %s (%" PRIu64 " bytes, %s)", m->dest, m->received,
			    reason  ? reason
			    : r < 0 ? hv_status_to_string(status)
				    : "ok");
	/* Abandoned (reason given: host cancel, new START, channel lost, stop) is "cancelled". */
	r = fcopy_status_note_transfer(m->status, m->dest, m->received,
				       reason  ? FCOPY_RESULT_CANCELLED
				       : r < 0 ? FCOPY_RESULT_FAILED
					       : FCOPY_RESULT_OK);
	if (r < 0)
		log_debug("Could not update '%s', ignoring: %s", FCOPY_STATUS_FILE, strerror(-r));
	m->transfer = fcopy_transfer_free(m->transfer);
	inflight_clear(m);
}

/* Cancels the transfer in progress, if any (nothing is left at the destination). */
static void abandon_transfer(Manager *m, const char *reason)
{
	if (!m->transfer)
		return;
	fcopy_transfer_cancel(m->transfer);
	transfer_end(m, 0, HV_E_FAIL, reason);
}

static uint32_t op_start(Manager *m, const FcopyRequest *req)
{
	size_t n = strlen(req->path_name);
	uint32_t status;
	int r;

	/* The host gave up on the previous file without a CANCEL (hibernation, host restart). */
	abandon_transfer(m, "cancelled by a new START_FILE_COPY");

	/* path_name is absolute (decoder); one trailing '/' is tolerated by the transfer. */
	(void)snprintf(m->dest, sizeof(m->dest), "%.*s/%s",
		       (int)(n > 1 && req->path_name[n - 1] == '/' ? n - 1 : n), req->path_name,
		       req->file_name);
	m->received = 0;
	m->started_usec = now_usec(CLOCK_MONOTONIC);
	r = fcopy_transfer_start(&m->policy, req->path_name, req->file_name, req->copy_flags,
				 req->file_size, &m->transfer);
	if (r < 0) {
		status = status_from_errno(r);
		transfer_end(m, r, status, NULL);
		return status;
	}
	if (fcopy_transfer_uses_named_temp(m->transfer))
		inflight_record(m, req->path_name);
	log_debug("Receiving %s (%" PRIu64 " bytes announced, flags 0x%" PRIx32 ").", m->dest,
		  req->file_size, req->copy_flags);
	(void)notify_status("Receiving %s", m->dest);
	return HV_S_OK;
}

static uint32_t op_write(Manager *m, const FcopyRequest *req)
{
	uint32_t status;
	int r;

	if (!m->transfer) {
		log_notice("Host sent WRITE_TO_FILE without a file copy in progress; answering "
			   "HV_E_FAIL.");
		return HV_E_FAIL;
	}
	r = fcopy_transfer_write(m->transfer, req->offset, req->data, req->size);
	if (r < 0) {
		/* The copy cannot succeed any more: leave nothing behind (disk full above all). */
		status = status_from_errno(r);
		fcopy_transfer_cancel(m->transfer);
		transfer_end(m, r, status, NULL);
		return status;
	}
	m->received = MAX(m->received, req->offset + req->size);
	return HV_S_OK;
}

static uint32_t op_complete(Manager *m)
{
	uint32_t status;
	int r;

	if (!m->transfer) {
		log_notice("Host sent COMPLETE without a file copy in progress; answering "
			   "HV_E_FAIL.");
		return HV_E_FAIL;
	}
	r = fcopy_transfer_complete(m->transfer);
	status = status_from_errno(r);
	transfer_end(m, r, status, NULL);
	return status;
}

static uint32_t op_cancel(Manager *m)
{
	if (!m->transfer) {
		/* Also what hibernation's fake CANCEL looks like: nothing to undo. */
		log_debug("Host sent CANCEL without a file copy in progress.");
		return HV_S_OK;
	}
	fcopy_transfer_cancel(m->transfer);
	transfer_end(m, 0, HV_S_OK, "cancelled");
	return HV_S_OK;
}

static uint32_t dispatch(Manager *m, const FcopyRequest *req)
{
	switch (req->op) {
	case FCOPY_OP_START_FILE_COPY:
		return op_start(m, req);
	case FCOPY_OP_WRITE_TO_FILE:
		return op_write(m, req);
	case FCOPY_OP_COMPLETE:
		return op_complete(m);
	case FCOPY_OP_CANCEL:
		return op_cancel(m);
	case _FCOPY_OP_MAX:
	case _FCOPY_OP_INVALID:
		break;
	}
	return HV_E_FAIL;
}

/* A body the decoder refused: say which operation it claimed to be. */
static uint32_t invalid_message(Manager *m, int r, const uint8_t *body, size_t len)
{
	uint32_t op = UINT32_MAX;

	if (len >= sizeof(op))
		op = (uint32_t)body[0] | (uint32_t)body[1] << 8 | (uint32_t)body[2] << 16 |
		     (uint32_t)body[3] << 24;
	log_notice_errno(r,
			 "Host sent an invalid %s message (operation %" PRIu32 ", %zu bytes); "
			 "answering HV_E_FAIL: %m",
			 op < _FCOPY_OP_MAX ? fcopy_op_to_string((FcopyOp)op) : "file copy", op,
			 len);
	return HV_E_FAIL;
}

static void chardev_handle(Manager *m, size_t len, const void **ret_reply, size_t *ret_len)
{
	uint32_t status;
	int r = fcopy_msg_decode_chardev(m->in, len, &m->req);

	status = r < 0 ? invalid_message(m, r, m->in, len) : dispatch(m, &m->req);
	fcopy_msg_build_chardev_reply(m->out, status);
	*ret_reply = m->out;
	*ret_len = sizeof(m->out);
}

static void ic_handle(Manager *m, size_t len, const void **ret_reply, size_t *ret_len)
{
	IcVersion fw, svc;
	IcMsgHeader h;
	uint32_t status;
	int r;

	*ret_len = 0;
	if (icmsg_parse_header(m->in, len, &h) < 0) {
		log_notice("Host sent a %zu-byte packet, too short for an IC header; ignoring it.",
			   len);
		return;
	}
	switch (h.msgtype) {
	case ICMSGTYPE_NEGOTIATE:
		/* Writes the reply in place, failures included. */
		r = icmsg_negotiate(m->in, len, fcopy_fw_versions, ELEMENTSOF(fcopy_fw_versions),
				    fcopy_svc_versions, ELEMENTSOF(fcopy_svc_versions), &fw, &svc);
		if (r < 0)
			log_notice_errno(r, "Version negotiation with the host failed: %m");
		else
			log_info("Host negotiated framework %u.%u, file copy %u.%u.", fw.major,
				 fw.minor, svc.major, svc.minor);
		break;
	case ICMSGTYPE_FCOPY:
		r = fcopy_msg_decode_ic(m->in + ICMSG_HDR, len - ICMSG_HDR, &m->req);
		status = r < 0 ? invalid_message(m, r, m->in + ICMSG_HDR, len - ICMSG_HDR)
			       : dispatch(m, &m->req);
		(void)icmsg_set_response(m->in, len, status);
		break;
	default:
		log_notice("Host sent IC message type %u on the file copy channel; answering "
			   "HV_E_FAIL.",
			   h.msgtype);
		(void)icmsg_set_response(m->in, len, HV_E_FAIL);
		break;
	}
	*ret_reply = m->in;
	*ret_len = len;
}

static const FcopyFraming chardev_framing = { .name = "char device",
					      .drain = false,
					      .handle = chardev_handle };
static const FcopyFraming ic_framing = { .name = "uio", .drain = true, .handle = ic_handle };

static int connect_channel(Manager *m)
{
	int r = channel_connect(m->channel);
	if (r < 0)
		return r;
	r = event_source_set_io_fd(m->io, channel_get_fd(m->channel));
	if (r >= 0)
		r = event_source_set_enabled(m->io, true);
	/* uio: packets queued before the RX mask was cleared raise no interrupt; look once. */
	if (r >= 0)
		r = event_source_set_time(m->kick_timer, 0);
	return r;
}

/*
 * Channel lost or broken: cancel the open transfer and connect again after a delay that
 * doubles while losses follow each other without a reply sent in between (a rescinded uio
 * channel maps again fine but fails at once); the next reply sent resets it.
 */
/* A uio channel the host withdrew (rescind: EIO), or whose node is gone. */
static bool channel_withdrawn(int error)
{
	error = abs(error);
	return error == EIO || error == ENODEV || error == ENOENT || error == ENXIO ||
	       error == ECONNRESET;
}

/*
 * Discovered uio node only: the host re-offers a withdrawn channel as a new VMBus device, whose
 * udev event starts us again (possibly on another uioN), so end cleanly instead of reopening a
 * node that is gone.
 */
static int exit_withdrawn(Manager *m, int reason)
{
	log_info_errno(reason,
		       "The host withdrew the file copy channel %s (%m); exiting until it "
		       "is offered again.",
		       m->label);
	abandon_transfer(m, "channel withdrawn");
	channel_disconnect(m->channel);
	(void)notify_status("The host withdrew the file copy channel");
	return event_exit(m->event, 0);
}

static int manager_reconnect(Manager *m, int reason)
{
	int r;

	if (m->exit_on_loss && channel_withdrawn(reason))
		return exit_withdrawn(m, reason);

	if (m->reconnect_delay_usec <= RECONNECT_MIN_USEC)
		log_notice_errno(reason, "Lost the channel %s, connecting again: %m", m->label);
	else
		log_debug_errno(reason, "Lost the channel %s again, next try in %" PRIu64 " ms: %m",
				m->label, m->reconnect_delay_usec / USEC_PER_MSEC);
	abandon_transfer(m, "channel lost");
	(void)event_source_set_time(m->kick_timer, USEC_INFINITY);
	channel_disconnect(m->channel);
	(void)notify_status("Waiting for %s", m->label);
	r = event_source_set_enabled(m->io, false);
	if (r >= 0)
		r = event_source_set_time_relative(m->reconnect_timer, m->reconnect_delay_usec);
	m->reconnect_delay_usec = MIN(m->reconnect_delay_usec * 2, RECONNECT_MAX_USEC);
	return r;
}

static int on_reconnect_timer(EventSource *s, uint64_t usec, void *userdata)
{
	Manager *m = userdata;
	int r = connect_channel(m);

	if (r < 0 && m->exit_on_loss && channel_withdrawn(r))
		return exit_withdrawn(m, r);
	if (r < 0) {
		log_debug_errno(r, "Connecting did not work yet, next try in %" PRIu64 " ms: %m",
				m->reconnect_delay_usec / USEC_PER_MSEC);
		r = event_source_set_time_relative(s, m->reconnect_delay_usec);
		m->reconnect_delay_usec = MIN(m->reconnect_delay_usec * 2, RECONNECT_MAX_USEC);
		return r;
	}
	/* Quiet while a dead channel keeps failing right after each connect. */
	log_full_errno(m->reconnect_delay_usec <= 2 * RECONNECT_MIN_USEC ? LOG_INFO : LOG_DEBUG, 0,
		       "Connected to the host on %s again.", m->label);
	(void)notify_status("Waiting for the host");
	return 0;
}

/*
 * Char device, while a transfer runs: the host sends the next WRITE as soon as it has our
 * reply, so wait for it in a short blocking read instead of going back to poll(2) first
 * (under the FUSE simulator every poll is one more round trip per 6 KiB fragment, which made
 * us slower than upstream's plain read loop). Back to the event loop when the host pauses
 * (BURST_WAIT_USEC), when the transfer ends, and at least every BURST_MAX_USEC so the watchdog
 * and signals are served.
 */
static int receive_burst(Manager *m)
{
	uint64_t end = now_usec(CLOCK_MONOTONIC) + BURST_MAX_USEC;

	while (m->transfer && now_usec(CLOCK_MONOTONIC) < end) {
		const void *reply = NULL;
		size_t len, reply_len;
		int r;

		r = channel_recv_wait(m->channel, BURST_WAIT_USEC, m->in, sizeof(m->in), &len);
		if (r == -EAGAIN || r == -EOPNOTSUPP)
			return 0;
		if (r < 0)
			return manager_reconnect(m, r);
		m->framing->handle(m, len, &reply, &reply_len);
		if (reply_len == 0)
			continue;
		r = channel_send(m->channel, reply, reply_len);
		if (r < 0)
			return manager_reconnect(m, r);
	}
	return 0;
}

/* Handles every queued message (uio: the interrupt stays masked until the ring is empty). */
static int process_input(Manager *m, short revents)
{
	short first = revents;

	for (;;) {
		const void *reply = NULL;
		size_t len, reply_len;
		int r;

		r = channel_recv(m->channel, revents, m->in, sizeof(m->in), &len);
		revents = 0;
		if (r == -EAGAIN)
			return (first & (POLLERR | POLLHUP | POLLNVAL)) ? manager_reconnect(m, EIO)
									: 0;
		if (r < 0)
			return manager_reconnect(m, r);
		first = 0;
		m->framing->handle(m, len, &reply, &reply_len);
		if (reply_len == 0)
			continue;
		r = channel_send(m->channel, reply, reply_len);
		if (r < 0)
			return manager_reconnect(m, r);
		m->reconnect_delay_usec = RECONNECT_MIN_USEC;
		if (!m->framing->drain)
			return m->transfer ? receive_burst(m) : 0;
	}
}

static int on_channel(EventSource *s, int fd, short revents, void *userdata)
{
	return process_input(userdata, revents);
}

static int on_kick(EventSource *s, uint64_t usec, void *userdata)
{
	return process_input(userdata, 0);
}

static int on_signal(EventSource *s, const struct signalfd_siginfo *si, void *userdata)
{
	Manager *m = userdata;

	(void)notify_stopping();
	abandon_transfer(m, "daemon stopping");
	return event_exit(m->event, 0);
}

int manager_new(const FcopySettings *settings, FcopyTransport transport, HvChannel *ch,
		const char *label, Manager **ret)
{
	_cleanup_(manager_freep) Manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return log_oom();
	m->settings = settings;
	m->run_fd = -EBADF;
	m->reconnect_delay_usec = RECONNECT_MIN_USEC;
	switch (transport) {
	case FCOPY_TRANSPORT_CHARDEV:
		m->framing = &chardev_framing;
		break;
	case FCOPY_TRANSPORT_IC:
		m->framing = &ic_framing;
		break;
	case _FCOPY_TRANSPORT_MAX:
	case _FCOPY_TRANSPORT_INVALID:
		return log_error_errno(EINVAL, "Unknown file copy transport %d.", (int)transport);
	}
	r = fcopy_settings_policy(settings, &m->policy);
	if (r < 0)
		return log_error_errno(r, "Could not resolve owner '%s' / group '%s': %m",
				       strna(settings->owner), strna(settings->group));
	m->label = strdup(label);
	if (!m->label)
		return log_oom();

	r = event_new(&m->event);
	if (r >= 0)
		r = event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
	if (r >= 0)
		r = event_add_signal(m->event, NULL, SIGINT, on_signal, m);
	if (r >= 0)
		r = event_add_io(m->event, &m->io, -EBADF, POLLIN, on_channel, m);
	if (r >= 0)
		r = event_source_set_enabled(m->io, false);
	if (r >= 0)
		r = event_add_time(m->event, &m->reconnect_timer, USEC_INFINITY, on_reconnect_timer,
				   m);
	if (r >= 0)
		r = event_add_time(m->event, &m->kick_timer, USEC_INFINITY, on_kick, m);
	if (r < 0)
		return log_error_errno(r, "Could not set up the event loop: %m");
	(void)signal(SIGPIPE, SIG_IGN);
	m->channel = ch;
	*ret = TAKE_PTR(m);
	return 0;
}

int manager_start(Manager *m)
{
	const char *run_dir = m->settings->run_dir;
	int r;

	r = mkdir_p(run_dir, 0755);
	if (r >= 0)
		r = open_dir(run_dir);
	if (r < 0)
		log_notice_errno(r, "Cannot use '%s', no cleanup after a crash: %m", run_dir);
	else
		m->run_fd = r;
	inflight_cleanup_stale(m);
	if (m->run_fd >= 0) {
		r = fcopy_status_new(m->run_fd, m->label,
				     m->framing == &ic_framing ? "uio" : "chardev", &m->status);
		if (r < 0)
			log_warning_errno(r, "Could not write '%s/%s', ignoring: %m", run_dir,
					  FCOPY_STATUS_FILE);
	}

	r = connect_channel(m);
	if (r == -EBUSY)
		return log_error_errno(r, "%s is busy: another file copy daemon is running.",
				       m->label);
	if (r < 0)
		return log_error_errno(r, "Could not connect to the host on %s: %m", m->label);
	log_info("Connected to the host on %s (%s).", m->label, m->framing->name);
	(void)notify_ready();
	(void)notify_status("Waiting for the host");
	return 0;
}

int manager_run(Manager *m)
{
	return daemon_run_event_loop(m->event);
}

void manager_set_exit_on_loss(Manager *m, bool b)
{
	m->exit_on_loss = b;
}

int manager_run_once(Manager *m, uint64_t timeout_usec)
{
	return event_run(m->event, timeout_usec);
}

Manager *manager_free(Manager *m)
{
	if (!m)
		return NULL;
	abandon_transfer(m, "daemon stopping");
	channel_free(m->channel);
	event_source_free(m->io);
	event_source_free(m->reconnect_timer);
	event_source_free(m->kick_timer);
	event_free(m->event);
	fcopy_status_free(m->status);
	safe_close(m->run_fd);
	free(m->label);
	free(m);
	return NULL;
}
