/* SPDX-License-Identifier: MIT */
/*
 * The manager against the seeded clock model (tests/timesync/clock-model.h), in simulated time:
 * the test advances the model by the delay manager_poll() answers, never sleeping. The model's
 * ClockOps are wrapped to count every call, so monitor mode can be proven read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/test-conf-util.h"
#include "clock-model.h"
#include "common/conf.h"
#include "common/fileio.h"
#include "timesync/timesync-manager.h"

#define S(x) ((int64_t)((x)*1e9))

typedef struct Fixture {
	char dir[64], run[96], proc[96], sys[96], dev[96];
	ClockModel model;
	ClockOps clock; /* counting wrapper around clock_model_clock_ops */
	unsigned n_read, n_get_frequency, n_set_frequency, n_step, n_set_sync_status;
	int source_error; /* answered by the source instead of readings when nonzero */
	int open_error;	  /* answered by open_source when nonzero */
	unsigned n_opens, n_closes;
	bool source_open;
	TimesyncSettings settings;
	Manager *m;
} Fixture;

/* ---- counting clock over the model ---- */

static int c_read(void *userdata, int64_t *rt, int64_t *mono)
{
	Fixture *f = userdata;

	f->n_read++;
	return clock_model_clock_ops.read(&f->model, rt, mono);
}

static int c_get_frequency(void *userdata, double *ppb)
{
	Fixture *f = userdata;

	f->n_get_frequency++;
	return clock_model_clock_ops.get_frequency(&f->model, ppb);
}

static int c_set_frequency(void *userdata, double ppb)
{
	Fixture *f = userdata;

	f->n_set_frequency++;
	return clock_model_clock_ops.set_frequency(&f->model, ppb);
}

static int c_step(void *userdata, int64_t delta)
{
	Fixture *f = userdata;

	f->n_step++;
	return clock_model_clock_ops.step(&f->model, delta);
}

static int c_set_sync_status(void *userdata, bool synced, int64_t maxerr, int64_t esterr)
{
	Fixture *f = userdata;

	f->n_set_sync_status++;
	return clock_model_clock_ops.set_sync_status(&f->model, synced, maxerr, esterr);
}

/* ---- source over the model, with injectable errors ---- */

static int s_read(void *userdata, SourceReading *readings, size_t n)
{
	Fixture *f = userdata;

	assert_true(f->source_open);
	if (f->source_error)
		return f->source_error;
	return clock_model_source_ops.read(&f->model, readings, n);
}

static const SourceOps test_source_ops = { .read = s_read };

static int o_open(void *userdata, const char *path, const SourceOps **ret_ops, void **ret)
{
	Fixture *f = userdata;

	assert_false(f->source_open);
	if (f->open_error)
		return f->open_error;
	f->n_opens++;
	f->source_open = true;
	*ret_ops = &test_source_ops;
	*ret = f;
	return 0;
}

static void o_close(void *userdata, void *source)
{
	Fixture *f = userdata;

	assert_ptr_equal(source, f);
	assert_true(f->source_open);
	f->source_open = false;
	f->n_closes++;
}

static int64_t t_mono(void *userdata)
{
	Fixture *f = userdata;

	return f->model.now;
}

static int64_t t_real(void *userdata)
{
	Fixture *f = userdata;

	return S(1.7e9) + f->model.now;
}

