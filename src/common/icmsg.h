/* SPDX-License-Identifier: MIT */
/*
 * IC framing inside a VMBus in-band payload (hyperv-abi.md §2.2): vmbuspipe_hdr at 0,
 * icmsg_hdr at 8, body at ICMSG_HDR (28); and version negotiation (§2.3). Pure: bytes in,
 * bytes out, replies written in place (every IC reply echoes the request buffer).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ICMSG_HDR 28
#define IC_VERSION_NEGOTIATION_MAX_VER_COUNT 100

/* icmsg_hdr.icmsgtype */
#define ICMSGTYPE_NEGOTIATE 0
#define ICMSGTYPE_HEARTBEAT 1
#define ICMSGTYPE_KVPEXCHANGE 2
#define ICMSGTYPE_SHUTDOWN 3
#define ICMSGTYPE_TIMESYNC 4
#define ICMSGTYPE_VSS 5
#define ICMSGTYPE_FCOPY 7

/* icmsg_hdr.icflags */
#define ICMSGHDRFLAG_TRANSACTION 1
#define ICMSGHDRFLAG_REQUEST 2
#define ICMSGHDRFLAG_RESPONSE 4

/* Byte offsets within the payload. */
#define ICMSG_OFF_PIPE_FLAGS 0
#define ICMSG_OFF_PIPE_MSGSIZE 4
#define ICMSG_OFF_VERFRAME 8
#define ICMSG_OFF_MSGTYPE 12
#define ICMSG_OFF_VERMSG 14
#define ICMSG_OFF_MSGSIZE 18
#define ICMSG_OFF_STATUS 20
#define ICMSG_OFF_TRANSACTION_ID 24
#define ICMSG_OFF_FLAGS 25

typedef struct IcVersion {
	uint16_t major;
	uint16_t minor;
} IcVersion;

/* The decoded vmbuspipe_hdr + icmsg_hdr (host byte order). */
typedef struct IcMsgHeader {
	uint32_t pipe_flags;
	uint32_t pipe_msgsize;
	IcVersion frame_version;
	uint16_t msgtype;
	IcVersion msg_version;
	uint16_t msgsize;
	uint32_t status;
	uint8_t transaction_id;
	uint8_t flags;
} IcMsgHeader;

/* Decodes the 28-byte IC header of payload. Returns 0, or -EBADMSG if len < ICMSG_HDR. */
int icmsg_parse_header(const uint8_t *payload, size_t len, IcMsgHeader *ret);

/*
 * Turns the request in payload into its reply in place: status (an HV_* code) and
 * icflags = TRANSACTION | RESPONSE. Returns 0, or -EBADMSG if len < ICMSG_HDR.
 */
int icmsg_set_response(uint8_t *payload, size_t len, uint32_t status);

/*
 * Answers an ICMSGTYPE_NEGOTIATE payload in place (§2.3). fw and svc are our framework and
 * service versions in preference order; the first of ours that the host offers wins.
 * On success: counts 1/1, icversion_data[0..1] = chosen versions, icmsgsize 0x10, status 0,
 * *ret_fw and *ret_svc set, returns 0.
 * No common version: counts 0/0, icmsgsize 0x10, status HV_E_FAIL, returns -EPROTONOSUPPORT.
 * Malformed (len < 32, a count > 100, versions beyond len): returns -EBADMSG; if len >= 28 the
 * header is still turned into a HV_E_FAIL reply, the body is left alone.
 * icflags is TRANSACTION | RESPONSE in every reply.
 */
int icmsg_negotiate(uint8_t *payload, size_t len, const IcVersion *fw, size_t n_fw,
		    const IcVersion *svc, size_t n_svc, IcVersion *ret_fw, IcVersion *ret_svc);
