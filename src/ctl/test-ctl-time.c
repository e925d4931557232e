/* SPDX-License-Identifier: MIT */
/*
 * "hvctl time status": the status file parser (every key, null numbers, escapes, unknown
 * keys skipped, each malformation reported with a reason), the human formatting, and end to
 * end through $HVCTL on a temporary run directory: missing file (exit 3), text and JSON
 * output, malformed file (exit 1), an old status (warning).
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/macro.h"
#include "common/test-conf-util.h"
#include "ctl/test-ctl-util.h"
#include "ctl/ctl-time.h"
#include "timesync/timesync-status.h"

/* A status as the daemon writes it (the contract's keys and order), updated_usec patched. */
static const char status_fmt[] =
	"{\"mode\":\"monitor\",\"adjusting\":false,\"reason\":\"chronyd is active\","
	"\"phc\":\"/dev/ptp_hyperv\",\"state\":\"locked\",\"offset_ns\":12034.6,"
	"\"frequency_ppb\":-1500,\"stale\":false,\"synced\":true,\"steps\":2,"
	"\"external_steps\":1,\"events\":3,\"last_step_ns\":-150000000,"
	"\"last_event\":\"pause of 2.0 s (save/restore)\",\"updated_usec\":%llu}\n";

typedef struct Ctx {
	char dir[64];
	char path[128];
	HvctlRun run;
} Ctx;

static uint64_t now_usec(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int parse(const char *text, CtlTimeStatus *s, char *err, size_t size)
{
	return ctl_time_status_parse(text, strlen(text), s, err, size);
}

/* status_fmt at updated_usec, with the first occurrence of from replaced by to. */
static void status_with(uint64_t updated_usec, const char *from, const char *to, char *buf,
			size_t size)
{
	char good[1024];
	const char *at;

	assert_true(snprintf(good, sizeof(good), status_fmt, (unsigned long long)updated_usec) <
		    (int)sizeof(good));
	at = strstr(good, from);
	assert_non_null(at);
	assert_true(snprintf(buf, size, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from)) <
		    (int)size);
}

