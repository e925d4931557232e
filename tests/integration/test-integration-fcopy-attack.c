/* SPDX-License-Identifier: MIT */
/*
 * hv_fcopy_daemon end to end, attacks and failures, on both transports: ".." and symlinks in
 * the path or at the target (nothing may be written outside the intended directory), a
 * directory swapped for a symlink mid-transfer, allowed_roots, a full filesystem, the daemon
 * killed mid-transfer and restarted, and (uio, last: it cannot be undone) the channel
 * rescinded mid-transfer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "fcopy-it.h"
#include "fcopy/fcopy-transfer.h"

static int group_teardown(void **state)
{
	fit_free(*state);
	return 0;
}

/* A small source file under the scratch dir. */
static void small_source(Fit *f, char *src, size_t size)
{
	assert_int_equal(fit_make_source(f, 2 * FIT_FRAGMENT + 11, 99, src, size), 0);
}

static void test_dotdot(void **state)
{
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dest[PATH_MAX], victim[PATH_MAX], path[PATH_MAX], src[PATH_MAX];
		const char *vname;

		assert_int_equal(fit_mkdtemp(f, "dest", dest, sizeof(dest)), 0);
		assert_int_equal(fit_mkdtemp(f, "victim", victim, sizeof(victim)), 0);
		vname = strrchr(victim, '/') + 1;
		small_source(f, src, sizeof(src));

		/* dest/../victim: refused, with or without CREATE_PATH. */
		FIT_FMT(path, "%s/../%s", dest, vname);
		for (uint32_t fl = 0; fl <= HOSTSIM_FCOPY_CREATE_PATH;
		     fl += HOSTSIM_FCOPY_CREATE_PATH)
			fit_check_status(fit_copy(f, t, src, path, "f", fl), HV_E_FAIL, t,
					 "path with ..");
		/* dest/x/../../victim with missing x: nothing created on the way either. */
		FIT_FMT(path, "%s/x/../../%s", dest, vname);
		fit_check_status(fit_copy(f, t, src, path, "f", HOSTSIM_FCOPY_CREATE_PATH),
				 HV_E_FAIL, t, "path with x/../..");
		/* Names that are not one plain component. */
		fit_check_status(fit_copy(f, t, src, dest, "..", HOSTSIM_FCOPY_OVER_WRITE),
				 HV_E_FAIL, t, "name ..");
		FIT_FMT(path, "../%s/f", vname);
		fit_check_status(fit_copy(f, t, src, dest, path, HOSTSIM_FCOPY_CREATE_PATH),
				 HV_E_FAIL, t, "name with /");
		/* A relative path. */
		fit_check_status(
			fit_copy(f, t, src, "relative/dir", "f", HOSTSIM_FCOPY_CREATE_PATH),
			HV_E_FAIL, t, "relative path");
		fit_check_list(dest, "", t);
		fit_check_list(victim, "", t);
	}
}

static void test_symlink_component(void **state)
{
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dest[PATH_MAX], outside[PATH_MAX], link[PATH_MAX], path[PATH_MAX],
			src[PATH_MAX];

		assert_int_equal(fit_mkdtemp(f, "dest", dest, sizeof(dest)), 0);
		assert_int_equal(fit_mkdtemp(f, "outside", outside, sizeof(outside)), 0);
		assert_int_equal(fit_join(link, sizeof(link), dest, "link"), 0);
		assert_int_equal(symlink(outside, link), 0);
		small_source(f, src, sizeof(src));

		/* The symlink as the last component and in the middle (with CREATE_PATH). */
		fit_check_status(fit_copy(f, t, src, link, "f", HOSTSIM_FCOPY_OVER_WRITE),
				 HV_E_FAIL, t, "symlinked directory");
		FIT_FMT(path, "%s/sub/deeper", link);
		fit_check_status(fit_copy(f, t, src, path, "f", HOSTSIM_FCOPY_CREATE_PATH),
				 HV_E_FAIL, t, "symlink in the middle");
		fit_check_list(outside, "", t);
		fit_check_list(dest, "link", t);
	}
}

