/* SPDX-License-Identifier: MIT */
/*
 * KvpIpConfig -> the configuration file of each network manager, as text. Pure.
 *
 * Every value written here is either a canonical inet_ntop() literal, a number, a MAC we
 * normalised, or an interface name that passed kvp_ifname_is_safe(); none of the formats
 * needs quoting or escaping for those, which is why nothing host-supplied is ever copied
 * verbatim.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kvp/kvp-ipconfig.h"

typedef struct Buf {
	char *p;
	size_t len, alloc;
	int err;
} Buf;

static void buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
static void buf_printf(Buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		size_t room = b->alloc - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t want = MAX(b->alloc * 2, b->len + (size_t)n + 1);
		char *np = realloc(b->p, MAX(want, (size_t)1024));

		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->alloc = MAX(want, (size_t)1024);
	}
}

static int buf_finish(Buf *b, char **ret)
{
	if (b->err) {
		free(b->p);
		return b->err;
	}
	*ret = b->p;
	return 0;
}

static const char header[] = "# Hyper-V host-injected IP configuration (SET_IP_INFO), written by "
			     "hvguest.\n"
			     "# The next injection for this adapter replaces this file.\n";

static size_t count_family(const KvpIpAddr *a, size_t n, int family)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += a[i].family == family;
	return k;
}

/* The k-th (0-based) element of a with the given family, or NULL. */
static const KvpIpAddr *nth_of_family(const KvpIpAddr *a, size_t n, int family, size_t k)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].family == family && k-- == 0)
			return &a[i];
	return NULL;
}

static unsigned extra_gw_metric(size_t k)
{
	return KVP_IPCONFIG_EXTRA_GW_METRIC + (unsigned)k - 1u;
}

static const char *default_dest(int family)
{
	return family == AF_INET ? "0.0.0.0/0" : "::/0";
}

static void mac_upper(const char *mac, char *out)
{
	for (size_t i = 0; i < KVP_MAC_BUFSIZE; i++)
		out[i] = (char)toupper((unsigned char)mac[i]);
}

/* 2001:0db8:0000:...: the upstream daemon writes IPv6 literals with all 8 groups in full. */
static void ipv6_expand(const struct in6_addr *a, char *out, size_t size)
{
	const uint8_t *b = a->s6_addr;

	(void)snprintf(out, size,
		       "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
		       b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		       b[12], b[13], b[14], b[15]);
}

static void netmask_text(unsigned prefixlen, char *out, size_t size)
{
	struct in_addr m = { .s_addr = htonl(prefixlen ? ~UINT32_C(0) << (32 - prefixlen) : 0) };

	if (!inet_ntop(AF_INET, &m, out, (socklen_t)size))
		out[0] = '\0';
}

/* ---- NetworkManager keyfile ---- */

static void nm_family(Buf *b, const KvpIpConfig *c, int family)
{
	size_t naddr = count_family(c->addrs, c->n_addrs, family);
	size_t ngw = count_family(c->gateways, c->n_gateways, family);
	size_t ndns = count_family(c->dns, c->n_dns, family);
	const char *method;
	unsigned route = 1;

	if (family == AF_INET)
		method = c->dhcp4 ? "auto" : naddr ? "manual" : "disabled";
	else
		method = naddr ? "manual" : "auto";
	buf_printf(b, "\n[%s]\nmethod=%s\n", family == AF_INET ? "ipv4" : "ipv6", method);
	for (size_t k = 0; k < naddr; k++) {
		const KvpIpAddr *a = nth_of_family(c->addrs, c->n_addrs, family, k);

		buf_printf(b, "address%zu=%s/%u\n", k + 1, a->text, a->prefixlen);
	}
	/*
	 * "gateway=" is only valid next to static addresses of its family; otherwise (DHCP,
	 * SLAAC) the first gateway becomes a default route of the profile's own metric.
	 */
	for (size_t k = 0; k < ngw; k++) {
		const KvpIpAddr *g = nth_of_family(c->gateways, c->n_gateways, family, k);

		if (k == 0 && naddr > 0)
			buf_printf(b, "gateway=%s\n", g->text);
		else if (k == 0)
			buf_printf(b, "route%u=%s,%s\n", route++, default_dest(family), g->text);
		else
			buf_printf(b, "route%u=%s,%s,%u\n", route++, default_dest(family), g->text,
				   extra_gw_metric(k));
	}
	if (ndns > 0) {
		buf_printf(b, "dns=");
		for (size_t k = 0; k < ndns; k++)
			buf_printf(b, "%s;", nth_of_family(c->dns, c->n_dns, family, k)->text);
		buf_printf(b, "\n");
	}
}

