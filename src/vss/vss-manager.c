/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/channel.h"
#include "common/daemon-cli.h"
#include "common/event.h"
#include "common/hv-status.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/worker.h"
#include "vss/vss-backup.h"
#include "vss/vss-manager.h"
#include "vss/vss-msg.h"

#define REGISTER_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define RECONNECT_MIN_USEC (100 * USEC_PER_MSEC)
#define RECONNECT_MAX_USEC (5 * USEC_PER_SEC)

struct Manager {
	const VssSettings *settings;
	VssBackupEnv env;
	Event *event;
	EventSource *io, *reconnect_timer, *deadline_timer;
	HvChannel *channel;
	Worker *worker;
	uint64_t reconnect_delay_usec;
	bool exiting;	    /* SIGTERM seen: thaw, then leave */
	bool reply_pending; /* the worker's job answers a host request */

	VssRequest req;
	VssBackup *backup;     /* frozen backup, between FREEZE and its thaw */
	VssBackup *job_backup; /* written by the FREEZE job, taken after collect */
	VssBackup *finishing;  /* thawed, its thaw hooks running on the worker */
	int finishing_thaw_result;
	uint8_t register_msg[VSS_MSG_SIZE];
	uint8_t in[64];
	uint8_t out[VSS_MSG_SIZE];
};

static int check_register_reply(const void *reply, size_t len, void *userdata)
{
	return vss_msg_parse_register_reply(reply, len);
}

static int job_freeze(void *userdata)
{
	Manager *m = userdata;

	return vss_backup_freeze(&m->env, &m->job_backup);
}

static int job_finish(void *userdata)
{
	Manager *m = userdata;

	/* The thaw hooks may take a while: off the loop, after the host has its answer. */
	vss_backup_finish(m->finishing, "host", m->finishing_thaw_result);
	return 0;
}

static void thaw_now(Manager *m, const char *why)
{
	if (!m->backup)
		return;
	(void)event_source_set_time(m->deadline_timer, USEC_INFINITY);
	(void)vss_backup_thaw(m->backup, why);
	m->backup = vss_backup_free(m->backup);
}

static int connect_channel(Manager *m)
{
	int r = channel_connect(m->channel);
	if (r < 0)
		return r;
	return event_source_set_io_fd(m->io, channel_get_fd(m->channel));
}

static int manager_reconnect(Manager *m)
{
	int r;

	/* A reopen means the host's view of this backup is gone: thaw first (upstream rule). */
	thaw_now(m, "reconnect");
	channel_disconnect(m->channel);
	r = connect_channel(m);
	if (r >= 0)
		return 0;
	log_notice_errno(r, "Could not register with %s, retrying: %m", m->settings->device);
	r = event_source_set_enabled(m->io, false);
	if (r < 0)
		return r;
	m->reconnect_delay_usec = RECONNECT_MIN_USEC;
	return event_source_set_time_relative(m->reconnect_timer, m->reconnect_delay_usec);
}

static int on_reconnect_timer(EventSource *s, uint64_t usec, void *userdata)
{
	Manager *m = userdata;
	int r = connect_channel(m);

	if (r < 0) {
		m->reconnect_delay_usec = MIN(m->reconnect_delay_usec * 2, RECONNECT_MAX_USEC);
		return event_source_set_time_relative(s, m->reconnect_delay_usec);
	}
	log_info("Registered with the host again.");
	return event_source_set_enabled(m->io, true);
}

static int send_reply(Manager *m, uint32_t status, uint32_t flags)
{
	int r;

	vss_msg_build_reply(m->out, status, flags);
	r = channel_send(m->channel, m->out, VSS_MSG_SIZE);
	if (r < 0) {
		log_notice_errno(r, "The kernel did not take the reply, registering again: %m");
		return manager_reconnect(m);
	}
	return 0;
}

static void log_op(Manager *m, int r, uint32_t status)
{
	char f_op[32], f_status[32];

	snprintf(f_op, sizeof(f_op), "HV_OP=%s", vss_op_to_string((VssOp)m->req.raw_op));
	snprintf(f_status, sizeof(f_status), "HV_STATUS=0x%08x", status);
	log_fields_errno(r < 0 ? LOG_NOTICE : LOG_DEBUG, r, LOG_FIELDS(f_op, f_status),
			 "Host %s answered %s.", vss_op_to_string((VssOp)m->req.raw_op),
			 hv_status_to_string(status));
}

