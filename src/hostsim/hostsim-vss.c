/* SPDX-License-Identifier: MIT */
/*
 * VSS kernel-driver model (see hostsim-vss.h). The behaviour follows drivers/hv/hv_snapshot.c
 * as summarised in hyperv-abi.md §3.3 and §6; the code is our own.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim-vss.h"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint64_t now_usec(HsVssModel *m)
{
	return m->ops->now_usec(m->userdata);
}

static void changed(HsVssModel *m)
{
	if (m->ops->changed)
		m->ops->changed(m->userdata);
}

/* vss_respond_to_host(): the host's transaction is over with status. */
static void respond(HsVssModel *m, uint32_t status, HsVssHostEnd end)
{
	m->host_status = status;
	m->end = end;
	m->phase = HS_VSS_HOST_DONE;
	changed(m);
}

/* FREEZE, THAW and HOT_BACKUP are the only operations the daemon ever sees. */
static bool forwarded(uint8_t op)
{
	return op == HS_VSS_OP_FREEZE || op == HS_VSS_OP_THAW || op == HS_VSS_OP_HOT_BACKUP;
}

/*
 * vss_send_op(): a zeroed 12-byte message with only the op, timer armed first (15 min for
 * FREEZE). A failed send (message still unread, or nobody holds the device) fails the host.
 */
static void send_op(HsVssModel *m)
{
	uint8_t msg[HS_VSS_MSG_SIZE] = { m->host_op };
	uint64_t timeout =
		m->host_op == HS_VSS_OP_FREEZE ? m->freeze_timeout_usec : m->timeout_usec;
	int r;

	m->state = HS_VSS_USERSPACE_REQ;
	/* 0 means "not armed", so never store it as a deadline. */
	m->deadline = MAX(now_usec(m) + timeout, UINT64_C(1));

	r = hs_transport_send(m->transport, msg, sizeof(msg), NULL);
	if (r < 0) {
		m->send_failures++;
		m->deadline = 0;
		respond(m, HV_E_FAIL, HS_VSS_END_SENDFAIL);
		m->state = HS_VSS_READY;
	}
}

/* vss_handle_request(): one host request, taken from the ring. */
static void handle_request(HsVssModel *m)
{
	m->phase = HS_VSS_HOST_ACTIVE;

	if (forwarded(m->host_op)) {
		if (m->state < HS_VSS_READY) {
			/* No daemon: fail at once, and the state stays below READY. */
			m->not_ready++;
			respond(m, HV_E_FAIL, HS_VSS_END_NOT_READY);
			return;
		}
		m->state = HS_VSS_HOSTMSG_RECEIVED;
		send_op(m);
		return;
	}

	if (m->host_op == HS_VSS_OP_GET_DM_INFO)
		m->host_flags = 0; /* dm_info.flags */
	m->kernel_answered++;
	respond(m, HV_S_OK, HS_VSS_END_KERNEL);
	/* vss_poll_wrapper(): READY even if no daemon ever registered. */
	m->state = HS_VSS_READY;
}

/* The channel callback: leaves the request in the ring while a transaction is running. */
static void kick(HsVssModel *m)
{
	if (m->phase != HS_VSS_HOST_QUEUED || m->state > HS_VSS_READY)
		return;
	handle_request(m);
}

/* vss_poll_wrapper(): the transaction is over, READY again, look at the ring. */
static void poll_wrapper(HsVssModel *m)
{
	m->state = HS_VSS_READY;
	kick(m);
	changed(m);
}

/* On-read hook of the REGISTER1 reply (vss_register_done). */
static void register_done(void *svc)
{
	HsVssModel *m = svc;

	m->registered = true;
	poll_wrapper(m);
}

/* vss_handle_handshake(). */
static int handshake(HsVssModel *m, uint8_t op)
{
	uint8_t reply[HS_VSS_REGISTER_REPLY_SIZE];

	if (op == HS_VSS_OP_REGISTER1) {
		put_le32(reply, HS_VSS_OP_REGISTER1);
		/* A message still unread (or a second REGISTER1 before reading) fails the write. */
		if (hs_transport_send(m->transport, reply, sizeof(reply), register_done) < 0)
			return -EFAULT;
	}
	/* Legacy REGISTER: no reply, so nothing ever makes the service READY. */
	m->dm_reg_value = op;
	m->registrations++;
	changed(m);
	return 0;
}

/* vss_on_msg(): one daemon write. */
static int on_msg(void *svc, const void *buf, size_t len)
{
	HsVssModel *m = svc;
	const uint8_t *msg = buf;

	if (len != HS_VSS_MSG_SIZE)
		return -EINVAL;

	/* Decided by the first byte alone, in every state (it is also the status's low byte). */
	if (msg[0] == HS_VSS_OP_REGISTER || msg[0] == HS_VSS_OP_REGISTER1) {
		if (m->state > HS_VSS_READY)
			return -EINVAL; /* not in the middle of a transaction */
		return handshake(m, msg[0]);
	}

	/* Nothing was sent to the daemon (or it was timed out / faked): spurious or late. */
	if (m->state != HS_VSS_USERSPACE_REQ)
		return -EINVAL;

	m->state = HS_VSS_USERSPACE_RECV;
	/* The kernel looks at the reply's op byte, which the status has overwritten. */
	if (msg[0] == HS_VSS_OP_HOT_BACKUP)
		m->host_flags = HS_VSS_HBU_NO_AUTO_RECOVERY;

	if (m->deadline != 0) {
		m->deadline = 0;
		m->have_reply = true;
		m->reply_status = get_le32(msg);
		m->reply_flags = get_le32(msg + HS_VSS_OFF_FLAGS);
		respond(m, m->reply_status, HS_VSS_END_REPLY);
		poll_wrapper(m);
	}
	return 0;
}

