/* SPDX-License-Identifier: MIT */
/*
 * Guest network setup through libnl-route (see hostsim-net.h).
 */
#include <errno.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/nl-util.h"
#include "hostsim/hostsim-net.h"
#include "hostsim/hostsim.h"

static int link_up(struct nl_sock *sk, const char *name, int *ret_ifindex)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL, *change = NULL;
	int r;

	r = rtnl_link_get_kernel(sk, 0, name, &link);
	if (r < 0) {
		log_debug("Failed to look up link '%s': %s", name, nl_geterror(r));
		return nl_errno(r);
	}
	change = rtnl_link_alloc();
	if (!change)
		return -ENOMEM;
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, link, change, 0);
	if (r < 0) {
		log_debug("Failed to bring '%s' up: %s", name, nl_geterror(r));
		return nl_errno(r);
	}
	if (ret_ifindex)
		*ret_ifindex = rtnl_link_get_ifindex(link);
	return 0;
}

static int add_veth(struct nl_sock *sk)
{
	_cleanup_(nl_addr_putp) struct nl_addr *mac = NULL;
	struct rtnl_link *link, *peer;
	int r;

	r = nl_addr_parse(HOSTSIM_MAC, AF_LLC, &mac);
	if (r < 0)
		return nl_errno(r);

	link = rtnl_link_veth_alloc();
	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, "hv0");
	rtnl_link_set_addr(link, mac);
	/* get_peer hands out a reference of its own (libnl 3.7). */
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(peer, "hv0peer");
	rtnl_link_put(peer);

	r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_veth_release(link);
	if (r < 0) {
		log_debug("Failed to create veth hv0/hv0peer: %s", nl_geterror(r));
		return nl_errno(r);
	}
	return 0;
}

static int add_address(struct nl_sock *sk, int ifindex, const char *cidr, int family)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
	int r;

	r = nl_addr_parse(cidr, family, &local);
	if (r < 0)
		return nl_errno(r);

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
		/* Usable at once: no duplicate address detection delay. */
		rtnl_addr_set_flags(addr, IFA_F_NODAD);

	r = rtnl_addr_add(sk, addr, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0) {
		log_debug("Failed to add address %s: %s", cidr, nl_geterror(r));
		return nl_errno(r);
	}
	return 0;
}

static int add_default_route(struct nl_sock *sk, int ifindex, int family, const char *gateway)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *route = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *dst = NULL, *gw = NULL;
	struct rtnl_nexthop *nh;
	int r;

	r = nl_addr_parse(family == AF_INET ? "0.0.0.0/0" : "::/0", family, &dst);
	if (r < 0)
		return nl_errno(r);
	r = nl_addr_parse(gateway, family, &gw);
	if (r < 0)
		return nl_errno(r);

	route = rtnl_route_alloc();
	nh = rtnl_route_nh_alloc();
	if (!route || !nh) {
		if (nh)
			rtnl_route_nh_free(nh);
		return -ENOMEM;
	}
	rtnl_route_set_family(route, (uint8_t)family);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, RTPROT_STATIC);
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	r = rtnl_route_set_dst(route, dst);
	if (r < 0) {
		rtnl_route_nh_free(nh);
		return nl_errno(r);
	}
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, gw);
	rtnl_route_add_nexthop(route, nh); /* route owns nh now */

	r = rtnl_route_add(sk, route, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0) {
		log_debug("Failed to add default route via %s: %s", gateway, nl_geterror(r));
		return nl_errno(r);
	}
	return 0;
}

/* Best effort: kernels without bridge support simply get no docker0. */
static void add_docker0(struct nl_sock *sk)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
	int ifindex, r;

	link = rtnl_link_alloc();
	if (!link)
		return;
	rtnl_link_set_name(link, "docker0");
	if (rtnl_link_set_type(link, "bridge") < 0)
		return;
	r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0) {
		log_debug("No docker0 bridge: %s", nl_geterror(r));
		return;
	}
	if (link_up(sk, "docker0", &ifindex) < 0)
		return;
	(void)add_address(sk, ifindex, "172.17.0.1/16", AF_INET);
}

int hs_net_setup(void)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	int hv0, peer, r;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0)
		return nl_errno(r);

	r = link_up(sk, "lo", NULL);
	if (r < 0)
		return r;

	r = add_veth(sk);
	if (r < 0)
		return r;
	r = link_up(sk, "hv0peer", &peer);
	if (r < 0)
		return r;
	r = link_up(sk, "hv0", &hv0);
	if (r < 0)
		return r;

	r = add_address(sk, hv0, HOSTSIM_IPV4 "/24", AF_INET);
	if (r < 0)
		return r;
	r = add_address(sk, hv0, HOSTSIM_IPV6 "/64", AF_INET6);
	if (r < 0)
		return r;
	r = add_address(sk, peer, HOSTSIM_PEER_IPV4 "/24", AF_INET);
	if (r < 0)
		return r;

	r = add_default_route(sk, hv0, AF_INET, HOSTSIM_IPV4_GW);
	if (r < 0)
		return r;
	r = add_default_route(sk, hv0, AF_INET6, HOSTSIM_IPV6_GW);
	if (r < 0)
		return r;

	add_docker0(sk);
	return 0;
}
