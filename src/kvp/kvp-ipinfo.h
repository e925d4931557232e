/* SPDX-License-Identifier: MIT */
/*
 * The body of GET_IP_INFO / SET_IP_INFO (struct hv_kvp_ipaddr_value inside hv_kvp_msg,
 * hyperv-abi.md §4.2, §4.6, §4.7). Between kernel and daemon every string is UTF-8 and
 * NUL-terminated inside a __u16 array used as a byte buffer of twice its element count.
 * Pure codec: no I/O, no logging.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

/* Byte offsets in the 7432-byte message. */
#define KVP_OFF_IP_ADAPTER_ID 4u
#define KVP_OFF_IP_ADDR_FAMILY 260u
#define KVP_OFF_IP_DHCP_ENABLED 261u
#define KVP_OFF_IP_ADDR 262u
#define KVP_OFF_IP_SUBNET 2310u
#define KVP_OFF_IP_GATEWAY 4358u
#define KVP_OFF_IP_DNS 5382u

/* Field sizes in bytes (element counts of the __u16 arrays times two). */
#define KVP_IP_ADAPTER_ID_BYTES 256u /* MAX_ADAPTER_ID_SIZE 128 */
#define KVP_IP_ADDR_BYTES 2048u	     /* MAX_IP_ADDR_SIZE 1024 */
#define KVP_IP_GATEWAY_BYTES 1024u   /* MAX_GATEWAY_SIZE 512 */

/*
 * What survives the kernel's UTF-8 -> UTF-16 conversion towards the host, in UTF-16 units
 * (= ASCII bytes here): a reply longer than this is cut by the kernel, so we cut first, at a
 * list separator, never inside an address.
 */
#define KVP_IP_ADAPTER_ID_UNITS 128u
#define KVP_IP_ADDR_UNITS 1024u
#define KVP_IP_GATEWAY_UNITS 512u

#define KVP_ADDR_FAMILY_IPV4 1u
#define KVP_ADDR_FAMILY_IPV6 2u

/*
 * A decoded request or a reply to build. Strings are NUL-terminated. For GET_IP_INFO the
 * host fills adapter_id (the MAC, "00:15:5D:12:34:56") and addr_family; for SET_IP_INFO
 * adapter_id is the NIC's VMBus instance GUID ("{…}") and the lists are ';'-separated.
 */
typedef struct KvpIpInfo {
	char adapter_id[KVP_IP_ADAPTER_ID_BYTES];
	uint8_t addr_family;  /* KVP_ADDR_FAMILY_* bits */
	uint8_t dhcp_enabled; /* 0 or 1 */
	char ip_addr[KVP_IP_ADDR_BYTES];
	char sub_net[KVP_IP_ADDR_BYTES];
	char gate_way[KVP_IP_GATEWAY_BYTES];
	char dns_addr[KVP_IP_ADDR_BYTES];
} KvpIpInfo;

/*
 * Decodes the body of a GET_IP_INFO or SET_IP_INFO message (len must be KVP_MSG_SIZE, else
 * -EBADMSG). *ret is zeroed first, then every string is copied up to its NUL and each must
 * have one within its field (-EINVAL), be valid UTF-8 (-EILSEQ) and hold no control
 * character, C0, DEL or C1 (-EINVAL). addr_family may only carry KVP_ADDR_FAMILY_* bits
 * (-EINVAL; 0 is allowed and means both for GET_IP_INFO). A non-zero dhcp_enabled becomes 1:
 * upstream treats any non-zero byte as "on".
 */
int kvp_ipinfo_decode(const void *msg, size_t len, KvpIpInfo *ret);

/*
 * Builds a successful GET_IP_INFO reply into msg (KVP_MSG_SIZE bytes): all bytes zeroed
 * (status HV_S_OK), then every field of info at its offset, adapter_id included (the host's
 * id echoed). Every string must be NUL-terminated within its field (-E2BIG); on failure msg
 * is left untouched.
 */
int kvp_ipinfo_build_reply(void *msg, const KvpIpInfo *info);

/*
 * Appends item to the ';'-separated list in buf ("a" -> "a;item"; no separator before the
 * first item, none after the last: upstream's ip_addr / sub_net form). The result must fit
 * in size - 1 bytes and max_units UTF-16 units (what the kernel passes on to the host);
 * otherwise -E2BIG and buf is unchanged, so a list is only ever cut at a separator, never
 * inside an item. -EINVAL if item is empty, contains ';' or is not valid UTF-8, or if buf is
 * not NUL-terminated within size.
 */
int kvp_iplist_append(char *buf, size_t size, size_t max_units, const char *item);

/*
 * Like kvp_iplist_append() for upstream's "a;b;" form, where every item is followed by ';'
 * (gate_way and dns_addr, hyperv-abi.md §4.6): appends "item;". Same limits and errors.
 */
int kvp_iplist_append_trailing(char *buf, size_t size, size_t max_units, const char *item);