static int on_worker_done(Event *e, void *userdata)
{
	Manager *m = userdata;
	uint32_t status;
	int r;

	if (!worker_collect(m->worker, &r))
		return 0;
	if (m->finishing) {
		m->finishing = vss_backup_free(m->finishing);
		if (m->exiting)
			return event_exit(m->event, 0);
		return 0;
	}
	if (m->req.op == VSS_OP_FREEZE && r >= 0) {
		m->backup = TAKE_PTR(m->job_backup);
		/* Thaw by ourselves if the host never says THAW. */
		(void)event_source_set_time_relative(m->deadline_timer,
						     m->settings->freeze_timeout_usec);
	}
	status = r < 0 ? HV_E_FAIL : HV_S_OK;
	if (m->reply_pending) {
		m->reply_pending = false;
		log_op(m, r, status);
		int s = event_source_set_enabled(m->io, true);
		if (s < 0)
			return s;
		s = send_reply(m, status, 0);
		if (s < 0)
			return s;
	}
	if (m->exiting) {
		thaw_now(m, "shutdown");
		return event_exit(m->event, 0);
	}
	return 0;
}

static int start_job(Manager *m, worker_job_fn fn)
{
	int r = worker_submit(m->worker, fn, m);
	if (r < 0)
		return r;
	m->reply_pending = true;
	/* One host transaction at a time: nothing to read until we answered. */
	return event_source_set_enabled(m->io, false);
}

static int handle_message(Manager *m, size_t len)
{
	uint32_t flags = 0;
	int r;

	r = vss_msg_decode(m->in, len, &m->req);
	if (r >= 0) {
		switch (m->req.op) {
		case VSS_OP_HOT_BACKUP:
			/* FreeBSD-style honesty: say so when quiescing is impossible. */
			r = vss_backup_check(&m->env);
			flags = VSS_HBU_NO_AUTO_RECOVERY;
			break;
		case VSS_OP_FREEZE:
			if (m->backup) {
				r = -EALREADY;
				break;
			}
			r = start_job(m, job_freeze);
			if (r >= 0)
				return 0;
			break;
		case VSS_OP_THAW:
			(void)event_source_set_time(m->deadline_timer, USEC_INFINITY);
			if (!m->backup) {
				/* Thawed at the deadline already, or a hibernation's fake THAW. */
				r = 0;
				break;
			}
			/* Thaw and answer at once; the thaw hooks follow on the worker. */
			r = vss_backup_unfreeze(m->backup);
			m->finishing_thaw_result = r;
			m->finishing = TAKE_PTR(m->backup);
			if (worker_submit(m->worker, job_finish, m) < 0) {
				vss_backup_finish(m->finishing, "host", r);
				m->finishing = vss_backup_free(m->finishing);
			}
			break;
		case VSS_OP_CREATE:
		case VSS_OP_DELETE:
		case VSS_OP_GET_DM_INFO:
		case VSS_OP_BU_COMPLETE:
		case VSS_OP_AUTO_RECOVER:
		case _VSS_OP_MAX:
		case _VSS_OP_INVALID:
			r = -EOPNOTSUPP;
			break;
		}
	}
	uint32_t status = r < 0 ? HV_E_FAIL : HV_S_OK;
	log_op(m, r, status);
	return send_reply(m, status, r < 0 ? 0 : flags);
}

static int on_channel(EventSource *s, int fd, short revents, void *userdata)
{
	Manager *m = userdata;
	size_t len;
	int r;

	r = channel_recv(m->channel, revents, m->in, sizeof(m->in), &len);
	if (r == -EAGAIN)
		return (revents & (POLLERR | POLLHUP | POLLNVAL)) ? manager_reconnect(m) : 0;
	if (r < 0) {
		log_notice_errno(r, "Reading from %s did not work, registering again: %m",
				 m->settings->device);
		return manager_reconnect(m);
	}
	return handle_message(m, len);
}

static int on_deadline(EventSource *s, uint64_t usec, void *userdata)
{
	Manager *m = userdata;

	if (!m->backup || worker_busy(m->worker))
		return 0;
	/* Logged after the thaw, by the backup's record. */
	thaw_now(m, "deadline");
	return 0;
}

