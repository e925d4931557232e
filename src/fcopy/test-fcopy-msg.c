/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "fcopy/fcopy-msg.h"

/* Hand-built host bodies at the offsets of hyperv-abi.md §8.1, independent of the codec. */
static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Header with a recognisable service id, so no field is read from the wrong place. */
static void put_hdr(uint8_t *b, uint32_t op)
{
	put_le32(b, op);
	for (int i = 4; i < 36; i++)
		b[i] = (uint8_t)(0xa0 + i);
}

/* ASCII/Latin-1 string as UTF-16LE units at p (no NUL added: the buffer is zeroed). */
static void put_utf16(uint8_t *p, const char *s)
{
	for (size_t i = 0; s[i]; i++)
		p[2 * i] = (uint8_t)s[i];
}

static void build_start(uint8_t *b, bool utf16, const char *file, const char *path)
{
	memset(b, 0, FCOPY_START_SIZE);
	put_hdr(b, 0);
	if (utf16) {
		put_utf16(b + 36, file);
		put_utf16(b + 556, path);
	} else {
		memcpy(b + 36, file, strlen(file));
		memcpy(b + 556, path, strlen(path));
	}
	put_le32(b + 1076, 0x3);
	put_le64(b + 1080, UINT64_C(0x0102030405060708));
}

static void build_write(uint8_t *b, uint64_t offset, uint32_t size)
{
	memset(b, 0, FCOPY_WRITE_SIZE);
	put_hdr(b, 1);
	put_le32(b + 36, 0xdeadbeef); /* pad */
	put_le64(b + 40, offset);
	put_le32(b + 48, size);
	for (size_t i = 52; i < FCOPY_WRITE_SIZE; i++)
		b[i] = (uint8_t)i;
}

typedef int (*DecodeFn)(const void *buf, size_t len, FcopyRequest *ret);

static void check_start(DecodeFn decode, bool utf16)
{
	static uint8_t b[FCOPY_START_SIZE + 16];
	FcopyRequest r;

	build_start(b, utf16, "report.txt", "/var/tmp/in");
	assert_int_equal(decode(b, FCOPY_START_SIZE, &r), 0);
	assert_int_equal(r.op, FCOPY_OP_START_FILE_COPY);
	assert_string_equal(r.file_name, "report.txt");
	assert_string_equal(r.path_name, "/var/tmp/in");
	assert_int_equal(r.copy_flags, FCOPY_FLAG_OVER_WRITE | FCOPY_FLAG_CREATE_PATH);
	assert_true(r.file_size == UINT64_C(0x0102030405060708));
	assert_null(r.data);
	/* Longer than the struct is fine (padding); one byte short is not. */
	assert_int_equal(decode(b, sizeof(b), &r), 0);
	assert_int_equal(decode(b, FCOPY_START_SIZE - 1, &r), -EBADMSG);
}

static void test_start_chardev(void **state)
{
	static uint8_t b[FCOPY_START_SIZE];
	FcopyRequest r;

	check_start(fcopy_msg_decode_chardev, false);
	/* UTF-8 the kernel converted: passed through unchanged. */
	build_start(b, false, "caf\xc3\xa9-\xf0\x9f\x98\x80", "/srv/\xe2\x82\xac");
	assert_int_equal(fcopy_msg_decode_chardev(b, sizeof(b), &r), 0);
	assert_string_equal(r.file_name, "caf\xc3\xa9-\xf0\x9f\x98\x80");
	assert_string_equal(r.path_name, "/srv/\xe2\x82\xac");
	/* Invalid UTF-8 (overlong '/'), in either name. */
	build_start(b, false,
		    "a\xc0\xaf"
		    "b",
		    "/tmp");
	assert_int_equal(fcopy_msg_decode_chardev(b, sizeof(b), &r), -EILSEQ);
	build_start(b, false, "ab", "/tmp\xff");
	assert_int_equal(fcopy_msg_decode_chardev(b, sizeof(b), &r), -EILSEQ);
	/* 519 bytes + NUL fills the 520-byte array exactly: accepted. */
	build_start(b, false, "x", "/");
	memset(b + 556 + 1, 'p', 518);
	assert_int_equal(fcopy_msg_decode_chardev(b, sizeof(b), &r), 0);
	assert_int_equal(strlen(r.path_name), 519);
	/* No NUL within the array (copy_flags follows it): rejected, not over-read. */
	memset(b + 556 + 1, 'p', 519);
	assert_int_equal(fcopy_msg_decode_chardev(b, sizeof(b), &r), -ENAMETOOLONG);
	build_start(b, false, "x", "/");
	memset(b + 36, 'f', 520);
	assert_int_equal(fcopy_msg_decode_chardev(b, sizeof(b), &r), -ENAMETOOLONG);
}

