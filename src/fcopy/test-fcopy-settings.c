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
#include "config.h"
#include "fcopy/fcopy-settings.h"

typedef struct Fixture {
	TestConfDir c;
	FcopySettings s;
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_conf_dir_new(&f->c, "test-fcopy-settings");
	assert_int_equal(fcopy_settings_init(&f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;

	fcopy_settings_done(&f->s);
	test_conf_dir_remove(&f->c);
	free(f);
	return 0;
}

static void test_defaults(void **state)
{
	Fixture *f = *state;
	FcopyPolicy p;

	assert_null(f->s.allowed_roots);
	assert_int_equal(f->s.file_mode, 0644);
	assert_int_equal(f->s.dir_mode, 0755);
	assert_null(f->s.owner);
	assert_null(f->s.group);
	assert_int_equal(f->s.log_level, LOG_INFO);
	assert_null(f->s.device);
	assert_string_equal(f->s.sysfs_dir, "/sys");
	assert_string_equal(f->s.dev_dir, "/dev");
	assert_string_equal(f->s.run_dir, FCOPY_RUN_DIR);
	assert_true(f->s.uio_ring_fd < 0);
	assert_true(f->s.uio_irq_fd < 0);

	/* A missing file and drop-in directory change nothing. */
	ConfError err = {};
	assert_int_equal(fcopy_settings_load(&f->s, f->c.file, f->c.dropins, &err), 0);
	assert_int_equal(f->s.file_mode, 0644);

	assert_int_equal(fcopy_settings_policy(&f->s, &p), 0);
	assert_null(p.allowed_roots);
	assert_int_equal(p.file_mode, 0644);
	assert_int_equal(p.dir_mode, 0755);
	assert_false(p.set_owner);
	assert_false(p.no_tmpfile);
}

static void test_every_key(void **state)
{
	Fixture *f = *state;
	ConfError err = {};
	FcopyPolicy p;

	test_write_text(f->c.file, "[kvp]\n"
				   "file_mode = 0777\n"
				   "[fcopy]\n"
				   "allowed_roots = /srv/incoming  /home/shared/\n"
				   "file_mode = 0600\n"
				   "dir_mode = 0700\n"
				   "owner = 1234\n"
				   "group = 4321\n"
				   "log_level = debug\n");
	assert_int_equal(mkdir(f->c.dropins, 0755), 0);
	test_write_text(f->c.dropin, "[fcopy]\nfile_mode = 0640\n");

	assert_int_equal(fcopy_settings_load(&f->s, f->c.file, f->c.dropins, &err), 0);
	assert_non_null(f->s.allowed_roots);
	assert_string_equal(f->s.allowed_roots[0], "/srv/incoming");
	assert_string_equal(f->s.allowed_roots[1], "/home/shared/");
	assert_null(f->s.allowed_roots[2]);
	assert_int_equal(f->s.file_mode, 0640); /* the drop-in wins */
	assert_int_equal(f->s.dir_mode, 0700);
	assert_string_equal(f->s.owner, "1234");
	assert_string_equal(f->s.group, "4321");
	assert_int_equal(f->s.log_level, LOG_DEBUG);

	assert_int_equal(fcopy_settings_policy(&f->s, &p), 0);
	assert_non_null(p.allowed_roots);
	assert_string_equal(p.allowed_roots[0], "/srv/incoming");
	assert_string_equal(p.allowed_roots[1], "/home/shared/");
	assert_null(p.allowed_roots[2]);
	assert_int_equal(p.file_mode, 0640);
	assert_int_equal(p.dir_mode, 0700);
	assert_true(p.set_owner);
	assert_int_equal(p.uid, 1234);
	assert_int_equal(p.gid, 4321);
}

static void test_empty_roots_mean_anywhere(void **state)
{
	Fixture *f = *state;
	ConfError err = {};
	FcopyPolicy p;

	test_write_text(f->c.file, "[fcopy]\nallowed_roots = /srv\nallowed_roots =\n");
	assert_int_equal(fcopy_settings_load(&f->s, f->c.file, NULL, &err), 0);
	assert_int_equal(fcopy_settings_policy(&f->s, &p), 0);
	assert_null(p.allowed_roots);
}

static void expect_rejected(Fixture *f, const char *text, unsigned line, const char *key)
{
	ConfError err = {};

	test_write_text(f->c.file, text);
	fcopy_settings_done(&f->s);
	assert_int_equal(fcopy_settings_init(&f->s), 0);
	assert_int_equal(fcopy_settings_load(&f->s, f->c.file, NULL, &err), -EINVAL);
	test_conf_error_check(&err, f->c.file, line, key);
}

static void test_bad_values(void **state)
{
	Fixture *f = *state;

	expect_rejected(f, "[fcopy]\nfile_mode = 0644\nfile_mode = 999\n", 3, "file_mode");
	expect_rejected(f, "[fcopy]\nfile_mode = 0\n", 2, "file_mode");
	expect_rejected(f, "[fcopy]\nfile_mode = 010000\n", 2, "file_mode");
	expect_rejected(f, "# comment\n[fcopy]\n\ndir_mode = rwx\n", 4, "dir_mode");
	expect_rejected(f, "[fcopy]\nlog_level = loud\n", 2, "log_level");
	/* Relative roots are only seen once all files are merged: line 0. */
	expect_rejected(f, "[fcopy]\nallowed_roots = /srv srv/relative\n", 0, "allowed_roots");
}

static void test_owner_names(void **state)
{
	Fixture *f = *state;
	ConfError err = {};
	FcopyPolicy p;

	test_write_text(f->c.file, "[fcopy]\nowner = root\ngroup = root\n");
	assert_int_equal(fcopy_settings_load(&f->s, f->c.file, NULL, &err), 0);
	assert_int_equal(fcopy_settings_policy(&f->s, &p), 0);
	assert_true(p.set_owner);
	assert_int_equal(p.uid, 0);
	assert_int_equal(p.gid, 0);

	/* Group only: the owner stays the daemon's. */
	test_write_text(f->c.file, "[fcopy]\nowner =\ngroup = 77\n");
	assert_int_equal(fcopy_settings_load(&f->s, f->c.file, NULL, &err), 0);
	assert_int_equal(fcopy_settings_policy(&f->s, &p), 0);
	assert_true(p.set_owner);
	assert_int_equal(p.uid, geteuid());
	assert_int_equal(p.gid, 77);

	test_write_text(f->c.file, "[fcopy]\nowner = no-such-user-hvguest\ngroup =\n");
	assert_int_equal(fcopy_settings_load(&f->s, f->c.file, NULL, &err), 0);
	assert_int_equal(fcopy_settings_policy(&f->s, &p), -ESRCH);

	test_write_text(f->c.file, "[fcopy]\nowner =\ngroup = no-such-group-hvguest\n");
	assert_int_equal(fcopy_settings_load(&f->s, f->c.file, NULL, &err), 0);
	assert_int_equal(fcopy_settings_policy(&f->s, &p), -ESRCH);
}

static void test_uio_fds(void **state)
{
	static const char *const bad[] = { "",	   "3",	  "3,",	  ",4",	 "-1,4",
					   "3,-4", "3,3", "3,4x", "3;4", "99999999999,4",
					   "a,b",  " 3,4" };
	int ring = -1, irq = -1;

	assert_int_equal(fcopy_settings_parse_uio_fds("3,4", &ring, &irq), 0);
	assert_int_equal(ring, 3);
	assert_int_equal(irq, 4);
	assert_int_equal(fcopy_settings_parse_uio_fds("10,0", &ring, &irq), 0);
	assert_int_equal(ring, 10);
	assert_int_equal(irq, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ring = irq = -7;
		assert_int_equal(fcopy_settings_parse_uio_fds(bad[i], &ring, &irq), -EINVAL);
		assert_int_equal(ring, -7);
		assert_int_equal(irq, -7);
	}
	assert_int_equal(fcopy_settings_parse_uio_fds(NULL, &ring, &irq), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_roots_mean_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uio_fds, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
