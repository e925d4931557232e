/* SPDX-License-Identifier: MIT */
/* Hooks that leave a lock holder running from freeze until thaw (or its end). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vss/vss-hooks.h"
#include "test-vss-hooks-util.h"

static void test_holder_survives_until_thaw(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	char *log;
	pid_t holder;
	VssHooks *h;

	/* A holder that its thaw call does not release: ended by us after the thaw phase. */
	write_hook(
		fx, "50-holder",
		"case $1 in\n"
		"freeze) sleep 30 </dev/null >/dev/null 2>&1 & echo $! >\"$ROOT/holder.pid\" ;;\n"
		"thaw) kill -0 \"$(cat \"$ROOT/holder.pid\")\" && echo alive >>\"$HOOK_LOG\" ;;\n"
		"esac\nexit 0");
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	holder = read_pid(fx, "holder.pid");
	usleep(100 * 1000);
	assert_true(pid_alive(holder));
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_OK);
	assert_false(runs[0].pipes_held);

	assert_int_equal(vss_hooks_thaw(h), 0);
	/* It was alive during the thaw call, and is gone once the phase is over. */
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "alive\n");
	free(log);
	assert_false(pid_alive(holder));
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 2);
	assert_int_equal(runs[0].left_alive, 1);
	assert_int_equal(runs[0].left_killed, 0);
	assert_int_equal(runs[1].left_alive, 0);
	drop_hooks(fx, h);
}

static void test_holder_released_by_thaw(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	pid_t holder;
	VssHooks *h;

	write_hook(
		fx, "50-holder",
		"case $1 in\n"
		"freeze) sleep 30 </dev/null >/dev/null 2>&1 & echo $! >\"$ROOT/holder.pid\" ;;\n"
		"thaw) pid=$(cat \"$ROOT/holder.pid\"); kill $pid\n"
		"  while kill -0 $pid 2>/dev/null && ! grep -q '^State:.*Z' /proc/$pid/status; do\n"
		"    sleep 0.01; done ;;\n"
		"esac\nexit 0");
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	holder = read_pid(fx, "holder.pid");
	assert_true(pid_alive(holder));
	assert_int_equal(vss_hooks_thaw(h), 0);
	assert_true(wait_pid_gone(holder));
	runs = vss_hooks_runs(h, &n);
	/* Nothing was left for us to end. */
	assert_int_equal(runs[0].left_alive, 0);
	assert_int_equal(runs[0].left_killed, 0);
	drop_hooks(fx, h);
}

static void test_stubborn_holder_killed(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	uint64_t t0, dt;
	pid_t holder;
	VssHooks *h;

	write_hook(fx, "50-stubborn",
		   "[ \"$1\" = freeze ] || exit 0\n"
		   "(trap '' TERM; touch \"$ROOT/ready\"; while :; do sleep 0.05; done) "
		   "</dev/null >/dev/null 2>&1 &\n"
		   "echo $! >\"$ROOT/holder.pid\"\n"
		   "# Ignoring SIGTERM before we return, or the test would race with it.\n"
		   "while [ ! -e \"$ROOT/ready\" ]; do sleep 0.01; done");
	fx->cfg.holder_grace_usec = 300 * MSEC;
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	holder = read_pid(fx, "holder.pid");
	assert_true(pid_alive(holder));
	t0 = mono_usec();
	assert_int_equal(vss_hooks_thaw(h), 0);
	dt = mono_usec() - t0;
	assert_true(dt >= 300 * MSEC);
	assert_true(dt < 3 * SEC);
	assert_false(pid_alive(holder));
	runs = vss_hooks_runs(h, &n);
	assert_true(runs[0].left_alive >= 1);
	assert_true(runs[0].left_killed >= 1);
	drop_hooks(fx, h);
}

static void test_holder_keeping_stdout(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	uint64_t t0;
	pid_t holder;
	char *sum;
	VssHooks *h;

	/* The holder forgot to redirect stdout: we must not wait for it until the timeout. */
	write_hook(fx, "50-careless",
		   "[ \"$1\" = freeze ] || exit 0\n"
		   "sleep 30 & echo $! >\"$ROOT/holder.pid\"");
	fx->cfg.timeout_usec = 20 * SEC;
	h = new_hooks(fx);
	t0 = mono_usec();
	assert_int_equal(vss_hooks_freeze(h), 0);
	assert_true(mono_usec() - t0 < 2 * SEC);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_OK);
	assert_true(runs[0].pipes_held);
	holder = read_pid(fx, "holder.pid");
	assert_true(pid_alive(holder));
	assert_int_equal(vss_hooks_thaw(h), 0);
	assert_false(pid_alive(holder));
	assert_int_equal(vss_hooks_format_summary(h, &sum), 0);
	assert_non_null(strstr(sum, "50-careless freeze ok "));
	assert_non_null(strstr(sum, " held-stdout left=1 killed=0"));
	free(sum);
	drop_hooks(fx, h);
}

static void test_free_ends_holders(void **state)
{
	Fx *fx = *state;
	pid_t holder;
	VssHooks *h;

	write_hook(fx, "50-holder",
		   "sleep 30 </dev/null >/dev/null 2>&1 & echo $! >\"$ROOT/holder.pid\"");
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	holder = read_pid(fx, "holder.pid");
	assert_true(pid_alive(holder));
	/* The manager gave up without a closing phase: nothing may be left behind. */
	drop_hooks(fx, h);
	assert_false(pid_alive(holder));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_holder_survives_until_thaw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder_released_by_thaw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stubborn_holder_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder_keeping_stdout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_ends_holders, setup, teardown),
	};

	return cmocka_run_group_tests_name("vss-hooks-holders", tests, NULL, NULL);
}
