/* SPDX-License-Identifier: MIT */
/*
 * The real, unmodified hv_timesync_daemon in discipline mode under the LD_PRELOAD clock
 * simulator (clocksim-preload.c): it must converge on the simulated Hyper-V clock, exit cleanly
 * on the SIGTERM the simulator raises, and leave the real clock alone.
 *
 * Safety, in depth: the daemon runs without CAP_SYS_TIME (dropped from the bounding, effective,
 * permitted, inheritable and ambient sets before exec, checked with a probe that the kernel
 * rejects in either case), the simulator itself refuses to load with CAP_SYS_TIME, and the
 * real clock's NTP state is compared (read-only, modes = 0) before and after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIM_DURATION_S 600
#define WINDOW_START_S 300
#define REAL_TIMEOUT_S 60 /* wall-clock budget of one simulated run */
#define US 1000.0

typedef struct Run {
	char dir[64];
	char log[128];
	char out[128];
	int status;	/* waitpid status */
	double real_s;	/* wall-clock duration */
	char *log_text; /* the simulator's log */
	char *out_text; /* the daemon's stderr */
} Run;

typedef struct Stats {
	unsigned n_seconds;
	double rms_ns, max_ns; /* over [WINDOW_START_S, end) */
	unsigned steps;
	int last_synced;
} Stats;

static const char *env_or_skip(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		print_message("%s not set (run through meson test)\n", name);
		skip();
	}
	return v;
}

static double real_now_s(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long size;

	if (!f)
		return strdup("");
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	return buf;
}

/* CAP_SYS_TIME out of every set, for this process and anything it executes. */
static int drop_sys_time(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	/* not root: no CAP_SETPCAP to shrink the bounding set, but then no_new_privs suffices */
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_TIME, 0, 0, 0) < 0 && errno != EPERM)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	data[CAP_TO_INDEX(CAP_SYS_TIME)].effective &= ~CAP_TO_MASK(CAP_SYS_TIME);
	data[CAP_TO_INDEX(CAP_SYS_TIME)].permitted &= ~CAP_TO_MASK(CAP_SYS_TIME);
	data[CAP_TO_INDEX(CAP_SYS_TIME)].inheritable &= ~CAP_TO_MASK(CAP_SYS_TIME);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -1;
	/*
	 * The proof, read back without any clock call: CAP_SYS_TIME is in neither the effective
	 * nor the permitted set (so no exec can regain it: no_new_privs), and not in the bounding
	 * set either where we could drop it.
	 */
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	if ((data[CAP_TO_INDEX(CAP_SYS_TIME)].effective |
	     data[CAP_TO_INDEX(CAP_SYS_TIME)].permitted) &
	    CAP_TO_MASK(CAP_SYS_TIME))
		return -1;
	if (geteuid() == 0 && prctl(PR_CAPBSET_READ, CAP_SYS_TIME, 0, 0, 0) != 0)
		return -1;
	return 0;
}

/* An ASan daemon: the preloaded simulator precedes libasan in the library order. */
static void add_asan_link_order_option(void)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[512];

	(void)snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", asan ?: "",
		       asan && *asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

