/* SPDX-License-Identifier: MIT */
/*
 * bench-fcopy: file copy throughput from the simulated host into the guest (issue 5 item 8).
 *
 * One random source file (default 1 GiB, generated once on the simulator's tmpfs, so its page
 * cache state is the same for everyone) is copied onto one destination filesystem (a fresh
 * ext4 on a loop device of ours, inside the simulator's private mount namespace; tmpfs when
 * no loop device can be set up) by each contender in turn:
 *   - dd bs=6144 conv=fsync: the same 6 KiB writes with no transport at all (the limit);
 *   - Debian's /usr/sbin/hv_fcopy_daemon -n on the emulated /dev/vmbus/hv_fcopy;
 *   - our hv_fcopy_daemon on the same character device (when this tree builds it);
 *   - our hv_fcopy_daemon on the uio channel (when hv-hostsim has a uio host);
 *   - bench/null-fcopy-daemon on each transport: answers every message with success and
 *     writes nothing, so its rate is the transport floor (each fragment is a synchronous
 *     host round trip through the simulator), the most any daemon can reach on it.
 * The daemons are driven by the host's Copy-VMFile sequence (hostsim_fcopy_copy_file():
 * START, WRITE_TO_FILE in 6,144-byte fragments, COMPLETE). Per round and contender: wall time,
 * the contender's CPU time (user + system), the bench process's CPU (host, kernel model and
 * FUSE server), the syncfs() time right after the copy (data the contender left unflushed),
 * and a byte-by-byte comparison of the destination with the source. Rounds rotate the order;
 * the table shows medians. Method: bench/README.md.
 *
 * Progress on stderr, the table on stdout. Needs root and /dev/fuse (exit 77 otherwise).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hv-status.h"
#include "common/log.h"
#include "common/macro.h"
#include "hostsim/hostsim.h"

#include "bench-util.h"

#ifndef BENCH_FCOPY_UPSTREAM
#define BENCH_FCOPY_UPSTREAM "/usr/sbin/hv_fcopy_daemon"
#endif
/* BENCH_FCOPY_DAEMON (our daemon) is defined by bench/meson.build once src/fcopy builds it. */
#ifdef BENCH_FCOPY_DAEMON
#define DEFAULT_DAEMON BENCH_FCOPY_DAEMON
#else
#define DEFAULT_DAEMON NULL
#endif
#ifdef BENCH_FCOPY_NULL_DAEMON
#define DEFAULT_NULL_DAEMON BENCH_FCOPY_NULL_DAEMON
#else
#define DEFAULT_NULL_DAEMON NULL
#endif

extern char **environ;

#define USEC_PER_SEC UINT64_C(1000000)
#define READY_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define MAX_ROUNDS 9u
#define MIB (UINT64_C(1) << 20)
/* The host's WRITE_TO_FILE fragment; dd uses the same block size. */
#define FRAGMENT_SIZE 6144u
#define DEST_NAME "random.bin"
/* Source generation and verification buffer. */
#define CHUNK (1u << 20)
#define LOOP_MAJOR_NR 7u
#define LOOP_CONTROL_MINOR 237u
#define LOOP_ATTEMPTS 16

typedef enum Contender {
	C_DD,
	C_UPSTREAM,
	C_HVGUEST,
	C_HVGUEST_UIO,
	C_NULL,
	C_NULL_UIO,
	_C_MAX,
	_C_INVALID = -EINVAL,
} Contender;

static const char *const contender_names[_C_MAX] = {
	[C_DD] = "dd",		 [C_UPSTREAM] = "upstream",
	[C_HVGUEST] = "hvguest", [C_HVGUEST_UIO] = "hvguest-uio",
	[C_NULL] = "null",	 [C_NULL_UIO] = "null-uio",
};

static const char *const contender_labels[_C_MAX] = {
	[C_DD] = "dd bs=6144 conv=fsync (limit)",
	[C_UPSTREAM] = "Debian hv_fcopy_daemon, chardev",
	[C_HVGUEST] = "hvguest hv_fcopy_daemon, chardev",
	[C_HVGUEST_UIO] = "hvguest hv_fcopy_daemon, uio",
	[C_NULL] = "floor (null daemon), chardev",
	[C_NULL_UIO] = "floor (null daemon), uio",
};

/* The floor row a daemon row is compared with (_C_INVALID: none). */
static Contender floor_of(Contender c)
{
	switch (c) {
	case C_UPSTREAM:
	case C_HVGUEST:
		return C_NULL;
	case C_HVGUEST_UIO:
		return C_NULL_UIO;
	case C_DD:
	case C_NULL:
	case C_NULL_UIO:
	case _C_MAX:
	case _C_INVALID:
		break;
	}
	return _C_INVALID;
}

/* The null daemon writes no file: it passes when the host saw success for every step. */
static bool is_null(Contender c)
{
	return c == C_NULL || c == C_NULL_UIO;
}

static bool is_uio(Contender c)
{
	return c == C_HVGUEST_UIO || c == C_NULL_UIO;
}

typedef struct Options {
	unsigned size_mib, rounds;
	const char *daemon, *upstream, *null_daemon, *image_dir;
	bool enabled[_C_MAX];
	bool tmpfs; /* destination on tmpfs even when a loop device would work */
} Options;

/* One contender in one round. */
typedef struct Sample {
	bool ran, ok;	   /* ok: the host saw HV_S_OK (dd: exit 0) and the file is byte-exact */
	double secs;	   /* dd: process lifetime; daemons: START sent .. COMPLETE answered */
	double cpu_s;	   /* the contender's user + system time over the copy */
	double host_cpu_s; /* this process (host, kernel model, FUSE server) over the copy */
	double sync_ms;	   /* syncfs() of the destination right after the copy */
	double fuse_reads, fuse_writes, fuse_polls; /* FUSE requests per fragment (chardev) */
	char why[200];				    /* !ok: what went wrong */
	char note[160];				    /* anomalies that do not fail the copy */
} Sample;

