/* SPDX-License-Identifier: MIT */
/*
 * Freeze engine, guardian and marker against a FAKE freezer. Nothing here ever issues a real
 * FIFREEZE or FITHAW: the fake hands out /dev/null descriptors and keeps its own "kernel"
 * state (frozen or not, per target) in memory shared across fork(), so that a guardian child
 * acts on the same fake kernel as the parent, as it would on the real one.
 */
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

/* ---- malloc counter: proves that nothing allocates inside the frozen window ---------------- */

static bool count_allocs; /* test-only global: malloc has no userdata */
static unsigned long n_allocs;

static void note_alloc(void)
{
	if (__atomic_load_n(&count_allocs, __ATOMIC_SEQ_CST))
		__atomic_fetch_add(&n_allocs, 1, __ATOMIC_SEQ_CST);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HAVE_SANITIZER_ALLOCATOR 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HAVE_SANITIZER_ALLOCATOR 1
#endif

#ifdef HAVE_SANITIZER_ALLOCATOR
/* The sanitizer owns malloc: use its hooks instead of interposing. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
					      void (*free_hook)(const volatile void *));

static void asan_malloc_hook(const volatile void *p, size_t size)
{
	note_alloc();
}

static void asan_free_hook(const volatile void *p)
{
}

static void install_alloc_counter(void)
{
	assert_int_not_equal(
		__sanitizer_install_malloc_and_free_hooks(asan_malloc_hook, asan_free_hook), 0);
}
#else
/* Interpose the allocator for this executable; glibc's own entry points do the work. */
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void __libc_free(void *p);

void *malloc(size_t size)
{
	note_alloc();
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	note_alloc();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	note_alloc();
	return __libc_realloc(p, size);
}

void free(void *p)
{
	__libc_free(p);
}

static void install_alloc_counter(void)
{
}
#endif

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

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_usec(uint64_t usec)
{
	struct timespec ts = { .tv_sec = (time_t)(usec / SEC),
			       .tv_nsec = (long)(usec % SEC) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void fake_record(Fake *f, FakeOp op, int target, int ret, uint64_t start)
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
static bool event_is(const Fake *f, size_t k, FakeOp op, int target)
{
	const FakeEvent *e = &f->events[k];

	return __atomic_load_n(&e->done, __ATOMIC_ACQUIRE) && e->op == op &&
	       (target < 0 || e->target == target);
}

static size_t n_events(const Fake *f)
{
	return MIN(__atomic_load_n(&f->n_events, __ATOMIC_ACQUIRE), (size_t)MAX_EVENTS);
}

static int fake_target(Fake *f, int fd)
{
	if (fd < 0 || fd >= MAX_FD || f->target_of_fd[fd] < 0)
		abort(); /* the engine passed a descriptor it never got from us */
	return f->target_of_fd[fd];
}

static int fake_open(void *u, const char *path)
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

static int fake_syncfs(void *u, int fd)
{
	Fake *f = u;
	int i = fake_target(f, fd);
	uint64_t t0 = mono_usec();

	sleep_usec(f->syncfs_delay[i]);
	fake_record(f, OP_SYNCFS, i, f->syncfs_error[i], t0);
	return f->syncfs_error[i];
}

static int fake_freeze(void *u, int fd)
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

static int fake_thaw(void *u, int fd)
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

static int fake_add(Fake *f, const char *path)
{
	assert_true(f->n < MAX_FAKE);
	snprintf(f->paths[f->n], sizeof(f->paths[0]), "%s", path);
	return (int)f->n++;
}

/* Adds the targets to the fake under their own paths. */
static void fake_add_targets(Fake *f, const VssTarget *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(fake_add(f, t[i].path), (int)i);
}

static const FakeEvent *find_event(const Fake *f, FakeOp op, int target)
{
	for (size_t k = 0; k < n_events(f); k++)
		if (event_is(f, k, op, target))
			return &f->events[k];
	return NULL;
}

static size_t count_events(const Fake *f, FakeOp op, int target)
{
	size_t c = 0;

	for (size_t k = 0; k < n_events(f); k++)
		if (event_is(f, k, op, target))
			c++;
	return c;
}

static int fixture_setup(void **state)
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

static int fixture_teardown(void **state)
{
	munmap(*state, sizeof(Fake));
	return 0;
}

static VssFreezeSession *new_session(Fake *f, const VssTarget *t, size_t n)
{
	VssFreezeSession *s = NULL;
	size_t bad = SIZE_MAX;

	assert_int_equal(vss_freeze_session_new(&fake_ops, f, t, n, &s, &bad), 0);
	assert_non_null(s);
	assert_int_equal(bad, SIZE_MAX); /* reterr_ is set only on failure */
	return s;
}

static unsigned count_dir(const char *path)
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

/* ---- engine ----------------------------------------------------------------------------- */

static void test_order_levels(void **state)
{
	Fake *f = *state;
	/* Input order deliberately not sorted by level. */
	const VssTarget t[] = {
		{ "/l1a", 1 }, { "/l0a", 0 }, { "/l7", 7 }, { "/l0b", 0 }, { "/l1b", 1 },
	};
	const VssFreezeResult *res;
	VssFreezeSession *s;
	uint64_t last_sync_end = 0, first_freeze_start = UINT64_MAX;
	uint64_t last_open_end = 0, first_sync_start = UINT64_MAX;

	fake_add_targets(f, t, ELEMENTSOF(t));
	s = new_session(f, t, ELEMENTSOF(t));
	/* Everything is opened by _new(), before any other call. */
	assert_int_equal(count_events(f, OP_OPEN, -1), ELEMENTSOF(t));
	assert_int_equal(f->n_events, ELEMENTSOF(t));

	assert_int_equal(vss_freeze_session_sync(s), 0);
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	res = vss_freeze_session_result(s);
	assert_int_equal(res->n_targets, ELEMENTSOF(t));
	assert_int_equal(res->n_frozen, ELEMENTSOF(t));
	assert_int_equal(res->failed_index, -1);
	assert_int_equal(res->error, 0);
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		assert_int_equal(res->targets[i].state, VSS_TARGET_FROZEN);
		assert_true(f->frozen[i]);
	}
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		assert_int_equal(res->targets[i].state, VSS_TARGET_THAWED);
		assert_false(f->frozen[i]);
		assert_int_equal(count_events(f, OP_SYNCFS, (int)i), 1);
		assert_int_equal(count_events(f, OP_FREEZE, (int)i), 1);
		assert_int_equal(count_events(f, OP_THAW, (int)i), 1);
	}

	for (size_t k = 0; k < f->n_events; k++) {
		const FakeEvent *e = &f->events[k];

		if (e->op == OP_OPEN)
			last_open_end = MAX(last_open_end, e->end);
		if (e->op == OP_SYNCFS) {
			last_sync_end = MAX(last_sync_end, e->end);
			first_sync_start = MIN(first_sync_start, e->start);
		}
		if (e->op == OP_FREEZE)
			first_freeze_start = MIN(first_freeze_start, e->start);
	}
	/* open all, then syncfs all (writes still flow), then the first freeze. */
	assert_true(last_open_end <= first_sync_start);
	assert_true(last_sync_end <= first_freeze_start);

	/* Lower levels are completely frozen before a higher one starts; thaw is the mirror. */
	for (size_t a = 0; a < ELEMENTSOF(t); a++)
		for (size_t b = 0; b < ELEMENTSOF(t); b++) {
			if (t[a].level >= t[b].level)
				continue;
			assert_true(find_event(f, OP_FREEZE, (int)a)->end <=
				    find_event(f, OP_FREEZE, (int)b)->start);
			assert_true(find_event(f, OP_THAW, (int)b)->end <=
				    find_event(f, OP_THAW, (int)a)->start);
		}

	assert_true(res->freeze_start_usec <= find_event(f, OP_FREEZE, 1)->start);
	assert_true(res->blocked_usec >= res->freeze_usec);
	assert_true(res->blocked_usec >= res->thaw_usec);

	/* One freeze per session; a second thaw does nothing. */
	assert_int_equal(vss_freeze_session_freeze(s, 0), -EALREADY);
	assert_int_equal(vss_freeze_session_sync(s), -EALREADY);
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	assert_int_equal(count_events(f, OP_THAW, -1), ELEMENTSOF(t));
	assert_null(vss_freeze_session_free(s));
}

/* Task ids of this process right now. */
static size_t list_tasks(pid_t *tids, size_t max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && n < max)
			tids[n++] = (pid_t)atoi(de->d_name);
	closedir(d);
	return n;
}

