/* SPDX-License-Identifier: MIT */
/*
 * hv_fcopy_daemon end to end, transfers: the real binary against hv-hostsim, driven by the
 * host's Copy-VMFile sequence on both transports (the pre-6.10 /dev/vmbus/hv_fcopy and the
 * uio ring): byte-exact contents at the fragment boundaries and for a large sparse file,
 * UTF-8 names, the overwrite and create-path rules, modes, and cancel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>

#include "fcopy-it.h"

#define MIB (UINT64_C(1) << 20)

static int group_teardown(void **state)
{
	Fit *f = *state;
	HostSimFcopyUioStats u;

	/* The host saw only well-formed replies with the right transaction ids. */
	if (hostsim_fcopy_uio_stats(f->sim, &u) == 0 &&
	    (u.bad_packets || u.trans_id_mismatch || u.late_replies || u.bad_writes)) {
		fprintf(stderr,
			"uio host saw %u bad packets, %u trans_id mismatches, %u late "
			"replies, %u bad interrupt writes\n",
			u.bad_packets, u.trans_id_mismatch, u.late_replies, u.bad_writes);
		fit_free(f);
		return -1;
	}
	fit_free(f);
	return 0;
}

static void test_sizes(void **state)
{
	static const size_t sizes[] = { 0,
					1,
					FIT_FRAGMENT - 1,
					FIT_FRAGMENT,
					FIT_FRAGMENT + 1,
					3 * FIT_FRAGMENT,
					5 * FIT_FRAGMENT + 1 };
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], want[1024] = "";

		assert_int_equal(fit_mkdtemp(f, "sizes", dir, sizeof(dir)), 0);
		for (size_t k = 0; k < ELEMENTSOF(sizes); k++) {
			char src[PATH_MAX], dest[PATH_MAX], name[64];
			struct stat st;

			assert_int_equal(fit_make_source(f, sizes[k], k + 1, src, sizeof(src)), 0);
			FIT_FMT(name, "f%02zu-%zu.bin", k, sizes[k]);
			fit_check_status(fit_copy(f, t, src, dir, name, 0), HV_S_OK, t, name);
			assert_int_equal(fit_join(dest, sizeof(dest), dir, name), 0);
			fit_check_same(src, dest, t);
			assert_int_equal(lstat(dest, &st), 0);
			assert_true(S_ISREG(st.st_mode));
			assert_int_equal((size_t)st.st_size, sizes[k]);
			/* The default file mode, whatever the daemon's umask. */
			assert_int_equal(st.st_mode & 07777, 0644);
			(void)snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
				       k ? "|" : "", name);
		}
		/* Nothing else: no temporary file left next to them. */
		fit_check_list(dir, want, t);
	}
}

static void test_utf8_names(void **state)
{
	static const char name[] = "Grüße-日本語-😀.txt";
	static const char subdir[] = "Ordner-ñ-Ω";
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], sub[PATH_MAX], src[PATH_MAX], dest[PATH_MAX];

		assert_int_equal(fit_mkdtemp(f, "utf8", dir, sizeof(dir)), 0);
		assert_int_equal(fit_join(sub, sizeof(sub), dir, subdir), 0);
		assert_int_equal(fit_make_source(f, 1000, 77, src, sizeof(src)), 0);
		/* Non-ASCII in the directory (created by the daemon) and in the name. */
		fit_check_status(fit_copy(f, t, src, sub, name, HOSTSIM_FCOPY_CREATE_PATH), HV_S_OK,
				 t, name);
		fit_check_list(dir, subdir, t);
		fit_check_list(sub, name, t);
		assert_int_equal(fit_join(dest, sizeof(dest), sub, name), 0);
		fit_check_same(src, dest, t);
	}
}

/*
 * A sparse source with random regions at the start, across the middle (unaligned) and at
 * the end, so that a fragment written at a wrong offset cannot go unnoticed.
 */
static void make_sparse_source(Fit *f, uint64_t size, char *path, size_t path_size)
{
	const size_t region = MIB + 4099;
	const uint64_t offsets[] = { 0, size / 2 - 12345, size - region };
	uint8_t *buf = malloc(region);
	int fd;

	assert_non_null(buf);
	assert_true(snprintf(path, path_size, "%s/large-source.bin", hostsim_scratch_dir(f->sim)) <
		    (int)path_size);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	for (size_t i = 0; i < ELEMENTSOF(offsets); i++) {
		fit_fill(buf, region, 1000 + i);
		assert_int_equal(pwrite(fd, buf, region, (off_t)offsets[i]), (ssize_t)region);
	}
	close(fd);
	free(buf);
}

