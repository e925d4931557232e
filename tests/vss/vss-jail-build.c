/* SPDX-License-Identifier: MIT */
/*
 * Builds the jail in the forked PID-1 child (see vss-jail-build.h and vss-jail.h).
 *
 * Order matters for safety: the images' backing files and mkfs happen on a private scratch
 * tmpfs ("hvguest-jail-work", on an empty directory the caller made); the jail root is another
 * tmpfs ("hvguest-jail") filled with COPIES; the only mount taken from outside is a clone of
 * the simulator's FUSE mount, refused unless it is FUSE. After pivot_root the old root
 * (machine root, work tmpfs and all) is detached, and only then are the loop devices
 * attached and mounted, from device nodes inside the jail, so mount sources read
 * "/dev/loopN" as on a real machine.
 */
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "vss-jail-build.h"
#include "vss-jail-internal.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

#define LOOP_MAJOR_NR 7u
#define LOOP_CONTROL_MINOR 237u
#define MKFS_TIMEOUT_USEC (120u * 1000000u)
#define LOOP_ATTEMPTS 32

typedef struct Builder {
	const VjBuildArgs *a;
	VjSetup *s;
	int images_dir;		     /* <work_dir>/images */
	int img_file[VJ_MAX_IMAGES]; /* backing (or template) image files on the work tmpfs */
	int mnt_fd[VJ_MAX_IMAGES];   /* the mounted images, handed to the init */
	int loop_ctl;		     /* loop-control */
	unsigned part_shift;	     /* loop minor = index << part_shift */
	int vmbus_tree;		     /* detached clone of the FUSE mount */
	int rootfd;		     /* the jail root before pivot_root */
	int ctl;		     /* the control socket (moves to VJ_FD_CTL before exec) */
} Builder;

static int stage(Builder *b, const char *what, size_t i, int r)
{
	if (r < 0) {
		if (i == SIZE_MAX)
			(void)snprintf(b->s->stage, sizeof(b->s->stage), "%s", what);
		else
			(void)snprintf(b->s->stage, sizeof(b->s->stage), "%s img%zu", what, i);
	}
	return r;
}

static unsigned default_size_mib(VssJailFs fs)
{
	switch (fs) {
	case VSS_JAIL_FS_EXT4:
		return 64;
	case VSS_JAIL_FS_XFS:
		return 300; /* mkfs.xfs refuses anything smaller */
	case VSS_JAIL_FS_BTRFS:
		return 128; /* about 114 MiB is btrfs's minimum */
	case _VSS_JAIL_FS_MAX:
	case _VSS_JAIL_FS_INVALID:
		break;
	}
	return 0;
}

