/* SPDX-License-Identifier: MIT */
/*
 * Tests of the KVP pool store against real files in a private temporary directory: file
 * creation and modes, host operations, atomic flushes, damaged files written by other
 * programs, foreign appenders, foreign locks and a flush racing host SETs.
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

typedef struct Ctx {
	char dir[64];
	int dir_fd;
	KvpStore *s;
} Ctx;

static int setup(void **state)
{
	Ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	snprintf(c->dir, sizeof(c->dir), "/tmp/test-kvp-store-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	c->dir_fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(c->dir_fd >= 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	Ctx *c = *state;
	struct dirent *de;
	DIR *d;

	c->s = kvp_store_free(c->s);
	d = opendir(c->dir);
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

static void open_store(Ctx *c, mode_t mode, mode_t host_mode, uint64_t timeout_usec)
{
	KvpStoreOptions o = {
		.dir_fd = c->dir_fd,
		.mode = mode,
		.host_pool_mode = host_mode,
		.lock_timeout_usec = timeout_usec,
	};

	c->s = kvp_store_free(c->s);
	assert_int_equal(kvp_store_open(&o, &c->s), 0);
	assert_non_null(c->s);
}

static const char *pool_name(unsigned i)
{
	static const char *const names[] = { ".kvp_pool_0", ".kvp_pool_1", ".kvp_pool_2",
					     ".kvp_pool_3", ".kvp_pool_4" };
	assert_true(i < ELEMENTSOF(names));
	return names[i];
}

/* A record exactly as cloud-init writes it: zero padded. */
static void make_record(uint8_t *rec, const char *key, const char *value)
{
	memset(rec, 0, KVP_RECORD_SIZE);
	memcpy(rec, key, MIN(strlen(key), (size_t)KVP_KEY_SIZE));
	memcpy(rec + KVP_KEY_SIZE, value, MIN(strlen(value), (size_t)KVP_VALUE_SIZE));
}

static void write_file(Ctx *c, const char *name, const void *data, size_t len)
{
	int fd = openat(c->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Appends like cloud-init: O_APPEND, one write() per record. */
static void append_record(Ctx *c, const char *name, const char *key, const char *value)
{
	uint8_t rec[KVP_RECORD_SIZE];
	int fd = openat(c->dir_fd, name, O_WRONLY | O_APPEND | O_CLOEXEC);

	assert_true(fd >= 0);
	make_record(rec, key, value);
	assert_int_equal(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	close(fd);
}

static uint8_t *read_file(Ctx *c, const char *name, size_t *ret_size)
{
	struct stat st;
	uint8_t *buf;
	int fd = openat(c->dir_fd, name, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*ret_size = (size_t)st.st_size;
	return buf;
}

/* The directory holds exactly the five pool files: no temp file, no other ".kvp_pool*". */
static void assert_only_pool_files(Ctx *c)
{
	struct dirent *de;
	unsigned seen = 0;
	DIR *d = opendir(c->dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		assert_true(strlen(de->d_name) == 11);
		assert_memory_equal(de->d_name, ".kvp_pool_", 10);
		assert_true(de->d_name[10] >= '0' && de->d_name[10] <= '4');
		seen |= 1u << (de->d_name[10] - '0');
	}
	closedir(d);
	assert_int_equal(seen, 0x1f);
}

static mode_t file_mode(Ctx *c, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(c->dir_fd, name, &st, 0), 0);
	return st.st_mode & 07777;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Enumerates the whole pool into "k=v;k=v;" form. */
static char *enumerate_all(KvpStore *s, KvpPoolId pool)
{
	size_t size = 1, len = 0;
	char *out = calloc(1, 1);
	const char *k, *v;

	assert_non_null(out);
	for (uint32_t i = 0; kvp_store_enumerate(s, pool, i, &k, &v) == 0; i++) {
		size += strlen(k) + strlen(v) + 2;
		out = realloc(out, size);
		assert_non_null(out);
		len += (size_t)snprintf(out + len, size - len, "%s=%s;", k, v);
	}
	return out;
}

static void assert_pool(KvpStore *s, KvpPoolId pool, const char *expected)
{
	char *got = enumerate_all(s, pool);

	assert_string_equal(got, expected);
	free(got);
}

/* --- the pure parser --- */

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

static void test_open_creates_files_and_modes(void **state)
{
	Ctx *c = *state;
	mode_t old = umask(0077); /* the mode must be exact whatever the umask */

	open_store(c, 0644, 0644, 50000);
	umask(old);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(file_mode(c, pool_name(i)), 0644);
		assert_int_equal(kvp_store_count(c->s, (KvpPoolId)i), 0);
	}
	assert_only_pool_files(c);
	assert_false(kvp_store_dirty(c->s));
}

static void test_open_private_host_pools(void **state)
{
	Ctx *c = *state;
	uint8_t rec[KVP_RECORD_SIZE];

	make_record(rec, "HostName", "host1");
	write_file(c, ".kvp_pool_3", rec, sizeof(rec));
	assert_int_equal(fchmodat(c->dir_fd, ".kvp_pool_3", 0644, 0), 0);
	open_store(c, 0, 0600, 50000); /* mode 0: the default 0644 */
	assert_int_equal(file_mode(c, ".kvp_pool_0"), 0600);
	assert_int_equal(file_mode(c, ".kvp_pool_3"), 0600);
	assert_int_equal(file_mode(c, ".kvp_pool_1"), 0644);
	assert_int_equal(file_mode(c, ".kvp_pool_2"), 0644);
	assert_int_equal(file_mode(c, ".kvp_pool_4"), 0644);
	assert_pool(c->s, KVP_POOL_AUTO_EXTERNAL, "HostName=host1;");

	/* A flush keeps the private mode. */
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, "VirtualMachineName", "vm"),
			 0);
	assert_int_equal(kvp_store_flush(c->s), 0);
	assert_int_equal(file_mode(c, ".kvp_pool_3"), 0600);
	assert_only_pool_files(c);
}

static void test_open_keeps_pool1_mtime(void **state)
{
	Ctx *c = *state;
	uint8_t recs[2 * KVP_RECORD_SIZE];
	const struct timespec old[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
	struct stat st;

	make_record(recs, "CLOUD_INIT|1|start|init", "{}");
	make_record(recs + KVP_RECORD_SIZE, "PROVISIONING_REPORT", "ok");
	write_file(c, ".kvp_pool_1", recs, sizeof(recs));
	assert_int_equal(utimensat(c->dir_fd, ".kvp_pool_1", old, 0), 0);

	open_store(c, 0644, 0644, 50000);
	assert_int_equal(fstatat(c->dir_fd, ".kvp_pool_1", &st, 0), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(st.st_mtim.tv_nsec, 0);
	assert_int_equal(st.st_size, sizeof(recs));
	assert_pool(c->s, KVP_POOL_GUEST, "CLOUD_INIT|1|start|init={};PROVISIONING_REPORT=ok;");

	/* Neither host reads nor a flush of other pools touch it. */
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "a", "b"), 0);
	assert_int_equal(kvp_store_flush(c->s), 0);
	open_store(c, 0644, 0644, 50000);
	assert_int_equal(fstatat(c->dir_fd, ".kvp_pool_1", &st, 0), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
}

/* --- host operations --- */

static void test_set_get_delete_enumerate(void **state)
{
	Ctx *c = *state;
	const char *v, *k;

	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "EEE", &v), -ENOENT);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "EEE", "555"), 0);
	assert_true(kvp_store_dirty(c->s));
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "FFF", ""), 0);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "EEE", &v), 0);
	assert_string_equal(v, "555");
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "eee", &v), -ENOENT);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "FFF", &v), 0);
	assert_string_equal(v, "");
	assert_int_equal(kvp_store_count(c->s, KVP_POOL_EXTERNAL), 2);

	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_EXTERNAL, 0, &k, &v), 0);
	assert_string_equal(k, "EEE");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_EXTERNAL, 1, &k, &v), 0);
	assert_string_equal(k, "FFF");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_EXTERNAL, 2, &k, &v), -ENOENT);
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 0, &k, &v), -ENOENT);

	assert_int_equal(kvp_store_delete(c->s, KVP_POOL_EXTERNAL, "EEE"), 0);
	assert_int_equal(kvp_store_delete(c->s, KVP_POOL_EXTERNAL, "EEE"), -ENOENT);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "EEE", &v), -ENOENT);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "FFF=;");
	/* Pools are separate. */
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_AUTO_EXTERNAL, "FFF", &v), -ENOENT);
	assert_int_equal(kvp_store_flush(c->s), 0);
	assert_false(kvp_store_dirty(c->s));

	/* What was flushed is what a new store loads. */
	open_store(c, 0644, 0644, 50000);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "FFF=;");
}