static void test_symlink_target(void **state)
{
	static const char precious[] = "precious outside content\n";
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dest[PATH_MAX], outside[PATH_MAX], victim[PATH_MAX], ref[PATH_MAX],
			link[PATH_MAX], src[PATH_MAX], target[PATH_MAX];
		struct stat st;
		int64_t s;
		ssize_t n;

		assert_int_equal(fit_mkdtemp(f, "dest", dest, sizeof(dest)), 0);
		assert_int_equal(fit_mkdtemp(f, "outside", outside, sizeof(outside)), 0);
		assert_int_equal(fit_join(victim, sizeof(victim), outside, "victim"), 0);
		assert_int_equal(fit_write_file(victim, precious, sizeof(precious) - 1), 0);
		assert_int_equal(fit_join(ref, sizeof(ref), dest, "../ref-precious"), 0);
		assert_int_equal(fit_write_file(ref, precious, sizeof(precious) - 1), 0);
		assert_int_equal(fit_join(link, sizeof(link), dest, "f"), 0);
		assert_int_equal(symlink(victim, link), 0);
		small_source(f, src, sizeof(src));

		/* Without OVER_WRITE: the name exists (whatever it is). */
		s = fit_copy(f, t, src, dest, "f", 0);
		assert_true(s == HV_ERROR_ALREADY_EXISTS || s == HV_E_FAIL);
		fit_check_same(ref, victim, t);
		n = readlink(link, target, sizeof(target) - 1);
		assert_true(n > 0);

		/*
		 * With OVER_WRITE: either refused (the link stays) or the link itself is
		 * replaced by the new regular file; the outside file is never written.
		 */
		s = fit_copy(f, t, src, dest, "f", HOSTSIM_FCOPY_OVER_WRITE);
		assert_true(s == HV_S_OK || s == HV_E_FAIL);
		fit_check_same(ref, victim, t);
		fit_check_list(outside, "victim", t);
		fit_check_list(dest, "f", t);
		assert_int_equal(lstat(link, &st), 0);
		if (s == HV_S_OK) {
			assert_true(S_ISREG(st.st_mode));
			fit_check_same(src, link, t);
		} else {
			assert_true(S_ISLNK(st.st_mode));
		}
		printf("[ INFO     ] %s: OVER_WRITE onto a symlink: %s\n", fit_name(t),
		       s == HV_S_OK ? "the link was replaced" : "refused");
	}
}

static void test_symlink_swap(void **state)
{
	Fit *f = *state;
	uint8_t *buf = fit_fragment(7);

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dest[PATH_MAX], outside[PATH_MAX], sub[PATH_MAX], moved[PATH_MAX],
			ref[PATH_MAX], file[PATH_MAX];
		uint32_t st = 1;

		assert_int_equal(fit_mkdtemp(f, "dest", dest, sizeof(dest)), 0);
		assert_int_equal(fit_mkdtemp(f, "outside", outside, sizeof(outside)), 0);
		assert_int_equal(fit_join(sub, sizeof(sub), dest, "sub"), 0);
		assert_int_equal(fit_join(moved, sizeof(moved), dest, "sub.orig"), 0);
		assert_int_equal(mkdir(sub, 0755), 0);

		fit_begin_transfer(f, t, sub, "f.bin", 0, 2 * FIT_FRAGMENT, buf, 1);

		/* The attacker swaps dest/sub for a symlink to outside. */
		assert_int_equal(rename(sub, moved), 0);
		assert_int_equal(symlink(outside, sub), 0);

		assert_int_equal(
			hostsim_fcopy_via_write(f->sim, t, FIT_FRAGMENT, buf, FIT_FRAGMENT, &st),
			0);
		fit_check_status(st, HV_S_OK, t, "WRITE 2");
		assert_int_equal(hostsim_fcopy_via_complete(f->sim, t, &st), 0);

		/* The daemon walks by descriptor: the file lands in the original directory. */
		fit_check_list(outside, "", t);
		fit_check_status(st, HV_S_OK, t, "COMPLETE after the swap");
		fit_check_list(moved, "f.bin", t);
		fit_check_list(dest, "sub|sub.orig", t);
		FIT_FMT(ref, "%s/swap-ref-%s", hostsim_scratch_dir(f->sim), fit_name(t));
		assert_int_equal(fit_write_file(ref, buf, FIT_FRAGMENT), 0);
		assert_int_equal(fit_join(file, sizeof(file), moved, "f.bin"), 0);
		/* Both fragments were buf. */
		{
			uint8_t two[2 * FIT_FRAGMENT];

			memcpy(two, buf, FIT_FRAGMENT);
			memcpy(two + FIT_FRAGMENT, buf, FIT_FRAGMENT);
			assert_int_equal(fit_write_file(ref, two, sizeof(two)), 0);
		}
		fit_check_same(ref, file, t);
	}
	free(buf);
}

