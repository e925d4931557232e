/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO end to end: the host injects a configuration through the simulated kernel,
 * hv_kvp_daemon validates it, finds the NIC by its VMBus GUID (a fake sysfs tree here),
 * writes a systemd-networkd file below a test root and applies it with a fake networkctl
 * that records its arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hv-status.h"
#include "integration-util.h"

#define GUID "{f5d5a1e1-6c1c-4c9b-9b0a-2a3c1d2e3f40}"
#define NETWORK_FILE "/etc/systemd/network/10-hvguest-hv0.network"

typedef struct Ctx {
	Guest g;
	char dir[512]; /* per-test scratch: root/, tools/, sys/, hvguest.conf */
} Ctx;

static void write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(loop_write(fd, text, strlen(text)), 0);
	close(fd);
}

static char *read_text(const Ctx *c, const char *rel)
{
	char path[1024], *data = NULL;
	size_t size;

	snprintf(path, sizeof(path), "%s%s", c->dir, rel);
	if (read_full_file_at(AT_FDCWD, path, 1 << 20, &data, &size) < 0)
		return NULL;
	return data;
}

static int setup(void **state)
{
	static unsigned n;
	Ctx *c = calloc(1, sizeof(*c));
	char sub[600], conf[600], root[600], tools[600], sys[600];

	assert_non_null(c);
	assert_non_null(it_sim());
	snprintf(c->dir, sizeof(c->dir), "%s/ipset-%u", hostsim_scratch_dir(it_sim()), ++n);
	/* The test root the daemon writes below, as "/" would be in production. */
	snprintf(sub, sizeof(sub), "%s/root/etc/systemd/network", c->dir);
	assert_int_equal(mkdir_p(sub, 0755), 0);
	/* A fake sysfs entry tying hv0 (the simulator's NIC) to its VMBus GUID. */
	snprintf(sub, sizeof(sub), "%s/sys/class/net/hv0/device", c->dir);
	assert_int_equal(mkdir_p(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/sys/class/net/hv0", c->dir);
	write_text(sub, "address", "00:15:5d:12:34:56\n", 0644);
	snprintf(sub, sizeof(sub), "%s/sys/class/net/hv0/device", c->dir);
	write_text(sub, "device_id", GUID "\n", 0644);
	/* networkctl: records its arguments; fails while "<dir>/fail" exists. */
	snprintf(sub, sizeof(sub), "%s/tools", c->dir);
	assert_int_equal(mkdir_p(sub, 0755), 0);
	char script[2048];
	snprintf(script, sizeof(script),
		 "#!/bin/sh\necho \"$@\" >> %s/networkctl.log\n[ -e %s/fail ] && exit 1\nexit 0\n",
		 c->dir, c->dir);
	write_text(sub, "networkctl", script, 0755);
	write_text(c->dir, "hvguest.conf", "[kvp]\nip_backend = networkd\nip_apply_timeout = 5s\n",
		   0644);

	snprintf(conf, sizeof(conf), "--config=%s/hvguest.conf", c->dir);
	snprintf(root, sizeof(root), "--root-dir=%s/root", c->dir);
	snprintf(tools, sizeof(tools), "--tools-dir=%s/tools", c->dir);
	snprintf(sys, sizeof(sys), "--sysfs-dir=%s/sys", c->dir);
	char *extra[] = { conf, root, tools, sys, NULL };
	assert_int_equal(it_start(&c->g, false, extra), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	Ctx *c = *state;

	it_stop(&c->g);
	free(c);
	return 0;
}

static HostKvpIpInfo *request(const char *guid, const char *ip, const char *mask, const char *gw,
			      const char *dns)
{
	static HostKvpIpInfo cfg;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.adapter_id, sizeof(cfg.adapter_id), "%s", guid);
	cfg.addr_family = 1;
	snprintf(cfg.ip_addr, sizeof(cfg.ip_addr), "%s", ip);
	snprintf(cfg.sub_net, sizeof(cfg.sub_net), "%s", mask);
	snprintf(cfg.gate_way, sizeof(cfg.gate_way), "%s", gw);
	snprintf(cfg.dns_addr, sizeof(cfg.dns_addr), "%s", dns);
	return &cfg;
}

static void test_inject_static_ipv4(void **state)
{
	Ctx *c = *state;
	uint32_t status = 0;
	char *file, *log;

	/* What Microsoft's validation suite injects; the host sends the GUID upper-case. */
	assert_int_equal(hostsim_kvp_set_ip_info(c->g.sim,
						 request("{F5D5A1E1-6C1C-4C9B-9B0A-2A3C1D2E3F40}",
							 "192.168.1.14", "255.255.255.0",
							 "192.168.1.1", "192.168.1.2"),
						 &status),
			 0);
	assert_int_equal(status, HV_S_OK);

	file = read_text(c, "/root" NETWORK_FILE);
	assert_non_null(file);
	assert_non_null(strstr(file, "Address=192.168.1.14/24"));
	assert_non_null(strstr(file, "Gateway=192.168.1.1"));
	assert_non_null(strstr(file, "DNS=192.168.1.2"));
	assert_non_null(strstr(file, "MACAddress=00:15:5d:12:34:56"));
	free(file);
	log = read_text(c, "/networkctl.log");
	assert_non_null(log);
	assert_non_null(strstr(log, "reload"));
	free(log);
}

static void test_hostile_values_write_nothing(void **state)
{
	static const char *const bad_ips[] = {
		"192.168.1.14\nDNS=1.1.1.1",
		"$(touch /tmp/pwned)",
		"192.168.1.14\"",
		"192.168.1.300",
		"192.168.1.14;192.168.1.15",
	};
	Ctx *c = *state;
	uint32_t status;

	for (size_t i = 0; i < ELEMENTSOF(bad_ips); i++) {
		status = 0;
		assert_int_equal(hostsim_kvp_set_ip_info(c->g.sim,
							 request(GUID, bad_ips[i], "255.255.255.0",
								 "192.168.1.1", "192.168.1.2"),
							 &status),
				 0);
		if (status != HV_INVALIDARG)
			fail_msg("'%s' answered 0x%08x", bad_ips[i], status);
	}
	char *file = read_text(c, "/root" NETWORK_FILE);
	char *log = read_text(c, "/networkctl.log");
	assert_null(file);
	assert_null(log); /* nothing was applied either */
	assert_int_equal(access("/tmp/pwned", F_OK), -1);
}

static void test_unknown_guid(void **state)
{
	Ctx *c = *state;
	uint32_t status = 0;

	assert_int_equal(hostsim_kvp_set_ip_info(c->g.sim,
						 request("{00000000-0000-0000-0000-000000000001}",
							 "192.168.1.14", "255.255.255.0",
							 "192.168.1.1", "192.168.1.2"),
						 &status),
			 0);
	assert_int_equal(status, HV_GUID_NOTFOUND);
	assert_null(read_text(c, "/root" NETWORK_FILE));
}

static void test_failed_apply_rolls_back(void **state)
{
	Ctx *c = *state;
	uint32_t status = 0;
	char *before, *after;

	assert_int_equal(hostsim_kvp_set_ip_info(c->g.sim,
						 request(GUID, "192.168.1.14", "255.255.255.0",
							 "192.168.1.1", "192.168.1.2"),
						 &status),
			 0);
	assert_int_equal(status, HV_S_OK);
	before = read_text(c, "/root" NETWORK_FILE);
	assert_non_null(before);

	/* The network manager refuses the next configuration. */
	write_text(c->dir, "fail", "", 0644);
	assert_int_equal(hostsim_kvp_set_ip_info(
				 c->g.sim,
				 request(GUID, "10.0.0.5", "255.0.0.0", "10.0.0.1", "10.0.0.2"),
				 &status),
			 0);
	assert_int_equal(status, HV_E_FAIL);
	after = read_text(c, "/root" NETWORK_FILE);
	assert_non_null(after);
	assert_string_equal(after, before);
	free(before);
	free(after);

	/* The daemon keeps serving. */
	HostKvpReply r;
	assert_int_equal(hostsim_kvp_enumerate(c->g.sim, 2, 0, &r), 0);
	assert_int_equal(r.status, HV_S_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inject_static_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_values_write_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_guid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_apply_rolls_back, setup, teardown),
	};

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "needs root and /dev/fuse\n");
		return 77;
	}
	if (!it_sim())
		return 1;
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	hostsim_free(it_sim());
	return r;
}