static void test_set_replaces_in_place(void **state)
{
	Ctx *c = *state;
	size_t size;
	uint8_t *data;

	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "EEE", "555"), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "EEE", "999"), 0);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "EEE=999;");

	/* The host's order survives replacements (pool 3 is checked for it). */
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, "HostName", "h"), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, "VirtualMachineName", "vm"),
			 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, "VirtualMachineId", "id"), 0);
	assert_int_equal(
		kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, "HostName", "a much longer host name"),
		0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, "HostName", "h2"), 0);
	assert_pool(c->s, KVP_POOL_AUTO_EXTERNAL,
		    "HostName=h2;VirtualMachineName=vm;VirtualMachineId=id;");
	assert_int_equal(kvp_store_flush(c->s), 0);

	/* No stale tail of the longer value in the file. */
	data = read_file(c, ".kvp_pool_3", &size);
	assert_int_equal(size, 3 * KVP_RECORD_SIZE);
	assert_string_equal((char *)data + KVP_KEY_SIZE, "h2");
	for (size_t i = KVP_KEY_SIZE + 2; i < KVP_RECORD_SIZE; i++)
		assert_int_equal(data[i], 0);
	free(data);

	/* Re-sending the same value does not dirty the pool. */
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, "HostName", "h2"), 0);
	assert_false(kvp_store_dirty(c->s));
}

static void test_duplicates_in_file(void **state)
{
	Ctx *c = *state;
	uint8_t recs[4 * KVP_RECORD_SIZE];
	const char *v;

	make_record(recs, "K", "1");
	make_record(recs + KVP_RECORD_SIZE, "X", "x");
	make_record(recs + 2 * KVP_RECORD_SIZE, "K", "2");
	make_record(recs + 3 * KVP_RECORD_SIZE, "Y", "y");
	write_file(c, ".kvp_pool_0", recs, sizeof(recs));
	open_store(c, 0644, 0644, 50000);

	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "K", &v), 0);
	assert_string_equal(v, "2"); /* the last duplicate wins */
	assert_pool(c->s, KVP_POOL_EXTERNAL, "K=1;X=x;K=2;Y=y;");
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "K", "3"), 0);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "X=x;K=3;Y=y;");
	/* Even the same value as the last duplicate removes the others. */
	write_file(c, ".kvp_pool_3", recs, sizeof(recs));
	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, "K", "2"), 0);
	assert_pool(c->s, KVP_POOL_AUTO_EXTERNAL, "X=x;K=2;Y=y;");
	/* DELETE removes every duplicate. */
	write_file(c, ".kvp_pool_0", recs, sizeof(recs));
	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_delete(c->s, KVP_POOL_EXTERNAL, "K"), 0);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "X=x;Y=y;");
}

