/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO validation: host strings -> KvpIpConfig (rules in kvp-ipconfig.h).
 * Pure: no I/O.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "kvp/kvp-ipconfig.h"
#include "kvp/kvp-ipinfo.h"

/* Longest address literal: INET6_ADDRSTRLEN counts the NUL. */
#define ITEM_MAX (INET6_ADDRSTRLEN - 1)

/* The only bytes a list may contain; everything else is refused before parsing. */
static bool list_chars_ok(const char *s)
{
	for (; *s; s++)
		if (!strchr("0123456789abcdefABCDEF.:/; ", *s))
			return false;
	return true;
}

/*
 * Copies the next item of the ';'-separated list at *p into item (ITEM_MAX + 1 bytes),
 * spaces trimmed, and advances *p. Returns 1 with an item, 0 at the end of the list,
 * -EINVAL for an empty item that is not the allowed single trailing one, or an overlong
 * item.
 */
static int next_item(const char **p, char *item)
{
	const char *s = *p, *end;
	size_t len;

	while (*s == ' ')
		s++;
	if (!*s)
		return 0;
	end = strchrnul(s, ';');
	len = (size_t)(end - s);
	while (len > 0 && s[len - 1] == ' ')
		len--;
	if (len == 0)
		return -EINVAL; /* ";;", a leading ';' or " ;" */
	if (len > ITEM_MAX)
		return -EINVAL;
	memcpy(item, s, len);
	item[len] = '\0';
	*p = *end ? end + 1 : end;
	return 1;
}

int kvp_ipaddr_parse(const char *s, KvpIpAddr *ret)
{
	KvpIpAddr a = { 0 };

	if (strlen(s) > ITEM_MAX)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a.u.in) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.u.in6) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	if (!inet_ntop(a.family, &a.u, a.text, sizeof(a.text)))
		return -EINVAL;
	*ret = a;
	return 0;
}

