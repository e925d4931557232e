/* SPDX-License-Identifier: MIT */
/*
 * Control protocol transport, pidfd helpers, bounded process runs and file copies below a
 * root descriptor (see vss-jail-internal.h). Used both by the test process and, inside the
 * jail, by the init: no logging, no globals.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "vss-jail-internal.h"

#define RUN_OUTPUT_MAX (1024u * 1024u)
#define MAX_SEND_FDS 4u

int vj_send(int sock, const VjHeader *h, const void *payload, const int *fds, size_t n_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MAX_SEND_FDS)];
	} control;
	struct iovec iov[2] = {
		{ .iov_base = (void *)h, .iov_len = sizeof(*h) },
		{ .iov_base = (void *)payload, .iov_len = h->len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = h->len > 0 ? 2 : 1 };
	ssize_t n;

	if (n_fds > MAX_SEND_FDS || h->len > VJ_MAX_PAYLOAD)
		return -EINVAL;
	if (n_fds > 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	return (size_t)n == sizeof(*h) + h->len ? 0 : -EIO;
}

int vj_recv(int sock, VjHeader *h, void *payload, size_t size, int *fds, size_t max_fds,
	    size_t *ret_n_fds, int timeout_ms)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MAX_SEND_FDS)];
	} control;
	struct iovec iov[2] = {
		{ .iov_base = h, .iov_len = sizeof(*h) },
		{ .iov_base = payload, .iov_len = size },
	};
	struct msghdr mh = {
		.msg_iov = iov,
		.msg_iovlen = 2,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	size_t n_fds = 0;
	ssize_t n;
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return negative_errno();
	if (r == 0)
		return -ETIMEDOUT;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n_fds < max_fds)
				fds[n_fds++] = fd;
			else
				safe_close(fd);
		}
	}
	if (ret_n_fds)
		*ret_n_fds = n_fds;
	else
		for (size_t i = 0; i < n_fds; i++)
			safe_close(fds[i]);

	if (n == 0)
		return -ECONNRESET;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	if ((size_t)n < sizeof(*h) || h->len != (size_t)n - sizeof(*h))
		return -EBADMSG;
	return 0;
}

int vj_pidfd_open(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? negative_errno() : fd;
}

int vj_pidfd_send_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? negative_errno() : 0;
}

int vj_pidfd_pid(int pidfd, pid_t *ret)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -EBADF;
	const char *p;
	ssize_t n;
	long v;

	(void)snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = 0;
	p = strstr(buf, "\nPid:");
	if (!p)
		return -EBADMSG;
	v = strtol(p + 5, NULL, 10);
	if (v <= 0)
		return -ESRCH; /* -1: exited; 0: not visible in our pid namespace */
	*ret = (pid_t)v;
	return 0;
}

uint64_t vj_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int poll_timeout_ms(uint64_t deadline)
{
	uint64_t now = vj_now_usec();

	if (deadline == UINT64_MAX)
		return -1;
	if (now >= deadline)
		return 0;
	return (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT32_MAX);
}

int vj_pidfd_wait(int pidfd, uint64_t timeout_usec)
{
	uint64_t deadline = timeout_usec == UINT64_MAX ? UINT64_MAX : vj_now_usec() + timeout_usec;
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	for (;;) {
		int r = poll(&pfd, 1, poll_timeout_ms(deadline));

		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return negative_errno();
	}
}

int vj_find_tool(const char *name, char *buf, size_t size)
{
	static const char *const dirs[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
					    "/usr/bin",	       "/sbin",		 "/bin" };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		int n = snprintf(buf, size, "%s/%s", dirs[i], name);

		if (n < 0 || (size_t)n >= size)
			return -ENAMETOOLONG;
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

void vj_close_all_but(const int *keep, size_t n_keep)
{
	unsigned next = 3;

	/* keep is tiny: find the lowest kept fd >= next, close the gap below it, repeat. */
	for (;;) {
		unsigned low = ~0U;

		for (size_t i = 0; i < n_keep; i++)
			if (keep[i] >= 0 && (unsigned)keep[i] >= next && (unsigned)keep[i] < low)
				low = (unsigned)keep[i];
		if (low == ~0U) {
			(void)syscall(SYS_close_range, next, ~0U, 0);
			return;
		}
		if (low > next)
			(void)syscall(SYS_close_range, next, low - 1, 0);
		next = low + 1;
	}
}

/* In the child: stdin on /dev/null, stdout+stderr on out (or /dev/null), then exec. */
static _noreturn_ void run_child(char *const argv[], int out)
{
	extern char **environ;
	sigset_t none;
	int null_fd;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
	    dup2(out >= 0 ? out : null_fd, STDOUT_FILENO) < 0 ||
	    dup2(out >= 0 ? out : null_fd, STDERR_FILENO) < 0)
		_exit(126);
	vj_close_all_but(NULL, 0);
	execve(argv[0], argv, environ);
	_exit(127);
}

