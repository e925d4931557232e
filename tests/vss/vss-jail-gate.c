/* SPDX-License-Identifier: MIT */
/*
 * The safety gate (test-harness.md §6 item 3): before any FREEZE, the mount table a daemon
 * sees must offer nothing freezable but the test images, and nothing may lead to the
 * machine's root filesystem. Pure mountinfo check plus the live-process variant.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/macro.h"
#include "vss-jail-internal.h"
#include "vss-jail.h"

#define MOUNTINFO_MAX (4u * 1024u * 1024u)
#define MAPS_MAX (8u * 1024u * 1024u)

typedef struct MountLine {
	int id;
	unsigned major, minor;
	char *mount_point, *fstype, *source;
} MountLine;

static _printf_(3, 4) int refuse(char *reterr, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (reterr && size > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(reterr, size, fmt, ap);
		va_end(ap);
	}
	return -EPERM;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo; decodes in place. */
static void unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
}

/* "id parent maj:min root mountpoint opts [optional...] - fstype source superopts". */
static int parse_line(char *line, MountLine *ret)
{
	char *f[64], *save = NULL;
	size_t n = 0, dash;

	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (n == ELEMENTSOF(f))
			return -EBADMSG;
		f[n++] = t;
	}
	for (dash = 6; dash < n; dash++)
		if (strcmp(f[dash], "-") == 0)
			break;
	if (n < 6 || dash + 2 >= n)
		return -EBADMSG;
	if (sscanf(f[2], "%u:%u", &ret->major, &ret->minor) != 2)
		return -EBADMSG;
	ret->id = atoi(f[0]);
	ret->mount_point = f[4];
	ret->fstype = f[dash + 1];
	ret->source = f[dash + 2];
	unescape(ret->mount_point);
	unescape(ret->source);
	return 0;
}

static bool dev_in(dev_t d, const dev_t *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == d)
			return true;
	return false;
}

static bool is_root_dev(const VssRootId *root, dev_t d)
{
	return root && (d == root->st_dev || d == root->mnt_dev);
}

int vss_root_id_get(VssRootId *ret)
{
	_cleanup_fclose_ FILE *f = NULL;
	VssRootId id = {};
	bool found = false;
	char line[4096];
	struct stat st;

	if (stat("/", &st) < 0)
		return negative_errno();
	id.st_dev = st.st_dev;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		MountLine m;

		line[strcspn(line, "\n")] = 0;
		if (parse_line(line, &m) < 0 || strcmp(m.mount_point, "/") != 0)
			continue;
		/* The last "/" line is the one on top. */
		id.mnt_dev = makedev(m.major, m.minor);
		if (snprintf(id.source, sizeof(id.source), "%s", m.source) >=
		    (int)sizeof(id.source))
			id.source[0] = 0;
		found = true;
	}
	if (!found)
		return -ENOENT;
	*ret = id;
	return 0;
}