static void render_nm(Buf *b, const KvpIpConfig *c, const KvpNic *nic)
{
	char uuid[KVP_UUID_BUFSIZE], mac[KVP_MAC_BUFSIZE];

	kvp_ipconfig_nm_uuid(nic, uuid);
	mac_upper(nic->mac, mac);
	buf_printf(b, "%s", header);
	/*
	 * autoconnect-priority above the default 0: at boot this profile wins over a generic
	 * "Wired connection" that also matches the NIC.
	 */
	buf_printf(b,
		   "[connection]\nid=hvguest-%s\nuuid=%s\ntype=ethernet\ninterface-name=%s\n"
		   "autoconnect=true\nautoconnect-priority=10\n",
		   nic->ifname, uuid, nic->ifname);
	buf_printf(b, "\n[ethernet]\nmac-address=%s\n", mac);
	nm_family(b, c, AF_INET);
	nm_family(b, c, AF_INET6);
}

/* ---- systemd-networkd ---- */

static void render_networkd(Buf *b, const KvpIpConfig *c, const KvpNic *nic)
{
	static const int families[] = { AF_INET, AF_INET6 };

	buf_printf(b, "%s", header);
	/* Name= as well as the MAC: an SR-IOV VF shares the synthetic NIC's MAC. */
	buf_printf(b, "[Match]\nMACAddress=%s\nName=%s\n", nic->mac, nic->ifname);
	buf_printf(b, "\n[Network]\nDHCP=%s\n", c->dhcp4 ? "ipv4" : "no");
	for (size_t i = 0; i < c->n_addrs; i++)
		buf_printf(b, "Address=%s/%u\n", c->addrs[i].text, c->addrs[i].prefixlen);
	for (size_t f = 0; f < ELEMENTSOF(families); f++) {
		const KvpIpAddr *g = nth_of_family(c->gateways, c->n_gateways, families[f], 0);

		if (g)
			buf_printf(b, "Gateway=%s\n", g->text);
	}
	for (size_t i = 0; i < c->n_dns; i++)
		buf_printf(b, "DNS=%s\n", c->dns[i].text);
	for (size_t f = 0; f < ELEMENTSOF(families); f++) {
		size_t ngw = count_family(c->gateways, c->n_gateways, families[f]);

		for (size_t k = 1; k < ngw; k++)
			buf_printf(b, "\n[Route]\nGateway=%s\nMetric=%u\n",
				   nth_of_family(c->gateways, c->n_gateways, families[f], k)->text,
				   extra_gw_metric(k));
	}
}

/* ---- netplan ---- */

