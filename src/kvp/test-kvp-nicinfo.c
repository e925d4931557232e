/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include "kvp/kvp-nicinfo.h"

/* ---- pure selection ---- */

static const uint8_t MAC0[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x0a };
static const uint8_t MAC1[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x01 };
static const uint8_t MAC10[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x10 };
static const uint8_t MACD[6] = { 0x02, 0x42, 0xac, 0x11, 0x00, 0x02 };

static NicLink L(int ifindex, const char *name, const uint8_t *mac, int master)
{
	NicLink l = { .ifindex = ifindex, .master = master, .flags = IFF_UP };

	if (mac) {
		l.has_mac = true;
		memcpy(l.mac, mac, 6);
	}
	snprintf(l.ifname, sizeof(l.ifname), "%s", name);
	return l;
}

static NicAddr A(int ifindex, const char *addr, unsigned prefixlen, unsigned flags)
{
	NicAddr a = { .ifindex = ifindex, .prefixlen = prefixlen, .flags = flags };

	a.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a.family, addr, a.addr), 1);
	return a;
}

/* A nexthop of a main-table unicast default route; gw NULL = no gateway. */
static NicRoute R(int family, int ifindex, const char *gw)
{
	NicRoute r = {
		.family = family,
		.table = RT_TABLE_MAIN,
		.type = RTN_UNICAST,
		.ifindex = ifindex,
	};

	if (gw) {
		r.gw_family = strchr(gw, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(r.gw_family, gw, r.gw), 1);
	}
	return r;
}

typedef struct Result {
	int r;
	int ifindex;
	KvpIpInfo info;
} Result;

static Result sel(const NicLink *l, size_t nl, const NicAddr *a, size_t na, const NicRoute *rt,
		  size_t nr, const uint8_t *mac, uint8_t family)
{
	Result res = { .ifindex = -12345 };

	memset(&res.info, 0x5a, sizeof(res.info));
	res.r = kvp_nicinfo_select(l, nl, a, na, rt, nr, mac, family, &res.info, &res.ifindex);
	return res;
}

static void expect_info(const Result *res, int ifindex, uint8_t family, const char *ip,
			const char *sub, const char *gw)
{
	assert_int_equal(res->r, 0);
	assert_int_equal(res->ifindex, ifindex);
	assert_int_equal(res->info.addr_family, family);
	assert_string_equal(res->info.ip_addr, ip);
	assert_string_equal(res->info.sub_net, sub);
	assert_string_equal(res->info.gate_way, gw);
	/* Left for kvp-netsrc and the manager. */
	assert_string_equal(res->info.adapter_id, "");
	assert_string_equal(res->info.dns_addr, "");
	assert_int_equal(res->info.dhcp_enabled, 0);
}

