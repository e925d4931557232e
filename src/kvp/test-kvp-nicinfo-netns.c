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

/* ---- libnl, inside a network namespace of our own ---- */

#define CHILD_SKIP 77

#define CHILD_CHECK(cond, ...)                                               \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "netns child, line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			_exit(1);                                            \
		}                                                            \
	} while (0)

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

/* Writes a sysctl of our own network namespace (/proc/sys/net is per namespace). */
static int write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -EIO;
}

static int ipv6_sysctl(const char *ifname, const char *key, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	return write_sysctl(path, value);
}

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

static int ifindex_of(const char *name)
{
	return (int)if_nametoindex(name);
}

/* A veth pair name <-> name"p"; name gets mac (NULL: random). Both are left down. */
static int add_veth(struct nl_sock *sk, const char *name, const uint8_t *mac)
{
	struct rtnl_link *link = rtnl_link_veth_alloc(), *peer;
	char peer_name[IF_NAMESIZE];
	int r;

	if (!link)
		return -NLE_NOMEM;
	rtnl_link_set_name(link, name);
	if (mac) {
		struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);

		if (!a) {
			rtnl_link_veth_release(link);
			return -NLE_NOMEM;
		}
		rtnl_link_set_addr(link, a);
		nl_addr_put(a);
	}
	snprintf(peer_name, sizeof(peer_name), "%sp", name);
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(peer, peer_name);
	rtnl_link_put(peer);
	r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_veth_release(link);
	return r;
}

static int add_bridge(struct nl_sock *sk, const char *name, const uint8_t *mac)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int r;

	if (!link)
		return -NLE_NOMEM;
	rtnl_link_set_name(link, name);
	r = rtnl_link_set_type(link, "bridge");
	if (r == 0 && mac) {
		struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);

		rtnl_link_set_addr(link, a);
		nl_addr_put(a);
	}
	if (r == 0)
		r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	return r;
}

static int del_link(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int r;

	if (!link)
		return -NLE_NOMEM;
	rtnl_link_set_name(link, name);
	r = rtnl_link_delete(sk, link);
	rtnl_link_put(link);
	return r;
}

/* IPv6 addresses get IFA_F_NODAD unless dad is set. */
static int add_addr(struct nl_sock *sk, const char *ifname, const char *cidr, bool dad)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = NULL;
	int r;

	if (!ra)
		return -NLE_NOMEM;
	r = nl_addr_parse(cidr, strchr(cidr, ':') ? AF_INET6 : AF_INET, &local);
	if (r == 0) {
		rtnl_addr_set_ifindex(ra, ifindex_of(ifname));
		rtnl_addr_set_family(ra, nl_addr_get_family(local));
		rtnl_addr_set_local(ra, local);
		rtnl_addr_set_prefixlen(ra, (int)nl_addr_get_prefixlen(local));
		if (nl_addr_get_family(local) == AF_INET6 && !dad)
			rtnl_addr_set_flags(ra, IFA_F_NODAD);
		r = rtnl_addr_add(sk, ra, NLM_F_CREATE | NLM_F_EXCL);
		nl_addr_put(local);
	}
	rtnl_addr_put(ra);
	return r;
}

typedef struct Hop {
	const char *ifname;
	const char *gw;
} Hop;

/* A route to dst (e.g. "default") in table, over one or more nexthops. */
static int add_route(struct nl_sock *sk, int family, const char *dst_text, unsigned table,
		     uint8_t protocol, const Hop *hops, size_t n_hops)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct nl_addr *dst = NULL;
	int r;

	if (!route)
		return -NLE_NOMEM;
	r = nl_addr_parse(dst_text, family, &dst);
	if (r == 0) {
		rtnl_route_set_family(route, (uint8_t)family);
		rtnl_route_set_table(route, table);
		rtnl_route_set_protocol(route, protocol);
		r = rtnl_route_set_dst(route, dst);
	}
	for (size_t i = 0; r == 0 && i < n_hops; i++) {
		struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
		struct nl_addr *gw = NULL;

		if (!nh) {
			r = -NLE_NOMEM;
			break;
		}
		r = nl_addr_parse(hops[i].gw, family, &gw);
		if (r < 0) {
			rtnl_route_nh_free(nh);
			break;
		}
		rtnl_route_nh_set_ifindex(nh, ifindex_of(hops[i].ifname));
		rtnl_route_nh_set_gateway(nh, gw);
		nl_addr_put(gw);
		rtnl_route_add_nexthop(route, nh);
	}
	if (r == 0)
		r = rtnl_route_add(sk, route, NLM_F_CREATE);
	if (dst)
		nl_addr_put(dst);
	rtnl_route_put(route);
	return r;
}

