/* SPDX-License-Identifier: MIT */
/*
 * The Hyper-V PTP clock (hyperv-abi.md §9.2): found by clock_name, read with PTP_SYS_OFFSET.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "timesync/source-phc.h"

struct PhcSource {
	int fd;
	char *path;
	PhcIoctlFn ioctl_fn;
	void *ioctl_userdata;
};

/* clock_name is "hyperv\n" in sysfs; accept it with or without the newline, nothing else. */
static bool clock_name_is_hyperv(const char *s, size_t len)
{
	static const char name[] = "hyperv";

	if (len > 0 && s[len - 1] == '\n')
		len--;
	return len == sizeof(name) - 1 && memcmp(s, name, len) == 0;
}

/* "ptpN" with N decimal: N, else -1. */
static long ptp_index(const char *name)
{
	char *end;
	long v;

	if (strncmp(name, "ptp", 3) != 0 || name[3] < '0' || name[3] > '9')
		return -1;
	errno = 0;
	v = strtol(name + 3, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return -1;
	return v;
}

/* Lowest N of a SYSFS/class/ptp/ptpN whose clock_name is hyperv; -ENODEV when none. */
static int scan_sysfs(const char *sysfs_dir, long *ret_index)
{
	_cleanup_free_ char *class_dir = NULL;
	long best = -1;
	DIR *d;
	struct dirent *de;

	if (asprintf(&class_dir, "%s/class/ptp", sysfs_dir) < 0) {
		class_dir = NULL;
		return -ENOMEM;
	}
	d = opendir(class_dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? -ENODEV : negative_errno();

	while ((de = readdir(d))) {
		_cleanup_free_ char *name_path = NULL, *text = NULL;
		size_t size;
		long idx = ptp_index(de->d_name);
		int r;

		if (idx < 0 || (best >= 0 && idx >= best))
			continue;
		if (asprintf(&name_path, "%s/%s/clock_name", class_dir, de->d_name) < 0) {
			name_path = NULL;
			closedir(d);
			return -ENOMEM;
		}
		/* A device that vanishes or has no clock_name is simply not ours. */
		r = read_full_file_at(AT_FDCWD, name_path, 256, &text, &size);
		if (r < 0)
			continue;
		if (clock_name_is_hyperv(text, size))
			best = idx;
	}
	closedir(d);
	if (best < 0)
		return -ENODEV;
	*ret_index = best;
	return 0;
}

int phc_find(const char *sysfs_dir, const char *dev_dir, char **ret_path)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	long idx;
	int r;

	r = scan_sysfs(sysfs_dir, &idx);
	if (r < 0 && r != -ENODEV)
		return r;
	if (r >= 0) {
		if (asprintf(&path, "%s/ptp%ld", dev_dir, idx) < 0)
			return -ENOMEM;
		*ret_path = TAKE_PTR(path);
		return 0;
	}

	/* No sysfs answer (e.g. a container without /sys/class/ptp): the udev symlink. */
	if (asprintf(&path, "%s/ptp_hyperv", dev_dir) < 0)
		return -ENOMEM;
	if (stat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENODEV : negative_errno();
	*ret_path = TAKE_PTR(path);
	return 0;
}

/* ioctl() is variadic; this gives it the PhcIoctlFn shape. */
static int glibc_ioctl(void *userdata _unused_, int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

int phc_source_new_for_test(int fd, const char *path, PhcIoctlFn fn, void *userdata,
			    PhcSource **ret)
{
	PhcSource *s = calloc(1, sizeof(*s));

	if (!s) {
		safe_close(fd);
		return -ENOMEM;
	}
	s->path = strdup(path ? path : "");
	if (!s->path) {
		free(s);
		safe_close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	s->ioctl_fn = fn;
	s->ioctl_userdata = userdata;
	*ret = s;
	return 0;
}

int phc_source_open(const char *path, PhcSource **ret)
{
	int fd;

	/* PTP_SYS_OFFSET needs no write access; a read-only fd cannot adjust the PHC either. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	return phc_source_new_for_test(fd, path, glibc_ioctl, NULL, ret);
}

PhcSource *phc_source_free(PhcSource *s)
{
	if (!s)
		return NULL;
	safe_close(s->fd);
	free(s->path);
	free(s);
	return NULL;
}

const char *phc_source_path(const PhcSource *s)
{
	return s->path;
}

/* The SourceOps error contract: device gone vs. stale reference vs. anything else. */
static int map_ioctl_errno(int e)
{
	switch (e) {
	case ESTALE:
		return -ESTALE;
	case ENODEV:
	case ENXIO:
	case EIO:
		return -ENODEV;
	case 0:
		/* ioctl() failed without errno: should not happen; do not report success. */
		return -EIO;
	default:
		return -e;
	}
}

static int phc_source_read(void *userdata, SourceReading *readings, size_t n)
{
	PhcSource *s = userdata;
	struct ptp_sys_offset p;

	if (n == 0)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	p.n_samples = (unsigned)MIN(n, (size_t)PTP_MAX_SAMPLES);

	for (;;) {
		errno = 0;
		if (s->ioctl_fn(s->ioctl_userdata, s->fd, PTP_SYS_OFFSET, &p) >= 0)
			break;
		if (errno != EINTR)
			return map_ioctl_errno(errno);
	}
	/* The kernel fills exactly what was asked; never trust more than that. */
	if (p.n_samples > MIN(n, (size_t)PTP_MAX_SAMPLES))
		return -EINVAL;
	return source_parse_ptp_sys_offset(&p, readings, n);
}

const SourceOps phc_source_ops = {
	.read = phc_source_read,
};