static void test_parse_mac(void **state)
{
	static const char *const bad[] = {
		"",
		"00:15:5D:12:34",
		"00:15:5D:12:34:5",
		"00:15:5D:12:34:567",
		"00:15:5D:12:34:56:",
		"00:15:5D:12:34:56\n",
		" 00:15:5D:12:34:56",
		"00155D123456",
		"00.15.5D.12.34.56",
		"00:15-5D:12:34:56", /* mixed separators */
		"0G:15:5D:12:34:56",
		"00:15:5D:12:34:5z",
		"0:015:5D:12:34:56",
		"00:15:5D:12:34:56:78",
	};
	const uint8_t want[6] = { 0x00, 0x15, 0x5d, 0x12, 0x34, 0x56 };
	uint8_t mac[6];

	assert_int_equal(kvp_nicinfo_parse_mac("00:15:5D:12:34:56", mac), 0);
	assert_memory_equal(mac, want, 6);
	memset(mac, 0, 6);
	assert_int_equal(kvp_nicinfo_parse_mac("00:15:5d:12:34:56", mac), 0);
	assert_memory_equal(mac, want, 6);
	memset(mac, 0, 6);
	assert_int_equal(kvp_nicinfo_parse_mac("00-15-5d-12-34-56", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(kvp_nicinfo_parse_mac("fF:Ee:dD:Cc:bB:aA", mac), 0);
	assert_int_equal(mac[0], 0xff);
	assert_int_equal(mac[5], 0xaa);

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		memset(mac, 0x11, 6);
		if (kvp_nicinfo_parse_mac(bad[i], mac) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(mac[0], 0x11); /* untouched */
	}
	assert_int_equal(kvp_nicinfo_parse_mac(NULL, mac), -EINVAL);
}

static void test_select_basic(void **state)
{
	const NicLink links[] = {
		L(1, "lo", NULL, 0),
		L(2, "eth0", MAC0, 0),
	};
	const NicAddr addrs[] = {
		A(1, "127.0.0.1", 8, 0),
		A(2, "192.0.2.10", 24, 0),
		A(2, "10.1.2.3", 8, 0),
		A(2, "10.200.1.1", 17, 0),
		A(2, "198.51.100.7", 32, 0),
		A(2, "203.0.113.9", 0, 0),
		A(1, "::1", 128, 0),
		A(2, "2001:db8::10", 64, IFA_F_PERMANENT),
		A(2, "fe80::215:5dff:fe00:a", 64, IFA_F_PERMANENT),
		A(2, "2001:db8:1::1", 128, IFA_F_OPTIMISTIC), /* usable while DAD runs */
	};
	const NicRoute routes[] = {
		R(AF_INET, 2, "192.0.2.1"),
		R(AF_INET6, 2, "2001:db8::1"),
	};
	Result res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes,
			 ELEMENTSOF(routes), MAC0, 0);

	expect_info(&res, 2, 3,
		    "192.0.2.10;10.1.2.3;10.200.1.1;198.51.100.7;203.0.113.9;2001:db8::10;"
		    "fe80::215:5dff:fe00:a;2001:db8:1::1",
		    "255.255.255.0;255.0.0.0;255.255.128.0;255.255.255.255;0.0.0.0;/64;/64;/128",
		    "192.0.2.1;2001:db8::1;");
}

static void test_select_no_match(void **state)
{
	const uint8_t zero[6] = {};
	NicLink links[] = {
		L(1, "lo", zero, 0), L(2, "eth0", MAC0, 0),
		L(3, "tun0", NULL, 0), /* no link-layer address */
	};
	const NicAddr addrs[] = { A(1, "127.0.0.1", 8, 0), A(2, "192.0.2.10", 24, 0) };
	Result res;

	links[0].flags |= IFF_LOOPBACK;
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), NULL, 0, MAC1, 0);
	assert_int_equal(res.r, -ENODEV);
	/* Outputs untouched on failure. */
	assert_int_equal(res.ifindex, -12345);
	assert_int_equal((uint8_t)res.info.ip_addr[0], 0x5a);

	/* Loopback's all-zero address never matches, nor does a link without one. */
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), NULL, 0, zero, 0);
	assert_int_equal(res.r, -ENODEV);
	res = sel(NULL, 0, NULL, 0, NULL, 0, MAC0, 0);
	assert_int_equal(res.r, -ENODEV);
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), NULL, 0, MAC0, 4);
	assert_int_equal(res.r, -EINVAL);
}

static void test_select_same_mac_without_addresses(void **state)
{
	/* vf0: created first (lower ifindex), same MAC, no addresses (an SR-IOV VF). */
	const NicLink links[] = {
		L(2, "vf0", MAC0, 0),
		L(3, "eth0", MAC0, 0),
	};
	const NicAddr addrs[] = {
		A(3, "10.0.0.4", 24, 0),
		A(3, "fe80::215:5dff:fe00:a", 64, 0),
		/* Failed addresses do not make a link "carry addresses". */
		A(2, "fe80::215:5dff:fe00:a", 64, IFA_F_DADFAILED | IFA_F_TENTATIVE),
		A(2, "10.9.9.9", 8, IFA_F_DADFAILED),
	};
	const NicRoute routes[] = { R(AF_INET, 3, "10.0.0.1") };
	Result res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes,
			 ELEMENTSOF(routes), MAC0, 0);

	expect_info(&res, 3, 3, "10.0.0.4;fe80::215:5dff:fe00:a", "255.255.255.0;/64", "10.0.0.1;");

	/* Nobody has addresses: the lowest ifindex is answered, with empty lists. */
	res = sel(links, ELEMENTSOF(links), addrs + 2, 2, routes, ELEMENTSOF(routes), MAC0, 0);
	expect_info(&res, 2, 0, "", "", "");
}

