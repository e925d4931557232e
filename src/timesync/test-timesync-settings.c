/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/test-conf-util.h"
#include "timesync/timesync-settings.h"

typedef struct Fixture {
	TestConfDir c;
	TimesyncSettings s;
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_conf_dir_new(&f->c, "test-timesync-settings");
	assert_int_equal(timesync_settings_init(&f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;

	timesync_settings_done(&f->s);
	test_conf_dir_remove(&f->c);
	free(f);
	return 0;
}

static void test_defaults(void **state)
{
	Fixture *f = *state;
	ConfError err = {};
	ServoPiConfig c, d;

	assert_int_equal(f->s.mode, TIMESYNC_MODE_AUTO);
	assert_int_equal(f->s.step_threshold_ms, 100);
	assert_int_equal(f->s.poll_interval_ms, 250);
	assert_null(f->s.phc);
	assert_int_equal(f->s.log_level, LOG_INFO);
	assert_string_equal(f->s.sysfs_dir, "/sys");
	assert_string_equal(f->s.dev_dir, "/dev");
	assert_string_equal(f->s.proc_dir, "/proc");
	assert_string_equal(f->s.run_dir, "/run/hvguest");

	/* Missing file and drop-in directory: nothing changes. */
	assert_int_equal(timesync_settings_load(&f->s, f->c.file, f->c.dropins, &err), 0);
	assert_int_equal(f->s.mode, TIMESYNC_MODE_AUTO);
	assert_int_equal(f->s.poll_interval_ms, 250);

	/* Default servo except the later-step threshold, which is the same 100 ms. */
	timesync_settings_servo_config(&f->s, &c);
	servo_pi_config_default(&d);
	assert_int_equal(c.step_threshold_ns, 100000000);
	assert_int_equal(c.first_step_threshold_ns, d.first_step_threshold_ns);
	assert_int_equal(c.first_step_threshold_ns, 20000);
	assert_true(c.kp == d.kp && c.ki == d.ki);
}

static void test_every_key(void **state)
{
	Fixture *f = *state;
	ConfError err = {};
	ServoPiConfig c;
	Servo *servo = NULL;

	test_write_text(f->c.file, "[vss]\n"
				   "hook_timeout = 5s\n"
				   "[timesync]\n"
				   "mode = monitor\n"
				   "step_threshold_ms = 0\n"
				   "poll_interval_ms = 1000\n"
				   "phc = /dev/ptp3\n"
				   "log_level = debug\n");
	assert_int_equal(timesync_settings_load(&f->s, f->c.file, NULL, &err), 0);
	assert_int_equal(f->s.mode, TIMESYNC_MODE_MONITOR);
	assert_null(f->s.mode_name);
	assert_int_equal(f->s.step_threshold_ms, 0);
	assert_int_equal(f->s.poll_interval_ms, 1000);
	assert_string_equal(f->s.phc, "/dev/ptp3");
	assert_int_equal(f->s.log_level, LOG_DEBUG);

	/* 0 = never step later; the servo accepts the mapped config. */
	timesync_settings_servo_config(&f->s, &c);
	assert_int_equal(c.step_threshold_ns, 0);
	assert_int_equal(servo_pi_new(&c, &servo), 0);
	servo = servo_free(servo);

	/* The drop-in overrides the main file. */
	assert_int_equal(mkdir(f->c.dropins, 0755), 0);
	test_write_text(f->c.dropin, "[timesync]\nmode = discipline\nstep_threshold_ms = 500\n");
	assert_int_equal(timesync_settings_load(&f->s, f->c.file, f->c.dropins, &err), 0);
	assert_int_equal(f->s.mode, TIMESYNC_MODE_DISCIPLINE);
	assert_int_equal(f->s.step_threshold_ms, 500);
	timesync_settings_servo_config(&f->s, &c);
	assert_int_equal(c.step_threshold_ns, 500000000);

	test_write_text(f->c.dropin, "[timesync]\nmode = auto\n");
	assert_int_equal(timesync_settings_load(&f->s, f->c.file, f->c.dropins, &err), 0);
	assert_int_equal(f->s.mode, TIMESYNC_MODE_AUTO);
}

/* Loads text as the main file, expects -EINVAL naming line and key. */
static void expect_bad(Fixture *f, const char *text, unsigned line, const char *key)
{
	ConfError err = {};

	test_write_text(f->c.file, text);
	assert_int_equal(timesync_settings_load(&f->s, f->c.file, NULL, &err), -EINVAL);
	test_conf_error_check(&err, f->c.file, line, key);
}

static void test_bad_values(void **state)
{
	Fixture *f = *state;

	expect_bad(f, "[timesync]\n\npoll_interval_ms = 9\n", 3, "poll_interval_ms");
	expect_bad(f, "[timesync]\npoll_interval_ms = 60001\n", 2, "poll_interval_ms");
	expect_bad(f, "[timesync]\npoll_interval_ms = 250ms\n", 2, "poll_interval_ms");
	expect_bad(f, "[timesync]\nstep_threshold_ms = -1\n", 2, "step_threshold_ms");
	expect_bad(f, "[timesync]\n# c\nstep_threshold_ms = 3600001\n", 3, "step_threshold_ms");
	expect_bad(f, "[timesync]\nphc = ptp0\n", 2, "phc");
	expect_bad(f, "[timesync]\nlog_level = loud\n", 2, "log_level");
	/* Mode is checked after the file is merged: file and key, line 0. */
	expect_bad(f, "[timesync]\nmode = slew\n", 0, "mode");
}

static void test_bad_mode_in_dropin(void **state)
{
	Fixture *f = *state;
	ConfError err = {};

	test_write_text(f->c.file, "[timesync]\nmode = monitor\n");
	assert_int_equal(mkdir(f->c.dropins, 0755), 0);
	test_write_text(f->c.dropin, "[timesync]\nmode = Monitor\n");
	assert_int_equal(timesync_settings_load(&f->s, f->c.file, f->c.dropins, &err), -EINVAL);
	assert_string_equal(err.file, f->c.dropins);
	assert_string_equal(err.key, "mode");
	assert_non_null(strstr(err.message, "Monitor"));

	/* A later valid assignment in the same file wins over an earlier bad one. */
	test_write_text(f->c.dropin, "[timesync]\nmode = bogus\nmode = discipline\n");
	assert_int_equal(timesync_settings_load(&f->s, f->c.file, f->c.dropins, &err), 0);
	assert_int_equal(f->s.mode, TIMESYNC_MODE_DISCIPLINE);
}

static void test_mode_strings(void **state)
{
	for (TimesyncMode m = 0; m < _TIMESYNC_MODE_MAX; m++)
		assert_int_equal(timesync_mode_from_string(timesync_mode_to_string(m)), m);
	assert_string_equal(timesync_mode_to_string(TIMESYNC_MODE_AUTO), "auto");
	assert_string_equal(timesync_mode_to_string(TIMESYNC_MODE_DISCIPLINE), "discipline");
	assert_string_equal(timesync_mode_to_string(TIMESYNC_MODE_MONITOR), "monitor");
	assert_null(timesync_mode_to_string(_TIMESYNC_MODE_MAX));
	assert_null(timesync_mode_to_string(_TIMESYNC_MODE_INVALID));
	assert_int_equal(timesync_mode_from_string(NULL), -EINVAL);
	assert_int_equal(timesync_mode_from_string(""), -EINVAL);
	assert_int_equal(timesync_mode_from_string("auto "), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_mode_in_dropin, setup, teardown),
		cmocka_unit_test(test_mode_strings),
	};

	return cmocka_run_group_tests_name("timesync-settings", tests, NULL, NULL);
}
