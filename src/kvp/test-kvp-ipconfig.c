/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO validation, the file renderers against golden files
 * ($TESTDATA/ipconfig/<backend>-<case>.golden), the hv_set_ifconfig ifcfg parser and the
 * sysfs-directory NIC lookup.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "kvp/kvp-ipconfig-nic.h"
#include "kvp/kvp-ipconfig.h"
#include "kvp/kvp-ipinfo.h"

#define GUID "{f8615163-df3e-46c5-913f-f2d2f965ed0e}"

static const KvpNic test_nic = { .ifname = "eth0", .mac = "00:15:5d:12:34:56", .guid = GUID };

typedef struct Case {
	const char *name;
	const char *ip, *subnet, *gw, *dns;
	uint8_t dhcp;
} Case;

/* The inputs of the golden files. */
static const Case golden_cases[] = {
	{ "static4", "192.168.1.14;192.168.1.15", "255.255.255.0;255.255.0.0", "192.168.1.1",
	  "192.168.1.2;192.168.1.3", 0 },
	{ "dhcp4", "", "", "", "", 1 },
	{ "mixed", "192.168.1.14;2001:db8::14", "255.255.255.0;64", "192.168.1.1;2001:db8::1",
	  "192.168.1.2;2001:db8::2", 0 },
	{ "multigw", "10.0.0.5;2001:db8::5;2001:db8::6", "24;/64;64",
	  "10.0.0.1;10.0.0.254;fe80::1;2001:db8::fe", "10.0.0.2", 1 },
};

static const struct {
	KvpIpFormat format;
	const char *name;
} formats[] = {
	{ KVP_IP_FORMAT_NM_KEYFILE, "networkmanager" },
	{ KVP_IP_FORMAT_NETWORKD, "networkd" },
	{ KVP_IP_FORMAT_NETPLAN, "netplan" },
	{ KVP_IP_FORMAT_IFUPDOWN, "ifupdown" },
	{ KVP_IP_FORMAT_IFCFG, "ifcfg" },
	{ KVP_IP_FORMAT_IFCFG_UPSTREAM, "script-ifcfg" },
};

static void set_field(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	assert_true(len < size);
	memcpy(dst, src, len + 1);
}

/* A request as the kernel hands it to us: zero-filled, NUL-terminated strings. */
static KvpIpInfo *make_req(const char *guid, const char *ip, const char *subnet, const char *gw,
			   const char *dns, uint8_t dhcp)
{
	KvpIpInfo *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	set_field(r->adapter_id, sizeof(r->adapter_id), guid);
	set_field(r->ip_addr, sizeof(r->ip_addr), ip);
	set_field(r->sub_net, sizeof(r->sub_net), subnet);
	set_field(r->gate_way, sizeof(r->gate_way), gw);
	set_field(r->dns_addr, sizeof(r->dns_addr), dns);
	r->dhcp_enabled = dhcp;
	r->addr_family = KVP_ADDR_FAMILY_IPV4;
	return r;
}

static int parse(const char *guid, const char *ip, const char *subnet, const char *gw,
		 const char *dns, uint8_t dhcp, KvpIpConfig *c)
{
	KvpIpInfo *req = make_req(guid, ip, subnet, gw, dns, dhcp);
	int r = kvp_ipconfig_from_ipinfo(req, c);

	free(req);
	return r;
}

static char *read_golden(const char *name)
{
	const char *dir = getenv("TESTDATA");
	char path[4096];
	char *text = NULL;
	int r;

	if (!dir)
		fail_msg("TESTDATA is not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/ipconfig/%s.golden", dir, name);
	r = read_full_file_at(AT_FDCWD, path, 1 << 20, &text, NULL);
	if (r < 0)
		fail_msg("cannot read %s: %s", path, strerror(-r));
	return text;
}

static void test_golden_files(void **state)
{
	KvpIpConfig *c = malloc(sizeof(*c));

	assert_non_null(c);
	for (size_t i = 0; i < ELEMENTSOF(golden_cases); i++) {
		const Case *k = &golden_cases[i];

		assert_int_equal(parse(GUID, k->ip, k->subnet, k->gw, k->dns, k->dhcp, c), 0);
		for (size_t f = 0; f < ELEMENTSOF(formats); f++) {
			char name[128], *want, *got = NULL;

			snprintf(name, sizeof(name), "%s-%s", formats[f].name, k->name);
			want = read_golden(name);
			assert_int_equal(kvp_ipconfig_render(formats[f].format, c, &test_nic, &got),
					 0);
			if (strcmp(want, got) != 0)
				fail_msg("%s differs.\n--- expected\n%s--- got\n%s", name, want,
					 got);
			free(want);
			free(got);
		}
	}
	free(c);
}

