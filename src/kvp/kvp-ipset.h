/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO end to end: validate the host's request, find the NIC by its VMBus GUID,
 * write the configuration file of the network manager in charge, apply it, and put the
 * previous file back if applying fails.
 *
 * Back-ends (file below Options.root, mode; how it is applied, every program by argv):
 *  networkmanager  /etc/NetworkManager/system-connections/hvguest-<if>.nmconnection 0600;
 *                  nmcli connection load <file>; nmcli --wait N connection up uuid <uuid>
 *  networkd        /etc/systemd/network/10-hvguest-<if>.network 0644;
 *                  networkctl reload; networkctl reconfigure <if>
 *  netplan         /etc/netplan/90-hvguest-<if>.yaml 0600; netplan apply
 *  ifupdown        /etc/network/interfaces.d/hvguest-<if> 0644;
 *                  ifdown --force <if> (before writing, result ignored); ifup <if>
 *  ifcfg           /etc/sysconfig/network-scripts/ifcfg-<if> 0644; with NetworkManager
 *                  running: nmcli connection reload; nmcli --wait N connection up ifname
 *                  <if>; else ifdown <if> (before writing, ignored); ifup <if>
 *  script          <state_dir>/ifcfg-<if> (upstream format) and <state_dir>/<if>.nmconnection
 *                  (our keyfile), 0600, state_dir not below the root; <set_ifconfig> <ifcfg>
 *                  <nmconnection>, upstream's arguments
 * Auto-detection, first match wins: NetworkManager running (a process named
 * "NetworkManager" in proc_dir) -> networkmanager; systemd-networkd running ->
 * networkd; /etc/netplan/ *.yaml and the netplan program -> netplan;
 * /etc/network/interfaces and the ifup program -> ifupdown;
 * /etc/sysconfig/network-scripts -> ifcfg; else -EOPNOTSUPP.
 *
 * Rollback: the previous content (or absence) and mode of every file is kept; when a
 * write or an apply step fails (non-zero exit, signal, timeout) the files are restored
 * (or removed) and the apply steps re-run once, best effort, and -EIO is returned.
 *
 * Time: all apply steps share the budget timeout_usec (the host waits 30 s for the
 * whole request); the rollback's re-apply gets a quarter of it on top.
 *
 * Blocking, one request at a time per KvpIpSet; no global state.
 */
#pragma once

#include <stdint.h>

#include "kvp/kvp-ipconfig.h"

typedef struct KvpIpInfo KvpIpInfo;
typedef struct KvpIpSet KvpIpSet;

typedef enum KvpIpBackend {
	KVP_IP_BACKEND_AUTO,
	KVP_IP_BACKEND_NETWORKMANAGER,
	KVP_IP_BACKEND_NETWORKD,
	KVP_IP_BACKEND_NETPLAN,
	KVP_IP_BACKEND_IFUPDOWN,
	KVP_IP_BACKEND_IFCFG,
	KVP_IP_BACKEND_SCRIPT,
	_KVP_IP_BACKEND_MAX,
	_KVP_IP_BACKEND_INVALID = -EINVAL,
} KvpIpBackend;

#define KVP_IPSET_DEFAULT_TIMEOUT_USEC (20u * 1000000u)

typedef struct KvpIpSetOptions {
	KvpIpBackend backend;	  /* [kvp] ip_backend */
	const char *root;	  /* NULL or "/": the real system; else a test root */
	const char *state_dir;	  /* script mode's files (absolute); NULL: KVP_STATE_DIR */
	const char *proc_dir;	  /* NULL: "/proc" (manager detection) */
	const char *sysfs_dir;	  /* NULL: libudev; else scan <sysfs_dir>/class/net (tests) */
	const char *nmcli;	  /* NULL: /usr/bin/nmcli */
	const char *networkctl;	  /* NULL: /usr/bin/networkctl */
	const char *netplan;	  /* NULL: /usr/sbin/netplan */
	const char *ifup;	  /* NULL: /usr/sbin/ifup */
	const char *ifdown;	  /* NULL: /usr/sbin/ifdown */
	const char *set_ifconfig; /* script mode; NULL: KVP_SCRIPTS_DIR "/hv_set_ifconfig" */
	uint64_t timeout_usec;	  /* 0: KVP_IPSET_DEFAULT_TIMEOUT_USEC */
} KvpIpSetOptions;

/* "auto", "networkmanager", "networkd", "netplan", "ifupdown", "ifcfg", "script". */
const char *kvp_ip_backend_to_string(KvpIpBackend b);
/* The inverse; _KVP_IP_BACKEND_INVALID for anything else. */
KvpIpBackend kvp_ip_backend_from_string(const char *s);

/* Copies the options (strings included). Program paths must be absolute (-EINVAL). */
int kvp_ipset_new(const KvpIpSetOptions *o, KvpIpSet **ret);
KvpIpSet *kvp_ipset_free(KvpIpSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpIpSet *, kvp_ipset_free)

/*
 * The back-end that would be used now: the configured one, or the detected one for auto.
 * -EOPNOTSUPP when auto finds none.
 */
int kvp_ipset_detect(KvpIpSet *s, KvpIpBackend *ret);

/*
 * Handles one SET_IP_INFO request. Returns 0 when applied; -EINVAL when the request is
 * invalid (HV_INVALIDARG; nothing written); -ENODEV when no interface has that GUID
 * (HV_GUID_NOTFOUND); -EOPNOTSUPP when no back-end is available or the interface name
 * cannot be written safely (nothing written); -EIO when writing or applying failed and
 * the previous state was restored (HV_E_FAIL).
 */
int kvp_ipset_apply(KvpIpSet *s, const KvpIpInfo *req);

/*
 * Applies an already validated configuration to nic (hv_set_ifconfig's entry point).
 * Same returns as kvp_ipset_apply() minus the validation and lookup.
 */
int kvp_ipset_apply_config(KvpIpSet *s, const KvpIpConfig *c, const KvpNic *nic);

/*
 * One line describing why the last kvp_ipset_apply*() failed (the step and the helper's
 * first line of error output), or "" after a success. Valid until the next call.
 */
const char *kvp_ipset_last_error(KvpIpSet *s);
