/* SPDX-License-Identifier: MIT */
/*
 * GET_IP_INFO end to end: the real hv_kvp_daemon against hv-hostsim, the host asking for
 * the primary NIC (hv0, HOSTSIM_MAC) as Hyper-V does. The bigger topologies (multipath,
 * bridges, eth1 next to eth10) are covered in-process by src/kvp/test-kvp-nicinfo.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "common/event.h"
#include "common/hv-status.h"
#include "integration-util.h"

/* hv0's IPv6 link-local: EUI-64 of HOSTSIM_MAC. */
#define HV0_LINK_LOCAL "fe80::215:5dff:fe12:3456"
#define UNKNOWN_MAC "00:15:5D:AA:BB:CC"
#define HOT_MAC "00:15:5D:00:0F:01"

static int setup(void **state)
{
	Guest *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	assert_int_equal(it_start(g, false, NULL), 0);
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	Guest *g = *state;

	it_stop(g);
	free(g);
	return 0;
}

static void expect_status(uint32_t got, uint32_t want)
{
	if (got != want)
		fail_msg("host saw status 0x%08x, expected 0x%08x", got, want);
}

/* True if item is one of the ';'-separated entries of list. */
static bool has_item(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, item, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* Every entry is an IP literal; trailing: every entry ends in ';' (upstream's gate_way). */
static size_t check_literals(const char *list, bool trailing)
{
	size_t n = 0, len = strlen(list);

	if (len == 0)
		return 0;
	if (trailing)
		assert_true(list[len - 1] == ';');
	else
		assert_true(list[len - 1] != ';');
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ';');
		char item[INET6_ADDRSTRLEN];
		uint8_t bin[16];
		size_t l = end ? (size_t)(end - p) : strlen(p);

		assert_true(l > 0 && l < sizeof(item));
		memcpy(item, p, l);
		item[l] = '\0';
		if (inet_pton(AF_INET, item, bin) != 1 && inet_pton(AF_INET6, item, bin) != 1)
			fail_msg("\"%s\" is not an IP literal (list \"%s\")", item, list);
		n++;
		if (!end)
			break;
		p = end + 1;
	}
	return n;
}

static size_t count_items(const char *list)
{
	size_t n = 0;

	if (!*list)
		return 0;
	for (n = 1; *list; list++)
		n += *list == ';';
	return n;
}

/* The link-local needs duplicate address detection (about a second) after hostsim set up hv0. */
static void get_with_link_local(HostSim *sim, const char *mac, HostKvpIpInfo *r)
{
	uint64_t end = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;

	for (;;) {
		assert_int_equal(hostsim_kvp_get_ip_info(sim, mac, 0, r), 0);
		expect_status(r->status, HV_S_OK);
		if (has_item(r->ip_addr, HV0_LINK_LOCAL))
			return;
		if (now_usec(CLOCK_MONOTONIC) > end)
			fail_msg("no link-local after 10 s: \"%s\"", r->ip_addr);
		usleep(50000);
	}
}

static void check_primary(const HostKvpIpInfo *r, const char *mac)
{
	assert_string_equal(r->adapter_id, mac);
	assert_int_equal(r->addr_family, 3);
	/* Every address of hv0 and nothing of hv0peer, docker0 or lo. */
	assert_string_equal(r->ip_addr, HOSTSIM_IPV4 ";" HOSTSIM_IPV6 ";" HV0_LINK_LOCAL);
	assert_false(has_item(r->ip_addr, HOSTSIM_PEER_IPV4));
	assert_null(strstr(r->ip_addr, "172.17."));
	assert_null(strstr(r->ip_addr, "127.0.0.1"));
	assert_int_equal(check_literals(r->ip_addr, false), 3);
	/* One subnet per address, same order. */
	assert_string_equal(r->sub_net, "255.255.255.0;/64;/64");
	assert_int_equal(count_items(r->sub_net), count_items(r->ip_addr));
	/* hv0's default gateways, upstream's "a;b;" form, literals only. */
	assert_string_equal(r->gate_way, HOSTSIM_IPV4_GW ";" HOSTSIM_IPV6_GW ";");
	assert_int_equal(check_literals(r->gate_way, true), 2);
}

static void test_primary_nic(void **state)
{
	Guest *g = *state;
	HostKvpIpInfo r;

	get_with_link_local(g->sim, HOSTSIM_MAC, &r);
	check_primary(&r, HOSTSIM_MAC);
}