typedef struct Query {
	int r;
	KvpIpInfo info;
	char ifname[IF_NAMESIZE];
	int ifindex;
} Query;

static Query query(const char *mac, uint8_t family)
{
	Query q = {};

	q.r = kvp_nicinfo_query(mac, family, &q.info, q.ifname, &q.ifindex);
	return q;
}

#define CHECK_STR(what, got, want) \
	CHILD_CHECK(strcmp((got), (want)) == 0, "%s: \"%s\", expected \"%s\"", what, got, want)

static void check_query(const char *mac, uint8_t family, const char *ifname, uint8_t want_family,
			const char *ip, const char *sub, const char *gw)
{
	Query q = query(mac, family);

	CHILD_CHECK(q.r == 0, "query %s: %s", mac, strerror(-q.r));
	CHECK_STR("ifname", q.ifname, ifname);
	CHILD_CHECK(q.ifindex == ifindex_of(ifname), "ifindex %d for %s", q.ifindex, ifname);
	CHECK_STR("adapter_id", q.info.adapter_id, mac);
	CHILD_CHECK(q.info.addr_family == want_family, "%s: addr_family %u, expected %u", mac,
		    q.info.addr_family, want_family);
	CHECK_STR("ip_addr", q.info.ip_addr, ip);
	CHECK_STR("sub_net", q.info.sub_net, sub);
	CHECK_STR("gate_way", q.info.gate_way, gw);
	CHECK_STR("dns_addr", q.info.dns_addr, "");
	CHILD_CHECK(q.info.dhcp_enabled == 0, "dhcp_enabled set");
}

static const uint8_t NS_ETH0[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x0a };
static const uint8_t NS_ETH1[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x01 };
static const uint8_t NS_ETH10[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x10 };
static const uint8_t NS_ETH3[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x03 };
static const uint8_t NS_ETH7[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x07 };

#define LL_ETH0 "fe80::215:5dff:fe00:a"
#define LL_ETH1 "fe80::215:5dff:fe00:1"
#define LL_ETH10 "fe80::215:5dff:fe00:10"

