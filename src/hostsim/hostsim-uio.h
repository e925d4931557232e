/* SPDX-License-Identifier: MIT */
/*
 * The host's end of a VMBus channel as uio_hv_generic exposes it (hyperv-abi.md §8.3-§8.5,
 * design contract B of issue 5), plus the host's IC layer on it (§2.2, §2.3).
 *
 * Ring memory: a memfd of 2 * ring_size bytes; the first half is the TX ring (guest -> host),
 * the second the RX ring (host -> guest); each ring starts with a header page (the system page
 * size) laid out as struct hv_ring_buffer, feature_bits bit 0 set. RX interrupt_mask starts at 1,
 * as the driver leaves it on open; the guest unmasks it.
 *
 * Interrupts: an AF_UNIX SOCK_SEQPACKET socketpair standing in for /dev/uioN:
 *   host -> guest: a 4-byte native uint32 interrupt count, sent only when the host queued a
 *     packet on RX while RX interrupt_mask was 0; the simulated driver then sets the mask to 1;
 *   guest -> host: a 4-byte native int32; 1 = clear RX interrupt_mask and signal the host (it
 *     then reads TX), 0 = set RX interrupt_mask.
 * Killing the channel (rescind) closes the host's end: the guest's reads then see end of file
 * and its writes EPIPE.
 *
 * IC layer: on creation the host queues ICMSGTYPE_NEGOTIATE (framework 1.0 and 3.0, service
 * 1.0 and 1.1 offered, as Hyper-V does for fcopy); the guest must answer with status 0 and
 * 3.0 / 1.1. Then one transaction at a time: a request packet (IC header + body, trans_id
 * counting up from 1), the reply's IC status, or HV_E_FAIL after the host's timeout.
 *
 * A host thread serves the guest's signals and reads replies. All calls are thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

typedef struct HsUio HsUio;

/* The fcopy ring's data area (pref_ring_size 0x4000), after a header page. */
#define HS_UIO_RING_DATA_DEFAULT (16u * 1024u)
/* The host's timeout per transaction when none is given: 30 s. */
#define HS_UIO_TIMEOUT_USEC (30 * UINT64_C(1000000))

/* The versions the host insists on (fcopy): framework 3.0, service 1.1. */
#define HS_UIO_FW_MAJOR 3
#define HS_UIO_FW_MINOR 0
#define HS_UIO_SVC_MAJOR 1
#define HS_UIO_SVC_MINOR 1

typedef struct HsUioStats {
	unsigned interrupts;	     /* interrupt counts sent to the guest */
	unsigned signals;	     /* guest writes of 1 (unmask + signal the host) */
	unsigned masks;		     /* guest writes of 0 */
	unsigned bad_writes;	     /* guest writes that were not a 4-byte 0 or 1 */
	unsigned packets_to_guest;   /* packets the host queued on RX */
	unsigned packets_from_guest; /* packets the host read from TX */
	unsigned bad_packets;	     /* replies the host could not match or parse */
	unsigned late_replies;	     /* replies to transactions that had timed out */
	unsigned trans_id_mismatch;  /* replies whose VMBus trans_id was not the request's */
	unsigned transactions;	     /* host transactions answered (by the guest or timeout) */
	unsigned timeouts;	     /* of which the host timed out (HV_E_FAIL) */
	unsigned not_ready;	     /* requests failed at once: not negotiated */
	bool negotiated;	     /* the guest answered NEGOTIATE with 3.0 / 1.1 */
	bool negotiation_failed;     /* it answered with something else */
	bool killed;		     /* hs_uio_kill() was called */
} HsUioStats;

/*
 * Creates the channel: ring_size bytes per direction (0: the system page + 16 KiB; otherwise a
 * multiple of the page size above one page), timeout_usec per transaction (0: 30 s). Starts the
 * host thread and queues the NEGOTIATE request (no interrupt: RX is masked until the guest
 * opens). The host thread blocks all signals. Returns 0, -EINVAL or a negative errno from the
 * system.
 */
int hs_uio_new(size_t ring_size, uint64_t timeout_usec, HsUio **ret);

/* Stops the host thread, closes every descriptor, unmaps. NULL is fine. Returns NULL. */
HsUio *hs_uio_free(HsUio *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(HsUio *, hs_uio_free);

/*
 * The guest's ends: the memfd (2 * ring_size bytes) and its end of the interrupt socket. Both
 * are O_CLOEXEC and stay owned by u; the caller dup()s or lets a child inherit them.
 */
void hs_uio_guest_fds(HsUio *u, int *ret_ring_fd, int *ret_irq_fd);

/* Bytes per direction. */
size_t hs_uio_ring_size(HsUio *u);

/*
 * Waits until the guest answered NEGOTIATE. Returns 0, -EPROTO if its answer was wrong (status
 * not 0 or versions other than 3.0 / 1.1), -ENOTCONN after hs_uio_kill(), -ETIMEDOUT.
 */
int hs_uio_wait_negotiated(HsUio *u, uint64_t timeout_usec);

/*
 * One host transaction: body (len bytes, the IC-specific part after the 28-byte IC header) sent
 * as message type msgtype with the negotiated versions. Waits for the guest's reply (its IC
 * status in *ret_status) or the timeout (HV_E_FAIL; the request stays in the ring, as nothing
 * can take it back). Fails at once with HV_E_FAIL while the channel is not negotiated, and
 * with HV_E_FAIL when it is killed during the wait. Returns 0 when the host has a status (any),
 * -EINVAL (len 0 or too long for the IC header's 16-bit size), -EMSGSIZE (can never fit the
 * ring), -ENOTCONN (the channel was killed before), -EBADMSG (ring indexes corrupt).
 */
int hs_uio_transact(HsUio *u, uint16_t msgtype, const void *body, size_t len, uint32_t *ret_status);

/*
 * Rescinds the channel: stops the host thread and closes the host's end of the interrupt
 * socket (the guest's read() then returns 0 and write() fails with EPIPE). A transaction in
 * progress ends with HV_E_FAIL. Idempotent.
 */
void hs_uio_kill(HsUio *u);

void hs_uio_stats(HsUio *u, HsUioStats *ret);

/*
 * ---- The host's fcopy messages (hyperv-abi.md §8.1), shared by both transports ----
 * Bodies from the fcopy header on (no IC header), names in UTF-16LE as the host sends them.
 */

/*
 * START_FILE_COPY into msg (HS_FCOPY_START_SIZE bytes, hostsim-fcopy.h): path and name each at
 * most 259 UTF-16 units, NUL-terminated; copy_flags and file_size. Returns 0, -EINVAL,
 * -ENAMETOOLONG or -EILSEQ (not UTF-8).
 */
int hs_fcopy_build_start(uint8_t *msg, const char *path_utf8, const char *name_utf8, uint32_t flags,
			 uint64_t size);

/*
 * WRITE_TO_FILE into msg (HS_FCOPY_DO_SIZE bytes): offset, size = len, data. Returns 0 or
 * -EINVAL (len above HS_FCOPY_DATA_FRAGMENT, or data NULL with len > 0).
 */
int hs_fcopy_build_write(uint8_t *msg, uint64_t offset, const void *data, size_t len);

/* A header-only message (COMPLETE_FCOPY, CANCEL_FCOPY) into msg (HS_FCOPY_HDR_SIZE bytes). */
void hs_fcopy_build_simple(uint8_t *msg, uint32_t op);
