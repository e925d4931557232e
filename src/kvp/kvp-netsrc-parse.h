/* SPDX-License-Identifier: MIT */
/*
 * Pure parsers behind kvp-netsrc: the text of network-manager state and configuration files
 * and of helper / nmcli output in, DNS server lists and DHCP flags out. No I/O, no logging.
 * Input is any NUL-terminated text of any length: lines are walked in place (no fixed line
 * buffers), an over-long token is skipped, and junk is ignored rather than fatal.
 *
 * DNS lists are built in the form of KvpIpInfo.dns_addr: items each followed by ';'
 * ("a;b;"), upstream's form for this field (hyperv-abi.md §4.6), bounded by the buffer
 * size and KVP_IP_ADDR_UNITS. Only IP literals that inet_pton accepts get in, in inet_ntop's
 * canonical form, once each; loopback servers (a local stub such as 127.0.0.53, 127.0.0.1,
 * ::1) and the unspecified address never do.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/macro.h"

/* Longest token considered as an address ("[addr]:port%ifname#name" decorations included). */
#define KVP_DNS_TOKEN_MAX 255u

/*
 * Adds one server to list (NUL-terminated within size). token may carry systemd's
 * decorations: "[2001:db8::1]:53%eth0#dns.example", "192.0.2.1:53", "fe80::1%eth0",
 * "192.0.2.1#name"; only the address is kept. Returns 1 if added; 0 if skipped (not an IP
 * literal, loopback, unspecified, already listed); -E2BIG when the list is full (list
 * unchanged); -EINVAL if list is not NUL-terminated within size.
 */
int kvp_dns_list_add(char *list, size_t size, const char *token, size_t token_len);

/*
 * Adds every whitespace-separated token of text (helper output, networkd's DNS=, resolved's
 * SERVERS=, ifupdown's dns-nameservers). Returns the number added, or -EINVAL as above;
 * a full list is not an error (the remaining servers are dropped).
 */
int kvp_dns_list_add_words(char *list, size_t size, const char *text);

/*
 * resolv.conf(5): adds every "nameserver" address. *ret_saw_loopback (may be NULL) tells
 * whether a loopback nameserver, i.e. a local stub, was listed (and skipped). Returns the
 * number added.
 */
int kvp_netsrc_parse_resolv_conf(const char *text, char *list, size_t size, bool *ret_saw_loopback);

/*
 * KEY=value files: systemd's state files (/run/systemd/netif/links/N,
 * /run/systemd/resolve/netif/N) and shell-style ifcfg files (KEY="v", KEY='v', "export "
 * prefix, '#' comments). The last assignment wins, as when a shell sources the file.
 * *ret is the unquoted value (malloc'ed, possibly empty). -ENOENT if key is not set.
 */
int kvp_netsrc_env_get(const char *text, const char *key, char **ret);

/*
 * systemd.network(5) [Network] DHCP=: 1 if the DHCPv4 client is on (yes, true, on, 1,
 * ipv4, both, v4), 0 if it is set otherwise (no, ipv6, ...), -ENOENT if not set. The last
 * assignment in the text wins; parse the main file then its drop-ins in order.
 */
int kvp_netsrc_parse_network_dhcp4(const char *text);

/*
 * Output of "nmcli -t -g IP4.DNS,IP6.DNS device show IF": terse mode escapes ':' and '\'
 * with '\', separates several values with " | " and each section by a newline. Adds each
 * address found. Returns the number added.
 */
int kvp_netsrc_parse_nmcli_dns(const char *text, char *list, size_t size);

/*
 * The first value of nmcli terse output (first line, up to an unescaped ':'), unescaped,
 * trailing newline removed: a connection name or "auto". -ENOENT if empty.
 */
int kvp_netsrc_parse_nmcli_value(const char *text, char **ret);

/*
 * hv_get_dhcp_info output: 1 if the first line starts with "Enabled", 0 with "Disabled"
 * (ASCII case ignored, leading blanks skipped), -EINVAL for anything else.
 */
int kvp_netsrc_parse_dhcp_helper(const char *text);

/*
 * State of an ifupdown interfaces(5) walk for one interface, carried across included files.
 * Set ifname, dns and dns_size (dns NUL-terminated); the rest starts zeroed.
 */
typedef struct KvpIfupdown {
	const char *ifname;
	char *dns; /* dns-nameservers of ifname's stanzas */
	size_t dns_size;
	bool found;	/* an "iface <ifname> ..." stanza exists */
	bool dhcp;	/* one of them is "inet dhcp" (or bootp) */
	bool in_stanza; /* option lines apply to ifname (internal) */
} KvpIfupdown;

/*
 * Called for "source PATTERN" (directory = false) and "source-directory DIR" (true) lines,
 * in file order; the callee parses the included files into the same KvpIfupdown. A negative
 * return aborts the walk with that error.
 */
typedef int (*KvpIfupdownInclude)(void *userdata, bool directory, const char *arg);

/*
 * Walks one interfaces(5) file: stanzas "iface NAME FAMILY METHOD" (exact name match),
 * option lines up to the next stanza ("iface", "mapping", "auto", "allow-*", "source",
 * "source-directory", "rename"), '#' comments, '\' line continuation. include may be NULL
 * (includes are then ignored). Returns 0 or the include callback's error.
 */
int kvp_netsrc_parse_ifupdown(const char *text, KvpIfupdown *st, KvpIfupdownInclude include,
			      void *userdata);
