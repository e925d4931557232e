/* SPDX-License-Identifier: MIT */
/*
 * Model of the guest kernel's KVP driver (drivers/hv/hv_kvp.c; hyperv-abi.md §3.3, §4):
 * the service state machine, the registration handshake, deferral of host requests until a
 * daemon registers, the per-request timeout, reset on release, and the exact conversions
 * between the host's UTF-16 messages and the UTF-8 messages the daemon reads and writes.
 *
 * Pure logic on top of an HsTransport: no threads, no FUSE, no clock of its own (time comes
 * from the now() seam so that tests can drive timeouts). The owner serialises all calls.
 *
 * One host transaction at a time, as the real host guarantees: the host submits a request
 * (it sits "in the ring" until the service is READY), the model hands the converted message
 * to the daemon and arms the timer, and the transaction completes with the daemon's reply,
 * the timeout, or a reset. The host's reply is built in place in the host's own request
 * buffer, as the kernel does with its receive buffer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostsim/hostsim-transport.h"

/* struct hv_kvp_msg (x86_64) and its fields; offsets from the start of the message. */
#define HS_KVP_MSG_SIZE 7432u
#define HS_KVP_KEY_SIZE 512u /* bytes */
#define HS_KVP_VALUE_SIZE 2048u
#define HS_KVP_OFF_SET_VALUE_TYPE 4u
#define HS_KVP_OFF_SET_KEY_SIZE 8u
#define HS_KVP_OFF_SET_VALUE_SIZE 12u
#define HS_KVP_OFF_SET_KEY 16u
#define HS_KVP_OFF_SET_VALUE 528u
#define HS_KVP_OFF_ENUM_INDEX 4u
#define HS_KVP_OFF_ENUM_VALUE_TYPE 8u
#define HS_KVP_OFF_ENUM_KEY_SIZE 12u
#define HS_KVP_OFF_ENUM_VALUE_SIZE 16u
#define HS_KVP_OFF_ENUM_KEY 20u
#define HS_KVP_OFF_ENUM_VALUE 532u
#define HS_KVP_OFF_DELETE_KEY_SIZE 4u
#define HS_KVP_OFF_DELETE_KEY 8u
#define HS_KVP_OFF_REGISTER_VERSION 4u

/*
 * struct hv_kvp_ipaddr_value: at offset 4 of hv_kvp_msg (daemon side) and at offset 2 of
 * the packed hv_kvp_ip_msg (host side). Offsets below are relative to its start; the u16
 * arrays carry UTF-16 towards the host and are byte buffers (UTF-8) towards the daemon.
 */
#define HS_KVP_IP_DAEMON_OFF 4u
#define HS_KVP_IP_HOST_OFF 2u
#define HS_KVP_IPV_ADAPTER_ID 0u /* u16[128] */
#define HS_KVP_IPV_ADDR_FAMILY 256u
#define HS_KVP_IPV_DHCP_ENABLED 257u
#define HS_KVP_IPV_IP_ADDR 258u	  /* u16[1024] */
#define HS_KVP_IPV_SUB_NET 2306u  /* u16[1024] */
#define HS_KVP_IPV_GATE_WAY 4354u /* u16[512] */
#define HS_KVP_IPV_DNS_ADDR 5378u /* u16[1024] */
#define HS_KVP_ADAPTER_ID_UNITS 128u
#define HS_KVP_IP_ADDR_UNITS 1024u
#define HS_KVP_GATEWAY_UNITS 512u

#define HS_KVP_OP_GET 0u
#define HS_KVP_OP_SET 1u
#define HS_KVP_OP_DELETE 2u
#define HS_KVP_OP_ENUMERATE 3u
#define HS_KVP_OP_GET_IP_INFO 4u
#define HS_KVP_OP_SET_IP_INFO 5u
#define HS_KVP_OP_REGISTER 4u /* legacy registration (numerically GET_IP_INFO) */
#define HS_KVP_OP_REGISTER1 100u

#define HS_KVP_REG_SZ 1u
#define HS_KVP_REG_U32 4u
#define HS_KVP_REG_U64 8u

/* HV_DRV_VERSION, sent in the registration reply. */
#define HS_KVP_DRV_VERSION "3.1"

/* HVUTIL_* service states (hyperv_vmbus.h); ordered as in the kernel. */
typedef enum HsKvpState {
	HS_KVP_DEVICE_INIT,	 /* no daemon registered */
	HS_KVP_READY,		 /* registered, idle */
	HS_KVP_HOSTMSG_RECEIVED, /* a host request is being converted */
	HS_KVP_USERSPACE_REQ,	 /* the request was queued for the daemon */
	HS_KVP_USERSPACE_RECV,	 /* the daemon's reply is being processed */
} HsKvpState;

/* Where the single host transaction is. */
typedef enum HsKvpHostPhase {
	HS_KVP_HOST_IDLE,   /* no transaction */
	HS_KVP_HOST_QUEUED, /* in the ring, not picked up (no daemon registered yet) */
	HS_KVP_HOST_ACTIVE, /* handed to the daemon, timer armed */
	HS_KVP_HOST_DONE,   /* the host has its answer; hs_kvp_host_finish() clears it */
} HsKvpHostPhase;

