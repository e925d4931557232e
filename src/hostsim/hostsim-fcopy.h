/* SPDX-License-Identifier: MIT */
/*
 * Model of the guest kernel's file-copy driver as it was before 6.10 (drivers/hv/hv_fcopy.c;
 * hyperv-abi.md §3, §8.1, §8.2): the service state machine, the version handshake (a 4-byte
 * reply to version 1, READY only once the daemon has read it), the host messages as the
 * kernel hands them to the daemon, 4-byte status replies forwarded to the host, the timeout
 * and reset on release.
 *
 * Pure logic on top of an HsTransport: no threads, no FUSE, no clock of its own (now() seam).
 * The owner serialises all calls. One host transaction at a time, as the real host
 * guarantees; a request that arrives while one is in progress waits in the ring (QUEUED).
 *
 * Kernel quirks reproduced on purpose (do not "fix" them; daemons must cope):
 *  - START reaches the daemon with the names converted to UTF-8 inside the __u16 arrays;
 *  - COMPLETE and CANCEL reach the daemon with the length of the host's whole packet payload
 *    (IC headers included) counted from the fcopy header: 28 bytes beyond the 36-byte header
 *    are read from the kernel's receive buffer, i.e. what the previous packets left there;
 *  - a version write is taken as a registration only while no daemon is registered
 *    (DEVICE_INIT); version 0 is accepted without reply and never makes the service READY.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostsim/hostsim-transport.h"

/* struct hv_fcopy_hdr: operation u32 @0, service_id0[16] @4, service_id1[16] @20. */
#define HS_FCOPY_HDR_SIZE 36u
/* struct hv_start_fcopy (1088 bytes, packed). */
#define HS_FCOPY_START_SIZE 1088u
#define HS_FCOPY_OFF_FILE_NAME 36u    /* __u16 file_name[260] */
#define HS_FCOPY_OFF_PATH_NAME 556u   /* __u16 path_name[260] */
#define HS_FCOPY_OFF_COPY_FLAGS 1076u /* u32 */
#define HS_FCOPY_OFF_FILE_SIZE 1080u  /* u64 */
#define HS_FCOPY_W_MAX_PATH 260u      /* UTF-16 units per name, NUL included */
/* struct hv_do_fcopy (6196 bytes, packed). */
#define HS_FCOPY_DO_SIZE 6196u
#define HS_FCOPY_OFF_PAD 36u	/* u32 */
#define HS_FCOPY_OFF_OFFSET 40u /* u64 */
#define HS_FCOPY_OFF_SIZE 48u	/* u32 */
#define HS_FCOPY_OFF_DATA 52u
#define HS_FCOPY_DATA_FRAGMENT 6144u
/* struct vmbuspipe_hdr (8) + struct icmsg_hdr (20) in front of the fcopy message. */
#define HS_FCOPY_IC_HDR_SIZE 28u
/* What COMPLETE and CANCEL are delivered with: the whole 64-byte payload of a header-only packet.
 */
#define HS_FCOPY_CTRL_MSG_SIZE (HS_FCOPY_IC_HDR_SIZE + HS_FCOPY_HDR_SIZE)
/*
 * The kernel's receive buffer, from the IC headers on: the largest packet (a WRITE), plus room
 * for the over-read of a message delivered with its payload length (the real buffer is larger).
 */
#define HS_FCOPY_RECV_SIZE (2 * HS_FCOPY_IC_HDR_SIZE + HS_FCOPY_DO_SIZE)

/* enum hv_fcopy_op. */
#define HS_FCOPY_START_FILE_COPY 0u
#define HS_FCOPY_WRITE_TO_FILE 1u
#define HS_FCOPY_COMPLETE 2u
#define HS_FCOPY_CANCEL 3u

/* copy_flags. */
#define HS_FCOPY_OVER_WRITE 0x1u
#define HS_FCOPY_CREATE_PATH 0x2u

/* Handshake versions; the kernel's reply is FCOPY_CURRENT_VERSION (a 4-byte u32 1). */
#define HS_FCOPY_VERSION_0 0u
#define HS_FCOPY_VERSION_1 1u
#define HS_FCOPY_REPLY_SIZE 4u
/* Daemon -> kernel: one int status per message. */
#define HS_FCOPY_STATUS_SIZE 4u

/* HV_UTIL_TIMEOUT (30 s) in microseconds. */
#define HS_FCOPY_TIMEOUT_USEC (30 * UINT64_C(1000000))

