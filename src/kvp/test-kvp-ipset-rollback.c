/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO on a temporary root: back-end detection, nothing written for invalid
 * requests, and rollback on helper failure or timeout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fileio.h"
#include "common/hook.h"
#include "kvp/kvp-ipinfo.h"
#include "kvp/kvp-ipset.h"

#include "test-kvp-ipset-util.h"

static void test_detection(void **state)
{
	Fixture *f = *state;
	KvpIpSet *s = make_set(f, KVP_IP_BACKEND_AUTO, 0);
	KvpIpBackend b;
	char *p;

	assert_int_equal(kvp_ipset_detect(s, &b), -EOPNOTSUPP);
	p = path_in(f, "/etc/sysconfig/network-scripts");
	assert_int_equal(mkdir_p(p, 0755), 0);
	free(p);
	assert_int_equal(kvp_ipset_detect(s, &b), 0);
	assert_int_equal(b, KVP_IP_BACKEND_IFCFG);
	write_in(f, "/etc/network/interfaces", "source /etc/network/interfaces.d/*\n", 0644);
	assert_int_equal(kvp_ipset_detect(s, &b), 0);
	assert_int_equal(b, KVP_IP_BACKEND_IFUPDOWN);
	/* netplan needs a YAML file, not just the directory */
	write_in(f, "/etc/netplan/README", "", 0644);
	assert_int_equal(kvp_ipset_detect(s, &b), 0);
	assert_int_equal(b, KVP_IP_BACKEND_IFUPDOWN);
	write_in(f, "/etc/netplan/50-cloud-init.yaml", "network: {version: 2}\n", 0600);
	assert_int_equal(kvp_ipset_detect(s, &b), 0);
	assert_int_equal(b, KVP_IP_BACKEND_NETPLAN);
	/* "systemd-networkd" as the kernel shows it: comm is cut to 15 bytes */
	write_in(f, "/proc/77/comm", "systemd-network\n", 0644);
	write_in(f, "/proc/self/comm", "NetworkManager\n", 0644); /* not a pid: ignored */
	assert_int_equal(kvp_ipset_detect(s, &b), 0);
	assert_int_equal(b, KVP_IP_BACKEND_NETWORKD);
	write_in(f, "/proc/1234/comm", "NetworkManager\n", 0644);
	assert_int_equal(kvp_ipset_detect(s, &b), 0);
	assert_int_equal(b, KVP_IP_BACKEND_NETWORKMANAGER);
	kvp_ipset_free(s);

	/* a configured back-end is taken as is */
	s = make_set(f, KVP_IP_BACKEND_IFCFG, 0);
	assert_int_equal(kvp_ipset_detect(s, &b), 0);
	assert_int_equal(b, KVP_IP_BACKEND_IFCFG);
	kvp_ipset_free(s);

	/* and auto really writes where it detected */
	assert_int_equal(apply(f, KVP_IP_BACKEND_AUTO, req_static4()), 0);
	assert_file_is_golden(f, NM_FILE, "networkmanager-static4");
}

static void test_no_backend(void **state)
{
	Fixture *f = *state;
	KvpIpSet *s = make_set(f, KVP_IP_BACKEND_AUTO, 0);
	KvpIpInfo *req = req_static4();
	char *etc;

	assert_int_equal(kvp_ipset_apply(s, req), -EOPNOTSUPP);
	assert_true(strlen(kvp_ipset_last_error(s)) > 0);
	etc = path_in(f, "/etc");
	assert_int_equal(access(etc, F_OK), -1);
	free(etc);
	assert_log(f, "");
	kvp_ipset_free(s);
	free(req);
}

/* Appends "path mode content" for path and, recursively, everything below it. */
static void snap(const char *path, char **acc)
{
	struct stat st;
	char *text = NULL, *line = NULL;
	struct dirent **names;
	int n;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISREG(st.st_mode))
		assert_int_equal(read_full_file_at(AT_FDCWD, path, 1 << 20, &text, NULL), 0);
	assert_true(asprintf(&line, "%s%s %o %s\n", *acc, path, (unsigned)st.st_mode,
			     text ? text : "") > 0);
	free(*acc);
	free(text);
	*acc = line;
	if (!S_ISDIR(st.st_mode))
		return;
	/* sorted, so that two snapshots of the same tree compare equal */
	n = scandir(path, &names, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		char *sub = NULL;

		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
			assert_true(asprintf(&sub, "%s/%s", path, names[i]->d_name) > 0);
			snap(sub, acc);
			free(sub);
		}
		free(names[i]);
	}
	free(names);
}

