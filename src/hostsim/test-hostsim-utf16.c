/* SPDX-License-Identifier: MIT */
/*
 * Tests of the kernel-faithful and host-side UTF-8 <-> UTF-16LE conversions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "hostsim/hostsim-utf16.h"

/* What the kernel allows towards the host for ENUMERATE keys / values. */
#define KEY_UNITS 254
#define VALUE_UNITS 1022

static void fill(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

/* buf must have room; tests size their buffers generously. */
static void append(char *buf, const char *tail)
{
	size_t n = strlen(buf);

	memcpy(buf + n, tail, strlen(tail) + 1);
}

static void test_decode_strict(void **state)
{
	uint32_t u;

	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"A", 1, &u), 1);
	assert_int_equal(u, 'A');
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xc3\xa9", 2, &u), 2);
	assert_int_equal(u, 0xe9);
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xf0\x9f\x98\x80", 4, &u), 4);
	assert_int_equal(u, 0x1f600);

	/* Overlong, surrogate, beyond U+10FFFF, stray continuation, bad continuation. */
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xc0\xaf", 2, &u), -EILSEQ);
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xe0\x80\xaf", 3, &u), -EILSEQ);
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xed\xa0\x80", 3, &u), -EILSEQ);
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xf4\x90\x80\x80", 4, &u), -EILSEQ);
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\x80", 1, &u), -EILSEQ);
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xc3\x28", 2, &u), -EILSEQ);
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xf8\x88\x80\x80\x80", 5, &u),
			 -EILSEQ);
	/* Truncated by the length, not by a NUL. */
	assert_int_equal(hostsim_utf8_decode((const uint8_t *)"\xe4\xb8\xad", 2, &u), -EILSEQ);
}

static void test_kernel_from_utf8_basic(void **state)
{
	uint8_t out[64];
	const char *s = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"; /* a é 中 😀 */

	assert_int_equal(hostsim_utf16_from_utf8_kernel(s, strlen(s), out, 32), 5);
	assert_int_equal(hostsim_utf16_get(out, 0), 'a');
	assert_int_equal(hostsim_utf16_get(out, 1), 0xe9);
	assert_int_equal(hostsim_utf16_get(out, 2), 0x4e2d);
	assert_int_equal(hostsim_utf16_get(out, 3), 0xd83d);
	assert_int_equal(hostsim_utf16_get(out, 4), 0xde00);
	/* Little-endian bytes. */
	assert_int_equal(out[6], 0x3d);
	assert_int_equal(out[7], 0xd8);

	/* A NUL byte inside inlen ends the string. */
	assert_int_equal(hostsim_utf16_from_utf8_kernel("ab\0cd", 5, out, 32), 2);
	/* inlen ends it too. */
	assert_int_equal(hostsim_utf16_from_utf8_kernel("abcd", 3, out, 32), 3);
}

static void test_kernel_from_utf8_limits(void **state)
{
	char s[2100];
	uint8_t out[4096];

	/* Silently cut at the host limits. */
	fill(s, 'k', 300);
	assert_int_equal(hostsim_utf16_from_utf8_kernel(s, strlen(s), out, KEY_UNITS), KEY_UNITS);
	fill(s, 'v', 2047);
	assert_int_equal(hostsim_utf16_from_utf8_kernel(s, strlen(s), out, VALUE_UNITS),
			 VALUE_UNITS);

	/* A surrogate pair that no longer fits ends the conversion (no half pair). */
	fill(s, 'a', KEY_UNITS - 1);
	append(s, "\xf0\x9f\x98\x80"
		  "b");
	assert_int_equal(hostsim_utf16_from_utf8_kernel(s, strlen(s), out, KEY_UNITS),
			 KEY_UNITS - 1);
	/* Exactly fitting pair. */
	fill(s, 'a', KEY_UNITS - 2);
	append(s, "\xf0\x9f\x98\x80");
	assert_int_equal(hostsim_utf16_from_utf8_kernel(s, strlen(s), out, KEY_UNITS), KEY_UNITS);
	assert_int_equal(hostsim_utf16_get(out, KEY_UNITS - 1), 0xde00);
}

static void test_kernel_from_utf8_invalid(void **state)
{
	char s[600];
	uint8_t out[1024];

	assert_int_equal(hostsim_utf16_from_utf8_kernel("ok\xff", 3, out, 64), -EILSEQ);
	assert_int_equal(hostsim_utf16_from_utf8_kernel("\xc0\x80", 2, out, 64), -EILSEQ);
	assert_int_equal(hostsim_utf16_from_utf8_kernel("x\xed\xb2\x80", 4, out, 64), -EILSEQ);
	/* A sequence cut by inlen fails the whole conversion. */
	assert_int_equal(hostsim_utf16_from_utf8_kernel("\xe4\xb8\xad", 2, out, 64), -EILSEQ);

	/* Garbage after the cut is never looked at. */
	fill(s, 'a', KEY_UNITS);
	append(s, "\xff\xfe");
	assert_int_equal(hostsim_utf16_from_utf8_kernel(s, strlen(s), out, KEY_UNITS), KEY_UNITS);
}

