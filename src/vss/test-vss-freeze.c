/* SPDX-License-Identifier: MIT */
/*
 * Freeze engine against a FAKE freezer. Nothing here ever issues a real
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

#include "test-vss-freeze-util.h"

/* ---- malloc counter: proves that nothing allocates inside the frozen window ---------------- */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_order_levels),		T(test_parallel_within_level), T(test_rollback),
		T(test_ebusy_not_ours),		T(test_eopnotsupp_skipped),    T(test_open_failure),
		T(test_syncfs_error_not_fatal), T(test_thaw_outcomes),	       T(test_free_thaws),
		T(test_freeze_timeout),		T(test_no_malloc_in_window),   T(test_empty_plan),
		T(test_guardian_thaw_fn),
#undef T
	};

	return cmocka_run_group_tests_name("vss-freeze", tests, NULL, NULL);
}
