/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "timesync/timesync-coexist.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	char *dir = strdup("/tmp/test-timesync-coexist-XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(*state);
	return 0;
}

/* PROC/name/comm with content comm (NULL: the directory only). */
static void add_proc(const char *proc, const char *name, const char *comm)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", proc, name);
	assert_int_equal(mkdir(path, 0755), 0);
	if (!comm)
		return;
	snprintf(path, sizeof(path), "%s/%s/comm", proc, name);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_true(fputs(comm, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void test_none(void **state)
{
	const char *proc = *state;
	char name[32] = "unchanged";

	/* Empty /proc, then ordinary processes, kernel-ish and ptp4l alone. */
	assert_int_equal(timesync_find_competitor(proc, name, sizeof(name)), 0);
	add_proc(proc, "1", "systemd\n");
	add_proc(proc, "2", "kthreadd\n");
	add_proc(proc, "77", "ptp4l\n");
	add_proc(proc, "78", "chronyc\n");	  /* the client, not the daemon */
	add_proc(proc, "79", "systemd-timesy\n"); /* one character short */
	add_proc(proc, "80", NULL);		  /* exited: no comm */
	assert_int_equal(timesync_find_competitor(proc, name, sizeof(name)), 0);
	assert_string_equal(name, "unchanged");
}

static void test_each_competitor(void **state)
{
	static const struct {
		const char *comm, *service;
	} cases[] = {
		{ "chronyd\n", "chronyd" },
		{ "ntpd\n", "ntpd" },
		{ "systemd-timesyn\n", "systemd-timesyncd" },
		{ "phc2sys\n", "phc2sys" },
		{ "phc2sys", "phc2sys" }, /* no newline */
	};
	const char *proc = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[64], name[32] = "";

		snprintf(dir, sizeof(dir), "%zu", 1000 + i);
		add_proc(proc, dir, cases[i].comm);
		assert_int_equal(timesync_find_competitor(proc, name, sizeof(name)), 1);
		assert_string_equal(name, cases[i].service);
		/* NULL name is fine. */
		assert_int_equal(timesync_find_competitor(proc, NULL, 0), 1);

		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s/comm", proc, dir);
		assert_int_equal(unlink(path), 0);
		snprintf(path, sizeof(path), "%s/%s", proc, dir);
		assert_int_equal(rmdir(path), 0);
		assert_int_equal(timesync_find_competitor(proc, NULL, 0), 0);
	}
}

static void test_ignored_entries(void **state)
{
	const char *proc = *state;
	char self[32], name[32] = "";

	/* Non-numeric and odd names are not processes even with a matching comm. */
	add_proc(proc, "self", "chronyd\n");
	add_proc(proc, "thread-self", "chronyd\n");
	add_proc(proc, "12a", "chronyd\n");
	add_proc(proc, "0", "chronyd\n");
	add_proc(proc, "099", "chronyd\n");
	/* Our own process (a test binary named like a competitor would look like one). */
	snprintf(self, sizeof(self), "%ld", (long)getpid());
	add_proc(proc, self, "ntpd\n");
	assert_int_equal(timesync_find_competitor(proc, name, sizeof(name)), 0);

	add_proc(proc, "4242", "systemd-timesyn\n");
	assert_int_equal(timesync_find_competitor(proc, name, sizeof(name)), 1);
	assert_string_equal(name, "systemd-timesyncd");
}

static void test_lowest_pid_and_buffer(void **state)
{
	const char *proc = *state;
	char name[32] = "", small[8] = "";

	add_proc(proc, "900", "phc2sys\n");
	add_proc(proc, "90", "chronyd\n");
	add_proc(proc, "9000", "ntpd\n");
	assert_int_equal(timesync_find_competitor(proc, name, sizeof(name)), 1);
	assert_string_equal(name, "chronyd");

	/* "chronyd" needs 8 bytes: fits exactly; 7 does not. */
	assert_int_equal(timesync_find_competitor(proc, small, sizeof(small)), 1);
	assert_string_equal(small, "chronyd");
	assert_int_equal(timesync_find_competitor(proc, small, 7), -ENOBUFS);
}

static void test_missing_proc(void **state)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/nonexistent", (const char *)*state);
	assert_int_equal(timesync_find_competitor(path, NULL, 0), -ENOENT);
}

static void test_is_competitor_comm(void **state)
{
	assert_true(timesync_is_competitor_comm("chronyd"));
	assert_true(timesync_is_competitor_comm("ntpd"));
	assert_true(timesync_is_competitor_comm("systemd-timesyn"));
	assert_true(timesync_is_competitor_comm("phc2sys"));
	assert_false(timesync_is_competitor_comm("ptp4l"));
	assert_false(timesync_is_competitor_comm("chronyd\n"));
	assert_false(timesync_is_competitor_comm(""));
	assert_false(timesync_is_competitor_comm(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_competitor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignored_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lowest_pid_and_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_proc, setup, teardown),
		cmocka_unit_test(test_is_competitor_comm),
	};

	return cmocka_run_group_tests_name("timesync-coexist", tests, NULL, NULL);
}
