/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/event.h"
#include "common/log.h"
#include "kvp/kvp-persist.h"

/*
 * A host burst (pool 3 at boot, a script setting many keys) is written once: after a kick
 * the writer waits until no kick came for COALESCE_USEC, but never longer than
 * COALESCE_MAX_USEC after the first one. That bounds what a SIGKILL can lose to 200 ms of
 * acknowledged changes, against one whole-pool rewrite per SET otherwise.
 */
#define COALESCE_USEC (20 * USEC_PER_MSEC)
#define COALESCE_MAX_USEC (200 * USEC_PER_MSEC)
#define RETRY_MIN_USEC (1 * USEC_PER_SEC)
#define RETRY_MAX_USEC (60 * USEC_PER_SEC)

struct KvpPersist {
	KvpStore *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled on kick and stop */
	pthread_cond_t done_cond;
	bool kicked;
	bool stopping;
	bool done;
	bool started;
};

static struct timespec deadline_after(uint64_t usec)
{
	struct timespec ts;
	uint64_t ns;

	/* Condition variables below use CLOCK_MONOTONIC so clock steps cannot stretch waits. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + (usec % USEC_PER_SEC) * NSEC_PER_USEC;
	ts.tv_sec += (time_t)(usec / USEC_PER_SEC + ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

/* Called with p->lock held after a kick; returns with it held once the burst is over. */
static void coalesce(KvpPersist *p)
{
	uint64_t end = now_usec(CLOCK_MONOTONIC) + COALESCE_MAX_USEC;

	while (!p->stopping) {
		uint64_t now = now_usec(CLOCK_MONOTONIC);
		struct timespec ts;

		if (now >= end)
			return;
		ts = deadline_after(MIN(COALESCE_USEC, end - now));
		p->kicked = false;
		while (!p->kicked && !p->stopping)
			if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
				return;
	}
}

static void *persist_thread(void *userdata)
{
	KvpPersist *p = userdata;
	uint64_t backoff = 0; /* 0: no failure pending */
	bool failing = false;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->kicked && !p->stopping) {
			if (backoff > 0) {
				struct timespec ts = deadline_after(backoff);

				if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
					break;
			} else {
				pthread_cond_wait(&p->cond, &p->lock);
			}
		}
		if (p->kicked && backoff == 0)
			coalesce(p);
		bool stopping = p->stopping;
		p->kicked = false;
		pthread_mutex_unlock(&p->lock);

		int r = kvp_store_dirty(p->store) ? kvp_store_flush(p->store) : 0;
		if (r < 0) {
			/* One warning per failure streak; the data stays in memory meanwhile. */
			if (!failing)
				log_warning_errno(r, "Could not write KVP pools, keeping them in "
						     "memory and retrying: %m");
			failing = true;
			backoff = backoff == 0 ? RETRY_MIN_USEC : MIN(backoff * 2, RETRY_MAX_USEC);
		} else {
			if (failing)
				log_info("KVP pools written after an earlier write problem.");
			failing = false;
			backoff = 0;
		}

		pthread_mutex_lock(&p->lock);
		if (stopping) {
			/* A failing final flush is not retried: the data cannot be saved now. */
			p->done = true;
			pthread_cond_broadcast(&p->done_cond);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int kvp_persist_new(KvpStore *store, KvpPersist **ret)
{
	_cleanup_free_ KvpPersist *p = NULL;
	pthread_condattr_t attr;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->store = store;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &attr);
	pthread_cond_init(&p->done_cond, &attr);
	pthread_condattr_destroy(&attr);

	r = pthread_create(&p->thread, NULL, persist_thread, p);
	if (r != 0)
		return -r;
	(void)pthread_setname_np(p->thread, "kvp-writer");
	p->started = true;
	*ret = TAKE_PTR(p);
	return 0;
}

void kvp_persist_kick(KvpPersist *p)
{
	pthread_mutex_lock(&p->lock);
	p->kicked = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int kvp_persist_stop(KvpPersist *p, uint64_t timeout_usec)
{
	struct timespec ts = deadline_after(timeout_usec);
	bool done;

	if (!p || !p->started)
		return 0;

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->cond);
	while (!p->done) {
		if (pthread_cond_timedwait(&p->done_cond, &p->lock, &ts) == ETIMEDOUT)
			break;
	}
	done = p->done;
	pthread_mutex_unlock(&p->lock);

	if (!done)
		return -ETIMEDOUT;
	pthread_join(p->thread, NULL);
	p->started = false;
	return 0;
}

KvpPersist *kvp_persist_free(KvpPersist *p)
{
	if (!p)
		return NULL;
	assert_se(!p->started);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->done_cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	return NULL;
}
