/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD clock simulator (in the spirit of chrony's clknetsim): runs the real, unmodified
 * hv_timesync_daemon against the seeded clock model of clock-model.c in simulated time.
 *
 * What it intercepts (everything else passes through via dlsym(RTLD_NEXT)):
 *  - clock_gettime (REALTIME/TAI/MONOTONIC/BOOTTIME and their variants, and the dynamic clock of
 *    the fake PHC), gettimeofday, time: simulated guest clocks;
 *  - clock_adjtime(CLOCK_REALTIME), adjtimex, ntp_adjtime: frequency (tick + freq), step
 *    (ADJ_SETOFFSET), status, maxerror, esterror are applied to the SIMULATED clock. The real
 *    clock_adjtime is called only with modes == 0 (read-only), for other clocks;
 *    clock_settime/settimeofday/stime and syscall() forms of them are refused;
 *  - open/openat of the fake PHC path (CLOCKSIM_PHC, default /clocksim/ptp0): a real fd of
 *    /dev/null that ioctl(PTP_SYS_OFFSET) answers from the model (Hyper-V sawtooth included);
 *  - poll/ppoll/select/pselect: when no descriptor is ready the wait completes at once and
 *    simulated time jumps to the timeout; nanosleep/clock_nanosleep/usleep/sleep likewise;
 *  - things a simulator cannot follow (timerfd, signalfd, epoll, threads, an infinite wait) are
 *    passed through but reported as "unsupported NAME" lines in the log.
 *
 * Configuration (environment): CLOCKSIM_SEED (1), CLOCKSIM_SCENARIO (saw10, saw100 or ideal),
 * CLOCKSIM_DURATION_S (600; then SIGTERM is raised in the process), CLOCKSIM_LOG (a line per
 * simulated second: "SEC OFFSET_NS CMD_PPB NATURAL_PPB STEPS SYNCED", plus "status JSON" with
 * CLOCKSIM_STATUS_FILE's content just before the SIGTERM, and "end ..." at exit).
 *
 * Safety: the constructor aborts unless CAP_SYS_TIME is absent from the effective and permitted
 * sets and from the bounding set (or no_new_privs is set), so that even a bug in this file ends in
 * EPERM, never in a real clock change.
 *
 * An LD_PRELOAD shim has one process-wide state by nature: the single static Sim below.
 */
/* Both open and open64 (etc.) are defined below under their own names. */
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/ptp_clock.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "clock-model.h"

#define NS_PER_S INT64_C(1000000000)
#define CAP_SYS_TIME_BIT 25
#define EXIT_GRACE_NS (30 * NS_PER_S) /* after the SIGTERM, before giving up */
#define INFINITE_WAIT_NS NS_PER_S     /* an unsupported infinite wait advances this much */
#define NOMINAL_TICK_US 10000	      /* USER_HZ 100 */
#define PPB_PER_TICK_US 100000.0      /* 1 µs per 10 ms jiffy */
#define SCALED_PPM_PER_PPB 65.536     /* struct timex freq: ppm << 16 */
#define MAX_FREQ_SCALED (500L << 16)  /* the kernel clamps ADJ_FREQUENCY to ±500 ppm */
#define TAI_OFFSET_S 37
#define CLOCKFD 3
#define FD_TO_CLOCKID(fd) ((~(clockid_t)(fd) << 3) | CLOCKFD)

typedef struct Real {
	int (*clock_gettime)(clockid_t, struct timespec *);
	int (*clock_adjtime)(clockid_t, struct timex *);
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*close)(int);
	int (*ioctl)(int, unsigned long, ...);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	int (*timerfd_create)(int, int);
	int (*signalfd)(int, const sigset_t *, int);
	int (*epoll_create)(int);
	int (*epoll_create1)(int);
	int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	long (*syscall)(long, ...);
} Real;

typedef struct Sim {
	bool initialised;
	Real real; /* filled by real() */
	ClockModel model;
	const char *phc_path;
	int phc_fd;
	int log_fd;
	const char *status_file;
	int64_t duration_ns;
	int64_t next_log_ns;
	bool term_raised;
	/* the kernel's NTP state as adjtimex shows it */
	long tick, freq;
	int status;
	long maxerror, esterror;
	unsigned n_waits, n_ioctls, n_adjtime, n_unsupported, n_violations;
} Sim;

static Sim sim = { .phc_fd = -1, .log_fd = -1 };

/* The next definitions (libc's, or a sanitizer's), resolved once, on first use. */
static const Real *real(void)
{
	static bool resolved;

	if (!resolved) {
		sim.real.clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
		sim.real.clock_adjtime = dlsym(RTLD_NEXT, "clock_adjtime");
		sim.real.open = dlsym(RTLD_NEXT, "open");
		sim.real.openat = dlsym(RTLD_NEXT, "openat");
		sim.real.close = dlsym(RTLD_NEXT, "close");
		sim.real.ioctl = dlsym(RTLD_NEXT, "ioctl");
		sim.real.poll = dlsym(RTLD_NEXT, "poll");
		sim.real.ppoll = dlsym(RTLD_NEXT, "ppoll");
		sim.real.select = dlsym(RTLD_NEXT, "select");
		sim.real.pselect = dlsym(RTLD_NEXT, "pselect");
		sim.real.timerfd_create = dlsym(RTLD_NEXT, "timerfd_create");
		sim.real.signalfd = dlsym(RTLD_NEXT, "signalfd");
		sim.real.epoll_create = dlsym(RTLD_NEXT, "epoll_create");
		sim.real.epoll_create1 = dlsym(RTLD_NEXT, "epoll_create1");
		sim.real.pthread_create = dlsym(RTLD_NEXT, "pthread_create");
		sim.real.syscall = dlsym(RTLD_NEXT, "syscall");
		resolved = true;
	}
	return &sim.real;
}

#define REAL(name) (real()->name)

static void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sim_log(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	if (sim.log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(sim.log_fd, buf, (size_t)n) < 0) {
		/* nowhere to report it */
	}
}

static void unsupported(const char *what)
{
	sim.n_unsupported++;
	sim_log("unsupported %s\n", what);
	fprintf(stderr, "clocksim: unsupported call %s\n", what);
}

static void violation(const char *what)
{
	sim.n_violations++;
	sim_log("violation %s\n", what);
	fprintf(stderr, "clocksim: refused %s (would change the real clock)\n", what);
}

/* 1 when bit CAP_SYS_TIME is set in the hex mask of /proc/self/status line key, 0, -1 unknown. */
static int status_cap_bit(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	unsigned long long mask;

	if (!p || sscanf(p + strlen(key), "%llx", &mask) != 1)
		return -1;
	return (int)((mask >> CAP_SYS_TIME_BIT) & 1);
}

/* Refuses to run with CAP_SYS_TIME anywhere it could be used or regained. */
static void require_no_sys_time(void)
{
	char text[8192];
	ssize_t n;
	int fd = REAL(open)("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		goto fail;
	n = read(fd, text, sizeof(text) - 1);
	REAL(close)(fd);
	if (n <= 0)
		goto fail;
	text[n] = '\0';
	/* without it in the bounding set or with no_new_privs, exec cannot bring it back */
	if (status_cap_bit(text, "CapEff:") != 0 || status_cap_bit(text, "CapPrm:") != 0 ||
	    (status_cap_bit(text, "CapBnd:") != 0 && !strstr(text, "\nNoNewPrivs:\t1")))
		goto fail;
	return;
fail:
	fprintf(stderr, "clocksim: refusing to run with CAP_SYS_TIME (or unknown capabilities); "
			"drop it first (setpriv --bounding-set=-sys_time ...).\n");
	abort();
}

static void configure_model(ClockModelConfig *c)
{
	const char *seed = getenv("CLOCKSIM_SEED"), *scenario = getenv("CLOCKSIM_SCENARIO");
	double counter_ppm = 0;

	clock_model_config_default(c);
	c->seed = seed ? strtoull(seed, NULL, 10) : 1;
	c->initial_offset_ns = 3000000; /* 3 ms off at start, as the scenario runner */
	if (!scenario || strcmp(scenario, "saw10") == 0)
		counter_ppm = 10;
	else if (strcmp(scenario, "saw100") == 0)
		counter_ppm = 100;
	else if (strcmp(scenario, "ideal") != 0) {
		fprintf(stderr, "clocksim: unknown CLOCKSIM_SCENARIO '%s'\n", scenario);
		abort();
	}
	if (counter_ppm > 0) {
		/* Hyper-V: host samples every 5 s carried forward by a counter that runs off. */
		c->sawtooth = true;
		c->counter_error_ppb = counter_ppm * 1000.0;
		c->freq_ppb = counter_ppm * 1000.0 + 3000.0;
	}
}

__attribute__((constructor)) static void sim_init(void)
{
	const char *log_path = getenv("CLOCKSIM_LOG"), *duration = getenv("CLOCKSIM_DURATION_S");
	ClockModelConfig c;

	require_no_sys_time();
	configure_model(&c);
	clock_model_init(&sim.model, &c);
	sim.phc_path = getenv("CLOCKSIM_PHC") ?: "/clocksim/ptp0";
	sim.status_file = getenv("CLOCKSIM_STATUS_FILE");
	sim.duration_ns = (int64_t)((duration ? strtod(duration, NULL) : 600.0) * 1e9);
	sim.next_log_ns = NS_PER_S;
	sim.tick = NOMINAL_TICK_US;
	sim.status = STA_UNSYNC;
	sim.maxerror = 16000000;
	sim.esterror = 16000000;
	if (log_path) {
		sim.log_fd = REAL(open)(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (sim.log_fd < 0) {
			fprintf(stderr, "clocksim: cannot open %s: %m\n", log_path);
			abort();
		}
	}
	sim_log("# clocksim seed=%" PRIu64 " scenario=%s duration_s=%.0f\n", c.seed,
		getenv("CLOCKSIM_SCENARIO") ?: "saw10", (double)sim.duration_ns / 1e9);
	sim_log("# sec offset_ns cmd_ppb natural_ppb steps synced\n");
	sim.initialised = true;
}

__attribute__((destructor)) static void sim_fini(void)
{
	if (!sim.initialised)
		return;
	sim_log("end t_s=%.3f waits=%u ioctls=%u adjtime=%u steps=%u unsupported=%u "
		"violations=%u\n",
		(double)sim.model.now / 1e9, sim.n_waits, sim.n_ioctls, sim.n_adjtime,
		sim.model.n_steps, sim.n_unsupported, sim.n_violations);
}

/* ---- simulated time ---- */

static void log_status_file(void)
{
	char buf[3000];
	ssize_t n;
	int fd;

	if (!sim.status_file)
		return;
	fd = REAL(open)(sim.status_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sim_log("status missing\n");
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	REAL(close)(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	sim_log("status %s\n", buf);
}

/* Advances true time by dt_ns, logging each simulated second on the way. */
static void sim_advance(int64_t dt_ns)
{
	ClockModel *m = &sim.model;
	int64_t target = m->now + (dt_ns > 0 ? dt_ns : 0);

	while (sim.next_log_ns <= target) {
		clock_model_advance_to(m, sim.next_log_ns);
		sim_log("%" PRId64 " %.1f %.3f %.3f %u %d\n", sim.next_log_ns / NS_PER_S,
			clock_model_offset(m), m->cmd_ppb, m->natural_ppb, m->n_steps,
			!(sim.status & STA_UNSYNC));
		sim.next_log_ns += NS_PER_S;
	}
	clock_model_advance_to(m, target);
	if (m->now >= sim.duration_ns && !sim.term_raised) {
		sim.term_raised = true;
		log_status_file();
		sim_log("sigterm t_s=%.3f\n", (double)m->now / 1e9);
		raise(SIGTERM);
	} else if (m->now >= sim.duration_ns + EXIT_GRACE_NS) {
		sim_log("error: no exit %.0f s after SIGTERM\n", (double)EXIT_GRACE_NS / 1e9);
		raise(SIGKILL);
	}
}

/* True time for the guest's monotonic clock to advance by mono_ns (its rate is off). */
static int64_t true_ns_for_monotonic(int64_t mono_ns)
{
	double rate = 1.0 + (sim.model.natural_ppb + sim.model.cmd_ppb) * 1e-9;

	return (int64_t)ceil((double)mono_ns / rate) + 1;
}

static void sim_read(int64_t *rt, int64_t *mono)
{
	(void)clock_model_clock_ops.read(&sim.model, rt, mono);
}

static void ns_to_timespec(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / NS_PER_S);
	ts->tv_nsec = (long)(ns % NS_PER_S);
}

/* The reference clock now (host time as the PHC shows it), ns. */
static int sim_phc_now(int64_t *ret)
{
	SourceReading r;
	int n = clock_model_source_ops.read(&sim.model, &r, 1);

	if (n < 0)
		return n;
	*ret = r.phc_ns;
	return 0;
}

/* ---- clocks ---- */

/* 1: a simulated clock (filled), 0: not ours, negative errno. */
static int sim_clock_gettime(clockid_t id, struct timespec *ts)
{
	int64_t rt, mono, phc;
	int r;

	if (!sim.initialised)
		return 0;
	switch (id) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_COARSE:
		sim_read(&rt, &mono);
		ns_to_timespec(rt, ts);
		return 1;
	case CLOCK_TAI:
		sim_read(&rt, &mono);
		ns_to_timespec(rt + TAI_OFFSET_S * NS_PER_S, ts);
		return 1;
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_BOOTTIME:
		sim_read(&rt, &mono);
		ns_to_timespec(mono, ts);
		return 1;
	default:
		break;
	}
	if (sim.phc_fd >= 0 && id == FD_TO_CLOCKID(sim.phc_fd)) {
		r = sim_phc_now(&phc);
		if (r < 0)
			return r;
		ns_to_timespec(phc, ts);
		return 1;
	}
	return 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int r = sim_clock_gettime(id, ts);

	if (r > 0)
		return 0;
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return REAL(clock_gettime)(id, ts);
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return -1;
	/* glibc declares tv nonnull */
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	if (tz)
		memset(tz, 0, sizeof(struct timezone));
	return 0;
}

time_t time(time_t *t)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return (time_t)-1;
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

/* Applies the model's frequency from tick and freq (as the kernel combines them). */
static int apply_frequency(void)
{
	double ppb = (double)(sim.tick - NOMINAL_TICK_US) * PPB_PER_TICK_US +
		     (double)sim.freq / SCALED_PPM_PER_PPB;

	return clock_model_clock_ops.set_frequency(&sim.model, ppb);
}

/* adjtimex on the simulated CLOCK_REALTIME; same return convention as the kernel's. */
static int sim_adjtime(struct timex *tx)
{
	const unsigned known = ADJ_FREQUENCY | ADJ_TICK | ADJ_SETOFFSET | ADJ_NANO | ADJ_MICRO |
			       ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR;
	int64_t rt, mono;
	int r;

	sim.n_adjtime++;
	if (tx->modes & ~known) {
		/* PLL offsets, time constants, adjtime(): not modelled, so not accepted */
		unsupported("adjtimex-mode");
		errno = EINVAL;
		return -1;
	}
	if ((tx->modes & ADJ_TICK) && (tx->tick < 9000 || tx->tick > 11000)) {
		errno = EINVAL;
		return -1;
	}
	if (tx->modes & ADJ_SETOFFSET) {
		bool nano = (tx->modes & ADJ_NANO) ||
			    (!(tx->modes & ADJ_MICRO) && (sim.status & STA_NANO));
		long lim = nano ? 1000000000L : 1000000L;
		int64_t delta;

		if (tx->time.tv_usec < 0 || tx->time.tv_usec >= lim) {
			errno = EINVAL;
			return -1;
		}
		delta = (int64_t)tx->time.tv_sec * NS_PER_S +
			(int64_t)tx->time.tv_usec * (nano ? 1 : 1000);
		r = clock_model_clock_ops.step(&sim.model, delta);
		if (r < 0) {
			errno = -r;
			return -1;
		}
	}
	if (tx->modes & ADJ_NANO)
		sim.status |= STA_NANO;
	if (tx->modes & ADJ_MICRO)
		sim.status &= ~STA_NANO;
	if (tx->modes & ADJ_TICK)
		sim.tick = tx->tick;
	if (tx->modes & ADJ_FREQUENCY)
		sim.freq = tx->freq > MAX_FREQ_SCALED	 ? MAX_FREQ_SCALED
			   : tx->freq < -MAX_FREQ_SCALED ? -MAX_FREQ_SCALED
							 : tx->freq;
	if (tx->modes & (ADJ_TICK | ADJ_FREQUENCY)) {
		r = apply_frequency();
		if (r < 0) {
			errno = -r;
			return -1;
		}
	}
	if (tx->modes & ADJ_STATUS)
		sim.status = (sim.status & STA_RONLY) | (tx->status & ~STA_RONLY);
	if (tx->modes & ADJ_MAXERROR)
		sim.maxerror = tx->maxerror;
	if (tx->modes & ADJ_ESTERROR)
		sim.esterror = tx->esterror;
	if (tx->modes & (ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR))
		(void)clock_model_clock_ops.set_sync_status(&sim.model, !(sim.status & STA_UNSYNC),
							    (int64_t)sim.maxerror * 1000,
							    (int64_t)sim.esterror * 1000);

	sim_read(&rt, &mono);
	tx->offset = 0;
	tx->freq = sim.freq;
	tx->tick = sim.tick;
	tx->status = sim.status;
	tx->maxerror = sim.maxerror;
	tx->esterror = sim.esterror;
	tx->constant = 2;
	tx->precision = 1;
	tx->tolerance = MAX_FREQ_SCALED;
	tx->tai = TAI_OFFSET_S;
	tx->time.tv_sec = (time_t)(rt / NS_PER_S);
	tx->time.tv_usec = (sim.status & STA_NANO) ? rt % NS_PER_S : (rt % NS_PER_S) / 1000;
	return (sim.status & STA_UNSYNC) ? TIME_ERROR : TIME_OK;
}

int clock_adjtime(clockid_t id, struct timex *tx)
{
	if (sim.initialised && id == CLOCK_REALTIME)
		return sim_adjtime(tx);
	if (tx->modes != 0) {
		/* the one rule: nothing but reads ever reach the kernel */
		violation("clock_adjtime(other clock, modes != 0)");
		errno = EPERM;
		return -1;
	}
	return REAL(clock_adjtime)(id, tx);
}

int adjtimex(struct timex *tx)
{
	return clock_adjtime(CLOCK_REALTIME, tx);
}

int ntp_adjtime(struct timex *tx)
{
	return clock_adjtime(CLOCK_REALTIME, tx);
}

int clock_settime(clockid_t id, const struct timespec *ts)
{
	violation("clock_settime");
	errno = EPERM;
	return -1;
}

int settimeofday(const struct timeval *tv, const struct timezone *tz)
{
	violation("settimeofday");
	errno = EPERM;
	return -1;
}

int adjtime(const struct timeval *delta, struct timeval *olddelta)
{
	violation("adjtime");
	errno = EPERM;
	return -1;
}

/* ---- the fake PHC ---- */

static bool is_phc_path(const char *path)
{
	return sim.initialised && path && strcmp(path, sim.phc_path) == 0;
}

static int open_phc(int flags)
{
	int fd;

	if (sim.phc_fd >= 0) {
		errno = EBUSY; /* one open at a time is all the daemon needs */
		return -1;
	}
	fd = REAL(open)("/dev/null", O_RDONLY | (flags & O_CLOEXEC));
	if (fd >= 0)
		sim.phc_fd = fd;
	return fd;
}

/* mode is read only for O_CREAT/O_TMPFILE, like the kernel does. */
static mode_t open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_phc_path(path))
		return open_phc(flags);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_phc_path(path))
		return open_phc(flags);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return REAL(open)(path, flags | O_LARGEFILE, mode);
}

