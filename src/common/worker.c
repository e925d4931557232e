/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/worker.h"

typedef enum JobState {
	JOB_IDLE,   /* nothing to do */
	JOB_QUEUED, /* submitted, not started */
	JOB_RUNNING,
	JOB_DONE, /* result waiting for collect */
} JobState;

struct Worker {
	Event *event;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	JobState state;
	bool stopping;
	worker_job_fn fn;
	void *userdata;
	int result;
};

static void *worker_thread(void *userdata)
{
	Worker *w = userdata;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->state != JOB_QUEUED && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stopping)
			break;
		w->state = JOB_RUNNING;
		pthread_mutex_unlock(&w->lock);

		int r = w->fn(w->userdata);

		pthread_mutex_lock(&w->lock);
		w->result = r;
		w->state = JOB_DONE;
		pthread_cond_broadcast(&w->cond);
		/* async-signal-safe eventfd write; the loop collects on its own thread */
		(void)event_wakeup(w->event);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int worker_new(Event *e, Worker **ret)
{
	Worker *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->event = e;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	r = pthread_create(&w->thread, NULL, worker_thread, w);
	if (r != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return -r;
	}
	(void)pthread_setname_np(w->thread, "hv-worker");
	*ret = w;
	return 0;
}

int worker_submit(Worker *w, worker_job_fn fn, void *userdata)
{
	int r = 0;

	pthread_mutex_lock(&w->lock);
	if (w->state != JOB_IDLE) {
		r = -EBUSY;
	} else {
		w->fn = fn;
		w->userdata = userdata;
		w->state = JOB_QUEUED;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

bool worker_collect(Worker *w, int *ret_r)
{
	bool done;

	pthread_mutex_lock(&w->lock);
	done = w->state == JOB_DONE;
	if (done) {
		*ret_r = w->result;
		w->state = JOB_IDLE;
	}
	pthread_mutex_unlock(&w->lock);
	return done;
}

bool worker_busy(Worker *w)
{
	bool busy;

	pthread_mutex_lock(&w->lock);
	busy = w->state != JOB_IDLE;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

Worker *worker_free(Worker *w)
{
	if (!w)
		return NULL;
	pthread_mutex_lock(&w->lock);
	/* A queued job never started is dropped; a running one is waited for. */
	while (w->state == JOB_RUNNING)
		pthread_cond_wait(&w->cond, &w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return NULL;
}