typedef struct Row {
	char skipped[200]; /* non-empty: not measured, and why */
	Sample s[MAX_ROUNDS];
} Row;

typedef struct Bench {
	const Options *o;
	HostSim *sim;
	uint64_t size; /* bytes */
	char src[PATH_MAX], mnt[PATH_MAX], dest_dir[PATH_MAX], dest[PATH_MAX];
	char conf[PATH_MAX], conf_dir[PATH_MAX], run_dir[PATH_MAX];
	char loop_node[PATH_MAX];
	char fs_desc[256];
	int loop_fd; /* our loop device, held until it is detached */
	int mnt_fd;  /* the destination filesystem's root, for syncfs() */
	bool mounted;
	bool uio_open;		   /* hostsim_fcopy_uio_open() was called */
	HostSimDaemon *uio_daemon; /* the uio daemon, kept across rounds */
	Contender uio_owner;	   /* which contender uio_daemon is */
	Sample *uio_sample;	   /* its last sample, for a note on stop */
	uint8_t *buf_a, *buf_b;
} Bench;

/* ---- helpers ---- */

static int path_join(char *buf, size_t size, const char *a, const char *b)
{
	int k = snprintf(buf, size, "%s/%s", a, b);

	return k < 0 || (size_t)k >= size ? -ENAMETOOLONG : 0;
}

static double median(double *v, unsigned n)
{
	/* Insertion sort: n <= MAX_ROUNDS. */
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t timeval_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * UINT64_C(1000000000) + (uint64_t)tv->tv_usec * 1000;
}

/*
 * Runs argv (PATH search) with stdin /dev/null and stdout on our stderr (the report owns
 * stdout); waits for it with wait4() so *ret_ru holds its CPU time.
 */
static int spawn_wait(char *const argv[], int *ret_status, struct rusage *ret_ru)
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	pid_t pid;
	int r, status;

	r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	if (r == 0)
		r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return negative_errno();
	*ret_status = status;
	if (ret_ru)
		*ret_ru = ru;
	return 0;
}

/* Shows what a misbehaving daemon said (its stderr log; syslog for upstream). */
static void dump_log_tail(const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t size = 0;

	if (!path || read_full_file_at(AT_FDCWD, path, 16 << 20, &text, &size) < 0 || size == 0)
		return;
	fprintf(stderr, "---- end of %s ----\n%s\n----\n", path,
		size > 2048 ? text + size - 2048 : text);
}

/* ---- source ---- */

/* xorshift64*: incompressible, reproducible and much faster than getrandom(). */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static int make_source(Bench *b)
{
	_cleanup_close_ int fd = -EBADF;
	uint64_t seed = UINT64_C(0x9e3779b97f4a7c15), left = b->size;
	int r;

	r = path_join(b->src, sizeof(b->src), hostsim_scratch_dir(b->sim), "source.bin");
	if (r < 0)
		return r;
	fd = open(b->src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return negative_errno();
	while (left > 0) {
		size_t n = (size_t)MIN(left, (uint64_t)CHUNK);

		for (size_t i = 0; i < CHUNK / 8; i++) {
			uint64_t v = next_random(&seed);

			memcpy(b->buf_a + i * 8, &v, 8);
		}
		r = loop_write(fd, b->buf_a, n);
		if (r < 0)
			return r;
		left -= n;
	}
	return 0;
}

/* ---- destination filesystem ---- */

static int loop_part_shift(void)
{
	char line[32];
	int max_part, shift = 0;

	/* With max_part, minors are index << fls(max_part) (drivers/block/loop.c). */
	if (bench_read_line("/sys/module/loop/parameters/max_part", line, sizeof(line)) < 0)
		return 0;
	max_part = atoi(line);
	while (max_part > 0 && (1 << shift) <= max_part)
		shift++;
	return shift;
}

/*
 * Attaches a new loop device of ours to backing (auto-clear, so it also goes away if this
 * process dies: the mount namespace and with it the mount disappear). Device nodes are made
 * on the simulator's tmpfs; the machine's /dev is not touched.
 */
static int attach_loop(Bench *b, int backing)
{
	_cleanup_close_ int ctl = -EBADF;
	char ctl_node[PATH_MAX];
	int shift = loop_part_shift(), r;

	r = path_join(ctl_node, sizeof(ctl_node), hostsim_scratch_dir(b->sim), "loop-control");
	if (r < 0)
		return r;
	if (mknod(ctl_node, S_IFCHR | 0600, makedev(10, LOOP_CONTROL_MINOR)) < 0 && errno != EEXIST)
		return negative_errno();
	ctl = open(ctl_node, O_RDWR | O_CLOEXEC);
	(void)unlink(ctl_node);
	if (ctl < 0)
		return negative_errno();

	for (int attempt = 0; attempt < LOOP_ATTEMPTS; attempt++) {
		struct loop_config cfg = { .fd = (uint32_t)backing };
		struct loop_info64 li;
		char name[32];
		int idx, lfd;

		idx = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (idx < 0)
			return negative_errno();
		(void)snprintf(name, sizeof(name), "loop%d", idx);
		r = path_join(b->loop_node, sizeof(b->loop_node), hostsim_scratch_dir(b->sim),
			      name);
		if (r < 0)
			return r;
		(void)unlink(b->loop_node);
		if (mknod(b->loop_node, S_IFBLK | 0600,
			  makedev(LOOP_MAJOR_NR, (unsigned)idx << shift)) < 0)
			return negative_errno();
		lfd = open(b->loop_node, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			return negative_errno();
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		(void)snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name),
			       "hvguest-bench-fcopy");
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
			r = negative_errno();
			close(lfd);
			if (r == -EBUSY)
				continue; /* someone else took it meanwhile */
			return r;
		}
		/* Our node must name the device we configured (part_shift guess). */
		if (ioctl(lfd, LOOP_GET_STATUS64, &li) < 0 || li.lo_number != (uint32_t)idx) {
			(void)ioctl(lfd, LOOP_CLR_FD);
			close(lfd);
			return -ENXIO;
		}
		b->loop_fd = lfd;
		return 0;
	}
	return -EBUSY;
}

