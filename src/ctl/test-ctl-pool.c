/* SPDX-License-Identifier: MIT */
/*
 * Tests of hvctl's pool file access against real files in a private temporary directory:
 * the host limits, refused pools, nothing written on refusal, append / in-place replace /
 * delete-by-zeroing byte layouts, damaged files, bounded lock waits against each lock kind,
 * and concurrent appenders (cloud-init style flock, fcntl, and lock-free) racing our
 * sets and deletes with no record lost or torn. Plus the pure diff used by watch.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/event.h"
#include "ctl/ctl-pool.h"

#define RS ((size_t)KVP_RECORD_SIZE)
#define SHORT_TIMEOUT (50 * USEC_PER_MSEC)
#define LONG_TIMEOUT (10 * USEC_PER_SEC)

typedef struct Ctx {
	char dir[64];
	char path[128]; /* pool 1 */
	int dir_fd;
} Ctx;

static int setup(void **state)
{
	Ctx *c = calloc(1, sizeof(*c));
	char *dir;

	assert_non_null(c);
	snprintf(c->dir, sizeof(c->dir), "/tmp/test-ctl-pool-XXXXXX");
	dir = mkdtemp(c->dir);
	assert_non_null(dir);
	snprintf(c->path, sizeof(c->path), "%s/.kvp_pool_1", dir);
	c->dir_fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(c->dir_fd >= 0);
	*state = c;
	return 0;
}

