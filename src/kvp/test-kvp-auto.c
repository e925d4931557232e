/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvp/kvp-auto.h"
#include "kvp/kvp-msg.h"

/* The shipped defaults (kvp-settings.c); the API takes char *const * like a strv. */
static const char *const default_globs_c[] = {
	"veth*", "docker*", "virbr*", "cni*", "flannel*", "cali*", "br-*", NULL,
};
#define default_globs ((char *const *)default_globs_c)

typedef struct FakeNet {
	NetAddr addrs[256];
	size_t n;
	int error; /* returned instead of the list when < 0 */
	unsigned calls;
} FakeNet;

typedef struct Fixture {
	char dir[64];
	char os_release[128];
	FakeNet net;
	KvpAutoOptions opts;
	KvpAuto *a;
} Fixture;

static int fake_list(void *userdata, NetAddr **ret, size_t *ret_n)
{
	FakeNet *f = userdata;
	NetAddr *copy;

	f->calls++;
	if (f->error < 0)
		return f->error;
	copy = calloc(f->n ? f->n : 1, sizeof(NetAddr));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, f->addrs, f->n * sizeof(NetAddr));
	*ret = copy;
	*ret_n = f->n;
	return 0;
}

static const NetinfoOps fake_ops = { .list_addresses = fake_list };

static int fake_uname(struct utsname *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->sysname, sizeof(u->sysname), "Linux");
	snprintf(u->nodename, sizeof(u->nodename), "testvm");
	snprintf(u->release, sizeof(u->release), "6.1.0-18-amd64");
	snprintf(u->machine, sizeof(u->machine), "x86_64");
	return 0;
}

static int failing_uname(struct utsname *u)
{
	return -EIO;
}

static void add_addr(FakeNet *f, const char *ifname, int ifindex, unsigned flags, bool dflt,
		     const char *addr)
{
	NetAddr *a;

	assert_true(f->n < ELEMENTSOF(f->addrs));
	a = &f->addrs[f->n++];
	memset(a, 0, sizeof(*a));
	snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	a->ifindex = ifindex;
	a->ifflags = flags;
	a->has_default_route = dflt;
	a->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	a->prefixlen = a->family == AF_INET ? 24 : 64;
	snprintf(a->addr, sizeof(a->addr), "%s", addr);
}

