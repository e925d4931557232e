/* SPDX-License-Identifier: MIT */
/*
 * bench-vss: how long writers are blocked by a VSS backup, our hv_vss_daemon ("hvguest")
 * against Debian's /usr/sbin/hv_vss_daemon ("upstream"), on the same simulated host
 * (issue 4 item 9).
 *
 * Each daemon runs in its own vss-jail (tests/vss/vss-jail.h) holding N ext4 loop
 * filesystems (default 32 x 16 MiB), the only freezable filesystems it can see. Ours gets a
 * fresh sysfs (it orders stacked loop devices through it); upstream does not, because with
 * /sys it recognises loop devices and skips them while still answering success
 * (test-harness.md §6). One writer process per filesystem rewrites 64 bytes every interval
 * (default 1 ms) and records the largest gap between two consecutive completed writes.
 *
 * A round: HOT_BACKUP, rewrite D MiB (default 8) of a file on every filesystem without fsync,
 * start a new writer measurement, FREEZE and, as soon as FREEZE is answered, THAW. One
 * unmeasured round first, then --rounds measured ones (default 7); the table shows medians.
 * Per filesystem, the writers-blocked window is the largest gap of its writer in that round.
 * The safety gate (vss_jail_gate(): every candidate of the daemon's mount view is one of the
 * jail's images) runs before every FREEZE and THAW; its cost is part of the window and shown.
 * Before the measured rounds one round checks with the harness's own probes that the daemon
 * really freezes every filesystem and thaws it again.
 *
 * Progress on stderr, the table on stdout. Root, /dev/fuse and loop devices needed (exit 77
 * otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim.h"
#include "vss-jail.h"

#include "bench-util.h"

#ifndef BENCH_VSS_DAEMON
#define BENCH_VSS_DAEMON "/usr/local/sbin/hv_vss_daemon"
#endif
#ifndef BENCH_VSS_UPSTREAM
#define BENCH_VSS_UPSTREAM "/usr/sbin/hv_vss_daemon"
#endif

#define USEC 1000000u
#define MAX_ROUNDS 20u
#define RECORD_SIZE 64u
#define CHUNK (1u << 20)

typedef enum Daemon {
	DAEMON_HVGUEST,
	DAEMON_UPSTREAM,
	_DAEMON_MAX,
	_DAEMON_INVALID = -EINVAL,
} Daemon;

typedef struct Options {
	unsigned rounds, images, size_mib, dirty_mib, interval_usec;
	const char *path[_DAEMON_MAX];
	bool only[_DAEMON_MAX];
	bool verbose; /* print each daemon's log after its run */
} Options;

/* One writer's view, in memory shared with the bench; one cache line each. */
typedef struct WriterSlot {
	uint64_t gen;	       /* measurement this slot's numbers belong to */
	uint64_t prev_usec;    /* CLOCK_MONOTONIC µs when the previous write completed */
	uint64_t max_gap_usec; /* largest gap between two completed writes in gen */
	uint64_t writes;       /* completed in gen */
	int error;	       /* negative errno of a failed write; the writer then stops */
	char pad[64 - 4 * sizeof(uint64_t) - sizeof(int)];
} WriterSlot;

typedef struct Shared {
	uint64_t gen; /* bumped by the bench: every writer starts a new measurement */
	int stop;
	char pad[64 - sizeof(uint64_t) - sizeof(int)];
	WriterSlot slot[VSS_JAIL_MAX_IMAGES];
} Shared;

/* Per round, in ms. */
typedef struct Round {
	double win_max, win_median, freeze, thaw, gate;
	double daemon_blocked; /* hvguest's own blocked_usec (status file), NAN for upstream */
} Round;

typedef struct Result {
	bool ran;
	char skipped[256];
	unsigned rounds;
	Round r[MAX_ROUNDS];
	double floor_max; /* largest writer gap in a round without any freeze (noise floor) */
	double dirty;	  /* median time to dirty D MiB on every filesystem */
	unsigned verified_frozen;
} Result;

