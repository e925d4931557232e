/* SPDX-License-Identifier: MIT */
/*
 * uio discovery for fcopy (hyperv-abi.md §8.3, design contract D). Never assumes /dev/uio0:
 * the node is resolved through the device's own sysfs directory, and the rings are sized from
 * map 0 (the only size that is right on every kernel, §8.4).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"

#include "fcopy-uio-discover.h"

/* A sysfs attribute is at most one page; ours are far shorter. */
#define ATTR_MAX 4096

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

/* Reads a small attribute below dirfd, without the trailing newline sysfs appends. */
static int read_attr(int dirfd, const char *path, char **ret)
{
	_cleanup_free_ char *s = NULL;
	size_t n;
	int r;

	r = read_full_file_at(dirfd, path, ATTR_MAX, &s, &n);
	if (r < 0)
		return r;
	if (memchr(s, '\0', n))
		return -EBADMSG;
	if (n > 0 && s[n - 1] == '\n')
		s[n - 1] = '\0';
	*ret = TAKE_PTR(s);
	return 0;
}

/* Lists dirfd's entries through a private descriptor (readdir would move dirfd's offset). */
static int open_listing(int dirfd, const char *path, DIR **ret)
{
	int fd;
	DIR *d;

	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	d = fdopendir(fd);
	if (!d) {
		int r = negative_errno();

		(void)close(fd);
		return r;
	}
	*ret = d;
	return 0;
}

static bool is_fcopy_device(int devfd, const char *name)
{
	_cleanup_free_ char *class_id = NULL;
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/class_id", name) >= (int)sizeof(path))
		return false;
	r = read_attr(devfd, path, &class_id);
	if (r < 0) {
		log_debug_errno(r, "Skipping VMBus device '%s', no readable class_id: %m", name);
		return false;
	}
	/* The kernel prints "{%pUl}"; compare case-insensitively all the same. */
	return strcasecmp(class_id, "{" FCOPY_UIO_CLASS_ID "}") == 0;
}

/* Finds the fcopy device among SYSFS/bus/vmbus/devices (devfd); the first by name wins. */
static int find_instance(int devfd, char *ret, size_t size)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	bool found = false;
	int r;

	r = open_listing(devfd, ".", &d);
	if (r < 0)
		return r;
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!is_fcopy_device(devfd, de->d_name))
			continue;
		if (strlen(de->d_name) >= size)
			return -ENAMETOOLONG;
		if (!found || strcmp(de->d_name, ret) < 0)
			memcpy(ret, de->d_name, strlen(de->d_name) + 1);
		found = true;
	}
	if (errno != 0)
		return negative_errno();
	return found ? 0 : -ENODEV;
}

/* Sets *ret_bound if the device has a driver; -EBUSY if that driver is not uio_hv_generic. */
static int check_driver(int devfd, const char *inst, bool *ret_bound)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/driver", inst) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = readlinkat(devfd, path, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno == ENOENT) {
			*ret_bound = false;
			return 0;
		}
		return negative_errno();
	}
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strcmp(base, FCOPY_UIO_DRIVER) != 0) {
		log_debug("fcopy device '%s' is bound to '%s', not " FCOPY_UIO_DRIVER ".", inst,
			  base);
		return -EBUSY;
	}
	*ret_bound = true;
	return 0;
}

static bool is_uio_name(const char *s)
{
	if (strncmp(s, "uio", 3) != 0 || s[3] == '\0')
		return false;
	return strspn(s + 3, "0123456789") == strlen(s + 3);
}

/* "0x%lx" as uio's map size attribute prints it; halved and checked against the page size. */
static int parse_ring_size(const char *s, size_t *ret)
{
	unsigned long long v;
	size_t half, page;
	long ps;
	char *end;

	if (strncmp(s, "0x", 2) != 0 || s[2] == '\0' ||
	    strspn(s + 2, "0123456789abcdefABCDEF") != strlen(s + 2))
		return -EBADMSG;
	errno = 0;
	v = strtoull(s + 2, &end, 16);
	if (errno != 0 || *end != '\0' || v == 0 || v % 2 != 0 || v > SIZE_MAX)
		return -EBADMSG;
	half = (size_t)(v / 2);
	ps = sysconf(_SC_PAGESIZE);
	page = ps > 0 ? (size_t)ps : 4096;
	/* Each direction is a header page plus at least one page of data (§8.4). */
	if (half % page != 0 || half < 2 * page)
		return -EBADMSG;
	*ret = half;
	return 0;
}

/*
 * Looks for <inst>/uio/uioN and its map 0 size. -ENXIO: no uio node (yet); -EAGAIN: the node
 * exists but its size attribute does not yet (the kernel adds the maps after the device).
 */
