/* SPDX-License-Identifier: MIT */
/*
 * hv_fcopy_daemon settings: compiled-in defaults, then the [fcopy] section of hvguest.conf
 * and its drop-ins, then the command line (fcopy-daemon.c), later ones winning.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/conf.h"
#include "fcopy/fcopy-transfer.h"

typedef struct FcopySettings {
	/* [fcopy] in hvguest.conf. */
	char **allowed_roots; /* absolute directories; NULL or empty: anywhere */
	mode_t file_mode;     /* delivered files, default 0644 */
	mode_t dir_mode;      /* directories created for CREATE_PATH, default 0755 */
	char *owner;	      /* user name or number; NULL/empty: root */
	char *group;	      /* group name or number; NULL/empty: unchanged (the daemon's) */
	int log_level;

	/* Command line only. */
	char *device;		     /* --device: char device; NULL: automatic choice */
	char *sysfs_dir;	     /* --sysfs-dir: where uio discovery looks, "/sys" */
	char *dev_dir;		     /* --dev-dir: where /dev/uioN lives, "/dev" */
	char *run_dir;		     /* --run-dir: fcopy-inflight lives here, FCOPY_RUN_DIR */
	int uio_ring_fd, uio_irq_fd; /* --uio-fds=RING,IRQ; -EBADF when not given */
} FcopySettings;

/* Fills s with the compiled-in defaults. 0 or -ENOMEM. */
int fcopy_settings_init(FcopySettings *s);

/*
 * Loads the config file and drop-ins on top of s (either may be NULL or missing). An invalid
 * value fails with -EINVAL and *reterr naming file, line and key; a relative allowed_roots
 * entry is reported with line 0 (it is checked once everything is merged).
 */
int fcopy_settings_load(FcopySettings *s, const char *file, const char *dropin_dir,
			ConfError *reterr);

/* Frees everything s owns (s may be re-initialised afterwards). */
void fcopy_settings_done(FcopySettings *s);

/*
 * Parses "RING,IRQ" (two non-negative decimal descriptor numbers, different from each
 * other). Returns 0 and sets both, or -EINVAL.
 */
int fcopy_settings_parse_uio_fds(const char *s, int *ret_ring, int *ret_irq);

/*
 * Builds the transfer policy from s: allowed_roots points into s (keep s alive), owner and
 * group are resolved now (names through NSS, numbers as they are). Unknown user or group:
 * -ESRCH. No owner and no group: the file belongs to the daemon (root).
 */
int fcopy_settings_policy(const FcopySettings *s, FcopyPolicy *ret);
