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

#include "common/event.h"
#include "common/fileio.h"
#include "common/hv-status.h"
#include "kvp/kvp-status.h"

typedef struct Fixture {
	char dir[64];
	int dirfd;
	Event *e;
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-kvp-status-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open_dir(f->dir);
	assert_true(f->dirfd >= 0);
	assert_int_equal(event_new(&f->e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;

	event_free(f->e);
	(void)unlinkat(f->dirfd, KVP_STATUS_FILE, 0);
	close(f->dirfd);
	assert_int_equal(rmdir(f->dir), 0); /* no temporary file left behind */
	free(f);
	return 0;
}

static char *read_status(Fixture *f)
{
	char *text = NULL;
	size_t size;
	int r = read_full_file_at(f->dirfd, KVP_STATUS_FILE, 65536, &text, &size);

	return r < 0 ? NULL : text;
}

static void test_format(void **state)
{
	KvpStatusInfo info = {
		.pid = 123,
		.started_usec = 1700000000000000u,
		.device = "/dev/vmbus/hv_kvp",
		.requests = { [KVP_OP_GET] = 5, [KVP_OP_ENUMERATE] = 17 },
		.requests_invalid = 1,
	};
	char buf[1024];
	int n;

	n = kvp_status_format(&info, buf, sizeof(buf));
	assert_string_equal(buf, "pid=123\nstarted=1700000000000000\ndevice=/dev/vmbus/hv_kvp\n"
				 "requests_get=5\nrequests_set=0\nrequests_delete=0\n"
				 "requests_enumerate=17\nrequests_get_ip_info=0\n"
				 "requests_set_ip_info=0\nrequests_invalid=1\n");
	assert_int_equal(n, (int)strlen(buf));

	info.has_last = true;
	info.last_op = KVP_OP_ENUMERATE;
	info.last_pool = 2;
	info.last_status = HV_S_OK;
	info.last_usec = 1700000001000000u;
	n = kvp_status_format(&info, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "requests_invalid=1\nlast_op=enumerate\nlast_pool=2\n"
				    "last_status=HV_S_OK\nlast_time=1700000001000000\n"));
	/* An operation the decoder did not know is named by number. */
	info.last_op = 77;
	n = kvp_status_format(&info, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "last_op=op-77\n"));
	/* Every length short of the whole text is refused, never truncated. */
	for (size_t size = 0; size <= (size_t)n; size++)
		assert_int_equal(kvp_status_format(&info, buf, size), -ENOBUFS);
}

static void test_lifecycle(void **state)
{
	Fixture *f = *state;
	KvpStatus *s = NULL;
	char *text, expect[64];
	uint64_t t0;

	assert_int_equal(kvp_status_new(f->e, dup(f->dirfd), "/dev/test", &s), 0);
	text = read_status(f);
	assert_non_null(text);
	snprintf(expect, sizeof(expect), "pid=%ld\n", (long)getpid());
	assert_true(strncmp(text, expect, strlen(expect)) == 0);
	assert_non_null(strstr(text, "device=/dev/test\n"));
	assert_null(strstr(text, "last_op="));
	free(text);

	/* Idle: no timer, so the loop has nothing to do and returns at the timeout. */
	assert_int_equal(event_run(f->e, 10 * USEC_PER_MSEC), 0);

	/* The first change after start waits out the interval since the initial write. */
	t0 = now_usec(CLOCK_MONOTONIC);
	kvp_status_note_request(s, true, KVP_OP_GET, 0, HV_S_OK);
	kvp_status_note_request(s, true, KVP_OP_GET, 0, HV_E_FAIL);
	kvp_status_note_request(s, false, 9, 7, HV_E_FAIL);
	assert_int_equal(kvp_status_info(s)->requests[KVP_OP_GET], 2u);
	assert_int_equal(kvp_status_info(s)->requests_invalid, 1u);
	text = read_status(f);
	assert_non_null(text);
	assert_non_null(strstr(text, "requests_get=0\n")); /* not yet written */
	free(text);
	while (event_run(f->e, 3 * USEC_PER_SEC) == 0)
		;
	assert_true(now_usec(CLOCK_MONOTONIC) - t0 >= KVP_STATUS_INTERVAL_USEC / 2);
	text = read_status(f);
	assert_non_null(text);
	assert_non_null(strstr(text, "requests_get=2\n"));
	assert_non_null(strstr(text, "requests_invalid=1\nlast_op=op-9\nlast_pool=7\n"
				     "last_status=HV_E_FAIL\n"));
	free(text);
	/* Written: idle again, no timer armed. */
	assert_int_equal(event_run(f->e, 10 * USEC_PER_MSEC), 0);

	/* A clean exit removes the file. */
	s = kvp_status_free(s);
	assert_int_equal(faccessat(f->dirfd, KVP_STATUS_FILE, F_OK, 0), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_new_bad_dir(void **state)
{
	Fixture *f = *state;
	KvpStatus *s = NULL;

	/* A descriptor that is not a directory: the first write fails and nothing is returned. */
	assert_true(kvp_status_new(f->e, open("/dev/null", O_RDONLY | O_CLOEXEC), "/dev/x", &s) <
		    0);
	assert_null(s);
	kvp_status_note_request(NULL, true, 0, 0, 0); /* no status: ignored */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_bad_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
