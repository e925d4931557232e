/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "kvp/kvp-msg.h"

/* Messages are built by hand at the offsets of hyperv-abi.md §4.2, not with the codec. */
static uint8_t msg[KVP_MSG_SIZE];
static KvpRequest req;

static void put32(size_t off, uint32_t v)
{
	memcpy(msg + off, &v, sizeof(v));
}

static uint32_t get32(const uint8_t *m, size_t off)
{
	uint32_t v;
	memcpy(&v, m + off, sizeof(v));
	return v;
}

static void hand_set(uint8_t pool, const char *key, const char *value)
{
	memset(msg, 0, sizeof(msg));
	msg[0] = KVP_OP_SET;
	msg[1] = pool;
	put32(8, (uint32_t)strlen(key) + 1);
	put32(12, (uint32_t)strlen(value) + 1);
	memcpy(msg + 16, key, strlen(key));
	memcpy(msg + 528, value, strlen(value));
}

static void hand_get(uint8_t pool, const char *key)
{
	memset(msg, 0, sizeof(msg));
	msg[0] = KVP_OP_GET;
	msg[1] = pool;
	put32(8, (uint32_t)strlen(key) + 1);
	memcpy(msg + 16, key, strlen(key));
}

static void hand_delete(uint8_t pool, const char *key)
{
	memset(msg, 0, sizeof(msg));
	msg[0] = KVP_OP_DELETE;
	msg[1] = pool;
	put32(4, (uint32_t)strlen(key) + 1);
	memcpy(msg + 8, key, strlen(key));
}

static bool all_zero(const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void test_offsets_set(void **state)
{
	hand_set(KVP_POOL_EXTERNAL, "EEE", "555");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_int_equal(req.op, KVP_OP_SET);
	assert_int_equal(req.pool, KVP_POOL_EXTERNAL);
	assert_string_equal(req.key, "EEE");
	assert_int_equal(req.key_len, 3);
	assert_string_equal(req.value, "555");
	assert_int_equal(req.value_len, 3);
	/* Same bytes shifted by one would be garbage: the offsets really are 16 and 528. */
	assert_int_equal(KVP_OFF_SET_KEY, 16);
	assert_int_equal(KVP_OFF_SET_VALUE, 528);
}

static void test_offsets_get_delete_enum(void **state)
{
	hand_get(KVP_POOL_AUTO, "OSName");
	put32(12, 0); /* the kernel sends value_size 0 for GET */
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_int_equal(req.op, KVP_OP_GET);
	assert_int_equal(req.pool, KVP_POOL_AUTO);
	assert_string_equal(req.key, "OSName");
	assert_string_equal(req.value, "");

	/* Garbage in the value field of a GET is ignored. */
	memset(msg + 528, 0xff, KVP_VALUE_SIZE);
	put32(12, 12345);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_string_equal(req.value, "");

	hand_delete(KVP_POOL_AUTO_EXTERNAL, "HostName");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_int_equal(req.op, KVP_OP_DELETE);
	assert_int_equal(req.pool, KVP_POOL_AUTO_EXTERNAL);
	assert_string_equal(req.key, "HostName");

	memset(msg, 0, sizeof(msg));
	msg[0] = KVP_OP_ENUMERATE;
	msg[1] = KVP_POOL_GUEST;
	put32(4, 0x01020304);
	/* Junk where a key would be: ENUMERATE decodes only the index. */
	memset(msg + 8, 0xff, 600);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_int_equal(req.op, KVP_OP_ENUMERATE);
	assert_int_equal(req.pool, KVP_POOL_GUEST);
	assert_int_equal(req.index, 0x01020304);
	assert_string_equal(req.key, "");
}

static void test_ip_info_ops(void **state)
{
	memset(msg, 0, sizeof(msg));
	msg[0] = KVP_OP_GET_IP_INFO;
	msg[1] = 77; /* pool is not meaningful for IP ops and not range-checked */
	memset(msg + 4, 0xff, 100);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_int_equal(req.op, KVP_OP_GET_IP_INFO);
	assert_int_equal(req.raw_pool, 77);
	assert_int_equal(req.pool, _KVP_POOL_INVALID);

	msg[0] = KVP_OP_SET_IP_INFO;
	msg[1] = KVP_POOL_EXTERNAL;
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_int_equal(req.op, KVP_OP_SET_IP_INFO);
	assert_int_equal(req.pool, KVP_POOL_EXTERNAL);
}

static void test_length(void **state)
{
	hand_set(0, "k", "v");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg) - 1, &req), -EBADMSG);
	assert_int_equal(req.raw_op, KVP_OP_SET);
	assert_int_equal(req.raw_pool, 0);
	assert_int_equal(kvp_msg_decode(msg, 0, &req), -EBADMSG);
	assert_int_equal(req.raw_op, 0);
	msg[0] = 9;
	msg[1] = 8;
	assert_int_equal(kvp_msg_decode(msg, 2, &req), -EBADMSG);
	assert_int_equal(req.raw_op, 9);
	assert_int_equal(req.raw_pool, 8);

	static uint8_t big[KVP_MSG_SIZE + 4];
	memcpy(big, msg, sizeof(msg));
	assert_int_equal(kvp_msg_decode(big, sizeof(big), &req), -EBADMSG);
}