static void test_parallel_within_level(void **state)
{
	Fake *f = *state;
	VssTarget t[8];
	char names[8][16];
	pid_t tasks[64], tids[8];
	size_t n_tasks;
	uint64_t max_start = 0, min_end = UINT64_MAX;
	VssFreezeSession *s;

	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		snprintf(names[i], sizeof(names[i]), "/p%zu", i);
		t[i] = (VssTarget){ names[i], 0 };
		fake_add(f, names[i]);
		f->freeze_delay[i] = 50 * MSEC;
		f->syncfs_delay[i] = 20 * MSEC;
	}
	s = new_session(f, t, ELEMENTSOF(t));
	/* The workers exist before the first freeze. */
	n_tasks = list_tasks(tasks, ELEMENTSOF(tasks));
	assert_true(n_tasks >= 1 + ELEMENTSOF(t));

	assert_int_equal(vss_freeze_session_sync(s), 0);
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	assert_int_equal(vss_freeze_session_thaw(s), 0);

	/* Every freeze interval overlaps every other one: latest start before earliest end. */
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		const FakeEvent *e = find_event(f, OP_FREEZE, (int)i);
		bool known = false;

		max_start = MAX(max_start, e->start);
		min_end = MIN(min_end, e->end);
		tids[i] = e->tid;
		for (size_t k = 0; k < n_tasks; k++)
			known = known || tasks[k] == e->tid;
		assert_true(known); /* no thread was created for the freeze */
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(tids[j], tids[i]);
	}
	assert_true(max_start < min_end);

	/* syncfs ran in parallel as well. */
	max_start = 0;
	min_end = UINT64_MAX;
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		const FakeEvent *e = find_event(f, OP_SYNCFS, (int)i);

		max_start = MAX(max_start, e->start);
		min_end = MIN(min_end, e->end);
	}
	assert_true(max_start < min_end);
	vss_freeze_session_free(s);
}

