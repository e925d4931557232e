/* SPDX-License-Identifier: MIT */
/*
 * Tests of the FREEZE/THAW safety gate on fixture mountinfo text, with a fake resolver for
 * mount sources.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "hostsim/hostsim-vss-gate.h"

/* What a pivot_root jail shows: only the loop filesystem can be frozen. */
#define JAIL                                                                                 \
	"300 250 0:71 / / rw,relatime - tmpfs jail rw,size=65536k\n"                         \
	"301 300 0:22 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"              \
	"302 300 0:72 / /dev rw,relatime shared:5 - tmpfs dev rw,mode=755\n"                 \
	"303 302 0:73 / /dev/vmbus rw,nosuid,nodev,relatime - fuse.hvguest-sim hvguest-sim " \
	"rw,user_id=0,group_id=0\n"                                                          \
	"304 300 7:3 / /mnt/data rw,relatime shared:7 master:1 - ext4 /dev/loop3 rw\n"

static int fake_source_rdev(void *userdata, const char *source, dev_t *ret)
{
	unsigned *calls = userdata;

	(*calls)++;
	if (strcmp(source, "/dev/loop4") == 0) {
		*ret = makedev(7, 4);
		return 0;
	}
	if (strcmp(source, "/dev/sda2") == 0) {
		*ret = makedev(8, 2);
		return 0;
	}
	return -ENOENT;
}

static int check(const char *text, const dev_t *allowed, size_t n, char *reason, size_t reason_size)
{
	unsigned calls = 0;

	return hs_vss_gate_check(text, allowed, n, fake_source_rdev, &calls, reason, reason_size);
}

static void test_plain_machine_is_refused(void **state)
{
	const char *text =
		"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
		"23 22 0:5 / /proc rw - proc proc rw\n";
	const dev_t loop3 = makedev(7, 3);
	char reason[256] = "";

	assert_int_equal(check(text, NULL, 0, reason, sizeof(reason)), -EPERM);
	assert_non_null(strstr(reason, "'/'"));
	assert_non_null(strstr(reason, "ext4"));
	assert_non_null(strstr(reason, "/dev/sda1"));
	assert_non_null(strstr(reason, "8:1"));
	/* Allowing a test device does not make the machine's root acceptable. */
	assert_int_equal(check(text, &loop3, 1, NULL, 0), -EPERM);
}

static void test_jail_with_allowed_loop(void **state)
{
	const dev_t allowed[] = { makedev(7, 9), makedev(7, 3) };
	char reason[256] = "";

	assert_int_equal(check(JAIL, allowed, 2, reason, sizeof(reason)), 0);
	/* Not allowed: refused, naming the mount. */
	assert_int_equal(check(JAIL, allowed, 1, reason, sizeof(reason)), -EPERM);
	assert_non_null(strstr(reason, "'/mnt/data'"));
	assert_non_null(strstr(reason, "not an allowed test device"));
}

static void test_root_never_passes(void **state)
{
	const char *text = "1 0 7:3 / / rw - ext4 /dev/loop3 rw\n";
	const dev_t loop3 = makedev(7, 3);
	char reason[256] = "";

	assert_int_equal(check(text, &loop3, 1, reason, sizeof(reason)), -EPERM);
	assert_non_null(strstr(reason, "the root"));
}

