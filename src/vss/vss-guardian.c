/* SPDX-License-Identifier: MIT */
/*
 * Guardian process and /run marker: see vss-guardian.h for the design.
 *
 * The guardian child runs right after fork() of a multi-threaded daemon, so it may only use
 * async-signal-safe calls: close_range, sigaction, prctl, mlockall, clock_gettime, poll, read,
 * the injected thaw function and _exit. Its exit status tells the daemon what happened
 * (GUARDIAN_EXIT_BASE + VssGuardianOutcome).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "vss/vss-guardian.h"

#define GUARDIAN_EXIT_BASE 100
#define GUARDIAN_DONE_BYTE 'D'
#define GUARDIAN_IGNORED_SIGNALS SIGTERM, SIGINT, SIGHUP, SIGPIPE
/* A marker lists at most VSS_FREEZE_MAX_TARGETS paths of at most PATH_MAX, escaped. */
#define MARKER_MAX_SIZE (4u * 1024u * 1024u)
#define MARKER_TMP_PREFIX ".#vss-marker"

const char *vss_guardian_outcome_to_string(VssGuardianOutcome o)
{
	switch (o) {
	case VSS_GUARDIAN_DONE:
		return "done";
	case VSS_GUARDIAN_ORPHANED:
		return "orphaned";
	case VSS_GUARDIAN_DEADLINE:
		return "deadline";
	case _VSS_GUARDIAN_OUTCOME_MAX:
	case _VSS_GUARDIAN_OUTCOME_INVALID:
		break;
	}
	return NULL;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Closes [lo, hi]; close_range() where available, else one by one up to the fd limit. */
static void close_fd_range(unsigned lo, unsigned hi)
{
	long max;

	if (close_range(lo, hi, 0) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max <= 0 || max > 65536)
		max = 65536;
	for (unsigned long fd = lo; fd <= hi && fd < (unsigned long)max; fd++)
		(void)close((int)fd);
}

/* Closes every descriptor above stderr except sock and keep_fds, without allocating. */
static void close_other_fds(const VssGuardianConfig *c, int sock)
{
	unsigned lo = 3;

	for (;;) {
		unsigned next = UINT_MAX;

		/* The smallest kept descriptor >= lo. */
		for (size_t i = 0; i <= c->n_keep_fds; i++) {
			int fd = i < c->n_keep_fds ? c->keep_fds[i] : sock;

			if (fd >= 0 && (unsigned)fd >= lo && (unsigned)fd < next)
				next = (unsigned)fd;
		}
		if (next == UINT_MAX) {
			close_fd_range(lo, UINT_MAX);
			return;
		}
		if (next > lo)
			close_fd_range(lo, next - 1);
		lo = next + 1;
	}
}

/* Waits for "done", EOF or the deadline (CLOCK_MONOTONIC µs, 0 = none). */
static VssGuardianOutcome guardian_wait(int sock, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int timeout = -1;
		ssize_t n;
		char b;

		if (deadline > 0) {
			uint64_t now = now_usec();

			if (now >= deadline)
				return VSS_GUARDIAN_DEADLINE;
			/* Round up so that we never wake just before the deadline and spin. */
			timeout = (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT_MAX);
		}
		if (poll(&p, 1, timeout) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* Cannot watch the daemon any more: thawing early beats never thawing. */
			return VSS_GUARDIAN_ORPHANED;
		}
		if (p.revents == 0)
			continue;
		n = read(sock, &b, 1);
		if (n == 1 && b == GUARDIAN_DONE_BYTE)
			return VSS_GUARDIAN_DONE;
		if (n == 1 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
			continue;
		/* EOF or a reset: the daemon is gone. */
		return VSS_GUARDIAN_ORPHANED;
	}
}

_noreturn_ static void guardian_main(const VssGuardianConfig *c, int sock, uint64_t start,
				     const sigset_t *saved_mask)
{
	static const int ignored[] = { GUARDIAN_IGNORED_SIGNALS };
	struct sigaction sa = { .sa_handler = SIG_IGN };
	VssGuardianOutcome o;

	/*
	 * Service stop sends SIGTERM to the whole cgroup: outlive the daemon to do our job. The
	 * parent blocked these around fork(), so none can kill us before they are ignored.
	 */
	for (size_t i = 0; i < ELEMENTSOF(ignored); i++)
		(void)sigaction(ignored[i], &sa, NULL);
	(void)sigprocmask(SIG_SETMASK, saved_mask, NULL);
	close_other_fds(c, sock);
	(void)prctl(PR_SET_NAME, "vss-guardian", 0, 0, 0);
	if (c->lock_memory)
		(void)mlockall(MCL_CURRENT | MCL_FUTURE);
	vss_freeze_prefault_stack();

	o = guardian_wait(sock, c->deadline_usec > 0 ? start + c->deadline_usec : 0);
	if (o != VSS_GUARDIAN_DONE)
		c->thaw(c->userdata);
	_exit(GUARDIAN_EXIT_BASE + (int)o);
}

int vss_guardian_start(const VssGuardianConfig *config, VssGuardian *ret)
{
	static const int ignored[] = { GUARDIAN_IGNORED_SIGNALS };
	uint64_t start = now_usec();
	sigset_t block, saved;
	int sv[2], r;
	pid_t pid;

	if (!config || !config->thaw || !ret || (config->n_keep_fds > 0 && !config->keep_fds))
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();

	sigemptyset(&block);
	for (size_t i = 0; i < ELEMENTSOF(ignored); i++)
		sigaddset(&block, ignored[i]);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	pid = fork();
	if (pid == 0) {
		(void)close(sv[0]);
		guardian_main(config, sv[1], start, &saved);
	}
	r = pid < 0 ? negative_errno() : 0;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (r < 0) {
		safe_close(sv[0]);
		safe_close(sv[1]);
		return r;
	}
	safe_close(sv[1]);
	*ret = (VssGuardian){ .pid = pid, .fd = sv[0] };
	return 0;
}

int vss_guardian_stop(VssGuardian *g)
{
	pid_t pid = g->pid, w;
	int status, code;

	if (g->fd >= 0) {
		const char b = GUARDIAN_DONE_BYTE;

		/* May fail with EPIPE if the backstop already fired; the exit status tells. */
		(void)send(g->fd, &b, 1, MSG_NOSIGNAL);
		g->fd = safe_close(g->fd);
	}
	*g = VSS_GUARDIAN_NULL;
	if (pid <= 0)
		return -ECHILD;

	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return negative_errno();
	if (!WIFEXITED(status))
		return -EPROTO;
	code = WEXITSTATUS(status) - GUARDIAN_EXIT_BASE;
	if (code < 0 || code >= _VSS_GUARDIAN_OUTCOME_MAX)
		return -EPROTO;
	return code;
}

/* Appends s to out, escaping like mountinfo; out has room for 4 bytes per input byte. */
static size_t escape_path(const char *s, char *out)
{
	size_t k = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '\\') {
			out[k++] = '\\';
			out[k++] = (char)('0' + ((*p >> 6) & 7));
			out[k++] = (char)('0' + ((*p >> 3) & 7));
			out[k++] = (char)('0' + (*p & 7));
		} else {
			out[k++] = (char)*p;
		}
	}
	return k;
}

