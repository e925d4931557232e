/* SPDX-License-Identifier: MIT */
/*
 * Namespaces, private /dev, scratch tmpfs and the guest's identity files
 * (see hostsim-env.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "hostsim/hostsim-env.h"
#include "hostsim/hostsim-net.h"

#define MAX_MOUNTS 32u

struct HsEnv {
	char scratch[64];
	bool scratch_made;
	char *mounts[MAX_MOUNTS]; /* in mount order; unmounted in reverse */
	size_t n_mounts;
	int ns_mnt, ns_uts, ns_net; /* the namespaces we came from */
	int cwd_fd;
	bool entered;
};

static int do_mount(HsEnv *e, const char *src, const char *target, const char *type,
		    unsigned long flags, const char *data)
{
	char *t;

	if (e->n_mounts >= MAX_MOUNTS)
		return -ENOSPC;
	t = strdup(target);
	if (!t)
		return -ENOMEM;
	if (mount(src, target, type, flags, data) < 0) {
		int r = negative_errno();

		log_debug("Failed to mount '%s' on '%s': %m", strna(src), target);
		free(t);
		return r;
	}
	e->mounts[e->n_mounts++] = t;
	return 0;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(text), done = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return negative_errno();
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		done += (size_t)n;
	}
	return 0;
}

static int path_join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The minimal device directory: what daemons and their helpers need, nothing else. */
static int build_dev(const char *dir)
{
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = {
		{ "null", 1, 3 },    { "zero", 1, 5 }, { "full", 1, 7 },    { "random", 1, 8 },
		{ "urandom", 1, 9 }, { "tty", 5, 0 },  { "fuse", 10, 229 },
	};
	static const struct {
		const char *name, *target;
	} links[] = {
		{ "fd", "/proc/self/fd" },
		{ "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" },
	};
	_cleanup_close_ int dfd = -EBADF;

	if (mkdir(dir, 0755) < 0)
		return negative_errno();
	dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return negative_errno();

	for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
		if (mknodat(dfd, nodes[i].name, S_IFCHR | 0666,
			    makedev(nodes[i].major, nodes[i].minor)) < 0)
			return negative_errno();
		/* mknod() honours the umask. */
		if (fchmodat(dfd, nodes[i].name, 0666, 0) < 0)
			return negative_errno();
	}
	for (size_t i = 0; i < ELEMENTSOF(links); i++)
		if (symlinkat(links[i].target, dfd, links[i].name) < 0)
			return negative_errno();

	if (mkdirat(dfd, "vmbus", 0755) < 0 || mkdirat(dfd, "shm", 0755) < 0 ||
	    fchmodat(dfd, "shm", 01777, 0) < 0)
		return negative_errno();
	return 0;
}

/* Writes text to <scratch>/etc/<name> and binds it over target (skipped if target is absent). */
static int bind_etc(HsEnv *e, const char *name, const char *target, const char *text)
{
	char path[PATH_MAX];
	int r;

	r = path_join(path, sizeof(path), e->scratch, name);
	if (r < 0)
		return r;
	r = write_file(path, text, 0644);
	if (r < 0)
		return r;
	if (access(target, F_OK) < 0) {
		/* Cannot create it: that would touch the real /etc. */
		log_debug("'%s' does not exist, not overriding it", target);
		return 0;
	}
	return do_mount(e, path, target, NULL, MS_BIND, NULL);
}

static int setup_etc(HsEnv *e, const HostSimOptions *o)
{
	char hosts[1024];
	int n, r;

	n = snprintf(hosts, sizeof(hosts),
		     "127.0.0.1\tlocalhost\n"
		     "%s\t%s.%s %s\n"
		     "127.0.1.1\t%s.%s %s\n"
		     "::1\tlocalhost ip6-localhost ip6-loopback\n"
		     "%s\t%s.%s %s\n",
		     HOSTSIM_IPV4, o->hostname, o->domain, o->hostname, o->hostname, o->domain,
		     o->hostname, HOSTSIM_IPV6, o->hostname, o->domain, o->hostname);
	if (n < 0 || (size_t)n >= sizeof(hosts))
		return -ENAMETOOLONG;

	r = bind_etc(e, "etc/hosts", "/etc/hosts", hosts);
	if (r < 0)
		return r;
	/* A TEST-NET address: nothing can leave the namespace, and lookups fail fast. */
	r = bind_etc(e, "etc/resolv.conf", "/etc/resolv.conf",
		     "nameserver 192.0.2.53\noptions timeout:1 attempts:1\n");
	if (r < 0)
		return r;
	if (o->os_release) {
		r = bind_etc(e, "etc/os-release", "/etc/os-release", o->os_release);
		if (r < 0)
			return r;
	}
	return 0;
}