/* ---- fixture ---- */

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));
	ClockModelConfig mc;
	char path[160];

	assert_non_null(f);
	unsetenv("NOTIFY_SOCKET");
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test-timesync-manager-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	(void)snprintf(f->run, sizeof(f->run), "%s/run", f->dir);
	(void)snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
	(void)snprintf(f->sys, sizeof(f->sys), "%s/sys", f->dir);
	(void)snprintf(f->dev, sizeof(f->dev), "%s/dev", f->dir);
	assert_int_equal(mkdir(f->proc, 0755), 0);
	assert_int_equal(mkdir(f->sys, 0755), 0);
	assert_int_equal(mkdir(f->dev, 0755), 0);
	/* a harmless process in the fake /proc */
	(void)snprintf(path, sizeof(path), "%s/1", f->proc);
	assert_int_equal(mkdir(path, 0755), 0);
	(void)snprintf(path, sizeof(path), "%s/1/comm", f->proc);
	test_write_text(path, "systemd\n");

	clock_model_config_default(&mc);
	mc.seed = 42;
	mc.initial_offset_ns = 3000000; /* 3 ms ahead: the first sample steps */
	clock_model_init(&f->model, &mc);
	f->clock = (ClockOps){
		.read = c_read,
		.get_frequency = c_get_frequency,
		.set_frequency = c_set_frequency,
		.step = c_step,
		.set_sync_status = c_set_sync_status,
		.max_frequency_ppb = clock_model_clock_ops.max_frequency_ppb,
	};

	assert_int_equal(timesync_settings_init(&f->settings), 0);
	assert_int_equal(free_and_strdup(&f->settings.phc, "/dev/ptp-model"), 0);
	assert_int_equal(free_and_strdup(&f->settings.run_dir, f->run), 0);
	assert_int_equal(free_and_strdup(&f->settings.proc_dir, f->proc), 0);
	assert_int_equal(free_and_strdup(&f->settings.sysfs_dir, f->sys), 0);
	assert_int_equal(free_and_strdup(&f->settings.dev_dir, f->dev), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;
	char cmd[128];

	f->m = manager_free(f->m);
	assert_false(f->source_open); /* manager_free closed the source */
	timesync_settings_done(&f->settings);
	/* the tree is ours and small: remove it file by file */
	(void)snprintf(cmd, sizeof(cmd), "%s/run/timesync.json", f->dir);
	(void)unlink(cmd);
	(void)snprintf(cmd, sizeof(cmd), "%s/proc/1/comm", f->dir);
	(void)unlink(cmd);
	(void)snprintf(cmd, sizeof(cmd), "%s/proc/1", f->dir);
	(void)rmdir(cmd);
	(void)snprintf(cmd, sizeof(cmd), "%s/proc/4242/comm", f->dir);
	(void)unlink(cmd);
	(void)snprintf(cmd, sizeof(cmd), "%s/proc/4242", f->dir);
	(void)rmdir(cmd);
	(void)rmdir(f->run);
	(void)rmdir(f->proc);
	(void)rmdir(f->sys);
	(void)rmdir(f->dev);
	(void)rmdir(f->dir);
	free(f);
	return 0;
}

static int start(Fixture *f, TimesyncMode mode)
{
	TimesyncManagerOps ops = {
		.clock = &f->clock,
		.clock_data = f,
		.open_source = o_open,
		.close_source = o_close,
		.monotonic_ns = t_mono,
		.realtime_ns = t_real,
		.userdata = f,
	};

	f->settings.mode = mode;
	assert_int_equal(manager_new(&f->settings, &ops, &f->m), 0);
	return manager_start(f->m);
}

/* Polls until simulated time end_ns; returns the last delay. */
static int64_t run_until(Fixture *f, int64_t end_ns)
{
	int64_t t = f->model.now, d = 0;

	while (t < end_ns) {
		clock_model_advance_to(&f->model, t);
		d = manager_poll(f->m);
		assert_true(d > 0);
		t += d;
	}
	return d;
}

static void read_status(Fixture *f, char *buf, size_t size)
{
	char path[160];
	size_t n;
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/timesync.json", f->run);
	fp = fopen(path, "re");
	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = 0;
	assert_int_equal(fclose(fp), 0);
}

/* True when the JSON object in buf has "key": value (value as its literal text). */
static bool json_has(const char *buf, const char *key, const char *value)
{
	char k[64];
	const char *p;

	(void)snprintf(k, sizeof(k), "\"%s\"", key);
	p = strstr(buf, k);
	if (!p)
		return false;
	p += strlen(k);
	while (*p == ' ')
		p++;
	if (*p++ != ':')
		return false;
	while (*p == ' ')
		p++;
	return strncmp(p, value, strlen(value)) == 0;
}

/* ---- tests ---- */

static void test_monitor_never_adjusts(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;
	char buf[4096];

	assert_int_equal(start(f, TIMESYNC_MODE_MONITOR), 1);
	run_until(f, S(120));
	manager_get_state(f->m, &st);

	/* the loop ran and would have stepped and slewed; nothing reached the clock */
	assert_true(st.loop->n_polls > 300);
	assert_true(f->n_read > 300);
	assert_int_equal(f->n_set_frequency, 0);
	assert_int_equal(f->n_step, 0);
	assert_int_equal(f->n_set_sync_status, 0);
	assert_int_equal(f->model.n_steps, 0);
	assert_true(f->model.cmd_ppb == 0.0);
	/* and the virtual loop did lock, so the monitor reading is the converged measurement */
	assert_int_equal(st.loop->servo_state, SERVO_LOCKED);

	/* the reported offset is the real clock's: 3 ms plus 100 ppm of drift for 120 s */
	assert_true(st.monitor);
	assert_string_equal(st.reason, "mode=monitor");
	assert_true(isfinite(st.offset_ns));
	assert_true(fabs(st.offset_ns - clock_model_offset(&f->model)) < 20000.0);
	assert_true(st.offset_ns > 10e6);

	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "mode", "\"monitor\""));
	assert_true(json_has(buf, "adjusting", "false"));
	assert_true(json_has(buf, "reason", "\"mode=monitor\""));
	assert_true(json_has(buf, "synced", "false"));
	assert_true(json_has(buf, "steps", "0"));
}

