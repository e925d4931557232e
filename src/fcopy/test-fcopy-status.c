/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "fcopy/fcopy-status.h"

static void test_result_names(void **state)
{
	assert_string_equal(fcopy_result_to_string(FCOPY_RESULT_OK), "ok");
	assert_string_equal(fcopy_result_to_string(FCOPY_RESULT_FAILED), "failed");
	assert_string_equal(fcopy_result_to_string(FCOPY_RESULT_CANCELLED), "cancelled");
	assert_null(fcopy_result_to_string(_FCOPY_RESULT_MAX));
	assert_null(fcopy_result_to_string(_FCOPY_RESULT_INVALID));
}

static void test_format(void **state)
{
	FcopyStatusInfo info = {
		.pid = 42,
		.started_usec = 1700000000000000u,
		.device = "/dev/uio3",
		.transport = "uio",
		.transfers = { 3, 1, 2 },
	};
	char buf[512];
	int n;

	n = fcopy_status_format(&info, buf, sizeof(buf));
	assert_string_equal(buf, "pid=42\nstarted=1700000000000000\ndevice=/dev/uio3\n"
				 "transport=uio\ntransfers_ok=3\ntransfers_failed=1\n"
				 "transfers_cancelled=2\n");
	assert_int_equal(n, (int)strlen(buf));

	/* A host-chosen name cannot add a line. */
	info.last_dest = "/tmp/a\nresult=ok\rb";
	info.last_bytes = 145;
	info.last_result = FCOPY_RESULT_FAILED;
	info.last_usec = 1700000005000000u;
	n = fcopy_status_format(&info, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf,
			       "transfers_cancelled=2\nlast_dest=/tmp/a?result=ok?b\n"
			       "last_bytes=145\nlast_result=failed\nlast_time=1700000005000000\n"));
	for (size_t size = 0; size <= (size_t)n; size++)
		assert_int_equal(fcopy_status_format(&info, buf, size), -ENOBUFS);

	info.last_result = _FCOPY_RESULT_MAX;
	assert_int_equal(fcopy_status_format(&info, buf, sizeof(buf)), -EINVAL);
}

static void test_lifecycle(void **state)
{
	char dir[] = "/tmp/test-fcopy-status-XXXXXX", expect[64];
	FcopyStatus *s = NULL;
	char *text = NULL;
	size_t size;
	int fd;

	assert_non_null(mkdtemp(dir));
	fd = open_dir(dir);
	assert_true(fd >= 0);
	assert_int_equal(fcopy_status_new(fd, "/dev/vmbus/hv_fcopy", "chardev", &s), 0);
	assert_int_equal(read_full_file_at(fd, FCOPY_STATUS_FILE, 65536, &text, &size), 0);
	snprintf(expect, sizeof(expect), "pid=%ld\n", (long)getpid());
	assert_true(strncmp(text, expect, strlen(expect)) == 0);
	assert_non_null(strstr(text, "device=/dev/vmbus/hv_fcopy\ntransport=chardev\n"));
	assert_null(strstr(text, "last_dest="));
	free(text);

	assert_int_equal(fcopy_status_note_transfer(s, "/tmp/x", 145, FCOPY_RESULT_OK), 0);
	assert_int_equal(fcopy_status_note_transfer(s, "/tmp/y", 7, FCOPY_RESULT_CANCELLED), 0);
	assert_int_equal(fcopy_status_note_transfer(s, "/tmp/z", 7, _FCOPY_RESULT_MAX), -EINVAL);
	assert_int_equal(read_full_file_at(fd, FCOPY_STATUS_FILE, 65536, &text, &size), 0);
	assert_non_null(strstr(text, "transfers_ok=1\ntransfers_failed=0\ntransfers_cancelled=1\n"
				     "last_dest=/tmp/y\nlast_bytes=7\nlast_result=cancelled\n"));
	free(text);
	assert_int_equal(fcopy_status_note_transfer(NULL, "/tmp/x", 1, FCOPY_RESULT_OK), 0);

	s = fcopy_status_free(s);
	assert_int_equal(faccessat(fd, FCOPY_STATUS_FILE, F_OK, 0), -1);
	assert_int_equal(errno, ENOENT);
	close(fd);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_lifecycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
