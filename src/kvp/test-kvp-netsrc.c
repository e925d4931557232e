/* SPDX-License-Identifier: MIT */
/* kvp-netsrc fills over fixture trees, with fake helper scripts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "kvp/kvp-netsrc-parse.h"
#include "kvp/kvp-netsrc.h"

#define MSEC 1000ull

static void assert_list_clean(const char *list)
{
	char copy[2048], *save = NULL;

	assert_true(strlen(list) < sizeof(copy));
	snprintf(copy, sizeof(copy), "%s", list);
	assert_true(list[0] == '\0' || list[strlen(list) - 1] == ';');
	for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		unsigned char bin[16];

		assert_true(inet_pton(AF_INET, t, bin) == 1 || inet_pton(AF_INET6, t, bin) == 1);
		assert_null(strstr(t, "127."));
		assert_string_not_equal(t, "::1");
	}
}

/* ---- fills over fixture trees ---- */

typedef struct Fixture {
	char root[64];	  /* the fake "/" */
	char scripts[64]; /* fake nmcli and helpers, outside the root */
	KvpNetSrcOptions opts;
} Fixture;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int fixture_setup(void **state)
{
	Fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->root, sizeof(fx->root), "/tmp/test-netsrc-root-XXXXXX");
	snprintf(fx->scripts, sizeof(fx->scripts), "/tmp/test-netsrc-bin-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	assert_non_null(mkdtemp(fx->scripts));
	fx->opts.root = fx->root;
	fx->opts.nmcli = ""; /* tests opt in */
	*state = fx;
	return 0;
}

static int fixture_teardown(void **state)
{
	Fixture *fx = *state;

	nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(fx->scripts, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Writes root-relative path (parents created) with text. */
static void put(Fixture *fx, const char *path, const char *text)
{
	char full[PATH_MAX], dir[PATH_MAX];
	int fd;

	snprintf(full, sizeof(full), "%s%s", fx->root, path);
	snprintf(dir, sizeof(dir), "%s", full);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(loop_write(fd, text, strlen(text)), 0);
	close(fd);
}

static void put_dir(Fixture *fx, const char *path)
{
	char full[PATH_MAX];

	snprintf(full, sizeof(full), "%s%s", fx->root, path);
	assert_int_equal(mkdir_p(full, 0755), 0);
}

/* Writes an executable /bin/sh script into the scripts dir; returns its path (static). */
static const char *script(Fixture *fx, const char *name, const char *body)
{
	static char path[PATH_MAX];
	char text[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fx->scripts, name);
	snprintf(text, sizeof(text), "#!/bin/sh\nLOG='%s/%s.log'\n%s", fx->scripts, name, body);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(loop_write(fd, text, strlen(text)), 0);
	close(fd);
	return path;
}

/* The log a fake script wrote (its argv lines), or "" if none. */
static char *script_log(Fixture *fx, const char *name)
{
	char path[PATH_MAX];
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/%s.log", fx->scripts, name);
	if (read_full_file_at(AT_FDCWD, path, 65536, &text, NULL) < 0)
		return strdup("");
	return text;
}

static KvpNetSrcReport fill(Fixture *fx, const char *ifname, int ifindex, KvpIpInfo *info)
{
	_cleanup_(kvp_netsrc_freep) KvpNetSrc *s = NULL;
	KvpNetSrcReport rep = { .dns = _KVP_NETSRC_INVALID, .dhcp = _KVP_NETSRC_INVALID };

	assert_int_equal(kvp_netsrc_new(&fx->opts, &s), 0);
	memset(info, 0, sizeof(*info));
	snprintf(info->ip_addr, sizeof(info->ip_addr), "192.0.2.10"); /* must survive */
	info->dhcp_enabled = 7;					      /* must be overwritten */
	assert_int_equal(kvp_netsrc_fill(s, ifname, ifindex, info, &rep), 0);
	assert_string_equal(info->ip_addr, "192.0.2.10");
	assert_true(info->dhcp_enabled <= 1);
	assert_list_clean(info->dns_addr);
	return rep;
}

static const char resolv_stub[] = "# This is /run/systemd/resolve/stub-resolv.conf\n"
				  "nameserver 127.0.0.53\n"
				  "options edns0 trust-ad\n"
				  "search .\n";

static void test_fill_networkd_resolved(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;

	put(fx, "/run/systemd/netif/links/2",
	    "# This is private data. Do not parse.\n"
	    "ADMIN_STATE=configured\n"
	    "OPER_STATE=routable\n"
	    "NETWORK_FILE=/etc/systemd/network/10-eth0.network\n"
	    "NETWORK_FILE_DROPINS=\"\"\n"
	    "DNS=192.0.2.1 192.0.2.2\n"
	    "DHCP_LEASE=/run/systemd/netif/leases/2\n");
	put(fx, "/etc/systemd/network/10-eth0.network", "[Match]\nName=eth0\n[Network]\nDHCP=no\n");
	put(fx, "/run/systemd/resolve/netif/2",
	    "# This is private data. Do not parse.\n"
	    "SERVERS=192.0.2.53 [2001:db8::53]:53#dns.example "
	    "127.0.0.53\n"
	    "DOMAINS=example.com\n");
	put(fx, "/run/systemd/resolve/stub-resolv.conf", resolv_stub);
	put(fx, "/run/systemd/resolve/resolv.conf", "nameserver 198.51.100.1\n");
	put(fx, "/etc/resolv.conf", resolv_stub);

	rep = fill(fx, "eth0", 2, &info);
	/* resolved's per-link servers, not the stub, not the global list. */
	assert_string_equal(info.dns_addr, "192.0.2.53;2001:db8::53;");
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLVED);
	/* A DHCPv4 lease overrides the (stale) configuration. */
	assert_int_equal(info.dhcp_enabled, 1);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NETWORKD);

	/* Another link: only the global files apply. */
	rep = fill(fx, "eth1", 3, &info);
	assert_string_equal(info.dns_addr, "198.51.100.1;");
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLVED_UPSTREAM);
	assert_int_equal(info.dhcp_enabled, 0);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NONE);
}

