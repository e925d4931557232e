/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of the built hvctl binary ($HVCTL) against temporary state directories:
 * set/get/list/delete in human and JSON form, exact outputs, exit codes (0 ok, 1 not
 * found/refused, 2 usage, 3 I/O), refusals that leave the files alone, a held lock, and
 * watch reporting changes made by hvctl and by a cloud-init style appender.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/event.h"
#include "ctl/test-ctl-util.h"
#include "kvp/kvp-store.h"

#define RS ((size_t)KVP_RECORD_SIZE)
#define OUT_MAX 16384 /* a watcher's buffer */

typedef struct Ctx {
	char dir[64];
	char pool1[128];
} Ctx;

static int setup(void **state)
{
	Ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_non_null(getenv("HVCTL"));
	snprintf(c->dir, sizeof(c->dir), "/tmp/test-hvctl-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->pool1, sizeof(c->pool1), "%s/.kvp_pool_1", c->dir);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	Ctx *c = *state;
	struct dirent *de;
	DIR *d = opendir(c->dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			assert_int_equal(unlinkat(dirfd(d), de->d_name, 0), 0);
	closedir(d);
	assert_int_equal(rmdir(c->dir), 0);
	free(c);
	return 0;
}

static HvctlRun *new_run(void)
{
	HvctlRun *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static off_t file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return st.st_size;
}

static void test_set_get_list(void **state)
{
	Ctx *c = *state;
	HvctlRun *r = new_run();

	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "k1", "v1"), 0);
	assert_string_equal(r->out, "");
	assert_string_equal(r->err, "");
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "key two", "välue 2"), 0);
	assert_int_equal(file_size(c->pool1), 2 * RS);

	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "k1"), 0);
	assert_string_equal(r->out, "v1\n");
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "list"), 0);
	assert_string_equal(r->out, "k1      = v1\nkey two = välue 2\n");
	assert_string_equal(r->err, "");
	/* Options before or after the command. */
	assert_int_equal(HVCTL_RUN(r, c->dir, "--json", "kvp", "list"), 0);
	assert_string_equal(r->out, "{\"pool\":1,\"records\":[{\"key\":\"k1\",\"value\":\"v1\"},"
				    "{\"key\":\"key two\",\"value\":\"välue 2\"}]}\n");
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "key two", "--json", "--pool", "1"), 0);
	assert_string_equal(r->out, "{\"pool\":1,\"key\":\"key two\",\"value\":\"välue 2\"}\n");

	/* Replacing keeps the size. */
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "k1", "new"), 0);
	assert_int_equal(file_size(c->pool1), 2 * RS);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "-j", "k1"), 0);
	assert_string_equal(r->out, "{\"pool\":1,\"key\":\"k1\",\"value\":\"new\"}\n");
	free(r);
}

static void test_delete(void **state)
{
	Ctx *c = *state;
	HvctlRun *r = new_run();

	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "a", "1"), 0);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "b", "2"), 0);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "delete", "a"), 0);
	assert_string_equal(r->out, "");
	/* Zeroed in place: same size. */
	assert_int_equal(file_size(c->pool1), 2 * RS);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "a"), 1);
	assert_non_null(strstr(r->err, "Key 'a' not found in pool 1"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "list"), 0);
	assert_string_equal(r->out, "b = 2\n");
	assert_string_equal(r->err, ""); /* the hole is no damage */
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "delete", "a"), 1);
	assert_non_null(strstr(r->err, "nothing deleted"));
	free(r);
}

static void test_refusals(void **state)
{
	Ctx *c = *state;
	HvctlRun *r = new_run();
	char longval[1100];

	/* Host and daemon pools. */
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "--pool", "0", "k", "v"), 1);
	assert_non_null(strstr(r->err, "written by the Hyper-V host through hv_kvp_daemon"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "-p", "3", "kvp", "delete", "k"), 1);
	assert_non_null(strstr(r->err, "Pool 3"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "-p", "2", "kvp", "set", "k", "v"), 1);
	assert_non_null(strstr(r->err, "computed by hv_kvp_daemon"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "-p", "4", "kvp", "set", "k", "v"), 1);

	/* The limits: refused with the measured size, nothing created. */
	memset(longval, 'v', 1023);
	longval[1023] = '\0';
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "k", longval), 1);
	assert_non_null(strstr(r->err, "1023 UTF-16 units"));
	longval[1022] = '\0';
	memset(longval, 'k', 255);
	longval[255] = '\0';
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", longval, "v"), 1);
	assert_non_null(strstr(r->err, "key is too long"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "", "v"), 1);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "k", "bad\xFF"), 1);
	assert_non_null(strstr(r->err, "not valid UTF-8"));
	assert_int_equal(file_size(c->pool1), -1);

	/* At exactly the limit it is accepted. */
	memset(longval, 'v', 1022);
	longval[1022] = '\0';
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "k", longval), 0);
	free(r);
}

