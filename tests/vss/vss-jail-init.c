/* SPDX-License-Identifier: MIT */
/*
 * hvguest-jail-init: PID 1 and supervisor of a vss-jail (see vss-jail.h). Exec'd by the
 * builder from a copy inside the jail, so that nothing it maps or holds leads back to the
 * machine's root. Inherits: fd 3 the control socket, 4 a memfd for captured syslog lines,
 * 5.. one directory descriptor per image.
 * argv: n_images lifetime_sec syslog(0|1) allowed-loop-devices("maj:min,...").
 *
 * Its one job that matters: whatever happens to the test process, every image ends thawed.
 * On EOF of the control socket (the test process died), SIGTERM (also the parent-death signal:
 * the nanny outside exits when the test process does), SIGINT/SIGHUP/SIGQUIT,
 * the end of its lifetime, or a SHUTDOWN request: SIGKILL everything in the namespace, thaw
 * every image (outer before stacked inner, so no thaw waits on a frozen backing
 * filesystem), reap, thaw again (a freeze that was in flight may have landed), unmount,
 * exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "vss-jail-internal.h"

#define MAX_CHILDREN 1024u
#define MAX_ARGS 256u
#define REAP_TIMEOUT_USEC (5u * 1000000u)

typedef struct Child {
	pid_t pid;
	bool exited;
	int status;
} Child;

typedef struct Init {
	size_t n_images;
	dev_t allowed[VJ_MAX_IMAGES];
	int sigfd;
	int syslog_fd;
	uint64_t deadline;
	Child children[MAX_CHILDREN];
	size_t n_children;
	char payload[VJ_MAX_PAYLOAD]; /* the request being handled */
} Init;

static int image_fd(size_t i)
{
	return VJ_FD_IMAGE0 + (int)i;
}

/* Image index order is outer before inner: a stacked image's parent has a lower index. */
static unsigned thaw_all(const Init *in)
{
	unsigned thawed = 0;

	for (size_t i = 0; i < in->n_images; i++)
		if (ioctl(image_fd(i), FITHAW, 0) == 0)
			thawed++;
	return thawed;
}

static void record_exit(Init *in, pid_t pid, int status)
{
	for (size_t i = 0; i < in->n_children; i++)
		if (in->children[i].pid == pid) {
			in->children[i].exited = true;
			in->children[i].status = status;
			return;
		}
	/* Not ours (a daemon's orphan): reaped and forgotten. */
}

static void reap(Init *in)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		record_exit(in, pid, status);
	}
}

static void unmount_images(const Init *in)
{
	/* Inner (stacked) first: their loop devices pin files on the outer ones. */
	for (size_t i = in->n_images; i-- > 0;) {
		char dir[32];

		(void)snprintf(dir, sizeof(dir), "/mnt/img%zu", i);
		if (umount2(dir, 0) < 0)
			(void)umount2(dir, MNT_DETACH);
	}
}

static _noreturn_ void shutdown_jail(Init *in, bool reply)
{
	uint64_t until = vj_now_usec() + REAP_TIMEOUT_USEC;
	VjHeader h;

	/* Processes blocked on a frozen image cannot die before the thaw: kill, then thaw. */
	(void)kill(-1, SIGKILL);
	(void)thaw_all(in);
	while (vj_now_usec() < until) {
		reap(in);
		if (kill(-1, 0) < 0 && errno == ESRCH)
			break;
		(void)usleep(10000);
	}
	(void)thaw_all(in);
	for (size_t i = 0; i < in->n_images; i++)
		close(image_fd(i));
	unmount_images(in);

	if (reply) {
		h = (VjHeader){ .type = VJ_REPLY, .result = 0 };
		(void)vj_send(VJ_FD_CTL, &h, NULL, NULL, 0);
	}
	_exit(0);
}