static void child_exec(const Run *run, const char *daemon, const char *preload,
		       const char *scenario, unsigned seed, char **argv, bool drop)
{
	char status_file[160], seed_s[16], duration_s[16];
	int fd;

	fd = open(run->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(120);
	if (drop && drop_sys_time() < 0) {
		fprintf(stderr, "could not drop CAP_SYS_TIME: %m\n");
		_exit(121);
	}
	(void)snprintf(status_file, sizeof(status_file), "%s/timesync.json", run->dir);
	(void)snprintf(seed_s, sizeof(seed_s), "%u", seed);
	(void)snprintf(duration_s, sizeof(duration_s), "%d", SIM_DURATION_S);
	/* no systemd around: logs to stderr, no sd_notify, no watchdog */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("JOURNAL_STREAM");
	add_asan_link_order_option();
	setenv("LD_PRELOAD", preload, 1);
	setenv("CLOCKSIM_SEED", seed_s, 1);
	setenv("CLOCKSIM_SCENARIO", scenario, 1);
	setenv("CLOCKSIM_DURATION_S", duration_s, 1);
	setenv("CLOCKSIM_LOG", run->log, 1);
	setenv("CLOCKSIM_STATUS_FILE", status_file, 1);
	execv(daemon, argv);
	_exit(122);
}

/* Runs the daemon with args (NULL-terminated) plus --run-dir=<a new temp dir>; fills run. */
static void run_daemon(Run *run, const char *scenario, unsigned seed, const char *const *args,
		       bool drop)
{
	const char *daemon = env_or_skip("HV_TIMESYNC_DAEMON");
	const char *preload = env_or_skip("CLOCKSIM_PRELOAD");
	char run_dir_arg[96], *argv[16];
	size_t n = 0;
	double start;
	pid_t pid, r;

	/* tmpfs if there is one: the daemon fsyncs its status file once per simulated second */
	(void)snprintf(run->dir, sizeof(run->dir), "%s/test-timesync-preload-XXXXXX",
		       access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(run->dir));
	(void)snprintf(run->log, sizeof(run->log), "%s/clocksim.log", run->dir);
	(void)snprintf(run->out, sizeof(run->out), "%s/daemon.out", run->dir);
	(void)snprintf(run_dir_arg, sizeof(run_dir_arg), "--run-dir=%s", run->dir);
	argv[n++] = (char *)daemon;
	for (; *args; args++) {
		assert_true(n < sizeof(argv) / sizeof(argv[0]) - 2);
		argv[n++] = (char *)*args;
	}
	argv[n++] = run_dir_arg;
	argv[n] = NULL;

	start = real_now_s();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_exec(run, daemon, preload, scenario, seed, argv, drop);
	for (;;) {
		r = waitpid(pid, &run->status, WNOHANG);
		assert_true(r >= 0);
		if (r == pid)
			break;
		if (real_now_s() - start > REAL_TIMEOUT_S) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &run->status, 0);
			break;
		}
		usleep(10000);
	}
	run->real_s = real_now_s() - start;
	run->log_text = read_text(run->log);
	run->out_text = read_text(run->out);
}

static void run_done(Run *run)
{
	char path[200];

	free(run->log_text);
	free(run->out_text);
	(void)snprintf(path, sizeof(path), "%s/timesync.json", run->dir);
	(void)unlink(path);
	(void)unlink(run->log);
	(void)unlink(run->out);
	(void)rmdir(run->dir);
}

static void print_on_failure(const Run *run)
{
	print_message("--- daemon output ---\n%s--- simulator log (tail) ---\n%s\n", run->out_text,
		      strlen(run->log_text) > 2000 ? run->log_text + strlen(run->log_text) - 2000
						   : run->log_text);
}

/* The per-second lines "SEC OFFSET_NS CMD_PPB NATURAL_PPB STEPS SYNCED". */
static Stats parse_log(const char *text)
{
	Stats s = { .last_synced = -1 };
	double sum2 = 0;
	unsigned n_window = 0;

	for (const char *p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		long sec;
		double off, cmd, nat;
		unsigned steps;
		int synced;

		if (sscanf(p, "%ld %lf %lf %lf %u %d", &sec, &off, &cmd, &nat, &steps, &synced) !=
		    6)
			continue;
		s.n_seconds++;
		s.steps = steps;
		s.last_synced = synced;
		if (sec >= WINDOW_START_S) {
			sum2 += off * off;
			n_window++;
			s.max_ns = fmax(s.max_ns, fabs(off));
		}
	}
	s.rms_ns = n_window ? sqrt(sum2 / n_window) : INFINITY;
	return s;
}

static void read_real_ntp(struct timex *tx)
{
	*tx = (struct timex){ .modes = 0 }; /* read only */
	assert_true(clock_adjtime(CLOCK_REALTIME, tx) >= 0);
}

static const char *const discipline_args[] = {
	"--mode=discipline",
	"--phc=/clocksim/ptp0",
	"--config=/dev/null",
	"--config-dir=/nonexistent",
	NULL,
};

