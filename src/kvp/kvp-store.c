/* SPDX-License-Identifier: MIT */
/*
 * KVP pool store: parsing of pool file images, the in-memory pools, change detection by
 * stat(), locked reads with a bounded wait, and atomic replacement of the owned pools.
 *
 * Memory model: each pool's records live in one growable array in file order. Only the
 * manager thread mutates them; for the owned pools (0 and 3) it does so under s->mutex,
 * because kvp_store_flush() copies them from another thread. The manager thread reads its
 * own arrays without the mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "kvp/kvp-store.h"

_Static_assert(sizeof(KvpRecord) == KVP_RECORD_SIZE, "in-memory record must match the file");

/* Temporary files must never match ".kvp_pool*": validation suites check the directory. */
#define POOL_TMP_PREFIX ".hvguest-tmp-"
#define POOL_DEFAULT_MODE 0644

typedef struct RecordArray {
	KvpRecord *v;
	size_t n, cap; /* records used / allocated */
} RecordArray;

typedef struct Pool {
	KvpPoolId id;
	char name[16]; /* ".kvp_pool_N" */
	mode_t mode;
	RecordArray live; /* what requests see */
	/*
	 * The array an enumeration in progress was started on, kept when a reload replaced
	 * live after position 0; dropped at the next position 0 or at the end.
	 */
	RecordArray snap;
	bool snap_valid;
	bool enumerating;
	/* Identity of the file live came from (or we wrote last); have_file false = no file. */
	bool have_file;
	struct stat file_st;
	/* Owned pools: generation counts changes in memory, flushed is the one on disk. */
	uint64_t generation;
	uint64_t flushed;
	bool writing;	      /* a flush is replacing the file */
	KvpParseStats warned; /* counts last warned about, so an unchanged file warns once */
	int last_error;	      /* last reload error reported, so it is reported once */
} Pool;

struct KvpStore {
	int dir_fd;
	uint64_t lock_timeout_usec;
	pthread_mutex_t mutex; /* owned pools: live, generation, flushed, writing, file_st */
	Pool pools[_KVP_POOL_MAX];
};

static bool pool_is_owned(KvpPoolId id)
{
	return id == KVP_POOL_EXTERNAL || id == KVP_POOL_AUTO_EXTERNAL;
}

static void record_array_done(RecordArray *a)
{
	free(a->v);
	*a = (RecordArray){ 0 };
}

/*
 * Maps the pages of a large fresh allocation in one call: a fault per 4 KiB page costs up to
 * 10 us in some VMs, which would dominate loading a 5,000-record pool (12.8 MB). Best effort.
 */
static void prefault(void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);

	if (len >= 256 * 1024 && end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

/* Makes room for at least want records, doubling so that n appends cost O(n). */
static int record_array_reserve(RecordArray *a, size_t want)
{
	size_t cap;
	KvpRecord *v;

	if (want <= a->cap)
		return 0;
	cap = MAX(a->cap * 2, MAX(want, (size_t)16));
	v = reallocarray(a->v, cap, sizeof(KvpRecord));
	if (!v)
		return -ENOMEM;
	prefault(v + a->cap, (cap - a->cap) * sizeof(KvpRecord));
	a->v = v;
	a->cap = cap;
	return 0;
}

/*
 * Bounds one field: 0 if NUL-terminated, 1 if it had to be cut, -EILSEQ if not UTF-8.
 * Zeroes everything after the string so no junk is ever served or written back.
 */
static int field_sanitize(char *f, size_t size)
{
	size_t len = strnlen(f, size);
	int capped = 0;

	if (len == size) {
		/*
		 * No NUL: keep size - 1 bytes, minus a character the cut would split. A split
		 * character shows as continuation bytes (10xxxxxx) at the cut, at most 3.
		 */
		len = size - 1;
		for (unsigned k = 0; k < 3 && len > 0 && ((unsigned char)f[len] & 0xc0) == 0x80;
		     k++)
			len--;
		capped = 1;
	}
	memset(f + len, 0, size - len);
	if (!utf8_is_valid(f, len))
		return -EILSEQ;
	return capped;
}

int kvp_record_sanitize(KvpRecord *r)
{
	int rk, rv;

	rk = field_sanitize(r->key, sizeof(r->key));
	rv = field_sanitize(r->value, sizeof(r->value));
	if (rk < 0)
		return rk;
	if (rv < 0)
		return rv;
	if (r->key[0] == '\0')
		return -EBADMSG;
	return rk | rv;
}

/* Sanitises v[0..n) in place, dropping bad records and keeping order. Returns the new n. */
static size_t records_sanitize_all(KvpRecord *v, size_t n, KvpParseStats *stats)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		int r = kvp_record_sanitize(&v[i]);

		if (r < 0) {
			stats->n_skipped++;
			continue;
		}
		if (r > 0)
			stats->n_capped++;
		if (j != i)
			memcpy(&v[j], &v[i], sizeof(KvpRecord));
		j++;
	}
	return j;
}