static void test_select_master_over_slaves(void **state)
{
	/*
	 * A netvsc NIC (5) with its VF (2) enslaved, and a bridge br0 (9) on top of the NIC:
	 * all share the MAC and all carry addresses; the top of the stack wins.
	 */
	const NicLink links[] = {
		L(2, "enP1s1", MAC0, 5),
		L(5, "eth0", MAC0, 9),
		L(9, "br0", MAC0, 0),
	};
	const NicAddr addrs[] = {
		A(2, "10.0.0.99", 24, 0),
		A(5, "10.0.0.98", 24, 0),
		A(9, "10.0.0.4", 24, 0),
	};
	Result res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), NULL, 0, MAC0, 0);

	expect_info(&res, 9, 1, "10.0.0.4", "255.255.255.0", "");

	/* Without br0's address the NIC wins over its VF. */
	res = sel(links, ELEMENTSOF(links), addrs, 2, NULL, 0, MAC0, 0);
	expect_info(&res, 5, 1, "10.0.0.98", "255.255.255.0", "");

	/* A master without addresses loses to a slave with some. */
	res = sel(links, ELEMENTSOF(links), addrs, 1, NULL, 0, MAC0, 0);
	expect_info(&res, 2, 1, "10.0.0.99", "255.255.255.0", "");

	/* Mastered by a link with another MAC (a bridge port): just a candidate like others. */
	const NicLink port[] = {
		L(4, "eth0", MAC0, 7),
		L(7, "docker0", MACD, 0),
		L(8, "macvlan0", MAC0, 0),
	};
	const NicAddr paddrs[] = { A(4, "10.0.0.5", 24, 0), A(8, "10.0.0.6", 24, 0) };
	res = sel(port, ELEMENTSOF(port), paddrs, ELEMENTSOF(paddrs), NULL, 0, MAC0, 0);
	expect_info(&res, 4, 1, "10.0.0.5", "255.255.255.0", "");

	/* A master loop (impossible in the kernel, possible in a racy dump) terminates. */
	const NicLink loop[] = {
		L(3, "a", MAC0, 4),
		L(4, "b", MAC0, 3),
		L(5, "c", MAC0, 5),
	};
	const NicAddr laddrs[] = { A(4, "10.0.0.4", 24, 0), A(3, "10.0.0.3", 24, 0) };
	res = sel(loop, ELEMENTSOF(loop), laddrs, ELEMENTSOF(laddrs), NULL, 0, MAC0, 0);
	expect_info(&res, 3, 1, "10.0.0.3", "255.255.255.0", "");
}

static void test_select_eth1_eth10_docker0(void **state)
{
	const NicLink links[] = {
		L(3, "eth1", MAC1, 0),
		L(4, "eth10", MAC10, 0),
		L(5, "docker0", MACD, 0),
		L(6, "eth0", MAC0, 0),
	};
	const NicAddr addrs[] = {
		A(3, "10.1.0.4", 24, 0),   A(4, "10.10.0.4", 24, 0), A(5, "172.17.0.1", 16, 0),
		A(6, "10.0.0.4", 24, 0),   A(3, "fe80::1:1", 64, 0), A(4, "fe80::10:1", 64, 0),
		A(5, "fe80::42:1", 64, 0),
	};
	const NicRoute routes[] = {
		R(AF_INET, 6, "10.0.0.1"),
		R(AF_INET, 4, "10.10.0.1"),
	};
	Result res;

	/* Upstream's prefix match gave eth1 the addresses of eth10 too. */
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC1, 0);
	expect_info(&res, 3, 3, "10.1.0.4;fe80::1:1", "255.255.255.0;/64", "");
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC10, 0);
	expect_info(&res, 4, 3, "10.10.0.4;fe80::10:1", "255.255.255.0;/64", "10.10.0.1;");
	/* docker0 never leaks into the primary NIC's answer. */
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC0, 0);
	expect_info(&res, 6, 1, "10.0.0.4", "255.255.255.0", "10.0.0.1;");
}

