/* SPDX-License-Identifier: MIT */
/*
 * hvctl's pool file locking against real files in a private temporary directory: bounded
 * lock waits against each lock kind, and concurrent appenders (cloud-init style flock,
 * fcntl, and lock-free) racing our sets and deletes with no record lost or torn.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_waits_for_other_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appenders, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