static void test_rollback(void **state)
{
	Fake *f = *state;
	enum { A, B, C, D, E };
	const VssTarget t[] = {
		[A] = { "/a", 0 }, [B] = { "/b", 0 }, [C] = { "/c", 1 },
		[D] = { "/d", 1 }, [E] = { "/e", 2 },
	};
	const VssFreezeResult *res;
	VssFreezeSession *s;

	fake_add_targets(f, t, ELEMENTSOF(t));
	f->freeze_error[C] = -EIO;
	/* D finishes after C failed: the rest of the level is still waited for and undone. */
	f->freeze_delay[D] = 30 * MSEC;
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_sync(s), 0);
	assert_int_equal(vss_freeze_session_freeze(s, 0), -EIO);

	res = vss_freeze_session_result(s);
	assert_int_equal(res->failed_index, C);
	assert_int_equal(res->error, -EIO);
	assert_int_equal(res->n_frozen, 3);
	assert_int_equal(res->targets[A].state, VSS_TARGET_THAWED);
	assert_int_equal(res->targets[B].state, VSS_TARGET_THAWED);
	assert_int_equal(res->targets[C].state, VSS_TARGET_FAILED);
	assert_int_equal(res->targets[C].error, -EIO);
	assert_int_equal(res->targets[D].state, VSS_TARGET_THAWED);
	assert_int_equal(res->targets[E].state, VSS_TARGET_OPEN);
	assert_true(res->blocked_usec > 0);

	/* Nothing left frozen; the failed one never thawed; level 2 never touched. */
	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		assert_false(f->frozen[i]);
	assert_int_equal(count_events(f, OP_THAW, C), 0);
	assert_int_equal(count_events(f, OP_FREEZE, E), 0);
	assert_int_equal(count_events(f, OP_THAW, E), 0);
	/* Reverse order: level 1 thawed before level 0. */
	assert_true(find_event(f, OP_THAW, D)->end <= find_event(f, OP_THAW, A)->start);
	assert_true(find_event(f, OP_THAW, D)->end <= find_event(f, OP_THAW, B)->start);

	assert_int_equal(vss_freeze_session_thaw(s), 0);
	assert_int_equal(count_events(f, OP_THAW, -1), 3);
	vss_freeze_session_free(s);
	assert_int_equal(count_events(f, OP_THAW, -1), 3);
}

static void test_ebusy_not_ours(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/mine", 0 }, { "/theirs", 0 }, { "/top", 1 } };
	const VssFreezeResult *res;
	VssFreezeSession *s;

	fake_add_targets(f, t, ELEMENTSOF(t));
	f->frozen[1] = true; /* somebody else froze it */
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	res = vss_freeze_session_result(s);
	assert_int_equal(res->targets[1].state, VSS_TARGET_NOT_OURS);
	assert_int_equal(res->n_not_ours, 1);
	assert_int_equal(res->n_frozen, 2);
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	vss_freeze_session_free(s);

	assert_int_equal(count_events(f, OP_THAW, 1), 0);
	assert_true(f->frozen[1]); /* still theirs, still frozen */
	assert_false(f->frozen[0]);
	assert_false(f->frozen[2]);
}

static void test_eopnotsupp_skipped(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/ext4", 0 }, { "/vfat", 0 }, { "/xfs", 1 } };
	const VssFreezeResult *res;
	VssFreezeSession *s;

	fake_add_targets(f, t, ELEMENTSOF(t));
	f->freeze_error[1] = -EOPNOTSUPP;
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	res = vss_freeze_session_result(s);
	assert_int_equal(res->targets[1].state, VSS_TARGET_CANNOT_FREEZE);
	assert_int_equal(res->targets[1].error, 0);
	assert_int_equal(res->n_cannot_freeze, 1);
	assert_int_equal(res->failed_index, -1);
	/* The level after it still froze. */
	assert_int_equal(res->targets[2].state, VSS_TARGET_FROZEN);
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	assert_int_equal(res->targets[0].state, VSS_TARGET_THAWED);
	assert_int_equal(res->targets[1].state, VSS_TARGET_CANNOT_FREEZE);
	assert_int_equal(count_events(f, OP_THAW, 1), 0);
	vss_freeze_session_free(s);
}

