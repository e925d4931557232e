/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kvp/kvp-ipinfo.h"
#include "kvp/kvp-msg.h"

/* Messages are laid out by hand at the offsets of hyperv-abi.md §4.2, not with the codec. */
#define OFF_ADAPTER 4
#define OFF_FAMILY 260
#define OFF_DHCP 261
#define OFF_ADDR 262
#define OFF_SUBNET 2310
#define OFF_GATEWAY 4358
#define OFF_DNS 5382

static const struct {
	size_t off, size;
} fields[] = {
	{ OFF_ADAPTER, 256 },  { OFF_ADDR, 2048 }, { OFF_SUBNET, 2048 },
	{ OFF_GATEWAY, 1024 }, { OFF_DNS, 2048 },
};

static void put(uint8_t *m, size_t off, const char *s)
{
	memcpy(m + off, s, strlen(s));
}

static bool all_zero(const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void test_decode_get_request(void **state)
{
	uint8_t m[KVP_MSG_SIZE] = {};
	KvpIpInfo info;

	m[0] = 4; /* GET_IP_INFO, as the kernel leaves it: the codec ignores op and pool */
	put(m, OFF_ADAPTER, "00:15:5D:12:34:56");
	for (unsigned fam = 0; fam <= 3; fam++) {
		m[OFF_FAMILY] = (uint8_t)fam;
		assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &info), 0);
		assert_string_equal(info.adapter_id, "00:15:5D:12:34:56");
		assert_int_equal(info.addr_family, fam);
		assert_int_equal(info.dhcp_enabled, 0);
		assert_string_equal(info.ip_addr, "");
		assert_string_equal(info.sub_net, "");
		assert_string_equal(info.gate_way, "");
		assert_string_equal(info.dns_addr, "");
	}
}

static void test_decode_set_request(void **state)
{
	uint8_t m[KVP_MSG_SIZE] = {};
	KvpIpInfo info;

	put(m, OFF_ADAPTER, "{f5a3c1e2-0000-4a4b-9c9d-0123456789ab}");
	m[OFF_FAMILY] = 3;
	m[OFF_DHCP] = 1;
	put(m, OFF_ADDR, "192.168.1.14;2001:db8::14");
	put(m, OFF_SUBNET, "255.255.255.0;64");
	put(m, OFF_GATEWAY, "192.168.1.1");
	put(m, OFF_DNS, "192.168.1.2;192.168.1.3");
	/* Junk after a NUL is not carried over. */
	put(m, OFF_GATEWAY + 20, "junk");

	assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &info), 0);
	assert_string_equal(info.adapter_id, "{f5a3c1e2-0000-4a4b-9c9d-0123456789ab}");
	assert_int_equal(info.addr_family, 3);
	assert_int_equal(info.dhcp_enabled, 1);
	assert_string_equal(info.ip_addr, "192.168.1.14;2001:db8::14");
	assert_string_equal(info.sub_net, "255.255.255.0;64");
	assert_string_equal(info.gate_way, "192.168.1.1");
	assert_string_equal(info.dns_addr, "192.168.1.2;192.168.1.3");
	assert_true(
		all_zero((uint8_t *)info.gate_way, strlen(info.gate_way), sizeof(info.gate_way)));

	/* Upstream treats any non-zero byte as "DHCP on". */
	m[OFF_DHCP] = 0xa5;
	assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &info), 0);
	assert_int_equal(info.dhcp_enabled, 1);

	/* Non-ASCII text that is not a control character passes the codec. */
	memset(m + OFF_DNS, 0, 2048);
	put(m, OFF_DNS, "n\xc3\xa9\xe2\x82\xac");
	assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &info), 0);
	assert_string_equal(info.dns_addr, "n\xc3\xa9\xe2\x82\xac");
}