static int count_entries(const Ctx *c)
{
	struct dirent *de;
	DIR *d = opendir(c->dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int teardown(void **state)
{
	Ctx *c = *state;
	struct dirent *de;
	DIR *d = opendir(c->dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			assert_int_equal(unlinkat(c->dir_fd, de->d_name, 0), 0);
	closedir(d);
	close(c->dir_fd);
	assert_int_equal(rmdir(c->dir), 0);
	free(c);
	return 0;
}

static void make_record(KvpRecord *r, const char *key, const char *value)
{
	*r = (KvpRecord){ 0 };
	memcpy(r->key, key, strlen(key));
	memcpy(r->value, value, strlen(value));
}

static void write_raw(const Ctx *c, const void *data, size_t size)
{
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
}

/* The whole pool 1 file; returns its size. */
static size_t read_raw(const Ctx *c, uint8_t **ret)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(c->path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*ret = buf;
	return (size_t)st.st_size;
}

static void expect_record_at(const Ctx *c, size_t index, const char *key, const char *value)
{
	uint8_t *data;
	size_t size = read_raw(c, &data);
	KvpRecord want;

	assert_true(size >= (index + 1) * RS);
	make_record(&want, key, value);
	assert_memory_equal(data + index * RS, &want, RS);
	free(data);
}

static void expect_hole_at(const Ctx *c, size_t index)
{
	uint8_t *data;
	size_t size = read_raw(c, &data);

	assert_true(size >= (index + 1) * RS);
	for (size_t i = 0; i < RS; i++)
		assert_int_equal(data[index * RS + i], 0);
	free(data);
}

static struct stat stat_pool(const Ctx *c)
{
	struct stat st;

	assert_int_equal(stat(c->path, &st), 0);
	return st;
}

static void expect_same_file(const Ctx *c, const struct stat *before, const uint8_t *data,
			     size_t size)
{
	struct stat now = stat_pool(c);
	uint8_t *cur;

	assert_int_equal(now.st_mtim.tv_sec, before->st_mtim.tv_sec);
	assert_int_equal(now.st_mtim.tv_nsec, before->st_mtim.tv_nsec);
	assert_int_equal(read_raw(c, &cur), size);
	assert_memory_equal(cur, data, size);
	free(cur);
}

/* n copies of the UTF-8 character ch, NUL-terminated, malloc'ed. */
static char *repeat(const char *ch, size_t n)
{
	size_t len = strlen(ch);
	char *s = malloc(len * n + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, ch, len);
	s[len * n] = '\0';
	return s;
}

static void test_key_limits(void **state)
{
	CtlFieldSize sz;
	char *s;

	s = repeat("k", 254);
	assert_int_equal(ctl_pool_check_key(s, &sz), 0);
	assert_int_equal(sz.units, 254);
	free(s);
	s = repeat("k", 255);
	assert_int_equal(ctl_pool_check_key(s, &sz), -ENAMETOOLONG);
	assert_int_equal(sz.units, 255);
	assert_int_equal(sz.bytes, 255);
	free(s);
	/* 170 three-byte characters: 510 bytes, fits; 171: 513 bytes, a record cannot hold
	 * it although 171 units are well within 254. */
	s = repeat("日", 170);
	assert_int_equal(ctl_pool_check_key(s, &sz), 0);
	free(s);
	s = repeat("日", 171);
	assert_int_equal(ctl_pool_check_key(s, &sz), -ENAMETOOLONG);
	assert_int_equal(sz.units, 171);
	assert_int_equal(sz.bytes, 513);
	free(s);
	/* A four-byte character is a surrogate pair: 127 of them are 254 units, 128 too many. */
	s = repeat("\xF0\x9F\x98\x80", 127);
	assert_int_equal(ctl_pool_check_key(s, &sz), 0);
	assert_int_equal(sz.units, 254);
	free(s);
	s = repeat("\xF0\x9F\x98\x80", 128);
	assert_int_equal(ctl_pool_check_key(s, &sz), -ENAMETOOLONG);
	assert_int_equal(sz.units, 256);
	free(s);

	assert_int_equal(ctl_pool_check_key("", &sz), -EINVAL);
	assert_int_equal(ctl_pool_check_key("a\xFF", &sz), -EILSEQ);
	assert_int_equal(ctl_pool_check_key("\xED\xA0\x80", NULL), -EILSEQ);
}

static void test_value_limits(void **state)
{
	CtlFieldSize sz;
	char *s;

	assert_int_equal(ctl_pool_check_value("", &sz), 0);
	s = repeat("v", 1022);
	assert_int_equal(ctl_pool_check_value(s, &sz), 0);
	free(s);
	s = repeat("v", 1023);
	assert_int_equal(ctl_pool_check_value(s, &sz), -E2BIG);
	assert_int_equal(sz.units, 1023);
	free(s);
	s = repeat("é", 1022); /* 2044 bytes, 1022 units */
	assert_int_equal(ctl_pool_check_value(s, &sz), 0);
	free(s);
	s = repeat("日", 683); /* 683 units but 2049 bytes */
	assert_int_equal(ctl_pool_check_value(s, &sz), -E2BIG);
	assert_int_equal(sz.bytes, 2049);
	free(s);
	s = repeat("\xF0\x9F\x98\x80", 512); /* 2048 bytes and 1024 units */
	assert_int_equal(ctl_pool_check_value(s, &sz), -E2BIG);
	free(s);
	assert_int_equal(ctl_pool_check_value("\xC0\xAF", NULL), -EILSEQ);
}

static void test_refused_pools(void **state)
{
	Ctx *c = *state;
	size_t removed = 7;

	for (int p = 0; p < _KVP_POOL_MAX; p++) {
		if (p == KVP_POOL_GUEST)
			continue;
		assert_int_equal(ctl_pool_set(c->dir_fd, p, "k", "v", SHORT_TIMEOUT, NULL), -EROFS);
		assert_int_equal(ctl_pool_delete(c->dir_fd, p, "k", SHORT_TIMEOUT, &removed),
				 -EROFS);
	}
	assert_int_equal(ctl_pool_set(c->dir_fd, _KVP_POOL_MAX, "k", "v", SHORT_TIMEOUT, NULL),
			 -ERANGE);
	assert_int_equal(ctl_pool_set(c->dir_fd, -1, "k", "v", SHORT_TIMEOUT, NULL), -ERANGE);
	assert_int_equal(removed, 7);
	/* Not even created. */
	assert_int_equal(count_entries(c), 0);
}

static void test_refusal_writes_nothing(void **state)
{
	Ctx *c = *state;
	char *longval = repeat("v", 1023), *longkey = repeat("k", 255);
	KvpRecord rec;
	struct stat before;
	uint8_t *data;
	size_t size;

	/* No file: nothing created. */
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "k", longval, SHORT_TIMEOUT, NULL), -E2BIG);
	assert_int_equal(count_entries(c), 0);

	make_record(&rec, "k", "v");
	write_raw(c, &rec, RS);
	before = stat_pool(c);
	size = read_raw(c, &data);
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "k", longval, SHORT_TIMEOUT, NULL), -E2BIG);
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, longkey, "v", SHORT_TIMEOUT, NULL),
			 -ENAMETOOLONG);
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "", "v", SHORT_TIMEOUT, NULL), -EINVAL);
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "k", "\xFF", SHORT_TIMEOUT, NULL), -EILSEQ);
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "\xFF", "v", SHORT_TIMEOUT, NULL), -EILSEQ);
	assert_int_equal(ctl_pool_delete(c->dir_fd, 1, "", SHORT_TIMEOUT, NULL), -EINVAL);
	assert_int_equal(ctl_pool_delete(c->dir_fd, 1, "absent", SHORT_TIMEOUT, NULL), -ENOENT);
	expect_same_file(c, &before, data, size);
	free(data);
	free(longval);
	free(longkey);
}