static int on_signal(EventSource *s, const struct signalfd_siginfo *si, void *userdata)
{
	Manager *m = userdata;

	(void)notify_stopping();
	m->exiting = true;
	if (worker_busy(m->worker))
		return 0; /* on_worker_done() thaws and exits */
	thaw_now(m, "shutdown");
	return event_exit(m->event, 0);
}

int manager_new(const VssSettings *settings, Manager **ret)
{
	_cleanup_(manager_freep) Manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return log_oom();
	m->settings = settings;
	m->env = (VssBackupEnv){ .settings = settings, .ops = &vss_freezer_ops_linux };
	if (vss_hook_failure_from_string(settings->hook_failure) < 0)
		return log_error_errno(EINVAL, "Invalid hook_failure '%s': use abort or ignore.",
				       settings->hook_failure);

	r = event_new(&m->event);
	if (r >= 0)
		r = event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
	if (r >= 0)
		r = event_add_signal(m->event, NULL, SIGINT, on_signal, m);
	if (r < 0)
		return log_error_errno(r, "Could not set up the event loop: %m");
	(void)signal(SIGPIPE, SIG_IGN);

	r = worker_new(m->event, &m->worker);
	if (r >= 0)
		r = event_set_wakeup_handler(m->event, on_worker_done, m);
	if (r < 0)
		return log_error_errno(r, "Could not start the worker thread: %m");

	vss_msg_build_register(m->register_msg);
	HvRegistration reg = {
		.msg = m->register_msg,
		.msg_len = VSS_MSG_SIZE,
		.reply_size = VSS_REGISTER_REPLY_SIZE,
		.reply_timeout_usec = REGISTER_TIMEOUT_USEC,
		.check_reply = check_register_reply,
		.userdata = m,
	};
	r = channel_chardev_new(settings->device, &reg, &m->channel);
	if (r < 0)
		return log_error_errno(r, "Could not set up the channel to '%s': %m",
				       settings->device);
	r = event_add_io(m->event, &m->io, -EBADF, POLLIN, on_channel, m);
	if (r >= 0)
		r = event_source_set_enabled(m->io, false);
	if (r >= 0)
		r = event_add_time(m->event, &m->reconnect_timer, USEC_INFINITY, on_reconnect_timer,
				   m);
	if (r >= 0)
		r = event_add_time(m->event, &m->deadline_timer, USEC_INFINITY, on_deadline, m);
	if (r < 0)
		return log_error_errno(r, "Could not set up event sources: %m");
	*ret = TAKE_PTR(m);
	return 0;
}

int manager_start(Manager *m)
{
	const char *dev = m->settings->device;
	int r;

	(void)vss_backup_recover(&m->env);
#if !defined(__SANITIZE_ADDRESS__)
	/* Page faults on a frozen filesystem's pages would block us: keep ours resident. */
	r = vss_freeze_lock_memory();
	if (r < 0)
		log_notice_errno(r, "Could not lock the daemon's memory, continuing: %m");
#endif
	r = connect_channel(m);
	if (r == -ENOENT)
		return log_notice_errno(r,
					"Device %s is not present; the backup service is not "
					"offered here.",
					dev);
	if (r == -EBUSY)
		return log_error_errno(r, "Device %s is busy: another VSS daemon is running.", dev);
	if (r < 0)
		return log_error_errno(r, "Could not register with %s: %m", dev);
	r = event_source_set_enabled(m->io, true);
	if (r < 0)
		return log_error_errno(r, "Could not watch %s: %m", dev);
	log_info("Registered with the host on %s.", dev);
	(void)notify_ready();
	(void)notify_status("Registered with the host; no backup in progress");
	return 0;
}

int manager_run(Manager *m)
{
	return daemon_run_event_loop(m->event);
}

Manager *manager_free(Manager *m)
{
	if (!m)
		return NULL;
	/* A job in progress finishes first (a freeze then gets thawed below). */
	m->worker = worker_free(m->worker);
	m->finishing = vss_backup_free(m->finishing);
	if (m->job_backup && !m->backup)
		m->backup = TAKE_PTR(m->job_backup);
	thaw_now(m, "shutdown");
	channel_free(m->channel);
	event_source_free(m->io);
	event_source_free(m->reconnect_timer);
	event_source_free(m->deadline_timer);
	event_free(m->event);
	free(m);
	return NULL;
}
