/* SPDX-License-Identifier: MIT */
/*
 * KVP pool file records: the pure parser and sanitiser of pool file images, shared by the
 * daemon's store (kvp-store.c), hvctl (src/ctl) and the fuzzer. No I/O, no logging.
 *
 * File format (compatible with upstream, cloud-init, azure-init, WALinuxAgent): a flat array
 * of 2560-byte records, key[512] then value[2048], NUL-terminated UTF-8, zero padded. Only
 * whole records count; a trailing partial record (a lock-free appender mid-write) is ignored.
 * An all-zero record is a "hole": hvctl deletes a pool 1 key by zeroing its record in place
 * (the file never shrinks while appenders may be writing). Holes are skipped like records
 * with an empty key, but counted apart: they are not damage.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kvp/kvp-msg.h"

#define KVP_RECORD_SIZE (KVP_KEY_SIZE + KVP_VALUE_SIZE) /* 2560 */
/* Records read from one pool file at most (80 MiB); later ones are ignored with a warning. */
#define KVP_POOL_MAX_RECORDS 32768u

/* One record, laid out exactly as in the file. In memory both fields are zero padded. */
typedef struct KvpRecord {
	char key[KVP_KEY_SIZE];
	char value[KVP_VALUE_SIZE];
} KvpRecord;

/* What parsing a pool file image had to repair or drop. */
typedef struct KvpParseStats {
	size_t n_capped;       /* key or value without NUL, cut at a character boundary */
	size_t n_skipped;      /* empty key, or key/value not valid UTF-8; holes not included */
	size_t n_dropped;      /* whole records beyond KVP_POOL_MAX_RECORDS (file loads only) */
	size_t trailing_bytes; /* partial record at the end (an appender mid-write), ignored */
	size_t n_holes;	       /* all-zero records (keys deleted in place), skipped: no damage */
} KvpParseStats;

/*
 * Sanitises one raw record in place: a field without NUL is cut to 511 / 2047 bytes and
 * then back to a UTF-8 character boundary; everything after the NUL is zeroed. Returns 0 if
 * the record was intact, 1 if a field was cut, -EILSEQ if key or value is not valid UTF-8
 * and -EBADMSG if the key is empty, holes included (the caller skips those records).
 */
int kvp_record_sanitize(KvpRecord *r);

/*
 * kvp_record_sanitize() without the writing, for readers that copy records elsewhere:
 * counts r in *stats (n_capped, n_skipped or n_holes) and returns true if it is kept, with
 * *ret_klen and *ret_vlen the lengths its key and value keep (no NUL counted); false if it
 * is skipped (the lengths are then meaningless).
 */
bool kvp_record_check(const KvpRecord *r, size_t *ret_klen, size_t *ret_vlen, KvpParseStats *stats);

/*
 * Pure parser of a pool file image: data[0..size) as whole 2560-byte records, each
 * sanitised with kvp_record_sanitize(); skipped records (holes included) are left out, file
 * order is kept. *ret is malloc'ed (NULL when no record survives). ret_stats may be NULL.
 * -ENOMEM only.
 */
int kvp_records_parse(const void *data, size_t size, KvpRecord **ret, size_t *ret_n,
		      KvpParseStats *ret_stats);