static void test_fill_networkd_config(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;

	/* No lease yet: the configuration decides, drop-ins (with escaped ':') last. */
	put(fx, "/run/systemd/netif/links/4",
	    "ADMIN_STATE=configuring\n"
	    "NETWORK_FILE=/usr/lib/systemd/network/80-eth.network\n"
	    "NETWORK_FILE_DROPINS=\"/etc/systemd/network/80-eth.network.d/a\\x3ab.conf:"
	    "/etc/systemd/network/80-eth.network.d/z.conf\"\n"
	    "DNS=192.0.2.1 bogus 127.0.0.1 2001:db8::1\n");
	put(fx, "/usr/lib/systemd/network/80-eth.network",
	    "[Match]\nType=ether\n[Network]\nDHCP=no\n");
	put(fx, "/etc/systemd/network/80-eth.network.d/a:b.conf", "[Network]\nDHCP=yes\n");
	put(fx, "/etc/systemd/network/80-eth.network.d/z.conf", "[Network]\nLLMNR=no\n");
	put(fx, "/etc/resolv.conf", "nameserver 198.51.100.1\n");

	rep = fill(fx, "ens3", 4, &info);
	assert_string_equal(info.dns_addr, "192.0.2.1;2001:db8::1;");
	assert_int_equal(rep.dns, KVP_NETSRC_NETWORKD);
	assert_int_equal(info.dhcp_enabled, 1);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NETWORKD);

	/* The drop-in turned it on; without it the main file says no. */
	put(fx, "/etc/systemd/network/80-eth.network.d/z.conf", "[Network]\nDHCP=ipv6\n");
	rep = fill(fx, "ens3", 4, &info);
	assert_int_equal(info.dhcp_enabled, 0);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NETWORKD);
}

static void test_fill_networkd_unmanaged(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;

	put(fx, "/run/systemd/netif/links/5",
	    "ADMIN_STATE=unmanaged\nOPER_STATE=off\n"
	    "DNS=192.0.2.1\n");
	put(fx, "/etc/network/interfaces", "iface eth5 inet dhcp\n");
	put(fx, "/etc/resolv.conf", "nameserver 198.51.100.7\n");

	rep = fill(fx, "eth5", 5, &info);
	/* networkd leaves it alone, so ifupdown is in charge; DNS from resolv.conf. */
	assert_int_equal(rep.dhcp, KVP_NETSRC_IFUPDOWN);
	assert_int_equal(info.dhcp_enabled, 1);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	assert_string_equal(info.dns_addr, "198.51.100.7;");
}

