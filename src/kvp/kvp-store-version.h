/* SPDX-License-Identifier: MIT */
/*
 * Compact copy-on-write versions of a pool's records (internal to the KVP store).
 *
 * A version is a compact copy of a pool's records: the strings, NUL-terminated, packed in
 * one growable arena, plus an array of (offset, length, hash) entries in file order; about
 * 16 bytes per record on top of the strings themselves, against 2,560 in the file. Versions
 * are reference counted under the store's mutex. A version is changed in place only while
 * nothing else refers to it; an enumeration snapshot and a flush in progress take a
 * reference instead of a copy, which makes the version immutable: the next change then works
 * on a compacted copy (kvp_version_clone()), which the store installs by a pointer swap.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"
#include "kvp/kvp-record.h"

/* One record of a version; both strings are NUL-terminated in the version's arena. */
typedef struct KvpEntry {
	uint32_t key;	    /* arena offset of the key */
	uint32_t value;	    /* arena offset of the value */
	uint32_t hash;	    /* of the key: a lookup compares strings only on a likely match */
	uint16_t key_len;   /* bytes without the NUL, < KVP_KEY_SIZE */
	uint16_t value_len; /* bytes without the NUL, < KVP_VALUE_SIZE */
} KvpEntry;

/*
 * One state of a pool's records, in file order. refs counts the pool's live pointer, an
 * enumeration snapshot and flushes in progress; it changes only under the store's mutex,
 * and a version with refs > 1 is immutable.
 */
typedef struct KvpVersion {
	unsigned refs;
	KvpEntry *e;
	size_t n, n_cap; /* entries used / allocated */
	char *arena;
	size_t used, cap; /* arena bytes used / allocated */
	size_t garbage;	  /* arena bytes no entry refers to (replaced values, removed records) */
} KvpVersion;

/*
 * What the versions of one store share: the mutex their reference counts change under (the
 * store's own, which guards the pools' state too), and the spare: the last version a flush
 * released while its pool was being changed, emptied and kept for the next copy-on-write.
 * Its pages are mapped already, fresh ones cost the manager thread a fault each (~100 us per
 * 80 KiB in some VMs). The store frees it once a flush finds its pool quiet, so an idle store
 * holds one copy of each pool only.
 */
typedef struct KvpVersionRefs {
	pthread_mutex_t *mutex;
	KvpVersion *spare; /* NULL or refs == 1, empty; under *mutex */
} KvpVersionRefs;

/* FNV-1a of key[0..len), 32 bits: cheap, and good enough to make false matches rare. */
uint32_t kvp_key_hash(const char *key, size_t len);

/* An empty version with refs = 1, or NULL (out of memory). */
KvpVersion *kvp_version_new(void);
/* Frees v whatever its refs (for versions nothing else refers to). NULL is fine. */
KvpVersion *kvp_version_free(KvpVersion *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpVersion *, kvp_version_free);

/*
 * Reads records from fd to EOF or to KVP_POOL_MAX_RECORDS, 64 (160 KiB) per read() (the
 * file image never exists in memory as a whole), into a new version, keeping the sound ones
 * sanitised as kvp_records_parse() would and counting the rest in *stats. expect is the
 * number of records the file had when stat()ed: it sizes the allocations only.
 * -ENOMEM, or a read() error.
 */
int kvp_version_load(int fd, size_t expect, KvpVersion **ret, KvpParseStats *stats);

/*
 * Writes v in the file format: per record, key, zeros to 512 bytes, value, zeros to 2048
 * bytes, gathered straight from the arena. Nothing pool-sized is ever built in memory.
 */
int kvp_version_write(int fd, const KvpVersion *v);

/* Index of the last record with key (klen bytes, hash kvp_key_hash()) among the first n, or -1. */
ssize_t kvp_version_find_last(const KvpVersion *v, size_t n, const char *key, size_t klen,
			      uint32_t hash);

/* Removes every record with key except e[keep] (keep = -1: all). Returns how many went. */
size_t kvp_version_remove(KvpVersion *v, const char *key, size_t klen, uint32_t hash, ssize_t keep);

/*
 * Gives record i (-1: a new one at the end) the value and removes the key's duplicates
 * (*ret_dups: how many). Record i keeps its position, so the host's order is kept.
 * All or nothing: on -ENOMEM v is unchanged.
 */
int kvp_version_set(KvpVersion *v, ssize_t i, const char *key, size_t klen, uint32_t hash,
		    const char *value, size_t vlen, size_t *ret_dups);

/* Worth copying into a compact arena rather than growing it further. */
bool kvp_version_wasteful(const KvpVersion *v);

/*
 * A private copy of v with only the strings its entries refer to, plus a little room for
 * the change it is made for, in the spare version if there is one that fits. Only reads v,
 * so v may be shared meanwhile. Takes vr->mutex briefly. -ENOMEM.
 */
int kvp_version_clone(KvpVersionRefs *vr, const KvpVersion *v, KvpVersion **ret);

/* Takes a reference (under vr->mutex) and returns v. */
KvpVersion *kvp_version_ref(KvpVersionRefs *vr, KvpVersion *v);

/* Drops a reference; the last one frees the version (outside the mutex). NULL is fine. */
KvpVersion *kvp_version_unref(KvpVersionRefs *vr, KvpVersion *v);

/*
 * Drops a flush's reference. If it was the last one (the pool was changed meanwhile), the
 * version becomes the spare for the next copy-on-write, replacing an older spare.
 */
void kvp_version_unref_recycle(KvpVersionRefs *vr, KvpVersion *v);
