/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include "common/macro.h"
#include "common/nl-util.h"

#include "bench-net.h"

/* Longest list item worth looking at: an IPv6 literal with a zone, or an IPv4 netmask. */
#define ITEM_MAX 64

/* Connected rtnetlink socket and the ifindex of ifname. */
static int open_link(const char *ifname, struct nl_sock **ret_sk, int *ret_ifindex)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
	int r;

	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0)
		return nl_errno(r);
	r = rtnl_link_get_kernel(sk, 0, ifname, &link);
	if (r < 0)
		return nl_errno(r);
	*ret_ifindex = rtnl_link_get_ifindex(link);
	*ret_sk = TAKE_PTR(sk);
	return 0;
}

int bench_net_add_address(const char *ifname, const char *cidr)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
	int family = strchr(cidr, ':') ? AF_INET6 : AF_INET, ifindex, r;

	r = open_link(ifname, &sk, &ifindex);
	if (r < 0)
		return r;
	r = nl_addr_parse(cidr, family, &local);
	if (r < 0)
		return -EINVAL;
	addr = rtnl_addr_alloc();
	if (!addr)
		return -ENOMEM;
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_family(addr, family);
	r = rtnl_addr_set_local(addr, local);
	if (r < 0)
		return nl_errno(r);
	rtnl_addr_set_prefixlen(addr, (int)nl_addr_get_prefixlen(local));
	if (family == AF_INET6)
		rtnl_addr_set_flags(addr, IFA_F_NODAD);
	r = rtnl_addr_add(sk, addr, NLM_F_CREATE | NLM_F_EXCL);
	return r < 0 ? nl_errno(r) : 0;
}

int bench_net_addresses(const char *ifname, BenchNicAddr *v, size_t max, size_t *ret_n)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	size_t n = 0;
	int ifindex, r;

	r = open_link(ifname, &sk, &ifindex);
	if (r < 0)
		return r;
	r = rtnl_addr_alloc_cache(sk, &cache);
	if (r < 0)
		return nl_errno(r);
	for (struct nl_object *o = nl_cache_get_first(cache); o && n < max;
	     o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		int family = rtnl_addr_get_family(a);
		size_t len = family == AF_INET ? 4 : 16;
		BenchNicAddr *out = &v[n];

		if (rtnl_addr_get_ifindex(a) != ifindex ||
		    (family != AF_INET && family != AF_INET6))
			continue;
		if (!local || nl_addr_get_len(local) != len)
			continue;
		memset(out, 0, sizeof(*out));
		out->family = family;
		out->prefixlen = (unsigned)rtnl_addr_get_prefixlen(a);
		memcpy(out->addr, nl_addr_get_binary_addr(local), len);
		if (!inet_ntop(family, out->addr, out->text, sizeof(out->text)))
			return -EINVAL;
		out->tentative =
			(rtnl_addr_get_flags(a) & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) != 0;
		n++;
	}
	*ret_n = n;
	return 0;
}