static void test_decode_bad_length(void **state)
{
	uint8_t m[KVP_MSG_SIZE + 1] = {};
	KvpIpInfo info;

	memset(&info, 0x55, sizeof(info));
	assert_int_equal(kvp_ipinfo_decode(m, KVP_MSG_SIZE - 1, &info), -EBADMSG);
	/* The output is zeroed even on failure. */
	assert_true(all_zero((uint8_t *)&info, 0, sizeof(info)));
	assert_int_equal(kvp_ipinfo_decode(m, KVP_MSG_SIZE + 1, &info), -EBADMSG);
	assert_int_equal(kvp_ipinfo_decode(m, 0, &info), -EBADMSG);
	assert_int_equal(kvp_ipinfo_decode(NULL, KVP_MSG_SIZE, &info), -EBADMSG);
	assert_int_equal(kvp_ipinfo_decode(m, KVP_MSG_SIZE, &info), 0);
}

static void test_decode_field_limits(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
		uint8_t m[KVP_MSG_SIZE] = {};
		KvpIpInfo info;
		const char *got;

		/* size - 1 characters and the NUL in the last byte: accepted in full. */
		memset(m + fields[i].off, 'a', fields[i].size - 1);
		assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &info), 0);
		got = (const char *)&info + (i == 0   ? offsetof(KvpIpInfo, adapter_id)
					     : i == 1 ? offsetof(KvpIpInfo, ip_addr)
					     : i == 2 ? offsetof(KvpIpInfo, sub_net)
					     : i == 3 ? offsetof(KvpIpInfo, gate_way)
						      : offsetof(KvpIpInfo, dns_addr));
		assert_int_equal(strlen(got), fields[i].size - 1);

		/* No NUL inside the field: rejected, never read into the next one. */
		m[fields[i].off + fields[i].size - 1] = 'a';
		assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &info), -EINVAL);
	}
}

static void test_decode_bad_strings(void **state)
{
	static const struct {
		const char *s;
		int err;
	} cases[] = {
		{ "10.0.0.1\n", -EINVAL },
		{ "10.0.0.1\r", -EINVAL },
		{ "a\tb", -EINVAL },
		{ "\x1b[2J", -EINVAL },
		{ "x\x7f", -EINVAL },
		{ "x\xc2\x85", -EINVAL },     /* U+0085 NEL, a C1 control */
		{ "x\xc2\x9f", -EINVAL },     /* U+009F */
		{ "x\xff", -EILSEQ },	      /* not UTF-8 */
		{ "x\xc0\xaf", -EILSEQ },     /* overlong '/' */
		{ "x\xed\xa0\x80", -EILSEQ }, /* surrogate */
		{ "x\xe2\x82", -EILSEQ },     /* truncated sequence */
	};

	for (size_t f = 0; f < ELEMENTSOF(fields); f++)
		for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
			uint8_t m[KVP_MSG_SIZE] = {};
			KvpIpInfo info;

			put(m, fields[f].off, cases[i].s);
			if (kvp_ipinfo_decode(m, sizeof(m), &info) != cases[i].err)
				fail_msg("field %zu, case %zu: expected %d", f, i, cases[i].err);
		}

	/* U+00A0 (C2 A0) is past the C1 range: fine. */
	uint8_t m[KVP_MSG_SIZE] = {};
	KvpIpInfo info;
	put(m, OFF_ADDR, "x\xc2\xa0");
	assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &info), 0);
}

static void test_decode_family(void **state)
{
	uint8_t m[KVP_MSG_SIZE] = {};
	KvpIpInfo info;

	for (unsigned v = 4; v < 256; v++) {
		m[OFF_FAMILY] = (uint8_t)v;
		assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &info), -EINVAL);
	}
}

static KvpIpInfo sample_info(void)
{
	KvpIpInfo info = {
		.addr_family = 3,
		.dhcp_enabled = 1,
	};

	snprintf(info.adapter_id, sizeof(info.adapter_id), "00:15:5D:12:34:56");
	snprintf(info.ip_addr, sizeof(info.ip_addr), "192.0.2.10;2001:db8::10;fe80::1");
	snprintf(info.sub_net, sizeof(info.sub_net), "255.255.255.0;/64;/64");
	snprintf(info.gate_way, sizeof(info.gate_way), "192.0.2.1;fe80::1;");
	snprintf(info.dns_addr, sizeof(info.dns_addr), "192.0.2.53;");
	return info;
}

