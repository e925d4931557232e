/* SPDX-License-Identifier: MIT */
/*
 * struct hv_kvp_msg codec (hyperv-abi.md §4.2/§4.3). Every field is read with memcpy at its
 * documented offset, so nothing depends on the compiler's idea of the kernel struct; integers
 * are host-endian because kernel and daemon share the CPU.
 */
#include <stdbool.h>
#include <string.h>

#include "kvp/kvp-msg.h"

static const char *const op_names[_KVP_OP_MAX] = {
	[KVP_OP_GET] = "get",
	[KVP_OP_SET] = "set",
	[KVP_OP_DELETE] = "delete",
	[KVP_OP_ENUMERATE] = "enumerate",
	[KVP_OP_GET_IP_INFO] = "get-ip-info",
	[KVP_OP_SET_IP_INFO] = "set-ip-info",
};

static const char *const pool_names[_KVP_POOL_MAX] = {
	[KVP_POOL_EXTERNAL] = "external",
	[KVP_POOL_GUEST] = "guest",
	[KVP_POOL_AUTO] = "auto",
	[KVP_POOL_AUTO_EXTERNAL] = "auto-external",
	[KVP_POOL_AUTO_INTERNAL] = "auto-internal",
};

const char *kvp_op_to_string(KvpOp op)
{
	if (op < 0 || op >= _KVP_OP_MAX)
		return NULL;
	return op_names[op];
}

const char *kvp_pool_to_string(KvpPoolId pool)
{
	if (pool < 0 || pool >= _KVP_POOL_MAX)
		return NULL;
	return pool_names[pool];
}

static uint32_t get_u32(const uint8_t *msg, size_t off)
{
	uint32_t v;

	memcpy(&v, msg + off, sizeof(v));
	return v;
}

static void put_u32(uint8_t *msg, size_t off, uint32_t v)
{
	memcpy(msg + off, &v, sizeof(v));
}

/*
 * Checks one kernel-supplied string field of field_size bytes whose size field claims
 * size_field bytes including the NUL, and copies it into out (field_size bytes).
 * max_units is what the host could have sent, in UTF-16 units.
 */
static int decode_string(const uint8_t *field, size_t field_size, uint32_t size_field,
			 size_t max_units, char *out, size_t *ret_len)
{
	const uint8_t *nul = memchr(field, 0, field_size);
	size_t len;

	if (!nul)
		return -EINVAL;
	len = (size_t)(nul - field);
	/* The kernel always sends strlen + 1; anything else means the fields disagree. */
	if (size_field == 0 || size_field > field_size || size_field != len + 1)
		return -EINVAL;
	if (!utf8_is_valid((const char *)field, len))
		return -EILSEQ;
	if (utf8_utf16_units((const char *)field, len) > max_units)
		return -E2BIG;

	memcpy(out, field, len);
	out[len] = '\0';
	*ret_len = len;
	return 0;
}