/* HVUTIL_* service states (hyperv_vmbus.h); ordered as in the kernel. */
typedef enum HsFcopyState {
	HS_FCOPY_DEVICE_INIT,	   /* no daemon registered */
	HS_FCOPY_READY,		   /* registered, idle */
	HS_FCOPY_HOSTMSG_RECEIVED, /* a host request is being handled */
	HS_FCOPY_USERSPACE_REQ,	   /* the request was queued for the daemon, timer armed */
	HS_FCOPY_USERSPACE_RECV,   /* the daemon's reply is being processed */
} HsFcopyState;

/* Where the single host transaction is. */
typedef enum HsFcopyHostPhase {
	HS_FCOPY_HOST_IDLE,   /* no transaction */
	HS_FCOPY_HOST_QUEUED, /* in the ring: the previous transaction is still in progress */
	HS_FCOPY_HOST_ACTIVE, /* handed to the daemon, timer armed */
	HS_FCOPY_HOST_DONE,   /* the host has its answer; hs_fcopy_host_finish() clears it */
} HsFcopyHostPhase;

/* How a transaction ended. */
typedef enum HsFcopyHostEnd {
	HS_FCOPY_END_REPLY,	/* the daemon's reply was accepted (its status) */
	HS_FCOPY_END_NOT_READY, /* no daemon registered (HV_E_FAIL at once) */
	HS_FCOPY_END_TIMEOUT,	/* the kernel timer fired (HV_E_FAIL) */
	HS_FCOPY_END_RESET,	/* the daemon released the device (HV_E_FAIL) */
	HS_FCOPY_END_SENDFAIL,	/* the previous message was still unread, or no opener */
	HS_FCOPY_END_WITHDRAWN, /* the host gave up while the request sat in the ring */
} HsFcopyHostEnd;

typedef struct HsFcopyModelOps {
	/* Monotonic time in microseconds. */
	uint64_t (*now_usec)(void *userdata);
	/* Something a waiter may care about happened (transaction done, READY, reset). */
	void (*changed)(void *userdata);
} HsFcopyModelOps;

typedef struct HsFcopyModel {
	HsTransport *transport;
	const HsFcopyModelOps *ops;
	void *userdata;
	uint64_t timeout_usec; /* HV_UTIL_TIMEOUT */

	HsFcopyState state;
	bool registered;   /* the version-1 reply was read since the last release */
	uint64_t deadline; /* monotonic usec when the timer fires; 0 = not armed */

	HsFcopyHostPhase phase;
	HsFcopyHostEnd end;
	uint32_t host_op;     /* operation of the current transaction */
	uint32_t host_status; /* valid in DONE: the IC status the host sees */
	size_t recv_len;      /* payload length of the current packet, IC headers included */

	unsigned registrations; /* version writes accepted */
	unsigned timeouts, withdrawn, resets_failed, send_failures, not_ready, replies;
	unsigned delivered[4]; /* messages queued for the daemon, by operation */

	/* The kernel's receive buffer: IC headers, then the fcopy message; never cleared. */
	uint8_t recv[HS_FCOPY_RECV_SIZE];
} HsFcopyModel;

/* The transport callbacks of the fcopy service (svc = the HsFcopyModel). */
extern const HsServiceOps hs_fcopy_service_ops;

/*
 * Initialises m in DEVICE_INIT on transport t, which must have been initialised with
 * hs_fcopy_service_ops and svc = m. timeout_usec 0 selects HS_FCOPY_TIMEOUT_USEC.
 */
void hs_fcopy_init(HsFcopyModel *m, HsTransport *t, const HsFcopyModelOps *ops, void *userdata,
		   uint64_t timeout_usec);

/*
 * Host side: submits the host's fcopy message (msg, len bytes from the fcopy header on, file
 * names in UTF-16LE as the host sends them; 36 <= len <= HS_FCOPY_DO_SIZE, else -EINVAL). The
 * daemon gets what the kernel would make of it, or the host HV_E_FAIL at once while the
 * service is below READY. -EBUSY if a transaction is already in progress.
 */
int hs_fcopy_host_submit(HsFcopyModel *m, const void *msg, size_t len);

/* Host side: gives up on a request still waiting in the ring. True if it was withdrawn. */
bool hs_fcopy_host_withdraw(HsFcopyModel *m);

/* Host side: acknowledges a DONE transaction so that the next one can start. */
void hs_fcopy_host_finish(HsFcopyModel *m);

/* Fires the kernel's timeout if it is armed and due (now_usec() >= deadline). */
void hs_fcopy_tick(HsFcopyModel *m);

/*
 * A daemon holds the device and has read the version reply, the service is READY, nothing
 * is queued for the daemon and no host transaction is in progress.
 */
bool hs_fcopy_is_idle(const HsFcopyModel *m);

const char *hs_fcopy_state_to_string(HsFcopyState s);