/* Image: the data plus ext4's journal and inode tables plus room for a daemon's temp file. */
static uint64_t fs_size_mib(const Bench *b)
{
	return b->o->size_mib + b->o->size_mib / 8 + 96;
}

static int setup_loop_ext4(Bench *b)
{
	_cleanup_close_ int img = -EBADF;
	const char *dir = b->o->image_dir ?: hostsim_scratch_dir(b->sim);
	char *mkfs_argv[] = { (char *)"mkfs.ext4",
			      (char *)"-q",
			      (char *)"-F",
			      (char *)"-m",
			      (char *)"0",
			      (char *)"-E",
			      (char *)"lazy_itable_init=0,lazy_journal_init=0,nodiscard",
			      b->loop_node,
			      NULL };
	int status, r;

	/* Unnamed: nothing is left behind in dir whatever happens to this process. */
	img = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (img < 0)
		return log_warning_errno(errno, "No image file in '%s': %m", dir);
	/* Allocated up front: otherwise whoever writes first pays for the tmpfs pages. */
	if (fallocate(img, 0, 0, (off_t)(fs_size_mib(b) * MIB)) < 0) {
		if (errno != EOPNOTSUPP)
			return log_warning_errno(errno, "Failed to allocate the image: %m");
		if (ftruncate(img, (off_t)(fs_size_mib(b) * MIB)) < 0)
			return log_warning_errno(errno, "Failed to size the image: %m");
	}
	r = attach_loop(b, img);
	if (r < 0)
		return log_warning_errno(r, "No loop device: %m");
	r = spawn_wait(mkfs_argv, &status, NULL);
	if (r < 0)
		return log_warning_errno(r, "Failed to run mkfs.ext4: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return log_warning_errno(EIO, "mkfs.ext4 failed (status 0x%x).", (unsigned)status);
	if (mount(b->loop_node, b->mnt, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0)
		return log_warning_errno(errno, "Failed to mount ext4: %m");
	b->mounted = true;
	(void)snprintf(b->fs_desc, sizeof(b->fs_desc),
		       "ext4 (mkfs defaults, data=ordered) on a loop device, %" PRIu64
		       " MiB image on %s",
		       fs_size_mib(b), b->o->image_dir ? b->o->image_dir : "the simulator's tmpfs");
	return 0;
}

static int setup_tmpfs(Bench *b, const char *why)
{
	char opts[64];

	(void)snprintf(opts, sizeof(opts), "size=%" PRIu64 "m,mode=0755", fs_size_mib(b));
	if (mount("hvguest-bench-fcopy", b->mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return log_error_errno(errno, "Failed to mount tmpfs: %m");
	b->mounted = true;
	(void)snprintf(b->fs_desc, sizeof(b->fs_desc), "tmpfs, %" PRIu64 " MiB (%s)",
		       fs_size_mib(b), why);
	return 0;
}

static void detach_loop(Bench *b)
{
	if (b->loop_fd < 0)
		return;
	/* Auto-clear would do it at the last close; clear explicitly and check. */
	if (ioctl(b->loop_fd, LOOP_CLR_FD) < 0 && errno != ENXIO)
		log_warning_errno(errno, "Failed to detach %s: %m", b->loop_node);
	b->loop_fd = safe_close(b->loop_fd);
	(void)unlink(b->loop_node);
}

static void teardown_dest(Bench *b)
{
	b->mnt_fd = safe_close(b->mnt_fd);
	if (b->mounted) {
		if (umount2(b->mnt, 0) < 0) {
			log_warning_errno(errno, "Failed to unmount %s (%m); detaching it lazily.",
					  b->mnt);
			(void)umount2(b->mnt, MNT_DETACH);
		}
		b->mounted = false;
	}
	detach_loop(b);
	(void)rmdir(b->mnt);
}

/*
 * The destination filesystem, mounted in the simulator's private mount namespace (hostsim_new()
 * made "/" MS_PRIVATE, so nothing propagates to the machine).
 */
static int setup_dest(Bench *b)
{
	const char *scratch = hostsim_scratch_dir(b->sim);
	int r;

	r = path_join(b->mnt, sizeof(b->mnt), scratch, "dest");
	if (r < 0)
		return r;
	if (mkdir(b->mnt, 0755) < 0)
		return log_error_errno(errno, "Failed to create %s: %m", b->mnt);
	if (b->o->tmpfs)
		r = setup_tmpfs(b, "--tmpfs");
	else if (setup_loop_ext4(b) < 0) {
		teardown_dest(b);
		if (mkdir(b->mnt, 0755) < 0)
			return log_error_errno(errno, "Failed to create %s: %m", b->mnt);
		r = setup_tmpfs(b, "no loop device or mkfs.ext4 here");
	} else
		r = 0;
	if (r < 0)
		return r;
	b->mnt_fd = open(b->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->mnt_fd < 0)
		return log_error_errno(errno, "Failed to open %s: %m", b->mnt);
	r = path_join(b->dest_dir, sizeof(b->dest_dir), b->mnt, "incoming");
	if (r >= 0)
		r = path_join(b->dest, sizeof(b->dest), b->dest_dir, DEST_NAME);
	if (r < 0)
		return r;
	if (mkdir(b->dest_dir, 0755) < 0)
		return log_error_errno(errno, "Failed to create %s: %m", b->dest_dir);
	log_info("Destination: %s at %s.", b->fs_desc, b->mnt);
	return 0;
}

/* Empties the destination directory and flushes, so every contender starts alike. */
static int clean_dest(Bench *b)
{
	_cleanup_close_ int dfd = open(b->dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (dfd < 0)
		return negative_errno();
	d = fdopendir(dfd);
	if (!d)
		return negative_errno();
	dfd = -EBADF; /* owned by d now */
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	(void)closedir(d);
	if (syncfs(b->mnt_fd) < 0)
		return negative_errno();
	return 0;
}

/* Names in the destination directory other than DEST_NAME (e.g. a daemon's temp file). */
static unsigned count_leftovers(Bench *b)
{
	DIR *d = opendir(b->dest_dir);
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, DEST_NAME) != 0)
			n++;
	(void)closedir(d);
	return n;
}

/* 1: byte-exact; 0: not (why filled in); negative errno: the source could not be read. */
static int verify_dest(Bench *b, char *why, size_t size)
{
	_cleanup_close_ int s = open(b->src, O_RDONLY | O_CLOEXEC), d = -EBADF;
	struct stat st;
	uint64_t off = 0;

	if (s < 0)
		return negative_errno();
	d = open(b->dest, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (d < 0) {
		(void)snprintf(why, size, "destination missing (%s)", strerror(errno));
		return 0;
	}
	if (fstat(d, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != b->size) {
		(void)snprintf(why, size, "destination has %jd bytes, source %" PRIu64,
			       (intmax_t)st.st_size, b->size);
		return 0;
	}
	for (;;) {
		ssize_t na = loop_read(s, b->buf_a, CHUNK), nb;

		if (na < 0)
			return (int)na;
		nb = loop_read(d, b->buf_b, CHUNK);
		if (nb < 0) {
			(void)snprintf(why, size, "reading the destination: %s",
				       strerror((int)-nb));
			return 0;
		}
		if (na != nb || memcmp(b->buf_a, b->buf_b, (size_t)na) != 0) {
			size_t i = 0;

			while (i < (size_t)MIN(na, nb) && b->buf_a[i] == b->buf_b[i])
				i++;
			(void)snprintf(why, size, "content differs at byte %" PRIu64, off + i);
			return 0;
		}
		if (na == 0)
			return 1;
		off += (uint64_t)na;
	}
}

/* ---- contenders ---- */

static int sample_dd(Bench *b, Sample *s)
{
	char arg_if[PATH_MAX + 4], arg_of[PATH_MAX + 4];
	char *argv[] = {
		(char *)"dd",	       arg_if, arg_of, (char *)"bs=6144", (char *)"conv=fsync",
		(char *)"status=none", NULL
	};
	struct rusage ru;
	uint64_t t0;
	int status, r;

	if (snprintf(arg_if, sizeof(arg_if), "if=%s", b->src) >= (int)sizeof(arg_if) ||
	    snprintf(arg_of, sizeof(arg_of), "of=%s", b->dest) >= (int)sizeof(arg_of))
		return -ENAMETOOLONG;
	t0 = bench_now_ns();
	r = spawn_wait(argv, &status, &ru);
	if (r < 0)
		return log_error_errno(r, "Failed to run dd: %m");
	s->secs = (double)(bench_now_ns() - t0) / 1e9;
	s->cpu_s = (double)(timeval_ns(&ru.ru_utime) + timeval_ns(&ru.ru_stime)) / 1e9;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		(void)snprintf(s->why, sizeof(s->why), "dd ended with status 0x%x",
			       (unsigned)status);
	return 0;
}

static HostSimFcopyTransport transport_of(Contender c)
{
	return is_uio(c) ? HOSTSIM_FCOPY_UIO : HOSTSIM_FCOPY_CHARDEV;
}

static int spawn_daemon(Bench *b, Contender c, HostSimDaemon **ret)
{
	char uio_fds[64];
	const char *ours[] = { b->o->daemon,
			       "-n",
			       "--device",
			       hostsim_fcopy_device(b->sim),
			       "--config",
			       b->conf,
			       "--config-dir",
			       b->conf_dir,
			       "--run-dir",
			       b->run_dir,
			       NULL };
	const char *ours_uio[] = { b->o->daemon,   "-n",	uio_fds,     "--config", b->conf,
				   "--config-dir", b->conf_dir, "--run-dir", b->run_dir, NULL };
	const char *upstream[] = { b->o->upstream, "-n", NULL };
	char device[PATH_MAX + 16];
	const char *null_chardev[] = { b->o->null_daemon, device, NULL };
	const char *null_uio[] = { b->o->null_daemon, uio_fds, NULL };
	const char **argv = NULL;
	int ring, irq, r;

	if (is_uio(c)) {
		/* One channel per simulator: opened for the first uio daemon, then kept. */
		if (!b->uio_open) {
			r = hostsim_fcopy_uio_open(b->sim, 0, 0);
			if (r < 0)
				return r;
			b->uio_open = true;
		}
		r = hostsim_fcopy_uio_fds(b->sim, &ring, &irq);
		if (r < 0)
			return r;
		(void)snprintf(uio_fds, sizeof(uio_fds), "--uio-fds=%d,%d", ring, irq);
	}
	switch (c) {
	case C_UPSTREAM:
		argv = upstream;
		break;
	case C_HVGUEST:
		argv = ours;
		break;
	case C_HVGUEST_UIO:
		argv = ours_uio;
		break;
	case C_NULL:
		if (snprintf(device, sizeof(device), "--device=%s", hostsim_fcopy_device(b->sim)) >=
		    (int)sizeof(device))
			return -ENAMETOOLONG;
		argv = null_chardev;
		break;
	case C_NULL_UIO:
		argv = null_uio;
		break;
	case C_DD:
	case _C_MAX:
	case _C_INVALID:
		return -EINVAL;
	}
	/* Only read, as by execv(), whose prototype predates const. */
	return hostsim_daemon_spawn(b->sim, (char *const *)argv, NULL, ret);
}

/* Stops hd and notes an abnormal end in s. */
static void stop_daemon(Contender c, HostSimDaemon *hd, Sample *s)
{
	int st = hostsim_daemon_stop(hd);

	/* Upstream and the blocking null daemon have no SIGTERM handler: dying of it is normal. */
	if (st < 0)
		(void)snprintf(s->note, sizeof(s->note), "stop failed: %s", strerror(-st));
	else if (WIFSIGNALED(st) && !((c == C_UPSTREAM || c == C_NULL) && WTERMSIG(st) == SIGTERM))
		(void)snprintf(s->note, sizeof(s->note), "ended by signal %d on stop",
			       WTERMSIG(st));
	else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		(void)snprintf(s->note, sizeof(s->note), "exit status %d on stop", WEXITSTATUS(st));
}

/* Stops the daemon holding the uio channel, if any. */
static void stop_uio_daemon(Bench *b)
{
	if (!b->uio_daemon)
		return;
	stop_daemon(b->uio_owner, b->uio_daemon, b->uio_sample);
	b->uio_daemon = NULL;
	b->uio_sample = NULL;
}

/*
 * One copy by daemon c. Chardev daemons are started for the copy and stopped after it. The
 * simulated uio channel lives as long as the simulator and is negotiated once, so a uio
 * daemon is kept (b->uio_daemon) until another uio contender takes the channel over: the
 * newcomer attaches to rings that are idle (every request answered) and already negotiated.
 * Returns a negative errno only when the simulator itself failed.
 */
static int sample_daemon(Bench *b, Contender c, Sample *s)
{
	HostSimFcopyTransport t = transport_of(c);
	HostSimDaemon *hd = NULL;
	uint64_t cpu0, cpu1, self0, self1, t0, t1;
	uint64_t fragments = (b->size + FRAGMENT_SIZE - 1) / FRAGMENT_SIZE;
	HostSimFuseStats fuse0, fuse1;
	uint32_t status = HV_E_FAIL;
	pid_t pid;
	int r = 0;

	if (is_uio(c) && b->uio_daemon && b->uio_owner == c)
		hd = b->uio_daemon;
	else if (is_uio(c))
		stop_uio_daemon(b);
	if (!hd) {
		r = spawn_daemon(b, c, &hd);
		if (r < 0)
			return log_error_errno(r, "Failed to start %s: %m", contender_names[c]);
		r = hostsim_fcopy_via_wait_ready(b->sim, t, READY_TIMEOUT_USEC);
		if (r < 0) {
			(void)snprintf(s->why, sizeof(s->why), "not ready within 10 s (%s)",
				       strerror(-r));
			r = 0;
			goto out;
		}
	}
	pid = hostsim_daemon_pid(hd);
	r = bench_proc_cpu_stat_ns(pid, &cpu0);
	if (r < 0) {
		(void)snprintf(s->why, sizeof(s->why), "daemon gone before the copy (%s)",
			       strerror(-r));
		r = 0;
		goto out;
	}
	hostsim_fuse_stats(b->sim, &fuse0);
	self0 = bench_self_cpu_ns();
	t0 = bench_now_ns();
	r = hostsim_fcopy_via_copy_file(b->sim, t, b->src, b->dest_dir, DEST_NAME,
					HOSTSIM_FCOPY_OVER_WRITE, &status);
	t1 = bench_now_ns();
	self1 = bench_self_cpu_ns();
	hostsim_fuse_stats(b->sim, &fuse1);
	if (r < 0) {
		log_error_errno(r, "Simulator failed: %m");
		goto out;
	}
	if (bench_proc_cpu_stat_ns(pid, &cpu1) < 0)
		cpu1 = cpu0; /* the daemon died; the status below says so */
	s->secs = (double)(t1 - t0) / 1e9;
	s->cpu_s = (double)(cpu1 - cpu0) / 1e9;
	s->host_cpu_s = (double)(self1 - self0) / 1e9;
	s->fuse_reads = (double)(fuse1.reads - fuse0.reads) / (double)fragments;
	s->fuse_writes = (double)(fuse1.writes - fuse0.writes) / (double)fragments;
	s->fuse_polls = (double)(fuse1.polls - fuse0.polls) / (double)fragments;
	if (status != HV_S_OK)
		(void)snprintf(s->why, sizeof(s->why), "the host saw %s",
			       hv_status_to_string(status));
out:
	if (s->why[0] || r < 0) {
		dump_log_tail(hostsim_daemon_log_path(hd));
		if (c == C_UPSTREAM)
			dump_log_tail(hostsim_syslog_path(b->sim));
	}
	if (is_uio(c) && !s->why[0] && r >= 0) {
		b->uio_daemon = hd;
		b->uio_owner = c;
		b->uio_sample = s;
		return 0;
	}
	if (is_uio(c))
		b->uio_daemon = NULL;
	stop_daemon(c, hd, s);
	return r;
}

static int run_sample(Bench *b, Contender c, Sample *s)
{
	uint64_t t0;
	unsigned leftovers;
	int r;

	r = clean_dest(b);
	if (r < 0)
		return log_error_errno(r, "Failed to empty %s: %m", b->dest_dir);
	s->ran = true;
	if (c == C_DD)
		r = sample_dd(b, s);
	else
		r = sample_daemon(b, c, s);
	if (r < 0)
		return r;
	t0 = bench_now_ns();
	if (syncfs(b->mnt_fd) < 0)
		return log_error_errno(errno, "syncfs failed: %m");
	s->sync_ms = (double)(bench_now_ns() - t0) / 1e6;
	if (!s->why[0] && is_null(c)) {
		/* A file here would mean the floor did more than the transport. */
		s->ok = access(b->dest, F_OK) < 0 && errno == ENOENT;
		if (!s->ok)
			(void)snprintf(s->why, sizeof(s->why), "the null daemon left a file");
	} else if (!s->why[0]) {
		r = verify_dest(b, s->why, sizeof(s->why));
		if (r < 0)
			return log_error_errno(r, "Failed to read the source: %m");
		s->ok = r > 0;
	}
	leftovers = count_leftovers(b);
	if (leftovers > 0 && !s->note[0])
		(void)snprintf(s->note, sizeof(s->note), "%u other file(s) left next to " DEST_NAME,
			       leftovers);
	if (s->ok)
		log_info("  %s: %.1f MiB/s (%.2f s), CPU %.2f s, syncfs %.1f ms, %s",
			 contender_names[c], (double)b->o->size_mib / s->secs, s->secs, s->cpu_s,
			 s->sync_ms, is_null(c) ? "host saw HV_S_OK" : "verified");
	else
		log_info("  %s: FAILED: %s", contender_names[c], s->why);
	return 0;
}

/* ---- report ---- */

typedef enum Field {
	F_MIBS,
	F_CPU,
	F_HOST_CPU,
	F_SYNC,
} Field;

static double sample_field(const Bench *b, const Sample *s, Field f)
{
	switch (f) {
	case F_MIBS:
		return (double)b->o->size_mib / s->secs;
	case F_CPU:
		return s->cpu_s;
	case F_HOST_CPU:
		return s->host_cpu_s;
	case F_SYNC:
		return s->sync_ms;
	}
	return 0;
}

/* Median over the rounds that completed (the copy ran to the end), or -1 without any. */
static double row_median(const Bench *b, const Row *row, Field f)
{
	double v[MAX_ROUNDS];
	unsigned n = 0;

	for (unsigned i = 0; i < b->o->rounds; i++)
		if (row->s[i].ran && row->s[i].secs > 0)
			v[n++] = sample_field(b, &row->s[i], f);
	return n ? median(v, n) : -1;
}

/* The 1, 5 and 15 minute load averages, "?" when unreadable. */
static void read_load(char *buf, size_t size)
{
	char line[128];
	double a, b, c;

	if (bench_read_line("/proc/loadavg", line, sizeof(line)) < 0 ||
	    sscanf(line, "%lf %lf %lf", &a, &b, &c) != 3)
		(void)snprintf(buf, size, "?");
	else
		(void)snprintf(buf, size, "%.2f %.2f %.2f", a, b, c);
}

static void print_report(const Bench *b, const Row rows[_C_MAX], const char *load0)
{
	double dd = row_median(b, &rows[C_DD], F_MIBS);
	uint64_t fragments = (b->size + FRAGMENT_SIZE - 1) / FRAGMENT_SIZE;
	char load1[64] = "?", cpu[128] = "?";
	struct utsname un;

	(void)uname(&un);
	read_load(load1, sizeof(load1));
	{
		_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
		char line[256];

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "model name : %127[^\n]", cpu) == 1)
				break;
	}
	printf("File copy benchmark: %u MiB of random data from the simulated host into the "
	       "guest, %u-byte writes.\n"
	       "Destination: %s.\nMedians of %u round(s), order rotated per round. Kernel %s, "
	       "%ld CPUs (%s), load %s -> %s.\n\n",
	       b->o->size_mib, FRAGMENT_SIZE, b->fs_desc, b->o->rounds, un.release,
	       sysconf(_SC_NPROCESSORS_ONLN), cpu, load0, load1);
	printf("| %-33s | %8s | %7s | %10s | %9s | %10s | %9s | %-12s |\n", "contender", "MiB/s",
	       "% of dd", "% of floor", "CPU (s)", "host CPU s", "syncfs ms", "destination");
	printf("|%.35s|%.10s|%.9s|%.12s|%.11s|%.12s|%.11s|%.14s|\n",
	       "-----------------------------------", "----------", "---------", "------------",
	       "-----------", "------------", "-----------", "--------------");
	for (Contender c = 0; c < _C_MAX; c++) {
		const Row *row = &rows[c];
		double mibs = row_median(b, row, F_MIBS);
		unsigned ok = 0, ran = 0;
		char verdict[32], pct[16] = "-", pct_floor[16] = "-", host[16] = "-";
		Contender fc = floor_of(c);
		double floor =
			fc >= 0 && !rows[fc].skipped[0] ? row_median(b, &rows[fc], F_MIBS) : -1;

		if (row->skipped[0]) {
			printf("| %-33s | %8s | %7s | %10s | %9s | %10s | %9s | %-12s |\n",
			       contender_labels[c], "-", "-", "-", "-", "-", "-", "skipped");
			continue;
		}
		for (unsigned i = 0; i < b->o->rounds; i++) {
			ran += row->s[i].ran;
			ok += row->s[i].ok;
		}
		if (ok == ran && ran > 0)
			(void)snprintf(verdict, sizeof(verdict), "%s",
				       is_null(c) ? "none (floor)" : "byte-exact");
		else
			(void)snprintf(verdict, sizeof(verdict), "FAILED %u/%u", ran - ok, ran);
		if (mibs < 0) {
			printf("| %-33s | %8s | %7s | %10s | %9s | %10s | %9s | %-12s |\n",
			       contender_labels[c], "-", "-", "-", "-", "-", "-", verdict);
			continue;
		}
		if (dd > 0)
			(void)snprintf(pct, sizeof(pct), "%.1f %%", 100.0 * mibs / dd);
		if (floor > 0)
			(void)snprintf(pct_floor, sizeof(pct_floor), "%.1f %%",
				       100.0 * mibs / floor);
		if (c != C_DD)
			(void)snprintf(host, sizeof(host), "%.2f", row_median(b, row, F_HOST_CPU));
		printf("| %-33s | %8.1f | %7s | %10s | %9.2f | %10s | %9.1f | %-12s |\n",
		       contender_labels[c], mibs, pct, pct_floor, row_median(b, row, F_CPU), host,
		       row_median(b, row, F_SYNC), verdict);
	}
	printf("\nCPU: the contender's user+system time over the copy (dd: wait4 rusage; daemons: "
	       "/proc/<pid>/stat, %ld ticks/s). host CPU: this process (simulated host, kernel "
	       "model, FUSE server), the transport's share. syncfs: flushing what the contender "
	       "left dirty, right after it finished (not in MiB/s). floor: null-fcopy-daemon on "
	       "the same transport answers every message with success and writes nothing, so it "
	       "measures the simulated transport alone; %% of floor is a daemon's rate against "
	       "it, %% of dd against plain 6 KiB writes with no transport.\n",
	       sysconf(_SC_CLK_TCK));
	for (Contender c = 0; c < _C_MAX; c++) {
		if (rows[c].skipped[0]) {
			printf("%s: %s\n", contender_names[c], rows[c].skipped);
			continue;
		}
		for (unsigned i = 0; i < b->o->rounds; i++) {
			const Sample *s = &rows[c].s[i];

			if (!s->ran)
				continue;
			printf("%s round %u: ", contender_names[c], i + 1);
			if (s->secs > 0)
				printf("%.1f MiB/s (%.2f s), CPU %.2f s, syncfs %.1f ms",
				       (double)b->o->size_mib / s->secs, s->secs, s->cpu_s,
				       s->sync_ms);
			if (s->secs > 0 && c != C_DD)
				printf(", host CPU %.2f s (%.1f us per fragment)", s->host_cpu_s,
				       s->host_cpu_s * 1e6 / (double)fragments);
			if (s->secs > 0 && c != C_DD && !is_uio(c))
				printf(", FUSE requests per fragment: %.2f reads, %.2f writes, "
				       "%.2f polls",
				       s->fuse_reads, s->fuse_writes, s->fuse_polls);
			printf("%s%s%s%s\n", s->ok ? "" : "; FAILED: ", s->ok ? "" : s->why,
			       s->note[0] ? "; note: " : "", s->note);
		}
	}
}

/* ---- main ---- */

static void help(const char *prog)
{
	printf("Usage: %s [OPTIONS]\n"
	       "File copy throughput from the simulated Hyper-V host (run as root).\n\n"
	       "      --size=MiB       file size (default 1024)\n"
	       "      --quick          64 MiB, 1 round (smoke run)\n"
	       "      --rounds=N       rounds, medians reported (1-%u, default 3)\n"
	       "      --daemon=PATH    our hv_fcopy_daemon (default %s)\n"
	       "      --upstream=PATH  upstream daemon (default %s)\n"
	       "      --null-daemon=PATH  the transport floor (default %s)\n"
	       "      --only=LIST      comma-separated subset of dd,upstream,hvguest,hvguest-uio,\n"
	       "                       null,null-uio\n"
	       "      --image-dir=DIR  directory for the ext4 image (an unnamed file; default the\n"
	       "                       simulator's tmpfs)\n"
	       "      --tmpfs          destination on tmpfs instead of ext4 on a loop device\n"
	       "  -h, --help           show this help\n",
	       prog, MAX_ROUNDS, DEFAULT_DAEMON ?: "(not built in this tree)", BENCH_FCOPY_UPSTREAM,
	       DEFAULT_NULL_DAEMON ?: "(not built in this tree)");
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

static int parse_only(const char *list, Options *o)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (Contender c = 0; c < _C_MAX; c++)
		o->enabled[c] = false;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		Contender c;

		for (c = 0; c < _C_MAX; c++)
			if (strcmp(w, contender_names[c]) == 0)
				break;
		if (c == _C_MAX)
			return -EINVAL;
		o->enabled[c] = true;
	}
	return 0;
}

/* Returns 1 to run, 0 to exit successfully (help), negative errno on bad options. */
static int parse_argv(int argc, char *argv[], Options *o)
{
	enum {
		ARG_SIZE = 0x100,
		ARG_QUICK,
		ARG_ROUNDS,
		ARG_DAEMON,
		ARG_UPSTREAM,
		ARG_NULL_DAEMON,
		ARG_ONLY,
		ARG_IMAGE_DIR,
		ARG_TMPFS
	};
	static const struct option options[] = {
		{ "size", required_argument, NULL, ARG_SIZE },
		{ "quick", no_argument, NULL, ARG_QUICK },
		{ "rounds", required_argument, NULL, ARG_ROUNDS },
		{ "daemon", required_argument, NULL, ARG_DAEMON },
		{ "upstream", required_argument, NULL, ARG_UPSTREAM },
		{ "null-daemon", required_argument, NULL, ARG_NULL_DAEMON },
		{ "only", required_argument, NULL, ARG_ONLY },
		{ "image-dir", required_argument, NULL, ARG_IMAGE_DIR },
		{ "tmpfs", no_argument, NULL, ARG_TMPFS },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned size = 0, rounds = 0;
	bool quick = false;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case ARG_SIZE:
			r = parse_uint(optarg, 1, 65536, &size);
			break;
		case ARG_QUICK:
			quick = true;
			break;
		case ARG_ROUNDS:
			r = parse_uint(optarg, 1, MAX_ROUNDS, &rounds);
			break;
		case ARG_DAEMON:
			o->daemon = optarg;
			break;
		case ARG_UPSTREAM:
			o->upstream = optarg;
			break;
		case ARG_NULL_DAEMON:
			o->null_daemon = optarg;
			break;
		case ARG_ONLY:
			r = parse_only(optarg, o);
			break;
		case ARG_IMAGE_DIR:
			o->image_dir = optarg;
			break;
		case ARG_TMPFS:
			o->tmpfs = true;
			break;
		case 'h':
			help(argv[0]);
			return 0;
		default:
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "Invalid option value '%s'.\n", optarg);
			return r;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "Unexpected argument '%s'.\n", argv[optind]);
		return -EINVAL;
	}
	o->size_mib = size ? size : quick ? 64 : 1024;
	o->rounds = rounds ? rounds : quick ? 1 : 3;
	return 1;
}