/*
 * Position 0 snapshots an owned pool too: SETs and DELETEs during the host's enumeration,
 * and a flush, change the pool but not the enumeration in progress.
 */
static void test_enumeration_snapshot_owned_pool(void **state)
{
	Ctx *c = *state;
	const char *k, *v;

	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "a", "1"), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "b", "2"), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "c", "3"), 0);
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_EXTERNAL, 0, &k, &v), 0);
	assert_string_equal(k, "a");
	assert_string_equal(v, "1");

	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "b", "a longer value 22"), 0);
	assert_int_equal(kvp_store_delete(c->s, KVP_POOL_EXTERNAL, "c"), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "d", "4"), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "a", "0"), 0);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "b", &v), 0);
	assert_string_equal(v, "a longer value 22");
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "c", &v), -ENOENT);
	assert_int_equal(kvp_store_flush(c->s), 0);

	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_EXTERNAL, 1, &k, &v), 0);
	assert_string_equal(k, "b");
	assert_string_equal(v, "2");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_EXTERNAL, 2, &k, &v), 0);
	assert_string_equal(k, "c");
	assert_string_equal(v, "3");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_EXTERNAL, 3, &k, &v), -ENOENT);

	/* The next enumeration, the file and a new store all see the changes. */
	assert_pool(c->s, KVP_POOL_EXTERNAL, "a=0;b=a longer value 22;d=4;");
	open_store(c, 0644, 0644, 50000);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "a=0;b=a longer value 22;d=4;");
}

/* xorshift32: a reproducible sequence of operations. */
static uint32_t next_random(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * Values growing, shrinking and vanishing, with snapshots held now and then so that some
 * changes happen in place and some on a copy: after every operation the store agrees with
 * a plain model, and so does the flushed file, byte for byte.
 */
static void test_values_grow_and_shrink(void **state)
{
	enum { KEYS = 40, OPS = 4000 };
	Ctx *c = *state;
	char model[KEYS][KVP_VALUE_SIZE], key[16], value[KVP_VALUE_SIZE];
	bool present[KEYS] = { false };
	unsigned order[KEYS], n_order = 0;
	uint32_t x = 12345;
	uint8_t *data, *expected;
	const char *k, *v;
	size_t size;

	open_store(c, 0644, 0644, 50000);
	for (unsigned op = 0; op < OPS; op++) {
		unsigned j = next_random(&x) % KEYS, what = next_random(&x) % 10;

		snprintf(key, sizeof(key), "key-%u", j);
		if (what == 0) {
			assert_int_equal(kvp_store_delete(c->s, KVP_POOL_AUTO_EXTERNAL, key),
					 present[j] ? 0 : -ENOENT);
			if (present[j]) {
				unsigned o = 0;

				while (order[o] != j)
					o++;
				memmove(&order[o], &order[o + 1],
					(n_order - o - 1) * sizeof(*order));
				n_order--;
			}
			present[j] = false;
		} else if (what == 1) {
			/* A snapshot taken and left: the next changes go to a copy. */
			(void)kvp_store_enumerate(c->s, KVP_POOL_AUTO_EXTERNAL, 0, &k, &v);
		} else {
			size_t len = (what == 2 ? KVP_VALUE_SIZE - 1 : next_random(&x) % 300);

			for (size_t i = 0; i < len; i++)
				value[i] = (char)('a' + (op + i) % 26);
			value[len] = '\0';
			assert_int_equal(kvp_store_set(c->s, KVP_POOL_AUTO_EXTERNAL, key, value),
					 0);
			if (!present[j])
				order[n_order++] = j;
			present[j] = true;
			memcpy(model[j], value, len + 1);
		}
		j = next_random(&x) % KEYS;
		snprintf(key, sizeof(key), "key-%u", j);
		if (present[j]) {
			assert_int_equal(kvp_store_get(c->s, KVP_POOL_AUTO_EXTERNAL, key, &v), 0);
			assert_string_equal(v, model[j]);
		} else {
			assert_int_equal(kvp_store_get(c->s, KVP_POOL_AUTO_EXTERNAL, key, &v),
					 -ENOENT);
		}
		if (op % 500 == 499)
			assert_int_equal(kvp_store_flush(c->s), 0);
	}
	assert_int_equal(kvp_store_count(c->s, KVP_POOL_AUTO_EXTERNAL), n_order);
	for (unsigned o = 0; o < n_order; o++) {
		snprintf(key, sizeof(key), "key-%u", order[o]);
		assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_AUTO_EXTERNAL, o, &k, &v), 0);
		assert_string_equal(k, key);
		assert_string_equal(v, model[order[o]]);
	}

	/* The file: the records in host order, each zero padded. */
	assert_int_equal(kvp_store_flush(c->s), 0);
	expected = calloc(n_order + 1, KVP_RECORD_SIZE);
	assert_non_null(expected);
	for (unsigned o = 0; o < n_order; o++) {
		snprintf(key, sizeof(key), "key-%u", order[o]);
		make_record(expected + o * KVP_RECORD_SIZE, key, model[order[o]]);
	}
	data = read_file(c, ".kvp_pool_3", &size);
	assert_int_equal(size, n_order * KVP_RECORD_SIZE);
	assert_memory_equal(data, expected, size);
	free(data);
	free(expected);
}

