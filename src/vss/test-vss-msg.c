/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "vss/vss-msg.h"

static void test_decode_forwarded_ops(void **state)
{
	uint8_t msg[VSS_MSG_SIZE] = { 0 };
	VssRequest r;

	msg[0] = VSS_OP_FREEZE;
	assert_int_equal(vss_msg_decode(msg, sizeof(msg), &r), 0);
	assert_int_equal(r.op, VSS_OP_FREEZE);
	msg[0] = VSS_OP_THAW;
	assert_int_equal(vss_msg_decode(msg, sizeof(msg), &r), 0);
	assert_int_equal(r.op, VSS_OP_THAW);
	msg[0] = VSS_OP_HOT_BACKUP;
	msg[8] = 0x05;
	assert_int_equal(vss_msg_decode(msg, sizeof(msg), &r), 0);
	assert_int_equal(r.op, VSS_OP_HOT_BACKUP);
	assert_int_equal(r.flags, 5);
}

static void test_decode_rejects(void **state)
{
	uint8_t msg[16] = { 0 };
	VssRequest r;

	/* The kernel requires exactly 12 bytes both ways. */
	assert_int_equal(vss_msg_decode(msg, 11, &r), -EBADMSG);
	assert_int_equal(vss_msg_decode(msg, 16, &r), -EBADMSG);
	/* Ops the kernel answers itself, and junk. */
	for (unsigned op = 0; op < 256; op++) {
		if (op == VSS_OP_FREEZE || op == VSS_OP_THAW || op == VSS_OP_HOT_BACKUP)
			continue;
		msg[0] = (uint8_t)op;
		assert_int_equal(vss_msg_decode(msg, VSS_MSG_SIZE, &r), -EOPNOTSUPP);
		assert_int_equal(r.raw_op, op);
	}
}

static void test_register(void **state)
{
	uint8_t msg[VSS_MSG_SIZE];
	uint8_t reply[4] = { 129, 0, 0, 0 };

	memset(msg, 0xAA, sizeof(msg));
	vss_msg_build_register(msg);
	assert_int_equal(msg[0], 129);
	for (size_t i = 1; i < sizeof(msg); i++)
		assert_int_equal(msg[i], 0);
	assert_int_equal(vss_msg_parse_register_reply(reply, 4), 0);
	assert_int_equal(vss_msg_parse_register_reply(reply, 12), -EBADMSG);
	reply[0] = 128;
	assert_int_equal(vss_msg_parse_register_reply(reply, 4), -EPROTO);
}

static void test_reply_layout(void **state)
{
	uint8_t msg[VSS_MSG_SIZE];

	memset(msg, 0xAA, sizeof(msg));
	vss_msg_build_reply(msg, 0x80004005u, VSS_HBU_NO_AUTO_RECOVERY);
	/* Status little-endian in bytes 0-3 (overwriting the op), flags at 8, rest zero. */
	assert_memory_equal(msg, "\x05\x40\x00\x80\0\0\0\0\x05\0\0\0", VSS_MSG_SIZE);
	assert_string_equal(vss_op_to_string(VSS_OP_FREEZE), "FREEZE");
	assert_string_equal(vss_op_to_string((VssOp)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_forwarded_ops),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_reply_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
