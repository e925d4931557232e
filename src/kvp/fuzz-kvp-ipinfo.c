/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the GET_IP_INFO / SET_IP_INFO body codec: arbitrary bytes into
 * kvp_ipinfo_decode(); whatever decodes must satisfy the documented invariants, build into a
 * reply and decode from it again to the very same KvpIpInfo. Shorter inputs are zero-padded
 * to a whole message (the kernel always hands over 7432 bytes), so the fuzzer need not find
 * the exact length first; the length check itself is exercised with the raw size.
 * Run with -max_len=7432.
 */
#include <stdbool.h>
#include <string.h>

#include "kvp/kvp-ipinfo.h"
#include "kvp/kvp-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t field)
{
	const char *nul = memchr(s, 0, field);
	size_t len;

	assert_se(nul);
	len = (size_t)(nul - s);
	assert_se(utf8_is_valid(s, len));
	for (size_t i = 0; i < len; i++)
		assert_se((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
	/* Nothing after the NUL: decoded strings never carry stale bytes. */
	for (size_t i = len; i < field; i++)
		assert_se(s[i] == 0);
}

static void check_info(const KvpIpInfo *info)
{
	check_string(info->adapter_id, sizeof(info->adapter_id));
	check_string(info->ip_addr, sizeof(info->ip_addr));
	check_string(info->sub_net, sizeof(info->sub_net));
	check_string(info->gate_way, sizeof(info->gate_way));
	check_string(info->dns_addr, sizeof(info->dns_addr));
	assert_se((info->addr_family & ~(KVP_ADDR_FAMILY_IPV4 | KVP_ADDR_FAMILY_IPV6)) == 0);
	assert_se(info->dhcp_enabled <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[KVP_MSG_SIZE], reply[KVP_MSG_SIZE], reply2[KVP_MSG_SIZE];
	static KvpIpInfo info, again;
	int r;

	/* The raw length: anything but a whole message is refused. */
	r = kvp_ipinfo_decode(data, size, &info);
	assert_se(size == KVP_MSG_SIZE || r == -EBADMSG);

	memset(msg, 0, sizeof(msg));
	memcpy(msg, data, MIN(size, sizeof(msg)));
	r = kvp_ipinfo_decode(msg, sizeof(msg), &info);
	assert_se(r == 0 || r == -EINVAL || r == -EILSEQ);
	if (r < 0)
		return 0;
	check_info(&info);

	assert_se(kvp_ipinfo_build_reply(reply, &info) == 0);
	/* Status HV_S_OK: the first four bytes are zero. */
	assert_se(reply[0] == 0 && reply[1] == 0 && reply[2] == 0 && reply[3] == 0);
	assert_se(kvp_ipinfo_decode(reply, sizeof(reply), &again) == 0);
	assert_se(memcmp(&info, &again, sizeof(info)) == 0);

	/* And the reply is a fixed point: building again gives the same bytes. */
	assert_se(kvp_ipinfo_build_reply(reply2, &again) == 0);
	assert_se(memcmp(reply, reply2, sizeof(reply)) == 0);
	return 0;
}
