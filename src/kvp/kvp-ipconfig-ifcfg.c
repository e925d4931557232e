/* SPDX-License-Identifier: MIT */
/*
 * Strict parser of the upstream daemon's ifcfg file (hv_set_ifconfig's first argument),
 * rules in kvp-ipconfig.h. Pure. The file is shell syntax for its other readers, so
 * anything beyond plain KEY=value with harmless characters is refused rather than
 * interpreted.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "kvp/kvp-ipconfig.h"

/* Slot 0 is the unnumbered key (IPADDR, GATEWAY, IPV6ADDR); numbered keys follow. */
#define SLOTS (KVP_IPCONFIG_MAX_ADDRS + 1u)

typedef enum SuffixKind {
	SUFFIX_NONE,	 /* exact key only */
	SUFFIX_DIGITS,	 /* KEY, KEYn (n >= 0) -> slots 0, n + 1 */
	SUFFIX_OPT_1,	 /* KEY, KEYn (n >= 1) -> slots 0, n */
	SUFFIX_REQ_1,	 /* KEYn (n >= 1) only -> slot n */
	SUFFIX_UNDER,	 /* KEY, KEY_n (n >= 1) -> slots 0, n */
	SUFFIX_NONE_ANY, /* KEY=anything harmless, ignored */
} SuffixKind;

typedef struct Ifcfg {
	const char *hwaddr, *device, *bootproto, *secondaries;
	const char *ip4[SLOTS], *mask4[SLOTS], *prefix4[SLOTS], *gw4[SLOTS], *dns[SLOTS];
	const char *ip6[SLOTS], *mask6[SLOTS], *gw6[SLOTS];
	const char *ignored; /* sink for the keys we accept but do not use */
} Ifcfg;

typedef struct KeyDef {
	const char *name;
	SuffixKind suffix;
	size_t offset; /* of the const char * (SUFFIX_NONE*) or array in Ifcfg */
} KeyDef;

#define SINGLE(n, f)                               \
	{                                          \
		n, SUFFIX_NONE, offsetof(Ifcfg, f) \
	}
#define IGNORED(n)                                           \
	{                                                    \
		n, SUFFIX_NONE_ANY, offsetof(Ifcfg, ignored) \
	}
#define ARRAY(n, k, f)                   \
	{                                \
		n, k, offsetof(Ifcfg, f) \
	}

/* Longer names first where one is a prefix of another (IPV6ADDR_SECONDARIES). */
static const KeyDef keys[] = {
	SINGLE("HWADDR", hwaddr),
	SINGLE("DEVICE", device),
	SINGLE("BOOTPROTO", bootproto),
	SINGLE("IPV6ADDR_SECONDARIES", secondaries),
	IGNORED("IPV6INIT"),
	IGNORED("IPV6_AUTOCONF"),
	IGNORED("NM_CONTROLLED"),
	IGNORED("PEERDNS"),
	IGNORED("ONBOOT"),
	IGNORED("TYPE"),
	ARRAY("IPADDR", SUFFIX_DIGITS, ip4),
	ARRAY("NETMASK", SUFFIX_DIGITS, mask4),
	ARRAY("PREFIX", SUFFIX_DIGITS, prefix4),
	ARRAY("GATEWAY", SUFFIX_OPT_1, gw4),
	ARRAY("DNS", SUFFIX_REQ_1, dns),
	ARRAY("IPV6ADDR", SUFFIX_UNDER, ip6),
	ARRAY("IPV6NETMASK", SUFFIX_UNDER, mask6),
	ARRAY("IPV6_DEFAULTGW", SUFFIX_UNDER, gw6),
};

/* "n" with no sign and no leading zero (except "0"), below limit; else -1. */
static long parse_index(const char *s, long limit)
{
	long v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if (v >= limit)
			return -1;
	}
	return v;
}

/* The slot a key selects, or -1 if the suffix does not fit the kind. */
static long key_slot(const char *suffix, SuffixKind kind)
{
	long n;

	switch (kind) {
	case SUFFIX_NONE:
	case SUFFIX_NONE_ANY:
		return *suffix ? -1 : 0;
	case SUFFIX_DIGITS:
		if (!*suffix)
			return 0;
		n = parse_index(suffix, (long)SLOTS - 1);
		return n < 0 ? -1 : n + 1;
	case SUFFIX_OPT_1:
	case SUFFIX_REQ_1:
		if (!*suffix)
			return kind == SUFFIX_OPT_1 ? 0 : -1;
		n = parse_index(suffix, (long)SLOTS);
		return n < 1 ? -1 : n;
	case SUFFIX_UNDER:
		if (!*suffix)
			return 0;
		if (suffix[0] != '_')
			return -1;
		n = parse_index(suffix + 1, (long)SLOTS);
		return n < 1 ? -1 : n;
	}
	return -1;
}