/* Every path, mode and content below root/etc and root/var, for before/after comparisons. */
static char *snapshot(const Fixture *f)
{
	char *acc = strdup(""), *etc = path_in(f, "/etc"), *var = path_in(f, "/var");

	assert_non_null(acc);
	snap(etc, &acc);
	snap(var, &acc);
	free(etc);
	free(var);
	return acc;
}

static void test_invalid_writes_nothing(void **state)
{
	static const struct {
		const char *guid, *ip, *subnet, *gw, *dns;
		uint8_t dhcp;
	} bad[] = {
		{ GUID, "192.168.1.14\n", "24", "", "", 0 },
		{ GUID, "2001:db8::1", "64\nONBOOT=$(touch /tmp/pwned)", "", "", 0 },
		{ GUID, "192.168.1.14", "24", "\"192.168.1.1\"", "", 0 },
		{ GUID, "$(touch /tmp/x)", "24", "", "", 0 },
		{ GUID, "10.0.0.1;10.0.0.2", "24", "", "", 0 },
		{ GUID, "10.0.0.1", "255.0.255.0", "", "", 0 },
		{ GUID, "2001:db8::1", "129", "", "", 0 },
		{ "{f8615163-df3e-46c5-913f-f2d2f965ed0}", "10.0.0.1", "24", "", "", 0 },
		{ "f8615163-df3e-46c5-913f-f2d2f965ed0e", "10.0.0.1", "24", "", "", 0 },
	};
	static const KvpIpBackend backends[] = {
		KVP_IP_BACKEND_NETWORKMANAGER, KVP_IP_BACKEND_NETWORKD, KVP_IP_BACKEND_NETPLAN,
		KVP_IP_BACKEND_IFUPDOWN,       KVP_IP_BACKEND_IFCFG,	KVP_IP_BACKEND_SCRIPT,
	};
	Fixture *f = *state;
	char *before, *after, item300[301];

	/* previous configuration of every kind in place */
	write_in(f, NM_FILE, "old nm\n", 0600);
	write_in(f, NETWORKD_FILE, "old networkd\n", 0644);
	write_in(f, NETPLAN_FILE, "old netplan\n", 0600);
	write_in(f, IFUPDOWN_FILE, "old ifupdown\n", 0644);
	write_in(f, IFCFG_FILE, "old ifcfg\n", 0644);
	write_in(f, "/var/lib/hyperv/ifcfg-eth0", "old script\n", 0600);
	before = snapshot(f);

	for (size_t b = 0; b < ELEMENTSOF(backends); b++) {
		for (size_t i = 0; i < ELEMENTSOF(bad); i++)
			assert_int_equal(apply(f, backends[b],
					       req_new(bad[i].guid, bad[i].ip, bad[i].subnet,
						       bad[i].gw, bad[i].dns, bad[i].dhcp)),
					 -EINVAL);
		/* a 300-byte item */
		memset(item300, '1', 300);
		item300[300] = '\0';
		assert_int_equal(apply(f, backends[b], req_new(GUID, item300, "24", "", "", 0)),
				 -EINVAL);
	}
	after = snapshot(f);
	assert_string_equal(before, after);
	assert_log(f, "");
	assert_int_equal(access("/tmp/pwned", F_OK), -1);
	free(before);
	free(after);
}

static void test_guid_not_found(void **state)
{
	Fixture *f = *state;
	char *before = snapshot(f), *after;

	assert_int_equal(apply(f, KVP_IP_BACKEND_NETWORKD,
			       req_new("{00000000-0000-0000-0000-000000000001}", "10.0.0.1", "8",
				       "", "", 0)),
			 -ENODEV);
	after = snapshot(f);
	assert_string_equal(before, after);
	assert_log(f, "");
	free(before);
	free(after);
}

