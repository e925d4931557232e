/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of "hvctl vss plan" ($HVCTL) on saved mount tables, configuration files
 * and a fake sysfs tree: exact text and JSON output, globs from the command line and from
 * [vss], stacked ordering through --sys-root, errors and exit codes, and one run on this
 * machine's own mount table (planning only: nothing is ever frozen).
 */
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/fileio.h"
#include "common/macro.h"

extern char **environ;

#define OUT_MAX 32768

typedef struct Ctx {
	char dir[64];
	char mountinfo[128], conf[128], sys[128];
	int status;
	char out[OUT_MAX], err[OUT_MAX];
} Ctx;

/* A Debian-like table with a bind mount, a ro mount, a newline in a path and one bad line. */
static const char fixture[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
			      "23 22 0:21 / /proc rw - proc proc rw\n"
			      "24 22 8:15 / /boot/efi rw - vfat /dev/sda15 rw\n"
			      "25 22 8:1 /srv /srv rw - ext4 /dev/sda1 rw\n"
			      "26 22 8:17 / /mnt/a\\012b ro - xfs /dev/sdb1 rw\n"
			      "bad line\n";

static void put(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(loop_write(fd, content, strlen(content)), 0);
	close(fd);
}

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
	put(c->mountinfo, fixture);
	put(c->conf, "");
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

/* Runs $HVCTL args... to completion; output in c->out/c->err, exit status returned. */
static int run_argv(Ctx *c, const char *const *args)
{
	posix_spawn_file_actions_t fa;
	char *argv[32];
	int out[2], err[2];
	size_t n = 0, len[2] = { 0, 0 };
	char *buf[2] = { c->out, c->err };
	struct pollfd p[2];
	int status;
	pid_t pid;

	argv[n++] = getenv("HVCTL");
	for (size_t i = 0; args[i]; i++) {
		assert_true(n < ELEMENTSOF(argv) - 1);
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO), 0);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	p[0] = (struct pollfd){ .fd = out[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = err[0], .events = POLLIN };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		assert_true(poll(p, 2, 10000) > 0);
		for (int i = 0; i < 2; i++) {
			ssize_t k;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			k = read(p[i].fd, buf[i] + len[i], OUT_MAX - 1 - len[i]);
			assert_true(k >= 0);
			if (k == 0) {
				close(p[i].fd);
				p[i].fd = -1;
			}
			len[i] += (size_t)k;
		}
	}
	c->out[len[0]] = '\0';
	c->err[len[1]] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	c->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return c->status;
}

#define RUN(c, ...) run_argv((c), (const char *const[]){ __VA_ARGS__, NULL })

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' not found in:\n%s", needle, haystack);
}

