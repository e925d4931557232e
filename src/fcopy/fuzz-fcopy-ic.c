/* SPDX-License-Identifier: MIT */
/*
 * The uio message path as hv_fcopy_daemon sees it: one VMBus in-band payload of arbitrary bytes
 * -> IC header -> version negotiation or an fcopy body -> reply written in place. Invariants:
 * the reply never grows past the payload (the bytes after it stay untouched), the header says
 * TRANSACTION | RESPONSE with a status, negotiation answers 3.0 / 1.1 or fails with HV_E_FAIL,
 * and a decoded request has NUL-terminated valid UTF-8 names within FCOPY_NAME_SIZE and WRITE
 * data (<= 6144 bytes) inside the payload.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/hv-status.h"
#include "common/icmsg.h"
#include "common/macro.h"
#include "common/utf8.h"
#include "fcopy/fcopy-msg.h"

/* The daemon's receive buffer: twice the largest message (IC header + WRITE_TO_FILE). */
#define IN_MAX (2 * (ICMSG_HDR + FCOPY_WRITE_SIZE))
/* Bytes after the payload that must survive the reply unchanged. */
#define CANARY 64
/* The negotiation body: counts at 28 and 30, reserved u32, versions from 36. */
#define NEG_OFF_FRAME_CNT 28
#define NEG_OFF_MSG_CNT 30
#define NEG_OFF_VERSIONS 36

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const IcVersion fw_versions[] = { { 3, 0 } };
static const IcVersion svc_versions[] = { { 1, 1 } };

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* A reply: status and flags set, and nothing but the reply's own fields changed. */
static void check_response(const uint8_t *orig, const uint8_t *reply, uint32_t status)
{
	assert(get_le32(reply + ICMSG_OFF_STATUS) == status);
	assert(reply[ICMSG_OFF_FLAGS] == (ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE));
	assert(memcmp(orig, reply, ICMSG_OFF_STATUS) == 0);
	assert(reply[ICMSG_OFF_TRANSACTION_ID] == orig[ICMSG_OFF_TRANSACTION_ID]);
	assert(memcmp(orig + ICMSG_OFF_FLAGS + 1, reply + ICMSG_OFF_FLAGS + 1,
		      ICMSG_HDR - ICMSG_OFF_FLAGS - 1) == 0);
}

/* Negotiates in place in copy (the daemon's buffer), as the manager does. */
static void check_negotiate(const uint8_t *orig, uint8_t *copy, size_t len)
{
	IcVersion fw = {}, svc = {};
	int r;

	r = icmsg_negotiate(copy, len, fw_versions, ELEMENTSOF(fw_versions), svc_versions,
			    ELEMENTSOF(svc_versions), &fw, &svc);
	assert(r == 0 || r == -EPROTONOSUPPORT || r == -EBADMSG);
	assert(copy[ICMSG_OFF_FLAGS] == (ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE));
	assert(memcmp(orig, copy, ICMSG_OFF_MSGSIZE) == 0);
	switch (r) {
	case 0:
		/* The host offered both versions, so the reply's 16 bytes lie within len. */
		assert(len >= NEG_OFF_VERSIONS + 8);
		assert(get_le32(copy + ICMSG_OFF_STATUS) == HV_S_OK);
		assert(get_le16(copy + ICMSG_OFF_MSGSIZE) == 0x10);
		assert(get_le16(copy + NEG_OFF_FRAME_CNT) == 1 &&
		       get_le16(copy + NEG_OFF_MSG_CNT) == 1);
		assert(fw.major == 3 && fw.minor == 0 && svc.major == 1 && svc.minor == 1);
		assert(get_le16(copy + NEG_OFF_VERSIONS) == 3 &&
		       get_le16(copy + NEG_OFF_VERSIONS + 2) == 0);
		assert(get_le16(copy + NEG_OFF_VERSIONS + 4) == 1 &&
		       get_le16(copy + NEG_OFF_VERSIONS + 6) == 1);
		break;
	case -EPROTONOSUPPORT:
		assert(get_le32(copy + ICMSG_OFF_STATUS) == HV_E_FAIL);
		assert(get_le16(copy + NEG_OFF_FRAME_CNT) == 0 &&
		       get_le16(copy + NEG_OFF_MSG_CNT) == 0);
		break;
	default:
		/* Malformed: the header says HV_E_FAIL, the body is left alone. */
		assert(get_le32(copy + ICMSG_OFF_STATUS) == HV_E_FAIL);
		assert(memcmp(orig + ICMSG_HDR, copy + ICMSG_HDR, len - ICMSG_HDR) == 0);
		break;
	}
}

static void check_request(const FcopyRequest *q, const uint8_t *body, size_t len)
{
	size_t fl = strnlen(q->file_name, sizeof(q->file_name));
	size_t pl = strnlen(q->path_name, sizeof(q->path_name));

	assert(q->op >= 0 && q->op < _FCOPY_OP_MAX);
	assert(fl < FCOPY_NAME_SIZE && pl < FCOPY_NAME_SIZE);
	assert(utf8_is_valid(q->file_name, fl) && utf8_is_valid(q->path_name, pl));
	assert(q->size <= FCOPY_DATA_FRAGMENT);
	if (q->op == FCOPY_OP_WRITE_TO_FILE) {
		assert(q->data >= body + FCOPY_WRITE_DATA_OFFSET);
		assert((size_t)(q->data - body) + q->size <= len);
	} else {
		assert(q->data == NULL && q->size == 0);
	}
	if (q->op == FCOPY_OP_START_FILE_COPY)
		assert(fl > 0 && pl > 0 && q->path_name[0] == '/' && !strchr(q->file_name, '/'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[IN_MAX + CANARY];
	size_t len = MIN(size, (size_t)IN_MAX);
	FcopyRequest req;
	IcMsgHeader h;
	uint32_t status;
	int r;

	memcpy(buf, data, len);
	memset(buf + len, 0xa5, CANARY);
	r = icmsg_parse_header(buf, len, &h);
	if (r < 0) {
		/* No reply can be made: the daemon ignores the packet. */
		assert(r == -EBADMSG && len < ICMSG_HDR);
		return 0;
	}
	assert(h.msgtype == get_le16(data + ICMSG_OFF_MSGTYPE));
	switch (h.msgtype) {
	case ICMSGTYPE_NEGOTIATE:
		check_negotiate(data, buf, len);
		break;
	case ICMSGTYPE_FCOPY:
		r = fcopy_msg_decode_ic(buf + ICMSG_HDR, len - ICMSG_HDR, &req);
		if (r == 0)
			check_request(&req, buf + ICMSG_HDR, len - ICMSG_HDR);
		else
			assert(r == -EBADMSG || r == -EINVAL || r == -EOPNOTSUPP ||
			       r == -ENAMETOOLONG || r == -EILSEQ);
		/* The status the manager would pick does not matter to the framing. */
		status = r == 0 ? HV_S_OK : HV_E_FAIL;
		assert(icmsg_set_response(buf, len, status) == 0);
		check_response(data, buf, status);
		/* The decoder reads the body only. */
		assert(memcmp(data + ICMSG_HDR, buf + ICMSG_HDR, len - ICMSG_HDR) == 0);
		break;
	default:
		assert(icmsg_set_response(buf, len, HV_E_FAIL) == 0);
		check_response(data, buf, HV_E_FAIL);
		break;
	}
	/* Replies are written in place and never grow past the payload. */
	for (size_t i = 0; i < CANARY; i++)
		assert(buf[len + i] == 0xa5);
	return 0;
}
