/* SPDX-License-Identifier: MIT */
/*
 * The test process's side of a vss-jail (see vss-jail.h): creation and teardown, requests
 * to the init, files through the jail's root, extra mounts and the jail-aware gate.
 * Processes, probes and writers are in vss-jail-proc.c. Every wait is bounded.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "vss-jail-build.h"
#include "vss-jail-internal.h"
#include "vss-jail-private.h"
#include "vss-jail.h"

#ifndef VSS_JAIL_INIT_PATH
#error "VSS_JAIL_INIT_PATH must name the built vss-jail-init"
#endif

#define SETUP_TIMEOUT_MS (180 * 1000)
#define REQUEST_TIMEOUT_MS (15 * 1000)
#define STOP_TIMEOUT_USEC (5u * 1000000u)
#define DEFAULT_LIFETIME_SEC 1800u

static const char *const fs_names[_VSS_JAIL_FS_MAX] = {
	[VSS_JAIL_FS_EXT4] = "ext4",
	[VSS_JAIL_FS_XFS] = "xfs",
	[VSS_JAIL_FS_BTRFS] = "btrfs",
};

const char *vss_jail_fs_to_string(VssJailFs fs)
{
	return fs >= 0 && fs < _VSS_JAIL_FS_MAX ? fs_names[fs] : NULL;
}

bool vss_jail_fs_available(VssJailFs fs)
{
	char tool[256], path[256];

	if (!vss_jail_fs_to_string(fs))
		return false;
	(void)snprintf(tool, sizeof(tool), "mkfs.%s", fs_names[fs]);
	return vj_find_tool(tool, path, sizeof(path)) == 0;
}

int vss_jail_image_path(size_t i, char *buf, size_t size)
{
	int n = snprintf(buf, size, "/mnt/img%zu", i);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

size_t vss_jail_n_images(const VssJail *j)
{
	return j->n_images;
}

VssJailFs vss_jail_image_fs(const VssJail *j, size_t i)
{
	return i < j->n_images ? j->fs[i] : _VSS_JAIL_FS_INVALID;
}

dev_t vss_jail_image_device(const VssJail *j, size_t i)
{
	return i < j->n_images ? j->loop_rdev[i] : 0;
}

int vss_jail_image_fd(const VssJail *j, size_t i)
{
	return i < j->n_images ? j->img_fd[i] : -EBADF;
}

pid_t vss_jail_init_pid(const VssJail *j)
{
	return j->init_pid;
}

int vss_jail_root_fd(const VssJail *j)
{
	return j->rootfd;
}

/* One request, one reply (with at most one descriptor). */
int vj_jail_request(VssJail *j, VjType type, int arg, const void *payload, size_t len, int send_fd,
		    VjHeader *ret_reply, int *ret_fd)
{
	VjHeader h = { .type = type, .arg = arg, .len = (uint32_t)len };
	int fds[1] = { -EBADF };
	size_t n_fds = 0;
	int r;

	if (j->ctl < 0)
		return -ENOTCONN;
	r = vj_send(j->ctl, &h, payload, send_fd >= 0 ? &send_fd : NULL, send_fd >= 0 ? 1 : 0);
	if (r < 0)
		return r;
	r = vj_recv(j->ctl, ret_reply, NULL, 0, fds, 1, &n_fds, REQUEST_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (ret_reply->type != VJ_REPLY) {
		for (size_t i = 0; i < n_fds; i++)
			safe_close(fds[i]);
		return -EBADMSG;
	}
	if (ret_fd)
		*ret_fd = n_fds > 0 ? fds[0] : -EBADF;
	else if (n_fds > 0)
		safe_close(fds[0]);
	return 0;
}

/* ---- The gate, jail-aware ---- */

int vss_jail_gate(VssJail *j, pid_t pid, VssGatePlan *ret_plan, char *reterr, size_t reterr_size)
{
	char path[64];
	struct stat st;

	(void)snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	if (stat(path, &st) < 0)
		return negative_errno();
	if (st.st_ino != j->mntns_ino) {
		if (reterr && reterr_size)
			(void)snprintf(reterr, reterr_size,
				       "pid %d is not in the jail's mount namespace", (int)pid);
		return -EPERM;
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	if (stat(path, &st) < 0)
		return negative_errno();
	if (st.st_dev != j->root_dev || st.st_ino != j->root_ino) {
		if (reterr && reterr_size)
			(void)snprintf(reterr, reterr_size, "pid %d has another root", (int)pid);
		return -EPERM;
	}
	return vss_jail_check_plan(pid, j->loop_rdev, j->n_images, &j->root, ret_plan, reterr,
				   reterr_size);
}

/* ---- Creation and teardown ---- */

static int check_options(const VssJailOptions *o)
{
	if (!o || !o->images || o->n_images == 0 || o->n_images > VSS_JAIL_MAX_IMAGES)
		return -EINVAL;
	for (size_t i = 0; i < o->n_images; i++) {
		if (!vss_jail_fs_to_string(o->images[i].fs))
			return -EINVAL;
		if (o->images[i].parent < -1 || o->images[i].parent >= (int)i)
			return -EINVAL;
		if (!vss_jail_fs_available(o->images[i].fs))
			return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < o->n_executables; i++)
		if (!o->executables[i] || o->executables[i][0] != '/')
			return -EINVAL;
	return 0;
}

/*
 * The nanny: enters the new namespaces, forks the builder (PID 1 there, later the init),
 * then watches both the test process and the init. When the test process exits it exits
 * too, which the init takes as SIGTERM (parent-death signal): thaw and shut down. Holds
 * nothing else, so the init also sees EOF on the control socket.
 */
static _noreturn_ void nanny_main(VjBuildArgs *a, pid_t parent, int our_end)
{
	VjHeader h = { .type = VJ_MSG_SETUP, .len = sizeof(VjSetup) };
	VjSetup err = {};
	int parent_fd, builder_fd;
	pid_t builder;

	safe_close(our_end);
	parent_fd = vj_pidfd_open(parent);
	if (parent_fd < 0 || getppid() != parent)
		_exit(1);
	{
		/* Nothing else of the test process's (another jail's socket...) goes along. */
		int keep[3] = { a->ctl_fd, a->log_fd, parent_fd };

		vj_close_all_but(keep, 3);
	}

	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID) < 0) {
		h.result = negative_errno();
		(void)snprintf(err.stage, sizeof(err.stage), "unshare");
		(void)vj_send(a->ctl_fd, &h, &err, NULL, 0);
		_exit(1);
	}
	builder = fork();
	if (builder == 0) {
		safe_close(parent_fd);
		vj_build_and_exec(a);
	}
	if (builder < 0) {
		h.result = negative_errno();
		(void)snprintf(err.stage, sizeof(err.stage), "fork builder");
		(void)vj_send(a->ctl_fd, &h, &err, NULL, 0);
		_exit(1);
	}
	builder_fd = vj_pidfd_open(builder);
	{
		int keep[2] = { parent_fd, builder_fd };

		vj_close_all_but(keep, 2);
	}
	while (builder_fd >= 0) {
		struct pollfd p[2] = {
			{ .fd = parent_fd, .events = POLLIN },
			{ .fd = builder_fd, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			_exit(0); /* the test process is gone: the init thaws */
		if (p[1].revents)
			break;
	}
	/* The init exited (or poll failed: then wait for it, blocking). */
	while (waitpid(builder, NULL, 0) < 0 && errno == EINTR)
		;
	_exit(0);
}

static int receive_setup(VssJail *j)
{
	_cleanup_free_ VjSetup *s = calloc(1, sizeof(*s));
	VjHeader h;
	int fd = -EBADF, r;
	size_t n_fds = 0;

	if (!s)
		return -ENOMEM;
	r = vj_recv(j->ctl, &h, s, sizeof(*s), NULL, 0, NULL, SETUP_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (h.type != VJ_MSG_SETUP)
		return -EBADMSG;
	if (h.result < 0) {
		s->stage[sizeof(s->stage) - 1] = 0;
		/* Test infrastructure: say where it failed, or nobody can tell. */
		fprintf(stderr, "vss-jail: building the jail failed at '%s': %s\n", s->stage,
			strerror(-h.result));
		return h.result;
	}
	if (h.len != sizeof(*s) || s->n_images != j->n_images)
		return -EBADMSG;
	for (size_t i = 0; i < j->n_images; i++) {
		j->loop_rdev[i] = (dev_t)s->images[i].loop_rdev;
		j->mnt_dev[i] = (dev_t)s->images[i].mnt_dev;
	}

	r = vj_recv(j->ctl, &h, NULL, 0, &fd, 1, &n_fds, REQUEST_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (h.type != VJ_MSG_READY || h.result < 0 || n_fds != 1) {
		if (n_fds)
			safe_close(fd);
		fprintf(stderr, "vss-jail: the jail's init did not start: %s\n",
			strerror(h.result < 0 ? -h.result : EBADMSG));
		return h.result < 0 ? h.result : -EBADMSG;
	}
	j->init_pidfd = fd;
	return vj_pidfd_pid(fd, &j->init_pid);
}

static int open_jail_view(VssJail *j)
{
	char path[64], reason[512] = "";
	VssGatePlan plan;
	struct statfs sf;
	struct stat st;
	int r;

	(void)snprintf(path, sizeof(path), "/proc/%d/root", (int)j->init_pid);
	j->rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (j->rootfd < 0)
		return negative_errno();
	if (fstat(j->rootfd, &st) < 0 || fstatfs(j->rootfd, &sf) < 0)
		return negative_errno();
	if ((unsigned long)sf.f_type != TMPFS_MAGIC || st.st_dev == j->root.st_dev)
		return -EPERM;
	j->root_dev = st.st_dev;
	j->root_ino = st.st_ino;
	(void)snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)j->init_pid);
	if (stat(path, &st) < 0)
		return negative_errno();
	j->mntns_ino = st.st_ino;

	for (size_t i = 0; i < j->n_images; i++) {
		(void)snprintf(path, sizeof(path), "/mnt/img%zu", i);
		j->img_fd[i] = vj_open_at(j->rootfd, path, O_RDONLY | O_DIRECTORY, 0);
		if (j->img_fd[i] < 0)
			return j->img_fd[i];
		if (fstat(j->img_fd[i], &st) < 0)
			return negative_errno();
		if (st.st_dev != j->mnt_dev[i])
			return -ENXIO;
	}

	/* The jail's own view: every image a candidate, nothing else. */
	r = vss_jail_gate(j, j->init_pid, &plan, reason, sizeof(reason));
	if (r < 0) {
		fprintf(stderr, "vss-jail: the new jail fails the gate: %s\n", reason);
		return r;
	}
	if (plan.n_candidates != j->n_images) {
		fprintf(stderr, "vss-jail: %zu freeze candidates for %zu images\n",
			plan.n_candidates, j->n_images);
		return -EPERM;
	}
	return 0;
}

int vss_jail_new(const VssJailOptions *o, const VssRootId *real_root, VssJail **ret)
{
	_cleanup_(vss_jail_freep) VssJail *j = NULL;
	const char *init_path = getenv("VSS_JAIL_INIT") ?: VSS_JAIL_INIT_PATH;
	int sp[2], r;
	VjBuildArgs a;
	pid_t self;

	if (geteuid() != 0)
		return -EPERM;
	r = check_options(o);
	if (r < 0)
		return r;
	if (access(init_path, X_OK) < 0)
		return negative_errno();

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->ctl = j->log_fd = j->nanny_pidfd = j->init_pidfd = j->rootfd = -EBADF;
	for (size_t i = 0; i < VSS_JAIL_MAX_IMAGES; i++)
		j->img_fd[i] = -EBADF;
	j->n_images = o->n_images;
	for (size_t i = 0; i < o->n_images; i++)
		j->fs[i] = o->images[i].fs;

	if (real_root)
		j->root = *real_root;
	else {
		r = vss_root_id_get(&j->root);
		if (r < 0)
			return r;
	}

	j->log_fd = memfd_create("hvguest-jail-log", MFD_CLOEXEC);
	if (j->log_fd < 0)
		return negative_errno();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return negative_errno();
	j->ctl = sp[0];

	snprintf(j->work_dir, sizeof(j->work_dir), "/tmp/hvguest-jail-work.XXXXXX");
	if (!mkdtemp(j->work_dir)) {
		j->work_dir[0] = 0;
		return negative_errno();
	}

	a = (VjBuildArgs){
		.o = o,
		.real_root = &j->root,
		.init_path = init_path,
		.work_dir = j->work_dir,
		.hostname = o->hostname ?: "hvguest-jail",
		.lifetime_sec = o->lifetime_sec ?: DEFAULT_LIFETIME_SEC,
		.ctl_fd = sp[1],
		.log_fd = j->log_fd,
	};
	self = getpid();
	j->nanny = fork();
	if (j->nanny < 0) {
		r = negative_errno();
		safe_close(sp[1]);
		return r;
	}
	if (j->nanny == 0)
		nanny_main(&a, self, sp[0]);
	safe_close(sp[1]);
	j->nanny_pidfd = vj_pidfd_open(j->nanny);
	if (j->nanny_pidfd < 0)
		return j->nanny_pidfd;

	r = receive_setup(j);
	if (r < 0)
		return r;
	r = open_jail_view(j);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(j);
	return 0;
}

int vss_jail_thaw_all(VssJail *j)
{
	int thawed = 0;

	/* Outer before inner: a stacked image's parent has the lower index. */
	for (size_t i = 0; i < j->n_images; i++)
		if (j->img_fd[i] >= 0 && ioctl(j->img_fd[i], FITHAW, 0) == 0)
			thawed++;
	return thawed;
}

static void reap_strays(VssJail *j)
{
	for (size_t i = 0; i < j->n_strays; i++) {
		int fd = vj_pidfd_open(j->strays[i]);

		(void)kill(j->strays[i], SIGKILL);
		if (fd >= 0) {
			(void)vj_pidfd_wait(fd, STOP_TIMEOUT_USEC);
			safe_close(fd);
		}
		(void)waitpid(j->strays[i], NULL, WNOHANG);
	}
	j->n_strays = 0;
}

VssJail *vss_jail_free(VssJail *j)
{
	VjHeader reply;

	if (!j)
		return NULL;

	/* Thaw first: a stray probe may be waiting on a frozen outer image. */
	(void)vss_jail_thaw_all(j);
	reap_strays(j);
	(void)vss_jail_thaw_all(j);
	for (size_t i = 0; i < VSS_JAIL_MAX_IMAGES; i++)
		j->img_fd[i] = safe_close(j->img_fd[i]);
	j->rootfd = safe_close(j->rootfd);

	if (j->init_pidfd >= 0)
		(void)vj_jail_request(j, VJ_REQ_SHUTDOWN, 0, NULL, 0, -EBADF, &reply, NULL);
	/* EOF makes the init shut down even if the request failed. */
	j->ctl = safe_close(j->ctl);

	if (j->nanny > 0) {
		if (j->nanny_pidfd < 0 ||
		    vj_pidfd_wait(j->nanny_pidfd, 3 * STOP_TIMEOUT_USEC) < 0) {
			/* Never seen; everything was thawed above, so a kill is safe now. */
			if (j->init_pidfd >= 0)
				(void)vj_pidfd_send_signal(j->init_pidfd, SIGKILL);
			(void)kill(j->nanny, SIGKILL);
			if (j->nanny_pidfd >= 0)
				(void)vj_pidfd_wait(j->nanny_pidfd, STOP_TIMEOUT_USEC);
		}
		(void)waitpid(j->nanny, NULL, WNOHANG);
	}
	safe_close(j->nanny_pidfd);
	safe_close(j->init_pidfd);
	safe_close(j->log_fd);
	/* Its tmpfs lived in the jail's namespace only; here it is an empty directory. */
	if (j->work_dir[0])
		(void)rmdir(j->work_dir);
	free(j);
	return NULL;
}

/* ---- Files ---- */

int vss_jail_mkdir(VssJail *j, const char *path, mode_t mode)
{
	return vj_mkdir_p_at(j->rootfd, path, mode);
}

int vss_jail_write_file(VssJail *j, const char *path, const void *data, size_t len, mode_t mode)
{
	return vj_write_file_at(j->rootfd, path, data, len, mode);
}

int vss_jail_install_exec(VssJail *j, const char *host_path)
{
	return vj_install_exec_at(j->rootfd, host_path);
}

int vss_jail_read_log(VssJail *j, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fstat(j->log_fd, &st) < 0)
		return negative_errno();
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = pread(j->log_fd, buf, (size_t)st.st_size, 0);
	if (n < 0)
		return negative_errno();
	buf[n] = 0;
	*ret = TAKE_PTR(buf);
	return 0;
}

int vj_append_string(char *buf, size_t size, size_t *used, const char *s)
{
	size_t len = strlen(s) + 1;

	if (*used + len > size)
		return -E2BIG;
	memcpy(buf + *used, s, len);
	*used += len;
	return 0;
}

int vss_jail_mount(VssJail *j, const char *source, const char *target, const char *fstype,
		   unsigned long flags, const char *data)
{
	_cleanup_free_ char *p = malloc(VJ_MAX_PAYLOAD);
	const char *s[] = { source ?: "", target, fstype ?: "", data ?: "" };
	size_t used = 0;
	VjHeader reply;
	int r;

	if (!p)
		return -ENOMEM;
	if (!target)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(s); i++) {
		r = vj_append_string(p, VJ_MAX_PAYLOAD, &used, s[i]);
		if (r < 0)
			return r;
	}
	r = vj_jail_request(j, VJ_REQ_MOUNT, (int)flags, p, used, -EBADF, &reply, NULL);
	return r < 0 ? r : reply.result;
}

int vss_jail_umount(VssJail *j, const char *target)
{
	VjHeader reply;
	int r;

	r = vj_jail_request(j, VJ_REQ_UMOUNT, 0, target, strlen(target) + 1, -EBADF, &reply, NULL);
	return r < 0 ? r : reply.result;
}
