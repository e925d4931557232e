/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the hv_fcopy_daemon integration tests: one HostSim per test process, one
 * daemon per transport (the pre-6.10 char device and the uio channel run side by side, each
 * with its own config file and run directory), and file/directory checks.
 *
 * The uio channel lives as long as the HostSim: daemons restarted on it inherit the same ring
 * and interrupt socket (like a real /dev/uioN reopened), and once killed
 * (hostsim_fcopy_uio_kill_channel()) it stays dead, so a test that kills it must be the last
 * uio test of its process.
 *
 * Included by the test programs only (static functions; every program uses most of them). The
 * check helpers at the end fail the running cmocka test.
 */
#pragma once

/* cmocka.h needs these first. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/event.h"
#include "common/fileio.h"
#include "common/hv-status.h"
#include "hostsim/hostsim.h"

#define FIT_NT 2
#define FIT_READY_USEC (10 * USEC_PER_SEC)
/* Host timeout per message (both transports): long enough for a loaded ASan run. */
#define FIT_HOST_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define FIT_FRAGMENT HOSTSIM_FCOPY_DATA_MAX
/* snprintf that may truncate (diagnostics only). */
#define FIT_FMT_SOFT(buf, ...) (void)(snprintf(buf, sizeof(buf), __VA_ARGS__) < 0)

#if defined(__SANITIZE_ADDRESS__)
#define FIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIT_ASAN 1
#endif
#endif
#ifndef FIT_ASAN
#define FIT_ASAN 0
#endif

typedef struct Fit {
	HostSim *sim;
	const char *daemon_path;
	HostSimDaemon *daemon[FIT_NT];
	char conf[FIT_NT][PATH_MAX];
	char run_dir[FIT_NT][PATH_MAX];
	char conf_dir[PATH_MAX];
	unsigned counter; /* unique names */
} Fit;

static const HostSimFcopyTransport fit_transports[FIT_NT] = { HOSTSIM_FCOPY_CHARDEV,
							      HOSTSIM_FCOPY_UIO };

static inline const char *fit_name(HostSimFcopyTransport t)
{
	return hostsim_fcopy_transport_to_string(t);
}

static inline int fit_join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Writes len bytes to path (created or truncated, mode 0644). */
static inline int fit_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	int r;

	if (fd < 0)
		return -errno;
	r = loop_write(fd, data, len);
	close(fd);
	return r;
}

/* Replaces the config file of transport t with text (the [fcopy] section and more). */
static inline int fit_set_config(Fit *f, HostSimFcopyTransport t, const char *text)
{
	return fit_write_file(f->conf[t], text, strlen(text));
}

/* Starts the daemon of transport t and waits until it serves. */
static inline int fit_start(Fit *f, HostSimFcopyTransport t)
{
	char uio_fds[64];
	const char *argv[16];
	size_t n = 0;
	int ring, irq, r;

	argv[n++] = f->daemon_path;
	argv[n++] = "-n";
	argv[n++] = "--debug";
	switch (t) {
	case HOSTSIM_FCOPY_CHARDEV:
		argv[n++] = "--device";
		argv[n++] = hostsim_fcopy_device(f->sim);
		break;
	case HOSTSIM_FCOPY_UIO:
		r = hostsim_fcopy_uio_fds(f->sim, &ring, &irq);
		if (r < 0)
			return r;
		(void)snprintf(uio_fds, sizeof(uio_fds), "--uio-fds=%d,%d", ring, irq);
		argv[n++] = uio_fds;
		break;
	}
	argv[n++] = "--config";
	argv[n++] = f->conf[t];
	argv[n++] = "--config-dir";
	argv[n++] = f->conf_dir;
	argv[n++] = "--run-dir";
	argv[n++] = f->run_dir[t];
	argv[n] = NULL;
	/* Only read, as by execv(). */
	r = hostsim_daemon_spawn(f->sim, (char *const *)argv, NULL, &f->daemon[t]);
	if (r < 0)
		return r;
	return hostsim_fcopy_via_wait_ready(f->sim, t, FIT_READY_USEC);
}

