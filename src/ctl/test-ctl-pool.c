/* SPDX-License-Identifier: MIT */
/*
 * Tests of hvctl's pool file access against real files in a private temporary directory:
 * the host limits, refused pools, nothing written on refusal, append / in-place replace /
 * delete-by-zeroing byte layouts and damaged files. Plus the pure diff used by watch.
 * Locking and concurrency are in test-ctl-pool-locks.c.
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
#include "test-ctl-pool-util.h"

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
		cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
