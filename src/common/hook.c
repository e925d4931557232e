/* SPDX-License-Identifier: MIT */
/*
 * posix_spawn by argv with a deadline, bounded output capture and a scrubbed environment.
 * Non-logging: errors are returned.
 */
#include <errno.h>
#include <fcntl.h>
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

/* Polls the pipes (and the pidfd) until the child ended and both pipes hit EOF, or deadline. */
static int wait_child(pid_t pid, int pidfd, Sink *sinks, uint64_t deadline, bool *ret_ended)
{
	bool ended = false;

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
		if (now >= deadline)
			break;

		for (unsigned i = 0; i < 2; i++)
			if (sinks[i].fd >= 0)
				pfd[n++] = (struct pollfd){ .fd = sinks[i].fd, .events = POLLIN };
		if (!ended && pidfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };

		/* Round up so that we do not wake a little early and spin until the deadline. */
		timeout_ms = (int)MIN((deadline - now + 999u) / 1000u, (uint64_t)INT32_MAX);
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

int hook_run(const char *const argv[], const char *const extra_env[], uint64_t timeout_usec,
	     HookResult *ret)
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
	bool ended = false;
	pid_t pid;
	int r;

	if (!argv || !argv[0] || argv[0][0] != '/' || !ret || timeout_usec == 0)
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

	deadline = now_usec() + timeout_usec;
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
	r = wait_child(pid, pidfd, sinks, deadline, &ended);

	if (!ended || r < 0) {
		res.timed_out = !ended && r >= 0;
		(void)kill(-pid, SIGKILL);
	} else if (sinks[0].fd >= 0 || sinks[1].fd >= 0)
		/* The child is gone but something it started holds our pipes: end that too. */
		(void)kill(-pid, SIGKILL);
	reap(pid, &res);

	if (r >= 0) {
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
	sink_done(&sinks[0]);
	sink_done(&sinks[1]);
	if (r < 0) {
		hook_result_done(&res);
		return r;
	}
	*ret = res;
	return 0;
}