static void render_netplan(Buf *b, const KvpIpConfig *c, const KvpNic *nic)
{
	static const int families[] = { AF_INET, AF_INET6 };

	buf_printf(b, "%s", header);
	/*
	 * The definition id is the interface name, so that this file (sorted late as
	 * 90-hvguest-*) overrides an earlier definition of the same NIC (cloud-init's
	 * "eth0") instead of adding a second one that networkd might rank first. Matching on
	 * name and MAC keeps an SR-IOV VF with the same MAC out.
	 */
	buf_printf(b,
		   "network:\n  version: 2\n  ethernets:\n    %s:\n      match:\n"
		   "        macaddress: \"%s\"\n        name: \"%s\"\n      dhcp4: %s\n",
		   nic->ifname, nic->mac, nic->ifname, c->dhcp4 ? "true" : "false");
	if (c->n_addrs > 0) {
		buf_printf(b, "      addresses:\n");
		for (size_t i = 0; i < c->n_addrs; i++)
			buf_printf(b, "        - \"%s/%u\"\n", c->addrs[i].text,
				   c->addrs[i].prefixlen);
	}
	if (c->n_gateways > 0) {
		buf_printf(b, "      routes:\n");
		for (size_t f = 0; f < ELEMENTSOF(families); f++) {
			size_t ngw = count_family(c->gateways, c->n_gateways, families[f]);

			for (size_t k = 0; k < ngw; k++) {
				const KvpIpAddr *g =
					nth_of_family(c->gateways, c->n_gateways, families[f], k);

				buf_printf(b, "        - to: default\n          via: \"%s\"\n",
					   g->text);
				if (k > 0)
					buf_printf(b, "          metric: %u\n", extra_gw_metric(k));
			}
		}
	}
	if (c->n_dns > 0) {
		buf_printf(b, "      nameservers:\n        addresses:\n");
		for (size_t i = 0; i < c->n_dns; i++)
			buf_printf(b, "          - \"%s\"\n", c->dns[i].text);
	}
}

/* ---- ifupdown ---- */

/* Default routes that cannot be a stanza's "gateway" option: run through ip(8) by ifupdown. */
static void ifupdown_route_lines(Buf *b, const KvpIpConfig *c, const KvpNic *nic, int family,
				 size_t first)
{
	size_t ngw = count_family(c->gateways, c->n_gateways, family);
	const char *fam = family == AF_INET ? "-4" : "-6";

	for (size_t k = first; k < ngw; k++) {
		const KvpIpAddr *g = nth_of_family(c->gateways, c->n_gateways, family, k);
		char metric[32] = "";

		if (k > 0)
			(void)snprintf(metric, sizeof(metric), " metric %u", extra_gw_metric(k));
		buf_printf(b, "\tup ip %s route add default via %s dev %s%s\n", fam, g->text,
			   nic->ifname, metric);
		buf_printf(b, "\tdown ip %s route del default via %s dev %s%s\n", fam, g->text,
			   nic->ifname, metric);
	}
}

static void ifupdown_dns(Buf *b, const KvpIpConfig *c, bool *dns_done)
{
	if (*dns_done || c->n_dns == 0)
		return;
	buf_printf(b, "\tdns-nameservers");
	for (size_t i = 0; i < c->n_dns; i++)
		buf_printf(b, " %s", c->dns[i].text);
	buf_printf(b, "\n");
	*dns_done = true;
}

/*
 * One family: "dhcp" (IPv4 with DHCP) or "auto" (IPv6 without addresses) first, then one
 * "static" stanza per address (ifupdown allows several stanzas per interface and family).
 * The first gateway is the first static stanza's "gateway" option.
 */
static void ifupdown_family(Buf *b, const KvpIpConfig *c, const KvpNic *nic, int family,
			    bool *dns_done, bool *any)
{
	size_t naddr = count_family(c->addrs, c->n_addrs, family);
	const char *inet = family == AF_INET ? "inet" : "inet6";
	const char *dynamic = NULL;

	/*
	 * Without any IPv6 in the request no inet6 stanza is written: the kernel's own SLAAC
	 * default is what NetworkManager's "auto" means, and "inet6 auto" would make ifup fail
	 * where IPv6 is disabled.
	 */
	if (family == AF_INET && c->dhcp4)
		dynamic = "dhcp";
	else if (family == AF_INET6 && naddr == 0 &&
		 (count_family(c->gateways, c->n_gateways, AF_INET6) > 0 ||
		  count_family(c->dns, c->n_dns, AF_INET6) > 0))
		dynamic = "auto";

	*any = *any || dynamic || naddr > 0;
	if (dynamic) {
		buf_printf(b, "\niface %s %s %s\n", nic->ifname, inet, dynamic);
		ifupdown_dns(b, c, dns_done);
		ifupdown_route_lines(b, c, nic, family, naddr > 0 ? 1 : 0);
	}
	for (size_t k = 0; k < naddr; k++) {
		const KvpIpAddr *a = nth_of_family(c->addrs, c->n_addrs, family, k);
		const KvpIpAddr *g = nth_of_family(c->gateways, c->n_gateways, family, 0);

		buf_printf(b, "\niface %s %s static\n\taddress %s/%u\n", nic->ifname, inet, a->text,
			   a->prefixlen);
		if (k == 0 && g)
			buf_printf(b, "\tgateway %s\n", g->text);
		ifupdown_dns(b, c, dns_done);
		if (k == 0 && !dynamic)
			ifupdown_route_lines(b, c, nic, family, 1);
	}
}