static int run_mkfs(VssJailFs fs, const char *path)
{
	static const char *const tools[] = {
		[VSS_JAIL_FS_EXT4] = "mkfs.ext4",
		[VSS_JAIL_FS_XFS] = "mkfs.xfs",
		[VSS_JAIL_FS_BTRFS] = "mkfs.btrfs",
	};
	char tool[256];
	int status, r;

	if (fs < 0 || fs >= _VSS_JAIL_FS_MAX)
		return -EINVAL;
	r = vj_find_tool(tools[fs], tool, sizeof(tool));
	if (r < 0)
		return -EOPNOTSUPP;

	/* No discard (pointless on tmpfs); ext4: initialise everything now, so no lazyinit
	 * thread writes in the background while a test freezes. */
	switch (fs) {
	case VSS_JAIL_FS_EXT4:
		r = vj_run(
			(char *const[]){ tool, (char *)"-q", (char *)"-F", (char *)"-m",
					 (char *)"0", (char *)"-E",
					 (char *)"lazy_itable_init=0,lazy_journal_init=0,nodiscard",
					 (char *)path, NULL },
			MKFS_TIMEOUT_USEC, &status, NULL);
		break;
	case VSS_JAIL_FS_XFS:
	case VSS_JAIL_FS_BTRFS:
		r = vj_run((char *const[]){ tool, (char *)"-q", (char *)"-f", (char *)"-K",
					    (char *)path, NULL },
			   MKFS_TIMEOUT_USEC, &status, NULL);
		break;
	case _VSS_JAIL_FS_MAX:
	case _VSS_JAIL_FS_INVALID:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* "<work_dir>/<sub>" in buf. */
static const char *work_path(const Builder *b, const char *sub, char *buf, size_t size)
{
	(void)snprintf(buf, size, "%s/%s", b->a->work_dir, sub);
	return buf;
}

static int make_images(Builder *b)
{
	const VssJailOptions *o = b->a->o;
	int r;

	char dir[128];

	if (mkdir(work_path(b, "images", dir, sizeof(dir)), 0700) < 0)
		return stage(b, "mkdir images", SIZE_MAX, negative_errno());
	b->images_dir = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b->images_dir < 0)
		return stage(b, "open images", SIZE_MAX, negative_errno());

	for (size_t i = 0; i < o->n_images; i++) {
		unsigned mib = o->images[i].size_mib ?: default_size_mib(o->images[i].fs);
		char name[32], path[192];

		(void)snprintf(name, sizeof(name), "img%zu.img", i);
		(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
		b->img_file[i] =
			openat(b->images_dir, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (b->img_file[i] < 0)
			return stage(b, "create", i, negative_errno());
		/* Sparse: only what mkfs and the tests write takes memory. */
		if (ftruncate(b->img_file[i], (off_t)mib * 1024 * 1024) < 0)
			return stage(b, "truncate", i, negative_errno());
		r = run_mkfs(o->images[i].fs, path);
		if (r < 0)
			return stage(b, "mkfs", i, r);
	}
	return 0;
}

static int open_loop_control(Builder *b)
{
	char buf[32] = "", node[128];
	int fd, max_part = 0;

	work_path(b, "loop-control", node, sizeof(node));
	if (mknod(node, S_IFCHR | 0600, makedev(10, LOOP_CONTROL_MINOR)) < 0)
		return stage(b, "mknod loop-control", SIZE_MAX, negative_errno());
	b->loop_ctl = open(node, O_RDWR | O_CLOEXEC);
	if (b->loop_ctl < 0)
		return stage(b, "open loop-control", SIZE_MAX, negative_errno());

	/* With max_part, minors are index << fls(max_part) (drivers/block/loop.c). */
	fd = open("/sys/module/loop/parameters/max_part", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		if (n > 0)
			max_part = atoi(buf);
		close(fd);
	}
	b->part_shift = 0;
	while (max_part > 0 && (1 << b->part_shift) <= max_part)
		b->part_shift++;
	return 0;
}

static int take_vmbus(Builder *b)
{
	const char *dir = b->a->o->vmbus_dir;
	_cleanup_close_ int fd = -EBADF;
	struct statfs sf;

	if (!dir)
		return 0;
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return stage(b, "open vmbus_dir", SIZE_MAX, negative_errno());
	if (fstatfs(fd, &sf) < 0)
		return stage(b, "statfs vmbus_dir", SIZE_MAX, negative_errno());
	/* Only FUSE: anything else could be (or sit on) a freezable superblock. */
	if ((unsigned long)sf.f_type != FUSE_SUPER_MAGIC)
		return stage(b, "vmbus_dir is not FUSE", SIZE_MAX, -EMEDIUMTYPE);
	/* A clone of exactly this one mount (no AT_RECURSIVE). */
	b->vmbus_tree = (int)syscall(SYS_open_tree, fd, "",
				     AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (b->vmbus_tree < 0)
		return stage(b, "open_tree vmbus_dir", SIZE_MAX, negative_errno());
	return 0;
}

static int populate_root(Builder *b)
{
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = {
		{ "dev/null", 1, 3 },	{ "dev/zero", 1, 5 },	 { "dev/full", 1, 7 },
		{ "dev/random", 1, 8 }, { "dev/urandom", 1, 9 },
	};
	static const struct {
		const char *name, *target;
	} links[] = {
		{ "dev/fd", "/proc/self/fd" },
		{ "dev/stdin", "/proc/self/fd/0" },
		{ "dev/stdout", "/proc/self/fd/1" },
		{ "dev/stderr", "/proc/self/fd/2" },
	};
	static const struct {
		const char *path, *text;
	} files[] = {
		{ "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n" },
		{ "/etc/group", "root:x:0:\n" },
		{ "/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n" },
		{ "/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n" },
	};
	static const char *const dirs[] = { "dev/vmbus", "dev/shm", "proc", "run",    "mnt",
					    "etc",	 "sbin",    "root", "oldroot" };
	const VssJailOptions *o = b->a->o;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		r = vj_mkdir_p_at(b->rootfd, dirs[i], 0755);
		if (r < 0)
			return stage(b, dirs[i], SIZE_MAX, r);
	}
	if (mkdirat(b->rootfd, "tmp", 01777) < 0 || fchmodat(b->rootfd, "tmp", 01777, 0) < 0)
		return stage(b, "tmp", SIZE_MAX, negative_errno());
	if (o->sysfs && mkdirat(b->rootfd, "sys", 0555) < 0)
		return stage(b, "sys", SIZE_MAX, negative_errno());
	for (size_t i = 0; i < o->n_images; i++) {
		char path[32];

		(void)snprintf(path, sizeof(path), "mnt/img%zu", i);
		if (mkdirat(b->rootfd, path, 0755) < 0)
			return stage(b, "mkdir", i, negative_errno());
	}

	for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
		if (mknodat(b->rootfd, nodes[i].name, S_IFCHR | 0666,
			    makedev(nodes[i].major, nodes[i].minor)) < 0 ||
		    fchmodat(b->rootfd, nodes[i].name, 0666, 0) < 0)
			return stage(b, nodes[i].name, SIZE_MAX, negative_errno());
	for (size_t i = 0; i < ELEMENTSOF(links); i++)
		if (symlinkat(links[i].target, b->rootfd, links[i].name) < 0)
			return stage(b, links[i].name, SIZE_MAX, negative_errno());

	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		r = vj_write_file_at(b->rootfd, files[i].path, files[i].text, strlen(files[i].text),
				     0644);
		if (r < 0)
			return stage(b, files[i].path, SIZE_MAX, r);
	}
	r = vj_copy_file_at(b->rootfd, "/etc/ld.so.cache", "/etc/ld.so.cache", 0644);
	if (r < 0 && r != -ENOENT)
		return stage(b, "ld.so.cache", SIZE_MAX, r);

	r = vj_install_exec_at(b->rootfd, b->a->init_path);
	if (r < 0)
		return stage(b, "install init", SIZE_MAX, r);
	for (size_t i = 0; i < o->n_executables; i++) {
		r = vj_install_exec_at(b->rootfd, o->executables[i]);
		if (r < 0)
			return stage(b, "install executable", i, r);
	}
	return 0;
}

static int enter_root(Builder *b)
{
	if (b->vmbus_tree >= 0 && syscall(SYS_move_mount, b->vmbus_tree, "", b->rootfd, "dev/vmbus",
					  MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return stage(b, "move_mount vmbus", SIZE_MAX, negative_errno());
	b->vmbus_tree = safe_close(b->vmbus_tree);

	if (fchdir(b->rootfd) < 0)
		return stage(b, "chdir root", SIZE_MAX, negative_errno());
	if (syscall(SYS_pivot_root, ".", "oldroot") < 0)
		return stage(b, "pivot_root", SIZE_MAX, negative_errno());
	if (chdir("/") < 0)
		return stage(b, "chdir /", SIZE_MAX, negative_errno());
	/* From here on the machine's root is no longer part of this namespace. */
	if (umount2("/oldroot", MNT_DETACH) < 0)
		return stage(b, "detach old root", SIZE_MAX, negative_errno());
	if (rmdir("/oldroot") < 0)
		return stage(b, "rmdir oldroot", SIZE_MAX, negative_errno());
	b->rootfd = safe_close(b->rootfd);

	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return stage(b, "mount proc", SIZE_MAX, negative_errno());
	if (mount("hvguest-jail-run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return stage(b, "mount run", SIZE_MAX, negative_errno());
	if (b->a->o->sysfs &&
	    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return stage(b, "mount sysfs", SIZE_MAX, negative_errno());
	return 0;
}

/* A stacked image: copy the prepared template onto its parent image, data extents only. */
static int place_on_parent(Builder *b, size_t i, int *ret_fd)
{
	char name[32], path[64], buf[65536];
	_cleanup_close_ int fd = -EBADF;
	int src = b->img_file[i];
	off_t end, pos = 0;

	(void)snprintf(name, sizeof(name), "img%zu.img", i);
	(void)snprintf(path, sizeof(path), "/mnt/img%d/%s", b->a->o->images[i].parent, name);
	end = lseek(src, 0, SEEK_END);
	if (end < 0)
		return negative_errno();
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	if (ftruncate(fd, end) < 0)
		return negative_errno();
	for (;;) {
		off_t data = lseek(src, pos, SEEK_DATA), hole;

		if (data < 0)
			break; /* ENXIO: no more data */
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0)
			return negative_errno();
		for (pos = data; pos < hole;) {
			ssize_t n =
				pread(src, buf, (size_t)MIN((off_t)sizeof(buf), hole - pos), pos);

			if (n <= 0)
				return n < 0 ? negative_errno() : -EIO;
			if (pwrite(fd, buf, (size_t)n, pos) != n)
				return -EIO;
			pos += n;
		}
	}
	if (fsync(fd) < 0)
		return negative_errno();
	/* The template is no longer needed. */
	b->img_file[i] = safe_close(b->img_file[i]);
	(void)unlinkat(b->images_dir, name, 0);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int attach_loop(Builder *b, size_t i, int backing, int *ret_lfd)
{
	VjImageInfo *info = &b->s->images[i];

	for (int attempt = 0; attempt < LOOP_ATTEMPTS; attempt++) {
		struct loop_config cfg = { .fd = (uint32_t)backing };
		struct loop_info64 li;
		char path[32];
		dev_t rdev;
		int idx, lfd;

		idx = ioctl(b->loop_ctl, LOOP_CTL_GET_FREE);
		if (idx < 0)
			return negative_errno();
		rdev = makedev(LOOP_MAJOR_NR, (unsigned)idx << b->part_shift);
		(void)snprintf(path, sizeof(path), "/dev/loop%d", idx);
		(void)unlink(path);
		if (mknod(path, S_IFBLK | 0600, rdev) < 0)
			return negative_errno();
		lfd = open(path, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			return negative_errno();

		/* Auto-clear: the device frees itself at the last close after the unmount. */
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		(void)snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name),
			       "hvguest-jail-img%zu", i);
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
			int r = negative_errno();

			close(lfd);
			(void)unlink(path);
			if (r == -EBUSY)
				continue; /* someone else took it meanwhile */
			return r;
		}
		/* Our node must name the device we were given (part_shift guess). */
		if (ioctl(lfd, LOOP_GET_STATUS64, &li) < 0 || li.lo_number != (uint32_t)idx) {
			close(lfd); /* auto-clears */
			return -ENXIO;
		}
		info->loop_index = (uint32_t)idx;
		info->loop_rdev = rdev;
		*ret_lfd = lfd;
		return 0;
	}
	return -EBUSY;
}

static int mount_images(Builder *b)
{
	static const char *const types[] = {
		[VSS_JAIL_FS_EXT4] = "ext4",
		[VSS_JAIL_FS_XFS] = "xfs",
		[VSS_JAIL_FS_BTRFS] = "btrfs",
	};
	const VssJailOptions *o = b->a->o;

	for (size_t i = 0; i < o->n_images; i++) {
		_cleanup_close_ int lfd = -EBADF, own = -EBADF;
		VjImageInfo *info = &b->s->images[i];
		char dev[32], dir[32];
		int backing, r;
		struct stat st;

		info->parent = o->images[i].parent;
		if (o->images[i].parent >= 0) {
			r = place_on_parent(b, i, &own);
			if (r < 0)
				return stage(b, "stack", i, r);
			backing = own;
		} else {
			backing = b->img_file[i];
		}
		r = attach_loop(b, i, backing, &lfd);
		if (r < 0)
			return stage(b, "loop", i, r);
		/* The loop device holds its own reference to the backing file. */
		b->img_file[i] = safe_close(b->img_file[i]);

		(void)snprintf(dev, sizeof(dev), "/dev/loop%u", info->loop_index);
		(void)snprintf(dir, sizeof(dir), "/mnt/img%zu", i);
		if (mount(dev, dir, types[o->images[i].fs], MS_NOSUID | MS_NODEV, NULL) < 0)
			return stage(b, "mount", i, negative_errno());

		b->mnt_fd[i] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b->mnt_fd[i] < 0)
			return stage(b, "open", i, negative_errno());
		if (fstat(b->mnt_fd[i], &st) < 0)
			return stage(b, "stat", i, negative_errno());
		info->mnt_dev = st.st_dev;
		if (st.st_dev == b->a->real_root->st_dev || st.st_dev == b->a->real_root->mnt_dev)
			return stage(b, "image is the real root?!", i, -EPERM);
		if (o->images[i].fs != VSS_JAIL_FS_BTRFS && st.st_dev != info->loop_rdev)
			return stage(b, "image device mismatch", i, -ENXIO);
	}
	return 0;
}

static int build(Builder *b)
{
	const VjBuildArgs *a = b->a;
	struct statfs sf;
	int r;

	/* Before exec a SIGKILL is the only parent-death signal a PID-1 child cannot ignore;
	 * nothing is frozen yet. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return stage(b, "pdeathsig", SIZE_MAX, negative_errno());
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return stage(b, "make / private", SIZE_MAX, negative_errno());

	r = take_vmbus(b);
	if (r < 0)
		return r;

	if (mount("hvguest-jail-work", b->a->work_dir, "tmpfs", MS_NOSUID, "mode=0700") < 0)
		return stage(b, "mount work tmpfs", SIZE_MAX, negative_errno());
	if (statfs(b->a->work_dir, &sf) < 0 || (unsigned long)sf.f_type != TMPFS_MAGIC)
		return stage(b, "work is not tmpfs", SIZE_MAX, -EMEDIUMTYPE);

	r = make_images(b);
	if (r < 0)
		return r;
	r = open_loop_control(b);
	if (r < 0)
		return r;

	char root[128];

	if (mkdir(work_path(b, "root", root, sizeof(root)), 0755) < 0)
		return stage(b, "mkdir root", SIZE_MAX, negative_errno());
	if (mount("hvguest-jail", root, "tmpfs", MS_NOSUID, "mode=0755") < 0)
		return stage(b, "mount jail tmpfs", SIZE_MAX, negative_errno());
	b->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b->rootfd < 0)
		return stage(b, "open root", SIZE_MAX, negative_errno());

	r = populate_root(b);
	if (r < 0)
		return r;
	r = enter_root(b);
	if (r < 0)
		return r;
	r = mount_images(b);
	if (r < 0)
		return r;
	b->loop_ctl = safe_close(b->loop_ctl);
	b->images_dir = safe_close(b->images_dir);

	if (sethostname(a->hostname, strlen(a->hostname)) < 0)
		return stage(b, "sethostname", SIZE_MAX, negative_errno());
	return 0;
}

static void send_setup(Builder *b, int result)
{
	VjHeader h = { .type = VJ_MSG_SETUP, .result = result, .len = sizeof(VjSetup) };

	(void)vj_send(b->a->ctl_fd, &h, b->s, NULL, 0);
}

/* Moves the descriptors the init needs to their fixed numbers and execs it. */
static int exec_init(Builder *b)
{
	const VssJailOptions *o = b->a->o;
	int src[2 + VJ_MAX_IMAGES], keep[2 + VJ_MAX_IMAGES];
	char n_images[16], lifetime[16], allowed[VJ_MAX_IMAGES * 24] = "";
	size_t n = 0, used = 0;
	int null_fd;

	src[n++] = b->a->ctl_fd;
	src[n++] = b->a->log_fd;
	for (size_t i = 0; i < o->n_images; i++)
		src[n++] = b->mnt_fd[i];

	/* First out of the way (>= 1000), then down to 3, 4, 5, ... (dup2 clears CLOEXEC). */
	for (size_t i = 0; i < n; i++) {
		src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 1000);
		if (src[i] < 0)
			return negative_errno();
	}
	for (size_t i = 0; i < n; i++) {
		keep[i] = VJ_FD_CTL + (int)i;
		if (dup2(src[i], keep[i]) < 0)
			return negative_errno();
	}
	b->ctl = VJ_FD_CTL;
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
		return -EIO;
	vj_close_all_but(keep, n);

	for (size_t i = 0; i < o->n_images; i++) {
		int k = snprintf(allowed + used, sizeof(allowed) - used, "%s%u:%u", i ? "," : "",
				 major(b->s->images[i].loop_rdev),
				 minor(b->s->images[i].loop_rdev));

		if (k < 0 || (size_t)k >= sizeof(allowed) - used)
			return -ENAMETOOLONG;
		used += (size_t)k;
	}
	(void)snprintf(n_images, sizeof(n_images), "%zu", o->n_images);
	(void)snprintf(lifetime, sizeof(lifetime), "%u", b->a->lifetime_sec);

	execve(b->a->init_path,
	       (char *const[]){ (char *)"hvguest-jail-init", n_images, lifetime,
				(char *)(o->syslog ? "1" : "0"), allowed, NULL },
	       (char *const[]){ (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL });
	return negative_errno();
}

_noreturn_ void vj_build_and_exec(const VjBuildArgs *a)
{
	VjSetup s = {};
	Builder b = {
		.a = a,
		.s = &s,
		.images_dir = -EBADF,
		.loop_ctl = -EBADF,
		.vmbus_tree = -EBADF,
		.rootfd = -EBADF,
		.ctl = a->ctl_fd,
	};
	VjHeader h;
	int r;

	for (size_t i = 0; i < VJ_MAX_IMAGES; i++)
		b.img_file[i] = b.mnt_fd[i] = -EBADF;
	s.n_images = (uint32_t)a->o->n_images;

	r = build(&b);
	send_setup(&b, r);
	if (r < 0)
		_exit(1); /* unmounts and loop devices go with the namespace */

	r = exec_init(&b);
	/* Still PID 1 here, holding the images: report and exit; the mounts die with us. */
	h = (VjHeader){ .type = VJ_MSG_READY, .result = r };
	(void)vj_send(b.ctl, &h, NULL, NULL, 0);
	_exit(1);
}
