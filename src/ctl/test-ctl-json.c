/* SPDX-License-Identifier: MIT */
/*
 * Tests of hvctl's output encoders: JSON string escaping (quotes, backslashes, control
 * characters, UTF-8 passed through, malformed UTF-8 replaced), the exact JSON documents of
 * list/get/watch, and the human escaper and alignment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ctl/ctl-json.h"

/* A memory stream; the text is in *buf after fclose. */
typedef struct Out {
	char *buf;
	size_t size;
	FILE *f;
} Out;

static void out_open(Out *o)
{
	*o = (Out){ 0 };
	o->f = open_memstream(&o->buf, &o->size);
	assert_non_null(o->f);
}

static const char *out_close(Out *o)
{
	assert_int_equal(fclose(o->f), 0);
	o->f = NULL;
	return o->buf;
}

static void set_record(KvpRecord *r, const char *key, const char *value)
{
	*r = (KvpRecord){ 0 };
	assert_true((size_t)snprintf(r->key, sizeof(r->key), "%s", key) < sizeof(r->key));
	assert_true((size_t)snprintf(r->value, sizeof(r->value), "%s", value) < sizeof(r->value));
}

static void expect_json(const char *in, size_t len, const char *want)
{
	char *e = NULL;
	int r = ctl_json_escape(in, len, &e);

	assert_int_equal(r, (int)strlen(want));
	assert_string_equal(e, want);
	free(e);
}

static void test_json_escape_specials(void **state)
{
	expect_json("", 0, "");
	expect_json("plain text 123", 14, "plain text 123");
	expect_json("say \"hi\"", 8, "say \\\"hi\\\"");
	expect_json("C:\\Windows\\", 11, "C:\\\\Windows\\\\");
	/* Every control character becomes \u00XX, lower-case hex. */
	expect_json("a\nb\tc\r", 6, "a\\u000ab\\u0009c\\u000d");
	expect_json("\x01\x1f\x1b[31m", 7, "\\u0001\\u001f\\u001b[31m");
	/* A NUL inside the given length is escaped too, not a terminator. */
	expect_json("a\0b", 3, "a\\u0000b");
	/* DEL and '/' need no escape in JSON. */
	expect_json("\x7f/", 2, "\x7f/");
}

static void test_json_escape_utf8(void **state)
{
	/* Two-, three- and four-byte sequences pass through unchanged. */
	expect_json("Größe", strlen("Größe"), "Größe");
	expect_json("日本語", strlen("日本語"), "日本語");
	expect_json("\xF0\x9F\x98\x80!", 5, "\xF0\x9F\x98\x80!");
	/* U+2028 and C1 controls are valid JSON string content. */
	expect_json("\xE2\x80\xA8\xC2\x9B", 5, "\xE2\x80\xA8\xC2\x9B");
}