/* Appends a "; "-separated item to buf (silently truncated when full). */
_printf_(3, 4) static void describe(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strnlen(buf, size);
	va_list ap;

	if (len > 0 && len + 3 < size) {
		memcpy(buf + len, "; ", 3);
		len += 2;
	}
	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/*
 * Splits the ';'-separated list at *p: copies the next item (cut at ITEM_MAX - 1 bytes) into
 * item and advances *p. Returns false at the end of the list; a trailing ';' ends the list
 * without an empty last item.
 */
static bool next_item(const char **p, char item[ITEM_MAX])
{
	const char *s = *p, *end;
	size_t len;

	if (!*s)
		return false;
	end = strchr(s, ';');
	len = end ? (size_t)(end - s) : strlen(s);
	(void)snprintf(item, ITEM_MAX, "%.*s", (int)MIN(len, (size_t)ITEM_MAX - 1), s);
	*p = end ? end + 1 : s + len;
	return true;
}

/* Parses an IP literal; returns its family, or 0 if item is none. */
static int parse_ip(const char *item, uint8_t addr[16])
{
	if (inet_pton(AF_INET, item, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, item, addr) == 1)
		return AF_INET6;
	return 0;
}

/* What sub_net must say for a: the dotted netmask (IPv4) or "/prefix" (IPv6). */
static void expected_subnet(const BenchNicAddr *a, char buf[ITEM_MAX])
{
	struct in_addr mask = {
		.s_addr =
			htonl(a->prefixlen == 0 ? 0 : UINT32_MAX << (32 - MIN(a->prefixlen, 32u))),
	};

	if (a->family == AF_INET6 || !inet_ntop(AF_INET, &mask, buf, ITEM_MAX))
		(void)snprintf(buf, ITEM_MAX, "/%u", a->prefixlen);
}

static unsigned check_addresses(const HostKvpIpInfo *a, const BenchNicAddr *exp, size_t n,
				char *buf, size_t size)
{
	const char *ip = a->ip_addr, *sub = a->sub_net;
	char item[ITEM_MAX], subnet[ITEM_MAX], want[ITEM_MAX];
	unsigned seen[BENCH_NIC_MAX_ADDRS] = {}, bad = 0, families = 0;

	n = MIN(n, (size_t)BENCH_NIC_MAX_ADDRS);
	while (next_item(&ip, item)) {
		uint8_t bin[16];
		int family = parse_ip(item, bin);
		size_t i;
		bool have_subnet = next_item(&sub, subnet);

		for (i = 0; i < n; i++) {
			if (family == exp[i].family &&
			    memcmp(bin, exp[i].addr, family == AF_INET ? 4 : 16) == 0)
				break;
		}
		if (i == n) {
			describe(buf, size, "%s '%s'",
				 family ? "address not on the NIC" : "not an address", item);
			bad++;
			continue;
		}
		if (seen[i]++ > 0) {
			describe(buf, size, "%s listed twice", exp[i].text);
			bad++;
		}
		expected_subnet(&exp[i], want);
		if (!have_subnet || strcmp(subnet, want) != 0) {
			describe(buf, size, "subnet of %s is '%s', want '%s'", exp[i].text,
				 have_subnet ? subnet : "(missing)", want);
			bad++;
		}
	}
	if (next_item(&sub, subnet)) {
		describe(buf, size, "more subnets than addresses");
		bad++;
	}
	for (size_t i = 0; i < n; i++) {
		if (exp[i].tentative)
			continue;
		families |= exp[i].family == AF_INET ? 1u : 2u;
		if (!seen[i]) {
			describe(buf, size, "%s missing", exp[i].text);
			bad++;
		}
	}
	if (a->addr_family != families) {
		describe(buf, size, "addr_family %u, want %u", a->addr_family, families);
		bad++;
	}
	return bad;
}

/* Every item of list must be an IP literal; returns how many are not. */
static unsigned check_literals(const char *what, const char *list, char *buf, size_t size)
{
	char item[ITEM_MAX];
	unsigned bad = 0;
	uint8_t bin[16];

	while (next_item(&list, item)) {
		if (!parse_ip(item, bin)) {
			describe(buf, size, "%s item '%s' is not an IP address", what, item);
			bad++;
		}
	}
	return bad;
}

static bool list_contains(const char *list, const char *want)
{
	char item[ITEM_MAX];
	uint8_t a[16], b[16];
	int family = parse_ip(want, b);

	while (next_item(&list, item)) {
		if (family && parse_ip(item, a) == family &&
		    memcmp(a, b, family == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
}

unsigned bench_ip_answer_check(const HostKvpIpInfo *a, const BenchNicAddr *exp, size_t n,
			       const char *const *gateways, const char *dns, char *buf, size_t size)
{
	unsigned bad;

	if (size > 0)
		buf[0] = 0;
	bad = check_addresses(a, exp, n, buf, size);
	bad += check_literals("gateway", a->gate_way, buf, size);
	bad += check_literals("DNS", a->dns_addr, buf, size);
	for (; gateways && *gateways; gateways++) {
		if (!list_contains(a->gate_way, *gateways)) {
			describe(buf, size, "gateway %s missing", *gateways);
			bad++;
		}
	}
	if (dns && !list_contains(a->dns_addr, dns)) {
		describe(buf, size, "DNS server %s missing", dns);
		bad++;
	}
	return bad;
}