static void test_start_ic(void **state)
{
	static uint8_t b[FCOPY_START_SIZE];
	FcopyRequest r;

	check_start(fcopy_msg_decode_ic, true);
	/* U+00E9 and U+1F600 (D83D DE00) in the file name, U+20AC in the path. */
	build_start(b, true, "caf", "/srv/");
	put_le32(b + 36 + 6, 0x00e9u | 0xd83du << 16);
	b[36 + 10] = 0x00, b[36 + 11] = 0xde;
	b[556 + 10] = 0xac, b[556 + 11] = 0x20;
	assert_int_equal(fcopy_msg_decode_ic(b, sizeof(b), &r), 0);
	assert_string_equal(r.file_name, "caf\xc3\xa9\xf0\x9f\x98\x80");
	assert_string_equal(r.path_name, "/srv/\xe2\x82\xac");
	/* Unpaired high surrogate at the end of the file name. */
	b[36 + 10] = 0, b[36 + 11] = 0;
	assert_int_equal(fcopy_msg_decode_ic(b, sizeof(b), &r), -EILSEQ);
	/* 259 units of U+20AC + NUL: the worst-case 777 UTF-8 bytes fit. */
	build_start(b, true, "x", "/");
	for (size_t i = 1; i < 259; i++)
		b[556 + 2 * i] = 0xac, b[556 + 2 * i + 1] = 0x20;
	assert_int_equal(fcopy_msg_decode_ic(b, sizeof(b), &r), 0);
	assert_int_equal(strlen(r.path_name), 1 + 258 * 3);
	/* 260 units, no NUL within the array. */
	b[556 + 518] = 'z';
	assert_int_equal(fcopy_msg_decode_ic(b, sizeof(b), &r), -ENAMETOOLONG);
	build_start(b, true, "x", "/");
	for (size_t i = 0; i < 260; i++)
		b[36 + 2 * i] = 'f';
	assert_int_equal(fcopy_msg_decode_ic(b, sizeof(b), &r), -ENAMETOOLONG);
}

static void check_bad_names(DecodeFn decode, bool utf16)
{
	static const char *const bad[][2] = {
		{ "", "/tmp" },	    { "a/b", "/tmp" },	  { "/", "/tmp" },     { ".", "/tmp" },
		{ "..", "/tmp" },   { "ok", "" },	  { "ok", "tmp" },     { "ok", "../etc" },
		{ "a\nb", "/tmp" }, { "ok", "/tmp\x1f" }, { "a\x7f", "/tmp" },
	};
	static uint8_t b[FCOPY_START_SIZE];
	FcopyRequest r = { .op = _FCOPY_OP_INVALID, .size = 77 };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		build_start(b, utf16, bad[i][0], bad[i][1]);
		assert_int_equal(decode(b, sizeof(b), &r), -EINVAL);
		/* Failure leaves *ret untouched. */
		assert_int_equal(r.op, _FCOPY_OP_INVALID);
		assert_int_equal(r.size, 77);
	}
	/* Accepted here; ".." components are the transfer module's job. */
	build_start(b, utf16, "...", "/tmp/../x/");
	assert_int_equal(decode(b, sizeof(b), &r), 0);
}

static void test_names(void **state)
{
	check_bad_names(fcopy_msg_decode_chardev, false);
	check_bad_names(fcopy_msg_decode_ic, true);
}

static void check_write(DecodeFn decode)
{
	static uint8_t b[FCOPY_WRITE_SIZE + 8];
	FcopyRequest r;

	build_write(b, UINT64_C(0x1122334455667788), 6144);
	assert_int_equal(decode(b, FCOPY_WRITE_SIZE, &r), 0);
	assert_int_equal(r.op, FCOPY_OP_WRITE_TO_FILE);
	assert_true(r.offset == UINT64_C(0x1122334455667788));
	assert_int_equal(r.size, 6144);
	assert_ptr_equal(r.data, b + 52);
	assert_string_equal(r.file_name, "");

	build_write(b, 0, 0);
	assert_int_equal(decode(b, 52, &r), 0);
	assert_int_equal(r.size, 0);
	/* A trimmed packet is fine as long as all size bytes are present... */
	build_write(b, 4096, 100);
	assert_int_equal(decode(b, 152, &r), 0);
	assert_int_equal(r.size, 100);
	assert_int_equal(r.offset, 4096);
	assert_memory_equal(r.data, b + 52, 100);
	/* ...and rejected when they are not. */
	assert_int_equal(decode(b, 151, &r), -EINVAL);
	/* More than DATA_FRAGMENT, even with the bytes present. */
	build_write(b, 0, 6145);
	assert_int_equal(decode(b, sizeof(b), &r), -EINVAL);
	build_write(b, 0, UINT32_MAX);
	assert_int_equal(decode(b, sizeof(b), &r), -EINVAL);
	/* Shorter than the fixed part (through size @48). */
	build_write(b, 0, 0);
	assert_int_equal(decode(b, 51, &r), -EBADMSG);
}

