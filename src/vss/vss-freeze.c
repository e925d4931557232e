/* SPDX-License-Identifier: MIT */
/*
 * The freeze engine: see vss-freeze.h for the contract. Layout of a session:
 *
 *   order[]        target indices sorted by level (stable), lowest first;
 *   level_begin[]  level k owns order[level_begin[k] .. level_begin[k + 1]);
 *   shared[]       one byte per target in a MAP_SHARED mapping, so that a guardian forked
 *                  before the freeze sees what is frozen right now (SHARED_*);
 *   the pool       n_threads workers started with the session; a "job" is a kind and a slice
 *                  of order[] that workers take item by item under s->lock.
 *
 * Workers record freeze outcomes under s->lock, because after a timeout the caller decides,
 * under the same lock, which frozen targets it thaws itself and which a still-running worker
 * must thaw when its FIFREEZE returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vss/vss-freeze.h"

/* Small stacks: workers only run a syscall; with MCL_FUTURE every byte is locked. */
#define WORKER_STACK_SIZE (128u * 1024u)

/* Values of shared[i]; every other state is SHARED_IDLE (nothing for a guardian to thaw). */
enum {
	SHARED_IDLE = 0,
	SHARED_FREEZING = 1, /* FIFREEZE issued: may be frozen already */
	SHARED_FROZEN = 2,
};

typedef enum JobKind {
	JOB_SYNCFS,
	JOB_FREEZE,
	JOB_THAW,
} JobKind;

typedef enum SessionPhase {
	PHASE_OPEN,   /* opened (and maybe synced) */
	PHASE_FROZEN, /* freeze() ran; thaw() pending or done */
} SessionPhase;

struct VssFreezeSession {
	const VssFreezerOps *ops;
	void *userdata;

	size_t n;
	char *paths_buf; /* the copied paths, NUL-separated */
	int *fds;
	unsigned *levels;
	size_t *order;
	size_t *level_begin; /* n_levels + 1 entries */
	size_t n_levels;
	uint8_t *shared; /* MAP_SHARED|MAP_ANONYMOUS, n bytes */
	VssTargetResult *targets;
	VssFreezeResult result;
	SessionPhase phase;

	pthread_mutex_t lock;
	pthread_cond_t work_cond; /* workers: a job or exit */
	pthread_cond_t done_cond; /* caller: pending reached 0 (clock: CLOCK_MONOTONIC) */
	pthread_t *threads;
	size_t n_threads;
	size_t refs;	/* live workers + the owner; the last one out frees */
	size_t n_ready; /* workers done starting up (under lock) */
	bool sync_inited;

	/* Under lock. */
	JobKind job;
	const size_t *job_items;
	size_t job_n, job_next;
	size_t pending;	  /* items of the job not finished (untaken + in flight) */
	size_t in_flight; /* items a worker is executing right now */
	bool aborted;	  /* the freeze timed out: a worker whose FIFREEZE succeeds thaws at once */
	bool exiting;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	/* vDSO: no syscall, no allocation; safe in the critical section. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int linux_open(void *userdata, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? negative_errno() : fd;
}

static int linux_syncfs(void *userdata, int fd)
{
	return syncfs(fd) < 0 ? negative_errno() : 0;
}

static int linux_freeze(void *userdata, int fd)
{
	return ioctl(fd, FIFREEZE, 0) < 0 ? negative_errno() : 0;
}

static int linux_thaw(void *userdata, int fd)
{
	return ioctl(fd, FITHAW, 0) < 0 ? negative_errno() : 0;
}

const VssFreezerOps vss_freezer_ops_linux = {
	.open = linux_open,
	.syncfs = linux_syncfs,
	.freeze = linux_freeze,
	.thaw = linux_thaw,
};

const char *vss_target_state_to_string(VssTargetState s)
{
	static const char *const names[_VSS_TARGET_STATE_MAX] = {
		[VSS_TARGET_OPEN] = "open",
		[VSS_TARGET_FREEZING] = "freezing",
		[VSS_TARGET_FROZEN] = "frozen",
		[VSS_TARGET_CANNOT_FREEZE] = "cannot-freeze",
		[VSS_TARGET_NOT_OURS] = "not-ours",
		[VSS_TARGET_FAILED] = "failed",
		[VSS_TARGET_THAWED] = "thawed",
		[VSS_TARGET_THAWED_ELSEWHERE] = "thawed-elsewhere",
		[VSS_TARGET_THAW_FAILED] = "thaw-failed",
	};

	return s >= 0 && s < _VSS_TARGET_STATE_MAX ? names[s] : NULL;
}

__attribute__((noinline)) void vss_freeze_prefault_stack(void)
{
	volatile uint8_t buf[VSS_FREEZE_PREFAULT_STACK];

	/* One write per page is enough; volatile keeps the compiler from dropping it. */
	for (size_t i = 0; i < sizeof(buf); i += 1024)
		buf[i] = 0;
	buf[sizeof(buf) - 1] = 0;
}

