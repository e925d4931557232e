/* SPDX-License-Identifier: MIT */
/*
 * The hv_timesync_daemon manager; see timesync-manager.h.
 *
 * Single-threaded on purpose (LD_PRELOAD clock simulators): one poll(2) loop, signals through a
 * handler and a self-pipe, the poll timer as the poll timeout. No descriptors beyond the PHC,
 * the run directory, the self-pipe and sd_notify's transient socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/event.h"
#include "common/log.h"
#include "common/message-id.h"
#include "common/notify.h"
#include "timesync/monitor-clock.h"
#include "timesync/source-phc.h"
#include "timesync/timesync-coexist.h"
#include "timesync/timesync-manager.h"

#define NSEC_PER_SEC_I INT64_C(1000000000)
#define STATUS_NOTIFY_INTERVAL_NS (10 * NSEC_PER_SEC_I) /* STATUS= at least this often */
#define STATUS_FILE_INTERVAL_NS NSEC_PER_SEC_I		/* timesync.json at most this often */
#define REOPEN_DELAY_MIN_NS NSEC_PER_SEC_I
#define REOPEN_DELAY_MAX_NS (60 * NSEC_PER_SEC_I)
#define COMPETITOR_CHECK_NS (60 * NSEC_PER_SEC_I) /* mode=auto: look for chronyd & co. again */

struct Manager {
	TimesyncManagerOps ops;
	TimesyncMode mode_setting;
	int64_t poll_ns;
	bool phc_explicit;
	char *phc_path;
	char *sysfs_dir, *dev_dir, *proc_dir, *run_dir;
	ServoPiConfig servo_config;

	const SourceOps *source_ops;
	void *source; /* NULL while the device is gone */
	Servo *servo;
	TimesyncLoop loop;
	bool monitor;
	MonitorClock mon;
	char reason[160];
	char competitor[32];
	int64_t last_check_ns; /* monotonic time of the last competitor scan */
	unsigned n_steps_real; /* loop.status.n_steps when monitor mode began (auto switch) */

	int run_dir_fd;
	uint64_t rng;

	/* reporting */
	bool started, ready;
	TimesyncLoopStatus prev; /* counters as of the previous poll, for event edges */
	double offset_ns;	 /* real clock minus reference; NaN: no reading yet */
	int64_t last_step_ns;
	char last_event[96];
	int last_error;
	bool have_notified, have_written;
	int64_t last_notify_ns, last_write_ns;
	char last_notify_key[192]; /* mode/state/last event of the last report */
	bool write_failed;
	unsigned n_status_writes;

	/* reopen */
	unsigned n_reopen_attempts;
	int64_t reopen_delay_ns;
};

static int64_t real_monotonic_ns(void *userdata)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC_I + ts.tv_nsec;
}

static int64_t real_realtime_ns(void *userdata)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_REALTIME, &ts) == 0);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC_I + ts.tv_nsec;
}

static int real_open_source(void *userdata, const char *path, const SourceOps **ret_ops,
			    void **ret_source)
{
	PhcSource *p;
	int r;

	r = phc_source_open(path, &p);
	if (r < 0)
		return r;
	*ret_ops = &phc_source_ops;
	*ret_source = p;
	return 0;
}

static void real_close_source(void *userdata, void *source)
{
	phc_source_free(source);
}

/* ---- setup ---- */

