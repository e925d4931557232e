/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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
#include <netlink/route/route.h>

#include "kvp/kvp-netinfo.h"

/* The shipped defaults (kvp-settings.c); the API takes char *const * like a strv. */
static const char *const default_globs_c[] = {
	"veth*", "docker*", "virbr*", "cni*", "flannel*", "cali*", "br-*", NULL,
};
#define default_globs ((char *const *)default_globs_c)

/* Exit status of a namespace child that could not set itself up: the test is skipped. */
#define CHILD_SKIP 77

static NetAddr mk(const char *ifname, int ifindex, unsigned flags, bool dflt, const char *addr)
{
	NetAddr a = {
		.ifindex = ifindex,
		.ifflags = flags,
		.has_default_route = dflt,
		.family = strchr(addr, ':') ? AF_INET6 : AF_INET,
	};

	snprintf(a.ifname, sizeof(a.ifname), "%s", ifname);
	snprintf(a.addr, sizeof(a.addr), "%s", addr);
	a.prefixlen = a.family == AF_INET ? 24 : 64;
	return a;
}

static void assert_order(const NetAddr *a, size_t n, const char *const *expected)
{
	size_t i = 0;

	for (; expected[i]; i++) {
		if (i >= n)
			fail_msg("only %zu entries, expected \"%s\" at %zu", n, expected[i], i);
		if (strcmp(a[i].addr, expected[i]) != 0)
			fail_msg("entry %zu: \"%s\" (%s), expected \"%s\"", i, a[i].addr,
				 a[i].ifname, expected[i]);
	}
	assert_int_equal(n, i);
}

static void test_filter_default_globs(void **state)
{
	NetAddr a[] = {
		mk("docker0", 3, IFF_UP, false, "172.17.0.1"),
		mk("veth1a2b3c", 9, IFF_UP, false, "fe80::9"),
		mk("virbr0", 4, IFF_UP, false, "192.168.122.1"),
		mk("br-5f1e2d3c4b5a", 5, IFF_UP, false, "172.18.0.1"),
		mk("cali12345abcde", 6, IFF_UP, false, "fe80::ecee:eeff:feee:eeee"),
		mk("flannel.1", 7, IFF_UP, false, "10.244.0.0"),
		mk("cni0", 8, IFF_UP, false, "10.244.0.1"),
		mk("eth0", 2, IFF_UP, true, "10.0.0.4"),
		mk("eth0", 2, IFF_UP, true, "fe80::215:5dff:fe00:4"),
		/* Names that merely contain an excluded word stay. */
		mk("mydocker", 10, IFF_UP, false, "10.1.1.1"),
		mk("ethbr-x", 11, IFF_UP, false, "10.2.2.2"),
	};
	static const char *const expected[] = { "10.0.0.4", "fe80::215:5dff:fe00:4", "10.1.1.1",
						"10.2.2.2", NULL };

	assert_order(a, netinfo_filter(a, ELEMENTSOF(a), default_globs), expected);
}

static void test_filter_primary_first(void **state)
{
	/* The default-route NIC has the highest ifindex (hot-added, or renamed late). */
	NetAddr a[] = {
		mk("eth1", 2, IFF_UP, false, "192.168.10.2"),
		mk("eth2", 3, IFF_UP, false, "192.168.20.2"),
		mk("eth1", 2, IFF_UP, false, "fe80::2"),
		mk("eth0", 9, IFF_UP, true, "10.0.0.9"),
		mk("eth0", 9, IFF_UP, true, "10.0.0.10"),
		mk("eth0", 9, IFF_UP, true, "2001:db8::9"),
		mk("eth0", 9, IFF_UP, true, "10.0.0.11"),
	};
	static const char *const expected[] = {
		/* eth0 first, in kernel order; then eth1 (both addresses), then eth2. */
		"10.0.0.9",	"10.0.0.10", "2001:db8::9",  "10.0.0.11",
		"192.168.10.2", "fe80::2",   "192.168.20.2", NULL,
	};

	assert_order(a, netinfo_filter(a, ELEMENTSOF(a), default_globs), expected);
}

