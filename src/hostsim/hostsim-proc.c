/* SPDX-License-Identifier: MIT */
/*
 * Process control for the simulated guest: spawning daemons and commands, signals and
 * bounded waits (see hostsim-proc.h and the daemon functions of hostsim.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "hostsim/hostsim-internal.h"
#include "hostsim/hostsim-proc.h"
#include "hostsim/hostsim.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define STOP_TIMEOUT_USEC (5 * UINT64_C(1000000))
#define RELEASE_TIMEOUT_USEC UINT64_C(1000000)
#define CAPTURE_MAX (1024 * 1024)

extern char **environ;

struct HostSimDaemon {
	HostSim *sim;
	HsProc proc;
	char *log_path;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int find_executable(const char *name, char *buf, size_t size)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		if (snprintf(buf, size, "%s", name) >= (int)size)
			return -ENAMETOOLONG;
		return 0;
	}

	if (!path || !*path)
		path = DEFAULT_PATH;
	while (*path) {
		size_t len = strcspn(path, ":");
		int n = snprintf(buf, size, "%.*s/%s", (int)len, path, name);

		if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0)
			return 0;
		path += len;
		if (*path == ':')
			path++;
	}
	return -ENOENT;
}

/* extra_env first (it wins: getenv returns the first match), then ours minus overridden keys. */
static char **build_env(char *const extra_env[])
{
	size_t n_extra = 0, n_env = 0, k = 0;
	char **env;

	while (extra_env && extra_env[n_extra])
		n_extra++;
	while (environ && environ[n_env])
		n_env++;

	env = calloc(n_extra + n_env + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n_extra; i++)
		env[k++] = extra_env[i];
	for (size_t i = 0; i < n_env; i++) {
		size_t klen = strcspn(environ[i], "=");
		bool overridden = false;

		for (size_t j = 0; j < n_extra && !overridden; j++)
			overridden = strncmp(extra_env[j], environ[i], klen) == 0 &&
				     extra_env[j][klen] == '=';
		if (!overridden)
			env[k++] = environ[i];
	}
	return env;
}

/* Runs in the forked child of a possibly multi-threaded parent: async-signal-safe calls only. */
static _noreturn_ void child(const char *path, char *const argv[], char **env, int null_fd,
			     int out_fd, int err_pipe, pid_t parent, const int *keep, size_t n_keep)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;
	int e;

	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	(void)setsid();
	/* Never outlive the simulator (nor leak into the machine after it died). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);

	if (dup2(null_fd, STDIN_FILENO) < 0)
		goto fail;
	if (out_fd >= 0 && (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0))
		goto fail;
	/* Everything else closes on exec, including err_pipe (which then reads as EOF). */
	(void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	/* ...except what the caller hands down by number (e.g. the uio channel's ends). */
	for (size_t i = 0; i < n_keep; i++)
		if (fcntl(keep[i], F_SETFD, 0) < 0)
			goto fail;

	execve(path, argv, env);
fail:
	e = errno;
	(void)!write(err_pipe, &e, sizeof(e));
	_exit(127);
}

int hs_proc_spawn_keep(char *const argv[], char *const extra_env[], int out_fd, const int *keep,
		       size_t n_keep, HsProc *ret)
{
	_cleanup_close_ int null_fd = -EBADF, pipe_r = -EBADF, pipe_w = -EBADF;
	_cleanup_free_ char **env = NULL;
	char path[PATH_MAX];
	int pipefd[2], child_errno = 0;
	pid_t parent = getpid(), pid;
	ssize_t n;
	int r;

	if (!argv || !argv[0] || (n_keep > 0 && !keep))
		return -EINVAL;
	for (size_t i = 0; i < n_keep; i++)
		if (keep[i] <= STDERR_FILENO)
			return -EINVAL;

	r = find_executable(argv[0], path, sizeof(path));
	if (r < 0)
		return r;
	env = build_env(extra_env);
	if (!env)
		return -ENOMEM;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		return negative_errno();
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	pipe_r = pipefd[0];
	pipe_w = pipefd[1];

	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0)
		child(path, argv, env, null_fd, out_fd, pipe_w, parent, keep, n_keep);

	pipe_w = safe_close(pipe_w);
	do
		n = read(pipe_r, &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);

	*ret = (HsProc){ .pid = pid, .pidfd = -EBADF };
	ret->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (ret->pidfd < 0)
		ret->pidfd = -EBADF;

	if (n == (ssize_t)sizeof(child_errno)) {
		/* exec failed: the child is exiting with 127; reap it. */
		(void)hs_proc_wait(ret, HS_PROC_INFINITY, NULL);
		hs_proc_done(ret);
		return -child_errno;
	}
	return 0;
}

