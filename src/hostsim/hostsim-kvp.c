/* SPDX-License-Identifier: MIT */
/*
 * KVP kernel-driver model (see hostsim-kvp.h). The behaviour follows drivers/hv/hv_kvp.c as
 * summarised in hyperv-abi.md §3.3 and §4; the code is our own.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim-kvp.h"
#include "hostsim/hostsim-utf16.h"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * The kernel passes the host's size field (bytes) as the UTF-16 unit count, so it may read
 * past the field until a NUL unit; we only bound the read by the message buffer.
 */
static size_t host_units(uint32_t size_field, size_t off)
{
	return MIN((size_t)size_field, (HS_KVP_MSG_SIZE - off) / 2);
}

/* Host UTF-16 -> daemon UTF-8, at most maxout bytes; returns kvp size (length + 1). */
static uint32_t to_daemon(const uint8_t *host_msg, size_t in_off, uint32_t size_field, uint8_t *out,
			  size_t out_off, size_t maxout)
{
	size_t n = hostsim_utf16_to_utf8_kernel(host_msg + in_off, host_units(size_field, in_off),
						(char *)out + out_off, maxout);
	return (uint32_t)n + 1;
}

/* process_ib_ipinfo(): host hv_kvp_ip_msg -> daemon kvp_ip_val. */
static void ib_ipinfo(const uint8_t *host_msg, uint8_t *out, bool set)
{
	const uint8_t *in = host_msg + HS_KVP_IP_HOST_OFF;
	uint8_t *o = out + HS_KVP_IP_DAEMON_OFF;

	if (set) {
		/* Limits are in bytes here although the arrays hold twice as many. */
		hostsim_utf16_to_utf8_kernel(in + HS_KVP_IPV_IP_ADDR, HS_KVP_IP_ADDR_UNITS,
					     (char *)o + HS_KVP_IPV_IP_ADDR, HS_KVP_IP_ADDR_UNITS);
		hostsim_utf16_to_utf8_kernel(in + HS_KVP_IPV_SUB_NET, HS_KVP_IP_ADDR_UNITS,
					     (char *)o + HS_KVP_IPV_SUB_NET, HS_KVP_IP_ADDR_UNITS);
		hostsim_utf16_to_utf8_kernel(in + HS_KVP_IPV_GATE_WAY, HS_KVP_GATEWAY_UNITS,
					     (char *)o + HS_KVP_IPV_GATE_WAY, HS_KVP_GATEWAY_UNITS);
		hostsim_utf16_to_utf8_kernel(in + HS_KVP_IPV_DNS_ADDR, HS_KVP_IP_ADDR_UNITS,
					     (char *)o + HS_KVP_IPV_DNS_ADDR, HS_KVP_IP_ADDR_UNITS);
		o[HS_KVP_IPV_DHCP_ENABLED] = in[HS_KVP_IPV_DHCP_ENABLED];
	}
	hostsim_utf16_to_utf8_kernel(in + HS_KVP_IPV_ADAPTER_ID, HS_KVP_ADAPTER_ID_UNITS,
				     (char *)o + HS_KVP_IPV_ADAPTER_ID, HS_KVP_ADAPTER_ID_UNITS);
	o[HS_KVP_IPV_ADDR_FAMILY] = in[HS_KVP_IPV_ADDR_FAMILY];
}

