/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "vss/vss-msg.h"

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

int vss_msg_decode(const void *buf, size_t len, VssRequest *ret)
{
	const uint8_t *b = buf;

	memset(ret, 0, sizeof(*ret));
	ret->op = _VSS_OP_INVALID;
	if (len != VSS_MSG_SIZE)
		return -EBADMSG;
	ret->raw_op = b[0];
	ret->flags = get_le32(b + 8);
	switch (b[0]) {
	case VSS_OP_FREEZE:
	case VSS_OP_THAW:
	case VSS_OP_HOT_BACKUP:
		ret->op = (VssOp)b[0];
		return 0;
	default:
		/* The kernel answers every other operation itself. */
		return -EOPNOTSUPP;
	}
}

void vss_msg_build_register(void *buf)
{
	memset(buf, 0, VSS_MSG_SIZE);
	((uint8_t *)buf)[0] = VSS_OP_REGISTER1;
}

int vss_msg_parse_register_reply(const void *buf, size_t len)
{
	if (len != VSS_REGISTER_REPLY_SIZE)
		return -EBADMSG;
	return get_le32(buf) == VSS_OP_REGISTER1 ? 0 : -EPROTO;
}

void vss_msg_build_reply(void *buf, uint32_t status, uint32_t flags)
{
	memset(buf, 0, VSS_MSG_SIZE);
	put_le32(buf, status);
	put_le32((uint8_t *)buf + 8, flags);
}

const char *vss_op_to_string(VssOp op)
{
	static const char *const names[_VSS_OP_MAX] = {
		[VSS_OP_CREATE] = "CREATE",
		[VSS_OP_DELETE] = "DELETE",
		[VSS_OP_HOT_BACKUP] = "HOT_BACKUP",
		[VSS_OP_GET_DM_INFO] = "GET_DM_INFO",
		[VSS_OP_BU_COMPLETE] = "BU_COMPLETE",
		[VSS_OP_FREEZE] = "FREEZE",
		[VSS_OP_THAW] = "THAW",
		[VSS_OP_AUTO_RECOVER] = "AUTO_RECOVER",
	};

	if (op < 0 || op >= _VSS_OP_MAX)
		return "unknown";
	return names[op];
}
