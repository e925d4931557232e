/* SPDX-License-Identifier: MIT */
/*
 * Host-side KVP request builders and reply decoders (see hostsim-kvp-host.h).
 */
#include <errno.h>
#include <string.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim-kvp-host.h"
#include "hostsim/hostsim-kvp.h"
#include "hostsim/hostsim-utf16.h"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static void header(uint8_t *msg, uint8_t op, uint8_t pool)
{
	memset(msg, 0, HS_KVP_MSG_SIZE);
	msg[0] = op;
	msg[1] = pool;
}

/* Encodes s at off (NUL-terminated, zero-filled buffer) and stores its byte size incl. NUL. */
static int put_string(uint8_t *msg, size_t off, size_t size_off, size_t max_units, const char *s)
{
	size_t units;
	int r;

	r = hostsim_utf16_from_utf8(s, msg + off, max_units, &units);
	if (r < 0)
		return r;
	put_le32(msg + size_off, (uint32_t)(2 * (units + 1)));
	return 0;
}

int hs_kvp_host_build_set(uint8_t *msg, uint8_t pool, const char *key, const char *value)
{
	int r;

	header(msg, HS_KVP_OP_SET, pool);
	put_le32(msg + HS_KVP_OFF_SET_VALUE_TYPE, HS_KVP_REG_SZ);
	r = put_string(msg, HS_KVP_OFF_SET_KEY, HS_KVP_OFF_SET_KEY_SIZE, HS_KVP_HOST_MAX_KEY_UNITS,
		       key);
	if (r < 0)
		return r;
	return put_string(msg, HS_KVP_OFF_SET_VALUE, HS_KVP_OFF_SET_VALUE_SIZE,
			  HS_KVP_HOST_MAX_VALUE_UNITS, value);
}

int hs_kvp_host_build_set_int(uint8_t *msg, uint8_t pool, const char *key, uint32_t value_type,
			      uint64_t value)
{
	header(msg, HS_KVP_OP_SET, pool);
	switch (value_type) {
	case HS_KVP_REG_U32:
		if (value > UINT32_MAX)
			return -ERANGE;
		put_le32(msg + HS_KVP_OFF_SET_VALUE, (uint32_t)value);
		put_le32(msg + HS_KVP_OFF_SET_VALUE_SIZE, 4);
		break;
	case HS_KVP_REG_U64:
		put_le64(msg + HS_KVP_OFF_SET_VALUE, value);
		put_le32(msg + HS_KVP_OFF_SET_VALUE_SIZE, 8);
		break;
	default:
		return -EINVAL;
	}
	put_le32(msg + HS_KVP_OFF_SET_VALUE_TYPE, value_type);
	return put_string(msg, HS_KVP_OFF_SET_KEY, HS_KVP_OFF_SET_KEY_SIZE,
			  HS_KVP_HOST_MAX_KEY_UNITS, key);
}

int hs_kvp_host_build_get(uint8_t *msg, uint8_t pool, const char *key)
{
	header(msg, HS_KVP_OP_GET, pool);
	return put_string(msg, HS_KVP_OFF_SET_KEY, HS_KVP_OFF_SET_KEY_SIZE,
			  HS_KVP_HOST_MAX_KEY_UNITS, key);
}

int hs_kvp_host_build_delete(uint8_t *msg, uint8_t pool, const char *key)
{
	header(msg, HS_KVP_OP_DELETE, pool);
	return put_string(msg, HS_KVP_OFF_DELETE_KEY, HS_KVP_OFF_DELETE_KEY_SIZE,
			  HS_KVP_HOST_MAX_KEY_UNITS, key);
}

void hs_kvp_host_build_enumerate(uint8_t *msg, uint8_t pool, uint32_t index)
{
	header(msg, HS_KVP_OP_ENUMERATE, pool);
	put_le32(msg + HS_KVP_OFF_ENUM_INDEX, index);
}

/* An hv_kvp_ip_msg string field: NUL-terminated inside its u16 array. */
static int put_ip_string(uint8_t *msg, size_t field, size_t units, const char *s)
{
	size_t n;

	return hostsim_utf16_from_utf8(s, msg + HS_KVP_IP_HOST_OFF + field, units - 1, &n);
}

