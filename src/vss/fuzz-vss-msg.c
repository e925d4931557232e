/* SPDX-License-Identifier: MIT */
/* Kernel -> daemon VSS messages and registration replies: arbitrary bytes never crash. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vss/vss-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t reply[VSS_MSG_SIZE];
	VssRequest r;

	if (vss_msg_decode(data, size, &r) == 0) {
		assert(r.op == VSS_OP_FREEZE || r.op == VSS_OP_THAW || r.op == VSS_OP_HOT_BACKUP);
		assert(size == VSS_MSG_SIZE && r.raw_op == data[0]);
		vss_msg_build_reply(reply, 0, r.flags);
		assert(reply[0] == 0 && memcmp(reply + 8, data + 8, 4) == 0);
	}
	(void)vss_msg_parse_register_reply(data, size);
	(void)vss_op_to_string((VssOp)(size ? data[0] : 0));
	return 0;
}