static void test_filter_two_default_links(void **state)
{
	/* IPv4 default via eth3, IPv6 default via eth1: both first, by ifindex. */
	NetAddr a[] = {
		mk("eth3", 5, IFF_UP, true, "10.3.0.1"),
		mk("eth2", 4, IFF_UP, false, "10.2.0.1"),
		mk("eth1", 3, IFF_UP, true, "2001:db8:1::1"),
	};
	static const char *const expected[] = { "2001:db8:1::1", "10.3.0.1", "10.2.0.1", NULL };

	assert_order(a, netinfo_filter(a, ELEMENTSOF(a), default_globs), expected);
}

static void test_filter_loopback(void **state)
{
	NetAddr a[] = {
		mk("lo", 1, IFF_UP | IFF_LOOPBACK, false, "127.0.0.1"),
		mk("lo", 1, IFF_UP | IFF_LOOPBACK, false, "::1"),
		/* Anything on a loopback link goes, even a routable address. */
		mk("lo", 1, IFF_UP | IFF_LOOPBACK, false, "203.0.113.5"),
		/* 127/8 and ::1 go wherever they are. */
		mk("eth0", 2, IFF_UP, true, "127.0.1.1"),
		mk("eth0", 2, IFF_UP, true, "10.0.0.2"),
		mk("eth0", 2, IFF_UP, true, "::1"),
		mk("eth0", 2, IFF_UP, true, "128.0.0.1"),
		mk("eth0", 2, IFF_UP, true, "::2"),
	};
	static const char *const expected[] = { "10.0.0.2", "128.0.0.1", "::2", NULL };

	assert_order(a, netinfo_filter(a, ELEMENTSOF(a), default_globs), expected);
}

static void test_filter_edge_cases(void **state)
{
	NetAddr a[] = {
		mk("docker0", 3, IFF_UP, false, "172.17.0.1"),
		mk("eth0", 2, IFF_UP, false, "10.0.0.2"),
	};
	static const char *const none_expected[] = { "10.0.0.2", "172.17.0.1", NULL };
	static const char *const custom_c[] = { "eth*", NULL };

	assert_int_equal(netinfo_filter(NULL, 0, default_globs), 0);
	assert_int_equal(netinfo_filter(a, 0, default_globs), 0);
	/* No globs: nothing excluded by name, still sorted. */
	assert_order(a, netinfo_filter(a, ELEMENTSOF(a), NULL), none_expected);

	NetAddr b[] = {
		mk("docker0", 3, IFF_UP, false, "172.17.0.1"),
		mk("eth0", 2, IFF_UP, false, "10.0.0.2"),
	};
	static const char *const custom_expected[] = { "172.17.0.1", NULL };
	assert_order(b, netinfo_filter(b, ELEMENTSOF(b), (char *const *)custom_c), custom_expected);
}

/* ---- libnl, inside a network namespace of our own ---- */

#define CHILD_CHECK(cond, ...)                                               \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "netns child, line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			_exit(1);                                            \
		}                                                            \
	} while (0)

static int set_up(const char *ifname)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

static bool ipv6_enabled_on(const char *ifname)
{
	char path[128], c = '1';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fread(&c, 1, 1, f) != 1)
		c = '1';
	fclose(f);
	return c == '0';
}

static const NetAddr *find(const NetAddr *a, size_t n, const char *ifname, const char *addr)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].ifname, ifname) == 0 && strcmp(a[i].addr, addr) == 0)
			return &a[i];
	return NULL;
}

static const NetAddr *find_link_local(const NetAddr *a, size_t n, const char *ifname)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].ifname, ifname) == 0 && a[i].family == AF_INET6 &&
		    strncmp(a[i].addr, "fe80:", 5) == 0)
			return &a[i];
	return NULL;
}

