/* SPDX-License-Identifier: MIT */
/* hook_run(): running, output, timeouts, environment, descriptors and signals. */
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

static void test_echo(void **state)
{
	const char *argv[] = { "/bin/echo", "hello", "two words", NULL };
	HookResult res;

	run_ok(argv, NULL, &res);
	assert_true(res.exited);
	assert_int_equal(res.exit_status, 0);
	assert_int_equal(res.term_signal, 0);
	assert_false(res.timed_out);
	assert_true(hook_result_success(&res));
	/* One argv element stays one argument: no shell split it. */
	assert_string_equal(res.out, "hello two words\n");
	assert_int_equal(res.out_size, strlen("hello two words\n"));
	assert_false(res.out_truncated);
	assert_string_equal(res.err, "");
	hook_result_done(&res);
	assert_null(res.out);
	hook_result_done(&res); /* twice is fine */
}

static void test_no_shell_interpretation(void **state)
{
	const char *argv[] = { "/bin/echo", "$(touch /tmp/x)", ";", "|", "`id`", NULL };
	HookResult res;

	run_ok(argv, NULL, &res);
	assert_string_equal(res.out, "$(touch /tmp/x) ; | `id`\n");
	hook_result_done(&res);
}

static void test_exit_codes_and_signals(void **state)
{
	const char *exit7[] = { "/bin/sh", "-c", "exit 7", NULL };
	const char *killed[] = { "/bin/sh", "-c", "kill -TERM $$; sleep 5", NULL };
	HookResult res;

	run_ok(exit7, NULL, &res);
	assert_true(res.exited);
	assert_int_equal(res.exit_status, 7);
	assert_false(hook_result_success(&res));
	assert_false(res.timed_out);
	hook_result_done(&res);

	run_ok(killed, NULL, &res);
	assert_false(res.exited);
	assert_int_equal(res.term_signal, SIGTERM);
	assert_false(res.timed_out);
	assert_false(hook_result_success(&res));
	hook_result_done(&res);
}

static void test_stdout_stderr_separate(void **state)
{
	const char *argv[] = { "/bin/sh", "-c",
			       "echo out1; echo err1 >&2; echo out2; echo err2 >&2", NULL };
	HookResult res;

	run_ok(argv, NULL, &res);
	assert_string_equal(res.out, "out1\nout2\n");
	assert_string_equal(res.err, "err1\nerr2\n");
	hook_result_done(&res);
}

static void test_large_output_truncated(void **state)
{
	/* 1 MB on stdout and 100 kB on stderr: both kept bounded, both drained. */
	const char *argv[] = {
		"/bin/sh", "-c",
		"head -c 1000000 /dev/zero | tr '\\0' a; "
		"head -c 100000 /dev/zero | tr '\\0' b >&2; echo finished >&2; exit 3",
		NULL
	};
	HookResult res;

	run_ok(argv, NULL, &res);
	/* It got to its end: the rest was drained, so it never blocked on a full pipe. */
	assert_true(res.exited);
	assert_int_equal(res.exit_status, 3);
	assert_false(res.timed_out);
	assert_int_equal(res.out_size, HOOK_STDOUT_MAX);
	assert_true(res.out_truncated);
	assert_int_equal(strlen(res.out), HOOK_STDOUT_MAX);
	for (size_t i = 0; i < res.out_size; i++)
		assert_int_equal(res.out[i], 'a');
	assert_int_equal(res.err_size, HOOK_STDERR_MAX);
	assert_true(res.err_truncated);
	assert_int_equal(res.err[0], 'b');
	hook_result_done(&res);
}

static void test_output_exactly_at_limit(void **state)
{
	char cmd[128];
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	HookResult res;

	snprintf(cmd, sizeof(cmd), "head -c %u /dev/zero | tr '\\0' z", HOOK_STDOUT_MAX);
	run_ok(argv, NULL, &res);
	assert_int_equal(res.out_size, HOOK_STDOUT_MAX);
	assert_false(res.out_truncated);
	hook_result_done(&res);
}
static void test_timeout_kills_group(void **state)
{
	/* The shell starts a grandchild, reports its pid, and waits. */
	const char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $!; wait", NULL };
	HookResult res;
	uint64_t t0, dt;
	pid_t grandchild;

	t0 = mono_usec();
	assert_int_equal(hook_run(argv, NULL, 300 * MSEC, &res), 0);
	dt = mono_usec() - t0;
	assert_true(dt >= 300 * MSEC);
	assert_true(dt < 3 * SEC);
	assert_true(res.timed_out);
	assert_false(res.exited);
	assert_int_equal(res.term_signal, SIGKILL);
	assert_false(hook_result_success(&res));

	/* What it printed before the deadline is kept. */
	grandchild = (pid_t)atoi(res.out);
	assert_true(grandchild > 1);
	assert_true(wait_pid_dead(grandchild));
	hook_result_done(&res);
}

