/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the kernel-facing codec: arbitrary bytes into kvp_msg_decode() and
 * kvp_msg_parse_register_reply(); whatever decodes must satisfy the documented invariants
 * and survive a round trip through the builders. Run with -max_len=7432 (one message).
 */
#include <stdbool.h>
#include <string.h>

#include "kvp/kvp-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t len, size_t field, size_t max_units)
{
	assert_se(len < field);
	assert_se(memchr(s, 0, field) == s + len);
	assert_se(utf8_is_valid(s, len));
	assert_se(utf8_utf16_units(s, len) <= max_units);
}

static uint32_t get_u32(const uint8_t *msg, size_t off)
{
	uint32_t v;

	memcpy(&v, msg + off, sizeof(v));
	return v;
}

/* A builder's output: key at 20, value at 532, sizes strlen + 1, every other byte zero. */
static void check_enum_layout(const uint8_t *out, const KvpRequest *req)
{
	assert_se(get_u32(out, KVP_OFF_ERROR) == 0);
	assert_se(get_u32(out, KVP_OFF_ENUM_INDEX) == 0);
	assert_se(get_u32(out, KVP_OFF_ENUM_KEY_SIZE) == req->key_len + 1);
	assert_se(get_u32(out, KVP_OFF_ENUM_VALUE_SIZE) == req->value_len + 1);
	assert_se(memcmp(out + KVP_OFF_ENUM_KEY, req->key, req->key_len + 1) == 0);
	assert_se(memcmp(out + KVP_OFF_ENUM_VALUE, req->value, req->value_len + 1) == 0);
	for (size_t i = KVP_OFF_ENUM_KEY + req->key_len; i < KVP_OFF_ENUM_VALUE; i++)
		assert_se(out[i] == 0);
	for (size_t i = KVP_OFF_ENUM_VALUE + req->value_len; i < KVP_MSG_SIZE; i++)
		assert_se(out[i] == 0);
}

/* Re-encodes a decoded SET by hand and decodes it again: the same request must come out. */
static void check_set_roundtrip(const KvpRequest *req)
{
	uint8_t msg[KVP_MSG_SIZE] = {};
	uint32_t ks = (uint32_t)req->key_len + 1, vs = (uint32_t)req->value_len + 1;
	KvpRequest again;

	msg[KVP_OFF_OP] = KVP_OP_SET;
	msg[KVP_OFF_POOL] = (uint8_t)req->pool;
	memcpy(msg + KVP_OFF_SET_KEY_SIZE, &ks, sizeof(ks));
	memcpy(msg + KVP_OFF_SET_VALUE_SIZE, &vs, sizeof(vs));
	memcpy(msg + KVP_OFF_SET_KEY, req->key, req->key_len);
	memcpy(msg + KVP_OFF_SET_VALUE, req->value, req->value_len);
	assert_se(kvp_msg_decode(msg, sizeof(msg), &again) == 0);
	assert_se(again.key_len == req->key_len && again.value_len == req->value_len);
	assert_se(strcmp(again.key, req->key) == 0);
	/* A GET or DELETE carried no value; the re-encoded SET has an empty one then. */
	assert_se(strcmp(again.value, req->value) == 0);
}

static void check_decoded(const uint8_t *buf, const KvpRequest *req)
{
	uint8_t out[KVP_MSG_SIZE];

	assert_se(req->raw_op == buf[KVP_OFF_OP] && req->raw_pool == buf[KVP_OFF_POOL]);
	assert_se(req->op >= 0 && req->op < _KVP_OP_MAX && (uint8_t)req->op == req->raw_op);

	switch (req->op) {
	case KVP_OP_GET_IP_INFO:
	case KVP_OP_SET_IP_INFO:
		return;
	case KVP_OP_ENUMERATE:
		assert_se(req->pool >= 0 && req->pool < _KVP_POOL_MAX);
		assert_se(req->index == get_u32(buf, KVP_OFF_ENUM_INDEX));
		assert_se(req->key_len == 0 && req->key[0] == '\0');
		return;
	case KVP_OP_GET:
	case KVP_OP_SET:
	case KVP_OP_DELETE:
		break;
	case _KVP_OP_MAX:
	case _KVP_OP_INVALID:
		assert_se(false);
	}

	assert_se(req->pool >= 0 && req->pool < _KVP_POOL_MAX);
	check_string(req->key, req->key_len, KVP_KEY_SIZE, KVP_HOST_KEY_UNITS);
	check_string(req->value, req->value_len, KVP_VALUE_SIZE, KVP_HOST_VALUE_UNITS);
	if (req->op != KVP_OP_SET)
		assert_se(req->value_len == 0);

	memset(out, 0xa5, sizeof(out));
	assert_se(kvp_msg_build_enumerate(out, req->key, req->value) == 0);
	check_enum_layout(out, req);
	memset(out, 0x5a, sizeof(out));
	assert_se(kvp_msg_build_get(out, req->key, req->value) == 0);
	check_enum_layout(out, req);

	check_set_roundtrip(req);
}

static void check_register_reply(const uint8_t *buf, size_t small)
{
	char version[KVP_KEY_SIZE + 1];
	size_t sizes[] = { sizeof(version), small };

	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		size_t n = sizes[i];

		memset(version, 0x7f, sizeof(version));
		if (kvp_msg_parse_register_reply(buf, KVP_MSG_SIZE, version, n) < 0)
			continue;
		assert_se(buf[KVP_OFF_OP] == KVP_OP_REGISTER1 ||
			  buf[KVP_OFF_OP] == KVP_OP_REGISTER);
		assert_se(memchr(version, 0, n) != NULL);
		assert_se(strlen(version) < n && strlen(version) < KVP_KEY_SIZE);
		assert_se(utf8_is_valid(version, strlen(version)));
		assert_se(memcmp(version, buf + KVP_OFF_REGISTER_VERSION, strlen(version) + 1) ==
			  0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[KVP_MSG_SIZE] = {};
	KvpRequest req;
	int r;

	/* As given: anything but exactly one message is refused. */
	r = kvp_msg_decode(data, size, &req);
	if (size != KVP_MSG_SIZE)
		assert_se(r == -EBADMSG);
	if (size >= 2)
		assert_se(req.raw_op == data[0] && req.raw_pool == data[1]);

	/* Zero-padded to one message, which is how the kernel's messages look. */
	if (size > 0)
		memcpy(buf, data, MIN(size, sizeof(buf)));
	r = kvp_msg_decode(buf, sizeof(buf), &req);
	if (r == 0)
		check_decoded(buf, &req);
	else
		assert_se(r == -EOPNOTSUPP || r == -ERANGE || r == -EINVAL || r == -EILSEQ ||
			  r == -E2BIG);

	check_register_reply(buf, size > 0 ? data[size - 1] % 16 : 1);

	/* The UTF-8 helpers on raw bytes: counting never exceeds the byte count. */
	if (utf8_is_valid((const char *)data, size))
		assert_se(utf8_utf16_units((const char *)data, size) <= size);
	return 0;
}
