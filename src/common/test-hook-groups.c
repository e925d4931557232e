/* SPDX-License-Identifier: MIT */
/* hook_run_opts(): option checks, output draining, kept process groups and ending them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "common/hook.h"
#include "test-hook-util.h"

/* State letter and process group of pid from /proc/PID/stat, or '\0' if it is gone. */
static char proc_state(pid_t pid, pid_t *ret_pgrp)
{
	char path[64], buf[512], state = '\0';
	long ppid, pgrp = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return '\0';
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
		return '\0';
	if (ret_pgrp)
		*ret_pgrp = (pid_t)pgrp;
	return state;
}

static void test_opts_invalid(void **state)
{
	const char *ok[] = { "/bin/true", NULL };
	HookOptions keep = { .timeout_usec = SEC, .keep_group = true };
	HookOptions zero = { 0 };
	HookResult res;

	assert_int_equal(hook_run_opts(ok, NULL, NULL, &res, NULL), -EINVAL);
	assert_int_equal(hook_run_opts(ok, NULL, &zero, &res, NULL), -EINVAL);
	/* Keeping a group nobody can end later would leak it. */
	assert_int_equal(hook_run_opts(ok, NULL, &keep, &res, NULL), -EINVAL);
	assert_int_equal(hook_groups_end(NULL, 1, 0, NULL), -EINVAL);
	assert_int_equal(hook_groups_end(NULL, 0, 0, NULL), 0);
}

static void test_drain_stops_reading_early(void **state)
{
	/*
	 * As test_leftover_holding_pipe, but with a drain period: we stop 100 ms after the
	 * child's exit instead of at its 5 s deadline, and still end the leftover.
	 */
	const char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $!; exit 4", NULL };
	HookOptions opts = { .timeout_usec = 5 * SEC, .drain_usec = 100 * MSEC };
	HookResult res;
	uint64_t t0 = mono_usec(), dt;
	pid_t leftover;

	assert_int_equal(hook_run_opts(argv, NULL, &opts, &res, NULL), 0);
	dt = mono_usec() - t0;
	assert_true(dt >= 100 * MSEC);
	assert_true(dt < 2 * SEC);
	assert_true(res.exited);
	assert_int_equal(res.exit_status, 4);
	assert_false(res.timed_out);
	assert_true(res.pipes_held);
	leftover = (pid_t)atoi(res.out);
	assert_true(leftover > 1);
	assert_true(wait_pid_dead(leftover));
	hook_result_done(&res);
}

static void test_drain_not_needed(void **state)
{
	/* Nothing left behind: EOF at once, no drain wait, nothing held. */
	const char *argv[] = { "/bin/sh", "-c", "echo quick", NULL };
	HookOptions opts = { .timeout_usec = 5 * SEC, .drain_usec = 2 * SEC };
	HookResult res;
	uint64_t t0 = mono_usec();

	assert_int_equal(hook_run_opts(argv, NULL, &opts, &res, NULL), 0);
	assert_true(mono_usec() - t0 < SEC);
	assert_true(hook_result_success(&res));
	assert_false(res.pipes_held);
	assert_string_equal(res.out, "quick\n");
	hook_result_done(&res);
}

