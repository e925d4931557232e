/* SPDX-License-Identifier: MIT */
/*
 * Guardian and frozen-marker against a FAKE freezer. Nothing here ever issues a real
 * FIFREEZE or FITHAW: the fake hands out /dev/null descriptors and keeps its own "kernel"
 * state (frozen or not, per target) in memory shared across fork(), so that a guardian child
 * acts on the same fake kernel as the parent, as it would on the real one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "vss/vss-freeze.h"
#include "vss/vss-guardian.h"

#include "test-vss-freeze-util.h"

/* ---- guardian ----------------------------------------------------------------------------- */

static const VssTarget guarded[] = { { "/inner", 0 }, { "/theirs", 0 }, { "/outer", 1 } };

static VssFreezeSession *guarded_session(Fake *f)
{
	fake_add_targets(f, guarded, ELEMENTSOF(guarded));
	f->frozen[1] = true; /* EBUSY: the guardian must leave it alone too */
	return new_session(f, guarded, ELEMENTSOF(guarded));
}

static int start_guardian(VssFreezeSession *s, uint64_t deadline, VssGuardian *g)
{
	size_t n;
	const int *fds = vss_freeze_session_fds(s, &n);
	const VssGuardianConfig c = {
		.deadline_usec = deadline,
		.thaw = vss_freeze_session_guardian_thaw,
		.userdata = s,
		.keep_fds = fds,
		.n_keep_fds = n,
	};

	return vss_guardian_start(&c, g);
}

/* Waits until the fake kernel has no frozen target of ours (0 and 2). */
static void wait_thawed(Fake *f)
{
	uint64_t until = mono_usec() + 5 * SEC;

	while (__atomic_load_n(&f->frozen[0], __ATOMIC_SEQ_CST) ||
	       __atomic_load_n(&f->frozen[2], __ATOMIC_SEQ_CST)) {
		assert_true(mono_usec() < until);
		sleep_usec(2 * MSEC);
	}
}

/* The guardian's thaws: outer level first, never the one that was not ours. */
static void assert_guardian_thawed(Fake *f, pid_t guardian)
{
	const FakeEvent *outer = NULL, *inner = NULL;

	for (size_t k = 0; k < f->n_events; k++) {
		const FakeEvent *e = &f->events[k];

		if (e->op != OP_THAW || e->pid != guardian)
			continue;
		assert_int_not_equal(e->target, 1);
		if (e->target == 2)
			outer = e;
		if (e->target == 0)
			inner = e;
	}
	assert_non_null(outer);
	assert_non_null(inner);
	assert_int_equal(outer->ret, 0);
	assert_int_equal(inner->ret, 0);
	assert_true(outer->end <= inner->start);
	assert_true(f->frozen[1]);
}

static size_t count_thaws_by(const Fake *f, pid_t pid)
{
	size_t c = 0;

	for (size_t k = 0; k < f->n_events; k++)
		if (f->events[k].op == OP_THAW && f->events[k].pid == pid)
			c++;
	return c;
}

static void test_guardian_done(void **state)
{
	Fake *f = *state;
	VssFreezeSession *s = guarded_session(f);
	VssGuardian g = VSS_GUARDIAN_NULL;
	pid_t gpid;
	int st;

	assert_int_equal(vss_freeze_session_sync(s), 0);
	assert_int_equal(start_guardian(s, 10 * SEC, &g), 0);
	gpid = g.pid;
	assert_true(gpid > 0);
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	/* SIGTERM (service stop hits the whole cgroup) does not make it leave or act. */
	assert_int_equal(kill(gpid, SIGTERM), 0);
	sleep_usec(50 * MSEC);
	assert_int_equal(waitpid(gpid, &st, WNOHANG), 0);
	assert_true(f->frozen[0] && f->frozen[2]);

	assert_int_equal(vss_freeze_session_thaw(s), 0);
	assert_int_equal(vss_guardian_stop(&g), VSS_GUARDIAN_DONE);
	assert_int_equal(g.pid, 0);
	assert_int_equal(g.fd, -EBADF);
	assert_int_equal(count_thaws_by(f, gpid), 0);
	assert_int_equal(vss_guardian_stop(&g), -ECHILD);
	vss_freeze_session_free(s);
}

static void test_guardian_orphaned(void **state)
{
	Fake *f = *state;
	VssFreezeSession *s = guarded_session(f);
	VssGuardian g = VSS_GUARDIAN_NULL;
	const VssFreezeResult *res;
	pid_t gpid;

	assert_int_equal(start_guardian(s, 0, &g), 0);
	gpid = g.pid;
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	/* What the kernel does when the daemon dies: our end of the socketpair closes. */
	g.fd = safe_close(g.fd);
	wait_thawed(f);
	assert_int_equal(vss_guardian_stop(&g), VSS_GUARDIAN_ORPHANED);
	assert_guardian_thawed(f, gpid);

	/* Our own later thaw finds them thawed: EINVAL is fine. */
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	res = vss_freeze_session_result(s);
	assert_int_equal(res->targets[0].state, VSS_TARGET_THAWED_ELSEWHERE);
	assert_int_equal(res->targets[2].state, VSS_TARGET_THAWED_ELSEWHERE);
	vss_freeze_session_free(s);
}

