/* SPDX-License-Identifier: MIT */
/*
 * vss_sys_ops_linux: block-device relations from sysfs, below a configurable root.
 *
 *   <root>/sys/dev/block/M:m             -> the device's directory (a symlink)
 *   .../partition                         exists for a partition; ".." is then its disk
 *   .../loop/backing_file                 loop devices: the file, as the kernel's d_path()
 *                                         prints it for the reader (see vss-plan.h)
 *   .../slaves/NAME/dev                   dm targets and md members: "M:m\n"
 *
 * A device missing from sysfs (or no sysfs at all) is -ENODEV, which the planner treats as
 * "unknown", not as "no relation". Only sysfs and device nodes are touched, never a mount
 * point.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "vss/vss-plan.h"

/* "4095:1048575\n" and then some. */
#define DEV_FILE_MAX 64u

static const char *root_of(void *userdata)
{
	return userdata ? (const char *)userdata : "";
}

_printf_(3, 4) static int build_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The directory whose loop/ and slaves/ describe dev: the device, or its disk. */
static int device_dir(const char *root, VssDev dev, char *buf, size_t size)
{
	char part[PATH_MAX];
	struct stat st;
	int r;

	r = build_path(buf, size, "%s/sys/dev/block/%u:%u", root, dev.major, dev.minor);
	if (r < 0)
		return r;
	if (stat(buf, &st) < 0)
		return errno == ENOENT ? -ENODEV : negative_errno();
	if (!S_ISDIR(st.st_mode))
		return -ENODEV;
	r = build_path(part, sizeof(part), "%s/partition", buf);
	if (r < 0)
		return r;
	if (access(part, F_OK) == 0) {
		size_t l = strlen(buf);

		if (l + 3 >= size)
			return -ENAMETOOLONG;
		memcpy(buf + l, "/..", 4);
	}
	return 0;
}

/* Parses "M:m" with optional trailing whitespace. */
static int parse_devnum(const char *s, VssDev *ret)
{
	unsigned long a, b;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9' || a > UINT_MAX)
		return -EINVAL;
	b = strtoul(end + 1, &end, 10);
	if (errno != 0 || b > UINT_MAX)
		return -EINVAL;
	while (*end == '\n' || *end == ' ')
		end++;
	if (*end != '\0')
		return -EINVAL;
	*ret = (VssDev){ (unsigned)a, (unsigned)b };
	return 0;
}

static int read_devnum(int dirfd, const char *path, VssDev *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_full_file_at(dirfd, path, DEV_FILE_MAX, &text, &len);
	if (r < 0)
		return r;
	if (strlen(text) != len)
		return -EINVAL;
	return parse_devnum(text, ret);
}

static int sysfs_loop_backing_file(void *userdata, VssDev dev, char *buf, size_t size)
{
	_cleanup_free_ char *text = NULL;
	char dir[PATH_MAX], path[PATH_MAX];
	size_t len;
	int r;

	if (size == 0)
		return -ENAMETOOLONG;
	r = device_dir(root_of(userdata), dev, dir, sizeof(dir));
	if (r < 0)
		return r;
	r = build_path(path, sizeof(path), "%s/loop/backing_file", dir);
	if (r < 0)
		return r;
	r = read_full_file_at(AT_FDCWD, path, size, &text, &len);
	if (r == -EFBIG)
		return -ENAMETOOLONG;
	if (r < 0)
		return r;
	if (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	if (len == 0 || strlen(text) != len)
		return -EINVAL;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, text, len + 1);
	return 0;
}

static int sysfs_slaves(void *userdata, VssDev dev, VssDev *ret, size_t max)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	size_t n = 0;
	int r;

	r = device_dir(root_of(userdata), dev, dir, sizeof(dir));
	if (r < 0)
		return r;
	r = build_path(path, sizeof(path), "%s/slaves", dir);
	if (r < 0)
		return r;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	r = 0;
	while ((errno = 0, de = readdir(d))) {
		char devfile[NAME_MAX + 8];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == max) {
			r = -E2BIG;
			break;
		}
		r = build_path(devfile, sizeof(devfile), "%s/dev", de->d_name);
		if (r < 0)
			break;
		r = read_devnum(dirfd(d), devfile, &ret[n]);
		if (r < 0)
			break;
		n++;
	}
	if (r == 0 && errno != 0)
		r = negative_errno();
	closedir(d);
	return r < 0 ? r : (int)n;
}

static int sysfs_block_device(void *userdata, const char *path, VssDev *ret)
{
	const char *root = root_of(userdata), *name;
	char full[PATH_MAX];
	struct stat st;
	int r;

	r = build_path(full, sizeof(full), "%s%s", root, path);
	if (r < 0)
		return r;
	if (stat(full, &st) == 0) {
		if (!S_ISBLK(st.st_mode))
			return -ENOTBLK;
		*ret = (VssDev){ major(st.st_rdev), minor(st.st_rdev) };
		return 0;
	}
	if (errno != ENOENT)
		return negative_errno();
	/* No node (a jail with a sparse /dev): "/dev/NAME" is also sysfs's class/block/NAME. */
	if (strncmp(path, "/dev/", 5) != 0)
		return -ENOENT;
	name = path + 5;
	if (name[0] == '\0' || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return -ENOENT;
	r = build_path(full, sizeof(full), "%s/sys/class/block/%s/dev", root, name);
	if (r < 0)
		return r;
	return read_devnum(AT_FDCWD, full, ret);
}

const VssSysOps vss_sys_ops_linux = {
	.loop_backing_file = sysfs_loop_backing_file,
	.slaves = sysfs_slaves,
	.block_device = sysfs_block_device,
};