static size_t put_units(uint8_t *buf, const uint16_t *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hostsim_utf16_put(buf, i, u[i]);
	return n;
}

static void test_kernel_to_utf8(void **state)
{
	static const uint16_t text[] = { 'h', 0xe9, 0x4e2d, 0xd83d, 0xde00, 0 };
	uint8_t in[8192];
	char out[4096];
	size_t n, units;

	units = put_units(in, text, 6);
	n = hostsim_utf16_to_utf8_kernel(in, units, out, 511);
	assert_int_equal(n, 1 + 2 + 3 + 4);
	assert_memory_equal(out, "h\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", n);

	/* in_units bounds the read even without a NUL. */
	assert_int_equal(hostsim_utf16_to_utf8_kernel(in, 2, out, 511), 3);
}

static void test_kernel_to_utf8_surrogates(void **state)
{
	/* Lone low surrogate dropped; high surrogate followed by 'x' dropped, 'x' kept. */
	static const uint16_t text[] = { 'a', 0xdc00, 'b', 0xd800, 'x', 'c', 0 };
	/* High surrogate as the last unit within in_units: ends the conversion. */
	static const uint16_t tail[] = { 'a', 0xd83d, 0xde00 };
	uint8_t in[64];
	char out[64];
	size_t n;

	n = hostsim_utf16_to_utf8_kernel(in, put_units(in, text, 7), out, sizeof(out));
	assert_int_equal(n, 4);
	assert_memory_equal(out, "abxc", 4);

	n = hostsim_utf16_to_utf8_kernel(in, put_units(in, tail, 2), out, sizeof(out));
	assert_int_equal(n, 1);
}

static void test_kernel_to_utf8_limit(void **state)
{
	uint8_t in[2 * 600];
	char out[600];
	size_t n, i;

	/* 171 x U+4E2D (3 bytes each) then 'a': 170 fit into 511 bytes, the 171st is skipped,
	 * and 'a' still fits into the last byte. */
	for (i = 0; i < 171; i++)
		hostsim_utf16_put(in, i, 0x4e2d);
	hostsim_utf16_put(in, i++, 'a');
	hostsim_utf16_put(in, i++, 0);
	n = hostsim_utf16_to_utf8_kernel(in, i, out, 511);
	assert_int_equal(n, 511);
	assert_int_equal(out[510], 'a');
	assert_memory_equal(out + 507, "\xe4\xb8\xad", 3);

	/* Plain ASCII is cut at maxout. */
	for (i = 0; i < 600; i++)
		hostsim_utf16_put(in, i, 'z');
	assert_int_equal(hostsim_utf16_to_utf8_kernel(in, 600, out, 511), 511);
}

static void test_host_from_utf8(void **state)
{
	char s[300];
	uint8_t out[1024];
	size_t units = 0;

	assert_int_equal(hostsim_utf16_from_utf8("\xf0\x9f\x98\x80z", out, 255, &units), 0);
	assert_int_equal(units, 3);
	assert_int_equal(hostsim_utf16_get(out, 0), 0xd83d);
	assert_int_equal(hostsim_utf16_get(out, 2), 'z');

	fill(s, 'k', 255);
	assert_int_equal(hostsim_utf16_from_utf8(s, out, 255, &units), 0);
	assert_int_equal(units, 255);
	fill(s, 'k', 256);
	assert_int_equal(hostsim_utf16_from_utf8(s, out, 255, &units), -E2BIG);
	/* A pair needs two units. */
	fill(s, 'k', 254);
	append(s, "\xf0\x9f\x98\x80");
	assert_int_equal(hostsim_utf16_from_utf8(s, out, 255, &units), -E2BIG);

	assert_int_equal(hostsim_utf16_from_utf8("bad\xc3", out, 255, &units), -EILSEQ);
}

static void test_host_to_utf8(void **state)
{
	static const uint16_t text[] = { 'o', 0xdc00, 'k', 0xd83d, 0xde00 };
	uint8_t in[32];
	char out[32];

	assert_int_equal(hostsim_utf16_to_utf8(in, put_units(in, text, 5), out, sizeof(out)),
			 1 + 3 + 1 + 4);
	assert_string_equal(out, "o\xef\xbf\xbdk\xf0\x9f\x98\x80");

	/* Too small: -ENOBUFS, cut at a character boundary, terminated. */
	assert_int_equal(hostsim_utf16_to_utf8(in, 5, out, 6), -ENOBUFS);
	assert_string_equal(out, "o\xef\xbf\xbdk");
	assert_int_equal(hostsim_utf16_to_utf8(in, 5, out, 0), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_strict),
		cmocka_unit_test(test_kernel_from_utf8_basic),
		cmocka_unit_test(test_kernel_from_utf8_limits),
		cmocka_unit_test(test_kernel_from_utf8_invalid),
		cmocka_unit_test(test_kernel_to_utf8),
		cmocka_unit_test(test_kernel_to_utf8_surrogates),
		cmocka_unit_test(test_kernel_to_utf8_limit),
		cmocka_unit_test(test_host_from_utf8),
		cmocka_unit_test(test_host_to_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
