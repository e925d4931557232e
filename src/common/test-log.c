/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"

/* Large enough that a full deferred buffer flushes without a reader thread. */
#define PIPE_SIZE (1024 * 1024)

typedef struct Capture {
	int saved_stderr;
	int read_fd;
	char *text;
} Capture;

/* Points stderr at a non-blocking pipe; cmocka's own stderr output is restored in end. */
static int setup(void **state)
{
	Capture *c = calloc(1, sizeof(*c));
	int p[2];

	assert_non_null(c);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE) >= PIPE_SIZE);
	c->saved_stderr = dup(STDERR_FILENO);
	assert_true(c->saved_stderr >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	c->read_fd = p[0];
	unsetenv("JOURNAL_STREAM");
	log_open("test-log", LOG_TARGET_STDERR);
	log_set_max_level(LOG_INFO);
	*state = c;
	return 0;
}

static void restore_stderr(Capture *c)
{
	if (c->saved_stderr >= 0) {
		assert_int_equal(dup2(c->saved_stderr, STDERR_FILENO), STDERR_FILENO);
		close(c->saved_stderr);
		c->saved_stderr = -1;
	}
}

static int teardown(void **state)
{
	Capture *c = *state;

	if (log_is_deferred())
		log_defer_end();
	restore_stderr(c);
	close(c->read_fd);
	free(c->text);
	free(c);
	return 0;
}

/* Everything written to the pipe so far (without waiting). */
static const char *drain(Capture *c)
{
	size_t len = 0, alloc = PIPE_SIZE + 1;
	ssize_t n;

	free(c->text);
	c->text = malloc(alloc);
	assert_non_null(c->text);
	while ((n = read(c->read_fd, c->text + len, alloc - 1 - len)) > 0)
		len += (size_t)n;
	c->text[len] = '\0';
	return c->text;
}

static void test_stderr_format(void **state)
{
	Capture *c = *state;

	log_info("hello %d", 5);
	log_error("bad %s", "thing");
	log_debug("not shown");
	restore_stderr(c);
	assert_string_equal(drain(c), "<6>hello 5\n<3>bad thing\n");
}

static void test_console_format(void **state)
{
	Capture *c = *state;

	log_open("test-log", LOG_TARGET_CONSOLE);
	log_notice("plain line");
	restore_stderr(c);
	assert_string_equal(drain(c), "plain line\n");
}

/* JOURNAL_STREAM naming another file: AUTO must pick stderr, not the journal. */
static void test_auto_without_journal(void **state)
{
	Capture *c = *state;

	setenv("JOURNAL_STREAM", "0:0", 1);
	log_open("test-log", LOG_TARGET_AUTO);
	log_warning("auto");
	unsetenv("JOURNAL_STREAM");
	restore_stderr(c);
	assert_string_equal(drain(c), "<4>auto\n");
}

static void test_percent_m_uses_error(void **state)
{
	Capture *c = *state;
	char expected[256];
	int r;

	errno = EPERM;
	r = log_error_errno(ENOENT, "open 'x': %m");
	assert_int_equal(r, -ENOENT);
	assert_int_equal(errno, EPERM); /* the caller's errno survives */
	r = log_warning_errno(-EIO, "write: %m");
	assert_int_equal(r, -EIO);
	restore_stderr(c);
	snprintf(expected, sizeof(expected), "<3>open 'x': %s\n<4>write: %s\n", strerror(ENOENT),
		 strerror(EIO));
	assert_string_equal(drain(c), expected);
}

