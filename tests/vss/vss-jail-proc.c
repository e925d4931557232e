/* SPDX-License-Identifier: MIT */
/*
 * Processes inside a vss-jail, the harness's own freeze and probes, and writers that show
 * a freeze blocking writes (see vss-jail.h). Test-process side; every wait is bounded.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "vss-jail-internal.h"
#include "vss-jail-private.h"
#include "vss-jail.h"

#define PROBE_TIMEOUT_USEC (5u * 1000000u)
#define STOP_TIMEOUT_USEC (5u * 1000000u)
#define JAIL_PATH_ENV "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

struct VssJailProc {
	pid_t pid, jail_pid;
	int pidfd;
};

struct VssJailWriter {
	pid_t pid;
	int pidfd, go_fd, done_fd;
	uint64_t go_usec;
};

/* Before our own FIFREEZE: the jail's view passes the gate and fd i is what we think it is. */
static int gate_for_harness_freeze(VssJail *j, size_t i)
{
	VssGatePlan plan;
	struct stat st;
	int r;

	if (i >= j->n_images)
		return -EINVAL;
	r = vss_jail_gate(j, j->init_pid, &plan, NULL, 0);
	if (r < 0)
		return r;
	if (fstat(j->img_fd[i], &st) < 0)
		return negative_errno();
	if (st.st_dev != j->mnt_dev[i] || st.st_dev == j->root.st_dev ||
	    st.st_dev == j->root.mnt_dev)
		return -EPERM;
	return 0;
}

/* ---- Processes ---- */

/* Nothing handed to a jailed process may pin a freezable filesystem. */
static int check_out_fd(int fd)
{
	struct statfs sf;
	struct stat st;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode) || fstatfs(fd, &sf) < 0 || (unsigned long)sf.f_type != TMPFS_MAGIC)
		return -EPERM;
	return 0;
}

int vss_jail_spawn(VssJail *j, char *const argv[], char *const envp[], int out_fd,
		   VssJailProc **ret)
{
	static char *const default_env[] = { (char *)JAIL_PATH_ENV, NULL };
	_cleanup_free_ char *p = malloc(VJ_MAX_PAYLOAD);
	_cleanup_free_ VssJailProc *proc = NULL;
	char *const *env = envp ?: default_env;
	uint32_t argc = 0, envc = 0;
	size_t used = 2 * sizeof(uint32_t);
	VjHeader reply;
	int pidfd = -EBADF, r;

	if (!p)
		return -ENOMEM;
	if (!argv || !argv[0] || argv[0][0] != '/')
		return -EINVAL;
	r = check_out_fd(out_fd);
	if (r < 0)
		return r;
	for (; argv[argc]; argc++) {
		r = vj_append_string(p, VJ_MAX_PAYLOAD, &used, argv[argc]);
		if (r < 0)
			return r;
	}
	for (; env[envc]; envc++) {
		r = vj_append_string(p, VJ_MAX_PAYLOAD, &used, env[envc]);
		if (r < 0)
			return r;
	}
	memcpy(p, &argc, sizeof(argc));
	memcpy(p + sizeof(argc), &envc, sizeof(envc));

	r = vj_jail_request(j, VJ_REQ_SPAWN, 0, p, used, out_fd, &reply, &pidfd);
	if (r < 0)
		return r;
	if (reply.result < 0) {
		safe_close(pidfd);
		return reply.result;
	}
	if (pidfd < 0)
		return -EBADMSG;

	proc = calloc(1, sizeof(*proc));
	if (!proc) {
		safe_close(pidfd);
		return -ENOMEM;
	}
	proc->pidfd = pidfd;
	proc->jail_pid = reply.arg;
	if (vj_pidfd_pid(pidfd, &proc->pid) < 0)
		proc->pid = -1; /* already gone; the wait still works */
	*ret = TAKE_PTR(proc);
	return 0;
}

pid_t vss_jail_proc_pid(const VssJailProc *p)
{
	return p->pid;
}

int vss_jail_proc_signal(VssJailProc *p, int sig)
{
	return vj_pidfd_send_signal(p->pidfd, sig);
}