static void render_ifupdown(Buf *b, const KvpIpConfig *c, const KvpNic *nic)
{
	bool dns_done = false, any = false;

	buf_printf(b, "%s", header);
	buf_printf(b, "auto %s\n", nic->ifname);
	ifupdown_family(b, c, nic, AF_INET, &dns_done, &any);
	ifupdown_family(b, c, nic, AF_INET6, &dns_done, &any);
	/* nothing to configure (IPv4 off, no IPv6 data): the link still comes up */
	if (!any)
		buf_printf(b, "\niface %s inet manual\n", nic->ifname);
}

/* ---- RHEL ifcfg ---- */

static void ifcfg_ipv4_common(Buf *b, const KvpIpConfig *c)
{
	size_t n4 = count_family(c->addrs, c->n_addrs, AF_INET);

	for (size_t k = 0; k < n4; k++) {
		const KvpIpAddr *a = nth_of_family(c->addrs, c->n_addrs, AF_INET, k);
		char mask[INET_ADDRSTRLEN];

		netmask_text(a->prefixlen, mask, sizeof(mask));
		buf_printf(b, "IPADDR%zu=%s\nNETMASK%zu=%s\n", k, a->text, k, mask);
	}
}

/*
 * What initscripts and NetworkManager's ifcfg-rh plugin read: IPADDRn/NETMASKn, GATEWAY,
 * DNSn, IPV6ADDR + IPV6ADDR_SECONDARIES, IPV6_DEFAULTGW. ifcfg has one default gateway per
 * family, so further gateways are not written.
 */
static void render_ifcfg(Buf *b, const KvpIpConfig *c, const KvpNic *nic)
{
	size_t n6 = count_family(c->addrs, c->n_addrs, AF_INET6);
	const KvpIpAddr *g4 = nth_of_family(c->gateways, c->n_gateways, AF_INET, 0);
	const KvpIpAddr *g6 = nth_of_family(c->gateways, c->n_gateways, AF_INET6, 0);
	char mac[KVP_MAC_BUFSIZE];

	mac_upper(nic->mac, mac);
	buf_printf(b, "%s", header);
	buf_printf(b, "DEVICE=%s\nHWADDR=%s\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=%s\n",
		   nic->ifname, mac, c->dhcp4 ? "dhcp" : "none");
	ifcfg_ipv4_common(b, c);
	if (g4)
		buf_printf(b, "GATEWAY=%s\n", g4->text);
	for (size_t i = 0; i < c->n_dns; i++)
		buf_printf(b, "DNS%zu=%s\n", i + 1, c->dns[i].text);
	buf_printf(b, "IPV6INIT=yes\nIPV6_AUTOCONF=%s\n", n6 ? "no" : "yes");
	for (size_t k = 0; k < n6; k++) {
		const KvpIpAddr *a = nth_of_family(c->addrs, c->n_addrs, AF_INET6, k);

		if (k == 0)
			buf_printf(b, "IPV6ADDR=%s/%u\n", a->text, a->prefixlen);
		else
			buf_printf(b, "%s%s/%u%s", k == 1 ? "IPV6ADDR_SECONDARIES=\"" : " ",
				   a->text, a->prefixlen, k + 1 == n6 ? "\"\n" : "");
	}
	if (g6)
		buf_printf(b, "IPV6_DEFAULTGW=%s\n", g6->text);
}

static void upstream_v6_key(Buf *b, const char *key, size_t k)
{
	if (k == 0)
		buf_printf(b, "%s=", key);
	else
		buf_printf(b, "%s_%zu=", key, k);
}

