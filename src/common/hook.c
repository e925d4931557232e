/* SPDX-License-Identifier: MIT */
/*
 * posix_spawn by argv with a deadline, bounded output capture and a scrubbed environment.
 * Non-logging: errors are returned.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/hook.h"

#define HOOK_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define HOOK_LANG "LANG=C.UTF-8"

/* Without a pidfd we look at the child this often (ms) while its pipes stay quiet. */
#define HOOK_FALLBACK_TICK_MSEC 10
/* Reads per wakeup and pipe, so a child writing without pause cannot starve the deadline. */
#define HOOK_READS_PER_WAKEUP 16
#define HOOK_READ_CHUNK 4096

/* One captured stream: our read end (non-blocking) and what was kept of it. */
typedef struct Sink {
	int fd; /* -EBADF after EOF */
	char *buf;
	size_t size;  /* kept bytes */
	size_t alloc; /* allocated bytes, NUL included */
	size_t max;   /* keep at most this many */
	bool truncated;
} Sink;

static uint64_t now_usec(void)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int sink_keep(Sink *s, const char *data, size_t n)
{
	size_t room = s->max - s->size;

	if (n > room) {
		s->truncated = true;
		n = room;
	}
	if (n == 0)
		return 0;
	if (s->size + n + 1 > s->alloc) {
		size_t want = MAX(s->alloc * 2, s->size + n + 1);
		char *p;

		want = MIN(want, s->max + 1);
		p = realloc(s->buf, want);
		if (!p)
			return -ENOMEM;
		s->buf = p;
		s->alloc = want;
	}
	memcpy(s->buf + s->size, data, n);
	s->size += n;
	s->buf[s->size] = '\0';
	return 0;
}

/*
 * Reads what the pipe holds now (a bounded number of chunks). EOF or a read error closes
 * our end: either way nothing more will come.
 */
static int sink_drain(Sink *s)
{
	char chunk[HOOK_READ_CHUNK];

	for (unsigned i = 0; s->fd >= 0 && i < HOOK_READS_PER_WAKEUP; i++) {
		ssize_t n = read(s->fd, chunk, sizeof(chunk));
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			s->fd = safe_close(s->fd);
			return 0;
		}
		if (n == 0) {
			s->fd = safe_close(s->fd);
			return 0;
		}
		r = sink_keep(s, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
	return 0;
}

static void sink_done(Sink *s)
{
	s->fd = safe_close(s->fd);
	free(s->buf);
	s->buf = NULL;
}

/*
 * Keeps pipe ends off 0..2: if the daemon ever runs with a standard descriptor closed, a
 * pipe end there would be clobbered by the child's own stdio set-up before its dup2.
 */
static int fd_above_stdio(int fd)
{
	int nfd;

	if (fd > STDERR_FILENO)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (nfd < 0) {
		int r = negative_errno();

		safe_close(fd);
		return r;
	}
	safe_close(fd);
	return nfd;
}

/* pipe2(O_CLOEXEC), both ends above stdio, our read end non-blocking. */
static int make_pipe(int p[2])
{
	int r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return negative_errno();
	p[0] = fd_above_stdio(p[0]);
	p[1] = fd_above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		r = p[0] < 0 ? p[0] : p[1];
		p[0] = safe_close(p[0]);
		p[1] = safe_close(p[1]);
		return r;
	}
	/* Only our end: O_NONBLOCK is per open file description and the child's end differs. */
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		r = negative_errno();
		p[0] = safe_close(p[0]);
		p[1] = safe_close(p[1]);
		return r;
	}
	return 0;
}

static bool env_overrides(const char *const extra_env[], const char *name_eq)
{
	size_t len = strlen(name_eq);

	for (size_t i = 0; extra_env && extra_env[i]; i++)
		if (strncmp(extra_env[i], name_eq, len) == 0)
			return true;
	return false;
}

/* envp must have room for 2 + HOOK_EXTRA_ENV_MAX + 1 pointers. */
static int build_env(const char *const extra_env[], const char **envp)
{
	size_t n = 0, i;

	for (i = 0; extra_env && extra_env[i]; i++) {
		if (i >= HOOK_EXTRA_ENV_MAX)
			return -EINVAL;
		if (extra_env[i][0] == '=' || !strchr(extra_env[i], '='))
			return -EINVAL;
	}
	if (!env_overrides(extra_env, "PATH="))
		envp[n++] = HOOK_PATH;
	if (!env_overrides(extra_env, "LANG="))
		envp[n++] = HOOK_LANG;
	for (i = 0; extra_env && extra_env[i]; i++)
		envp[n++] = extra_env[i];
	envp[n] = NULL;
	return 0;
}