static void test_return_value(void **state)
{
	Capture *c = *state;

	int r[6];

	/* assertions only after restoring stderr: cmocka reports failures there */
	r[0] = log_info("x");
	r[1] = log_error_errno(EBUSY, "y");
	r[2] = log_error_errno(-EBUSY, "y");
	/* filtered out: still -abs(error), and nothing written */
	r[3] = log_debug_errno(ENOMEM, "z");
	r[4] = log_internal(LOG_DEBUG, -EAGAIN, NULL, __func__, "w");
	r[5] = log_oom();
	restore_stderr(c);
	assert_int_equal(r[0], 0);
	assert_int_equal(r[1], -EBUSY);
	assert_int_equal(r[2], -EBUSY);
	assert_int_equal(r[3], -ENOMEM);
	assert_int_equal(r[4], -EAGAIN);
	assert_int_equal(r[5], -ENOMEM);
	assert_string_equal(drain(c), "<6>x\n<3>y\n<3>y\n<3>Out of memory.\n");
}

static void test_level_filtering(void **state)
{
	Capture *c = *state;

	int level;

	log_set_max_level(LOG_WARNING);
	level = log_get_max_level();
	log_info("info");
	log_notice("notice");
	log_warning("warning");
	log_error("error");
	log_internal(LOG_NOTICE, 0, NULL, __func__, "direct notice");
	log_set_max_level(LOG_DEBUG);
	log_debug("debug");
	restore_stderr(c);
	assert_int_equal(level, LOG_WARNING);
	assert_string_equal(drain(c), "<4>warning\n<3>error\n<7>debug\n");
}

static void test_fields_ignored_on_stderr(void **state)
{
	Capture *c = *state;

	log_fields_errno(LOG_INFO, 0, LOG_FIELDS("HV_OP=SET", "HV_POOL=0"), "set %s", "key");
	restore_stderr(c);
	assert_string_equal(drain(c), "<6>set key\n");
}

static void test_deferred_order(void **state)
{
	Capture *c = *state;
	bool before, during, after;
	size_t written_while_deferred;
	char expected[256];

	before = log_is_deferred();
	log_defer_begin();
	during = log_is_deferred();
	log_info("first");
	log_fields_errno(LOG_ERR, EROFS, LOG_FIELDS("HV_OP=FREEZE"), "second: %m");
	log_debug("filtered");
	log_warning("third");
	written_while_deferred = strlen(drain(c));
	log_defer_end();
	after = log_is_deferred();
	log_info("after");
	restore_stderr(c);
	assert_false(before);
	assert_true(during);
	assert_false(after);
	assert_int_equal(written_while_deferred, 0);
	snprintf(expected, sizeof(expected), "<6>first\n<3>second: %s\n<4>third\n<6>after\n",
		 strerror(EROFS));
	assert_string_equal(drain(c), expected);
}

static void test_deferred_overflow(void **state)
{
	Capture *c = *state;
	const unsigned total = 3000;
	unsigned kept = 0, dropped = 0;
	size_t written_while_deferred;
	const char *p;
	char line[64];

	log_defer_begin();
	for (unsigned i = 0; i < total; i++)
		log_info("message %04u padding padding padding padding padding padding", i);
	written_while_deferred = strlen(drain(c));
	log_defer_end();
	restore_stderr(c);
	assert_int_equal(written_while_deferred, 0);

	p = drain(c);
	/* the kept records come first and in order, then one summary line */
	for (;;) {
		snprintf(line, sizeof(line), "<6>message %04u padding", kept);
		if (strncmp(p, line, strlen(line)) != 0)
			break;
		p = strchr(p, '\n') + 1;
		kept++;
	}
	assert_true(kept > 100);
	assert_true(kept < total);
	assert_int_equal(sscanf(p, "<4>%u log messages were dropped while deferred\n", &dropped),
			 1);
	assert_int_equal(kept + dropped, total);
	assert_string_equal(strchr(p, '\n'), "\n");
}

static void test_deferred_reset_after_flush(void **state)
{
	Capture *c = *state;

	log_defer_begin();
	for (unsigned i = 0; i < 5000; i++)
		log_info("fill %u", i);
	log_defer_end();
	(void)drain(c);
	log_defer_begin();
	log_info("again");
	log_defer_end();
	restore_stderr(c);
	assert_string_equal(drain(c), "<6>again\n");
}