static void test_text(void **state)
{
	Ctx *c = *state;

	/* --sys-root "": no block device relations, so no sysfs of this machine leaks in. */
	assert_int_equal(RUN(c, "vss", "plan", "--mountinfo", c->mountinfo, "--config", c->conf,
			     "--sys-root", ""),
			 0);
	assert_string_equal(
		c->out,
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
	assert_contains(c->err, "Warning: 1 malformed line(s) of '");
	assert_contains(c->err, "/mountinfo' ignored.");
}

static void test_json_and_command_line_globs(void **state)
{
	Ctx *c = *state;

	assert_int_equal(RUN(c, "--json", "vss", "plan", "--mountinfo", c->mountinfo, "--config",
			     c->conf, "--sys-root", "", "--exclude", "vfat", "--exclude", "/mnt/*"),
			 0);
	assert_string_equal(
		c->out,
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
	put(c->conf, "[kvp]\nlock_timeout = 2s\n\n[vss]\n# globs\nexclude_types = vfat msdos\n"
		     "include_mounts = / /boot/*\nfreeze_timeout = 5s\nhook_failure = ignore\n");
	assert_int_equal(RUN(c, "vss", "plan", "--json", "--mountinfo", c->mountinfo, "--config",
			     c->conf, "--sys-root", ""),
			 0);
	assert_contains(c->out, "\"reason\":\"type matches exclude_types pattern 'vfat'\"");
	assert_contains(c->out, "\"reason\":\"mount point matches no include_mounts pattern\"}");
	assert_contains(c->out, "\"levels\":[[\"/\"]],\"consistent\":true}");
	assert_contains(c->err, "Warning: 1 malformed line(s) of '");
	assert_null(strstr(c->err, "nknown"));
}

static void test_stacked_with_sys_root(void **state)
{
	Ctx *c = *state;
	char path[256];

	/* /mnt/i is a loop device over a file on /data. */
	put(c->mountinfo, "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
			  "23 22 7:0 / /mnt/i rw - ext4 /dev/loop0 rw\n"
			  "24 22 8:17 / /data rw - xfs /dev/sdb1 rw\n");
	snprintf(path, sizeof(path), "%s/sys/dev/block/8:1", c->sys);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys/dev/block/8:17", c->sys);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys/dev/block/7:0/loop", c->sys);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys/dev/block/7:0/loop/backing_file", c->sys);
	put(path, "/data/images/i.img\n");

	assert_int_equal(RUN(c, "vss", "plan", "--mountinfo", c->mountinfo, "--config", c->conf,
			     "--sys-root", c->sys),
			 0);
	assert_contains(c->out, "Freeze order (thaw in reverse):\n"
				"  level 0: / /mnt/i\n"
				"  level 1: /data\n"
				"Application-consistent backup: possible\n");
	assert_contains(c->out, "stored in '/data/images/i.img' on '/data': frozen before it, "
				"thawed after it");
	assert_string_equal(c->err, "");

	assert_int_equal(RUN(c, "vss", "plan", "-j", "--mountinfo", c->mountinfo, "--config",
			     c->conf, "--sys-root", c->sys),
			 0);
	assert_contains(c->out, "\"levels\":[[\"/\",\"/mnt/i\"],[\"/data\"]],\"consistent\":true}");
	assert_contains(c->out, "\"path\":\"/data\",\"type\":\"xfs\",\"source\":\"/dev/sdb1\","
				"\"device\":\"8:17\",\"verdict\":\"freeze\",\"level\":1,");
}

static void test_errors(void **state)
{
	Ctx *c = *state;
	char missing[160];

	snprintf(missing, sizeof(missing), "%s/none", c->dir);
	assert_int_equal(RUN(c, "vss", "plan", "--mountinfo", missing, "--config", c->conf), 3);
	assert_string_equal(c->out, "");
	assert_contains(c->err, "Cannot read the mount table");

	put(c->conf, "[vss]\nexclude_types\n");
	assert_int_equal(RUN(c, "vss", "plan", "--mountinfo", c->mountinfo, "--config", c->conf),
			 3);
	assert_string_equal(c->out, "");
	assert_contains(c->err, "Invalid configuration");
	assert_contains(c->err, "hvguest.conf:2");

	assert_int_equal(RUN(c, "vss"), 2);
	assert_contains(c->err, "'vss' needs a command (plan, status).");
	assert_int_equal(RUN(c, "vss", "plan", "extra"), 2);
	assert_int_equal(RUN(c, "vss", "plan", "--include", ""), 2);
	assert_contains(c->err, "Empty --include glob.");
	assert_int_equal(RUN(c, "vss", "frobnicate"), 2);
}

static void test_this_machine(void **state)
{
	Ctx *c = *state;

	/* Planning only: reads /proc/self/mountinfo and sysfs, opens no mount point. */
	assert_int_equal(RUN(c, "vss", "plan", "--config", "/dev/null"), 0);
	assert_contains(c->out, "MOUNT POINT");
	assert_contains(c->out, "Application-consistent backup: ");
	assert_int_equal(RUN(c, "vss", "plan", "--config", "/dev/null", "--json"), 0);
	assert_contains(c->out, "{\"mounts\":[{\"path\":\"");
	assert_contains(c->out, "\"consistent\":");
}

static void test_status(void **state)
{
	Ctx *c = *state;
	char path[600];

	/* Before any backup: exit 1 and say why. */
	assert_int_equal(RUN(c, "--run-dir", c->dir, "vss", "status"), 1);
	snprintf(path, sizeof(path), "%s/vss-status", c->dir);
	put(path, "id=1700000000-42\nresult=deadline\nerror=0\nfrozen=2\n"
		  "mount=/mnt/a b\nmount=/srv\nhooks=50-pg freeze ok 0.1s\n");
	assert_int_equal(RUN(c, "--run-dir", c->dir, "vss", "status"), 0);
	assert_contains(c->out, "result        deadline");
	assert_contains(c->out, "mount         /mnt/a b");
	assert_int_equal(RUN(c, "--run-dir", c->dir, "--json", "vss", "status"), 0);
	assert_contains(c->out, "{\"id\":\"1700000000-42\",\"result\":\"deadline\"");
	assert_contains(c->out, "\"mounts\":[\"/mnt/a b\",\"/srv\"]}");
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