static void test_set_append_and_replace(void **state)
{
	Ctx *c = *state;
	CtlSetResult res = _CTL_SET_RESULT_INVALID;
	struct stat st, before;
	uint8_t *data;
	size_t size;
	mode_t old_umask = umask(077);

	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "alpha", "1", SHORT_TIMEOUT, &res), 0);
	umask(old_umask);
	assert_int_equal(res, CTL_SET_ADDED);
	st = stat_pool(c);
	assert_int_equal(st.st_size, RS);
	/* Exact mode whatever the umask. */
	assert_int_equal(st.st_mode & 07777, 0644);
	expect_record_at(c, 0, "alpha", "1");

	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "beta", "Größe 日本", SHORT_TIMEOUT, &res), 0);
	assert_int_equal(res, CTL_SET_ADDED);
	assert_int_equal(stat_pool(c).st_size, 2 * RS);

	/* Replacing keeps the position and the size; the other record is untouched. */
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "alpha", "a longer value", SHORT_TIMEOUT, &res),
			 0);
	assert_int_equal(res, CTL_SET_REPLACED);
	assert_int_equal(stat_pool(c).st_size, 2 * RS);
	expect_record_at(c, 0, "alpha", "a longer value");
	expect_record_at(c, 1, "beta", "Größe 日本");
	/* A shorter value leaves no stale tail (zero padded). */
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "alpha", "s", SHORT_TIMEOUT, &res), 0);
	expect_record_at(c, 0, "alpha", "s");

	/* The same value again: nothing written, mtime kept (cloud-init's boot check). */
	before = stat_pool(c);
	size = read_raw(c, &data);
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "alpha", "s", SHORT_TIMEOUT, &res), 0);
	assert_int_equal(res, CTL_SET_UNCHANGED);
	expect_same_file(c, &before, data, size);
	free(data);
}

static void test_delete_zeroes_in_place(void **state)
{
	Ctx *c = *state;
	CtlPoolView v;
	CtlSetResult res;
	struct stat before;
	uint8_t *data;
	size_t removed = 0, size;

	/* No file: -ENOENT, and no file created. */
	assert_int_equal(ctl_pool_delete(c->dir_fd, 1, "a", SHORT_TIMEOUT, &removed), -ENOENT);
	assert_int_equal(count_entries(c), 0);

	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "a", "1", SHORT_TIMEOUT, NULL), 0);
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "b", "2", SHORT_TIMEOUT, NULL), 0);
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "c", "3", SHORT_TIMEOUT, NULL), 0);
	assert_int_equal(ctl_pool_delete(c->dir_fd, 1, "b", SHORT_TIMEOUT, &removed), 0);
	assert_int_equal(removed, 1);
	/* Same size, the record zeroed, the others where they were. */
	assert_int_equal(stat_pool(c).st_size, 3 * RS);
	expect_record_at(c, 0, "a", "1");
	expect_hole_at(c, 1);
	expect_record_at(c, 2, "c", "3");

	assert_int_equal(ctl_pool_read(c->dir_fd, 1, SHORT_TIMEOUT, &v), 0);
	assert_true(v.exists);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.n_holes, 1);
	assert_int_equal(v.stats.n_skipped, 0); /* a hole is not damage */
	assert_string_equal(v.records[0].key, "a");
	assert_string_equal(v.records[1].key, "c");
	assert_null(ctl_pool_view_get(&v, "b"));
	ctl_pool_view_done(&v);

	before = stat_pool(c);
	size = read_raw(c, &data);
	assert_int_equal(ctl_pool_delete(c->dir_fd, 1, "b", SHORT_TIMEOUT, NULL), -ENOENT);
	expect_same_file(c, &before, data, size);
	free(data);

	/* Setting it again appends: holes are never reused. */
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "b", "again", SHORT_TIMEOUT, &res), 0);
	assert_int_equal(res, CTL_SET_ADDED);
	assert_int_equal(stat_pool(c).st_size, 4 * RS);
	expect_record_at(c, 3, "b", "again");
}

