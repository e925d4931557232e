/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "common/macro.h"
#include "fcopy/utf16.h"

/* Serialises n units little endian into buf (2n bytes). */
static void put_units(uint8_t *buf, const uint16_t *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = (uint8_t)u[i];
		buf[2 * i + 1] = (uint8_t)(u[i] >> 8);
	}
}

static void test_ascii(void **state)
{
	const uint16_t u[] = { 'a', 'b', '.', 't', 'x', 't', 0, 'z' };
	uint8_t b[sizeof(u)];
	char out[32];

	put_units(b, u, 8);
	assert_int_equal(utf16le_strnlen(b, 8), 6);
	assert_int_equal(utf16le_to_utf8(b, 8, out, sizeof(out)), 6);
	assert_string_equal(out, "ab.txt");
	/* Empty: NUL at unit 0. */
	assert_int_equal(utf16le_to_utf8(b + 12, 1, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* Zero units: nothing to read at all. */
	assert_int_equal(utf16le_to_utf8(b, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_bmp(void **state)
{
	/* U+00E9 (2 bytes), U+20AC euro (3 bytes), U+FFFD (3 bytes), U+07FF, U+0800 edges. */
	const uint16_t u[] = { 0x00e9, 0x20ac, 0xfffd, 0x07ff, 0x0800, 0x007f, 0 };
	uint8_t b[sizeof(u)];
	char out[32];

	put_units(b, u, ELEMENTSOF(u));
	assert_int_equal(utf16le_to_utf8(b, 7, out, sizeof(out)), 2 + 3 + 3 + 2 + 3 + 1);
	assert_string_equal(out, "\xc3\xa9\xe2\x82\xac\xef\xbf\xbd\xdf\xbf\xe0\xa0\x80\x7f");
	assert_true(utf8_is_valid(out, strlen(out)));
}

static void test_astral(void **state)
{
	/* U+1F600 = D83D DE00; U+10000 = D800 DC00; U+10FFFF = DBFF DFFF. */
	const uint16_t u[] = { 'x', 0xd83d, 0xde00, 0xd800, 0xdc00, 0xdbff, 0xdfff, 0 };
	uint8_t b[sizeof(u)];
	char out[32];

	put_units(b, u, ELEMENTSOF(u));
	assert_int_equal(utf16le_to_utf8(b, ELEMENTSOF(u), out, sizeof(out)), 13);
	assert_string_equal(out, "x\xf0\x9f\x98\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
}

static void test_unpaired_surrogates(void **state)
{
	const uint16_t high_then_ascii[] = { 'a', 0xd83d, 'b', 0 };
	const uint16_t high_at_end[] = { 'a', 0xd83d, 0 };
	const uint16_t high_at_array_end[] = { 'a', 0xd83d };
	const uint16_t lone_low[] = { 0xde00, 'a', 0 };
	const uint16_t reversed[] = { 0xde00, 0xd83d, 0 };
	const uint16_t two_highs[] = { 0xd83d, 0xd83d, 0xde00, 0 };
	uint8_t b[16];
	char out[32];

	put_units(b, high_then_ascii, 4);
	assert_int_equal(utf16le_to_utf8(b, 4, out, sizeof(out)), -EILSEQ);
	assert_string_equal(out, "");
	put_units(b, high_at_end, 3);
	assert_int_equal(utf16le_to_utf8(b, 3, out, sizeof(out)), -EILSEQ);
	/* The pair's low half would lie beyond the array: never read it. */
	put_units(b, high_at_array_end, 2);
	b[4] = 0x00, b[5] = 0xde;
	assert_int_equal(utf16le_to_utf8(b, 2, out, sizeof(out)), -EILSEQ);
	put_units(b, lone_low, 3);
	assert_int_equal(utf16le_to_utf8(b, 3, out, sizeof(out)), -EILSEQ);
	put_units(b, reversed, 3);
	assert_int_equal(utf16le_to_utf8(b, 3, out, sizeof(out)), -EILSEQ);
	put_units(b, two_highs, 4);
	assert_int_equal(utf16le_to_utf8(b, 4, out, sizeof(out)), -EILSEQ);
}

static void test_no_terminator(void **state)
{
	/* Bytes after the 3-unit array are 'Z': conversion must stop at the array end. */
	const uint16_t u[] = { 'a', 'b', 'c', 'Z', 'Z', 0 };
	uint8_t b[sizeof(u)];
	char out[32];

	put_units(b, u, ELEMENTSOF(u));
	assert_int_equal(utf16le_strnlen(b, 3), 3);
	assert_int_equal(utf16le_to_utf8(b, 3, out, sizeof(out)), 3);
	assert_string_equal(out, "abc");
}

static void test_output_too_small(void **state)
{
	const uint16_t u[] = { 'a', 'b', 'c', 0 };
	const uint16_t euro[] = { 'a', 0x20ac, 0 };
	const uint16_t smile[] = { 0xd83d, 0xde00, 0 };
	uint8_t b[8];
	char out[8];

	put_units(b, u, 4);
	/* Exactly enough: 3 bytes + NUL. One less must fail, never write out[3]. */
	assert_int_equal(utf16le_to_utf8(b, 4, out, 4), 3);
	assert_string_equal(out, "abc");
	memset(out, 'X', sizeof(out));
	assert_int_equal(utf16le_to_utf8(b, 4, out, 3), -ENAMETOOLONG);
	assert_int_equal(out[0], '\0');
	assert_int_equal(out[3], 'X');
	assert_int_equal(utf16le_to_utf8(b, 4, out, 0), -ENAMETOOLONG);
	assert_int_equal(out[0], '\0');
	/* A multi-byte sequence must fit whole, not be cut. */
	put_units(b, euro, 3);
	assert_int_equal(utf16le_to_utf8(b, 3, out, 5), 4);
	memset(out, 'X', sizeof(out));
	assert_int_equal(utf16le_to_utf8(b, 3, out, 4), -ENAMETOOLONG);
	assert_int_equal(out[4], 'X');
	put_units(b, smile, 3);
	assert_int_equal(utf16le_to_utf8(b, 3, out, 5), 4);
	assert_int_equal(utf16le_to_utf8(b, 3, out, 4), -ENAMETOOLONG);
}

static void test_utf8_validate(void **state)
{
	assert_true(utf8_is_valid("", 0));
	assert_true(utf8_is_valid("plain/ascii", 11));
	assert_true(utf8_is_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	assert_true(utf8_is_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
	assert_false(utf8_is_valid("\x80", 1));		    /* lone continuation */
	assert_false(utf8_is_valid("\xc0\xaf", 2));	    /* overlong '/' */
	assert_false(utf8_is_valid("\xe0\x80\xaf", 3));	    /* overlong '/' */
	assert_false(utf8_is_valid("\xf0\x80\x80\xaf", 4)); /* overlong '/' */
	assert_false(utf8_is_valid("\xed\xa0\x80", 3));	    /* U+D800 */
	assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4)); /* U+110000 */
	assert_false(utf8_is_valid("\xff", 1));
	assert_false(utf8_is_valid("\xe2\x82", 2));	/* truncated */
	assert_false(utf8_is_valid("\xe2\x82\xac", 2)); /* truncated by len */
	assert_false(utf8_is_valid("\xe2\x28\xac", 3)); /* bad continuation */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii),	      cmocka_unit_test(test_bmp),
		cmocka_unit_test(test_astral),	      cmocka_unit_test(test_unpaired_surrogates),
		cmocka_unit_test(test_no_terminator), cmocka_unit_test(test_output_too_small),
		cmocka_unit_test(test_utf8_validate),
	};

	return cmocka_run_group_tests_name("utf16", tests, NULL, NULL);
}
