/* SPDX-License-Identifier: MIT */
/*
 * Network facts for the auto pool (and, later, GET_IP_INFO) behind a seam, so tests use
 * a fake list and production uses libnl (route netlink, no `ip | awk`).
 */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/macro.h"

typedef struct NetAddr {
	char ifname[IF_NAMESIZE];
	int ifindex;
	unsigned ifflags;	/* IFF_* of the link */
	bool has_default_route; /* the link carries a default route (either family) */
	int family;		/* AF_INET or AF_INET6 */
	unsigned prefixlen;
	char addr[INET6_ADDRSTRLEN]; /* inet_ntop text */
} NetAddr;

typedef struct NetinfoOps {
	/* Every address of every link, in kernel order. Caller frees *ret with free(). */
	int (*list_addresses)(void *userdata, NetAddr **ret, size_t *ret_n);
} NetinfoOps;

extern const NetinfoOps netinfo_libnl_ops;

/*
 * Policy (pure): drops loopback links, links matching any exclude glob and IPv4 loopback
 * addresses, then orders links with a default route first, then by ifindex, keeping address
 * order within a link. Returns the number of entries kept in place at the front of a.
 */
size_t netinfo_filter(NetAddr *a, size_t n, char *const *exclude_globs);
