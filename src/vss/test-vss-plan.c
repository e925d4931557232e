/* SPDX-License-Identifier: MIT */
/*
 * Freeze plan from fixture mount tables and a fake VssSysOps: type classes, read-only
 * superblocks, bind mounts, btrfs subvolumes, covered mounts, globs, stacked loop/dm ordering,
 * unknown relations and cycles.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vss/vss-plan.h"

typedef struct FakeLoop {
	VssDev dev;
	const char *backing; /* NULL: return error */
	int error;
} FakeLoop;

typedef struct FakeSlaves {
	VssDev dev;
	VssDev slaves[4];
	int n; /* or a negative errno */
} FakeSlaves;

typedef struct FakeBlock {
	const char *path;
	VssDev dev;
} FakeBlock;

typedef struct FakeSys {
	const FakeLoop *loops;
	size_t n_loops;
	const FakeSlaves *slaves;
	size_t n_slaves;
	const FakeBlock *blocks;
	size_t n_blocks;
	unsigned n_calls;
} FakeSys;

static bool same_dev(VssDev a, VssDev b)
{
	return a.major == b.major && a.minor == b.minor;
}

static int fake_loop(void *u, VssDev dev, char *buf, size_t size)
{
	FakeSys *f = u;

	f->n_calls++;
	for (size_t i = 0; i < f->n_loops; i++) {
		/* the all-zero entry of no_loops is no entry */
		if (!same_dev(f->loops[i].dev, dev) || (!f->loops[i].backing && !f->loops[i].error))
			continue;
		if (!f->loops[i].backing)
			return f->loops[i].error;
		if ((size_t)snprintf(buf, size, "%s", f->loops[i].backing) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

static int fake_slaves(void *u, VssDev dev, VssDev *ret, size_t max)
{
	FakeSys *f = u;

	f->n_calls++;
	for (size_t i = 0; i < f->n_slaves; i++) {
		if (!same_dev(f->slaves[i].dev, dev))
			continue;
		if (f->slaves[i].n < 0)
			return f->slaves[i].n;
		if ((size_t)f->slaves[i].n > max)
			return -E2BIG;
		memcpy(ret, f->slaves[i].slaves, (size_t)f->slaves[i].n * sizeof(VssDev));
		return f->slaves[i].n;
	}
	return 0;
}

static int fake_block(void *u, const char *path, VssDev *ret)
{
	FakeSys *f = u;

	f->n_calls++;
	for (size_t i = 0; i < f->n_blocks; i++)
		if (f->blocks[i].path && strcmp(f->blocks[i].path, path) == 0) {
			*ret = f->blocks[i].dev;
			return 0;
		}
	return -ENOENT;
}

static const VssSysOps fake_ops = {
	.loop_backing_file = fake_loop,
	.slaves = fake_slaves,
	.block_device = fake_block,
};

#define FAKE(l, s, b)                                                                             \
	{                                                                                         \
		.loops = (l), .n_loops = ELEMENTSOF(l), .slaves = (s), .n_slaves = ELEMENTSOF(s), \
		.blocks = (b), .n_blocks = ELEMENTSOF(b)                                          \
	}

static const FakeLoop no_loops[1];
static const FakeSlaves no_slaves[1];
static const FakeBlock no_blocks[1];

/* Parses text (no junk allowed) and builds the plan. */
static VssPlan *plan_text(const char *text, const VssPlanOptions *o)
{
	VssMount *m = NULL;
	VssPlan *p = NULL;
	size_t n = 0;

	assert_int_equal(vss_mounts_parse(text, strlen(text), &m, &n), 0);
	assert_int_equal(vss_plan_build(m, n, o, &p), 0);
	vss_mounts_free(m, n);
	assert_non_null(p);
	/* Every entry explains itself. */
	for (size_t i = 0; i < vss_plan_n_entries(p); i++) {
		const VssPlanEntry *e = vss_plan_entry(p, i);

		assert_non_null(e->reason);
		assert_true(strlen(e->reason) > 10);
		assert_non_null(vss_verdict_to_string(e->verdict));
	}
	return p;
}

static const VssPlanEntry *by_path(const VssPlan *p, const char *path)
{
	for (size_t i = 0; i < vss_plan_n_entries(p); i++)
		if (strcmp(vss_plan_entry(p, i)->path, path) == 0)
			return vss_plan_entry(p, i);
	fail_msg("no entry for '%s'", path);
	return NULL;
}

static void assert_verdict(const VssPlan *p, const char *path, VssVerdict v)
{
	const VssPlanEntry *e = by_path(p, path);

	if (e->verdict != v)
		fail_msg("'%s': verdict %s, expected %s (%s)", path,
			 vss_verdict_to_string(e->verdict), vss_verdict_to_string(v), e->reason);
}

static void assert_frozen_at(const VssPlan *p, const char *path, unsigned level)
{
	const VssPlanEntry *e = by_path(p, path);

	assert_verdict(p, path, VSS_VERDICT_FREEZE);
	if (e->level != level)
		fail_msg("'%s': level %u, expected %u (%s)", path, e->level, level, e->reason);
}

/* The targets in freeze order, as "path@level path@level ...". */
static void assert_order(const VssPlan *p, const char *expected)
{
	char buf[1024] = "";
	size_t len = 0;

	for (size_t i = 0; i < vss_plan_n_targets(p); i++) {
		const VssPlanEntry *e = vss_plan_target(p, i);

		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s@%u", i ? " " : "",
					e->path, e->level);
		assert_true(len < sizeof(buf));
	}
	assert_string_equal(buf, expected);
}

static void assert_reason_contains(const VssPlan *p, const char *path, const char *needle)
{
	const VssPlanEntry *e = by_path(p, path);

	if (!strstr(e->reason, needle))
		fail_msg("'%s': reason '%s' lacks '%s'", path, e->reason, needle);
}

static const char debian_vm[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
	"23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"24 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
	"25 22 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4008k,mode=755\n"
	"26 25 0:23 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts rw,gid=5\n"
	"27 22 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,mode=755\n"
	"28 23 0:6 / /sys/kernel/security rw shared:8 - securityfs securityfs rw\n"
	"29 25 0:25 / /dev/shm rw,nosuid,nodev shared:4 - tmpfs tmpfs rw\n"
	"30 23 0:26 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
	"31 23 0:27 / /sys/fs/pstore rw shared:10 - pstore pstore rw\n"
	"32 23 0:28 / /sys/firmware/efi/efivars rw shared:11 - efivarfs efivarfs rw\n"
	"33 23 0:29 / /sys/fs/bpf rw shared:13 - bpf bpf rw,mode=700\n"
	"34 24 0:30 / /proc/sys/fs/binfmt_misc rw shared:14 - autofs systemd-1 rw,fd=30\n"
	"35 25 0:31 / /dev/hugepages rw,relatime shared:15 - hugetlbfs hugetlbfs rw\n"
	"36 25 0:19 / /dev/mqueue rw shared:16 - mqueue mqueue rw\n"
	"37 23 0:7 / /sys/kernel/debug rw shared:17 - debugfs debugfs rw\n"
	"38 23 0:12 / /sys/kernel/tracing rw shared:18 - tracefs tracefs rw\n"
	"39 23 0:32 / /sys/fs/fuse/connections rw shared:19 - fusectl fusectl rw\n"
	"40 23 0:20 / /sys/kernel/config rw shared:20 - configfs configfs rw\n"
	"60 22 8:15 / /boot/efi rw,relatime shared:31 - vfat /dev/sda15 rw,fmask=0022,utf8\n"
	"61 22 8:17 / /mnt/resource rw,relatime shared:32 - ext4 /dev/sdb1 rw\n"
	"62 27 0:33 / /run/user/1000 rw,nosuid shared:33 - tmpfs tmpfs rw,mode=700\n"
	"63 34 0:34 / /proc/sys/fs/binfmt_misc rw shared:34 - binfmt_misc binfmt_misc rw\n"
	"64 22 0:35 / /var/lib/nfs/rpc_pipefs rw - rpc_pipefs sunrpc rw\n"
	"65 22 0:4 net:[4026532281] /run/netns/x rw - nsfs nsfs rw\n";

static void test_debian_vm(void **state)
{
	FakeSys f = FAKE(no_loops, no_slaves, no_blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };
	VssPlan *p = plan_text(debian_vm, &o);
	static const char *const pseudo[] = {
		"/sys",
		"/proc",
		"/dev",
		"/dev/pts",
		"/run",
		"/sys/kernel/security",
		"/dev/shm",
		"/sys/fs/cgroup",
		"/sys/fs/pstore",
		"/sys/fs/bpf",
		"/dev/hugepages",
		"/dev/mqueue",
		"/sys/kernel/debug",
		"/sys/kernel/tracing",
		"/sys/fs/fuse/connections",
		"/sys/kernel/config",
		"/run/user/1000",
		"/sys/firmware/efi/efivars",
		"/var/lib/nfs/rpc_pipefs",
		"/run/netns/x",
	};

	assert_int_equal(vss_plan_n_entries(p), 25);
	for (size_t i = 0; i < ELEMENTSOF(pseudo); i++)
		assert_verdict(p, pseudo[i], VSS_VERDICT_SKIP_PSEUDO);
	assert_frozen_at(p, "/", 0);
	assert_frozen_at(p, "/mnt/resource", 0);
	assert_reason_contains(p, "/", "ext4 on block device 8:1");
	/* vfat: in scope, writable, not freezable: reported, the backup is not consistent. */
	assert_verdict(p, "/boot/efi", VSS_VERDICT_CANNOT_FREEZE);
	assert_reason_contains(p, "/boot/efi", "vfat cannot be frozen");
	assert_false(vss_plan_consistent(p));
	assert_order(p, "/@0 /mnt/resource@0");
	assert_int_equal(vss_plan_n_levels(p), 1);
	assert_null(vss_plan_entry(p, 25));
	assert_null(vss_plan_target(p, 2));
	vss_plan_free(p);
}

static void test_exclude_vfat_restores_consistency(void **state)
{
	char *types[] = { (char *)"vfat", NULL };
	VssPlanOptions o = { .exclude_types = types };
	VssPlan *p = plan_text(debian_vm, &o);

	assert_verdict(p, "/boot/efi", VSS_VERDICT_SKIP_EXCLUDED);
	assert_reason_contains(p, "/boot/efi", "exclude_types pattern 'vfat'");
	assert_null(by_path(p, "/boot/efi")->same_as);
	assert_true(vss_plan_consistent(p));
	assert_order(p, "/@0 /mnt/resource@0");
	vss_plan_free(p);
}

static void test_btrfs_subvolumes(void **state)
{
	static const char text[] = "30 1 0:26 /@ / rw,relatime shared:1 - btrfs /dev/sda2 "
				   "rw,ssd,subvolid=256,subvol=/@\n"
				   "31 30 0:26 /@home /home rw shared:2 - btrfs /dev/sda2 "
				   "rw,subvolid=257,subvol=/@home\n"
				   "32 30 0:26 /@log /var/log rw shared:3 - btrfs /dev/sda2 "
				   "rw,subvolid=258,subvol=/@log\n"
				   "33 30 0:40 / /data rw - btrfs /dev/sdb rw,subvolid=5,subvol=/\n"
				   "34 30 0:41 / /weird rw - weirdfs something rw\n"
				   "35 30 0:42 / /ro-btrfs ro - btrfs /dev/sdc ro,subvolid=5\n";
	static const FakeBlock blocks[] = {
		{ "/dev/sda2", { 8, 2 } },
		{ "/dev/sdb", { 8, 16 } },
	};
	FakeSys f = FAKE(no_loops, no_slaves, blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };
	VssPlan *p = plan_text(text, &o);

	/* One superblock, 0:26 (anonymous): frozen once, through the shortest path. */
	assert_frozen_at(p, "/", 0);
	assert_verdict(p, "/home", VSS_VERDICT_SKIP_DUPLICATE);
	assert_verdict(p, "/var/log", VSS_VERDICT_SKIP_DUPLICATE);
	assert_ptr_equal(by_path(p, "/home")->same_as, by_path(p, "/"));
	assert_ptr_equal(by_path(p, "/var/log")->same_as, by_path(p, "/"));
	assert_reason_contains(p, "/home", "same filesystem (0:26) as '/'");
	assert_reason_contains(p, "/", "btrfs on '/dev/sda2'");
	assert_frozen_at(p, "/data", 0);
	/* An unknown type on an anonymous device is not block-backed; btrfs is. */
	assert_verdict(p, "/weird", VSS_VERDICT_SKIP_NODEV);
	assert_verdict(p, "/ro-btrfs", VSS_VERDICT_SKIP_READONLY);
	assert_true(vss_plan_consistent(p));
	assert_order(p, "/@0 /data@0");
	/* Source devices were resolved to look for loop devices below. */
	assert_true(f.n_calls >= 4);
	vss_plan_free(p);
}

static void test_binds_and_readonly(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "40 22 8:1 /srv/www /var/www rw - ext4 /dev/sda1 rw\n"
				   /* xfs mounted deep, then bound read-only at a shorter path */
				   "50 22 8:17 / /mnt/data/sub/deep rw - xfs /dev/sdb1 rw\n"
				   "51 22 8:17 /x /m ro - xfs /dev/sdb1 rw\n"
				   /* two paths of equal length: the read-write one wins */
				   "52 22 8:33 / /ro-b ro - ext4 /dev/sdc1 rw\n"
				   "53 22 8:33 / /rw-b rw - ext4 /dev/sdc1 rw\n"
				   /* read-only superblock, and a rw bind of it: still read-only */
				   "54 22 8:49 / /ro-fs ro - ext4 /dev/sdd1 ro\n"
				   "55 22 8:49 / /ro-fs-bind rw - ext4 /dev/sdd1 ro\n"
				   "56 22 7:0 / /snap/core/1 ro - squashfs /dev/loop0 ro\n";
	VssPlan *p = plan_text(text, NULL);

	assert_frozen_at(p, "/", 0);
	assert_verdict(p, "/var/www", VSS_VERDICT_SKIP_DUPLICATE);
	/* Mount-level ro is not superblock ro: the ro bind is the shortest path, so it is used. */
	assert_frozen_at(p, "/m", 0);
	assert_true(by_path(p, "/m")->mount_ro);
	assert_reason_contains(p, "/m", "through a read-only mount");
	assert_verdict(p, "/mnt/data/sub/deep", VSS_VERDICT_SKIP_DUPLICATE);
	assert_frozen_at(p, "/rw-b", 0);
	assert_verdict(p, "/ro-b", VSS_VERDICT_SKIP_DUPLICATE);
	assert_verdict(p, "/ro-fs", VSS_VERDICT_SKIP_READONLY);
	assert_verdict(p, "/ro-fs-bind", VSS_VERDICT_SKIP_READONLY);
	/* Without VssSysOps a loop major is "unknown", but read-only never gets that far. */
	assert_verdict(p, "/snap/core/1", VSS_VERDICT_SKIP_READONLY);
	assert_order(p, "/@0 /m@0 /rw-b@0");
	vss_plan_free(p);
}

static void test_covered_mounts(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "70 22 8:33 / /mnt/c rw - ext4 /dev/sdc1 rw\n"
				   "71 70 8:49 / /mnt/c rw - ext4 /dev/sdd1 rw\n"
				   "72 70 8:65 / /mnt/c/below rw - ext4 /dev/sde1 rw\n"
				   "73 22 8:81 / /mnt/f rw - ext4 /dev/sdf1 rw\n"
				   "74 73 8:97 / /mnt/f rw - xfs /dev/sdg1 rw\n"
				   "75 22 8:81 / /other-f rw - ext4 /dev/sdf1 rw\n"
				   "76 73 0:50 / /mnt/f/t rw - tmpfs tmpfs rw\n";
	VssPlan *p = plan_text(text, NULL);
	const VssPlanEntry *c_old = vss_plan_entry(p, 1), *c_new = vss_plan_entry(p, 2);
	const VssPlanEntry *f_old = vss_plan_entry(p, 4);

	/* 70 is covered by 71 on the same path, and 72 sits below 70: no path reaches them. */
	assert_int_equal(c_old->verdict, VSS_VERDICT_CANNOT_FREEZE);
	assert_non_null(strstr(c_old->reason, "covered by another mount"));
	assert_int_equal(c_new->verdict, VSS_VERDICT_FREEZE);
	assert_verdict(p, "/mnt/c/below", VSS_VERDICT_CANNOT_FREEZE);
	/* 73 is covered too, but its filesystem is reachable through /other-f. */
	assert_int_equal(f_old->verdict, VSS_VERDICT_SKIP_DUPLICATE);
	assert_ptr_equal(f_old->same_as, by_path(p, "/other-f"));
	assert_frozen_at(p, "/other-f", 0);
	assert_false(vss_plan_consistent(p));
	assert_order(p, "/@0 /mnt/c@0 /mnt/f@0 /other-f@0");
	vss_plan_free(p);

	/* A stack of three on one path, children below the bottom and the top one. */
	static const char stack[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				    "80 22 8:16 / /x rw - ext4 /dev/sdb rw\n"
				    "81 80 8:32 / /x rw - ext4 /dev/sdc rw\n"
				    "82 81 8:48 / /x rw - ext4 /dev/sdd rw\n"
				    "83 80 8:64 / /x/y rw - ext4 /dev/sde rw\n"
				    "84 82 8:80 / /x/z rw - ext4 /dev/sdf rw\n";
	p = plan_text(stack, NULL);
	assert_order(p, "/@0 /x@0 /x/z@0");
	assert_string_equal(vss_plan_target(p, 1)->source, "/dev/sdd");
	assert_int_equal(vss_plan_entry(p, 1)->verdict, VSS_VERDICT_CANNOT_FREEZE);
	assert_int_equal(vss_plan_entry(p, 2)->verdict, VSS_VERDICT_CANNOT_FREEZE);
	assert_int_equal(vss_plan_entry(p, 4)->verdict, VSS_VERDICT_CANNOT_FREEZE);
	vss_plan_free(p);

	/* A new root mounted over '/' hides everything of the old one. */
	static const char newroot[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				      "80 22 8:16 / /x rw - ext4 /dev/sdb rw\n"
				      "85 22 8:96 / / rw - xfs /dev/sdg rw\n"
				      "86 85 8:112 / /y rw - xfs /dev/sdh rw\n";
	p = plan_text(newroot, NULL);
	assert_order(p, "/@0 /y@0");
	assert_string_equal(vss_plan_target(p, 0)->fstype, "xfs");
	assert_int_equal(vss_plan_entry(p, 0)->verdict, VSS_VERDICT_CANNOT_FREEZE);
	assert_int_equal(vss_plan_entry(p, 1)->verdict, VSS_VERDICT_CANNOT_FREEZE);
	vss_plan_free(p);
}

static void test_remote_fuse_overlay(void **state)
{
	static const char text[] =
		"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
		"80 22 0:60 / /net/nfs rw - nfs4 srv:/export rw,vers=4.2\n"
		"81 22 0:61 / /net/smb rw - cifs //srv/share rw\n"
		"82 22 0:62 / /home/u/remote rw - fuse.sshfs u@h:/ rw,user_id=0\n"
		"83 22 0:63 / /var/lib/docker/overlay2/x/merged rw - overlay overlay "
		"rw,lowerdir=/a\n"
		"84 22 0:64 / /mnt/9p rw - 9p hostshare rw,trans=virtio\n"
		"85 22 0:65 / /mnt/vfs rw - virtiofs myfs rw\n"
		"86 22 0:66 / /mnt/fuse rw - fuse portal rw\n"
		"87 22 0:67 / /mnt/nfs3 rw - nfs srv:/old rw\n"
		"88 22 0:68 / /mnt/smb3 rw - smb3 //srv/s rw\n"
		"89 22 0:69 / /mnt/ceph rw - ceph 10.0.0.1:/ rw\n"
		/* ntfs-3g: FUSE, but on this VM's disk and writable */
		"90 22 8:81 / /mnt/win rw - fuseblk /dev/sdf1 rw,user_id=0\n";
	VssPlan *p = plan_text(text, NULL);

	assert_verdict(p, "/net/nfs", VSS_VERDICT_SKIP_REMOTE);
	assert_verdict(p, "/net/smb", VSS_VERDICT_SKIP_REMOTE);
	assert_verdict(p, "/mnt/9p", VSS_VERDICT_SKIP_REMOTE);
	assert_verdict(p, "/mnt/vfs", VSS_VERDICT_SKIP_REMOTE);
	assert_verdict(p, "/mnt/nfs3", VSS_VERDICT_SKIP_REMOTE);
	assert_verdict(p, "/mnt/smb3", VSS_VERDICT_SKIP_REMOTE);
	assert_verdict(p, "/mnt/ceph", VSS_VERDICT_SKIP_REMOTE);
	assert_verdict(p, "/home/u/remote", VSS_VERDICT_SKIP_FUSE);
	assert_verdict(p, "/mnt/fuse", VSS_VERDICT_SKIP_FUSE);
	assert_verdict(p, "/var/lib/docker/overlay2/x/merged", VSS_VERDICT_SKIP_OVERLAY);
	assert_verdict(p, "/mnt/win", VSS_VERDICT_CANNOT_FREEZE);
	assert_reason_contains(p, "/net/nfs", "network filesystem");
	assert_order(p, "/@0");
	vss_plan_free(p);
}

static void test_escaped_mount_points(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "23 22 8:17 / /mnt/my\\040disk rw - ext4 /dev/sdb1 rw\n"
				   "24 22 7:0 / /mnt/in\\011ner rw - ext4 /dev/loop0 rw\n";
	static const FakeLoop loops[] = {
		{ { 7, 0 }, "/mnt/my disk/images/a b.img", 0 },
	};
	FakeSys f = FAKE(loops, no_slaves, no_blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };
	VssPlan *p = plan_text(text, &o);

	assert_frozen_at(p, "/mnt/in\tner", 0);
	assert_frozen_at(p, "/mnt/my disk", 1);
	assert_frozen_at(p, "/", 0);
	assert_reason_contains(p, "/mnt/in\tner",
			       "stored in '/mnt/my disk/images/a b.img' on "
			       "'/mnt/my disk'");
	assert_order(p, "/@0 /mnt/in\tner@0 /mnt/my disk@1");
	vss_plan_free(p);
}

static void test_globs(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "23 22 8:17 / /data rw - ext4 /dev/sdb1 rw\n"
				   "24 22 8:33 / /data/tmp rw - ext4 /dev/sdc1 rw\n"
				   "25 22 8:49 / /data2 rw - xfs /dev/sdd1 rw\n"
				   "26 22 8:1 /srv /srv rw - ext4 /dev/sda1 rw\n"
				   "27 22 8:65 / /scratch rw - ext4 /dev/sde1 rw\n"
				   "28 22 0:40 / /tmp rw - tmpfs tmpfs rw\n";
	char *inc_mounts[] = { (char *)"/", (char *)"/data*", (char *)"/srv", NULL };
	char *exc_mounts[] = { (char *)"/data/tmp", (char *)"/srv", NULL };
	char *inc_types[] = { (char *)"ext*", NULL };
	VssPlanOptions o = {
		.include_mounts = inc_mounts,
		.exclude_mounts = exc_mounts,
		.include_types = inc_types,
	};
	VssPlan *p = plan_text(text, &o);

	assert_frozen_at(p, "/", 0);
	assert_frozen_at(p, "/data", 0);
	/* Exclude wins over include ('*' matches '/' too). */
	assert_verdict(p, "/data/tmp", VSS_VERDICT_SKIP_EXCLUDED);
	assert_reason_contains(p, "/data/tmp", "exclude_mounts pattern '/data/tmp'");
	assert_null(by_path(p, "/data/tmp")->same_as);
	/* Matches include_mounts but not include_types. */
	assert_verdict(p, "/data2", VSS_VERDICT_SKIP_EXCLUDED);
	assert_reason_contains(p, "/data2", "matches no include_types pattern");
	/* An excluded path of a superblock frozen through another mount says so. */
	assert_verdict(p, "/srv", VSS_VERDICT_SKIP_EXCLUDED);
	assert_ptr_equal(by_path(p, "/srv")->same_as, by_path(p, "/"));
	assert_reason_contains(p, "/srv", "still frozen through '/'");
	assert_verdict(p, "/scratch", VSS_VERDICT_SKIP_EXCLUDED);
	assert_reason_contains(p, "/scratch", "matches no include_mounts pattern");
	/* Type classes come before globs. */
	assert_verdict(p, "/tmp", VSS_VERDICT_SKIP_PSEUDO);
	assert_true(vss_plan_consistent(p));
	assert_order(p, "/@0 /data@0");
	vss_plan_free(p);

	/* An empty list is no list. */
	char *empty[] = { NULL };
	o = (VssPlanOptions){ .include_mounts = empty, .include_types = empty };
	p = plan_text(text, &o);
	assert_int_equal(vss_plan_n_targets(p), 5);
	vss_plan_free(p);
}

static void test_stacked_loops(void **state)
{
	static const char text[] =
		"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
		"23 22 7:0 / /mnt/inner rw - ext4 /dev/loop0 rw\n"
		"24 23 7:1 / /mnt/inner/nested rw - xfs /dev/loop1 rw\n"
		/* /var mounted AFTER the loop mount that lives on it: mount order would be wrong */
		"25 22 8:17 / /var rw - ext4 /dev/sdb1 rw\n"
		"26 22 7:2 / /mnt/deleted rw - ext4 /dev/loop2 rw\n"
		"27 22 0:50 / /mnt/btr rw - btrfs /dev/loop6 rw,subvolid=5,subvol=/\n"
		"28 22 0:50 /sub /mnt/sub rw - btrfs /dev/loop6 rw,subvolid=256,subvol=/sub\n"
		"29 22 259:0 / /mnt/part rw - ext4 /dev/loop5p1 rw\n"
		"30 22 0:51 / /tmp rw - tmpfs tmpfs rw\n"
		"31 22 7:7 / /mnt/ontmp rw - ext4 /dev/loop7 rw\n";
	static const FakeLoop loops[] = {
		{ { 7, 0 }, "/var/lib/images/inner.img", 0 },
		{ { 7, 1 }, "/mnt/inner/nested.img", 0 },
		{ { 7, 2 }, "/srv/gone.img (deleted)", 0 },
		{ { 7, 6 }, "/mnt/inner/btr.img", 0 },
		{ { 259, 0 }, "/var/disk.img", 0 },
		{ { 7, 7 }, "/tmp/t.img", 0 },
	};
	static const FakeBlock blocks[] = { { "/dev/loop6", { 7, 6 } } };
	FakeSys f = FAKE(loops, no_slaves, blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };
	VssPlan *p = plan_text(text, &o);

	/* nested lives in inner, inner in /var; btrfs (via its source) in inner too. */
	assert_frozen_at(p, "/mnt/inner/nested", 0);
	assert_frozen_at(p, "/mnt/btr", 0);
	assert_verdict(p, "/mnt/sub", VSS_VERDICT_SKIP_DUPLICATE);
	assert_frozen_at(p, "/mnt/inner", 1);
	assert_frozen_at(p, "/var", 2);
	/* A deleted backing file still lives on its filesystem ('/'). */
	assert_frozen_at(p, "/mnt/deleted", 0);
	assert_frozen_at(p, "/mnt/part", 0);
	assert_frozen_at(p, "/", 1);
	/* Backing file on a filesystem that is not frozen (tmpfs): no constraint. */
	assert_frozen_at(p, "/mnt/ontmp", 0);
	assert_reason_contains(p, "/mnt/inner", "stored in '/var/lib/images/inner.img' on '/var'");
	assert_reason_contains(p, "/mnt/deleted", "stored in '/srv/gone.img' on '/'");
	assert_int_equal(vss_plan_n_levels(p), 3);
	assert_order(p, "/mnt/inner/nested@0 /mnt/deleted@0 /mnt/btr@0 /mnt/part@0 "
			"/mnt/ontmp@0 /@1 /mnt/inner@1 /var@2");
	assert_true(vss_plan_consistent(p));
	vss_plan_free(p);
}

static void test_dm_over_loop(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "23 22 253:0 / /srv rw - xfs /dev/mapper/vg-lv rw\n"
				   "24 22 8:17 / /data rw - ext4 /dev/sdb1 rw\n"
				   "25 22 253:1 / /crypt rw - ext4 /dev/mapper/c rw\n"
				   "26 22 9:0 / /raid rw - ext4 /dev/md0 rw\n";
	static const FakeLoop loops[] = {
		{ { 7, 3 }, "/data/a.img", 0 },
		{ { 7, 4 }, "/b.img", 0 },
		{ { 7, 5 }, "/srv/r.img", 0 },
	};
	static const FakeSlaves slaves[] = {
		/* LVM over two loop devices */
		{ { 253, 0 }, { { 7, 3 }, { 7, 4 } }, 2 },
		/* dm-crypt over a plain partition */
		{ { 253, 1 }, { { 8, 33 } }, 1 },
		/* md over dm over a loop file that lives on /srv (itself stacked) */
		{ { 9, 0 }, { { 253, 2 }, { 8, 48 } }, 2 },
		{ { 253, 2 }, { { 7, 5 } }, 1 },
	};
	FakeSys f = FAKE(loops, slaves, no_blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };
	VssPlan *p = plan_text(text, &o);

	assert_frozen_at(p, "/raid", 0);
	assert_frozen_at(p, "/srv", 1);
	assert_frozen_at(p, "/data", 2);
	assert_frozen_at(p, "/", 2);
	assert_frozen_at(p, "/crypt", 0);
	assert_order(p, "/crypt@0 /raid@0 /srv@1 /@2 /data@2");
	vss_plan_free(p);
}

static void test_unknown_relations(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "23 22 7:0 / /a rw - ext4 /dev/loop0 rw\n"
				   "24 22 7:1 / /b rw - ext4 /dev/loop1 rw\n"
				   "25 22 8:17 / /c rw - ext4 /dev/sdb1 rw\n"
				   "26 22 0:50 / /btr rw - btrfs /dev/loop9 rw\n";
	VssPlan *p;

	/* No relations at all: loop majors are frozen first, later mounts first. */
	p = plan_text(text, NULL);
	assert_frozen_at(p, "/btr", 0);
	assert_frozen_at(p, "/b", 1);
	assert_frozen_at(p, "/a", 2);
	assert_frozen_at(p, "/", 3);
	assert_frozen_at(p, "/c", 3);
	assert_reason_contains(p, "/a", "could not be fully traced (no block device information)");
	vss_plan_free(p);

	/* One relation known, one lookup failing: the known edge stays, the unknown goes first. */
	static const FakeLoop loops[] = {
		{ { 7, 0 }, "/c/a.img", 0 },
		{ { 7, 1 }, NULL, -EIO },
	};
	static const FakeBlock blocks[] = { { "/dev/loop9", { 7, 9 } } };
	FakeSys f = FAKE(loops, no_slaves, blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };

	p = plan_text(text, &o);
	assert_frozen_at(p, "/b", 0);
	assert_reason_contains(p, "/b", "loop device lookup failed: Input/output error");
	assert_frozen_at(p, "/a", 0);
	assert_frozen_at(p, "/", 1);
	assert_frozen_at(p, "/c", 1);
	/* btrfs on 7:9, which the fake does not know as a loop device: a plain base. */
	assert_frozen_at(p, "/btr", 1);
	vss_plan_free(p);
}

static void test_unmappable_backing_files(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "23 22 7:0 / /self rw - ext4 /dev/loop0 rw\n"
				   "24 22 7:1 / /rel rw - ext4 /dev/loop1 rw\n"
				   "25 22 0:50 / /btr rw - btrfs /dev/nonexistent rw\n";
	static const FakeLoop loops[] = {
		/* seen from another mount namespace: the path lands on the fs itself */
		{ { 7, 0 }, "/self/x.img", 0 },
		{ { 7, 1 }, "relative.img", 0 },
	};
	FakeSys f = FAKE(loops, no_slaves, no_blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };
	VssPlan *p = plan_text(text, &o);

	assert_reason_contains(p, "/self", "maps to the filesystem itself");
	assert_reason_contains(p, "/rel", "not absolute");
	assert_reason_contains(p, "/btr", "source device not found");
	/* Table order reversed: /btr, /rel, /self, then '/'. */
	assert_order(p, "/btr@0 /rel@1 /self@2 /@3");
	vss_plan_free(p);
}

static void test_cycles(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "23 22 253:0 / /x rw - ext4 /dev/mapper/x rw\n"
				   "24 22 7:1 / /y rw - ext4 /dev/loop1 rw\n"
				   "25 22 7:2 / /w rw - ext4 /dev/loop2 rw\n"
				   "26 22 8:50 / /d rw - ext4 /dev/sdd2 rw\n";
	static const FakeLoop loops[] = {
		{ { 7, 0 }, "/y/x.img", 0 },
		{ { 7, 9 }, "/d/x2.img", 0 },
		{ { 7, 1 }, "/x/y.img", 0 },
		{ { 7, 2 }, "/x/w.img", 0 },
	};
	static const FakeSlaves slaves[] = {
		{ { 253, 0 }, { { 7, 0 }, { 7, 9 } }, 2 },
	};
	FakeSys f = FAKE(loops, slaves, no_blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };
	VssPlan *p = plan_text(text, &o);

	/* x and y claim to live in each other: neither can be ordered. */
	assert_verdict(p, "/x", VSS_VERDICT_CANNOT_FREEZE);
	assert_verdict(p, "/y", VSS_VERDICT_CANNOT_FREEZE);
	assert_reason_contains(p, "/x", "cycle");
	/* w (before the cycle) and d (after it) are still frozen. */
	assert_frozen_at(p, "/w", 0);
	assert_frozen_at(p, "/d", 0);
	assert_frozen_at(p, "/", 0);
	assert_false(vss_plan_consistent(p));
	vss_plan_free(p);
}

static void test_slave_errors(void **state)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "23 22 253:0 / /many rw - ext4 /dev/mapper/m rw\n"
				   "24 22 253:1 / /err rw - ext4 /dev/mapper/e rw\n"
				   "25 22 253:2 / /loopy rw - ext4 /dev/mapper/l rw\n";
	static const FakeSlaves slaves[] = {
		{ { 253, 0 }, { { 8, 2 } }, -E2BIG },
		{ { 253, 1 }, { { 8, 3 } }, -EACCES },
		/* a (bogus) self-referencing stack is walked once */
		{ { 253, 2 }, { { 253, 2 }, { 253, 2 } }, 2 },
	};
	FakeSys f = FAKE(no_loops, slaves, no_blocks);
	VssPlanOptions o = { .sys = &fake_ops, .sys_userdata = &f };
	VssPlan *p = plan_text(text, &o);

	assert_reason_contains(p, "/many", "slave device lookup failed");
	assert_reason_contains(p, "/err", "Permission denied");
	assert_order(p, "/err@0 /many@1 /@2 /loopy@2");
	vss_plan_free(p);
}

static void test_empty_and_strings(void **state)
{
	VssPlan *p = NULL;

	assert_int_equal(vss_plan_build(NULL, 0, NULL, &p), 0);
	assert_int_equal(vss_plan_n_entries(p), 0);
	assert_int_equal(vss_plan_n_targets(p), 0);
	assert_int_equal(vss_plan_n_levels(p), 0);
	assert_true(vss_plan_consistent(p));
	assert_null(vss_plan_free(p));
	assert_null(vss_plan_free(NULL));

	assert_string_equal(vss_verdict_to_string(VSS_VERDICT_FREEZE), "freeze");
	assert_string_equal(vss_verdict_to_string(VSS_VERDICT_CANNOT_FREEZE), "cannot-freeze");
	assert_null(vss_verdict_to_string(_VSS_VERDICT_MAX));
	assert_null(vss_verdict_to_string(_VSS_VERDICT_INVALID));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debian_vm),
		cmocka_unit_test(test_exclude_vfat_restores_consistency),
		cmocka_unit_test(test_btrfs_subvolumes),
		cmocka_unit_test(test_binds_and_readonly),
		cmocka_unit_test(test_covered_mounts),
		cmocka_unit_test(test_remote_fuse_overlay),
		cmocka_unit_test(test_escaped_mount_points),
		cmocka_unit_test(test_globs),
		cmocka_unit_test(test_stacked_loops),
		cmocka_unit_test(test_dm_over_loop),
		cmocka_unit_test(test_unknown_relations),
		cmocka_unit_test(test_unmappable_backing_files),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_slave_errors),
		cmocka_unit_test(test_empty_and_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