/* _FORTIFY_SOURCE's forms (no mode: they are used only without O_CREAT) */
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	return open(path, flags);
}

int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags)
{
	return open64(path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_phc_path(path))
		return open_phc(flags);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return REAL(openat)(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_phc_path(path))
		return open_phc(flags);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return REAL(openat)(dirfd, path, flags | O_LARGEFILE, mode);
}

int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags)
{
	return openat64(dirfd, path, flags);
}

int close(int fd)
{
	if (fd >= 0 && fd == sim.phc_fd)
		sim.phc_fd = -1;
	return REAL(close)(fd);
}

static int phc_sys_offset(struct ptp_sys_offset *p)
{
	SourceReading readings[PTP_MAX_SAMPLES];
	int n;

	if (p->n_samples == 0 || p->n_samples > PTP_MAX_SAMPLES) {
		errno = EINVAL;
		return -1;
	}
	n = clock_model_source_ops.read(&sim.model, readings, p->n_samples);
	if (n < 0) {
		errno = -n;
		return -1;
	}
	/* ts[] = sys, phc, sys, ..., sys: the model's readings are back to back. */
	for (int i = 0; i < n; i++) {
		p->ts[2 * i] = (struct ptp_clock_time){
			.sec = readings[i].sys_before_ns / NS_PER_S,
			.nsec = (uint32_t)(readings[i].sys_before_ns % NS_PER_S),
		};
		p->ts[2 * i + 1] = (struct ptp_clock_time){
			.sec = readings[i].phc_ns / NS_PER_S,
			.nsec = (uint32_t)(readings[i].phc_ns % NS_PER_S),
		};
	}
	p->ts[2 * n] = (struct ptp_clock_time){
		.sec = readings[n - 1].sys_after_ns / NS_PER_S,
		.nsec = (uint32_t)(readings[n - 1].sys_after_ns % NS_PER_S),
	};
	/* the ioctl takes as long as its readings span */
	sim_advance(readings[n - 1].sys_after_ns - readings[0].sys_before_ns);
	return 0;
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd != sim.phc_fd)
		return REAL(ioctl)(fd, request, arg);
	sim.n_ioctls++;
	if (request == PTP_SYS_OFFSET)
		return phc_sys_offset(arg);
	unsupported("ioctl on the PHC");
	errno = ENOTTY;
	return -1;
}

