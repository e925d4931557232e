/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/event.h"

typedef struct Fixture Fixture;

/* Per-source userdata: which fixture, which source (for order checks), what to do. */
typedef struct Tag {
	Fixture *f;
	int id;
	EventSource *victim; /* freed by the callback when non-NULL */
	int ret;	     /* callback's return value */
} Tag;

struct Fixture {
	Event *e;
	int pipe_a[2], pipe_b[2];
	unsigned calls[8];
	int order[16];
	unsigned n_order;
	short last_revents;
	int last_fd;
	Tag tags[8];
};

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(event_new(&f->e), 0);
	assert_int_equal(pipe2(f->pipe_a, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(pipe2(f->pipe_b, O_CLOEXEC | O_NONBLOCK), 0);
	for (int i = 0; i < 8; i++)
		f->tags[i] = (Tag){ .f = f, .id = i };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;

	event_free(f->e);
	for (int i = 0; i < 2; i++) {
		close(f->pipe_a[i]);
		close(f->pipe_b[i]);
	}
	free(f);
	return 0;
}

static uint64_t now(void)
{
	return now_usec(CLOCK_MONOTONIC);
}

static void record(Tag *t)
{
	t->f->calls[t->id]++;
	if (t->f->n_order < ELEMENTSOF(t->f->order))
		t->f->order[t->f->n_order++] = t->id;
}

static int io_cb(EventSource *s, int fd, short revents, void *userdata)
{
	Tag *t = userdata;
	char c;

	record(t);
	t->f->last_fd = fd;
	t->f->last_revents = revents;
	assert_int_equal(read(fd, &c, 1), 1);
	if (t->victim)
		t->victim = event_source_free(t->victim);
	return t->ret;
}

static int timer_cb(EventSource *s, uint64_t usec, void *userdata)
{
	Tag *t = userdata;

	record(t);
	if (t->victim)
		t->victim = event_source_free(t->victim);
	return t->ret;
}

static void test_io_readiness(void **state)
{
	Fixture *f = *state;
	EventSource *s = NULL;

	assert_int_equal(event_add_io(f->e, &s, f->pipe_a[0], POLLIN, io_cb, &f->tags[0]), 0);
	assert_int_equal(event_run(f->e, 0), 0);
	assert_int_equal(f->calls[0], 0);

	assert_int_equal(write(f->pipe_a[1], "x", 1), 1);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[0], 1);
	assert_int_equal(f->last_fd, f->pipe_a[0]);
	assert_true(f->last_revents & POLLIN);

	/* disabled: not polled even though readable */
	assert_int_equal(write(f->pipe_a[1], "y", 1), 1);
	assert_int_equal(event_source_set_enabled(s, false), 0);
	assert_int_equal(event_run(f->e, 0), 0);
	assert_int_equal(f->calls[0], 1);

	/* moved to another descriptor: the readable old one is no longer watched */
	assert_int_equal(event_source_set_enabled(s, true), 0);
	assert_int_equal(event_source_set_io_fd(s, f->pipe_b[0]), 0);
	assert_int_equal(event_run(f->e, 0), 0);
	assert_int_equal(write(f->pipe_b[1], "z", 1), 1);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->last_fd, f->pipe_b[0]);
	assert_int_equal(f->calls[0], 2);
	event_source_free(s);
}

static void test_timers_fire_in_order(void **state)
{
	Fixture *f = *state;
	uint64_t t0 = now();
	const uint64_t after[] = { 30000, 10000, 20000, 5000 };
	EventSource *s[5];

	for (int i = 0; i < 4; i++)
		assert_int_equal(event_add_time(f->e, &s[i], t0 + after[i], timer_cb, &f->tags[i]),
				 0);
	assert_int_equal(event_source_set_enabled(s[3], false), 0);
	assert_int_equal(event_add_time(f->e, &s[4], USEC_INFINITY, timer_cb, &f->tags[4]), 0);

	while (now() < t0 + 45000)
		assert_true(event_run(f->e, 50000) >= 0);

	assert_int_equal(f->n_order, 3);
	assert_int_equal(f->order[0], 1);
	assert_int_equal(f->order[1], 2);
	assert_int_equal(f->order[2], 0);
	assert_int_equal(f->calls[3], 0); /* disabled */
	assert_int_equal(f->calls[4], 0); /* never armed */

	/* one-shot: disarmed after firing, so the loop now sleeps out its whole timeout */
	t0 = now();
	assert_int_equal(event_run(f->e, 20000), 0);
	assert_true(now() - t0 >= 20000);
	assert_int_equal(f->n_order, 3);

	/* re-enabling keeps the deadline; re-arming in the past fires at once */
	assert_int_equal(event_source_set_enabled(s[3], true), 0);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[3], 1);
	assert_int_equal(event_source_set_time_relative(s[0], 0), 0);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[0], 2);
	for (int i = 0; i < 5; i++)
		event_source_free(s[i]);
}