int hs_proc_spawn(char *const argv[], char *const extra_env[], int out_fd, HsProc *ret)
{
	return hs_proc_spawn_keep(argv, extra_env, out_fd, NULL, 0, ret);
}

static int try_reap(HsProc *p)
{
	int status;
	pid_t r = waitpid(p->pid, &status, WNOHANG);

	if (r < 0)
		return negative_errno();
	if (r == 0)
		return 0;
	p->reaped = true;
	p->status = status;
	return 1;
}

int hs_proc_wait(HsProc *p, uint64_t timeout_usec, int *ret_status)
{
	uint64_t deadline =
		timeout_usec == HS_PROC_INFINITY ? HS_PROC_INFINITY : now_usec() + timeout_usec;

	for (;;) {
		uint64_t now;
		int r, ms;

		if (!p->reaped) {
			r = try_reap(p);
			if (r < 0)
				return r;
		}
		if (p->reaped) {
			if (ret_status)
				*ret_status = p->status;
			return 0;
		}

		now = now_usec();
		if (now >= deadline)
			return -ETIMEDOUT;
		ms = deadline == HS_PROC_INFINITY
			     ? -1
			     : (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT_MAX);

		if (p->pidfd >= 0) {
			struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

			if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
				return negative_errno();
		} else {
			/* No pidfd (old kernel): poll waitpid in short sleeps. */
			struct timespec ts = { .tv_nsec = 1000000 };

			(void)nanosleep(&ts, NULL);
		}
	}
}

int hs_proc_kill(HsProc *p, int sig)
{
	if (p->reaped)
		return -ESRCH;
	return kill(p->pid, sig) < 0 ? negative_errno() : 0;
}

void hs_proc_done(HsProc *p)
{
	p->pidfd = safe_close(p->pidfd);
}

int hostsim_daemon_spawn(HostSim *sim, char *const argv[], char *const extra_env[],
			 HostSimDaemon **ret)
{
	_cleanup_close_ int log_fd = -EBADF;
	HostSimDaemon *d;
	const char *base;
	char path[PATH_MAX];
	int keep[HOSTSIM_INHERITED_FDS_MAX];
	size_t n_keep;
	int n, r;

	if (!sim || !argv || !argv[0] || !ret)
		return -EINVAL;

	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	n = snprintf(path, sizeof(path), "%s/%s.log", hostsim_scratch_dir(sim), base);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;

	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log_fd < 0)
		return negative_errno();

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->sim = sim;
	d->log_path = strdup(path);
	if (!d->log_path) {
		free(d);
		return -ENOMEM;
	}

	n_keep = hostsim_inherited_fds(sim, keep, ELEMENTSOF(keep));
	r = hs_proc_spawn_keep(argv, extra_env, log_fd, keep, n_keep, &d->proc);
	if (r < 0) {
		free(d->log_path);
		free(d);
		return r;
	}

	hostsim_track_daemon(sim, d);
	*ret = d;
	return 0;
}

pid_t hostsim_daemon_pid(HostSimDaemon *d)
{
	return d->proc.pid;
}

const char *hostsim_daemon_log_path(HostSimDaemon *d)
{
	return d->log_path;
}

int hostsim_daemon_wait(HostSimDaemon *d, uint64_t timeout_usec, int *ret_status)
{
	return hs_proc_wait(&d->proc, timeout_usec, ret_status);
}

int hostsim_daemon_signal(HostSimDaemon *d, int sig)
{
	int status, r;

	r = hs_proc_kill(&d->proc, sig);
	if (r < 0)
		return r;
	if (sig != SIGTERM && sig != SIGKILL)
		return 0;

	/* A stopped process only acts on SIGTERM once continued. */
	(void)hs_proc_kill(&d->proc, SIGCONT);
	r = hs_proc_wait(&d->proc, STOP_TIMEOUT_USEC, &status);
	if (r < 0)
		return r;
	hostsim_wait_released(d->sim, d->proc.pid, RELEASE_TIMEOUT_USEC);
	return status;
}

