/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO end to end on a temporary root: files written per back-end (compared with
 * the golden files), the helper commands run (fake nmcli/networkctl/... scripts that log
 * their arguments), re-applying, options, and the hv_set_ifconfig executable
 * ($HV_SET_IFCONFIG). Detection and rollback are in test-kvp-ipset-rollback.c.
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

static void test_networkmanager(void **state)
{
	Fixture *f = *state;
	char uuid[KVP_UUID_BUFSIZE], want[512];
	KvpNic nic = { .ifname = "eth0", .mac = "00:15:5d:12:34:56", .guid = GUID };

	assert_int_equal(apply(f, KVP_IP_BACKEND_NETWORKMANAGER, req_static4()), 0);
	assert_file_is_golden(f, NM_FILE, "networkmanager-static4");
	assert_int_equal(mode_in(f, NM_FILE), 0600);
	kvp_ipconfig_nm_uuid(&nic, uuid);
	snprintf(want, sizeof(want),
		 "nmcli connection load ROOT" NM_FILE "\n"
		 "nmcli --wait N connection up uuid %s\n",
		 uuid);
	assert_log(f, want);
}

static void test_networkd(void **state)
{
	Fixture *f = *state;

	assert_int_equal(apply(f, KVP_IP_BACKEND_NETWORKD, req_static4()), 0);
	assert_file_is_golden(f, NETWORKD_FILE, "networkd-static4");
	assert_int_equal(mode_in(f, NETWORKD_FILE), 0644);
	assert_log(f, "networkctl reload\nnetworkctl reconfigure eth0\n");
}

static void test_netplan(void **state)
{
	Fixture *f = *state;

	assert_int_equal(apply(f, KVP_IP_BACKEND_NETPLAN, req_static4()), 0);
	assert_file_is_golden(f, NETPLAN_FILE, "netplan-static4");
	assert_int_equal(mode_in(f, NETPLAN_FILE), 0600);
	assert_log(f, "netplan apply\n");
}

static void test_ifupdown(void **state)
{
	Fixture *f = *state;

	assert_int_equal(apply(f, KVP_IP_BACKEND_IFUPDOWN, req_static4()), 0);
	assert_file_is_golden(f, IFUPDOWN_FILE, "ifupdown-static4");
	assert_int_equal(mode_in(f, IFUPDOWN_FILE), 0644);
	assert_log(f, "ifdown --force eth0\nifup eth0\n");
}

static void test_ifcfg(void **state)
{
	Fixture *f = *state;
	char *p;

	/* without NetworkManager: initscripts */
	assert_int_equal(apply(f, KVP_IP_BACKEND_IFCFG, req_static4()), 0);
	assert_file_is_golden(f, IFCFG_FILE, "ifcfg-static4");
	assert_int_equal(mode_in(f, IFCFG_FILE), 0644);
	assert_log(f, "ifdown eth0\nifup eth0\n");

	/* with NetworkManager running: its ifcfg-rh plugin */
	p = path_in(f, "/log");
	assert_int_equal(unlink(p), 0);
	free(p);
	write_in(f, "/proc/4242/comm", "NetworkManager\n", 0644);
	assert_int_equal(apply(f, KVP_IP_BACKEND_IFCFG, req_static4()), 0);
	assert_log(f, "nmcli connection reload\nnmcli --wait N connection up ifname eth0\n");
}

static void test_script(void **state)
{
	Fixture *f = *state;
	char *want, *got;

	assert_int_equal(apply(f, KVP_IP_BACKEND_SCRIPT, req_static4()), 0);
	assert_log(f, "hv_set_ifconfig ROOT/var/lib/hyperv/ifcfg-eth0 "
		      "ROOT/var/lib/hyperv/eth0.nmconnection\n");
	/* what the script saw, upstream's arguments in upstream's order */
	want = golden("script-ifcfg-static4");
	got = read_in(f, "/seen-1");
	assert_non_null(got);
	assert_string_equal(got, want);
	free(want);
	free(got);
	want = golden("networkmanager-static4");
	got = read_in(f, "/seen-2");
	assert_non_null(got);
	assert_string_equal(got, want);
	free(want);
	free(got);
	assert_int_equal(mode_in(f, "/var/lib/hyperv/ifcfg-eth0"), 0600);
}

