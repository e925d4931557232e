/* SPDX-License-Identifier: MIT */
/*
 * GET_IP_INFO's per-NIC answer (see kvp-nicinfo.h): the pure selection and formatting first,
 * then the libnl-route dumps that feed it.
 */
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include "kvp/kvp-nicinfo.h"

#include "common/nl-util.h"

/* A dump that raced with a change is redone; three tries cover any real burst. */
#define DUMP_TRIES 3

/*
 * Host limits minus one unit: the kernel converts each list into a fixed UTF-16 array of
 * that many units without adding a terminator, so a list that filled the array would reach
 * the host unterminated. One unit less keeps a NUL in the host's view.
 */
#define ADDR_UNITS (KVP_IP_ADDR_UNITS - 1)
#define GATEWAY_UNITS (KVP_IP_GATEWAY_UNITS - 1)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kvp_nicinfo_parse_mac(const char *s, uint8_t ret[NIC_MAC_LEN])
{
	uint8_t mac[NIC_MAC_LEN];
	char sep = 0;

	/* "xx:xx:xx:xx:xx:xx": 3 characters per byte but the last. */
	if (!s || strnlen(s, 3 * NIC_MAC_LEN) != 3 * NIC_MAC_LEN - 1)
		return -EINVAL;
	for (size_t i = 0; i < NIC_MAC_LEN; i++) {
		const char *p = s + 3 * i;
		int hi = hexval(p[0]), lo = hexval(p[1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
		if (i + 1 == NIC_MAC_LEN)
			break;
		if ((p[2] != ':' && p[2] != '-') || (sep && p[2] != sep))
			return -EINVAL;
		sep = p[2];
	}
	memcpy(ret, mac, sizeof(mac));
	return 0;
}

/* family: KVP_ADDR_FAMILY_* bits asked for, 0 = both. */
static bool family_wanted(uint8_t family, int af)
{
	if (af == AF_INET)
		return family == 0 || (family & KVP_ADDR_FAMILY_IPV4);
	if (af == AF_INET6)
		return family == 0 || (family & KVP_ADDR_FAMILY_IPV6);
	return false;
}

static bool is_loopback_addr(const NicAddr *a)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->addr[0] == 127;
	return memcmp(a->addr, v6_loopback, sizeof(v6_loopback)) == 0;
}

/* True if address a of link ifindex goes into the reply. */
static bool addr_reportable(const NicAddr *a, int ifindex, uint8_t family)
{
	if (a->ifindex != ifindex || !family_wanted(family, a->family))
		return false;
	if (a->prefixlen > (a->family == AF_INET ? 32u : 128u))
		return false;
	/*
	 * A duplicate is never reported. An address still in duplicate address detection is:
	 * a NIC the host has just added must show IPv4 plus its IPv6 link-local at once
	 * (Microsoft's validation suite expects two addresses), and upstream lists them too.
	 */
	if (a->flags & IFA_F_DADFAILED)
		return false;
	return !is_loopback_addr(a);
}

static bool link_matches(const NicLink *l, const uint8_t mac[NIC_MAC_LEN])
{
	return !(l->flags & IFF_LOOPBACK) && l->has_mac && memcmp(l->mac, mac, NIC_MAC_LEN) == 0;
}

static const NicLink *find_candidate(const NicLink *links, size_t n_links, int ifindex,
				     const uint8_t mac[NIC_MAC_LEN])
{
	for (size_t i = 0; i < n_links; i++)
		if (links[i].ifindex == ifindex && link_matches(&links[i], mac))
			return &links[i];
	return NULL;
}

/*
 * How many same-MAC links sit above l through IFLA_MASTER (a VF under its netvsc NIC under a
 * bridge: 2, 1, 0). Bounded by n_links, so a looping input cannot hang us.
 */
static size_t stack_depth(const NicLink *links, size_t n_links, const NicLink *l,
			  const uint8_t mac[NIC_MAC_LEN])
{
	size_t depth = 0;

	while (depth < n_links && l->master > 0 && l->master != l->ifindex) {
		l = find_candidate(links, n_links, l->master, mac);
		if (!l)
			break;
		depth++;
	}
	return depth;
}

typedef struct Candidate {
	const NicLink *link;
	bool has_addrs;
	size_t depth; /* stack_depth() */
} Candidate;

/* Addresses first; then the highest in a stack of same-MAC links; then the lowest ifindex. */
static bool candidate_better(const Candidate *a, const Candidate *b)
{
	if (a->has_addrs != b->has_addrs)
		return a->has_addrs;
	if (a->depth != b->depth)
		return a->depth < b->depth;
	return a->link->ifindex < b->link->ifindex;
}

static const NicLink *choose_link(const NicLink *links, size_t n_links, const NicAddr *addrs,
				  size_t n_addrs, const uint8_t mac[NIC_MAC_LEN], uint8_t family)
{
	Candidate best = {};

	for (size_t i = 0; i < n_links; i++) {
		Candidate c = { .link = &links[i] };

		if (!link_matches(&links[i], mac))
			continue;
		for (size_t j = 0; j < n_addrs && !c.has_addrs; j++)
			c.has_addrs = addr_reportable(&addrs[j], links[i].ifindex, family);
		c.depth = stack_depth(links, n_links, &links[i], mac);
		if (!best.link || candidate_better(&c, &best))
			best = c;
	}
	return best.link;
}

/* IPv4: dotted netmask ("255.255.255.0"); IPv6: "/64" (upstream's forms, §4.6). */
static int format_subnet(int af, unsigned prefixlen, char *buf, size_t size)
{
	int n;

	if (af == AF_INET) {
		struct in_addr mask = {
			.s_addr = htonl(prefixlen == 0 ? 0 : UINT32_MAX << (32 - prefixlen)),
		};

		return inet_ntop(AF_INET, &mask, buf, (socklen_t)size) ? 0 : -ENOSPC;
	}
	n = snprintf(buf, size, "/%u", prefixlen);
	return n > 0 && (size_t)n < size ? 0 : -ENOSPC;
}

/* Appends one address and its subnet, both or neither, so the two lists stay aligned. */
static int append_addr(KvpIpInfo *info, const NicAddr *a)
{
	char text[INET6_ADDRSTRLEN], subnet[INET6_ADDRSTRLEN];
	size_t addr_len = strlen(info->ip_addr);
	int r;

	if (!inet_ntop(a->family, a->addr, text, sizeof(text)))
		return -EINVAL;
	r = format_subnet(a->family, a->prefixlen, subnet, sizeof(subnet));
	if (r < 0)
		return r;

	r = kvp_iplist_append(info->ip_addr, sizeof(info->ip_addr), ADDR_UNITS, text);
	if (r < 0)
		return r;
	r = kvp_iplist_append(info->sub_net, sizeof(info->sub_net), ADDR_UNITS, subnet);
	if (r < 0) {
		/* Take the address back out, leaving no stale bytes behind. */
		memset(info->ip_addr + addr_len, 0, sizeof(info->ip_addr) - addr_len);
		return r;
	}
	info->addr_family |= a->family == AF_INET ? KVP_ADDR_FAMILY_IPV4 : KVP_ADDR_FAMILY_IPV6;
	return 0;
}

static bool gateway_reportable(const NicRoute *rt, int ifindex, uint8_t family)
{
	static const uint8_t zero[16] = {};

	if (rt->table != RT_TABLE_MAIN || rt->type != RTN_UNICAST || rt->dst_len != 0)
		return false;
	if (rt->ifindex != ifindex || !family_wanted(family, rt->gw_family))
		return false;
	/* 0.0.0.0 or :: is "no gateway", never a literal for the host. */
	return memcmp(rt->gw, zero, rt->gw_family == AF_INET ? 4 : 16) != 0;
}

static bool same_gateway(const NicRoute *a, const NicRoute *b)
{
	return a->gw_family == b->gw_family &&
	       memcmp(a->gw, b->gw, a->gw_family == AF_INET ? 4 : 16) == 0;
}

static void fill_gateways(KvpIpInfo *info, const NicRoute *routes, size_t n_routes, int ifindex,
			  uint8_t family)
{
	for (size_t i = 0; i < n_routes; i++) {
		char text[INET6_ADDRSTRLEN];
		bool dup = false;

		if (!gateway_reportable(&routes[i], ifindex, family))
			continue;
		for (size_t j = 0; j < i && !dup; j++)
			dup = gateway_reportable(&routes[j], ifindex, family) &&
			      same_gateway(&routes[j], &routes[i]);
		if (dup)
			continue;
		if (!inet_ntop(routes[i].gw_family, routes[i].gw, text, sizeof(text)))
			continue;
		/*
		 * Upstream's "a;b;" form: the host has parsed gateways with a trailing ';' from
		 * every upstream version, and the compatibility rule is to keep §4.6's separators.
		 */
		if (kvp_iplist_append_trailing(info->gate_way, sizeof(info->gate_way),
					       GATEWAY_UNITS, text) < 0)
			break; /* full: cut here, at a separator */
	}
}

int kvp_nicinfo_select(const NicLink *links, size_t n_links, const NicAddr *addrs, size_t n_addrs,
		       const NicRoute *routes, size_t n_routes, const uint8_t mac[NIC_MAC_LEN],
		       uint8_t family, KvpIpInfo *ret, int *ret_ifindex)
{
	/* Static would not be thread-safe; 7 KiB of stack is fine on the worker thread. */
	KvpIpInfo info = {};
	const NicLink *link;

	if (family & ~(KVP_ADDR_FAMILY_IPV4 | KVP_ADDR_FAMILY_IPV6))
		return -EINVAL;
	link = choose_link(links, n_links, addrs, n_addrs, mac, family);
	if (!link)
		return -ENODEV;

	for (size_t i = 0; i < n_addrs; i++) {
		if (!addr_reportable(&addrs[i], link->ifindex, family))
			continue;
		if (append_addr(&info, &addrs[i]) == -E2BIG)
			break; /* the host's limit: cut here, at a separator */
	}
	fill_gateways(&info, routes, n_routes, link->ifindex, family);

	*ret = info;
	*ret_ifindex = link->ifindex;
	return 0;
}

/* ---- libnl ---- */

/* The three dumps of one query, converted into the pure module's arrays. */
typedef struct NicState {
	NicLink *links;
	size_t n_links;
	NicAddr *addrs;
	size_t n_addrs;
	NicRoute *routes;
	size_t n_routes, routes_allocated;
} NicState;

static void nic_state_done(NicState *s)
{
	free(s->links);
	free(s->addrs);
	free(s->routes);
	*s = (NicState){};
}

typedef struct NlCaches {
	struct nl_sock *sk;
	struct nl_cache *links, *addrs, *routes;
} NlCaches;

static void nl_caches_drop(NlCaches *c)
{
	if (c->routes)
		nl_cache_free(c->routes);
	if (c->addrs)
		nl_cache_free(c->addrs);
	if (c->links)
		nl_cache_free(c->links);
	c->links = c->addrs = c->routes = NULL;
}

static void nl_caches_done(NlCaches *c)
{
	nl_caches_drop(c);
	if (c->sk)
		nl_socket_free(c->sk);
	c->sk = NULL;
}

static int nl_caches_load(NlCaches *c)
{
	int r = 0;

	c->sk = nl_socket_alloc();
	if (!c->sk)
		return -ENOMEM;
	r = nl_connect(c->sk, NETLINK_ROUTE);
	if (r < 0)
		return nl_errno(r);

	for (int i = 0; i < DUMP_TRIES; i++) {
		r = rtnl_link_alloc_cache(c->sk, AF_UNSPEC, &c->links);
		if (r >= 0)
			r = rtnl_addr_alloc_cache(c->sk, &c->addrs);
		if (r >= 0)
			r = rtnl_route_alloc_cache(c->sk, AF_UNSPEC, 0, &c->routes);
		if (r != -NLE_DUMP_INTR)
			break;
		/* A dump raced with a change: start over so that the three views agree. */
		nl_caches_drop(c);
	}
	return r < 0 ? nl_errno(r) : 0;
}

static void copy_binary(uint8_t *dst, size_t size, struct nl_addr *a)
{
	memcpy(dst, nl_addr_get_binary_addr(a), MIN(size, (size_t)nl_addr_get_len(a)));
}

static int collect_links(NicState *s, struct nl_cache *cache)
{
	s->links = calloc(MAX((size_t)nl_cache_nitems(cache), 1u), sizeof(*s->links));
	if (!s->links)
		return -ENOMEM;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		struct nl_addr *mac = rtnl_link_get_addr(l);
		NicLink *out = &s->links[s->n_links++];
		const char *name = rtnl_link_get_name(l);

		out->ifindex = rtnl_link_get_ifindex(l);
		out->master = rtnl_link_get_master(l);
		out->flags = rtnl_link_get_flags(l);
		out->has_mac = mac && nl_addr_get_len(mac) == NIC_MAC_LEN;
		if (out->has_mac)
			copy_binary(out->mac, sizeof(out->mac), mac);
		if (name)
			snprintf(out->ifname, sizeof(out->ifname), "%s", name);
	}
	return 0;
}

