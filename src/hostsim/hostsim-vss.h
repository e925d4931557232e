/* SPDX-License-Identifier: MIT */
/*
 * Model of the guest kernel's VSS driver (drivers/hv/hv_snapshot.c; hyperv-abi.md §3.3, §6.1,
 * §6.2, §10): the service state machine, the REGISTER1 handshake (a 4-byte reply, READY only
 * once the daemon has read it), the three operations forwarded to the daemon as 12-byte
 * messages, the operations the kernel answers itself, the per-operation timeouts, reset on
 * release and the fake THAW sent on hibernation.
 *
 * Pure logic on top of an HsTransport: no threads, no FUSE, no clock of its own (now() seam).
 * The owner serialises all calls.
 *
 * One host transaction at a time, as the real host guarantees. Unlike KVP, a request that
 * needs the daemon fails at once (HV_E_FAIL) while no daemon is registered; a request that
 * arrives while a transaction is still in progress waits in the ring (QUEUED) until the
 * kernel polls the channel again.
 *
 * Kernel quirks reproduced on purpose (do not "fix" them; daemons must cope):
 *  - the service becomes READY whenever the kernel finishes a transaction, including one it
 *    answered itself (GET_DM_INFO, ...), even with no daemon registered;
 *  - a daemon write whose first byte is 128 or 129 is a registration, whatever the state;
 *  - the kernel sets VSS_HBU_NO_AUTO_RECOVERY towards the host only when the first byte of
 *    the daemon's reply is 2 (HOT_BACKUP), which is normally the status's low byte (0);
 *  - the fake THAW forces READY and cancels the timer without answering the host.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostsim/hostsim-transport.h"

/* struct hv_vss_msg (uapi linux/hyperv.h): 12 bytes, packed. */
#define HS_VSS_MSG_SIZE 12u
#define HS_VSS_OFF_FLAGS 8u /* vss_cf.flags / dm_info.flags (u32) */
/* The REGISTER1 reply: one u32 holding VSS_OP_REGISTER1. */
#define HS_VSS_REGISTER_REPLY_SIZE 4u

#define HS_VSS_OP_CREATE 0u
#define HS_VSS_OP_DELETE 1u
#define HS_VSS_OP_HOT_BACKUP 2u
#define HS_VSS_OP_GET_DM_INFO 3u
#define HS_VSS_OP_BU_COMPLETE 4u
#define HS_VSS_OP_FREEZE 5u
#define HS_VSS_OP_THAW 6u
#define HS_VSS_OP_AUTO_RECOVER 7u
#define HS_VSS_OP_REGISTER 128u	 /* legacy: no reply */
#define HS_VSS_OP_REGISTER1 129u /* the kernel replies with a u32 129 */

/* vss_cf.flags the kernel intends to report for HOT_BACKUP. */
#define HS_VSS_HBU_NO_AUTO_RECOVERY 0x00000005u

/* VSS_FREEZE_TIMEOUT (15 min) and HV_UTIL_TIMEOUT (30 s), in microseconds. */
#define HS_VSS_FREEZE_TIMEOUT_USEC (900 * UINT64_C(1000000))
#define HS_VSS_TIMEOUT_USEC (30 * UINT64_C(1000000))

/* HVUTIL_* service states (hyperv_vmbus.h); ordered as in the kernel. */
typedef enum HsVssState {
	HS_VSS_DEVICE_INIT,	 /* no daemon registered */
	HS_VSS_READY,		 /* registered (or forced), idle */
	HS_VSS_HOSTMSG_RECEIVED, /* a host request is being handled */
	HS_VSS_USERSPACE_REQ,	 /* the request was queued for the daemon, timer armed */
	HS_VSS_USERSPACE_RECV,	 /* the daemon's reply is being processed */
} HsVssState;

/* Where the single host transaction is. */
typedef enum HsVssHostPhase {
	HS_VSS_HOST_IDLE,   /* no transaction */
	HS_VSS_HOST_QUEUED, /* in the ring: the previous transaction is still in progress */
	HS_VSS_HOST_ACTIVE, /* handed to the daemon, timer armed */
	HS_VSS_HOST_DONE,   /* the host has its answer; hs_vss_host_finish() clears it */
} HsVssHostPhase;