int hostsim_daemon_stop(HostSimDaemon *d)
{
	int status = 0, r;

	if (!d)
		return -EINVAL;

	if (!d->proc.reaped) {
		(void)hs_proc_kill(&d->proc, SIGTERM);
		(void)hs_proc_kill(&d->proc, SIGCONT);
		r = hs_proc_wait(&d->proc, STOP_TIMEOUT_USEC, &status);
		if (r == -ETIMEDOUT) {
			(void)hs_proc_kill(&d->proc, SIGKILL);
			r = hs_proc_wait(&d->proc, STOP_TIMEOUT_USEC, &status);
		}
	} else {
		r = 0;
		status = d->proc.status;
	}
	if (r == 0)
		hostsim_wait_released(d->sim, d->proc.pid, RELEASE_TIMEOUT_USEC);

	hostsim_untrack_daemon(d->sim, d);
	hs_proc_done(&d->proc);
	free(d->log_path);
	free(d);
	return r < 0 ? r : status;
}

static int run_wait(HsProc *p, uint64_t timeout_usec, int *ret_status)
{
	int r = hs_proc_wait(p, timeout_usec, ret_status);

	if (r == -ETIMEDOUT) {
		(void)hs_proc_kill(p, SIGKILL);
		(void)hs_proc_wait(p, HS_PROC_INFINITY, NULL);
	}
	hs_proc_done(p);
	return r;
}

int hostsim_run(HostSim *sim, char *const argv[], uint64_t timeout_usec, int *ret_status)
{
	HsProc p;
	int r;

	if (!sim)
		return -EINVAL;
	r = hs_proc_spawn(argv, NULL, -1, &p);
	if (r < 0)
		return r;
	return run_wait(&p, timeout_usec, ret_status);
}

/* Reads what is available without blocking; returns false at EOF or error. */
static bool drain(int fd, char *buf, size_t *len)
{
	for (;;) {
		char tmp[4096];
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			return false;
		/* Keep the first CAPTURE_MAX bytes, drop the rest. */
		if (*len < CAPTURE_MAX) {
			size_t k = MIN((size_t)n, (size_t)CAPTURE_MAX - *len);

			memcpy(buf + *len, tmp, k);
			*len += k;
		}
	}
}

int hostsim_run_capture(HostSim *sim, char *const argv[], uint64_t timeout_usec, int *ret_status,
			char **ret_output)
{
	_cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	uint64_t deadline =
		timeout_usec == HS_PROC_INFINITY ? HS_PROC_INFINITY : now_usec() + timeout_usec;
	uint64_t now;
	size_t len = 0;
	int fds[2], r;
	HsProc p;

	if (!sim || !ret_output)
		return -EINVAL;
	buf = malloc(CAPTURE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return negative_errno();
	rfd = fds[0];
	wfd = fds[1];

	r = hs_proc_spawn(argv, NULL, wfd, &p);
	if (r < 0)
		return r;
	wfd = safe_close(wfd);

	/* Until EOF, or until the child exited and the pipe is drained (grandchildren may hold it).
	 */
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = rfd, .events = POLLIN },
			{ .fd = p.pidfd, .events = POLLIN },
		};
		int ms;

		now = now_usec();
		if (now >= deadline)
			break;
		ms = deadline == HS_PROC_INFINITY ? 100
						  : (int)MIN((deadline - now + 999) / 1000, 100u);
		if (poll(pfd, p.pidfd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR)
			break;
		if (!drain(rfd, buf, &len))
			break;
		if (p.pidfd >= 0 ? (pfd[1].revents & POLLIN) != 0 : false) {
			(void)drain(rfd, buf, &len);
			break;
		}
	}

	buf[len] = '\0';
	now = now_usec();
	r = run_wait(&p,
		     deadline == HS_PROC_INFINITY ? HS_PROC_INFINITY
						  : (deadline > now ? deadline - now : 0),
		     ret_status);
	if (r < 0)
		return r;
	*ret_output = TAKE_PTR(buf);
	return 0;
}