static void test_open_failure(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/x", 0 }, { "/y", 0 }, { "/gone", 1 }, { "/z", 1 } };
	const VssTarget bad_path[] = { { "/x", 0 }, { "", 0 } };
	unsigned fds_before = count_dir("/proc/self/fd");
	VssFreezeSession *s = NULL;
	size_t bad = SIZE_MAX;

	fake_add_targets(f, t, ELEMENTSOF(t));
	f->open_error[2] = -ENOENT;
	assert_int_equal(vss_freeze_session_new(&fake_ops, f, t, ELEMENTSOF(t), &s, &bad), -ENOENT);
	assert_null(s);
	assert_int_equal(bad, 2);
	/* Nothing synced or frozen, nothing left open. */
	assert_int_equal(count_events(f, OP_SYNCFS, -1), 0);
	assert_int_equal(count_events(f, OP_FREEZE, -1), 0);
	assert_int_equal(count_dir("/proc/self/fd"), fds_before);

	bad = SIZE_MAX;
	assert_int_equal(vss_freeze_session_new(&fake_ops, f, bad_path, 2, &s, &bad), -EINVAL);
	assert_int_equal(bad, 1);
	assert_int_equal(
		vss_freeze_session_new(&fake_ops, f, t, VSS_FREEZE_MAX_TARGETS + 1, &s, NULL),
		-E2BIG);
}

static void test_syncfs_error_not_fatal(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/ok", 0 }, { "/eio", 0 } };
	const VssFreezeResult *res;
	VssFreezeSession *s;

	fake_add_targets(f, t, ELEMENTSOF(t));
	f->syncfs_error[1] = -EIO;
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_sync(s), 1);
	res = vss_freeze_session_result(s);
	assert_int_equal(res->n_syncfs_failed, 1);
	assert_int_equal(res->targets[1].syncfs_error, -EIO);
	assert_int_equal(res->targets[0].syncfs_error, 0);
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	assert_int_equal(res->n_frozen, 2);
	vss_freeze_session_free(s);
}

static void test_thaw_outcomes(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/elsewhere", 0 }, { "/eio", 0 }, { "/fine", 0 }, { "/up", 1 } };
	const VssFreezeResult *res;
	VssFreezeSession *s;

	fake_add_targets(f, t, ELEMENTSOF(t));
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	f->frozen[0] = false; /* somebody thawed it behind our back: EINVAL */
	f->thaw_error[1] = -EIO;
	assert_int_equal(vss_freeze_session_thaw(s), -EIO);
	res = vss_freeze_session_result(s);
	assert_int_equal(res->targets[0].state, VSS_TARGET_THAWED_ELSEWHERE);
	assert_int_equal(res->targets[1].state, VSS_TARGET_THAW_FAILED);
	assert_int_equal(res->targets[1].error, -EIO);
	/* An error does not stop the others. */
	assert_int_equal(res->targets[2].state, VSS_TARGET_THAWED);
	assert_int_equal(res->targets[3].state, VSS_TARGET_THAWED);
	assert_int_equal(res->n_thaw_failed, 1);
	assert_false(f->frozen[2]);
	assert_false(f->frozen[3]);
	vss_freeze_session_free(s);
}

static void test_free_thaws(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/in", 0 }, { "/out", 1 } };
	VssFreezeSession *s;

	fake_add_targets(f, t, ELEMENTSOF(t));
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	assert_true(f->frozen[0] && f->frozen[1]);
	/* Forgetting the thaw is not possible: freeing thaws, outer first. */
	vss_freeze_session_free(s);
	assert_false(f->frozen[0]);
	assert_false(f->frozen[1]);
	assert_true(find_event(f, OP_THAW, 1)->end <= find_event(f, OP_THAW, 0)->start);
}

static void wait_tasks(size_t want)
{
	pid_t tids[128];
	uint64_t until = mono_usec() + 5 * SEC;

	while (list_tasks(tids, ELEMENTSOF(tids)) != want) {
		assert_true(mono_usec() < until);
		sleep_usec(5 * MSEC);
	}
}

