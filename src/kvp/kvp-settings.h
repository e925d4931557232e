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
} KvpSettings;

/* Fills s with the compiled-in defaults (honouring $STATE_DIRECTORY). */
int kvp_settings_init(KvpSettings *s);
/* Loads the config file and drop-ins on top of s. */
int kvp_settings_load(KvpSettings *s, const char *file, const char *dropin_dir, ConfError *reterr);
void kvp_settings_done(KvpSettings *s);
