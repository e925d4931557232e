/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"

#include "bench-util.h"

/* Records written per write(2) when seeding a pool: 64 × 2560 = 160 KiB. */
#define SEED_BATCH 64

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static uint64_t timeval_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * UINT64_C(1000000000) + (uint64_t)tv->tv_usec * 1000;
}

uint64_t bench_self_cpu_ns(void)
{
	struct rusage ru;

	assert_se(getrusage(RUSAGE_SELF, &ru) == 0);
	return timeval_ns(&ru.ru_utime) + timeval_ns(&ru.ru_stime);
}

int bench_read_line(const char *path, char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f)
		return negative_errno();
	if (!fgets(buf, (int)size, f))
		return ferror(f) ? -EIO : -ENODATA;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Reads one thread's schedstat and comm; -ENOENT/-ESRCH when it has just exited. */
static int read_thread(pid_t pid, const char *tid, BenchThreadCpu *ret)
{
	char file[320], line[128];
	int r;

	if (snprintf(file, sizeof(file), "/proc/%d/task/%s/schedstat", (int)pid, tid) >=
	    (int)sizeof(file))
		return -ENAMETOOLONG;
	r = bench_read_line(file, line, sizeof(line));
	if (r < 0)
		return r;
	if (sscanf(line, "%" SCNu64, &ret->ns) != 1)
		return -EBADMSG;
	(void)snprintf(file, sizeof(file), "/proc/%d/task/%s/comm", (int)pid, tid);
	if (bench_read_line(file, ret->comm, sizeof(ret->comm)) < 0)
		ret->comm[0] = 0;
	ret->tid = (pid_t)atoi(tid);
	return 0;
}

int bench_proc_threads(pid_t pid, BenchThreadCpu *v, size_t max, size_t *ret_n)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char path[64];
	struct dirent *de;
	size_t n = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return negative_errno();
	while (n < max && (de = readdir(d))) {
		int r;

		if (de->d_name[0] == '.')
			continue;
		r = read_thread(pid, de->d_name, &v[n]);
		if (r == -ENOENT || r == -ESRCH)
			continue; /* the thread exited between readdir and open */
		if (r < 0)
			return r;
		n++;
	}
	*ret_n = n;
	return 0;
}

int bench_proc_cpu_schedstat_ns(pid_t pid, uint64_t *ret)
{
	BenchThreadCpu v[256];
	uint64_t sum = 0;
	size_t n;
	int r;

	r = bench_proc_threads(pid, v, ELEMENTSOF(v), &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		sum += v[i].ns;
	*ret = sum;
	return 0;
}

/* utime, stime, cutime and cstime of /proc/<pid>/stat, converted from clock ticks to ns. */
static int read_stat_times(pid_t pid, uint64_t ret[4])
{
	char path[64], line[1024];
	unsigned long long t[4];
	long tck = sysconf(_SC_CLK_TCK);
	const char *p;
	int r;

	if (tck <= 0)
		return -EINVAL;
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = bench_read_line(path, line, sizeof(line));
	if (r < 0)
		return r;
	/* comm may contain spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(line, ')');
	if (!p)
		return -EBADMSG;
	/* After ") ": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime(14) stime(15) cutime(16) cstime(17). */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &t[0],
		   &t[1], &t[2], &t[3]) != 4)
		return -EBADMSG;
	for (unsigned i = 0; i < 4; i++)
		ret[i] = (uint64_t)t[i] * (UINT64_C(1000000000) / (uint64_t)tck);
	return 0;
}

int bench_proc_cpu_stat_ns(pid_t pid, uint64_t *ret)
{
	uint64_t t[4];
	int r = read_stat_times(pid, t);

	if (r < 0)
		return r;
	*ret = t[0] + t[1];
	return 0;
}

int bench_proc_children_cpu_ns(pid_t pid, uint64_t *ret)
{
	uint64_t t[4];
	int r = read_stat_times(pid, t);

	if (r < 0)
		return r;
	*ret = t[2] + t[3];
	return 0;
}

int bench_proc_io(pid_t pid, uint64_t *ret_rchar, uint64_t *ret_wchar)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[256];
	uint64_t rchar = UINT64_MAX, wchar = UINT64_MAX;

	(void)snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		(void)sscanf(line, "rchar: %" SCNu64, &rchar);
		(void)sscanf(line, "wchar: %" SCNu64, &wchar);
	}
	if (rchar == UINT64_MAX || wchar == UINT64_MAX)
		return -ENODATA;
	*ret_rchar = rchar;
	*ret_wchar = wchar;
	return 0;
}

int bench_proc_rss_kib(pid_t pid, long *ret_rss, long *ret_anon)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[256];
	long rss = -1, anon = -1;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		(void)sscanf(line, "VmRSS: %ld kB", &rss);
		(void)sscanf(line, "RssAnon: %ld kB", &anon);
	}
	if (rss < 0)
		return -ENODATA;
	*ret_rss = rss;
	*ret_anon = anon;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

uint64_t bench_quantile(uint64_t *v, size_t n, double q)
{
	size_t rank;

	assert_se(n > 0);
	qsort(v, n, sizeof(*v), cmp_u64);
	/* Nearest rank: the smallest value with at least q·n values at or below it. */
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

int bench_pool_write(const char *path, size_t n, BenchRecordFn fill, void *userdata)
{
	_cleanup_free_ char *buf = malloc((size_t)SEED_BATCH * BENCH_POOL_RECORD_SIZE);
	_cleanup_close_ int fd = -EBADF;
	size_t i = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return negative_errno();
	while (i < n) {
		size_t batch = MIN((size_t)SEED_BATCH, n - i);
		int r;

		memset(buf, 0, batch * BENCH_POOL_RECORD_SIZE);
		for (size_t j = 0; j < batch; j++) {
			char *rec = buf + j * BENCH_POOL_RECORD_SIZE;

			fill(i + j, rec, rec + BENCH_POOL_KEY_SIZE, userdata);
			/* Keep both fields terminated even if fill misbehaves. */
			rec[BENCH_POOL_KEY_SIZE - 1] = 0;
			rec[BENCH_POOL_RECORD_SIZE - 1] = 0;
		}
		r = loop_write(fd, buf, batch * BENCH_POOL_RECORD_SIZE);
		if (r < 0)
			return r;
		i += batch;
	}
	if (close(TAKE_FD(fd)) < 0)
		return negative_errno();
	return 0;
}