int vss_freeze_lock_memory(void)
{
	return mlockall(MCL_CURRENT | MCL_FUTURE) < 0 ? negative_errno() : 0;
}

static void shared_set(VssFreezeSession *s, size_t i, uint8_t v)
{
	__atomic_store_n(&s->shared[i], v, __ATOMIC_SEQ_CST);
}

/* Records a thaw outcome; EINVAL means somebody else thawed it first (§7.2). */
static void record_thaw(VssFreezeSession *s, size_t i, int r, uint64_t usec)
{
	VssTargetResult *t = &s->targets[i];

	t->thaw_usec = usec;
	if (r >= 0 || r == -EINVAL) {
		t->state = r >= 0 ? VSS_TARGET_THAWED : VSS_TARGET_THAWED_ELSEWHERE;
		shared_set(s, i, SHARED_IDLE);
	} else {
		t->state = VSS_TARGET_THAW_FAILED;
		t->error = r;
	}
}

static void thaw_one(VssFreezeSession *s, size_t i)
{
	uint64_t t0 = now_usec();
	int r = s->ops->thaw(s->userdata, s->fds[i]);

	record_thaw(s, i, r, now_usec() - t0);
}

static void do_syncfs(VssFreezeSession *s, size_t i)
{
	uint64_t t0 = now_usec();
	int r = s->ops->syncfs(s->userdata, s->fds[i]);

	s->targets[i].syncfs_usec = now_usec() - t0;
	s->targets[i].syncfs_error = r < 0 ? r : 0;
}

static void do_freeze(VssFreezeSession *s, size_t i)
{
	VssTargetResult *t = &s->targets[i];
	bool late = false;
	uint64_t t0;
	int r;

	/* Mark before the ioctl: a guardian must thaw a freeze that may have happened. */
	shared_set(s, i, SHARED_FREEZING);
	t0 = now_usec();
	r = s->ops->freeze(s->userdata, s->fds[i]);

	pthread_mutex_lock(&s->lock);
	t->freeze_usec = now_usec() - t0;
	if (r >= 0) {
		t->state = VSS_TARGET_FROZEN;
		shared_set(s, i, SHARED_FROZEN);
		late = s->aborted;
	} else {
		shared_set(s, i, SHARED_IDLE);
		if (r == -EOPNOTSUPP) {
			t->state = VSS_TARGET_CANNOT_FREEZE;
		} else if (r == -EBUSY) {
			t->state = VSS_TARGET_NOT_OURS;
		} else {
			t->state = VSS_TARGET_FAILED;
			t->error = r;
		}
	}
	pthread_mutex_unlock(&s->lock);

	/* The caller gave up on us and already thawed the rest: undo our own freeze now. */
	if (late) {
		t0 = now_usec();
		r = s->ops->thaw(s->userdata, s->fds[i]);
		pthread_mutex_lock(&s->lock);
		record_thaw(s, i, r, now_usec() - t0);
		pthread_mutex_unlock(&s->lock);
	}
}

static void do_thaw(VssFreezeSession *s, size_t i)
{
	if (s->targets[i].state == VSS_TARGET_FROZEN)
		thaw_one(s, i);
}

