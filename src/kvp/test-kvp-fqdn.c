/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvp/kvp-fqdn.h"

#define CHILD_SKIP 77

/* What the callback saw, for the test thread to wait on. */
typedef struct Seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned calls;
	char last[512];
	KvpFqdn *f; /* to check that kvp_fqdn_get() works from inside the callback */
	bool get_matched;
} Seen;

static void on_fqdn(const char *fqdn, void *userdata)
{
	Seen *s = userdata;
	char buf[512];
	bool matched = s->f && kvp_fqdn_get(s->f, buf, sizeof(buf)) == 0 && strcmp(buf, fqdn) == 0;

	pthread_mutex_lock(&s->lock);
	s->calls++;
	s->get_matched = matched;
	snprintf(s->last, sizeof(s->last), "%s", fqdn);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static unsigned seen_calls(Seen *s)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->calls;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Waits until the callback has run more than `after` times; false on timeout. */
static bool wait_calls(Seen *s, unsigned after, int timeout_sec)
{
	struct timespec deadline;
	bool done;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_sec;
	pthread_mutex_lock(&s->lock);
	while (s->calls <= after)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT)
			break;
	done = s->calls > after;
	pthread_mutex_unlock(&s->lock);
	return done;
}

static void seen_init(Seen *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

static void test_initial_value_and_idle(void **state)
{
	char host[256] = {}, buf[512];
	KvpFqdn *f = NULL;
	Seen s;

	seen_init(&s);
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_int_equal(kvp_fqdn_new(on_fqdn, &s, &f), 0);
	/* Before any refresh: the plain hostname, at once. */
	assert_int_equal(kvp_fqdn_get(f, buf, sizeof(buf)), 0);
	assert_string_equal(buf, host);
	assert_int_equal(kvp_fqdn_get(f, buf, strlen(host)), -ENOBUFS);
	assert_int_equal(kvp_fqdn_get(f, buf, strlen(host) + 1), 0);

	/* Nothing happens unless asked: no timer, no callback. */
	assert_false(wait_calls(&s, 0, 1));
	assert_null(kvp_fqdn_free(f));
	assert_int_equal(s.calls, 0);
	assert_null(kvp_fqdn_free(NULL));
	kvp_fqdn_request_refresh(NULL);
}

static void test_refresh_without_cb(void **state)
{
	KvpFqdn *f = NULL;
	char buf[512];

	/* No callback: refreshes still run and free() still joins. */
	assert_int_equal(kvp_fqdn_new(NULL, NULL, &f), 0);
	kvp_fqdn_request_refresh(f);
	kvp_fqdn_request_refresh(f);
	assert_int_equal(kvp_fqdn_get(f, buf, sizeof(buf)), 0);
	assert_true(strlen(buf) > 0);
	kvp_fqdn_free(f);
}

#define CHILD_CHECK(cond, ...)                                         \
	do {                                                           \
		if (!(cond)) {                                         \
			fprintf(stderr, "child, line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__);                  \
			fputc('\n', stderr);                           \
			_exit(1);                                      \
		}                                                      \
	} while (0)

/* Rewrites path in place, so that a bind mount of it sees the new text. */
static void rewrite(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	CHILD_CHECK(fd >= 0, "open %s: %m", path);
	CHILD_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", path);
	close(fd);
}

static void bind_file(const char *dir, const char *name, const char *target, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHILD_CHECK(fd >= 0, "create %s: %m", path);
	close(fd);
	rewrite(path, text);
	CHILD_CHECK(mount(path, target, NULL, MS_BIND, NULL) == 0, "bind %s: %m", target);
}

/* Refreshes and returns the value the callback reported. */
static const char *refresh(KvpFqdn *f, Seen *s)
{
	unsigned before = seen_calls(s);

	kvp_fqdn_request_refresh(f);
	CHILD_CHECK(wait_calls(s, before, 20), "no callback within 20 s");
	CHILD_CHECK(s->get_matched, "kvp_fqdn_get() in the callback disagreed");
	return s->last;
}

/*
 * In private UTS, mount and network namespaces: our own hostname, /etc/hosts and an
 * nsswitch.conf that only consults files, so every lookup result is ours to choose.
 */
static void child_resolution(void)
{
	char dir[] = "/tmp/test-kvp-fqdn-XXXXXX", hosts[300], buf[512];
	KvpFqdn *f = NULL;
	const char *v;
	Seen s;

	if (unshare(CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWNET) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "cannot create namespaces: %m\n");
		_exit(CHILD_SKIP);
	}
	CHILD_CHECK(mkdtemp(dir), "mkdtemp: %m");
	bind_file(dir, "nsswitch.conf", "/etc/nsswitch.conf", "hosts: files\n");
	bind_file(dir, "hosts", "/etc/hosts", "127.0.1.1 hvtest.example.test hvtest\n");
	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	CHILD_CHECK(sethostname("hvtest", 6) == 0, "sethostname: %m");

	seen_init(&s);
	CHILD_CHECK(kvp_fqdn_new(on_fqdn, &s, &f) == 0, "kvp_fqdn_new");
	s.f = f;
	CHILD_CHECK(kvp_fqdn_get(f, buf, sizeof(buf)) == 0 && strcmp(buf, "hvtest") == 0,
		    "initial value %s", buf);

	/* The canonical name has a dot: taken. */
	v = refresh(f, &s);
	CHILD_CHECK(strcmp(v, "hvtest.example.test") == 0, "resolved to \"%s\"", v);

	/* The lookup fails: the previous value stays, never an error text. */
	rewrite(hosts, "127.0.0.1 localhost\n");
	v = refresh(f, &s);
	CHILD_CHECK(strcmp(v, "hvtest.example.test") == 0, "after a failed lookup: \"%s\"", v);
	CHILD_CHECK(kvp_fqdn_get(f, buf, sizeof(buf)) == 0 &&
			    strcmp(buf, "hvtest.example.test") == 0,
		    "get after a failed lookup: \"%s\"", buf);

	/* The hostname changed and the lookup fails: the new plain name beats a stale FQDN. */
	CHILD_CHECK(sethostname("hvtest2", 7) == 0, "sethostname: %m");
	v = refresh(f, &s);
	CHILD_CHECK(strcmp(v, "hvtest2") == 0, "after a rename: \"%s\"", v);

	/* Canonical name without a dot: the hostname. */
	rewrite(hosts, "10.1.2.3 hvtest2\n");
	v = refresh(f, &s);
	CHILD_CHECK(strcmp(v, "hvtest2") == 0, "dotless canonical name: \"%s\"", v);

	/* The name becomes resolvable later (DNS was not up at boot): picked up. */
	rewrite(hosts, "10.1.2.3 hvtest2.corp.example hvtest2\n");
	v = refresh(f, &s);
	CHILD_CHECK(strcmp(v, "hvtest2.corp.example") == 0, "late resolution: \"%s\"", v);

	/* Canonical name via an alias: the first name of the line is canonical. */
	rewrite(hosts, "10.1.2.3 node7.dc.example hvtest2\n");
	v = refresh(f, &s);
	CHILD_CHECK(strcmp(v, "node7.dc.example") == 0, "alias: \"%s\"", v);

	/* Requests coalesce: many requests, at least one and at most as many refreshes. */
	unsigned before = seen_calls(&s);
	for (int i = 0; i < 50; i++)
		kvp_fqdn_request_refresh(f);
	CHILD_CHECK(wait_calls(&s, before, 20), "no callback after a burst");
	kvp_fqdn_free(f);
	CHILD_CHECK(s.calls - before >= 1 && s.calls - before <= 50, "%u refreshes for 50",
		    s.calls - before);

	umount("/etc/hosts");
	umount("/etc/nsswitch.conf");
	snprintf(buf, sizeof(buf), "%s/nsswitch.conf", dir);
	unlink(buf);
	unlink(hosts);
	rmdir(dir);
}

static void test_resolution_in_namespaces(void **state)
{
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child_resolution();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == CHILD_SKIP)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_value_and_idle),
		cmocka_unit_test(test_refresh_without_cb),
		cmocka_unit_test(test_resolution_in_namespaces),
	};

	return cmocka_run_group_tests_name("kvp-fqdn", tests, NULL, NULL);
}