static void test_gateways(void **state)
{
	const NicLink links[] = { L(2, "eth0", MAC0, 0), L(3, "eth1", MAC1, 0) };
	const NicAddr addrs[] = { A(2, "10.0.0.4", 24, 0), A(3, "10.1.0.4", 24, 0) };
	NicRoute routes[] = {
		/* A multipath IPv4 default route: one entry per nexthop. */
		R(AF_INET, 2, "10.0.0.1"),
		R(AF_INET, 3, "10.1.0.1"),
		R(AF_INET, 2, "10.0.0.2"),
		/* The same gateway again (a second route with another metric). */
		R(AF_INET, 2, "10.0.0.1"),
		/* IPv6 RA-style defaults via link-local routers. */
		R(AF_INET6, 2, "fe80::1"),
		R(AF_INET6, 3, "fe80::2"),
		R(AF_INET6, 2, "fe80::1"),
		/* Not default, other tables, not unicast, no gateway, unspecified gateway. */
		R(AF_INET, 2, "10.0.0.254"),
		R(AF_INET, 2, "10.0.0.253"),
		R(AF_INET, 2, "10.0.0.252"),
		R(AF_INET, 2, NULL),
		R(AF_INET, 2, "0.0.0.0"),
		R(AF_INET6, 2, "::"),
		R(AF_INET, 2, "10.0.0.251"),
	};
	Result res;

	routes[7].dst_len = 24;
	routes[8].table = 100;
	routes[9].type = RTN_UNREACHABLE;
	routes[13].table = RT_TABLE_LOCAL;

	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC0, 0);
	expect_info(&res, 2, 1, "10.0.0.4", "255.255.255.0", "10.0.0.1;10.0.0.2;fe80::1;");
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC1, 0);
	expect_info(&res, 3, 1, "10.1.0.4", "255.255.255.0", "10.1.0.1;fe80::2;");

	/* Gateway family filter. */
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC0, KVP_ADDR_FAMILY_IPV6);
	expect_info(&res, 2, 0, "", "", "fe80::1;");
}

static void test_family_filter(void **state)
{
	const NicLink links[] = {
		L(2, "v4only", MAC0, 0),
		L(3, "eth0", MAC1, 0),
		L(4, "v6only", MAC0, 0),
	};
	const NicAddr addrs[] = {
		A(3, "10.0.0.4", 24, 0), A(3, "2001:db8::4", 64, 0), A(3, "10.0.0.5", 24, 0),
		A(3, "fe80::4", 64, 0),	 A(2, "192.0.2.2", 24, 0),   A(4, "2001:db8:4::4", 56, 0),
	};
	const NicRoute routes[] = { R(AF_INET, 3, "10.0.0.1"), R(AF_INET6, 3, "fe80::1") };
	Result res;

	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC1, KVP_ADDR_FAMILY_IPV4);
	expect_info(&res, 3, 1, "10.0.0.4;10.0.0.5", "255.255.255.0;255.255.255.0", "10.0.0.1;");
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC1, KVP_ADDR_FAMILY_IPV6);
	expect_info(&res, 3, 2, "2001:db8::4;fe80::4", "/64;/64", "fe80::1;");
	/* Both bits = 0 = everything, in the given order. */
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), routes, ELEMENTSOF(routes),
		  MAC1, KVP_ADDR_FAMILY_IPV4 | KVP_ADDR_FAMILY_IPV6);
	expect_info(&res, 3, 3, "10.0.0.4;2001:db8::4;10.0.0.5;fe80::4",
		    "255.255.255.0;/64;255.255.255.0;/64", "10.0.0.1;fe80::1;");

	/* "Carries addresses" counts only the family asked for. */
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), NULL, 0, MAC0,
		  KVP_ADDR_FAMILY_IPV6);
	expect_info(&res, 4, 2, "2001:db8:4::4", "/56", "");
	res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), NULL, 0, MAC0,
		  KVP_ADDR_FAMILY_IPV4);
	expect_info(&res, 2, 1, "192.0.2.2", "255.255.255.0", "");
}

static void test_skipped_addresses(void **state)
{
	const NicLink links[] = { L(2, "eth0", MAC0, 0) };
	const NicAddr addrs[] = {
		A(2, "2001:db8::1", 64, IFA_F_TENTATIVE),
		A(2, "2001:db8::2", 64, IFA_F_DADFAILED | IFA_F_TENTATIVE),
		A(2, "10.0.0.3", 33, 0),     /* impossible prefix */
		A(2, "2001:db8::3", 129, 0), /* impossible prefix */
		A(2, "127.0.1.1", 8, 0),
		A(2, "::1", 128, 0),
		A(3, "10.0.0.9", 24, 0), /* another link */
		A(2, "10.0.0.4", 24, IFA_F_SECONDARY),
		A(2, "2001:db8::4", 64, IFA_F_DEPRECATED), /* still assigned */
	};
	Result res = sel(links, ELEMENTSOF(links), addrs, ELEMENTSOF(addrs), NULL, 0, MAC0, 0);

	/* Tentative (DAD running) is reported, a duplicate (DAD failed) is not. */
	expect_info(&res, 2, 3, "2001:db8::1;10.0.0.4;2001:db8::4", "/64;255.255.255.0;/64", "");
}