static void test_guardian_deadline(void **state)
{
	Fake *f = *state;
	VssFreezeSession *s = guarded_session(f);
	VssGuardian g = VSS_GUARDIAN_NULL;
	pid_t gpid;

	assert_int_equal(start_guardian(s, 200 * MSEC, &g), 0);
	gpid = g.pid;
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	/* The daemon "hangs": never thaws, never closes. */
	wait_thawed(f);
	assert_guardian_thawed(f, gpid);
	assert_int_equal(vss_guardian_stop(&g), VSS_GUARDIAN_DEADLINE);
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	vss_freeze_session_free(s);
}

static void test_guardian_closes_other_fds(void **state)
{
	Fake *f = *state;
	VssFreezeSession *s = guarded_session(f);
	VssGuardian g = VSS_GUARDIAN_NULL;
	int stray[2], sockets = 0;
	char dir[64];
	size_t n;
	const int *fds = vss_freeze_session_fds(s, &n);
	DIR *d;
	struct dirent *de;

	assert_int_equal(pipe(stray), 0); /* not close-on-exec, not ours to keep */
	assert_int_equal(start_guardian(s, 0, &g), 0);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)g.pid);
	/* Let the child get past its close loop: it only closes, then polls. */
	sleep_usec(50 * MSEC);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool kept = false;
		char link[PATH_MAX], target[PATH_MAX];
		ssize_t len;

		if (de->d_name[0] == '.' || fd <= 2)
			continue;
		for (size_t i = 0; i < n; i++)
			kept = kept || fds[i] == fd;
		if (kept)
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		assert_true(len > 0);
		target[len] = 0;
		/* The only other one is its end of the socketpair. */
		assert_int_equal(strncmp(target, "socket:", 7), 0);
		sockets++;
	}
	closedir(d);
	assert_int_equal(sockets, 1);
	assert_int_equal(vss_guardian_stop(&g), VSS_GUARDIAN_DONE);
	close(stray[0]);
	close(stray[1]);
	vss_freeze_session_free(s);
}

/* The daemon in a child: freeze with a guardian, report the guardian's pid, wait for death. */
_noreturn_ static void run_doomed_daemon(Fake *f, int report)
{
	VssFreezeSession *s = NULL;
	VssGuardian g;

	if (vss_freeze_session_new(&fake_ops, f, guarded, ELEMENTSOF(guarded), &s, NULL) < 0 ||
	    vss_freeze_session_sync(s) < 0 || start_guardian(s, 0, &g) < 0 ||
	    vss_freeze_session_freeze(s, 0) < 0 || write(report, &g.pid, sizeof(g.pid)) < 0)
		_exit(1);
	for (;;)
		pause();
}