static void test_write(void **state)
{
	check_write(fcopy_msg_decode_chardev);
	check_write(fcopy_msg_decode_ic);
}

static void test_complete_cancel(void **state)
{
	static uint8_t b[FCOPY_WRITE_SIZE];
	DecodeFn fns[] = { fcopy_msg_decode_chardev, fcopy_msg_decode_ic };
	FcopyRequest r;

	for (size_t f = 0; f < ELEMENTSOF(fns); f++) {
		for (uint32_t op = 2; op <= 3; op++) {
			memset(b, 0x5a, sizeof(b));
			put_hdr(b, op);
			assert_int_equal(fns[f](b, 36, &r), 0);
			assert_int_equal(r.op, op == 2 ? FCOPY_OP_COMPLETE : FCOPY_OP_CANCEL);
			assert_null(r.data);
			assert_int_equal(r.size, 0);
			/* Kernel quirk (§8.2): about 64 bytes, or any over-long length. */
			assert_int_equal(fns[f](b, 64, &r), 0);
			assert_int_equal(fns[f](b, sizeof(b), &r), 0);
			assert_int_equal(fns[f](b, 35, &r), -EBADMSG);
		}
	}
}

static void test_header_errors(void **state)
{
	static uint8_t b[FCOPY_WRITE_SIZE];
	DecodeFn fns[] = { fcopy_msg_decode_chardev, fcopy_msg_decode_ic };
	const uint32_t bad_ops[] = { 4, 5, 0x100, 0x80000000u, UINT32_MAX };
	FcopyRequest r;

	for (size_t f = 0; f < ELEMENTSOF(fns); f++) {
		memset(b, 0, sizeof(b));
		assert_int_equal(fns[f](b, 0, &r), -EBADMSG);
		assert_int_equal(fns[f](NULL, 0, &r), -EBADMSG);
		assert_int_equal(fns[f](b, 35, &r), -EBADMSG);
		for (size_t i = 0; i < ELEMENTSOF(bad_ops); i++) {
			put_hdr(b, bad_ops[i]);
			assert_int_equal(fns[f](b, sizeof(b), &r), -EOPNOTSUPP);
		}
	}
}

static void test_chardev_helpers(void **state)
{
	uint8_t buf[FCOPY_CHARDEV_REPLY_SIZE];
	int v;

	fcopy_msg_build_chardev_register(buf);
	memcpy(&v, buf, sizeof(v));
	assert_int_equal(v, 1);
	assert_int_equal(fcopy_msg_parse_chardev_register_reply(buf, 4), 0);
	assert_int_equal(fcopy_msg_parse_chardev_register_reply(buf, 3), -EBADMSG);
	assert_int_equal(fcopy_msg_parse_chardev_register_reply(buf, 8), -EBADMSG);
	v = 0;
	memcpy(buf, &v, sizeof(v));
	assert_int_equal(fcopy_msg_parse_chardev_register_reply(buf, 4), -EPROTO);

	fcopy_msg_build_chardev_reply(buf, HV_ERROR_ALREADY_EXISTS);
	memcpy(&v, buf, sizeof(v));
	assert_int_equal((uint32_t)v, HV_ERROR_ALREADY_EXISTS);
	fcopy_msg_build_chardev_reply(buf, HV_S_OK);
	memcpy(&v, buf, sizeof(v));
	assert_int_equal(v, 0);

	assert_string_equal(fcopy_op_to_string(FCOPY_OP_START_FILE_COPY), "START_FILE_COPY");
	assert_string_equal(fcopy_op_to_string(FCOPY_OP_CANCEL), "CANCEL");
	assert_string_equal(fcopy_op_to_string(_FCOPY_OP_INVALID), "unknown");
	assert_string_equal(fcopy_op_to_string(_FCOPY_OP_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_chardev),	cmocka_unit_test(test_start_ic),
		cmocka_unit_test(test_names),		cmocka_unit_test(test_write),
		cmocka_unit_test(test_complete_cancel), cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_chardev_helpers),
	};

	return cmocka_run_group_tests_name("fcopy-msg", tests, NULL, NULL);
}