static int spawn_child(const char *const argv[], const char *const envp[], int out_w, int err_w,
		       pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r;

	r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	r = posix_spawnattr_init(&attr);
	if (r != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -r;
	}

	sigemptyset(&none);
	sigfillset(&all);
	r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
	if (r == 0)
		r = posix_spawn_file_actions_addchdir_np(&fa, "/");
	/*
	 * The worker thread may block signals the daemon handles on its loop thread, and the
	 * daemon may ignore some (SIGPIPE): the child starts with neither. Its own process
	 * group lets one kill(-pid) reach whatever it started.
	 */
	if (r == 0)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
							    POSIX_SPAWN_SETPGROUP);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (r == 0)
		r = posix_spawnattr_setpgroup(&attr, 0);
	if (r == 0)
		/* posix_spawn's prototype predates const; it does not write to either array. */
		r = posix_spawn(ret_pid, argv[0], &fa, &attr, (char *const *)argv,
				(char *const *)envp);

	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

static int pidfd_open_child(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd >= 0 ? fd : negative_errno();
#else
	return -ENOSYS;
#endif
}

/*
 * True once the child has ended. WNOWAIT leaves it a zombie: its pid, which is also its
 * process group id, cannot be reused before we reap it, so kill(-pid) stays safe.
 */
static bool child_ended(pid_t pid)
{
	siginfo_t si = { 0 };

	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD; /* someone else reaped it: treat as ended */
	return si.si_pid == pid;
}

static void reap(pid_t pid, HookResult *res)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return; /* ECHILD: reaped elsewhere, status unknown */
	}
	if (WIFEXITED(status)) {
		res->exited = true;
		res->exit_status = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status))
		res->term_signal = WTERMSIG(status);
}

/*
 * Polls the pipes (and the pidfd) until the child ended and both pipes hit EOF, or the
 * deadline, or (drain_usec > 0) drain_usec after the child ended.
 */
static int wait_child(pid_t pid, int pidfd, Sink *sinks, uint64_t deadline, uint64_t drain_usec,
		      bool *ret_ended)
{
	bool ended = false;
	uint64_t limit = deadline;

	for (;;) {
		struct pollfd pfd[3];
		nfds_t n = 0;
		uint64_t now;
		int timeout_ms, r;

		if (!ended && pidfd < 0)
			ended = child_ended(pid);
		if (ended && sinks[0].fd < 0 && sinks[1].fd < 0)
			break;
		now = now_usec();
		if (ended && drain_usec > 0 && limit == deadline)
			/* First pass since it ended: stop reading a little later at most. */
			limit = MIN(deadline, now + drain_usec);
		if (now >= limit)
			break;

		for (unsigned i = 0; i < 2; i++)
			if (sinks[i].fd >= 0)
				pfd[n++] = (struct pollfd){ .fd = sinks[i].fd, .events = POLLIN };
		if (!ended && pidfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };

		/* Round up so that we do not wake a little early and spin until the limit. */
		timeout_ms = (int)MIN((limit - now + 999u) / 1000u, (uint64_t)INT32_MAX);
		if (!ended && pidfd < 0)
			timeout_ms = MIN(timeout_ms, HOOK_FALLBACK_TICK_MSEC);

		r = poll(pfd, n, timeout_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		for (nfds_t i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == pidfd) {
				ended = child_ended(pid);
				continue;
			}
			for (unsigned j = 0; j < 2; j++)
				if (sinks[j].fd == pfd[i].fd) {
					r = sink_drain(&sinks[j]);
					if (r < 0)
						return r;
				}
		}
	}
	*ret_ended = ended;
	return 0;
}

/*
 * How an ended, not yet reaped child ended, leaving it a zombie (keep_group: the zombie
 * pins the process group id until hook_groups_end() reaps it).
 */
static void peek_status(pid_t pid, HookResult *res)
{
	siginfo_t si = { 0 };

	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0) {
		if (errno != EINTR)
			return;
	}
	if (si.si_code == CLD_EXITED) {
		res->exited = true;
		res->exit_status = si.si_status;
	} else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
		res->term_signal = si.si_status;
}