/* ---- waiting ---- */

/* After a zero-timeout check found nothing ready: how long the wait would have lasted. */
static void wait_elapsed(int64_t mono_timeout_ns)
{
	sim.n_waits++;
	if (mono_timeout_ns < 0) {
		unsupported("infinite wait");
		sim_advance(INFINITE_WAIT_NS);
		return;
	}
	sim_advance(true_ns_for_monotonic(mono_timeout_ns));
}

static int64_t timespec_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec;
}

int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	int r = REAL(poll)(fds, n, 0);

	if (r != 0 || timeout_ms == 0 || !sim.initialised)
		return r;
	wait_elapsed(timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
	/* the SIGTERM raised at the end makes the self-pipe readable */
	return REAL(poll)(fds, n, 0);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen)
{
	return poll(fds, n, timeout_ms);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask)
{
	static const struct timespec zero;
	int r = REAL(ppoll)(fds, n, &zero, mask);

	if (r != 0 || !sim.initialised || (timeout && timespec_to_ns(timeout) == 0))
		return r;
	wait_elapsed(timeout ? timespec_to_ns(timeout) : -1);
	return REAL(ppoll)(fds, n, &zero, mask);
}

int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *timeout)
{
	fd_set r0, w0, e0;
	struct timeval zero = {};

	FD_ZERO(&r0);
	FD_ZERO(&w0);
	FD_ZERO(&e0);
	int r;

	if (rd)
		r0 = *rd;
	if (wr)
		w0 = *wr;
	if (ex)
		e0 = *ex;
	r = REAL(select)(nfds, rd, wr, ex, &zero);
	if (r != 0 || !sim.initialised || (timeout && !timeout->tv_sec && !timeout->tv_usec))
		return r;
	wait_elapsed(timeout ? (int64_t)timeout->tv_sec * NS_PER_S + timeout->tv_usec * 1000 : -1);
	if (timeout)
		*timeout = (struct timeval){};
	if (rd)
		*rd = r0;
	if (wr)
		*wr = w0;
	if (ex)
		*ex = e0;
	zero = (struct timeval){};
	return REAL(select)(nfds, rd, wr, ex, &zero);
}