/* Marks contenders that cannot run here as skipped, with the reason. */
static void check_contenders(const Options *o, Row rows[_C_MAX])
{
	for (Contender c = 0; c < _C_MAX; c++) {
		const char *path = NULL;

		if (!o->enabled[c]) {
			(void)snprintf(rows[c].skipped, sizeof(rows[c].skipped), "not selected");
			continue;
		}
		switch (c) {
		case C_DD:
			path = "/usr/bin/dd";
			break;
		case C_UPSTREAM:
			path = o->upstream;
			break;
		case C_HVGUEST:
		case C_HVGUEST_UIO:
			path = o->daemon;
			if (!path)
				(void)snprintf(rows[c].skipped, sizeof(rows[c].skipped),
					       "our hv_fcopy_daemon is not built in this tree "
					       "(give --daemon=PATH)");
			break;
		case C_NULL:
		case C_NULL_UIO:
			path = o->null_daemon;
			if (!path)
				(void)snprintf(rows[c].skipped, sizeof(rows[c].skipped),
					       "null-fcopy-daemon is not built in this tree "
					       "(give --null-daemon=PATH)");
			break;
		case _C_MAX:
		case _C_INVALID:
			break;
		}
		if (path && access(path, X_OK) < 0)
			(void)snprintf(rows[c].skipped, sizeof(rows[c].skipped),
				       "'%s' is not executable (%s)", path, strerror(errno));
		if (rows[c].skipped[0])
			log_warning("%s: skipped: %s", contender_names[c], rows[c].skipped);
	}
}