void hs_kvp_build_daemon_msg(const uint8_t *host_msg, uint8_t *out)
{
	uint8_t op = host_msg[0];
	int n;

	memset(out, 0, HS_KVP_MSG_SIZE);
	/* Copied as is: the kernel does not validate the pool. */
	out[0] = op;
	out[1] = host_msg[1];

	switch (op) {
	case HS_KVP_OP_SET_IP_INFO:
		ib_ipinfo(host_msg, out, true);
		break;
	case HS_KVP_OP_GET_IP_INFO:
		ib_ipinfo(host_msg, out, false);
		break;
	case HS_KVP_OP_SET:
		switch (get_le32(host_msg + HS_KVP_OFF_SET_VALUE_TYPE)) {
		case HS_KVP_REG_SZ:
			put_le32(out + HS_KVP_OFF_SET_VALUE_SIZE,
				 to_daemon(host_msg, HS_KVP_OFF_SET_VALUE,
					   get_le32(host_msg + HS_KVP_OFF_SET_VALUE_SIZE), out,
					   HS_KVP_OFF_SET_VALUE, HS_KVP_VALUE_SIZE - 1));
			break;
		case HS_KVP_REG_U32:
			n = snprintf((char *)out + HS_KVP_OFF_SET_VALUE, HS_KVP_VALUE_SIZE,
				     "%" PRIu32, get_le32(host_msg + HS_KVP_OFF_SET_VALUE));
			put_le32(out + HS_KVP_OFF_SET_VALUE_SIZE, (uint32_t)n + 1);
			break;
		case HS_KVP_REG_U64:
			n = snprintf((char *)out + HS_KVP_OFF_SET_VALUE, HS_KVP_VALUE_SIZE,
				     "%" PRIu64, get_le64(host_msg + HS_KVP_OFF_SET_VALUE));
			put_le32(out + HS_KVP_OFF_SET_VALUE_SIZE, (uint32_t)n + 1);
			break;
		default:
			/* Other value types: the kernel leaves the value empty, size 0. */
			break;
		}
		put_le32(out + HS_KVP_OFF_SET_KEY_SIZE,
			 to_daemon(host_msg, HS_KVP_OFF_SET_KEY,
				   get_le32(host_msg + HS_KVP_OFF_SET_KEY_SIZE), out,
				   HS_KVP_OFF_SET_KEY, HS_KVP_KEY_SIZE - 1));
		break;
	case HS_KVP_OP_GET:
		/* Only the key: value_size stays 0. */
		put_le32(out + HS_KVP_OFF_SET_KEY_SIZE,
			 to_daemon(host_msg, HS_KVP_OFF_SET_KEY,
				   get_le32(host_msg + HS_KVP_OFF_SET_KEY_SIZE), out,
				   HS_KVP_OFF_SET_KEY, HS_KVP_KEY_SIZE - 1));
		break;
	case HS_KVP_OP_DELETE:
		put_le32(out + HS_KVP_OFF_DELETE_KEY_SIZE,
			 to_daemon(host_msg, HS_KVP_OFF_DELETE_KEY,
				   get_le32(host_msg + HS_KVP_OFF_DELETE_KEY_SIZE), out,
				   HS_KVP_OFF_DELETE_KEY, HS_KVP_KEY_SIZE - 1));
		break;
	case HS_KVP_OP_ENUMERATE:
		put_le32(out + HS_KVP_OFF_ENUM_INDEX, get_le32(host_msg + HS_KVP_OFF_ENUM_INDEX));
		break;
	default:
		/* Unknown operations reach the daemon with only op and pool. */
		break;
	}
}

/* Daemon UTF-8 string (strlen bounded by its field) -> host UTF-16, at most maxout units. */
static int to_host(const uint8_t *daemon_msg, size_t in_off, size_t field, uint8_t *host_msg,
		   size_t out_off, size_t maxout)
{
	const char *s = (const char *)daemon_msg + in_off;

	return hostsim_utf16_from_utf8_kernel(s, strnlen(s, field), host_msg + out_off, maxout);
}

/* process_ob_ipinfo(): daemon kvp_ip_val -> host hv_kvp_ip_msg; stops at the first failure. */
static int ob_ipinfo(const uint8_t *daemon_msg, uint8_t *host_msg)
{
	static const struct {
		size_t off, units;
	} fields[] = {
		{ HS_KVP_IPV_IP_ADDR, HS_KVP_IP_ADDR_UNITS },
		{ HS_KVP_IPV_SUB_NET, HS_KVP_IP_ADDR_UNITS },
		{ HS_KVP_IPV_GATE_WAY, HS_KVP_GATEWAY_UNITS },
		{ HS_KVP_IPV_DNS_ADDR, HS_KVP_IP_ADDR_UNITS },
		{ HS_KVP_IPV_ADAPTER_ID, HS_KVP_ADAPTER_ID_UNITS },
	};

	for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
		int r = to_host(daemon_msg, HS_KVP_IP_DAEMON_OFF + fields[i].off,
				2 * fields[i].units, host_msg, HS_KVP_IP_HOST_OFF + fields[i].off,
				fields[i].units);
		if (r < 0)
			return r;
	}
	host_msg[HS_KVP_IP_HOST_OFF + HS_KVP_IPV_DHCP_ENABLED] =
		daemon_msg[HS_KVP_IP_DAEMON_OFF + HS_KVP_IPV_DHCP_ENABLED];
	host_msg[HS_KVP_IP_HOST_OFF + HS_KVP_IPV_ADDR_FAMILY] =
		daemon_msg[HS_KVP_IP_DAEMON_OFF + HS_KVP_IPV_ADDR_FAMILY];
	return 0;
}