int vss_jail_proc_wait(VssJail *j, VssJailProc *p, uint64_t timeout_usec, int *ret_status)
{
	uint64_t until;
	int r;

	r = vj_pidfd_wait(p->pidfd, timeout_usec);
	if (r < 0)
		return r;
	/* Exited; the init reaps it on SIGCHLD or when asked. */
	until = vj_now_usec() + 1000000u;
	for (;;) {
		VjHeader reply;

		r = vj_jail_request(j, VJ_REQ_STATUS, p->jail_pid, NULL, 0, -EBADF, &reply, NULL);
		if (r < 0)
			return r;
		if (reply.result < 0)
			return reply.result;
		if (reply.result == 1) {
			if (ret_status)
				*ret_status = reply.arg;
			return 0;
		}
		if (vj_now_usec() > until)
			return -ETIMEDOUT;
		(void)usleep(2000);
	}
}

VssJailProc *vss_jail_proc_free(VssJailProc *p)
{
	if (!p)
		return NULL;
	safe_close(p->pidfd);
	free(p);
	return NULL;
}

int vss_jail_proc_stop(VssJail *j, VssJailProc *p)
{
	int status = 0, r;

	(void)vss_jail_proc_signal(p, SIGTERM);
	r = vss_jail_proc_wait(j, p, STOP_TIMEOUT_USEC, &status);
	if (r == -ETIMEDOUT) {
		(void)vss_jail_proc_signal(p, SIGKILL);
		r = vss_jail_proc_wait(j, p, STOP_TIMEOUT_USEC, &status);
	}
	vss_jail_proc_free(p);
	return r < 0 ? r : status;
}

/* ---- Probes ---- */

/*
 * ioctl(cmd) on image i in a child, so that a freeze stuck behind a frozen outer image
 * blocks the child, not us. thaw_if_ok: undo a successful FIFREEZE at once (the probe).
 * Returns 0 and the ioctl's errno (0 = success) in *ret_errno, or -ETIMEDOUT (the child is
 * kept as a stray and reaped at vss_jail_free()).
 */