/* Microsoft's validation suite injects exactly this (peers-and-users.md §8). */
static void test_validation_suite_request(void **state)
{
	KvpIpConfig c;

	assert_int_equal(parse("{F8615163-DF3E-46C5-913F-F2D2F965ED0E}", "192.168.1.14",
			       "255.255.255.0", "192.168.1.1", "192.168.1.2", 0, &c),
			 0);
	assert_string_equal(c.guid, GUID);
	assert_false(c.dhcp4);
	assert_int_equal(c.n_addrs, 1);
	assert_int_equal(c.addrs[0].family, AF_INET);
	assert_string_equal(c.addrs[0].text, "192.168.1.14");
	assert_int_equal(c.addrs[0].prefixlen, 24);
	assert_int_equal(c.n_gateways, 1);
	assert_string_equal(c.gateways[0].text, "192.168.1.1");
	assert_int_equal(c.n_dns, 1);
	assert_string_equal(c.dns[0].text, "192.168.1.2");
}

static void test_list_syntax(void **state)
{
	KvpIpConfig c;

	/* spaces around items, one trailing ';', prefix forms, IPv6 canonicalised */
	assert_int_equal(parse(GUID, " 10.1.2.3 ; 2001:DB8:0:0::0014;", "16; /64 ;", " ",
			       "2001:db8::53; ", 0, &c),
			 0);
	assert_int_equal(c.n_addrs, 2);
	assert_int_equal(c.addrs[0].prefixlen, 16);
	assert_string_equal(c.addrs[1].text, "2001:db8::14");
	assert_int_equal(c.addrs[1].prefixlen, 64);
	assert_int_equal(c.n_gateways, 0);
	assert_int_equal(c.n_dns, 1);

	/* "/24" for IPv4, and the extreme masks */
	assert_int_equal(parse(GUID, "10.0.0.1;10.0.0.2", "/24;255.255.255.255", "", "", 0, &c), 0);
	assert_int_equal(c.addrs[0].prefixlen, 24);
	assert_int_equal(c.addrs[1].prefixlen, 32);
	assert_int_equal(parse(GUID, "10.0.0.1", "128.0.0.0", "", "", 0, &c), 0);
	assert_int_equal(c.addrs[0].prefixlen, 1);
	assert_int_equal(parse(GUID, "2001:db8::1", "128", "", "", 0, &c), 0);

	/* nothing at all: IPv4 off, IPv6 automatic */
	assert_int_equal(parse(GUID, "", "", "", "", 0, &c), 0);
	assert_int_equal(c.n_addrs + c.n_gateways + c.n_dns, 0);

	/* DHCP with IPv4 gateway and DNS but no static IPv4 address is fine */
	assert_int_equal(parse(GUID, "", "", "10.0.0.1", "10.0.0.2", 1, &c), 0);
	assert_true(c.dhcp4);
}

static void test_limits(void **state)
{
	char ip[KVP_IP_ADDR_BYTES] = "", sub[KVP_IP_ADDR_BYTES] = "", gw[KVP_IP_GATEWAY_BYTES] = "";
	KvpIpConfig c;
	size_t n = 0, m = 0;

	/* exactly the maximum number of addresses passes, one more does not */
	for (unsigned i = 0; i < KVP_IPCONFIG_MAX_ADDRS; i++) {
		n += (size_t)snprintf(ip + n, sizeof(ip) - n, "%s10.0.%u.%u", i ? ";" : "", i / 200,
				      i % 200 + 1);
		m += (size_t)snprintf(sub + m, sizeof(sub) - m, "%s24", i ? ";" : "");
	}
	assert_true(n < sizeof(ip) && m < sizeof(sub));
	assert_int_equal(parse(GUID, ip, sub, "", "", 0, &c), 0);
	assert_int_equal(c.n_addrs, KVP_IPCONFIG_MAX_ADDRS);
	snprintf(ip + n, sizeof(ip) - n, ";10.9.9.9");
	snprintf(sub + m, sizeof(sub) - m, ";24");
	assert_int_equal(parse(GUID, ip, sub, "", "", 0, &c), -EINVAL);

	n = 0;
	for (unsigned i = 0; i <= KVP_IPCONFIG_MAX_GATEWAYS; i++)
		n += (size_t)snprintf(gw + n, sizeof(gw) - n, "%s10.0.0.%u", i ? ";" : "", i + 1);
	assert_true(n < sizeof(gw));
	assert_int_equal(parse(GUID, "10.0.0.100", "8", gw, "", 0, &c), -EINVAL);
	*strrchr(gw, ';') = '\0';
	assert_int_equal(parse(GUID, "10.0.0.100", "8", gw, "", 0, &c), 0);
	assert_int_equal(c.n_gateways, KVP_IPCONFIG_MAX_GATEWAYS);
}