static void test_unsafe_ifname(void **state)
{
	Fixture *f = *state;
	char *before, *after, *p;

	/* the kernel allows '$' in interface names; no file format could carry it safely */
	p = path_in(f, "/sys/class/net/eth0");
	assert_int_equal(nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(p);
	write_in(f, "/sys/class/net/e$x/address", "00:15:5d:12:34:56\n", 0644);
	write_in(f, "/sys/class/net/e$x/device/device_id", GUID "\n", 0644);
	before = snapshot(f);
	assert_int_equal(apply(f, KVP_IP_BACKEND_NETWORKD, req_static4()), -EOPNOTSUPP);
	after = snapshot(f);
	assert_string_equal(before, after);
	assert_log(f, "");
	free(before);
	free(after);
}

static void test_rollback_restores_previous(void **state)
{
	Fixture *f = *state;
	KvpIpSet *s = make_set(f, KVP_IP_BACKEND_NETWORKMANAGER, 0);
	KvpIpInfo *req = req_static4();
	char *text, uuid[KVP_UUID_BUFSIZE], want[1024];
	KvpNic nic = { .ifname = "eth0", .mac = "00:15:5d:12:34:56", .guid = GUID };

	write_in(f, NM_FILE, "[connection]\nid=previous\n", 0640);
	write_in(f, "/fail-nmcli", "connection up", 0644);
	assert_int_equal(kvp_ipset_apply(s, req), -EIO);
	text = read_in(f, NM_FILE);
	assert_non_null(text);
	assert_string_equal(text, "[connection]\nid=previous\n");
	assert_int_equal(mode_in(f, NM_FILE), 0640);
	free(text);
	kvp_ipconfig_nm_uuid(&nic, uuid);
	snprintf(want, sizeof(want),
		 "nmcli connection load ROOT" NM_FILE "\n"
		 "nmcli --wait N connection up uuid %s\n"
		 "nmcli connection load ROOT" NM_FILE "\n"
		 "nmcli --wait N device connect eth0\n",
		 uuid);
	assert_log(f, want);
	/* the helper's complaint (first line) reaches the caller */
	assert_non_null(strstr(kvp_ipset_last_error(s), "Error: fake nmcli failure"));
	assert_null(strstr(kvp_ipset_last_error(s), "second line"));

	/* once the helper works again the same request goes through */
	text = path_in(f, "/fail-nmcli");
	assert_int_equal(unlink(text), 0);
	free(text);
	assert_int_equal(kvp_ipset_apply(s, req), 0);
	assert_file_is_golden(f, NM_FILE, "networkmanager-static4");
	assert_string_equal(kvp_ipset_last_error(s), "");
	kvp_ipset_free(s);
	free(req);
}

static void test_rollback_removes_new_file(void **state)
{
	Fixture *f = *state;

	write_in(f, "/fail-networkctl", "reconfigure", 0644);
	assert_int_equal(apply(f, KVP_IP_BACKEND_NETWORKD, req_static4()), -EIO);
	assert_null(read_in(f, NETWORKD_FILE));
	assert_log(f, "networkctl reload\nnetworkctl reconfigure eth0\n"
		      "networkctl reload\nnetworkctl reconfigure eth0\n");
}

static void test_rollback_ifupdown(void **state)
{
	Fixture *f = *state;
	char *text;

	write_in(f, IFUPDOWN_FILE, "iface eth0 inet dhcp\n", 0644);
	write_in(f, "/fail-ifup", "eth0", 0644);
	assert_int_equal(apply(f, KVP_IP_BACKEND_IFUPDOWN, req_static4()), -EIO);
	text = read_in(f, IFUPDOWN_FILE);
	assert_string_equal(text, "iface eth0 inet dhcp\n");
	free(text);
	assert_log(f, "ifdown --force eth0\nifup eth0\nifdown --force eth0\nifup eth0\n");
}

static void test_rollback_script(void **state)
{
	Fixture *f = *state;

	/* no previous files: they are removed and the script is not re-run */
	write_in(f, "/fail-hv_set_ifconfig", "ifcfg", 0644);
	assert_int_equal(apply(f, KVP_IP_BACKEND_SCRIPT, req_static4()), -EIO);
	assert_null(read_in(f, "/var/lib/hyperv/ifcfg-eth0"));
	assert_null(read_in(f, "/var/lib/hyperv/eth0.nmconnection"));
	assert_log(f, "hv_set_ifconfig ROOT/var/lib/hyperv/ifcfg-eth0 "
		      "ROOT/var/lib/hyperv/eth0.nmconnection\n");
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void test_timeout_rolls_back(void **state)
{
	Fixture *f = *state;
	KvpIpSet *s = make_set(f, KVP_IP_BACKEND_NETPLAN, 1000000u);
	KvpIpInfo *req = req_static4();
	uint64_t t0 = mono_usec(), took;
	char *text;

	write_in(f, NETPLAN_FILE, "previous\n", 0600);
	write_in(f, "/sleep-netplan", "", 0644);
	assert_int_equal(kvp_ipset_apply(s, req), -EIO);
	took = mono_usec() - t0;
	/* 1 s budget plus a quarter for the rollback's re-apply, with slack for a slow CI */
	assert_true(took < 3000000u);
	assert_non_null(strstr(kvp_ipset_last_error(s), "timed out"));
	free(req);
	kvp_ipset_free(s);
	text = read_in(f, NETPLAN_FILE);
	assert_string_equal(text, "previous\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_detection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guid_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_ifname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_restores_previous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_removes_new_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_ifupdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_script, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_rolls_back, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