static void test_large_file(void **state)
{
	/* 1 GiB; 128 MiB under ASan, whose daemon is several times slower. */
	const uint64_t size = (FIT_ASAN ? 128 : 1024) * MIB;
	Fit *f = *state;
	char src[PATH_MAX];

	make_sparse_source(f, size, src, sizeof(src));
	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], dest[PATH_MAX];
		uint64_t t0, usec;
		struct stat st;

		assert_int_equal(fit_mkdtemp(f, "large", dir, sizeof(dir)), 0);
		t0 = now_usec(CLOCK_MONOTONIC);
		fit_check_status(fit_copy(f, t, src, dir, "large.bin", 0), HV_S_OK, t, "large.bin");
		usec = now_usec(CLOCK_MONOTONIC) - t0;
		printf("[ INFO     ] %s: %" PRIu64 " MiB in %.2f s = %.1f MiB/s%s\n", fit_name(t),
		       size / MIB, (double)usec / 1e6, (double)size / MIB / ((double)usec / 1e6),
		       FIT_ASAN ? " (ASan build)" : "");
		assert_int_equal(fit_join(dest, sizeof(dest), dir, "large.bin"), 0);
		assert_int_equal(stat(dest, &st), 0);
		assert_int_equal((uint64_t)st.st_size, size);
		fit_check_same(src, dest, t);
		fit_check_list(dir, "large.bin", t);
		/* The destination is on the simulator's tmpfs: give the memory back. */
		assert_int_equal(unlink(dest), 0);
	}
	assert_int_equal(unlink(src), 0);
}

static void test_overwrite_refused(void **state)
{
	static const char old[] = "old content, must survive\n";
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], src[PATH_MAX], dest[PATH_MAX], before[PATH_MAX];

		assert_int_equal(fit_mkdtemp(f, "noover", dir, sizeof(dir)), 0);
		assert_int_equal(fit_join(dest, sizeof(dest), dir, "target.txt"), 0);
		assert_int_equal(fit_write_file(dest, old, sizeof(old) - 1), 0);
		assert_int_equal(chmod(dest, 0640), 0);
		assert_int_equal(fit_make_source(f, 3 * FIT_FRAGMENT, 5, src, sizeof(src)), 0);
		FIT_FMT(before, "%s/old-%s.txt", hostsim_scratch_dir(f->sim), fit_name(t));
		assert_int_equal(fit_write_file(before, old, sizeof(old) - 1), 0);

		fit_check_status(fit_copy(f, t, src, dir, "target.txt", 0), HV_ERROR_ALREADY_EXISTS,
				 t, "existing target without OVER_WRITE");
		fit_check_same(before, dest, t);
		assert_int_equal(fit_mode(dest), 0640);
		fit_check_list(dir, "target.txt", t);
	}
}

static void test_overwrite_replaces(void **state)
{
	static const char old[] = "old content, to be replaced\n";
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], src[PATH_MAX], dest[PATH_MAX];

		assert_int_equal(fit_mkdtemp(f, "over", dir, sizeof(dir)), 0);
		assert_int_equal(fit_join(dest, sizeof(dest), dir, "target.txt"), 0);
		assert_int_equal(fit_write_file(dest, old, sizeof(old) - 1), 0);
		assert_int_equal(chmod(dest, 0600), 0);
		/* Shorter and longer than the old file. */
		for (size_t size = 7; size < 100000; size *= 100) {
			assert_int_equal(fit_make_source(f, size, size, src, sizeof(src)), 0);
			fit_check_status(
				fit_copy(f, t, src, dir, "target.txt", HOSTSIM_FCOPY_OVER_WRITE),
				HV_S_OK, t, "OVER_WRITE");
			fit_check_same(src, dest, t);
			assert_int_equal(fit_mode(dest), 0644);
			fit_check_list(dir, "target.txt", t);
		}
	}
}

static void test_create_path(void **state)
{
	static const char *const levels[] = { "/a", "/a/b", "/a/b/c" };
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], deep[PATH_MAX], src[PATH_MAX], dest[PATH_MAX], p[PATH_MAX];

		assert_int_equal(fit_mkdtemp(f, "mkpath", dir, sizeof(dir)), 0);
		assert_true(snprintf(deep, sizeof(deep), "%s/a/b/c", dir) < (int)sizeof(deep));
		assert_int_equal(fit_make_source(f, 2 * FIT_FRAGMENT + 3, 9, src, sizeof(src)), 0);

		fit_check_status(fit_copy(f, t, src, deep, "x.bin", 0), HV_E_FAIL, t,
				 "missing directories without CREATE_PATH");
		fit_check_list(dir, "", t);

		fit_check_status(fit_copy(f, t, src, deep, "x.bin", HOSTSIM_FCOPY_CREATE_PATH),
				 HV_S_OK, t, "CREATE_PATH");
		assert_int_equal(fit_join(dest, sizeof(dest), deep, "x.bin"), 0);
		fit_check_same(src, dest, t);
		assert_int_equal(fit_mode(dest), 0644);
		/* dir/a, dir/a/b, dir/a/b/c: each created with the default 0755. */
		for (size_t k = 0; k < ELEMENTSOF(levels); k++) {
			FIT_FMT(p, "%s%s", dir, levels[k]);
			assert_int_equal(fit_mode(p), 0755);
		}
		fit_check_list(dir, "a", t);
		fit_check_list(deep, "x.bin", t);

		/* An existing part of the path is fine too. */
		FIT_FMT(p, "%s/a/b/d", dir);
		fit_check_status(fit_copy(f, t, src, p, "y.bin", HOSTSIM_FCOPY_CREATE_PATH),
				 HV_S_OK, t, "CREATE_PATH below an existing directory");
		FIT_FMT(p, "%s/a/b", dir);
		fit_check_list(p, "c|d", t);
	}
}