static void test_duplicates(void **state)
{
	Ctx *c = *state;
	KvpRecord raw[3];
	CtlPoolView v;
	CtlSetResult res;
	size_t removed = 0;

	make_record(&raw[0], "A", "1");
	make_record(&raw[1], "B", "x");
	make_record(&raw[2], "A", "2");
	write_raw(c, raw, sizeof(raw));

	/* Readers: every record in file order; get: the last one wins. */
	assert_int_equal(ctl_pool_read(c->dir_fd, 1, SHORT_TIMEOUT, &v), 0);
	assert_int_equal(v.n, 3);
	assert_string_equal(ctl_pool_view_get(&v, "A"), "2");
	ctl_pool_view_done(&v);

	/* set keeps the first position and removes the later duplicate. */
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "A", "3", SHORT_TIMEOUT, &res), 0);
	assert_int_equal(res, CTL_SET_REPLACED);
	expect_record_at(c, 0, "A", "3");
	expect_record_at(c, 1, "B", "x");
	expect_hole_at(c, 2);

	/* delete removes every duplicate. */
	make_record(&raw[0], "C", "1");
	make_record(&raw[1], "D", "x");
	make_record(&raw[2], "C", "2");
	write_raw(c, raw, sizeof(raw));
	assert_int_equal(ctl_pool_delete(c->dir_fd, 1, "C", SHORT_TIMEOUT, &removed), 0);
	assert_int_equal(removed, 2);
	expect_hole_at(c, 0);
	expect_record_at(c, 1, "D", "x");
	expect_hole_at(c, 2);
}

static void test_read_damaged(void **state)
{
	Ctx *c = *state;
	uint8_t buf[5 * KVP_RECORD_SIZE + 100] = { 0 };
	KvpRecord *r = (KvpRecord *)buf;
	CtlPoolView v;

	make_record(&r[0], "good", "1");
	memset(r[1].key, 'k', sizeof(r[1].key)); /* no NUL: cut to 511 bytes */
	make_record(&r[2], "bad", "\xC0\xAF");	 /* not UTF-8: skipped */
	/* r[3] all zero: a hole */
	make_record(&r[4], "last", "2");
	memset(buf + 5 * RS, 'x', 100); /* an appender mid-write */
	write_raw(c, buf, sizeof(buf));

	assert_int_equal(ctl_pool_read(c->dir_fd, 1, SHORT_TIMEOUT, &v), 0);
	assert_int_equal(v.n, 3);
	assert_string_equal(v.records[0].key, "good");
	assert_int_equal(strlen(v.records[1].key), KVP_KEY_SIZE - 1);
	assert_string_equal(v.records[2].key, "last");
	assert_int_equal(v.stats.n_capped, 1);
	assert_int_equal(v.stats.n_skipped, 1);
	assert_int_equal(v.n_holes, 1);
	assert_int_equal(v.stats.trailing_bytes, 100);
	assert_int_equal(v.stats.n_dropped, 0);
	ctl_pool_view_done(&v);

	/* Other pools read the same way; a missing file is an empty pool. */
	assert_int_equal(ctl_pool_read(c->dir_fd, 3, SHORT_TIMEOUT, &v), 0);
	assert_false(v.exists);
	assert_int_equal(v.n, 0);
	assert_null(v.records);
	assert_int_equal(ctl_pool_read(c->dir_fd, 5, SHORT_TIMEOUT, &v), -EINVAL);
}

static void test_partial_tail(void **state)
{
	Ctx *c = *state;
	uint8_t buf[KVP_RECORD_SIZE + 100] = { 0 };
	struct stat before;
	uint8_t *data;
	size_t size;
	CtlSetResult res;

	make_record((KvpRecord *)buf, "A", "1");
	memset(buf + RS, 'x', 100);
	write_raw(c, buf, sizeof(buf));
	before = stat_pool(c);
	size = read_raw(c, &data);

	/* Appending after a partial record would misalign everything: refused, untouched. */
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "new", "v", SHORT_TIMEOUT, NULL), -EBADMSG);
	expect_same_file(c, &before, data, size);
	free(data);

	/* In-place changes are still fine. */
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "A", "2", SHORT_TIMEOUT, &res), 0);
	assert_int_equal(res, CTL_SET_REPLACED);
	expect_record_at(c, 0, "A", "2");
	assert_int_equal(stat_pool(c).st_size, RS + 100);
}