static void test_op_and_pool_range(void **state)
{
	hand_set(0, "k", "v");
	msg[0] = 6;
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EOPNOTSUPP);
	assert_int_equal(req.raw_op, 6);
	msg[0] = KVP_OP_REGISTER1;
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EOPNOTSUPP);
	msg[0] = 255;
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EOPNOTSUPP);

	for (uint8_t op = KVP_OP_GET; op <= KVP_OP_ENUMERATE; op++) {
		hand_set(5, "k", "v");
		msg[0] = op;
		assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -ERANGE);
		assert_int_equal(req.raw_pool, 5);
		msg[1] = 255;
		assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -ERANGE);
		msg[1] = 4;
		if (op != KVP_OP_DELETE) /* DELETE's key sits elsewhere */
			assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	}
}

static void test_size_inconsistent(void **state)
{
	/* size 0 */
	hand_set(0, "key", "val");
	put32(8, 0);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	/* size = strlen (NUL not counted) */
	hand_set(0, "key", "val");
	put32(8, 3);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	/* size larger than the string */
	hand_set(0, "key", "val");
	put32(12, 10);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	/* size larger than the field */
	hand_set(0, "key", "val");
	put32(8, KVP_KEY_SIZE + 1);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	hand_set(0, "key", "val");
	put32(12, 0xffffffffu);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	/* value_size 0 on SET */
	hand_set(0, "key", "val");
	put32(12, 0);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	/* no NUL within the key field */
	hand_set(0, "key", "val");
	memset(msg + 16, 'a', KVP_KEY_SIZE);
	put32(8, KVP_KEY_SIZE);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	/* no NUL within the value field (the message ends right after it) */
	hand_set(0, "key", "val");
	memset(msg + 528, 'a', KVP_VALUE_SIZE);
	put32(12, KVP_VALUE_SIZE);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	/* DELETE size checked too */
	hand_delete(0, "key");
	put32(4, 99);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
	/* GET with no NUL */
	hand_get(0, "key");
	memset(msg + 16, 'b', KVP_KEY_SIZE);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EINVAL);
}

