/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of "hvctl vss plan" ($HVCTL) on saved mount tables, configuration files
 * and a fake sysfs tree: exact text and JSON output, globs from the command line and from
 * [vss], stacked ordering through --sys-root, errors and exit codes, and one run on this
 * machine's own mount table (planning only: nothing is ever frozen).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "common/test-conf-util.h"
#include "ctl/test-ctl-util.h"

typedef struct Ctx {
	char dir[64];
	char mountinfo[128], conf[128], sys[128];
	HvctlRun run;
} Ctx;

/* A Debian-like table with a bind mount, a ro mount, a newline in a path and one bad line. */
static const char fixture[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
			      "23 22 0:21 / /proc rw - proc proc rw\n"
			      "24 22 8:15 / /boot/efi rw - vfat /dev/sda15 rw\n"
			      "25 22 8:1 /srv /srv rw - ext4 /dev/sda1 rw\n"
			      "26 22 8:17 / /mnt/a\\012b ro - xfs /dev/sdb1 rw\n"
			      "bad line\n";

static int setup(void **state)
{
	Ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_non_null(getenv("HVCTL"));
	snprintf(c->dir, sizeof(c->dir), "/tmp/test-ctl-vss-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->mountinfo, sizeof(c->mountinfo), "%s/mountinfo", c->dir);
	snprintf(c->conf, sizeof(c->conf), "%s/hvguest.conf", c->dir);
	snprintf(c->sys, sizeof(c->sys), "%s/root", c->dir);
	test_write_text(c->mountinfo, fixture);
	test_write_text(c->conf, "");
	*state = c;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	Ctx *c = *state;

	assert_int_equal(nftw(c->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(c);
	return 0;
}

/* $HVCTL args... into c->run. */
#define RUN(c, ...) HVCTL_RUN(&(c)->run, NULL, __VA_ARGS__)

static void test_text(void **state)
{
	Ctx *c = *state;

	/* --sys-root "": no block device relations, so no sysfs of this machine leaks in. */
	assert_int_equal(RUN(c, "vss", "plan", "--mountinfo", c->mountinfo, "--config", c->conf,
			     "--sys-root", ""),
			 0);
	assert_string_equal(
		c->run.out,
		"MOUNT POINT  TYPE  DEVICE  VERDICT        REASON\n"
		"/            ext4  8:1     freeze         writable ext4 on block device 8:1\n"
		"/proc        proc  0:21    pseudo         proc has no backing storage\n"
		"/boot/efi    vfat  8:15    cannot-freeze  vfat cannot be frozen: this writable "
		"filesystem is only crash-consistent in a backup; exclude it to allow "
		"application-consistent backups\n"
		"/srv         ext4  8:1     duplicate      same filesystem (8:1) as '/', which "
		"decides for it\n"
		"/mnt/a\\x0ab  xfs   8:17    freeze         writable xfs on block device 8:17 "
		"(through a read-only mount: the writable filesystem behind it is frozen)\n"
		"\n"
		"Freeze order (thaw in reverse):\n"
		"  level 0: / /mnt/a\\x0ab\n"
		"Application-consistent backup: not possible (a writable filesystem in scope "
		"cannot be frozen, see 'cannot-freeze')\n");
	hvctl_assert_contains(c->run.err, "Warning: 1 malformed line(s) of '");
	hvctl_assert_contains(c->run.err, "/mountinfo' ignored.");
}

static void test_json_and_command_line_globs(void **state)
{
	Ctx *c = *state;

	assert_int_equal(RUN(c, "--json", "vss", "plan", "--mountinfo", c->mountinfo, "--config",
			     c->conf, "--sys-root", "", "--exclude", "vfat", "--exclude", "/mnt/*"),
			 0);
	assert_string_equal(
		c->run.out,
		"{\"mounts\":["
		"{\"path\":\"/\",\"type\":\"ext4\",\"source\":\"/dev/sda1\",\"device\":\"8:1\","
		"\"verdict\":\"freeze\",\"level\":0,"
		"\"reason\":\"writable ext4 on block device 8:1\"},"
		"{\"path\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"device\":\"0:21\","
		"\"verdict\":\"pseudo\",\"reason\":\"proc has no backing storage\"},"
		"{\"path\":\"/boot/efi\",\"type\":\"vfat\",\"source\":\"/dev/sda15\","
		"\"device\":\"8:15\",\"verdict\":\"excluded\","
		"\"reason\":\"type matches exclude_types pattern 'vfat'\"},"
		"{\"path\":\"/srv\",\"type\":\"ext4\",\"source\":\"/dev/sda1\",\"device\":\"8:1\","
		"\"verdict\":\"duplicate\",\"same_as\":\"/\","
		"\"reason\":\"same filesystem (8:1) as '/', which decides for it\"},"
		"{\"path\":\"/mnt/a\\u000ab\",\"type\":\"xfs\",\"source\":\"/dev/sdb1\","
		"\"device\":\"8:17\",\"verdict\":\"excluded\","
		"\"reason\":\"mount point matches exclude_mounts pattern '/mnt/*'\"}],"
		"\"levels\":[[\"/\"]],\"consistent\":true}\n");
}

static void test_config_file(void **state)
{
	Ctx *c = *state;

	/* The daemon's other [vss] keys are known here too: no unknown-key warning. */
	test_write_text(c->conf,
			"[kvp]\nlock_timeout = 2s\n\n[vss]\n# globs\nexclude_types = vfat msdos\n"
			"include_mounts = / /boot/*\nfreeze_timeout = 5s\nhook_failure = ignore\n");
	assert_int_equal(RUN(c, "vss", "plan", "--json", "--mountinfo", c->mountinfo, "--config",
			     c->conf, "--sys-root", ""),
			 0);
	hvctl_assert_contains(c->run.out,
			      "\"reason\":\"type matches exclude_types pattern 'vfat'\"");
	hvctl_assert_contains(c->run.out,
			      "\"reason\":\"mount point matches no include_mounts pattern\"}");
	hvctl_assert_contains(c->run.out, "\"levels\":[[\"/\"]],\"consistent\":true}");
	hvctl_assert_contains(c->run.err, "Warning: 1 malformed line(s) of '");
	assert_null(strstr(c->run.err, "nknown"));
}

static void test_stacked_with_sys_root(void **state)
{
	Ctx *c = *state;
	char path[256];

	/* /mnt/i is a loop device over a file on /data. */
	test_write_text(c->mountinfo, "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				      "23 22 7:0 / /mnt/i rw - ext4 /dev/loop0 rw\n"
				      "24 22 8:17 / /data rw - xfs /dev/sdb1 rw\n");
	snprintf(path, sizeof(path), "%s/sys/dev/block/8:1", c->sys);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys/dev/block/8:17", c->sys);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys/dev/block/7:0/loop", c->sys);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys/dev/block/7:0/loop/backing_file", c->sys);
	test_write_text(path, "/data/images/i.img\n");

	assert_int_equal(RUN(c, "vss", "plan", "--mountinfo", c->mountinfo, "--config", c->conf,
			     "--sys-root", c->sys),
			 0);
	hvctl_assert_contains(c->run.out, "Freeze order (thaw in reverse):\n"
					  "  level 0: / /mnt/i\n"
					  "  level 1: /data\n"
					  "Application-consistent backup: possible\n");
	hvctl_assert_contains(c->run.out,
			      "stored in '/data/images/i.img' on '/data': frozen before it, "
			      "thawed after it");
	assert_string_equal(c->run.err, "");

	assert_int_equal(RUN(c, "vss", "plan", "-j", "--mountinfo", c->mountinfo, "--config",
			     c->conf, "--sys-root", c->sys),
			 0);
	hvctl_assert_contains(c->run.out,
			      "\"levels\":[[\"/\",\"/mnt/i\"],[\"/data\"]],\"consistent\":true}");
	hvctl_assert_contains(c->run.out,
			      "\"path\":\"/data\",\"type\":\"xfs\",\"source\":\"/dev/sdb1\","
			      "\"device\":\"8:17\",\"verdict\":\"freeze\",\"level\":1,");
}

static void test_errors(void **state)
{
	Ctx *c = *state;
	char missing[160];

	snprintf(missing, sizeof(missing), "%s/none", c->dir);
	assert_int_equal(RUN(c, "vss", "plan", "--mountinfo", missing, "--config", c->conf), 3);
	assert_string_equal(c->run.out, "");
	hvctl_assert_contains(c->run.err, "Cannot read the mount table");

	test_write_text(c->conf, "[vss]\nexclude_types\n");
	assert_int_equal(RUN(c, "vss", "plan", "--mountinfo", c->mountinfo, "--config", c->conf),
			 3);
	assert_string_equal(c->run.out, "");
	hvctl_assert_contains(c->run.err, "Invalid configuration");
	hvctl_assert_contains(c->run.err, "hvguest.conf:2");

	assert_int_equal(RUN(c, "vss"), 2);
	hvctl_assert_contains(c->run.err, "'vss' needs a command (plan, status).");
	assert_int_equal(RUN(c, "vss", "plan", "extra"), 2);
	assert_int_equal(RUN(c, "vss", "plan", "--include", ""), 2);
	hvctl_assert_contains(c->run.err, "Empty --include glob.");
	assert_int_equal(RUN(c, "vss", "frobnicate"), 2);
}

static void test_this_machine(void **state)
{
	Ctx *c = *state;

	/* Planning only: reads /proc/self/mountinfo and sysfs, opens no mount point. */
	assert_int_equal(RUN(c, "vss", "plan", "--config", "/dev/null"), 0);
	hvctl_assert_contains(c->run.out, "MOUNT POINT");
	hvctl_assert_contains(c->run.out, "Application-consistent backup: ");
	assert_int_equal(RUN(c, "vss", "plan", "--config", "/dev/null", "--json"), 0);
	hvctl_assert_contains(c->run.out, "{\"mounts\":[{\"path\":\"");
	hvctl_assert_contains(c->run.out, "\"consistent\":");
}

static void test_status(void **state)
{
	Ctx *c = *state;
	char path[600];

	/* Before any backup: exit 1 and say why. */
	assert_int_equal(RUN(c, "--run-dir", c->dir, "vss", "status"), 1);
	snprintf(path, sizeof(path), "%s/vss-status", c->dir);
	test_write_text(path, "id=1700000000-42\nresult=deadline\nerror=0\nfrozen=2\n"
			      "mount=/mnt/a b\nmount=/srv\nhooks=50-pg freeze ok 0.1s\n");
	assert_int_equal(RUN(c, "--run-dir", c->dir, "vss", "status"), 0);
	hvctl_assert_contains(c->run.out, "result        deadline");
	hvctl_assert_contains(c->run.out, "mount         /mnt/a b");
	assert_int_equal(RUN(c, "--run-dir", c->dir, "--json", "vss", "status"), 0);
	hvctl_assert_contains(c->run.out, "{\"id\":\"1700000000-42\",\"result\":\"deadline\"");
	hvctl_assert_contains(c->run.out, "\"mounts\":[\"/mnt/a b\",\"/srv\"]}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_and_command_line_globs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stacked_with_sys_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_this_machine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