/* How a transaction ended. */
typedef enum HsVssHostEnd {
	HS_VSS_END_REPLY,     /* the daemon's reply was accepted (its status) */
	HS_VSS_END_KERNEL,    /* answered by the kernel itself with status 0 */
	HS_VSS_END_NOT_READY, /* FREEZE/THAW/HOT_BACKUP with no daemon registered (HV_E_FAIL) */
	HS_VSS_END_TIMEOUT,   /* the kernel timer fired (HV_E_FAIL) */
	HS_VSS_END_RESET,     /* the daemon released the device (HV_E_FAIL) */
	HS_VSS_END_SENDFAIL,  /* the previous message was still unread, or no opener (HV_E_FAIL) */
	HS_VSS_END_SUSPENDED, /* the fake THAW cancelled the timer: the host got no answer */
	HS_VSS_END_WITHDRAWN, /* the host gave up while the request sat in the ring */
} HsVssHostEnd;

typedef struct HsVssModelOps {
	/* Monotonic time in microseconds. */
	uint64_t (*now_usec)(void *userdata);
	/* Something a waiter may care about happened (transaction done, READY, reset). */
	void (*changed)(void *userdata);
} HsVssModelOps;

typedef struct HsVssModel {
	HsTransport *transport;
	const HsVssModelOps *ops;
	void *userdata;
	uint64_t freeze_timeout_usec; /* VSS_FREEZE_TIMEOUT */
	uint64_t timeout_usec;	      /* HV_UTIL_TIMEOUT, THAW and HOT_BACKUP */

	HsVssState state;
	uint8_t dm_reg_value; /* 0, REGISTER or REGISTER1: the last accepted registration */
	bool registered;      /* the REGISTER1 reply was read since the last release */
	uint64_t deadline;    /* monotonic usec when the timer fires; 0 = not armed */

	HsVssHostPhase phase;
	HsVssHostEnd end;
	uint8_t host_op;      /* operation of the current transaction */
	uint32_t host_status; /* valid in DONE: the IC status the host sees */
	/* valid in DONE: vss_cf/dm_info flags in the kernel's answer (the host's own otherwise) */
	uint32_t host_flags;
	bool have_reply;       /* END_REPLY: the two fields below hold the daemon's reply */
	uint32_t reply_status; /* bytes 0-3 of the daemon's reply */
	uint32_t reply_flags;  /* bytes 8-11 of the daemon's reply */

	unsigned registrations; /* REGISTER and REGISTER1 writes accepted */
	unsigned timeouts, withdrawn, resets_failed, send_failures, not_ready, kernel_answered;
	unsigned fake_thaws;
} HsVssModel;

/* The transport callbacks of the VSS service (svc = the HsVssModel). */
extern const HsServiceOps hs_vss_service_ops;

/*
 * Initialises m in DEVICE_INIT on transport t, which must have been initialised with
 * hs_vss_service_ops and svc = m. Timeouts in microseconds; 0 selects the kernel's
 * (HS_VSS_FREEZE_TIMEOUT_USEC, HS_VSS_TIMEOUT_USEC).
 */
void hs_vss_init(HsVssModel *m, HsTransport *t, const HsVssModelOps *ops, void *userdata,
		 uint64_t freeze_timeout_usec, uint64_t timeout_usec);

/*
 * Host side: submits a request with operation op (the host's message carries only the op
 * here: the kernel forwards nothing else). FREEZE, THAW and HOT_BACKUP go to the daemon (or
 * fail at once with HV_E_FAIL while the service is below READY); every other op is answered
 * by the kernel with status 0 (GET_DM_INFO with dm_info.flags = 0). -EBUSY if a transaction
 * is already in progress (the caller must finish it first).
 */
int hs_vss_host_submit(HsVssModel *m, uint8_t op);

/* Host side: gives up on a request still waiting in the ring. True if it was withdrawn. */
bool hs_vss_host_withdraw(HsVssModel *m);

/* Host side: acknowledges a DONE transaction so that the next one can start. */
void hs_vss_host_finish(HsVssModel *m);

/* Fires the kernel's timeout if it is armed and due (now_usec() >= deadline). */
void hs_vss_tick(HsVssModel *m);

/*
 * hv_vss_pre_suspend(): queues a fake THAW for the daemon (no host transaction behind it),
 * cancels the timer (an active host transaction ends as HS_VSS_END_SUSPENDED, the host
 * getting no answer) and forces READY, so that the daemon's reply to the fake THAW (or to
 * any earlier message) fails with EINVAL. Returns the send's result, which the kernel
 * ignores: 0, -EINVAL (no opener) or -EFAULT (a message was still unread).
 */
int hs_vss_fake_thaw(HsVssModel *m);

/*
 * A daemon holds the device and has read the REGISTER1 reply, the service is READY, nothing
 * is queued for the daemon and no host transaction is in progress.
 */
bool hs_vss_is_idle(const HsVssModel *m);

const char *hs_vss_state_to_string(HsVssState s);

/* "FREEZE", "THAW", "HOT_BACKUP", ... or NULL for an op outside enum hv_vss_op. */
const char *hs_vss_op_to_string(uint8_t op);