static void test_max_sizes(void **state)
{
	char key[KVP_HOST_KEY_UNITS + 2], value[KVP_HOST_VALUE_UNITS + 2];

	memset(key, 'k', KVP_HOST_KEY_UNITS);
	key[KVP_HOST_KEY_UNITS] = '\0';
	memset(value, 'v', KVP_HOST_VALUE_UNITS);
	value[KVP_HOST_VALUE_UNITS] = '\0';
	hand_set(1, key, value);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_int_equal(req.key_len, KVP_HOST_KEY_UNITS);
	assert_int_equal(req.value_len, KVP_HOST_VALUE_UNITS);

	memset(key, 'k', KVP_HOST_KEY_UNITS + 1);
	key[KVP_HOST_KEY_UNITS + 1] = '\0';
	hand_set(1, key, "v");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -E2BIG);
	hand_get(1, key);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -E2BIG);
	hand_delete(1, key);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -E2BIG);

	memset(value, 'v', KVP_HOST_VALUE_UNITS + 1);
	value[KVP_HOST_VALUE_UNITS + 1] = '\0';
	hand_set(1, "k", value);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -E2BIG);

	/* 127 three-byte characters: 381 bytes (< 511, fine for the kernel) but 127 units: OK */
	char wide[KVP_KEY_SIZE];
	size_t n = 0;
	for (int i = 0; i < 127; i++) {
		memcpy(wide + n, "\xe2\x82\xac", 3); /* U+20AC */
		n += 3;
	}
	wide[n] = '\0';
	hand_set(1, wide, "v");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_int_equal(req.key_len, 381);

	/* 128 four-byte characters: 512 bytes would not fit; 127 of them = 508 bytes, 254 units */
	n = 0;
	for (int i = 0; i < 127; i++) {
		memcpy(wide + n, "\xf0\x9f\x98\x80", 4); /* U+1F600 */
		n += 4;
	}
	wide[n] = '\0';
	hand_set(1, wide, "v");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	/* ...plus one ASCII letter: 255 units */
	wide[n] = 'x';
	wide[n + 1] = '\0';
	hand_set(1, wide, "v");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -E2BIG);
}

static void test_bad_utf8(void **state)
{
	hand_set(0, "ke\xc0\xafy", "v");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EILSEQ);
	hand_set(0, "key", "\xed\xa0\x80");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EILSEQ);
	hand_delete(0, "\xff");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EILSEQ);
	hand_get(0, "a\xe2\x82");
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), -EILSEQ);
}

static void test_build_enumerate(void **state)
{
	memset(msg, 0xaa, sizeof(msg)); /* stale bytes must not survive */
	assert_int_equal(kvp_msg_build_enumerate(msg, "OSName", "Debian GNU/Linux"), 0);
	assert_int_equal(get32(msg, 0), 0);
	assert_int_equal(get32(msg, 4), 0);
	assert_int_equal(get32(msg, 8), 0);
	assert_int_equal(get32(msg, 12), 7);
	assert_int_equal(get32(msg, 16), 17);
	assert_memory_equal(msg + 20, "OSName", 7);
	assert_memory_equal(msg + 532, "Debian GNU/Linux", 17);
	assert_true(all_zero(msg, 27, 532));
	assert_true(all_zero(msg, 532 + 17, KVP_MSG_SIZE));

	/* Empty strings are fine and still NUL-terminated (size 1). */
	memset(msg, 0xaa, sizeof(msg));
	assert_int_equal(kvp_msg_build_enumerate(msg, "", ""), 0);
	assert_int_equal(get32(msg, 12), 1);
	assert_int_equal(get32(msg, 16), 1);
	assert_true(all_zero(msg, 0, 12));
	assert_true(all_zero(msg, 20, KVP_MSG_SIZE));

	char big[KVP_VALUE_SIZE + 1];
	memset(big, 'x', KVP_VALUE_SIZE);
	big[KVP_VALUE_SIZE] = '\0';
	assert_int_equal(kvp_msg_build_enumerate(msg, "k", big), -E2BIG);
	big[KVP_VALUE_SIZE - 1] = '\0'; /* 2047 bytes: fits with its NUL */
	assert_int_equal(kvp_msg_build_enumerate(msg, "k", big), 0);
	assert_int_equal(get32(msg, 16), KVP_VALUE_SIZE);
	assert_int_equal(msg[532 + KVP_VALUE_SIZE - 1], 0);
	big[KVP_KEY_SIZE] = '\0';
	assert_int_equal(kvp_msg_build_enumerate(msg, big, "v"), -E2BIG);
	big[KVP_KEY_SIZE - 1] = '\0';
	assert_int_equal(kvp_msg_build_enumerate(msg, big, "v"), 0);
	assert_int_equal(get32(msg, 12), KVP_KEY_SIZE);
	assert_int_equal(msg[20 + KVP_KEY_SIZE - 1], 0);
}