int vss_gate_check_mountinfo(const char *text, const VssGate *g, VssGatePlan *ret_plan,
			     char *reterr, size_t reterr_size)
{
	_cleanup_free_ char *copy = strdup(text);
	VssGatePlan plan = {};
	char *save = NULL;

	if (!copy)
		return -ENOMEM;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool anon_block, candidate = false;
		dev_t mdev, dev = 0, rdev = 0;
		MountLine m;
		int k = 0;

		if (parse_line(line, &m) < 0) {
			(void)refuse(reterr, reterr_size, "malformed mountinfo line");
			return -EBADMSG;
		}
		plan.n_mounts++;
		mdev = makedev(m.major, m.minor);
		anon_block = strcmp(m.fstype, "btrfs") == 0 || strcmp(m.fstype, "bcachefs") == 0;

		if (is_root_dev(g->real_root, mdev))
			return refuse(reterr, reterr_size,
				      "'%s' (%s) is the real root's device %u:%u", m.mount_point,
				      m.fstype, m.major, m.minor);
		if (g->real_root && g->real_root->source[0] == '/' &&
		    strcmp(m.source, g->real_root->source) == 0)
			return refuse(reterr, reterr_size,
				      "'%s' is mounted from the real root's '%s'", m.mount_point,
				      m.source);

		if (m.source[0] == '/' && g->resolve) {
			k = g->resolve(m.source, &rdev, g->userdata);
			if (k < 0)
				return refuse(reterr, reterr_size,
					      "cannot resolve '%s' of '%s': %s", m.source,
					      m.mount_point, strerror(-k));
		}
		if (k > 0) {
			if (is_root_dev(g->real_root, rdev))
				return refuse(reterr, reterr_size,
					      "'%s' is backed by the real root's device '%s'",
					      m.mount_point, m.source);
			if (!dev_in(rdev, g->allowed, g->n_allowed))
				return refuse(reterr, reterr_size,
					      "'%s' (%s) is backed by block device %u:%u ('%s'), "
					      "not a test image",
					      m.mount_point, m.fstype, major(rdev), minor(rdev),
					      m.source);
			candidate = true;
			dev = rdev;
		}
		if (m.major != 0) {
			if (!dev_in(mdev, g->allowed, g->n_allowed))
				return refuse(reterr, reterr_size,
					      "'%s' (%s, '%s') is on block device %u:%u, not a "
					      "test image",
					      m.mount_point, m.fstype, m.source, m.major, m.minor);
			candidate = true;
			dev = mdev;
		}
		if (anon_block && !candidate)
			return refuse(reterr, reterr_size,
				      "'%s' (%s) has source '%s', which is not a test image",
				      m.mount_point, m.fstype, m.source);

		if (candidate && !dev_in(dev, plan.candidates, plan.n_candidates)) {
			if (plan.n_candidates == ELEMENTSOF(plan.candidates))
				return refuse(reterr, reterr_size, "too many candidates");
			plan.candidates[plan.n_candidates++] = dev;
		}
	}

	if (ret_plan)
		*ret_plan = plan;
	return 0;
}

/* ---- Live process ---- */

typedef struct ProcResolve {
	int rootfd; /* the process's root directory */
} ProcResolve;

static int resolve_in_proc_root(const char *source, dev_t *ret_rdev, void *userdata)
{
	ProcResolve *pr = userdata;
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	/* Resolved as the daemon would see it; O_PATH never opens the device itself. */
	fd = vj_open_at(pr->rootfd, source, O_PATH, 0);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISBLK(st.st_mode))
		return 0;
	*ret_rdev = st.st_rdev;
	return 1;
}

static bool dev_forbidden(dev_t d, const dev_t *allowed, size_t n, const VssRootId *root)
{
	return is_root_dev(root, d) || (major(d) != 0 && !dev_in(d, allowed, n));
}

/* Mount ids present in the checked mountinfo (a descriptor on one of them is covered). */
static bool mount_id_listed(const char *mountinfo, int id)
{
	char key[32];
	int n = snprintf(key, sizeof(key), "%d ", id);

	for (const char *p = mountinfo; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, (size_t)n) == 0)
			return true;
	return false;
}

static int fd_mount_id(int procfd, const char *fd_name)
{
	char path[300], buf[512];
	_cleanup_close_ int fd = -EBADF;
	const char *p;
	ssize_t n;

	(void)snprintf(path, sizeof(path), "fdinfo/%s", fd_name);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = 0;
	p = strstr(buf, "mnt_id:");
	return p ? atoi(p + 7) : -EBADMSG;
}

