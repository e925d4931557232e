/* SPDX-License-Identifier: MIT */
/*
 * The DNS servers and the DHCP state of one link for GET_IP_INFO, asked of the network
 * manager in charge of that link instead of upstream's resolv.conf grep (which reports the
 * local stub 127.0.0.53 under systemd-resolved).
 *
 * DNS, first source that yields at least one server wins:
 *   1. the site's dns_helper (hv_get_dns_info IFNAME), if configured;
 *   2. systemd-resolved's per-link servers (/run/systemd/resolve/netif/IFINDEX, SERVERS=);
 *   3. the manager in charge of the link: NetworkManager (nmcli IP4.DNS, IP6.DNS),
 *      systemd-networkd (/run/systemd/netif/links/IFINDEX, DNS=), ifupdown
 *      (dns-nameservers in /etc/network/interfaces and what it sources), RHEL ifcfg (DNS1..);
 *   4. /etc/resolv.conf; if it lists no usable server (only a local stub, say) and
 *      /run/systemd/resolve/resolv.conf exists, the upstream servers listed there.
 * DHCP (IPv4), first source with an answer wins, else off:
 *   1. the site's dhcp_helper (hv_get_dhcp_info IFNAME: "Enabled" / "Disabled");
 *   2. NetworkManager: ipv4.method of the device's connection is "auto";
 *   3. systemd-networkd: the link holds a DHCPv4 lease, or its .network file (and drop-ins)
 *      say DHCP=yes|ipv4;
 *   4. ifupdown: an "iface IFNAME inet dhcp" stanza; 5. ifcfg-IFNAME: BOOTPROTO=dhcp.
 * A manager is "in charge" when NetworkManager has an active connection on the device,
 * networkd's state file names a .network file for it, an ifupdown stanza or an ifcfg file
 * for the exact name exists. Helper output and every file are validated: only IP literals
 * reach the host, never a loopback address.
 *
 * Every file is read below options.root (absolute symlinks resolve inside it), so tests use
 * fixture trees. Programs (nmcli, helpers) are run by argv through hook, each with a
 * timeout, and all runs of one kvp_netsrc_fill() share one time budget.
 * NetworkManager is asked only when ROOT/run/NetworkManager exists and nmcli is executable.
 *
 * Non-logging; a source that fails or is absent is skipped. Thread-safe: a KvpNetSrc holds
 * only read-only state after kvp_netsrc_new(), so fills may run on any thread, concurrently.
 */
#pragma once

#include <errno.h>
#include <stdint.h>

#include "common/macro.h"
#include "kvp/kvp-ipinfo.h"

#define KVP_NETSRC_HELPER_TIMEOUT_USEC_DEFAULT (2u * 1000000u)
#define KVP_NETSRC_BUDGET_USEC_DEFAULT (5u * 1000000u)
#define KVP_NETSRC_NMCLI_DEFAULT "/usr/bin/nmcli"

typedef struct KvpNetSrc KvpNetSrc;

typedef struct KvpNetSrcOptions {
	const char *root;	 /* below which files are read; NULL = "/" */
	const char *nmcli;	 /* NULL = KVP_NETSRC_NMCLI_DEFAULT; "" = never ask NM */
	const char *dns_helper;	 /* absolute path, run as "dns_helper IFNAME"; NULL/"" = none */
	const char *dhcp_helper; /* likewise for the DHCP state */
	uint64_t helper_timeout_usec; /* per run of a helper or nmcli; 0 = default (2 s) */
	uint64_t budget_usec;	      /* all runs of one fill together; 0 = default (5 s) */
} KvpNetSrcOptions;

/* Where an answer came from, for logs and tests. */
typedef enum KvpNetSrcSource {
	KVP_NETSRC_NONE,	      /* nothing found: empty list / DHCP off */
	KVP_NETSRC_HELPER,	      /* the configured dns_helper / dhcp_helper */
	KVP_NETSRC_RESOLVED,	      /* systemd-resolved per-link servers */
	KVP_NETSRC_NETWORKMANAGER,    /* nmcli */
	KVP_NETSRC_NETWORKD,	      /* systemd-networkd state / .network file */
	KVP_NETSRC_IFUPDOWN,	      /* /etc/network/interfaces */
	KVP_NETSRC_IFCFG,	      /* /etc/sysconfig/network-scripts/ifcfg-IFNAME */
	KVP_NETSRC_RESOLV_CONF,	      /* /etc/resolv.conf */
	KVP_NETSRC_RESOLVED_UPSTREAM, /* /run/systemd/resolve/resolv.conf */
	_KVP_NETSRC_MAX,
	_KVP_NETSRC_INVALID = -EINVAL,
} KvpNetSrcSource;

typedef struct KvpNetSrcReport {
	KvpNetSrcSource dns;
	KvpNetSrcSource dhcp;
} KvpNetSrcReport;

/*
 * Copies the options and opens the root directory. -EINVAL for a relative root, nmcli or
 * helper path; -ENOENT / -ENOTDIR and the like if root cannot be opened.
 */
int kvp_netsrc_new(const KvpNetSrcOptions *o, KvpNetSrc **ret);

/*
 * Sets info->dns_addr (";"-terminated items, "a;b;", as upstream; empty if none found) and
 * info->dhcp_enabled (0/1) for the link ifname / ifindex, leaving every other field alone.
 * Blocks at most about the options' budget plus one helper timeout. ret_report may be NULL.
 * Returns 0, or -EINVAL for a bad ifname (empty, IF_NAMESIZE or longer, containing '/',
 * "." or "..") or ifindex <= 0, or -ENOMEM; a missing or failing source is not an error.
 */
int kvp_netsrc_fill(KvpNetSrc *s, const char *ifname, int ifindex, KvpIpInfo *info,
		    KvpNetSrcReport *ret_report);

/* Closes and frees; accepts NULL, returns NULL. */
KvpNetSrc *kvp_netsrc_free(KvpNetSrc *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpNetSrc *, kvp_netsrc_free);

/* "none", "helper", "systemd-resolved", ...; NULL if out of range. */
const char *kvp_netsrc_source_to_string(KvpNetSrcSource s);
