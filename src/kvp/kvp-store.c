/* SPDX-License-Identifier: MIT */
/*
 * KVP pool store: parsing of pool file images, the in-memory pools, change detection by
 * stat(), locked reads with a bounded wait, and atomic replacement of the owned pools.
 *
 * Memory model: a pool in memory is a Version, a compact copy of its records: the strings,
 * NUL-terminated, packed in one growable arena, plus an array of (offset, length, hash)
 * entries in file order; about 16 bytes per record on top of the strings themselves, against
 * 2,560 in the file. Versions are reference counted (under s->mutex). The pool's live version
 * is changed in place only while nothing else refers to it; an enumeration snapshot and a
 * flush in progress take a reference instead of a copy, which makes the version immutable:
 * the next change then works on a compacted copy (copy-on-write), installed by a pointer
 * swap. Only the manager thread changes versions and the live pointers; kvp_store_flush()
 * only takes and drops references, and writes the file from its referenced version without
 * holding the mutex, so a host request never waits for the disk or for a pool-sized copy.
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
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "kvp/kvp-store.h"

_Static_assert(sizeof(KvpRecord) == KVP_RECORD_SIZE, "in-memory record must match the file");
/*
 * Arena offsets are 32-bit: a full pool of maximal records is 80 MiB of strings, and
 * compaction keeps garbage below a third of that (plus a record).
 */
_Static_assert(UINT64_C(2) * KVP_POOL_MAX_RECORDS * KVP_RECORD_SIZE < UINT32_MAX,
	       "arena offsets must fit 32 bits");

/* Temporary files must never match ".kvp_pool*": validation suites check the directory. */
#define POOL_TMP_PREFIX ".hvguest-tmp-"
#define POOL_DEFAULT_MODE 0644
/* Records per read() when loading and per writev() when flushing: 160 KiB of file per call. */
#define IO_CHUNK_RECORDS 64u
/* An arena is compacted once at least this much and a quarter of it is unreferenced. */
#define ARENA_GARBAGE_MIN 4096u
/*
 * Entry arrays, arenas and read buffers from this size on get a private mapping of their
 * own: growing one is an mremap() without copying, and freeing or shrinking one gives its
 * pages back at once. Heap blocks that size would leave holes as versions are copied and
 * dropped, and the heap keeps its holes resident. Under AddressSanitizer everything stays
 * on the heap, where overflows are caught.
 */
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define BLOCK_MAP_MIN SIZE_MAX
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define BLOCK_MAP_MIN SIZE_MAX
#endif
#endif
#ifndef BLOCK_MAP_MIN
#define BLOCK_MAP_MIN (64u * 1024u)
#endif

/* One record of a version; both strings are NUL-terminated in the version's arena. */
typedef struct Entry {
	uint32_t key;	    /* arena offset of the key */
	uint32_t value;	    /* arena offset of the value */
	uint32_t hash;	    /* of the key: a lookup compares strings only on a likely match */
	uint16_t key_len;   /* bytes without the NUL, < KVP_KEY_SIZE */
	uint16_t value_len; /* bytes without the NUL, < KVP_VALUE_SIZE */
} Entry;

/*
 * One state of a pool's records, in file order. refs counts the pool's live pointer, an
 * enumeration snapshot and flushes in progress; it changes only under s->mutex, and a
 * version with refs > 1 is immutable.
 */
typedef struct Version {
	unsigned refs;
	Entry *e;
	size_t n, n_cap; /* entries used / allocated */
	char *arena;
	size_t used, cap; /* arena bytes used / allocated */
	size_t garbage;	  /* arena bytes no entry refers to (replaced values, removed records) */
} Version;

typedef struct Pool {
	KvpPoolId id;
	char name[16]; /* ".kvp_pool_N" */
	mode_t mode;
	/* What requests see: never NULL after open. Replaced under s->mutex. */
	Version *live;
	/*
	 * The version the enumeration in progress started on (a reference), or NULL: dropped at
	 * the next position 0 or at the end.
	 */
	Version *snap;
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
	/*
	 * The last version a flush released while its pool was being changed, emptied and kept
	 * for the next copy-on-write: its pages are mapped already, fresh ones cost the manager
	 * thread a fault each (~100 us per 80 KiB in some VMs). Freed once a flush finds its
	 * pool quiet, so an idle store holds one copy of each pool only. Under mutex.
	 */
	Version *spare;
};