static void test_hostile_values(void **state)
{
	static const struct {
		const char *what, *guid, *ip, *subnet, *gw, *dns;
		uint8_t dhcp;
	} bad[] = {
		{ "newline in address", GUID, "192.168.1.14\n", "24", "", "", 0 },
		{ "newline in subnet", GUID, "2001:db8::1", "64\nONBOOT=$(touch /tmp/pwned)", "",
		  "", 0 },
		{ "double quote", GUID, "\"192.168.1.14\"", "24", "", "", 0 },
		{ "single quote", GUID, "192.168.1.14", "24", "'192.168.1.1'", "", 0 },
		{ "command substitution", GUID, "$(touch /tmp/x)", "24", "", "", 0 },
		{ "backticks in dns", GUID, "192.168.1.14", "24", "", "`id`", 0 },
		{ "tab", GUID, "192.168.1.14\t", "24", "", "", 0 },
		{ "zone id", GUID, "fe80::1%eth0", "64", "", "", 0 },
		{ "word in gateways", GUID, "192.168.1.14", "24", "192.168.1.1;ra", "", 0 },
		{ "more addresses than masks", GUID, "10.0.0.1;10.0.0.2", "24", "", "", 0 },
		{ "more masks than addresses", GUID, "10.0.0.1", "24;24", "", "", 0 },
		{ "masks without addresses", GUID, "", "24", "", "", 0 },
		{ "non-contiguous mask", GUID, "10.0.0.1", "255.0.255.0", "", "", 0 },
		{ "IPv4 prefix 33", GUID, "10.0.0.1", "33", "", "", 0 },
		{ "IPv4 prefix 0", GUID, "10.0.0.1", "0.0.0.0", "", "", 0 },
		{ "IPv6 prefix 129", GUID, "2001:db8::1", "129", "", "", 0 },
		{ "IPv6 prefix 0", GUID, "2001:db8::1", "/0", "", "", 0 },
		{ "IPv6 with a dotted mask", GUID, "2001:db8::1", "255.255.255.0", "", "", 0 },
		{ "signed prefix", GUID, "10.0.0.1", "+24", "", "", 0 },
		{ "empty item", GUID, "10.0.0.1;;10.0.0.2", "24;;24", "", "", 0 },
		{ "leading separator", GUID, ";10.0.0.1", ";24", "", "", 0 },
		{ "two trailing separators", GUID, "10.0.0.1;;", "24", "", "", 0 },
		{ "address with prefix", GUID, "10.0.0.1/24", "24", "", "", 0 },
		{ "short IPv4", GUID, "10.1", "8", "", "", 0 },
		{ "multicast address", GUID, "224.0.0.1", "24", "", "", 0 },
		{ "loopback address", GUID, "127.0.0.2", "8", "", "", 0 },
		{ "IPv6 loopback", GUID, "::1", "128", "", "", 0 },
		{ "IPv4-mapped IPv6", GUID, "::ffff:10.0.0.1", "96", "", "", 0 },
		{ "unspecified gateway", GUID, "10.0.0.1", "8", "0.0.0.0", "", 0 },
		{ "multicast DNS server", GUID, "10.0.0.1", "8", "", "ff02::1", 0 },
		{ "duplicate address", GUID, "10.0.0.1;10.0.0.1", "8;8", "", "", 0 },
		{ "duplicate DNS", GUID, "10.0.0.1", "8", "", "10.0.0.2;10.0.0.2", 0 },
		{ "IPv4 gateway without IPv4", GUID, "2001:db8::1", "64", "10.0.0.1", "", 0 },
		{ "IPv4 DNS without IPv4", GUID, "", "", "", "10.0.0.2", 0 },
		{ "dhcp_enabled 2", GUID, "", "", "", "", 2 },
		{ "GUID without braces", "f8615163-df3e-46c5-913f-f2d2f965ed0e", "", "", "", "",
		  1 },
		{ "GUID with a bad digit", "{g8615163-df3e-46c5-913f-f2d2f965ed0e}", "", "", "", "",
		  1 },
		{ "GUID dash misplaced", "{f8615163d-f3e-46c5-913f-f2d2f965ed0e}", "", "", "", "",
		  1 },
		{ "GUID too long", "{f8615163-df3e-46c5-913f-f2d2f965ed0e0}", "", "", "", "", 1 },
		{ "GUID with newline", "{f8615163-df3e-46c5-913f-f2d2f965ed0\n}", "", "", "", "",
		  1 },
		{ "empty GUID", "", "", "", "", "", 1 },
	};
	KvpIpConfig c;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r = parse(bad[i].guid, bad[i].ip, bad[i].subnet, bad[i].gw, bad[i].dns,
			      bad[i].dhcp, &c);

		if (r != -EINVAL)
			fail_msg("%s: expected -EINVAL, got %d", bad[i].what, r);
	}
}

