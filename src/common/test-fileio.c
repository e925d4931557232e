/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fileio.h"

#define TMP_PREFIX ".test-atomic."

typedef struct Fixture {
	char dir[64];
	int dirfd;
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-fileio-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open_dir(f->dir);
	assert_true(f->dirfd >= 0);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	Fixture *f = *state;

	close(f->dirfd);
	assert_int_equal(nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* Number of directory entries whose name starts with prefix. */
static unsigned count_prefixed(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void assert_content(int dirfd, const char *name, const char *expected)
{
	char *buf = NULL;
	size_t size = 0;

	assert_int_equal(read_full_file_at(dirfd, name, 1 << 20, &buf, &size), 0);
	assert_int_equal(size, strlen(expected));
	assert_string_equal(buf, expected);
	free(buf);
}

static void test_atomic_write_replaces(void **state)
{
	Fixture *f = *state;

	assert_int_equal(write_file_atomic_at(f->dirfd, "pool", TMP_PREFIX, "old", 3, 0600), 0);
	assert_content(f->dirfd, "pool", "old");
	assert_int_equal(
		write_file_atomic_at(f->dirfd, "pool", TMP_PREFIX, "new content", 11, 0600), 0);
	assert_content(f->dirfd, "pool", "new content");
	/* empty data is a valid file */
	assert_int_equal(write_file_atomic_at(f->dirfd, "pool", TMP_PREFIX, "", 0, 0600), 0);
	assert_content(f->dirfd, "pool", "");
	assert_int_equal(count_prefixed(f->dir, TMP_PREFIX), 0);
}

static void test_mode_ignores_umask(void **state)
{
	Fixture *f = *state;
	mode_t old = umask(0077);
	struct stat st;

	assert_int_equal(write_file_atomic_at(f->dirfd, "a", TMP_PREFIX, "x", 1, 0644), 0);
	assert_int_equal(fstatat(f->dirfd, "a", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	umask(0);
	assert_int_equal(write_file_atomic_at(f->dirfd, "b", TMP_PREFIX, "x", 1, 0600), 0);
	assert_int_equal(fstatat(f->dirfd, "b", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(old);
}

/* inotify shows the temporary name: "<prefix>XXXXXX", created then renamed away. */
static void test_temp_prefix_used(void **state)
{
	Fixture *f = *state;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char created[NAME_MAX + 1] = "", moved[NAME_MAX + 1] = "";
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ssize_t n;

	assert_true(in >= 0);
	assert_true(inotify_add_watch(in, f->dir, IN_CREATE | IN_MOVED_FROM) >= 0);
	assert_int_equal(write_file_atomic_at(f->dirfd, "target", TMP_PREFIX, "data", 4, 0600), 0);
	n = read(in, buf, sizeof(buf));
	assert_true(n > 0);
	for (char *p = buf; p < buf + n;) {
		struct inotify_event *ev = (struct inotify_event *)p;

		if (ev->mask & IN_CREATE)
			snprintf(created, sizeof(created), "%s", ev->name);
		if (ev->mask & IN_MOVED_FROM)
			snprintf(moved, sizeof(moved), "%s", ev->name);
		p += sizeof(*ev) + ev->len;
	}
	close(in);
	assert_int_equal(strncmp(created, TMP_PREFIX, strlen(TMP_PREFIX)), 0);
	assert_int_equal(strlen(created), strlen(TMP_PREFIX) + 6);
	assert_string_equal(created, moved);
	assert_int_equal(count_prefixed(f->dir, TMP_PREFIX), 0);
	assert_content(f->dirfd, "target", "data");
}

/* The rename fails because name is a directory: no temporary file may remain. */
static void test_failure_removes_temp(void **state)
{
	Fixture *f = *state;
	struct stat st;
	int r;

	assert_int_equal(mkdirat(f->dirfd, "busy", 0755), 0);
	r = write_file_atomic_at(f->dirfd, "busy", TMP_PREFIX, "data", 4, 0600);
	assert_true(r == -EISDIR || r == -ENOTEMPTY || r == -EEXIST);
	assert_int_equal(count_prefixed(f->dir, TMP_PREFIX), 0);
	assert_int_equal(fstatat(f->dirfd, "busy", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));

	assert_int_equal(write_file_atomic_at(f->dirfd, "a/b", TMP_PREFIX, "x", 1, 0600), -EINVAL);
	assert_int_equal(write_file_atomic_at(f->dirfd, "a", "x/", "x", 1, 0600), -EINVAL);
}

/* Writes "chunk-0;chunk-1;...;" in n_chunks separate writes, failing at fail_at if set. */
typedef struct ChunkWriter {
	unsigned n_chunks;
	unsigned calls;
	int fail_at; /* chunk index whose write fails with -ENOSPC, or -1 */
} ChunkWriter;

static int write_chunks(int fd, void *userdata)
{
	ChunkWriter *w = userdata;
	char buf[32];

	w->calls++;
	/* A fresh, empty temporary file at offset 0. */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	for (unsigned i = 0; i < w->n_chunks; i++) {
		int n = snprintf(buf, sizeof(buf), "chunk-%u;", i);
		int r;

		if ((int)i == w->fail_at)
			return -ENOSPC;
		r = loop_write(fd, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	return 0;
}

static void test_atomic_write_cb(void **state)
{
	Fixture *f = *state;
	ChunkWriter w = { .n_chunks = 3, .fail_at = -1 };
	mode_t old = umask(0077);
	struct stat st;

	assert_int_equal(
		write_file_atomic_at_cb(f->dirfd, "pool", TMP_PREFIX, 0644, write_chunks, &w), 0);
	umask(old);
	assert_int_equal(w.calls, 1);
	assert_content(f->dirfd, "pool", "chunk-0;chunk-1;chunk-2;");
	assert_int_equal(fstatat(f->dirfd, "pool", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* A failing writer: its error, the old content intact, no temporary file left. */
	w = (ChunkWriter){ .n_chunks = 5, .fail_at = 4 };
	assert_int_equal(
		write_file_atomic_at_cb(f->dirfd, "pool", TMP_PREFIX, 0644, write_chunks, &w),
		-ENOSPC);
	assert_int_equal(w.calls, 1);
	assert_content(f->dirfd, "pool", "chunk-0;chunk-1;chunk-2;");
	assert_int_equal(count_prefixed(f->dir, TMP_PREFIX), 0);

	/* Nothing written is an empty file. */
	w = (ChunkWriter){ .n_chunks = 0, .fail_at = -1 };
	assert_int_equal(
		write_file_atomic_at_cb(f->dirfd, "pool", TMP_PREFIX, 0600, write_chunks, &w), 0);
	assert_content(f->dirfd, "pool", "");
	assert_int_equal(count_prefixed(f->dir, TMP_PREFIX), 0);

	assert_int_equal(
		write_file_atomic_at_cb(f->dirfd, "a/b", TMP_PREFIX, 0600, write_chunks, &w),
		-EINVAL);
	assert_int_equal(write_file_atomic_at_cb(f->dirfd, "pool", TMP_PREFIX, 0600, NULL, NULL),
			 -EINVAL);
	assert_int_equal(count_prefixed(f->dir, TMP_PREFIX), 0);
}

static void test_loop_writev(void **state)
{
	Fixture *f = *state;
	static const char zeros[64];
	char big[5000], *buf = NULL, expected[5000 + 64 + 16];
	struct iovec iov[6];
	size_t size;
	int fd;

	memset(big, 'b', sizeof(big));
	fd = openat(f->dirfd, "v", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	/* Empty entries anywhere, including last, are fine. */
	iov[0] = (struct iovec){ .iov_base = (void *)"key", .iov_len = 3 };
	iov[1] = (struct iovec){ .iov_base = (void *)zeros, .iov_len = 0 };
	iov[2] = (struct iovec){ .iov_base = (void *)zeros, .iov_len = sizeof(zeros) };
	iov[3] = (struct iovec){ .iov_base = big, .iov_len = sizeof(big) };
	iov[4] = (struct iovec){ .iov_base = (void *)"value-end", .iov_len = 9 };
	iov[5] = (struct iovec){ .iov_base = NULL, .iov_len = 0 };
	assert_int_equal(loop_writev(fd, iov, ELEMENTSOF(iov)), 0);
	assert_int_equal(loop_writev(fd, iov, 0), 0);
	close(fd);

	memcpy(expected, "key", 3);
	memset(expected + 3, 0, sizeof(zeros));
	memcpy(expected + 3 + sizeof(zeros), big, sizeof(big));
	memcpy(expected + 3 + sizeof(zeros) + sizeof(big), "value-end", 9);
	assert_int_equal(read_full_file_at(f->dirfd, "v", 1 << 20, &buf, &size), 0);
	assert_int_equal(size, 3 + sizeof(zeros) + sizeof(big) + 9);
	assert_memory_equal(buf, expected, size);
	free(buf);

	assert_int_equal(loop_writev(-1, iov, 1), -EBADF);
}

/*
 * A short write (RLIMIT_FSIZE cuts the writev at the limit) is continued from the right
 * place, and the error of the continuation is returned instead of spinning.
 */
static void test_loop_writev_short(void **state)
{
	Fixture *f = *state;
	struct rlimit old, lim = { .rlim_cur = 4096 + 100 };
	char a[4096], b[4096], *buf = NULL;
	struct iovec iov[2] = { { .iov_base = a, .iov_len = sizeof(a) },
				{ .iov_base = b, .iov_len = sizeof(b) } };
	void (*old_handler)(int);
	size_t size;
	int fd;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	fd = openat(f->dirfd, "short", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(loop_writev(fd, iov, ELEMENTSOF(iov)), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	close(fd);

	/* The first write stopped 100 bytes into b: the iov was advanced exactly that far. */
	assert_ptr_equal(iov[1].iov_base, b + 100);
	assert_int_equal(iov[1].iov_len, sizeof(b) - 100);
	assert_int_equal(read_full_file_at(f->dirfd, "short", 1 << 20, &buf, &size), 0);
	assert_int_equal(size, 4096 + 100);
	assert_memory_equal(buf, a, sizeof(a));
	assert_memory_equal(buf + sizeof(a), b, 100);
	free(buf);
}

static void test_read_full_file(void **state)
{
	Fixture *f = *state;
	char *buf = NULL;
	size_t size;

	assert_int_equal(write_file_atomic_at(f->dirfd, "f", TMP_PREFIX, "0123456789", 10, 0600),
			 0);
	assert_int_equal(read_full_file_at(f->dirfd, "f", 10, &buf, &size), 0);
	assert_int_equal(size, 10);
	assert_memory_equal(buf, "0123456789", 11); /* NUL-terminated */
	free(buf);
	buf = NULL;
	assert_int_equal(read_full_file_at(f->dirfd, "f", 9, &buf, &size), -EFBIG);
	assert_null(buf);
	assert_int_equal(read_full_file_at(f->dirfd, "missing", 100, &buf, &size), -ENOENT);
	assert_int_equal(read_full_file_at(AT_FDCWD, f->dir, 100, &buf, &size), -EISDIR);
}

/* A pipe is not a regular file: the size is found by reading, and the limit still holds. */
static void test_read_full_pipe(void **state)
{
	char path[] = "/proc/self/fd/XXXXXXXXXX";
	char *buf = NULL;
	char data[6000];
	size_t size;
	int p[2];

	memset(data, 'q', sizeof(data));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_write(p[1], data, sizeof(data)), 0);
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	assert_int_equal(read_full_file_at(AT_FDCWD, path, 1 << 20, &buf, &size), 0);
	assert_int_equal(size, sizeof(data));
	assert_memory_equal(buf, data, sizeof(data));
	free(buf);
	close(p[0]);
}

static void test_loop_read_write(void **state)
{
	char out[100];
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_write(p[1], "hello world", 11), 0);
	close(p[1]);
	assert_int_equal(loop_read(p[0], out, sizeof(out)), 11);
	assert_memory_equal(out, "hello world", 11);
	assert_int_equal(loop_read(p[0], out, sizeof(out)), 0);
	close(p[0]);
	assert_int_equal(loop_write(-1, "x", 1), -EBADF);
	assert_int_equal(loop_read(-1, out, 1), -EBADF);
}

static void test_mkdir_p(void **state)
{
	Fixture *f = *state;
	char path[PATH_MAX], file[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/a/b//c/", f->dir);
	assert_int_equal(mkdir_p(path, 0755), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(mkdir_p(path, 0755), 0); /* existing is fine */

	snprintf(file, sizeof(file), "%s/file", f->dir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mkdir_p(file, 0755), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/file/sub", f->dir);
	assert_int_equal(mkdir_p(path, 0755), -ENOTDIR);
	assert_int_equal(open_dir(file), -ENOTDIR);
	assert_int_equal(mkdir_p("", 0755), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomic_write_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_ignores_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temp_prefix_used, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_removes_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_cb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_writev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_writev_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_full_file, setup, teardown),
		cmocka_unit_test(test_read_full_pipe),
		cmocka_unit_test(test_loop_read_write),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
