/* SPDX-License-Identifier: MIT */
/*
 * The Hyper-V PTP clock as a SourceOps: discovery by clock_name and paired readings through the
 * PTP_SYS_OFFSET ioctl. Only glibc calls (open, ioctl, opendir) so that LD_PRELOAD clock
 * simulators can intercept them.
 */
#pragma once

#include <stddef.h>

#include "timesync/source.h"

typedef struct PhcSource PhcSource;

/**
 * phc_find() - locate the Hyper-V PTP clock device
 * @sysfs_dir: sysfs root, normally "/sys"
 * @dev_dir: device directory, normally "/dev"
 * @ret_path: malloc'ed device path on success
 *
 * Scans SYSFS/class/ptp/ptp*\/clock_name for "hyperv" (a trailing newline is fine) and answers
 * DEV/ptpN for the lowest such N; when no clock_name matches (or there is no class/ptp at all),
 * answers DEV/ptp_hyperv if that exists (the udev symlink). The device node itself is not
 * opened. Returns 0, -ENODEV when there is no Hyper-V PTP clock, or another negative errno.
 */
int phc_find(const char *sysfs_dir, const char *dev_dir, char **ret_path);

/**
 * phc_source_open() - open a PTP clock device for PTP_SYS_OFFSET readings
 * @path: e.g. "/dev/ptp_hyperv"
 * @ret: the source (use with phc_source_ops, userdata = the PhcSource)
 *
 * Opens read-only (reading needs no write access). Returns 0 or a negative errno from open().
 */
int phc_source_open(const char *path, PhcSource **ret);

/* Closes the device and frees; accepts NULL and returns NULL. */
PhcSource *phc_source_free(PhcSource *s);

/* The device path given to phc_source_open() (owned by s). */
const char *phc_source_path(const PhcSource *s);

/*
 * read(userdata = PhcSource *): one PTP_SYS_OFFSET ioctl asking for min(n, PTP_MAX_SAMPLES)
 * samples, parsed by source_parse_ptp_sys_offset(). Errors: -EINVAL for n == 0, -ESTALE when
 * the clock has no host sample for 600 s (hold over), -ENODEV when the device went away
 * (ENODEV, ENXIO, EIO from the ioctl), otherwise -errno of the ioctl. EINTR is retried.
 */
extern const SourceOps phc_source_ops;

/*
 * Test seam: the ioctl used by a PhcSource, with ioctl()'s contract (returns -1 and sets errno
 * on failure). Production uses glibc's ioctl().
 */
typedef int (*PhcIoctlFn)(void *userdata, int fd, unsigned long request, void *arg);

/**
 * phc_source_new_for_test() - a PhcSource over an already open fd and a replacement ioctl
 * @fd: descriptor (owned by the source afterwards, closed by phc_source_free(); may be -EBADF)
 * @path: reported by phc_source_path() (copied)
 * @fn: replaces ioctl()
 * @userdata: passed to fn
 * @ret: the source
 *
 * For unit tests only. Returns 0 or -ENOMEM (fd is closed then, too).
 */
int phc_source_new_for_test(int fd, const char *path, PhcIoctlFn fn, void *userdata,
			    PhcSource **ret);