static int check_fds(int procfd, const char *mountinfo, const dev_t *allowed, size_t n_allowed,
		     const VssRootId *root, char *reterr, size_t reterr_size)
{
	DIR *d;
	int dfd, r = 0;
	struct dirent *de;

	dfd = openat(procfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return negative_errno();
	d = fdopendir(dfd);
	if (!d) {
		r = negative_errno();
		safe_close(dfd);
		return r;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int id;

		if (de->d_name[0] == '.')
			continue;
		/* On a mount already vetted above: fine, and no need to stat (FUSE, frozen). */
		id = fd_mount_id(procfd, de->d_name);
		if (id >= 0 && mount_id_listed(mountinfo, id))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue; /* closed meanwhile */
		if (dev_forbidden(st.st_dev, allowed, n_allowed, root)) {
			r = refuse(reterr, reterr_size,
				   "descriptor %s is on device %u:%u outside the jail's mounts",
				   de->d_name, major(st.st_dev), minor(st.st_dev));
			break;
		}
	}
	closedir(d);
	return r;
}

static int check_maps(int procfd, const dev_t *allowed, size_t n_allowed, const VssRootId *root,
		      char *reterr, size_t reterr_size)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -EBADF;
	char *save = NULL;
	int r;

	fd = openat(procfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	text = malloc(MAPS_MAX);
	if (!text)
		return -ENOMEM;
	{
		size_t used = 0;

		for (;;) {
			ssize_t n = read(fd, text + used, MAPS_MAX - 1 - used);

			if (n < 0)
				return negative_errno();
			if (n == 0)
				break;
			used += (size_t)n;
			if (used == MAPS_MAX - 1)
				return -EFBIG;
		}
		text[used] = 0;
	}

	/* "start-end perms offset MAJ:MIN inode path", MAJ:MIN in hex. */
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		unsigned long inode;

		r = sscanf(line, "%*s %*s %*s %x:%x %lu", &maj, &min, &inode);
		if (r != 3)
			return -EBADMSG;
		if (inode != 0 && dev_forbidden(makedev(maj, min), allowed, n_allowed, root))
			return refuse(reterr, reterr_size, "mapping from device %u:%u: '%s'", maj,
				      min, line);
	}
	return 0;
}

int vss_jail_check_plan(pid_t daemon_pid, const dev_t *allowed, size_t n_allowed,
			const VssRootId *real_root, VssGatePlan *ret_plan, char *reterr,
			size_t reterr_size)
{
	static const char *const links[] = { "root", "cwd", "exe" };
	_cleanup_close_ int procfd = -EBADF, rootfd = -EBADF;
	_cleanup_free_ char *mountinfo = NULL;
	char path[64];
	ProcResolve pr;
	VssGate g;
	int r;

	if (!real_root || daemon_pid <= 0)
		return -EINVAL;
	(void)snprintf(path, sizeof(path), "/proc/%d", (int)daemon_pid);
	procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return negative_errno();
	rootfd = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return negative_errno();

	{
		_cleanup_close_ int fd = openat(procfd, "mountinfo", O_RDONLY | O_CLOEXEC);
		size_t used = 0;

		if (fd < 0)
			return negative_errno();
		mountinfo = malloc(MOUNTINFO_MAX);
		if (!mountinfo)
			return -ENOMEM;
		for (;;) {
			ssize_t n = read(fd, mountinfo + used, MOUNTINFO_MAX - 1 - used);

			if (n < 0)
				return negative_errno();
			if (n == 0)
				break;
			used += (size_t)n;
			if (used == MOUNTINFO_MAX - 1)
				return -EFBIG;
		}
		mountinfo[used] = 0;
		if (used == 0)
			return -ESRCH; /* exited: an empty table proves nothing */
	}

	pr = (ProcResolve){ .rootfd = rootfd };
	g = (VssGate){
		.allowed = allowed,
		.n_allowed = n_allowed,
		.real_root = real_root,
		.resolve = resolve_in_proc_root,
		.userdata = &pr,
	};
	r = vss_gate_check_mountinfo(mountinfo, &g, ret_plan, reterr, reterr_size);
	if (r < 0)
		return r;

	for (size_t i = 0; i < ELEMENTSOF(links); i++) {
		struct stat st;

		if (fstatat(procfd, links[i], &st, 0) < 0)
			return negative_errno();
		if (dev_forbidden(st.st_dev, allowed, n_allowed, real_root))
			return refuse(reterr, reterr_size, "its %s is on device %u:%u", links[i],
				      major(st.st_dev), minor(st.st_dev));
	}
	r = check_fds(procfd, mountinfo, allowed, n_allowed, real_root, reterr, reterr_size);
	if (r < 0)
		return r;
	return check_maps(procfd, allowed, n_allowed, real_root, reterr, reterr_size);
}
