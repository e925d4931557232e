/* SPDX-License-Identifier: MIT */
/*
 * Finds the fcopy VMBus device of kernels >= 6.10 and its uio node (hyperv-abi.md §8.3):
 * plain file I/O below a sysfs root, so tests run it on a fake tree. Non-logging (debug
 * only); negative errno on failure.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* The fcopy IC's VMBus class id, as written to new_id (no braces, lower case). */
#define FCOPY_UIO_CLASS_ID "34d14be3-dee4-41c8-9ae7-6b174977c192"

/* The driver the device must be bound to. */
#define FCOPY_UIO_DRIVER "uio_hv_generic"

/* Bounded wait for the kernel to create uio/uioN after new_id (ms): once, at start-up. */
#define FCOPY_UIO_BIND_TIMEOUT_MS 2000
#define FCOPY_UIO_BIND_POLL_MS 50

typedef struct FcopyUioDevice {
	char instance[64];	 /* VMBus device directory name (the instance GUID) */
	char uio_name[32];	 /* "uioN" */
	char dev_path[PATH_MAX]; /* DEV_DIR/uioN */
	size_t ring_size;	 /* bytes per direction (header page included) = map0 size / 2 */
} FcopyUioDevice;

/*
 * Looks for SYSFS_DIR/bus/vmbus/devices/<instance>/class_id equal to
 * "{" FCOPY_UIO_CLASS_ID "}" (a trailing newline and upper case are tolerated), then for
 * its uio/uioN directory. When there is none, the device is bound to no driver and bind is
 * true, writes FCOPY_UIO_CLASS_ID to SYSFS_DIR/bus/vmbus/drivers/uio_hv_generic/new_id
 * (EEXIST, an id already registered, is fine) and polls every FCOPY_UIO_BIND_POLL_MS for up
 * to FCOPY_UIO_BIND_TIMEOUT_MS until uio/uioN and its maps/map0/size appear (also when the
 * device is already bound to uio_hv_generic but its node is not there yet). The ring size is
 * map0's size (the kernel prints "0x%lx\n") halved; it must be a positive multiple of two
 * pages per direction (header page + data).
 *
 * On success fills *ret (dev_path = DEV_DIR/uioN) and returns 0. Errors:
 *   -ENODEV   no fcopy device (or no SYSFS_DIR/bus/vmbus/devices at all);
 *   -EBUSY    the device is bound to another driver than uio_hv_generic;
 *   -ENXIO    the device has no uio node: bind is false, uio_hv_generic is not loaded (no
 *             new_id file), or the kernel did not bind within the timeout;
 *   -EBADMSG  map0's size is missing, malformed, 0, odd or not a multiple of the page size;
 *   -ENAMETOOLONG  a path or name does not fit;
 *   other negative errno from writing new_id (e.g. -EACCES, -EISDIR) or reading sysfs.
 */
int fcopy_uio_discover(const char *sysfs_dir, const char *dev_dir, bool bind, FcopyUioDevice *ret);