static void test_fill_resolved_stub_symlink(void **state)
{
	Fixture *fx = *state;
	char link[PATH_MAX];
	KvpIpInfo info;
	KvpNetSrcReport rep;

	/* The usual absolute symlink: it must resolve inside the root, not on this host. */
	put(fx, "/run/systemd/resolve/stub-resolv.conf", resolv_stub);
	put(fx, "/run/systemd/resolve/resolv.conf",
	    "# upstream\nnameserver 203.0.113.1\n"
	    "nameserver 2001:db8:ffff::1\n");
	put_dir(fx, "/etc");
	snprintf(link, sizeof(link), "%s/etc/resolv.conf", fx->root);
	assert_int_equal(symlink("/run/systemd/resolve/stub-resolv.conf", link), 0);

	rep = fill(fx, "eth0", 2, &info);
	assert_string_equal(info.dns_addr, "203.0.113.1;2001:db8:ffff::1;");
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLVED_UPSTREAM);

	/* A target that exists only inside the root proves where the link was resolved. */
	put(fx, "/var/lib/hvguest-test-only/resolv.conf", "nameserver 192.0.2.99\n");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("/var/lib/hvguest-test-only/resolv.conf", link), 0);
	rep = fill(fx, "eth0", 2, &info);
	assert_string_equal(info.dns_addr, "192.0.2.99;");
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);

	/* ".." cannot climb out of the root either. */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(
		symlink("../../../../../../../../var/lib/hvguest-test-only/resolv.conf", link), 0);
	rep = fill(fx, "eth0", 2, &info);
	assert_string_equal(info.dns_addr, "192.0.2.99;");
}

static void test_fill_resolv_conf_plain(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;

	put(fx, "/etc/resolv.conf",
	    "nameserver 127.0.0.53\nnameserver 192.0.2.53\n"
	    "nameserver ::1\nnameserver 2001:db8::35\n");
	/* resolved's upstream file is not used while resolv.conf names real servers. */
	put(fx, "/run/systemd/resolve/resolv.conf", "nameserver 203.0.113.1\n");
	rep = fill(fx, "eth0", 2, &info);
	assert_string_equal(info.dns_addr, "192.0.2.53;2001:db8::35;");
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NONE);
	assert_int_equal(info.dhcp_enabled, 0);
}

static void test_fill_nothing(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;

	/* An empty root, a FIFO as resolv.conf (must not block), a directory as ifcfg. */
	char fifo[PATH_MAX];

	put_dir(fx, "/etc/sysconfig/network-scripts/ifcfg-eth0");
	snprintf(fifo, sizeof(fifo), "%s/etc/resolv.conf", fx->root);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	rep = fill(fx, "eth0", 2, &info);
	assert_string_equal(info.dns_addr, "");
	assert_int_equal(rep.dns, KVP_NETSRC_NONE);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NONE);
	assert_int_equal(info.dhcp_enabled, 0);
}

static void test_fill_list_bounded(void **state)
{
	Fixture *fx = *state;
	static char text[64 * 1024];
	size_t off = 0;
	KvpIpInfo info;

	for (unsigned i = 0; i < 1000; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"nameserver 2001:db8:%x::%x\n", i, i + 1);
	put(fx, "/etc/resolv.conf", text);
	fill(fx, "eth0", 2, &info);
	assert_true(strlen(info.dns_addr) > 900);
	assert_true(strlen(info.dns_addr) <= KVP_IP_ADDR_UNITS);
	assert_true(info.dns_addr[strlen(info.dns_addr) - 1] == ';');
}

