/* SPDX-License-Identifier: MIT */
/*
 * KVP pool store: the pool files and their in-memory versions, change detection by stat(),
 * locked reads with a bounded wait, and atomic replacement of the owned pools.
 *
 * Each pool in memory is a compact copy-on-write version (kvp-store-version.h). Only the
 * manager thread changes versions and the live pointers; kvp_store_flush() only takes and
 * drops references, and writes the file from its referenced version without holding the
 * mutex, so a host request never waits for the disk or for a pool-sized copy.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "kvp/kvp-store-version.h"
#include "kvp/kvp-store.h"

/* Temporary files must never match ".kvp_pool*": validation suites check the directory. */
#define POOL_TMP_PREFIX ".hvguest-tmp-"
#define POOL_DEFAULT_MODE 0644

typedef struct Pool {
	KvpPoolId id;
	char name[16]; /* ".kvp_pool_N" */
	mode_t mode;
	/* What requests see: never NULL after open. Replaced under s->mutex. */
	KvpVersion *live;
	/*
	 * The version the enumeration in progress started on (a reference), or NULL: dropped at
	 * the next position 0 or at the end.
	 */
	KvpVersion *snap;
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
	/* Version refs; owned pools: live, generation, flushed, writing, file_st, have_file. */
	pthread_mutex_t mutex;
	Pool pools[_KVP_POOL_MAX];
	/* vr.mutex points to mutex; vr.spare is freed once a flush finds its pool quiet. */
	KvpVersionRefs vr;
};

