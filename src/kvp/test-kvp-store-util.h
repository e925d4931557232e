/* SPDX-License-Identifier: MIT */
/* Fixture and helpers shared by test-kvp-store*.c and test-kvp-record.c. */
#pragma once

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

static inline int setup(void **state)
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

static inline int teardown(void **state)
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

static inline void open_store(Ctx *c, mode_t mode, mode_t host_mode, uint64_t timeout_usec)
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

static inline const char *pool_name(unsigned i)
{
	static const char *const names[] = { ".kvp_pool_0", ".kvp_pool_1", ".kvp_pool_2",
					     ".kvp_pool_3", ".kvp_pool_4" };
	assert_true(i < ELEMENTSOF(names));
	return names[i];
}

/* A record exactly as cloud-init writes it: zero padded. */
static inline void make_record(uint8_t *rec, const char *key, const char *value)
{
	memset(rec, 0, KVP_RECORD_SIZE);
	memcpy(rec, key, MIN(strlen(key), (size_t)KVP_KEY_SIZE));
	memcpy(rec + KVP_KEY_SIZE, value, MIN(strlen(value), (size_t)KVP_VALUE_SIZE));
}

static inline void write_file(Ctx *c, const char *name, const void *data, size_t len)
{
	int fd = openat(c->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Appends like cloud-init: O_APPEND, one write() per record. */
static inline void append_record(Ctx *c, const char *name, const char *key, const char *value)
{
	uint8_t rec[KVP_RECORD_SIZE];
	int fd = openat(c->dir_fd, name, O_WRONLY | O_APPEND | O_CLOEXEC);

	assert_true(fd >= 0);
	make_record(rec, key, value);
	assert_int_equal(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	close(fd);
}

static inline uint8_t *read_file(Ctx *c, const char *name, size_t *ret_size)
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
static inline void assert_only_pool_files(Ctx *c)
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

static inline mode_t file_mode(Ctx *c, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(c->dir_fd, name, &st, 0), 0);
	return st.st_mode & 07777;
}

static inline uint64_t now_usec(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Enumerates the whole pool into "k=v;k=v;" form. */
static inline char *enumerate_all(KvpStore *s, KvpPoolId pool)
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

static inline void assert_pool(KvpStore *s, KvpPoolId pool, const char *expected)
{
	char *got = enumerate_all(s, pool);

	assert_string_equal(got, expected);
	free(got);
}

/* --- the pure parser --- */