/* A typical container host: the primary NIC has a higher ifindex than docker0. */
static void typical_host(FakeNet *f)
{
	f->n = 0;
	add_addr(f, "lo", 1, IFF_UP | IFF_LOOPBACK, false, "127.0.0.1");
	add_addr(f, "lo", 1, IFF_UP | IFF_LOOPBACK, false, "::1");
	add_addr(f, "docker0", 2, IFF_UP, false, "172.17.0.1");
	add_addr(f, "docker0", 2, IFF_UP, false, "fe80::42:acff:fe11:1");
	add_addr(f, "eth1", 3, IFF_UP, false, "192.168.50.7");
	add_addr(f, "eth0", 4, IFF_UP, true, "10.0.0.5");
	add_addr(f, "eth0", 4, IFF_UP, true, "10.0.0.6");
	add_addr(f, "eth0", 4, IFF_UP, true, "2001:db8::5");
	add_addr(f, "eth0", 4, IFF_UP, true, "fe80::215:5dff:fe01:203");
	add_addr(f, "veth9a8b7c", 7, IFF_UP, false, "fe80::1c:2dff:fe3e:4f5");
	add_addr(f, "br-0123abcd", 8, IFF_UP, false, "172.18.0.1");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	Fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-kvp-auto-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->os_release, sizeof(fx->os_release), "%s/os-release", fx->dir);
	write_file(fx->os_release, "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\n");
	typical_host(&fx->net);
	fx->opts = (KvpAutoOptions){
		.os_release_path = fx->os_release,
		.exclude_ifaces = default_globs,
		.net = &fake_ops,
		.net_userdata = &fx->net,
		.uname_fn = fake_uname,
	};
	assert_int_equal(kvp_auto_new(&fx->opts, &fx->a), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	Fixture *fx = *state;

	kvp_auto_free(fx->a);
	unlink(fx->os_release);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void test_all_positions(void **state)
{
	Fixture *fx = *state;
	static const char *const expected[][2] = {
		{ "FullyQualifiedDomainName", "testvm" },
		{ "IntegrationServicesVersion", "3.1" },
		{ "NetworkAddressIPv4", "10.0.0.5;10.0.0.6;192.168.50.7" },
		{ "NetworkAddressIPv6", "2001:db8::5;fe80::215:5dff:fe01:203" },
		{ "OSBuildNumber", "6.1.0-18-amd64" },
		{ "OSName", "Ubuntu" },
		{ "OSMajorVersion", "22" },
		{ "OSMinorVersion", "04" },
		{ "OSVersion", "6.1.0" },
		{ "ProcessorArchitecture", "x86_64" },
	};
	const char *key, *value;

	kvp_auto_set_version(fx->a, "3.1");
	for (uint32_t i = 0; i < ELEMENTSOF(expected); i++) {
		key = value = NULL;
		assert_int_equal(kvp_auto_enumerate(fx->a, i, &key, &value), 0);
		assert_string_equal(key, expected[i][0]);
		assert_string_equal(value, expected[i][1]);
		/* Everything fits an ENUMERATE reply. */
		static uint8_t msg[KVP_MSG_SIZE];
		assert_int_equal(kvp_msg_build_enumerate(msg, key, value), 0);
	}
	assert_int_equal(kvp_auto_enumerate(fx->a, 10, &key, &value), -ENOENT);
	assert_int_equal(kvp_auto_enumerate(fx->a, 11, &key, &value), -ENOENT);
	assert_int_equal(kvp_auto_enumerate(fx->a, UINT32_MAX, &key, &value), -ENOENT);
}

static void test_get_by_name(void **state)
{
	Fixture *fx = *state;
	const char *value = NULL;

	assert_int_equal(kvp_auto_get(fx->a, "OSName", &value), 0);
	assert_string_equal(value, "Ubuntu");
	assert_int_equal(kvp_auto_get(fx->a, "ProcessorArchitecture", &value), 0);
	assert_string_equal(value, "x86_64");
	/* An address key refreshes the snapshot itself (no enumeration needed first). */
	assert_int_equal(fx->net.calls, 0);
	assert_int_equal(kvp_auto_get(fx->a, "NetworkAddressIPv4", &value), 0);
	assert_string_equal(value, "10.0.0.5;10.0.0.6;192.168.50.7");
	assert_int_equal(fx->net.calls, 1);
	assert_int_equal(kvp_auto_get(fx->a, "IntegrationServicesVersion", &value), 0);
	assert_string_equal(value, "");

	value = "untouched";
	assert_int_equal(kvp_auto_get(fx->a, "osname", &value), -ENOENT);
	assert_int_equal(kvp_auto_get(fx->a, "", &value), -ENOENT);
	assert_int_equal(kvp_auto_get(fx->a, "OSNameX", &value), -ENOENT);
	assert_string_equal(value, "untouched");
}

static void test_docker_excluded_primary_first(void **state)
{
	Fixture *fx = *state;
	const char *key, *v4, *v6;

	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v4), 0);
	assert_int_equal(kvp_auto_enumerate(fx->a, 2, &key, &v4), 0);
	assert_null(strstr(v4, "172.17."));
	assert_null(strstr(v4, "172.18."));
	assert_null(strstr(v4, "127."));
	/* What the host uses: the first non-127 IPv4 must be the primary NIC's. */
	assert_int_equal(strncmp(v4, "10.0.0.5;", 9), 0);
	assert_int_equal(kvp_auto_enumerate(fx->a, 3, &key, &v6), 0);
	assert_null(strstr(v6, "::1;"));
	assert_null(strstr(v6, "fe80::42:"));
	assert_null(strstr(v6, "fe80::1c:"));
	assert_string_equal(v6, "2001:db8::5;fe80::215:5dff:fe01:203");
}

static void test_no_excludes(void **state)
{
	Fixture *fx = *state;
	KvpAuto *a = NULL;
	const char *v;

	fx->opts.exclude_ifaces = NULL;
	assert_int_equal(kvp_auto_new(&fx->opts, &a), 0);
	assert_int_equal(kvp_auto_get(a, "NetworkAddressIPv4", &v), 0);
	/* Without globs docker0 is reported, but after the default-route NIC. */
	assert_string_equal(v, "10.0.0.5;10.0.0.6;172.17.0.1;192.168.50.7;172.18.0.1");
	kvp_auto_free(a);
}

static void test_fresh_nic(void **state)
{
	Fixture *fx = *state;
	const char *key, *v4, *v6;

	/* A NIC just added: one IPv4 from DHCP plus its IPv6 link-local. */
	fx->net.n = 0;
	add_addr(&fx->net, "lo", 1, IFF_LOOPBACK, false, "127.0.0.1");
	add_addr(&fx->net, "eth0", 2, IFF_UP, true, "192.168.1.14");
	add_addr(&fx->net, "eth0", 2, IFF_UP, true, "fe80::215:5dff:fe00:1");
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v4), 0);
	assert_int_equal(kvp_auto_enumerate(fx->a, 2, &key, &v4), 0);
	assert_string_equal(v4, "192.168.1.14");
	assert_int_equal(kvp_auto_enumerate(fx->a, 3, &key, &v6), 0);
	assert_string_equal(v6, "fe80::215:5dff:fe00:1");
}

