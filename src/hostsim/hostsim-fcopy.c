/* SPDX-License-Identifier: MIT */
/*
 * fcopy kernel-driver model (see hostsim-fcopy.h). The behaviour follows the pre-6.10
 * drivers/hv/hv_fcopy.c as summarised in hyperv-abi.md §3 and §8; the code is our own.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim-fcopy.h"
#include "hostsim/hostsim-utf16.h"

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

static uint64_t now_usec(HsFcopyModel *m)
{
	return m->ops->now_usec(m->userdata);
}

static void changed(HsFcopyModel *m)
{
	if (m->ops->changed)
		m->ops->changed(m->userdata);
}

/* The fcopy message inside the receive buffer (after the IC headers). */
static const uint8_t *fcopy_msg(const HsFcopyModel *m)
{
	return m->recv + HS_FCOPY_IC_HDR_SIZE;
}

/* fcopy_respond_to_host(): the host's transaction is over with status. */
static void respond(HsFcopyModel *m, uint32_t status, HsFcopyHostEnd end)
{
	m->host_status = status;
	m->end = end;
	m->phase = HS_FCOPY_HOST_DONE;
	changed(m);
}

/* The START message as the kernel rebuilds it: zeroed, names converted to UTF-8 in place. */
static void build_start(const HsFcopyModel *m, uint8_t out[static HS_FCOPY_START_SIZE])
{
	const uint8_t *in = fcopy_msg(m);

	memset(out, 0, HS_FCOPY_START_SIZE);
	put_le32(out, HS_FCOPY_START_FILE_COPY);
	/* At most W_MAX_PATH - 1 bytes, so the zeroed buffer keeps a NUL after each name. */
	(void)hostsim_utf16_to_utf8_kernel(in + HS_FCOPY_OFF_FILE_NAME, HS_FCOPY_W_MAX_PATH,
					   (char *)out + HS_FCOPY_OFF_FILE_NAME,
					   HS_FCOPY_W_MAX_PATH - 1);
	(void)hostsim_utf16_to_utf8_kernel(in + HS_FCOPY_OFF_PATH_NAME, HS_FCOPY_W_MAX_PATH,
					   (char *)out + HS_FCOPY_OFF_PATH_NAME,
					   HS_FCOPY_W_MAX_PATH - 1);
	memcpy(out + HS_FCOPY_OFF_COPY_FLAGS, in + HS_FCOPY_OFF_COPY_FLAGS, 4);
	memcpy(out + HS_FCOPY_OFF_FILE_SIZE, in + HS_FCOPY_OFF_FILE_SIZE, 8);
}

/*
 * fcopy_send_data(): the message for the daemon by operation. A failed send (message still
 * unread, or nobody holds the device) fails the host while the timer is armed.
 */
static void send_data(HsFcopyModel *m)
{
	uint8_t start[HS_FCOPY_START_SIZE];
	const void *out;
	size_t out_len;
	int r;

	m->state = HS_FCOPY_USERSPACE_REQ;
	switch (m->host_op) {
	case HS_FCOPY_START_FILE_COPY:
		build_start(m, start);
		out = start;
		out_len = sizeof(start);
		break;
	case HS_FCOPY_WRITE_TO_FILE:
		/* The whole struct, whatever the host sent. */
		out = fcopy_msg(m);
		out_len = HS_FCOPY_DO_SIZE;
		break;
	default:
		/* COMPLETE, CANCEL (and anything else): the payload length, IC headers included. */
		out = fcopy_msg(m);
		out_len = m->recv_len;
		break;
	}

	r = hs_transport_send(m->transport, out, out_len, NULL);
	if (r < 0) {
		m->send_failures++;
		if (m->deadline != 0) {
			m->deadline = 0;
			respond(m, HV_E_FAIL, HS_FCOPY_END_SENDFAIL);
			/* The kernel re-polls the channel; only this transaction was in flight. */
			m->state = HS_FCOPY_READY;
		}
		return;
	}
	if (m->host_op < ELEMENTSOF(m->delivered))
		m->delivered[m->host_op]++;
}

/* hv_fcopy_onchannelcallback() for one request taken from the ring. */
static void handle_request(HsFcopyModel *m)
{
	m->phase = HS_FCOPY_HOST_ACTIVE;

	if (m->state < HS_FCOPY_READY) {
		/* No daemon: fail at once, and the state stays below READY. */
		m->not_ready++;
		respond(m, HV_E_FAIL, HS_FCOPY_END_NOT_READY);
		return;
	}
	m->state = HS_FCOPY_HOSTMSG_RECEIVED;
	/* The timer is armed before the message is handed over. 0 means "not armed". */
	m->deadline = MAX(now_usec(m) + m->timeout_usec, UINT64_C(1));
	send_data(m);
}

/* The channel callback: leaves the request in the ring while a transaction is running. */
static void kick(HsFcopyModel *m)
{
	if (m->phase != HS_FCOPY_HOST_QUEUED || m->state > HS_FCOPY_READY)
		return;
	handle_request(m);
}

/* fcopy_poll_wrapper(): the transaction is over (or registration done), READY again. */
static void poll_wrapper(HsFcopyModel *m)
{
	m->state = HS_FCOPY_READY;
	kick(m);
	changed(m);
}

/* On-read hook of the version reply (fcopy_register_done). */
static void register_done(void *svc)
{
	HsFcopyModel *m = svc;

	m->registered = true;
	poll_wrapper(m);
}

