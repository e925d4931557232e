/* SPDX-License-Identifier: MIT */
/*
 * The auto pool (pool 2): ten intrinsic keys at positions fixed by Microsoft.
 *
 *  0 FullyQualifiedDomainName    3 NetworkAddressIPv6   6 OSMajorVersion   9 ProcessorArchitecture
 *  1 IntegrationServicesVersion  4 OSBuildNumber        7 OSMinorVersion
 *  2 NetworkAddressIPv4          5 OSName               8 OSVersion
 *
 * OS facts are read once at creation (os-release, uname). Addresses come from the netinfo
 * seam when position 0 is enumerated and are then served from that snapshot. The FQDN is
 * whatever the caller last set (kvp-fqdn refreshes it in the background); it is never an
 * error text.
 */
#pragma once

#include <stdint.h>
#include <sys/utsname.h>

#include "common/macro.h"
#include "kvp/kvp-netinfo.h"

typedef struct KvpAuto KvpAuto;

typedef struct KvpAutoOptions {
	const char *os_release_path; /* NULL: /etc/os-release then /usr/lib/os-release */
	char *const *exclude_ifaces; /* fnmatch globs; NULL-terminated; NULL for none */
	const NetinfoOps *net;	     /* address source */
	void *net_userdata;
	/* uname() override for tests; NULL: the real uname. */
	int (*uname_fn)(struct utsname *ret);
} KvpAutoOptions;

int kvp_auto_new(const KvpAutoOptions *o, KvpAuto **ret);
KvpAuto *kvp_auto_free(KvpAuto *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpAuto *, kvp_auto_free);

void kvp_auto_set_version(KvpAuto *a, const char *version);
void kvp_auto_set_fqdn(KvpAuto *a, const char *fqdn);

/* Position index; index 0 refreshes the address snapshot. -ENOENT past position 9. */
int kvp_auto_enumerate(KvpAuto *a, uint32_t index, const char **ret_key, const char **ret_value);
/* Lookup by key name (refreshes addresses for the address keys). -ENOENT if unknown. */
int kvp_auto_get(KvpAuto *a, const char *key, const char **ret_value);
