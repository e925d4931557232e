/* SPDX-License-Identifier: MIT */
/* mountinfo parser: fields, escapes, optional fields, read-only flags, junk, bounds. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "vss/vss-mounts.h"

static int parse(const char *text, VssMount **m, size_t *n)
{
	return vss_mounts_parse(text, strlen(text), m, n);
}

static void test_fields(void **state)
{
	static const char text[] =
		"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
		"36 22 8:1 /srv/data /data ro,nosuid master:2 shared:3 - ext4 /dev/sda1 rw\n"
		"40 22 0:35 / /mnt/snap ro - squashfs /dev/loop0 ro,errors=continue\n";
	VssMount *m = NULL;
	size_t n = 0;

	assert_int_equal(parse(text, &m, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].mount_id, 22);
	assert_int_equal(m[0].parent_id, 1);
	assert_int_equal(m[0].major, 8);
	assert_int_equal(m[0].minor, 1);
	assert_string_equal(m[0].root, "/");
	assert_string_equal(m[0].path, "/");
	assert_string_equal(m[0].mount_options, "rw,relatime");
	assert_string_equal(m[0].fstype, "ext4");
	assert_string_equal(m[0].source, "/dev/sda1");
	assert_string_equal(m[0].super_options, "rw,errors=remount-ro");
	assert_false(m[0].mount_ro);
	assert_false(m[0].super_ro);

	/* Several optional fields; a ro bind of a rw superblock. */
	assert_string_equal(m[1].root, "/srv/data");
	assert_string_equal(m[1].path, "/data");
	assert_string_equal(m[1].fstype, "ext4");
	assert_true(m[1].mount_ro);
	assert_false(m[1].super_ro);

	assert_int_equal(m[2].major, 0);
	assert_int_equal(m[2].minor, 35);
	assert_true(m[2].mount_ro);
	assert_true(m[2].super_ro);
	vss_mounts_free(m, n);
}

static void test_escapes(void **state)
{
	/* The kernel writes ' ' \t \n \\ as \040 \011 \012 \134. */
	static const char text[] = "50 22 8:17 /a\\040b /mnt/my\\040disk\\011x\\012y\\134z rw - "
				   "xfs /dev/disk\\040one rw\n"
				   "51 22 8:18 / /mnt/odd\\9\\12 rw - xfs /dev/sdb2 rw\n";
	VssMount *m = NULL;
	size_t n = 0;

	assert_int_equal(parse(text, &m, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].root, "/a b");
	assert_string_equal(m[0].path, "/mnt/my disk\tx\ny\\z");
	assert_string_equal(m[0].source, "/dev/disk one");
	/* A backslash without three octal digits stays as it is. */
	assert_string_equal(m[1].path, "/mnt/odd\\9\\12");
	vss_mounts_free(m, n);
}