static void test_overlong_and_unterminated(void **state)
{
	KvpIpInfo *req = make_req(GUID, "", "", "", "", 0);
	KvpIpConfig c;

	/* a 300-byte item (the one that overflowed upstream's 46-byte buffer) */
	memset(req->ip_addr, '1', 300);
	req->ip_addr[300] = '\0';
	set_field(req->sub_net, sizeof(req->sub_net), "24");
	assert_int_equal(kvp_ipconfig_from_ipinfo(req, &c), -EINVAL);

	/* a 46-byte item: one byte over the longest literal */
	set_field(req->ip_addr, sizeof(req->ip_addr),
		  "0000:0000:0000:0000:0000:ffff:192.168.100.2281");
	assert_int_equal(kvp_ipconfig_from_ipinfo(req, &c), -EINVAL);

	/* no NUL in a field, or in the adapter id */
	memset(req->dns_addr, '1', sizeof(req->dns_addr));
	set_field(req->ip_addr, sizeof(req->ip_addr), "10.0.0.1");
	assert_int_equal(kvp_ipconfig_from_ipinfo(req, &c), -EINVAL);
	set_field(req->dns_addr, sizeof(req->dns_addr), "");
	assert_int_equal(kvp_ipconfig_from_ipinfo(req, &c), 0);
	memset(req->adapter_id, '{', sizeof(req->adapter_id));
	assert_int_equal(kvp_ipconfig_from_ipinfo(req, &c), -EINVAL);
	free(req);
}

static void test_guid_mac_ifname(void **state)
{
	char g[KVP_GUID_BUFSIZE], m[KVP_MAC_BUFSIZE];

	assert_int_equal(kvp_guid_normalize("{ABCDEF01-2345-6789-ABCD-EF0123456789}", g), 0);
	assert_string_equal(g, "{abcdef01-2345-6789-abcd-ef0123456789}");
	assert_int_equal(kvp_guid_normalize("{abcdef01-2345-6789-abcd-ef012345678}", g), -EINVAL);
	assert_int_equal(kvp_guid_normalize("{abcdef01-2345-6789-abcd+ef0123456789}", g), -EINVAL);

	assert_int_equal(kvp_mac_normalize("00:15:5D:0A:bC:ff", m), 0);
	assert_string_equal(m, "00:15:5d:0a:bc:ff");
	assert_int_equal(kvp_mac_normalize("00-15-5D-0A-BC-FF", m), -EINVAL);
	assert_int_equal(kvp_mac_normalize("00:15:5D:0A:BC:F", m), -EINVAL);
	assert_int_equal(kvp_mac_normalize("00:15:5D:0A:BC:FG", m), -EINVAL);

	assert_true(kvp_ifname_is_safe("eth0"));
	assert_true(kvp_ifname_is_safe("enp0s3.100"));
	assert_true(kvp_ifname_is_safe("a_b-c"));
	assert_false(kvp_ifname_is_safe(""));
	assert_false(kvp_ifname_is_safe(".."));
	assert_false(kvp_ifname_is_safe("a$(b)"));
	assert_false(kvp_ifname_is_safe("eth0;x"));
	assert_false(kvp_ifname_is_safe("eth0\n"));
	assert_false(kvp_ifname_is_safe("a\"b"));
	assert_false(kvp_ifname_is_safe("0123456789abcdef"));
}

