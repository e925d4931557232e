/* SPDX-License-Identifier: MIT */
/*
 * hvctl next to a running hv_kvp_daemon, both real binaries, with hv-hostsim playing the
 * host: what hvctl sets in the guest pool the host enumerates and gets, in place changes and
 * deletions (zeroed records) are seen at once, cloud-init's appends survive, and hvctl reads
 * and watches what the host wrote through the daemon while refusing to write it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/event.h"
#include "common/hv-status.h"
#include "ctl/test-ctl-util.h"
#include "integration-util.h"

#define OUT_MAX 8192

static int setup(void **state)
{
	Guest *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	assert_non_null(getenv("HVCTL"));
	assert_int_equal(it_start(g, false, NULL), 0);
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	Guest *g = *state;

	it_stop(g);
	free(g);
	return 0;
}

/* Runs hvctl to the end; stdout into out (NUL-terminated); returns the exit status. */
static int hvctl(const Guest *g, char *out, const char *const *args)
{
	char err[OUT_MAX];
	int fd_out, fd_err;
	pid_t pid = hvctl_spawn(g->state_dir, args, &fd_out, &fd_err);
	int status = hvctl_collect(pid, fd_out, fd_err, out, OUT_MAX, err, sizeof(err));

	if (err[0])
		print_message("hvctl: %s", err);
	return status;
}

#define HVCTL(g, out, ...) hvctl((g), (out), (const char *const[]){ __VA_ARGS__, NULL })

static void expect_status(const HostKvpReply *r, uint32_t status)
{
	if (r->status != status)
		fail_msg("host saw status 0x%08x, expected 0x%08x", r->status, status);
}

/* What the host enumerates in pool, as "key=value;" pairs in position order. */
static void host_enumerate(Guest *g, uint8_t pool, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (uint32_t i = 0;; i++) {
		HostKvpReply r;
		int n;

		assert_int_equal(hostsim_kvp_enumerate(g->sim, pool, i, &r), 0);
		if (r.status == HV_S_CONT)
			return;
		expect_status(&r, HV_S_OK);
		n = snprintf(buf + len, size - len, "%s=%s;", r.key, r.value);
		assert_true(n > 0 && (size_t)n < size - len);
		len += (size_t)n;
	}
}

static void test_host_sees_guest_pool(void **state)
{
	Guest *g = *state;
	char out[OUT_MAX], seen[OUT_MAX];
	HostKvpReply r;

	assert_int_equal(HVCTL(g, out, "kvp", "set", "DeploymentStage", "provisioning"), 0);
	host_enumerate(g, 1, seen, sizeof(seen));
	assert_string_equal(seen, "DeploymentStage=provisioning;");

	/* cloud-init appends meanwhile; then a second key of ours, non-ASCII. */
	assert_int_equal(it_append_records(g, 1, "CLOUD_INIT", 0, 2), 0);
	assert_int_equal(HVCTL(g, out, "kvp", "set", "Größe", "日本語 \xF0\x9F\x98\x80"), 0);
	assert_int_equal(hostsim_kvp_get(g->sim, 1, "Größe", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.value, "日本語 \xF0\x9F\x98\x80");

	/* In place: the host sees the new value at the same position. */
	assert_int_equal(HVCTL(g, out, "kvp", "set", "DeploymentStage", "ready"), 0);
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 1, 0, &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.key, "DeploymentStage");
	assert_string_equal(r.value, "ready");

	/* Deleted: the zeroed record is skipped, everything else still there. */
	assert_int_equal(HVCTL(g, out, "kvp", "delete", "DeploymentStage"), 0);
	host_enumerate(g, 1, seen, sizeof(seen));
	assert_null(strstr(seen, "DeploymentStage"));
	assert_non_null(strstr(seen, "CLOUD_INIT|0="));
	assert_non_null(strstr(seen, "CLOUD_INIT|1="));
	assert_non_null(strstr(seen, "Größe=日本語"));
	assert_int_equal(hostsim_kvp_get(g->sim, 1, "DeploymentStage", &r), 0);
	assert_true(r.status != HV_S_OK);
	assert_int_equal(it_pool_wait_count(g, 1, 4, 0), 4); /* same size: zeroed, not removed */

	/* hvctl and the host agree on the list. */
	assert_int_equal(HVCTL(g, out, "kvp", "list", "--json"), 0);
	assert_non_null(strstr(out, "{\"key\":\"CLOUD_INIT|0\",\"value\":\"{\\\"name\\\":"));
	assert_null(strstr(out, "DeploymentStage"));
}

static void test_host_pools_read_only(void **state)
{
	Guest *g = *state;
	char out[OUT_MAX];
	HostKvpReply r;

	assert_int_equal(hostsim_kvp_set(g->sim, 0, "EEE", "555", &r), 0);
	expect_status(&r, HV_S_OK);
	/* The daemon persists in the background. */
	assert_int_equal(it_pool_wait_count(g, 0, 1, 5 * USEC_PER_SEC), 1);
	assert_int_equal(HVCTL(g, out, "kvp", "get", "--pool", "0", "EEE"), 0);
	assert_string_equal(out, "555\n");

	/* Writing the host's pools is refused and changes nothing. */
	assert_int_equal(HVCTL(g, out, "kvp", "set", "--pool", "0", "EEE", "666"), 1);
	assert_int_equal(HVCTL(g, out, "kvp", "delete", "--pool", "0", "EEE"), 1);
	assert_int_equal(hostsim_kvp_get(g->sim, 0, "EEE", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.value, "555");

	/* The auto pool is the daemon's: nothing in the file, said so. */
	assert_int_equal(HVCTL(g, out, "kvp", "list", "--pool", "2", "--json"), 0);
	assert_string_equal(out, "{\"pool\":2,\"records\":[]}\n");
}

static void test_watch_host_pool(void **state)
{
	Guest *g = *state;
	char obuf[OUT_MAX], ebuf[OUT_MAX], line[1024];
	size_t olen = 0, elen = 0;
	HostKvpReply r;
	int out, err, status;
	pid_t pid;

	pid = hvctl_spawn(g->state_dir,
			  (const char *const[]){ "kvp", "watch", "--pool", "3", NULL }, &out, &err);
	hvctl_read_line(err, ebuf, sizeof(ebuf), &elen, line, sizeof(line));
	assert_non_null(strstr(line, "Watching pool 3"));

	/* The daemon replaces pool 3 by rename: seen through IN_MOVED_TO. */
	assert_int_equal(hostsim_kvp_set(g->sim, 3, "VirtualMachineName", "web-01", &r), 0);
	expect_status(&r, HV_S_OK);
	hvctl_read_line(out, obuf, sizeof(obuf), &olen, line, sizeof(line));
	assert_string_equal(line, "+ VirtualMachineName = web-01");
	assert_int_equal(hostsim_kvp_set(g->sim, 3, "VirtualMachineName", "web-02", &r), 0);
	hvctl_read_line(out, obuf, sizeof(obuf), &olen, line, sizeof(line));
	assert_string_equal(line, "~ VirtualMachineName = web-02");
	assert_int_equal(hostsim_kvp_delete(g->sim, 3, "VirtualMachineName", &r), 0);
	expect_status(&r, HV_S_OK);
	hvctl_read_line(out, obuf, sizeof(obuf), &olen, line, sizeof(line));
	assert_string_equal(line, "- VirtualMachineName");

	assert_int_equal(kill(pid, SIGINT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(out);
	close(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_sees_guest_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_pools_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_host_pool, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