static int collect_addrs(NicState *s, struct nl_cache *cache)
{
	s->addrs = calloc(MAX((size_t)nl_cache_nitems(cache), 1u), sizeof(*s->addrs));
	if (!s->addrs)
		return -ENOMEM;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		int family = rtnl_addr_get_family(a);
		NicAddr *out;

		if (family != AF_INET && family != AF_INET6)
			continue;
		if (!local || nl_addr_get_len(local) != (family == AF_INET ? 4u : 16u))
			continue;
		out = &s->addrs[s->n_addrs++];
		out->ifindex = rtnl_addr_get_ifindex(a);
		out->family = family;
		out->prefixlen = (unsigned)rtnl_addr_get_prefixlen(a);
		out->flags = rtnl_addr_get_flags(a);
		copy_binary(out->addr, sizeof(out->addr), local);
	}
	return 0;
}

static int add_route(NicState *s, const NicRoute *rt)
{
	if (s->n_routes == s->routes_allocated) {
		size_t m = s->routes_allocated ? s->routes_allocated * 2 : 16;
		NicRoute *p = reallocarray(s->routes, m, sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->routes = p;
		s->routes_allocated = m;
	}
	s->routes[s->n_routes++] = *rt;
	return 0;
}

/* Only default routes are kept: the rest (local, connected, other tables) never matter. */
static int collect_routes(NicState *s, struct nl_cache *cache)
{
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(r);
		NicRoute base = {
			.family = rtnl_route_get_family(r),
			.table = rtnl_route_get_table(r),
			.type = rtnl_route_get_type(r),
			/* The kernel omits RTA_DST exactly when the prefix length is 0. */
			.dst_len = dst ? nl_addr_get_prefixlen(dst) : 0,
		};
		int n = rtnl_route_get_nnexthops(r);

		if (base.dst_len != 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, i);
			struct nl_addr *gw;
			NicRoute rt = base;
			int k;

			if (!nh)
				continue;
			rt.ifindex = rtnl_route_nh_get_ifindex(nh);
			gw = rtnl_route_nh_get_gateway(nh);
			if (gw && nl_addr_get_family(gw) == AF_INET && nl_addr_get_len(gw) == 4)
				rt.gw_family = AF_INET;
			else if (gw && nl_addr_get_family(gw) == AF_INET6 &&
				 nl_addr_get_len(gw) == 16)
				rt.gw_family = AF_INET6;
			if (rt.gw_family)
				copy_binary(rt.gw, sizeof(rt.gw), gw);
			k = add_route(s, &rt);
			if (k < 0)
				return k;
		}
	}
	return 0;
}