static void do_item(VssFreezeSession *s, JobKind kind, size_t i)
{
	switch (kind) {
	case JOB_SYNCFS:
		do_syncfs(s, i);
		break;
	case JOB_FREEZE:
		do_freeze(s, i);
		break;
	case JOB_THAW:
		do_thaw(s, i);
		break;
	}
}

static void session_destroy(VssFreezeSession *s)
{
	for (size_t i = 0; s->fds && i < s->n; i++)
		safe_close(s->fds[i]);
	if (s->shared)
		(void)munmap(s->shared, s->n);
	if (s->sync_inited) {
		pthread_cond_destroy(&s->done_cond);
		pthread_cond_destroy(&s->work_cond);
		pthread_mutex_destroy(&s->lock);
	}
	free(s->threads);
	free(s->targets);
	free(s->level_begin);
	free(s->order);
	free(s->levels);
	free(s->fds);
	free(s->paths_buf);
	free(s);
}

/* Drops one reference under the lock; true if the caller must now destroy the session. */
static bool session_unref_locked(VssFreezeSession *s)
{
	return --s->refs == 0;
}

static void *worker_main(void *p)
{
	VssFreezeSession *s = p;
	bool last;

	vss_freeze_prefault_stack();
	pthread_mutex_lock(&s->lock);
	s->n_ready++;
	pthread_cond_signal(&s->done_cond);
	for (;;) {
		if (s->job_next < s->job_n) {
			JobKind kind = s->job;
			size_t i = s->job_items[s->job_next++];

			s->in_flight++;
			pthread_mutex_unlock(&s->lock);
			do_item(s, kind, i);
			pthread_mutex_lock(&s->lock);
			s->in_flight--;
			if (--s->pending == 0)
				pthread_cond_signal(&s->done_cond);
			continue;
		}
		if (s->exiting)
			break;
		pthread_cond_wait(&s->work_cond, &s->lock);
	}
	last = session_unref_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (last)
		session_destroy(s);
	return NULL;
}

/*
 * Hands items to the pool and waits until all are done. With a deadline (CLOCK_MONOTONIC µs,
 * 0 = none) it stops handing out items when it passes and returns -ETIMEDOUT with the
 * started ones possibly still running (s->in_flight).
 */