static void test_json_escape_malformed(void **state)
{
	/* Each byte that does not start a well-formed sequence becomes one U+FFFD. */
	expect_json("a\xFF"
		    "b",
		    3, "a\\ufffdb");
	expect_json("\xC0\xAF", 2, "\\ufffd\\ufffd");		 /* overlong '/' */
	expect_json("\xED\xA0\x80", 3, "\\ufffd\\ufffd\\ufffd"); /* surrogate U+D800 */
	expect_json("\xE6\x97", 2, "\\ufffd\\ufffd");		 /* cut three-byte sequence */
	expect_json("\xF4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > U+10FFFF */
	/* The length bounds the input: a sequence cut by it is malformed. */
	expect_json("\xC3\xA4", 1, "\\ufffd");
}

static void test_json_list(void **state)
{
	KvpRecord v[2] = { 0 };
	Out o;

	out_open(&o);
	assert_int_equal(ctl_json_print_list(o.f, 1, NULL, 0), 0);
	assert_string_equal(out_close(&o), "{\"pool\":1,\"records\":[]}\n");
	free(o.buf);

	set_record(&v[0], "CLOUD_INIT|1|start", "{\"name\":\"init\"}");
	set_record(&v[1], "tab\there", "line1\nline2 ä");
	out_open(&o);
	assert_int_equal(ctl_json_print_list(o.f, 3, v, 2), 0);
	assert_string_equal(
		out_close(&o),
		"{\"pool\":3,\"records\":["
		"{\"key\":\"CLOUD_INIT|1|start\",\"value\":\"{\\\"name\\\":\\\"init\\\"}\"},"
		"{\"key\":\"tab\\u0009here\",\"value\":\"line1\\u000aline2 ä\"}]}\n");
	free(o.buf);
}

static void test_json_get_and_change(void **state)
{
	Out o;

	out_open(&o);
	assert_int_equal(ctl_json_print_get(o.f, 1, "k\"", "v\\"), 0);
	assert_string_equal(out_close(&o), "{\"pool\":1,\"key\":\"k\\\"\",\"value\":\"v\\\\\"}\n");
	free(o.buf);

	out_open(&o);
	assert_int_equal(ctl_json_print_change(o.f, 1, CTL_CHANGE_ADDED, "a", "1"), 0);
	assert_int_equal(ctl_json_print_change(o.f, 1, CTL_CHANGE_CHANGED, "a", "2"), 0);
	assert_int_equal(ctl_json_print_change(o.f, 1, CTL_CHANGE_REMOVED, "a", NULL), 0);
	assert_int_equal(ctl_json_print_change(o.f, 1, _CTL_CHANGE_MAX, "a", NULL), -EINVAL);
	assert_string_equal(out_close(&o),
			    "{\"pool\":1,\"change\":\"added\",\"key\":\"a\",\"value\":\"1\"}\n"
			    "{\"pool\":1,\"change\":\"changed\",\"key\":\"a\",\"value\":\"2\"}\n"
			    "{\"pool\":1,\"change\":\"removed\",\"key\":\"a\"}\n");
	free(o.buf);
}

static void test_stream_error(void **state)
{
	/* A stream that cannot be written: every printer reports -EIO. */
	FILE *f = fopen("/dev/null", "r");
	KvpRecord v = { .key = "k", .value = "v" };

	assert_non_null(f);
	assert_int_equal(ctl_json_print_list(f, 1, &v, 1), -EIO);
	assert_int_equal(ctl_json_print_get(f, 1, "k", "v"), -EIO);
	assert_int_equal(ctl_json_print_change(f, 1, CTL_CHANGE_ADDED, "k", "v"), -EIO);
	assert_int_equal(ctl_text_print_records(f, &v, 1, 64), -EIO);
	assert_int_equal(ctl_text_print_change(f, CTL_CHANGE_REMOVED, "k", NULL), -EIO);
	fclose(f);
}

static void expect_text(const char *in, const char *want, size_t want_width)
{
	char *e = NULL;
	size_t w = 0;

	assert_int_equal(ctl_text_escape(in, &e, &w), (int)strlen(want));
	assert_string_equal(e, want);
	assert_int_equal(w, want_width);
	free(e);
}

static void test_text_escape(void **state)
{
	expect_text("", "", 0);
	/* Backslashes and quotes stay: they are common in values and harmless on a terminal. */
	expect_text("DOMAIN\\user \"x\"", "DOMAIN\\user \"x\"", 15);
	expect_text("a\nb", "a\\x0ab", 6);
	expect_text("\x1b[2J\x7f", "\\x1b[2J\\x7f", 11);
	/* C1 control CSI (U+009B) is shown byte by byte; U+00A0 and above pass. */
	expect_text("\xC2\x9B"
		    "1m\xC2\xA0",
		    "\\xc2\\x9b1m\xC2\xA0", 11);
	/* Width counts characters, not bytes. */
	expect_text("日本語", "日本語", 3);
	expect_text("bad\xFF", "bad\\xff", 7);
}

static void test_text_records(void **state)
{
	KvpRecord v[3] = { 0 };
	char longkey[80];
	Out o;

	memset(longkey, 'L', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	set_record(&v[0], "a", "1");
	set_record(&v[1], "Größe", "x\ny");
	set_record(&v[2], longkey, "long");

	out_open(&o);
	/* Keys padded to the widest (5 characters); the 79-character key is not padded. */
	assert_int_equal(ctl_text_print_records(o.f, v, 3, 64), 0);
	out_close(&o);
	{
		char want[256];

		snprintf(want, sizeof(want), "a     = 1\nGröße = x\\x0ay\n%s = long\n", longkey);
		assert_string_equal(o.buf, want);
	}
	free(o.buf);

	out_open(&o);
	assert_int_equal(ctl_text_print_records(o.f, NULL, 0, 64), 0);
	assert_string_equal(out_close(&o), "");
	free(o.buf);
}

static void test_text_change(void **state)
{
	Out o;

	out_open(&o);
	assert_int_equal(ctl_text_print_change(o.f, CTL_CHANGE_ADDED, "k", "v 1"), 0);
	assert_int_equal(ctl_text_print_change(o.f, CTL_CHANGE_CHANGED, "k", "v\t2"), 0);
	assert_int_equal(ctl_text_print_change(o.f, CTL_CHANGE_REMOVED, "k", NULL), 0);
	assert_int_equal(ctl_text_print_change(o.f, _CTL_CHANGE_INVALID, "k", NULL), -EINVAL);
	assert_string_equal(out_close(&o), "+ k = v 1\n~ k = v\\x092\n- k\n");
	free(o.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape_specials),
		cmocka_unit_test(test_json_escape_utf8),
		cmocka_unit_test(test_json_escape_malformed),
		cmocka_unit_test(test_json_list),
		cmocka_unit_test(test_json_get_and_change),
		cmocka_unit_test(test_stream_error),
		cmocka_unit_test(test_text_escape),
		cmocka_unit_test(test_text_records),
		cmocka_unit_test(test_text_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