static size_t count_items(const char *s)
{
	size_t n = 0;

	if (!*s)
		return 0;
	for (n = 1; *s; s++)
		n += *s == ';';
	return n;
}

/* Every ';'-separated item of s parses as an address of some family (or a subnet form). */
static void assert_clean_list(const char *s, bool trailing)
{
	char copy[2048], *save = NULL;
	size_t len = strlen(s);

	assert_true(len < sizeof(copy));
	memcpy(copy, s, len + 1);
	if (trailing) {
		assert_true(len > 0 && s[len - 1] == ';');
	} else {
		assert_true(len == 0 || s[len - 1] != ';');
	}
	for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		uint8_t bin[16];

		if (t[0] == '/')
			continue;
		if (inet_pton(AF_INET, t, bin) != 1 && inet_pton(AF_INET6, t, bin) != 1)
			fail_msg("\"%s\" is not an address", t);
	}
}

static void test_list_cutting(void **state)
{
	enum { N = 200 };
	NicLink links[] = { L(2, "eth0", MAC0, 0) };
	NicAddr *addrs = calloc(N, sizeof(*addrs));
	NicRoute *routes = calloc(N, sizeof(*routes));
	Result res;

	assert_non_null(addrs);
	assert_non_null(routes);
	for (int i = 0; i < N; i++) {
		char text[64];

		/* 39 characters each, the longest IPv6 text there is. */
		snprintf(text, sizeof(text), "2001:db80:aaaa:bbbb:cccc:dddd:eeee:%04x", 0x1000 + i);
		addrs[i] = A(2, text, 64, 0);
		routes[i] = R(AF_INET6, 2, text);
	}
	res = sel(links, 1, addrs, N, routes, N, MAC0, 0);
	assert_int_equal(res.r, 0);
	/* 40 bytes per address with its separator: 25 * 40 - 1 = 999 <= 1023 units. */
	assert_int_equal(count_items(res.info.ip_addr), 25);
	assert_int_equal(strlen(res.info.ip_addr), 999);
	assert_int_equal(count_items(res.info.sub_net), 25);
	assert_clean_list(res.info.ip_addr, false);
	/* 40 per gateway with its trailing ';': 12 * 40 = 480 <= 511 units. */
	assert_int_equal(strlen(res.info.gate_way), 480);
	assert_clean_list(res.info.gate_way, true);

	/*
	 * The subnet list can be the one that fills first: "1.2.3.4" needs 7 bytes but
	 * "255.255.255.255" 15. The address whose mask does not fit is dropped from both.
	 */
	for (int i = 0; i < N; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.0.%d.%d", i / 100, i % 100);
		addrs[i] = A(2, text, 32, 0);
	}
	res = sel(links, 1, addrs, N, NULL, 0, MAC0, 0);
	assert_int_equal(res.r, 0);
	/* 16 units per mask with its separator: 64 * 16 - 1 = 1023. */
	assert_int_equal(count_items(res.info.sub_net), 64);
	assert_int_equal(count_items(res.info.ip_addr), 64);
	assert_int_equal(strlen(res.info.sub_net), 1023);
	assert_clean_list(res.info.ip_addr, false);
	assert_true(strstr(res.info.ip_addr, ";10.0.0.63") != NULL);
	assert_true(strstr(res.info.ip_addr, "10.0.0.64") == NULL);

	free(addrs);
	free(routes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_mac),
		cmocka_unit_test(test_select_basic),
		cmocka_unit_test(test_select_no_match),
		cmocka_unit_test(test_select_same_mac_without_addresses),
		cmocka_unit_test(test_select_master_over_slaves),
		cmocka_unit_test(test_select_eth1_eth10_docker0),
		cmocka_unit_test(test_gateways),
		cmocka_unit_test(test_family_filter),
		cmocka_unit_test(test_skipped_addresses),
		cmocka_unit_test(test_list_cutting),
	};

	return cmocka_run_group_tests_name("kvp-nicinfo", tests, NULL, NULL);
}
