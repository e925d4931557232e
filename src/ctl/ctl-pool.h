/* SPDX-License-Identifier: MIT */
/*
 * hvctl's access to the KVP pool files (/var/lib/hyperv/.kvp_pool_N, hyperv-abi.md §5):
 * locked reads of any pool, and writes to the guest pool (pool 1) that are safe next to the
 * other programs appending to it. Non-logging; negative errno; every wait is bounded.
 *
 * Locking contract: a read holds flock(LOCK_SH) and an OFD read lock, a write flock(LOCK_EX)
 * and an OFD write lock, both on the whole file, because Linux does not make flock and
 * fcntl locks exclude each other and the other writers use one kind or the other
 * (cloud-init: flock; upstream daemon and Microsoft's sample: fcntl; hv_kvp_daemon: both).
 * Waiting for them is bounded by retrying the non-blocking forms.
 *
 * Writes to pool 1, all under both exclusive locks:
 *  - a new key is appended as one 2560-byte zero-padded record with ONE write() on an
 *    O_APPEND descriptor, as cloud-init does, so even an appender that takes no lock at all
 *    (azure-init) cannot interleave with it;
 *  - an existing key is overwritten in place with pwrite() at its record's offset; later
 *    duplicates of it are deleted (see below), so exactly one record remains;
 *  - a deleted key's record is zeroed in place (a "hole"). The file never shrinks, moves a
 *    record or gets truncated: an unlocked appender or reader can therefore never lose or
 *    see a torn record of someone else, and a crash leaves every other record intact.
 *    A zero record has an empty key, which every reader using kvp_records_parse()
 *    (hv_kvp_daemon, hvctl) skips; holes disappear at the next once-per-boot truncation by
 *    cloud-init/azure-init.
 * Nothing is written when validation fails or nothing would change, so the file's mtime
 * (which drives cloud-init's once-per-boot truncation) only moves on a real change.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvp/kvp-store.h"

/* Default bound on waiting for another program's lock. */
#define CTL_POOL_LOCK_TIMEOUT_USEC (5u * 1000000u)

/* What a key or value measures: bytes of UTF-8 (without NUL), and UTF-16 units. */
typedef struct CtlFieldSize {
	size_t bytes;
	size_t units;
} CtlFieldSize;

/*
 * Checks a key against what survives the trip to the host: non-empty, valid UTF-8, at most
 * KVP_HOST_KEY_UNITS (254) UTF-16 units and at most KVP_KEY_SIZE - 1 (511) bytes.
 * -EINVAL empty, -EILSEQ not UTF-8, -ENAMETOOLONG too long. *info (may be NULL) is filled
 * in every case, for error messages.
 */
int ctl_pool_check_key(const char *key, CtlFieldSize *info);

/*
 * Same for a value: valid UTF-8, at most KVP_HOST_VALUE_UNITS (1022) UTF-16 units and
 * KVP_VALUE_SIZE - 1 (2047) bytes. -EILSEQ, -E2BIG.
 */
int ctl_pool_check_value(const char *value, CtlFieldSize *info);

/* ".kvp_pool_N" for a valid pool, NULL otherwise. */
const char *ctl_pool_file_name(KvpPoolId pool);

/*
 * Takes flock() and an OFD lock on the whole of fd, shared or exclusive, retrying the
 * non-blocking forms for at most timeout_usec (0: one attempt). -ETIMEDOUT if another
 * program keeps its lock. On failure the caller closes fd, which drops whatever was taken;
 * closing fd is also how the locks are released.
 */
int ctl_pool_lock(int fd, bool exclusive, uint64_t timeout_usec);

/* A pool as readers see it. */
typedef struct CtlPoolView {
	KvpRecord *records; /* sanitised, file order, duplicates kept; NULL when n == 0 */
	size_t n;
	KvpParseStats stats; /* n_skipped does not count holes */
	size_t n_holes;	     /* all-zero records: keys deleted in place */
	bool exists;	     /* false: no pool file (an empty pool) */
} CtlPoolView;

/*
 * Reads pool's file below dir_fd under both shared locks and parses it with
 * kvp_records_parse() (at most KVP_POOL_MAX_RECORDS records; stats.n_dropped counts the
 * rest). A missing file is an empty pool (exists = false). -EINVAL for a pool out of range,
 * -ETIMEDOUT, -EBADFD if the name is not a regular file, I/O errors. Free with
 * ctl_pool_view_done().
 */
int ctl_pool_read(int dir_fd, KvpPoolId pool, uint64_t timeout_usec, CtlPoolView *ret);
void ctl_pool_view_done(CtlPoolView *v);

/* The value of key in v (exact match; with duplicates the last record wins, as in the
 * daemon), or NULL. */
const char *ctl_pool_view_get(const CtlPoolView *v, const char *key);

typedef enum CtlSetResult {
	CTL_SET_ADDED,	   /* appended */
	CTL_SET_REPLACED,  /* overwritten in place (and duplicates removed) */
	CTL_SET_UNCHANGED, /* already had this value: nothing written */
	_CTL_SET_RESULT_MAX,
	_CTL_SET_RESULT_INVALID = -EINVAL,
} CtlSetResult;

/*
 * Sets key to value in pool (see the top of this file), creating the pool file (mode 0644)
 * if it is missing. Checks first, writing nothing on failure: -ERANGE pool out of range,
 * -EROFS any pool but KVP_POOL_GUEST, then ctl_pool_check_key()/ctl_pool_check_value()
 * errors. Then: -ETIMEDOUT lock not obtained, -ENOSPC the file already holds
 * KVP_POOL_MAX_RECORDS records, -EBADMSG the file ends in a partial record that did not
 * complete within the wait (appending would misalign every later record), -EBADFD not a
 * regular file, -EIO short write, other I/O errors. ret_result may be NULL.
 */
int ctl_pool_set(int dir_fd, KvpPoolId pool, const char *key, const char *value,
		 uint64_t timeout_usec, CtlSetResult *ret_result);

/*
 * Deletes every record of key in pool by zeroing it in place. -ERANGE, -EROFS as for set;
 * -ENOENT if the key (or the file) does not exist, with nothing written; -ETIMEDOUT, I/O
 * errors. *ret_removed (may be NULL) is the number of records zeroed.
 */
int ctl_pool_delete(int dir_fd, KvpPoolId pool, const char *key, uint64_t timeout_usec,
		    size_t *ret_removed);

/* What hvctl kvp watch reports for one key. */
typedef enum CtlChange {
	CTL_CHANGE_ADDED,   /* "+ key = value", "added" */
	CTL_CHANGE_CHANGED, /* "~ key = value", "changed" */
	CTL_CHANGE_REMOVED, /* "- key", "removed" */
	_CTL_CHANGE_MAX,
	_CTL_CHANGE_INVALID = -EINVAL,
} CtlChange;

/* "added", "changed", "removed"; NULL out of range. */
const char *ctl_change_to_string(CtlChange c);

/* value is NULL for CTL_CHANGE_REMOVED. A negative return stops the diff with it. */
typedef int (*ctl_change_handler_t)(CtlChange c, const char *key, const char *value,
				    void *userdata);

/*
 * Pure: compares two views of a pool key by key (last duplicate wins, as for get) and calls
 * cb for every key added, whose value changed, or removed, in byte order of the keys.
 * Returns the number of changes, -ENOMEM, or cb's error.
 */
int ctl_pool_diff(const KvpRecord *old, size_t n_old, const KvpRecord *new, size_t n_new,
		  ctl_change_handler_t cb, void *userdata);
