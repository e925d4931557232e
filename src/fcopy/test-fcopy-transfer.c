/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fcopy-transfer.h"

typedef struct Fixture {
	char dir[PATH_MAX];   /* resolved destination root (absolute, no symlinks) */
	char other[PATH_MAX]; /* a second temp dir standing for "outside" */
	mode_t old_umask;
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));
	char tmpl[64];

	assert_non_null(f);
	snprintf(tmpl, sizeof(tmpl), "/tmp/test-fcopy-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, f->dir));
	snprintf(tmpl, sizeof(tmpl), "/tmp/test-fcopy-out-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, f->other));
	/* A restrictive umask proves modes are applied literally. */
	f->old_umask = umask(077);
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

	umask(f->old_umask);
	assert_int_equal(nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(nftw(f->other, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* Entries of dir other than "." and "..". */
static unsigned count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	assert_true(n > 0 && (size_t)n < size);
}

static void write_plain(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

/* Asserts path holds exactly size bytes equal to data. */
static void assert_content(const char *path, const void *data, size_t size)
{
	uint8_t *buf = malloc(size + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	assert_non_null(buf);
	assert_true(fd >= 0);
	n = read(fd, buf, size + 1);
	assert_int_equal(n, (ssize_t)size);
	if (size > 0)
		assert_memory_equal(buf, data, size);
	close(fd);
	free(buf);
}

static void check_sizes(Fixture *f, bool no_tmpfile)
{
	static const size_t sizes[] = { 0, 1, 3 * 6144 + 1568 };
	FcopyPolicy pol = { .no_tmpfile = no_tmpfile };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t size = sizes[i];
		uint8_t *data = malloc(size + 1);
		FcopyTransfer *t = NULL;
		char name[32], path[PATH_MAX];
		struct stat st;

		assert_non_null(data);
		for (size_t j = 0; j < size; j++)
			data[j] = (uint8_t)(j * 7 + 3);
		snprintf(name, sizeof(name), "f%zu-%d", size, no_tmpfile);
		assert_int_equal(fcopy_transfer_start(&pol, f->dir, name, 0, size, &t), 0);
		/* Fragments of 6 KiB, last one first. */
		for (size_t k = (size + 6143) / 6144; k-- > 0;) {
			size_t off = k * 6144, len = size - off < 6144 ? size - off : 6144;

			assert_int_equal(fcopy_transfer_write(t, off, data + off, len), 0);
		}
		if (size == 0)
			assert_int_equal(fcopy_transfer_write(t, 0, data, 0), 0);
		join(path, sizeof(path), f->dir, name);
		/* Nothing at the final name before complete. */
		assert_int_equal(lstat(path, &st), -1);
		assert_int_equal(fcopy_transfer_complete(t), 0);
		assert_int_equal(fcopy_transfer_write(t, 0, data, 0), -EBADFD);
		fcopy_transfer_free(t);
		assert_content(path, data, size);
		assert_int_equal(lstat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644);
		free(data);
	}
	/* Only the three files: no temporary left behind. */
	assert_int_equal(count_entries(f->dir), no_tmpfile ? 6 : 3);
}

static void test_content(void **state)
{
	Fixture *f = *state;

	check_sizes(f, false);
	check_sizes(f, true);
	assert_int_equal(fcopy_cleanup_stale(f->dir), 0);
}

static void test_exists_no_overwrite(void **state)
{
	Fixture *f = *state;
	char path[PATH_MAX];

	for (int no_tmpfile = 0; no_tmpfile <= 1; no_tmpfile++) {
		FcopyPolicy pol = { .no_tmpfile = no_tmpfile };
		FcopyTransfer *t = NULL;

		join(path, sizeof(path), f->dir, "x");
		write_plain(path, "old");
		assert_int_equal(fcopy_transfer_start(&pol, f->dir, "x", 0, 3, &t), -EEXIST);
		assert_null(t);
		assert_content(path, "old", 3);
		assert_int_equal(unlink(path), 0);

		/* The name appears between start and complete: no-replace is checked again. */
		assert_int_equal(fcopy_transfer_start(&pol, f->dir, "x", 0, 3, &t), 0);
		assert_int_equal(fcopy_transfer_write(t, 0, "new", 3), 0);
		write_plain(path, "mine");
		assert_int_equal(fcopy_transfer_complete(t), -EEXIST);
		fcopy_transfer_free(t);
		assert_content(path, "mine", 4);
		assert_int_equal(count_entries(f->dir), 1);
		assert_int_equal(unlink(path), 0);
	}
}

typedef struct Watcher {
	const char *path;
	volatile int stop;
	unsigned missing; /* stat saw ENOENT */
	unsigned checks;
} Watcher;

static void *watch(void *arg)
{
	Watcher *w = arg;
	struct stat st;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		if (lstat(w->path, &st) < 0)
			__atomic_add_fetch(&w->missing, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&w->checks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_overwrite_atomic(void **state)
{
	Fixture *f = *state;
	char path[PATH_MAX], buf[8];

	join(path, sizeof(path), f->dir, "y");
	for (int no_tmpfile = 0; no_tmpfile <= 1; no_tmpfile++) {
		FcopyPolicy pol = { .no_tmpfile = no_tmpfile };
		FcopyTransfer *t = NULL;
		Watcher w = { .path = path };
		pthread_t th;
		int reader;

		write_plain(path, "old");
		reader = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(reader >= 0);
		assert_int_equal(
			fcopy_transfer_start(&pol, f->dir, "y", FCOPY_FLAG_OVER_WRITE, 5, &t), 0);
		assert_int_equal(fcopy_transfer_write(t, 0, "new!!", 5), 0);
		assert_content(path, "old", 3);
		assert_int_equal(pthread_create(&th, NULL, watch, &w), 0);
		while (__atomic_load_n(&w.checks, __ATOMIC_RELAXED) < 100)
			sched_yield();
		assert_int_equal(fcopy_transfer_complete(t), 0);
		/* Keep watching a bit after the switch too. */
		for (unsigned seen = __atomic_load_n(&w.checks, __ATOMIC_RELAXED);
		     __atomic_load_n(&w.checks, __ATOMIC_RELAXED) < seen + 100;)
			sched_yield();
		__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
		assert_int_equal(pthread_join(th, NULL), 0);
		fcopy_transfer_free(t);
		assert_int_equal(w.missing, 0);
		assert_content(path, "new!!", 5);
		assert_int_equal(pread(reader, buf, sizeof(buf), 0), 3);
		assert_memory_equal(buf, "old", 3);
		close(reader);
		assert_int_equal(count_entries(f->dir), 1);
	}
}

static void test_create_path(void **state)
{
	Fixture *f = *state;
	FcopyTransfer *t = NULL;
	char dir[PATH_MAX], file[PATH_MAX];
	struct stat st;

	join(dir, sizeof(dir), f->dir, "a/b/c");
	assert_int_equal(fcopy_transfer_start(NULL, dir, "z", 0, 1, &t), -ENOENT);
	assert_null(t);
	assert_int_equal(count_entries(f->dir), 0);

	assert_int_equal(fcopy_transfer_start(NULL, dir, "z", FCOPY_FLAG_CREATE_PATH, 1, &t), 0);
	assert_int_equal(fcopy_transfer_write(t, 0, "Z", 1), 0);
	assert_int_equal(fcopy_transfer_complete(t), 0);
	t = fcopy_transfer_free(t);
	join(file, sizeof(file), dir, "z");
	assert_content(file, "Z", 1);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);

	/* Trailing slash tolerated; existing path with CREATE_PATH is fine; custom modes. */
	FcopyPolicy pol = { .dir_mode = 0700, .file_mode = 0600 };
	join(dir, sizeof(dir), f->dir, "a/d/");
	assert_int_equal(fcopy_transfer_start(&pol, dir, "w", FCOPY_FLAG_CREATE_PATH, 0, &t), 0);
	assert_int_equal(fcopy_transfer_complete(t), 0);
	t = fcopy_transfer_free(t);
	join(file, sizeof(file), f->dir, "a/d/w");
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	join(file, sizeof(file), f->dir, "a/d");
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* A file where a directory should be. */
	join(file, sizeof(file), f->dir, "a/d/w");
	assert_int_equal(fcopy_transfer_start(NULL, file, "v", FCOPY_FLAG_CREATE_PATH, 0, &t),
			 -ENOTDIR);
	/* The final name is a directory. */
	join(dir, sizeof(dir), f->dir, "a");
	assert_int_equal(fcopy_transfer_start(NULL, dir, "d", FCOPY_FLAG_OVER_WRITE, 0, &t),
			 -EISDIR);
	assert_null(t);
}

static void test_invalid(void **state)
{
	Fixture *f = *state;
	FcopyTransfer *t = NULL;
	char path[PATH_MAX];
	static const char *const bad_paths[] = {
		"tmp", "", "//", "/tmp//x", "/tmp/../etc", "/tmp/./x", "/..", "/tmp/..", "/tmp//",
	};
	static const char *const bad_names[] = { "", ".", "..", "a/b", "/a" };

	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++)
		assert_int_equal(fcopy_transfer_start(NULL, bad_paths[i], "n",
						      FCOPY_FLAG_CREATE_PATH, 0, &t),
				 -EINVAL);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		assert_int_equal(fcopy_transfer_start(NULL, f->dir, bad_names[i], 0, 0, &t),
				 -EINVAL);
	assert_int_equal(fcopy_transfer_start(NULL, f->dir, "n", 0, FCOPY_FILE_SIZE_MAX + 1, &t),
			 -EFBIG);
	assert_null(t);

	/* Allowed roots: the root itself and below; a sibling sharing the prefix is not. */
	const char *const roots[] = { f->dir, NULL };
	FcopyPolicy pol = { .allowed_roots = roots };
	assert_int_equal(fcopy_transfer_start(&pol, f->other, "n", 0, 0, &t), -EACCES);
	join(path, sizeof(path), f->dir, "x");
	path[strlen(path) - 2] = '-'; /* "<dir>-x": a sibling sharing the prefix */
	assert_int_equal(fcopy_transfer_start(&pol, path, "n", FCOPY_FLAG_CREATE_PATH, 0, &t),
			 -EACCES);
	assert_int_equal(access(path, F_OK), -1);
	join(path, sizeof(path), f->dir, "sub");
	assert_int_equal(fcopy_transfer_start(&pol, path, "n", FCOPY_FLAG_CREATE_PATH, 2, &t), 0);

	/* Write bounds: the announced size (2 bytes) is the limit, overflow included. */
	assert_int_equal(fcopy_transfer_write(t, 0, "abc", 3), -EINVAL);
	assert_int_equal(fcopy_transfer_write(t, 2, "a", 1), -EINVAL);
	assert_int_equal(fcopy_transfer_write(t, UINT64_MAX, "a", 1), -EINVAL);
	assert_int_equal(fcopy_transfer_write(t, 1, "b", 1), 0);
	assert_int_equal(fcopy_transfer_write(t, 0, "a", 1), 0);
	assert_int_equal(fcopy_transfer_complete(t), 0);
	assert_int_equal(fcopy_transfer_complete(t), -EBADFD);
	fcopy_transfer_free(t);
	join(path, sizeof(path), f->dir, "sub/n");
	assert_content(path, "ab", 2);
}

static void test_symlink_dir(void **state)
{
	Fixture *f = *state;
	FcopyTransfer *t = NULL;
	char a[PATH_MAX], real[PATH_MAX], dest[PATH_MAX];

	join(a, sizeof(a), f->dir, "a");
	join(real, sizeof(real), f->dir, "a.real");
	join(dest, sizeof(dest), a, "b");
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(dest, 0755), 0);
	assert_int_equal(fcopy_transfer_start(NULL, dest, "s", 0, 1, &t), 0);
	t = fcopy_transfer_free(t);

	/* Swap a for a symlink to the outside, which also has a "b". */
	assert_int_equal(rename(a, real), 0);
	assert_int_equal(symlink(f->other, a), 0);
	join(dest, sizeof(dest), f->other, "b");
	assert_int_equal(mkdir(dest, 0755), 0);
	join(dest, sizeof(dest), a, "b");
	assert_int_equal(fcopy_transfer_start(NULL, dest, "s", FCOPY_FLAG_CREATE_PATH, 1, &t),
			 -ELOOP);
	assert_null(t);
	/* Final directory itself a symlink. */
	assert_int_equal(fcopy_transfer_start(NULL, a, "s", 0, 1, &t), -ELOOP);
	assert_int_equal(count_entries(dest), 0);
	assert_int_equal(count_entries(f->other), 1);
	join(dest, sizeof(dest), real, "b");
	assert_int_equal(count_entries(dest), 0);
}

static void test_symlink_final(void **state)
{
	Fixture *f = *state;
	char target[PATH_MAX], link[PATH_MAX];
	struct stat st;

	join(target, sizeof(target), f->other, "victim");
	join(link, sizeof(link), f->dir, "l");
	write_plain(target, "precious");
	assert_int_equal(symlink(target, link), 0);
	for (int no_tmpfile = 0; no_tmpfile <= 1; no_tmpfile++) {
		FcopyPolicy pol = { .no_tmpfile = no_tmpfile };
		FcopyTransfer *t = NULL;

		assert_int_equal(fcopy_transfer_start(&pol, f->dir, "l", 0, 1, &t), -EEXIST);
		assert_int_equal(
			fcopy_transfer_start(&pol, f->dir, "l", FCOPY_FLAG_OVER_WRITE, 4, &t), 0);
		assert_int_equal(fcopy_transfer_write(t, 0, "evil", 4), 0);
		assert_int_equal(fcopy_transfer_complete(t), 0);
		fcopy_transfer_free(t);
		assert_int_equal(lstat(link, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_content(link, "evil", 4);
		assert_content(target, "precious", 8);
		/* Restore the symlink for the second round. */
		assert_int_equal(unlink(link), 0);
		assert_int_equal(symlink(target, link), 0);
	}
	assert_int_equal(count_entries(f->dir), 1);
}

static void test_cancel(void **state)
{
	Fixture *f = *state;

	for (int no_tmpfile = 0; no_tmpfile <= 1; no_tmpfile++) {
		FcopyPolicy pol = { .no_tmpfile = no_tmpfile };
		FcopyTransfer *t = NULL;

		assert_int_equal(fcopy_transfer_start(&pol, f->dir, "c", 0, 4, &t), 0);
		assert_int_equal(fcopy_transfer_write(t, 0, "data", 4), 0);
		assert_int_equal(count_entries(f->dir), no_tmpfile ? 1 : 0);
		fcopy_transfer_cancel(t);
		fcopy_transfer_cancel(t);
		assert_int_equal(fcopy_transfer_write(t, 0, "d", 1), -EBADFD);
		assert_int_equal(fcopy_transfer_complete(t), -EBADFD);
		fcopy_transfer_free(t);
		assert_int_equal(count_entries(f->dir), 0);

		/* Free without complete or cancel. */
		assert_int_equal(
			fcopy_transfer_start(&pol, f->dir, "c", FCOPY_FLAG_OVER_WRITE, 4, &t), 0);
		assert_int_equal(fcopy_transfer_write(t, 0, "data", 4), 0);
		fcopy_transfer_free(t);
		assert_int_equal(count_entries(f->dir), 0);
	}
	assert_null(fcopy_transfer_free(NULL));
}

static void test_uses_named_temp(void **state)
{
	Fixture *f = *state;

	for (int no_tmpfile = 0; no_tmpfile <= 1; no_tmpfile++) {
		FcopyPolicy pol = { .no_tmpfile = no_tmpfile };
		FcopyTransfer *t = NULL;
		bool named;

		assert_int_equal(fcopy_transfer_start(&pol, f->dir, "n", 0, 4, &t), 0);
		/* A named temporary shows up in the directory; an O_TMPFILE one does not. */
		named = count_entries(f->dir) == 1;
		if (no_tmpfile)
			assert_true(named);
		assert_int_equal(fcopy_transfer_uses_named_temp(t), named);
		fcopy_transfer_free(t);

		/* OVER_WRITE renames a named link over the old file at completion. */
		assert_int_equal(
			fcopy_transfer_start(&pol, f->dir, "n", FCOPY_FLAG_OVER_WRITE, 4, &t), 0);
		assert_true(fcopy_transfer_uses_named_temp(t));
		fcopy_transfer_free(t);
		assert_int_equal(count_entries(f->dir), 0);
	}
}

static void test_cleanup_stale(void **state)
{
	Fixture *f = *state;
	char path[PATH_MAX];

	join(path, sizeof(path), f->dir, FCOPY_TMP_PREFIX "abc123");
	write_plain(path, "left over");
	join(path, sizeof(path), f->dir, FCOPY_TMP_PREFIX "dir");
	assert_int_equal(mkdir(path, 0755), 0);
	join(path, sizeof(path), f->dir, FCOPY_TMP_PREFIX "link");
	assert_int_equal(symlink(f->other, path), 0);
	join(path, sizeof(path), f->dir, "keep");
	write_plain(path, "keep");
	assert_int_equal(fcopy_cleanup_stale(f->dir), 1);
	assert_int_equal(count_entries(f->dir), 3);
	assert_int_equal(fcopy_cleanup_stale(f->dir), 0);
	join(path, sizeof(path), f->dir, "missing");
	assert_int_equal(fcopy_cleanup_stale(path), -ENOENT);
}

/* Child: tiny private tmpfs, fill it, expect -ENOSPC and no leftover. Exit 0 ok, 77 skip. */
static int enospc_child(const char *dir, bool no_tmpfile)
{
	FcopyPolicy pol = { .no_tmpfile = no_tmpfile };
	static uint8_t chunk[6144];
	FcopyTransfer *t = NULL;
	uint64_t size = 1024 * 1024;
	int r = 0;

	if (unshare(CLONE_NEWNS) < 0)
		return 77;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") < 0)
		return 77;
	if (fcopy_transfer_start(&pol, dir, "big", 0, size, &t) < 0)
		return 2;
	memset(chunk, 0xa5, sizeof(chunk));
	for (uint64_t off = 0; off < size && r == 0; off += sizeof(chunk))
		r = fcopy_transfer_write(t, off, chunk,
					 size - off < sizeof(chunk) ? size - off : sizeof(chunk));
	fcopy_transfer_free(t);
	if (r != -ENOSPC)
		return 3;
	if (count_entries(dir) != 0)
		return 4;
	return 0;
}

static void test_enospc(void **state)
{
	Fixture *f = *state;
	char dir[PATH_MAX];

	join(dir, sizeof(dir), f->dir, "small");
	assert_int_equal(mkdir(dir, 0755), 0);
	for (int no_tmpfile = 0; no_tmpfile <= 1; no_tmpfile++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(enospc_child(dir, no_tmpfile));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) == 77)
			skip();
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* The tmpfs lived only in the child's namespace. */
	assert_int_equal(count_entries(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exists_no_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_final, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uses_named_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
	};

	return cmocka_run_group_tests_name("fcopy-transfer", tests, NULL, NULL);
}