static void *thread_logger(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;

	for (unsigned i = 0; i < 200; i++)
		log_info("thread %u line %u end", id, i);
	return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
	Capture *c = *state;
	unsigned counts[4] = { 0 };
	pthread_t t[4];
	const char *p;

	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_logger, (void *)i), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	restore_stderr(c);

	for (p = drain(c); *p; p = strchr(p, '\n') + 1) {
		unsigned id, n;
		int end = 0;

		assert_int_equal(sscanf(p, "<6>thread %u line %u end%n", &id, &n, &end), 2);
		assert_true(end > 0 && p[end] == '\n');
		assert_true(id < 4);
		assert_int_equal(n, counts[id]); /* per-thread order is kept */
		counts[id]++;
	}
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(counts[i], 200);
}

/* Child side of test_journal_fields: returns what the child exits with (77: cannot test). */
static int journal_child(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX,
				  .sun_path = "/run/systemd/journal/socket" };
	char env[64], buf[4096], expected[128];
	struct stat st;
	ssize_t n;
	int fd;

	/* a private /run in our own mount namespace: the real journal is never touched */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
		return 77;
	if (mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/journal", 0755) < 0)
		return 2;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 3;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 4;
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_open("test-log", LOG_TARGET_AUTO);
	log_fields_errno(LOG_ERR, ENOENT, LOG_FIELDS("HV_OP=SET", "HV_POOL=1"), "hello: %m");

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n <= 0)
		return 5;
	buf[n] = '\0';
	snprintf(expected, sizeof(expected), "MESSAGE=hello: %s\n", strerror(ENOENT));
	if (!strstr(buf, expected) || !strstr(buf, "PRIORITY=3\n") ||
	    !strstr(buf, "SYSLOG_IDENTIFIER=test-log\n") || !strstr(buf, "ERRNO=2\n") ||
	    !strstr(buf, "HV_OP=SET\n") || !strstr(buf, "HV_POOL=1\n"))
		return 6;
	/* exactly one CODE_FUNC=, the caller's (not log.c's own location) */
	if (!strstr(buf, "CODE_FUNC=journal_child\n") ||
	    strstr(strstr(buf, "CODE_FUNC=") + 1, "CODE_FUNC="))
		return 7;
	return 0;
}

/* Under journald (JOURNAL_STREAM names stderr), AUTO sends structured fields to the journal. */
static void test_journal_fields(void **state)
{
	Capture *c = *state;
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(journal_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	restore_stderr(c);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no mount namespaces here (not root) */
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(drain(c), ""); /* and nothing on stderr */
}

static void test_level_from_string(void **state)
{
	assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
	assert_int_equal(log_level_from_string("info"), LOG_INFO);
	assert_int_equal(log_level_from_string("notice"), LOG_NOTICE);
	assert_int_equal(log_level_from_string("warning"), LOG_WARNING);
	assert_int_equal(log_level_from_string("err"), LOG_ERR);
	assert_int_equal(log_level_from_string("error"), LOG_ERR);
	assert_int_equal(log_level_from_string("crit"), LOG_CRIT);
	assert_int_equal(log_level_from_string("alert"), LOG_ALERT);
	assert_int_equal(log_level_from_string("emerg"), LOG_EMERG);
	assert_int_equal(log_level_from_string("0"), 0);
	assert_int_equal(log_level_from_string("7"), 7);
	assert_int_equal(log_level_from_string("8"), -EINVAL);
	assert_int_equal(log_level_from_string("77"), -EINVAL);
	assert_int_equal(log_level_from_string(""), -EINVAL);
	assert_int_equal(log_level_from_string("verbose"), -EINVAL);
	assert_int_equal(log_level_from_string(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stderr_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_without_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_percent_m_uses_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_return_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_filtering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_ignored_on_stderr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_reset_after_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_do_not_interleave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_fields, setup, teardown),
		cmocka_unit_test(test_level_from_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
