/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO end to end on a temporary root: files written per back-end (compared with
 * the golden files), the helper commands run (fake nmcli/networkctl/... scripts that log
 * their arguments), detection, nothing written for invalid requests, rollback on helper
 * failure or timeout, and the hv_set_ifconfig executable ($HV_SET_IFCONFIG).
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

#define GUID "{f8615163-df3e-46c5-913f-f2d2f965ed0e}"
#define NM_FILE "/etc/NetworkManager/system-connections/hvguest-eth0.nmconnection"
#define NETWORKD_FILE "/etc/systemd/network/10-hvguest-eth0.network"
#define NETPLAN_FILE "/etc/netplan/90-hvguest-eth0.yaml"
#define IFUPDOWN_FILE "/etc/network/interfaces.d/hvguest-eth0"
#define IFCFG_FILE "/etc/sysconfig/network-scripts/ifcfg-eth0"

typedef struct Fixture {
	char root[64];
	char bin[128];
	char sysfs[128], proc[128], state[128];
	char nmcli[160], networkctl[160], netplan[160], ifup[160], ifdown[160], script[160];
} Fixture;

static char *path_in(const Fixture *f, const char *rel)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s%s", f->root, rel) > 0);
	return p;
}

static void write_file(const char *path, const char *content, mode_t mode)
{
	char dir[4096];
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(loop_write(fd, content, strlen(content)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void write_in(const Fixture *f, const char *rel, const char *content, mode_t mode)
{
	char *p = path_in(f, rel);

	write_file(p, content, mode);
	free(p);
}

/* Content of root-relative rel, or NULL if absent. */
static char *read_in(const Fixture *f, const char *rel)
{
	char *p = path_in(f, rel), *text = NULL;
	int r = read_full_file_at(AT_FDCWD, p, 1 << 20, &text, NULL);

	free(p);
	if (r == -ENOENT)
		return NULL;
	assert_int_equal(r, 0);
	return text;
}

static mode_t mode_in(const Fixture *f, const char *rel)
{
	char *p = path_in(f, rel);
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

static char *golden(const char *name)
{
	char path[4096], *text = NULL;
	const char *dir = getenv("TESTDATA");

	if (!dir)
		fail_msg("TESTDATA is not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/ipconfig/%s.golden", dir, name);
	assert_int_equal(read_full_file_at(AT_FDCWD, path, 1 << 20, &text, NULL), 0);
	return text;
}

static void assert_file_is_golden(const Fixture *f, const char *rel, const char *name)
{
	char *want = golden(name), *got = read_in(f, rel);

	if (!got)
		fail_msg("%s was not written", rel);
	if (strcmp(want, got) != 0)
		fail_msg("%s differs from %s.golden:\n%s", rel, name, got);
	free(want);
	free(got);
}

/*
 * A fake helper: logs "<name> <args>" to <root>/log; fails with a message on stderr when
 * <root>/fail-<name> exists and its content occurs in the arguments; sleeps when
 * <root>/sleep-<name> exists; copies file arguments it is given to <root>/seen-<n>.
 */
static void make_fake(Fixture *f, char *dst, size_t size, const char *name)
{
	char *script = NULL;

	snprintf(dst, size, "%s/%s", f->bin, name);
	assert_true(asprintf(&script,
			     "#!/bin/sh\n"
			     "echo \"%1$s $*\" >> '%2$s/log'\n"
			     "if [ -e '%2$s/sleep-%1$s' ]; then sleep 30; fi\n"
			     "if [ -e '%2$s/fail-%1$s' ]; then\n"
			     "  pat=$(cat '%2$s/fail-%1$s')\n"
			     "  case \"$*\" in *\"$pat\"*) echo \"Error: fake %1$s failure\" >&2; "
			     "echo second line >&2; exit 4;; esac\n"
			     "fi\n"
			     "n=0; for a in \"$@\"; do n=$((n+1)); "
			     "if [ -f \"$a\" ]; then cp \"$a\" '%2$s/seen-'$n; fi; done\n"
			     "exit 0\n",
			     name, f->root) > 0);
	write_file(dst, script, 0755);
	free(script);
}

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/test-kvp-ipset-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->bin, sizeof(f->bin), "%s/bin", f->root);
	snprintf(f->sysfs, sizeof(f->sysfs), "%s/sys", f->root);
	snprintf(f->proc, sizeof(f->proc), "%s/proc", f->root);
	snprintf(f->state, sizeof(f->state), "%s/var/lib/hyperv", f->root);
	assert_int_equal(mkdir_p(f->proc, 0755), 0);
	make_fake(f, f->nmcli, sizeof(f->nmcli), "nmcli");
	make_fake(f, f->networkctl, sizeof(f->networkctl), "networkctl");
	make_fake(f, f->netplan, sizeof(f->netplan), "netplan");
	make_fake(f, f->ifup, sizeof(f->ifup), "ifup");
	make_fake(f, f->ifdown, sizeof(f->ifdown), "ifdown");
	make_fake(f, f->script, sizeof(f->script), "hv_set_ifconfig");
	write_in(f, "/sys/class/net/eth0/address", "00:15:5d:12:34:56\n", 0644);
	write_in(f, "/sys/class/net/eth0/device/device_id",
		 "{F8615163-DF3E-46C5-913F-F2D2F965ED0E}\n", 0644);
	write_in(f, "/sys/class/net/eth1/address", "00:15:5d:12:34:57\n", 0644);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	Fixture *f = *state;

	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static KvpIpSet *make_set(const Fixture *f, KvpIpBackend backend, uint64_t timeout_usec)
{
	KvpIpSetOptions o = {
		.backend = backend,
		.root = f->root,
		.state_dir = f->state,
		.proc_dir = f->proc,
		.sysfs_dir = f->sysfs,
		.nmcli = f->nmcli,
		.networkctl = f->networkctl,
		.netplan = f->netplan,
		.ifup = f->ifup,
		.ifdown = f->ifdown,
		.set_ifconfig = f->script,
		.timeout_usec = timeout_usec,
	};
	KvpIpSet *s = NULL;

	assert_int_equal(kvp_ipset_new(&o, &s), 0);
	return s;
}

static void set_field(char *dst, size_t size, const char *src)
{
	assert_true(strlen(src) < size);
	memcpy(dst, src, strlen(src) + 1);
}

static KvpIpInfo *req_new(const char *guid, const char *ip, const char *subnet, const char *gw,
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
	return r;
}

static KvpIpInfo *req_static4(void)
{
	return req_new("{F8615163-DF3E-46C5-913F-F2D2F965ED0E}", "192.168.1.14;192.168.1.15",
		       "255.255.255.0;255.255.0.0", "192.168.1.1", "192.168.1.2;192.168.1.3", 0);
}

static int apply(const Fixture *f, KvpIpBackend backend, KvpIpInfo *req)
{
	KvpIpSet *s = make_set(f, backend, 0);
	int r = kvp_ipset_apply(s, req);

	kvp_ipset_free(s);
	free(req);
	return r;
}

/* The helper log with the root replaced by "ROOT" and nmcli's --wait value by "N". */
static char *helper_log(const Fixture *f)
{
	char *log = read_in(f, "/log"), *out, *o;
	size_t rl = strlen(f->root);

	if (!log)
		return strdup("");
	out = calloc(1, strlen(log) + 1);
	assert_non_null(out);
	o = out;
	for (const char *p = log; *p;) {
		if (strncmp(p, f->root, rl) == 0) {
			o = stpcpy(o, "ROOT");
			p += rl;
		} else if (strncmp(p, "--wait ", 7) == 0) {
			o = stpcpy(o, "--wait N");
			p += 7;
			while (*p >= '0' && *p <= '9')
				p++;
		} else {
			*o++ = *p++;
		}
	}
	free(log);
	return out;
}

static void assert_log(const Fixture *f, const char *want)
{
	char *got = helper_log(f);

	if (strcmp(got, want) != 0)
		fail_msg("helper log:\n%s\nexpected:\n%s", got, want);
	free(got);
}

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
		cmocka_unit_test_setup_teardown(test_reapply_replaces, setup, teardown),
		cmocka_unit_test(test_options),
		cmocka_unit_test_setup_teardown(test_hv_set_ifconfig, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