static void test_readonly_pools(void **state)
{
	Ctx *c = *state;
	const KvpPoolId ro[] = { KVP_POOL_GUEST, KVP_POOL_AUTO, KVP_POOL_AUTO_INTERNAL };
	const char *v;

	open_store(c, 0644, 0644, 50000);
	for (size_t i = 0; i < ELEMENTSOF(ro); i++) {
		assert_int_equal(kvp_store_set(c->s, ro[i], "k", "v"), -EROFS);
		assert_int_equal(kvp_store_delete(c->s, ro[i], "k"), -EROFS);
		assert_int_equal(kvp_store_count(c->s, ro[i]), 0);
	}
	assert_false(kvp_store_dirty(c->s));
	assert_int_equal(kvp_store_set(c->s, (KvpPoolId)5, "k", "v"), -EINVAL);
	assert_int_equal(kvp_store_get(c->s, (KvpPoolId)7, "k", &v), -EINVAL);
	assert_int_equal(kvp_store_enumerate(c->s, _KVP_POOL_INVALID, 0, &v, &v), -EINVAL);
	/* Pool 4 is never written: a flush leaves it empty. */
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "k", "v"), 0);
	assert_int_equal(kvp_store_flush(c->s), 0);
	assert_int_equal(file_mode(c, ".kvp_pool_4"), 0644);
	{
		size_t size;
		uint8_t *d = read_file(c, ".kvp_pool_4", &size);

		assert_int_equal(size, 0);
		free(d);
	}
}

static void test_limits(void **state)
{
	Ctx *c = *state;
	char key[KVP_KEY_SIZE + 1], value[KVP_VALUE_SIZE + 1];
	const char *v;

	open_store(c, 0644, 0644, 50000);
	memset(key, 'k', sizeof(key));
	memset(value, 'v', sizeof(value));
	key[KVP_KEY_SIZE] = value[KVP_VALUE_SIZE] = 0;
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, key, "v"), -E2BIG);   /* 512 */
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "k", value), -E2BIG); /* 2048 */
	key[KVP_KEY_SIZE - 1] = value[KVP_VALUE_SIZE - 1] = 0;
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, key, value), 0); /* 511, 2047 */
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, key, &v), 0);
	assert_int_equal(strlen(v), KVP_VALUE_SIZE - 1);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "", "v"), -EINVAL);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "k\xff", "v"), -EILSEQ);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "k", "\xc3"), -EILSEQ);
	assert_int_equal(kvp_store_count(c->s, KVP_POOL_EXTERNAL), 1);

	/* Full-size fields round-trip through the file. */
	assert_int_equal(kvp_store_flush(c->s), 0);
	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, key, &v), 0);
	assert_int_equal(strlen(v), KVP_VALUE_SIZE - 1);
}

/* --- flushing --- */

static void test_flush_exact_bytes(void **state)
{
	Ctx *c = *state;
	uint8_t junk[KVP_RECORD_SIZE], expected[3 * KVP_RECORD_SIZE];
	size_t size;
	uint8_t *data;

	/* An existing pool 0 with junk after the NULs, from another tool. */
	memset(junk, 0xee, sizeof(junk));
	memcpy(junk, "NdDriverVersion\0", 16);
	memcpy(junk + KVP_KEY_SIZE, "1.0\0", 4);
	write_file(c, ".kvp_pool_0", junk, sizeof(junk));
	open_store(c, 0644, 0644, 50000);

	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "IPoIB_Data", "NUMPAIRS:0"), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "ключ", "значение"), 0);
	assert_true(kvp_store_dirty(c->s));
	assert_int_equal(kvp_store_flush(c->s), 0);
	assert_false(kvp_store_dirty(c->s));
	assert_int_equal(kvp_store_flush(c->s), 0); /* nothing to do */

	make_record(expected, "NdDriverVersion", "1.0");
	make_record(expected + KVP_RECORD_SIZE, "IPoIB_Data", "NUMPAIRS:0");
	make_record(expected + 2 * KVP_RECORD_SIZE, "ключ", "значение");
	data = read_file(c, ".kvp_pool_0", &size);
	assert_int_equal(size, sizeof(expected));
	assert_memory_equal(data, expected, sizeof(expected));
	free(data);
	assert_only_pool_files(c);

	/* Deleting everything leaves an empty file, not a missing one. */
	assert_int_equal(kvp_store_delete(c->s, KVP_POOL_EXTERNAL, "NdDriverVersion"), 0);
	assert_int_equal(kvp_store_delete(c->s, KVP_POOL_EXTERNAL, "IPoIB_Data"), 0);
	assert_int_equal(kvp_store_delete(c->s, KVP_POOL_EXTERNAL, "ключ"), 0);
	assert_int_equal(kvp_store_flush(c->s), 0);
	data = read_file(c, ".kvp_pool_0", &size);
	assert_int_equal(size, 0);
	free(data);
	assert_only_pool_files(c);
}