/* SIGTERM; returns the wait status (0: clean exit). */
static inline int fit_stop(Fit *f, HostSimFcopyTransport t)
{
	int r = 0, ws;

	if (!f->daemon[t])
		return 0;
	/* Diagnostics for a daemon that does not act on SIGTERM (hostsim would SIGKILL it). */
	if (kill(hostsim_daemon_pid(f->daemon[t]), SIGTERM) == 0 &&
	    hostsim_daemon_wait(f->daemon[t], 5 * USEC_PER_SEC, &ws) == -ETIMEDOUT) {
		char cmd[PATH_MAX], *text = NULL;
		size_t size = 0;

		FIT_FMT_SOFT(cmd, "/proc/%d/status", (int)hostsim_daemon_pid(f->daemon[t]));
		if (read_full_file_at(AT_FDCWD, cmd, 65536, &text, &size) == 0)
			fprintf(stderr, "%s daemon ignores SIGTERM:\n%s\n", fit_name(t), text);
		free(text);
		text = NULL;
		FIT_FMT_SOFT(cmd, "/proc/%d/stack", (int)hostsim_daemon_pid(f->daemon[t]));
		if (read_full_file_at(AT_FDCWD, cmd, 65536, &text, &size) == 0)
			fprintf(stderr, "stack:\n%s\n", text);
		free(text);
	}
	r = hostsim_daemon_stop(f->daemon[t]);
	f->daemon[t] = NULL;
	return r;
}

/* The end of the daemons' log (both append to one file), for failure reports. */
static inline void fit_dump_log(Fit *f)
{
	char path[PATH_MAX], *text = NULL;
	size_t size = 0;

	if (fit_join(path, sizeof(path), hostsim_scratch_dir(f->sim), "hv_fcopy_daemon.log") < 0 ||
	    read_full_file_at(AT_FDCWD, path, 64u << 20, &text, &size) < 0)
		return;
	fprintf(stderr, "---- end of %s ----\n%s\n----\n", path,
		size > 4096 ? text + size - 4096 : text);
	free(text);
}

/* Restarts the daemon of t with config text (NULL: empty config). */
static inline int fit_restart(Fit *f, HostSimFcopyTransport t, const char *text)
{
	int r = fit_stop(f, t);

	if (r != 0) {
		fprintf(stderr, "%s daemon: stop gave %d (wait status 0x%x)\n", fit_name(t), r,
			(unsigned)r);
		fit_dump_log(f);
		return r < 0 ? r : -ECHILD;
	}
	r = fit_set_config(f, t, text ? text : "");
	if (r < 0)
		return r;
	return fit_start(f, t);
}

/* The simulator, config files, run directories, the uio channel and both daemons. */
static inline int fit_new(Fit **ret)
{
	HostSimOptions o = { .fcopy_timeout_usec = FIT_HOST_TIMEOUT_USEC };
	const char *scratch;
	Fit *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->daemon_path = getenv("HV_FCOPY_DAEMON");
	if (!f->daemon_path) {
		free(f);
		return -ENOENT;
	}
	r = hostsim_new(&o, &f->sim);
	if (r < 0) {
		free(f);
		return r;
	}
	*ret = f;
	scratch = hostsim_scratch_dir(f->sim);
	r = fit_join(f->conf_dir, sizeof(f->conf_dir), scratch, "hvguest.conf.d");
	if (r < 0)
		return r;
	if (mkdir(f->conf_dir, 0755) < 0)
		return -errno;
	for (unsigned i = 0; i < FIT_NT; i++) {
		HostSimFcopyTransport t = fit_transports[i];
		char name[64];

		(void)snprintf(name, sizeof(name), "hvguest-%s.conf", fit_name(t));
		r = fit_join(f->conf[t], sizeof(f->conf[t]), scratch, name);
		if (r < 0)
			return r;
		(void)snprintf(name, sizeof(name), "run-%s", fit_name(t));
		r = fit_join(f->run_dir[t], sizeof(f->run_dir[t]), scratch, name);
		if (r < 0)
			return r;
		if (mkdir(f->run_dir[t], 0755) < 0)
			return -errno;
		r = fit_set_config(f, t, "");
		if (r < 0)
			return r;
	}
	r = hostsim_fcopy_uio_open(f->sim, 0, FIT_HOST_TIMEOUT_USEC);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < FIT_NT; i++) {
		r = fit_start(f, fit_transports[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static inline void fit_free(Fit *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < FIT_NT; i++)
		(void)fit_stop(f, fit_transports[i]);
	hostsim_free(f->sim);
	free(f);
}

/* A new empty directory (mode 0755) under the simulator's scratch tmpfs, named after what. */
static inline int fit_mkdtemp(Fit *f, const char *what, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s-%u-XXXXXX", hostsim_scratch_dir(f->sim), what,
			 ++f->counter);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (!mkdtemp(buf))
		return -errno;
	return chmod(buf, 0755) < 0 ? -errno : 0;
}

/* xorshift64*: reproducible incompressible data. */
static inline void fit_fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t s = seed | 1;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0) {
			s ^= s >> 12;
			s ^= s << 25;
			s ^= s >> 27;
		}
		p[i] = (uint8_t)((s * UINT64_C(2685821657736338717)) >> (8 * (i % 8)));
	}
}

