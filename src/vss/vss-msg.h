/* SPDX-License-Identifier: MIT */
/*
 * struct hv_vss_msg as the guest kernel exchanges it over /dev/vmbus/hv_vss
 * (uapi linux/hyperv.h; hyperv-abi.md §6.1-6.2). 12 bytes, packed: bytes 0-7 a union of
 * { u8 operation; u8 reserved[7]; } and int error (first 4 bytes); bytes 8-11 a union of
 * vss_cf.flags and dm_info.flags. The registration reply is a 4-byte u32 (129).
 * Pure codec: no I/O, no logging.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

#define VSS_MSG_SIZE 12u
#define VSS_REGISTER_REPLY_SIZE 4u
#define VSS_OP_REGISTER 128u
#define VSS_OP_REGISTER1 129u
/* vss_cf.flags in a HOT_BACKUP reply: the host must not auto-recover the snapshot. */
#define VSS_HBU_NO_AUTO_RECOVERY 0x00000005u

typedef enum VssOp {
	VSS_OP_CREATE = 0,
	VSS_OP_DELETE = 1,
	VSS_OP_HOT_BACKUP = 2,
	VSS_OP_GET_DM_INFO = 3,
	VSS_OP_BU_COMPLETE = 4,
	VSS_OP_FREEZE = 5,
	VSS_OP_THAW = 6,
	VSS_OP_AUTO_RECOVER = 7,
	_VSS_OP_MAX,
	_VSS_OP_INVALID = -EINVAL,
} VssOp;

typedef struct VssRequest {
	uint8_t raw_op;
	VssOp op;
	uint32_t flags;
} VssRequest;

/*
 * Decodes a kernel -> daemon message: len must be exactly 12 (-EBADMSG); ops other than
 * FREEZE, THAW, HOT_BACKUP (the only ones the kernel forwards) -> -EOPNOTSUPP with raw_op
 * set.
 */
int vss_msg_decode(const void *buf, size_t len, VssRequest *ret);
/* 12 zero bytes with operation = REGISTER1. */
void vss_msg_build_register(void *buf);
/* Checks the 4-byte registration reply (value 129). */
int vss_msg_parse_register_reply(const void *buf, size_t len);
/* 12-byte reply: error = status in bytes 0-3 (it overwrites the op byte), flags at 8. */
void vss_msg_build_reply(void *buf, uint32_t status, uint32_t flags);

const char *vss_op_to_string(VssOp op);
