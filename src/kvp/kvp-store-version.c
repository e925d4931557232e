/* SPDX-License-Identifier: MIT */
/*
 * Compact copy-on-write versions of a pool's records: arenas, entries, lookups, changes in
 * place or on a compacted copy, reference counts with a spare, and streaming reads and
 * writes in the file format. See kvp-store-version.h for the memory model.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "common/fileio.h"
#include "kvp/kvp-block.h"
#include "kvp/kvp-store-version.h"

/*
 * Arena offsets are 32-bit: a full pool of maximal records is 80 MiB of strings, and
 * compaction keeps garbage below a third of that (plus a record).
 */
_Static_assert(UINT64_C(2) * KVP_POOL_MAX_RECORDS * KVP_RECORD_SIZE < UINT32_MAX,
	       "arena offsets must fit 32 bits");

/* Records per read() when loading and per writev() when flushing: 160 KiB of file per call. */
#define IO_CHUNK_RECORDS 64u
/* An arena is compacted once at least this much and a quarter of it is unreferenced. */
#define ARENA_GARBAGE_MIN 4096u

uint32_t kvp_key_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h;
}

KvpVersion *kvp_version_free(KvpVersion *v)
{
	if (!v)
		return NULL;
	kvp_block_free(v->e, v->n_cap * sizeof(KvpEntry));
	kvp_block_free(v->arena, v->cap);
	free(v);
	return NULL;
}

KvpVersion *kvp_version_new(void)
{
	KvpVersion *v = calloc(1, sizeof(*v));

	if (v)
		v->refs = 1;
	return v;
}

/* Room for want entries; grows by half, so n appends cost O(n). */
static int entries_reserve(KvpVersion *v, size_t want, bool populate)
{
	size_t cap;
	KvpEntry *e;

	if (want <= v->n_cap)
		return 0;
	cap = MAX(want, MAX(v->n_cap + v->n_cap / 2, (size_t)16));
	cap = kvp_block_size(cap * sizeof(KvpEntry)) / sizeof(KvpEntry);
	e = kvp_block_resize(v->e, v->n_cap * sizeof(KvpEntry), cap * sizeof(KvpEntry));
	if (!e)
		return -ENOMEM;
	if (populate)
		kvp_prefault(e + v->n_cap, (cap - v->n_cap) * sizeof(KvpEntry));
	v->e = e;
	v->n_cap = cap;
	return 0;
}

/*
 * Room for extra more arena bytes. Loads double (populate: their pages are mapped in one
 * call, the excess is returned by version_shrink()); later growth is by a quarter, so
 * an idle pool carries little unused space.
 */
static int arena_reserve(KvpVersion *v, size_t extra, bool populate)
{
	size_t cap;
	char *a;

	if (v->used + extra <= v->cap)
		return 0;
	cap = MAX(v->used + extra, MAX(populate ? v->cap * 2 : v->cap + v->cap / 4, (size_t)1024));
	cap = kvp_block_size(cap);
	a = kvp_block_resize(v->arena, v->cap, cap);
	if (!a)
		return -ENOMEM;
	if (populate)
		kvp_prefault(a + v->cap, cap - v->cap);
	v->arena = a;
	v->cap = cap;
	return 0;
}

/* Copies s[0..len) and a NUL into reserved arena space; returns its offset. */
static uint32_t arena_push(KvpVersion *v, const char *s, size_t len)
{
	uint32_t off = (uint32_t)v->used;

	memcpy(v->arena + off, s, len);
	v->arena[off + len] = '\0';
	v->used += len + 1;
	return off;
}

/* Appends a record; space must be reserved (one entry, klen + vlen + 2 bytes). */
static void version_push(KvpVersion *v, const char *key, size_t klen, uint32_t hash,
			 const char *value, size_t vlen)
{
	KvpEntry *e = &v->e[v->n++];

	e->key = arena_push(v, key, klen);
	e->value = arena_push(v, value, vlen);
	e->hash = hash;
	e->key_len = (uint16_t)klen;
	e->value_len = (uint16_t)vlen;
}