int kvp_nicinfo_query(const char *mac, uint8_t family, KvpIpInfo *ret, char ret_ifname[IF_NAMESIZE],
		      int *ret_ifindex)
{
	_cleanup_(nl_caches_done) NlCaches c = {};
	_cleanup_(nic_state_done) NicState s = {};
	uint8_t bin[NIC_MAC_LEN];
	KvpIpInfo info;
	int ifindex, r;

	r = kvp_nicinfo_parse_mac(mac, bin);
	if (r < 0)
		return r;
	if (family & ~(KVP_ADDR_FAMILY_IPV4 | KVP_ADDR_FAMILY_IPV6))
		return -EINVAL;

	r = nl_caches_load(&c);
	if (r < 0)
		return r;
	r = collect_links(&s, c.links);
	if (r >= 0)
		r = collect_addrs(&s, c.addrs);
	if (r >= 0)
		r = collect_routes(&s, c.routes);
	if (r < 0)
		return r;
	nl_caches_done(&c);

	r = kvp_nicinfo_select(s.links, s.n_links, s.addrs, s.n_addrs, s.routes, s.n_routes, bin,
			       family, &info, &ifindex);
	if (r < 0)
		return r;
	/* Echo the host's id as received (upstream leaves adapter_id untouched). */
	snprintf(info.adapter_id, sizeof(info.adapter_id), "%s", mac);

	for (size_t i = 0; i < s.n_links; i++)
		if (s.links[i].ifindex == ifindex)
			snprintf(ret_ifname, IF_NAMESIZE, "%s", s.links[i].ifname);
	*ret = info;
	*ret_ifindex = ifindex;
	return 0;
}