static void test_lower_case_mac(void **state)
{
	Guest *g = *state;
	char lower[sizeof(HOSTSIM_MAC)];
	HostKvpIpInfo r;

	for (size_t i = 0; i < sizeof(lower); i++)
		lower[i] = (char)(HOSTSIM_MAC[i] >= 'A' && HOSTSIM_MAC[i] <= 'F'
					  ? HOSTSIM_MAC[i] - 'A' + 'a'
					  : HOSTSIM_MAC[i]);
	assert_string_not_equal(lower, HOSTSIM_MAC);
	get_with_link_local(g->sim, lower, &r);
	check_primary(&r, lower);
}

static void test_unknown_mac(void **state)
{
	Guest *g = *state;
	HostKvpIpInfo r;

	assert_int_equal(hostsim_kvp_get_ip_info(g->sim, UNKNOWN_MAC, 0, &r), 0);
	expect_status(r.status, HV_E_FAIL);
	/* A prefix of the real MAC is not a match either. */
	assert_int_equal(hostsim_kvp_get_ip_info(g->sim, "00:15:5D:12:34:5", 0, &r), 0);
	expect_status(r.status, HV_E_FAIL);
	/* And the daemon still answers afterwards. */
	get_with_link_local(g->sim, HOSTSIM_MAC, &r);
}

/* ---- links added while the daemon runs (the test process is inside the sim's netns) ---- */

static struct nl_sock *nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	assert_non_null(sk);
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	return sk;
}

static void add_veth(struct nl_sock *sk, const char *name, const char *peer_name, const char *mac)
{
	struct rtnl_link *link = rtnl_link_veth_alloc(), *peer;
	struct nl_addr *a = NULL;

	assert_non_null(link);
	assert_int_equal(nl_addr_parse(mac, AF_LLC, &a), 0);
	rtnl_link_set_name(link, name);
	rtnl_link_set_addr(link, a);
	nl_addr_put(a);
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(peer, peer_name);
	rtnl_link_put(peer);
	assert_int_equal(rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL), 0);
	rtnl_link_veth_release(link);
}

static void add_addr(struct nl_sock *sk, const char *ifname, const char *cidr)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = NULL;

	assert_non_null(ra);
	assert_int_equal(nl_addr_parse(cidr, AF_INET, &local), 0);
	rtnl_addr_set_ifindex(ra, (int)if_nametoindex(ifname));
	rtnl_addr_set_local(ra, local);
	assert_int_equal(rtnl_addr_add(sk, ra, NLM_F_CREATE | NLM_F_EXCL), 0);
	nl_addr_put(local);
	rtnl_addr_put(ra);
}

static void del_link(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = rtnl_link_alloc();

	assert_non_null(link);
	rtnl_link_set_name(link, name);
	assert_int_equal(rtnl_link_delete(sk, link), 0);
	rtnl_link_put(link);
}

static void test_hot_plug(void **state)
{
	Guest *g = *state;
	struct nl_sock *sk = nl_open();
	HostKvpIpInfo r;

	assert_int_equal(hostsim_kvp_get_ip_info(g->sim, HOT_MAC, 0, &r), 0);
	expect_status(r.status, HV_E_FAIL);

	/* Links are left down: no link-local, so the answer is exact. */
	add_veth(sk, "hot0", "hot0peer", HOT_MAC);
	add_addr(sk, "hot0", "198.51.100.20/24");
	assert_int_equal(hostsim_kvp_get_ip_info(g->sim, HOT_MAC, 0, &r), 0);
	expect_status(r.status, HV_S_OK);
	assert_string_equal(r.ip_addr, "198.51.100.20");
	assert_string_equal(r.sub_net, "255.255.255.0");
	assert_string_equal(r.gate_way, "");
	assert_int_equal(r.addr_family, 1);

	del_link(sk, "hot0");
	assert_int_equal(hostsim_kvp_get_ip_info(g->sim, HOT_MAC, 0, &r), 0);
	expect_status(r.status, HV_E_FAIL);
	nl_socket_free(sk);
}

static void test_same_mac_second_link(void **state)
{
	Guest *g = *state;
	struct nl_sock *sk = nl_open();
	HostKvpIpInfo r;

	/* A second interface with hv0's MAC and no addresses (an SR-IOV VF, say). */
	add_veth(sk, "hv0vf", "hv0vfpeer", HOSTSIM_MAC);
	get_with_link_local(g->sim, HOSTSIM_MAC, &r);
	check_primary(&r, HOSTSIM_MAC);
	del_link(sk, "hv0vf");
	nl_socket_free(sk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_primary_nic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lower_case_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hot_plug, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_mac_second_link, setup, teardown),
	};

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "needs root and /dev/fuse\n");
		return 77;
	}
	if (!it_sim()) {
		fprintf(stderr, "could not create the simulated host\n");
		return 1;
	}
	int r = cmocka_run_group_tests_name("integration-kvp-ipinfo", tests, NULL, NULL);
	hostsim_free(it_sim());
	return r;
}