static int version_append(KvpVersion *v, const char *key, size_t klen, uint32_t hash,
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
static void version_shrink(KvpVersion *v)
{
	size_t n_cap = kvp_block_size(v->n * sizeof(KvpEntry)) / sizeof(KvpEntry);
	size_t cap = kvp_block_size(v->used);

	if (v->n == 0) {
		kvp_block_free(v->e, v->n_cap * sizeof(KvpEntry));
		v->e = NULL;
		v->n_cap = 0;
	} else if (n_cap < v->n_cap) {
		KvpEntry *e = kvp_block_resize(v->e, v->n_cap * sizeof(KvpEntry),
					       n_cap * sizeof(KvpEntry));

		if (e) {
			v->e = e;
			v->n_cap = n_cap;
		}
	}
	if (v->used == 0) {
		kvp_block_free(v->arena, v->cap);
		v->arena = NULL;
		v->cap = 0;
	} else if (cap < v->cap) {
		char *a = kvp_block_resize(v->arena, v->cap, cap);

		if (a) {
			v->arena = a;
			v->cap = cap;
		}
	}
}

/*
 * Reads records from fd to EOF or to KVP_POOL_MAX_RECORDS, buf_records at a time into buf,
 * and appends the sound ones to v, sanitised as kvp_records_parse() would.
 */
static int version_read(KvpVersion *v, int fd, KvpRecord *buf, size_t buf_records,
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

			if (!kvp_record_check(&buf[j], &klen, &vlen, stats))
				continue;
			r = version_append(v, buf[j].key, klen, kvp_key_hash(buf[j].key, klen),
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

int kvp_version_load(int fd, size_t expect, KvpVersion **ret, KvpParseStats *stats)
{
	_cleanup_(kvp_version_freep) KvpVersion *v = NULL;
	size_t chunk, buf_cap;
	KvpRecord *buf;
	int r;

	v = kvp_version_new();
	if (!v)
		return -ENOMEM;
	/*
	 * Strings guessed at a tenth of the file (cloud-init's records use ~300 of their 2,560
	 * bytes); the arena doubles if that was short, and version_shrink() returns the rest.
	 */
	r = entries_reserve(v, expect, true);
	if (r >= 0)
		r = arena_reserve(v, expect * (KVP_RECORD_SIZE / 10), true);
	if (r < 0)
		return r;
	/* One record more than the file had: usually the first short read is EOF. */
	chunk = MIN((size_t)IO_CHUNK_RECORDS, expect + 1);
	buf_cap = kvp_block_size(chunk * KVP_RECORD_SIZE);
	buf = kvp_block_resize(NULL, 0, buf_cap);
	if (!buf)
		return -ENOMEM;
	r = version_read(v, fd, buf, chunk, stats);
	kvp_block_free(buf, buf_cap);
	if (r < 0)
		return r;
	version_shrink(v);
	*ret = TAKE_PTR(v);
	return 0;
}

int kvp_version_write(int fd, const KvpVersion *v)
{
	static const char zeros[KVP_VALUE_SIZE];
	struct iovec iov[IO_CHUNK_RECORDS * 4];

	for (size_t i = 0; i < v->n;) {
		size_t k = 0;
		int r;

		for (; i < v->n && k < ELEMENTSOF(iov); i++) {
			const KvpEntry *e = &v->e[i];

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

static bool entry_is(const KvpVersion *v, const KvpEntry *e, const char *key, size_t klen,
		     uint32_t hash)
{
	return e->hash == hash && e->key_len == klen && memcmp(v->arena + e->key, key, klen) == 0;
}

ssize_t kvp_version_find_last(const KvpVersion *v, size_t n, const char *key, size_t klen,
			      uint32_t hash)
{
	for (size_t i = n; i-- > 0;)
		if (entry_is(v, &v->e[i], key, klen, hash))
			return (ssize_t)i;
	return -1;
}

size_t kvp_version_remove(KvpVersion *v, const char *key, size_t klen, uint32_t hash, ssize_t keep)
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

int kvp_version_set(KvpVersion *v, ssize_t i, const char *key, size_t klen, uint32_t hash,
		    const char *value, size_t vlen, size_t *ret_dups)
{
	KvpEntry *e;
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
	*ret_dups = kvp_version_remove(v, key, klen, hash, i);
	return 0;
}

bool kvp_version_wasteful(const KvpVersion *v)
{
	return v->garbage >= ARENA_GARBAGE_MIN && v->garbage * 4 > v->used;
}

int kvp_version_clone(KvpVersionRefs *vr, const KvpVersion *v, KvpVersion **ret)
{
	_cleanup_(kvp_version_freep) KvpVersion *c = NULL;
	size_t live = v->used - v->garbage, want = live + live / 16 + KVP_RECORD_SIZE;
	int r;

	/* Not a much bigger one: a small pool would keep all of it. */
	assert_se(pthread_mutex_lock(vr->mutex) == 0);
	if (vr->spare && vr->spare->cap / 2 <= want && vr->spare->n_cap / 2 <= v->n + 1)
		c = TAKE_PTR(vr->spare);
	assert_se(pthread_mutex_unlock(vr->mutex) == 0);
	if (!c) {
		c = kvp_version_new();
		if (!c)
			return -ENOMEM;
	}
	r = entries_reserve(c, v->n + 1, false);
	if (r >= 0)
		r = arena_reserve(c, want, false);
	if (r < 0)
		return r;
	/* One call maps the pages the copy writes, if they are fresh. */
	kvp_prefault(c->arena, live);
	for (size_t i = 0; i < v->n; i++) {
		const KvpEntry *e = &v->e[i];

		version_push(c, v->arena + e->key, e->key_len, e->hash, v->arena + e->value,
			     e->value_len);
	}
	*ret = TAKE_PTR(c);
	return 0;
}

KvpVersion *kvp_version_ref(KvpVersionRefs *vr, KvpVersion *v)
{
	assert_se(pthread_mutex_lock(vr->mutex) == 0);
	v->refs++;
	assert_se(pthread_mutex_unlock(vr->mutex) == 0);
	return v;
}

void kvp_version_unref_recycle(KvpVersionRefs *vr, KvpVersion *v)
{
	KvpVersion *drop = NULL;

	assert_se(pthread_mutex_lock(vr->mutex) == 0);
	if (--v->refs == 0) {
		*v = (KvpVersion){
			.refs = 1, .e = v->e, .n_cap = v->n_cap, .arena = v->arena, .cap = v->cap
		};
		drop = vr->spare;
		vr->spare = v;
	}
	assert_se(pthread_mutex_unlock(vr->mutex) == 0);
	kvp_version_free(drop);
}

KvpVersion *kvp_version_unref(KvpVersionRefs *vr, KvpVersion *v)
{
	bool last;

	if (!v)
		return NULL;
	assert_se(pthread_mutex_lock(vr->mutex) == 0);
	last = --v->refs == 0;
	assert_se(pthread_mutex_unlock(vr->mutex) == 0);
	if (last)
		kvp_version_free(v);
	return NULL;
}
