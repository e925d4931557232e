/* SPDX-License-Identifier: MIT */
/*
 * The vss-jail safety gate: fixture mountinfo tables it must accept (a jail: tmpfs root,
 * proc, FUSE, loop images, binds and subvolumes of them, a tmpfs named like a device) and
 * refuse (the real root, a bind of it, someone else's loop device, an unresolvable btrfs,
 * the root's source name on another filesystem, malformed lines), and this machine's own
 * mount table, which shows the real root and must be refused by the pure and the live gate.
 * Needs no privileges.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/macro.h"
#include "vss-jail.h"

static VssRootId fake_root(void)
{
	return (VssRootId){
		.st_dev = makedev(254, 0),
		.mnt_dev = makedev(254, 0),
		.source = "/dev/vda",
	};
}

static const char jail_table[] =
	"500 499 0:60 / / rw,nosuid - tmpfs hvguest-jail rw,mode=755\n"
	"501 500 0:61 / /proc rw,nosuid,nodev,noexec - proc proc rw\n"
	"502 500 0:62 / /run rw,nosuid,nodev - tmpfs hvguest-jail-run rw,mode=755\n"
	"503 500 0:63 / /dev/vmbus rw,nosuid,nodev - fuse.hvguest-sim hvguest-sim rw\n"
	"504 500 7:3 / /mnt/img0 rw,nosuid,nodev shared:5 - ext4 /dev/loop3 rw\n"
	"505 500 7:4 / /mnt/img1 rw,nosuid,nodev - xfs /dev/loop4 rw\n"
	"506 500 0:64 / /mnt/img2 rw,nosuid,nodev - btrfs /dev/loop5 rw,subvol=/\n"
	"507 500 0:64 /sv /mnt/sub rw - btrfs /dev/loop5 rw,subvol=/sv\n"
	"508 500 7:3 /dir /mnt/bind\\040dir rw - ext4 /dev/loop3 rw\n";

static int fake_resolve(const char *source, dev_t *ret, void *userdata)
{
	static const struct {
		const char *path;
		unsigned major, minor;
	} nodes[] = {
		{ "/dev/loop3", 7, 3 }, { "/dev/loop4", 7, 4 }, { "/dev/loop5", 7, 5 },
		{ "/dev/loop9", 7, 9 }, { "/dev/vda", 254, 0 },
	};
	unsigned *calls = userdata;

	(*calls)++;
	for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
		if (strcmp(source, nodes[i].path) == 0) {
			*ret = makedev(nodes[i].major, nodes[i].minor);
			return 1;
		}
	return 0; /* e.g. "/dev/hvguest-nofreeze": no such node */
}

static int check_text(const char *extra, VssGatePlan *plan, char *reason, size_t size)
{
	const dev_t allowed[] = { makedev(7, 3), makedev(7, 4), makedev(7, 5) };
	VssRootId root = fake_root();
	char text[4096];
	unsigned calls = 0;
	VssGate g = {
		.allowed = allowed,
		.n_allowed = ELEMENTSOF(allowed),
		.real_root = &root,
		.resolve = fake_resolve,
		.userdata = &calls,
	};

	assert_true((size_t)snprintf(text, sizeof(text), "%s%s", jail_table, extra) < sizeof(text));
	return vss_gate_check_mountinfo(text, &g, plan, reason, size);
}

static void test_gate_accepts_jail_table(void **state)
{
	VssGatePlan plan;
	char reason[256] = "";

	assert_int_equal(check_text("", &plan, reason, sizeof(reason)), 0);
	assert_int_equal(plan.n_mounts, 9);
	/* One per superblock: the bind and the subvolume add nothing. */
	assert_int_equal(plan.n_candidates, 3);
	assert_true(plan.candidates[0] == makedev(7, 3));
	assert_true(plan.candidates[1] == makedev(7, 4));
	assert_true(plan.candidates[2] == makedev(7, 5));

	/* A tmpfs named like a device (the upstream EOPNOTSUPP rollback case) is harmless. */
	assert_int_equal(check_text("609 500 0:73 / /mnt/nf rw - tmpfs /dev/hvguest-nofreeze rw\n",
				    &plan, reason, sizeof(reason)),
			 0);
	assert_int_equal(plan.n_candidates, 3);
}

static void test_gate_refuses(void **state)
{
	static const struct {
		const char *line, *why;
	} cases[] = {
		{ "600 500 254:0 / / rw - ext4 /dev/vda rw\n", "real root" },
		{ "601 500 254:0 /home /mnt/home rw - ext4 /dev/vda rw\n", "real root" },
		{ "602 500 7:9 / /mnt/other rw - ext4 /dev/loop9 rw\n", "not a test image" },
		{ "603 500 0:70 / /mnt/b rw - btrfs /dev/nope rw\n", "not a test image" },
		{ "604 500 0:71 / /mnt/t rw - tmpfs /dev/vda rw\n", "real root" },
		{ "605 500 0:72 / /mnt/o rw - overlay /dev/loop9 rw\n", "not a test image" },
		{ "606 500 8:1 / /mnt/d rw - vfat /dev/sda1 rw\n", "not a test image" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char reason[256] = "";
		VssGatePlan plan;

		assert_int_equal(check_text(cases[i].line, &plan, reason, sizeof(reason)), -EPERM);
		if (!strstr(reason, cases[i].why))
			fail_msg("case %zu: reason '%s' lacks '%s'", i, reason, cases[i].why);
	}
}

static void test_gate_malformed_and_unresolvable(void **state)
{
	const dev_t allowed[] = { makedev(7, 5) };
	VssRootId root = fake_root();
	VssGate g = { .allowed = allowed, .n_allowed = 1, .real_root = &root };
	VssGatePlan plan;

	assert_int_equal(check_text("garbage\n", &plan, NULL, 0), -EBADMSG);
	assert_int_equal(check_text("1 2 3:4 / /x rw - ext4\n", &plan, NULL, 0), -EBADMSG);
	/* Without a resolver a btrfs mount (anonymous 0:N) cannot be proven to be ours. */
	assert_int_equal(vss_gate_check_mountinfo("1 0 0:40 / /mnt rw - btrfs /dev/loop5 rw\n", &g,
						  &plan, NULL, 0),
			 -EPERM);
}

/* The real thing: this test process sees the machine's root, so the gate must say no. */
static void test_gate_refuses_real_root(void **state)
{
	_cleanup_free_ char *text = malloc(1 << 20);
	char reason[512] = "";
	VssRootId root;
	VssGate g = { .real_root = &root };
	VssGatePlan plan;
	ssize_t n;
	int fd;

	assert_non_null(text);
	assert_int_equal(vss_root_id_get(&root), 0);
	fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, text, (1 << 20) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = 0;
	assert_int_equal(vss_gate_check_mountinfo(text, &g, &plan, reason, sizeof(reason)), -EPERM);
	print_message("pure gate on our own table: %s\n", reason);

	reason[0] = 0;
	assert_int_equal(
		vss_jail_check_plan(getpid(), NULL, 0, &root, &plan, reason, sizeof(reason)),
		-EPERM);
	print_message("live gate on ourselves: %s\n", reason);
	assert_non_null(strstr(reason, "real root"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gate_accepts_jail_table),
		cmocka_unit_test(test_gate_refuses),
		cmocka_unit_test(test_gate_malformed_and_unresolvable),
		cmocka_unit_test(test_gate_refuses_real_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