static int parse_strings(const char *p, size_t len, size_t count, char **out, size_t *used)
{
	size_t off = *used;

	for (size_t i = 0; i < count; i++) {
		const char *end = memchr(p + off, 0, len - off);

		if (!end)
			return -EBADMSG;
		out[i] = (char *)(p + off);
		off = (size_t)(end - p) + 1;
	}
	out[count] = NULL;
	*used = off;
	return 0;
}

/* In the child: a clean process for the daemon, then exec; errno goes back on errfd. */
static _noreturn_ void spawn_child(char **argv, char **envp, int out_fd, int errfd)
{
	sigset_t none;
	int null_fd, keep[1] = { errfd }, e;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)setsid();
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd >= 0 ? out_fd : null_fd, 1) < 0 ||
	    dup2(out_fd >= 0 ? out_fd : null_fd, 2) < 0) {
		e = errno;
		goto fail;
	}
	vj_close_all_but(keep, 1);
	if (chdir("/") < 0) {
		e = errno;
		goto fail;
	}
	execve(argv[0], argv, envp);
	e = errno;
fail:
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

static void handle_spawn(Init *in, const char *payload, size_t len, int out_fd)
{
	char *argv[MAX_ARGS + 1], *envp[MAX_ARGS + 1];
	VjHeader h = { .type = VJ_REPLY };
	uint32_t argc, envc;
	size_t used = 2 * sizeof(uint32_t);
	int pipefd[2], e = 0, pidfd = -EBADF;
	ssize_t n;
	pid_t pid;

	if (len < used) {
		h.result = -EBADMSG;
		goto reply;
	}
	memcpy(&argc, payload, sizeof(argc));
	memcpy(&envc, payload + sizeof(argc), sizeof(envc));
	if (argc == 0 || argc > MAX_ARGS || envc > MAX_ARGS ||
	    parse_strings(payload, len, argc, argv, &used) < 0 ||
	    parse_strings(payload, len, envc, envp, &used) < 0 || argv[0][0] != '/') {
		h.result = -EINVAL;
		goto reply;
	}
	if (in->n_children == MAX_CHILDREN) {
		h.result = -EMFILE;
		goto reply;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		h.result = negative_errno();
		goto reply;
	}
	pid = fork();
	if (pid < 0) {
		h.result = negative_errno();
		close(pipefd[0]);
		close(pipefd[1]);
		goto reply;
	}
	if (pid == 0)
		spawn_child(argv, envp, out_fd, pipefd[1]);
	close(pipefd[1]);
	do
		n = read(pipefd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	in->children[in->n_children++] = (Child){ .pid = pid };
	if (n > 0) {
		/* exec failed: the child exits at once. */
		h.result = -(e ?: EIO);
		goto reply;
	}
	pidfd = vj_pidfd_open(pid);
	if (pidfd < 0) {
		h.result = pidfd;
		goto reply;
	}
	h.result = 0;
	h.arg = pid;
reply:
	(void)vj_send(VJ_FD_CTL, &h, NULL, pidfd >= 0 ? &pidfd : NULL, pidfd >= 0 ? 1 : 0);
	safe_close(pidfd);
}

static int handle_status(Init *in, pid_t pid, int *ret_status)
{
	for (size_t i = 0; i < in->n_children; i++) {
		Child *c = &in->children[i];
		int status;
		pid_t r;

		if (c->pid != pid)
			continue;
		if (c->exited) {
			*ret_status = c->status;
			return 1;
		}
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			c->exited = true;
			c->status = status;
			*ret_status = status;
			return 1;
		}
		return 0;
	}
	return -ECHILD;
}

static bool below_mnt(const char *path)
{
	return strncmp(path, "/mnt/", 5) == 0 && path[5] && !strstr(path, "/../") &&
	       !strstr(path, "/./") && strcmp(path + strlen(path) - 3, "/..") != 0;
}

static bool is_image_root(const Init *in, const char *path)
{
	for (size_t i = 0; i < in->n_images; i++) {
		char dir[32];

		(void)snprintf(dir, sizeof(dir), "/mnt/img%zu", i);
		if (strcmp(path, dir) == 0)
			return true;
	}
	return false;
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return negative_errno();
			*p = '/';
		}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