static void test_discipline_converges(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;
	char buf[4096];

	assert_int_equal(start(f, TIMESYNC_MODE_DISCIPLINE), 1);
	assert_true(f->source_open);
	run_until(f, S(120));
	manager_get_state(f->m, &st);

	assert_false(st.monitor);
	assert_true(st.ready);
	assert_true(f->n_step >= 1); /* the 3 ms start */
	assert_true(f->n_set_frequency > 100);
	assert_int_equal(st.loop->servo_state, SERVO_LOCKED);
	assert_true(fabs(clock_model_offset(&f->model)) < 10000.0);
	assert_true(fabs(st.offset_ns) < 10000.0);
	assert_true(f->model.synced);

	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "mode", "\"discipline\""));
	assert_true(json_has(buf, "adjusting", "true"));
	assert_true(json_has(buf, "reason", "\"\""));
	assert_true(json_has(buf, "phc", "\"/dev/ptp-model\""));
	assert_true(json_has(buf, "state", "\"locked\""));
	assert_true(json_has(buf, "synced", "true"));
	assert_true(json_has(buf, "stale", "false"));
	assert_true(json_has(buf, "last_event", "\"step\""));
	/* about -3 ms: the first step moved the clock back by the initial offset */
	assert_true(json_has(buf, "last_step_ns", "-3"));
}

static void test_stale_is_holdover(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;
	int64_t t;
	char buf[4096];
	double ppb;

	/* READY=1 comes with the first -ESTALE too: the device answers, it just has no sample */
	f->source_error = -ESTALE;
	assert_int_equal(start(f, TIMESYNC_MODE_DISCIPLINE), 1);
	assert_true(manager_poll(f->m) > 0);
	manager_get_state(f->m, &st);
	assert_true(st.ready);
	assert_true(st.loop->stale);

	f->source_error = 0;
	run_until(f, S(60));
	manager_get_state(f->m, &st);
	assert_int_equal(st.loop->servo_state, SERVO_LOCKED);
	ppb = st.loop->frequency_ppb;

	/* the host stops sampling: hold the learned frequency, report it */
	f->source_error = -ESTALE;
	t = f->model.now;
	run_until(f, t + S(3));
	manager_get_state(f->m, &st);
	assert_true(st.loop->stale);
	assert_true(st.loop->n_stale > 5);
	assert_true(fabs(st.loop->frequency_ppb - ppb) < 1000.0);
	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "stale", "true"));
	assert_true(json_has(buf, "state", "\"holdover\""));
	assert_true(json_has(buf, "last_event", "\"hold-over start\""));

	f->source_error = 0;
	run_until(f, f->model.now + S(3));
	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "stale", "false"));
	assert_true(json_has(buf, "last_event", "\"hold-over end\""));
}

static void test_enodev_reopens_with_backoff(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;
	char buf[4096];
	int64_t d, expect;

	assert_int_equal(start(f, TIMESYNC_MODE_DISCIPLINE), 1);
	run_until(f, S(20));

	f->source_error = -ENODEV;
	d = manager_poll(f->m);
	assert_int_equal(d, S(1));
	assert_int_equal(f->n_closes, 1);
	assert_false(f->source_open);
	manager_get_state(f->m, &st);
	assert_false(st.have_source);
	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "adjusting", "false"));
	assert_true(json_has(buf, "last_event", "\"device gone\""));

	/* still gone: the delay doubles up to one minute */
	f->open_error = -ENOENT;
	expect = S(1);
	for (int i = 1; i <= 10; i++) {
		clock_model_advance_to(&f->model, f->model.now + d);
		d = manager_poll(f->m);
		expect = expect * 2 > S(60) ? S(60) : expect * 2;
		assert_int_equal(d, expect);
		manager_get_state(f->m, &st);
		assert_int_equal(st.n_reopen_attempts, i);
	}
	assert_int_equal(f->n_opens, 1);

	/* back: reopened, and the loop carries on to lock again */
	f->open_error = 0;
	f->source_error = 0;
	clock_model_advance_to(&f->model, f->model.now + d);
	d = manager_poll(f->m);
	assert_true(d > 0 && d <= S(0.3125));
	assert_int_equal(f->n_opens, 2);
	manager_get_state(f->m, &st);
	assert_true(st.have_source);
	assert_int_equal(st.n_reopen_attempts, 0);
	run_until(f, f->model.now + S(120));
	manager_get_state(f->m, &st);
	print_message("after reopen: offset %.1f ns, state %d\n", clock_model_offset(&f->model),
		      st.loop->servo_state);
	assert_int_equal(st.loop->servo_state, SERVO_LOCKED);
	assert_true(fabs(clock_model_offset(&f->model)) < 10000.0);
}