static uint64_t elapsed_since(uint64_t start)
{
	return now_usec(CLOCK_MONOTONIC) - start;
}

/* Expects set and read to time out (or read to succeed when shared is true). */
static void expect_blocked(Ctx *c, bool read_ok)
{
	uint64_t start = now_usec(CLOCK_MONOTONIC);
	CtlPoolView v;

	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "k", "new", SHORT_TIMEOUT, NULL), -ETIMEDOUT);
	assert_true(elapsed_since(start) >= SHORT_TIMEOUT);
	assert_true(elapsed_since(start) < 2 * USEC_PER_SEC);
	assert_int_equal(ctl_pool_delete(c->dir_fd, 1, "k", SHORT_TIMEOUT, NULL), -ETIMEDOUT);
	if (read_ok) {
		assert_int_equal(ctl_pool_read(c->dir_fd, 1, SHORT_TIMEOUT, &v), 0);
		assert_string_equal(ctl_pool_view_get(&v, "k"), "old");
		ctl_pool_view_done(&v);
	} else
		assert_int_equal(ctl_pool_read(c->dir_fd, 1, SHORT_TIMEOUT, &v), -ETIMEDOUT);
	expect_record_at(c, 0, "k", "old");
}

static void test_lock_timeouts(void **state)
{
	Ctx *c = *state;
	KvpRecord rec;
	struct flock fl = { .l_whence = SEEK_SET };
	int fd;

	make_record(&rec, "k", "old");
	write_raw(c, &rec, RS);

	/* Each lock kind, held on another open file description, is honoured. */
	fd = open(c->path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	expect_blocked(c, false);
	close(fd);

	fd = open(c->path, O_RDWR | O_CLOEXEC);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	expect_blocked(c, true);
	close(fd);

	fd = open(c->path, O_RDWR | O_CLOEXEC);
	fl.l_type = F_WRLCK;
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	expect_blocked(c, false);
	close(fd);

	fd = open(c->path, O_RDWR | O_CLOEXEC);
	fl.l_type = F_RDLCK;
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	expect_blocked(c, true);
	close(fd);

	/* Free again: works with a zero timeout (one attempt). */
	assert_int_equal(ctl_pool_set(c->dir_fd, 1, "k", "new", 0, NULL), 0);
	expect_record_at(c, 0, "k", "new");
}

/*
 * A child holds a lock like another program for hold_ms, then exits: with a long enough
 * timeout set waits for it and succeeds; a POSIX (process) lock is honoured too.
 */
static void hold_lock_in_child(const Ctx *c, bool posix, unsigned hold_ms, int *ret_pipe,
			       pid_t *ret_pid)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(c->path, O_RDWR | O_CLOEXEC);

		if (fd < 0)
			_exit(1);
		if (posix ? fcntl(fd, F_SETLKW, &fl) < 0 : flock(fd, LOCK_EX) < 0)
			_exit(2);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		(void)nanosleep(&(struct timespec){ .tv_nsec = (long)hold_ms * 1000000L }, NULL);
		_exit(0);
	}
	close(p[1]);
	{
		char ch;

		assert_int_equal(read(p[0], &ch, 1), 1);
	}
	*ret_pipe = p[0];
	*ret_pid = pid;
}

static void test_lock_waits_for_other_process(void **state)
{
	Ctx *c = *state;
	KvpRecord rec;
	uint64_t start;
	int status, pfd;
	pid_t pid;

	make_record(&rec, "k", "old");
	write_raw(c, &rec, RS);

	for (int posix = 0; posix <= 1; posix++) {
		/* Too short a wait: refused. */
		hold_lock_in_child(c, posix, 300, &pfd, &pid);
		assert_int_equal(ctl_pool_set(c->dir_fd, 1, "k", "x", SHORT_TIMEOUT, NULL),
				 -ETIMEDOUT);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(pfd);

		/* Long enough: waits, then writes. */
		hold_lock_in_child(c, posix, 150, &pfd, &pid);
		start = now_usec(CLOCK_MONOTONIC);
		assert_int_equal(ctl_pool_set(c->dir_fd, 1, "k", posix ? "posix" : "flock",
					      LONG_TIMEOUT, NULL),
				 0);
		assert_true(elapsed_since(start) >= 100 * USEC_PER_MSEC);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(pfd);
		expect_record_at(c, 0, "k", posix ? "posix" : "flock");
	}
}