static void test_guardian_daemon_sigkilled(void **state)
{
	Fake *f = *state;
	struct pollfd p;
	pid_t daemon, gpid = 0;
	int pfd[2], st;

	fake_add_targets(f, guarded, ELEMENTSOF(guarded));
	f->frozen[1] = true;
	/* The guardian is our grandchild: become its reaper to read its exit status. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	daemon = fork();
	assert_true(daemon >= 0);
	if (daemon == 0)
		run_doomed_daemon(f, pfd[1]);
	close(pfd[1]);
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(read(pfd[0], &gpid, sizeof(gpid)), sizeof(gpid));
	close(pfd[0]);
	assert_true(gpid > 0);
	assert_true(f->frozen[0] && f->frozen[2]);

	assert_int_equal(kill(daemon, SIGKILL), 0);
	assert_int_equal(waitpid(daemon, &st, 0), daemon);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	wait_thawed(f);
	assert_guardian_thawed(f, gpid);
	assert_int_equal(waitpid(gpid, &st, 0), gpid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 100 + VSS_GUARDIAN_ORPHANED);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

/* ---- marker ------------------------------------------------------------------------------- */

typedef struct MarkerDir {
	char dir[64];
	char path[128];
} MarkerDir;

static void marker_dir_init(MarkerDir *m)
{
	snprintf(m->dir, sizeof(m->dir), "/tmp/test-vss-marker-XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	/* A directory that does not exist yet: _write() creates it. */
	snprintf(m->path, sizeof(m->path), "%s/hvguest/vss-frozen", m->dir);
}

static void marker_dir_done(MarkerDir *m)
{
	char sub[128];

	snprintf(sub, sizeof(sub), "%s/hvguest", m->dir);
	(void)unlink(m->path);
	(void)rmdir(sub);
	assert_int_equal(rmdir(m->dir), 0);
}

static const VssTarget marked[] = {
	{ "/mnt/a b", 0 },
	{ "/mnt/outer", 1 },
	{ "/mnt/new\nline", 0 },
	{ "/mnt/back\\slash", 2 },
};

static void test_marker_write_format(void **state)
{
	MarkerDir m;
	char *text = NULL;
	size_t size;
	struct stat st;

	marker_dir_init(&m);
	assert_int_equal(vss_marker_write(m.path, 4242, marked, ELEMENTSOF(marked)), 0);
	assert_int_equal(read_full_file_at(AT_FDCWD, m.path, 65536, &text, &size), 0);
	assert_string_equal(text,
			    "# hvguest VSS: filesystems frozen by pid 4242; thaw if it is gone\n"
			    "pid 4242\n"
			    "thaw 2 /mnt/back\\134slash\n"
			    "thaw 1 /mnt/outer\n"
			    "thaw 0 /mnt/a\\040b\n"
			    "thaw 0 /mnt/new\\012line\n");
	free(text);
	assert_int_equal(stat(m.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(vss_marker_write("relative/path", 1, marked, 1), -EINVAL);
	assert_int_equal(vss_marker_write("/tmp/dir/", 1, marked, 1), -EINVAL);
	assert_int_equal(vss_marker_remove(m.path), 0);
	assert_int_equal(vss_marker_remove(m.path), 0); /* gone already: fine */
	assert_int_equal(access(m.path, F_OK), -1);
	marker_dir_done(&m);
}

static void test_marker_recover(void **state)
{
	Fake *f = *state;
	MarkerDir m;
	pid_t pid = 0;

	marker_dir_init(&m);
	fake_add_targets(f, marked, ELEMENTSOF(marked));
	f->frozen[0] = f->frozen[1] = f->frozen[3] = true; /* [2] was thawed already */
	assert_int_equal(vss_marker_write(m.path, 4242, marked, ELEMENTSOF(marked)), 0);

	assert_int_equal(vss_freeze_recover(m.path, &fake_ops, f, &pid), 3);
	assert_int_equal(pid, 4242);
	for (size_t i = 0; i < ELEMENTSOF(marked); i++)
		assert_false(f->frozen[i]);
	/* In the marker's (thaw) order: level 2, level 1, then level 0. */
	assert_int_equal(count_events(f, OP_THAW, -1), 4);
	assert_true(find_event(f, OP_THAW, 3)->end <= find_event(f, OP_THAW, 1)->start);
	assert_true(find_event(f, OP_THAW, 1)->end <= find_event(f, OP_THAW, 0)->start);
	assert_int_equal(find_event(f, OP_THAW, 2)->ret, -EINVAL);
	assert_int_equal(access(m.path, F_OK), -1);
	/* Every descriptor was closed again. */
	for (size_t k = 0; k < f->n_events; k++)
		if (f->events[k].op == OP_OPEN)
			assert_int_equal(fcntl(f->events[k].ret, F_GETFD), -1);

	/* No marker: nothing to do. */
	pid = 1;
	assert_int_equal(vss_freeze_recover(m.path, &fake_ops, f, &pid), 0);
	assert_int_equal(pid, 0);
	assert_int_equal(count_events(f, OP_THAW, -1), 4);
	marker_dir_done(&m);
}

static void test_marker_recover_errors(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/stuck", 1 }, { "/unmounted", 0 }, { "/fine", 0 } };
	MarkerDir m;

	marker_dir_init(&m);
	fake_add(f, "/stuck");
	fake_add(f, "/fine"); /* "/unmounted" is unknown to the fake: ENOENT */
	f->frozen[0] = f->frozen[1] = true;
	f->thaw_error[0] = -EIO;
	assert_int_equal(vss_marker_write(m.path, 7, t, ELEMENTSOF(t)), 0);

	/* The failure is reported, the rest is still thawed, the marker stays for a retry. */
	assert_int_equal(vss_freeze_recover(m.path, &fake_ops, f, NULL), -EIO);
	assert_false(f->frozen[1]);
	assert_int_equal(access(m.path, F_OK), 0);

	f->thaw_error[0] = 0;
	assert_int_equal(vss_freeze_recover(m.path, &fake_ops, f, NULL), 1);
	assert_false(f->frozen[0]);
	assert_int_equal(access(m.path, F_OK), -1);
	marker_dir_done(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_guardian_done),
		T(test_guardian_orphaned),
		T(test_guardian_deadline),
		T(test_guardian_closes_other_fds),
		T(test_guardian_daemon_sigkilled),
		T(test_marker_write_format),
		T(test_marker_recover),
		T(test_marker_recover_errors),
#undef T
	};

	return cmocka_run_group_tests_name("vss-guardian", tests, NULL, NULL);
}