static void test_allowed_roots(void **state)
{
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char root[PATH_MAX], elsewhere[PATH_MAX], conf[PATH_MAX + 64], src[PATH_MAX],
			path[PATH_MAX];

		assert_int_equal(fit_mkdtemp(f, "root", root, sizeof(root)), 0);
		assert_int_equal(fit_mkdtemp(f, "elsewhere", elsewhere, sizeof(elsewhere)), 0);
		FIT_FMT(conf, "[fcopy]\nallowed_roots=%s\n", root);
		assert_int_equal(fit_restart(f, t, conf), 0);
		small_source(f, src, sizeof(src));

		fit_check_status(fit_copy(f, t, src, elsewhere, "f", HOSTSIM_FCOPY_OVER_WRITE),
				 HV_E_FAIL, t, "outside allowed_roots");
		FIT_FMT(path, "%s/new", elsewhere);
		fit_check_status(fit_copy(f, t, src, path, "f", HOSTSIM_FCOPY_CREATE_PATH),
				 HV_E_FAIL, t, "outside allowed_roots, CREATE_PATH");
		/* A prefix of the root's name is not below it. */
		FIT_FMT(path, "%sx", root);
		fit_check_status(fit_copy(f, t, src, path, "f", HOSTSIM_FCOPY_CREATE_PATH),
				 HV_E_FAIL, t, "sibling sharing the root's prefix");
		assert_int_equal(access(path, F_OK), -1);
		fit_check_list(elsewhere, "", t);

		/* Below the root: fine. */
		FIT_FMT(path, "%s/in/side", root);
		fit_check_status(fit_copy(f, t, src, path, "f", HOSTSIM_FCOPY_CREATE_PATH), HV_S_OK,
				 t, "below allowed_roots");
		fit_check_status(fit_copy(f, t, src, root, "g", 0), HV_S_OK, t,
				 "the allowed root itself");
		fit_check_list(root, "g|in", t);
	}
}

static void test_enospc(void **state)
{
	const size_t big = 8u << 20;
	Fit *f = *state;
	char mnt[PATH_MAX];

	assert_int_equal(fit_mkdtemp(f, "small", mnt, sizeof(mnt)), 0);
	/* In the simulator's private mount namespace, where the daemons run too. */
	assert_int_equal(
		mount("hvguest-fcopy-it", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755"),
		0);
	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char src[PATH_MAX], small[PATH_MAX], dest[PATH_MAX];
		struct statvfs v0, v1;

		assert_int_equal(statvfs(mnt, &v0), 0);
		assert_int_equal(fit_make_source(f, big, 1234, src, sizeof(src)), 0);
		fit_check_status(fit_copy(f, t, src, mnt, "big.bin", 0), HV_ERROR_DISK_FULL, t,
				 "8 MiB into 4 MiB");
		fit_check_list(mnt, "", t);
		assert_int_equal(statvfs(mnt, &v1), 0);
		if (v1.f_bfree != v0.f_bfree)
			fail_msg("%s: %llu blocks free after the failed copy, %llu before",
				 fit_name(t), (unsigned long long)v1.f_bfree,
				 (unsigned long long)v0.f_bfree);
		assert_int_equal(unlink(src), 0);

		small_source(f, small, sizeof(small));
		fit_check_status(fit_copy(f, t, small, mnt, "small.bin", 0), HV_S_OK, t,
				 "small copy after ENOSPC");
		assert_int_equal(fit_join(dest, sizeof(dest), mnt, "small.bin"), 0);
		fit_check_same(small, dest, t);
		assert_int_equal(unlink(dest), 0);
	}
	assert_int_equal(umount2(mnt, 0), 0);
}

/*
 * SIGKILL between two WRITEs. O_TMPFILE temporaries vanish with the process; a named
 * temporary (what a crash inside COMPLETE with OVER_WRITE, or a filesystem without O_TMPFILE,
 * leaves) is planted by hand and must be removed by the restarted daemon from the run
 * directory's record of the transfer.
 */