static void test_exit_codes(void **state)
{
	Ctx *c = *state;
	HvctlRun *r = new_run();
	char missing[128];

	assert_int_equal(HVCTL_RUN(r, NULL, "--help"), 0);
	assert_true(strncmp(r->out, "Usage: hvctl", 12) == 0);
	assert_int_equal(HVCTL_RUN(r, NULL, "--version"), 0);
	assert_true(strncmp(r->out, "hvctl (hvguest) ", 16) == 0);

	/* Usage errors: 2, whatever the state directory. */
	assert_int_equal(hvctl_run(r, c->dir, (const char *const[]){ NULL }), 2);
	assert_non_null(strstr(r->err, "See 'hvctl --help'"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "frob"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "frob"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "only-key"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "list", "extra"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "--pool", "5", "kvp", "list"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "--pool", "x", "kvp", "list"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "--pool", "-1", "kvp", "list"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "--lock-timeout", "soon", "kvp", "list"), 2);
	assert_int_equal(HVCTL_RUN(r, c->dir, "--bogus", "kvp", "list"), 2);
	/* A value starting with '-' needs "--"; without it, it is an unknown option. */
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "k", "-5"), 2);
	assert_int_equal(file_size(c->pool1), -1);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "--", "k", "-5"), 0);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "k"), 0);
	assert_string_equal(r->out, "-5\n");

	/* I/O: a state directory that does not exist. */
	snprintf(missing, sizeof(missing), "%s/missing", c->dir);
	assert_int_equal(HVCTL_RUN(r, missing, "kvp", "list"), 3);
	assert_non_null(strstr(r->err, "Cannot open state directory"));
	assert_int_equal(HVCTL_RUN(r, missing, "kvp", "get", "k"), 3);
	assert_int_equal(HVCTL_RUN(r, missing, "kvp", "set", "k", "v"), 3);
	assert_int_equal(HVCTL_RUN(r, missing, "kvp", "delete", "k"), 3);
	free(r);
}

static void test_json_escaping(void **state)
{
	Ctx *c = *state;
	HvctlRun *r = new_run();

	assert_int_equal(
		HVCTL_RUN(r, c->dir, "kvp", "set", "q\"uote", "line1\nline2\ttab\\ \x1b[0m ü"), 0);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "list", "--json"), 0);
	assert_string_equal(r->out, "{\"pool\":1,\"records\":[{\"key\":\"q\\\"uote\",\"value\":"
				    "\"line1\\u000aline2\\u0009tab\\\\ \\u001b[0m ü\"}]}\n");
	/* Human output shows control characters, keeping one line per record. */
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "q\"uote"), 0);
	assert_string_equal(r->out, "line1\\x0aline2\\x09tab\\ \\x1b[0m ü\n");
	free(r);
}

static void write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
}

static void test_other_pools_and_damage(void **state)
{
	Ctx *c = *state;
	HvctlRun *r = new_run();
	uint8_t buf[3 * KVP_RECORD_SIZE + 10] = { 0 };
	char path[128];

	/* Pool 2 has no file content: said so, empty, success. */
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "list", "--pool", "2", "--json"), 0);
	assert_string_equal(r->out, "{\"pool\":2,\"records\":[]}\n");
	assert_non_null(strstr(r->err, "computes its values"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "--pool", "2", "OSName"), 1);

	/* No pool file yet: an empty list. */
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "list"), 0);
	assert_string_equal(r->out, "");
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "list", "--json"), 0);
	assert_string_equal(r->out, "{\"pool\":1,\"records\":[]}\n");

	/* Pool 3 is readable; a damaged record brings one warning line. */
	memcpy(buf, "HostName", 8);
	memcpy(buf + KVP_KEY_SIZE, "HV-HOST-01", 10);
	memcpy(buf + RS, "Bad", 3);
	memcpy(buf + RS + KVP_KEY_SIZE, "\xC0\xAF", 2);
	memset(buf + 2 * RS, 'K', KVP_KEY_SIZE);
	snprintf(path, sizeof(path), "%s/.kvp_pool_3", c->dir);
	write_file(path, buf, sizeof(buf));
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "list", "-p", "3"), 0);
	assert_true(strncmp(r->out, "HostName = HV-HOST-01\nKKKK", 26) == 0);
	assert_non_null(strstr(r->err, "Warning: pool file"));
	assert_non_null(strstr(r->err, "1 record(s) with an unterminated key or value cut, 1 "
				       "unreadable record(s) skipped"));
	assert_non_null(strstr(r->err, "10 byte(s) of a partial record"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "-p", "3", "HostName"), 0);
	assert_string_equal(r->out, "HV-HOST-01\n");
	free(r);
}

