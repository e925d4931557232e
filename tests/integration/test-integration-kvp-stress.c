/* SPDX-License-Identifier: MIT */
/*
 * Concurrency: a cloud-init-style writer appends 10,000 records to pool 1 (O_APPEND,
 * flock, one write per record) while the host enumerates pool 1 and SETs pool 0, and the
 * daemon is SIGKILLed and restarted over and over. Not one record may be lost or torn,
 * and every enumeration the host completes must be a consistent prefix in order.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/event.h"
#include "common/hv-status.h"
#include "integration-util.h"

#define N_RECORDS 10000u
#define N_BATCHES 10

static void check_record(const uint8_t *rec, unsigned i)
{
	char key[64], value[128];

	snprintf(key, sizeof(key), "CLOUD_INIT|%u", i);
	snprintf(value, sizeof(value), "{\"name\":\"event\",\"seq\":%u,\"check\":%u}", i,
		 i * 2654435761u);
	if (strcmp((const char *)rec, key) != 0 || strcmp((const char *)rec + 512, value) != 0)
		fail_msg("record %u is torn or out of place: key '%.40s'", i, (const char *)rec);
}

/* Enumerates pool 1 fully; returns the records seen, checking order and content. */
static int enumerate_pool1(Guest *g)
{
	HostKvpReply r;
	uint32_t i;

	for (i = 0;; i++) {
		char key[64];

		assert_int_equal(hostsim_kvp_enumerate(g->sim, 1, i, &r), 0);
		if (r.status == HV_S_CONT)
			break;
		if (r.status != HV_S_OK)
			fail_msg("enumeration position %u: status 0x%08x", i, r.status);
		snprintf(key, sizeof(key), "CLOUD_INIT|%u", i);
		assert_string_equal(r.key, key);
	}
	return (int)i;
}

static void test_appends_survive_kills(void **state)
{
	Guest g = { 0 };
	uint8_t *data = NULL;
	int go[2], done[2];
	pid_t writer;
	int status, kills = 0, enumerations = 0, sets = 0;
	char b = 0;

	assert_int_equal(it_start(&g, false, NULL), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);

	/* The writer appends one batch per token, so every batch overlaps a kill. */
	writer = fork();
	assert_true(writer >= 0);
	if (writer == 0) {
		for (unsigned i = 0; i < N_BATCHES; i++) {
			if (read(go[0], &b, 1) != 1)
				_exit(2);
			if (it_append_records(&g, 1, "CLOUD_INIT", i * (N_RECORDS / N_BATCHES),
					      N_RECORDS / N_BATCHES) < 0)
				_exit(1);
			if (write(done[1], &b, 1) != 1)
				_exit(3);
		}
		_exit(0);
	}

	for (unsigned i = 0; i < N_BATCHES; i++) {
		HostKvpReply r;
		char key[32];
		int ks;

		assert_int_equal(write(go[1], &b, 1), 1);
		/* Kill the daemon while the batch is being appended, restart it at once. */
		ks = hostsim_daemon_signal(g.daemon, SIGKILL);
		assert_true(ks >= 0 && WIFSIGNALED(ks) && WTERMSIG(ks) == SIGKILL);
		hostsim_daemon_stop(g.daemon);
		g.daemon = NULL;
		kills++;
		assert_int_equal(it_start(&g, true, NULL), 0);

		/* The host enumerates and SETs while the appends go on. */
		int n = enumerate_pool1(&g);
		assert_true(n >= 0 && (unsigned)n <= N_RECORDS);
		enumerations++;
		snprintf(key, sizeof(key), "k%d", sets++);
		assert_int_equal(hostsim_kvp_set(g.sim, 0, key, "v", &r), 0);
		assert_int_equal(r.status, HV_S_OK);
		assert_int_equal(read(done[0], &b, 1), 1);
	}
	assert_int_equal(waitpid(writer, &status, 0), writer);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* On disk: exactly the 10,000 records, whole and in order. */
	assert_int_equal(it_pool_read(&g, 1, &data), N_RECORDS);
	for (unsigned i = 0; i < N_RECORDS; i++)
		check_record(data + (size_t)i * POOL_RECORD, i);
	free(data);

	/* And the host sees all of them. */
	assert_int_equal(enumerate_pool1(&g), N_RECORDS);
	print_message("%d kills, %d enumerations, %d SETs while %u records were appended\n", kills,
		      enumerations, sets, N_RECORDS);
	it_stop(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appends_survive_kills),
	};

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "needs root and /dev/fuse\n");
		return 77;
	}
	if (!it_sim())
		return 1;
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	hostsim_free(it_sim());
	return r;
}