static int run_job(VssFreezeSession *s, JobKind kind, const size_t *items, size_t n,
		   uint64_t deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000u),
		.tv_nsec = (long)(deadline % 1000000u) * 1000,
	};
	int r = 0;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	s->job = kind;
	s->job_items = items;
	s->job_n = n;
	s->job_next = 0;
	s->pending = n;
	pthread_cond_broadcast(&s->work_cond);
	while (s->pending > 0) {
		if (deadline == 0) {
			pthread_cond_wait(&s->done_cond, &s->lock);
			continue;
		}
		if (pthread_cond_timedwait(&s->done_cond, &s->lock, &ts) == ETIMEDOUT &&
		    s->pending > 0) {
			/* Items not taken yet are dropped; those in flight finish on their own. */
			s->pending -= s->job_n - s->job_next;
			s->job_n = s->job_next;
			r = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Thaws every FROZEN target, highest level first; returns the first error. */
static int thaw_all(VssFreezeSession *s)
{
	bool pool;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	/* After a timeout the pool may still be busy: thaw on this thread then. */
	pool = s->in_flight == 0;
	pthread_mutex_unlock(&s->lock);

	for (size_t k = s->n_levels; k-- > 0;) {
		const size_t *items = s->order + s->level_begin[k];
		size_t n = s->level_begin[k + 1] - s->level_begin[k];

		if (pool) {
			(void)run_job(s, JOB_THAW, items, n, 0);
			continue;
		}
		for (size_t j = 0; j < n; j++) {
			bool frozen;

			pthread_mutex_lock(&s->lock);
			frozen = s->targets[items[j]].state == VSS_TARGET_FROZEN;
			pthread_mutex_unlock(&s->lock);
			if (frozen)
				thaw_one(s, items[j]);
		}
	}

	pthread_mutex_lock(&s->lock);
	s->result.n_thaw_failed = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->targets[i].state == VSS_TARGET_THAW_FAILED) {
			s->result.n_thaw_failed++;
			if (r == 0)
				r = s->targets[i].error;
		}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void count_freeze_outcomes(VssFreezeSession *s)
{
	VssFreezeResult *res = &s->result;

	res->n_frozen = res->n_cannot_freeze = res->n_not_ours = 0;
	for (size_t i = 0; i < s->n; i++) {
		VssTargetState st = s->targets[i].state;

		res->n_frozen += st == VSS_TARGET_FROZEN;
		res->n_cannot_freeze += st == VSS_TARGET_CANNOT_FREEZE;
		res->n_not_ours += st == VSS_TARGET_NOT_OURS;
	}
}

/* After a failed level: the first failing target in plan order, or -1. */
static ssize_t find_failed(const VssFreezeSession *s, size_t level)
{
	for (size_t j = s->level_begin[level]; j < s->level_begin[level + 1]; j++)
		if (s->targets[s->order[j]].state == VSS_TARGET_FAILED)
			return (ssize_t)s->order[j];
	return -1;
}

/* Under lock after a timeout: marks in-flight freezes and returns the first one, or -1. */
static ssize_t mark_freezing_locked(VssFreezeSession *s)
{
	ssize_t first = -1;

	for (size_t j = 0; j < s->n; j++) {
		size_t i = s->order[j];

		if (__atomic_load_n(&s->shared[i], __ATOMIC_SEQ_CST) == SHARED_FREEZING &&
		    s->targets[i].state == VSS_TARGET_OPEN) {
			s->targets[i].state = VSS_TARGET_FREEZING;
			if (first < 0)
				first = (ssize_t)i;
		}
	}
	return first;
}

int vss_freeze_session_freeze(VssFreezeSession *s, uint64_t timeout_usec)
{
	VssFreezeResult *res = &s->result;
	uint64_t start, deadline;
	int r = 0;

	if (s->phase != PHASE_OPEN)
		return -EALREADY;
	s->phase = PHASE_FROZEN;

	start = now_usec();
	deadline = timeout_usec > 0 ? start + timeout_usec : 0;
	res->freeze_start_usec = start;
	for (size_t k = 0; k < s->n_levels; k++) {
		ssize_t failed;

		r = run_job(s, JOB_FREEZE, s->order + s->level_begin[k],
			    s->level_begin[k + 1] - s->level_begin[k], deadline);
		if (r == -ETIMEDOUT) {
			pthread_mutex_lock(&s->lock);
			s->aborted = true;
			res->failed_index = mark_freezing_locked(s);
			pthread_mutex_unlock(&s->lock);
			res->error = r;
			break;
		}
		failed = find_failed(s, k);
		if (failed >= 0) {
			res->failed_index = failed;
			res->error = r = s->targets[failed].error;
			break;
		}
	}
	res->freeze_usec = now_usec() - start;

	pthread_mutex_lock(&s->lock);
	count_freeze_outcomes(s);
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		uint64_t t0 = now_usec();

		(void)thaw_all(s);
		res->thaw_usec = now_usec() - t0;
		res->blocked_usec = now_usec() - start;
	}
	return r;
}

int vss_freeze_session_thaw(VssFreezeSession *s)
{
	VssFreezeResult *res = &s->result;
	bool any = false;
	uint64_t t0;
	int r;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n && !any; i++)
		any = s->targets[i].state == VSS_TARGET_FROZEN;
	pthread_mutex_unlock(&s->lock);
	if (!any)
		return 0;

	t0 = now_usec();
	r = thaw_all(s);
	res->thaw_usec = now_usec() - t0;
	res->blocked_usec = now_usec() - res->freeze_start_usec;
	return r;
}

int vss_freeze_session_sync(VssFreezeSession *s)
{
	uint64_t t0;

	if (s->phase != PHASE_OPEN)
		return -EALREADY;
	t0 = now_usec();
	(void)run_job(s, JOB_SYNCFS, s->order, s->n, 0);
	s->result.syncfs_usec = now_usec() - t0;
	s->result.n_syncfs_failed = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->targets[i].syncfs_error < 0)
			s->result.n_syncfs_failed++;
	return (int)s->result.n_syncfs_failed;
}