static void test_flush_waits_for_foreign_lock(void **state)
{
	Ctx *c = *state;
	const struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	int fd;

	open_store(c, 0644, 0644, 30000);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "k", "v"), 0);

	/* A reader holding flock(LOCK_SH) blocks the replacement; the pool stays dirty. */
	fd = openat(c->dir_fd, ".kvp_pool_0", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	assert_int_equal(kvp_store_flush(c->s), -ETIMEDOUT);
	assert_true(kvp_store_dirty(c->s));
	close(fd);

	/* Likewise a reader holding an OFD read lock. */
	fd = openat(c->dir_fd, ".kvp_pool_0", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	assert_int_equal(kvp_store_flush(c->s), -ETIMEDOUT);
	assert_true(kvp_store_dirty(c->s));
	close(fd);

	assert_int_equal(kvp_store_flush(c->s), 0);
	assert_false(kvp_store_dirty(c->s));
	assert_only_pool_files(c);
}

typedef struct SetterArgs {
	KvpStore *s;
	atomic_bool stop; /* set once the flusher has replaced the file a few times */
	unsigned done;	  /* SETs made */
	int failures;
} SetterArgs;

/*
 * The "manager thread": at least 10,000 host SETs (257 keys, replaced over and over) and a
 * DELETE every 7th, while the test thread flushes.
 */
static void *setter_thread(void *arg)
{
	SetterArgs *a = arg;
	char key[32], value[32];
	unsigned i;

	for (i = 0; i < 10000 || (!atomic_load(&a->stop) && i < 10000000); i++) {
		snprintf(key, sizeof(key), "key-%u", i % 257);
		snprintf(value, sizeof(value), "value-%u", i);
		if (kvp_store_set(a->s, KVP_POOL_EXTERNAL, key, value) < 0)
			a->failures++;
		/* -ENOENT is fine: key-3 may be deleted already. */
		if (i % 7 == 0)
			(void)kvp_store_delete(a->s, KVP_POOL_EXTERNAL, "key-3");
	}
	a->done = i;
	return NULL;
}

static void test_flush_concurrent_with_sets(void **state)
{
	Ctx *c = *state;
	SetterArgs a = { 0 };
	struct timespec last_ctim = { 0 };
	unsigned writes = 0, last_i, last_delete;
	pthread_t t;
	KvpRecord *v;
	size_t size, n;
	uint8_t *data;
	char *mem, *disk, key[32], value[32];
	const char *got;

	open_store(c, 0644, 0644, 1000000);
	a.s = c->s;
	assert_int_equal(pthread_create(&t, NULL, setter_thread, &a), 0);
	for (;;) {
		struct stat st;

		assert_int_equal(kvp_store_flush(c->s), 0);
		/* Count real replacements: each one is a new inode with a new ctime. */
		assert_int_equal(fstatat(c->dir_fd, ".kvp_pool_0", &st, 0), 0);
		if (st.st_ctim.tv_sec != last_ctim.tv_sec ||
		    st.st_ctim.tv_nsec != last_ctim.tv_nsec)
			writes++;
		last_ctim = st.st_ctim;
		if (writes > 3)
			atomic_store(&a.stop, true);
		if (pthread_tryjoin_np(t, NULL) == 0)
			break;
	}
	assert_int_equal(a.failures, 0);
	assert_true(writes > 3);
	assert_int_equal(kvp_store_flush(c->s), 0);
	assert_false(kvp_store_dirty(c->s));

	/* The file equals memory, record for record. */
	data = read_file(c, ".kvp_pool_0", &size);
	assert_int_equal(size % KVP_RECORD_SIZE, 0);
	assert_int_equal(size / KVP_RECORD_SIZE, kvp_store_count(c->s, KVP_POOL_EXTERNAL));
	assert_int_equal(kvp_records_parse(data, size, &v, &n, NULL), 0);
	mem = enumerate_all(c->s, KVP_POOL_EXTERNAL);
	disk = calloc(1, n * 64 + 1);
	assert_non_null(disk);
	for (size_t i = 0, len = 0; i < n; i++)
		len += (size_t)snprintf(disk + len, n * 64 + 1 - len, "%s=%s;", v[i].key,
					v[i].value);
	assert_string_equal(mem, disk);

	/* Every key holds its last value; key-3 exists iff set after its last DELETE. */
	last_delete = (a.done - 1) / 7 * 7;
	for (unsigned j = 0; j < 257; j++) {
		last_i = (a.done - 1 - j) / 257 * 257 + j;
		snprintf(key, sizeof(key), "key-%u", j);
		snprintf(value, sizeof(value), "value-%u", last_i);
		if (j == 3 && last_i <= last_delete) {
			assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, key, &got),
					 -ENOENT);
			continue;
		}
		assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, key, &got), 0);
		assert_string_equal(got, value);
	}
	free(mem);
	free(disk);
	free(v);
	free(data);
	assert_only_pool_files(c);
	print_message("%u pool replacements during %u sets\n", writes, a.done);
}

typedef struct FlushArgs {
	KvpStore *s;
	atomic_bool done;
	int r;
	uint64_t usec; /* how long kvp_store_flush() took */
} FlushArgs;

static void *flush_thread(void *arg)
{
	FlushArgs *a = arg;
	uint64_t t0 = now_usec();

	a->r = kvp_store_flush(a->s);
	a->usec = now_usec() - t0;
	atomic_store(&a->done, true);
	return NULL;
}

/*
 * The writer thread waits 500 ms for a reader's lock on pool 0 while the manager thread
 * keeps setting keys of the same pool: no SET waits for the flush (a flush takes the
 * store's mutex only to take a reference, never across a lock wait or a write). The bound
 * is generous: it asserts "not blocked", not speed.
 */
static void test_flush_waiting_does_not_block_sets(void **state)
{
	Ctx *c = *state;
	FlushArgs a = { 0 };
	uint64_t worst = 0;
	unsigned sets = 0;
	char key[32], value[64];
	const char *v;
	pthread_t t;
	int fd;

	open_store(c, 0644, 0644, 500000);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key%u", i);
		snprintf(value, sizeof(value), "value-%u-generation-0-host-supplied-data", i);
		assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, key, value), 0);
	}
	assert_int_equal(kvp_store_flush(c->s), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "key0", "dirty"), 0);

	fd = openat(c->dir_fd, ".kvp_pool_0", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	a.s = c->s;
	assert_int_equal(pthread_create(&t, NULL, flush_thread, &a), 0);
	(void)nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);

	while (!atomic_load(&a.done)) {
		uint64_t t0, dt;

		snprintf(key, sizeof(key), "key%u", sets % 1000);
		snprintf(value, sizeof(value), "value-%u-generation-1-host-supplied-data", sets);
		t0 = now_usec();
		assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, key, value), 0);
		dt = now_usec() - t0;
		worst = MAX(worst, dt);
		sets++;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("%u sets while a flush waited %.0f ms for a lock, slowest %.2f ms\n", sets,
		      a.usec / 1000.0, worst / 1000.0);
	assert_int_equal(a.r, -ETIMEDOUT);
	assert_true(a.usec >= 450000);
	assert_true(sets >= 10);
	assert_true(worst < 50000);
	assert_true(kvp_store_dirty(c->s));

	/* Nothing was lost: once the reader is gone, the last values reach the file. */
	close(fd);
	assert_int_equal(kvp_store_flush(c->s), 0);
	open_store(c, 0644, 0644, 500000);
	assert_int_equal(kvp_store_count(c->s, KVP_POOL_EXTERNAL), 1000);
	snprintf(key, sizeof(key), "key%u", (sets - 1) % 1000);
	snprintf(value, sizeof(value), "value-%u-generation-1-host-supplied-data", sets - 1);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, key, &v), 0);
	assert_string_equal(v, value);
}