static void test_reapply_replaces(void **state)
{
	Fixture *f = *state;
	char *dir;
	DIR *d;
	struct dirent *de;

	assert_int_equal(apply(f, KVP_IP_BACKEND_NETWORKD, req_static4()), 0);
	assert_int_equal(apply(f, KVP_IP_BACKEND_NETWORKD, req_new(GUID, "", "", "", "", 1)), 0);
	assert_file_is_golden(f, NETWORKD_FILE, "networkd-dhcp4");
	/* no temporary file left behind for networkd to pick up */
	dir = path_in(f, "/etc/systemd/network");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || strncmp(de->d_name, ".hvguest", 8) == 0)
			assert_string_equal(de->d_name, "10-hvguest-eth0.network");
	closedir(d);
	free(dir);
}

static void test_options(void **state)
{
	KvpIpSetOptions o = { .backend = KVP_IP_BACKEND_AUTO, .nmcli = "nmcli" };
	KvpIpSet *s = NULL;

	/* helpers are spawned by path, never looked up */
	assert_int_equal(kvp_ipset_new(&o, &s), -EINVAL);
	o.nmcli = NULL;
	o.backend = _KVP_IP_BACKEND_MAX;
	assert_int_equal(kvp_ipset_new(&o, &s), -EINVAL);
	o.backend = KVP_IP_BACKEND_AUTO;
	assert_int_equal(kvp_ipset_new(&o, &s), 0);
	kvp_ipset_free(s);

	for (int b = 0; b < _KVP_IP_BACKEND_MAX; b++)
		assert_int_equal(kvp_ip_backend_from_string(kvp_ip_backend_to_string(b)), b);
	assert_int_equal(kvp_ip_backend_from_string("NetworkManager"), _KVP_IP_BACKEND_INVALID);
	assert_null(kvp_ip_backend_to_string(_KVP_IP_BACKEND_MAX));
}

/* The installed compatibility helper, run as upstream's daemon runs it. */
static void test_hv_set_ifconfig(void **state)
{
	Fixture *f = *state;
	const char *exe = getenv("HV_SET_IFCONFIG");
	char *in = path_in(f, "/in/ifcfg-eth0"), *text = golden("script-ifcfg-mixed");
	char root_arg[128], sysfs_arg[160], proc_arg[160], nmcli_arg[200];
	HookResult res = { 0 };

	if (!exe)
		skip();
	write_file(in, text, 0600);
	free(text);
	snprintf(root_arg, sizeof(root_arg), "--root=%s", f->root);
	snprintf(sysfs_arg, sizeof(sysfs_arg), "--sysfs=%s", f->sysfs);
	snprintf(proc_arg, sizeof(proc_arg), "--proc=%s", f->proc);
	snprintf(nmcli_arg, sizeof(nmcli_arg), "--nmcli=%s", f->nmcli);
	{
		const char *argv[] = {
			exe, "--backend=networkmanager",  root_arg, sysfs_arg, proc_arg, nmcli_arg,
			in,  "/nonexistent.nmconnection", NULL
		};

		assert_int_equal(hook_run(argv, NULL, 10000000u, &res), 0);
		if (!hook_result_success(&res))
			fail_msg("hv_set_ifconfig failed: %s", res.err);
		hook_result_done(&res);
	}
	/* the interface's GUID came from sysfs, so the profile is the daemon's own one */
	assert_file_is_golden(f, NM_FILE, "networkmanager-mixed");

	/* hostile content: refused, nothing run */
	write_file(in, "HWADDR=00:15:5D:12:34:56\nDEVICE=eth0\nIPADDR0=$(reboot)\nNETMASK0=8\n",
		   0600);
	{
		const char *argv[] = { exe, root_arg, sysfs_arg, proc_arg, nmcli_arg, in, NULL };
		char *log_before = helper_log(f), *log_after;

		assert_int_equal(hook_run(argv, NULL, 10000000u, &res), 0);
		assert_true(res.exited && res.exit_status == 1);
		hook_result_done(&res);
		log_after = helper_log(f);
		assert_string_equal(log_before, log_after);
		free(log_before);
		free(log_after);
	}

	/* HWADDR that is not the interface's */
	write_file(in, "HWADDR=00:15:5D:00:00:01\nDEVICE=eth0\nBOOTPROTO=dhcp\n", 0600);
	{
		const char *argv[] = { exe, root_arg, sysfs_arg, proc_arg, nmcli_arg, in, NULL };

		assert_int_equal(hook_run(argv, NULL, 10000000u, &res), 0);
		assert_true(res.exited && res.exit_status == 1);
		assert_non_null(strstr(res.err, "00:15:5d:00:00:01"));
		hook_result_done(&res);
	}
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_networkmanager, setup, teardown),
		cmocka_unit_test_setup_teardown(test_networkd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_netplan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ifupdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ifcfg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapply_replaces, setup, teardown),
		cmocka_unit_test(test_options),
		cmocka_unit_test_setup_teardown(test_hv_set_ifconfig, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