const VssFreezeResult *vss_freeze_session_result(const VssFreezeSession *s)
{
	return &s->result;
}

const int *vss_freeze_session_fds(const VssFreezeSession *s, size_t *ret_n)
{
	*ret_n = s->n;
	return s->fds;
}

void vss_freeze_session_guardian_thaw(void *session)
{
	VssFreezeSession *s = session;

	for (size_t j = s->n; j-- > 0;) {
		size_t i = s->order[j];
		uint8_t v = __atomic_load_n(&s->shared[i], __ATOMIC_SEQ_CST);

		/* FREEZING too: the parent may have died between FIFREEZE and recording it. */
		if (v == SHARED_FREEZING || v == SHARED_FROZEN)
			(void)s->ops->thaw(s->userdata, s->fds[i]);
	}
}

VssFreezeSession *vss_freeze_session_free(VssFreezeSession *s)
{
	bool stuck, last;

	if (!s)
		return NULL;
	(void)vss_freeze_session_thaw(s);

	pthread_mutex_lock(&s->lock);
	s->exiting = true;
	s->pending -= s->job_n - s->job_next;
	s->job_n = s->job_next;
	pthread_cond_broadcast(&s->work_cond);
	stuck = s->in_flight > 0;
	pthread_mutex_unlock(&s->lock);

	if (!stuck) {
		for (size_t t = 0; t < s->n_threads; t++)
			pthread_join(s->threads[t], NULL);
		session_destroy(s);
		return NULL;
	}
	/* A FIFREEZE never returned: let the last worker free everything when it does. */
	for (size_t t = 0; t < s->n_threads; t++)
		pthread_detach(s->threads[t]);
	pthread_mutex_lock(&s->lock);
	last = session_unref_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (last)
		session_destroy(s);
	return NULL;
}

/* Stable sort of target indices by level, then level boundaries. n is small (<= 4096). */
static int build_order(VssFreezeSession *s)
{
	for (size_t i = 0; i < s->n; i++) {
		size_t j = i;

		while (j > 0 && s->levels[s->order[j - 1]] > s->levels[i]) {
			s->order[j] = s->order[j - 1];
			j--;
		}
		s->order[j] = i;
	}
	s->level_begin = calloc(s->n + 1, sizeof(size_t));
	if (!s->level_begin)
		return -ENOMEM;
	for (size_t j = 0; j < s->n; j++)
		if (j == 0 || s->levels[s->order[j]] != s->levels[s->order[j - 1]])
			s->level_begin[s->n_levels++] = j;
	s->level_begin[s->n_levels] = s->n;
	return 0;
}

static int copy_targets(VssFreezeSession *s, const VssTarget *targets, size_t n,
			ssize_t *reterr_index)
{
	size_t total = 0;
	char *p;

	for (size_t i = 0; i < n; i++) {
		if (!targets[i].path || !targets[i].path[0]) {
			*reterr_index = (ssize_t)i;
			return -EINVAL;
		}
		total += strlen(targets[i].path) + 1;
	}
	s->fds = malloc((n ? n : 1) * sizeof(int));
	if (!s->fds)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		s->fds[i] = -EBADF;
	s->paths_buf = malloc(total ? total : 1);
	s->levels = calloc(n ? n : 1, sizeof(unsigned));
	s->order = calloc(n ? n : 1, sizeof(size_t));
	s->targets = calloc(n ? n : 1, sizeof(VssTargetResult));
	if (!s->paths_buf || !s->levels || !s->order || !s->targets)
		return -ENOMEM;
	p = s->paths_buf;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(targets[i].path) + 1;

		memcpy(p, targets[i].path, len);
		p += len;
		s->levels[i] = targets[i].level;
	}
	/* Touch every result byte now (calloc may hand out untouched fresh pages). */
	memset(s->targets, 0, (n ? n : 1) * sizeof(VssTargetResult));
	return 0;
}