static void test_empty_source_and_extra_fields(void **state)
{
	/* mount -t tmpfs "" /x gives an empty source field: two spaces in a row. */
	static const char text[] = "60 22 0:50 / /x rw - tmpfs  rw,size=10k\n"
				   "61 22 0:51 / /y rw - tmpfs none rw future-field\n"
				   "62 22 0:52 / /z rw - tmpfs none rw";
	VssMount *m = NULL;
	size_t n = 0;

	assert_int_equal(parse(text, &m, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(m[0].source, "");
	assert_string_equal(m[0].super_options, "rw,size=10k");
	assert_string_equal(m[1].super_options, "rw");
	/* Last line without a newline. */
	assert_string_equal(m[2].path, "/z");
	vss_mounts_free(m, n);
}

static void test_junk_lines(void **state)
{
	static const char *const bad[] = {
		"garbage",
		"22 1 8:1 / / rw shared:1 ext4 /dev/sda1 rw",	/* no "-" */
		"22 1 8:1 / / rw - ext4 /dev/sda1",		/* no super options */
		"x 1 8:1 / / rw - ext4 /dev/sda1 rw",		/* mount id */
		"22 1 81 / / rw - ext4 /dev/sda1 rw",		/* major:minor */
		"22 1 8: / / rw - ext4 /dev/sda1 rw",		/* minor */
		"22 1 8:1 / relative rw - ext4 /dev/sda1 rw",	/* mount point not absolute */
		"22 1 8:1 / / rw -  /dev/sda1 rw",		/* empty type */
		"22 1 8:1 / /a\\000b rw - ext4 /dev/sda1 rw",	/* escaped NUL */
		"22 1 8:1 / /a\\777 rw - ext4 /dev/sda1 rw",	/* above 0377 */
		"99999999999 1 8:1 / / rw - ext4 /dev/sda1 rw", /* above UINT_MAX */
		"22 1 8:1 / / rw",
		"22  1 8:1 / / rw - ext4 /dev/sda1 rw", /* double space in the head */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		VssMount *m = NULL;
		size_t n = 99;

		assert_int_equal(parse(bad[i], &m, &n), 1);
		assert_int_equal(n, 0);
		assert_null(m);
	}
}

static void test_junk_between_good_lines(void **state)
{
	/* A NUL byte inside a line invalidates that line only. */
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "\n"
				   "23 22 8:2 / /b\0x rw - ext4 /dev/sda2 rw\n"
				   "\xff\xfe junk\n"
				   "24 22 8:3 / /c rw - ext4 /dev/sda3 rw\n";
	VssMount *m = NULL;
	size_t n = 0;

	assert_int_equal(vss_mounts_parse(text, sizeof(text) - 1, &m, &n), 2);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].path, "/");
	assert_string_equal(m[1].path, "/c");
	vss_mounts_free(m, n);

	assert_int_equal(vss_mounts_parse("", 0, &m, &n), 0);
	assert_int_equal(n, 0);
	assert_null(m);
	assert_int_equal(vss_mounts_parse("\n\n\n", 3, &m, &n), 0);
	assert_int_equal(n, 0);
}

static void test_bounds(void **state)
{
	static const char line[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n";
	size_t l = sizeof(line) - 1, count = VSS_MOUNTS_MAX + 1;
	char *big;
	VssMount *m = NULL;
	size_t n = 0;

	assert_int_equal(vss_mounts_parse(line, (size_t)VSS_MOUNTINFO_MAX + 1, &m, &n), -EFBIG);

	big = malloc(l * count);
	assert_non_null(big);
	for (size_t i = 0; i < count; i++)
		memcpy(big + i * l, line, l);
	assert_true(l * count <= VSS_MOUNTINFO_MAX);
	assert_int_equal(vss_mounts_parse(big, l * count, &m, &n), -E2BIG);
	/* Exactly the maximum is fine. */
	assert_int_equal(vss_mounts_parse(big, l * (count - 1), &m, &n), 0);
	assert_int_equal(n, VSS_MOUNTS_MAX);
	vss_mounts_free(m, n);
	free(big);
}

static void test_helpers(void **state)
{
	assert_true(vss_mount_has_option("rw,relatime", "rw"));
	assert_true(vss_mount_has_option("ro", "ro"));
	assert_true(vss_mount_has_option("rw,subvol=/@home", "subvol"));
	assert_false(vss_mount_has_option("rw,rootcontext", "ro"));
	assert_false(vss_mount_has_option("", "ro"));

	assert_true(vss_path_below("/var/lib/x.img", "/var"));
	assert_true(vss_path_below("/var", "/var"));
	assert_true(vss_path_below("/var", "/var/"));
	assert_false(vss_path_below("/variable/x", "/var"));
	assert_true(vss_path_below("/anything", "/"));
	assert_false(vss_path_below("relative", "/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_empty_source_and_extra_fields),
		cmocka_unit_test(test_junk_lines),
		cmocka_unit_test(test_junk_between_good_lines),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