/* --- files other programs wrote or write --- */

static void test_corrupt_pool_files(void **state)
{
	Ctx *c = *state;
	uint8_t buf[6 * KVP_RECORD_SIZE + 1000];
	const char *k, *v;

	memset(buf, 0, sizeof(buf));
	make_record(buf, "first", "1");
	memset(buf + KVP_RECORD_SIZE, 'K', KVP_KEY_SIZE); /* key without NUL */
	memcpy(buf + KVP_RECORD_SIZE + KVP_KEY_SIZE, "capped-key", 10);
	make_record(buf + 2 * KVP_RECORD_SIZE, "bad\x80utf8", "x");
	/* record 3 all zero */
	make_record(buf + 4 * KVP_RECORD_SIZE, "long", "");
	memset(buf + 4 * KVP_RECORD_SIZE + KVP_KEY_SIZE, 'V', KVP_VALUE_SIZE); /* no NUL */
	make_record(buf + 5 * KVP_RECORD_SIZE, "junk", "after");
	memset(buf + 5 * KVP_RECORD_SIZE + 5, 'J', 100);
	memset(buf + 5 * KVP_RECORD_SIZE + KVP_KEY_SIZE + 6, 'J', 100);
	memset(buf + 6 * KVP_RECORD_SIZE, 'P', 1000); /* trailing partial record */
	write_file(c, ".kvp_pool_1", buf, sizeof(buf));

	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_count(c->s, KVP_POOL_GUEST), 4);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "first", &v), 0);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "long", &v), 0);
	assert_int_equal(strlen(v), KVP_VALUE_SIZE - 1);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "junk", &v), 0);
	assert_string_equal(v, "after");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 0, &v, &v), 0);
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 1, &v, &v), 0);
	assert_int_equal(strlen(v), 10);
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 3, &k, &v), 0);
	assert_string_equal(k, "junk");
	assert_string_equal(v, "after");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 4, &v, &v), -ENOENT);

	/* Pool 1 itself is never repaired: byte for byte what was written. */
	{
		size_t size;
		uint8_t *d = read_file(c, ".kvp_pool_1", &size);

		assert_int_equal(size, sizeof(buf));
		assert_memory_equal(d, buf, sizeof(buf));
		free(d);
	}
}

/* Points stderr at a fresh memory file and logs there at info level; returns the old one. */
static int capture_stderr(int *ret_memfd)
{
	int saved = dup(STDERR_FILENO), fd = memfd_create("stderr", MFD_CLOEXEC);

	assert_true(saved >= 0);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_open("test-kvp-store", LOG_TARGET_STDERR);
	log_set_max_level(LOG_INFO);
	*ret_memfd = fd;
	return saved;
}

/* Restores stderr and returns what was logged (NUL-terminated, to free). */
static char *capture_end(int saved, int fd)
{
	struct stat st;
	char *text;

	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_int_equal(fstat(fd, &st), 0);
	text = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(text);
	assert_int_equal(pread(fd, text, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	return text;
}

/*
 * hvctl deletes a pool 1 key by zeroing its record in place: loading such a file must not
 * warn that another program damaged it. A genuinely bad record still warns.
 */
static void test_pool1_hole_no_warning(void **state)
{
	Ctx *c = *state;
	uint8_t buf[3 * KVP_RECORD_SIZE];
	const char *v;
	char *text;
	size_t n1, n2;
	int saved, fd;

	memset(buf, 0, sizeof(buf)); /* record 1: a hole */
	make_record(buf, "kept", "1");
	make_record(buf + 2 * KVP_RECORD_SIZE, "after", "2");
	write_file(c, ".kvp_pool_1", buf, sizeof(buf));

	/* Nothing is asserted while stderr is captured: cmocka reports failures there. */
	saved = capture_stderr(&fd);
	open_store(c, 0644, 0644, 50000);
	n1 = kvp_store_count(c->s, KVP_POOL_GUEST);
	/* Another delete and an append (the size changes, so it is reloaded): still quiet. */
	memset(buf + 2 * KVP_RECORD_SIZE, 0, KVP_RECORD_SIZE);
	write_file(c, ".kvp_pool_1", buf, sizeof(buf));
	append_record(c, ".kvp_pool_1", "later", "3");
	n2 = kvp_store_count(c->s, KVP_POOL_GUEST);
	text = capture_end(saved, fd);
	assert_int_equal(n1, 2);
	assert_int_equal(n2, 2);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "kept", &v), 0);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "after", &v), -ENOENT);
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "later", &v), 0);
	assert_null(strstr(text, "another program"));
	assert_null(strstr(text, "unreadable"));
	free(text);

	/* An empty key with a value is damage: warned about as one unreadable record. */
	saved = capture_stderr(&fd);
	append_record(c, ".kvp_pool_1", "", "orphan");
	n1 = kvp_store_count(c->s, KVP_POOL_GUEST);
	text = capture_end(saved, fd);
	assert_int_equal(n1, 2);
	assert_non_null(strstr(text, "written by another program"));
	assert_non_null(strstr(text, "0 record(s) with an unterminated key or value cut, "
				     "1 unreadable record(s)"));
	free(text);
}

