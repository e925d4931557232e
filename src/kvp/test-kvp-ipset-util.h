/* SPDX-License-Identifier: MIT */
/* Fixture and helpers shared by test-kvp-ipset.c and test-kvp-ipset-rollback.c. */
#pragma once

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

static inline char *path_in(const Fixture *f, const char *rel)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s%s", f->root, rel) > 0);
	return p;
}

static inline void write_file(const char *path, const char *content, mode_t mode)
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

static inline void write_in(const Fixture *f, const char *rel, const char *content, mode_t mode)
{
	char *p = path_in(f, rel);

	write_file(p, content, mode);
	free(p);
}

/* Content of root-relative rel, or NULL if absent. */
static inline char *read_in(const Fixture *f, const char *rel)
{
	char *p = path_in(f, rel), *text = NULL;
	int r = read_full_file_at(AT_FDCWD, p, 1 << 20, &text, NULL);

	free(p);
	if (r == -ENOENT)
		return NULL;
	assert_int_equal(r, 0);
	return text;
}

static inline mode_t mode_in(const Fixture *f, const char *rel)
{
	char *p = path_in(f, rel);
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

static inline char *golden(const char *name)
{
	char path[4096], *text = NULL;
	const char *dir = getenv("TESTDATA");

	if (!dir)
		fail_msg("TESTDATA is not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/ipconfig/%s.golden", dir, name);
	assert_int_equal(read_full_file_at(AT_FDCWD, path, 1 << 20, &text, NULL), 0);
	return text;
}

static inline void assert_file_is_golden(const Fixture *f, const char *rel, const char *name)
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
static inline void make_fake(Fixture *f, char *dst, size_t size, const char *name)
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

static inline int setup(void **state)
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

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline int teardown(void **state)
{
	Fixture *f = *state;

	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static inline KvpIpSet *make_set(const Fixture *f, KvpIpBackend backend, uint64_t timeout_usec)
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

static inline void set_field(char *dst, size_t size, const char *src)
{
	assert_true(strlen(src) < size);
	memcpy(dst, src, strlen(src) + 1);
}

static inline KvpIpInfo *req_new(const char *guid, const char *ip, const char *subnet,
				 const char *gw, const char *dns, uint8_t dhcp)
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

static inline KvpIpInfo *req_static4(void)
{
	return req_new("{F8615163-DF3E-46C5-913F-F2D2F965ED0E}", "192.168.1.14;192.168.1.15",
		       "255.255.255.0;255.255.0.0", "192.168.1.1", "192.168.1.2;192.168.1.3", 0);
}

static inline int apply(const Fixture *f, KvpIpBackend backend, KvpIpInfo *req)
{
	KvpIpSet *s = make_set(f, backend, 0);
	int r = kvp_ipset_apply(s, req);

	kvp_ipset_free(s);
	free(req);
	return r;
}

/* The helper log with the root replaced by "ROOT" and nmcli's --wait value by "N". */
static inline char *helper_log(const Fixture *f)
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

static inline void assert_log(const Fixture *f, const char *want)
{
	char *got = helper_log(f);

	if (strcmp(got, want) != 0)
		fail_msg("helper log:\n%s\nexpected:\n%s", got, want);
	free(got);
}