static int save_ns(const char *name, int *ret)
{
	char path[64];

	(void)snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	*ret = open(path, O_RDONLY | O_CLOEXEC);
	return *ret < 0 ? negative_errno() : 0;
}

HsEnv *hs_env_free(HsEnv *e)
{
	if (!e)
		return NULL;

	while (e->n_mounts > 0) {
		char *t = e->mounts[--e->n_mounts];

		if (umount2(t, MNT_DETACH) < 0)
			log_debug("Failed to unmount '%s': %m", t);
		free(t);
	}

	if (e->entered) {
		/* Back to where we came from; the private namespaces die with their last user. */
		if (e->ns_mnt >= 0 && setns(e->ns_mnt, CLONE_NEWNS) < 0)
			log_debug("Failed to return to the original mount namespace: %m");
		if (e->ns_uts >= 0 && setns(e->ns_uts, CLONE_NEWUTS) < 0)
			log_debug("Failed to return to the original UTS namespace: %m");
		if (e->ns_net >= 0 && setns(e->ns_net, CLONE_NEWNET) < 0)
			log_debug("Failed to return to the original network namespace: %m");
		if (e->cwd_fd >= 0 && fchdir(e->cwd_fd) < 0)
			log_debug("Failed to restore the working directory: %m");
	}

	if (e->scratch_made && rmdir(e->scratch) < 0)
		log_debug("Failed to remove '%s': %m", e->scratch);

	safe_close(e->ns_mnt);
	safe_close(e->ns_uts);
	safe_close(e->ns_net);
	safe_close(e->cwd_fd);
	free(e);
	return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(HsEnv *, hs_env_free);

int hs_env_new(const HostSimOptions *o, HsEnv **ret)
{
	_cleanup_(hs_env_freep) HsEnv *e = NULL;
	char path[PATH_MAX];
	int flags, r;

	if (geteuid() != 0)
		return -EPERM;
	if (access("/dev/fuse", F_OK) < 0)
		return -ENOENT;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ns_mnt = e->ns_uts = e->ns_net = e->cwd_fd = -EBADF;

	r = save_ns("mnt", &e->ns_mnt);
	if (r < 0)
		return r;
	r = save_ns("uts", &e->ns_uts);
	if (r < 0)
		return r;
	if (o->netns) {
		r = save_ns("net", &e->ns_net);
		if (r < 0)
			return r;
	}
	e->cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	flags = CLONE_NEWNS | CLONE_NEWUTS | (o->netns ? CLONE_NEWNET : 0);
	if (unshare(flags) < 0)
		return negative_errno(); /* EINVAL: the caller already has threads */
	e->entered = true;

	/* Nothing we mount from now on may propagate back to the machine. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return negative_errno();

	(void)snprintf(e->scratch, sizeof(e->scratch), "/tmp/hv-hostsim.XXXXXX");
	if (!mkdtemp(e->scratch))
		return negative_errno();
	e->scratch_made = true;
	/* No MS_NODEV: the private /dev lives here. */
	r = do_mount(e, "hvguest-scratch", e->scratch, "tmpfs", MS_NOSUID, "mode=0755");
	if (r < 0)
		return r;

	r = path_join(path, sizeof(path), e->scratch, "state");
	if (r < 0)
		return r;
	if (mkdir(path, 0755) < 0)
		return negative_errno();
	r = path_join(path, sizeof(path), e->scratch, "etc");
	if (r < 0)
		return r;
	if (mkdir(path, 0755) < 0)
		return negative_errno();

	/* Never touch the machine's devtmpfs: it is one instance shared by everyone. */
	r = path_join(path, sizeof(path), e->scratch, "dev");
	if (r < 0)
		return r;
	r = build_dev(path);
	if (r < 0)
		return r;
	r = do_mount(e, path, "/dev", NULL, MS_BIND, NULL);
	if (r < 0)
		return r;

	r = setup_etc(e, o);
	if (r < 0)
		return r;

	if (o->tmpfs_var_lib) {
		r = do_mount(e, "hvguest-varlib", "/var/lib", "tmpfs", MS_NOSUID | MS_NODEV,
			     "mode=0755");
		if (r < 0)
			return r;
	}

	if (o->netns) {
		/* A fresh sysfs shows this namespace's links under /sys/class/net. */
		r = do_mount(e, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
		if (r < 0)
			return r;
		r = hs_net_setup();
		if (r < 0)
			return r;
	}

	if (sethostname(o->hostname, strlen(o->hostname)) < 0)
		return negative_errno();

	*ret = TAKE_PTR(e);
	return 0;
}

const char *hs_env_scratch(const HsEnv *e)
{
	return e->scratch;
}
