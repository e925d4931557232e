/* SPDX-License-Identifier: MIT */
/*
 * Pool file records: bounding, sanitising and parsing 2560-byte records. Pure: no I/O.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvp/kvp-block.h"
#include "kvp/kvp-record.h"

_Static_assert(sizeof(KvpRecord) == KVP_RECORD_SIZE, "in-memory record must match the file");

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

/* All 2560 bytes zero: each byte equals the first, which is zero. */
static bool record_is_hole(const KvpRecord *r)
{
	const uint8_t *b = (const uint8_t *)r;

	return b[0] == 0 && memcmp(b, b + 1, sizeof(*r) - 1) == 0;
}

/* Zeroes everything after the strings, so no junk is ever served or written back. */
static void record_zero_tails(KvpRecord *r, size_t klen, size_t vlen)
{
	memset(r->key + klen, 0, sizeof(r->key) - klen);
	memset(r->value + vlen, 0, sizeof(r->value) - vlen);
}

int kvp_record_sanitize(KvpRecord *r)
{
	size_t klen, vlen;
	int r_bound;

	r_bound = record_bound(r, &klen, &vlen);
	record_zero_tails(r, klen, vlen);
	return r_bound;
}

bool kvp_record_check(const KvpRecord *r, size_t *ret_klen, size_t *ret_vlen, KvpParseStats *stats)
{
	int k = record_bound(r, ret_klen, ret_vlen);

	/* Only an empty key can be a hole: the full comparison is for those records only. */
	if (k == -EBADMSG && record_is_hole(r)) {
		stats->n_holes++;
		return false;
	}
	if (k < 0) {
		stats->n_skipped++;
		return false;
	}
	if (k > 0)
		stats->n_capped++;
	return true;
}

/* Sanitises v[0..n) in place, dropping skipped records and keeping order. Returns the new n. */
static size_t records_sanitize_all(KvpRecord *v, size_t n, KvpParseStats *stats)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		size_t klen, vlen;

		if (!kvp_record_check(&v[i], &klen, &vlen, stats))
			continue;
		record_zero_tails(&v[i], klen, vlen);
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
		kvp_prefault(v, n * KVP_RECORD_SIZE);
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
