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
#include <sys/inotify.h>
#include <sys/stat.h>
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
		cmocka_unit_test_setup_teardown(test_read_full_file, setup, teardown),
		cmocka_unit_test(test_read_full_pipe),
		cmocka_unit_test(test_loop_read_write),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