static void test_freeze_timeout(void **state)
{
	Fake *f = *state;
	enum { FAST, SLOW, UPPER };
	const VssTarget t[] = {
		[FAST] = { "/fast", 0 }, [SLOW] = { "/slow", 0 }, [UPPER] = { "/upper", 1 }
	};
	pid_t tids[128];
	size_t tasks_before = list_tasks(tids, ELEMENTSOF(tids));
	const VssFreezeResult *res;
	VssFreezeSession *s;
	uint64_t until;

	fake_add_targets(f, t, ELEMENTSOF(t));
	f->freeze_delay[SLOW] = 800 * MSEC; /* a FIFREEZE stuck behind heavy I/O */
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_freeze(s, 100 * MSEC), -ETIMEDOUT);
	/* We did not wait for the stuck one. */
	assert_int_equal(count_events(f, OP_FREEZE, SLOW), 0);
	res = vss_freeze_session_result(s);
	assert_int_equal(res->error, -ETIMEDOUT);
	assert_int_equal(res->failed_index, SLOW);
	assert_int_equal(res->targets[FAST].state, VSS_TARGET_THAWED);
	assert_int_equal(res->targets[UPPER].state, VSS_TARGET_OPEN);
	assert_false(f->frozen[FAST]);
	assert_int_equal(count_events(f, OP_FREEZE, UPPER), 0);

	/* Free while the worker is still stuck: it thaws its own late freeze and frees. */
	vss_freeze_session_free(s);
	until = mono_usec() + 5 * SEC;
	while (count_events(f, OP_THAW, SLOW) == 0) {
		assert_true(mono_usec() < until);
		sleep_usec(5 * MSEC);
	}
	assert_int_equal(find_event(f, OP_FREEZE, SLOW)->ret, 0);
	assert_true(find_event(f, OP_FREEZE, SLOW)->end <= find_event(f, OP_THAW, SLOW)->start);
	assert_false(__atomic_load_n(&f->frozen[SLOW], __ATOMIC_SEQ_CST));
	/* And every worker is gone (a leak would show under LeakSanitizer). */
	wait_tasks(tasks_before);
}

static void test_no_malloc_in_window(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/m0", 0 }, { "/m1", 0 }, { "/m2", 0 },
				{ "/m3", 1 }, { "/m4", 1 }, { "/m5", 2 } };
	VssFreezeSession *s;
	void *volatile p;

	install_alloc_counter();
	/* The counter must really see allocations, or the test proves nothing. */
	__atomic_store_n(&n_allocs, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&count_allocs, true, __ATOMIC_SEQ_CST);
	p = malloc(32);
	__atomic_store_n(&count_allocs, false, __ATOMIC_SEQ_CST);
	free(p);
	assert_true(n_allocs >= 1);

	fake_add_targets(f, t, ELEMENTSOF(t));
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_sync(s), 0);
	__atomic_store_n(&n_allocs, 0, __ATOMIC_SEQ_CST);
	f->arm_alloc_counter = true; /* counting starts at the first FIFREEZE */
	assert_int_equal(vss_freeze_session_freeze(s, 10 * SEC), 0);
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	__atomic_store_n(&count_allocs, false, __ATOMIC_SEQ_CST);
	assert_true(f->counter_fired);
	assert_int_equal(n_allocs, 0);
	vss_freeze_session_free(s);

	/* The rollback path too. */
	f->freeze_error[4] = -EIO;
	s = new_session(f, t, ELEMENTSOF(t));
	__atomic_store_n(&n_allocs, 0, __ATOMIC_SEQ_CST);
	f->counter_fired = false;
	f->arm_alloc_counter = true;
	assert_int_equal(vss_freeze_session_freeze(s, 0), -EIO);
	__atomic_store_n(&count_allocs, false, __ATOMIC_SEQ_CST);
	assert_true(f->counter_fired);
	assert_int_equal(n_allocs, 0);
	vss_freeze_session_free(s);
}

static void test_empty_plan(void **state)
{
	VssFreezeSession *s = NULL;
	size_t n = 99;

	assert_int_equal(vss_freeze_session_new(&fake_ops, *state, NULL, 0, &s, NULL), 0);
	assert_int_equal(vss_freeze_session_sync(s), 0);
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	assert_int_equal(vss_freeze_session_result(s)->n_frozen, 0);
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	vss_freeze_session_fds(s, &n);
	assert_int_equal(n, 0);
	vss_freeze_session_free(s);
	assert_null(vss_freeze_session_free(NULL));
}

static void test_guardian_thaw_fn(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/g0", 0 }, { "/busy", 0 }, { "/g1", 1 }, { "/nope", 1 } };
	VssFreezeSession *s;
	size_t before;

	fake_add_targets(f, t, ELEMENTSOF(t));
	f->frozen[1] = true;
	f->freeze_error[3] = -EOPNOTSUPP;
	s = new_session(f, t, ELEMENTSOF(t));
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	before = f->n_events;
	/* In-process here; the guardian calls the same function after fork(). */
	vss_freeze_session_guardian_thaw(s);
	assert_int_equal(f->n_events - before, 2);
	assert_int_equal(f->events[before].target, 2); /* outer level first */
	assert_int_equal(f->events[before + 1].target, 0);
	assert_false(f->frozen[0] || f->frozen[2]);
	assert_true(f->frozen[1]);
	vss_freeze_session_free(s);
}

/* ---- guardian ----------------------------------------------------------------------------- */