int kvp_records_parse(const void *data, size_t size, KvpRecord **ret, size_t *ret_n,
		      KvpParseStats *ret_stats)
{
	KvpParseStats stats = { .trailing_bytes = size % KVP_RECORD_SIZE };
	size_t n = size / KVP_RECORD_SIZE;
	KvpRecord *v = NULL;

	if (n > 0) {
		v = malloc(n * KVP_RECORD_SIZE);
		if (!v)
			return -ENOMEM;
		prefault(v, n * KVP_RECORD_SIZE);
		memcpy(v, data, n * KVP_RECORD_SIZE);
		n = records_sanitize_all(v, n, &stats);
		if (n == 0) {
			free(v);
			v = NULL;
		}
	}
	*ret = v;
	*ret_n = n;
	if (ret_stats)
		*ret_stats = stats;
	return 0;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Takes flock() and an OFD lock on the whole file, shared or exclusive, without ever
 * blocking longer than timeout_usec: both kinds are needed because other writers use one or
 * the other and Linux does not make them exclude each other. Polls every 1 ms for the first
 * 10 ms, then every 10 ms. -ETIMEDOUT when the other program keeps its lock. Closing fd
 * releases both locks (they belong to this open file description only).
 */
static int lock_file(int fd, bool exclusive, uint64_t timeout_usec)
{
	struct flock fl = { .l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
	uint64_t start = now_usec();
	bool have_flock = false;

	for (;;) {
		uint64_t elapsed, step;

		if (!have_flock) {
			if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
				have_flock = true;
			else if (errno != EWOULDBLOCK && errno != EINTR)
				return negative_errno();
		}
		if (have_flock) {
			if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
				return 0;
			if (errno != EAGAIN && errno != EACCES && errno != EINTR)
				return negative_errno();
		}
		elapsed = now_usec() - start;
		if (elapsed >= timeout_usec)
			return -ETIMEDOUT;
		step = MIN(elapsed < 10000 ? 1000 : 10000, timeout_usec - elapsed);
		(void)nanosleep(&(struct timespec){ .tv_sec = (time_t)(step / 1000000u),
						    .tv_nsec = (long)(step % 1000000u) * 1000 },
				NULL);
	}
}

static bool file_unchanged(const Pool *p, bool exists, const struct stat *st)
{
	if (exists != p->have_file)
		return false;
	if (!exists)
		return true;
	return st->st_dev == p->file_st.st_dev && st->st_ino == p->file_st.st_ino &&
	       st->st_size == p->file_st.st_size &&
	       st->st_mtim.tv_sec == p->file_st.st_mtim.tv_sec &&
	       st->st_mtim.tv_nsec == p->file_st.st_mtim.tv_nsec &&
	       st->st_ctim.tv_sec == p->file_st.st_ctim.tv_sec &&
	       st->st_ctim.tv_nsec == p->file_st.st_ctim.tv_nsec;
}

/*
 * Reads and parses a pool file under a shared lock. *ret_st is the file's identity when
 * locked, before reading: if an unlocked appender adds records meanwhile, the next stat
 * check sees the difference.
 */
static int pool_read(KvpStore *s, const Pool *p, RecordArray *ret, struct stat *ret_st,
		     KvpParseStats *ret_stats)
{
	_cleanup_close_ int fd = -EBADF;
	RecordArray a = { 0 };
	KvpParseStats stats = { 0 };
	struct stat st;
	size_t bytes = 0, total;
	int r;

	fd = openat(s->dir_fd, p->name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	r = lock_file(fd, false, s->lock_timeout_usec);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EBADFD;

	/* One record of headroom: usually a single read reaches EOF. */
	r = record_array_reserve(
		&a, MIN((size_t)st.st_size / KVP_RECORD_SIZE + 1, (size_t)KVP_POOL_MAX_RECORDS));
	for (;;) {
		size_t limit;
		ssize_t k;

		if (r < 0)
			goto fail;
		limit = MIN(a.cap, (size_t)KVP_POOL_MAX_RECORDS) * KVP_RECORD_SIZE;
		k = loop_read(fd, (uint8_t *)a.v + bytes, limit - bytes);
		if (k < 0) {
			r = (int)k;
			goto fail;
		}
		bytes += (size_t)k;
		if (bytes < limit || limit == (size_t)KVP_POOL_MAX_RECORDS * KVP_RECORD_SIZE)
			break; /* EOF, or the limit */
		r = record_array_reserve(&a, a.cap * 2);
	}
	total = (size_t)st.st_size / KVP_RECORD_SIZE;
	if (total > KVP_POOL_MAX_RECORDS)
		stats.n_dropped = total - KVP_POOL_MAX_RECORDS;
	stats.trailing_bytes = bytes % KVP_RECORD_SIZE;
	a.n = records_sanitize_all(a.v, bytes / KVP_RECORD_SIZE, &stats);

	*ret = a;
	*ret_st = st;
	*ret_stats = stats;
	return 0;
fail:
	record_array_done(&a);
	return r;
}

/* Warnings about a pool file carry HV_POOL= for journal queries. */
_printf_(2, 3) static void pool_warning(const Pool *p, const char *fmt, ...)
{
	char field[32];
	va_list ap;

	if (LOG_WARNING > log_get_max_level())
		return;
	(void)snprintf(field, sizeof(field), "HV_POOL=%u", (unsigned)p->id);
	va_start(ap, fmt);
	(void)log_internalv(LOG_WARNING, 0, LOG_FIELDS(field), __func__, fmt, ap);
	va_end(ap);
}

/* One warning per load of a file with bad records; repeated loads of the same damage: debug. */
static void pool_report(Pool *p, const KvpParseStats *st)
{
	if (st->n_capped == 0 && st->n_skipped == 0 && st->n_dropped == 0) {
		p->warned = (KvpParseStats){ 0 };
		return;
	}
	if (st->n_capped == p->warned.n_capped && st->n_skipped == p->warned.n_skipped &&
	    st->n_dropped == p->warned.n_dropped) {
		log_debug("Pool file '%s' still has %zu cut and %zu unreadable records.", p->name,
			  st->n_capped, st->n_skipped);
		return;
	}
	p->warned = *st;
	pool_warning(
		p,
		"Pool file '%s' written by another program: %zu record(s) with an unterminated "
		"key or value cut, %zu unreadable record(s) and %zu record(s) beyond %u ignored.",
		p->name, st->n_capped, st->n_skipped, st->n_dropped, KVP_POOL_MAX_RECORDS);
}

/* Replaces live with a freshly loaded array, keeping the old one for an enumeration. */
static void pool_install(KvpStore *s, Pool *p, RecordArray *a, const struct stat *st, bool exists)
{
	RecordArray old;

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	old = p->live;
	p->live = *a;
	p->file_st = *st;
	p->have_file = exists;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	*a = (RecordArray){ 0 };

	if (p->enumerating && !p->snap_valid) {
		p->snap = old;
		p->snap_valid = true;
	} else
		record_array_done(&old);
}

static int pool_stat(KvpStore *s, const Pool *p, struct stat *ret, bool *ret_exists)
{
	*ret_exists = true;
	if (fstatat(s->dir_fd, p->name, ret, 0) >= 0)
		return 0;
	if (errno != ENOENT)
		return negative_errno();
	*ret = (struct stat){ 0 };
	*ret_exists = false;
	return 0;
}

/*
 * Reloads the pool if its file changed since we last loaded or wrote it: one fstatat() per
 * request, a read only on change. An owned pool with unflushed changes is not reloaded: our
 * version replaces the file at the next flush. A missing file reads as an empty pool.
 */
static int pool_refresh(KvpStore *s, Pool *p)
{
	RecordArray a = { 0 };
	KvpParseStats stats = { 0 };
	struct stat st;
	bool exists, changed = false, dirty = false;
	int r = 0;

	if (pool_is_owned(p->id)) {
		/* stat under the mutex, or a flush ending meanwhile would look foreign. */
		assert_se(pthread_mutex_lock(&s->mutex) == 0);
		if (!p->writing) {
			r = pool_stat(s, p, &st, &exists);
			changed = r >= 0 && !file_unchanged(p, exists, &st);
			dirty = p->generation != p->flushed;
			if (changed && dirty) {
				p->file_st = st;
				p->have_file = exists;
			}
		}
		assert_se(pthread_mutex_unlock(&s->mutex) == 0);
		if (changed && dirty) {
			pool_warning(
				p,
				"Pool file '%s' was changed by another program while host "
				"changes are not yet saved; the host's version will replace it.",
				p->name);
			return 0;
		}
	} else {
		r = pool_stat(s, p, &st, &exists);
		changed = r >= 0 && !file_unchanged(p, exists, &st);
	}
	if (r < 0 || !changed)
		return r;

	r = exists ? pool_read(s, p, &a, &st, &stats) : 0;
	if (r == -ENOENT) {
		exists = false; /* removed since the stat */
		st = (struct stat){ 0 };
	} else if (r < 0)
		return r;
	pool_report(p, &stats);
	pool_install(s, p, &a, &st, exists);
	return 1;
}

/* Refreshes, or keeps serving the copy in memory when the file cannot be read right now. */
static void pool_refresh_or_keep(KvpStore *s, Pool *p)
{
	int r = pool_refresh(s, p);

	if (r == -ETIMEDOUT)
		log_debug("Pool file '%s' is locked by another program, serving the previous copy.",
			  p->name);
	else if (r < 0 && r != p->last_error)
		log_warning_errno(r, "Cannot reload pool file '%s', serving the previous copy: %m",
				  p->name);
	if (r != -ETIMEDOUT)
		p->last_error = MIN(r, 0);
}

/* Creates the file if missing, without O_TRUNC and without writing (pool 1 keeps its mtime). */
static int pool_create(KvpStore *s, Pool *p)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	fd = openat(s->dir_fd, p->name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, p->mode);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	/* Exact mode, whatever the umask or the previous mode was; fchmod() keeps the mtime. */
	if ((st.st_mode & 07777) != p->mode && fchmod(fd, p->mode) < 0)
		log_warning_errno(errno, "Cannot set mode %04o on pool file '%s', ignoring: %m",
				  (unsigned)p->mode, p->name);
	return 0;
}

KvpStore *kvp_store_free(KvpStore *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(s->pools); i++) {
		record_array_done(&s->pools[i].live);
		record_array_done(&s->pools[i].snap);
	}
	safe_close(s->dir_fd);
	(void)pthread_mutex_destroy(&s->mutex);
	free(s);
	return NULL;
}

int kvp_store_open(const KvpStoreOptions *o, KvpStore **ret)
{
	_cleanup_(kvp_store_freep) KvpStore *s = NULL;
	mode_t mode = o->mode ? o->mode : POOL_DEFAULT_MODE;
	mode_t host_mode = o->host_pool_mode ? o->host_pool_mode : mode;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dir_fd = -EBADF;
	r = pthread_mutex_init(&s->mutex, NULL);
	if (r != 0) {
		free(TAKE_PTR(s));
		return -r;
	}
	s->lock_timeout_usec = o->lock_timeout_usec;
	s->dir_fd = fcntl(o->dir_fd, F_DUPFD_CLOEXEC, 3);
	if (s->dir_fd < 0)
		return negative_errno();

	for (size_t i = 0; i < ELEMENTSOF(s->pools); i++) {
		Pool *p = &s->pools[i];

		p->id = (KvpPoolId)i;
		(void)snprintf(p->name, sizeof(p->name), ".kvp_pool_%zu", i);
		p->mode = (pool_is_owned(p->id) ? host_mode : mode) & 07777;
		r = pool_create(s, p);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(s->pools); i++)
		pool_refresh_or_keep(s, &s->pools[i]);

	*ret = TAKE_PTR(s);
	return 0;
}

static Pool *store_pool(KvpStore *s, KvpPoolId pool)
{
	if (!s || (unsigned)pool >= _KVP_POOL_MAX)
		return NULL;
	return &s->pools[pool];
}

/* Index of the last record with key, or -1. */
static ssize_t records_find_last(const RecordArray *a, const char *key)
{
	for (size_t i = a->n; i-- > 0;)
		if (strcmp(a->v[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

/* Removes every record with key except v[keep] (keep = -1: all). Returns how many went. */
static size_t records_remove(RecordArray *a, const char *key, ssize_t keep)
{
	size_t j = 0, removed = 0;

	for (size_t i = 0; i < a->n; i++) {
		if ((ssize_t)i != keep && strcmp(a->v[i].key, key) == 0) {
			removed++;
			continue;
		}
		if (j != i)
			memcpy(&a->v[j], &a->v[i], sizeof(KvpRecord));
		j++;
	}
	a->n = j;
	return removed;
}

int kvp_store_get(KvpStore *s, KvpPoolId pool, const char *key, const char **ret_value)
{
	Pool *p = store_pool(s, pool);
	ssize_t i;

	if (!p || !key)
		return -EINVAL;
	pool_refresh_or_keep(s, p);
	i = records_find_last(&p->live, key);
	if (i < 0)
		return -ENOENT;
	*ret_value = p->live.v[i].value;
	return 0;
}

static int writable_pool(KvpStore *s, KvpPoolId pool, const char *key, Pool **ret)
{
	Pool *p = store_pool(s, pool);

	if (!p || !key)
		return -EINVAL;
	if (!pool_is_owned(pool))
		return -EROFS;
	*ret = p;
	return 0;
}

int kvp_store_set(KvpStore *s, KvpPoolId pool, const char *key, const char *value)
{
	size_t klen, vlen, dups;
	ssize_t i;
	Pool *p;
	int r;

	r = writable_pool(s, pool, key, &p);
	if (r < 0)
		return r;
	if (!value)
		return -EINVAL;
	klen = strnlen(key, KVP_KEY_SIZE);
	vlen = strnlen(value, KVP_VALUE_SIZE);
	if (klen >= KVP_KEY_SIZE || vlen >= KVP_VALUE_SIZE)
		return -E2BIG;
	if (klen == 0)
		return -EINVAL; /* an empty key would be dropped by every reader */
	if (!utf8_is_valid(key, klen) || !utf8_is_valid(value, vlen))
		return -EILSEQ;

	/* Pick up an administrator's rewrite first, so a SET does not undo it needlessly. */
	pool_refresh_or_keep(s, p);

	i = records_find_last(&p->live, key);
	if (i >= 0 && strcmp(p->live.v[i].value, value) == 0 &&
	    records_find_last(&(RecordArray){ .v = p->live.v, .n = (size_t)i }, key) < 0)
		return 0; /* same value, no duplicates: nothing to write (hosts resend pool 3) */

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	if (i < 0) {
		/* Beyond the limit a reload would drop records: refuse instead. */
		r = p->live.n >= KVP_POOL_MAX_RECORDS
			    ? -ENOSPC
			    : record_array_reserve(&p->live, p->live.n + 1);
		if (r < 0)
			goto unlock;
		i = (ssize_t)p->live.n++;
		memset(p->live.v[i].key, 0, KVP_KEY_SIZE);
		memcpy(p->live.v[i].key, key, klen);
	}
	/* In place, so the host's order is kept; zero padded, no stale tail. */
	memset(p->live.v[i].value, 0, KVP_VALUE_SIZE);
	memcpy(p->live.v[i].value, value, vlen);
	dups = records_remove(&p->live, key, i);
	if (dups > 0)
		log_debug("Removed %zu duplicate(s) of key '%s' from '%s'.", dups, key, p->name);
	p->generation++;
unlock:
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	return r;
}

int kvp_store_delete(KvpStore *s, KvpPoolId pool, const char *key)
{
	size_t removed;
	Pool *p;
	int r;

	r = writable_pool(s, pool, key, &p);
	if (r < 0)
		return r;
	pool_refresh_or_keep(s, p);

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	removed = records_remove(&p->live, key, -1);
	if (removed > 0)
		p->generation++;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	return removed > 0 ? 0 : -ENOENT;
}

int kvp_store_enumerate(KvpStore *s, KvpPoolId pool, uint32_t index, const char **ret_key,
			const char **ret_value)
{
	Pool *p = store_pool(s, pool);
	const RecordArray *a;

	if (!p)
		return -EINVAL;
	if (index == 0) {
		/* A fresh snapshot: the reload must replace live, not park it as snap. */
		record_array_done(&p->snap);
		p->snap_valid = false;
		p->enumerating = false;
		pool_refresh_or_keep(s, p);
		p->enumerating = true;
	}
	a = p->snap_valid ? &p->snap : &p->live;
	if (index >= a->n) {
		/* The host stops at the first error: this enumeration is over. */
		record_array_done(&p->snap);
		p->snap_valid = false;
		p->enumerating = false;
		return -ENOENT;
	}
	*ret_key = a->v[index].key;
	*ret_value = a->v[index].value;
	return 0;
}

size_t kvp_store_count(KvpStore *s, KvpPoolId pool)
{
	Pool *p = store_pool(s, pool);

	if (!p)
		return 0;
	pool_refresh_or_keep(s, p);
	return p->live.n;
}

bool kvp_store_dirty(KvpStore *s)
{
	bool dirty = false;

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	for (size_t i = 0; i < ELEMENTSOF(s->pools); i++)
		if (pool_is_owned(s->pools[i].id))
			dirty = dirty || s->pools[i].generation != s->pools[i].flushed;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	return dirty;
}

/*
 * Replaces the pool file with v[0..n) while holding flock(LOCK_EX) and an OFD write lock on
 * the file being replaced, so that lock-taking appenders and readers never interleave with
 * us. Lock-free readers see the complete old or new file thanks to the rename.
 */
static int pool_write(KvpStore *s, const Pool *p, const KvpRecord *v, size_t n, struct stat *ret_st)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	/* O_RDWR because an OFD write lock needs a writable descriptor; no O_TRUNC, no write. */
	fd = openat(s->dir_fd, p->name, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno != ENOENT)
		return negative_errno();
	if (fd >= 0) {
		r = lock_file(fd, true, s->lock_timeout_usec);
		if (r < 0)
			return r;
	}
	r = write_file_atomic_at(s->dir_fd, p->name, POOL_TMP_PREFIX, v ? (const void *)v : "",
				 n * KVP_RECORD_SIZE, p->mode);
	if (r < 0)
		return r;
	if (fstatat(s->dir_fd, p->name, ret_st, 0) < 0)
		return negative_errno();
	return 0;
}

static int pool_flush(KvpStore *s, Pool *p)
{
	_cleanup_free_ KvpRecord *copy = NULL;
	struct stat st;
	uint64_t gen;
	size_t n;
	int r;

	/* Copy under the mutex, write outside it: host requests never wait for the disk. */
	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	if (p->generation == p->flushed || p->writing) {
		assert_se(pthread_mutex_unlock(&s->mutex) == 0);
		return 0;
	}
	n = p->live.n;
	gen = p->generation;
	if (n > 0) {
		copy = malloc(n * KVP_RECORD_SIZE);
		if (!copy) {
			assert_se(pthread_mutex_unlock(&s->mutex) == 0);
			return -ENOMEM;
		}
		memcpy(copy, p->live.v, n * KVP_RECORD_SIZE);
	}
	p->writing = true;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);

	r = pool_write(s, p, copy, n, &st);

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	p->writing = false;
	if (r >= 0) {
		p->file_st = st;
		p->have_file = true;
		/* Clean only if no change arrived meanwhile; otherwise the next flush writes it. */
		p->flushed = gen;
	}
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	return r;
}

int kvp_store_flush(KvpStore *s)
{
	int ret = 0;

	for (size_t i = 0; i < ELEMENTSOF(s->pools); i++) {
		Pool *p = &s->pools[i];
		int r;

		if (!pool_is_owned(p->id))
			continue;
		r = pool_flush(s, p);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}