static void test_build_get(void **state)
{
	memset(msg, 0x55, sizeof(msg));
	assert_int_equal(kvp_msg_build_get(msg, "Key", "some value"), 0);
	/* The kernel reads a GET result at 532 (enumerate layout), not at 528. */
	assert_memory_equal(msg + 532, "some value", 11);
	assert_true(all_zero(msg, 528, 532));
	assert_int_equal(get32(msg, 0), 0);
	assert_int_equal(get32(msg, 16), 11);
	assert_true(all_zero(msg, 532 + 11, KVP_MSG_SIZE));
}

static void test_build_status_register(void **state)
{
	memset(msg, 0x55, sizeof(msg));
	kvp_msg_build_status(msg, 0x80004005u);
	assert_int_equal(get32(msg, 0), 0x80004005u);
	assert_true(all_zero(msg, 4, KVP_MSG_SIZE));

	memset(msg, 0x55, sizeof(msg));
	kvp_msg_build_register(msg);
	assert_int_equal(msg[0], KVP_OP_REGISTER1);
	assert_true(all_zero(msg, 1, KVP_MSG_SIZE));
}

static void test_register_reply(void **state)
{
	char version[64];

	memset(msg, 0, sizeof(msg));
	msg[0] = KVP_OP_REGISTER1;
	memcpy(msg + 4, "3.1", 4);
	assert_int_equal(kvp_msg_parse_register_reply(msg, sizeof(msg), version, sizeof(version)),
			 0);
	assert_string_equal(version, "3.1");

	msg[0] = KVP_OP_REGISTER;
	memset(version, 'z', sizeof(version));
	assert_int_equal(kvp_msg_parse_register_reply(msg, sizeof(msg), version, sizeof(version)),
			 0);
	assert_string_equal(version, "3.1");

	/* Wrong op */
	msg[0] = KVP_OP_SET;
	assert_int_equal(kvp_msg_parse_register_reply(msg, sizeof(msg), version, sizeof(version)),
			 -EPROTO);
	msg[0] = KVP_OP_REGISTER1;
	/* Wrong length */
	assert_int_equal(kvp_msg_parse_register_reply(msg, 100, version, sizeof(version)),
			 -EBADMSG);
	/* Too small a destination */
	assert_int_equal(kvp_msg_parse_register_reply(msg, sizeof(msg), version, 3), -ENOBUFS);
	assert_int_equal(kvp_msg_parse_register_reply(msg, sizeof(msg), version, 4), 0);
	/* Unterminated version */
	memset(msg + 4, '7', KVP_KEY_SIZE);
	assert_int_equal(kvp_msg_parse_register_reply(msg, sizeof(msg), version, sizeof(version)),
			 -EINVAL);
	/* Invalid UTF-8 */
	memset(msg + 4, 0, KVP_KEY_SIZE);
	memcpy(msg + 4, "3.\xc3", 3);
	assert_int_equal(kvp_msg_parse_register_reply(msg, sizeof(msg), version, sizeof(version)),
			 -EILSEQ);
}