typedef struct Run {
	const Options *o;
	Daemon d;
	HostSim *sim;
	const VssRootId *root;
	VssJail *jail;
	VssJailProc *proc;
	Shared *shared;
	pid_t writers[VSS_JAIL_MAX_IMAGES];
	size_t n_writers;
	int dirty_fd[VSS_JAIL_MAX_IMAGES];
	int out_fd;
	char *buf; /* CHUNK bytes of data to dirty with */
} Run;

static const char *daemon_name(Daemon d)
{
	switch (d) {
	case DAEMON_HVGUEST:
		return "hvguest";
	case DAEMON_UPSTREAM:
		return "upstream";
	case _DAEMON_MAX:
	case _DAEMON_INVALID:
		break;
	}
	return "?";
}

static uint64_t now_usec(void)
{
	return bench_now_ns() / 1000u;
}

static double ms(uint64_t usec)
{
	return (double)usec / 1000.0;
}

static double median_d(double *v, size_t n)
{
	uint64_t u[MAX_ROUNDS * VSS_JAIL_MAX_IMAGES];

	if (n == 0 || n > ELEMENTSOF(u))
		return NAN;
	/* In ns, so that bench_quantile()'s integer sort keeps the precision we print. */
	for (size_t i = 0; i < n; i++)
		u[i] = (uint64_t)(v[i] * 1e6);
	return (double)bench_quantile(u, n, 0.5) / 1e6;
}

/* ---- Writers ---- */

static uint64_t load_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_u64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* The child: async-signal-safe calls only (the bench is multi-threaded). */
static _noreturn_ void writer_main(Shared *sh, WriterSlot *slot, int fd, unsigned interval_usec)
{
	struct timespec pause = { .tv_nsec = (long)interval_usec * 1000 };
	char rec[RECORD_SIZE];

	memset(rec, 'r', sizeof(rec));
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		uint64_t t, gen;

		if (pwrite(fd, rec, sizeof(rec), 0) != (ssize_t)sizeof(rec)) {
			slot->error = -errno;
			_exit(1);
		}
		t = now_usec();
		gen = load_u64(&sh->gen);
		if (gen != slot->gen) {
			store_u64(&slot->max_gap_usec, 0);
			store_u64(&slot->writes, 0);
			store_u64(&slot->gen, gen);
		} else if (t - slot->prev_usec > slot->max_gap_usec)
			store_u64(&slot->max_gap_usec, t - slot->prev_usec);
		store_u64(&slot->prev_usec, t);
		store_u64(&slot->writes, slot->writes + 1);
		(void)nanosleep(&pause, NULL);
	}
	_exit(0);
}