static void test_build_reply(void **state)
{
	KvpIpInfo info = sample_info(), again;
	uint8_t m[KVP_MSG_SIZE];

	memset(m, 0xee, sizeof(m));
	assert_int_equal(kvp_ipinfo_build_reply(m, &info), 0);
	assert_true(all_zero(m, 0, 4)); /* HV_S_OK */
	assert_string_equal((char *)m + OFF_ADAPTER, "00:15:5D:12:34:56");
	assert_int_equal(m[OFF_FAMILY], 3);
	assert_int_equal(m[OFF_DHCP], 1);
	assert_string_equal((char *)m + OFF_ADDR, "192.0.2.10;2001:db8::10;fe80::1");
	assert_string_equal((char *)m + OFF_SUBNET, "255.255.255.0;/64;/64");
	assert_string_equal((char *)m + OFF_GATEWAY, "192.0.2.1;fe80::1;");
	assert_string_equal((char *)m + OFF_DNS, "192.0.2.53;");
	/* Every byte outside the strings is zero: no stale data reaches the host. */
	assert_true(all_zero(m, OFF_ADAPTER + 17, OFF_FAMILY));
	assert_true(all_zero(m, OFF_ADDR + strlen(info.ip_addr), OFF_SUBNET));
	assert_true(all_zero(m, OFF_SUBNET + strlen(info.sub_net), OFF_GATEWAY));
	assert_true(all_zero(m, OFF_GATEWAY + strlen(info.gate_way), OFF_DNS));
	assert_true(all_zero(m, OFF_DNS + strlen(info.dns_addr), KVP_MSG_SIZE));

	assert_int_equal(kvp_ipinfo_decode(m, sizeof(m), &again), 0);
	assert_memory_equal(&again, &info, sizeof(info));
}

static void test_build_reply_full_and_unterminated(void **state)
{
	KvpIpInfo info = {};
	uint8_t m[KVP_MSG_SIZE], before[KVP_MSG_SIZE];

	/* Full fields fit exactly. */
	memset(info.gate_way, 'g', sizeof(info.gate_way) - 1);
	memset(info.adapter_id, 'a', sizeof(info.adapter_id) - 1);
	assert_int_equal(kvp_ipinfo_build_reply(m, &info), 0);
	assert_int_equal(strnlen((char *)m + OFF_GATEWAY, 1024), 1023);
	assert_int_equal(m[OFF_DNS], 0);
	assert_int_equal(strnlen((char *)m + OFF_ADAPTER, 256), 255);
	assert_int_equal(m[OFF_FAMILY], 0);

	/* One byte more in any field: -E2BIG and msg untouched. */
	memset(m, 0x77, sizeof(m));
	memcpy(before, m, sizeof(m));
	memset(info.gate_way, 'g', sizeof(info.gate_way));
	assert_int_equal(kvp_ipinfo_build_reply(m, &info), -E2BIG);
	assert_memory_equal(m, before, sizeof(m));

	info = (KvpIpInfo){};
	memset(info.dns_addr, 'd', sizeof(info.dns_addr));
	assert_int_equal(kvp_ipinfo_build_reply(m, &info), -E2BIG);
	info = (KvpIpInfo){};
	memset(info.adapter_id, 'x', sizeof(info.adapter_id));
	assert_int_equal(kvp_ipinfo_build_reply(m, &info), -E2BIG);
	assert_memory_equal(m, before, sizeof(m));
}

static void test_iplist_append(void **state)
{
	char buf[32] = "";

	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, "10.0.0.1"), 0);
	assert_string_equal(buf, "10.0.0.1");
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, "fe80::1"), 0);
	assert_string_equal(buf, "10.0.0.1;fe80::1");
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, "10.0.0.22"), 0);
	assert_string_equal(buf, "10.0.0.1;fe80::1;10.0.0.22"); /* 26 bytes */

	/* ";10.0.0.3" would make 35 > 31 bytes: refused, list unchanged. */
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, "10.0.0.3"), -E2BIG);
	assert_string_equal(buf, "10.0.0.1;fe80::1;10.0.0.22");
	/* ";1234" makes exactly 31: fits. */
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, "1234"), 0);
	assert_int_equal(strlen(buf), 31);
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, "5"), -E2BIG);
	assert_int_equal(strlen(buf), 31);
}