/* How a transaction ended. */
typedef enum HsKvpHostEnd {
	HS_KVP_END_REPLY,     /* the daemon's reply was accepted */
	HS_KVP_END_TIMEOUT,   /* the kernel timer fired (HV_E_FAIL) */
	HS_KVP_END_RESET,     /* the daemon released the device (HV_E_FAIL) */
	HS_KVP_END_SENDFAIL,  /* the previous message was still unread (HV_E_FAIL) */
	HS_KVP_END_WITHDRAWN, /* the host gave up before any daemon registered */
} HsKvpHostEnd;

typedef struct HsKvpModelOps {
	/* Monotonic time in microseconds. */
	uint64_t (*now_usec)(void *userdata);
	/* Something a waiter may care about happened (transaction done, READY, reset). */
	void (*changed)(void *userdata);
} HsKvpModelOps;

typedef struct HsKvpModel {
	HsTransport *transport;
	const HsKvpModelOps *ops;
	void *userdata;
	uint64_t timeout_usec; /* HV_UTIL_TIMEOUT */

	HsKvpState state;
	uint8_t dm_reg_value; /* REGISTER or REGISTER1: how the daemon reports errors */
	uint64_t deadline;    /* monotonic usec when the timer fires; 0 = not armed */

	HsKvpHostPhase phase;
	HsKvpHostEnd end;
	bool raw;	       /* the request bypasses the host conversion */
	uint32_t host_status;  /* valid in DONE */
	size_t daemon_msg_len; /* length of daemon_msg to hand over */
	size_t reply_len;      /* length of the daemon's accepted write; reply holds a prefix */

	unsigned registrations, timeouts, withdrawn, deferred, resets_failed, send_failures;

	/* The host's request; the kernel answers the host in place (kvp_respond_to_host). */
	uint8_t host_msg[HS_KVP_MSG_SIZE];
	/* What the daemon reads for the current request (built, or raw bytes). */
	uint8_t daemon_msg[HS_TRANSPORT_MSG_MAX];
	/* The daemon's accepted reply (first bytes). */
	uint8_t reply[HS_TRANSPORT_MSG_MAX];
} HsKvpModel;

/* The transport callbacks of the KVP service (svc = the HsKvpModel). */
extern const HsServiceOps hs_kvp_service_ops;

/*
 * Initialises m in DEVICE_INIT on transport t, which must have been initialised with
 * hs_kvp_service_ops and svc = m.
 */
void hs_kvp_init(HsKvpModel *m, HsTransport *t, const HsKvpModelOps *ops, void *userdata,
		 uint64_t timeout_usec);

/*
 * Converts the host's request (host_msg, HS_KVP_MSG_SIZE bytes, UTF-16 strings, the
 * hv_kvp_ip_msg layout for the IP operations) into the message kvp_send_key() hands the
 * daemon: zero-filled, op @0 and pool @1 copied without validation; SET key/value, GET key,
 * DELETE key converted to UTF-8 (at most 511 / 2047 bytes, sizes = length + 1), REG_U32 and
 * REG_U64 rendered in decimal; ENUMERATE index; IP info adapter id, family (and for SET the
 * address lists and DHCP flag). out receives HS_KVP_MSG_SIZE bytes.
 */
void hs_kvp_build_daemon_msg(const uint8_t *host_msg, uint8_t *out);

/*
 * kvp_respond_to_host(): completes the host's request in place. op is the host request's
 * operation, daemon_msg the daemon's reply (HS_KVP_MSG_SIZE bytes) or NULL, error the
 * status decided by the caller. With error != 0 only the status is returned. Otherwise
 * ENUMERATE copies key (offset 20) and value (532), GET the value (532), GET_IP_INFO the
 * address lists, each converted to UTF-16 (254 / 1022 units for key / value); a conversion
 * failure turns the status into HV_E_FAIL. Returns the status the host sees.
 */
uint32_t hs_kvp_respond(uint8_t op, uint8_t *host_msg, const uint8_t *daemon_msg, uint32_t error);

/*
 * Host side: submits a request (host wire form, HS_KVP_MSG_SIZE bytes). It is handed to the
 * daemon at once if the service is READY, otherwise it waits for a registration.
 * -EBUSY if a transaction is already in progress.
 */
int hs_kvp_host_submit(HsKvpModel *m, const uint8_t *host_msg);

/*
 * Host side, for robustness tests: submits raw daemon-level bytes (len <=
 * HS_TRANSPORT_MSG_MAX), bypassing the host conversion. The status is still computed as the
 * kernel would from the daemon's reply and the first byte as operation. -EBUSY, -EMSGSIZE.
 */
int hs_kvp_host_submit_raw(HsKvpModel *m, const void *msg, size_t len);

/* Host side: gives up on a request still waiting for a daemon. True if it was withdrawn. */
bool hs_kvp_host_withdraw(HsKvpModel *m);

/* Host side: acknowledges a DONE transaction so that the next one can start. */
void hs_kvp_host_finish(HsKvpModel *m);

/* Fires the kernel's timeout if it is armed and due (now_usec() >= deadline). */
void hs_kvp_tick(HsKvpModel *m);

/* READY, nothing queued for the daemon and no host transaction in progress. */
bool hs_kvp_is_idle(const HsKvpModel *m);

const char *hs_kvp_state_to_string(HsKvpState s);