static const VssTarget guarded[] = { { "/inner", 0 }, { "/theirs", 0 }, { "/outer", 1 } };

static VssFreezeSession *guarded_session(Fake *f)
{
	fake_add_targets(f, guarded, ELEMENTSOF(guarded));
	f->frozen[1] = true; /* EBUSY: the guardian must leave it alone too */
	return new_session(f, guarded, ELEMENTSOF(guarded));
}

static int start_guardian(VssFreezeSession *s, uint64_t deadline, VssGuardian *g)
{
	size_t n;
	const int *fds = vss_freeze_session_fds(s, &n);
	const VssGuardianConfig c = {
		.deadline_usec = deadline,
		.thaw = vss_freeze_session_guardian_thaw,
		.userdata = s,
		.keep_fds = fds,
		.n_keep_fds = n,
	};

	return vss_guardian_start(&c, g);
}

/* Waits until the fake kernel has no frozen target of ours (0 and 2). */
static void wait_thawed(Fake *f)
{
	uint64_t until = mono_usec() + 5 * SEC;

	while (__atomic_load_n(&f->frozen[0], __ATOMIC_SEQ_CST) ||
	       __atomic_load_n(&f->frozen[2], __ATOMIC_SEQ_CST)) {
		assert_true(mono_usec() < until);
		sleep_usec(2 * MSEC);
	}
}

/* The guardian's thaws: outer level first, never the one that was not ours. */
static void assert_guardian_thawed(Fake *f, pid_t guardian)
{
	const FakeEvent *outer = NULL, *inner = NULL;

	for (size_t k = 0; k < f->n_events; k++) {
		const FakeEvent *e = &f->events[k];

		if (e->op != OP_THAW || e->pid != guardian)
			continue;
		assert_int_not_equal(e->target, 1);
		if (e->target == 2)
			outer = e;
		if (e->target == 0)
			inner = e;
	}
	assert_non_null(outer);
	assert_non_null(inner);
	assert_int_equal(outer->ret, 0);
	assert_int_equal(inner->ret, 0);
	assert_true(outer->end <= inner->start);
	assert_true(f->frozen[1]);
}

static size_t count_thaws_by(const Fake *f, pid_t pid)
{
	size_t c = 0;

	for (size_t k = 0; k < f->n_events; k++)
		if (f->events[k].op == OP_THAW && f->events[k].pid == pid)
			c++;
	return c;
}

static void test_guardian_done(void **state)
{
	Fake *f = *state;
	VssFreezeSession *s = guarded_session(f);
	VssGuardian g = VSS_GUARDIAN_NULL;
	pid_t gpid;
	int st;

	assert_int_equal(vss_freeze_session_sync(s), 0);
	assert_int_equal(start_guardian(s, 10 * SEC, &g), 0);
	gpid = g.pid;
	assert_true(gpid > 0);
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	/* SIGTERM (service stop hits the whole cgroup) does not make it leave or act. */
	assert_int_equal(kill(gpid, SIGTERM), 0);
	sleep_usec(50 * MSEC);
	assert_int_equal(waitpid(gpid, &st, WNOHANG), 0);
	assert_true(f->frozen[0] && f->frozen[2]);

	assert_int_equal(vss_freeze_session_thaw(s), 0);
	assert_int_equal(vss_guardian_stop(&g), VSS_GUARDIAN_DONE);
	assert_int_equal(g.pid, 0);
	assert_int_equal(g.fd, -EBADF);
	assert_int_equal(count_thaws_by(f, gpid), 0);
	assert_int_equal(vss_guardian_stop(&g), -ECHILD);
	vss_freeze_session_free(s);
}

static void test_guardian_orphaned(void **state)
{
	Fake *f = *state;
	VssFreezeSession *s = guarded_session(f);
	VssGuardian g = VSS_GUARDIAN_NULL;
	const VssFreezeResult *res;
	pid_t gpid;

	assert_int_equal(start_guardian(s, 0, &g), 0);
	gpid = g.pid;
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	/* What the kernel does when the daemon dies: our end of the socketpair closes. */
	g.fd = safe_close(g.fd);
	wait_thawed(f);
	assert_int_equal(vss_guardian_stop(&g), VSS_GUARDIAN_ORPHANED);
	assert_guardian_thawed(f, gpid);

	/* Our own later thaw finds them thawed: EINVAL is fine. */
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	res = vss_freeze_session_result(s);
	assert_int_equal(res->targets[0].state, VSS_TARGET_THAWED_ELSEWHERE);
	assert_int_equal(res->targets[2].state, VSS_TARGET_THAWED_ELSEWHERE);
	vss_freeze_session_free(s);
}

