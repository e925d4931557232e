/* SPDX-License-Identifier: MIT */
/*
 * The KVP pool store against other programs, with real files in a private temporary
 * directory: atomic flushes, damaged files, foreign appenders, foreign locks and a flush
 * racing host SETs.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
