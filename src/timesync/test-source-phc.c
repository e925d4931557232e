/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/ptp_clock.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/test-conf-util.h"
#include "common/macro.h"
#include "timesync/source-phc.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

typedef struct Tree {
	char root[64];
	char sys[96];
	char dev[96];
} Tree;

static int setup(void **state)
{
	Tree *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->root, sizeof(t->root), "/tmp/test-source-phc-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->sys, sizeof(t->sys), "%s/sys", t->root);
	snprintf(t->dev, sizeof(t->dev), "%s/dev", t->root);
	assert_int_equal(mkdir(t->sys, 0755), 0);
	assert_int_equal(mkdir(t->dev, 0755), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	Tree *t = *state;

	assert_int_equal(nftw(t->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(t);
	return 0;
}

/* SYS/class/ptp/NAME/clock_name = clock_name (NULL: no clock_name file). */
static void add_ptp(const Tree *t, const char *name, const char *clock_name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/class", t->sys);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/class/ptp", t->sys);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/class/ptp/%s", t->sys, name);
	assert_int_equal(mkdir(path, 0755), 0);
	if (!clock_name)
		return;
	snprintf(path, sizeof(path), "%s/class/ptp/%s/clock_name", t->sys, name);
	test_write_text(path, clock_name);
}

static void expect_found(const Tree *t, const char *dev_name)
{
	_cleanup_free_ char *path = NULL;
	char expect[PATH_MAX];

	assert_int_equal(phc_find(t->sys, t->dev, &path), 0);
	snprintf(expect, sizeof(expect), "%s/%s", t->dev, dev_name);
	assert_non_null(path);
	assert_string_equal(path, expect);
}

static void test_find_by_clock_name(void **state)
{
	Tree *t = *state;

	add_ptp(t, "ptp0", "mlx5_ptp\n");
	add_ptp(t, "ptp1", "hyperv\n");
	add_ptp(t, "ptp2", "hyperv-not\n");
	expect_found(t, "ptp1");
}

static void test_find_lowest_and_no_newline(void **state)
{
	Tree *t = *state;

	add_ptp(t, "ptp12", "hyperv\n");
	add_ptp(t, "ptp3", "hyperv");
	add_ptp(t, "ptp0", NULL);	/* no clock_name: skipped */
	add_ptp(t, "ptpx", "hyperv\n"); /* not ptpN */
	expect_found(t, "ptp3");
}

static void test_find_symlink_fallback(void **state)
{
	Tree *t = *state;
	_cleanup_free_ char *path = NULL;
	char link[PATH_MAX];

	/* Nothing at all. */
	assert_int_equal(phc_find(t->sys, t->dev, &path), -ENODEV);
	/* A class directory with other clocks only. */
	add_ptp(t, "ptp0", "mlx5_ptp\n");
	add_ptp(t, "ptp1", "HYPERV\n");
	assert_int_equal(phc_find(t->sys, t->dev, &path), -ENODEV);
	assert_null(path);

	/* The udev symlink (dangling is fine: the node itself is not opened here). */
	snprintf(link, sizeof(link), "%s/ptp_hyperv", t->dev);
	test_write_text(link, "");
	expect_found(t, "ptp_hyperv");

	/* No /sys/class at all: still the symlink. */
	char sys2[PATH_MAX];
	snprintf(sys2, sizeof(sys2), "%s/nosys", t->root);
	assert_int_equal(phc_find(sys2, t->dev, &path), 0);
	assert_string_equal(path, link);
}

/* Scripted ioctl: checks the request, then fails with err or fills n_samples stamps. */
typedef struct FakeIoctl {
	int fd_expected;
	int err;	   /* errno to fail with, 0: succeed */
	int eintr_first;   /* fail this many times with EINTR first */
	unsigned answer_n; /* n_samples to put back (0: leave as asked) */
	unsigned calls;
	unsigned asked_n;
	bool bad_nsec;
} FakeIoctl;

static int fake_ioctl(void *userdata, int fd, unsigned long request, void *arg)
{
	FakeIoctl *f = userdata;
	struct ptp_sys_offset *p = arg;

	f->calls++;
	assert_int_equal(fd, f->fd_expected);
	assert_true(request == PTP_SYS_OFFSET);
	if (f->eintr_first > 0) {
		f->eintr_first--;
		errno = EINTR;
		return -1;
	}
	if (f->err) {
		errno = f->err;
		return -1;
	}
	f->asked_n = p->n_samples;
	assert_true(p->n_samples >= 1 && p->n_samples <= PTP_MAX_SAMPLES);
	if (f->answer_n)
		p->n_samples = f->answer_n;
	/* ts[] = sys_0, phc_0, sys_1, phc_1, ..., sys_n with sys_k = 100 s + 15 µs·k and
	 * phc_k = 200 s + 10 µs·k + 3 µs. */
	for (unsigned k = 0; k <= PTP_MAX_SAMPLES; k++) {
		p->ts[2 * k] = (struct ptp_clock_time){ .sec = 100, .nsec = 15000u * k };
		if (k < PTP_MAX_SAMPLES)
			p->ts[2 * k + 1] =
				(struct ptp_clock_time){ .sec = 200, .nsec = 10000u * k + 3000u };
	}
	if (f->bad_nsec)
		p->ts[1].nsec = 1000000000u;
	return 0;
}

static void test_read_parses(void **state)
{
	FakeIoctl f = {};
	SourceReading r[4] = {};
	PhcSource *s = NULL;

	/* The descriptor given is the one the ioctl sees, and freeing closes it. */
	f.fd_expected = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(f.fd_expected >= 0);
	assert_int_equal(
		phc_source_new_for_test(f.fd_expected, "/dev/ptp_test", fake_ioctl, &f, &s), 0);
	assert_string_equal(phc_source_path(s), "/dev/ptp_test");
	assert_int_equal(phc_source_ops.read(s, r, 1), 1);
	s = phc_source_free(s);
	assert_null(s);
	assert_int_equal(fcntl(f.fd_expected, F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	f.fd_expected = -EBADF;
	assert_int_equal(phc_source_new_for_test(-EBADF, "/dev/ptp_test", fake_ioctl, &f, &s), 0);
	assert_int_equal(phc_source_ops.read(s, r, 4), 4);
	assert_int_equal(f.asked_n, 4);
	/* Reading k: before = 100 s + 15 µs·k, phc = 200 s + 10 µs·k + 3 µs, after = the next sys.
	 */
	for (int k = 0; k < 4; k++) {
		assert_int_equal(r[k].sys_before_ns, 100000000000LL + 15000LL * k);
		assert_int_equal(r[k].phc_ns, 200000000000LL + 10000LL * k + 3000);
		assert_int_equal(r[k].sys_after_ns, 100000000000LL + 15000LL * (k + 1));
	}

	/* More than PTP_MAX_SAMPLES asked: PTP_MAX_SAMPLES taken. */
	SourceReading many[40];
	assert_int_equal(phc_source_ops.read(s, many, 40), PTP_MAX_SAMPLES);
	assert_int_equal(f.asked_n, PTP_MAX_SAMPLES);

	/* n == 0 never reaches the device. */
	f.calls = 0;
	assert_int_equal(phc_source_ops.read(s, r, 0), -EINVAL);
	assert_int_equal(f.calls, 0);

	/* EINTR is retried. */
	f.eintr_first = 2;
	assert_int_equal(phc_source_ops.read(s, r, 1), 1);
	assert_int_equal(f.calls, 3);

	/* A driver answering more samples than asked, or garbage stamps: -EINVAL. */
	f.answer_n = 3;
	assert_int_equal(phc_source_ops.read(s, r, 2), -EINVAL);
	f.answer_n = 0;
	f.bad_nsec = true;
	assert_int_equal(phc_source_ops.read(s, r, 2), -EINVAL);
	phc_source_free(s);
}

static void test_read_errno_mapping(void **state)
{
	static const struct {
		int err, ret;
	} cases[] = {
		{ ESTALE, -ESTALE }, { ENODEV, -ENODEV }, { ENXIO, -ENODEV },
		{ EIO, -ENODEV },    { EINVAL, -EINVAL }, { EOPNOTSUPP, -EOPNOTSUPP },
		{ ENOTTY, -ENOTTY }, { EBADF, -EBADF },	  { EFAULT, -EFAULT },
	};
	FakeIoctl f = { .fd_expected = -EBADF };
	SourceReading r[2] = {};
	PhcSource *s = NULL;

	assert_int_equal(phc_source_new_for_test(-EBADF, "x", fake_ioctl, &f, &s), 0);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		f.err = cases[i].err;
		assert_int_equal(phc_source_ops.read(s, r, 2), cases[i].ret);
	}
	phc_source_free(s);
}

static void test_open_real_file(void **state)
{
	Tree *t = *state;
	char path[PATH_MAX];
	SourceReading r[1];
	PhcSource *s = NULL;

	/* A missing device: open()'s error. */
	snprintf(path, sizeof(path), "%s/ptp9", t->dev);
	assert_int_equal(phc_source_open(path, &s), -ENOENT);

	/* A regular file opens; the real ioctl() then says it is not a PTP clock. */
	test_write_text(path, "");
	assert_int_equal(phc_source_open(path, &s), 0);
	assert_string_equal(phc_source_path(s), path);
	assert_int_equal(phc_source_ops.read(s, r, 1), -ENOTTY);
	phc_source_free(s);

	/* /dev/null too (a character device that is not a PTP clock). */
	assert_int_equal(phc_source_open("/dev/null", &s), 0);
	assert_true(phc_source_ops.read(s, r, 1) < 0);
	phc_source_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find_by_clock_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_lowest_and_no_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_symlink_fallback, setup, teardown),
		cmocka_unit_test(test_read_parses),
		cmocka_unit_test(test_read_errno_mapping),
		cmocka_unit_test_setup_teardown(test_open_real_file, setup, teardown),
	};

	return cmocka_run_group_tests_name("source-phc", tests, NULL, NULL);
}