static void test_nm_uuid(void **state)
{
	KvpNic a = test_nic, b = test_nic;
	char ua[KVP_UUID_BUFSIZE], ua2[KVP_UUID_BUFSIZE], ub[KVP_UUID_BUFSIZE];

	kvp_ipconfig_nm_uuid(&a, ua);
	kvp_ipconfig_nm_uuid(&a, ua2);
	assert_string_equal(ua, ua2);
	assert_int_equal(strlen(ua), 36);
	assert_int_equal(ua[14], '8'); /* version */
	assert_non_null(strchr("89ab", ua[19]));
	/* the MAC does not matter while the GUID is known */
	memcpy(b.mac, "00:15:5d:ff:ff:ff", KVP_MAC_BUFSIZE);
	kvp_ipconfig_nm_uuid(&b, ub);
	assert_string_equal(ua, ub);
	b.guid[1] = '0';
	kvp_ipconfig_nm_uuid(&b, ub);
	assert_string_not_equal(ua, ub);
	/* unknown GUID: derived from the MAC, still stable and well-formed */
	b.guid[0] = '\0';
	kvp_ipconfig_nm_uuid(&b, ub);
	kvp_ipconfig_nm_uuid(&b, ua2);
	assert_string_equal(ub, ua2);
	assert_int_equal(ub[14], '8');
}

static void test_render_rejects_unsafe_nic(void **state)
{
	KvpIpConfig c;
	KvpNic nic = test_nic;
	char *t = NULL;

	assert_int_equal(parse(GUID, "10.0.0.1", "8", "", "", 0, &c), 0);
	memcpy(nic.ifname, "e$(x)", 6);
	assert_int_equal(kvp_ipconfig_render(KVP_IP_FORMAT_NETWORKD, &c, &nic, &t), -EINVAL);
	nic = test_nic;
	memcpy(nic.mac, "00:15:5D:12:34:56", KVP_MAC_BUFSIZE); /* not normalised */
	assert_int_equal(kvp_ipconfig_render(KVP_IP_FORMAT_NETWORKD, &c, &nic, &t), -EINVAL);
	assert_null(t);
}

static bool config_equal(const KvpIpConfig *a, const KvpIpConfig *b)
{
	if (a->dhcp4 != b->dhcp4 || a->n_addrs != b->n_addrs || a->n_gateways != b->n_gateways ||
	    a->n_dns != b->n_dns)
		return false;
	for (size_t i = 0; i < a->n_addrs; i++)
		if (strcmp(a->addrs[i].text, b->addrs[i].text) != 0 ||
		    a->addrs[i].prefixlen != b->addrs[i].prefixlen)
			return false;
	for (size_t i = 0; i < a->n_gateways; i++)
		if (strcmp(a->gateways[i].text, b->gateways[i].text) != 0)
			return false;
	for (size_t i = 0; i < a->n_dns; i++)
		if (strcmp(a->dns[i].text, b->dns[i].text) != 0)
			return false;
	return true;
}

