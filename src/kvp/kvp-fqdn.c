/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "kvp/kvp-fqdn.h"

/* A DNS name is at most 253 characters; /etc/hosts may hold longer ones, which we refuse. */
#define FQDN_SIZE 256

struct KvpFqdn {
	pthread_t thread;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	bool requested;
	bool stop;
	char value[FQDN_SIZE];
	KvpFqdnCallback cb;
	void *userdata;
};

static int read_hostname(char *buf, size_t size)
{
	char host[HOST_NAME_MAX + 1] = {};

	if (gethostname(host, sizeof(host) - 1) < 0)
		return negative_errno();
	if (host[0] == '\0')
		return -ENOENT;
	if (strlen(host) >= size)
		return -ENOBUFS;
	memcpy(buf, host, strlen(host) + 1);
	return 0;
}

/* True if name is host itself or host followed by a domain. */
static bool names_host(const char *name, const char *host)
{
	size_t n = strlen(host);

	return strncmp(name, host, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

/*
 * Computes the next value from the previous one (both FQDN_SIZE). Runs without the lock:
 * getaddrinfo() may take as long as the resolver's timeouts.
 */
static void resolve(const char *previous, char *next)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_flags = AI_CANONNAME,
	};
	struct addrinfo *ai = NULL;
	char host[FQDN_SIZE];
	size_t len;

	memcpy(next, previous, FQDN_SIZE);
	if (read_hostname(host, sizeof(host)) < 0)
		return;

	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai || !ai->ai_canonname) {
		/*
		 * Keep the previous value while it still names this host; after a hostname
		 * change the new plain name beats a stale FQDN.
		 */
		if (!names_host(previous, host))
			memcpy(next, host, strlen(host) + 1);
		if (ai)
			freeaddrinfo(ai);
		return;
	}

	len = strlen(ai->ai_canonname);
	if (strchr(ai->ai_canonname, '.') && len < FQDN_SIZE)
		memcpy(next, ai->ai_canonname, len + 1);
	else
		memcpy(next, host, strlen(host) + 1);
	freeaddrinfo(ai);
}

static void *resolver_thread(void *userdata)
{
	KvpFqdn *f = userdata;
	char previous[FQDN_SIZE], next[FQDN_SIZE];

	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->requested && !f->stop)
			pthread_cond_wait(&f->cond, &f->lock);
		if (f->stop)
			break;
		f->requested = false;
		memcpy(previous, f->value, sizeof(previous));
		pthread_mutex_unlock(&f->lock);

		resolve(previous, next);

		pthread_mutex_lock(&f->lock);
		memcpy(f->value, next, sizeof(f->value));
		if (f->cb) {
			/* Unlocked, so that the callback may call kvp_fqdn_get(). */
			pthread_mutex_unlock(&f->lock);
			f->cb(next, f->userdata);
			pthread_mutex_lock(&f->lock);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int kvp_fqdn_new(KvpFqdnCallback cb, void *userdata, KvpFqdn **ret)
{
	sigset_t all, saved;
	KvpFqdn *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cb = cb;
	f->userdata = userdata;
	/* Without a hostname the value stays "" until a refresh finds one. */
	(void)read_hostname(f->value, sizeof(f->value));

	r = -pthread_mutex_init(&f->lock, NULL);
	if (r < 0)
		goto fail_free;
	r = -pthread_cond_init(&f->cond, NULL);
	if (r < 0)
		goto fail_mutex;

	/* The resolver thread never handles signals: the manager's loop does. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	r = -pthread_create(&f->thread, NULL, resolver_thread, f);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (r < 0)
		goto fail_cond;

	*ret = f;
	return 0;

fail_cond:
	pthread_cond_destroy(&f->cond);
fail_mutex:
	pthread_mutex_destroy(&f->lock);
fail_free:
	free(f);
	return r;
}

void kvp_fqdn_request_refresh(KvpFqdn *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->requested = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

int kvp_fqdn_get(KvpFqdn *f, char *buf, size_t size)
{
	size_t len;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	len = strlen(f->value);
	if (len >= size)
		r = -ENOBUFS;
	else
		memcpy(buf, f->value, len + 1);
	pthread_mutex_unlock(&f->lock);
	return r;
}

KvpFqdn *kvp_fqdn_free(KvpFqdn *f)
{
	if (!f)
		return NULL;

	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	(void)pthread_join(f->thread, NULL);

	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return NULL;
}