static int writers_start(Run *r)
{
	for (size_t i = 0; i < vss_jail_n_images(r->jail); i++) {
		int fd = openat(vss_jail_image_fd(r->jail, i), "writer",
				O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		pid_t pid;

		if (fd < 0)
			return negative_errno();
		pid = fork();
		if (pid < 0) {
			int e = negative_errno();

			close(fd);
			return e;
		}
		if (pid == 0) {
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			writer_main(r->shared, &r->shared->slot[i], fd, r->o->interval_usec);
		}
		close(fd);
		r->writers[r->n_writers++] = pid;
	}
	return 0;
}

/* After a thaw (or at the end): stop, kill and reap every writer. */
static void writers_stop(Run *r)
{
	if (r->shared)
		__atomic_store_n(&r->shared->stop, 1, __ATOMIC_RELEASE);
	for (size_t i = 0; i < r->n_writers; i++) {
		(void)kill(r->writers[i], SIGKILL);
		(void)waitpid(r->writers[i], NULL, 0);
	}
	r->n_writers = 0;
}

/* Starts a new measurement; returns its generation. */
static uint64_t writers_new_gen(Run *r)
{
	uint64_t gen = load_u64(&r->shared->gen) + 1;

	store_u64(&r->shared->gen, gen);
	return gen;
}

/*
 * Waits until every writer has completed two writes of generation gen after `after` (so a
 * write blocked by the freeze has completed), then fills gaps[] (µs). Bounded.
 */
static int writers_collect(Run *r, uint64_t gen, uint64_t after, uint64_t *gaps)
{
	uint64_t until = now_usec() + 10 * USEC;

	for (size_t i = 0; i < r->n_writers; i++) {
		WriterSlot *s = &r->shared->slot[i];

		while (load_u64(&s->gen) != gen || load_u64(&s->prev_usec) <= after ||
		       load_u64(&s->writes) < 2) {
			if (s->error)
				return s->error;
			if (now_usec() > until)
				return -ETIMEDOUT;
			(void)usleep(1000);
		}
		gaps[i] = load_u64(&s->max_gap_usec);
	}
	return 0;
}

/* ---- Jail and daemon ---- */

static void run_cleanup(Run *r)
{
	/* Thaw first: a writer or a daemon may be waiting on a frozen image. */
	if (r->jail)
		(void)vss_jail_thaw_all(r->jail);
	writers_stop(r);
	if (r->proc) {
		(void)vss_jail_proc_stop(r->jail, r->proc);
		r->proc = NULL;
	}
	for (size_t i = 0; i < VSS_JAIL_MAX_IMAGES; i++)
		r->dirty_fd[i] = safe_close(r->dirty_fd[i]);
	r->jail = vss_jail_free(r->jail);
	if (r->shared)
		(void)munmap(r->shared, sizeof(*r->shared));
	r->shared = NULL;
	r->out_fd = safe_close(r->out_fd);
	free(r->buf);
	r->buf = NULL;
}

static void print_daemon_output(Run *r)
{
	_cleanup_free_ char *log = NULL;
	struct stat st;
	ssize_t n;

	if (r->d == DAEMON_UPSTREAM) {
		if (vss_jail_read_log(r->jail, &log) == 0)
			fprintf(stderr, "upstream syslog:\n%s\n", log);
		return;
	}
	if (r->out_fd < 0 || fstat(r->out_fd, &st) < 0)
		return;
	log = malloc((size_t)st.st_size + 1);
	if (!log)
		return;
	n = pread(r->out_fd, log, (size_t)st.st_size, 0);
	log[n > 0 ? n : 0] = 0;
	fprintf(stderr, "hvguest output:\n%s\n", log);
}

static int build_jail(Run *r)
{
	VssJailImage images[VSS_JAIL_MAX_IMAGES];
	const char *execs[1] = { r->o->path[r->d] };
	VssJailOptions jo = {
		.images = images,
		.n_images = r->o->images,
		.vmbus_dir = "/dev/vmbus",
		/* Upstream skips loop devices it can recognise through /sys (see the top). */
		.sysfs = r->d == DAEMON_HVGUEST,
		.syslog = true,
		.executables = execs,
		.n_executables = 1,
		.lifetime_sec = 600,
	};
	int k;

	for (size_t i = 0; i < r->o->images; i++)
		images[i] = (VssJailImage){ .fs = VSS_JAIL_FS_EXT4,
					    .size_mib = r->o->size_mib,
					    .parent = -1 };
	k = vss_jail_new(&jo, r->root, &r->jail);
	if (k < 0)
		return k;
	for (size_t i = 0; i < r->o->images; i++) {
		k = hostsim_vss_allow_freeze(r->sim, vss_jail_image_device(r->jail, i));
		if (k < 0)
			return k;
	}
	return 0;
}

/* The files rewritten before each FREEZE: allocated and synced once, so rounds are alike. */
static int prepare_dirty_files(Run *r)
{
	r->buf = malloc(CHUNK);
	if (!r->buf)
		return -ENOMEM;
	memset(r->buf, 'd', CHUNK);
	for (size_t i = 0; i < r->o->images; i++) {
		r->dirty_fd[i] = openat(vss_jail_image_fd(r->jail, i), "dirty",
					O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (r->dirty_fd[i] < 0)
			return negative_errno();
		for (size_t off = 0; off < (size_t)r->o->dirty_mib << 20; off += CHUNK)
			if (pwrite(r->dirty_fd[i], r->buf, CHUNK, (off_t)off) != CHUNK)
				return errno ? negative_errno() : -ENOSPC;
		if (fsync(r->dirty_fd[i]) < 0)
			return negative_errno();
	}
	return 0;
}

/* D MiB of page cache on every filesystem, dirty and not written back. */
static int dirty_all(Run *r)
{
	for (size_t i = 0; i < r->o->images; i++)
		for (size_t off = 0; off < (size_t)r->o->dirty_mib << 20; off += CHUNK) {
			r->buf[0] = (char)off; /* not that it matters: a write dirties the page */
			if (pwrite(r->dirty_fd[i], r->buf, CHUNK, (off_t)off) != CHUNK)
				return errno ? negative_errno() : -ENOSPC;
		}
	return 0;
}

static int start_daemon(Run *r)
{
	char *ours[] = { (char *)r->o->path[DAEMON_HVGUEST],
			 (char *)"--device=/dev/vmbus/hv_vss",
			 (char *)"--run-dir=/run/hvguest",
			 (char *)"--hooks-dir=/etc/hvguest/vss.d",
			 (char *)"--config=/dev/null",
			 (char *)"--config-dir=/nonexistent",
			 NULL };
	char *upstream[] = { (char *)r->o->path[DAEMON_UPSTREAM], (char *)"-n", NULL };
	HostSimVssStats st;
	int k;

	hostsim_vss_stats(r->sim, &st);
	r->out_fd = memfd_create("bench-vss-daemon", MFD_CLOEXEC);
	if (r->out_fd < 0)
		return negative_errno();
	k = vss_jail_spawn(r->jail, r->d == DAEMON_HVGUEST ? ours : upstream, NULL, r->out_fd,
			   &r->proc);
	if (k < 0)
		return k;
	return hostsim_vss_wait_registered(r->sim, st.registrations + 1, 10 * USEC);
}

/* The safety gate: exactly the images, nothing else, in the daemon's view. */
static int gate(Run *r)
{
	char reason[512] = "";
	VssGatePlan plan;
	int k;

	k = vss_jail_gate(r->jail, vss_jail_proc_pid(r->proc), &plan, reason, sizeof(reason));
	if (k < 0) {
		fprintf(stderr, "SAFETY GATE refused: %s (%s)\n", reason, strerror(-k));
		return k;
	}
	if (plan.n_candidates != r->o->images) {
		fprintf(stderr, "SAFETY GATE: %zu candidates, expected %u\n", plan.n_candidates,
			r->o->images);
		return -EPERM;
	}
	return 0;
}

/* FREEZE or THAW after the gate; *ret_usec is the host's round trip, *ret_gate the gate's. */
static int request(Run *r, uint8_t op, uint64_t *ret_usec, uint64_t *ret_gate)
{
	uint32_t status = ~0u;
	uint64_t t0 = now_usec(), t1;
	int k;

	if (op == HOSTSIM_VSS_OP_FREEZE || op == HOSTSIM_VSS_OP_THAW) {
		k = gate(r);
		if (k < 0)
			return k;
	}
	t1 = now_usec();
	k = hostsim_vss_request(r->sim, op, &status, NULL);
	if (k < 0)
		return k;
	if (ret_usec)
		*ret_usec = now_usec() - t1;
	if (ret_gate)
		*ret_gate = t1 - t0;
	if (status != HV_S_OK) {
		fprintf(stderr, "%s: op %u answered 0x%08x\n", daemon_name(r->d), op, status);
		return -EPROTO;
	}
	return 0;
}

/*
 * hvguest's own measure of the window, first FIFREEZE to last FITHAW: blocked_usec in its
 * status file, which it writes after answering THAW (after the thaw hooks). The bench removes
 * the file before each FREEZE, so this waits (bounded) for the new one. In ms; NAN for
 * upstream or when it does not come.
 */
static double daemon_blocked(Run *r)
{
	uint64_t until = now_usec() + 2 * USEC;

	if (r->d != DAEMON_HVGUEST)
		return NAN;
	for (;;) {
		_cleanup_close_ int fd = openat(vss_jail_root_fd(r->jail), "run/hvguest/vss-status",
						O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		char buf[4096];
		const char *p;
		ssize_t n;

		if (fd >= 0 && (n = read(fd, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = 0;
			p = strstr(buf, "\nblocked_usec=");
			return p ? ms(strtoull(p + strlen("\nblocked_usec="), NULL, 10)) : NAN;
		}
		if (now_usec() > until)
			return NAN;
		(void)usleep(1000);
	}
}

/* Unmeasured: the daemon freezes every image (the harness's probes get EBUSY) and thaws. */
static int verify_round(Run *r, Result *res)
{
	unsigned frozen = 0;
	int k;

	k = request(r, HOSTSIM_VSS_OP_HOT_BACKUP, NULL, NULL);
	if (k >= 0)
		k = request(r, HOSTSIM_VSS_OP_FREEZE, NULL, NULL);
	if (k < 0)
		return k;
	for (size_t i = 0; i < r->o->images && k >= 0; i++) {
		bool f = false;

		k = vss_jail_probe(r->jail, i, &f);
		frozen += f;
	}
	res->verified_frozen = frozen;
	if (k >= 0)
		k = request(r, HOSTSIM_VSS_OP_THAW, NULL, NULL);
	if (k < 0)
		return k;
	for (size_t i = 0; i < r->o->images; i++) {
		bool f = true;

		k = vss_jail_probe(r->jail, i, &f);
		if (k < 0)
			return k;
		if (f) {
			fprintf(stderr, "%s: img%zu still frozen after THAW\n", daemon_name(r->d),
				i);
			return -EBUSY;
		}
	}
	if (frozen != r->o->images) {
		fprintf(stderr, "%s: only %u of %u images were frozen\n", daemon_name(r->d), frozen,
			r->o->images);
		return -EIO;
	}
	return 0;
}

static int measured_round(Run *r, Round *out, double *ret_dirty)
{
	uint64_t gaps[VSS_JAIL_MAX_IMAGES], freeze = 0, thaw = 0, g1 = 0, g2 = 0, t0, gen;
	double w[VSS_JAIL_MAX_IMAGES];
	int k;

	k = request(r, HOSTSIM_VSS_OP_HOT_BACKUP, NULL, NULL);
	if (k < 0)
		return k;
	t0 = now_usec();
	k = dirty_all(r);
	if (k < 0)
		return k;
	*ret_dirty = ms(now_usec() - t0);
	gen = writers_new_gen(r);
	/* Every writer completes a write in the new generation before the freeze starts. */
	k = writers_collect(r, gen, now_usec(), gaps);
	if (k < 0)
		return k;
	/* The status file on the jail's /run (tmpfs): daemon_blocked() waits for a new one. */
	if (unlinkat(vss_jail_root_fd(r->jail), "run/hvguest/vss-status", 0) < 0 && errno != ENOENT)
		return negative_errno();

	k = request(r, HOSTSIM_VSS_OP_FREEZE, &freeze, &g1);
	if (k < 0)
		return k;
	k = request(r, HOSTSIM_VSS_OP_THAW, &thaw, &g2);
	if (k < 0)
		return k;
	k = writers_collect(r, gen, now_usec(), gaps);
	if (k < 0)
		return k;

	out->win_max = 0;
	for (size_t i = 0; i < r->n_writers; i++) {
		w[i] = ms(gaps[i]);
		out->win_max = MAX(out->win_max, w[i]);
	}
	out->win_median = median_d(w, r->n_writers);
	out->freeze = ms(freeze);
	out->thaw = ms(thaw);
	out->gate = ms(g2);
	out->daemon_blocked = daemon_blocked(r);
	return 0;
}

/* Largest writer gap over a quiet stretch as long as an upstream round: the noise floor. */
static int floor_round(Run *r, double *ret)
{
	uint64_t gaps[VSS_JAIL_MAX_IMAGES], gen = writers_new_gen(r);
	int k;

	(void)usleep(500000);
	k = writers_collect(r, gen, now_usec(), gaps);
	if (k < 0)
		return k;
	*ret = 0;
	for (size_t i = 0; i < r->n_writers; i++)
		*ret = MAX(*ret, ms(gaps[i]));
	return 0;
}

static int run_daemon(Run *r, Result *res)
{
	double dirty[MAX_ROUNDS];
	uint64_t t0 = now_usec();
	int k;

	fprintf(stderr, "%s: building the jail (%u x %u MiB ext4)...\n", daemon_name(r->d),
		r->o->images, r->o->size_mib);
	k = build_jail(r);
	if (k < 0)
		return k;
	k = prepare_dirty_files(r);
	if (k < 0)
		return k;
	r->shared = mmap(NULL, sizeof(*r->shared), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->shared == MAP_FAILED) {
		r->shared = NULL;
		return negative_errno();
	}
	k = start_daemon(r);
	if (k < 0)
		return k;
	fprintf(stderr, "%s: jail and daemon ready in %.1f s; verifying the freeze\n",
		daemon_name(r->d), (double)(now_usec() - t0) / USEC);
	k = verify_round(r, res);
	if (k < 0)
		return k;
	k = writers_start(r);
	if (k < 0)
		return k;
	k = floor_round(r, &res->floor_max);
	if (k < 0)
		return k;
	/* One unmeasured round: the first backup of a daemon pays for cold caches. */
	k = measured_round(r, &res->r[0], &dirty[0]);
	if (k < 0)
		return k;
	for (unsigned i = 0; i < r->o->rounds; i++) {
		k = measured_round(r, &res->r[i], &dirty[i]);
		if (k < 0)
			return k;
		fprintf(stderr,
			"%s round %u: window max %.1f ms, median %.1f ms; FREEZE %.1f ms, THAW "
			"%.1f ms (gate before THAW %.1f ms); dirtying took %.0f ms\n",
			daemon_name(r->d), i + 1, res->r[i].win_max, res->r[i].win_median,
			res->r[i].freeze, res->r[i].thaw, res->r[i].gate, dirty[i]);
		res->rounds = i + 1;
	}
	res->dirty = median_d(dirty, r->o->rounds);
	res->ran = true;
	return 0;
}

/* ---- Report ---- */

typedef double (*RoundField)(const Round *r);

static double f_win_max(const Round *r)
{
	return r->win_max;
}
static double f_win_median(const Round *r)
{
	return r->win_median;
}
static double f_freeze(const Round *r)
{
	return r->freeze;
}
static double f_thaw(const Round *r)
{
	return r->thaw;
}
static double f_gate(const Round *r)
{
	return r->gate;
}
static double f_daemon_blocked(const Round *r)
{
	return r->daemon_blocked;
}

static double round_median(const Result *res, RoundField fn)
{
	double v[MAX_ROUNDS];

	if (!res->ran)
		return NAN;
	for (unsigned i = 0; i < res->rounds; i++) {
		v[i] = fn(&res->r[i]);
		if (isnan(v[i]))
			return NAN;
	}
	return median_d(v, res->rounds);
}

static void print_cell(double v, int width, int prec)
{
	if (isnan(v))
		printf(" %*s |", width, "-");
	else
		printf(" %*.*f |", width, prec, v);
}

static void print_row(const char *label, double a, double b)
{
	printf("| %-44s |", label);
	print_cell(a, 9, 1);
	print_cell(b, 9, 1);
	print_cell(a / b, 7, 3);
	printf("\n");
}

static void print_report(const Options *o, const Result res[_DAEMON_MAX])
{
	const Result *h = &res[DAEMON_HVGUEST], *u = &res[DAEMON_UPSTREAM];
	struct utsname un;
	double wh = round_median(h, f_win_max), wu = round_median(u, f_win_max);

	(void)uname(&un);
	printf("VSS benchmark: %u ext4 loop filesystems x %u MiB in a vss-jail, %u MiB written "
	       "without fsync to each right before FREEZE, THAW sent as soon as FREEZE is "
	       "answered (after the safety gate); one writer per filesystem rewriting %u bytes "
	       "every %u us. Medians across %u rounds. Kernel %s, %ld CPUs.\n\n",
	       o->images, o->size_mib, o->dirty_mib, RECORD_SIZE, o->interval_usec, o->rounds,
	       un.release, sysconf(_SC_NPROCESSORS_ONLN));
	printf("| %-44s | %9s | %9s | %7s |\n", "metric (ms)", "hvguest", "upstream", "ratio");
	printf("|%.46s|%.11s|%.11s|%.9s|\n", "----------------------------------------------",
	       "-----------", "-----------", "---------");
	print_row("writers blocked, max over filesystems", wh, wu);
	print_row("writers blocked, median over filesystems", round_median(h, f_win_median),
		  round_median(u, f_win_median));
	print_row("FREEZE reply (host round trip)", round_median(h, f_freeze),
		  round_median(u, f_freeze));
	print_row("THAW reply (host round trip)", round_median(h, f_thaw), round_median(u, f_thaw));
	print_row("daemon-reported window (FIFREEZE..FITHAW)", round_median(h, f_daemon_blocked),
		  round_median(u, f_daemon_blocked));
	print_row("safety gate before THAW (inside the window)", round_median(h, f_gate),
		  round_median(u, f_gate));
	print_row("writer max gap, no freeze (noise floor)", h->floor_max, u->floor_max);
	printf("\nTarget: writers-blocked window (max) <= 1/10 of upstream's: %s (ratio %.3f)\n",
	       !h->ran || !u->ran ? "not measured"
	       : wh * 10.0 <= wu  ? "MET"
				  : "MISSED",
	       wh / wu);
	for (Daemon d = 0; d < _DAEMON_MAX; d++)
		if (res[d].skipped[0])
			printf("%s: %s\n", daemon_name(d), res[d].skipped);
		else if (res[d].ran)
			printf("%s: verified %u/%u filesystems frozen by one FREEZE; dirtying took "
			       "%.0f ms per round\n",
			       daemon_name(d), res[d].verified_frozen, o->images, res[d].dirty);
}

/* ---- Main ---- */

static void help(void)
{
	printf("Usage: bench-vss [OPTIONS]\n"
	       "Writers-blocked window and FREEZE/THAW reply times, hvguest vs upstream.\n\n"
	       "  --rounds=N        measured rounds per daemon (default 7, max %u)\n"
	       "  --images=N        loop filesystems (default 32, max %u)\n"
	       "  --size-mib=N      size of each (default 16)\n"
	       "  --dirty-mib=N     written to each before FREEZE (default 8)\n"
	       "  --interval-us=N   writer pause between writes (default 1000)\n"
	       "  --daemon=PATH     our daemon (default %s)\n"
	       "  --upstream=PATH   upstream daemon (default %s)\n"
	       "  --only=NAME       hvguest or upstream\n"
	       "  --quick           2 rounds\n"
	       "  --verbose         print each daemon's log (stderr)\n",
	       MAX_ROUNDS, VSS_JAIL_MAX_IMAGES, BENCH_VSS_DAEMON, BENCH_VSS_UPSTREAM);
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_argv(int argc, char *argv[], Options *o)
{
	static const struct option options[] = { { "rounds", required_argument, NULL, 'r' },
						 { "images", required_argument, NULL, 'i' },
						 { "size-mib", required_argument, NULL, 's' },
						 { "dirty-mib", required_argument, NULL, 'D' },
						 { "interval-us", required_argument, NULL, 'I' },
						 { "daemon", required_argument, NULL, 'd' },
						 { "upstream", required_argument, NULL, 'u' },
						 { "only", required_argument, NULL, 'o' },
						 { "quick", no_argument, NULL, 'q' },
						 { "verbose", no_argument, NULL, 'v' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	int c, k = 0;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0 && k >= 0)
		switch (c) {
		case 'r':
			k = parse_uint(optarg, 1, MAX_ROUNDS, &o->rounds);
			break;
		case 'i':
			k = parse_uint(optarg, 1, VSS_JAIL_MAX_IMAGES, &o->images);
			break;
		case 's':
			k = parse_uint(optarg, 8, 4096, &o->size_mib);
			break;
		case 'D':
			k = parse_uint(optarg, 0, 2048, &o->dirty_mib);
			break;
		case 'I':
			k = parse_uint(optarg, 50, 100000, &o->interval_usec);
			break;
		case 'd':
			o->path[DAEMON_HVGUEST] = optarg;
			break;
		case 'u':
			o->path[DAEMON_UPSTREAM] = optarg;
			break;
		case 'o':
			o->only[DAEMON_HVGUEST] = strcmp(optarg, "hvguest") == 0;
			o->only[DAEMON_UPSTREAM] = strcmp(optarg, "upstream") == 0;
			if (!o->only[DAEMON_HVGUEST] && !o->only[DAEMON_UPSTREAM])
				k = -EINVAL;
			break;
		case 'q':
			o->rounds = 2;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			help();
			return 0;
		default:
			return -EINVAL;
		}
	if (k < 0 || optind < argc)
		return -EINVAL;
	if ((size_t)o->dirty_mib + 2 > (size_t)o->size_mib) {
		fprintf(stderr, "--dirty-mib must leave room on the filesystem (--size-mib).\n");
		return -EINVAL;
	}
	return 1;
}

int main(int argc, char *argv[])
{
	Options o = {
		.rounds = 7,
		.images = 32,
		.size_mib = 16,
		.dirty_mib = 8,
		.interval_usec = 1000,
		.path = { BENCH_VSS_DAEMON, BENCH_VSS_UPSTREAM },
		.only = { true, true },
	};
	HostSimOptions so = { .vss_freeze_timeout_usec = 60 * USEC, .vss_timeout_usec = 30 * USEC };
	Result res[_DAEMON_MAX] = {};
	HostSim *sim = NULL;
	VssRootId root;
	bool failed = false;
	int k;

	/* The machine's root, before hostsim_new() unshares anything. */
	if (vss_root_id_get(&root) < 0)
		return EXIT_FAILURE;
	k = parse_argv(argc, argv, &o);
	if (k <= 0)
		return k < 0 ? 2 : EXIT_SUCCESS;
	if (geteuid() != 0 || access("/dev/fuse", F_OK) < 0 ||
	    access("/dev/loop-control", F_OK) < 0 || !vss_jail_fs_available(VSS_JAIL_FS_EXT4)) {
		fprintf(stderr, "bench-vss needs root, /dev/fuse, loop devices and mkfs.ext4.\n");
		return 77;
	}
	k = hostsim_new(&so, &sim);
	if (k < 0) {
		fprintf(stderr, "hostsim: %s\n", strerror(-k));
		return EXIT_FAILURE;
	}
	for (Daemon d = 0; d < _DAEMON_MAX; d++) {
		Run r = { .o = &o, .d = d, .sim = sim, .root = &root, .out_fd = -EBADF };

		for (size_t i = 0; i < VSS_JAIL_MAX_IMAGES; i++)
			r.dirty_fd[i] = -EBADF;
		if (!o.only[d]) {
			(void)snprintf(res[d].skipped, sizeof(res[d].skipped), "not selected");
			continue;
		}
		if (access(o.path[d], X_OK) < 0) {
			(void)snprintf(res[d].skipped, sizeof(res[d].skipped), "'%s' missing",
				       o.path[d]);
			continue;
		}
		k = run_daemon(&r, &res[d]);
		if (k >= 0 && o.verbose)
			print_daemon_output(&r);
		if (k < 0) {
			fprintf(stderr, "%s: failed: %s\n", daemon_name(d), strerror(-k));
			if (r.jail)
				(void)vss_jail_thaw_all(r.jail);
			if (r.jail && r.proc)
				print_daemon_output(&r);
			(void)snprintf(res[d].skipped, sizeof(res[d].skipped), "failed: %s",
				       strerror(-k));
			res[d].ran = false;
			failed = true;
		}
		run_cleanup(&r);
	}
	hostsim_free(sim);
	print_report(&o, res);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