static void test_guardian_deadline(void **state)
{
	Fake *f = *state;
	VssFreezeSession *s = guarded_session(f);
	VssGuardian g = VSS_GUARDIAN_NULL;
	pid_t gpid;

	assert_int_equal(start_guardian(s, 200 * MSEC, &g), 0);
	gpid = g.pid;
	assert_int_equal(vss_freeze_session_freeze(s, 0), 0);
	/* The daemon "hangs": never thaws, never closes. */
	wait_thawed(f);
	assert_guardian_thawed(f, gpid);
	assert_int_equal(vss_guardian_stop(&g), VSS_GUARDIAN_DEADLINE);
	assert_int_equal(vss_freeze_session_thaw(s), 0);
	vss_freeze_session_free(s);
}

static void test_guardian_closes_other_fds(void **state)
{
	Fake *f = *state;
	VssFreezeSession *s = guarded_session(f);
	VssGuardian g = VSS_GUARDIAN_NULL;
	int stray[2], sockets = 0;
	char dir[64];
	size_t n;
	const int *fds = vss_freeze_session_fds(s, &n);
	DIR *d;
	struct dirent *de;

	assert_int_equal(pipe(stray), 0); /* not close-on-exec, not ours to keep */
	assert_int_equal(start_guardian(s, 0, &g), 0);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)g.pid);
	/* Let the child get past its close loop: it only closes, then polls. */
	sleep_usec(50 * MSEC);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool kept = false;
		char link[PATH_MAX], target[PATH_MAX];
		ssize_t len;

		if (de->d_name[0] == '.' || fd <= 2)
			continue;
		for (size_t i = 0; i < n; i++)
			kept = kept || fds[i] == fd;
		if (kept)
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		assert_true(len > 0);
		target[len] = 0;
		/* The only other one is its end of the socketpair. */
		assert_int_equal(strncmp(target, "socket:", 7), 0);
		sockets++;
	}
	closedir(d);
	assert_int_equal(sockets, 1);
	assert_int_equal(vss_guardian_stop(&g), VSS_GUARDIAN_DONE);
	close(stray[0]);
	close(stray[1]);
	vss_freeze_session_free(s);
}

/* The daemon in a child: freeze with a guardian, report the guardian's pid, wait for death. */
_noreturn_ static void run_doomed_daemon(Fake *f, int report)
{
	VssFreezeSession *s = NULL;
	VssGuardian g;

	if (vss_freeze_session_new(&fake_ops, f, guarded, ELEMENTSOF(guarded), &s, NULL) < 0 ||
	    vss_freeze_session_sync(s) < 0 || start_guardian(s, 0, &g) < 0 ||
	    vss_freeze_session_freeze(s, 0) < 0 || write(report, &g.pid, sizeof(g.pid)) < 0)
		_exit(1);
	for (;;)
		pause();
}