static int find_uio(int devfd, const char *inst, FcopyUioDevice *d)
{
	_cleanup_(closedirp) DIR *dir = NULL;
	_cleanup_free_ char *size = NULL;
	char path[PATH_MAX], name[sizeof(d->uio_name)] = "";
	struct dirent *de;
	int r;

	if (snprintf(path, sizeof(path), "%s/uio", inst) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = open_listing(devfd, path, &dir);
	if (r == -ENOENT)
		return -ENXIO;
	if (r < 0)
		return r;
	while ((errno = 0, de = readdir(dir))) {
		if (!is_uio_name(de->d_name) || strlen(de->d_name) >= sizeof(name))
			continue;
		/* There is one; should there be more, take the lowest number for stability. */
		if (name[0] == '\0' || strlen(de->d_name) < strlen(name) ||
		    (strlen(de->d_name) == strlen(name) && strcmp(de->d_name, name) < 0))
			memcpy(name, de->d_name, strlen(de->d_name) + 1);
	}
	if (errno != 0)
		return negative_errno();
	if (name[0] == '\0')
		return -ENXIO;

	if (snprintf(path, sizeof(path), "%s/uio/%s/maps/map0/size", inst, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	r = read_attr(devfd, path, &size);
	if (r == -ENOENT)
		return -EAGAIN;
	if (r < 0)
		return r;
	r = parse_ring_size(size, &d->ring_size);
	if (r < 0) {
		log_debug("uio map 0 size of '%s' is invalid: '%s'.", name, size);
		return r;
	}
	memcpy(d->uio_name, name, strlen(name) + 1);
	return 0;
}

/* Registers the fcopy class with uio_hv_generic, which has no static id table (§8.3). */
static int write_new_id(const char *sysfs_dir)
{
	_cleanup_close_ int fd = -EBADF;
	char path[PATH_MAX];
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/bus/vmbus/drivers/" FCOPY_UIO_DRIVER "/new_id",
		     sysfs_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT) {
			log_debug("'%s' does not exist: " FCOPY_UIO_DRIVER " is not loaded.", path);
			return -ENXIO;
		}
		return negative_errno();
	}
	/* One write: the kernel parses the whole buffer as a GUID. */
	n = write(fd, FCOPY_UIO_CLASS_ID, strlen(FCOPY_UIO_CLASS_ID));
	if (n < 0) {
		/* Registered before (a previous instance of ours, or the admin): fine. */
		if (errno == EEXIST)
			return 0;
		return negative_errno();
	}
	if ((size_t)n != strlen(FCOPY_UIO_CLASS_ID))
		return -EIO;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls find_uio until it stops answering "not yet" or the binding timeout passes. */
static int wait_uio(int devfd, const char *inst, FcopyUioDevice *d)
{
	int64_t deadline = now_ms() + FCOPY_UIO_BIND_TIMEOUT_MS;
	const struct timespec step = { .tv_nsec = FCOPY_UIO_BIND_POLL_MS * 1000000L };

	for (;;) {
		int r = find_uio(devfd, inst, d);

		if (r != -ENXIO && r != -EAGAIN)
			return r;
		if (now_ms() >= deadline)
			return r == -EAGAIN ? -EBADMSG : -ENXIO;
		/* EINTR only shortens one step; the deadline still bounds the wait. */
		(void)clock_nanosleep(CLOCK_MONOTONIC, 0, &step, NULL);
	}
}

int fcopy_uio_discover(const char *sysfs_dir, const char *dev_dir, bool bind, FcopyUioDevice *ret)
{
	_cleanup_close_ int devfd = -EBADF;
	FcopyUioDevice d = {};
	char path[PATH_MAX];
	bool bound;
	int r;

	if (snprintf(path, sizeof(path), "%s/bus/vmbus/devices", sysfs_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	devfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENODEV : negative_errno();

	r = find_instance(devfd, d.instance, sizeof(d.instance));
	if (r < 0)
		return r;
	r = check_driver(devfd, d.instance, &bound);
	if (r < 0)
		return r;

	r = find_uio(devfd, d.instance, &d);
	if ((r == -ENXIO || r == -EAGAIN) && bind) {
		if (!bound && r == -ENXIO) {
			r = write_new_id(sysfs_dir);
			if (r < 0)
				return r;
			log_debug("Wrote " FCOPY_UIO_CLASS_ID " to " FCOPY_UIO_DRIVER
				  "'s new_id for '%s'.",
				  d.instance);
		}
		r = wait_uio(devfd, d.instance, &d);
	} else if (r == -EAGAIN)
		r = -EBADMSG;
	if (r < 0)
		return r;

	if (snprintf(d.dev_path, sizeof(d.dev_path), "%s/%s", dev_dir, d.uio_name) >=
	    (int)sizeof(d.dev_path))
		return -ENAMETOOLONG;
	*ret = d;
	return 0;
}