static bool pool_is_owned(KvpPoolId id)
{
	return id == KVP_POOL_EXTERNAL || id == KVP_POOL_AUTO_EXTERNAL;
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
 * Reads a pool file under a shared lock into a compact version, a chunk at a time: the file
 * image never exists in memory as a whole. *ret_st is the file's identity when locked,
 * before reading: if an unlocked appender adds records meanwhile, the next stat check sees
 * the difference.
 */
static int pool_read(KvpStore *s, const Pool *p, KvpVersion **ret, struct stat *ret_st,
		     KvpParseStats *ret_stats)
{
	_cleanup_close_ int fd = -EBADF;
	KvpParseStats stats = { 0 };
	size_t total;
	struct stat st;
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

	total = (size_t)st.st_size / KVP_RECORD_SIZE;
	if (total > KVP_POOL_MAX_RECORDS)
		stats.n_dropped = total - KVP_POOL_MAX_RECORDS;
	r = kvp_version_load(fd, MIN(total, (size_t)KVP_POOL_MAX_RECORDS), ret, &stats);
	if (r < 0)
		return r;
	*ret_st = st;
	*ret_stats = stats;
	return 0;
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
	/* Holes are how hvctl deletes pool 1 keys: routine, not another program's damage. */
	if (st->n_holes > 0)
		log_debug("Pool file '%s' has %zu deleted (all-zero) record(s), skipped.", p->name,
			  st->n_holes);
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

/* Replaces live with a freshly loaded version; an enumeration keeps its own reference. */
static void pool_install(KvpStore *s, Pool *p, KvpVersion *v, const struct stat *st, bool exists)
{
	KvpVersion *old;

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	old = p->live;
	p->live = v;
	p->file_st = *st;
	p->have_file = exists;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	kvp_version_unref(&s->vr, old);
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
	KvpVersion *v = NULL;
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

	r = exists ? pool_read(s, p, &v, &st, &stats) : 0;
	if (r == -ENOENT) {
		exists = false; /* removed since the stat */
		st = (struct stat){ 0 };
	} else if (r < 0)
		return r;
	if (!v) {
		v = kvp_version_new();
		if (!v)
			return -ENOMEM;
	}
	pool_report(p, &stats);
	pool_install(s, p, v, &st, exists);
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
		s->pools[i].snap = kvp_version_unref(&s->vr, s->pools[i].snap);
		s->pools[i].live = kvp_version_unref(&s->vr, s->pools[i].live);
	}
	kvp_version_free(s->vr.spare);
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
	s->vr.mutex = &s->mutex;
	s->lock_timeout_usec = o->lock_timeout_usec;
	s->dir_fd = fcntl(o->dir_fd, F_DUPFD_CLOEXEC, 3);
	if (s->dir_fd < 0)
		return negative_errno();

	for (size_t i = 0; i < ELEMENTSOF(s->pools); i++) {
		Pool *p = &s->pools[i];

		p->id = (KvpPoolId)i;
		(void)snprintf(p->name, sizeof(p->name), ".kvp_pool_%zu", i);
		p->mode = (pool_is_owned(p->id) ? host_mode : mode) & 07777;
		p->live = kvp_version_new();
		if (!p->live)
			return -ENOMEM;
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

int kvp_store_get(KvpStore *s, KvpPoolId pool, const char *key, const char **ret_value)
{
	Pool *p = store_pool(s, pool);
	size_t klen;
	ssize_t i;

	if (!p || !key)
		return -EINVAL;
	pool_refresh_or_keep(s, p);
	klen = strlen(key);
	i = kvp_version_find_last(p->live, p->live->n, key, klen, kvp_key_hash(key, klen));
	if (i < 0)
		return -ENOENT;
	*ret_value = p->live->arena + p->live->e[i].value;
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

/*
 * True if the live version may be changed in place: nothing else refers to it and it is not
 * mostly garbage. Then returns with s->mutex held, so that a flush cannot take a reference
 * in the middle of the change; otherwise without.
 */
static bool pool_lock_in_place(KvpStore *s, Pool *p)
{
	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	if (p->live->refs == 1 && !kvp_version_wasteful(p->live))
		return true;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	return false;
}

/* Ends an in-place change (pool_lock_in_place() returned true). */
static void pool_unlock_in_place(KvpStore *s, Pool *p, bool changed)
{
	if (changed)
		p->generation++;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
}

/* Makes c, a changed copy of the live version, the live version. */
static void pool_commit_copy(KvpStore *s, Pool *p, KvpVersion *c)
{
	KvpVersion *old;

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	old = p->live;
	p->live = c;
	p->generation++;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	kvp_version_unref(&s->vr, old);
}

int kvp_store_set(KvpStore *s, KvpPoolId pool, const char *key, const char *value)
{
	_cleanup_(kvp_version_freep) KvpVersion *c = NULL;
	size_t klen, vlen, dups = 0;
	const KvpVersion *v;
	uint32_t hash;
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

	v = p->live;
	hash = kvp_key_hash(key, klen);
	i = kvp_version_find_last(v, v->n, key, klen, hash);
	if (i >= 0 && v->e[i].value_len == vlen &&
	    memcmp(v->arena + v->e[i].value, value, vlen) == 0 &&
	    kvp_version_find_last(v, (size_t)i, key, klen, hash) < 0)
		return 0; /* same value, no duplicates: nothing to write (hosts resend pool 3) */
	/* Beyond the limit a reload would drop records: refuse instead. */
	if (i < 0 && v->n >= KVP_POOL_MAX_RECORDS)
		return -ENOSPC;

	if (pool_lock_in_place(s, p)) {
		r = kvp_version_set(p->live, i, key, klen, hash, value, vlen, &dups);
		pool_unlock_in_place(s, p, r >= 0);
	} else {
		/* Shared with a snapshot or a flush: change a copy, which keeps the indices. */
		r = kvp_version_clone(&s->vr, v, &c);
		if (r >= 0)
			r = kvp_version_set(c, i, key, klen, hash, value, vlen, &dups);
		if (r >= 0)
			pool_commit_copy(s, p, TAKE_PTR(c));
	}
	if (dups > 0)
		log_debug("Removed %zu duplicate(s) of key '%s' from '%s'.", dups, key, p->name);
	return r;
}

int kvp_store_delete(KvpStore *s, KvpPoolId pool, const char *key)
{
	_cleanup_(kvp_version_freep) KvpVersion *c = NULL;
	uint32_t hash;
	size_t klen;
	Pool *p;
	int r;

	r = writable_pool(s, pool, key, &p);
	if (r < 0)
		return r;
	pool_refresh_or_keep(s, p);

	klen = strlen(key);
	hash = kvp_key_hash(key, klen);
	if (kvp_version_find_last(p->live, p->live->n, key, klen, hash) < 0)
		return -ENOENT;
	if (pool_lock_in_place(s, p)) {
		(void)kvp_version_remove(p->live, key, klen, hash, -1);
		pool_unlock_in_place(s, p, true);
		return 0;
	}
	r = kvp_version_clone(&s->vr, p->live, &c);
	if (r < 0)
		return r;
	(void)kvp_version_remove(c, key, klen, hash, -1);
	pool_commit_copy(s, p, TAKE_PTR(c));
	return 0;
}

int kvp_store_enumerate(KvpStore *s, KvpPoolId pool, uint32_t index, const char **ret_key,
			const char **ret_value)
{
	Pool *p = store_pool(s, pool);
	const KvpVersion *v;

	if (!p)
		return -EINVAL;
	if (index == 0) {
		/* A fresh snapshot: a reference, the next change copies (see the top). */
		p->snap = kvp_version_unref(&s->vr, p->snap);
		pool_refresh_or_keep(s, p);
		p->snap = kvp_version_ref(&s->vr, p->live);
	}
	/* Without position 0 first (a host resuming after our restart): the live records. */
	v = p->snap ? p->snap : p->live;
	if (index >= v->n) {
		/* The host stops at the first error: this enumeration is over. */
		p->snap = kvp_version_unref(&s->vr, p->snap);
		return -ENOENT;
	}
	*ret_key = v->arena + v->e[index].key;
	*ret_value = v->arena + v->e[index].value;
	return 0;
}

size_t kvp_store_count(KvpStore *s, KvpPoolId pool)
{
	Pool *p = store_pool(s, pool);

	if (!p)
		return 0;
	pool_refresh_or_keep(s, p);
	return p->live->n;
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

typedef struct PoolWriter {
	KvpStore *s;
	Pool *p;
	uint64_t generation; /* the one written */
} PoolWriter;

/*
 * Writes the live version. Called only once the file lock is ours, and the reference is
 * dropped as soon as the records are in the page cache, before fsync: a host change
 * copies the version only if it arrives during that copy (about 1 ms for 1,000 records),
 * not while we wait for a lock or for the disk.
 */
static int pool_write_content(int fd, void *userdata)
{
	PoolWriter *w = userdata;
	KvpVersion *v;
	int r;

	assert_se(pthread_mutex_lock(&w->s->mutex) == 0);
	v = w->p->live;
	v->refs++;
	w->generation = w->p->generation;
	assert_se(pthread_mutex_unlock(&w->s->mutex) == 0);

	r = kvp_version_write(fd, v);
	kvp_version_unref_recycle(&w->s->vr, v);
	return r;
}

/*
 * Replaces the pool file with the live version while holding flock(LOCK_EX) and an OFD
 * write lock on the file being replaced, so that lock-taking appenders and readers never
 * interleave with us. Lock-free readers see the complete old or new file thanks to the
 * rename. *ret_generation is the generation written.
 */
static int pool_write(KvpStore *s, Pool *p, uint64_t *ret_generation, struct stat *ret_st)
{
	_cleanup_close_ int fd = -EBADF;
	PoolWriter w = { .s = s, .p = p };
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
	r = write_file_atomic_at_cb(s->dir_fd, p->name, POOL_TMP_PREFIX, p->mode,
				    pool_write_content, &w);
	if (r < 0)
		return r;
	if (fstatat(s->dir_fd, p->name, ret_st, 0) < 0)
		return negative_errno();
	*ret_generation = w.generation;
	return 0;
}

static int pool_flush(KvpStore *s, Pool *p)
{
	KvpVersion *spare = NULL;
	struct stat st;
	uint64_t gen = 0;
	int r;

	/*
	 * No copy and no waiting under the mutex: the version written is referenced, which
	 * makes it immutable, so host requests never wait for the disk or another's lock.
	 */
	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	if (p->generation == p->flushed || p->writing) {
		assert_se(pthread_mutex_unlock(&s->mutex) == 0);
		return 0;
	}
	p->writing = true;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);

	r = pool_write(s, p, &gen, &st);

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	p->writing = false;
	if (r >= 0) {
		p->file_st = st;
		p->have_file = true;
		/* Clean only if no change arrived meanwhile; otherwise the next flush writes it. */
		p->flushed = gen;
		/* No change arrived: the burst is over, and with it the need for a spare. */
		if (p->generation == gen)
			spare = TAKE_PTR(s->vr.spare);
	}
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	kvp_version_free(spare);
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