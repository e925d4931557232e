/* SPDX-License-Identifier: MIT */
/*
 * hvctl devices: every VMBus device of this guest (what upstream's lsvmbus shows) with its
 * class, instance GUID, channel (the host's relid, "VMBus ID") and bound driver.
 *
 * Production enumerates udev's "vmbus" subsystem; --sysfs-dir=DIR (tests, saved trees) lists
 * DIR/bus/vmbus/devices/ instead and libudev is not used. Either way each device's sysfs
 * directory is read the same way, attributes as the kernel prints them
 * (drivers/hv/vmbus_drv.c): class_id and device_id "{%pUl}" (braces, lower case), id the
 * decimal relid, vendor and device "0x%x", numa_node "%d", channel_vp_mapping one
 * "relid:cpu" line per channel, driver a symlink to the bound driver.
 *
 * An attribute that cannot be read is kept as NULL (shown as "?", JSON null); the listing
 * still succeeds. Non-logging apart from ctl_devices(), the verb.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl/ctl-kvp.h"

/* Larger attribute files are treated as unreadable (sysfs attributes are one page). */
#define CTL_VMBUS_ATTR_MAX 65536u

/* One VMBus device as read from its sysfs directory. NULL strings: unreadable. */
typedef struct CtlVmbusDevice {
	char *name;	 /* sysfs directory name (the instance GUID on kernels >= 4.x) */
	char *class_id;	 /* GUID, lower case, without braces */
	char *device_id; /* instance GUID, same form */
	uint32_t id;	 /* channel relid ("VMBus ID"); valid when has_id */
	bool has_id;
	char *driver;	  /* bound driver's name; NULL with bound == false: unbound */
	bool bound;	  /* a driver link exists (driver may still be NULL: unreadable) */
	char *vendor;	  /* "0x1414" as printed by the kernel */
	char *device;	  /* device id, "0x…" */
	char *numa_node;  /* "0", "-1"; NULL also on kernels without NUMA */
	char *vp_mapping; /* channel_vp_mapping, lines joined by ' ' ("18:0 19:2") */
} CtlVmbusDevice;

/* The class's name for a class GUID (any case, braces optional), or "Unknown". Pure. */
const char *ctl_vmbus_class_name(const char *class_id);

/*
 * Reads the device directory name below dir_fd into *ret (zeroed first). Unreadable
 * attributes stay NULL; only -ENOMEM (and a failure to open the directory itself) fail.
 * Free with ctl_vmbus_device_done().
 */
int ctl_vmbus_device_read(int dir_fd, const char *name, CtlVmbusDevice *ret);
void ctl_vmbus_device_done(CtlVmbusDevice *d);

/* Frees n devices and the array. Accepts NULL. */
void ctl_vmbus_devices_free(CtlVmbusDevice *v, size_t n);

/*
 * Reads every entry of sysfs_dir/bus/vmbus/devices/ (the directory links of a real sysfs and
 * plain directories of a fake tree both work), sorted by ctl_vmbus_devices_sort(). A missing
 * devices directory is zero devices (not a Hyper-V guest); other errors: negative errno.
 */
int ctl_vmbus_devices_scan_dir(const char *sysfs_dir, CtlVmbusDevice **ret, size_t *ret_n);

/* Same through libudev's enumeration of subsystem "vmbus". */
int ctl_vmbus_devices_scan_udev(CtlVmbusDevice **ret, size_t *ret_n);

/* Sorts by channel id; devices without a readable id last, ties by name. */
void ctl_vmbus_devices_sort(CtlVmbusDevice *v, size_t n);

/*
 * The table: a "VMBUS ID  CLASS  INSTANCE  DRIVER" header and one aligned row per device
 * ("?" unreadable, "-" unbound). Values are escaped for the terminal. -ENOMEM, -EIO.
 */
int ctl_vmbus_print_table(FILE *f, const CtlVmbusDevice *v, size_t n);

/*
 * -v: one block per device, "VMBus ID N: Class" followed by indented "Label: value" lines
 * (class GUID, instance, driver, vendor, device, NUMA node, channel to CPU mapping), blocks
 * separated by an empty line. -ENOMEM, -EIO.
 */
int ctl_vmbus_print_verbose(FILE *f, const CtlVmbusDevice *v, size_t n);

/*
 * --json: an array of objects, one per device, always with every field
 * {"id":18,"class":"…","class_id":"…","device_id":"…","driver":"hv_netvsc","sysfs_name":"…",
 * "vendor":"0x1414","device":"0x…","numa_node":0,"channels":[{"relid":18,"cpu":0},…]};
 * null for unreadable values and for "driver" when unbound (and "bound":false). -EIO.
 */
int ctl_vmbus_print_json(FILE *f, const CtlVmbusDevice *v, size_t n);

/*
 * hvctl devices [-v] [--json] [--sysfs-dir=DIR]. No devices: "No VMBus devices (not a
 * Hyper-V guest?)" on stdout ("[]" with --json) and CTL_EXIT_OK. CTL_EXIT_IO if the
 * enumeration itself fails.
 */
CtlExit ctl_devices(const CtlOptions *o, char *const *args);
