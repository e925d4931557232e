/* SPDX-License-Identifier: MIT */
/*
 * hvctl next to a running hv_kvp_daemon, both real binaries, with hv-hostsim playing the
 * host: what hvctl sets in the guest pool the host enumerates and gets, in place changes and
 * deletions (zeroed records) are seen at once, cloud-init's appends survive, and hvctl reads
 * and watches what the host wrote through the daemon while refusing to write it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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
#include "integration-util.h"

extern char **environ;

#define OUT_MAX 8192
#define WAIT_USEC (10 * USEC_PER_SEC)

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

/* $HVCTL --state-dir <guest's> args..., stdout and stderr on pipes. */
static pid_t spawn_hvctl(const Guest *g, const char *const *args, int *ret_out, int *ret_err)
{
	posix_spawn_file_actions_t fa;
	char *argv[16];
	int out[2], err[2];
	size_t n = 0;
	pid_t pid;

	argv[n++] = getenv("HVCTL");
	argv[n++] = (char *)"--state-dir";
	argv[n++] = (char *)g->state_dir;
	for (size_t i = 0; args[i]; i++) {
		assert_true(n < 15);
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO), 0);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	*ret_out = out[0];
	*ret_err = err[0];
	return pid;
}

/* Runs hvctl to the end; stdout into out (NUL-terminated); returns the exit status. */
static int hvctl(const Guest *g, char *out, const char *const *args)
{
	char err[OUT_MAX];
	size_t len[2] = { 0, 0 };
	char *buf[2] = { out, err };
	struct pollfd p[2];
	int status;
	pid_t pid = spawn_hvctl(g, args, &p[0].fd, &p[1].fd);

	p[0].events = p[1].events = POLLIN;
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		assert_true(poll(p, 2, (int)(WAIT_USEC / USEC_PER_MSEC)) > 0);
		for (int i = 0; i < 2; i++) {
			ssize_t k;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			k = read(p[i].fd, buf[i] + len[i], OUT_MAX - 1 - len[i]);
			assert_true(k >= 0);
			if (k == 0) {
				close(p[i].fd);
				p[i].fd = -1;
			}
			len[i] += (size_t)k;
		}
	}
	out[len[0]] = '\0';
	err[len[1]] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (err[0])
		print_message("hvctl: %s", err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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

/* Reads one line from fd within WAIT_USEC. */
static void read_line(int fd, char *buf, size_t *len, char *line, size_t size)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + WAIT_USEC;

	for (;;) {
		char *nl = memchr(buf, '\n', *len);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (nl) {
			size_t n = (size_t)(nl - buf);

			assert_true(n < size);
			memcpy(line, buf, n);
			line[n] = '\0';
			memmove(buf, nl + 1, *len - n - 1);
			*len -= n + 1;
			return;
		}
		assert_true(now_usec(CLOCK_MONOTONIC) < deadline);
		assert_true(poll(&p, 1, 100) >= 0);
		if (!p.revents)
			continue;
		k = read(fd, buf + *len, OUT_MAX - *len);
		if (k <= 0)
			fail_msg("hvctl watch ended its output early");
		*len += (size_t)k;
	}
}

static void test_watch_host_pool(void **state)
{
	Guest *g = *state;
	char obuf[OUT_MAX], ebuf[OUT_MAX], line[1024];
	size_t olen = 0, elen = 0;
	HostKvpReply r;
	int out, err, status;
	pid_t pid;

	pid = spawn_hvctl(g, (const char *const[]){ "kvp", "watch", "--pool", "3", NULL }, &out,
			  &err);
	read_line(err, ebuf, &elen, line, sizeof(line));
	assert_non_null(strstr(line, "Watching pool 3"));

	/* The daemon replaces pool 3 by rename: seen through IN_MOVED_TO. */
	assert_int_equal(hostsim_kvp_set(g->sim, 3, "VirtualMachineName", "web-01", &r), 0);
	expect_status(&r, HV_S_OK);
	read_line(out, obuf, &olen, line, sizeof(line));
	assert_string_equal(line, "+ VirtualMachineName = web-01");
	assert_int_equal(hostsim_kvp_set(g->sim, 3, "VirtualMachineName", "web-02", &r), 0);
	read_line(out, obuf, &olen, line, sizeof(line));
	assert_string_equal(line, "~ VirtualMachineName = web-02");
	assert_int_equal(hostsim_kvp_delete(g->sim, 3, "VirtualMachineName", &r), 0);
	expect_status(&r, HV_S_OK);
	read_line(out, obuf, &olen, line, sizeof(line));
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
