/* SPDX-License-Identifier: MIT */
/*
 * Parsing and sanitizing of KVP pool records (kvp-record), on in-memory buffers.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/macro.h"
#include "kvp/kvp-store.h"

#include "test-kvp-store-util.h"

static void test_parse_whole_records_only(void **state)
{
	uint8_t buf[2 * KVP_RECORD_SIZE + 100];
	KvpParseStats st;
	KvpRecord *v;
	size_t n;

	memset(buf, 'x', sizeof(buf));
	make_record(buf, "a", "1");
	make_record(buf + KVP_RECORD_SIZE, "b", "2");
	assert_int_equal(kvp_records_parse(buf, sizeof(buf), &v, &n, &st), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st.trailing_bytes, 100);
	assert_int_equal(st.n_capped + st.n_skipped, 0);
	assert_string_equal(v[0].key, "a");
	assert_string_equal(v[1].value, "2");
	free(v);

	assert_int_equal(kvp_records_parse(buf, KVP_RECORD_SIZE - 1, &v, &n, &st), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(st.trailing_bytes, KVP_RECORD_SIZE - 1);
}

static void test_parse_capped_fields(void **state)
{
	uint8_t buf[3 * KVP_RECORD_SIZE];
	KvpParseStats st;
	KvpRecord *v;
	size_t n;

	/* Key of 512 bytes without NUL (cloud-init's silent truncation). */
	memset(buf, 0, sizeof(buf));
	memset(buf, 'k', KVP_KEY_SIZE);
	memcpy(buf + KVP_KEY_SIZE, "v", 1);
	/* 510 x 'a' + U+00E9 (2 bytes) fills the key: the cut drops the split character. */
	memset(buf + KVP_RECORD_SIZE, 'a', 510);
	memcpy(buf + KVP_RECORD_SIZE + 510, "\xc3\xa9", 2);
	/* Value of 2045 x 'b' + U+20AC (3 bytes) = 2048 bytes, no NUL. */
	memcpy(buf + 2 * KVP_RECORD_SIZE, "key3", 4);
	memset(buf + 2 * KVP_RECORD_SIZE + KVP_KEY_SIZE, 'b', 2045);
	memcpy(buf + 2 * KVP_RECORD_SIZE + KVP_KEY_SIZE + 2045, "\xe2\x82\xac", 3);

	assert_int_equal(kvp_records_parse(buf, sizeof(buf), &v, &n, &st), 0);
	assert_int_equal(n, 3);
	assert_int_equal(st.n_capped, 3);
	assert_int_equal(st.n_skipped, 0);
	assert_int_equal(strlen(v[0].key), 511);
	assert_string_equal(v[0].value, "v");
	assert_int_equal(strlen(v[1].key), 510);
	assert_int_equal(strspn(v[1].key, "a"), 510);
	assert_string_equal(v[2].key, "key3");
	assert_int_equal(strlen(v[2].value), 2045);
	assert_int_equal(v[2].value[2046], 0);
	assert_int_equal(v[2].value[2047], 0);
	free(v);
}

static void test_parse_skips_bad_records(void **state)
{
	static const char *const bad_keys[] = { "bad\xff", "\xc0\xaf", "\xed\xa0\x80", "" };
	uint8_t buf[6 * KVP_RECORD_SIZE];
	KvpParseStats st;
	KvpRecord *v;
	size_t n;

	memset(buf, 0, sizeof(buf)); /* record 5 stays all zero */
	for (size_t i = 0; i < ELEMENTSOF(bad_keys); i++)
		make_record(buf + i * KVP_RECORD_SIZE, bad_keys[i], "value");
	make_record(buf + 4 * KVP_RECORD_SIZE, "good", "bad value \xf8\x88\x80\x80\x80");
	assert_int_equal(kvp_records_parse(buf, sizeof(buf), &v, &n, &st), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(st.n_skipped, 5);
	assert_int_equal(st.n_holes, 1);

	/* A good record between bad ones survives, in order. */
	make_record(buf + 2 * KVP_RECORD_SIZE, "Ünïcödé", "✓");
	assert_int_equal(kvp_records_parse(buf, sizeof(buf), &v, &n, &st), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st.n_skipped, 4);
	assert_int_equal(st.n_holes, 1);
	assert_string_equal(v[0].key, "Ünïcödé");
	assert_string_equal(v[0].value, "✓");
	free(v);
}

/*
 * hvctl deletes a pool 1 key by zeroing its record: such a hole is skipped but is not
 * damage, while a record that is almost all zero still is.
 */
static void test_parse_holes_not_damage(void **state)
{
	uint8_t buf[5 * KVP_RECORD_SIZE];
	KvpParseStats st;
	KvpRecord *v;
	size_t n;

	memset(buf, 0, sizeof(buf)); /* records 0, 2 and 4 stay all zero */
	make_record(buf + KVP_RECORD_SIZE, "a", "1");
	make_record(buf + 3 * KVP_RECORD_SIZE, "b", "2");
	assert_int_equal(kvp_records_parse(buf, sizeof(buf), &v, &n, &st), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].key, "a");
	assert_string_equal(v[1].key, "b");
	assert_int_equal(st.n_holes, 3);
	assert_int_equal(st.n_skipped, 0);
	assert_int_equal(st.n_capped, 0);
	free(v);

	/* Empty key with a value, and empty key with junk after its NUL: damage, not holes. */
	make_record(buf, "", "orphan value");
	buf[4 * KVP_RECORD_SIZE + KVP_KEY_SIZE - 1] = 'J';
	assert_int_equal(kvp_records_parse(buf, sizeof(buf), &v, &n, &st), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st.n_holes, 1);
	assert_int_equal(st.n_skipped, 2);
	assert_int_equal(st.n_capped, 0);
	free(v);

	/* The last byte of a value alone makes an empty-key record damage too. */
	buf[2 * KVP_RECORD_SIZE + KVP_RECORD_SIZE - 1] = 'x';
	assert_int_equal(kvp_records_parse(buf, sizeof(buf), &v, &n, &st), 0);
	assert_int_equal(st.n_holes, 0);
	assert_int_equal(st.n_skipped, 3);
	free(v);

	/* The sanitiser still refuses a hole: callers skip it like any empty key. */
	memset(buf, 0, KVP_RECORD_SIZE);
	assert_int_equal(kvp_record_sanitize((KvpRecord *)buf), -EBADMSG);
}

static void test_parse_junk_after_nul_zeroed(void **state)
{
	uint8_t buf[KVP_RECORD_SIZE];
	KvpRecord *v;
	size_t n;

	memset(buf, 'J', sizeof(buf));
	memcpy(buf, "key\0", 4);
	memcpy(buf + KVP_KEY_SIZE, "val\0", 4);
	assert_int_equal(kvp_records_parse(buf, sizeof(buf), &v, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].key, "key");
	assert_string_equal(v[0].value, "val");
	for (size_t i = 3; i < KVP_KEY_SIZE; i++)
		assert_int_equal(v[0].key[i], 0);
	for (size_t i = 3; i < KVP_VALUE_SIZE; i++)
		assert_int_equal(v[0].value[i], 0);
	free(v);
}

/* --- files and modes --- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_whole_records_only),
		cmocka_unit_test(test_parse_capped_fields),
		cmocka_unit_test(test_parse_skips_bad_records),
		cmocka_unit_test(test_parse_holes_not_damage),
		cmocka_unit_test(test_parse_junk_after_nul_zeroed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
