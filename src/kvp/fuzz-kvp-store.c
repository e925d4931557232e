/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the pool file parser: arbitrary bytes as a pool file image. Whatever
 * another program left in /var/lib/hyperv, the parser must not crash, and every record it
 * returns must be safe to serve and to write back: NUL-terminated within its field, zero
 * padded, non-empty key, valid UTF-8, a prefix of what the file held, in file order. A
 * parsed pool written back parses to itself with nothing to repair.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvp/kvp-store.h"

/* Not assert(): the checks must hold in release builds too. */
#define CHECK(expr)                       \
	do {                              \
		if (!(expr))              \
			__builtin_trap(); \
	} while (0)

/* A field in memory: a non-truncated UTF-8 string, then only zero bytes. */
static size_t check_field(const char *f, size_t size)
{
	const char *nul = memchr(f, 0, size);
	size_t len;

	CHECK(nul);
	len = (size_t)(nul - f);
	for (size_t i = len; i < size; i++)
		CHECK(f[i] == 0);
	CHECK(utf8_is_valid(f, len));
	return len;
}

/* parsed came from raw: the same string, or a cut one when the raw field had no NUL. */
static void check_origin(const char *parsed, size_t len, const char *raw, size_t size)
{
	size_t raw_len = strnlen(raw, size);

	CHECK(len <= raw_len);
	CHECK(memcmp(parsed, raw, len) == 0);
	if (raw_len < size)
		CHECK(len == raw_len);
	else
		CHECK(len >= size - 4); /* cut to 511 / 2047 bytes, minus a split character */
}

/* A hole (a record hvctl deleted) is exactly an all-zero record. */
static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	KvpRecord *v = NULL, *again = NULL;
	KvpParseStats st, st2;
	size_t n, n2, j = 0, holes = 0;

	if (kvp_records_parse(data, size, &v, &n, &st) < 0)
		return 0; /* -ENOMEM */

	CHECK(st.trailing_bytes == size % KVP_RECORD_SIZE);
	CHECK(n + st.n_skipped + st.n_holes == size / KVP_RECORD_SIZE);
	CHECK(st.n_capped <= n);
	CHECK(st.n_dropped == 0);
	CHECK((n == 0) == (v == NULL));

	/* Walk the raw records: each survivor matches the next parsed one, in order. */
	for (size_t i = 0; i < size / KVP_RECORD_SIZE; i++) {
		KvpRecord raw;
		size_t klen, vlen;

		memcpy(&raw, data + i * KVP_RECORD_SIZE, sizeof(raw));
		if (all_zero(data + i * KVP_RECORD_SIZE, KVP_RECORD_SIZE))
			holes++;
		if (kvp_record_sanitize(&raw) < 0)
			continue;
		CHECK(j < n);
		CHECK(memcmp(&raw, &v[j], sizeof(raw)) == 0);
		klen = check_field(v[j].key, KVP_KEY_SIZE);
		vlen = check_field(v[j].value, KVP_VALUE_SIZE);
		CHECK(klen > 0);
		check_origin(v[j].key, klen, (const char *)data + i * KVP_RECORD_SIZE,
			     KVP_KEY_SIZE);
		check_origin(v[j].value, vlen,
			     (const char *)data + i * KVP_RECORD_SIZE + KVP_KEY_SIZE,
			     KVP_VALUE_SIZE);
		j++;
	}
	CHECK(j == n);
	CHECK(holes == st.n_holes);

	/* What we would write back is a fixed point of the parser. */
	CHECK(kvp_records_parse(v, n * KVP_RECORD_SIZE, &again, &n2, &st2) == 0);
	CHECK(n2 == n);
	CHECK(st2.n_capped == 0 && st2.n_skipped == 0 && st2.n_holes == 0 &&
	      st2.trailing_bytes == 0);
	CHECK(n == 0 || memcmp(again, v, n * KVP_RECORD_SIZE) == 0);

	free(again);
	free(v);
	return 0;
}
