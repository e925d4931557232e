/* SPDX-License-Identifier: MIT */
/*
 * GUID -> interface lookup: libudev in production, a sysfs-shaped directory in tests.
 * Non-logging.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <libudev.h>

#include "common/fileio.h"
#include "kvp/kvp-ipconfig-nic.h"

/* The values we want are a few bytes; anything longer is not what we look for. */
#define ATTR_MAX 256u
/* sysfs attribute files claim a size of one page whatever their content. */
#define ATTR_READ_MAX 4096u

/* Copies a sysfs attribute value without its trailing newline into out. */
static int attr_copy(const char *value, char *out, size_t size)
{
	size_t len;

	if (!value)
		return -ENOENT;
	len = strcspn(value, "\n");
	if (len >= size)
		return -EINVAL;
	memcpy(out, value, len);
	out[len] = '\0';
	return 0;
}

/* Fills nic from raw attribute values; guid_attr may be NULL (not a VMBus NIC). */
static int nic_fill(const char *ifname, const char *mac_attr, const char *guid_attr, KvpNic *ret)
{
	char mac[ATTR_MAX], guid[ATTR_MAX];
	KvpNic nic = { 0 };
	int r;

	if (strlen(ifname) >= sizeof(nic.ifname))
		return -EINVAL;
	memcpy(nic.ifname, ifname, strlen(ifname) + 1);
	r = attr_copy(mac_attr, mac, sizeof(mac));
	if (r < 0)
		return r;
	r = kvp_mac_normalize(mac, nic.mac);
	if (r < 0)
		return r;
	if (guid_attr && attr_copy(guid_attr, guid, sizeof(guid)) >= 0 &&
	    kvp_guid_normalize(guid, nic.guid) < 0)
		nic.guid[0] = '\0';
	*ret = nic;
	return 0;
}

/* ---- directory scan ---- */

static int sysfs_read_attr(int netfd, const char *ifname, const char *attr, char **ret)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", ifname, attr);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return read_full_file_at(netfd, path, ATTR_READ_MAX, ret, NULL);
}

static int sysfs_nic(int netfd, const char *ifname, KvpNic *ret)
{
	_cleanup_free_ char *mac = NULL, *guid = NULL;
	int r;

	r = sysfs_read_attr(netfd, ifname, "address", &mac);
	if (r < 0)
		return r == -ENOENT ? -ENODEV : r;
	(void)sysfs_read_attr(netfd, ifname, "device/device_id", &guid);
	return nic_fill(ifname, mac, guid, ret);
}

static int sysfs_open_net(const char *sysfs)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/class/net", sysfs ? sysfs : "/sys");

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return open_dir(path);
}

static int sysfs_find_by_guid(void *userdata, const char *guid, KvpNic *ret)
{
	_cleanup_close_ int netfd = -EBADF;
	DIR *d;
	struct dirent *de;
	KvpNic best = { 0 };
	bool found = false;
	int fd, r;

	netfd = sysfs_open_net(userdata);
	if (netfd < 0)
		return netfd == -ENOENT ? -ENODEV : netfd;
	fd = dup(netfd);
	if (fd < 0)
		return negative_errno();
	d = fdopendir(fd);
	if (!d) {
		r = negative_errno();
		(void)close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		KvpNic nic;

		if (de->d_name[0] == '.')
			continue;
		if (sysfs_nic(netfd, de->d_name, &nic) < 0 || strcmp(nic.guid, guid) != 0)
			continue;
		if (!found || strcmp(nic.ifname, best.ifname) < 0)
			best = nic;
		found = true;
	}
	closedir(d);
	if (!found)
		return -ENODEV;
	*ret = best;
	return 0;
}

static int sysfs_find_by_ifname(void *userdata, const char *ifname, KvpNic *ret)
{
	_cleanup_close_ int netfd = -EBADF;

	if (!*ifname || strchr(ifname, '/') || ifname[0] == '.')
		return -ENODEV;
	netfd = sysfs_open_net(userdata);
	if (netfd < 0)
		return netfd == -ENOENT ? -ENODEV : netfd;
	return sysfs_nic(netfd, ifname, ret);
}

const KvpNicOps kvp_nic_sysfs_ops = {
	.find_by_guid = sysfs_find_by_guid,
	.find_by_ifname = sysfs_find_by_ifname,
};

/* ---- libudev ---- */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref)

static int udev_nic(struct udev_device *dev, KvpNic *ret)
{
	struct udev_device *vmbus;
	const char *guid = NULL;

	/* The parent is borrowed from dev: no unref. */
	vmbus = udev_device_get_parent_with_subsystem_devtype(dev, "vmbus", NULL);
	if (vmbus)
		guid = udev_device_get_sysattr_value(vmbus, "device_id");
	if (!udev_device_get_sysname(dev))
		return -ENODEV;
	return nic_fill(udev_device_get_sysname(dev), udev_device_get_sysattr_value(dev, "address"),
			guid, ret);
}

static int udev_find_by_guid(void *userdata, const char *guid, KvpNic *ret)
{
	_cleanup_(udev_unrefp) struct udev *udev = NULL;
	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
	struct udev_list_entry *entry;
	KvpNic best = { 0 };
	bool found = false;
	int r;

	udev = udev_new();
	if (!udev)
		return negative_errno();
	e = udev_enumerate_new(udev);
	if (!e)
		return negative_errno();
	r = udev_enumerate_add_match_subsystem(e, "net");
	if (r < 0)
		return r;
	r = udev_enumerate_scan_devices(e);
	if (r < 0)
		return r;
	udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e))
	{
		_cleanup_(udev_device_unrefp) struct udev_device *dev = NULL;
		KvpNic nic;

		dev = udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
		if (!dev || udev_nic(dev, &nic) < 0 || strcmp(nic.guid, guid) != 0)
			continue;
		if (!found || strcmp(nic.ifname, best.ifname) < 0)
			best = nic;
		found = true;
	}
	if (!found)
		return -ENODEV;
	*ret = best;
	return 0;
}

static int udev_find_by_ifname(void *userdata, const char *ifname, KvpNic *ret)
{
	_cleanup_(udev_unrefp) struct udev *udev = NULL;
	_cleanup_(udev_device_unrefp) struct udev_device *dev = NULL;

	udev = udev_new();
	if (!udev)
		return negative_errno();
	dev = udev_device_new_from_subsystem_sysname(udev, "net", ifname);
	if (!dev)
		return -ENODEV;
	return udev_nic(dev, ret);
}

const KvpNicOps kvp_nic_udev_ops = {
	.find_by_guid = udev_find_by_guid,
	.find_by_ifname = udev_find_by_ifname,
};