/* What we hand a site's hv_set_ifconfig must come back unchanged through our parser. */
static void test_ifcfg_round_trip(void **state)
{
	KvpIpConfig *c = malloc(sizeof(*c)), *back = malloc(sizeof(*back));

	assert_non_null(c);
	assert_non_null(back);
	for (size_t i = 0; i < ELEMENTSOF(golden_cases); i++) {
		const Case *k = &golden_cases[i];
		char name[128], *text;
		KvpNic nic;

		assert_int_equal(parse(GUID, k->ip, k->subnet, k->gw, k->dns, k->dhcp, c), 0);
		snprintf(name, sizeof(name), "script-ifcfg-%s", k->name);
		text = read_golden(name);
		assert_int_equal(kvp_ipconfig_parse_ifcfg(text, back, &nic), 0);
		assert_string_equal(nic.ifname, "eth0");
		assert_string_equal(nic.mac, "00:15:5d:12:34:56");
		assert_string_equal(nic.guid, "");
		/* the ifcfg format lists IPv4 addresses first; our cases already do */
		if (!config_equal(c, back))
			fail_msg("%s does not parse back to its input", name);
		free(text);

		/* our native ifcfg file too (it keeps only one gateway per family) */
		snprintf(name, sizeof(name), "ifcfg-%s", k->name);
		text = read_golden(name);
		assert_int_equal(kvp_ipconfig_parse_ifcfg(text, back, &nic), 0);
		assert_int_equal(back->n_addrs, c->n_addrs);
		assert_int_equal(back->n_dns, c->n_dns);
		assert_true(back->dhcp4 == c->dhcp4);
		free(text);
	}
	free(c);
	free(back);
}

static void test_ifcfg_parser(void **state)
{
	KvpIpConfig c;
	KvpNic nic;

	/* upstream's sample script appends these; initscripts-style IPv6 with a prefix */
	assert_int_equal(
		kvp_ipconfig_parse_ifcfg("# comment\n\nHWADDR=00:15:5D:12:34:56\n"
					 "DEVICE=eth1\nBOOTPROTO=none\nIPADDR=10.1.1.1\n"
					 "PREFIX=16\nIPADDR3=10.1.1.3\nNETMASK3=255.0.0.0\n"
					 "IPV6ADDR=2001:db8::1/48\nIPV6_DEFAULTGW=fe80::1\n"
					 "GATEWAY=10.1.0.1\nDNS1=10.1.0.53\nIPV6INIT=yes\n"
					 "NM_CONTROLLED=no\nPEERDNS=yes\nONBOOT=yes",
					 &c, &nic),
		0);
	assert_string_equal(nic.ifname, "eth1");
	assert_int_equal(c.n_addrs, 3);
	assert_string_equal(c.addrs[0].text, "10.1.1.1");
	assert_int_equal(c.addrs[0].prefixlen, 16);
	assert_string_equal(c.addrs[1].text, "10.1.1.3");
	assert_int_equal(c.addrs[1].prefixlen, 8);
	assert_int_equal(c.addrs[2].prefixlen, 48);
	assert_int_equal(c.n_gateways, 2);
	assert_string_equal(c.gateways[0].text, "10.1.0.1");
	assert_string_equal(c.gateways[1].text, "fe80::1");
}

static void test_ifcfg_hostile(void **state)
{
	static const char *const bad[] = {
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=$(touch /tmp/x)\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=`id`\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=\"10.0.0.1\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0='10.0.0.1'\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=10.0.0.1;reboot\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=10.0.0.1\r\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\n IPADDR0=10.0.0.1\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nexport IPADDR0=10.0.0.1\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=10.0.0.1\nNETMASK0=8\nFOO=1\n",
		("HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=10.0.0.1\nIPADDR0=10.0.0.2\n"
		 "NETMASK0=8\n"),
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=10.0.0.1\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nNETMASK0=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=10.0.0.1\nNETMASK0=255.0.255.0\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=10.0.0.1\nNETMASK0=8\nPREFIX0=9\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPV6ADDR=2001:db8::1\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPV6ADDR=2001:db8::1\nIPV6NETMASK=129\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPV6ADDR=2001:db8::1/64\nIPV6NETMASK=48\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPV6_DEFAULTGW=fe80::1%eth0\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nGATEWAY=2001:db8::1\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nBOOTPROTO=bootp\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nDNS=10.0.0.1\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nDNS0=10.0.0.1\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR01=10.0.0.1\nNETMASK01=8\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=../eth0\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=e$x\n",
		"DEVICE=eth0\n",
		"HWADDR=00:15:5D:12:34:56\n",
		"HWADDR=00:15:5D:12:34\nDEVICE=eth0\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\n=x\n",
		"HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nipaddr0=10.0.0.1\n",
	};
	KvpIpConfig c;
	KvpNic nic;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r = kvp_ipconfig_parse_ifcfg(bad[i], &c, &nic);

		if (r != -EINVAL)
			fail_msg("accepted (%d):\n%s", r, bad[i]);
	}
	/* the minimal valid file */
	assert_int_equal(
		kvp_ipconfig_parse_ifcfg("HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\n", &c, &nic), 0);
	assert_int_equal(c.n_addrs, 0);
}