static void test_btrfs_matched_by_source(void **state)
{
	const char *text = "300 250 0:71 / / rw - tmpfs jail rw\n"
			   "310 300 0:45 /sub /mnt/b rw - btrfs /dev/loop4 rw,subvol=/sub\n";
	const dev_t loop4 = makedev(7, 4), loop5 = makedev(7, 5);
	const char *unresolvable = "300 250 0:71 / / rw - tmpfs jail rw\n"
				   "310 300 0:46 / /mnt/c rw - btrfs /dev/loop9 rw\n";
	/* A non-zero major is authoritative: the source must not rescue a foreign device. */
	const char *foreign = "300 250 0:71 / / rw - tmpfs jail rw\n"
			      "311 300 8:2 / /mnt/d rw - ext4 /dev/loop4 rw\n";
	unsigned calls = 0;

	assert_int_equal(hs_vss_gate_check(text, &loop4, 1, fake_source_rdev, &calls, NULL, 0), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(check(text, &loop5, 1, NULL, 0), -EPERM);
	assert_int_equal(check(unresolvable, &loop4, 1, NULL, 0), -EPERM);
	assert_int_equal(check(foreign, &loop4, 1, NULL, 0), -EPERM);
	/* Without a resolver btrfs cannot be proven safe. */
	assert_int_equal(hs_vss_gate_check(text, &loop4, 1, NULL, NULL, NULL, 0), -EPERM);
}

static void test_escapes_and_optional_fields(void **state)
{
	const char *text =
		"300 250 0:71 / / rw - tmpfs jail rw\n"
		"320 300 7:6 / /mnt/with\\040space rw shared:3 master:4 propagate_from:1 "
		"unbindable - xfs /dev/loop6 rw\n";
	const dev_t loop6 = makedev(7, 6);
	char reason[256] = "";

	assert_int_equal(check(text, &loop6, 1, NULL, 0), 0);
	assert_int_equal(check(text, NULL, 0, reason, sizeof(reason)), -EPERM);
	assert_non_null(strstr(reason, "'/mnt/with space'"));
}

static void test_types(void **state)
{
	const char *inert[] = { "tmpfs",   "proc",	  "sysfs",     "devtmpfs",   "cgroup2",
				"devpts",  "mqueue",	  "fuse",      "fuse.sshfs", "fusectl",
				"tracefs", "binfmt_misc", "hugetlbfs", "ramfs" };
	const char *candidates[] = { "ext4", "xfs",	"btrfs", "vfat", "overlay",
				     "nfs4", "fuseblk", "zfs",	 "f2fs", "" };

	for (size_t i = 0; i < sizeof(inert) / sizeof(inert[0]); i++)
		assert_true(hs_vss_gate_type_is_inert(inert[i]));
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		assert_false(hs_vss_gate_type_is_inert(candidates[i]));

	/* Remote and layered filesystems must be allowed explicitly, like any other. */
	assert_int_equal(check("300 250 0:71 / / rw - tmpfs jail rw\n"
			       "330 300 0:80 / /mnt/nfs rw - nfs4 server:/export rw\n",
			       NULL, 0, NULL, 0),
			 -EPERM);
	assert_int_equal(check("300 250 0:71 / / rw - tmpfs jail rw\n"
			       "331 300 0:81 / /merged rw - overlay overlay rw,lowerdir=/a\n",
			       NULL, 0, NULL, 0),
			 -EPERM);
}

static void test_malformed(void **state)
{
	const dev_t loop3 = makedev(7, 3);

	assert_int_equal(check("", NULL, 0, NULL, 0), 0);
	assert_int_equal(check("garbage\n", NULL, 0, NULL, 0), -EBADMSG);
	assert_int_equal(check("1 0 7:3 / /mnt rw - ext4\n", NULL, 0, NULL, 0), -EBADMSG);
	assert_int_equal(check("1 0 7:3 / /mnt rw ext4 /dev/loop3 rw\n", NULL, 0, NULL, 0),
			 -EBADMSG);
	assert_int_equal(check("1 0 x:y / /mnt rw - tmpfs t rw\n", NULL, 0, NULL, 0), -EBADMSG);
	/* A bad line anywhere refuses the whole table. */
	assert_int_equal(check(JAIL, &loop3, 1, NULL, 0), 0);
	assert_int_equal(check(JAIL "oops\n", &loop3, 1, NULL, 0), -EBADMSG);
	assert_int_equal(hs_vss_gate_check(NULL, NULL, 0, NULL, NULL, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_machine_is_refused),
		cmocka_unit_test(test_jail_with_allowed_loop),
		cmocka_unit_test(test_root_never_passes),
		cmocka_unit_test(test_btrfs_matched_by_source),
		cmocka_unit_test(test_escapes_and_optional_fields),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests_name("hostsim-vss-gate", tests, NULL, NULL);
}