int manager_new(const TimesyncSettings *s, const TimesyncManagerOps *ops, Manager **ret)
{
	_cleanup_(manager_freep) Manager *m = NULL;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->run_dir_fd = -EBADF;
	m->offset_ns = NAN;
	if (ops)
		m->ops = *ops;
	else
		m->ops = (TimesyncManagerOps){
			.clock = &clock_linux_ops,
			.open_source = real_open_source,
			.close_source = real_close_source,
			.monotonic_ns = real_monotonic_ns,
			.realtime_ns = real_realtime_ns,
		};
	m->mode_setting = s->mode;
	m->poll_ns = (int64_t)s->poll_interval_ms * 1000000;
	m->phc_explicit = !!s->phc;
	m->phc_path = s->phc ? strdup(s->phc) : NULL;
	m->sysfs_dir = strdup(s->sysfs_dir ?: "/sys");
	m->dev_dir = strdup(s->dev_dir ?: "/dev");
	m->proc_dir = strdup(s->proc_dir ?: "/proc");
	m->run_dir = strdup(s->run_dir ?: TIMESYNC_RUN_DIR_DEFAULT);
	if ((s->phc && !m->phc_path) || !m->sysfs_dir || !m->dev_dir || !m->proc_dir || !m->run_dir)
		return -ENOMEM;
	timesync_settings_servo_config(s, &m->servo_config);
	/* dither seed: differs between runs (real clocks), fixed in simulated time (tests) */
	m->rng = (uint64_t)m->ops.monotonic_ns(m->ops.userdata) ^
		 (uint64_t)m->ops.realtime_ns(m->ops.userdata);
	*ret = TAKE_PTR(m);
	return 0;
}

static void close_source(Manager *m)
{
	if (m->source)
		m->ops.close_source(m->ops.userdata, m->source);
	m->source = NULL;
	m->source_ops = NULL;
}

Manager *manager_free(Manager *m)
{
	if (!m)
		return NULL;
	close_source(m);
	servo_free(m->servo);
	safe_close(m->run_dir_fd);
	free(m->phc_path);
	free(m->sysfs_dir);
	free(m->dev_dir);
	free(m->proc_dir);
	free(m->run_dir);
	free(m);
	return NULL;
}

/* Points the loop (directly, or through the monitor wrapper) at the current source. */
static void attach_source(Manager *m)
{
	if (m->monitor) {
		m->mon.source = m->source_ops;
		m->mon.source_data = m->source;
	} else {
		m->loop.source = m->source_ops;
		m->loop.source_data = m->source;
	}
}

static int open_source(Manager *m)
{
	const SourceOps *ops;
	void *source;
	int r;

	r = m->ops.open_source(m->ops.userdata, m->phc_path, &ops, &source);
	if (r < 0)
		return r;
	m->source_ops = ops;
	m->source = source;
	return 0;
}

/*
 * mode=auto: scans for another time service. Returns true (monitor) when one runs or the scan
 * failed (unknown is treated like a competitor: fighting one is worse than idling), with the
 * reason in reason[]; false (discipline) when we are alone. *ret_error gets the scan's error.
 */
static bool want_monitor(Manager *m, char *reason, size_t size, int *ret_error)
{
	int r;

	r = timesync_find_competitor(m->proc_dir, m->competitor, sizeof(m->competitor));
	*ret_error = MIN(r, 0);
	if (r > 0) {
		(void)snprintf(reason, size, "%s is active", m->competitor);
		return true;
	}
	if (r < 0) {
		(void)snprintf(reason, size, "could not check for other time services");
		return true;
	}
	reason[0] = '\0';
	return false;
}

static void log_auto_monitor(Manager *m, int error, bool at_start)
{
	if (error < 0)
		log_warning_errno(error,
				  "Could not scan %s for other time services (%m); only monitoring "
				  "(mode=auto; set mode=discipline to override).",
				  m->proc_dir);
	else
		log_fields_errno(LOG_NOTICE, 0,
				 LOG_FIELDS("HV_OP=timesync", HV_MESSAGE_ID_TIMESYNC_MONITOR),
				 "%s %s and adjusts the system clock; two services adjusting one "
				 "clock fight each other, so this daemon only monitors it%s "
				 "(mode=auto; set mode=discipline to override).",
				 m->competitor, at_start ? "is running" : "started",
				 at_start ? "" : " from now on, leaving the frequency as it is");
}

