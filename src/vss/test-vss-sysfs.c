/* SPDX-License-Identifier: MIT */
/*
 * vss_sys_ops_linux against a fake sysfs tree built in a temporary directory (the layout of
 * /sys/dev/block, partitions, loop/backing_file, slaves/), and a plan built on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/fileio.h"
#include "vss/vss-plan.h"

typedef struct Ctx {
	char root[64];
	bool have_node; /* /dev/loop0 could be created with mknod */
} Ctx;

static void put(const Ctx *c, const char *rel, const char *content)
{
	char path[512], dir[512];
	char *slash;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", c->root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(loop_write(fd, content, strlen(content)), 0);
	close(fd);
}

static void link_to(const Ctx *c, const char *rel, const char *target)
{
	char path[512], dir[512];

	snprintf(path, sizeof(path), "%s/%s", c->root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
	Ctx *c = calloc(1, sizeof(*c));
	char node[128];

	assert_non_null(c);
	snprintf(c->root, sizeof(c->root), "/tmp/test-vss-sysfs-XXXXXX");
	assert_non_null(mkdtemp(c->root));

	/* loop0 with a partition, bound to a file whose name has a space */
	put(c, "sys/devices/virtual/block/loop0/dev", "7:0\n");
	put(c, "sys/devices/virtual/block/loop0/loop/backing_file", "/var/img a.img\n");
	put(c, "sys/devices/virtual/block/loop0/loop0p1/dev", "259:0\n");
	put(c, "sys/devices/virtual/block/loop0/loop0p1/partition", "1\n");
	/* an unbound loop device has no loop/ directory */
	put(c, "sys/devices/virtual/block/loop1/dev", "7:1\n");
	/* a disk and its partitions */
	put(c, "sys/devices/pci0/block/sdb/dev", "8:16\n");
	put(c, "sys/devices/pci0/block/sdb/sdb1/dev", "8:17\n");
	put(c, "sys/devices/pci0/block/sdb/sdb1/partition", "1\n");
	/* dm-0 over loop0 and sdb1; md0 over dm-0, with a partition */
	put(c, "sys/devices/virtual/block/dm-0/dev", "253:0\n");
	link_to(c, "sys/devices/virtual/block/dm-0/slaves/loop0", "../../loop0");
	link_to(c, "sys/devices/virtual/block/dm-0/slaves/sdb1", "../../../../pci0/block/sdb/sdb1");
	put(c, "sys/devices/virtual/block/md0/dev", "9:0\n");
	link_to(c, "sys/devices/virtual/block/md0/slaves/dm-0", "../../dm-0");
	put(c, "sys/devices/virtual/block/md0/md0p1/dev", "259:1\n");
	put(c, "sys/devices/virtual/block/md0/md0p1/partition", "1\n");
	/* dm-1 with a broken slave entry */
	put(c, "sys/devices/virtual/block/dm-1/dev", "253:1\n");
	put(c, "sys/devices/virtual/block/dm-1/slaves/bad/dev", "not a number\n");

	link_to(c, "sys/dev/block/7:0", "../../devices/virtual/block/loop0");
	link_to(c, "sys/dev/block/7:1", "../../devices/virtual/block/loop1");
	link_to(c, "sys/dev/block/259:0", "../../devices/virtual/block/loop0/loop0p1");
	link_to(c, "sys/dev/block/8:16", "../../devices/pci0/block/sdb");
	link_to(c, "sys/dev/block/8:17", "../../devices/pci0/block/sdb/sdb1");
	link_to(c, "sys/dev/block/253:0", "../../devices/virtual/block/dm-0");
	link_to(c, "sys/dev/block/253:1", "../../devices/virtual/block/dm-1");
	link_to(c, "sys/dev/block/9:0", "../../devices/virtual/block/md0");
	link_to(c, "sys/dev/block/259:1", "../../devices/virtual/block/md0/md0p1");
	link_to(c, "sys/class/block/loop1", "../../devices/virtual/block/loop1");

	put(c, "dev/notblock", "");
	snprintf(node, sizeof(node), "%s/dev/loop0", c->root);
	c->have_node = mknod(node, S_IFBLK | 0600, makedev(7, 0)) == 0;
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

	assert_int_equal(nftw(c->root, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(c);
	return 0;
}

static void test_loop_backing_file(void **state)
{
	Ctx *c = *state;
	const VssSysOps *ops = &vss_sys_ops_linux;
	char buf[64];

	assert_int_equal(ops->loop_backing_file(c->root, (VssDev){ 7, 0 }, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/img a.img");
	/* A partition of a loop device answers for its disk. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ops->loop_backing_file(c->root, (VssDev){ 259, 0 }, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/img a.img");
	assert_int_equal(ops->loop_backing_file(c->root, (VssDev){ 7, 1 }, buf, sizeof(buf)),
			 -ENOENT);
	assert_int_equal(ops->loop_backing_file(c->root, (VssDev){ 8, 17 }, buf, sizeof(buf)),
			 -ENOENT);
	/* Not in sysfs: unknown, not "no relation". */
	assert_int_equal(ops->loop_backing_file(c->root, (VssDev){ 99, 9 }, buf, sizeof(buf)),
			 -ENODEV);
	assert_int_equal(ops->loop_backing_file(c->root, (VssDev){ 7, 0 }, buf, 14), -ENAMETOOLONG);
	assert_int_equal(ops->loop_backing_file(c->root, (VssDev){ 7, 0 }, buf, 15), 0);
	assert_string_equal(buf, "/var/img a.img");
}

static int cmp_dev(const void *a, const void *b)
{
	const VssDev *x = a, *y = b;

	return x->major != y->major ? (int)x->major - (int)y->major : (int)x->minor - (int)y->minor;
}

static void test_slaves(void **state)
{
	Ctx *c = *state;
	const VssSysOps *ops = &vss_sys_ops_linux;
	VssDev d[4];

	assert_int_equal(ops->slaves(c->root, (VssDev){ 253, 0 }, d, 4), 2);
	qsort(d, 2, sizeof(VssDev), cmp_dev);
	assert_int_equal(d[0].major, 7);
	assert_int_equal(d[0].minor, 0);
	assert_int_equal(d[1].major, 8);
	assert_int_equal(d[1].minor, 17);
	assert_int_equal(ops->slaves(c->root, (VssDev){ 253, 0 }, d, 1), -E2BIG);
	/* md0p1: the partition's disk has the slaves. */
	assert_int_equal(ops->slaves(c->root, (VssDev){ 259, 1 }, d, 4), 1);
	assert_int_equal(d[0].major, 253);
	assert_int_equal(d[0].minor, 0);
	assert_int_equal(ops->slaves(c->root, (VssDev){ 7, 0 }, d, 4), 0);
	assert_int_equal(ops->slaves(c->root, (VssDev){ 8, 17 }, d, 4), 0);
	assert_int_equal(ops->slaves(c->root, (VssDev){ 99, 9 }, d, 4), -ENODEV);
	assert_int_equal(ops->slaves(c->root, (VssDev){ 253, 1 }, d, 4), -EINVAL);
}

static void test_block_device(void **state)
{
	Ctx *c = *state;
	const VssSysOps *ops = &vss_sys_ops_linux;
	VssDev d = { 0, 0 };

	if (c->have_node) {
		assert_int_equal(ops->block_device(c->root, "/dev/loop0", &d), 0);
		assert_int_equal(d.major, 7);
		assert_int_equal(d.minor, 0);
	}
	assert_int_equal(ops->block_device(c->root, "/dev/notblock", &d), -ENOTBLK);
	/* No node: sysfs's class/block/NAME answers for /dev/NAME. */
	assert_int_equal(ops->block_device(c->root, "/dev/loop1", &d), 0);
	assert_int_equal(d.major, 7);
	assert_int_equal(d.minor, 1);
	assert_int_equal(ops->block_device(c->root, "/dev/mapper/none", &d), -ENOENT);
	assert_int_equal(ops->block_device(c->root, "/dev/", &d), -ENOTBLK);
	assert_int_equal(ops->block_device(c->root, "/dev/sub/none", &d), -ENOENT);
	assert_int_equal(ops->block_device(c->root, "/dev/..none", &d), -ENOENT);
	assert_int_equal(ops->block_device(c->root, "/elsewhere", &d), -ENOENT);
}

static VssPlan *plan(const char *text, const char *root)
{
	VssMount *m = NULL;
	VssPlan *p = NULL;
	size_t n = 0;
	VssPlanOptions o = { .sys = &vss_sys_ops_linux, .sys_userdata = (void *)root };

	assert_int_equal(vss_mounts_parse(text, strlen(text), &m, &n), 0);
	assert_int_equal(vss_plan_build(m, n, &o, &p), 0);
	vss_mounts_free(m, n);
	return p;
}

static void test_plan_on_sysfs(void **state)
{
	static const char text[] = "22 1 8:16 / / rw - ext4 /dev/sdb rw\n"
				   "23 22 8:17 / /var rw - xfs /dev/sdb1 rw\n"
				   "24 22 259:0 / /mnt/inner rw - ext4 /dev/loop0p1 rw\n"
				   "25 22 259:1 / /srv rw - ext4 /dev/md0p1 rw\n";
	Ctx *c = *state;
	char empty[128];
	VssPlan *p = plan(text, c->root);

	/* /mnt/inner (loop0p1) and /srv (md0p1 -> dm-0 -> loop0) live in /var. */
	assert_string_equal(vss_plan_target(p, 0)->path, "/");
	assert_int_equal(vss_plan_target(p, 0)->level, 0);
	assert_string_equal(vss_plan_target(p, 1)->path, "/mnt/inner");
	assert_int_equal(vss_plan_target(p, 1)->level, 0);
	assert_string_equal(vss_plan_target(p, 2)->path, "/srv");
	assert_int_equal(vss_plan_target(p, 2)->level, 0);
	assert_string_equal(vss_plan_target(p, 3)->path, "/var");
	assert_int_equal(vss_plan_target(p, 3)->level, 1);
	assert_non_null(strstr(vss_plan_target(p, 2)->reason, "stored in '/var/img a.img'"));
	vss_plan_free(p);

	/* Without sysfs nothing is known: every filesystem gets its own level. */
	snprintf(empty, sizeof(empty), "%s/dev", c->root);
	p = plan(text, empty);
	assert_int_equal(vss_plan_n_targets(p), 4);
	assert_int_equal(vss_plan_n_levels(p), 4);
	assert_non_null(strstr(vss_plan_target(p, 0)->reason, "device not found in sysfs"));
	vss_plan_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_loop_backing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_on_sysfs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