static void test_auto_competitor_monitors(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;
	char path[160], buf[4096];

	(void)snprintf(path, sizeof(path), "%s/4242", f->proc);
	assert_int_equal(mkdir(path, 0755), 0);
	(void)snprintf(path, sizeof(path), "%s/4242/comm", f->proc);
	test_write_text(path, "chronyd\n");

	assert_int_equal(start(f, TIMESYNC_MODE_AUTO), 1);
	run_until(f, S(10));
	manager_get_state(f->m, &st);
	assert_true(st.monitor);
	assert_non_null(strstr(st.reason, "chronyd"));
	assert_int_equal(f->n_set_frequency + f->n_step + f->n_set_sync_status, 0);

	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "mode", "\"monitor\""));
	assert_true(json_has(buf, "adjusting", "false"));
	assert_true(json_has(buf, "reason", "\"chronyd is active\""));
	assert_true(json_has(buf, "updated_usec", "17"));
}

/* A fake chronyd (pid 4242) in the fake /proc appears or goes away. */
static void set_chronyd(Fixture *f, bool running)
{
	char path[160];

	(void)snprintf(path, sizeof(path), "%s/4242/comm", f->proc);
	if (!running) {
		assert_int_equal(unlink(path), 0);
		(void)snprintf(path, sizeof(path), "%s/4242", f->proc);
		assert_int_equal(rmdir(path), 0);
		return;
	}
	(void)snprintf(path, sizeof(path), "%s/4242", f->proc);
	assert_int_equal(mkdir(path, 0755), 0);
	(void)snprintf(path, sizeof(path), "%s/4242/comm", f->proc);
	test_write_text(path, "chronyd\n");
}

static unsigned n_adjustments(const Fixture *f)
{
	return f->n_set_frequency + f->n_step + f->n_set_sync_status;
}

static void test_auto_competitor_comes_and_goes(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;
	char buf[4096];
	unsigned n_adj, n_polls;
	double cmd_ppb, freq;

	/* alone: disciplines and converges */
	assert_int_equal(start(f, TIMESYNC_MODE_AUTO), 1);
	run_until(f, S(120));
	manager_get_state(f->m, &st);
	assert_false(st.monitor);
	assert_int_equal(st.loop->servo_state, SERVO_LOCKED);
	assert_true(fabs(clock_model_offset(&f->model)) < 10000.0);

	/* chronyd starts at t = 120 s: the check 60 s after the last one notices it */
	set_chronyd(f, true);
	run_until(f, S(180) + S(0.5));
	manager_get_state(f->m, &st);
	assert_true(st.monitor);
	assert_string_equal(st.reason, "chronyd is active");
	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "mode", "\"monitor\""));
	assert_true(json_has(buf, "adjusting", "false"));
	assert_true(json_has(buf, "reason", "\"chronyd is active\""));
	assert_true(json_has(buf, "last_event", "\"switched to monitor\""));

	/* from then on the clock is left alone: frequency as it was, nothing told to the kernel,
	 * even when chronyd steps the clock and the virtual loop re-acquires */
	n_adj = n_adjustments(f);
	cmd_ppb = f->model.cmd_ppb;
	n_polls = st.loop->n_polls;
	assert_int_equal(clock_model_clock_ops.step(&f->model, 2000000), 0);
	run_until(f, S(300));
	manager_get_state(f->m, &st);
	assert_true(st.monitor);
	assert_true(st.loop->n_polls > n_polls + 300);
	assert_int_equal(n_adjustments(f), n_adj);
	assert_true(f->model.cmd_ppb == cmd_ppb);
	/* the monitor still measures the real clock: 2 ms ahead now */
	assert_true(fabs(st.offset_ns - clock_model_offset(&f->model)) < 20000.0);
	assert_true(st.offset_ns > 1.9e6);
	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "steps", "0")); /* monitor mode reports no steps of its own */

	/* chronyd stops at t = 300 s: back to disciplining within a minute, re-acquiring from the
	 * kernel's frequency (reset as after a reopen), and the 2 ms are taken out again */
	set_chronyd(f, false);
	assert_int_equal(clock_model_clock_ops.get_frequency(&f->model, &freq), 0);
	assert_true(freq == cmd_ppb);
	run_until(f, S(360) + S(0.5));
	manager_get_state(f->m, &st);
	assert_false(st.monitor);
	assert_string_equal(st.reason, "");
	assert_true(n_adjustments(f) > n_adj);
	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "mode", "\"discipline\""));
	assert_true(json_has(buf, "adjusting", "true"));
	run_until(f, S(480));
	manager_get_state(f->m, &st);
	assert_false(st.monitor);
	assert_int_equal(st.loop->servo_state, SERVO_LOCKED);
	assert_true(fabs(clock_model_offset(&f->model)) < 10000.0);
	assert_true(f->model.synced);
	read_status(f, buf, sizeof(buf));
	assert_true(json_has(buf, "steps", "2")); /* the start and the 2 ms */
}