int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *timeout,
	    const sigset_t *mask)
{
	static const struct timespec zero;
	fd_set r0, w0, e0;
	int r;

	FD_ZERO(&r0);
	FD_ZERO(&w0);
	FD_ZERO(&e0);
	if (rd)
		r0 = *rd;
	if (wr)
		w0 = *wr;
	if (ex)
		e0 = *ex;
	r = REAL(pselect)(nfds, rd, wr, ex, &zero, mask);
	if (r != 0 || !sim.initialised || (timeout && timespec_to_ns(timeout) == 0))
		return r;
	wait_elapsed(timeout ? timespec_to_ns(timeout) : -1);
	if (rd)
		*rd = r0;
	if (wr)
		*wr = w0;
	if (ex)
		*ex = e0;
	return REAL(pselect)(nfds, rd, wr, ex, &zero, mask);
}

int clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem)
{
	struct timespec now;
	int64_t d;

	/* clock_nanosleep returns the error number instead of setting errno */
	if (req->tv_nsec < 0 || req->tv_nsec >= NS_PER_S)
		return EINVAL;
	if (!(flags & TIMER_ABSTIME))
		d = timespec_to_ns(req);
	else if (sim_clock_gettime(id, &now) > 0)
		d = timespec_to_ns(req) - timespec_to_ns(&now);
	else {
		unsupported("clock_nanosleep on an unsimulated clock");
		d = 0;
	}
	sim.n_waits++;
	if (d > 0)
		sim_advance(id == CLOCK_REALTIME || id == CLOCK_TAI ? d : true_ns_for_monotonic(d));
	if (rem)
		*rem = (struct timespec){};
	return 0;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);

	if (r != 0) {
		errno = r;
		return -1;
	}
	return 0;
}