static const char **key_target(Ifcfg *f, const char *key)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		size_t len = strlen(keys[i].name);
		long slot;

		if (strncmp(key, keys[i].name, len) != 0)
			continue;
		slot = key_slot(key + len, keys[i].suffix);
		if (slot < 0)
			continue;
		return (const char **)((char *)f + keys[i].offset) + slot;
	}
	return NULL;
}

static bool value_char_ok(char c, bool quoted)
{
	return isalnum((unsigned char)c) || strchr(".:/_-", c) || (quoted && c == ' ');
}

/* Splits "KEY=value" in place; strips matching double quotes. */
static int parse_line(char *line, char **ret_key, char **ret_value)
{
	char *eq = strchr(line, '='), *v;
	size_t len;
	bool quoted = false;

	if (!eq || eq == line)
		return -EINVAL;
	*eq = '\0';
	for (char *k = line; *k; k++)
		if (!isupper((unsigned char)*k) && !isdigit((unsigned char)*k) && *k != '_')
			return -EINVAL;
	v = eq + 1;
	len = strlen(v);
	if (len > 0 && v[0] == '"') {
		if (len < 2 || v[len - 1] != '"')
			return -EINVAL;
		v[len - 1] = '\0';
		v++;
		quoted = true;
	}
	for (char *p = v; *p; p++)
		if (!value_char_ok(*p, quoted))
			return -EINVAL;
	*ret_key = line;
	*ret_value = v;
	return 0;
}

static bool line_is_blank_or_comment(const char *line)
{
	line += strspn(line, " \t");
	return !*line || *line == '#';
}

static int collect(char *text, Ifcfg *f)
{
	char *save = NULL;

	/* strtok_r would merge empty lines, which is fine: they carry nothing. */
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char **slot;
		char *key, *value;

		if (line_is_blank_or_comment(line))
			continue;
		if (parse_line(line, &key, &value) < 0)
			return -EINVAL;
		slot = key_target(f, key);
		if (!slot)
			return -EINVAL;
		if (*slot && slot != &f->ignored)
			return -EINVAL; /* given twice */
		*slot = value;
	}
	return 0;
}

static int add_addr(KvpIpConfig *c, const char *text, int family, unsigned prefixlen)
{
	KvpIpAddr a;

	if (c->n_addrs >= KVP_IPCONFIG_MAX_ADDRS)
		return -EINVAL;
	if (kvp_ipaddr_parse(text, &a) < 0 || a.family != family)
		return -EINVAL;
	a.prefixlen = prefixlen;
	c->addrs[c->n_addrs++] = a;
	return 0;
}

static int add_plain(KvpIpAddr *list, size_t *n, size_t max, const char *text, int family)
{
	KvpIpAddr a;

	if (*n >= max)
		return -EINVAL;
	if (kvp_ipaddr_parse(text, &a) < 0 || (family != AF_UNSPEC && a.family != family))
		return -EINVAL;
	list[(*n)++] = a;
	return 0;
}

/* "24", "/24" or (IPv4) "255.255.255.0" -> prefix length */
static int parse_plen(const char *s, int family, unsigned *ret)
{
	KvpIpAddr m;
	unsigned max = family == AF_INET ? 32 : 128, v = 0;

	if (family == AF_INET && strchr(s, '.')) {
		uint32_t host;

		if (kvp_ipaddr_parse(s, &m) < 0 || m.family != AF_INET)
			return -EINVAL;
		host = ~ntohl(m.u.in.s_addr);
		if ((host & (host + 1)) != 0)
			return -EINVAL;
		*ret = 32u - (unsigned)__builtin_popcount(host);
		return 0;
	}
	if (*s == '/')
		s++;
	if (!*s || strlen(s) > 3)
		return -EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* "addr/plen" or "addr" with a separate mask value. */
static int add_v6(KvpIpConfig *c, const char *value, const char *mask)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(value, '/');
	unsigned plen, plen2;
	size_t len = slash ? (size_t)(slash - value) : strlen(value);

	if (len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, value, len);
	addr[len] = '\0';
	if (!slash && !mask)
		return -EINVAL;
	if (slash && parse_plen(slash + 1, AF_INET6, &plen) < 0)
		return -EINVAL;
	if (mask) {
		if (parse_plen(mask, AF_INET6, &plen2) < 0 || (slash && plen2 != plen))
			return -EINVAL;
		plen = plen2;
	}
	return add_addr(c, addr, AF_INET6, plen);
}