static void test_timeout_plain_sleep(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "sleep 5", NULL };
	HookResult res;
	uint64_t t0 = mono_usec();

	assert_int_equal(hook_run(argv, NULL, 200 * MSEC, &res), 0);
	assert_true(mono_usec() - t0 < 2 * SEC);
	assert_true(res.timed_out);
	assert_int_equal(res.term_signal, SIGKILL);
	hook_result_done(&res);
}

static void test_leftover_holding_pipe(void **state)
{
	/*
	 * The child exits at once but leaves a background process holding stdout: we stop at
	 * the deadline, report the child's own exit status and end the leftover.
	 */
	const char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $!; exit 4", NULL };
	HookResult res;
	uint64_t t0 = mono_usec();
	pid_t leftover;

	assert_int_equal(hook_run(argv, NULL, 300 * MSEC, &res), 0);
	assert_true(mono_usec() - t0 < 3 * SEC);
	assert_true(res.exited);
	assert_int_equal(res.exit_status, 4);
	assert_false(res.timed_out);
	leftover = (pid_t)atoi(res.out);
	assert_true(leftover > 1);
	assert_true(wait_pid_dead(leftover));
	hook_result_done(&res);
}

static void test_spawn_errors(void **state)
{
	char tmpl[] = "/tmp/test-hook-XXXXXX";
	char noexec[128];
	const char *missing[] = { "/nonexistent/hv_get_dns_info", "eth0", NULL };
	const char *relative[] = { "echo", "x", NULL };
	const char *empty[] = { NULL };
	const char *ok[] = { "/bin/true", NULL };
	const char *bad_env[] = { "NOEQUALS", NULL };
	const char *noexec_argv[] = { noexec, NULL };
	const char *noshebang_argv[] = { noexec, NULL };
	HookResult res;
	int fd;

	memset(&res, 0x5a, sizeof(res));
	assert_int_equal(hook_run(missing, NULL, SEC, &res), -ENOENT);
	assert_int_equal(res.exit_status, 0x5a5a5a5a); /* untouched */
	assert_int_equal(hook_run(relative, NULL, SEC, &res), -EINVAL);
	assert_int_equal(hook_run(empty, NULL, SEC, &res), -EINVAL);
	assert_int_equal(hook_run(NULL, NULL, SEC, &res), -EINVAL);
	assert_int_equal(hook_run(ok, NULL, 0, &res), -EINVAL);
	assert_int_equal(hook_run(ok, bad_env, SEC, &res), -EINVAL);
	assert_int_equal(hook_run(ok, NULL, SEC, NULL), -EINVAL);

	assert_non_null(mkdtemp(tmpl));
	snprintf(noexec, sizeof(noexec), "%s/script", tmpl);
	fd = open(noexec, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	/* No "#!": a shell would run it; posix_spawn must not. */
	assert_int_equal(write(fd, "touch /tmp/should-not-run\n", 26), 26);
	close(fd);
	assert_int_equal(hook_run(noexec_argv, NULL, SEC, &res), -EACCES);
	assert_int_equal(chmod(noexec, 0755), 0);
	assert_int_equal(hook_run(noshebang_argv, NULL, SEC, &res), -ENOEXEC);
	unlink(noexec);
	rmdir(tmpl);
}

static void test_too_many_env(void **state)
{
	const char *env[HOOK_EXTRA_ENV_MAX + 2];
	const char *ok[] = { "/bin/true", NULL };
	HookResult res;

	for (unsigned i = 0; i < HOOK_EXTRA_ENV_MAX + 1; i++)
		env[i] = "A=b";
	env[HOOK_EXTRA_ENV_MAX + 1] = NULL;
	assert_int_equal(hook_run(ok, env, SEC, &res), -EINVAL);
	env[HOOK_EXTRA_ENV_MAX] = NULL;
	assert_int_equal(hook_run(ok, env, SEC, &res), 0);
	hook_result_done(&res);
}

static void test_environment_sanitized(void **state)
{
	const char *argv[] = { "/usr/bin/env", NULL };
	const char *extra[] = { "HV_IFNAME=eth0", "EMPTY=", NULL };
	const char *override[] = { "PATH=/opt/bin", NULL };
	HookResult res;

	setenv("HVGUEST_TEST_SECRET", "leak", 1);
	setenv("LD_PRELOAD", "", 1);
	run_ok(argv, extra, &res);
	assert_string_equal(res.out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
				     "LANG=C.UTF-8\n"
				     "HV_IFNAME=eth0\n"
				     "EMPTY=\n");
	hook_result_done(&res);

	run_ok(argv, override, &res);
	assert_string_equal(res.out, "LANG=C.UTF-8\nPATH=/opt/bin\n");
	hook_result_done(&res);
	unsetenv("HVGUEST_TEST_SECRET");
	unsetenv("LD_PRELOAD");
}

static void test_stdin_and_cwd(void **state)
{
	const char *cat[] = { "/bin/cat", NULL };
	const char *pwd[] = { "/bin/sh", "-c", "pwd; readlink /proc/self/fd/0", NULL };
	HookResult res;
	char tmpl[] = "/tmp/test-hook-cwd-XXXXXX";
	char old[4096];

	/* cat reading our stdin would hang until the deadline; /dev/null ends it at once. */
	assert_int_equal(hook_run(cat, NULL, 2 * SEC, &res), 0);
	assert_false(res.timed_out);
	assert_true(hook_result_success(&res));
	assert_string_equal(res.out, "");
	hook_result_done(&res);

	assert_non_null(getcwd(old, sizeof(old)));
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(chdir(tmpl), 0);
	run_ok(pwd, NULL, &res);
	assert_string_equal(res.out, "/\n/dev/null\n");
	hook_result_done(&res);
	assert_int_equal(chdir(old), 0);
	rmdir(tmpl);
}

static void test_fds_not_leaked_into_child(void **state)
{
	const char *argv[] = { "/bin/ls", "-l", "/proc/self/fd", NULL };
	HookResult res;
	char *line, *save = NULL;
	unsigned seen = 0;
	int leaky, leaky_high;

	/* Descriptors without O_CLOEXEC, as a careless library might open them. */
	leaky = open("/dev/null", O_RDONLY);
	assert_true(leaky > 2);
	leaky_high = dup2(leaky, 77);
	assert_int_equal(leaky_high, 77);

	run_ok(argv, NULL, &res);
	assert_true(hook_result_success(&res));
	for (line = strtok_r(res.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *arrow = strstr(line, " -> ");
		char *num;
		int fd;

		if (!arrow)
			continue; /* "total 0" */
		*arrow = '\0';
		num = strrchr(line, ' ');
		assert_non_null(num);
		fd = atoi(num + 1);
		switch (fd) {
		case 0:
			assert_string_equal(arrow + 4, "/dev/null");
			break;
		case 1:
		case 2:
			assert_true(strncmp(arrow + 4, "pipe:", 5) == 0);
			break;
		case 3:
			/* ls's own handle on the directory it lists. */
			assert_non_null(strstr(arrow + 4, "/fd"));
			break;
		default:
			fail_msg("descriptor %d leaked into the child (%s)", fd, arrow + 4);
		}
		seen++;
	}
	assert_true(seen >= 3);
	hook_result_done(&res);
	close(leaky);
	close(leaky_high);
}

static void test_no_fd_leak_in_parent(void **state)
{
	const char *ok[] = { "/bin/echo", "x", NULL };
	const char *slow[] = { "/bin/sh", "-c", "sleep 5", NULL };
	const char *missing[] = { "/nonexistent", NULL };
	HookResult res;
	unsigned before = count_open_fds();

	for (int i = 0; i < 3; i++) {
		assert_int_equal(hook_run(ok, NULL, SEC, &res), 0);
		hook_result_done(&res);
		assert_int_equal(hook_run(missing, NULL, SEC, &res), -ENOENT);
	}
	assert_int_equal(hook_run(slow, NULL, 50 * MSEC, &res), 0);
	assert_true(res.timed_out);
	hook_result_done(&res);
	assert_int_equal(count_open_fds(), before);
}

/* Reads a hex mask line such as "SigBlk:\t0000000000000000" out of /proc/self/status text. */
static unsigned long long status_mask(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 16);
}

static void test_signal_state_reset(void **state)
{
	const char *argv[] = { "/bin/cat", "/proc/self/status", NULL };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe, old_usr2;
	sigset_t block, old_mask;
	HookResult res;

	/* What a daemon's worker thread typically looks like. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
	assert_int_equal(sigaction(SIGUSR2, &ign, &old_usr2), 0);

	run_ok(argv, NULL, &res);
	assert_int_equal(status_mask(res.out, "SigBlk:"), 0);
	/*
	 * Nothing ignored either, except glibc's two internal signals (32 and 33, bits 31 and
	 * 32): its posix_spawn sets those to SIG_IGN in every child it starts, and sigfillset()
	 * cannot name them.
	 */
	assert_int_equal(status_mask(res.out, "SigIgn:") & ~(3ull << 31), 0);
	hook_result_done(&res);

	/* And ours is as it was. */
	{
		sigset_t now;

		assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
		assert_true(sigismember(&now, SIGTERM));
		assert_true(sigismember(&now, SIGUSR1));
	}
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old_mask, NULL), 0);
	assert_int_equal(sigaction(SIGPIPE, &old_pipe, NULL), 0);
	assert_int_equal(sigaction(SIGUSR2, &old_usr2, NULL), 0);
}

