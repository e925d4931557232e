/* SPDX-License-Identifier: MIT */
/*
 * Network helpers for bench-kvp's GET_IP_INFO measurement: extra addresses on the simulated
 * NIC and the NIC's actual address list (libnl-route, in the caller's network namespace, which
 * is the simulator's after hostsim_new() with netns set), and a checker comparing a host-side
 * GET_IP_INFO answer with that list. Non-logging; negative errno on failure.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostsim/hostsim.h"

/* At most this many addresses of one NIC are tracked. */
#define BENCH_NIC_MAX_ADDRS 16

/* One address of the NIC as the kernel reports it (RTM_GETADDR). */
typedef struct BenchNicAddr {
	int family;	    /* AF_INET or AF_INET6 */
	unsigned prefixlen; /* bits */
	uint8_t addr[16];   /* network byte order; 4 bytes used for AF_INET */
	char text[INET6_ADDRSTRLEN];
	bool tentative; /* duplicate address detection still running (or failed) */
} BenchNicAddr;

/*
 * Adds cidr (e.g. "198.51.100.10/25") to interface ifname in the current network namespace.
 * IPv6 addresses get IFA_F_NODAD so that they are usable at once. -EEXIST if already there.
 */
int bench_net_add_address(const char *ifname, const char *cidr);

/*
 * Lists the IPv4 and IPv6 addresses of ifname (kernel order) into v[0..max); *ret_n is how
 * many were stored.
 */
int bench_net_addresses(const char *ifname, BenchNicAddr *v, size_t max, size_t *ret_n);

/*
 * Compares a GET_IP_INFO answer with the NIC's addresses exp[0..n) (tentative ones excluded):
 * ip_addr must list each of them exactly once and nothing else, sub_net must give each one's
 * netmask (IPv4, dotted) or "/prefix" (IPv6) at the same position, addr_family must be the
 * families present, gate_way must contain every address of gateways (NULL-terminated) and
 * hold only IP literals, dns_addr must hold only IP literals and contain dns when not NULL.
 * Returns the number of discrepancies (0: correct) and describes them, "; "-separated, in buf
 * (silently truncated).
 */
unsigned bench_ip_answer_check(const HostKvpIpInfo *a, const BenchNicAddr *exp, size_t n,
			       const char *const *gateways, const char *dns, char *buf,
			       size_t size);