/* vss_on_reset(): the daemon released the device (the transport dropped its message). */
static void on_reset(void *svc)
{
	HsVssModel *m = svc;

	if (m->deadline != 0) {
		m->deadline = 0;
		m->resets_failed++;
		respond(m, HV_E_FAIL, HS_VSS_END_RESET);
	}
	m->state = HS_VSS_DEVICE_INIT;
	m->registered = false;
	changed(m);
}

const HsServiceOps hs_vss_service_ops = {
	.on_msg = on_msg,
	.on_reset = on_reset,
};

void hs_vss_init(HsVssModel *m, HsTransport *t, const HsVssModelOps *ops, void *userdata,
		 uint64_t freeze_timeout_usec, uint64_t timeout_usec)
{
	assert(m);
	assert(t);
	assert(ops && ops->now_usec);

	*m = (HsVssModel){
		.transport = t,
		.ops = ops,
		.userdata = userdata,
		.freeze_timeout_usec = freeze_timeout_usec ?: HS_VSS_FREEZE_TIMEOUT_USEC,
		.timeout_usec = timeout_usec ?: HS_VSS_TIMEOUT_USEC,
		.state = HS_VSS_DEVICE_INIT,
		.phase = HS_VSS_HOST_IDLE,
	};
}

int hs_vss_host_submit(HsVssModel *m, uint8_t op)
{
	if (m->phase != HS_VSS_HOST_IDLE)
		return -EBUSY;

	m->host_op = op;
	m->host_status = HV_E_FAIL;
	/* The host's own message carries zero flags; the kernel answers in that buffer. */
	m->host_flags = 0;
	m->have_reply = false;
	m->reply_status = 0;
	m->reply_flags = 0;
	m->phase = HS_VSS_HOST_QUEUED;
	kick(m);
	return 0;
}

bool hs_vss_host_withdraw(HsVssModel *m)
{
	if (m->phase != HS_VSS_HOST_QUEUED)
		return false;

	m->withdrawn++;
	m->host_status = HV_E_FAIL;
	m->end = HS_VSS_END_WITHDRAWN;
	m->phase = HS_VSS_HOST_DONE;
	return true;
}

void hs_vss_host_finish(HsVssModel *m)
{
	if (m->phase == HS_VSS_HOST_DONE)
		m->phase = HS_VSS_HOST_IDLE;
}

void hs_vss_tick(HsVssModel *m)
{
	if (m->deadline == 0 || now_usec(m) < m->deadline)
		return;

	/* vss_timeout_func(): fail the host, nothing is thawed, an unread message stays. */
	m->deadline = 0;
	m->timeouts++;
	respond(m, HV_E_FAIL, HS_VSS_END_TIMEOUT);
	poll_wrapper(m);
}

int hs_vss_fake_thaw(HsVssModel *m)
{
	uint8_t msg[HS_VSS_MSG_SIZE] = { HS_VSS_OP_THAW };
	int r;

	m->fake_thaws++;
	/* hv_vss_cancel_work(): the timer goes, and with it the host's answer. */
	if (m->deadline != 0) {
		m->deadline = 0;
		respond(m, HV_E_FAIL, HS_VSS_END_SUSPENDED);
	}
	r = hs_transport_send(m->transport, msg, sizeof(msg), NULL);
	m->state = HS_VSS_READY;
	changed(m);
	return r;
}

bool hs_vss_is_idle(const HsVssModel *m)
{
	return m->transport->open && m->registered && m->state == HS_VSS_READY &&
	       !hs_transport_readable(m->transport) && m->phase == HS_VSS_HOST_IDLE;
}

const char *hs_vss_state_to_string(HsVssState s)
{
	switch (s) {
	case HS_VSS_DEVICE_INIT:
		return "DEVICE_INIT";
	case HS_VSS_READY:
		return "READY";
	case HS_VSS_HOSTMSG_RECEIVED:
		return "HOSTMSG_RECEIVED";
	case HS_VSS_USERSPACE_REQ:
		return "USERSPACE_REQ";
	case HS_VSS_USERSPACE_RECV:
		return "USERSPACE_RECV";
	}
	return "unknown";
}

const char *hs_vss_op_to_string(uint8_t op)
{
	static const char *const names[] = {
		[HS_VSS_OP_CREATE] = "CREATE",
		[HS_VSS_OP_DELETE] = "DELETE",
		[HS_VSS_OP_HOT_BACKUP] = "HOT_BACKUP",
		[HS_VSS_OP_GET_DM_INFO] = "GET_DM_INFO",
		[HS_VSS_OP_BU_COMPLETE] = "BU_COMPLETE",
		[HS_VSS_OP_FREEZE] = "FREEZE",
		[HS_VSS_OP_THAW] = "THAW",
		[HS_VSS_OP_AUTO_RECOVER] = "AUTO_RECOVER",
	};

	return op < ELEMENTSOF(names) ? names[op] : NULL;
}