/*
 * Streaming comparison: -1 when a and b are regular files with identical bytes, else the
 * offset of the first difference (the shorter length when one is a prefix of the other);
 * -2 when either cannot be opened (b through a symlink never counts).
 */
static inline int64_t fit_cmp(const char *a, const char *b)
{
	enum { CHUNK = 1 << 20 };
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint8_t *ba = malloc(CHUNK), *bb = malloc(CHUNK);
	int64_t off = 0, result = -2;

	if (fa < 0 || fb < 0 || !ba || !bb)
		goto out;
	for (;;) {
		ssize_t na = loop_read(fa, ba, CHUNK), nb = loop_read(fb, bb, CHUNK);

		if (na < 0 || nb < 0)
			goto out;
		if (na != nb || memcmp(ba, bb, (size_t)na) != 0) {
			ssize_t i = 0;

			while (i < na && i < nb && ba[i] == bb[i])
				i++;
			result = off + i;
			goto out;
		}
		if (na == 0) {
			result = -1;
			goto out;
		}
		off += na;
	}
out:
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	free(ba);
	free(bb);
	return result;
}

static inline int fit_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The names in dir except "." and "..", sorted, joined by '|' into buf ("" when empty).
 * Returns the number of entries or a negative errno.
 */
static inline int fit_list(const char *dir, char *buf, size_t size)
{
	char *names[64];
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < 64)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), fit_strcmp);
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t used = strlen(buf);

		(void)snprintf(buf + used, size - used, "%s%s", i ? "|" : "",
			       names[i] ? names[i] : "(oom)");
		free(names[i]);
	}
	return n;
}

/* Descriptors of pid that refer to something in dir (e.g. "dir/#123 (deleted)"). */
static inline int fit_fds_in(pid_t pid, const char *dir)
{
	char path[64], target[PATH_MAX + 32];
	size_t len = strlen(dir);
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char link[PATH_MAX];
		ssize_t k;

		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		k = readlink(link, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (strncmp(target, dir, len) == 0 && target[len] == '/')
			n++;
	}
	closedir(d);
	return n;
}

/* Waits up to timeout for fit_fds_in(pid, dir) to reach 0; returns the last count. */
static inline int fit_wait_no_fds_in(pid_t pid, const char *dir, uint64_t timeout_usec)
{
	uint64_t end = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	int n;

	while ((n = fit_fds_in(pid, dir)) > 0 && now_usec(CLOCK_MONOTONIC) < end)
		usleep(10000);
	return n;
}

/* utime + stime of pid in clock ticks, or a negative errno. */
static inline int64_t fit_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	const char *p;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* After "(comm)": state is field 3, utime 14, stime 15. */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EBADMSG;
	return (int64_t)(ut + st);
}

/* Writes size random bytes (seed) to a new file under the scratch dir; path in buf. */
static inline int fit_make_source(Fit *f, size_t size, uint64_t seed, char *buf, size_t bufsize)
{
	uint8_t *data = malloc(size ? size : 1);
	int n, r;

	if (!data)
		return -ENOMEM;
	n = snprintf(buf, bufsize, "%s/src-%u.bin", hostsim_scratch_dir(f->sim), ++f->counter);
	if (n < 0 || (size_t)n >= bufsize) {
		free(data);
		return -ENAMETOOLONG;
	}
	fit_fill(data, size, seed);
	r = fit_write_file(buf, data, size);
	free(data);
	return r;
}