static int handle_mount(Init *in, const char *payload, size_t len, unsigned long flags)
{
	char *s[5];
	size_t used = 0;
	struct stat st;
	bool ok = false;
	int r;

	if (parse_strings(payload, len, 4, s, &used) < 0)
		return -EBADMSG;
	const char *source = s[0], *target = s[1], *fstype = s[2], *data = s[3];

	if (!below_mnt(target) || is_image_root(in, target))
		return -EPERM;
	if (flags & MS_BIND) {
		/* Another path to an image (or to a mount below /mnt), nothing else. */
		ok = below_mnt(source) && (flags & ~(unsigned long)(MS_BIND | MS_RDONLY)) == 0;
	} else if (strcmp(fstype, "tmpfs") == 0) {
		ok = (flags & ~(unsigned long)(MS_RDONLY | MS_NOSUID | MS_NODEV)) == 0;
	} else if (strcmp(fstype, "ext4") == 0 || strcmp(fstype, "xfs") == 0 ||
		   strcmp(fstype, "btrfs") == 0) {
		if (stat(source, &st) == 0 && S_ISBLK(st.st_mode))
			for (size_t i = 0; i < in->n_images; i++)
				if (in->allowed[i] == st.st_rdev)
					ok = true;
		ok = ok && (flags & ~(unsigned long)(MS_RDONLY | MS_NOSUID | MS_NODEV)) == 0;
	}
	if (!ok)
		return -EPERM;

	r = mkdir_p(target);
	if (r < 0)
		return r;
	if (flags & MS_BIND) {
		if (mount(source, target, NULL, MS_BIND, NULL) < 0)
			return negative_errno();
		if ((flags & MS_RDONLY) &&
		    mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
			r = negative_errno();
			(void)umount2(target, MNT_DETACH);
			return r;
		}
		return 0;
	}
	if (mount(source, target, fstype, flags, data[0] ? data : NULL) < 0)
		return negative_errno();
	return 0;
}

static int handle_umount(Init *in, const char *payload, size_t len)
{
	char *s[2];
	size_t used = 0;

	if (parse_strings(payload, len, 1, s, &used) < 0)
		return -EBADMSG;
	if (!below_mnt(s[0]) || is_image_root(in, s[0]))
		return -EPERM;
	if (umount2(s[0], 0) < 0)
		return negative_errno();
	return 0;
}

/* Returns false when the test process is gone (EOF): time to shut down. */
static bool handle_request(Init *in)
{
	char *payload = in->payload;
	VjHeader h, reply = { .type = VJ_REPLY };
	int fds[1], status = 0;
	size_t n_fds = 0;
	int r;

	r = vj_recv(VJ_FD_CTL, &h, payload, sizeof(in->payload), fds, 1, &n_fds, 0);
	if (r == -ETIMEDOUT || r == -EAGAIN)
		return true;
	if (r == -ECONNRESET || r == -ECONNREFUSED || r == -EPIPE)
		return false;
	if (r < 0) {
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		reply.result = r;
		(void)vj_send(VJ_FD_CTL, &reply, NULL, NULL, 0);
		return true;
	}

	switch ((VjType)h.type) {
	case VJ_REQ_SPAWN:
		handle_spawn(in, payload, h.len, n_fds > 0 ? fds[0] : -1);
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		return true;
	case VJ_REQ_STATUS:
		reply.result = handle_status(in, (pid_t)h.arg, &status);
		reply.arg = status;
		break;
	case VJ_REQ_MOUNT:
		reply.result = handle_mount(in, payload, h.len, (unsigned long)(unsigned)h.arg);
		break;
	case VJ_REQ_UMOUNT:
		reply.result = handle_umount(in, payload, h.len);
		break;
	case VJ_REQ_THAW:
		reply.result = (int)thaw_all(in);
		break;
	case VJ_REQ_SHUTDOWN:
		shutdown_jail(in, true);
	case VJ_MSG_SETUP:
	case VJ_MSG_READY:
	case VJ_REPLY:
		reply.result = -EBADMSG;
		break;
	default:
		reply.result = -EOPNOTSUPP;
		break;
	}
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	(void)vj_send(VJ_FD_CTL, &reply, NULL, NULL, 0);
	return true;
}