/* What survives towards the host: HV_KVP_EXCHANGE_MAX_*_SIZE / 2 - 2 units. */
#define HOST_KEY_UNITS (HS_KVP_KEY_SIZE / 2 - 2)
#define HOST_VALUE_UNITS (HS_KVP_VALUE_SIZE / 2 - 2)

uint32_t hs_kvp_respond(uint8_t op, uint8_t *host_msg, const uint8_t *daemon_msg, uint32_t error)
{
	int keylen = 0, valuelen = 0;

	/* Failures and timeouts carry only the status ("terminates the host's iteration"). */
	if (error != 0 || !daemon_msg)
		return error != 0 ? error : HV_E_FAIL;

	switch (op) {
	case HS_KVP_OP_GET_IP_INFO:
		return ob_ipinfo(daemon_msg, host_msg) < 0 ? HV_E_FAIL : HV_S_OK;
	case HS_KVP_OP_SET_IP_INFO:
	case HS_KVP_OP_SET:
	case HS_KVP_OP_DELETE:
		return HV_S_OK;
	case HS_KVP_OP_GET:
		/* The value is read from the ENUMERATE layout and written to the GET one. */
		valuelen = to_host(daemon_msg, HS_KVP_OFF_ENUM_VALUE, HS_KVP_VALUE_SIZE, host_msg,
				   HS_KVP_OFF_SET_VALUE, HOST_VALUE_UNITS);
		put_le32(host_msg + HS_KVP_OFF_SET_VALUE_SIZE, (uint32_t)(2 * (valuelen + 1)));
		put_le32(host_msg + HS_KVP_OFF_SET_VALUE_TYPE, HS_KVP_REG_SZ);
		break;
	default:
		/* ENUMERATE, and any other operation the host invented. */
		keylen = to_host(daemon_msg, HS_KVP_OFF_ENUM_KEY, HS_KVP_KEY_SIZE, host_msg,
				 HS_KVP_OFF_ENUM_KEY, HOST_KEY_UNITS);
		put_le32(host_msg + HS_KVP_OFF_ENUM_KEY_SIZE, (uint32_t)(2 * (keylen + 1)));
		valuelen = to_host(daemon_msg, HS_KVP_OFF_ENUM_VALUE, HS_KVP_VALUE_SIZE, host_msg,
				   HS_KVP_OFF_ENUM_VALUE, HOST_VALUE_UNITS);
		put_le32(host_msg + HS_KVP_OFF_ENUM_VALUE_SIZE, (uint32_t)(2 * (valuelen + 1)));
		put_le32(host_msg + HS_KVP_OFF_ENUM_VALUE_TYPE, HS_KVP_REG_SZ);
		break;
	}

	return keylen < 0 || valuelen < 0 ? HV_E_FAIL : HV_S_OK;
}

static uint64_t now_usec(HsKvpModel *m)
{
	return m->ops->now_usec(m->userdata);
}

static void changed(HsKvpModel *m)
{
	if (m->ops->changed)
		m->ops->changed(m->userdata);
}

/* Completes the host transaction (kvp_respond_to_host). daemon_msg NULL: no reply. */
static void respond(HsKvpModel *m, const uint8_t *daemon_msg, uint32_t error, HsKvpHostEnd end)
{
	uint8_t op = m->raw ? m->daemon_msg[0] : m->host_msg[0];

	m->host_status = hs_kvp_respond(op, m->host_msg, daemon_msg, error);
	m->phase = HS_KVP_HOST_DONE;
	m->end = end;
	changed(m);
}