/* Runs fn in a forked child inside a fresh network namespace; fn _exit()s with a status. */
static void run_in_netns(void (*fn)(void))
{
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "unshare(CLONE_NEWNET): %m\n");
			_exit(CHILD_SKIP);
		}
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == CHILD_SKIP)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void child_loopback(void)
{
	NetAddr *a = NULL;
	const NetAddr *e;
	size_t n = 0;
	int r;

	CHILD_CHECK(set_up("lo") == 0, "cannot bring lo up");
	r = netinfo_libnl_ops.list_addresses(NULL, &a, &n);
	CHILD_CHECK(r == 0, "list_addresses: %s", strerror(-r));

	e = find(a, n, "lo", "127.0.0.1");
	CHILD_CHECK(e, "127.0.0.1 on lo not listed (%zu entries)", n);
	CHILD_CHECK(e->family == AF_INET && e->prefixlen == 8, "127.0.0.1: family/prefix wrong");
	CHILD_CHECK(e->ifflags & IFF_LOOPBACK, "lo without IFF_LOOPBACK");
	CHILD_CHECK(e->ifflags & IFF_UP, "lo not up");
	CHILD_CHECK(e->ifindex == 1, "lo has ifindex %d", e->ifindex);
	CHILD_CHECK(!e->has_default_route, "lo has a default route in a fresh namespace");
	if (ipv6_enabled_on("lo")) {
		e = find(a, n, "lo", "::1");
		CHILD_CHECK(e, "::1 on lo not listed");
		CHILD_CHECK(e->family == AF_INET6 && e->prefixlen == 128, "::1: family/prefix");
		CHILD_CHECK(n == 2, "%zu addresses, expected 127.0.0.1 and ::1", n);
	} else {
		CHILD_CHECK(n == 1, "%zu addresses, expected 127.0.0.1", n);
	}

	CHILD_CHECK(netinfo_filter(a, n, default_globs) == 0, "loopback survived the filter");
	free(a);
}

static void test_libnl_loopback(void **state)
{
	run_in_netns(child_loopback);
}

static int add_veth(struct nl_sock *sk, const char *name, const char *peer)
{
	int r = rtnl_link_veth_add(sk, name, peer, getpid());

	if (r < 0)
		return r;
	r = set_up(name);
	if (r == 0)
		r = set_up(peer);
	return r;
}

static int add_addr(struct nl_sock *sk, const char *ifname, const char *cidr)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = NULL;
	int r;

	if (!ra)
		return -NLE_NOMEM;
	r = nl_addr_parse(cidr, AF_INET, &local);
	if (r == 0) {
		rtnl_addr_set_ifindex(ra, (int)if_nametoindex(ifname));
		rtnl_addr_set_local(ra, local);
		r = rtnl_addr_add(sk, ra, 0);
		nl_addr_put(local);
	}
	rtnl_addr_put(ra);
	return r;
}

static int add_default_route(struct nl_sock *sk, const char *ifname, const char *gateway)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = NULL, *gw = NULL;
	int r;

	if (!route || !nh)
		return -NLE_NOMEM;
	r = nl_addr_parse("default", AF_INET, &dst);
	if (r == 0)
		r = nl_addr_parse(gateway, AF_INET, &gw);
	if (r == 0) {
		rtnl_route_set_family(route, AF_INET);
		rtnl_route_set_dst(route, dst);
		rtnl_route_nh_set_ifindex(nh, (int)if_nametoindex(ifname));
		rtnl_route_nh_set_gateway(nh, gw);
		rtnl_route_add_nexthop(route, nh);
		r = rtnl_route_add(sk, route, NLM_F_CREATE);
	} else {
		rtnl_route_nh_free(nh);
	}
	if (dst)
		nl_addr_put(dst);
	if (gw)
		nl_addr_put(gw);
	rtnl_route_put(route);
	return r;
}