static bool pool_is_owned(KvpPoolId id)
{
	return id == KVP_POOL_EXTERNAL || id == KVP_POOL_AUTO_EXTERNAL;
}

/*
 * Maps the pages of a large fresh allocation in one call: a fault per 4 KiB page costs up to
 * 10 us in some VMs, which would dominate loading a 5,000-record pool. Best effort.
 */
static void prefault(void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);

	if (len >= 64 * 1024 && end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

/* The capacity a block of at least size bytes really gets: mappings are whole pages. */
static size_t block_size(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return size < BLOCK_MAP_MIN ? size : (size + page - 1) & ~(page - 1);
}

/* Frees a block of capacity cap (as returned by block_size()). NULL is fine. */
static void block_free(void *p, size_t cap)
{
	if (!p)
		return;
	if (cap >= BLOCK_MAP_MIN)
		(void)munmap(p, cap);
	else
		free(p);
}

/*
 * Resizes a block (p NULL: allocates one) from capacity cap to new_cap > 0, both from
 * block_size(), keeping the first MIN(cap, new_cap) bytes. NULL on failure, p untouched.
 */
static void *block_resize(void *p, size_t cap, size_t new_cap)
{
	void *n;

	if (p && cap >= BLOCK_MAP_MIN && new_cap >= BLOCK_MAP_MIN) {
		n = mremap(p, cap, new_cap, MREMAP_MAYMOVE);
		return n == MAP_FAILED ? NULL : n;
	}
	if (cap < BLOCK_MAP_MIN && new_cap < BLOCK_MAP_MIN)
		return realloc(p, new_cap);
	if (new_cap >= BLOCK_MAP_MIN) {
		n = mmap(NULL, new_cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (n == MAP_FAILED)
			return NULL;
	} else {
		n = malloc(new_cap);
		if (!n)
			return NULL;
	}
	if (p)
		memcpy(n, p, MIN(cap, new_cap));
	block_free(p, cap);
	return n;
}

/*
 * Bounds one field without changing it: *ret_len is the length to keep. 0 if
 * NUL-terminated, 1 if it has to be cut, -EILSEQ if not UTF-8.
 */
static int field_bound(const char *f, size_t size, size_t *ret_len)
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
	*ret_len = len;
	if (!utf8_is_valid(f, len))
		return -EILSEQ;
	return capped;
}

/* kvp_record_sanitize() without the writing: the lengths a sanitised copy would have. */
static int record_bound(const KvpRecord *r, size_t *ret_klen, size_t *ret_vlen)
{
	int rk, rv;

	rk = field_bound(r->key, sizeof(r->key), ret_klen);
	rv = field_bound(r->value, sizeof(r->value), ret_vlen);
	if (rk < 0)
		return rk;
	if (rv < 0)
		return rv;
	if (*ret_klen == 0)
		return -EBADMSG;
	return rk | rv;
}

int kvp_record_sanitize(KvpRecord *r)
{
	size_t klen, vlen;
	int r_bound;

	r_bound = record_bound(r, &klen, &vlen);
	/* Zero everything after the strings so no junk is ever served or written back. */
	memset(r->key + klen, 0, sizeof(r->key) - klen);
	memset(r->value + vlen, 0, sizeof(r->value) - vlen);
	return r_bound;
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

/* --- versions --- */

/* FNV-1a, 32 bits: cheap, and good enough to make false matches rare. */
static uint32_t key_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h;
}

static Version *version_free(Version *v)
{
	if (!v)
		return NULL;
	block_free(v->e, v->n_cap * sizeof(Entry));
	block_free(v->arena, v->cap);
	free(v);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Version *, version_free);

static Version *version_new(void)
{
	Version *v = calloc(1, sizeof(*v));

	if (v)
		v->refs = 1;
	return v;
}

/* Room for want entries; grows by half, so n appends cost O(n). */
static int entries_reserve(Version *v, size_t want, bool populate)
{
	size_t cap;
	Entry *e;

	if (want <= v->n_cap)
		return 0;
	cap = MAX(want, MAX(v->n_cap + v->n_cap / 2, (size_t)16));
	cap = block_size(cap * sizeof(Entry)) / sizeof(Entry);
	e = block_resize(v->e, v->n_cap * sizeof(Entry), cap * sizeof(Entry));
	if (!e)
		return -ENOMEM;
	if (populate)
		prefault(e + v->n_cap, (cap - v->n_cap) * sizeof(Entry));
	v->e = e;
	v->n_cap = cap;
	return 0;
}

/*
 * Room for extra more arena bytes. Loads double (populate: their pages are mapped in one
 * call, the excess is returned by version_shrink()); later growth is by a quarter, so
 * an idle pool carries little unused space.
 */
static int arena_reserve(Version *v, size_t extra, bool populate)
{
	size_t cap;
	char *a;

	if (v->used + extra <= v->cap)
		return 0;
	cap = MAX(v->used + extra, MAX(populate ? v->cap * 2 : v->cap + v->cap / 4, (size_t)1024));
	cap = block_size(cap);
	a = block_resize(v->arena, v->cap, cap);
	if (!a)
		return -ENOMEM;
	if (populate)
		prefault(a + v->cap, cap - v->cap);
	v->arena = a;
	v->cap = cap;
	return 0;
}

/* Copies s[0..len) and a NUL into reserved arena space; returns its offset. */
static uint32_t arena_push(Version *v, const char *s, size_t len)
{
	uint32_t off = (uint32_t)v->used;

	memcpy(v->arena + off, s, len);
	v->arena[off + len] = '\0';
	v->used += len + 1;
	return off;
}

/* Appends a record; space must be reserved (one entry, klen + vlen + 2 bytes). */
static void version_push(Version *v, const char *key, size_t klen, uint32_t hash, const char *value,
			 size_t vlen)
{
	Entry *e = &v->e[v->n++];

	e->key = arena_push(v, key, klen);
	e->value = arena_push(v, value, vlen);
	e->hash = hash;
	e->key_len = (uint16_t)klen;
	e->value_len = (uint16_t)vlen;
}

static int version_append(Version *v, const char *key, size_t klen, uint32_t hash,
			  const char *value, size_t vlen, bool populate)
{
	int r;

	r = entries_reserve(v, v->n + 1, populate);
	if (r >= 0)
		r = arena_reserve(v, klen + vlen + 2, populate);
	if (r < 0)
		return r;
	version_push(v, key, klen, hash, value, vlen);
	return 0;
}

/* Gives back what a load over-allocated. Best effort: a failing resize keeps the block. */
static void version_shrink(Version *v)
{
	size_t n_cap = block_size(v->n * sizeof(Entry)) / sizeof(Entry), cap = block_size(v->used);

	if (v->n == 0) {
		block_free(v->e, v->n_cap * sizeof(Entry));
		v->e = NULL;
		v->n_cap = 0;
	} else if (n_cap < v->n_cap) {
		Entry *e = block_resize(v->e, v->n_cap * sizeof(Entry), n_cap * sizeof(Entry));

		if (e) {
			v->e = e;
			v->n_cap = n_cap;
		}
	}
	if (v->used == 0) {
		block_free(v->arena, v->cap);
		v->arena = NULL;
		v->cap = 0;
	} else if (cap < v->cap) {
		char *a = block_resize(v->arena, v->cap, cap);

		if (a) {
			v->arena = a;
			v->cap = cap;
		}
	}
}

static bool entry_is(const Version *v, const Entry *e, const char *key, size_t klen, uint32_t hash)
{
	return e->hash == hash && e->key_len == klen && memcmp(v->arena + e->key, key, klen) == 0;
}

/* Index of the last record with key among the first n, or -1. */
static ssize_t version_find_last(const Version *v, size_t n, const char *key, size_t klen,
				 uint32_t hash)
{
	for (size_t i = n; i-- > 0;)
		if (entry_is(v, &v->e[i], key, klen, hash))
			return (ssize_t)i;
	return -1;
}

/* Removes every record with key except e[keep] (keep = -1: all). Returns how many went. */
static size_t version_remove(Version *v, const char *key, size_t klen, uint32_t hash, ssize_t keep)
{
	size_t j = 0, removed = 0;

	for (size_t i = 0; i < v->n; i++) {
		if ((ssize_t)i != keep && entry_is(v, &v->e[i], key, klen, hash)) {
			v->garbage += v->e[i].key_len + v->e[i].value_len + 2u;
			removed++;
			continue;
		}
		if (j != i)
			v->e[j] = v->e[i];
		j++;
	}
	v->n = j;
	return removed;
}

/*
 * A private copy of v with only the strings its entries refer to, plus a little room for
 * the change it is made for, in the spare version if there is one. Only reads v, so v may
 * be shared meanwhile.
 */
static int version_clone(KvpStore *s, const Version *v, Version **ret)
{
	_cleanup_(version_freep) Version *c = NULL;
	size_t live = v->used - v->garbage, want = live + live / 16 + KVP_RECORD_SIZE;
	int r;

	/* Not a much bigger one: a small pool would keep all of it. */
	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	if (s->spare && s->spare->cap / 2 <= want && s->spare->n_cap / 2 <= v->n + 1)
		c = TAKE_PTR(s->spare);
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	if (!c) {
		c = version_new();
		if (!c)
			return -ENOMEM;
	}
	r = entries_reserve(c, v->n + 1, false);
	if (r >= 0)
		r = arena_reserve(c, want, false);
	if (r < 0)
		return r;
	/* One call maps the pages the copy writes, if they are fresh. */
	prefault(c->arena, live);
	for (size_t i = 0; i < v->n; i++) {
		const Entry *e = &v->e[i];

		version_push(c, v->arena + e->key, e->key_len, e->hash, v->arena + e->value,
			     e->value_len);
	}
	*ret = TAKE_PTR(c);
	return 0;
}

/*
 * Gives record i (-1: a new one at the end) the value and removes the key's duplicates.
 * All or nothing: on -ENOMEM v is unchanged.
 */
static int version_set(Version *v, ssize_t i, const char *key, size_t klen, uint32_t hash,
		       const char *value, size_t vlen, size_t *ret_dups)
{
	Entry *e;
	int r;

	*ret_dups = 0;
	if (i < 0)
		/* Not present, so no duplicates either. */
		return version_append(v, key, klen, hash, value, vlen, false);

	e = &v->e[i];
	if (vlen <= e->value_len) {
		/* In place, so the host's order is kept; the shorter tail becomes garbage. */
		memcpy(v->arena + e->value, value, vlen);
		v->arena[e->value + vlen] = '\0';
		v->garbage += e->value_len - vlen;
	} else {
		r = arena_reserve(v, vlen + 1, false);
		if (r < 0)
			return r;
		v->garbage += e->value_len + 1u;
		e->value = arena_push(v, value, vlen);
	}
	e->value_len = (uint16_t)vlen;
	*ret_dups = version_remove(v, key, klen, hash, i);
	return 0;
}

/* Worth copying into a compact arena rather than growing it further. */
static bool version_wasteful(const Version *v)
{
	return v->garbage >= ARENA_GARBAGE_MIN && v->garbage * 4 > v->used;
}

static Version *version_ref(KvpStore *s, Version *v)
{
	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	v->refs++;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	return v;
}

/*
 * Drops a flush's reference. If it was the last one (the pool was changed meanwhile), the
 * version becomes the spare for the next copy-on-write, replacing an older spare.
 */
static void version_unref_recycle(KvpStore *s, Version *v)
{
	Version *drop = NULL;

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	if (--v->refs == 0) {
		*v = (Version){
			.refs = 1, .e = v->e, .n_cap = v->n_cap, .arena = v->arena, .cap = v->cap
		};
		drop = s->spare;
		s->spare = v;
	}
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	version_free(drop);
}

/* Drops a reference; the last one frees the version (outside the mutex). NULL is fine. */
static Version *version_unref(KvpStore *s, Version *v)
{
	bool last;

	if (!v)
		return NULL;
	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	last = --v->refs == 0;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	if (last)
		version_free(v);
	return NULL;
}

/*
 * Writes a version in the file format: per record, key, zeros to 512 bytes, value, zeros
 * to 2048 bytes, gathered straight from the arena, IO_CHUNK_RECORDS records per writev().
 * Nothing pool-sized is ever built in memory.
 */
static int version_write(int fd, void *userdata)
{
	static const char zeros[KVP_VALUE_SIZE];
	const Version *v = userdata;
	struct iovec iov[IO_CHUNK_RECORDS * 4];

	for (size_t i = 0; i < v->n;) {
		size_t k = 0;
		int r;

		for (; i < v->n && k < ELEMENTSOF(iov); i++) {
			const Entry *e = &v->e[i];

			iov[k++] = (struct iovec){ v->arena + e->key, e->key_len };
			iov[k++] = (struct iovec){ (void *)zeros, KVP_KEY_SIZE - e->key_len };
			iov[k++] = (struct iovec){ v->arena + e->value, e->value_len };
			iov[k++] = (struct iovec){ (void *)zeros, KVP_VALUE_SIZE - e->value_len };
		}
		r = loop_writev(fd, iov, k);
		if (r < 0)
			return r;
	}
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
 * Reads records from fd to EOF or to KVP_POOL_MAX_RECORDS, buf_records at a time into buf,
 * and appends the sound ones to v, sanitised as kvp_records_parse() would.
 */
static int version_read(Version *v, int fd, KvpRecord *buf, size_t buf_records,
			KvpParseStats *stats)
{
	size_t records = 0;
	int r;

	for (;;) {
		size_t want = MIN(buf_records, KVP_POOL_MAX_RECORDS - records), got;
		ssize_t k = loop_read(fd, buf, want * KVP_RECORD_SIZE);

		if (k < 0)
			return (int)k;
		got = (size_t)k / KVP_RECORD_SIZE;
		for (size_t j = 0; j < got; j++) {
			size_t klen, vlen;

			r = record_bound(&buf[j], &klen, &vlen);
			if (r < 0) {
				stats->n_skipped++;
				continue;
			}
			if (r > 0)
				stats->n_capped++;
			r = version_append(v, buf[j].key, klen, key_hash(buf[j].key, klen),
					   buf[j].value, vlen, true);
			if (r < 0)
				return r;
		}
		records += got;
		if ((size_t)k < want * KVP_RECORD_SIZE) {
			stats->trailing_bytes = (size_t)k % KVP_RECORD_SIZE; /* EOF */
			return 0;
		}
		if (records == KVP_POOL_MAX_RECORDS)
			return 0;
	}
}

/*
 * Reads a pool file under a shared lock into a compact version, IO_CHUNK_RECORDS records
 * at a time: the file image never exists in memory as a whole. *ret_st is the file's
 * identity when locked, before reading: if an unlocked appender adds records meanwhile,
 * the next stat check sees the difference.
 */
static int pool_read(KvpStore *s, const Pool *p, Version **ret, struct stat *ret_st,
		     KvpParseStats *ret_stats)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_(version_freep) Version *v = NULL;
	KvpParseStats stats = { 0 };
	size_t total, chunk, buf_cap;
	struct stat st;
	KvpRecord *buf;
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
	total = MIN(total, (size_t)KVP_POOL_MAX_RECORDS);
	v = version_new();
	if (!v)
		return -ENOMEM;
	/*
	 * Strings guessed at a tenth of the file (cloud-init's records use ~300 of their 2,560
	 * bytes); the arena doubles if that was short, and version_shrink() returns the rest.
	 */
	r = entries_reserve(v, total, true);
	if (r >= 0)
		r = arena_reserve(v, total * (KVP_RECORD_SIZE / 10), true);
	if (r < 0)
		return r;
	/* One record more than the file had: usually the first short read is EOF. */
	chunk = MIN((size_t)IO_CHUNK_RECORDS, total + 1);
	buf_cap = block_size(chunk * KVP_RECORD_SIZE);
	buf = block_resize(NULL, 0, buf_cap);
	if (!buf)
		return -ENOMEM;
	r = version_read(v, fd, buf, chunk, &stats);
	block_free(buf, buf_cap);
	if (r < 0)
		return r;
	version_shrink(v);

	*ret = TAKE_PTR(v);
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
static void pool_install(KvpStore *s, Pool *p, Version *v, const struct stat *st, bool exists)
{
	Version *old;

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	old = p->live;
	p->live = v;
	p->file_st = *st;
	p->have_file = exists;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	version_unref(s, old);
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
	Version *v = NULL;
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
		v = version_new();
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
		s->pools[i].snap = version_unref(s, s->pools[i].snap);
		s->pools[i].live = version_unref(s, s->pools[i].live);
	}
	version_free(s->spare);
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
		p->live = version_new();
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
	i = version_find_last(p->live, p->live->n, key, klen, key_hash(key, klen));
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
	if (p->live->refs == 1 && !version_wasteful(p->live))
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
static void pool_commit_copy(KvpStore *s, Pool *p, Version *c)
{
	Version *old;

	assert_se(pthread_mutex_lock(&s->mutex) == 0);
	old = p->live;
	p->live = c;
	p->generation++;
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	version_unref(s, old);
}

int kvp_store_set(KvpStore *s, KvpPoolId pool, const char *key, const char *value)
{
	_cleanup_(version_freep) Version *c = NULL;
	size_t klen, vlen, dups = 0;
	const Version *v;
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
	hash = key_hash(key, klen);
	i = version_find_last(v, v->n, key, klen, hash);
	if (i >= 0 && v->e[i].value_len == vlen &&
	    memcmp(v->arena + v->e[i].value, value, vlen) == 0 &&
	    version_find_last(v, (size_t)i, key, klen, hash) < 0)
		return 0; /* same value, no duplicates: nothing to write (hosts resend pool 3) */
	/* Beyond the limit a reload would drop records: refuse instead. */
	if (i < 0 && v->n >= KVP_POOL_MAX_RECORDS)
		return -ENOSPC;

	if (pool_lock_in_place(s, p)) {
		r = version_set(p->live, i, key, klen, hash, value, vlen, &dups);
		pool_unlock_in_place(s, p, r >= 0);
	} else {
		/* Shared with a snapshot or a flush: change a copy, which keeps the indices. */
		r = version_clone(s, v, &c);
		if (r >= 0)
			r = version_set(c, i, key, klen, hash, value, vlen, &dups);
		if (r >= 0)
			pool_commit_copy(s, p, TAKE_PTR(c));
	}
	if (dups > 0)
		log_debug("Removed %zu duplicate(s) of key '%s' from '%s'.", dups, key, p->name);
	return r;
}

int kvp_store_delete(KvpStore *s, KvpPoolId pool, const char *key)
{
	_cleanup_(version_freep) Version *c = NULL;
	uint32_t hash;
	size_t klen;
	Pool *p;
	int r;

	r = writable_pool(s, pool, key, &p);
	if (r < 0)
		return r;
	pool_refresh_or_keep(s, p);

	klen = strlen(key);
	hash = key_hash(key, klen);
	if (version_find_last(p->live, p->live->n, key, klen, hash) < 0)
		return -ENOENT;
	if (pool_lock_in_place(s, p)) {
		(void)version_remove(p->live, key, klen, hash, -1);
		pool_unlock_in_place(s, p, true);
		return 0;
	}
	r = version_clone(s, p->live, &c);
	if (r < 0)
		return r;
	(void)version_remove(c, key, klen, hash, -1);
	pool_commit_copy(s, p, TAKE_PTR(c));
	return 0;
}

int kvp_store_enumerate(KvpStore *s, KvpPoolId pool, uint32_t index, const char **ret_key,
			const char **ret_value)
{
	Pool *p = store_pool(s, pool);
	const Version *v;

	if (!p)
		return -EINVAL;
	if (index == 0) {
		/* A fresh snapshot: a reference, the next change copies (see the top). */
		p->snap = version_unref(s, p->snap);
		pool_refresh_or_keep(s, p);
		p->snap = version_ref(s, p->live);
	}
	/* Without position 0 first (a host resuming after our restart): the live records. */
	v = p->snap ? p->snap : p->live;
	if (index >= v->n) {
		/* The host stops at the first error: this enumeration is over. */
		p->snap = version_unref(s, p->snap);
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
	Version *v;
	int r;

	assert_se(pthread_mutex_lock(&w->s->mutex) == 0);
	v = w->p->live;
	v->refs++;
	w->generation = w->p->generation;
	assert_se(pthread_mutex_unlock(&w->s->mutex) == 0);

	r = version_write(fd, v);
	version_unref_recycle(w->s, v);
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
	Version *spare = NULL;
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
			spare = TAKE_PTR(s->spare);
	}
	assert_se(pthread_mutex_unlock(&s->mutex) == 0);
	version_free(spare);
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