/* fcopy_handle_handshake(). */
static int handshake(HsFcopyModel *m, uint32_t version)
{
	uint8_t reply[HS_FCOPY_REPLY_SIZE];

	switch (version) {
	case HS_FCOPY_VERSION_0:
		/* No reply, so nothing ever makes the service READY. */
		break;
	case HS_FCOPY_VERSION_1:
		put_le32(reply, HS_FCOPY_VERSION_1);
		/* A message still unread (a second version write before reading) fails. */
		if (hs_transport_send(m->transport, reply, sizeof(reply), register_done) < 0)
			return -EFAULT;
		break;
	default:
		return -EINVAL;
	}
	m->registrations++;
	changed(m);
	return 0;
}

/* fcopy_on_msg(): one daemon write. */
static int on_msg(void *svc, const void *buf, size_t len)
{
	HsFcopyModel *m = svc;
	uint32_t val;

	if (len != HS_FCOPY_STATUS_SIZE)
		return -EINVAL;
	val = get_le32(buf);

	if (m->state == HS_FCOPY_DEVICE_INIT)
		return handshake(m, val);

	/* Nothing was sent to the daemon (or it was timed out): spurious or late. */
	if (m->state != HS_FCOPY_USERSPACE_REQ)
		return -EINVAL;

	m->state = HS_FCOPY_USERSPACE_RECV;
	if (m->deadline != 0) {
		m->deadline = 0;
		m->replies++;
		respond(m, val, HS_FCOPY_END_REPLY);
		poll_wrapper(m);
	}
	return 0;
}

/* fcopy_on_reset(): the daemon released the device (the transport dropped its message). */
static void on_reset(void *svc)
{
	HsFcopyModel *m = svc;

	m->state = HS_FCOPY_DEVICE_INIT;
	m->registered = false;
	if (m->deadline != 0) {
		m->deadline = 0;
		m->resets_failed++;
		respond(m, HV_E_FAIL, HS_FCOPY_END_RESET);
	}
	changed(m);
}

const HsServiceOps hs_fcopy_service_ops = {
	.on_msg = on_msg,
	.on_reset = on_reset,
};

void hs_fcopy_init(HsFcopyModel *m, HsTransport *t, const HsFcopyModelOps *ops, void *userdata,
		   uint64_t timeout_usec)
{
	assert(m);
	assert(t);
	assert(ops && ops->now_usec);

	memset(m, 0, sizeof(*m));
	m->transport = t;
	m->ops = ops;
	m->userdata = userdata;
	m->timeout_usec = timeout_usec ?: HS_FCOPY_TIMEOUT_USEC;
	m->state = HS_FCOPY_DEVICE_INIT;
	m->phase = HS_FCOPY_HOST_IDLE;
}

int hs_fcopy_host_submit(HsFcopyModel *m, const void *msg, size_t len)
{
	if (!msg || len < HS_FCOPY_HDR_SIZE || len > HS_FCOPY_DO_SIZE)
		return -EINVAL;
	if (m->phase != HS_FCOPY_HOST_IDLE)
		return -EBUSY;

	/*
	 * The packet lands in the kernel's receive buffer over whatever the previous ones left
	 * there; the IC headers themselves are not modelled (zero).
	 */
	memset(m->recv, 0, HS_FCOPY_IC_HDR_SIZE);
	memcpy(m->recv + HS_FCOPY_IC_HDR_SIZE, msg, len);
	m->recv_len = HS_FCOPY_IC_HDR_SIZE + len;
	m->host_op = get_le32(msg);
	m->host_status = HV_E_FAIL;
	m->phase = HS_FCOPY_HOST_QUEUED;
	kick(m);
	return 0;
}

bool hs_fcopy_host_withdraw(HsFcopyModel *m)
{
	if (m->phase != HS_FCOPY_HOST_QUEUED)
		return false;

	m->withdrawn++;
	m->host_status = HV_E_FAIL;
	m->end = HS_FCOPY_END_WITHDRAWN;
	m->phase = HS_FCOPY_HOST_DONE;
	return true;
}

void hs_fcopy_host_finish(HsFcopyModel *m)
{
	if (m->phase == HS_FCOPY_HOST_DONE)
		m->phase = HS_FCOPY_HOST_IDLE;
}

void hs_fcopy_tick(HsFcopyModel *m)
{
	if (m->deadline == 0 || now_usec(m) < m->deadline)
		return;

	/* fcopy_timeout_func(): fail the host; an unread message stays queued. */
	m->deadline = 0;
	m->timeouts++;
	respond(m, HV_E_FAIL, HS_FCOPY_END_TIMEOUT);
	poll_wrapper(m);
}

bool hs_fcopy_is_idle(const HsFcopyModel *m)
{
	return m->transport->open && m->registered && m->state == HS_FCOPY_READY &&
	       !hs_transport_readable(m->transport) && m->phase == HS_FCOPY_HOST_IDLE;
}

const char *hs_fcopy_state_to_string(HsFcopyState s)
{
	switch (s) {
	case HS_FCOPY_DEVICE_INIT:
		return "DEVICE_INIT";
	case HS_FCOPY_READY:
		return "READY";
	case HS_FCOPY_HOSTMSG_RECEIVED:
		return "HOSTMSG_RECEIVED";
	case HS_FCOPY_USERSPACE_REQ:
		return "USERSPACE_REQ";
	case HS_FCOPY_USERSPACE_RECV:
		return "USERSPACE_RECV";
	}
	return "unknown";
}
