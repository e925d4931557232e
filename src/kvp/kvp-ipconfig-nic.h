/* SPDX-License-Identifier: MIT */
/*
 * Which network interface a SET_IP_INFO request is for: the host names the NIC by its
 * VMBus instance GUID, which the kernel exposes as the "device_id" attribute of the NIC's
 * VMBus device, printed "{%pUl}" (braces, lower-case) (hyperv-abi.md §4.7).
 *
 * Behind a seam: production asks libudev; tests (and hv-hostsim setups, where the NIC is a
 * veth without a VMBus parent) scan a directory laid out like sysfs:
 *   <dir>/class/net/<ifname>/address             "00:15:5d:12:34:56\n"
 *   <dir>/class/net/<ifname>/device/device_id    "{f8615163-...}\n"
 * (systemd's libudev does not honour $SYSFS_PATH, so it cannot be pointed at a copy.)
 */
#pragma once

#include "kvp/kvp-ipconfig.h"

typedef struct KvpNicOps {
	/*
	 * The interface whose VMBus device has instance GUID guid (canonical lower-case):
	 * fills ifname, mac (normalised) and guid. -ENODEV if there is none; when several
	 * match (should not happen), the lexically first name wins.
	 */
	int (*find_by_guid)(void *userdata, const char *guid, KvpNic *ret);
	/*
	 * The interface called ifname: its MAC and, when it sits on a VMBus device, its GUID
	 * (else guid is ""). -ENODEV if there is no such interface.
	 */
	int (*find_by_ifname)(void *userdata, const char *ifname, KvpNic *ret);
} KvpNicOps;

/* libudev; userdata unused. */
extern const KvpNicOps kvp_nic_udev_ops;
/* Directory scan; userdata is the sysfs mount point as a const char * (e.g. "/sys"). */
extern const KvpNicOps kvp_nic_sysfs_ops;