/*
 * In a forked process whose pidfd_open fails with ENOSYS (a seccomp filter, as on a
 * kernel older than 5.3): the polling fallback must give the same results. Returns the
 * number of the first failed check, 0 if all passed, 77 if the filter could not be set.
 */
static int without_pidfd_checks(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ELEMENTSOF(filter), .filter = filter };
	const char *echo[] = { "/bin/echo", "fallback", NULL };
	const char *code[] = { "/bin/sh", "-c", "sleep 0.05; exit 9", NULL };
	const char *slow[] = { "/bin/sh", "-c", "sleep 30 & echo $!; wait", NULL };
	HookResult res;
	uint64_t t0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return 77;
	if (syscall(SYS_pidfd_open, getpid(), 0) >= 0 || errno != ENOSYS)
		return 77;

	if (hook_run(echo, NULL, 5 * SEC, &res) < 0)
		return 1;
	if (!hook_result_success(&res) || strcmp(res.out, "fallback\n") != 0)
		return 2;
	hook_result_done(&res);

	if (hook_run(code, NULL, 5 * SEC, &res) < 0)
		return 3;
	if (!res.exited || res.exit_status != 9 || res.timed_out)
		return 4;
	hook_result_done(&res);

	t0 = mono_usec();
	if (hook_run(slow, NULL, 200 * MSEC, &res) < 0)
		return 5;
	if (!res.timed_out || res.term_signal != SIGKILL || mono_usec() - t0 > 2 * SEC)
		return 6;
	if (!wait_pid_dead((pid_t)atoi(res.out)))
		return 7;
	hook_result_done(&res);
	return 0;
}