/* The whole Copy-VMFile sequence; returns the host's status, or the simulator's errno. */
static inline int64_t fit_copy(Fit *f, HostSimFcopyTransport t, const char *src, const char *dir,
			       const char *name, uint32_t flags)
{
	uint32_t status = 0;
	int r = hostsim_fcopy_via_copy_file(f->sim, t, src, dir, name, flags, &status);

	return r < 0 ? r : (int64_t)status;
}

/* Path of a file's mode bits, or -errno (symlinks not followed). */
static inline int fit_mode(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	return (int)(st.st_mode & 07777);
}

/* snprintf into an array that must not truncate (the test fails if it would). */
#define FIT_FMT(buf, ...) assert_true(snprintf(buf, sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

/* Fails the test unless the host saw want (got: fit_copy()'s or a step's status). */
static inline void fit_check_status(int64_t got, uint32_t want, HostSimFcopyTransport t,
				    const char *what)
{
	if (got < 0)
		fail_msg("%s (%s): simulator failed: %s", what, fit_name(t), strerror((int)-got));
	if ((uint32_t)got != want)
		fail_msg("%s (%s): host saw %s (0x%08x), expected %s", what, fit_name(t),
			 hv_status_to_string((uint32_t)got), (unsigned)got,
			 hv_status_to_string(want));
}

/* Fails the test unless dir holds exactly want (fit_list()'s format). */
static inline void fit_check_list(const char *dir, const char *want, HostSimFcopyTransport t)
{
	char got[4096];

	assert_true(fit_list(dir, got, sizeof(got)) >= 0);
	if (strcmp(got, want) != 0)
		fail_msg("%s (%s): holds '%s', expected '%s'", dir, fit_name(t), got, want);
}

/* Fails the test unless dest is a regular file (not a symlink) with src's bytes. */
static inline void fit_check_same(const char *src, const char *dest, HostSimFcopyTransport t)
{
	int64_t d = fit_cmp(src, dest);

	if (d != -1)
		fail_msg("%s (%s): %s", dest, fit_name(t),
			 d == -2 ? "missing" : "differs from the source");
}

/* One fragment of reproducible data (fit_fill() with seed), malloc()ed: free() it. */
static inline uint8_t *fit_fragment(uint64_t seed)
{
	uint8_t *buf = malloc(FIT_FRAGMENT);

	assert_non_null(buf);
	fit_fill(buf, FIT_FRAGMENT, seed);
	return buf;
}

/*
 * START of a transfer of total bytes to dir/name, then n WRITEs of buf (FIT_FRAGMENT bytes
 * each, at offsets 0, FIT_FRAGMENT, ...), each checked for HV_S_OK: a transfer left open
 * mid-way for the test to cancel, break or attack.
 */
static inline void fit_begin_transfer(Fit *f, HostSimFcopyTransport t, const char *dir,
				      const char *name, uint32_t flags, uint64_t total,
				      const uint8_t *buf, unsigned n)
{
	uint32_t st = 1;

	assert_int_equal(hostsim_fcopy_via_start(f->sim, t, dir, name, flags, total, &st), 0);
	fit_check_status(st, HV_S_OK, t, "START");
	for (unsigned k = 0; k < n; k++) {
		assert_int_equal(hostsim_fcopy_via_write(f->sim, t, (uint64_t)k * FIT_FRAGMENT, buf,
							 FIT_FRAGMENT, &st),
				 0);
		fit_check_status(st, HV_S_OK, t, "WRITE");
	}
}

/* cmocka group setup: a new Fit in *state. */
static inline int fit_group_setup(void **state)
{
	Fit *f = NULL;
	int r = fit_new(&f);

	if (r < 0) {
		fprintf(stderr, "Cannot set up the simulator and daemons: %s\n", strerror(-r));
		fit_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* cmocka teardown: the daemons back on the empty config after a test that changed it. */
static inline int fit_restore_defaults(void **state)
{
	Fit *f = *state;

	for (unsigned i = 0; i < FIT_NT; i++)
		if (fit_restart(f, fit_transports[i], NULL) < 0)
			return -1;
	return 0;
}

/* Whether this process may run the tests (root, /dev/fuse); says why not on stderr. */
static inline bool fit_can_run(void)
{
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "needs root and /dev/fuse; skipping\n");
		return false;
	}
	return true;
}