static int rearm_cb(EventSource *s, uint64_t usec, void *userdata)
{
	Tag *t = userdata;

	record(t);
	/* already due again: must wait for the next iteration, not loop inside this one */
	if (t->f->calls[t->id] < 3)
		return event_source_set_time(s, usec);
	return event_exit(t->f->e, 17);
}

static void test_timer_rearm_and_exit(void **state)
{
	Fixture *f = *state;
	unsigned iterations = 0;
	int r;

	assert_int_equal(event_add_time(f->e, NULL, now(), rearm_cb, &f->tags[0]), 0);
	while ((r = event_run(f->e, USEC_PER_SEC)) > 0 && f->calls[0] < 3)
		iterations++;
	assert_int_equal(r, 1);
	assert_int_equal(f->calls[0], 3);
	assert_int_equal(iterations, 2); /* once per event_run */
	assert_int_equal(event_loop(f->e), 17);
}

static void test_callback_error_ends_loop(void **state)
{
	Fixture *f = *state;

	f->tags[0].ret = -EIO;
	assert_int_equal(event_add_time(f->e, NULL, now() + 1000, timer_cb, &f->tags[0]), 0);
	assert_int_equal(event_loop(f->e), -EIO);
	assert_int_equal(f->calls[0], 1);
}

static void test_callback_frees_sources(void **state)
{
	Fixture *f = *state;
	EventSource *a, *b, *t1, *t2, *self;

	/* both readable in one iteration; a's callback frees b before b is dispatched */
	assert_int_equal(event_add_io(f->e, &a, f->pipe_a[0], POLLIN, io_cb, &f->tags[0]), 0);
	assert_int_equal(event_add_io(f->e, &b, f->pipe_b[0], POLLIN, io_cb, &f->tags[1]), 0);
	f->tags[0].victim = b;
	assert_int_equal(write(f->pipe_a[1], "a", 1), 1);
	assert_int_equal(write(f->pipe_b[1], "b", 1), 1);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[0], 1);
	assert_int_equal(f->calls[1], 0);

	/* the same for two expired timers, plus a callback freeing its own source */
	assert_int_equal(event_add_time(f->e, &t1, now(), timer_cb, &f->tags[2]), 0);
	assert_int_equal(event_add_time(f->e, &t2, now() + 1, timer_cb, &f->tags[3]), 0);
	f->tags[2].victim = t2;
	assert_int_equal(event_add_io(f->e, &self, f->pipe_b[0], POLLIN, io_cb, &f->tags[4]), 0);
	f->tags[4].victim = self;
	assert_int_equal(write(f->pipe_b[1], "c", 1), 1);
	usleep(2000);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[2], 1);
	assert_int_equal(f->calls[3], 0);
	assert_int_equal(f->calls[4], 1);

	/* the survivors still work; the freed ones are gone for good */
	assert_int_equal(write(f->pipe_b[1], "d", 1), 1);
	assert_int_equal(event_run(f->e, 20000), 0);
	assert_int_equal(write(f->pipe_a[1], "e", 1), 1);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[0], 2);
	event_source_free(a);
	event_source_free(t1);
}

static int signal_cb(EventSource *s, const struct signalfd_siginfo *si, void *userdata)
{
	Tag *t = userdata;

	record(t);
	assert_int_equal(si->ssi_signo, SIGUSR1);
	return 0;
}

static void test_signal_delivery(void **state)
{
	Fixture *f = *state;
	EventSource *s, *s2;

	assert_int_equal(event_add_signal(f->e, &s, SIGUSR1, signal_cb, &f->tags[0]), 0);
	assert_int_equal(event_add_signal(f->e, &s2, SIGUSR1, signal_cb, &f->tags[1]), 0);
	assert_int_equal(event_run(f->e, 0), 0);
	assert_int_equal(raise(SIGUSR1), 0); /* blocked now, so it waits for the signalfd */
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[0], 1);
	assert_int_equal(f->calls[1], 1);
	event_source_free(s2);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[0], 2);
	assert_int_equal(f->calls[1], 1);
	event_source_free(s);

	assert_int_equal(event_add_signal(f->e, NULL, SIGKILL, signal_cb, f), -EINVAL);
	assert_int_equal(event_add_signal(f->e, NULL, 0, signal_cb, f), -EINVAL);
}