static void child_veth(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	NetAddr *a = NULL;
	const NetAddr *e;
	size_t n = 0;
	int r;

	CHILD_CHECK(set_up("lo") == 0, "cannot bring lo up");
	CHILD_CHECK(sk && nl_connect(sk, NETLINK_ROUTE) == 0, "netlink socket");
	/* Created first, so these get lower ifindexes than the primary NIC. */
	r = add_veth(sk, "eth1", "docker0");
	if (r < 0) {
		fprintf(stderr, "no veth support (%s), skipping\n", nl_geterror(r));
		_exit(CHILD_SKIP);
	}
	CHILD_CHECK(add_veth(sk, "eth0", "veth0peer") == 0, "second veth pair");
	CHILD_CHECK(add_addr(sk, "eth1", "198.51.100.7/24") == 0, "address on eth1");
	CHILD_CHECK(add_addr(sk, "docker0", "172.17.0.1/16") == 0, "address on docker0");
	CHILD_CHECK(add_addr(sk, "eth0", "192.0.2.10/24") == 0, "address on eth0");
	r = add_default_route(sk, "eth0", "192.0.2.1");
	CHILD_CHECK(r == 0, "default route: %s", nl_geterror(r));

	/* The kernel adds the IPv6 link-local as the link gets carrier; allow it a moment. */
	for (int tries = 0; tries < 100; tries++) {
		free(a);
		a = NULL;
		r = netinfo_libnl_ops.list_addresses(NULL, &a, &n);
		CHILD_CHECK(r == 0, "list_addresses: %s", strerror(-r));
		if (!ipv6_enabled_on("eth0") || find_link_local(a, n, "eth0"))
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	}

	e = find(a, n, "eth0", "192.0.2.10");
	CHILD_CHECK(e && e->prefixlen == 24 && e->family == AF_INET, "eth0's IPv4");
	CHILD_CHECK(e->has_default_route, "eth0 not marked as carrying the default route");
	CHILD_CHECK(e->ifindex == (int)if_nametoindex("eth0"), "eth0 ifindex");
	CHILD_CHECK(e->ifflags & IFF_UP, "eth0 flags");
	e = find(a, n, "eth1", "198.51.100.7");
	CHILD_CHECK(e && !e->has_default_route, "eth1's IPv4 or its default-route flag");
	CHILD_CHECK(find(a, n, "docker0", "172.17.0.1"), "docker0 listed before filtering");
	if (ipv6_enabled_on("eth0")) {
		e = find_link_local(a, n, "eth0");
		CHILD_CHECK(e && e->prefixlen == 64, "a fresh NIC reports its IPv6 link-local");
		CHILD_CHECK(e->has_default_route, "the flag is per link, both families");
	}

	n = netinfo_filter(a, n, default_globs);
	CHILD_CHECK(n >= 2, "filter kept %zu", n);
	/* The host takes the first IPv4: it must be the default-route NIC's. */
	CHILD_CHECK(strcmp(a[0].addr, "192.0.2.10") == 0, "first is %s (%s)", a[0].addr,
		    a[0].ifname);
	for (size_t i = 0; i < n; i++) {
		CHILD_CHECK(strcmp(a[i].ifname, "docker0") != 0, "docker0 survived the filter");
		CHILD_CHECK(strcmp(a[i].ifname, "veth0peer") != 0, "veth survived the filter");
		CHILD_CHECK(strcmp(a[i].ifname, "lo") != 0, "lo survived the filter");
	}
	CHILD_CHECK(strcmp(a[n - 1].ifname, "eth1") == 0, "eth1 last (lower ifindex, no route)");

	free(a);
	nl_socket_free(sk);
}

static void test_libnl_veth_default_route(void **state)
{
	run_in_netns(child_veth);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_default_globs),
		cmocka_unit_test(test_filter_primary_first),
		cmocka_unit_test(test_filter_two_default_links),
		cmocka_unit_test(test_filter_loopback),
		cmocka_unit_test(test_filter_edge_cases),
		cmocka_unit_test(test_libnl_loopback),
		cmocka_unit_test(test_libnl_veth_default_route),
	};

	return cmocka_run_group_tests_name("kvp-netinfo", tests, NULL, NULL);
}
