/* SPDX-License-Identifier: MIT */
/*
 * hv_kvp_daemon end to end: the real binary against hv-hostsim, over the emulated
 * /dev/vmbus/hv_kvp, as the Hyper-V host would drive it.
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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "common/event.h"
#include "common/hv-status.h"
#include "integration-util.h"

#define MSG_SIZE 7432u

static int setup(void **state)
{
	Guest *g = calloc(1, sizeof(*g));

	assert_non_null(g);
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

static void expect_status(HostKvpReply *r, uint32_t status)
{
	if (r->status != status)
		fail_msg("host saw status 0x%08x, expected 0x%08x", r->status, status);
}

static void test_auto_pool(void **state)
{
	static const char *const keys[] = {
		"FullyQualifiedDomainName",
		"IntegrationServicesVersion",
		"NetworkAddressIPv4",
		"NetworkAddressIPv6",
		"OSBuildNumber",
		"OSName",
		"OSMajorVersion",
		"OSMinorVersion",
		"OSVersion",
		"ProcessorArchitecture",
	};
	Guest *g = *state;
	HostKvpReply r;

	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(hostsim_kvp_enumerate(g->sim, 2, i, &r), 0);
		expect_status(&r, HV_S_OK);
		assert_string_equal(r.key, keys[i]);
		switch (i) {
		case 0:
			assert_string_equal(r.value, "hvguest-vm.example.test");
			break;
		case 1:
			assert_string_equal(r.value, "3.1");
			break;
		case 2:
			/* The primary NIC first; no loopback, no docker0 bridge. */
			assert_true(strncmp(r.value, HOSTSIM_IPV4, strlen(HOSTSIM_IPV4)) == 0);
			assert_null(strstr(r.value, "127.0.0.1"));
			assert_null(strstr(r.value, "172.17."));
			break;
		case 3:
			assert_non_null(strstr(r.value, HOSTSIM_IPV6));
			assert_null(strstr(r.value, "::1;"));
			break;
		case 5:
			assert_string_equal(r.value, "Debian GNU/Linux");
			break;
		case 6:
			assert_string_equal(r.value, "12");
			break;
		default:
			break;
		}
	}
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 2, 10, &r), 0);
	expect_status(&r, HV_S_CONT);

	/* GET works on the auto pool too (upstream answers HV_S_CONT). */
	assert_int_equal(hostsim_kvp_get(g->sim, 2, "OSName", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.value, "Debian GNU/Linux");
}

static void test_pool_files(void **state)
{
	Guest *g = *state;
	struct dirent *de;
	DIR *d;
	int n = 0;

	for (unsigned p = 0; p < 5; p++) {
		char path[600];
		struct stat st;

		it_pool_path(g, p, path, sizeof(path));
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644);
		assert_true(S_ISREG(st.st_mode));
	}
	d = opendir(g->state_dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, ".kvp_pool", 9) == 0)
			n++;
	closedir(d);
	assert_int_equal(n, 5);
}