/* Files our daemon is pointed at, so that it reads no configuration of the machine. */
static int make_daemon_files(Bench *b)
{
	const char *scratch = hostsim_scratch_dir(b->sim);
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = path_join(b->conf, sizeof(b->conf), scratch, "hvguest.conf");
	if (r >= 0)
		r = path_join(b->conf_dir, sizeof(b->conf_dir), scratch, "hvguest.conf.d");
	if (r >= 0)
		r = path_join(b->run_dir, sizeof(b->run_dir), scratch, "run");
	if (r < 0)
		return r;
	fd = open(b->conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || mkdir(b->conf_dir, 0755) < 0 || mkdir(b->run_dir, 0755) < 0)
		return negative_errno();
	return 0;
}

static int run(Bench *b, Row rows[_C_MAX])
{
	Contender order[_C_MAX];
	unsigned n = 0;
	int r;

	r = make_daemon_files(b);
	if (r < 0)
		return log_error_errno(r, "Failed to create the daemon's files: %m");
	log_info("Writing the %u MiB source...", b->o->size_mib);
	r = make_source(b);
	if (r < 0)
		return log_error_errno(r, "Failed to write %s: %m", b->src);
	r = setup_dest(b);
	if (r < 0)
		return r;
	for (Contender c = 0; c < _C_MAX; c++)
		if (!rows[c].skipped[0])
			order[n++] = c;
	/* Unmeasured: the first writes into a fresh filesystem are slower, whoever makes them. */
	if (access("/usr/bin/dd", X_OK) == 0) {
		Sample warm = {};

		log_info("Warm-up copy (dd, not measured)");
		r = clean_dest(b);
		if (r >= 0)
			r = sample_dd(b, &warm);
		if (r < 0)
			return r;
	}
	for (unsigned round = 0; round < b->o->rounds; round++) {
		log_info("Round %u/%u", round + 1, b->o->rounds);
		for (unsigned i = 0; i < n; i++) {
			Contender c = order[(i + round) % n];

			r = run_sample(b, c, &rows[c].s[round]);
			if (r < 0)
				return r;
		}
	}
	stop_uio_daemon(b);
	return clean_dest(b);
}