static void test_snapshot_per_walk(void **state)
{
	Fixture *fx = *state;
	const char *key, *v;

	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_int_equal(fx->net.calls, 1);
	/* The network changes mid-walk: positions 2 and 3 still serve the walk's snapshot. */
	fx->net.n = 0;
	add_addr(&fx->net, "eth0", 4, IFF_UP, true, "10.9.9.9");
	assert_int_equal(kvp_auto_enumerate(fx->a, 2, &key, &v), 0);
	assert_string_equal(v, "10.0.0.5;10.0.0.6;192.168.50.7");
	assert_int_equal(kvp_auto_enumerate(fx->a, 3, &key, &v), 0);
	assert_int_equal(fx->net.calls, 1);
	/* The next walk sees the change. */
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_int_equal(kvp_auto_enumerate(fx->a, 2, &key, &v), 0);
	assert_string_equal(v, "10.9.9.9");
	assert_int_equal(kvp_auto_enumerate(fx->a, 3, &key, &v), 0);
	assert_string_equal(v, "");
	assert_int_equal(fx->net.calls, 2);
}

static void test_netinfo_failure_keeps_snapshot(void **state)
{
	Fixture *fx = *state;
	const char *key, *v;

	/* Failing before any snapshot: empty lists, not an error to the host. */
	fx->net.error = -EIO;
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_int_equal(kvp_auto_enumerate(fx->a, 2, &key, &v), 0);
	assert_string_equal(v, "");

	fx->net.error = 0;
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	fx->net.error = -ENOBUFS;
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_int_equal(kvp_auto_enumerate(fx->a, 2, &key, &v), 0);
	assert_string_equal(v, "10.0.0.5;10.0.0.6;192.168.50.7");
}

typedef struct SetterArgs {
	KvpAuto *a;
	const char *fqdn;
} SetterArgs;

static void *setter_thread(void *p)
{
	SetterArgs *s = p;

	for (int i = 0; i < 1000; i++)
		kvp_auto_set_fqdn(s->a, i % 2 ? "other.example.com" : s->fqdn);
	kvp_auto_set_fqdn(s->a, s->fqdn);
	return NULL;
}

