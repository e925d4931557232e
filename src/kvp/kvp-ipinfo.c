/* SPDX-License-Identifier: MIT */
/*
 * GET_IP_INFO / SET_IP_INFO body codec (struct hv_kvp_ipaddr_value, hyperv-abi.md §4.2) and
 * the ';'-list builder shared by every producer of those lists. Pure: no I/O, no logging.
 */
#include <stdbool.h>
#include <string.h>

#include "kvp/kvp-ipinfo.h"
#include "kvp/kvp-msg.h"

typedef struct IpField {
	size_t off;    /* in the message */
	size_t bytes;  /* field size, NUL included */
	size_t member; /* offsetof() in KvpIpInfo */
} IpField;

/* The string fields of hv_kvp_ipaddr_value, in message order. */
static const IpField ip_fields[] = {
	{ KVP_OFF_IP_ADAPTER_ID, KVP_IP_ADAPTER_ID_BYTES, offsetof(KvpIpInfo, adapter_id) },
	{ KVP_OFF_IP_ADDR, KVP_IP_ADDR_BYTES, offsetof(KvpIpInfo, ip_addr) },
	{ KVP_OFF_IP_SUBNET, KVP_IP_ADDR_BYTES, offsetof(KvpIpInfo, sub_net) },
	{ KVP_OFF_IP_GATEWAY, KVP_IP_GATEWAY_BYTES, offsetof(KvpIpInfo, gate_way) },
	{ KVP_OFF_IP_DNS, KVP_IP_ADDR_BYTES, offsetof(KvpIpInfo, dns_addr) },
};

/* The message layout and our struct must agree on every size, or the copies below overrun. */
_Static_assert(sizeof(((KvpIpInfo *)0)->adapter_id) == KVP_IP_ADAPTER_ID_BYTES, "adapter_id");
_Static_assert(sizeof(((KvpIpInfo *)0)->ip_addr) == KVP_IP_ADDR_BYTES, "ip_addr");
_Static_assert(sizeof(((KvpIpInfo *)0)->sub_net) == KVP_IP_ADDR_BYTES, "sub_net");
_Static_assert(sizeof(((KvpIpInfo *)0)->gate_way) == KVP_IP_GATEWAY_BYTES, "gate_way");
_Static_assert(sizeof(((KvpIpInfo *)0)->dns_addr) == KVP_IP_ADDR_BYTES, "dns_addr");
_Static_assert(KVP_OFF_IP_DNS + KVP_IP_ADDR_BYTES <= KVP_MSG_SIZE, "dns_addr inside the message");

/*
 * C0 controls, DEL, and C1 controls (U+0080..U+009F, encoded C2 80..C2 9F): none belongs in
 * an address list or an adapter id, and a newline here once ended up in a shell-sourced file
 * (hyperv-abi.md §4.7). s must be valid UTF-8.
 */
static bool has_control(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return true;
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

int kvp_ipinfo_decode(const void *msg, size_t len, KvpIpInfo *ret)
{
	const uint8_t *m = msg;
	uint8_t family;

	memset(ret, 0, sizeof(*ret));
	if (!msg || len != KVP_MSG_SIZE)
		return -EBADMSG;

	for (size_t i = 0; i < ELEMENTSOF(ip_fields); i++) {
		const IpField *f = &ip_fields[i];
		const char *s = (const char *)m + f->off;
		const char *nul = memchr(s, 0, f->bytes);
		size_t n;

		if (!nul)
			return -EINVAL;
		n = (size_t)(nul - s);
		if (!utf8_is_valid(s, n))
			return -EILSEQ;
		if (has_control(s, n))
			return -EINVAL;
		/* Only up to the NUL: the rest of the field stays zero, never stale bytes. */
		memcpy((char *)ret + f->member, s, n);
	}

	family = m[KVP_OFF_IP_ADDR_FAMILY];
	if (family & ~(KVP_ADDR_FAMILY_IPV4 | KVP_ADDR_FAMILY_IPV6))
		return -EINVAL;
	ret->addr_family = family;
	ret->dhcp_enabled = m[KVP_OFF_IP_DHCP_ENABLED] != 0;
	return 0;
}

int kvp_ipinfo_build_reply(void *msg, const KvpIpInfo *info)
{
	uint8_t *m = msg;

	/* Check everything first so that a failure leaves msg as it was. */
	for (size_t i = 0; i < ELEMENTSOF(ip_fields); i++) {
		const char *s = (const char *)info + ip_fields[i].member;

		if (strnlen(s, ip_fields[i].bytes) >= ip_fields[i].bytes)
			return -E2BIG;
	}

	memset(m, 0, KVP_MSG_SIZE);
	for (size_t i = 0; i < ELEMENTSOF(ip_fields); i++) {
		const char *s = (const char *)info + ip_fields[i].member;

		memcpy(m + ip_fields[i].off, s, strlen(s));
	}
	m[KVP_OFF_IP_ADDR_FAMILY] = info->addr_family;
	m[KVP_OFF_IP_DHCP_ENABLED] = info->dhcp_enabled;
	return 0;
}

/* Appends [sep_before] item [sep_after] as one unit, or nothing at all. */
static int list_append(char *buf, size_t size, size_t max_units, const char *item, bool trailing)
{
	size_t used, item_len, extra;

	if (!buf || !item || size == 0)
		return -EINVAL;
	used = strnlen(buf, size);
	if (used == size)
		return -EINVAL;
	item_len = strlen(item);
	if (item_len == 0 || memchr(item, ';', item_len) || !utf8_is_valid(item, item_len))
		return -EINVAL;

	/* Separators are ASCII: one byte and one UTF-16 unit each. */
	extra = item_len + (trailing ? 1 : used > 0);
	if (extra > size - 1 - used)
		return -E2BIG;
	if (utf8_utf16_units(buf, used) + utf8_utf16_units(item, item_len) + (extra - item_len) >
	    max_units)
		return -E2BIG;

	if (!trailing && used > 0)
		buf[used++] = ';';
	memcpy(buf + used, item, item_len);
	used += item_len;
	if (trailing)
		buf[used++] = ';';
	buf[used] = '\0';
	return 0;
}

int kvp_iplist_append(char *buf, size_t size, size_t max_units, const char *item)
{
	return list_append(buf, size, max_units, item, false);
}

int kvp_iplist_append_trailing(char *buf, size_t size, size_t max_units, const char *item)
{
	return list_append(buf, size, max_units, item, true);
}