static int ioctl_in_child(VssJail *j, size_t i, unsigned long cmd, bool thaw_if_ok, int *ret_errno)
{
	_cleanup_close_ int rd = -EBADF;
	struct pollfd pfd;
	int pipefd[2], e = 0, k;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	rd = pipefd[0];
	pid = fork();
	if (pid < 0) {
		safe_close(pipefd[1]);
		return negative_errno();
	}
	if (pid == 0) {
		int keep[2] = { j->img_fd[i], pipefd[1] };

		/* Not even the control socket: the init must see EOF if the test dies. */
		vj_close_all_but(keep, 2);
		e = ioctl(j->img_fd[i], cmd, 0) < 0 ? errno : 0;
		if (e == 0 && thaw_if_ok)
			(void)ioctl(j->img_fd[i], FITHAW, 0);
		(void)!write(pipefd[1], &e, sizeof(e));
		_exit(0);
	}
	safe_close(pipefd[1]);

	pfd = (struct pollfd){ .fd = rd, .events = POLLIN };
	do
		k = poll(&pfd, 1, PROBE_TIMEOUT_USEC / 1000);
	while (k < 0 && errno == EINTR);
	if (k <= 0 || read(rd, &e, sizeof(e)) != sizeof(e)) {
		if (j->n_strays < VJ_MAX_STRAYS)
			j->strays[j->n_strays++] = pid;
		return k < 0 ? -EIO : -ETIMEDOUT;
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	*ret_errno = e;
	return 0;
}

int vss_jail_probe(VssJail *j, size_t i, bool *ret_frozen)
{
	int e, r;

	r = gate_for_harness_freeze(j, i);
	if (r < 0)
		return r;
	r = ioctl_in_child(j, i, FIFREEZE, true, &e);
	if (r < 0)
		return r;
	if (e == EBUSY) {
		*ret_frozen = true;
		return 0;
	}
	if (e == 0) {
		*ret_frozen = false; /* we froze it ourselves, and thawed it at once */
		return 0;
	}
	return -e;
}

int vss_jail_freeze_image(VssJail *j, size_t i)
{
	int e, r;

	r = gate_for_harness_freeze(j, i);
	if (r < 0)
		return r;
	r = ioctl_in_child(j, i, FIFREEZE, false, &e);
	if (r < 0)
		return r;
	return -e;
}

/* ---- Writers ---- */

static _noreturn_ void writer_main(int fd, int go, int done, const char *buf, size_t bufsize,
				   size_t bytes)
{
	int keep[3] = { fd, go, done }, result = 0;
	char c;

	vj_close_all_but(keep, 3);
	if (read(go, &c, 1) != 1)
		_exit(0); /* the test went away before starting us */
	while (bytes > 0 && result == 0) {
		ssize_t n = write(fd, buf, MIN(bytes, bufsize));

		if (n < 0 && errno != EINTR)
			result = -errno;
		else if (n > 0)
			bytes -= (size_t)n;
	}
	if (result == 0 && fdatasync(fd) < 0)
		result = -errno;
	(void)!write(done, &result, sizeof(result));
	_exit(0);
}

int vss_jail_writer_new(VssJail *j, size_t i, const char *name, size_t bytes, VssJailWriter **ret)
{
	_cleanup_free_ VssJailWriter *w = NULL;
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	int go[2], done[2];
	const size_t bufsize = 65536;

	if (i >= j->n_images || !name || strchr(name, '/'))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	buf = malloc(bufsize);
	if (!w || !buf)
		return -ENOMEM;
	memset(buf, 'w', bufsize);
	fd = openat(j->img_fd[i], name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0644);
	if (fd < 0)
		return negative_errno();
	if (pipe2(go, O_CLOEXEC) < 0)
		return negative_errno();
	if (pipe2(done, O_CLOEXEC) < 0) {
		safe_close(go[0]);
		safe_close(go[1]);
		return negative_errno();
	}
	w->pid = fork();
	if (w->pid < 0) {
		int r = negative_errno();

		safe_close(go[0]);
		safe_close(go[1]);
		safe_close(done[0]);
		safe_close(done[1]);
		return r;
	}
	if (w->pid == 0)
		writer_main(fd, go[0], done[1], buf, bufsize, bytes);
	safe_close(go[0]);
	safe_close(done[1]);
	w->go_fd = go[1];
	w->done_fd = done[0];
	w->pidfd = vj_pidfd_open(w->pid);
	*ret = TAKE_PTR(w);
	return 0;
}

int vss_jail_writer_go(VssJailWriter *w)
{
	char c = 'g';

	w->go_usec = vj_now_usec();
	return write(w->go_fd, &c, 1) == 1 ? 0 : negative_errno();
}

int vss_jail_writer_wait(VssJailWriter *w, uint64_t timeout_usec, uint64_t *ret_usec)
{
	struct pollfd pfd = { .fd = w->done_fd, .events = POLLIN };
	int result, k;

	do
		k = poll(&pfd, 1, (int)MIN(timeout_usec / 1000, (uint64_t)INT32_MAX));
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return negative_errno();
	if (k == 0)
		return -ETIMEDOUT;
	if (read(w->done_fd, &result, sizeof(result)) != sizeof(result))
		return -EIO;
	if (ret_usec)
		*ret_usec = vj_now_usec() - w->go_usec;
	return result;
}

VssJailWriter *vss_jail_writer_free(VssJailWriter *w)
{
	if (!w)
		return NULL;
	safe_close(w->go_fd);
	safe_close(w->done_fd);
	(void)kill(w->pid, SIGKILL);
	/* Blocked on a frozen image it only dies after the thaw: bounded wait, then leave it. */
	if (w->pidfd >= 0 && vj_pidfd_wait(w->pidfd, STOP_TIMEOUT_USEC) == 0)
		(void)waitpid(w->pid, NULL, 0);
	safe_close(w->pidfd);
	free(w);
	return NULL;
}
