/* SPDX-License-Identifier: MIT */
/* The fake freezer shared by test-vss-freeze.c and test-vss-guardian.c. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "vss/vss-freeze.h"
#include "vss/vss-guardian.h"

#define MSEC 1000ull
#define SEC 1000000ull
#define MAX_FAKE 32
#define MAX_EVENTS 4096
#define MAX_FD 1024

static bool count_allocs; /* test-only global: malloc has no userdata */

/* ---- the fake freezer --------------------------------------------------------------------- */

typedef enum FakeOp {
	OP_OPEN,
	OP_SYNCFS,
	OP_FREEZE,
	OP_THAW,
} FakeOp;

typedef struct FakeEvent {
	bool done; /* published (release) after the other fields */
	FakeOp op;
	int target;
	int ret;
	pid_t pid, tid;
	uint64_t start, end;
} FakeEvent;

typedef struct Fake {
	size_t n;
	char paths[MAX_FAKE][64];
	int open_error[MAX_FAKE], syncfs_error[MAX_FAKE], freeze_error[MAX_FAKE],
		thaw_error[MAX_FAKE];
	uint64_t syncfs_delay[MAX_FAKE], freeze_delay[MAX_FAKE];
	bool frozen[MAX_FAKE]; /* the fake kernel: FIFREEZE twice -> EBUSY, FITHAW unfrozen ->
				  EINVAL */
	int target_of_fd[MAX_FD];
	bool arm_alloc_counter; /* the first FIFREEZE starts the malloc counter */
	bool counter_fired;
	size_t n_events;
	FakeEvent events[MAX_EVENTS];
} Fake;

static inline uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static inline void sleep_usec(uint64_t usec)
{
	struct timespec ts = { .tv_sec = (time_t)(usec / SEC),
			       .tv_nsec = (long)(usec % SEC) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static inline void fake_record(Fake *f, FakeOp op, int target, int ret, uint64_t start)
{
	size_t k = __atomic_fetch_add(&f->n_events, 1, __ATOMIC_SEQ_CST);

	if (k >= MAX_EVENTS)
		abort();
	f->events[k] = (FakeEvent){ .op = op,
				    .target = target,
				    .ret = ret,
				    .pid = getpid(),
				    .tid = gettid(),
				    .start = start,
				    .end = mono_usec() };
	__atomic_store_n(&f->events[k].done, true, __ATOMIC_RELEASE);
}

/* Events are read while late workers may still add some: only published ones count. */
static inline bool event_is(const Fake *f, size_t k, FakeOp op, int target)
{
	const FakeEvent *e = &f->events[k];

	return __atomic_load_n(&e->done, __ATOMIC_ACQUIRE) && e->op == op &&
	       (target < 0 || e->target == target);
}

static inline size_t n_events(const Fake *f)
{
	return MIN(__atomic_load_n(&f->n_events, __ATOMIC_ACQUIRE), (size_t)MAX_EVENTS);
}

static inline int fake_target(Fake *f, int fd)
{
	if (fd < 0 || fd >= MAX_FD || f->target_of_fd[fd] < 0)
		abort(); /* the engine passed a descriptor it never got from us */
	return f->target_of_fd[fd];
}

static inline int fake_open(void *u, const char *path)
{
	Fake *f = u;
	uint64_t t0 = mono_usec();

	for (size_t i = 0; i < f->n; i++) {
		int fd;

		if (strcmp(f->paths[i], path) != 0)
			continue;
		if (f->open_error[i] < 0) {
			fake_record(f, OP_OPEN, (int)i, f->open_error[i], t0);
			return f->open_error[i];
		}
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fd >= MAX_FD)
			abort();
		f->target_of_fd[fd] = (int)i;
		fake_record(f, OP_OPEN, (int)i, fd, t0);
		return fd;
	}
	return -ENOENT;
}

static inline int fake_syncfs(void *u, int fd)
{
	Fake *f = u;
	int i = fake_target(f, fd);
	uint64_t t0 = mono_usec();

	sleep_usec(f->syncfs_delay[i]);
	fake_record(f, OP_SYNCFS, i, f->syncfs_error[i], t0);
	return f->syncfs_error[i];
}

static inline int fake_freeze(void *u, int fd)
{
	Fake *f = u;
	int i = fake_target(f, fd), r;
	uint64_t t0 = mono_usec();

	if (__atomic_exchange_n(&f->arm_alloc_counter, false, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&count_allocs, true, __ATOMIC_SEQ_CST);
		f->counter_fired = true;
	}
	sleep_usec(f->freeze_delay[i]);
	if (f->freeze_error[i] < 0)
		r = f->freeze_error[i];
	else if (__atomic_exchange_n(&f->frozen[i], true, __ATOMIC_SEQ_CST))
		r = -EBUSY;
	else
		r = 0;
	fake_record(f, OP_FREEZE, i, r, t0);
	return r;
}

static inline int fake_thaw(void *u, int fd)
{
	Fake *f = u;
	int i = fake_target(f, fd), r;
	uint64_t t0 = mono_usec();

	if (f->thaw_error[i] < 0)
		r = f->thaw_error[i];
	else if (!__atomic_exchange_n(&f->frozen[i], false, __ATOMIC_SEQ_CST))
		r = -EINVAL;
	else
		r = 0;
	fake_record(f, OP_THAW, i, r, t0);
	return r;
}

static const VssFreezerOps fake_ops = {
	.open = fake_open,
	.syncfs = fake_syncfs,
	.freeze = fake_freeze,
	.thaw = fake_thaw,
};

static inline int fake_add(Fake *f, const char *path)
{
	assert_true(f->n < MAX_FAKE);
	snprintf(f->paths[f->n], sizeof(f->paths[0]), "%s", path);
	return (int)f->n++;
}

/* Adds the targets to the fake under their own paths. */
static inline void fake_add_targets(Fake *f, const VssTarget *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(fake_add(f, t[i].path), (int)i);
}

static inline const FakeEvent *find_event(const Fake *f, FakeOp op, int target)
{
	for (size_t k = 0; k < n_events(f); k++)
		if (event_is(f, k, op, target))
			return &f->events[k];
	return NULL;
}

static inline size_t count_events(const Fake *f, FakeOp op, int target)
{
	size_t c = 0;

	for (size_t k = 0; k < n_events(f); k++)
		if (event_is(f, k, op, target))
			c++;
	return c;
}

static inline int fixture_setup(void **state)
{
	/* Shared: a forked guardian works on the same fake kernel and event log. */
	Fake *f =
		mmap(NULL, sizeof(Fake), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (f == MAP_FAILED)
		return -1;
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < MAX_FD; i++)
		f->target_of_fd[i] = -1;
	*state = f;
	return 0;
}

static inline int fixture_teardown(void **state)
{
	munmap(*state, sizeof(Fake));
	return 0;
}

static inline VssFreezeSession *new_session(Fake *f, const VssTarget *t, size_t n)
{
	VssFreezeSession *s = NULL;
	size_t bad = SIZE_MAX;

	assert_int_equal(vss_freeze_session_new(&fake_ops, f, t, n, &s, &bad), 0);
	assert_non_null(s);
	assert_int_equal(bad, SIZE_MAX); /* reterr_ is set only on failure */
	return s;
}

static inline unsigned count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}
