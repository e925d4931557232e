/* SPDX-License-Identifier: MIT */
/*
 * GET_IP_INFO: one NIC's addresses, netmasks / prefixes and default gateways, found by the
 * MAC the host sends (hyperv-abi.md §4.6). A pure part works on plain arrays (unit-testable
 * without netlink); kvp_nicinfo_query() fills those arrays from fresh libnl-route dumps on
 * every call, so NICs hot-added or removed are seen at once. DNS servers and the DHCP state
 * are not filled here (kvp-netsrc does that from the interface name this module picks).
 * Non-logging; thread-safe (no globals, a netlink socket per call).
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"
#include "kvp/kvp-ipinfo.h"

#define NIC_MAC_LEN 6

/* One link, as RTM_NEWLINK describes it. */
typedef struct NicLink {
	int ifindex;
	int master;	/* IFLA_MASTER: the bond/bridge/netvsc it is enslaved to, 0 if none */
	unsigned flags; /* IFF_* */
	bool has_mac;	/* the link-layer address is exactly NIC_MAC_LEN bytes */
	uint8_t mac[NIC_MAC_LEN];
	char ifname[IF_NAMESIZE];
} NicLink;

/* One address, as RTM_NEWADDR describes it. */
typedef struct NicAddr {
	int ifindex;
	int family; /* AF_INET or AF_INET6; anything else is ignored */
	unsigned prefixlen;
	unsigned flags;	  /* IFA_F_* (tentative and dadfailed addresses are not reported) */
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
} NicAddr;

/* One nexthop of a route (a multipath route gives one entry per nexthop). */
typedef struct NicRoute {
	int family;	  /* of the route: AF_INET or AF_INET6 */
	unsigned table;	  /* RT_TABLE_*; only RT_TABLE_MAIN counts */
	unsigned type;	  /* RTN_*; only RTN_UNICAST counts */
	unsigned dst_len; /* destination prefix length; 0 = default route */
	int ifindex;	  /* the nexthop's device */
	int gw_family;	  /* AF_INET / AF_INET6 if the nexthop has a gateway, else 0 */
	uint8_t gw[16];	  /* network order */
} NicRoute;

/*
 * Parses the host's adapter id as a MAC: six hex pairs, upper or lower case, separated by
 * ':' or '-' (one kind throughout), nothing else around it. -EINVAL otherwise.
 */
int kvp_nicinfo_parse_mac(const char *s, uint8_t ret[NIC_MAC_LEN]);

/*
 * Pure selection and formatting. Candidates are the non-loopback links whose 6-byte address
 * equals mac exactly. Among them the one with reportable addresses wins; if several have
 * some, the one highest in a stack of same-MAC links (IFLA_MASTER: a bridge or bond over
 * the NIC, a netvsc NIC over its VF) beats those below it, then the lowest ifindex. A
 * candidate without addresses is still answered (empty lists). family (KVP_ADDR_FAMILY_*
 * bits; 0 = both) limits the addresses and gateways reported.
 *
 * Fills ret->ip_addr (every address of the link in the given order, IPv6 link-local
 * included, tentative and dadfailed skipped, inet_ntop text, "a;b"), ret->sub_net (one entry
 * per address: IPv4 dotted netmask, IPv6 "/len", "a;b"), ret->addr_family (the families
 * reported) and ret->gate_way (the gateways of main-table unicast default routes whose
 * nexthop device is this link, every nexthop of multipath routes, no duplicates, "a;b;" with
 * upstream's trailing ';'). Lists are cut at a separator at the host's limits. adapter_id,
 * dns_addr and dhcp_enabled are left empty/zero.
 *
 * Returns 0 and sets *ret and *ret_ifindex, or -ENODEV if no link has that MAC.
 */
int kvp_nicinfo_select(const NicLink *links, size_t n_links, const NicAddr *addrs, size_t n_addrs,
		       const NicRoute *routes, size_t n_routes, const uint8_t mac[NIC_MAC_LEN],
		       uint8_t family, KvpIpInfo *ret, int *ret_ifindex);

/*
 * GET_IP_INFO from the kernel's current state: parses mac (kvp_nicinfo_parse_mac()),
 * dumps links, addresses and routes through a private netlink socket and calls
 * kvp_nicinfo_select(). On success *ret holds the reply fields (adapter_id = mac as given),
 * and ret_ifname / *ret_ifindex the interface chosen, for the DNS / DHCP lookup.
 * Errors: -EINVAL bad MAC or family bits, -ENODEV no such NIC, -ENOMEM, -EAGAIN the dumps
 * kept racing with changes, other negative errno from netlink.
 */
int kvp_nicinfo_query(const char *mac, uint8_t family, KvpIpInfo *ret, char ret_ifname[IF_NAMESIZE],
		      int *ret_ifindex);