static void arm_timer(HsKvpModel *m)
{
	/* 0 means "not armed", so never store it as a deadline. */
	m->deadline = MAX(now_usec(m) + m->timeout_usec, UINT64_C(1));
}

/* kvp_send_key(): convert and queue the request; a busy slot fails the host at once. */
static void send_key(HsKvpModel *m)
{
	int r;

	if (!m->raw) {
		hs_kvp_build_daemon_msg(m->host_msg, m->daemon_msg);
		m->daemon_msg_len = HS_KVP_MSG_SIZE;
	}

	m->state = HS_KVP_USERSPACE_REQ;
	r = hs_transport_send(m->transport, m->daemon_msg, m->daemon_msg_len, NULL);
	if (r < 0) {
		m->send_failures++;
		if (m->deadline != 0) {
			m->deadline = 0;
			respond(m, NULL, HV_E_FAIL, HS_KVP_END_SENDFAIL);
			m->state = HS_KVP_READY;
		}
	}
}

/*
 * The channel callback: picks the host's request up when READY. Before READY it stays in
 * the ring (KVP defers rather than failing); after READY with a transaction running the
 * host is waiting anyway.
 */
static void kick(HsKvpModel *m)
{
	if (m->state != HS_KVP_READY || m->phase != HS_KVP_HOST_QUEUED)
		return;

	m->phase = HS_KVP_HOST_ACTIVE;
	m->state = HS_KVP_HOSTMSG_RECEIVED;
	arm_timer(m);
	send_key(m);
}

/* kvp_poll_wrapper(): the transaction is over, READY again, look at the ring. */
static void poll_wrapper(HsKvpModel *m)
{
	m->state = HS_KVP_READY;
	kick(m);
	changed(m);
}

/* On-read hook of the registration reply (kvp_register_done). */
static void register_done(void *svc)
{
	poll_wrapper(svc);
}

static int handshake(HsKvpModel *m, const uint8_t *msg)
{
	uint8_t reply[HS_KVP_MSG_SIZE] = {};

	switch (msg[0]) {
	case HS_KVP_OP_REGISTER:
	case HS_KVP_OP_REGISTER1:
		m->dm_reg_value = msg[0];
		break;
	default:
		return -EINVAL; /* "incompatible daemon" */
	}

	m->registrations++;
	reply[0] = m->dm_reg_value;
	memcpy(reply + HS_KVP_OFF_REGISTER_VERSION, HS_KVP_DRV_VERSION, sizeof(HS_KVP_DRV_VERSION));
	/* Older kernels ignore a failed send (reply still unread); so do we. */
	(void)hs_transport_send(m->transport, reply, sizeof(reply), register_done);
	return 0;
}

/* kvp_on_msg(): one daemon write. */
static int on_msg(void *svc, const void *buf, size_t len)
{
	HsKvpModel *m = svc;
	const uint8_t *msg = buf;
	uint32_t error = 0;

	if (len < HS_KVP_MSG_SIZE)
		return -EINVAL;

	/* Any message before READY is a registration attempt. */
	if (m->state < HS_KVP_READY)
		return handshake(m, msg);

	/* Nothing was sent to the daemon: the reply is spurious (or late). */
	if (m->state < HS_KVP_USERSPACE_REQ)
		return -EINVAL;

	m->state = HS_KVP_USERSPACE_RECV;

	if (m->dm_reg_value == HS_KVP_OP_REGISTER)
		/* Legacy daemons signal failure with an empty key. */
		error = msg[HS_KVP_OFF_ENUM_KEY] == 0 ? HV_S_CONT : HV_S_OK;
	else
		error = get_le32(msg);

	if (m->deadline != 0) {
		m->deadline = 0;
		m->reply_len = len;
		memcpy(m->reply, msg, MIN(len, sizeof(m->reply)));
		respond(m, msg, error, HS_KVP_END_REPLY);
		poll_wrapper(m);
	}
	return 0;
}