static void test_sigkill(void **state)
{
	Fit *f = *state;
	uint8_t *buf = fit_fragment(3);

	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char dir[PATH_MAX], keep[PATH_MAX], planted[PATH_MAX], record[PATH_MAX],
			src[PATH_MAX], dest[PATH_MAX];
		int ws;

		assert_int_equal(fit_mkdtemp(f, "kill", dir, sizeof(dir)), 0);
		assert_int_equal(fit_join(keep, sizeof(keep), dir, "keep.txt"), 0);
		assert_int_equal(fit_write_file(keep, "keep", 4), 0);
		assert_int_equal(fit_join(record, sizeof(record), f->run_dir[t], "fcopy-inflight"),
				 0);

		fit_begin_transfer(f, t, dir, "target.bin", HOSTSIM_FCOPY_OVER_WRITE,
				   8 * FIT_FRAGMENT, buf, 3);
		/* OVER_WRITE transfers may need a named temporary: recorded for crash cleanup. */
		assert_int_equal(access(record, F_OK), 0);
		assert_int_equal(fit_join(planted, sizeof(planted), dir, FCOPY_TMP_PREFIX "crash1"),
				 0);
		assert_int_equal(fit_write_file(planted, buf, 100), 0);

		ws = hostsim_daemon_signal(f->daemon[t], SIGKILL);
		assert_true(ws >= 0 && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
		(void)hostsim_daemon_stop(f->daemon[t]);
		f->daemon[t] = NULL;
		/* No partial file at the destination name. */
		fit_check_list(dir, FCOPY_TMP_PREFIX "crash1|keep.txt", t);

		/* uio: the restarted daemon inherits the same ring and interrupt socket. */
		assert_int_equal(fit_start(f, t), 0);
		assert_int_equal(fit_make_source(f, 3 * FIT_FRAGMENT + 1, 4, src, sizeof(src)), 0);
		fit_check_status(fit_copy(f, t, src, dir, "target.bin", 0), HV_S_OK, t,
				 "copy after the restart");
		assert_int_equal(fit_join(dest, sizeof(dest), dir, "target.bin"), 0);
		fit_check_same(src, dest, t);
		/* The planted temporary is gone, nothing else appeared; the record is done. */
		fit_check_list(dir, "keep.txt|target.bin", t);
		assert_int_equal(access(record, F_OK), -1);
		assert_int_equal(errno, ENOENT);
	}
	free(buf);
}

/*
 * uio only: the host rescinds the channel mid-transfer. The transfer is abandoned (its
 * temporary file released, nothing at the destination) and the daemon does not spin while
 * the channel stays dead. Must run last: the channel cannot be revived.
 */
static void test_uio_rescind(void **state)
{
	const HostSimFcopyTransport t = HOSTSIM_FCOPY_UIO;
	Fit *f = *state;
	uint8_t *buf = fit_fragment(11);
	char dir[PATH_MAX];
	pid_t pid = hostsim_daemon_pid(f->daemon[t]);
	uint32_t st = 1;
	int64_t c0, c1;
	int ws;

	assert_int_equal(fit_mkdtemp(f, "rescind", dir, sizeof(dir)), 0);
	fit_begin_transfer(f, t, dir, "r.bin", 0, 4 * FIT_FRAGMENT, buf, 2);
	assert_int_equal(fit_fds_in(pid, dir), 1);

	assert_int_equal(hostsim_fcopy_uio_kill_channel(f->sim), 0);
	assert_int_equal(
		hostsim_fcopy_via_write(f->sim, t, 2 * FIT_FRAGMENT, buf, FIT_FRAGMENT, &st),
		-ENOTCONN);
	/* The daemon notices and drops the transfer. */
	assert_int_equal(fit_wait_no_fds_in(pid, dir, 5 * USEC_PER_SEC), 0);
	fit_check_list(dir, "", t);

	/* Either it exited cleanly or it waits quietly: < 0.1 s of CPU over one second. */
	c0 = fit_cpu_ticks(pid);
	usleep(1000000); /* the measurement interval, not synchronisation */
	c1 = fit_cpu_ticks(pid);
	if (hostsim_daemon_wait(f->daemon[t], 0, &ws) == 0) {
		printf("[ INFO     ] uio: the daemon exited after the rescind (status 0x%x)\n",
		       (unsigned)ws);
		assert_true(WIFEXITED(ws));
	} else {
		assert_true(c0 >= 0 && c1 >= 0);
		if ((c1 - c0) * 10 > sysconf(_SC_CLK_TCK))
			fail_msg("the daemon used %lld ticks of CPU in 1 s on a dead channel",
				 (long long)(c1 - c0));
		printf("[ INFO     ] uio: the daemon waits after the rescind, %lld tick(s) of CPU "
		       "in 1 s\n",
		       (long long)(c1 - c0));
		/* And still stops cleanly. */
		ws = fit_stop(f, t);
		assert_true(ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dotdot),
		cmocka_unit_test(test_symlink_component),
		cmocka_unit_test(test_symlink_target),
		cmocka_unit_test(test_symlink_swap),
		cmocka_unit_test_teardown(test_allowed_roots, fit_restore_defaults),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_sigkill),
		cmocka_unit_test(test_uio_rescind),
	};

	if (!fit_can_run())
		return 77;
	return cmocka_run_group_tests(tests, fit_group_setup, group_teardown);
}