/* Unescapes in place; -EBADMSG for a broken escape or an escaped NUL. */
static int unescape_path(char *s)
{
	char *w = s;

	for (const char *p = s; *p; p++) {
		if (*p != '\\') {
			*w++ = *p;
			continue;
		}
		if (p[1] < '0' || p[1] > '3' || p[2] < '0' || p[2] > '7' || p[3] < '0' ||
		    p[3] > '7')
			return -EBADMSG;
		*w = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
		if (*w == 0)
			return -EBADMSG;
		w++;
		p += 3;
	}
	*w = 0;
	return 0;
}

/* Builds the marker text; targets in thaw order (highest level first, stable). */
static int marker_format(pid_t pid, const VssTarget *targets, size_t n, char **ret, size_t *ret_len)
{
	_cleanup_free_ size_t *order = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t size = 256, len;
	int k;

	order = malloc((n ? n : 1) * sizeof(size_t));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		if (!targets[i].path || !targets[i].path[0])
			return -EINVAL;
		while (j > 0 && targets[order[j - 1]].level < targets[i].level) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
		/* "thaw " + 10 digits + ' ' + escaped path + '\n' */
		size += 17 + 4 * strlen(targets[i].path);
	}
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	k = snprintf(buf, size,
		     "# hvguest VSS: filesystems frozen by pid %d; thaw if it is gone\n"
		     "pid %d\n",
		     (int)pid, (int)pid);
	if (k < 0 || (size_t)k >= size)
		return -ENOBUFS;
	len = (size_t)k;
	for (size_t j = 0; j < n; j++) {
		const VssTarget *t = &targets[order[j]];

		k = snprintf(buf + len, size - len, "thaw %u ", t->level);
		if (k < 0 || (size_t)k >= size - len)
			return -ENOBUFS;
		len += (size_t)k;
		len += escape_path(t->path, buf + len);
		buf[len++] = '\n';
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int vss_marker_write(const char *path, pid_t pid, const VssTarget *targets, size_t n_targets)
{
	_cleanup_free_ char *dir = NULL, *text = NULL;
	_cleanup_close_ int dfd = -EBADF;
	const char *slash, *base;
	size_t len;
	int r;

	if (!path || path[0] != '/' || (n_targets > 0 && !targets))
		return -EINVAL;
	slash = strrchr(path, '/');
	base = slash + 1;
	if (!base[0] || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -EINVAL;
	dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;

	r = marker_format(pid, targets, n_targets, &text, &len);
	if (r < 0)
		return r;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	dfd = open_dir(dir);
	if (dfd < 0)
		return dfd;
	return write_file_atomic_at(dfd, base, MARKER_TMP_PREFIX, text, len, 0600);
}

int vss_marker_remove(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}

/* One "thaw <level> <path>" entry: 1 thawed, 0 handled otherwise, < 0 error. */
static int recover_one(const VssFreezerOps *ops, void *userdata, char *path)
{
	int fd, r;

	if (unescape_path(path) < 0)
		return 0; /* corrupt: nothing we could ever do with it */
	fd = ops->open(userdata, path);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0; /* unmounted and gone: nobody can reach it through this path */
	if (fd < 0)
		return fd;
	r = ops->thaw(userdata, fd);
	safe_close(fd);
	if (r == -EINVAL)
		return 0; /* not frozen (any more) */
	return r < 0 ? r : 1;
}

int vss_freeze_recover(const char *marker_path, const VssFreezerOps *ops, void *userdata,
		       pid_t *ret_pid)
{
	_cleanup_free_ char *buf = NULL;
	int thawed = 0, first_error = 0, r;
	pid_t pid = 0;
	size_t size;
	char *line;

	if (!marker_path || !ops || !ops->open || !ops->thaw)
		return -EINVAL;
	r = read_full_file_at(AT_FDCWD, marker_path, MARKER_MAX_SIZE, &buf, &size);
	if (r == -ENOENT) {
		if (ret_pid)
			*ret_pid = 0;
		return 0;
	}
	if (r < 0)
		return r;

	line = buf;
	while (line < buf + size) {
		char *end = memchr(line, '\n', (size_t)(buf + size - line));
		char *next = end ? end + 1 : buf + size;
		unsigned level;
		int off = 0;
		long v;

		if (end)
			*end = 0;
		if (strncmp(line, "pid ", 4) == 0) {
			v = strtol(line + 4, NULL, 10);
			if (v > 0 && v <= INT_MAX)
				pid = (pid_t)v;
		} else if (sscanf(line, "thaw %u %n", &level, &off) == 1 && off > 0 && line[off]) {
			r = recover_one(ops, userdata, line + off);
			if (r > 0)
				thawed++;
			else if (r < 0 && first_error == 0)
				first_error = r;
		}
		line = next;
	}
	if (ret_pid)
		*ret_pid = pid;
	if (first_error < 0)
		return first_error;
	r = vss_marker_remove(marker_path);
	return r < 0 ? r : thawed;
}