static void test_pool1_append_seen_at_index0(void **state)
{
	Ctx *c = *state;
	const char *k, *v;

	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 0, &k, &v), -ENOENT);
	append_record(c, ".kvp_pool_1", "CLOUD_INIT|1|a", "1");
	append_record(c, ".kvp_pool_1", "CLOUD_INIT|1|b", "2");
	assert_pool(c->s, KVP_POOL_GUEST, "CLOUD_INIT|1|a=1;CLOUD_INIT|1|b=2;");
	append_record(c, ".kvp_pool_1", "CLOUD_INIT|1|c", "3");
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "CLOUD_INIT|1|c", &v), 0);
	assert_string_equal(v, "3");

	/* cloud-init's once-per-boot truncation: seen too. */
	{
		int fd = openat(c->dir_fd, ".kvp_pool_1", O_WRONLY | O_TRUNC | O_CLOEXEC);

		assert_true(fd >= 0);
		close(fd);
	}
	assert_pool(c->s, KVP_POOL_GUEST, "");
}

static void test_enumeration_not_disturbed(void **state)
{
	Ctx *c = *state;
	const char *k, *v;

	open_store(c, 0644, 0644, 50000);
	append_record(c, ".kvp_pool_1", "a", "1");
	append_record(c, ".kvp_pool_1", "b", "2");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 0, &k, &v), 0);
	assert_string_equal(k, "a");

	/* An append mid-enumeration, and a GET that reloads the pool: the snapshot holds. */
	append_record(c, ".kvp_pool_1", "c", "3");
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "c", &v), 0);
	assert_int_equal(kvp_store_count(c->s, KVP_POOL_GUEST), 3);
	append_record(c, ".kvp_pool_1", "d", "4");
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "d", &v), 0);
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 1, &k, &v), 0);
	assert_string_equal(k, "b");
	assert_string_equal(v, "2");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 2, &k, &v), -ENOENT);

	/* The next enumeration sees everything. */
	assert_pool(c->s, KVP_POOL_GUEST, "a=1;b=2;c=3;d=4;");
}

static void test_external_rewrite_pool0(void **state)
{
	Ctx *c = *state;
	uint8_t recs[2 * KVP_RECORD_SIZE];
	const struct timespec later[2] = { { .tv_sec = 2000000000 }, { .tv_sec = 2000000000 } };
	const char *v;

	open_store(c, 0644, 0644, 50000);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "ours", "1"), 0);
	assert_int_equal(kvp_store_flush(c->s), 0);

	/* An administrator's tool replaces the file by rename: reloaded (we are clean). */
	make_record(recs, "admin", "a");
	make_record(recs + KVP_RECORD_SIZE, "ours", "2");
	write_file(c, "replacement", recs, sizeof(recs));
	assert_int_equal(renameat(c->dir_fd, "replacement", c->dir_fd, ".kvp_pool_0"), 0);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "admin=a;ours=2;");

	/* Same size, rewritten in place: detected by mtime. */
	make_record(recs, "admin", "b");
	{
		int fd = openat(c->dir_fd, ".kvp_pool_0", O_WRONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, recs, KVP_RECORD_SIZE), KVP_RECORD_SIZE);
		assert_int_equal(futimens(fd, later), 0);
		close(fd);
	}
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_EXTERNAL, "admin", &v), 0);
	assert_string_equal(v, "b");

	/* With unflushed host changes, our version wins at the next flush. */
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "host", "h"), 0);
	make_record(recs, "intruder", "x");
	write_file(c, "replacement", recs, KVP_RECORD_SIZE);
	assert_int_equal(renameat(c->dir_fd, "replacement", c->dir_fd, ".kvp_pool_0"), 0);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "admin=b;ours=2;host=h;");
	assert_int_equal(kvp_store_flush(c->s), 0);
	open_store(c, 0644, 0644, 50000);
	assert_pool(c->s, KVP_POOL_EXTERNAL, "admin=b;ours=2;host=h;");

	/* A deleted owned pool reads as empty; the next flush recreates it. */
	assert_int_equal(unlinkat(c->dir_fd, ".kvp_pool_0", 0), 0);
	assert_int_equal(kvp_store_count(c->s, KVP_POOL_EXTERNAL), 0);
	assert_int_equal(kvp_store_set(c->s, KVP_POOL_EXTERNAL, "back", "1"), 0);
	assert_int_equal(kvp_store_flush(c->s), 0);
	assert_int_equal(file_mode(c, ".kvp_pool_0"), 0644);
	assert_only_pool_files(c);
}

/* --- foreign locks --- */

typedef enum LockKind {
	LOCK_KIND_FLOCK, /* cloud-init */
	LOCK_KIND_OFD,	 /* libazureinit-kvp (with flock) */
	LOCK_KIND_POSIX, /* upstream's daemon, Microsoft's C sample */
} LockKind;

/*
 * Another process opens pool 1, takes its lock, appends a record under it and keeps the
 * lock until *release_fd is closed. A separate process, because POSIX locks of our own
 * process would be dropped by any close() of the file in the test.
 */