/*
 * The upstream daemon's file (hyperv-abi.md §4.7), which site hv_set_ifconfig scripts
 * read: addresses, then masks, then gateways, then DNS servers, each list in host order;
 * IPv6 literals with all groups written out.
 */
static void render_ifcfg_upstream(Buf *b, const KvpIpConfig *c, const KvpNic *nic)
{
	size_t n4 = 0, n6 = 0;
	char mac[KVP_MAC_BUFSIZE], v6[INET6_ADDRSTRLEN + 8];

	mac_upper(nic->mac, mac);
	buf_printf(b, "HWADDR=%s\nDEVICE=%s\nBOOTPROTO=%s\n", mac, nic->ifname,
		   c->dhcp4 ? "dhcp" : "none");
	for (size_t i = 0; i < c->n_addrs; i++) {
		const KvpIpAddr *a = &c->addrs[i];

		if (a->family == AF_INET) {
			buf_printf(b, "IPADDR%zu=%s\n", n4++, a->text);
			continue;
		}
		ipv6_expand(&a->u.in6, v6, sizeof(v6));
		upstream_v6_key(b, "IPV6ADDR", n6++);
		buf_printf(b, "%s\n", v6);
	}
	n4 = n6 = 0;
	for (size_t i = 0; i < c->n_addrs; i++) {
		const KvpIpAddr *a = &c->addrs[i];
		char mask[INET_ADDRSTRLEN];

		if (a->family == AF_INET) {
			netmask_text(a->prefixlen, mask, sizeof(mask));
			buf_printf(b, "NETMASK%zu=%s\n", n4++, mask);
			continue;
		}
		upstream_v6_key(b, "IPV6NETMASK", n6++);
		buf_printf(b, "%u\n", a->prefixlen);
	}
	n4 = n6 = 0;
	for (size_t i = 0; i < c->n_gateways; i++) {
		const KvpIpAddr *g = &c->gateways[i];

		if (g->family == AF_INET) {
			if (n4 == 0)
				buf_printf(b, "GATEWAY=%s\n", g->text);
			else
				buf_printf(b, "GATEWAY%zu=%s\n", n4, g->text);
			n4++;
			continue;
		}
		ipv6_expand(&g->u.in6, v6, sizeof(v6));
		upstream_v6_key(b, "IPV6_DEFAULTGW", n6++);
		buf_printf(b, "%s\n", v6);
	}
	for (size_t i = 0; i < c->n_dns; i++) {
		const KvpIpAddr *d = &c->dns[i];

		if (d->family == AF_INET)
			buf_printf(b, "DNS%zu=%s\n", i + 1, d->text);
		else {
			ipv6_expand(&d->u.in6, v6, sizeof(v6));
			buf_printf(b, "DNS%zu=%s\n", i + 1, v6);
		}
	}
}

int kvp_ipconfig_render(KvpIpFormat f, const KvpIpConfig *c, const KvpNic *nic, char **ret)
{
	char mac[KVP_MAC_BUFSIZE];
	Buf b = { 0 };

	if (!kvp_ifname_is_safe(nic->ifname) || kvp_mac_normalize(nic->mac, mac) < 0 ||
	    strcmp(mac, nic->mac) != 0)
		return -EINVAL;
	switch (f) {
	case KVP_IP_FORMAT_NM_KEYFILE:
		render_nm(&b, c, nic);
		break;
	case KVP_IP_FORMAT_NETWORKD:
		render_networkd(&b, c, nic);
		break;
	case KVP_IP_FORMAT_NETPLAN:
		render_netplan(&b, c, nic);
		break;
	case KVP_IP_FORMAT_IFUPDOWN:
		render_ifupdown(&b, c, nic);
		break;
	case KVP_IP_FORMAT_IFCFG:
		render_ifcfg(&b, c, nic);
		break;
	case KVP_IP_FORMAT_IFCFG_UPSTREAM:
		render_ifcfg_upstream(&b, c, nic);
		break;
	case _KVP_IP_FORMAT_MAX:
	case _KVP_IP_FORMAT_INVALID:
		return -EINVAL;
	}
	return buf_finish(&b, ret);
}
