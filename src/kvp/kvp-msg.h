/* SPDX-License-Identifier: MIT */
/*
 * struct hv_kvp_msg as the guest kernel exchanges it with the daemon over /dev/vmbus/hv_kvp
 * (uapi linux/hyperv.h; offsets in ../shared/docs/hyperv-abi.md §4.2, checked on x86_64).
 * Pure codec: bytes in, typed request out; typed reply in, bytes out. No I/O, no logging.
 *
 * Between kernel and daemon all strings are UTF-8 and NUL-terminated; the kernel converts
 * to and from the host's UTF-16.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"
#include "common/utf8.h"

#define KVP_MSG_SIZE 7432u
#define KVP_KEY_SIZE 512u    /* HV_KVP_EXCHANGE_MAX_KEY_SIZE, bytes incl. NUL */
#define KVP_VALUE_SIZE 2048u /* HV_KVP_EXCHANGE_MAX_VALUE_SIZE, bytes incl. NUL */
/* What survives the kernel's UTF-8 -> UTF-16 conversion towards the host, in UTF-16 units. */
#define KVP_HOST_KEY_UNITS 254u
#define KVP_HOST_VALUE_UNITS 1022u

/* Byte offsets inside the 7432-byte message. */
#define KVP_OFF_OP 0u
#define KVP_OFF_POOL 1u
#define KVP_OFF_ERROR 0u /* u32 status, overlaps op/pool in replies */
#define KVP_OFF_SET_VALUE_TYPE 4u
#define KVP_OFF_SET_KEY_SIZE 8u
#define KVP_OFF_SET_VALUE_SIZE 12u
#define KVP_OFF_SET_KEY 16u
#define KVP_OFF_SET_VALUE 528u
#define KVP_OFF_ENUM_INDEX 4u
#define KVP_OFF_ENUM_KEY_SIZE 12u
#define KVP_OFF_ENUM_VALUE_SIZE 16u
#define KVP_OFF_ENUM_KEY 20u
#define KVP_OFF_ENUM_VALUE 532u /* also where the kernel reads a GET result */
#define KVP_OFF_DELETE_KEY_SIZE 4u
#define KVP_OFF_DELETE_KEY 8u
#define KVP_OFF_REGISTER_VERSION 4u

#define KVP_OP_REGISTER 4u /* legacy registration, numerically GET_IP_INFO */
#define KVP_OP_REGISTER1 100u

#define KVP_REG_SZ 1u

typedef enum KvpOp {
	KVP_OP_GET = 0,
	KVP_OP_SET = 1,
	KVP_OP_DELETE = 2,
	KVP_OP_ENUMERATE = 3,
	KVP_OP_GET_IP_INFO = 4,
	KVP_OP_SET_IP_INFO = 5,
	_KVP_OP_MAX,
	_KVP_OP_INVALID = -EINVAL,
} KvpOp;

typedef enum KvpPoolId {
	KVP_POOL_EXTERNAL = 0,	    /* host -> guest ("Source 0"), daemon-owned file */
	KVP_POOL_GUEST = 1,	    /* guest -> host, appended by cloud-init and others */
	KVP_POOL_AUTO = 2,	    /* intrinsic guest data, computed by the daemon */
	KVP_POOL_AUTO_EXTERNAL = 3, /* host facts (HostName, VirtualMachineName...), daemon-owned */
	KVP_POOL_AUTO_INTERNAL = 4, /* reserved; never written by the daemon */
	_KVP_POOL_MAX,
	_KVP_POOL_INVALID = -EINVAL,
} KvpPoolId;

/* A decoded kernel -> daemon request. Strings are NUL-terminated, valid UTF-8. */
typedef struct KvpRequest {
	uint8_t raw_op; /* as received, for logging even when decoding failed */
	uint8_t raw_pool;
	KvpOp op;
	KvpPoolId pool;
	uint32_t index;	  /* ENUMERATE position */
	size_t key_len;	  /* strlen(key) */
	size_t value_len; /* strlen(value) */
	char key[KVP_KEY_SIZE];
	char value[KVP_VALUE_SIZE];
} KvpRequest;

/*
 * Decodes one message. len must be exactly KVP_MSG_SIZE (-EBADMSG otherwise). Sets raw_op
 * and raw_pool whenever len >= 2, even on failure. Errors: -EOPNOTSUPP unknown operation;
 * -ERANGE pool out of range; -EINVAL size field inconsistent with the string (missing NUL,
 * size 0 or too large); -EILSEQ string not valid UTF-8; -E2BIG string longer than the host
 * could have sent.
 * GET_IP_INFO / SET_IP_INFO decode only op and pool here (their bodies belong to the IP
 * configuration module).
 */
int kvp_msg_decode(const void *buf, size_t len, KvpRequest *ret);

/* Fills buf (KVP_MSG_SIZE bytes) with a zeroed REGISTER1 message. */
void kvp_msg_build_register(void *buf);

/*
 * Checks the kernel's registration reply (op REGISTER1 or REGISTER, NUL-terminated version
 * string within 512 bytes, valid UTF-8) and copies the version into version[size].
 */
int kvp_msg_parse_register_reply(const void *buf, size_t len, char *version, size_t size);

/* Zero-filled reply carrying only a status (what every failure and SET/DELETE send). */
void kvp_msg_build_status(void *buf, uint32_t status);

/*
 * Zero-filled successful ENUMERATE reply: key at offset 20 and value at 532, sizes = strlen
 * + 1. key/value must fit (strlen < 512 / 2048); -E2BIG otherwise.
 */
int kvp_msg_build_enumerate(void *buf, const char *key, const char *value);

/*
 * Zero-filled successful GET reply. The kernel reads the value from the enumerate layout
 * (offset 532), unlike upstream's daemon which writes it at 528 and so answers "".
 */
int kvp_msg_build_get(void *buf, const char *key, const char *value);

const char *kvp_op_to_string(KvpOp op);
const char *kvp_pool_to_string(KvpPoolId pool);
