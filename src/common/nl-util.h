/* SPDX-License-Identifier: MIT */
/*
 * Small libnl helpers shared by every user of route netlink (the KVP daemon, hv-hostsim,
 * the benchmarks). Header-only: src/common itself does not link libnl; its users do.
 */
#pragma once

#include <errno.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

/* libnl returns its own NLE_* codes, negated; map the ones that mean something to errno. */
static inline int nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
	case NLE_NOACCESS:
		return -EPERM;
	case NLE_AGAIN:
	case NLE_DUMP_INTR:
		return -EAGAIN;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_NODEV:
	case NLE_OBJ_NOTFOUND:
		return -ENODEV;
	case NLE_INVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* _cleanup_() helpers for the libnl objects we create. */
static inline void nl_socket_freep(struct nl_sock **p)
{
	if (*p)
		nl_socket_free(*p);
}
static inline void nl_cache_freep(struct nl_cache **p)
{
	if (*p)
		nl_cache_free(*p);
}
static inline void nl_addr_putp(struct nl_addr **p)
{
	if (*p)
		nl_addr_put(*p);
}
static inline void rtnl_addr_putp(struct rtnl_addr **p)
{
	if (*p)
		rtnl_addr_put(*p);
}
static inline void rtnl_link_putp(struct rtnl_link **p)
{
	if (*p)
		rtnl_link_put(*p);
}
static inline void rtnl_route_putp(struct rtnl_route **p)
{
	if (*p)
		rtnl_route_put(*p);
}