static void test_keep_group_holder_survives(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $!; echo started >&2; exit 0",
			       NULL };
	HookOptions opts = { .timeout_usec = 5 * SEC,
			     .drain_usec = 100 * MSEC,
			     .keep_group = true };
	HookGroup g = HOOK_GROUP_INIT;
	HookGroupEnd end = { 0 };
	HookResult res;
	uint64_t t0 = mono_usec(), dt;
	pid_t holder, pgrp = 0, hook_pid;

	assert_int_equal(hook_run_opts(argv, NULL, &opts, &res, &g), 0);
	assert_true(mono_usec() - t0 < 2 * SEC);
	assert_true(hook_result_success(&res));
	assert_true(res.pipes_held);
	assert_string_equal(res.err, "started\n");
	holder = (pid_t)atoi(res.out);
	assert_true(holder > 1);
	hook_result_done(&res);

	/* The hook is a zombie pinning the group id; the holder lives on in that group. */
	assert_true(g.pgid > 1);
	hook_pid = g.pgid;
	assert_int_equal(proc_state(g.pgid, NULL), 'Z');
	assert_true(proc_state(holder, &pgrp) != '\0');
	assert_false(pid_dead(holder));
	assert_int_equal(pgrp, g.pgid);
	/* The holder still has our pipes; we kept our ends. */
	assert_true(g.fds[0] >= 0);
	assert_true(g.fds[1] >= 0);
	usleep(200 * 1000);
	assert_false(pid_dead(holder));

	/* sleep dies of SIGTERM at once: found alive, not killed. */
	t0 = mono_usec();
	assert_int_equal(hook_groups_end(&g, 1, 3 * SEC, &end), 0);
	dt = mono_usec() - t0;
	assert_true(dt < 2 * SEC);
	assert_int_equal(end.alive, 1);
	assert_int_equal(end.killed, 0);
	assert_true(wait_pid_dead(holder));
	assert_int_equal(g.pgid, 0);
	assert_int_equal(g.fds[0], -EBADF);
	assert_int_equal(g.fds[1], -EBADF);
	/* The hook's zombie was reaped. */
	assert_int_equal(waitpid(hook_pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_keep_group_clean_exit(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "echo hi; exit 3", NULL };
	HookOptions opts = { .timeout_usec = 5 * SEC,
			     .drain_usec = 100 * MSEC,
			     .keep_group = true };
	HookGroup g = HOOK_GROUP_INIT;
	HookGroupEnd end = { .alive = 99, .killed = 99 };
	HookResult res;
	pid_t pid;
	int status;

	assert_int_equal(hook_run_opts(argv, NULL, &opts, &res, &g), 0);
	/* The status comes from the unreaped zombie. */
	assert_true(res.exited);
	assert_int_equal(res.exit_status, 3);
	assert_false(res.pipes_held);
	assert_string_equal(res.out, "hi\n");
	hook_result_done(&res);
	assert_true(g.pgid > 1);
	assert_int_equal(g.fds[0], -EBADF);
	assert_int_equal(g.fds[1], -EBADF);
	pid = g.pgid;

	assert_int_equal(hook_groups_end(&g, 1, SEC, &end), 0);
	assert_int_equal(end.alive, 0);
	assert_int_equal(end.killed, 0);
	/* Reaped: no longer our child. */
	assert_int_equal(waitpid(pid, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_keep_group_signal_status(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "kill -USR1 $$; sleep 5", NULL };
	HookOptions opts = { .timeout_usec = 5 * SEC,
			     .drain_usec = 100 * MSEC,
			     .keep_group = true };
	HookGroup g = HOOK_GROUP_INIT;
	HookResult res;

	assert_int_equal(hook_run_opts(argv, NULL, &opts, &res, &g), 0);
	assert_false(res.exited);
	assert_int_equal(res.term_signal, SIGUSR1);
	assert_false(res.timed_out);
	hook_result_done(&res);
	assert_int_equal(hook_groups_end(&g, 1, SEC, NULL), 0);
}

static void test_keep_group_holder_writes_later(void **state)
{
	/*
	 * A careless holder that keeps writing to the stdout it inherited: it must neither
	 * hold us up nor die of SIGPIPE once we stopped reading (our end stays open).
	 */
	char tmpl[] = "/tmp/test-hook-late-XXXXXX", cmd[512], done[256];
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	HookOptions opts = { .timeout_usec = 5 * SEC, .drain_usec = 50 * MSEC, .keep_group = true };
	HookGroup g = HOOK_GROUP_INIT;
	HookGroupEnd end;
	HookResult res;
	bool seen = false;

	assert_non_null(mkdtemp(tmpl));
	snprintf(done, sizeof(done), "%s/done", tmpl);
	snprintf(cmd, sizeof(cmd), "(sleep 0.3; echo late; echo late >&2; touch %s) & exit 0",
		 done);
	assert_int_equal(hook_run_opts(argv, NULL, &opts, &res, &g), 0);
	assert_true(hook_result_success(&res));
	assert_true(res.pipes_held);
	hook_result_done(&res);
	for (int i = 0; i < 300 && !seen; i++) {
		seen = access(done, F_OK) == 0;
		if (!seen)
			usleep(10 * 1000);
	}
	assert_true(seen);
	/* It may still be exiting after its last command: never needed SIGKILL, though. */
	assert_int_equal(hook_groups_end(&g, 1, SEC, &end), 0);
	assert_true(end.alive <= 1);
	assert_int_equal(end.killed, 0);
	unlink(done);
	rmdir(tmpl);
}

static void test_keep_group_term_ignored(void **state)
{
	/* Two holders, one per hook, both ignoring SIGTERM: ended together, not one by one. */
	const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; sleep 30 & echo $!; exit 0", NULL };
	HookOptions opts = { .timeout_usec = 5 * SEC, .drain_usec = 50 * MSEC, .keep_group = true };
	HookGroup g[3] = { HOOK_GROUP_INIT, HOOK_GROUP_INIT, HOOK_GROUP_INIT };
	HookGroupEnd end[3];
	HookResult res;
	pid_t holder[2];
	uint64_t t0, dt;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(hook_run_opts(argv, NULL, &opts, &res, &g[i]), 0);
		holder[i] = (pid_t)atoi(res.out);
		assert_true(holder[i] > 1);
		hook_result_done(&res);
	}
	/* g[2] stays empty: ignored. */
	t0 = mono_usec();
	assert_int_equal(hook_groups_end(g, 3, 300 * MSEC, end), 0);
	dt = mono_usec() - t0;
	assert_true(dt >= 300 * MSEC);
	assert_true(dt < 300 * MSEC + HOOK_KILL_WAIT_USEC);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(end[i].alive, 1);
		assert_int_equal(end[i].killed, 1);
		assert_true(pid_dead(holder[i]));
		assert_int_equal(g[i].pgid, 0);
	}
	assert_int_equal(end[2].alive, 0);
	assert_int_equal(end[2].killed, 0);
}

static void test_keep_group_timeout_kills_all(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL };
	HookOptions opts = { .timeout_usec = 500 * MSEC,
			     .drain_usec = 50 * MSEC,
			     .keep_group = true };
	HookGroup g = { .pgid = 12345, .fds = { 5, 6 } };
	HookResult res;

	assert_int_equal(hook_run_opts(argv, NULL, &opts, &res, &g), 0);
	assert_true(res.timed_out);
	assert_int_equal(res.term_signal, SIGKILL);
	/* Nothing kept: the group is gone already. */
	assert_int_equal(g.pgid, 0);
	assert_int_equal(g.fds[0], -EBADF);
	assert_true(atoi(res.out) > 1);
	assert_true(wait_pid_dead((pid_t)atoi(res.out)));
	hook_result_done(&res);
}