/* A fake nmcli: answers the three questions we ask for eth0, logs every argv. */
static const char fake_nmcli[] =
	"for a in \"$@\"; do printf '[%s]' \"$a\" >> \"$LOG\"; done; echo >> \"$LOG\"\n"
	"case \"$*\" in\n"
	"'-t -g GENERAL.CONNECTION device show eth0') printf '%s\\n' 'office\\:lan' ;;\n"
	"'-t -g IP4.DNS,IP6.DNS device show eth0')\n"
	"  printf '%s\\n' '192.0.2.53 | 127.0.0.53 | 198.51.100.53'\n"
	"  printf '%s\\n' '2001\\:db8\\:\\:53 | fe80\\:\\:1%eth0' ;;\n"
	"'-t -g ipv4.method connection show id office:lan') echo auto ;;\n"
	"'-t -g GENERAL.CONNECTION device show eth1') echo '' ;;\n"
	"'-t -g GENERAL.CONNECTION device show eth2') echo 'static one' ;;\n"
	"'-t -g IP4.DNS,IP6.DNS device show eth2') echo '' ;;\n"
	"'-t -g ipv4.method connection show id static one') echo manual ;;\n"
	"*) echo \"Error: unexpected $*\" >&2; exit 10 ;;\n"
	"esac\n";

static void test_fill_networkmanager(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;
	char *log;

	put_dir(fx, "/run/NetworkManager");
	put(fx, "/etc/resolv.conf", "nameserver 203.0.113.9\n");
	/* networkd's file exists too, but NetworkManager has the link. */
	put(fx, "/run/systemd/netif/links/2",
	    "ADMIN_STATE=configured\n"
	    "NETWORK_FILE=/etc/systemd/network/x.network\n"
	    "DNS=192.0.2.200\n");
	fx->opts.nmcli = script(fx, "nmcli", fake_nmcli);

	rep = fill(fx, "eth0", 2, &info);
	assert_string_equal(info.dns_addr, "192.0.2.53;198.51.100.53;2001:db8::53;fe80::1;");
	assert_int_equal(rep.dns, KVP_NETSRC_NETWORKMANAGER);
	assert_int_equal(info.dhcp_enabled, 1);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NETWORKMANAGER);
	log = script_log(fx, "nmcli");
	/* The connection name went over as one argument, unescaped. */
	assert_string_equal(log, "[-t][-g][GENERAL.CONNECTION][device][show][eth0]\n"
				 "[-t][-g][IP4.DNS,IP6.DNS][device][show][eth0]\n"
				 "[-t][-g][ipv4.method][connection][show][id][office:lan]\n");
	free(log);

	/* A device NetworkManager has no connection on: the next manager decides. */
	put(fx, "/etc/network/interfaces", "iface eth1 inet dhcp\n");
	rep = fill(fx, "eth1", 3, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_IFUPDOWN);
	assert_int_equal(info.dhcp_enabled, 1);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	assert_string_equal(info.dns_addr, "203.0.113.9;");

	/* A manual connection without DNS of its own: DHCP off, global DNS. */
	rep = fill(fx, "eth2", 4, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NETWORKMANAGER);
	assert_int_equal(info.dhcp_enabled, 0);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);

	/* An unknown device makes nmcli fail: NetworkManager is skipped. */
	rep = fill(fx, "eth3", 2, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NETWORKD);
	assert_string_equal(info.dns_addr, "192.0.2.200;");
}

static void test_fill_networkmanager_not_running(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;
	char *log;

	/* nmcli exists but /run/NetworkManager does not: never run. */
	fx->opts.nmcli = script(fx, "nmcli", fake_nmcli);
	put(fx, "/etc/resolv.conf", "nameserver 203.0.113.9\n");
	rep = fill(fx, "eth0", 2, &info);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NONE);
	log = script_log(fx, "nmcli");
	assert_string_equal(log, "");
	free(log);

	/* The directory exists but nmcli does not. */
	put_dir(fx, "/run/NetworkManager");
	fx->opts.nmcli = "/nonexistent/nmcli";
	rep = fill(fx, "eth0", 2, &info);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
}