typedef enum AppendKind {
	APPEND_FLOCK, /* cloud-init */
	APPEND_FCNTL, /* Microsoft's sample, upstream-style process lock */
	APPEND_NONE,  /* azure-init revision without a lock */
	_APPEND_KIND_MAX,
} AppendKind;

#define APPENDS_PER_CHILD 300
#define HV_KEYS 7
#define HV_ROUNDS 400

static void appender_value(AppendKind kind, unsigned i, char *buf, size_t size)
{
	/* Long values, so a torn record would show. */
	int n = snprintf(buf, size, "kind=%d i=%u ", (int)kind, i);

	assert_true(n > 0 && (size_t)n < size);
	memset(buf + n, 'a' + (int)(i % 26), size - 1 - (size_t)n);
	buf[size - 1] = '\0';
}

static void appender_key(AppendKind kind, unsigned i, char *buf, size_t size)
{
	snprintf(buf, size, "CLOUD_INIT|%d|%u|event", (int)kind, i);
}

/* One 2560-byte write() per record on an O_APPEND descriptor, with the kind's lock. */
_noreturn_ static void appender_main(const char *path, AppendKind kind)
{
	for (unsigned i = 0; i < APPENDS_PER_CHILD; i++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		char key[64], value[1000];
		KvpRecord rec = { 0 };
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0)
			_exit(10);
		appender_key(kind, i, key, sizeof(key));
		appender_value(kind, i, value, sizeof(value));
		memcpy(rec.key, key, strlen(key));
		memcpy(rec.value, value, strlen(value));
		switch (kind) {
		case APPEND_FLOCK:
			if (flock(fd, LOCK_EX) < 0)
				_exit(11);
			break;
		case APPEND_FCNTL:
			if (fcntl(fd, F_SETLKW, &fl) < 0)
				_exit(12);
			break;
		case APPEND_NONE:
		case _APPEND_KIND_MAX:
			break;
		}
		if (write(fd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			_exit(13);
		close(fd);
	}
	_exit(0);
}

static void test_concurrent_appenders(void **state)
{
	Ctx *c = *state;
	pid_t pids[_APPEND_KIND_MAX];
	char model[HV_KEYS][32] = { { 0 } };
	uint8_t *data;
	KvpRecord *v = NULL;
	KvpParseStats stats;
	size_t size, n;

	/* Start with a file so every child appends to the same inode. */
	{
		KvpRecord seed;

		make_record(&seed, "seed", "0");
		write_raw(c, &seed, RS);
	}
	for (int k = 0; k < _APPEND_KIND_MAX; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0)
			appender_main(c->path, (AppendKind)k);
	}

	/* Meanwhile: appends, in-place replacements and deletions of our own keys. */
	for (unsigned i = 0; i < HV_ROUNDS; i++) {
		char key[16], value[32];
		unsigned k = i % HV_KEYS, d = (i + 3) % HV_KEYS;
		int r;

		snprintf(key, sizeof(key), "hv-%u", k);
		snprintf(value, sizeof(value), "round %u", i);
		assert_int_equal(ctl_pool_set(c->dir_fd, 1, key, value, LONG_TIMEOUT, NULL), 0);
		snprintf(model[k], sizeof(model[k]), "%s", value);
		if (i % 3 == 0) {
			snprintf(key, sizeof(key), "hv-%u", d);
			r = ctl_pool_delete(c->dir_fd, 1, key, LONG_TIMEOUT, NULL);
			assert_int_equal(r, model[d][0] ? 0 : -ENOENT);
			model[d][0] = '\0';
		}
	}
	for (int k = 0; k < _APPEND_KIND_MAX; k++) {
		int status;

		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}

	/* Whole records only, none torn, none lost, none duplicated. */
	size = read_raw(c, &data);
	assert_int_equal(size % RS, 0);
	assert_int_equal(kvp_records_parse(data, size, &v, &n, &stats), 0);
	assert_int_equal(stats.n_capped, 0);
	assert_int_equal(stats.trailing_bytes, 0);
	for (size_t i = 0; i < size / RS; i++) {
		const uint8_t *raw = data + i * RS;
		bool hole = true;

		for (size_t j = 0; j < RS && hole; j++)
			hole = raw[j] == 0;
		/* The only skipped records are our holes. */
		if (raw[0] == 0)
			assert_true(hole);
	}
	for (int k = 0; k < _APPEND_KIND_MAX; k++) {
		for (unsigned i = 0; i < APPENDS_PER_CHILD; i++) {
			char key[64], value[1000];
			unsigned found = 0;

			appender_key((AppendKind)k, i, key, sizeof(key));
			appender_value((AppendKind)k, i, value, sizeof(value));
			for (size_t j = 0; j < n; j++) {
				if (strcmp(v[j].key, key) != 0)
					continue;
				assert_string_equal(v[j].value, value);
				found++;
			}
			if (found != 1)
				fail_msg("record '%s' found %u times", key, found);
		}
	}
	/* Our keys end as the model says, exactly once each. */
	for (unsigned k = 0; k < HV_KEYS; k++) {
		char key[16];
		unsigned found = 0;

		snprintf(key, sizeof(key), "hv-%u", k);
		for (size_t j = 0; j < n; j++) {
			if (strcmp(v[j].key, key) != 0)
				continue;
			assert_string_equal(v[j].value, model[k]);
			found++;
		}
		assert_int_equal(found, model[k][0] ? 1 : 0);
	}
	free(v);
	free(data);
}