static int build_addrs(const Ifcfg *f, KvpIpConfig *c)
{
	for (size_t i = 0; i < SLOTS; i++) {
		unsigned plen, plen2;

		if (!f->ip4[i]) {
			if (f->mask4[i] || f->prefix4[i])
				return -EINVAL; /* a mask without its address */
			continue;
		}
		if (!f->mask4[i] && !f->prefix4[i])
			return -EINVAL;
		if (f->mask4[i] && parse_plen(f->mask4[i], AF_INET, &plen) < 0)
			return -EINVAL;
		if (f->prefix4[i]) {
			if (parse_plen(f->prefix4[i], AF_INET, &plen2) < 0 ||
			    (f->mask4[i] && plen2 != plen))
				return -EINVAL;
			plen = plen2;
		}
		if (add_addr(c, f->ip4[i], AF_INET, plen) < 0)
			return -EINVAL;
	}
	for (size_t i = 0; i < SLOTS; i++) {
		if (!f->ip6[i]) {
			if (f->mask6[i])
				return -EINVAL;
			continue;
		}
		if (add_v6(c, f->ip6[i], f->mask6[i]) < 0)
			return -EINVAL;
	}
	if (f->secondaries) {
		char buf[4096], *save = NULL;

		if (strlen(f->secondaries) >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, f->secondaries, strlen(f->secondaries) + 1);
		for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
			if (!strchr(t, '/') || add_v6(c, t, NULL) < 0)
				return -EINVAL;
	}
	return 0;
}

static int build(const Ifcfg *f, KvpIpConfig *c, KvpNic *nic)
{
	if (!f->hwaddr || !f->device)
		return -EINVAL;
	if (kvp_mac_normalize(f->hwaddr, nic->mac) < 0 || !kvp_ifname_is_safe(f->device))
		return -EINVAL;
	memcpy(nic->ifname, f->device, strlen(f->device) + 1);
	if (!f->bootproto || strcmp(f->bootproto, "none") == 0 ||
	    strcmp(f->bootproto, "static") == 0)
		c->dhcp4 = false;
	else if (strcmp(f->bootproto, "dhcp") == 0)
		c->dhcp4 = true;
	else
		return -EINVAL;

	if (build_addrs(f, c) < 0)
		return -EINVAL;
	for (size_t i = 0; i < SLOTS; i++)
		if (f->gw4[i] && add_plain(c->gateways, &c->n_gateways, KVP_IPCONFIG_MAX_GATEWAYS,
					   f->gw4[i], AF_INET) < 0)
			return -EINVAL;
	for (size_t i = 0; i < SLOTS; i++)
		if (f->gw6[i] && add_plain(c->gateways, &c->n_gateways, KVP_IPCONFIG_MAX_GATEWAYS,
					   f->gw6[i], AF_INET6) < 0)
			return -EINVAL;
	for (size_t i = 0; i < SLOTS; i++)
		if (f->dns[i] &&
		    add_plain(c->dns, &c->n_dns, KVP_IPCONFIG_MAX_DNS, f->dns[i], AF_UNSPEC) < 0)
			return -EINVAL;
	return kvp_ipconfig_check(c);
}

int kvp_ipconfig_parse_ifcfg(const char *text, KvpIpConfig *ret, KvpNic *ret_nic)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ Ifcfg *f = NULL;
	KvpNic nic = { 0 };
	int r;

	copy = strdup(text);
	f = calloc(1, sizeof(*f));
	if (!copy || !f)
		return -ENOMEM;
	memset(ret, 0, sizeof(*ret));
	r = collect(copy, f);
	if (r < 0)
		return r;
	r = build(f, ret, &nic);
	if (r < 0)
		return r;
	*ret_nic = nic;
	return 0;
}