static void test_fill_ifupdown_includes(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;

	put(fx, "/etc/network/interfaces",
	    "auto lo\niface lo inet loopback\n"
	    "source /etc/network/interfaces.d/*\n"
	    "source-directory interfaces.parts\n"
	    "source /etc/network/interfaces\n"); /* a loop */
	put(fx, "/etc/network/interfaces.d/eth10",
	    "iface eth10 inet dhcp\n"
	    "  dns-nameservers 192.0.2.10\n");
	put(fx, "/etc/network/interfaces.d/eth1",
	    "auto eth1\n"
	    "iface eth1 inet static\n"
	    "  address 192.0.2.11/24\n"
	    "  dns-nameservers 192.0.2.53 198.51.100.53\n"
	    "source ../more/*.cfg\n");
	put(fx, "/etc/network/more/v6.cfg",
	    "iface eth1 inet6 static\n"
	    "  dns-nameservers 2001:db8::53\n");
	put(fx, "/etc/network/more/skip.txt", "iface eth1 inet dhcp\n");
	/* source-directory skips names that are not run-parts names. */
	put(fx, "/etc/network/interfaces.parts/eth2", "iface eth2 inet dhcp\n");
	put(fx, "/etc/network/interfaces.parts/eth1.bak", "iface eth1 inet dhcp\n");
	put(fx, "/etc/resolv.conf", "nameserver 203.0.113.9\n");

	rep = fill(fx, "eth1", 3, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_IFUPDOWN);
	assert_int_equal(info.dhcp_enabled, 0);
	assert_int_equal(rep.dns, KVP_NETSRC_IFUPDOWN);
	assert_string_equal(info.dns_addr, "192.0.2.53;198.51.100.53;2001:db8::53;");

	rep = fill(fx, "eth10", 4, &info);
	assert_int_equal(info.dhcp_enabled, 1);
	assert_string_equal(info.dns_addr, "192.0.2.10;");

	rep = fill(fx, "eth2", 5, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_IFUPDOWN);
	assert_int_equal(info.dhcp_enabled, 1);
	/* In charge but no servers of its own: the global list. */
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	assert_string_equal(info.dns_addr, "203.0.113.9;");

	rep = fill(fx, "eth", 6, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NONE);
}

static void test_fill_ifcfg(void **state)
{
	Fixture *fx = *state;
	KvpIpInfo info;
	KvpNetSrcReport rep;

	put(fx, "/etc/sysconfig/network-scripts/ifcfg-eth0",
	    "DEVICE=eth0\n"
	    "BOOTPROTO=\"DHCP\"\n"
	    "ONBOOT=yes\n"
	    "DNS1=\"192.0.2.53\"\n"
	    "DNS2=2001:db8::53\n"
	    "DNS3='$(reboot)'\n"
	    "DNS5=198.51.100.53\n");
	put(fx, "/etc/sysconfig/network-scripts/ifcfg-eth1",
	    "DEVICE=eth1\nBOOTPROTO=none\n"
	    "IPADDR=192.0.2.11\n");
	put(fx, "/etc/resolv.conf", "nameserver 203.0.113.9\n");

	rep = fill(fx, "eth0", 2, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_IFCFG);
	assert_int_equal(info.dhcp_enabled, 1);
	assert_int_equal(rep.dns, KVP_NETSRC_IFCFG);
	assert_string_equal(info.dns_addr, "192.0.2.53;2001:db8::53;198.51.100.53;");

	rep = fill(fx, "eth1", 3, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_IFCFG);
	assert_int_equal(info.dhcp_enabled, 0);
	assert_string_equal(info.dns_addr, "203.0.113.9;");
}