static void test_set_get_delete(void **state)
{
	Guest *g = *state;
	HostKvpReply r;
	uint8_t *data = NULL;

	/* The validation suite's sequence: EEE=555, then 999, exactly one record. */
	assert_int_equal(hostsim_kvp_set(g->sim, 0, "EEE", "555", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_int_equal(hostsim_kvp_set(g->sim, 0, "EEE", "999", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_int_equal(hostsim_kvp_get(g->sim, 0, "EEE", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.value, "999");

	assert_int_equal(hostsim_kvp_enumerate(g->sim, 0, 0, &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.key, "EEE");
	assert_string_equal(r.value, "999");
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 0, 1, &r), 0);
	expect_status(&r, HV_S_CONT);

	/* Persisted in the background: one zero-padded record. */
	assert_int_equal(it_pool_wait_count(g, 0, 1, 5 * USEC_PER_SEC), 1);
	assert_int_equal(it_pool_read(g, 0, &data), 1);
	assert_string_equal((char *)data, "EEE");
	assert_string_equal((char *)data + 512, "999");
	for (size_t i = 4; i < 512; i++)
		assert_int_equal(data[i], 0);
	for (size_t i = 512 + 4; i < POOL_RECORD; i++)
		assert_int_equal(data[i], 0);
	free(data);

	assert_int_equal(hostsim_kvp_delete(g->sim, 0, "EEE", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_int_equal(hostsim_kvp_get(g->sim, 0, "EEE", &r), 0);
	expect_status(&r, HV_S_CONT);
	assert_int_equal(hostsim_kvp_delete(g->sim, 0, "EEE", &r), 0);
	expect_status(&r, HV_S_CONT);
	assert_int_equal(it_pool_wait_count(g, 0, 0, 5 * USEC_PER_SEC), 0);
}

static void test_u32_value_and_utf8(void **state)
{
	Guest *g = *state;
	HostKvpReply r;

	assert_int_equal(hostsim_kvp_set_u32(g->sim, 3, "Counter", 4294967295u, &r), 0);
	expect_status(&r, HV_S_OK);
	assert_int_equal(hostsim_kvp_get(g->sim, 3, "Counter", &r), 0);
	assert_string_equal(r.value, "4294967295");

	/* Non-ASCII survives UTF-16 -> UTF-8 -> UTF-16, including an astral character. */
	assert_int_equal(hostsim_kvp_set(g->sim, 0, "Größe", "日本語 \xF0\x9F\x98\x80", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_int_equal(hostsim_kvp_get(g->sim, 0, "Größe", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.value, "日本語 \xF0\x9F\x98\x80");
}

static void test_host_pool_order(void **state)
{
	Guest *g = *state;
	static const char *const order[] = { "HostName", "VirtualMachineName", "VirtualMachineId" };
	HostKvpReply r;

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(hostsim_kvp_set(g->sim, 3, order[i], "v1", &r), 0);
		expect_status(&r, HV_S_OK);
	}
	/* Updating the first key keeps its position and adds no duplicate. */
	assert_int_equal(hostsim_kvp_set(g->sim, 3, "HostName", "v2", &r), 0);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(hostsim_kvp_enumerate(g->sim, 3, i, &r), 0);
		expect_status(&r, HV_S_OK);
		assert_string_equal(r.key, order[i]);
		assert_string_equal(r.value, i == 0 ? "v2" : "v1");
	}
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 3, 3, &r), 0);
	expect_status(&r, HV_S_CONT);
}

static void test_refused_pools(void **state)
{
	Guest *g = *state;
	HostKvpReply r;

	for (uint8_t pool = 1; pool <= 4; pool++) {
		if (pool == 3)
			continue;
		assert_int_equal(hostsim_kvp_set(g->sim, pool, "k", "v", &r), 0);
		expect_status(&r, HV_ERROR_NOT_SUPPORTED);
	}
	/* Pool 4 holds nothing the daemon wrote. */
	assert_int_equal(it_pool_wait_count(g, 4, 0, 100 * USEC_PER_MSEC), 0);
	/* A pool index out of range (the kernel does not check it). */
	assert_int_equal(hostsim_kvp_set(g->sim, 7, "k", "v", &r), 0);
	expect_status(&r, HV_INVALIDARG);
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 200, 0, &r), 0);
	expect_status(&r, HV_INVALIDARG);
	/* Still serving. */
	assert_int_equal(hostsim_kvp_set(g->sim, 0, "after", "ok", &r), 0);
	expect_status(&r, HV_S_OK);
}

static uint32_t raw_request(Guest *g, const uint8_t *msg, uint8_t *reply)
{
	size_t len = 0;
	uint32_t host_status = 0;

	assert_int_equal(
		hostsim_kvp_raw(g->sim, msg, MSG_SIZE, reply, MSG_SIZE, &len, &host_status), 0);
	assert_int_equal(len, MSG_SIZE);
	return host_status;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void test_bad_messages(void **state)
{
	Guest *g = *state;
	static uint8_t msg[MSG_SIZE], reply[MSG_SIZE];
	HostKvpReply r;

	/* SET whose key_size disagrees with the string. */
	memset(msg, 0, sizeof(msg));
	msg[0] = 1;
	msg[1] = 0;
	put_u32(msg + 8, 100);
	memcpy(msg + 16, "abc", 4);
	put_u32(msg + 12, 2);
	memcpy(msg + 528, "v", 2);
	assert_int_equal(raw_request(g, msg, reply), HV_INVALIDARG);

	/* A key with no NUL in its 512 bytes. */
	memset(msg, 0, sizeof(msg));
	msg[0] = 1;
	memset(msg + 16, 'k', 512);
	put_u32(msg + 8, 512);
	put_u32(msg + 12, 2);
	memcpy(msg + 528, "v", 2);
	assert_int_equal(raw_request(g, msg, reply), HV_INVALIDARG);

	/* Invalid UTF-8 in the value. */
	memset(msg, 0, sizeof(msg));
	msg[0] = 1;
	memcpy(msg + 16, "key", 4);
	put_u32(msg + 8, 4);
	memcpy(msg + 528, "\xC0\xAF", 3);
	put_u32(msg + 12, 3);
	assert_int_equal(raw_request(g, msg, reply), HV_INVALIDARG);

	/* Unknown operation. */
	memset(msg, 0, sizeof(msg));
	msg[0] = 42;
	assert_int_equal(raw_request(g, msg, reply), HV_ERROR_NOT_SUPPORTED);

	/* Nothing of that was stored, and the daemon still answers. */
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 0, 0, &r), 0);
	expect_status(&r, HV_S_CONT);
}

static void test_foreign_pool1(void **state)
{
	Guest *g = *state;
	char path[600];
	uint8_t rec[POOL_RECORD];
	HostKvpReply r;
	int fd;

	it_pool_path(g, 1, path, sizeof(path));
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	/* 1: junk after the NULs (a rewriting tool that did not zero its buffer). */
	memset(rec, 'J', sizeof(rec));
	memcpy(rec, "first", 6);
	memcpy(rec + 512, "one", 4);
	assert_int_equal(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	/* 2: a 512-byte key with no NUL (cloud-init's struct packing). */
	memset(rec, 0, sizeof(rec));
	memset(rec, 'K', 512);
	memcpy(rec + 512, "two", 4);
	assert_int_equal(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	/* 3: invalid UTF-8 key: skipped. */
	memset(rec, 0, sizeof(rec));
	memcpy(rec, "\xFF\xFE", 3);
	memcpy(rec + 512, "three", 6);
	assert_int_equal(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	/* 4: fine. */
	memset(rec, 0, sizeof(rec));
	memcpy(rec, "fourth", 7);
	memcpy(rec + 512, "four", 5);
	assert_int_equal(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	/* A partial record, as a lock-free appender mid-write would leave it. */
	assert_int_equal(write(fd, rec, 1000), 1000);
	close(fd);

	assert_int_equal(hostsim_kvp_enumerate(g->sim, 1, 0, &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.key, "first");
	assert_string_equal(r.value, "one");
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 1, 1, &r), 0);
	expect_status(&r, HV_S_OK);
	/* Capped: the kernel hands the host at most 254 UTF-16 units of a key. */
	assert_true(strlen(r.key) >= 254);
	assert_true(strspn(r.key, "K") == strlen(r.key));
	assert_string_equal(r.value, "two");
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 1, 2, &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.key, "fourth");
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 1, 3, &r), 0);
	expect_status(&r, HV_S_CONT);
}

static void test_restart_keeps_host_pools(void **state)
{
	Guest *g = *state;
	HostKvpReply r;

	assert_int_equal(hostsim_kvp_set(g->sim, 0, "persist", "me", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_int_equal(hostsim_kvp_set(g->sim, 3, "HostName", "h1", &r), 0);
	/* A clean stop flushes what is pending. */
	int status = it_stop(g);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(it_start(g, true, NULL), 0);

	assert_int_equal(hostsim_kvp_get(g->sim, 0, "persist", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_string_equal(r.value, "me");
	assert_int_equal(hostsim_kvp_get(g->sim, 3, "HostName", &r), 0);
	assert_string_equal(r.value, "h1");
}

static void test_second_opener(void **state)
{
	Guest *g = *state;
	HostSimKvpStats before, after;
	int fd;

	hostsim_kvp_stats(g->sim, &before);
	fd = open(hostsim_kvp_device(g->sim), O_RDWR | O_CLOEXEC);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EBUSY);

	/* A second daemon says why and exits non-zero; the first keeps serving. */
	HostSimDaemon *d;
	char *argv[] = { getenv("HV_KVP_DAEMON"),
			 (char *)"--device",
			 (char *)hostsim_kvp_device(g->sim),
			 (char *)"--state-dir",
			 g->state_dir,
			 (char *)"--config",
			 (char *)"/nonexistent",
			 NULL };
	int status = 0;
	assert_int_equal(hostsim_daemon_spawn(g->sim, argv, NULL, &d), 0);
	assert_int_equal(hostsim_daemon_wait(d, 10 * USEC_PER_SEC, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	hostsim_daemon_stop(d);

	hostsim_kvp_stats(g->sim, &after);
	assert_true(after.ebusy >= before.ebusy + 2);
	HostKvpReply r;
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 2, 0, &r), 0);
	expect_status(&r, HV_S_OK);
}

static void test_host_timeout_then_recovery(void **state)
{
	Guest *g = *state;
	HostSimKvpStats before, after;
	HostKvpReply r;

	hostsim_kvp_stats(g->sim, &before);
	/* The daemon misses the kernel's reply window (3 s here, 30 s on Hyper-V). */
	assert_int_equal(hostsim_daemon_signal(g->daemon, SIGSTOP), 0);
	assert_int_equal(hostsim_kvp_set(g->sim, 0, "late", "1", &r), 0);
	expect_status(&r, HV_E_FAIL);
	assert_int_equal(hostsim_daemon_signal(g->daemon, SIGCONT), 0);

	/* It reads the stale message, its reply is refused, it registers again. */
	uint64_t end = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;
	do {
		usleep(20000);
		hostsim_kvp_stats(g->sim, &after);
	} while (after.registrations <= before.registrations && now_usec(CLOCK_MONOTONIC) < end);
	assert_true(after.registrations > before.registrations);
	assert_true(after.einval_writes > before.einval_writes);
	assert_int_equal(hostsim_kvp_wait_ready(g->sim, 5 * USEC_PER_SEC), 0);

	assert_int_equal(hostsim_kvp_set(g->sim, 0, "after", "yes", &r), 0);
	expect_status(&r, HV_S_OK);
	assert_int_equal(hostsim_kvp_get(g->sim, 0, "after", &r), 0);
	assert_string_equal(r.value, "yes");
}

static void test_locked_pool_does_not_block_host(void **state)
{
	Guest *g = *state;
	char path[600];
	HostKvpReply r;
	int fd;

	/* Another program holds pool 0 locked (as a frozen /var would block the writer). */
	it_pool_path(g, 0, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);

	for (int i = 0; i < 20; i++) {
		char key[32];

		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(hostsim_kvp_set(g->sim, 0, key, "v", &r), 0);
		expect_status(&r, HV_S_OK); /* HV_E_FAIL would mean the 3 s window was missed */
	}
	assert_int_equal(hostsim_kvp_get(g->sim, 0, "k19", &r), 0);
	assert_string_equal(r.value, "v");

	/* Once the lock is gone, the writer catches up. */
	assert_int_equal(flock(fd, LOCK_UN), 0);
	close(fd);
	assert_int_equal(it_pool_wait_count(g, 0, 20, 10 * USEC_PER_SEC), 20);
}

static void test_resources_stable(void **state)
{
	Guest *g = *state;
	pid_t pid = hostsim_daemon_pid(g->daemon);
	HostKvpReply r;
	int fds, tasks;

	/* Warm up every code path once, then count. */
	assert_int_equal(hostsim_kvp_enumerate(g->sim, 2, 0, &r), 0);
	assert_int_equal(hostsim_kvp_set(g->sim, 0, "warm", "up", &r), 0);
	usleep(200000);
	fds = it_count_proc_dir(pid, "fd");
	tasks = it_count_proc_dir(pid, "task");
	assert_true(fds > 0 && tasks > 0);

	for (int i = 0; i < 500; i++) {
		char key[32];

		snprintf(key, sizeof(key), "key%d", i % 50);
		assert_int_equal(hostsim_kvp_set(g->sim, 0, key, "value", &r), 0);
		assert_int_equal(hostsim_kvp_enumerate(g->sim, (uint8_t)(i % 4), 0, &r), 0);
		assert_int_equal(hostsim_kvp_get(g->sim, 1, "nothing", &r), 0);
	}
	usleep(200000);
	assert_int_equal(it_count_proc_dir(pid, "fd"), fds);
	assert_int_equal(it_count_proc_dir(pid, "task"), tasks);
}

static void test_sigterm_exits_cleanly(void **state)
{
	Guest *g = *state;
	uint64_t start = now_usec(CLOCK_MONOTONIC);
	int status = it_stop(g);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Not a timing assertion on speed: it must not have needed the SIGKILL fallback. */
	assert_true(now_usec(CLOCK_MONOTONIC) - start < 5 * USEC_PER_SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auto_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_u32_value_and_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_pool_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_pools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_pool1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_host_pools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_opener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_timeout_then_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_pool_does_not_block_host, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resources_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_exits_cleanly, setup, teardown),
	};

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "needs root and /dev/fuse\n");
		return 77;
	}
	if (!it_sim()) {
		fprintf(stderr, "could not create the simulated host\n");
		return 1;
	}
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	hostsim_free(it_sim());
	return r;
}