static void test_iplist_units(void **state)
{
	char buf[64] = "";

	/* The host limit can be tighter than the buffer. */
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 12, "10.0.0.1"), 0);
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 12, "1.2.3"), -E2BIG);
	assert_string_equal(buf, "10.0.0.1");
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 12, "1.2"), 0);
	assert_string_equal(buf, "10.0.0.1;1.2"); /* 12 units */

	/* Units, not bytes: "é" is two bytes but one unit, U+1F600 four bytes and two units. */
	buf[0] = '\0';
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 4, "\xc3\xa9\xc3\xa9"), 0);
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 4, "\xc3\xa9"), 0);
	assert_string_equal(buf, "\xc3\xa9\xc3\xa9;\xc3\xa9"); /* 4 units, 7 bytes */
	buf[0] = '\0';
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 2, "\xf0\x9f\x98\x80"), 0);
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 3, "a"), -E2BIG);
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 4, "a"), 0);

	/* A first item that is too long on its own leaves the list empty. */
	buf[0] = '\0';
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 3, "abcd"), -E2BIG);
	assert_string_equal(buf, "");
}

static void test_iplist_trailing(void **state)
{
	char buf[16] = "";

	assert_int_equal(kvp_iplist_append_trailing(buf, sizeof(buf), 100, "10.0.0.1"), 0);
	assert_string_equal(buf, "10.0.0.1;");
	assert_int_equal(kvp_iplist_append_trailing(buf, sizeof(buf), 100, "fe80::1"), -E2BIG);
	assert_string_equal(buf, "10.0.0.1;");
	assert_int_equal(kvp_iplist_append_trailing(buf, sizeof(buf), 100, "::1"), 0);
	assert_string_equal(buf, "10.0.0.1;::1;"); /* 13 */
	assert_int_equal(kvp_iplist_append_trailing(buf, sizeof(buf), 100, "a"), 0);
	assert_string_equal(buf, "10.0.0.1;::1;a;"); /* 15 = size - 1 */
	assert_int_equal(kvp_iplist_append_trailing(buf, sizeof(buf), 100, "b"), -E2BIG);

	buf[0] = '\0';
	assert_int_equal(kvp_iplist_append_trailing(buf, sizeof(buf), 4, "abc"), 0);
	assert_int_equal(kvp_iplist_append_trailing(buf, sizeof(buf), 4, "d"), -E2BIG);
	assert_string_equal(buf, "abc;");
}

static void test_iplist_invalid(void **state)
{
	char buf[16] = "a";
	char full[4] = { 'x', 'y', 'z', 'w' };

	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, ""), -EINVAL);
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, "b;c"), -EINVAL);
	assert_int_equal(kvp_iplist_append(buf, sizeof(buf), 100, "\xff"), -EINVAL);
	assert_int_equal(kvp_iplist_append_trailing(buf, sizeof(buf), 100, ";"), -EINVAL);
	assert_string_equal(buf, "a");
	assert_int_equal(kvp_iplist_append(full, sizeof(full), 100, "b"), -EINVAL);
	assert_int_equal(kvp_iplist_append(buf, 0, 100, "b"), -EINVAL);
	/* size 1: only the NUL fits. */
	char one[1] = "";
	assert_int_equal(kvp_iplist_append(one, sizeof(one), 100, "b"), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_get_request),
		cmocka_unit_test(test_decode_set_request),
		cmocka_unit_test(test_decode_bad_length),
		cmocka_unit_test(test_decode_field_limits),
		cmocka_unit_test(test_decode_bad_strings),
		cmocka_unit_test(test_decode_family),
		cmocka_unit_test(test_build_reply),
		cmocka_unit_test(test_build_reply_full_and_unterminated),
		cmocka_unit_test(test_iplist_append),
		cmocka_unit_test(test_iplist_units),
		cmocka_unit_test(test_iplist_trailing),
		cmocka_unit_test(test_iplist_invalid),
	};

	return cmocka_run_group_tests_name("kvp-ipinfo", tests, NULL, NULL);
}