static pid_t hold_lock_in_child(Ctx *c, LockKind kind, int *release_fd)
{
	int ready[2], release[2];
	char b;
	pid_t pid;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(release, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		uint8_t rec[KVP_RECORD_SIZE];
		int fd = openat(c->dir_fd, ".kvp_pool_1", O_RDWR | O_APPEND | O_CLOEXEC);
		int r = -1;

		close(ready[0]);
		close(release[1]);
		if (fd < 0)
			_exit(2);
		switch (kind) {
		case LOCK_KIND_FLOCK:
			r = flock(fd, LOCK_EX);
			break;
		case LOCK_KIND_OFD:
			r = fcntl(fd, F_OFD_SETLK, &fl);
			break;
		case LOCK_KIND_POSIX:
			r = fcntl(fd, F_SETLK, &fl);
			break;
		}
		make_record(rec, "new", "2");
		if (r < 0 || write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			_exit(3);
		if (write(ready[1], "x", 1) != 1)
			_exit(4);
		(void)read(release[0], &b, 1); /* EOF when the parent closes its end */
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &b, 1), 1);
	close(ready[0]);
	*release_fd = release[1];
	return pid;
}

static void check_locked_read(void **state, LockKind kind)
{
	Ctx *c = *state;
	uint64_t t0, elapsed;
	const char *k, *v;
	int release_fd, status;
	pid_t pid;

	open_store(c, 0644, 0644, 50000);
	append_record(c, ".kvp_pool_1", "old", "1");
	assert_pool(c->s, KVP_POOL_GUEST, "old=1;");
	pid = hold_lock_in_child(c, kind, &release_fd);

	/* The file changed, but its writer holds the lock: the old snapshot is served. */
	t0 = now_usec();
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 0, &k, &v), 0);
	elapsed = now_usec() - t0;
	assert_string_equal(k, "old");
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 1, &k, &v), -ENOENT);
	assert_true(elapsed >= 45000);	/* it did wait for the 50 ms lock timeout... */
	assert_true(elapsed < 1000000); /* ...and not much longer */
	print_message("locked read gave up after %.1f ms\n", elapsed / 1000.0);

	close(release_fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_pool(c->s, KVP_POOL_GUEST, "old=1;new=2;");
}

static void test_foreign_flock_times_out(void **state)
{
	check_locked_read(state, LOCK_KIND_FLOCK);
}

static void test_foreign_ofd_lock_times_out(void **state)
{
	check_locked_read(state, LOCK_KIND_OFD);
}

static void test_foreign_posix_lock_times_out(void **state)
{
	check_locked_read(state, LOCK_KIND_POSIX);
}

static void test_unchanged_file_not_reread(void **state)
{
	Ctx *c = *state;
	uint64_t t0, elapsed;
	const char *v;
	int fd;

	open_store(c, 0644, 0644, 200000);
	append_record(c, ".kvp_pool_1", "k", "1");
	assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "k", &v), 0);

	/* A foreign lock costs nothing while the file does not change: only a stat per request. */
	fd = openat(c->dir_fd, ".kvp_pool_1", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	t0 = now_usec();
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(kvp_store_get(c->s, KVP_POOL_GUEST, "k", &v), 0);
		assert_pool(c->s, KVP_POOL_GUEST, "k=1;");
	}
	elapsed = now_usec() - t0;
	assert_true(elapsed < 150000); /* one lock attempt alone would take 200 ms */
	close(fd);
}

static void test_enumerate_5000(void **state)
{
	Ctx *c = *state;
	const size_t n = 5000;
	uint8_t *buf = calloc(n, KVP_RECORD_SIZE);
	char key[64], value[64];
	const char *k, *v;
	uint64_t t0, t1, t2;
	uint32_t i;

	assert_non_null(buf);
	for (size_t j = 0; j < n; j++) {
		snprintf(key, sizeof(key), "CLOUD_INIT|1700000000|event|%zu", j);
		snprintf(value, sizeof(value), "{\"msg\":\"%zu\"}", j);
		make_record(buf + j * KVP_RECORD_SIZE, key, value);
	}
	open_store(c, 0644, 0644, 50000);
	write_file(c, ".kvp_pool_1", buf, n * KVP_RECORD_SIZE);
	free(buf);

	/*
	 * All 5,000 positions in order from one snapshot. Speed is the benchmark's business
	 * (bench/bench-kvp); the timings are only printed here.
	 */
	t0 = now_usec();
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 0, &k, &v), 0);
	t1 = now_usec();
	for (i = 1; kvp_store_enumerate(c->s, KVP_POOL_GUEST, i, &k, &v) == 0; i++) {
		snprintf(key, sizeof(key), "CLOUD_INIT|1700000000|event|%u", i);
		assert_string_equal(k, key);
	}
	t2 = now_usec();
	assert_int_equal(i, n);
	print_message("5000-record enumeration: load %.1f ms, 4999 positions %.2f ms\n",
		      (t1 - t0) / 1000.0, (t2 - t1) / 1000.0);

	/* A new enumeration of the unchanged file starts at the first record again. */
	assert_int_equal(kvp_store_enumerate(c->s, KVP_POOL_GUEST, 0, &k, &v), 0);
	assert_string_equal(k, "CLOUD_INIT|1700000000|event|0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_whole_records_only),
		cmocka_unit_test(test_parse_capped_fields),
		cmocka_unit_test(test_parse_skips_bad_records),
		cmocka_unit_test(test_parse_holes_not_damage),
		cmocka_unit_test(test_parse_junk_after_nul_zeroed),
		cmocka_unit_test_setup_teardown(test_open_creates_files_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_private_host_pools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_keeps_pool1_mtime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_get_delete_enumerate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_replaces_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_in_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enumeration_snapshot_owned_pool, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_values_grow_and_shrink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_pools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_exact_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_waits_for_foreign_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_concurrent_with_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_waiting_does_not_block_sets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_pool_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool1_hole_no_warning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool1_append_seen_at_index0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enumeration_not_disturbed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_rewrite_pool0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_flock_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_ofd_lock_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_posix_lock_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_file_not_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enumerate_5000, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