static void test_config_modes(void **state)
{
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], sub[PATH_MAX], src[PATH_MAX], dest[PATH_MAX];

		assert_int_equal(fit_restart(f, t, "[fcopy]\nfile_mode=0600\ndir_mode=0700\n"), 0);
		assert_int_equal(fit_mkdtemp(f, "modes", dir, sizeof(dir)), 0);
		assert_int_equal(fit_join(sub, sizeof(sub), dir, "new"), 0);
		assert_int_equal(fit_make_source(f, 100, 3, src, sizeof(src)), 0);
		fit_check_status(fit_copy(f, t, src, sub, "m.bin", HOSTSIM_FCOPY_CREATE_PATH),
				 HV_S_OK, t, "copy with file_mode=0600");
		assert_int_equal(fit_join(dest, sizeof(dest), sub, "m.bin"), 0);
		fit_check_same(src, dest, t);
		assert_int_equal(fit_mode(dest), 0600);
		assert_int_equal(fit_mode(sub), 0700);

		/* A mode wider than the umask would let through, also on replacement. */
		assert_int_equal(fit_restart(f, t, "[fcopy]\nfile_mode=0664\n"), 0);
		fit_check_status(fit_copy(f, t, src, sub, "m.bin", HOSTSIM_FCOPY_OVER_WRITE),
				 HV_S_OK, t, "copy with file_mode=0664");
		assert_int_equal(fit_mode(dest), 0664);
		fit_check_list(sub, "m.bin", t);
	}
}

static void test_cancel(void **state)
{
	Fit *f = *state;
	uint8_t *buf = fit_fragment(42);

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], keep[PATH_MAX], src[PATH_MAX], dest[PATH_MAX];
		pid_t pid = hostsim_daemon_pid(f->daemon[t]);
		uint32_t st = 1;

		assert_int_equal(fit_mkdtemp(f, "cancel", dir, sizeof(dir)), 0);
		assert_int_equal(fit_join(keep, sizeof(keep), dir, "keep.txt"), 0);
		assert_int_equal(fit_write_file(keep, "keep", 4), 0);

		for (unsigned flags = 0; flags <= HOSTSIM_FCOPY_OVER_WRITE; flags++) {
			fit_begin_transfer(f, t, dir, "big.bin", flags, 10 * FIT_FRAGMENT, buf, 4);
			/* The daemon holds the temporary file in dir. */
			assert_int_equal(fit_fds_in(pid, dir), 1);
			assert_int_equal(hostsim_fcopy_via_cancel(f->sim, t, &st), 0);
			fit_check_status(st, HV_S_OK, t, "CANCEL");
			/* Released at once (the reply comes after the cleanup), nothing named. */
			assert_int_equal(fit_fds_in(pid, dir), 0);
			fit_check_list(dir, "keep.txt", t);
		}

		/* And the daemon serves the next copy. */
		assert_int_equal(fit_make_source(f, 4 * FIT_FRAGMENT + 5, 8, src, sizeof(src)), 0);
		fit_check_status(fit_copy(f, t, src, dir, "big.bin", 0), HV_S_OK, t,
				 "copy after cancel");
		assert_int_equal(fit_join(dest, sizeof(dest), dir, "big.bin"), 0);
		fit_check_same(src, dest, t);
		fit_check_list(dir, "big.bin|keep.txt", t);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_utf8_names),
		cmocka_unit_test(test_overwrite_refused),
		cmocka_unit_test(test_overwrite_replaces),
		cmocka_unit_test(test_create_path),
		cmocka_unit_test_teardown(test_config_modes, fit_restore_defaults),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_large_file),
	};

	if (!fit_can_run())
		return 77;
	return cmocka_run_group_tests(tests, fit_group_setup, group_teardown);
}
