/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO (hyperv-abi.md §4.7): validation of the host's request into a typed
 * configuration, and the configuration files each network manager reads, as text.
 * Pure: no I/O, no logging above debug.
 *
 * Request rules (anything else is -EINVAL, and the caller writes nothing):
 *  - adapter_id is the NIC's VMBus instance GUID "{8-4-4-4-12 hex}", any case.
 *  - ip_addr, sub_net, gate_way and dns_addr may contain only hex digits, '.', ':', '/',
 *    ';' and spaces; every other byte (control characters, quotes, '$', '(', '%', ...) is
 *    refused before anything is parsed.
 *  - Lists are ';'-separated. Spaces around an item are ignored. One trailing ';' is
 *    allowed (GET_IP_INFO replies end in one); any other empty item (";;", a leading ';')
 *    is refused instead of ending the list silently as upstream does. An empty string is
 *    an empty list.
 *  - An item is at most 45 bytes (INET6_ADDRSTRLEN - 1) and must be an IPv4 or IPv6
 *    literal accepted by inet_pton (no zone "%eth0", no prefix).
 *  - sub_net has exactly one item per ip_addr item, in the same order. For an IPv4
 *    address: a contiguous dotted netmask ("255.255.255.0") or a prefix length "24" or
 *    "/24". For an IPv6 address: a prefix length "64" or "/64". An address prefix must be
 *    1..32 or 1..128 (a /0 address is not a host configuration; NetworkManager refuses it).
 *  - Addresses and gateways must be unicast, not unspecified, not loopback; DNS servers
 *    must be neither unspecified nor multicast. Duplicate addresses are refused.
 *  - At most KVP_IPCONFIG_MAX_ADDRS addresses, KVP_IPCONFIG_MAX_GATEWAYS gateways and
 *    KVP_IPCONFIG_MAX_DNS DNS servers.
 *  - dhcp_enabled is 0 or 1 and concerns IPv4 only; with DHCP on, static addresses are
 *    still configured (as upstream does), in addition to the lease.
 *  - IPv4 gateways and IPv4 DNS servers need IPv4 (DHCP or an IPv4 address): otherwise
 *    NetworkManager's "ipv4.method=disabled" would refuse them. IPv6 needs no such rule
 *    (without IPv6 addresses the profiles use router advertisements).
 *  - addr_family is ignored: the families follow from the addresses.
 *
 * Gateways: the first gateway of a family is that family's default gateway (with the
 * manager's default route metric); every further one of the same family becomes a default
 * route with metric KVP_IPCONFIG_EXTRA_GW_METRIC + its position, i.e. a standby gateway as on
 * Windows, because two default routes with the same metric conflict in netplan and the
 * kernel.
 */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

typedef struct KvpIpInfo KvpIpInfo;

#define KVP_IPCONFIG_MAX_ADDRS 64u
#define KVP_IPCONFIG_MAX_GATEWAYS 16u
#define KVP_IPCONFIG_MAX_DNS 16u
/*
 * Metric of the second gateway of a family; the third gets +1, and so on. Above every
 * manager's default (NetworkManager 100 for Ethernet, systemd-networkd's DHCP routes and
 * the kernel's IPv6 default 1024, ifupdown 0), so these routes stay standby.
 */
#define KVP_IPCONFIG_EXTRA_GW_METRIC 4096u

/* "{f8615163-df3e-46c5-913f-f2d2f965ed0e}" plus NUL */
#define KVP_GUID_BUFSIZE 39u
/* "00:15:5d:12:34:56" plus NUL */
#define KVP_MAC_BUFSIZE 18u
/* "8c1e4a9f-...": 36 characters plus NUL */
#define KVP_UUID_BUFSIZE 37u

typedef struct KvpIpAddr {
	int family;	    /* AF_INET or AF_INET6 */
	unsigned prefixlen; /* addresses: 1..32 or 1..128; gateways and DNS servers: 0 */
	union {
		struct in_addr in;
		struct in6_addr in6;
	} u;
	char text[INET6_ADDRSTRLEN]; /* canonical inet_ntop() form */
} KvpIpAddr;

/* A validated SET_IP_INFO request. */
typedef struct KvpIpConfig {
	char guid[KVP_GUID_BUFSIZE]; /* canonical lower-case, or "" when not known */
	bool dhcp4;
	size_t n_addrs;
	KvpIpAddr addrs[KVP_IPCONFIG_MAX_ADDRS];
	size_t n_gateways;
	KvpIpAddr gateways[KVP_IPCONFIG_MAX_GATEWAYS];
	size_t n_dns;
	KvpIpAddr dns[KVP_IPCONFIG_MAX_DNS];
} KvpIpConfig;

/* The guest interface a configuration is for. */
typedef struct KvpNic {
	char ifname[IF_NAMESIZE];
	char mac[KVP_MAC_BUFSIZE];   /* lower-case, ':'-separated */
	char guid[KVP_GUID_BUFSIZE]; /* VMBus instance GUID, lower-case, or "" when unknown */
} KvpNic;