static void test_without_pidfd(void **state)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(without_pidfd_checks());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

typedef struct ThreadJob {
	int code;
	bool ok;
} ThreadJob;

static void *thread_run(void *p)
{
	ThreadJob *j = p;
	char cmd[64], want[32];
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	HookResult res;

	snprintf(cmd, sizeof(cmd), "sleep 0.1; echo job%d; exit %d", j->code, j->code);
	snprintf(want, sizeof(want), "job%d\n", j->code);
	for (int i = 0; i < 5; i++) {
		if (hook_run(argv, NULL, 5 * SEC, &res) < 0)
			return NULL;
		j->ok = res.exited && res.exit_status == j->code && strcmp(res.out, want) == 0;
		hook_result_done(&res);
		if (!j->ok)
			return NULL;
	}
	return NULL;
}

static void test_concurrent_threads(void **state)
{
	/* Each thread reaps only its own child and sees only its own output. */
	pthread_t t[4];
	ThreadJob jobs[4];

	for (int i = 0; i < 4; i++) {
		jobs[i] = (ThreadJob){ .code = 10 + i };
		assert_int_equal(pthread_create(&t[i], NULL, thread_run, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(jobs[i].ok);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_no_shell_interpretation),
		cmocka_unit_test(test_exit_codes_and_signals),
		cmocka_unit_test(test_stdout_stderr_separate),
		cmocka_unit_test(test_large_output_truncated),
		cmocka_unit_test(test_output_exactly_at_limit),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_timeout_plain_sleep),
		cmocka_unit_test(test_leftover_holding_pipe),
		cmocka_unit_test(test_spawn_errors),
		cmocka_unit_test(test_too_many_env),
		cmocka_unit_test(test_environment_sanitized),
		cmocka_unit_test(test_stdin_and_cwd),
		cmocka_unit_test(test_fds_not_leaked_into_child),
		cmocka_unit_test(test_no_fd_leak_in_parent),
		cmocka_unit_test(test_signal_state_reset),
		cmocka_unit_test(test_concurrent_threads),
		cmocka_unit_test(test_without_pidfd),
	};

	return cmocka_run_group_tests_name("hook", tests, NULL, NULL);
}