void hook_result_done(HookResult *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static int sink_take(Sink *s, char **ret, size_t *ret_size)
{
	if (!s->buf) {
		s->buf = strdup("");
		if (!s->buf)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(s->buf);
	*ret_size = s->size;
	return 0;
}

int hook_run_opts(const char *const argv[], const char *const extra_env[], const HookOptions *opts,
		  HookResult *ret, HookGroup *ret_group)
{
	const char *envp[2 + HOOK_EXTRA_ENV_MAX + 1];
	int out_pipe[2] = { -EBADF, -EBADF }, err_pipe[2] = { -EBADF, -EBADF };
	Sink sinks[2] = {
		{ .fd = -EBADF, .max = HOOK_STDOUT_MAX },
		{ .fd = -EBADF, .max = HOOK_STDERR_MAX },
	};
	_cleanup_close_ int pidfd = -EBADF;
	HookResult res = { 0 };
	uint64_t deadline;
	bool ended = false, kept = false;
	pid_t pid;
	int r;

	if (!argv || !argv[0] || argv[0][0] != '/' || !ret || !opts || opts->timeout_usec == 0)
		return -EINVAL;
	if (opts->keep_group && !ret_group)
		return -EINVAL;
	r = build_env(extra_env, envp);
	if (r < 0)
		return r;

	r = make_pipe(out_pipe);
	if (r < 0)
		return r;
	r = make_pipe(err_pipe);
	if (r < 0) {
		safe_close(out_pipe[0]);
		safe_close(out_pipe[1]);
		return r;
	}
	sinks[0].fd = out_pipe[0];
	sinks[1].fd = err_pipe[0];

	deadline = now_usec() + opts->timeout_usec;
	r = spawn_child(argv, envp, out_pipe[1], err_pipe[1], &pid);
	/* Our copies of the write ends must go, or EOF never comes. */
	safe_close(out_pipe[1]);
	safe_close(err_pipe[1]);
	if (r < 0) {
		sink_done(&sinks[0]);
		sink_done(&sinks[1]);
		return r;
	}

	pidfd = pidfd_open_child(pid);
	r = wait_child(pid, pidfd, sinks, deadline, opts->drain_usec, &ended);

	if (ended && r >= 0) {
		res.pipes_held = sinks[0].fd >= 0 || sinks[1].fd >= 0;
		/* Whatever arrived since the last wakeup. */
		for (unsigned i = 0; i < 2 && r >= 0; i++)
			if (sinks[i].fd >= 0)
				r = sink_drain(&sinks[i]);
	}
	if (!ended || r < 0) {
		res.timed_out = !ended && r >= 0;
		(void)kill(-pid, SIGKILL);
		reap(pid, &res);
	} else if (opts->keep_group) {
		peek_status(pid, &res);
		kept = true;
	} else {
		if (res.pipes_held)
			/* The child is gone but something it started holds our pipes: end that. */
			(void)kill(-pid, SIGKILL);
		reap(pid, &res);
	}

	if (r >= 0 && !ended) {
		/* Whatever arrived before the kill. */
		for (unsigned i = 0; i < 2 && r >= 0; i++)
			if (sinks[i].fd >= 0)
				r = sink_drain(&sinks[i]);
	}
	if (r >= 0)
		r = sink_take(&sinks[0], &res.out, &res.out_size);
	if (r >= 0)
		r = sink_take(&sinks[1], &res.err, &res.err_size);
	res.out_truncated = sinks[0].truncated;
	res.err_truncated = sinks[1].truncated;
	if (r < 0) {
		if (kept) {
			(void)kill(-pid, SIGKILL);
			reap(pid, &res);
		}
		sink_done(&sinks[0]);
		sink_done(&sinks[1]);
		hook_result_done(&res);
		return r;
	}
	if (ret_group) {
		*ret_group = HOOK_GROUP_INIT;
		if (kept) {
			ret_group->pgid = pid;
			ret_group->fds[0] = TAKE_FD(sinks[0].fd);
			ret_group->fds[1] = TAKE_FD(sinks[1].fd);
		}
	}
	sink_done(&sinks[0]);
	sink_done(&sinks[1]);
	*ret = res;
	return 0;
}

int hook_run(const char *const argv[], const char *const extra_env[], uint64_t timeout_usec,
	     HookResult *ret)
{
	HookOptions opts = { .timeout_usec = timeout_usec };

	return hook_run_opts(argv, extra_env, &opts, ret, NULL);
}

/*
 * Process group and state of /proc/PID/stat: "pid (comm) S ppid pgrp ...". comm may hold
 * spaces and parentheses but is at most 15 bytes; no later field holds a ')', so the last
 * one in the first 256 bytes closes comm.
 */
static int read_stat_pgrp(int proc_fd, const char *pid, pid_t *ret_pgrp, char *ret_state)
{
	char path[64], buf[256];
	_cleanup_close_ int fd = -EBADF;
	long ppid, pgrp;
	char *p;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/stat", pid) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %ld %ld", ret_state, &ppid, &pgrp) != 3)
		return -EBADMSG;
	*ret_pgrp = (pid_t)pgrp;
	return 0;
}

