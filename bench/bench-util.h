/* SPDX-License-Identifier: MIT */
/*
 * Measurement helpers for bench-kvp: clocks, per-process CPU and memory from /proc, latency
 * percentiles, and writers for KVP pool files in the on-disk format (hyperv-abi.md §5.1).
 * Non-logging; negative errno on failure.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* On-disk pool record: key[512] then value[2048], NUL-terminated UTF-8, zero-padded. */
#define BENCH_POOL_KEY_SIZE 512
#define BENCH_POOL_VALUE_SIZE 2048
#define BENCH_POOL_RECORD_SIZE (BENCH_POOL_KEY_SIZE + BENCH_POOL_VALUE_SIZE)

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* CPU time of this process, all threads (getrusage RUSAGE_SELF, user + system), in ns. */
uint64_t bench_self_cpu_ns(void);

/* One thread's time on CPU. */
typedef struct BenchThreadCpu {
	pid_t tid;
	char comm[16]; /* /proc/<pid>/task/<tid>/comm, e.g. "kvp-writer" */
	uint64_t ns;   /* first field of its schedstat */
} BenchThreadCpu;

/*
 * Time on CPU of up to max live threads of pid (/proc/<pid>/task/<tid>/schedstat); *ret_n is
 * how many were stored. Threads beyond max are left out.
 */
int bench_proc_threads(pid_t pid, BenchThreadCpu *v, size_t max, size_t *ret_n);

/*
 * Time on CPU of every live thread of pid: the sum of the first field of
 * /proc/<pid>/task/<tid>/schedstat (ns, scheduler-accurate). Threads that have already exited
 * are not counted; compare with bench_proc_cpu_stat_ns() when a daemon starts short-lived threads.
 */
int bench_proc_cpu_schedstat_ns(pid_t pid, uint64_t *ret);

/*
 * utime + stime of the whole thread group from /proc/<pid>/stat, including exited threads,
 * converted from clock ticks (sysconf(_SC_CLK_TCK), usually 10 ms resolution) to ns.
 */
int bench_proc_cpu_stat_ns(pid_t pid, uint64_t *ret);

/*
 * cutime + cstime of pid from /proc/<pid>/stat (ns, clock-tick resolution): CPU of the
 * children pid has waited for, and of their waited-for descendants (e.g. the shells, `ip` and
 * helper scripts a daemon runs through popen()).
 */
int bench_proc_children_cpu_ns(pid_t pid, uint64_t *ret);

/*
 * Bytes pid (all threads) passed to read-like and write-like system calls so far: rchar and
 * wchar of /proc/<pid>/io, devices included.
 */
int bench_proc_io(pid_t pid, uint64_t *ret_rchar, uint64_t *ret_wchar);

/* VmRSS and RssAnon of pid from /proc/<pid>/status, in KiB. */
int bench_proc_rss_kib(pid_t pid, long *ret_rss, long *ret_anon);

/*
 * Sorts v[0..n) in place and returns its q-quantile (0 <= q <= 1) by the nearest-rank method.
 * n must be > 0.
 */
uint64_t bench_quantile(uint64_t *v, size_t n, double q);

/*
 * Fills one record: writes a NUL-terminated key (< BENCH_POOL_KEY_SIZE bytes) and value
 * (< BENCH_POOL_VALUE_SIZE bytes) for record i. key and value arrive zero-filled.
 */
typedef void (*BenchRecordFn)(size_t i, char *key, char *value, void *userdata);

/*
 * Replaces the pool file at path (truncating it, mode 0644) with n records produced by fill.
 * Written before the daemon under test starts, so no locking is needed.
 */
int bench_pool_write(const char *path, size_t n, BenchRecordFn fill, void *userdata);

/* Reads the first line of a small text file (e.g. /proc/loadavg) without its newline. */
int bench_read_line(const char *path, char *buf, size_t size);
