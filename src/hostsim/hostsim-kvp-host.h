/* SPDX-License-Identifier: MIT */
/*
 * The simulated host's side of the KVP IC: builds requests in the host's wire form
 * (struct hv_kvp_msg / hv_kvp_ip_msg with UTF-16LE strings and byte sizes that include the
 * terminator) from UTF-8 input, and decodes the host's view of a completed request.
 * Pure: no I/O. Message buffers are HS_KVP_MSG_SIZE bytes.
 */
#pragma once

#include <stdint.h>

#include "hostsim/hostsim.h"

/* Longest strings a host request can carry, in UTF-16 units, excluding the terminator. */
#define HS_KVP_HOST_MAX_KEY_UNITS 255u
#define HS_KVP_HOST_MAX_VALUE_UNITS 1023u

/* REG_SZ SET. -EILSEQ for invalid UTF-8, -E2BIG if key or value is too long. */
int hs_kvp_host_build_set(uint8_t *msg, uint8_t pool, const char *key, const char *value);
/* SET of a REG_U32 (value_type 4) or REG_U64 (8) value. -EINVAL for other types. */
int hs_kvp_host_build_set_int(uint8_t *msg, uint8_t pool, const char *key, uint32_t value_type,
			      uint64_t value);
int hs_kvp_host_build_get(uint8_t *msg, uint8_t pool, const char *key);
int hs_kvp_host_build_delete(uint8_t *msg, uint8_t pool, const char *key);
void hs_kvp_host_build_enumerate(uint8_t *msg, uint8_t pool, uint32_t index);
/* GET_IP_INFO (adapter_id, addr_family) or SET_IP_INFO (everything) in hv_kvp_ip_msg form. */
int hs_kvp_host_build_ip_info(uint8_t *msg, uint8_t op, const HostKvpIpInfo *info);

/*
 * Decodes the host's copy of a completed request (answered in place). Strings are filled
 * only when status is HV_S_OK: ENUMERATE key and value, GET value.
 */
void hs_kvp_host_parse_reply(const uint8_t *msg, uint32_t status, HostKvpReply *ret);
/* Decodes a completed GET_IP_INFO. */
void hs_kvp_host_parse_ip_info(const uint8_t *msg, uint32_t status, HostKvpIpInfo *ret);