/*
 * In a forked child with a private mount namespace and no /proc: the groups are ended blind
 * (SIGTERM, the whole grace period, SIGKILL) and reported uncounted. Writes the holder's pid
 * to fd; returns the number of the first failed check, 0, or 77 if /proc cannot be hidden.
 */
static int without_proc_checks(int fd)
{
	const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; sleep 30 & echo $!; exit 0", NULL };
	HookOptions opts = { .timeout_usec = 5 * SEC, .drain_usec = 50 * MSEC, .keep_group = true };
	HookGroup g = HOOK_GROUP_INIT;
	HookGroupEnd end;
	HookResult res;
	pid_t holder;
	uint64_t t0;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    umount2("/proc", MNT_DETACH) < 0 || access("/proc/self/stat", F_OK) == 0)
		return 77;
	if (hook_run_opts(argv, NULL, &opts, &res, &g) < 0)
		return 1;
	holder = (pid_t)atoi(res.out);
	hook_result_done(&res);
	if (holder <= 1 || g.pgid <= 1)
		return 2;
	if (write(fd, &holder, sizeof(holder)) != sizeof(holder))
		return 3;
	t0 = mono_usec();
	if (hook_groups_end(&g, 1, 200 * MSEC, &end) < 0)
		return 4;
	if (mono_usec() - t0 < 200 * MSEC)
		return 5;
	if (end.alive != HOOK_GROUP_UNCOUNTED || end.killed != HOOK_GROUP_UNCOUNTED)
		return 6;
	if (g.pgid != 0)
		return 7;
	return 0;
}

static void test_groups_end_without_proc(void **state)
{
	pid_t pid, holder = 0;
	int p[2], status;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(without_proc_checks(p[1]));
	}
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	(void)!read(p[0], &holder, sizeof(holder));
	close(p[0]);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
	/* It ignored SIGTERM: the blind SIGKILL got it. */
	assert_true(holder > 1);
	assert_true(wait_pid_dead(holder));
}
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_invalid),
		cmocka_unit_test(test_drain_stops_reading_early),
		cmocka_unit_test(test_drain_not_needed),
		cmocka_unit_test(test_keep_group_holder_survives),
		cmocka_unit_test(test_keep_group_clean_exit),
		cmocka_unit_test(test_keep_group_signal_status),
		cmocka_unit_test(test_keep_group_holder_writes_later),
		cmocka_unit_test(test_keep_group_term_ignored),
		cmocka_unit_test(test_keep_group_timeout_kills_all),
		cmocka_unit_test(test_groups_end_without_proc),
	};

	return cmocka_run_group_tests_name("hook-groups", tests, NULL, NULL);
}
