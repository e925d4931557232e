/* SPDX-License-Identifier: MIT */
/*
 * Addresses from route netlink through libnl-route caches, and the pure policy that picks
 * what the host gets to see (the primary NIC first, no container bridges).
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <string.h>

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "kvp/kvp-netinfo.h"

#include "common/nl-util.h"

/* A dump that raced with a change is redone; three tries cover any real burst. */
#define DUMP_TRIES 3

static bool is_excluded(const char *ifname, char *const *globs)
{
	for (char *const *g = globs; g && *g; g++)
		if (fnmatch(*g, ifname, 0) == 0)
			return true;
	return false;
}

static bool is_loopback_addr(const NetAddr *a)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (a->family == AF_INET)
		return inet_pton(AF_INET, a->addr, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
	if (a->family == AF_INET6)
		return inet_pton(AF_INET6, a->addr, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
	return false;
}

/* Sort order: links with a default route first, then by ifindex. */
static bool goes_before(const NetAddr *a, const NetAddr *b)
{
	if (a->has_default_route != b->has_default_route)
		return a->has_default_route;
	return a->ifindex < b->ifindex;
}

size_t netinfo_filter(NetAddr *a, size_t n, char *const *exclude_globs)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		if (a[i].ifflags & IFF_LOOPBACK)
			continue;
		if (is_loopback_addr(&a[i]))
			continue;
		if (is_excluded(a[i].ifname, exclude_globs))
			continue;
		if (kept != i)
			a[kept] = a[i];
		kept++;
	}

	/*
	 * Insertion sort: stable, so each link keeps the kernel's address order (primary
	 * address first), and in place, so this cannot fail. n is a handful of addresses.
	 */
	for (size_t i = 1; i < kept; i++) {
		NetAddr cur = a[i];
		size_t j = i;

		while (j > 0 && goes_before(&cur, &a[j - 1])) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = cur;
	}
	return kept;
}

typedef struct Snapshot {
	struct nl_sock *sk;
	struct nl_cache *links;
	struct nl_cache *addrs;
	struct nl_cache *routes;
	int *default_ifindexes; /* links that carry a default route, possibly repeated */
	size_t n_default;
} Snapshot;

static void snapshot_done(Snapshot *s)
{
	free(s->default_ifindexes);
	if (s->routes)
		nl_cache_free(s->routes);
	if (s->addrs)
		nl_cache_free(s->addrs);
	if (s->links)
		nl_cache_free(s->links);
	if (s->sk)
		nl_socket_free(s->sk);
	*s = (Snapshot){};
}

/* True if route r is a default route of the main table (either family). */
static bool route_is_default(struct rtnl_route *r)
{
	struct nl_addr *dst = rtnl_route_get_dst(r);

	return rtnl_route_get_table(r) == RT_TABLE_MAIN && rtnl_route_get_type(r) == RTN_UNICAST &&
	       dst && nl_addr_get_prefixlen(dst) == 0;
}

static int collect_default_links(Snapshot *s)
{
	size_t allocated = 0;

	for (struct nl_object *o = nl_cache_get_first(s->routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		int n;

		if (!route_is_default(r))
			continue;
		n = rtnl_route_get_nnexthops(r);
		for (int i = 0; i < n; i++) {
			struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, i);

			if (!nh)
				continue;
			if (s->n_default == allocated) {
				size_t m = allocated ? allocated * 2 : 4;
				int *p = reallocarray(s->default_ifindexes, m, sizeof(int));

				if (!p)
					return -ENOMEM;
				s->default_ifindexes = p;
				allocated = m;
			}
			s->default_ifindexes[s->n_default++] = rtnl_route_nh_get_ifindex(nh);
		}
	}
	return 0;
}

static bool link_has_default_route(const Snapshot *s, int ifindex)
{
	for (size_t i = 0; i < s->n_default; i++)
		if (s->default_ifindexes[i] == ifindex)
			return true;
	return false;
}

static int snapshot_load(Snapshot *s)
{
	int r;

	s->sk = nl_socket_alloc();
	if (!s->sk)
		return -ENOMEM;
	r = nl_connect(s->sk, NETLINK_ROUTE);
	if (r < 0)
		return nl_errno(r);

	for (int i = 0; i < DUMP_TRIES; i++) {
		r = rtnl_link_alloc_cache(s->sk, AF_UNSPEC, &s->links);
		if (r >= 0)
			r = rtnl_addr_alloc_cache(s->sk, &s->addrs);
		if (r >= 0)
			r = rtnl_route_alloc_cache(s->sk, AF_UNSPEC, 0, &s->routes);
		if (r != -NLE_DUMP_INTR)
			break;
		/* A dump raced with a change: start over so that the three views agree. */
		if (s->links)
			nl_cache_free(s->links);
		if (s->addrs)
			nl_cache_free(s->addrs);
		s->links = s->addrs = NULL;
	}
	if (r < 0)
		return nl_errno(r);
	return collect_default_links(s);
}

/* Fills *out from one address object; false if it is not one we report. */
static bool addr_to_netaddr(const Snapshot *s, struct rtnl_addr *ra, NetAddr *out)
{
	struct nl_addr *local = rtnl_addr_get_local(ra);
	struct rtnl_link *link;
	int family = rtnl_addr_get_family(ra);
	const char *name;

	if (family != AF_INET && family != AF_INET6)
		return false;
	if (!local || nl_addr_get_len(local) != (family == AF_INET ? 4u : 16u))
		return false;
	/* Duplicate address detection failed: the address is not usable. */
	if (rtnl_addr_get_flags(ra) & IFA_F_DADFAILED)
		return false;

	*out = (NetAddr){
		.ifindex = rtnl_addr_get_ifindex(ra),
		.family = family,
		.prefixlen = (unsigned)rtnl_addr_get_prefixlen(ra),
	};
	if (!inet_ntop(family, nl_addr_get_binary_addr(local), out->addr, sizeof(out->addr)))
		return false;

	link = rtnl_link_get(s->links, out->ifindex);
	if (!link)
		return false; /* the link went away between the two dumps */
	name = rtnl_link_get_name(link);
	if (name)
		snprintf(out->ifname, sizeof(out->ifname), "%s", name);
	out->ifflags = rtnl_link_get_flags(link);
	rtnl_link_put(link);

	out->has_default_route = link_has_default_route(s, out->ifindex);
	return true;
}

static int libnl_list_addresses(void *userdata, NetAddr **ret, size_t *ret_n)
{
	_cleanup_(snapshot_done) Snapshot s = {};
	_cleanup_free_ NetAddr *list = NULL;
	size_t n = 0, allocated = 0;
	int r;

	r = snapshot_load(&s);
	if (r < 0)
		return r;

	for (struct nl_object *o = nl_cache_get_first(s.addrs); o; o = nl_cache_get_next(o)) {
		NetAddr a;

		if (!addr_to_netaddr(&s, (struct rtnl_addr *)o, &a))
			continue;
		if (n == allocated) {
			size_t m = allocated ? allocated * 2 : 16;
			NetAddr *p = reallocarray(list, m, sizeof(*list));

			if (!p)
				return -ENOMEM;
			list = p;
			allocated = m;
		}
		list[n++] = a;
	}

	*ret = TAKE_PTR(list);
	*ret_n = n;
	return 0;
}

const NetinfoOps netinfo_libnl_ops = {
	.list_addresses = libnl_list_addresses,
};
