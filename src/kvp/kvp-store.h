/* SPDX-License-Identifier: MIT */
/*
 * The KVP pool store: the five pool files /var/lib/hyperv/.kvp_pool_0..4 and their
 * in-memory copies.
 *
 * File format and the record parser: kvp-record.h (included here for the store's users).
 *
 * Ownership:
 *  - pools 0 (EXTERNAL) and 3 (AUTO_EXTERNAL) are written by the host through us: we are
 *    the only writer and replace them atomically (temp file + fsync + rename);
 *  - pool 1 (GUEST) is appended by other programs: we only ever read it, never truncate,
 *    rename or touch its mtime (cloud-init truncates it once per boot by mtime);
 *  - pool 2 (AUTO) is computed (kvp-auto), its file is only created;
 *  - pool 4 (AUTO_INTERNAL) is reserved: created, read, never written by us.
 * Every read takes flock(LOCK_SH) and an OFD read lock; every write flock(LOCK_EX) and an
 * OFD write lock, because flock and fcntl locks do not exclude each other on Linux and the
 * other writers use one or the other. Lock waits are bounded.
 *
 * Threading: host operations run on the manager thread and touch only memory plus a stat()
 * per request (a reload only when the file changed). kvp_store_flush() does the writing and
 * is meant for a background thread, because /var may be frozen by a live backup and a write
 * would block there; it is safe to run concurrently with the host operations.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"
#include "kvp/kvp-msg.h"
#include "kvp/kvp-record.h"

typedef struct KvpStore KvpStore;

/*
 * mode: pool file mode, 0644 by default (validation suites check it); 0 means 0644.
 * host_pool_mode: mode of pools 0 and 3, 0600 with [kvp] private_host_pools; 0 means mode.
 * Modes are exact: set with fchmod() whatever the umask or a file's previous mode.
 */
typedef struct KvpStoreOptions {
	int dir_fd; /* the state directory; dup'ed, the caller keeps its own */
	mode_t mode;
	mode_t host_pool_mode;
	uint64_t lock_timeout_usec; /* longest wait for another program's lock; 0 = one attempt */
} KvpStoreOptions;

/*
 * Creates missing pool files (O_CREAT without O_TRUNC, so an existing pool 1 keeps its
 * mtime), fixes their modes, and loads every pool. Bad records in a file another program
 * wrote are capped or skipped with one warning per file, never fatal; holes (records hvctl
 * deleted) are skipped silently. A pool whose file is locked for longer than
 * lock_timeout_usec starts empty and loads at its next request.
 * Fails only if a pool file cannot be created or opened, or on -ENOMEM.
 */
int kvp_store_open(const KvpStoreOptions *o, KvpStore **ret);
KvpStore *kvp_store_free(KvpStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpStore *, kvp_store_free);

/*
 * Looks key up (exact, case-sensitive); with duplicates the last record wins. The returned
 * pointer stays valid until the next call on the store from this thread. -ENOENT if absent,
 * -EINVAL for a pool out of range.
 *
 * Every request (get, set, delete, enumerate position 0, count) first stat()s the pool file
 * and reloads it if it changed; if another program holds its lock beyond lock_timeout_usec,
 * the copy in memory is served.
 */
int kvp_store_get(KvpStore *s, KvpPoolId pool, const char *key, const char **ret_value);

/*
 * Inserts or replaces key in memory and marks the pool dirty. Only pools 0 and 3 accept
 * writes (-EROFS otherwise). -E2BIG if key >= 512 or value >= 2048 bytes, -EINVAL for an
 * empty key, -EILSEQ if either is not UTF-8, -ENOSPC at KVP_POOL_MAX_RECORDS records.
 * An existing key keeps its position (the host's order); duplicates of it are removed.
 * Setting the value a key already has changes nothing and leaves the pool clean.
 */
int kvp_store_set(KvpStore *s, KvpPoolId pool, const char *key, const char *value);

/* Removes key (every duplicate) from pool 0 or 3 in memory. -ENOENT, -EROFS. */
int kvp_store_delete(KvpStore *s, KvpPoolId pool, const char *key);

/*
 * Position index of the pool's records in file order. index 0 takes a fresh consistent
 * snapshot (reloading the file if it changed); later positions are served from it, so a
 * host enumeration costs O(n) in total. -ENOENT past the end.
 */
int kvp_store_enumerate(KvpStore *s, KvpPoolId pool, uint32_t index, const char **ret_key,
			const char **ret_value);

/* Number of records currently known for pool (after any reload). */
size_t kvp_store_count(KvpStore *s, KvpPoolId pool);

/* True if a pool has changes not yet on disk. Thread-safe. */
bool kvp_store_dirty(KvpStore *s);

/*
 * Writes every dirty pool. Blocks on I/O (run it off the manager thread). Returns 0, or the
 * first error; failed pools stay dirty for a later retry. Thread-safe.
 */
int kvp_store_flush(KvpStore *s);
