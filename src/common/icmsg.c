/* SPDX-License-Identifier: MIT */
/*
 * IC header decoding and version negotiation (hyperv-abi.md §2.2-2.3). All fields are
 * little-endian and unaligned inside the payload, so they are accessed through memcpy.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/hv-status.h"
#include "common/icmsg.h"

/* icmsg_negotiate body at ICMSG_HDR: u16 icframe_vercnt, u16 icmsg_vercnt, u32 reserved. */
#define NEG_OFF_FRAME_CNT (ICMSG_HDR + 0)
#define NEG_OFF_MSG_CNT (ICMSG_HDR + 2)
#define NEG_OFF_VERSIONS (ICMSG_HDR + 8)
#define NEG_REPLY_MSGSIZE 0x10

static uint16_t get_u16(const uint8_t *p, size_t off)
{
	uint16_t v;

	memcpy(&v, p + off, sizeof(v));
	return le16toh(v);
}

static uint32_t get_u32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return le32toh(v);
}

static void put_u16(uint8_t *p, size_t off, uint16_t v)
{
	v = htole16(v);
	memcpy(p + off, &v, sizeof(v));
}

static void put_u32(uint8_t *p, size_t off, uint32_t v)
{
	v = htole32(v);
	memcpy(p + off, &v, sizeof(v));
}

static IcVersion get_version(const uint8_t *p, size_t off)
{
	return (IcVersion){ .major = get_u16(p, off), .minor = get_u16(p, off + 2) };
}

static void put_version(uint8_t *p, size_t off, IcVersion v)
{
	put_u16(p, off, v.major);
	put_u16(p, off + 2, v.minor);
}

int icmsg_parse_header(const uint8_t *payload, size_t len, IcMsgHeader *ret)
{
	if (!payload || len < ICMSG_HDR)
		return -EBADMSG;

	*ret = (IcMsgHeader){
		.pipe_flags = get_u32(payload, ICMSG_OFF_PIPE_FLAGS),
		.pipe_msgsize = get_u32(payload, ICMSG_OFF_PIPE_MSGSIZE),
		.frame_version = get_version(payload, ICMSG_OFF_VERFRAME),
		.msgtype = get_u16(payload, ICMSG_OFF_MSGTYPE),
		.msg_version = get_version(payload, ICMSG_OFF_VERMSG),
		.msgsize = get_u16(payload, ICMSG_OFF_MSGSIZE),
		.status = get_u32(payload, ICMSG_OFF_STATUS),
		.transaction_id = payload[ICMSG_OFF_TRANSACTION_ID],
		.flags = payload[ICMSG_OFF_FLAGS],
	};
	return 0;
}

int icmsg_set_response(uint8_t *payload, size_t len, uint32_t status)
{
	if (!payload || len < ICMSG_HDR)
		return -EBADMSG;

	put_u32(payload, ICMSG_OFF_STATUS, status);
	payload[ICMSG_OFF_FLAGS] = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	return 0;
}

/* Our first version (preference order) that the host lists among count entries at off. */
static bool pick_version(const uint8_t *payload, size_t off, size_t count, const IcVersion *ours,
			 size_t n_ours, IcVersion *ret)
{
	for (size_t i = 0; i < n_ours; i++)
		for (size_t j = 0; j < count; j++) {
			IcVersion host = get_version(payload, off + 4 * j);

			if (host.major == ours[i].major && host.minor == ours[i].minor) {
				*ret = ours[i];
				return true;
			}
		}
	return false;
}

int icmsg_negotiate(uint8_t *payload, size_t len, const IcVersion *fw, size_t n_fw,
		    const IcVersion *svc, size_t n_svc, IcVersion *ret_fw, IcVersion *ret_svc)
{
	IcVersion chosen_fw, chosen_svc;
	size_t fc, mc;

	if (!payload || len < ICMSG_HDR)
		return -EBADMSG;
	if (len < ICMSG_HDR + 4) {
		(void)icmsg_set_response(payload, len, HV_E_FAIL);
		return -EBADMSG;
	}

	fc = get_u16(payload, NEG_OFF_FRAME_CNT);
	mc = get_u16(payload, NEG_OFF_MSG_CNT);
	if (fc > IC_VERSION_NEGOTIATION_MAX_VER_COUNT ||
	    mc > IC_VERSION_NEGOTIATION_MAX_VER_COUNT || NEG_OFF_VERSIONS + 4 * (fc + mc) > len) {
		(void)icmsg_set_response(payload, len, HV_E_FAIL);
		return -EBADMSG;
	}

	put_u16(payload, ICMSG_OFF_MSGSIZE, NEG_REPLY_MSGSIZE);
	if (!pick_version(payload, NEG_OFF_VERSIONS, fc, fw, n_fw, &chosen_fw) ||
	    !pick_version(payload, NEG_OFF_VERSIONS + 4 * fc, mc, svc, n_svc, &chosen_svc)) {
		put_u16(payload, NEG_OFF_FRAME_CNT, 0);
		put_u16(payload, NEG_OFF_MSG_CNT, 0);
		(void)icmsg_set_response(payload, len, HV_E_FAIL);
		return -EPROTONOSUPPORT;
	}

	/* fc, mc >= 1 here, so both reply slots lie within the validated version array. */
	put_u16(payload, NEG_OFF_FRAME_CNT, 1);
	put_u16(payload, NEG_OFF_MSG_CNT, 1);
	put_version(payload, NEG_OFF_VERSIONS, chosen_fw);
	put_version(payload, NEG_OFF_VERSIONS + 4, chosen_svc);
	(void)icmsg_set_response(payload, len, HV_S_OK);
	*ret_fw = chosen_fw;
	*ret_svc = chosen_svc;
	return 0;
}