/* The kernel adds link-locals once a link has carrier (linkwatch, up to ~1 s). */
static void wait_link_locals(void)
{
	static const char *const want[] = { LL_ETH0, LL_ETH1, LL_ETH10 };
	static const char *const macs[] = { "00:15:5d:00:00:0a", "00:15:5d:00:00:01",
					    "00:15:5d:00:00:10" };

	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		for (int tries = 0;; tries++) {
			Query q = query(macs[i], KVP_ADDR_FAMILY_IPV6);

			CHILD_CHECK(q.r == 0, "query: %s", strerror(-q.r));
			if (strstr(q.info.ip_addr, want[i]))
				break;
			CHILD_CHECK(tries < 300, "no %s after 6 s (have \"%s\")", want[i],
				    q.info.ip_addr);
			nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Not a pass/fail criterion (shared machines are noisy): reported for the benchmark. */
static void measure(void)
{
	enum { RUNS = 1000 };
	static double t[RUNS];
	unsigned n_links = 0;

	for (int i = 0; i < RUNS; i++) {
		double t0 = now_usec();
		Query q = query("00:15:5D:00:00:0A", 0);

		t[i] = now_usec() - t0;
		CHILD_CHECK(q.r == 0, "query %d: %s", i, strerror(-q.r));
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	for (unsigned i = 1; i < 64; i++) {
		char name[IF_NAMESIZE];

		if (if_indextoname(i, name))
			n_links++;
	}
	fprintf(stderr,
		"kvp_nicinfo_query with %u links: median %.0f us, p90 %.0f us, max %.0f us\n",
		n_links, t[RUNS / 2], t[RUNS * 9 / 10], t[RUNS - 1]);
	/* Only gross regressions fail: a query is two orders of magnitude below this. */
	CHILD_CHECK(t[RUNS / 2] < 50000, "median %.0f us", t[RUNS / 2]);
}

static void child_topology(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (access("/proc/sys/net/ipv6/conf/default/accept_dad", W_OK) < 0) {
		fprintf(stderr, "no IPv6, skipping\n");
		_exit(CHILD_SKIP);
	}
	/* Link-locals usable at once: no duplicate address detection in this namespace. */
	CHILD_CHECK(write_sysctl("/proc/sys/net/ipv6/conf/default/accept_dad", "0") == 0, "dad");
	CHILD_CHECK(write_sysctl("/proc/sys/net/ipv6/conf/all/accept_dad", "0") == 0, "dad");
	CHILD_CHECK(set_up("lo") == 0, "cannot bring lo up");
	CHILD_CHECK(sk && nl_connect(sk, NETLINK_ROUTE) == 0, "netlink socket");

	/* vf0 first, so it has a lower ifindex than eth0 whose MAC it shares. */
	r = add_veth(sk, "vf0", NS_ETH0);
	if (r < 0) {
		fprintf(stderr, "no veth support (%s), skipping\n", nl_geterror(r));
		_exit(CHILD_SKIP);
	}
	CHILD_CHECK(ipv6_sysctl("vf0", "disable_ipv6", "1") == 0, "vf0 without IPv6");
	CHILD_CHECK(add_veth(sk, "eth0", NS_ETH0) == 0, "eth0");
	CHILD_CHECK(add_veth(sk, "eth1", NS_ETH1) == 0, "eth1");
	CHILD_CHECK(add_veth(sk, "eth10", NS_ETH10) == 0, "eth10");
	CHILD_CHECK(add_veth(sk, "eth3", NS_ETH3) == 0, "eth3");
	CHILD_CHECK(ipv6_sysctl("eth3", "disable_ipv6", "1") == 0, "eth3 without IPv6");
	r = add_bridge(sk, "br0", NS_ETH3);
	CHILD_CHECK(r == 0, "br0: %s", nl_geterror(r));
	CHILD_CHECK(ipv6_sysctl("br0", "disable_ipv6", "1") == 0, "br0 without IPv6");
	r = rtnl_link_enslave_ifindex(sk, ifindex_of("br0"), ifindex_of("eth3"));
	CHILD_CHECK(r == 0, "eth3 into br0: %s", nl_geterror(r));
	CHILD_CHECK(add_bridge(sk, "docker0", NULL) == 0, "docker0");
	CHILD_CHECK(ipv6_sysctl("docker0", "disable_ipv6", "1") == 0, "docker0 without IPv6");

	static const char *const up[] = { "vf0",   "vf0p",   "eth0", "eth0p", "eth1", "eth1p",
					  "eth10", "eth10p", "eth3", "eth3p", "br0",  "docker0" };
	for (size_t i = 0; i < ELEMENTSOF(up); i++)
		CHILD_CHECK(set_up(up[i]) == 0, "cannot bring %s up", up[i]);

	CHILD_CHECK(add_addr(sk, "eth0", "10.0.0.4/24", false) == 0, "eth0 v4");
	CHILD_CHECK(add_addr(sk, "eth0", "10.0.0.5/24", false) == 0, "eth0 v4 secondary");
	CHILD_CHECK(add_addr(sk, "eth0", "2001:db8::4/64", false) == 0, "eth0 v6");
	CHILD_CHECK(add_addr(sk, "eth1", "10.1.0.4/24", false) == 0, "eth1 v4");
	CHILD_CHECK(add_addr(sk, "eth1", "2001:db8:1::4/64", false) == 0, "eth1 v6");
	CHILD_CHECK(add_addr(sk, "eth10", "10.10.0.4/24", false) == 0, "eth10 v4");
	CHILD_CHECK(add_addr(sk, "br0", "10.3.0.4/24", false) == 0, "br0 v4");
	/* A stray address on the bridge port: the bridge still wins. */
	CHILD_CHECK(add_addr(sk, "eth3", "10.3.0.99/24", false) == 0, "eth3 v4");
	CHILD_CHECK(add_addr(sk, "docker0", "172.17.0.1/16", false) == 0, "docker0 v4");

	/* A multipath IPv4 default route over eth0 and eth1. */
	const Hop mp[] = { { "eth0", "10.0.0.1" }, { "eth1", "10.1.0.1" } };
	r = add_route(sk, AF_INET, "default", RT_TABLE_MAIN, RTPROT_STATIC, mp, 2);
	CHILD_CHECK(r == 0, "multipath default: %s", nl_geterror(r));
	/* IPv6 defaults as router advertisements install them: via link-local routers. */
	const Hop ra0[] = { { "eth0", "fe80::1" } }, ra1[] = { { "eth1", "fe80::2" } };
	r = add_route(sk, AF_INET6, "default", RT_TABLE_MAIN, RTPROT_RA, ra0, 1);
	CHILD_CHECK(r == 0, "IPv6 default via eth0: %s", nl_geterror(r));
	r = add_route(sk, AF_INET6, "default", RT_TABLE_MAIN, RTPROT_RA, ra1, 1);
	CHILD_CHECK(r == 0, "IPv6 default via eth1: %s", nl_geterror(r));
	/* eth10: a default route in another table and a non-default one; neither counts. */
	const Hop h10[] = { { "eth10", "10.10.0.1" } };
	r = add_route(sk, AF_INET, "default", 100, RTPROT_STATIC, h10, 1);
	CHILD_CHECK(r == 0, "table 100 default: %s", nl_geterror(r));
	r = add_route(sk, AF_INET, "10.99.0.0/16", RT_TABLE_MAIN, RTPROT_STATIC, h10, 1);
	CHILD_CHECK(r == 0, "10.99/16: %s", nl_geterror(r));

	wait_link_locals();

	/* The primary NIC, in every spelling the host might use; vf0 (same MAC) is ignored. */
	static const char *const eth0_macs[] = { "00:15:5D:00:00:0A", "00:15:5d:00:00:0a",
						 "00-15-5D-00-00-0A" };
	for (size_t i = 0; i < ELEMENTSOF(eth0_macs); i++)
		check_query(eth0_macs[i], 0, "eth0", 3, "10.0.0.4;10.0.0.5;2001:db8::4;" LL_ETH0,
			    "255.255.255.0;255.255.255.0;/64;/64", "10.0.0.1;fe80::1;");
	check_query("00:15:5D:00:00:0A", KVP_ADDR_FAMILY_IPV4, "eth0", 1, "10.0.0.4;10.0.0.5",
		    "255.255.255.0;255.255.255.0", "10.0.0.1;");
	check_query("00:15:5D:00:00:0A", KVP_ADDR_FAMILY_IPV6, "eth0", 2, "2001:db8::4;" LL_ETH0,
		    "/64;/64", "fe80::1;");

	/* eth1 is not eth10; each gets its own gateways only. */
	check_query("00:15:5D:00:00:01", 0, "eth1", 3, "10.1.0.4;2001:db8:1::4;" LL_ETH1,
		    "255.255.255.0;/64;/64", "10.1.0.1;fe80::2;");
	check_query("00:15:5D:00:00:10", 0, "eth10", 3, "10.10.0.4;" LL_ETH10, "255.255.255.0;/64",
		    "");
	/* The bridge over its port. */
	check_query("00:15:5D:00:00:03", 0, "br0", 1, "10.3.0.4", "255.255.255.0", "");

	Query q = query("00:15:5D:00:00:99", 0);
	CHILD_CHECK(q.r == -ENODEV, "unknown MAC: %d", q.r);
	q = query("00:00:00:00:00:00", 0);
	CHILD_CHECK(q.r == -ENODEV, "loopback's MAC matched: %d", q.r);
	q = query("00:15:5D:00:00:0", 0);
	CHILD_CHECK(q.r == -EINVAL, "short MAC: %d", q.r);
	q = query("00:15:5D:00:00:0A", 4);
	CHILD_CHECK(q.r == -EINVAL, "family 4: %d", q.r);

	/* Hot-plug: a NIC added or removed is seen by the next query. */
	q = query("00:15:5D:00:00:07", 0);
	CHILD_CHECK(q.r == -ENODEV, "eth7 before it exists: %d", q.r);
	CHILD_CHECK(add_veth(sk, "eth7", NS_ETH7) == 0, "eth7");
	CHILD_CHECK(add_addr(sk, "eth7", "10.7.0.4/24", false) == 0, "eth7 v4");
	check_query("00:15:5D:00:00:07", KVP_ADDR_FAMILY_IPV4, "eth7", 1, "10.7.0.4",
		    "255.255.255.0", "");
	CHILD_CHECK(del_link(sk, "eth7") == 0, "delete eth7");
	q = query("00:15:5D:00:00:07", 0);
	CHILD_CHECK(q.r == -ENODEV, "eth7 after removal: %d", q.r);

	/* An address still in duplicate address detection is reported (a fresh NIC). */
	CHILD_CHECK(ipv6_sysctl("eth1", "accept_dad", "1") == 0, "DAD on eth1");
	CHILD_CHECK(add_addr(sk, "eth1", "2001:db8:7::7/64", true) == 0, "tentative address");
	q = query("00:15:5D:00:00:01", 0);
	CHILD_CHECK(q.r == 0 && strstr(q.info.ip_addr, "2001:db8:7::7"),
		    "tentative address missing: \"%s\"", q.info.ip_addr);

	measure();
	nl_socket_free(sk);
}

static void test_libnl_topology(void **state)
{
	run_in_netns(child_topology);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libnl_topology),
	};

	return cmocka_run_group_tests_name("kvp-nicinfo-netns", tests, NULL, NULL);
}
