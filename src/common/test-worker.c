/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common/event.h"
#include "common/worker.h"

typedef struct Ctx {
	Event *e;
	Worker *w;
	atomic_int runs;
	pthread_t job_thread;
	int collected;
	int n_wakeups;
} Ctx;

static int job_slow(void *userdata)
{
	Ctx *c = userdata;

	c->job_thread = pthread_self();
	usleep(50000);
	atomic_fetch_add(&c->runs, 1);
	return -ENODEV;
}

static int on_wakeup(Event *e, void *userdata)
{
	Ctx *c = userdata;
	int r;

	c->n_wakeups++;
	if (worker_collect(c->w, &r)) {
		c->collected = r;
		return event_exit(e, 0);
	}
	return 0;
}

static int setup(void **state)
{
	Ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(event_new(&c->e), 0);
	assert_int_equal(worker_new(c->e, &c->w), 0);
	assert_int_equal(event_set_wakeup_handler(c->e, on_wakeup, c), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	Ctx *c = *state;

	worker_free(c->w);
	event_free(c->e);
	free(c);
	return 0;
}

static void test_job_runs_off_thread_and_wakes_loop(void **state)
{
	Ctx *c = *state;

	assert_false(worker_busy(c->w));
	assert_int_equal(worker_submit(c->w, job_slow, c), 0);
	assert_true(worker_busy(c->w));
	/* One job at a time: the host has one transaction outstanding. */
	assert_int_equal(worker_submit(c->w, job_slow, c), -EBUSY);

	assert_int_equal(event_loop(c->e), 0);
	assert_int_equal(c->collected, -ENODEV);
	assert_int_equal(atomic_load(&c->runs), 1);
	assert_false(pthread_equal(c->job_thread, pthread_self()));
	assert_false(worker_busy(c->w));

	/* Nothing left to collect; the next job is accepted. */
	int r = 0;
	assert_false(worker_collect(c->w, &r));
	c->collected = 1;
	assert_int_equal(worker_submit(c->w, job_slow, c), 0);
	for (int i = 0; i < 50 && c->collected == 1; i++)
		assert_true(event_run(c->e, 100 * USEC_PER_MSEC) >= 0);
	assert_int_equal(c->collected, -ENODEV);
	assert_int_equal(atomic_load(&c->runs), 2);
}

static void test_free_waits_for_running_job(void **state)
{
	Ctx *c = *state;

	assert_int_equal(worker_submit(c->w, job_slow, c), 0);
	usleep(10000);
	c->w = worker_free(c->w);
	assert_int_equal(atomic_load(&c->runs), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_job_runs_off_thread_and_wakes_loop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_free_waits_for_running_job, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