static void test_utf8_valid(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "", true },
		{ "plain ascii", true },
		{ "\xc2\x80", true },	       /* U+0080 */
		{ "\xdf\xbf", true },	       /* U+07FF */
		{ "\xe0\xa0\x80", true },      /* U+0800 */
		{ "\xed\x9f\xbf", true },      /* U+D7FF */
		{ "\xee\x80\x80", true },      /* U+E000 */
		{ "\xef\xbf\xbf", true },      /* U+FFFF */
		{ "\xf0\x90\x80\x80", true },  /* U+10000 */
		{ "\xf4\x8f\xbf\xbf", true },  /* U+10FFFF */
		{ "\xc0\x80", false },	       /* overlong NUL */
		{ "\xc1\xbf", false },	       /* overlong */
		{ "\xe0\x9f\xbf", false },     /* overlong 3-byte */
		{ "\xf0\x8f\xbf\xbf", false }, /* overlong 4-byte */
		{ "\xed\xa0\x80", false },     /* U+D800 */
		{ "\xed\xbf\xbf", false },     /* U+DFFF */
		{ "\xf4\x90\x80\x80", false }, /* U+110000 */
		{ "\xf5\x80\x80\x80", false }, /* lead > F4 */
		{ "\xff", false },
		{ "\x80", false },	       /* lone continuation */
		{ "a\xc2", false },	       /* truncated 2-byte */
		{ "\xe2\x82", false },	       /* truncated 3-byte */
		{ "\xf0\x9f\x98", false },     /* truncated 4-byte */
		{ "\xe2\x28\xa1", false },     /* bad continuation */
		{ "\xc3\xa9t\xc3\xa9", true }, /* été */
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		if (utf8_is_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
			fail_msg("case %zu: expected %d", i, cases[i].ok);
	}
	/* Length bounds the scan: a valid prefix of an invalid string is valid. */
	assert_true(utf8_is_valid("ab\xff", 2));
	/* A sequence cut by len is truncated even if more bytes follow in memory. */
	assert_false(utf8_is_valid("\xc3\xa9", 1));
}

static void test_utf16_units(void **state)
{
	assert_int_equal(utf8_utf16_units("", 0), 0);
	assert_int_equal(utf8_utf16_units("abc", 3), 3);
	assert_int_equal(utf8_utf16_units("\xc3\xa9", 2), 1);
	assert_int_equal(utf8_utf16_units("\xe2\x82\xac", 3), 1);
	assert_int_equal(utf8_utf16_units("\xf0\x9f\x98\x80", 4), 2);
	assert_int_equal(utf8_utf16_units("a\xf0\x9f\x98\x80"
					  "b\xe2\x82\xac",
					  9),
			 5);
}

static void test_to_string(void **state)
{
	assert_string_equal(kvp_op_to_string(KVP_OP_ENUMERATE), "enumerate");
	assert_string_equal(kvp_op_to_string(KVP_OP_SET_IP_INFO), "set-ip-info");
	assert_null(kvp_op_to_string(_KVP_OP_MAX));
	assert_null(kvp_op_to_string(_KVP_OP_INVALID));
	assert_string_equal(kvp_pool_to_string(KVP_POOL_AUTO_EXTERNAL), "auto-external");
	assert_null(kvp_pool_to_string(_KVP_POOL_MAX));
	assert_null(kvp_pool_to_string(_KVP_POOL_INVALID));
}

/* Decode after build: what we send the kernel reads back the same. */
static void test_roundtrip_set_layout(void **state)
{
	const char *key = "\xe6\x97\xa5\xe6\x9c\xac"; /* 日本 */
	const char *value = "\xf0\x9f\x98\x80 emoji";

	hand_set(KVP_POOL_GUEST, key, value);
	assert_int_equal(kvp_msg_decode(msg, sizeof(msg), &req), 0);
	assert_string_equal(req.key, key);
	assert_string_equal(req.value, value);
	assert_int_equal(req.value_len, strlen(value));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_set),
		cmocka_unit_test(test_offsets_get_delete_enum),
		cmocka_unit_test(test_ip_info_ops),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_op_and_pool_range),
		cmocka_unit_test(test_size_inconsistent),
		cmocka_unit_test(test_max_sizes),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_build_enumerate),
		cmocka_unit_test(test_build_get),
		cmocka_unit_test(test_build_status_register),
		cmocka_unit_test(test_register_reply),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf16_units),
		cmocka_unit_test(test_to_string),
		cmocka_unit_test(test_roundtrip_set_layout),
	};

	return cmocka_run_group_tests_name("kvp-msg", tests, NULL, NULL);
}