static void test_guardian_daemon_sigkilled(void **state)
{
	Fake *f = *state;
	struct pollfd p;
	pid_t daemon, gpid = 0;
	int pfd[2], st;

	fake_add_targets(f, guarded, ELEMENTSOF(guarded));
	f->frozen[1] = true;
	/* The guardian is our grandchild: become its reaper to read its exit status. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	daemon = fork();
	assert_true(daemon >= 0);
	if (daemon == 0)
		run_doomed_daemon(f, pfd[1]);
	close(pfd[1]);
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(read(pfd[0], &gpid, sizeof(gpid)), sizeof(gpid));
	close(pfd[0]);
	assert_true(gpid > 0);
	assert_true(f->frozen[0] && f->frozen[2]);

	assert_int_equal(kill(daemon, SIGKILL), 0);
	assert_int_equal(waitpid(daemon, &st, 0), daemon);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	wait_thawed(f);
	assert_guardian_thawed(f, gpid);
	assert_int_equal(waitpid(gpid, &st, 0), gpid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 100 + VSS_GUARDIAN_ORPHANED);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

/* ---- marker ------------------------------------------------------------------------------- */

typedef struct MarkerDir {
	char dir[64];
	char path[128];
} MarkerDir;

static void marker_dir_init(MarkerDir *m)
{
	snprintf(m->dir, sizeof(m->dir), "/tmp/test-vss-marker-XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	/* A directory that does not exist yet: _write() creates it. */
	snprintf(m->path, sizeof(m->path), "%s/hvguest/vss-frozen", m->dir);
}

static void marker_dir_done(MarkerDir *m)
{
	char sub[128];

	snprintf(sub, sizeof(sub), "%s/hvguest", m->dir);
	(void)unlink(m->path);
	(void)rmdir(sub);
	assert_int_equal(rmdir(m->dir), 0);
}

static const VssTarget marked[] = {
	{ "/mnt/a b", 0 },
	{ "/mnt/outer", 1 },
	{ "/mnt/new\nline", 0 },
	{ "/mnt/back\\slash", 2 },
};

static void test_marker_write_format(void **state)
{
	MarkerDir m;
	char *text = NULL;
	size_t size;
	struct stat st;

	marker_dir_init(&m);
	assert_int_equal(vss_marker_write(m.path, 4242, marked, ELEMENTSOF(marked)), 0);
	assert_int_equal(read_full_file_at(AT_FDCWD, m.path, 65536, &text, &size), 0);
	assert_string_equal(text,
			    "# hvguest VSS: filesystems frozen by pid 4242; thaw if it is gone\n"
			    "pid 4242\n"
			    "thaw 2 /mnt/back\\134slash\n"
			    "thaw 1 /mnt/outer\n"
			    "thaw 0 /mnt/a\\040b\n"
			    "thaw 0 /mnt/new\\012line\n");
	free(text);
	assert_int_equal(stat(m.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(vss_marker_write("relative/path", 1, marked, 1), -EINVAL);
	assert_int_equal(vss_marker_write("/tmp/dir/", 1, marked, 1), -EINVAL);
	assert_int_equal(vss_marker_remove(m.path), 0);
	assert_int_equal(vss_marker_remove(m.path), 0); /* gone already: fine */
	assert_int_equal(access(m.path, F_OK), -1);
	marker_dir_done(&m);
}

static void test_marker_recover(void **state)
{
	Fake *f = *state;
	MarkerDir m;
	pid_t pid = 0;

	marker_dir_init(&m);
	fake_add_targets(f, marked, ELEMENTSOF(marked));
	f->frozen[0] = f->frozen[1] = f->frozen[3] = true; /* [2] was thawed already */
	assert_int_equal(vss_marker_write(m.path, 4242, marked, ELEMENTSOF(marked)), 0);

	assert_int_equal(vss_freeze_recover(m.path, &fake_ops, f, &pid), 3);
	assert_int_equal(pid, 4242);
	for (size_t i = 0; i < ELEMENTSOF(marked); i++)
		assert_false(f->frozen[i]);
	/* In the marker's (thaw) order: level 2, level 1, then level 0. */
	assert_int_equal(count_events(f, OP_THAW, -1), 4);
	assert_true(find_event(f, OP_THAW, 3)->end <= find_event(f, OP_THAW, 1)->start);
	assert_true(find_event(f, OP_THAW, 1)->end <= find_event(f, OP_THAW, 0)->start);
	assert_int_equal(find_event(f, OP_THAW, 2)->ret, -EINVAL);
	assert_int_equal(access(m.path, F_OK), -1);
	/* Every descriptor was closed again. */
	for (size_t k = 0; k < f->n_events; k++)
		if (f->events[k].op == OP_OPEN)
			assert_int_equal(fcntl(f->events[k].ret, F_GETFD), -1);

	/* No marker: nothing to do. */
	pid = 1;
	assert_int_equal(vss_freeze_recover(m.path, &fake_ops, f, &pid), 0);
	assert_int_equal(pid, 0);
	assert_int_equal(count_events(f, OP_THAW, -1), 4);
	marker_dir_done(&m);
}

static void test_marker_recover_errors(void **state)
{
	Fake *f = *state;
	const VssTarget t[] = { { "/stuck", 1 }, { "/unmounted", 0 }, { "/fine", 0 } };
	MarkerDir m;

	marker_dir_init(&m);
	fake_add(f, "/stuck");
	fake_add(f, "/fine"); /* "/unmounted" is unknown to the fake: ENOENT */
	f->frozen[0] = f->frozen[1] = true;
	f->thaw_error[0] = -EIO;
	assert_int_equal(vss_marker_write(m.path, 7, t, ELEMENTSOF(t)), 0);

	/* The failure is reported, the rest is still thawed, the marker stays for a retry. */
	assert_int_equal(vss_freeze_recover(m.path, &fake_ops, f, NULL), -EIO);
	assert_false(f->frozen[1]);
	assert_int_equal(access(m.path, F_OK), 0);

	f->thaw_error[0] = 0;
	assert_int_equal(vss_freeze_recover(m.path, &fake_ops, f, NULL), 1);
	assert_false(f->frozen[0]);
	assert_int_equal(access(m.path, F_OK), -1);
	marker_dir_done(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_order_levels),
		T(test_parallel_within_level),
		T(test_rollback),
		T(test_ebusy_not_ours),
		T(test_eopnotsupp_skipped),
		T(test_open_failure),
		T(test_syncfs_error_not_fatal),
		T(test_thaw_outcomes),
		T(test_free_thaws),
		T(test_freeze_timeout),
		T(test_no_malloc_in_window),
		T(test_empty_plan),
		T(test_guardian_thaw_fn),
		T(test_guardian_done),
		T(test_guardian_orphaned),
		T(test_guardian_deadline),
		T(test_guardian_closes_other_fds),
		T(test_guardian_daemon_sigkilled),
		T(test_marker_write_format),
		T(test_marker_recover),
		T(test_marker_recover_errors),
#undef T
	};

	return cmocka_run_group_tests_name("vss-freeze", tests, NULL, NULL);
}