/* ctl_time_status_print_text(s, now) as a string (free() it); now in µs since the epoch. */
static char *print_text(const CtlTimeStatus *s, uint64_t now)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	assert_int_equal(ctl_time_status_print_text(f, s, now), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_parse_full(void **state)
{
	char text[1024], err[256];
	CtlTimeStatus s;

	snprintf(text, sizeof(text), status_fmt, 1700000000123456ull);
	assert_int_equal(parse(text, &s, err, sizeof(err)), 0);
	assert_string_equal(s.mode, "monitor");
	assert_false(s.adjusting);
	assert_string_equal(s.reason, "chronyd is active");
	assert_string_equal(s.phc, "/dev/ptp_hyperv");
	assert_string_equal(s.state, "locked");
	assert_true(s.has_offset);
	assert_true(s.offset_ns == 12034.6);
	assert_true(s.has_frequency);
	assert_true(s.frequency_ppb == -1500.0);
	assert_false(s.stale);
	assert_true(s.synced);
	assert_int_equal(s.steps, 2);
	assert_int_equal(s.external_steps, 1);
	assert_int_equal(s.events, 3);
	assert_true(s.has_last_step);
	assert_true(s.last_step_ns == -150000000.0);
	assert_string_equal(s.last_event, "pause of 2.0 s (save/restore)");
	/* Above 2^50: must come through exactly. */
	assert_int_equal(s.updated_usec, 1700000000123456ull);
}

static void test_parse_nulls_escapes_unknown(void **state)
{
	/* Pretty-printed, reordered, nulls, escapes, unknown members of every kind. */
	static const char text[] =
		"{\n  \"updated_usec\": 1, \"future\": {\"a\": [1, 2.5e3, \"x\", {\"b\": null}]},\n"
		"  \"mode\": \"discipline\", \"adjusting\": true, \"reason\": \"\",\n"
		"  \"phc\": \"/dev/ptp\\u0030\", \"state\": \"\\\"init\\\"\\t\\\\\",\n"
		"  \"offset_ns\": null, \"frequency_ppb\": null, \"stale\": true,\n"
		"  \"synced\": false, \"steps\": 0, \"external_steps\": 0, \"events\": 0,\n"
		"  \"last_step_ns\": null, \"last_event\": \"\\u00b5s \\ud83d\\ude00 \xc3\xa9\",\n"
		"  \"more\": [] \n}\n";
	char err[256];
	CtlTimeStatus s;

	assert_int_equal(parse(text, &s, err, sizeof(err)), 0);
	assert_string_equal(s.mode, "discipline");
	assert_true(s.adjusting);
	assert_string_equal(s.reason, "");
	assert_string_equal(s.phc, "/dev/ptp0");
	assert_string_equal(s.state, "\"init\"\t\\");
	assert_false(s.has_offset);
	assert_false(s.has_frequency);
	assert_false(s.has_last_step);
	assert_true(s.stale);
	assert_string_equal(s.last_event, "\xc2\xb5s \xf0\x9f\x98\x80 \xc3\xa9");
	assert_int_equal(s.updated_usec, 1);
}

static void test_parse_long_string_truncated(void **state)
{
	char text[2048], err[256], mode[201];
	CtlTimeStatus s;

	/* 'é' repeated: truncation must not split one (mode[] holds 31 bytes). */
	for (int i = 0; i < 100; i++)
		memcpy(mode + 2 * i, "\xc3\xa9", 2);
	mode[200] = '\0';
	status_with(5, "monitor", mode, text, sizeof(text));
	assert_int_equal(parse(text, &s, err, sizeof(err)), 0);
	assert_int_equal(strlen(s.mode), 30);
	assert_memory_equal(s.mode, mode, 30);
}

/* What the daemon writes (timesync_status_format_json) is what hvctl reads. */
static void test_parse_daemon_output(void **state)
{
	TimesyncStatusInfo info = {
		.mode = "discipline",
		.adjusting = true,
		.reason = "",
		.phc = "/dev/ptp\"0\\",
		.state = "locked",
		.offset_ns = -412.3,
		.frequency_ppb = 12345.678,
		.synced = true,
		.n_steps = 1,
		.n_external_steps = 4,
		.n_events = 2,
		.last_step_ns = -150000000,
		.last_event = "migration\n(ended)",
		.updated_realtime_ns = 1700000000123456789ull,
	};
	char buf[4096], err[256];
	CtlTimeStatus s;

	assert_true(timesync_status_format_json(&info, buf, sizeof(buf)) > 0);
	assert_int_equal(parse(buf, &s, err, sizeof(err)), 0);
	assert_string_equal(s.mode, "discipline");
	assert_true(s.adjusting);
	assert_string_equal(s.phc, "/dev/ptp\"0\\");
	assert_string_equal(s.state, "locked");
	assert_true(s.has_offset);
	assert_true(fabs(s.offset_ns + 412.3) < 0.01);
	assert_true(fabs(s.frequency_ppb - 12345.678) < 0.0005);
	assert_true(s.synced);
	assert_false(s.stale);
	assert_int_equal(s.steps, 1);
	assert_int_equal(s.external_steps, 4);
	assert_int_equal(s.events, 2);
	assert_true(s.last_step_ns == -150000000.0);
	assert_string_equal(s.last_event, "migration\n(ended)");
	assert_int_equal(s.updated_usec, 1700000000123456ull);

	/* No PHC, no measurement yet: null string and null numbers. */
	info.phc = NULL;
	info.offset_ns = NAN;
	info.frequency_ppb = INFINITY;
	info.last_event = NULL;
	assert_true(timesync_status_format_json(&info, buf, sizeof(buf)) > 0);
	assert_int_equal(parse(buf, &s, err, sizeof(err)), 0);
	assert_string_equal(s.phc, "");
	assert_false(s.has_offset);
	assert_false(s.has_frequency);
	assert_string_equal(s.last_event, "");
}

/* Bytes that are not UTF-8 (passed through by the daemon) are read as U+FFFD. */
static void test_parse_not_utf8(void **state)
{
	char bad[1024], err[256];
	CtlTimeStatus s;

	status_with(1, "/dev/ptp_hyperv", "/dev/\xff\xc3(", bad, sizeof(bad));
	assert_int_equal(parse(bad, &s, err, sizeof(err)), 0);
	assert_string_equal(s.phc, "/dev/\xef\xbf\xbd\xef\xbf\xbd(");
}

/* Replaces the first occurrence of from in the good status with to, and parses it. */
static void assert_malformed(const char *from, const char *to, const char *why)
{
	char bad[1200], err[256];
	CtlTimeStatus s;

	status_with(1700000000000000ull, from, to, bad, sizeof(bad));
	assert_int_equal(parse(bad, &s, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, why))
		fail_msg("'%s' -> '%s': error '%s' lacks '%s'", from, to, err, why);
}

static void test_parse_errors(void **state)
{
	char err[256];
	CtlTimeStatus s;

	assert_int_equal(parse("", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "line 1: not a JSON object");
	assert_int_equal(parse("[1]", &s, err, sizeof(err)), -EBADMSG);
	assert_int_equal(parse("{}", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "missing key \"mode\"");

	assert_malformed("\"events\":3,", "", "missing key \"events\"");
	assert_malformed("\"adjusting\":false", "\"adjusting\":0",
			 "\"adjusting\" must be true or false");
	assert_malformed("\"steps\":2", "\"steps\":-2", "\"steps\" must be a non-negative integer");
	assert_malformed("\"steps\":2", "\"steps\":2.5",
			 "\"steps\" must be a non-negative integer");
	assert_malformed("\"steps\":2", "\"steps\":null", "expected a value");
	assert_malformed("\"offset_ns\":12034.6", "\"offset_ns\":012", "expected ',' or '}'");
	assert_malformed("\"offset_ns\":12034.6", "\"offset_ns\":1.", "invalid number");
	assert_malformed("\"offset_ns\":12034.6", "\"offset_ns\":1e999", "number out of range");
	assert_malformed("\"offset_ns\":12034.6", "\"offset_ns\":\"12\"", "expected a value");
	assert_malformed("\"mode\":\"monitor\"", "\"mode\":monitor", "expected a string");
	assert_malformed("\"phc\"", "\"mode\"", "duplicate key \"mode\"");
	assert_malformed("}\n", "", "expected ',' or '}'");
	assert_malformed("}\n", "} x", "trailing data after the object");
	assert_malformed("chronyd", "\\ud800x", "lone high surrogate");
	assert_malformed("chronyd", "\\udc00", "lone low surrogate");
	assert_malformed("chronyd", "\\q", "invalid escape '\\q'");
	assert_malformed("chronyd", "\n", "control character in a string");
	assert_malformed("\"last_event\"",
			 "\"x\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]],\"last_event\"",
			 "nested too deeply");
	assert_malformed("\"reason\":", "\"reason\"\n\n;", "line 3: expected ':' after \"reason\"");
}

static void test_format_ns(void **state)
{
	char b[64];

	assert_string_equal(ctl_time_format_ns(0, b, sizeof(b)), "+0 ns");
	assert_string_equal(ctl_time_format_ns(412.4, b, sizeof(b)), "+412 ns");
	assert_string_equal(ctl_time_format_ns(-12345, b, sizeof(b)), "-12.345 µs");
	assert_string_equal(ctl_time_format_ns(1.5e6, b, sizeof(b)), "+1.500 ms");
	assert_string_equal(ctl_time_format_ns(-3e9, b, sizeof(b)), "-3.000 s");
}

static void test_print_text(void **state)
{
	CtlTimeStatus s = {
		.mode = "monitor",
		.reason = "chronyd is active",
		.phc = "/dev/ptp_hyperv",
		.state = "locked",
		.offset_ns = 12034.6,
		.has_offset = true,
		.frequency_ppb = -1500,
		.has_frequency = true,
		.synced = true,
		.steps = 2,
		.external_steps = 1,
		.events = 3,
		.last_step_ns = -1.5e8,
		.has_last_step = true,
		.last_event = "pause\x1b[2J",
		.updated_usec = 1700000000000000ull,
	};
	char *buf = print_text(&s, 1700000007500000ull);

	assert_string_equal(buf, "Mode:          monitor (not adjusting: chronyd is active)\n"
				 "Clock:         /dev/ptp_hyperv\n"
				 "State:         locked\n"
				 "Offset:        +12.035 µs\n"
				 "Frequency:     -1.500 ppm\n"
				 "Synchronised:  yes\n"
				 "Host samples:  fresh\n"
				 "Steps:         2 by this daemon (last -150.000 ms), 1 by others\n"
				 "Events:        3, last: pause\\x1b[2J\n"
				 "Updated:       2023-11-14 22:13:20 UTC (7 s ago)\n");
	free(buf);

	s.adjusting = true;
	snprintf(s.mode, sizeof(s.mode), "discipline");
	s.has_offset = s.has_frequency = s.has_last_step = false;
	s.stale = true;
	s.synced = false;
	s.events = 0;
	s.last_event[0] = '\0';
	buf = print_text(&s, 1600000000000000ull);
	assert_string_equal(buf, "Mode:          discipline (adjusting the system clock)\n"
				 "Clock:         /dev/ptp_hyperv\n"
				 "State:         locked\n"
				 "Offset:        unknown\n"
				 "Frequency:     unknown\n"
				 "Synchronised:  no\n"
				 "Host samples:  stale (the host's clock stopped advancing; "
				 "holding over)\n"
				 "Steps:         2 by this daemon, 1 by others\n"
				 "Events:        0\n"
				 "Updated:       2023-11-14 22:13:20 UTC (in the future: the clock "
				 "was stepped back)\n");
	free(buf);
}

/* End to end through the hvctl binary. */

static int setup(void **state)
{
	Ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_non_null(getenv("HVCTL"));
	snprintf(c->dir, sizeof(c->dir), "/tmp/test-ctl-time-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/timesync.json", c->dir);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	Ctx *c = *state;

	(void)unlink(c->path);
	assert_int_equal(rmdir(c->dir), 0);
	free(c);
	return 0;
}

/* $HVCTL args... into c->run. */
#define RUN(c, ...) HVCTL_RUN(&(c)->run, NULL, __VA_ARGS__)

static void test_missing(void **state)
{
	Ctx *c = *state;

	assert_int_equal(RUN(c, "time", "status", "--run-dir", c->dir), 3);
	assert_string_equal(c->run.out, "");
	hvctl_assert_contains(c->run.err, "No time sync status ('");
	hvctl_assert_contains(c->run.err,
			      "/timesync.json' does not exist): hv-timesync-daemon is not running");
	assert_int_equal(RUN(c, "--json", "time", "status", "--run-dir", c->dir), 3);
	assert_string_equal(c->run.out, "");
}

static void test_text_and_json(void **state)
{
	Ctx *c = *state;
	char text[1024];

	snprintf(text, sizeof(text), status_fmt, (unsigned long long)now_usec());
	test_write_text(c->path, text);
	assert_int_equal(RUN(c, "time", "status", "--run-dir", c->dir), 0);
	assert_string_equal(c->run.err, "");
	hvctl_assert_contains(c->run.out,
			      "Mode:          monitor (not adjusting: chronyd is active)\n");
	hvctl_assert_contains(c->run.out, "Offset:        +12.035 µs\n");
	hvctl_assert_contains(c->run.out,
			      "Steps:         2 by this daemon (last -150.000 ms), 1 by others\n");
	hvctl_assert_contains(c->run.out,
			      "Events:        3, last: pause of 2.0 s (save/restore)\n");
	hvctl_assert_contains(c->run.out, " s ago)\n");

	/* --json: the daemon's object as it is, every field passed through. */
	assert_int_equal(RUN(c, "--run-dir", c->dir, "time", "status", "-j"), 0);
	assert_string_equal(c->run.err, "");
	assert_string_equal(c->run.out, text);
	CtlTimeStatus s;
	char err[256];
	assert_int_equal(parse(c->run.out, &s, err, sizeof(err)), 0);

	/* A path that is not UTF-8: \ufffd in the JSON, which stays valid. */
	char bad[2048];
	status_with(now_usec(), "/dev/ptp_hyperv", "/dev/\xffx", bad, sizeof(bad));
	test_write_text(c->path, bad);
	assert_int_equal(RUN(c, "--run-dir", c->dir, "time", "status", "-j"), 0);
	hvctl_assert_contains(c->run.out, "\"phc\":\"/dev/\\ufffdx\",");
	assert_int_equal(parse(c->run.out, &s, err, sizeof(err)), 0);
	assert_string_equal(s.phc, "/dev/\xef\xbf\xbdx");
	assert_int_equal(RUN(c, "--run-dir", c->dir, "time", "status"), 0);
	hvctl_assert_contains(c->run.out, "Clock:         /dev/\xef\xbf\xbdx\n");

	/* Pretty-printed input: trimmed, still the same members. */
	snprintf(text, sizeof(text), status_fmt, (unsigned long long)now_usec());
	snprintf(bad, sizeof(bad), "\n\n  %s  \n", text);
	test_write_text(c->path, bad);
	assert_int_equal(RUN(c, "--run-dir", c->dir, "time", "status", "--json"), 0);
	assert_int_equal(c->run.out[0], '{');
	assert_string_equal(c->run.out + strlen(c->run.out) - 2, "}\n");
}

static void test_malformed_and_old(void **state)
{
	Ctx *c = *state;
	char text[1024];

	test_write_text(c->path, "{\"mode\":\"monitor\",\"adjusting\":\"no\"}");
	assert_int_equal(RUN(c, "time", "status", "--run-dir", c->dir), 1);
	assert_string_equal(c->run.out, "");
	hvctl_assert_contains(c->run.err, "Malformed time sync status '");
	hvctl_assert_contains(c->run.err,
			      "timesync.json': line 1: \"adjusting\" must be true or false\n");
	assert_int_equal(RUN(c, "time", "status", "--run-dir", c->dir, "--json"), 1);
	assert_string_equal(c->run.out, "");

	/* A status a minute old: still shown, with a warning that the daemon may be gone. */
	snprintf(text, sizeof(text), status_fmt, (unsigned long long)(now_usec() - 60000000u));
	test_write_text(c->path, text);
	assert_int_equal(RUN(c, "time", "status", "--run-dir", c->dir), 0);
	hvctl_assert_contains(c->run.err, "Warning: the status is 6");
	hvctl_assert_contains(c->run.err, " s old; is hv-timesync-daemon running?\n");
	hvctl_assert_contains(c->run.out, "State:         locked\n");
}

static void test_usage(void **state)
{
	Ctx *c = *state;

	assert_int_equal(RUN(c, "time"), 2);
	hvctl_assert_contains(c->run.err, "'time' needs a command (status).");
	assert_int_equal(RUN(c, "time", "status", "extra"), 2);
	assert_int_equal(RUN(c, "--help"), 0);
	hvctl_assert_contains(c->run.out, "  time status ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_nulls_escapes_unknown),
		cmocka_unit_test(test_parse_long_string_truncated),
		cmocka_unit_test(test_parse_daemon_output),
		cmocka_unit_test(test_parse_not_utf8),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_format_ns),
		cmocka_unit_test(test_print_text),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_and_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