/* ---- sysfs-directory NIC lookup ---- */

static void write_at(const char *root, const char *rel, const char *content)
{
	char path[4096], dir[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(loop_write(fd, content, strlen(content)), 0);
	close(fd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void test_sysfs_lookup(void **state)
{
	char root[] = "/tmp/test-kvp-ipconfig-XXXXXX";
	KvpNic nic;

	assert_non_null(mkdtemp(root));
	write_at(root, "class/net/eth0/address", "00:15:5d:12:34:56\n");
	write_at(root, "class/net/eth0/device/device_id",
		 "{F8615163-DF3E-46C5-913F-F2D2F965ED0E}\n");
	write_at(root, "class/net/eth1/address", "00:15:5d:12:34:57\n");
	write_at(root, "class/net/eth1/device/device_id",
		 "{00000000-0000-0000-0000-000000000001}\n");
	/* the SR-IOV VF: same MAC, PCI parent without device_id */
	write_at(root, "class/net/enP1s1/address", "00:15:5d:12:34:56\n");
	write_at(root, "class/net/enP1s1/device/vendor", "0x15b3\n");

	assert_int_equal(kvp_nic_sysfs_ops.find_by_guid(root, GUID, &nic), 0);
	assert_string_equal(nic.ifname, "eth0");
	assert_string_equal(nic.mac, "00:15:5d:12:34:56");
	assert_string_equal(nic.guid, GUID);
	assert_int_equal(kvp_nic_sysfs_ops.find_by_guid(
				 root, "{00000000-0000-0000-0000-000000000001}", &nic),
			 0);
	assert_string_equal(nic.ifname, "eth1");
	assert_int_equal(kvp_nic_sysfs_ops.find_by_guid(
				 root, "{00000000-0000-0000-0000-000000000002}", &nic),
			 -ENODEV);

	assert_int_equal(kvp_nic_sysfs_ops.find_by_ifname(root, "enP1s1", &nic), 0);
	assert_string_equal(nic.mac, "00:15:5d:12:34:56");
	assert_string_equal(nic.guid, "");
	assert_int_equal(kvp_nic_sysfs_ops.find_by_ifname(root, "eth0", &nic), 0);
	assert_string_equal(nic.guid, GUID);
	assert_int_equal(kvp_nic_sysfs_ops.find_by_ifname(root, "eth9", &nic), -ENODEV);
	assert_int_equal(kvp_nic_sysfs_ops.find_by_ifname(root, "../eth0", &nic), -ENODEV);

	assert_int_equal(nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	/* no sysfs at all */
	assert_int_equal(kvp_nic_sysfs_ops.find_by_guid(root, GUID, &nic), -ENODEV);
}

/* The real system through libudev: whatever is there, answers must be consistent. */
static void test_udev_lookup(void **state)
{
	KvpNic nic, again;

	assert_int_equal(
		kvp_nic_udev_ops.find_by_guid(NULL, "{00000000-0000-0000-0000-00000000dead}", &nic),
		-ENODEV);
	if (kvp_nic_udev_ops.find_by_ifname(NULL, "lo", &nic) < 0)
		skip(); /* no sysfs in this sandbox */
	assert_string_equal(nic.ifname, "lo");
	assert_string_equal(nic.mac, "00:00:00:00:00:00");
	assert_string_equal(nic.guid, "");
	assert_int_equal(kvp_nic_sysfs_ops.find_by_ifname((void *)"/sys", "lo", &again), 0);
	assert_memory_equal(&nic, &again, sizeof(nic));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_files),
		cmocka_unit_test(test_validation_suite_request),
		cmocka_unit_test(test_list_syntax),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_overlong_and_unterminated),
		cmocka_unit_test(test_guid_mac_ifname),
		cmocka_unit_test(test_nm_uuid),
		cmocka_unit_test(test_render_rejects_unsafe_nic),
		cmocka_unit_test(test_ifcfg_round_trip),
		cmocka_unit_test(test_ifcfg_parser),
		cmocka_unit_test(test_ifcfg_hostile),
		cmocka_unit_test(test_sysfs_lookup),
		cmocka_unit_test(test_udev_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