int kvp_msg_decode(const void *buf, size_t len, KvpRequest *ret)
{
	const uint8_t *msg = buf;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->op = _KVP_OP_INVALID;
	ret->pool = _KVP_POOL_INVALID;

	if (len >= 2) {
		ret->raw_op = msg[KVP_OFF_OP];
		ret->raw_pool = msg[KVP_OFF_POOL];
	}
	if (len != KVP_MSG_SIZE)
		return -EBADMSG;

	if (ret->raw_op >= _KVP_OP_MAX)
		return -EOPNOTSUPP;
	ret->op = (KvpOp)ret->raw_op;
	if (ret->raw_pool < _KVP_POOL_MAX)
		ret->pool = (KvpPoolId)ret->raw_pool;

	switch (ret->op) {
	case KVP_OP_GET_IP_INFO:
	case KVP_OP_SET_IP_INFO:
		/* Bodies belong to the IP configuration module; the pool is meaningless there. */
		return 0;
	case KVP_OP_GET:
	case KVP_OP_SET:
	case KVP_OP_DELETE:
	case KVP_OP_ENUMERATE:
		break;
	case _KVP_OP_MAX:
	case _KVP_OP_INVALID:
		return -EOPNOTSUPP;
	}

	/* The kernel forwards the host's pool byte unchecked (upstream indexed a table with it). */
	if (ret->pool == _KVP_POOL_INVALID)
		return -ERANGE;

	switch (ret->op) {
	case KVP_OP_GET:
		/* value_size is 0 for GET: only the key travels. */
		return decode_string(msg + KVP_OFF_SET_KEY, KVP_KEY_SIZE,
				     get_u32(msg, KVP_OFF_SET_KEY_SIZE), KVP_HOST_KEY_UNITS,
				     ret->key, &ret->key_len);
	case KVP_OP_SET:
		r = decode_string(msg + KVP_OFF_SET_KEY, KVP_KEY_SIZE,
				  get_u32(msg, KVP_OFF_SET_KEY_SIZE), KVP_HOST_KEY_UNITS, ret->key,
				  &ret->key_len);
		if (r < 0)
			return r;
		return decode_string(msg + KVP_OFF_SET_VALUE, KVP_VALUE_SIZE,
				     get_u32(msg, KVP_OFF_SET_VALUE_SIZE), KVP_HOST_VALUE_UNITS,
				     ret->value, &ret->value_len);
	case KVP_OP_DELETE:
		return decode_string(msg + KVP_OFF_DELETE_KEY, KVP_KEY_SIZE,
				     get_u32(msg, KVP_OFF_DELETE_KEY_SIZE), KVP_HOST_KEY_UNITS,
				     ret->key, &ret->key_len);
	case KVP_OP_ENUMERATE:
		ret->index = get_u32(msg, KVP_OFF_ENUM_INDEX);
		return 0;
	case KVP_OP_GET_IP_INFO:
	case KVP_OP_SET_IP_INFO:
	case _KVP_OP_MAX:
	case _KVP_OP_INVALID:
		break;
	}
	return -EOPNOTSUPP;
}

void kvp_msg_build_register(void *buf)
{
	uint8_t *msg = buf;

	memset(msg, 0, KVP_MSG_SIZE);
	msg[KVP_OFF_OP] = KVP_OP_REGISTER1;
}

int kvp_msg_parse_register_reply(const void *buf, size_t len, char *version, size_t size)
{
	const uint8_t *msg = buf;
	const uint8_t *field, *nul;
	size_t vlen;

	if (len != KVP_MSG_SIZE)
		return -EBADMSG;
	if (msg[KVP_OFF_OP] != KVP_OP_REGISTER1 && msg[KVP_OFF_OP] != KVP_OP_REGISTER)
		return -EPROTO;

	field = msg + KVP_OFF_REGISTER_VERSION;
	nul = memchr(field, 0, KVP_KEY_SIZE);
	if (!nul)
		return -EINVAL;
	vlen = (size_t)(nul - field);
	if (!utf8_is_valid((const char *)field, vlen))
		return -EILSEQ;
	if (vlen >= size)
		return -ENOBUFS;

	memcpy(version, field, vlen);
	version[vlen] = '\0';
	return 0;
}

void kvp_msg_build_status(void *buf, uint32_t status)
{
	memset(buf, 0, KVP_MSG_SIZE);
	put_u32(buf, KVP_OFF_ERROR, status);
}

/* The kernel reads both ENUMERATE and GET results from the enumerate layout. */
static int build_enum_layout(void *buf, const char *key, const char *value)
{
	uint8_t *msg = buf;
	size_t klen = strlen(key), vlen = strlen(value);

	if (klen >= KVP_KEY_SIZE || vlen >= KVP_VALUE_SIZE)
		return -E2BIG;

	/* Zero everything first: upstream leaked stale bytes after the NULs. */
	memset(msg, 0, KVP_MSG_SIZE);
	put_u32(msg, KVP_OFF_ENUM_KEY_SIZE, (uint32_t)klen + 1);
	put_u32(msg, KVP_OFF_ENUM_VALUE_SIZE, (uint32_t)vlen + 1);
	memcpy(msg + KVP_OFF_ENUM_KEY, key, klen);
	memcpy(msg + KVP_OFF_ENUM_VALUE, value, vlen);
	return 0;
}

int kvp_msg_build_enumerate(void *buf, const char *key, const char *value)
{
	return build_enum_layout(buf, key, value);
}

int kvp_msg_build_get(void *buf, const char *key, const char *value)
{
	return build_enum_layout(buf, key, value);
}