/* "24", "/24": decimal prefix length 0..max. */
static int parse_prefixlen(const char *s, unsigned max, unsigned *ret)
{
	unsigned v = 0;
	size_t n = 0;

	if (*s == '/')
		s++;
	for (; *s; s++, n++) {
		if (!isdigit((unsigned char)*s) || n >= 3)
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (n == 0 || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* A dotted IPv4 netmask whose one bits are contiguous from the top, or a prefix length. */
static int parse_ipv4_subnet(const char *s, unsigned *ret)
{
	struct in_addr m;
	uint32_t host;

	if (!strchr(s, '.'))
		return parse_prefixlen(s, 32, ret);
	if (inet_pton(AF_INET, s, &m) != 1)
		return -EINVAL;
	host = ~ntohl(m.s_addr);
	/* The host part must be 2^k - 1: adding one then leaves no bit in common. */
	if ((host & (host + 1)) != 0)
		return -EINVAL;
	*ret = 32u - (unsigned)__builtin_popcount(host);
	return 0;
}

static bool ipv4_is_unicast(const struct in_addr *a)
{
	uint8_t first = (uint8_t)(ntohl(a->s_addr) >> 24);

	/* 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 reserved + broadcast */
	return first != 0 && first != 127 && first < 224;
}

static bool ipv6_is_unicast(const struct in6_addr *a)
{
	return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
	       !IN6_IS_ADDR_MULTICAST(a) && !IN6_IS_ADDR_V4MAPPED(a);
}

static bool addr_is_unicast(const KvpIpAddr *a)
{
	return a->family == AF_INET ? ipv4_is_unicast(&a->u.in) : ipv6_is_unicast(&a->u.in6);
}

static bool addr_ok_for_dns(const KvpIpAddr *a)
{
	if (a->family == AF_INET)
		return a->u.in.s_addr != htonl(INADDR_ANY) && !IN_MULTICAST(ntohl(a->u.in.s_addr));
	return !IN6_IS_ADDR_UNSPECIFIED(&a->u.in6) && !IN6_IS_ADDR_MULTICAST(&a->u.in6);
}

static bool addr_equal(const KvpIpAddr *a, const KvpIpAddr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET ? a->u.in.s_addr == b->u.in.s_addr
				    : memcmp(&a->u.in6, &b->u.in6, sizeof(a->u.in6)) == 0;
}

static bool has_duplicates(const KvpIpAddr *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (addr_equal(&a[i], &a[j]))
				return true;
	return false;
}

static bool has_family(const KvpIpAddr *a, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].family == family)
			return true;
	return false;
}

int kvp_ipconfig_check(const KvpIpConfig *c)
{
	bool ipv4 = c->dhcp4 || has_family(c->addrs, c->n_addrs, AF_INET);

	if (c->n_addrs > KVP_IPCONFIG_MAX_ADDRS || c->n_gateways > KVP_IPCONFIG_MAX_GATEWAYS ||
	    c->n_dns > KVP_IPCONFIG_MAX_DNS)
		return -EINVAL;
	for (size_t i = 0; i < c->n_addrs; i++) {
		const KvpIpAddr *a = &c->addrs[i];
		unsigned max = a->family == AF_INET ? 32 : 128;

		if (!addr_is_unicast(a) || a->prefixlen < 1 || a->prefixlen > max)
			return -EINVAL;
	}
	for (size_t i = 0; i < c->n_gateways; i++)
		if (!addr_is_unicast(&c->gateways[i]))
			return -EINVAL;
	for (size_t i = 0; i < c->n_dns; i++)
		if (!addr_ok_for_dns(&c->dns[i]))
			return -EINVAL;
	if (has_duplicates(c->addrs, c->n_addrs) || has_duplicates(c->gateways, c->n_gateways) ||
	    has_duplicates(c->dns, c->n_dns))
		return -EINVAL;
	if (!ipv4 && (has_family(c->gateways, c->n_gateways, AF_INET) ||
		      has_family(c->dns, c->n_dns, AF_INET)))
		return -EINVAL;
	return 0;
}

/* Parses a list of plain IP literals (gateways, DNS servers) into a[max]. */
static int parse_addr_list(const char *s, KvpIpAddr *a, size_t max, size_t *ret_n)
{
	char item[ITEM_MAX + 1];
	size_t n = 0;
	int r;

	while ((r = next_item(&s, item)) > 0) {
		if (n >= max)
			return -EINVAL;
		if (kvp_ipaddr_parse(item, &a[n]) < 0)
			return -EINVAL;
		n++;
	}
	if (r < 0)
		return r;
	*ret_n = n;
	return 0;
}

/* ip_addr and sub_net walked in lockstep: equal item counts, subnet syntax per family. */
static int parse_addrs_and_subnets(const char *addrs, const char *subnets, KvpIpConfig *c)
{
	char item[ITEM_MAX + 1];
	size_t n = 0;
	int r;

	while ((r = next_item(&addrs, item)) > 0) {
		KvpIpAddr *a;

		if (n >= KVP_IPCONFIG_MAX_ADDRS)
			return -EINVAL;
		a = &c->addrs[n];
		if (kvp_ipaddr_parse(item, a) < 0)
			return -EINVAL;
		r = next_item(&subnets, item);
		if (r <= 0)
			return -EINVAL; /* fewer subnets than addresses */
		r = a->family == AF_INET ? parse_ipv4_subnet(item, &a->prefixlen)
					 : parse_prefixlen(item, 128, &a->prefixlen);
		if (r < 0)
			return r;
		n++;
	}
	if (r < 0)
		return r;
	if (next_item(&subnets, item) != 0)
		return -EINVAL; /* more subnets than addresses, or a bad trailing item */
	c->n_addrs = n;
	return 0;
}

static bool field_ok(const char *field, size_t size)
{
	return strnlen(field, size) < size && list_chars_ok(field);
}

int kvp_ipconfig_from_ipinfo(const KvpIpInfo *req, KvpIpConfig *ret)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	if (strnlen(req->adapter_id, sizeof(req->adapter_id)) >= sizeof(req->adapter_id))
		return -EINVAL;
	r = kvp_guid_normalize(req->adapter_id, ret->guid);
	if (r < 0)
		return r;
	if (!field_ok(req->ip_addr, sizeof(req->ip_addr)) ||
	    !field_ok(req->sub_net, sizeof(req->sub_net)) ||
	    !field_ok(req->gate_way, sizeof(req->gate_way)) ||
	    !field_ok(req->dns_addr, sizeof(req->dns_addr)))
		return -EINVAL;
	if (req->dhcp_enabled > 1)
		return -EINVAL;
	ret->dhcp4 = req->dhcp_enabled == 1;

	r = parse_addrs_and_subnets(req->ip_addr, req->sub_net, ret);
	if (r < 0)
		return r;
	r = parse_addr_list(req->gate_way, ret->gateways, KVP_IPCONFIG_MAX_GATEWAYS,
			    &ret->n_gateways);
	if (r < 0)
		return r;
	r = parse_addr_list(req->dns_addr, ret->dns, KVP_IPCONFIG_MAX_DNS, &ret->n_dns);
	if (r < 0)
		return r;
	return kvp_ipconfig_check(ret);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int kvp_guid_normalize(const char *s, char *ret)
{
	/* {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}: dashes after these many hex digits */
	static const unsigned dash_at[] = { 9, 14, 19, 24 };
	char out[KVP_GUID_BUFSIZE];

	if (strlen(s) != KVP_GUID_BUFSIZE - 1 || s[0] != '{' || s[KVP_GUID_BUFSIZE - 2] != '}')
		return -EINVAL;
	out[0] = '{';
	for (unsigned i = 1, d = 0; i < KVP_GUID_BUFSIZE - 2; i++) {
		if (d < ELEMENTSOF(dash_at) && i == dash_at[d]) {
			if (s[i] != '-')
				return -EINVAL;
			out[i] = '-';
			d++;
			continue;
		}
		if (hexval(s[i]) < 0)
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[KVP_GUID_BUFSIZE - 2] = '}';
	out[KVP_GUID_BUFSIZE - 1] = '\0';
	memcpy(ret, out, sizeof(out));
	return 0;
}

int kvp_mac_normalize(const char *s, char *ret)
{
	char out[KVP_MAC_BUFSIZE];

	if (strlen(s) != KVP_MAC_BUFSIZE - 1)
		return -EINVAL;
	for (unsigned i = 0; i < KVP_MAC_BUFSIZE - 1; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return -EINVAL;
			out[i] = ':';
		} else {
			if (hexval(s[i]) < 0)
				return -EINVAL;
			out[i] = (char)tolower((unsigned char)s[i]);
		}
	}
	out[KVP_MAC_BUFSIZE - 1] = '\0';
	memcpy(ret, out, sizeof(out));
	return 0;
}

bool kvp_ifname_is_safe(const char *ifname)
{
	size_t len = strnlen(ifname, IF_NAMESIZE);

	if (len == 0 || len >= IF_NAMESIZE)
		return false;
	if (strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)ifname[i]) && !strchr("_.-", ifname[i]))
			return false;
	return true;
}

/* Packs "hex hex ..." (dashes, colons and braces skipped) into bytes; returns the count. */
static size_t hex_to_bytes(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	int hi = -1;

	for (; *s && n < max; s++) {
		int v = hexval(*s);

		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return n;
}

void kvp_ipconfig_nm_uuid(const KvpNic *nic, char *ret)
{
	/* Fixed salt so the profile UUID differs from the VMBus GUID it is derived from. */
	static const uint8_t salt[16] = { 0x68, 0x76, 0x67, 0x75, 0x65, 0x73, 0x74, 0x2d,
					  0x6b, 0x76, 0x70, 0x2d, 0x69, 0x70, 0x76, 0x34 };
	uint8_t b[16] = { 0 };

	if (nic->guid[0])
		(void)hex_to_bytes(nic->guid, b, sizeof(b));
	else
		(void)hex_to_bytes(nic->mac, b, 6);
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] ^= salt[i];
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x80); /* version 8 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
	(void)snprintf(ret, KVP_UUID_BUFSIZE,
		       "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		       b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		       b[13], b[14], b[15]);
}

int kvp_ipconfig_nm_id(const KvpNic *nic, char *ret, size_t size)
{
	int n = snprintf(ret, size, "hvguest-%s", nic->ifname);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