static unsigned count_fds(const char *target_prefix)
{
	char path[64], target[256];
	unsigned n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t l;

		(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		l = readlink(path, target, sizeof(target) - 1);
		if (l < 0)
			continue;
		target[l] = 0;
		if (!target_prefix || strncmp(target, target_prefix, strlen(target_prefix)) == 0)
			n++;
	}
	return n;
}

static void *killer(void *arg)
{
	(void)arg;
	usleep(100000);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	return NULL;
}

static void test_signal_handler_mode(void **state)
{
	Fixture *f = *state;
	struct sigaction sa;
	EventSource *s, *s2, *other;
	Event *e2 = NULL;
	pthread_t t;
	uint64_t t0;
	sigset_t mask;

	assert_int_equal(event_set_signal_mode(f->e, _EVENT_SIGNAL_MODE_MAX), -EINVAL);
	assert_int_equal(event_set_signal_mode(f->e, EVENT_SIGNALS_HANDLER), 0);
	assert_int_equal(event_set_signal_mode(f->e, EVENT_SIGNALS_HANDLER), 0);
	/* the self-pipe is process-wide: a second Event cannot have one too */
	assert_int_equal(event_new(&e2), 0);
	assert_int_equal(event_set_signal_mode(e2, EVENT_SIGNALS_HANDLER), -EBUSY);
	e2 = event_free(e2);

	assert_int_equal(event_add_signal(f->e, &s, SIGUSR1, signal_cb, &f->tags[0]), 0);
	assert_int_equal(event_add_signal(f->e, &s2, SIGUSR1, signal_cb, &f->tags[1]), 0);
	assert_int_equal(event_add_signal(f->e, &other, SIGUSR2, signal_cb, &f->tags[2]), 0);
	assert_int_equal(event_set_signal_mode(f->e, EVENT_SIGNALS_SIGNALFD), -EBUSY);
	assert_int_equal(count_fds("anon_inode:[signalfd]"), 0);
	/* a real handler is installed and the signal is deliverable (not blocked) */
	assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
	assert_true(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
	assert_false(sigismember(&mask, SIGUSR1));

	assert_int_equal(event_run(f->e, 0), 0);
	assert_int_equal(raise(SIGUSR1), 0); /* handled at once; the byte waits in the pipe */
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[0], 1);
	assert_int_equal(f->calls[1], 1);
	assert_int_equal(f->calls[2], 0);

	/* a signal arriving during the wait ends it at once and is dispatched in that run */
	t0 = now();
	assert_int_equal(pthread_create(&t, NULL, killer, f), 0);
	assert_int_equal(event_run(f->e, 5 * USEC_PER_SEC), 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(now() - t0 < 4 * USEC_PER_SEC);
	assert_int_equal(f->calls[0], 2);

	/* two signals before the loop runs: both are seen, in order */
	event_source_free(s2);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->calls[0], 4);
	assert_int_equal(f->calls[1], 2);

	/* the last watcher gone, the default disposition is back; the other signal keeps its */
	event_source_free(s);
	assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	assert_int_equal(sigaction(SIGUSR2, NULL, &sa), 0);
	assert_true(sa.sa_handler != SIG_DFL);
	event_source_free(other);
	assert_int_equal(sigaction(SIGUSR2, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);

	/* back to signalfd mode releases the self-pipe for another Event */
	assert_int_equal(event_set_signal_mode(f->e, EVENT_SIGNALS_SIGNALFD), 0);
	assert_int_equal(event_new(&e2), 0);
	assert_int_equal(event_set_signal_mode(e2, EVENT_SIGNALS_HANDLER), 0);
	assert_int_equal(event_add_signal(e2, NULL, SIGUSR2, signal_cb, &f->tags[3]), 0);
	/* freeing the Event restores the disposition of signals it still watched */
	e2 = event_free(e2);
	assert_int_equal(sigaction(SIGUSR2, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
}

/* The eventfd exists only for loops that asked for wakeups. */
static void test_wakeup_fd_lazy(void **state)
{
	Fixture *f = *state;
	unsigned before = count_fds(NULL);
	Event *e = NULL;

	(void)f;
	assert_int_equal(event_new(&e), 0);
	assert_int_equal(count_fds(NULL), before);
	assert_int_equal(event_wakeup(e), -EBADF);
	assert_int_equal(event_set_wakeup_handler(e, NULL, NULL), 0);
	assert_int_equal(count_fds(NULL), before + 1);
	assert_int_equal(event_set_wakeup_handler(e, NULL, NULL), 0);
	assert_int_equal(count_fds(NULL), before + 1);
	assert_int_equal(event_wakeup(e), 0);
	/* no callback: the wakeup is consumed without counting as a dispatch */
	assert_int_equal(event_run(e, 0), 0);
	e = event_free(e);
	assert_int_equal(count_fds(NULL), before);
}

static int wakeup_cb(Event *e, void *userdata)
{
	Fixture *f = userdata;

	f->calls[0]++;
	return event_exit(e, 42);
}

static void *waker(void *arg)
{
	Fixture *f = arg;

	usleep(100000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(event_wakeup(f->e), 0);
	return NULL;
}

/* Also proves the idle loop blocks: nothing else could end this poll for 100 ms. */
static void test_wakeup_from_thread(void **state)
{
	Fixture *f = *state;
	uint64_t t0 = now();
	pthread_t t;

	assert_int_equal(event_set_wakeup_handler(f->e, wakeup_cb, f), 0);
	assert_int_equal(pthread_create(&t, NULL, waker, f), 0);
	assert_int_equal(event_loop(f->e), 42);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(now() - t0 >= 100000);
	assert_true(f->calls[0] >= 1);
	/* the loop may have woken between the thread's writes: drain what is left */
	assert_true(event_run(f->e, 0) >= 0);

	/* a hundred wakeups before the loop runs coalesce into one callback */
	f->calls[0] = 0;
	for (int i = 0; i < 100; i++)
		assert_int_equal(event_wakeup(f->e), 0);
	assert_int_equal(event_run(f->e, 0), 1);
	assert_int_equal(f->calls[0], 1);
	assert_int_equal(event_run(f->e, 0), 0);
}

static void test_idle_loop_blocks(void **state)
{
	Fixture *f = *state;
	EventSource *far, *off, *io;
	uint64_t t0;

	assert_int_equal(event_add_time(f->e, &far, USEC_INFINITY, timer_cb, &f->tags[0]), 0);
	assert_int_equal(event_add_time(f->e, &off, now(), timer_cb, &f->tags[1]), 0);
	assert_int_equal(event_source_set_enabled(off, false), 0);
	assert_int_equal(event_add_io(f->e, &io, f->pipe_a[0], POLLIN, io_cb, &f->tags[2]), 0);

	t0 = now();
	assert_int_equal(event_run(f->e, 50000), 0);
	assert_true(now() - t0 >= 50000);
	assert_true(now() - t0 < 50000 + 500000);
	assert_int_equal(f->n_order, 0);
	event_source_free(far);
	event_source_free(off);
	event_source_free(io);
}

static int nested_cb(EventSource *s, uint64_t usec, void *userdata)
{
	Tag *t = userdata;

	t->ret = event_run(t->f->e, 0);
	return 0;
}

static void test_no_recursion(void **state)
{
	Fixture *f = *state;

	assert_int_equal(event_add_time(f->e, NULL, now(), nested_cb, &f->tags[0]), 0);
	assert_int_equal(event_run(f->e, USEC_PER_SEC), 1);
	assert_int_equal(f->tags[0].ret, -EBUSY);
}

/* WATCHDOG_USEC=200 ms: pings arrive on NOTIFY_SOCKET about every 100 ms. */
static void test_watchdog(void **state)
{
	Fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char env[64], buf[64];
	unsigned pings = 0;
	uint64_t t0;
	ssize_t n;
	int fd;

	assert_int_equal(event_set_watchdog(f->e, true), 0); /* not asked for */

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	/* abstract address: nothing on the filesystem to clean up */
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "hvguest-test-event-%d", getpid());
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1)),
			 0);
	snprintf(env, sizeof(env), "@%s", sa.sun_path + 1);
	setenv("NOTIFY_SOCKET", env, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	snprintf(env, sizeof(env), "%d", getpid());
	setenv("WATCHDOG_PID", env, 1);

	assert_int_equal(event_set_watchdog(f->e, true), 1);
	t0 = now();
	while (now() - t0 < 350000)
		assert_true(event_run(f->e, 350000 - (now() - t0)) >= 0);
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		assert_string_equal(buf, "WATCHDOG=1");
		pings++;
	}
	assert_true(pings >= 2 && pings <= 4);

	/* switched off: no more pings */
	assert_int_equal(event_set_watchdog(f->e, false), 0);
	assert_int_equal(event_run(f->e, 150000), 0);
	assert_true(recv(fd, buf, sizeof(buf), 0) < 0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	close(fd);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_io_readiness),		T(test_timers_fire_in_order),
		T(test_timer_rearm_and_exit),	T(test_callback_error_ends_loop),
		T(test_callback_frees_sources), T(test_signal_delivery),
		T(test_wakeup_from_thread),	T(test_idle_loop_blocks),
		T(test_no_recursion),		T(test_watchdog),
		T(test_signal_handler_mode),	T(test_wakeup_fd_lazy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
