/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for SET_IP_INFO validation and the hv_set_ifconfig ifcfg parser.
 * Input: a mode byte, then either an ifcfg file (mode even) or the fields
 * "guid|ip|subnet|gateways|dns" of a request (mode odd; bit 1 is dhcp_enabled).
 * Whatever is accepted must render in every format to plain text (printable ASCII, tabs,
 * newlines), and the upstream ifcfg rendering must parse back to the same counts.
 */
#include <string.h>

#include "kvp/kvp-ipconfig.h"
#include "kvp/kvp-ipinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *t)
{
	for (; *t; t++)
		assert_se(*t == '\n' || *t == '\t' || ((unsigned char)*t >= 0x20 && *t != 0x7f));
}

static void check_config(const KvpIpConfig *c, const KvpNic *nic)
{
	static KvpIpConfig back;
	KvpNic nic2;

	for (int f = 0; f < _KVP_IP_FORMAT_MAX; f++) {
		char *text = NULL;

		assert_se(kvp_ipconfig_render((KvpIpFormat)f, c, nic, &text) == 0);
		check_text(text);
		if (f == KVP_IP_FORMAT_IFCFG_UPSTREAM) {
			assert_se(kvp_ipconfig_parse_ifcfg(text, &back, &nic2) == 0);
			assert_se(back.n_addrs == c->n_addrs && back.n_dns == c->n_dns &&
				  back.n_gateways == c->n_gateways && back.dhcp4 == c->dhcp4);
			assert_se(strcmp(nic2.ifname, nic->ifname) == 0);
		}
		free(text);
	}
}

/* Copies the next '|'-separated field of [*p, end) into dst (NUL-terminated, truncated). */
static void next_field(const uint8_t **p, const uint8_t *end, char *dst, size_t size)
{
	const uint8_t *bar = memchr(*p, '|', (size_t)(end - *p));
	size_t len = (size_t)((bar ? bar : end) - *p);

	len = MIN(len, size - 1);
	memcpy(dst, *p, len);
	dst[len] = '\0';
	*p = bar ? bar + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static KvpIpInfo req;
	static KvpIpConfig c;
	static char text[64 * 1024];
	const KvpNic test_nic = { .ifname = "eth0",
				  .mac = "00:15:5d:12:34:56",
				  .guid = "{f8615163-df3e-46c5-913f-f2d2f965ed0e}" };
	const uint8_t *p, *end = data + size;
	KvpNic nic;

	if (size < 1 || size > sizeof(text) - 1)
		return 0;
	p = data + 1;
	if ((data[0] & 1) == 0) {
		memcpy(text, p, size - 1);
		text[size - 1] = '\0';
		if (kvp_ipconfig_parse_ifcfg(text, &c, &nic) == 0) {
			assert_se(kvp_ifname_is_safe(nic.ifname));
			check_config(&c, &nic);
		}
		return 0;
	}
	memset(&req, 0, sizeof(req));
	next_field(&p, end, req.adapter_id, sizeof(req.adapter_id));
	next_field(&p, end, req.ip_addr, sizeof(req.ip_addr));
	next_field(&p, end, req.sub_net, sizeof(req.sub_net));
	next_field(&p, end, req.gate_way, sizeof(req.gate_way));
	next_field(&p, end, req.dns_addr, sizeof(req.dns_addr));
	req.dhcp_enabled = (data[0] >> 1) & 1;
	if (kvp_ipconfig_from_ipinfo(&req, &c) == 0) {
		assert_se(c.n_addrs <= KVP_IPCONFIG_MAX_ADDRS);
		check_config(&c, &test_nic);
	}
	return 0;
}