/* The file formats we can write. */
typedef enum KvpIpFormat {
	KVP_IP_FORMAT_NM_KEYFILE,     /* NetworkManager keyfile (.nmconnection) */
	KVP_IP_FORMAT_NETWORKD,	      /* systemd-networkd .network */
	KVP_IP_FORMAT_NETPLAN,	      /* netplan YAML, version 2 */
	KVP_IP_FORMAT_IFUPDOWN,	      /* Debian ifupdown interfaces(5) stanzas */
	KVP_IP_FORMAT_IFCFG,	      /* RHEL initscripts / NetworkManager ifcfg-rh */
	KVP_IP_FORMAT_IFCFG_UPSTREAM, /* the upstream daemon's ifcfg file, for hv_set_ifconfig */
	_KVP_IP_FORMAT_MAX,
	_KVP_IP_FORMAT_INVALID = -EINVAL,
} KvpIpFormat;

/*
 * Parses "{8-4-4-4-12}" (hex digits of any case, braces required) into the canonical
 * lower-case form in ret (KVP_GUID_BUFSIZE bytes). -EINVAL if malformed.
 */
int kvp_guid_normalize(const char *s, char *ret);

/*
 * Checks an interface name before it goes into a file name or a configuration file:
 * 1..15 characters from [A-Za-z0-9_.-], not "." or "..". The kernel allows far more
 * ('$', ';', quotes), which none of the file formats could carry safely.
 */
bool kvp_ifname_is_safe(const char *ifname);

/*
 * Parses "aa:bb:cc:dd:ee:ff" (any case) into the lower-case form in ret
 * (KVP_MAC_BUFSIZE bytes). -EINVAL if malformed.
 */
int kvp_mac_normalize(const char *s, char *ret);

/*
 * Validates a SET_IP_INFO request (rules above) into *ret. Returns 0, or -EINVAL for any
 * violation (then *ret is unspecified).
 */
int kvp_ipconfig_from_ipinfo(const KvpIpInfo *req, KvpIpConfig *ret);

/*
 * Checks the cross-field rules (counts, families, duplicates, IPv4 gateway/DNS need IPv4)
 * of an already item-wise valid configuration; kvp_ipconfig_from_ipinfo() calls it, other
 * producers (the ifcfg parser) must too. Returns 0 or -EINVAL.
 */
int kvp_ipconfig_check(const KvpIpConfig *c);

/*
 * Parses one IP literal (no prefix) of either family into *ret with prefixlen 0.
 * -EINVAL if it is not one.
 */
int kvp_ipaddr_parse(const char *s, KvpIpAddr *ret);

/*
 * The NetworkManager connection UUID for a NIC: derived from the GUID (or, when unknown,
 * the MAC) so that re-injection replaces the same profile. RFC 9562 version 8 layout
 * (custom), written into ret (KVP_UUID_BUFSIZE bytes).
 */
void kvp_ipconfig_nm_uuid(const KvpNic *nic, char *ret);

/* The connection id used in the NetworkManager profile: "hvguest-<ifname>". */
int kvp_ipconfig_nm_id(const KvpNic *nic, char *ret, size_t size);

/*
 * Renders c for nic in format f into a malloc'ed NUL-terminated string. nic->ifname must
 * be safe (kvp_ifname_is_safe) and nic->mac valid, else -EINVAL; -ENOMEM.
 */
int kvp_ipconfig_render(KvpIpFormat f, const KvpIpConfig *c, const KvpNic *nic, char **ret);

/*
 * Parses the ifcfg file that the upstream daemon (or our script mode) hands to
 * hv_set_ifconfig (hyperv-abi.md §4.7), strictly: lines "KEY=value" (value optionally in
 * double quotes), blank lines and '#' comments only; values limited to [A-Za-z0-9.:/_-]
 * (and spaces inside quotes); every key known and given once. Keys: HWADDR and DEVICE
 * (required), BOOTPROTO (dhcp|none|static), IPADDR[n] with NETMASK[n] or PREFIX[n],
 * GATEWAY and GATEWAYn, DNSn, IPV6ADDR[_n] ("addr" with IPV6NETMASK[_n], or "addr/plen"),
 * IPV6ADDR_SECONDARIES ("a/p b/p"), IPV6_DEFAULTGW[_n]; IPV6INIT, IPV6_AUTOCONF,
 * NM_CONTROLLED, PEERDNS, ONBOOT and TYPE (what upstream's sample script appends and
 * our ifcfg writer adds) are accepted and ignored. IPv4 addresses come first (by index),
 * then IPv6. Fills *ret (guid "") and ret_nic's ifname and mac (guid ""). -EINVAL on any
 * violation, including kvp_ipconfig_check() failing.
 */
int kvp_ipconfig_parse_ifcfg(const char *text, KvpIpConfig *ret, KvpNic *ret_nic);