static void converges(const char *scenario, unsigned seed, double target_rms_ns, Stats *ret)
{
	struct timex before, after;
	char status_path[200];
	Run run = {};
	Stats s;

	read_real_ntp(&before);
	run_daemon(&run, scenario, seed, discipline_args, true);
	read_real_ntp(&after);
	s = parse_log(run.log_text);

	print_message("%s seed %u: %u simulated s in %.2f real s; rms %.3f µs, max %.3f µs over "
		      "[%d, %d) s; steps %u\n",
		      scenario, seed, s.n_seconds, run.real_s, s.rms_ns / US, s.max_ns / US,
		      WINDOW_START_S, SIM_DURATION_S, s.steps);
	if (!WIFEXITED(run.status) || WEXITSTATUS(run.status) != 0 || s.rms_ns >= target_rms_ns)
		print_on_failure(&run);

	/* clean exit on the simulator's SIGTERM, fast */
	assert_true(WIFEXITED(run.status));
	assert_int_equal(WEXITSTATUS(run.status), 0);
	assert_non_null(strstr(run.log_text, "\nsigterm t_s="));
	assert_non_null(strstr(run.log_text, "\nend t_s="));
	assert_non_null(strstr(run.out_text, "Disciplining the system clock against"));
	assert_true(run.real_s < 30);
	/* nothing the simulator could not follow, nothing refused */
	assert_null(strstr(run.log_text, "\nunsupported "));
	assert_null(strstr(run.log_text, "\nviolation "));
	assert_null(strstr(run.log_text, "\nerror:"));
	assert_non_null(strstr(run.log_text, " unsupported=0 violations=0\n"));
	/* the status file as it was just before the SIGTERM; removed on the clean exit */
	assert_non_null(
		strstr(run.log_text, "\nstatus {\"mode\":\"discipline\",\"adjusting\":true"));
	assert_non_null(strstr(run.log_text, "\"synced\":true"));
	(void)snprintf(status_path, sizeof(status_path), "%s/timesync.json", run.dir);
	assert_int_equal(access(status_path, F_OK), -1);
	/* converged: the initial 3 ms stepped away, then the servo's job */
	assert_true(s.n_seconds >= SIM_DURATION_S);
	assert_true(s.steps >= 1 && s.steps <= 2);
	assert_int_equal(s.last_synced, 1);
	assert_true(s.rms_ns < target_rms_ns);
	assert_true(s.max_ns < 5 * target_rms_ns);
	/* the real clock: untouched */
	assert_int_equal(after.freq, before.freq);
	assert_int_equal(after.tick, before.tick);
	assert_int_equal(after.status, before.status);
	assert_int_equal(after.constant, before.constant);
	if (ret)
		*ret = s;
	run_done(&run);
}

/* Hyper-V sawtooth, 10 ppm counter error: the production case. */
static void test_saw10(void **state)
{
	for (unsigned seed = 1; seed <= 3; seed++)
		converges("saw10", seed, 5 * US, NULL);
}

/* Continuous reference: the loop's floor. */
static void test_ideal(void **state)
{
	converges("ideal", 1, 1 * US, NULL);
}

/* Simulated time is independent of scheduling: the same seed gives the same trajectory. */
static void test_deterministic(void **state)
{
	Stats a, b;

	converges("saw10", 7, 5 * US, &a);
	converges("saw10", 7, 5 * US, &b);
	assert_true(a.rms_ns == b.rms_ns);
	assert_true(a.max_ns == b.max_ns);
	assert_int_equal(a.steps, b.steps);
}

/* The simulator refuses to load at all into a process that holds CAP_SYS_TIME. */
static void test_refuses_sys_time(void **state)
{
	static const char *const args[] = { "--help", NULL };
	Run run = {};

	if (geteuid() != 0 || prctl(PR_CAPBSET_READ, CAP_SYS_TIME, 0, 0, 0) != 1) {
		print_message("CAP_SYS_TIME not held: nothing to refuse\n");
		skip();
	}
	/* --help: even if the refusal failed, the daemon would only print its usage */
	run_daemon(&run, "saw10", 1, args, false);
	assert_true(WIFSIGNALED(run.status));
	assert_int_equal(WTERMSIG(run.status), SIGABRT);
	assert_non_null(strstr(run.out_text, "refusing to run with CAP_SYS_TIME"));
	assert_null(strstr(run.out_text, "Usage:"));
	run_done(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_sys_time),
		cmocka_unit_test(test_saw10),
		cmocka_unit_test(test_ideal),
		cmocka_unit_test(test_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
