/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "timesync/timesync-status.h"

static TimesyncStatusInfo example(void)
{
	return (TimesyncStatusInfo){
		.mode = "discipline",
		.adjusting = true,
		.reason = "",
		.phc = "/dev/ptp_hyperv",
		.state = "locked",
		.offset_ns = 412.34,
		.frequency_ppb = -10123.4567,
		.stale = false,
		.synced = true,
		.n_steps = 1,
		.n_external_steps = 2,
		.n_events = 3,
		.last_step_ns = -5000000,
		.last_event = "migration",
		.updated_realtime_ns = 1700000000123456789ULL,
	};
}

static void test_format_all_keys(void **state)
{
	TimesyncStatusInfo info = example();
	char buf[1024];
	int n;

	n = timesync_status_format_json(&info, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_string_equal(buf,
			    "{\"mode\":\"discipline\",\"adjusting\":true,\"reason\":\"\","
			    "\"phc\":\"/dev/ptp_hyperv\",\"state\":\"locked\","
			    "\"offset_ns\":412.3,\"frequency_ppb\":-10123.457,"
			    "\"stale\":false,\"synced\":true,\"steps\":1,"
			    "\"external_steps\":2,\"events\":3,\"last_step_ns\":-5000000,"
			    "\"last_event\":\"migration\",\"updated_usec\":1700000000123456}\n");
}

static void test_format_monitor_nulls_and_numbers(void **state)
{
	TimesyncStatusInfo info = {
		.mode = "monitor",
		.reason = "chronyd is active",
		.phc = NULL,
		.state = "unlocked",
		.offset_ns = NAN,
		.frequency_ppb = INFINITY,
		.stale = true,
		.n_steps = UINT64_MAX,
		.last_step_ns = INT64_MIN,
		.last_event = NULL,
		.updated_realtime_ns = 999,
	};
	char buf[1024];

	assert_true(timesync_status_format_json(&info, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"adjusting\":false,\"reason\":\"chronyd is active\""));
	assert_non_null(strstr(buf, "\"phc\":null"));
	assert_non_null(strstr(buf, "\"offset_ns\":null,\"frequency_ppb\":null"));
	assert_non_null(strstr(buf, "\"stale\":true,\"synced\":false"));
	assert_non_null(strstr(buf, "\"steps\":18446744073709551615"));
	assert_non_null(strstr(buf, "\"last_step_ns\":-9223372036854775808"));
	assert_non_null(strstr(buf, "\"last_event\":\"\""));
	assert_non_null(strstr(buf, "\"updated_usec\":0}"));

	/* Rounding to one decimal, negative zero printed as 0.0, large offsets in full. */
	info.offset_ns = -0.04;
	assert_true(timesync_status_format_json(&info, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"offset_ns\":0.0,"));
	info.offset_ns = -123456789012.25;
	info.frequency_ppb = 0.0005;
	assert_true(timesync_status_format_json(&info, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"offset_ns\":-123456789012.2,"));
	assert_non_null(strstr(buf, "\"frequency_ppb\":0.001,"));
}

static void test_format_escaping(void **state)
{
	TimesyncStatusInfo info = example();
	char buf[1024];

	info.last_event = "a\"b\\c\nd\te\rf\x01g\x1fh\x7fi\xc3\xa9j/";
	info.reason = "";
	assert_true(timesync_status_format_json(&info, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"last_event\":\"a\\\"b\\\\c\\nd\\te\\rf\\u0001g\\u001fh"
				    "\\u007fi\xc3\xa9j/\""));
	/* No raw control character survives anywhere. */
	for (const char *p = buf; *p; p++)
		if (*p != '\n' || p[1] != '\0')
			assert_true((unsigned char)*p >= 0x20);
}

static void test_format_truncation(void **state)
{
	TimesyncStatusInfo info = example();
	char buf[1024];
	int n;

	n = timesync_status_format_json(&info, buf, sizeof(buf));
	assert_true(n > 0);
	/* Exactly enough (n + NUL) works; one byte less, and every smaller size, does not. */
	assert_int_equal(timesync_status_format_json(&info, buf, (size_t)n + 1), n);
	for (size_t size = 0; size <= (size_t)n; size++)
		assert_int_equal(timesync_status_format_json(&info, buf, size), -ENOBUFS);
}

static void test_write_atomic(void **state)
{
	char dir[] = "/tmp/test-timesync-status-XXXXXX", path[PATH_MAX];
	TimesyncStatusInfo info = example();
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *text = NULL;
	char expect[1024];
	struct stat st;
	size_t size;
	char *big;

	assert_non_null(mkdtemp(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);

	assert_int_equal(timesync_status_write(fd, &info), 0);
	assert_true(timesync_status_format_json(&info, expect, sizeof(expect)) > 0);
	assert_int_equal(read_full_file_at(fd, "timesync.json", 4096, &text, &size), 0);
	assert_string_equal(text, expect);
	assert_int_equal(fstatat(fd, "timesync.json", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* A state that does not fit leaves the old file alone and no temporary behind. */
	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	info.last_event = big;
	assert_int_equal(timesync_status_write(fd, &info), -ENOBUFS);
	free(big);
	free(text);
	text = NULL;
	assert_int_equal(read_full_file_at(fd, "timesync.json", 4096, &text, &size), 0);
	assert_string_equal(text, expect);

	/* Replaced on the next write. */
	info = example();
	info.n_events = 42;
	assert_int_equal(timesync_status_write(fd, &info), 0);
	free(text);
	text = NULL;
	assert_int_equal(read_full_file_at(fd, "timesync.json", 4096, &text, &size), 0);
	assert_non_null(strstr(text, "\"events\":42,"));

	assert_int_equal(unlinkat(fd, "timesync.json", 0), 0);
	/* Only timesync.json was there: the directory is empty now. */
	snprintf(path, sizeof(path), "%s", dir);
	assert_int_equal(rmdir(path), 0);

	/* A directory that is gone: the error comes back. */
	assert_true(timesync_status_write(fd, &info) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_all_keys),
		cmocka_unit_test(test_format_monitor_nulls_and_numbers),
		cmocka_unit_test(test_format_escaping),
		cmocka_unit_test(test_format_truncation),
		cmocka_unit_test(test_write_atomic),
	};

	return cmocka_run_group_tests_name("timesync-status", tests, NULL, NULL);
}
