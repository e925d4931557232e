/* SPDX-License-Identifier: MIT */
/* Fixture and helpers shared by test-ctl-pool.c and test-ctl-pool-locks.c. */
#pragma once

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

static inline int setup(void **state)
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

static inline int count_entries(const Ctx *c)
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

static inline int teardown(void **state)
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

static inline void make_record(KvpRecord *r, const char *key, const char *value)
{
	*r = (KvpRecord){ 0 };
	memcpy(r->key, key, strlen(key));
	memcpy(r->value, value, strlen(value));
}

static inline void write_raw(const Ctx *c, const void *data, size_t size)
{
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
}

/* The whole pool 1 file; returns its size. */
static inline size_t read_raw(const Ctx *c, uint8_t **ret)
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

static inline void expect_record_at(const Ctx *c, size_t index, const char *key, const char *value)
{
	uint8_t *data;
	size_t size = read_raw(c, &data);
	KvpRecord want;

	assert_true(size >= (index + 1) * RS);
	make_record(&want, key, value);
	assert_memory_equal(data + index * RS, &want, RS);
	free(data);
}

static inline void expect_hole_at(const Ctx *c, size_t index)
{
	uint8_t *data;
	size_t size = read_raw(c, &data);

	assert_true(size >= (index + 1) * RS);
	for (size_t i = 0; i < RS; i++)
		assert_int_equal(data[index * RS + i], 0);
	free(data);
}

static inline struct stat stat_pool(const Ctx *c)
{
	struct stat st;

	assert_int_equal(stat(c->path, &st), 0);
	return st;
}

static inline void expect_same_file(const Ctx *c, const struct stat *before, const uint8_t *data,
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
static inline char *repeat(const char *ch, size_t n)
{
	size_t len = strlen(ch);
	char *s = malloc(len * n + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, ch, len);
	s[len * n] = '\0';
	return s;
}