static int open_targets(VssFreezeSession *s, ssize_t *reterr_index)
{
	const char *p = s->paths_buf;

	for (size_t i = 0; i < s->n; i++) {
		int fd = s->ops->open(s->userdata, p);

		if (fd < 0) {
			*reterr_index = (ssize_t)i;
			return fd;
		}
		s->fds[i] = fd;
		p += strlen(p) + 1;
	}
	return 0;
}

static int init_sync(VssFreezeSession *s)
{
	pthread_condattr_t ca;
	int r;

	/* done_cond waits with CLOCK_MONOTONIC deadlines. Default attributes cannot fail. */
	r = pthread_condattr_init(&ca);
	if (r == 0) {
		r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (r == 0)
			r = pthread_cond_init(&s->done_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (r != 0)
		return -r;
	pthread_cond_init(&s->work_cond, NULL);
	pthread_mutex_init(&s->lock, NULL);
	s->sync_inited = true;
	return 0;
}

/* Starts the workers with every signal blocked: signals belong to the daemon's main thread. */
static int start_workers(VssFreezeSession *s)
{
	size_t want = MIN(s->n, (size_t)VSS_FREEZE_MAX_THREADS);
	sigset_t all, saved;
	pthread_attr_t attr;
	int r;

	s->threads = calloc(want ? want : 1, sizeof(pthread_t));
	if (!s->threads)
		return -ENOMEM;
	r = pthread_attr_init(&attr);
	if (r != 0)
		return -r;
	r = pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	for (size_t t = 0; r == 0 && t < want; t++) {
		r = pthread_create(&s->threads[t], &attr, worker_main, s);
		if (r == 0) {
			pthread_mutex_lock(&s->lock);
			s->refs++;
			pthread_mutex_unlock(&s->lock);
			s->n_threads++;
		}
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return -r;

	/* Thread start-up may allocate (TLS, sanitizers) and fault: finish it before any freeze. */
	pthread_mutex_lock(&s->lock);
	while (s->n_ready < s->n_threads)
		pthread_cond_wait(&s->done_cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void session_abandon(VssFreezeSession *s)
{
	if (s->sync_inited) {
		pthread_mutex_lock(&s->lock);
		s->exiting = true;
		pthread_cond_broadcast(&s->work_cond);
		pthread_mutex_unlock(&s->lock);
		for (size_t t = 0; t < s->n_threads; t++)
			pthread_join(s->threads[t], NULL);
	}
	session_destroy(s);
}

int vss_freeze_session_new(const VssFreezerOps *ops, void *userdata, const VssTarget *targets,
			   size_t n_targets, VssFreezeSession **ret, size_t *reterr_index)
{
	VssFreezeSession *s;
	ssize_t bad = -1; /* set when the failure belongs to one target */
	int r;

	if (!ops || !ops->open || !ops->syncfs || !ops->freeze || !ops->thaw ||
	    (n_targets > 0 && !targets))
		return -EINVAL;
	if (n_targets > VSS_FREEZE_MAX_TARGETS)
		return -E2BIG;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->userdata = userdata;
	s->n = n_targets;
	s->refs = 1;
	s->result.failed_index = -1;

	r = copy_targets(s, targets, n_targets, &bad);
	if (r >= 0)
		r = build_order(s);
	if (r >= 0 && n_targets > 0) {
		s->shared = mmap(NULL, n_targets, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (s->shared == MAP_FAILED) {
			s->shared = NULL;
			r = negative_errno();
		} else {
			memset(s->shared, SHARED_IDLE, n_targets);
		}
	}
	if (r >= 0)
		r = open_targets(s, &bad);
	if (r >= 0)
		r = init_sync(s);
	if (r >= 0)
		r = start_workers(s);
	if (r < 0) {
		if (bad >= 0 && reterr_index)
			*reterr_index = (size_t)bad;
		session_abandon(s);
		return r;
	}
	s->result.targets = s->targets;
	s->result.n_targets = n_targets;
	*ret = s;
	return 0;
}