/* mode=auto: monitor only if another time service already disciplines the clock. */
static void decide_mode(Manager *m)
{
	int error;

	switch (m->mode_setting) {
	case TIMESYNC_MODE_DISCIPLINE:
		m->monitor = false;
		return;
	case TIMESYNC_MODE_MONITOR:
		m->monitor = true;
		(void)snprintf(m->reason, sizeof(m->reason), "mode=monitor");
		log_info("Monitoring the system clock against %s (mode=monitor): not adjusting it.",
			 m->phc_path);
		return;
	case TIMESYNC_MODE_AUTO:
	case _TIMESYNC_MODE_MAX:
	case _TIMESYNC_MODE_INVALID:
		break;
	}
	m->monitor = want_monitor(m, m->reason, sizeof(m->reason), &error);
	if (m->monitor)
		log_auto_monitor(m, error, true);
}

static int open_run_dir(Manager *m)
{
	int fd;

	fd = open(m->run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && mkdir(m->run_dir, 0755) >= 0)
		fd = open(m->run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	m->run_dir_fd = fd;
	return 0;
}

int manager_start(Manager *m)
{
	const ClockOps *clock = m->ops.clock;
	void *clock_data = m->ops.clock_data;
	TimesyncLoopConfig lc;
	double freq;
	int r;

	if (!m->phc_path) {
		r = phc_find(m->sysfs_dir, m->dev_dir, &m->phc_path);
		if (r == -ENODEV) {
			log_info("No Hyper-V PTP clock here; exiting.");
			return 0;
		}
		if (r < 0)
			return log_error_errno(r, "Could not look for the Hyper-V PTP clock: %m");
	}
	r = open_source(m);
	if (r == -ENOENT || r == -ENODEV || r == -ENXIO) {
		log_info("No Hyper-V PTP clock at %s; exiting.", m->phc_path);
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "Could not open the PTP clock %s: %m", m->phc_path);

	decide_mode(m);
	m->servo_config.max_frequency_ppb =
		MIN(m->servo_config.max_frequency_ppb, clock->max_frequency_ppb);
	if (m->monitor) {
		r = monitor_clock_init(&m->mon, clock, clock_data);
		if (r < 0)
			return log_error_errno(r, "Could not read the system clock: %m");
		clock = &m->mon.ops;
		clock_data = &m->mon;
	}
	r = clock->get_frequency(clock_data, &freq);
	if (r < 0)
		return log_error_errno(r, "Could not read the clock frequency: %m");
	/* Start from the kernel's frequency: a restart must not throw away what was learned. */
	m->servo_config.initial_frequency_ppb = freq;
	r = servo_pi_new(&m->servo_config, &m->servo);
	if (r < 0)
		return log_error_errno(r, "Invalid servo configuration: %m");
	timesync_loop_config_default(&lc);
	r = timesync_loop_init(&m->loop, &lc, clock, clock_data,
			       m->monitor ? &monitor_clock_source_ops : m->source_ops,
			       m->monitor ? (void *)&m->mon : m->source, m->servo, freq);
	if (r < 0)
		return log_error_errno(r, "Invalid loop configuration: %m");
	attach_source(m);

	r = open_run_dir(m);
	if (r < 0)
		log_warning_errno(r, "Cannot open %s (%m); no status file for hvctl.", m->run_dir);
	if (!m->monitor)
		log_info("Disciplining the system clock against %s.", m->phc_path);
	m->last_check_ns = m->ops.monotonic_ns(m->ops.userdata);
	m->started = true;
	return 1;
}

/* ---- reporting ---- */

static const char *state_string(const Manager *m)
{
	if (!m->source)
		return "no-device";
	if (m->last_error < 0)
		return "error"; /* the last poll failed (see the journal) */
	if (m->loop.status.stale || m->loop.status.holdover)
		return "holdover";
	return servo_state_to_string(m->loop.status.servo_state) ?: "unknown";
}

void manager_status_info(const Manager *m, TimesyncStatusInfo *ret)
{
	const TimesyncLoopStatus *st = &m->loop.status;

	*ret = (TimesyncStatusInfo){
		.mode = m->monitor ? "monitor" : "discipline",
		.adjusting = !m->monitor && m->source,
		.reason = m->monitor  ? m->reason
			  : m->source ? ""
				      : "the PTP clock went away",
		.phc = m->phc_path,
		.state = state_string(m),
		.offset_ns = m->offset_ns,
		.frequency_ppb = m->monitor ? m->mon.base_ppb : st->frequency_ppb,
		.stale = st->stale,
		.synced = !m->monitor && st->synced,
		.n_steps = m->monitor ? 0 : st->n_steps,
		.n_external_steps = st->n_external_steps,
		.n_events = st->n_events,
		.last_step_ns = m->last_step_ns,
		.last_event = m->last_event,
		.updated_realtime_ns = (uint64_t)MAX(m->ops.realtime_ns(m->ops.userdata), 0),
	};
}

void manager_get_state(const Manager *m, TimesyncManagerState *ret)
{
	*ret = (TimesyncManagerState){
		.monitor = m->monitor,
		.reason = m->monitor ? m->reason : "",
		.phc = m->phc_path,
		.have_source = !!m->source,
		.ready = m->ready,
		.offset_ns = m->offset_ns,
		.n_reopen_attempts = m->n_reopen_attempts,
		.reopen_delay_ns = m->reopen_delay_ns,
		.n_status_writes = m->n_status_writes,
		.loop = &m->loop.status,
	};
}

/*
 * A journald line with HV_OP=timesync and HV_OFFSET_NS=; event becomes "last_event".
 * message_id is an HV_MESSAGE_ID_* or NULL (then it also ends the field list).
 */
_printf_(5, 6) static void log_event(Manager *m, int level, const char *event,
				     const char *message_id, const char *fmt, ...)
{
	char f_offset[48], msg[256];
	va_list ap;

	(void)snprintf(f_offset, sizeof(f_offset), "HV_OFFSET_NS=%lld",
		       isfinite(m->offset_ns) ? llround(m->offset_ns) : 0LL);
	(void)snprintf(m->last_event, sizeof(m->last_event), "%s", event);
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fields_errno(level, 0, LOG_FIELDS("HV_OP=timesync", f_offset, message_id), "%s", msg);
}

/* Journald lines for what changed in this poll. */
static void report_events(Manager *m)
{
	const TimesyncLoopStatus *st = &m->loop.status;

	if (st->n_steps > m->prev.n_steps) {
		/* the loop stepped by −offset (offset = system minus reference) */
		m->last_step_ns = -llround(st->offset_ns);
		if (!m->monitor)
			log_event(m, LOG_INFO, "step", HV_MESSAGE_ID_CLOCK_STEPPED,
				  "Stepped the system clock by %+.1f µs.",
				  (double)m->last_step_ns / 1e3);
	}
	if (st->n_external_steps > m->prev.n_external_steps)
		log_event(m, LOG_NOTICE, "external step", NULL,
			  "The system clock was stepped by someone else (the kernel's host time "
			  "sync after a resume, or an administrator); offset now %+.1f µs.",
			  m->offset_ns / 1e3);
	if (st->n_events > m->prev.n_events)
		log_event(m, LOG_NOTICE, "pause/migration event", NULL,
			  "Time discontinuity (VM pause, live migration or host time change): "
			  "re-acquiring; offset %+.1f µs.",
			  m->offset_ns / 1e3);
	if (st->stale && !m->prev.stale)
		log_event(m, LOG_WARNING, "hold-over start", NULL,
			  "The host has not updated the PTP clock for 600 s; holding the frequency "
			  "(%.3f ppb) until it does.",
			  st->frequency_ppb);
	else if (!st->stale && m->prev.stale)
		log_event(
			m, LOG_NOTICE, "hold-over end", NULL,
			"The host updates the PTP clock again; hold-over ended (offset %+.1f µs).",
			m->offset_ns / 1e3);
	m->prev = *st;
}

static void report_notify(Manager *m, int64_t now, bool changed)
{
	const char *state = state_string(m);
	char offset[48];

	if (m->have_notified && !changed && now - m->last_notify_ns < STATUS_NOTIFY_INTERVAL_NS)
		return;
	if (isfinite(m->offset_ns))
		(void)snprintf(offset, sizeof(offset), "offset %+.1f µs", m->offset_ns / 1e3);
	else
		(void)snprintf(offset, sizeof(offset), "no measurement yet");
	if (!m->source)
		(void)notify_status("Waiting for the PTP clock %s to come back", m->phc_path);
	else if (m->monitor)
		(void)notify_status("Monitoring (%s): %s, %s", m->reason, offset, state);
	else
		(void)notify_status("Disciplining: %s, %s", offset, state);
	m->last_notify_ns = now;
	m->have_notified = true;
}

static void report_file(Manager *m, int64_t now, bool changed)
{
	TimesyncStatusInfo info;
	int r;

	if (m->run_dir_fd < 0 ||
	    (m->have_written && !changed && now - m->last_write_ns < STATUS_FILE_INTERVAL_NS))
		return;
	manager_status_info(m, &info);
	r = timesync_status_write(m->run_dir_fd, &info);
	if (r < 0) {
		if (!m->write_failed)
			log_warning_errno(r, "Could not write %s/%s: %m", m->run_dir,
					  TIMESYNC_STATUS_FILE);
		m->write_failed = true;
		return;
	}
	m->write_failed = false;
	m->have_written = true;
	m->last_write_ns = now;
	m->n_status_writes++;
}

/* STATUS= and timesync.json: on a change of mode or state at once, otherwise rate-limited. */
static void report(Manager *m, int64_t now)
{
	char key[192];
	bool changed;

	(void)snprintf(key, sizeof(key), "%d/%s/%s", m->monitor, state_string(m), m->last_event);
	changed = strcmp(key, m->last_notify_key) != 0;
	(void)snprintf(m->last_notify_key, sizeof(m->last_notify_key), "%s", key);
	report_notify(m, now, changed);
	report_file(m, now, changed);
}

/* ---- mode=auto: competitors starting and stopping ---- */

/*
 * Points the loop at the real clock (discipline) or at a fresh virtual clock over it (monitor),
 * and re-acquires as at start-up from the kernel's current frequency: a new servo, the filter
 * reset as after a reopen (keeping its learned counter error). Entering monitor mode leaves the
 * kernel's frequency and sync status exactly as they are. Counters carry on, except that the
 * steps of the virtual clock are not reported as steps of the real one. On failure nothing
 * changes.
 */
static int set_monitor(Manager *m, bool monitor)
{
	const ClockOps *clock = m->ops.clock;
	void *clock_data = m->ops.clock_data;
	TimesyncLoopConfig lc = m->loop.c;
	TimesyncLoopStatus st = m->loop.status;
	PhcFilter filter = m->loop.filter;
	ServoPiConfig sc = m->servo_config;
	MonitorClock mon;
	Servo *servo;
	double freq;
	int r;

	if (monitor) {
		r = monitor_clock_init(&mon, clock, clock_data);
		if (r < 0)
			return r;
		freq = mon.base_ppb;
	} else {
		r = clock->get_frequency(clock_data, &freq);
		if (r < 0)
			return r;
	}
	sc.initial_frequency_ppb = MAX(-sc.max_frequency_ppb, MIN(sc.max_frequency_ppb, freq));
	r = servo_pi_new(&sc, &servo);
	if (r < 0)
		return r;

	servo_free(m->servo);
	m->servo = servo;
	m->monitor = monitor;
	if (monitor) {
		m->mon = mon;
		m->n_steps_real = st.n_steps;
		clock = &m->mon.ops;
		clock_data = &m->mon;
	} else
		st.n_steps = m->n_steps_real;
	/* cannot fail: the configuration and the servo were accepted before */
	assert_se(timesync_loop_init(&m->loop, &lc, clock, clock_data,
				     monitor ? &monitor_clock_source_ops : m->source_ops,
				     monitor ? (void *)&m->mon : m->source, servo, freq) == 0);
	attach_source(m);
	m->loop.filter = filter;
	phc_filter_reset(&m->loop.filter);
	st.servo_state = SERVO_UNLOCKED;
	st.last_verdict = PHC_FILTER_SKIP;
	st.holdover = false;
	st.frequency_ppb = freq;
	m->loop.status = st;
	m->prev = st;
	return 0;
}

/*
 * mode=auto, once every COMPETITOR_CHECK_NS of monotonic time: chronyd & co. may start or stop
 * after us. Switch to monitoring when one appears (or the scan fails), back to disciplining
 * when it is gone; each switch is logged once.
 */
static void recheck_competitors(Manager *m, int64_t now)
{
	char reason[sizeof(m->reason)];
	bool monitor;
	int error, r;

	if (m->mode_setting != TIMESYNC_MODE_AUTO || now - m->last_check_ns < COMPETITOR_CHECK_NS)
		return;
	m->last_check_ns = now;
	monitor = want_monitor(m, reason, sizeof(reason), &error);
	if (monitor == m->monitor) {
		/* e.g. chronyd replaced by ntpd: no new mode, just the current reason */
		if (monitor)
			(void)snprintf(m->reason, sizeof(m->reason), "%s", reason);
		return;
	}
	r = set_monitor(m, monitor);
	if (r < 0) {
		/* the next check tries again */
		log_warning_errno(r, "Could not switch to %s mode: %m",
				  monitor ? "monitor" : "discipline");
		return;
	}
	if (monitor) {
		(void)snprintf(m->reason, sizeof(m->reason), "%s", reason);
		(void)snprintf(m->last_event, sizeof(m->last_event), "switched to monitor");
		log_auto_monitor(m, error, false);
	} else {
		m->reason[0] = '\0';
		(void)snprintf(m->last_event, sizeof(m->last_event), "switched to discipline");
		log_fields_errno(LOG_NOTICE, 0, LOG_FIELDS("HV_OP=timesync"),
				 "No other time service is running any more; disciplining the "
				 "system clock against %s again (mode=auto).",
				 m->phc_path);
	}
}

/* ---- polling ---- */

/* The poll interval dithered ±25 % (splitmix64), so polls do not lock onto host samples. */
static int64_t next_interval(Manager *m)
{
	uint64_t z = (m->rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return m->poll_ns * 3 / 4 + (int64_t)(z % (uint64_t)(m->poll_ns / 2 + 1));
}

static int64_t try_reopen(Manager *m, int64_t now)
{
	char *found = NULL;
	int r;

	/* a discovered clock may come back under another ptpN */
	if (!m->phc_explicit && phc_find(m->sysfs_dir, m->dev_dir, &found) >= 0) {
		free(m->phc_path);
		m->phc_path = found;
	}
	m->n_reopen_attempts++;
	r = open_source(m);
	if (r < 0) {
		log_full_errno(m->n_reopen_attempts == 1 ? LOG_WARNING : LOG_DEBUG, r,
			       "Could not reopen the PTP clock %s (%m); retrying in %lld s.",
			       m->phc_path, (long long)(m->reopen_delay_ns / NSEC_PER_SEC_I));
		report(m, now);
		m->reopen_delay_ns = MIN(m->reopen_delay_ns * 2, REOPEN_DELAY_MAX_NS);
		return m->reopen_delay_ns;
	}
	attach_source(m);
	/*
	 * Measurements resume after a gap of seconds to minutes: the filter's phase history and
	 * the servo's fit are stale. Re-acquire, keeping the learned frequency.
	 */
	phc_filter_reset(&m->loop.filter);
	servo_reset(m->servo);
	log_fields_errno(LOG_NOTICE, 0, LOG_FIELDS("HV_OP=timesync"),
			 "The PTP clock %s is back after %u attempt(s).", m->phc_path,
			 m->n_reopen_attempts);
	m->n_reopen_attempts = 0;
	m->reopen_delay_ns = 0;
	return next_interval(m);
}

int64_t manager_poll(Manager *m)
{
	int64_t now = m->ops.monotonic_ns(m->ops.userdata);
	int r;

	if (!m->started)
		return -EINVAL;
	if (!m->source)
		return try_reopen(m, now);

	recheck_competitors(m, now);
	r = timesync_loop_step(&m->loop);
	if (r == -ENODEV) {
		log_fields_errno(LOG_WARNING, r, LOG_FIELDS("HV_OP=timesync"),
				 "The PTP clock %s went away (%m); closing it and retrying.",
				 m->phc_path);
		close_source(m);
		m->n_reopen_attempts = 0;
		m->reopen_delay_ns = REOPEN_DELAY_MIN_NS;
		(void)snprintf(m->last_event, sizeof(m->last_event), "device gone");
		report(m, now);
		return m->reopen_delay_ns;
	}
	if (r == -EPERM || r == -EACCES)
		return log_error_errno(r, "Not allowed to adjust the system clock: %m");
	if (r < 0) {
		/* transient (EINTR, EIO of one ioctl...): log once per kind, poll again */
		if (r != m->last_error)
			log_warning_errno(r, "Time sync poll failed: %m");
		m->last_error = r;
		report(m, now);
		return next_interval(m);
	}
	m->last_error = 0;

	if (!m->loop.status.stale && (m->loop.status.last_verdict == PHC_FILTER_USE ||
				      m->loop.status.last_verdict == PHC_FILTER_EVENT))
		/* The loop's offset is the virtual clock's in monitor mode: take the phase out. */
		m->offset_ns = m->loop.status.offset_ns -
			       (m->monitor ? (double)monitor_clock_phase_ns(&m->mon) : 0.0);
	report_events(m);
	if (!m->ready) {
		/* a reading or a -ESTALE answer: the device works */
		(void)notify_ready();
		m->ready = true;
	}
	report(m, now);
	return next_interval(m);
}

/* ---- the daemon's loop ---- */

static int on_signal(EventSource *s, const struct signalfd_siginfo *si, void *userdata)
{
	Event *e = userdata;

	log_info("Received signal %u; exiting (the kernel keeps the learned frequency).",
		 si->ssi_signo);
	return event_exit(e, 0);
}

static int on_timer(EventSource *s, uint64_t usec, void *userdata)
{
	Manager *m = userdata;
	int64_t d = manager_poll(m);

	if (d < 0)
		return (int)d;
	return event_source_set_time_relative(s, (uint64_t)d / NSEC_PER_USEC);
}

int manager_run(Manager *m)
{
	_cleanup_(event_freep) Event *e = NULL;
	int r;

	r = event_new(&e);
	if (r >= 0)
		r = event_set_signal_mode(e, EVENT_SIGNALS_HANDLER);
	if (r >= 0)
		r = event_add_signal(e, NULL, SIGTERM, on_signal, e);
	if (r >= 0)
		r = event_add_signal(e, NULL, SIGINT, on_signal, e);
	if (r >= 0)
		r = event_add_time(e, NULL, now_usec(CLOCK_MONOTONIC), on_timer, m);
	if (r >= 0)
		r = event_set_watchdog(e, true);
	if (r < 0)
		return log_error_errno(r, "Could not set up the event loop: %m");
	r = event_loop(e);
	(void)notify_stopping();
	/* no daemon, no status: hvctl then reports it as not running */
	if (m->run_dir_fd >= 0)
		(void)unlinkat(m->run_dir_fd, TIMESYNC_STATUS_FILE, 0);
	return r;
}