static void test_explicit_modes_never_switch(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;
	unsigned n_adj;

	/* mode=discipline keeps adjusting although chronyd runs (the administrator said so) */
	set_chronyd(f, true);
	assert_int_equal(start(f, TIMESYNC_MODE_DISCIPLINE), 1);
	run_until(f, S(60));
	n_adj = n_adjustments(f);
	run_until(f, S(200));
	manager_get_state(f->m, &st);
	assert_false(st.monitor);
	assert_true(n_adjustments(f) > n_adj + 300);
	assert_int_equal(st.loop->servo_state, SERVO_LOCKED);
	f->m = manager_free(f->m);

	/* mode=monitor stays read-only although nothing else runs */
	set_chronyd(f, false);
	assert_int_equal(start(f, TIMESYNC_MODE_MONITOR), 1);
	n_adj = n_adjustments(f);
	run_until(f, S(400));
	manager_get_state(f->m, &st);
	assert_true(st.monitor);
	assert_string_equal(st.reason, "mode=monitor");
	assert_int_equal(n_adjustments(f), n_adj);
}

static void test_auto_alone_disciplines(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;

	assert_int_equal(start(f, TIMESYNC_MODE_AUTO), 1);
	run_until(f, S(5));
	manager_get_state(f->m, &st);
	assert_false(st.monitor);
	assert_string_equal(st.reason, "");
	assert_true(f->n_set_frequency > 0);
}

static void test_status_file_rate_limited(void **state)
{
	Fixture *f = *state;
	TimesyncManagerState st;

	assert_int_equal(start(f, TIMESYNC_MODE_DISCIPLINE), 1);
	run_until(f, S(10));
	manager_get_state(f->m, &st);
	/* about 40 polls in 10 s, but at most one write per second */
	assert_true(st.loop->n_polls >= 30);
	assert_true(st.n_status_writes >= 9 && st.n_status_writes <= 11);
}

static void test_no_phc(void **state)
{
	Fixture *f = *state;

	/* discovery over an empty sysfs and /dev: nothing here, a clean "no" */
	free(f->settings.phc);
	f->settings.phc = NULL;
	assert_int_equal(start(f, TIMESYNC_MODE_AUTO), 0);
	assert_int_equal(f->n_opens, 0);
}

static void test_explicit_phc_missing(void **state)
{
	Fixture *f = *state;

	f->open_error = -ENOENT;
	assert_int_equal(start(f, TIMESYNC_MODE_MONITOR), 0);
	f->m = manager_free(f->m);
	f->open_error = -EACCES; /* there but not usable: an error, not "no clock" */
	assert_true(start(f, TIMESYNC_MODE_MONITOR) < 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_monitor_never_adjusts),	     T(test_discipline_converges),
		T(test_stale_is_holdover),	     T(test_enodev_reopens_with_backoff),
		T(test_auto_competitor_monitors),    T(test_auto_alone_disciplines),
		T(test_status_file_rate_limited),    T(test_no_phc),
		T(test_explicit_phc_missing),	     T(test_auto_competitor_comes_and_goes),
		T(test_explicit_modes_never_switch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
