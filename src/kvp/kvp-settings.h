/* SPDX-License-Identifier: MIT */
/*
 * hv_kvp_daemon settings: compiled-in defaults, then the [kvp] section of hvguest.conf and
 * its drop-ins, then the command line (kvp-daemon.c), later ones winning.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/conf.h"

typedef struct KvpSettings {
	char *device;		     /* /dev/vmbus/hv_kvp */
	char *state_dir;	     /* /var/lib/hyperv, or $STATE_DIRECTORY */
	char *os_release;	     /* NULL: /etc/os-release, then /usr/lib/os-release */
	char **exclude_interfaces;   /* globs excluded from the auto pool's address lists */
	bool private_host_pools;     /* pools 0 and 3 mode 0600 instead of 0644 */
	uint64_t lock_timeout_usec;  /* longest wait for another program's pool lock */
	uint64_t flush_timeout_usec; /* longest wait at exit for pending pool writes */
	int log_level;

	/* Per-NIC IP information (GET_IP_INFO) and injection (SET_IP_INFO). */
	char *ip_backend; /* auto, networkmanager, networkd, netplan, ifupdown, ifcfg, script */
	uint64_t ip_apply_timeout_usec; /* longest an injected configuration may take to apply */
	char *dns_helper;  /* site's hv_get_dns_info, run as "helper IFNAME"; NULL: native */
	char *dhcp_helper; /* site's hv_get_dhcp_info; NULL: native */
	char *set_ifconfig_helper; /* the script back-end's hv_set_ifconfig */
	uint64_t helper_timeout_usec;
	/* Test seams, command line only: where network configuration and tools live. */
	char *root_dir;	 /* NULL: "/" */
	char *tools_dir; /* NULL: nmcli, networkctl, ... at their usual paths */
	char *sysfs_dir; /* NULL: libudev */
} KvpSettings;

/* Fills s with the compiled-in defaults (honouring $STATE_DIRECTORY). */
int kvp_settings_init(KvpSettings *s);
/* Loads the config file and drop-ins on top of s. */
int kvp_settings_load(KvpSettings *s, const char *file, const char *dropin_dir, ConfError *reterr);
void kvp_settings_done(KvpSettings *s);