/*
 * Counts the live members (not zombies or dead) of each kept group into counts[]. A process
 * that vanished while we looked is simply not counted.
 */
static int count_members(const HookGroup groups[], size_t n, uint32_t counts[])
{
	struct dirent *de;
	DIR *d;

	/* An empty directory where procfs should be mounted would count nothing, wrongly. */
	if (access("/proc/self/stat", F_OK) < 0)
		return negative_errno();
	d = opendir("/proc");
	if (!d)
		return negative_errno();
	for (size_t i = 0; i < n; i++)
		counts[i] = 0;
	while ((de = readdir(d))) {
		pid_t pgrp;
		char state;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (read_stat_pgrp(dirfd(d), de->d_name, &pgrp, &state) < 0)
			continue;
		if (state == 'Z' || state == 'X' || state == 'x')
			continue;
		for (size_t i = 0; i < n; i++)
			if (groups[i].pgid > 0 && groups[i].pgid == pgrp)
				counts[i]++;
	}
	closedir(d);
	return 0;
}

/* Signals every group still counted (all kept groups if counts is NULL). */
static void signal_groups(const HookGroup groups[], size_t n, const uint32_t *counts, int sig)
{
	for (size_t i = 0; i < n; i++)
		if (groups[i].pgid > 0 && (!counts || counts[i] > 0))
			(void)kill(-groups[i].pgid, sig);
}

/*
 * Waits up to wait_usec for every kept group to lose its live members, rescanning every
 * HOOK_GROUP_SCAN_MSEC. counts[] holds what is left. Returns -errno if /proc went away.
 */
#define HOOK_GROUP_SCAN_MSEC 10
static int wait_groups_empty(const HookGroup groups[], size_t n, uint64_t wait_usec,
			     uint32_t counts[])
{
	uint64_t end = now_usec() + wait_usec;

	for (;;) {
		bool any = false;
		int r;

		r = count_members(groups, n, counts);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++)
			any = any || counts[i] > 0;
		if (!any || now_usec() >= end)
			return 0;
		(void)poll(NULL, 0, HOOK_GROUP_SCAN_MSEC);
	}
}

static void sleep_usec(uint64_t usec)
{
	struct timespec ts = { .tv_sec = (time_t)(usec / 1000000u),
			       .tv_nsec = (long)(usec % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int hook_groups_end(HookGroup groups[], size_t n, uint64_t grace_usec, HookGroupEnd ret_end[])
{
	_cleanup_free_ uint32_t *counts = NULL;
	bool counted;

	if (n > 0 && !groups)
		return -EINVAL;
	if (n == 0)
		return 0;
	counts = calloc(n, sizeof(*counts));
	/* Without memory (or /proc) we still end them, only blind. */
	counted = counts && count_members(groups, n, counts) >= 0;
	if (ret_end)
		for (size_t i = 0; i < n; i++)
			ret_end[i] = (HookGroupEnd){
				.alive = counted ? counts[i] : HOOK_GROUP_UNCOUNTED,
				.killed = counted ? 0 : HOOK_GROUP_UNCOUNTED,
			};

	if (counted) {
		signal_groups(groups, n, counts, SIGTERM);
		counted = wait_groups_empty(groups, n, grace_usec, counts) >= 0;
	} else {
		signal_groups(groups, n, NULL, SIGTERM);
		sleep_usec(grace_usec);
	}
	if (counted) {
		if (ret_end)
			for (size_t i = 0; i < n; i++)
				ret_end[i].killed = counts[i];
		signal_groups(groups, n, counts, SIGKILL);
		(void)wait_groups_empty(groups, n, HOOK_KILL_WAIT_USEC, counts);
	} else {
		if (ret_end)
			for (size_t i = 0; i < n; i++)
				ret_end[i].killed = HOOK_GROUP_UNCOUNTED;
		signal_groups(groups, n, NULL, SIGKILL);
	}

	for (size_t i = 0; i < n; i++) {
		HookResult ignored = { 0 };

		if (groups[i].pgid <= 0)
			continue;
		reap(groups[i].pgid, &ignored);
		safe_close(groups[i].fds[0]);
		safe_close(groups[i].fds[1]);
		groups[i] = HOOK_GROUP_INIT;
	}
	return 0;
}