static void test_fill_helpers(void **state)
{
	Fixture *fx = *state;
	char dns_helper[PATH_MAX], dhcp_helper[PATH_MAX];
	KvpIpInfo info;
	KvpNetSrcReport rep;
	char *log;

	put(fx, "/etc/resolv.conf", "nameserver 203.0.113.9\n");
	put(fx, "/etc/sysconfig/network-scripts/ifcfg-eth0", "BOOTPROTO=none\n");
	/* Upstream-style output plus junk a customised script might print. */
	snprintf(dns_helper, sizeof(dns_helper), "%s",
		 script(fx, "hv_get_dns_info",
			"echo \"$1\" > \"$LOG\"\n"
			"echo 'nameserver list follows'\n"
			"echo 192.0.2.53\n"
			"echo ra\n"
			"echo '127.0.0.53'\n"
			"echo '  2001:db8::53  '\n"
			"echo '$(id);192.0.2.99'\n"
			"echo 198.51.100.53\n"));
	snprintf(dhcp_helper, sizeof(dhcp_helper), "%s",
		 script(fx, "hv_get_dhcp_info", "echo \"$1\" > \"$LOG\"\necho Enabled\n"));
	fx->opts.dns_helper = dns_helper;
	fx->opts.dhcp_helper = dhcp_helper;

	rep = fill(fx, "eth0", 2, &info);
	assert_int_equal(rep.dns, KVP_NETSRC_HELPER);
	assert_string_equal(info.dns_addr, "192.0.2.53;2001:db8::53;198.51.100.53;");
	assert_int_equal(rep.dhcp, KVP_NETSRC_HELPER);
	assert_int_equal(info.dhcp_enabled, 1);
	/* Both got the interface name as $1 (upstream since Dec 2024). */
	log = script_log(fx, "hv_get_dns_info");
	assert_string_equal(log, "eth0\n");
	free(log);
	log = script_log(fx, "hv_get_dhcp_info");
	assert_string_equal(log, "eth0\n");
	free(log);

	/* Junk only: our own sources answer. */
	script(fx, "hv_get_dns_info", "echo 'no servers here'; echo 127.0.0.53\n");
	script(fx, "hv_get_dhcp_info", "echo 192.0.2.1\n");
	rep = fill(fx, "eth0", 2, &info);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	assert_string_equal(info.dns_addr, "203.0.113.9;");
	assert_int_equal(rep.dhcp, KVP_NETSRC_IFCFG);
	assert_int_equal(info.dhcp_enabled, 0);

	/* A failing helper's output is not used. */
	script(fx, "hv_get_dns_info", "echo 192.0.2.53; exit 1\n");
	script(fx, "hv_get_dhcp_info", "echo Disabled\n");
	rep = fill(fx, "eth0", 2, &info);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	assert_int_equal(rep.dhcp, KVP_NETSRC_HELPER);
	assert_int_equal(info.dhcp_enabled, 0);

	/* A missing helper is just absent; so is one for an option-like interface name. */
	fx->opts.dns_helper = "/nonexistent/hv_get_dns_info";
	rep = fill(fx, "eth0", 2, &info);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	script(fx, "hv_get_dhcp_info", "echo \"$1\" >> \"$LOG\"; echo Enabled\n");
	rep = fill(fx, "-h", 7, &info);
	assert_int_equal(rep.dhcp, KVP_NETSRC_NONE);
	log = script_log(fx, "hv_get_dhcp_info");
	assert_string_equal(log, "eth0\n"); /* from the first run only */
	free(log);
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void test_fill_timeouts(void **state)
{
	Fixture *fx = *state;
	char dns_helper[PATH_MAX], dhcp_helper[PATH_MAX];
	KvpIpInfo info;
	KvpNetSrcReport rep;
	uint64_t t0, dt;

	put(fx, "/etc/resolv.conf", "nameserver 203.0.113.9\n");
	put_dir(fx, "/run/NetworkManager");
	snprintf(dns_helper, sizeof(dns_helper), "%s",
		 script(fx, "hv_get_dns_info", "echo 192.0.2.1; sleep 10; echo 192.0.2.2\n"));
	snprintf(dhcp_helper, sizeof(dhcp_helper), "%s",
		 script(fx, "hv_get_dhcp_info", "sleep 10; echo Enabled\n"));
	fx->opts.dns_helper = dns_helper;
	fx->opts.dhcp_helper = dhcp_helper;
	fx->opts.nmcli = script(fx, "nmcli", "sleep 10\n");
	fx->opts.helper_timeout_usec = 200 * MSEC;

	/* Each run is cut at 200 ms: 2 helpers + 1 nmcli. */
	t0 = mono_usec();
	rep = fill(fx, "eth0", 2, &info);
	dt = mono_usec() - t0;
	assert_true(dt >= 600 * MSEC);
	assert_true(dt < 3000 * MSEC);
	/* What a killed helper printed is not trusted. */
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
	assert_string_equal(info.dns_addr, "203.0.113.9;");
	assert_int_equal(rep.dhcp, KVP_NETSRC_NONE);

	/* The budget bounds the whole fill, whatever the per-run timeout. */
	fx->opts.helper_timeout_usec = 5000 * MSEC;
	fx->opts.budget_usec = 300 * MSEC;
	t0 = mono_usec();
	rep = fill(fx, "eth0", 2, &info);
	dt = mono_usec() - t0;
	assert_true(dt < 2000 * MSEC);
	assert_int_equal(rep.dns, KVP_NETSRC_RESOLV_CONF);
}

static void test_new_and_fill_errors(void **state)
{
	Fixture *fx = *state;
	KvpNetSrcOptions o = { .root = "relative" };
	KvpNetSrc *s = NULL;
	KvpIpInfo info = { 0 };
	char long_name[IF_NAMESIZE + 1];

	assert_int_equal(kvp_netsrc_new(&o, &s), -EINVAL);
	o = (KvpNetSrcOptions){ .root = "/nonexistent-root-dir" };
	assert_int_equal(kvp_netsrc_new(&o, &s), -ENOENT);
	o = (KvpNetSrcOptions){ .root = fx->root, .dns_helper = "hv_get_dns_info" };
	assert_int_equal(kvp_netsrc_new(&o, &s), -EINVAL);
	o = (KvpNetSrcOptions){ .root = fx->root, .nmcli = "nmcli" };
	assert_int_equal(kvp_netsrc_new(&o, &s), -EINVAL);
	assert_null(s);

	/* NULL options: the real root with defaults; we only check it opens. */
	assert_int_equal(kvp_netsrc_new(NULL, &s), 0);
	s = kvp_netsrc_free(s);
	assert_null(kvp_netsrc_free(NULL));

	assert_int_equal(kvp_netsrc_new(&fx->opts, &s), 0);
	memset(long_name, 'a', IF_NAMESIZE);
	long_name[IF_NAMESIZE] = '\0';
	assert_int_equal(kvp_netsrc_fill(s, "", 2, &info, NULL), -EINVAL);
	assert_int_equal(kvp_netsrc_fill(s, "..", 2, &info, NULL), -EINVAL);
	assert_int_equal(kvp_netsrc_fill(s, "a/b", 2, &info, NULL), -EINVAL);
	assert_int_equal(kvp_netsrc_fill(s, long_name, 2, &info, NULL), -EINVAL);
	assert_int_equal(kvp_netsrc_fill(s, "eth0", 0, &info, NULL), -EINVAL);
	assert_int_equal(kvp_netsrc_fill(s, "eth0", 2, NULL, NULL), -EINVAL);
	assert_int_equal(kvp_netsrc_fill(s, "eth0", 2, &info, NULL), 0);
	kvp_netsrc_free(s);

	assert_string_equal(kvp_netsrc_source_to_string(KVP_NETSRC_NETWORKMANAGER),
			    "NetworkManager");
	assert_null(kvp_netsrc_source_to_string(_KVP_NETSRC_MAX));
	assert_null(kvp_netsrc_source_to_string(_KVP_NETSRC_INVALID));
	for (int i = 0; i < _KVP_NETSRC_MAX; i++)
		assert_non_null(kvp_netsrc_source_to_string((KvpNetSrcSource)i));
}

#define FIXTURE_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_fill_networkd_resolved),
		FIXTURE_TEST(test_fill_networkd_config),
		FIXTURE_TEST(test_fill_networkd_unmanaged),
		FIXTURE_TEST(test_fill_resolved_stub_symlink),
		FIXTURE_TEST(test_fill_resolv_conf_plain),
		FIXTURE_TEST(test_fill_nothing),
		FIXTURE_TEST(test_fill_list_bounded),
		FIXTURE_TEST(test_fill_networkmanager),
		FIXTURE_TEST(test_fill_networkmanager_not_running),
		FIXTURE_TEST(test_fill_ifupdown_includes),
		FIXTURE_TEST(test_fill_ifcfg),
		FIXTURE_TEST(test_fill_helpers),
		FIXTURE_TEST(test_fill_timeouts),
		FIXTURE_TEST(test_new_and_fill_errors),
	};

	return cmocka_run_group_tests_name("kvp-netsrc", tests, NULL, NULL);
}