int hs_kvp_host_build_ip_info(uint8_t *msg, uint8_t op, const HostKvpIpInfo *info)
{
	uint8_t *v = msg + HS_KVP_IP_HOST_OFF;
	int r;

	if (op != HS_KVP_OP_GET_IP_INFO && op != HS_KVP_OP_SET_IP_INFO)
		return -EINVAL;

	header(msg, op, 0);
	r = put_ip_string(msg, HS_KVP_IPV_ADAPTER_ID, HS_KVP_ADAPTER_ID_UNITS, info->adapter_id);
	if (r < 0)
		return r;
	v[HS_KVP_IPV_ADDR_FAMILY] = info->addr_family;
	if (op == HS_KVP_OP_GET_IP_INFO)
		return 0;

	v[HS_KVP_IPV_DHCP_ENABLED] = info->dhcp_enabled;
	r = put_ip_string(msg, HS_KVP_IPV_IP_ADDR, HS_KVP_IP_ADDR_UNITS, info->ip_addr);
	if (r < 0)
		return r;
	r = put_ip_string(msg, HS_KVP_IPV_SUB_NET, HS_KVP_IP_ADDR_UNITS, info->sub_net);
	if (r < 0)
		return r;
	r = put_ip_string(msg, HS_KVP_IPV_GATE_WAY, HS_KVP_GATEWAY_UNITS, info->gate_way);
	if (r < 0)
		return r;
	return put_ip_string(msg, HS_KVP_IPV_DNS_ADDR, HS_KVP_IP_ADDR_UNITS, info->dns_addr);
}

/* A string the kernel described by a byte size including the terminator. */
static void get_sized(const uint8_t *msg, size_t off, size_t size_off, size_t field_units,
		      char *out, size_t out_size)
{
	uint32_t size = get_le32(msg + size_off);
	size_t units = size >= 2 ? MIN((size_t)size / 2 - 1, field_units) : 0;

	(void)hostsim_utf16_to_utf8(msg + off, units, out, out_size);
}

void hs_kvp_host_parse_reply(const uint8_t *msg, uint32_t status, HostKvpReply *ret)
{
	ret->status = status;
	ret->key[0] = '\0';
	ret->value[0] = '\0';
	if (status != HV_S_OK)
		return;

	switch (msg[0]) {
	case HS_KVP_OP_GET:
		get_sized(msg, HS_KVP_OFF_SET_VALUE, HS_KVP_OFF_SET_VALUE_SIZE,
			  HS_KVP_VALUE_SIZE / 2, ret->value, sizeof(ret->value));
		break;
	case HS_KVP_OP_ENUMERATE:
		get_sized(msg, HS_KVP_OFF_ENUM_KEY, HS_KVP_OFF_ENUM_KEY_SIZE, HS_KVP_KEY_SIZE / 2,
			  ret->key, sizeof(ret->key));
		get_sized(msg, HS_KVP_OFF_ENUM_VALUE, HS_KVP_OFF_ENUM_VALUE_SIZE,
			  HS_KVP_VALUE_SIZE / 2, ret->value, sizeof(ret->value));
		break;
	default:
		break;
	}
}

static void get_ip_string(const uint8_t *msg, size_t field, size_t units, char *out,
			  size_t out_size)
{
	(void)hostsim_utf16_to_utf8(msg + HS_KVP_IP_HOST_OFF + field, units, out, out_size);
}

void hs_kvp_host_parse_ip_info(const uint8_t *msg, uint32_t status, HostKvpIpInfo *ret)
{
	const uint8_t *v = msg + HS_KVP_IP_HOST_OFF;

	memset(ret, 0, sizeof(*ret));
	ret->status = status;
	if (status != HV_S_OK)
		return;

	get_ip_string(msg, HS_KVP_IPV_ADAPTER_ID, HS_KVP_ADAPTER_ID_UNITS, ret->adapter_id,
		      sizeof(ret->adapter_id));
	ret->addr_family = v[HS_KVP_IPV_ADDR_FAMILY];
	ret->dhcp_enabled = v[HS_KVP_IPV_DHCP_ENABLED];
	get_ip_string(msg, HS_KVP_IPV_IP_ADDR, HS_KVP_IP_ADDR_UNITS, ret->ip_addr,
		      sizeof(ret->ip_addr));
	get_ip_string(msg, HS_KVP_IPV_SUB_NET, HS_KVP_IP_ADDR_UNITS, ret->sub_net,
		      sizeof(ret->sub_net));
	get_ip_string(msg, HS_KVP_IPV_GATE_WAY, HS_KVP_GATEWAY_UNITS, ret->gate_way,
		      sizeof(ret->gate_way));
	get_ip_string(msg, HS_KVP_IPV_DNS_ADDR, HS_KVP_IP_ADDR_UNITS, ret->dns_addr,
		      sizeof(ret->dns_addr));
}
