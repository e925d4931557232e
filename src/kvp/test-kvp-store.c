/* SPDX-License-Identifier: MIT */
/*
 * Tests of the KVP pool store against real files in a private temporary directory: file
 * creation and modes, host operations, limits and enumeration.
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
		cmocka_unit_test_setup_teardown(test_enumerate_5000, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