int usleep(useconds_t us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

	return nanosleep(&ts, NULL);
}

unsigned int sleep(unsigned int s)
{
	struct timespec ts = { .tv_sec = s };

	(void)nanosleep(&ts, NULL);
	return 0;
}

/* ---- what a simulator cannot follow: reported, then passed through ---- */

int timerfd_create(int clockid, int flags)
{
	unsupported("timerfd_create");
	return REAL(timerfd_create)(clockid, flags);
}

int signalfd(int fd, const sigset_t *mask, int flags)
{
	unsupported("signalfd");
	return REAL(signalfd)(fd, mask, flags);
}

int epoll_create(int size)
{
	unsupported("epoll_create");
	return REAL(epoll_create)(size);
}

int epoll_create1(int flags)
{
	unsupported("epoll_create1");
	return REAL(epoll_create1)(flags);
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	unsupported("pthread_create");
	return REAL(pthread_create)(thread, attr, fn, arg);
}

/* Direct syscalls of the clock family would bypass everything above. */
long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (size_t i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (nr) {
	case SYS_clock_adjtime:
		return clock_adjtime((clockid_t)a[0], (struct timex *)a[1]);
	case SYS_adjtimex:
		return adjtimex((struct timex *)a[0]);
	case SYS_clock_gettime:
		return clock_gettime((clockid_t)a[0], (struct timespec *)a[1]);
	case SYS_clock_settime:
	case SYS_settimeofday:
		violation("syscall(settime)");
		errno = EPERM;
		return -1;
	case SYS_timerfd_create:
	case SYS_signalfd4:
	case SYS_epoll_create1:
	case SYS_clone:
	case SYS_clone3:
		unsupported("syscall");
		break;
	default:
		break;
	}
	return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