static void drain_syslog(Init *in)
{
	char buf[2048];

	for (;;) {
		ssize_t n = recv(in->syslog_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n <= 0)
			return;
		buf[n++] = '\n';
		(void)!write(VJ_FD_LOG, buf, (size_t)n);
	}
}

static int open_syslog(Init *in)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

	in->syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (in->syslog_fd < 0)
		return negative_errno();
	(void)unlink(sa.sun_path);
	if (bind(in->syslog_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, 0666) < 0)
		return negative_errno();
	return 0;
}

static int parse_allowed(Init *in, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	size_t n = 0;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned maj, min;

		if (n == VJ_MAX_IMAGES || sscanf(t, "%u:%u", &maj, &min) != 2) {
			free(copy);
			return -EINVAL;
		}
		in->allowed[n++] = makedev(maj, min);
	}
	free(copy);
	return n == in->n_images ? 0 : -EINVAL;
}

static int setup(Init *in, int argc, char **argv)
{
	sigset_t mask;
	int r;

	if (argc != 5)
		return -EINVAL;
	in->n_images = strtoul(argv[1], NULL, 10);
	if (in->n_images == 0 || in->n_images > VJ_MAX_IMAGES)
		return -EINVAL;
	in->deadline = vj_now_usec() + strtoull(argv[2], NULL, 10) * 1000000u;
	r = parse_allowed(in, argv[4]);
	if (r < 0)
		return r;

	/* As PID 1 we only get signals we handle: take them all through a signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return negative_errno();
	in->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (in->sigfd < 0)
		return negative_errno();
	/* The nanny outside exits when the test process does (or dies itself): shut down. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);

	if (strcmp(argv[3], "1") == 0) {
		r = open_syslog(in);
		if (r < 0)
			return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	Init in = { .sigfd = -EBADF, .syslog_fd = -EBADF };
	VjHeader h = { .type = VJ_MSG_READY };
	int pidfd, r;

	r = setup(&in, argc, argv);
	if (r < 0) {
		h.result = r;
		(void)vj_send(VJ_FD_CTL, &h, NULL, NULL, 0);
		/* Keep going only with valid image descriptors: thaw what we can. */
		if (in.n_images > 0 && in.n_images <= VJ_MAX_IMAGES)
			shutdown_jail(&in, false);
		return 1;
	}
	pidfd = vj_pidfd_open(getpid());
	h.result = pidfd < 0 ? pidfd : 0;
	(void)vj_send(VJ_FD_CTL, &h, NULL, pidfd >= 0 ? &pidfd : NULL, pidfd >= 0 ? 1 : 0);
	if (pidfd < 0)
		shutdown_jail(&in, false);
	close(pidfd);

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = VJ_FD_CTL, .events = POLLIN },
			{ .fd = in.sigfd, .events = POLLIN },
			{ .fd = in.syslog_fd, .events = POLLIN },
		};
		uint64_t now = vj_now_usec();
		int k;

		if (now >= in.deadline)
			shutdown_jail(&in, false);
		k = poll(p, ELEMENTSOF(p), (int)MIN((in.deadline - now) / 1000 + 1, 60000u));
		if (k < 0 && errno != EINTR)
			shutdown_jail(&in, false);
		if (k <= 0)
			continue;
		/* The test process hung up: thaw, no matter what. */
		if (p[0].revents & POLLIN) {
			if (!handle_request(&in))
				shutdown_jail(&in, false);
		} else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			shutdown_jail(&in, false);
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			while (read(in.sigfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGCHLD)
					shutdown_jail(&in, false);
			reap(&in);
		}
		if (p[2].revents)
			drain_syslog(&in);
	}
}