int vj_run(char *const argv[], uint64_t timeout_usec, int *ret_status, char **ret_out)
{
	uint64_t deadline = vj_now_usec() + timeout_usec;
	_cleanup_close_ int rd = -EBADF, pidfd = -EBADF;
	_cleanup_free_ char *out = NULL;
	size_t used = 0, alloc = 0;
	int pipefd[2] = { -EBADF, -EBADF };
	bool eof = !ret_out;
	pid_t pid;
	int status, r = 0;

	if (!argv[0] || argv[0][0] != '/')
		return -EINVAL;
	if (ret_out) {
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			return negative_errno();
		rd = pipefd[0];
	}

	pid = fork();
	if (pid < 0) {
		r = negative_errno();
		safe_close(pipefd[1]);
		return r;
	}
	if (pid == 0)
		run_child(argv, pipefd[1]);
	safe_close(pipefd[1]);

	pidfd = vj_pidfd_open(pid);
	if (pidfd < 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return pidfd;
	}

	for (bool exited = false; !(exited && eof);) {
		struct pollfd pfd[2] = {
			{ .fd = pidfd, .events = exited ? 0 : POLLIN },
			{ .fd = eof ? -1 : rd, .events = POLLIN },
		};
		int k = poll(pfd, 2, poll_timeout_ms(deadline));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k < 0 ? negative_errno() : -ETIMEDOUT;
			break;
		}
		if (pfd[0].revents)
			exited = true;
		if (pfd[1].revents) {
			char buf[4096];
			ssize_t n = read(rd, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				eof = true;
				continue;
			}
			if (used + (size_t)n + 1 > alloc &&
			    used + (size_t)n + 1 <= RUN_OUTPUT_MAX) {
				size_t want = MAX(alloc * 2, used + (size_t)n + 1);
				char *p = realloc(out, MIN(want, (size_t)RUN_OUTPUT_MAX));

				if (!p) {
					r = -ENOMEM;
					break;
				}
				out = p;
				alloc = MIN(want, (size_t)RUN_OUTPUT_MAX);
			}
			if (used + (size_t)n + 1 <= alloc) {
				memcpy(out + used, buf, (size_t)n);
				used += (size_t)n;
			}
		}
	}

	if (r < 0)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return r < 0 ? r : negative_errno();
	if (r < 0)
		return r;

	if (ret_out) {
		if (!out) {
			out = strdup("");
			if (!out)
				return -ENOMEM;
		} else {
			out[used] = 0;
		}
		*ret_out = TAKE_PTR(out);
	}
	if (ret_status)
		*ret_status = status;
	return 0;
}

int vj_open_at(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

	return fd < 0 ? negative_errno() : fd;
}

int vj_mkdir_p_at(int rootfd, const char *path, mode_t mode)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int cur = -EBADF;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return negative_errno();

	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next;

		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0)
			return -EINVAL;
		if (mkdirat(cur, c, mode) < 0 && errno != EEXIST)
			return negative_errno();
		/* O_NOFOLLOW: a symlink planted in the jail cannot redirect us outside. */
		next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return negative_errno();
		safe_close(cur);
		cur = next;
	}
	return 0;
}

static int mkdir_parent_at(int rootfd, const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	return vj_mkdir_p_at(rootfd, dir, 0755);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vj_write_file_at(int rootfd, const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = mkdir_parent_at(rootfd, path);
	if (r < 0)
		return r;
	fd = vj_open_at(rootfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
	if (fd < 0)
		return fd;
	r = write_all(fd, data, len);
	if (r < 0)
		return r;
	return fchmod(fd, mode) < 0 ? negative_errno() : 0;
}

int vj_copy_file_at(int rootfd, const char *host_path, const char *path, mode_t mode)
{
	_cleanup_close_ int src = -EBADF, dst = -EBADF;
	char buf[65536];
	int r;

	src = open(host_path, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return negative_errno();
	r = mkdir_parent_at(rootfd, path);
	if (r < 0)
		return r;
	dst = vj_open_at(rootfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
	if (dst < 0)
		return dst;
	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		r = write_all(dst, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	return fchmod(dst, mode) < 0 ? negative_errno() : 0;
}

/*
 * One line of ldd output -> the path to copy, or NULL. Forms: "\tlibc.so.6 => /lib/.../libc.so.6
 * (0x...)", "\t/lib64/ld-linux-x86-64.so.2 (0x...)", "\tlinux-vdso.so.1 (0x...)" (no file),
 * "\tlibfoo.so => not found". Modifies line.
 */
static int ldd_line_path(char *line, char **ret)
{
	char *p = line, *arrow, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	arrow = strstr(p, "=> ");
	if (arrow) {
		p = arrow + 3;
		if (strncmp(p, "not found", 9) == 0)
			return -ENOENT;
	}
	if (*p != '/') {
		*ret = NULL;
		return 0;
	}
	end = strstr(p, " (");
	if (end)
		*end = 0;
	*ret = p;
	return 0;
}

int vj_install_exec_at(int rootfd, const char *host_path)
{
	_cleanup_free_ char *out = NULL;
	char ldd[256], *save = NULL;
	int status, r;

	if (host_path[0] != '/')
		return -EINVAL;
	r = vj_copy_file_at(rootfd, host_path, host_path, 0755);
	if (r < 0)
		return r;

	r = vj_find_tool("ldd", ldd, sizeof(ldd));
	if (r < 0)
		return r;
	r = vj_run((char *const[]){ ldd, (char *)host_path, NULL }, 30u * 1000000u, &status, &out);
	if (r < 0)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		/* Static executables: "not a dynamic executable", nothing else to copy. */
		return strstr(out, "not a dynamic executable") ? 0 : -ENOEXEC;

	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *path;

		r = ldd_line_path(line, &path);
		if (r < 0)
			return r;
		if (!path)
			continue;
		/* The ELF interpreter is opened by the kernel and needs the exec bit. */
		r = vj_copy_file_at(rootfd, path, path, 0755);
		if (r < 0)
			return r;
	}
	return 0;
}