int main(int argc, char *argv[])
{
	Options o = {
		.daemon = DEFAULT_DAEMON,
		.upstream = BENCH_FCOPY_UPSTREAM,
		.null_daemon = DEFAULT_NULL_DAEMON,
		.enabled = { true, true, true, true, true, true },
	};
	Bench b = { .o = &o, .loop_fd = -EBADF, .mnt_fd = -EBADF };
	Row rows[_C_MAX] = {};
	HostSimOptions so = {};
	char load0[64] = "?";
	bool failed = false;
	int r;

	log_open("bench-fcopy", LOG_TARGET_CONSOLE);
	r = parse_argv(argc, argv, &o);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		/* 77: "skipped" for meson's benchmark runner. */
		log_warning("bench-fcopy needs root and /dev/fuse (it runs the daemons against a "
			    "simulated host in private namespaces and mounts a loop device there); "
			    "skipping.");
		return 77;
	}
	b.size = (uint64_t)o.size_mib * MIB;
	b.buf_a = malloc(CHUNK);
	b.buf_b = malloc(CHUNK);
	if (!b.buf_a || !b.buf_b) {
		log_oom();
		return EXIT_FAILURE;
	}
	check_contenders(&o, rows);
	read_load(load0, sizeof(load0));

	/* Before any thread: hostsim_new() unshares the namespaces we then work in. */
	r = hostsim_new(&so, &b.sim);
	if (r < 0) {
		log_error_errno(r, "Failed to start the simulator: %m");
		return EXIT_FAILURE;
	}
	r = run(&b, rows);
	teardown_dest(&b);
	hostsim_free(b.sim);
	free(b.buf_a);
	free(b.buf_b);
	if (r < 0)
		return EXIT_FAILURE;
	print_report(&b, rows, load0);
	for (Contender c = 0; c < _C_MAX; c++)
		for (unsigned i = 0; i < o.rounds; i++)
			if (rows[c].s[i].ran && !rows[c].s[i].ok)
				failed = true;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