static void test_fqdn_update(void **state)
{
	Fixture *fx = *state;
	SetterArgs args = { .a = fx->a, .fqdn = "testvm.corp.example.com" };
	const char *key, *v;
	pthread_t t;

	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_string_equal(v, "testvm");

	/* From another thread, as the resolver does, racing with the manager's reads. */
	assert_int_equal(pthread_create(&t, NULL, setter_thread, &args), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(kvp_auto_get(fx->a, "FullyQualifiedDomainName", &v), 0);
		assert_true(strcmp(v, "testvm") == 0 || strcmp(v, args.fqdn) == 0 ||
			    strcmp(v, "other.example.com") == 0);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_string_equal(key, "FullyQualifiedDomainName");
	assert_string_equal(v, "testvm.corp.example.com");
	/* Served again unchanged while nothing new arrives. */
	assert_int_equal(kvp_auto_get(fx->a, "FullyQualifiedDomainName", &v), 0);
	assert_string_equal(v, "testvm.corp.example.com");
}

static void test_long_address_list_truncated(void **state)
{
	Fixture *fx = *state;
	char full[8192] = "", addr[INET6_ADDRSTRLEN];
	size_t full_len = 0, count = 0;
	const char *key, *v;

	fx->net.n = 0;
	for (int i = 0; i < 200; i++) {
		/* 39-character addresses: 26 of them (26*40-1 = 1039) no longer fit 1022. */
		snprintf(addr, sizeof(addr), "2001:0db8:85a3:1234:5678:9abc:def0:%04x", i);
		add_addr(&fx->net, "eth0", 2, IFF_UP, true, addr);
		full_len += (size_t)snprintf(full + full_len, sizeof(full) - full_len, "%s%s",
					     i ? ";" : "", addr);
	}
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_int_equal(kvp_auto_enumerate(fx->a, 3, &key, &v), 0);
	assert_true(strlen(v) <= KVP_HOST_VALUE_UNITS);
	assert_true(strlen(v) > KVP_HOST_VALUE_UNITS - 40); /* as many as fit */
	/* A prefix of the full list that ends exactly at a boundary, never with ';'. */
	assert_memory_equal(v, full, strlen(v));
	assert_int_equal(full[strlen(v)], ';');
	assert_int_not_equal(v[strlen(v) - 1], ';');
	for (const char *p = v; p; p = strchr(p, ';'), p = p ? p + 1 : NULL)
		count++;
	assert_int_equal(count, 25);
	assert_int_equal(strlen(v), 25 * 40 - 1);
}

static void test_values_host_safe(void **state)
{
	Fixture *fx = *state;
	char big[4096];
	const char *key, *v;
	size_t n = 0;

	/* Invalid UTF-8 from the kernel or a hostname becomes '?', never a failed reply. */
	kvp_auto_set_version(fx->a, "3.\xff\xc0\xaf\x31"); /* \x31 is '1' */
	assert_int_equal(kvp_auto_enumerate(fx->a, 1, &key, &v), 0);
	assert_string_equal(v, "3.???1");

	/* 3000 ASCII bytes: cut to 1022 units (the kernel would cut anyway, but blindly). */
	memset(big, 'a', 3000);
	big[3000] = '\0';
	kvp_auto_set_fqdn(fx->a, big);
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_int_equal(strlen(v), KVP_HOST_VALUE_UNITS);

	/* Three-byte characters: 1022 units are 3066 bytes, too big for the field: < 2048. */
	for (n = 0; n + 3 < sizeof(big); n += 3)
		memcpy(big + n, "\xe2\x82\xac", 3);
	big[n] = '\0';
	kvp_auto_set_fqdn(fx->a, big);
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_int_equal(strlen(v), 2046); /* 682 characters, cut at a boundary */
	assert_true(utf8_is_valid(v, strlen(v)));

	/* Four-byte characters count two units: 511 of them, 2044 bytes. */
	for (n = 0; n + 4 < sizeof(big); n += 4)
		memcpy(big + n, "\xf0\x9f\x98\x80", 4);
	big[n] = '\0';
	kvp_auto_set_fqdn(fx->a, big);
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_int_equal(strlen(v), 511 * 4);
	assert_int_equal(utf8_utf16_units(v, strlen(v)), KVP_HOST_VALUE_UNITS);
	assert_true(utf8_is_valid(v, strlen(v)));

	/* A truncated sequence at the end of the input. */
	kvp_auto_set_fqdn(fx->a, "host\xe2\x82");
	assert_int_equal(kvp_auto_enumerate(fx->a, 0, &key, &v), 0);
	assert_string_equal(v, "host??");
}

static void test_os_release_variants(void **state)
{
	Fixture *fx = *state;
	KvpAuto *a = NULL;
	const char *v;

	/* Missing file: sysname stands in, versions empty; not an error. */
	fx->opts.os_release_path = "/nonexistent/os-release";
	assert_int_equal(kvp_auto_new(&fx->opts, &a), 0);
	assert_int_equal(kvp_auto_get(a, "OSName", &v), 0);
	assert_string_equal(v, "Linux");
	assert_int_equal(kvp_auto_get(a, "OSMajorVersion", &v), 0);
	assert_string_equal(v, "");
	a = kvp_auto_free(a);
	assert_null(a);

	/* A NAME that is not UTF-8 is made safe. */
	write_file(fx->os_release, "NAME=\"Bad\xfe\"\nVERSION_ID=12\n");
	fx->opts.os_release_path = fx->os_release;
	assert_int_equal(kvp_auto_new(&fx->opts, &a), 0);
	assert_int_equal(kvp_auto_get(a, "OSName", &v), 0);
	assert_string_equal(v, "Bad?");
	assert_int_equal(kvp_auto_get(a, "OSMajorVersion", &v), 0);
	assert_string_equal(v, "12");
	assert_int_equal(kvp_auto_get(a, "OSMinorVersion", &v), 0);
	assert_string_equal(v, "");
	kvp_auto_free(a);

	/* uname failing is an error at creation. */
	fx->opts.uname_fn = failing_uname;
	a = NULL;
	assert_int_equal(kvp_auto_new(&fx->opts, &a), -EIO);
	assert_null(a);
	assert_null(kvp_auto_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_positions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_excluded_primary_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_excludes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_nic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_per_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_netinfo_failure_keeps_snapshot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fqdn_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_address_list_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_host_safe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_os_release_variants, setup, teardown),
	};

	return cmocka_run_group_tests_name("kvp-auto", tests, NULL, NULL);
}