typedef struct Changes {
	char lines[8][64];
	size_t n;
	int fail_at; /* return -ECANCELED at this change (-1: never) */
} Changes;

static int collect(CtlChange ch, const char *key, const char *value, void *userdata)
{
	Changes *c = userdata;

	if ((int)c->n == c->fail_at)
		return -ECANCELED;
	assert_true(c->n < 8);
	assert_true(ch == CTL_CHANGE_REMOVED ? value == NULL : value != NULL);
	snprintf(c->lines[c->n++], sizeof(c->lines[0]), "%s %s%s%s", ctl_change_to_string(ch), key,
		 value ? "=" : "", value ? value : "");
	return 0;
}

static void test_diff(void **state)
{
	KvpRecord old[5], new[5];
	Changes ch = { .fail_at = -1 };

	make_record(&old[0], "a", "1");
	make_record(&old[1], "b", "2");
	make_record(&old[2], "c", "3");
	make_record(&old[3], "dup", "x");
	make_record(&old[4], "dup", "y");
	make_record(&new[0], "dup", "z");
	make_record(&new[1], "d", "5");
	make_record(&new[2], "c", "4");
	make_record(&new[3], "b", "2");
	make_record(&new[4], "dup", "y"); /* last wins: unchanged */

	assert_int_equal(ctl_pool_diff(old, 5, new, 5, collect, &ch), 3);
	assert_int_equal(ch.n, 3);
	/* In byte order of the keys. */
	assert_string_equal(ch.lines[0], "removed a");
	assert_string_equal(ch.lines[1], "changed c=4");
	assert_string_equal(ch.lines[2], "added d=5");

	ch = (Changes){ .fail_at = -1 };
	assert_int_equal(ctl_pool_diff(NULL, 0, NULL, 0, collect, &ch), 0);
	assert_int_equal(ctl_pool_diff(NULL, 0, new, 2, collect, &ch), 2);
	assert_string_equal(ch.lines[0], "added d=5");
	assert_string_equal(ch.lines[1], "added dup=z");
	ch = (Changes){ .fail_at = -1 };
	assert_int_equal(ctl_pool_diff(old, 2, NULL, 0, collect, &ch), 2);
	assert_string_equal(ch.lines[1], "removed b");

	/* The handler's error stops the diff. */
	ch = (Changes){ .fail_at = 1 };
	assert_int_equal(ctl_pool_diff(old, 5, new, 5, collect, &ch), -ECANCELED);
	assert_int_equal(ch.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_limits),
		cmocka_unit_test(test_value_limits),
		cmocka_unit_test_setup_teardown(test_refused_pools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_append_and_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_zeroes_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_waits_for_other_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appenders, setup, teardown),
		cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