static void test_lock_timeout(void **state)
{
	Ctx *c = *state;
	HvctlRun *r = new_run();
	int fd;

	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "k", "v"), 0);
	fd = open(c->pool1, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(HVCTL_RUN(r, c->dir, "--lock-timeout", "100", "kvp", "set", "k", "w"), 3);
	assert_non_null(strstr(r->err, "stayed locked by another program for 100 ms"));
	assert_int_equal(HVCTL_RUN(r, c->dir, "--lock-timeout", "100", "kvp", "list"), 3);
	close(fd);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "get", "k"), 0);
	assert_string_equal(r->out, "v\n");
	free(r);
}

typedef struct Watcher {
	pid_t pid;
	int out, err;
	char buf[OUT_MAX];
	size_t len;
} Watcher;

static void watch_start(Watcher *w, const Ctx *c, bool json)
{
	char errbuf[OUT_MAX], line[1024];
	size_t errlen = 0;

	*w = (Watcher){ 0 };
	if (json)
		w->pid =
			hvctl_spawn(c->dir, (const char *const[]){ "kvp", "watch", "--json", NULL },
				    &w->out, &w->err);
	else
		w->pid = hvctl_spawn(c->dir, (const char *const[]){ "kvp", "watch", NULL }, &w->out,
				     &w->err);
	/* Ready once it says so: the watch is set before the first read. */
	hvctl_read_line(w->err, errbuf, sizeof(errbuf), &errlen, line, sizeof(line));
	assert_non_null(strstr(line, "Watching pool 1"));
}

static void watch_expect(Watcher *w, const char *want)
{
	char line[4096];

	hvctl_read_line(w->out, w->buf, sizeof(w->buf), &w->len, line, sizeof(line));
	assert_string_equal(line, want);
}

static void watch_stop(Watcher *w)
{
	int status;

	assert_int_equal(kill(w->pid, SIGTERM), 0);
	assert_int_equal(waitpid(w->pid, &status, 0), w->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(w->out);
	close(w->err);
}

/* Appends one record like cloud-init: O_APPEND, flock, one write(). */
static void cloud_init_append(const Ctx *c, const char *key, const char *value)
{
	KvpRecord rec = { 0 };
	int fd = open(c->pool1, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	memcpy(rec.key, key, strlen(key));
	memcpy(rec.value, value, strlen(value));
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(write(fd, &rec, sizeof(rec)), (ssize_t)sizeof(rec));
	close(fd);
}

static void test_watch(void **state)
{
	Ctx *c = *state;
	HvctlRun *r = new_run();
	Watcher *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	/* Starts before the pool file exists, sees it created. */
	watch_start(w, c, false);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "a", "1"), 0);
	watch_expect(w, "+ a = 1");
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "a", "2"), 0);
	watch_expect(w, "~ a = 2");
	cloud_init_append(c, "CLOUD_INIT|1|start", "{\"msg\":\"hi\"}");
	watch_expect(w, "+ CLOUD_INIT|1|start = {\"msg\":\"hi\"}");
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "delete", "a"), 0);
	watch_expect(w, "- a");

	/*
	 * A change made while another program holds the lock: the only inotify event comes
	 * while the file is locked, so the report after the unlock proves the retry timer.
	 */
	{
		KvpRecord rec = { .key = "locked", .value = "later" };
		int lock_fd = open(c->pool1, O_RDONLY | O_CLOEXEC), fd;

		assert_true(lock_fd >= 0);
		assert_int_equal(flock(lock_fd, LOCK_EX), 0);
		fd = open(c->pool1, O_WRONLY | O_APPEND | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, &rec, sizeof(rec)), (ssize_t)sizeof(rec));
		close(fd);
		usleep(300 * 1000);
		close(lock_fd);
		watch_expect(w, "+ locked = later");
	}
	watch_stop(w);

	watch_start(w, c, true);
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "set", "j", "x\ty"), 0);
	watch_expect(w, "{\"pool\":1,\"change\":\"added\",\"key\":\"j\",\"value\":\"x\\u0009y\"}");
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "delete", "CLOUD_INIT|1|start"), 0);
	watch_expect(w, "{\"pool\":1,\"change\":\"removed\",\"key\":\"CLOUD_INIT|1|start\"}");
	watch_stop(w);

	/* Nothing to watch in pool 2. */
	assert_int_equal(HVCTL_RUN(r, c->dir, "kvp", "watch", "--pool", "2"), 1);
	free(w);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_get_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_pools_and_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
	};

	/* A child that dies early must fail a test, not kill the runner. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