/* kvp_on_reset(): the daemon released the device. */
static void on_reset(void *svc)
{
	HsKvpModel *m = svc;

	if (m->deadline != 0) {
		m->deadline = 0;
		m->resets_failed++;
		respond(m, NULL, HV_E_FAIL, HS_KVP_END_RESET);
	}
	m->state = HS_KVP_DEVICE_INIT;
	changed(m);
}

const HsServiceOps hs_kvp_service_ops = {
	.on_msg = on_msg,
	.on_reset = on_reset,
};

void hs_kvp_init(HsKvpModel *m, HsTransport *t, const HsKvpModelOps *ops, void *userdata,
		 uint64_t timeout_usec)
{
	assert(m);
	assert(t);
	assert(ops && ops->now_usec);

	memset(m, 0, offsetof(HsKvpModel, host_msg));
	m->transport = t;
	m->ops = ops;
	m->userdata = userdata;
	m->timeout_usec = timeout_usec;
	m->state = HS_KVP_DEVICE_INIT;
	m->phase = HS_KVP_HOST_IDLE;
}

static int submit(HsKvpModel *m)
{
	m->phase = HS_KVP_HOST_QUEUED;
	m->reply_len = 0;
	m->host_status = HV_E_FAIL;
	if (m->state < HS_KVP_READY)
		m->deferred++;
	kick(m);
	return 0;
}

int hs_kvp_host_submit(HsKvpModel *m, const uint8_t *host_msg)
{
	if (m->phase != HS_KVP_HOST_IDLE)
		return -EBUSY;

	memcpy(m->host_msg, host_msg, HS_KVP_MSG_SIZE);
	m->raw = false;
	return submit(m);
}

int hs_kvp_host_submit_raw(HsKvpModel *m, const void *msg, size_t len)
{
	if (m->phase != HS_KVP_HOST_IDLE)
		return -EBUSY;
	if (len > sizeof(m->daemon_msg))
		return -EMSGSIZE;

	memcpy(m->daemon_msg, msg, len);
	m->daemon_msg_len = len;
	/* The host buffer the kernel would answer in: zeros with the same op and pool. */
	memset(m->host_msg, 0, sizeof(m->host_msg));
	memcpy(m->host_msg, msg, MIN(len, (size_t)2));
	m->raw = true;
	return submit(m);
}

bool hs_kvp_host_withdraw(HsKvpModel *m)
{
	if (m->phase != HS_KVP_HOST_QUEUED)
		return false;

	m->withdrawn++;
	m->host_status = HV_E_FAIL;
	m->end = HS_KVP_END_WITHDRAWN;
	m->phase = HS_KVP_HOST_DONE;
	return true;
}

void hs_kvp_host_finish(HsKvpModel *m)
{
	if (m->phase == HS_KVP_HOST_DONE)
		m->phase = HS_KVP_HOST_IDLE;
}

void hs_kvp_tick(HsKvpModel *m)
{
	if (m->deadline == 0 || now_usec(m) < m->deadline)
		return;

	/* kvp_timeout_func(): fail the host; an unread message stays queued. */
	m->deadline = 0;
	m->timeouts++;
	respond(m, NULL, HV_E_FAIL, HS_KVP_END_TIMEOUT);
	poll_wrapper(m);
}

bool hs_kvp_is_idle(const HsKvpModel *m)
{
	return m->state == HS_KVP_READY && !hs_transport_readable(m->transport) &&
	       m->phase == HS_KVP_HOST_IDLE;
}

const char *hs_kvp_state_to_string(HsKvpState s)
{
	switch (s) {
	case HS_KVP_DEVICE_INIT:
		return "DEVICE_INIT";
	case HS_KVP_READY:
		return "READY";
	case HS_KVP_HOSTMSG_RECEIVED:
		return "HOSTMSG_RECEIVED";
	case HS_KVP_USERSPACE_REQ:
		return "USERSPACE_REQ";
	case HS_KVP_USERSPACE_RECV:
		return "USERSPACE_RECV";
	}
	return "unknown";
}
