/* SPDX-License-Identifier: MIT */
/*
 * Results of bench-kvp and their presentation: machine facts, the comparison table, the
 * targets and per-daemon details. Non-logging.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/macro.h"

typedef enum BenchDaemon {
	BENCH_HVGUEST,	/* our hv_kvp_daemon */
	BENCH_UPSTREAM, /* Debian's tools/hv hv_kvp_daemon */
	BENCH_FLOOR,	/* null-kvp-daemon: transport cost only */
	_BENCH_DAEMON_MAX,
	_BENCH_DAEMON_INVALID = -EINVAL,
} BenchDaemon;

/* Enumeration sizes measured: index 0 = 1,000 records, 1 = 5,000 records. */
#define BENCH_ENUM_SIZES 2

/* Full repetitions of the whole comparison; the table shows medians across them. */
#define BENCH_MAX_ROUNDS 9

/* Target thresholds (see README.md). */
#define BENCH_TARGET_ENUM_SPEEDUP 100.0
#define BENCH_TARGET_P50_VS_FLOOR 1.5
#define BENCH_TARGET_RSS_KIB 1024
#define BENCH_TARGET_IP_INFO_P50_US 1000.0

typedef struct DaemonResult {
	bool ran, failed, have_mixed;
	/* Median wall time of one full enumeration; NAN if not measured. */
	double enum_ms[BENCH_ENUM_SIZES];
	double enum_cpu_ms[BENCH_ENUM_SIZES]; /* daemon CPU (schedstat) over that enumeration */
	unsigned enum_runs[BENCH_ENUM_SIZES];
	/* Per start (index as enum_ms): spawn until the kernel model saw the registration. */
	double startup_ms[BENCH_ENUM_SIZES];
	unsigned requests; /* measured mixed requests */
	double p50_us, p90_us, p99_us, max_us;
	double get_p50_us, get_p99_us, set_p50_us, set_p99_us;
	double throughput;	      /* mixed requests per second of wall time */
	double cpu_us;		      /* daemon CPU per request (schedstat, incl. 1 s settle) */
	double cpu_run_us;	      /* same, only while requests were in flight */
	double cpu_stat_us;	      /* same as cpu_us from /proc/<pid>/stat ticks (10 ms steps) */
	double harness_cpu_us;	      /* bench process (host + FUSE threads) CPU per request */
	double read_kib, written_kib; /* daemon read()/write() bytes per request, device incl. */
	char threads[256];	      /* daemon CPU per request by thread: "comm µs, ..." */
	long rss_start_kib[BENCH_ENUM_SIZES];  /* VmRSS right after registration, -1 if unknown */
	long anon_start_kib[BENCH_ENUM_SIZES]; /* RssAnon at the same moment */
	long rss_kib, rss_anon_kib; /* VmRSS / RssAnon after the mixed run and 1 s idle */
	unsigned bad_status;	    /* mixed requests answered with a status other than HV_S_OK */
	unsigned get_empty;	    /* GETs answered HV_S_OK with an empty value */
	unsigned get_mismatch;	    /* GETs answered with a value other than the last SET */
	/* GET_IP_INFO for HOSTSIM_MAC, after the mixed run (1,000-record start). */
	bool have_ip;
	unsigned ip_requests; /* measured, after one unmeasured first request */
	double ip_first_us;   /* the first GET_IP_INFO after start-up (cold) */
	double ip_p50_us, ip_p90_us, ip_p99_us, ip_max_us;
	double ip_cpu_us;	   /* daemon CPU per request: schedstat of all its threads */
	double ip_children_cpu_us; /* per request: waited-for children (cutime+cstime, ticks) */
	long ip_rss_kib;	   /* VmRSS after the GET_IP_INFO run */
	unsigned ip_bad_status;	   /* answers other than HV_S_OK */
	unsigned ip_wrong;	   /* HV_S_OK answers that are not hv0's configuration */
	unsigned ip_changed;	   /* answers that differ from the first one */
	char ip_answer[1536];	   /* the first answer, as the host saw it */
	char ip_problems[512];	   /* what was wrong with the first wrong answer */
	char notes[1024];	   /* anomalies, "; "-separated */
} DaemonResult;

typedef struct BenchReport {
	DaemonResult res[BENCH_MAX_ROUNDS][_BENCH_DAEMON_MAX]; /* [round][daemon] */
	char skipped[_BENCH_DAEMON_MAX][256]; /* non-empty: why the daemon was not measured */
	char upstream_label[64];
	char kernel[200], cpu_model[128], load_start[64], load_end[64];
	long nproc;
	unsigned requests, warmup, runs, host_records, rounds;
	unsigned ip_requests[_BENCH_DAEMON_MAX]; /* measured GET_IP_INFO requests per daemon */
	char nic[512]; /* the simulated NIC's addresses, as the kernel lists them */
} BenchReport;

/* "hvguest", "upstream", "floor". */
const char *bench_daemon_name(BenchDaemon d);
/* Inverse of bench_daemon_name(); _BENCH_DAEMON_INVALID for unknown names. */
BenchDaemon bench_daemon_from_name(const char *s);

/* Appends a "; "-separated anomaly note to res->notes (silently truncated when full). */
void result_note(DaemonResult *res, const char *fmt, ...) _printf_(2, 3);

/*
 * Fills the machine facts (nproc, load average, kernel, CPU model, upstream package version)
 * and marks every measurement as missing. Keeps rep->skipped.
 */
void bench_report_init(BenchReport *rep, unsigned requests, unsigned warmup, unsigned runs,
		       unsigned host_records, unsigned rounds);
/*
 * Records how many GET_IP_INFO requests each daemon gets and describes the NIC they are asked
 * about (nic: e.g. "hv0 00:15:5D:12:34:56: 192.0.2.10/24, ...").
 */
void bench_report_set_ip(BenchReport *rep, const unsigned ip_requests[_BENCH_DAEMON_MAX],
			 const char *nic);
/* Records the load average at the end of the run. */
void bench_report_finish(BenchReport *rep);
/* Prints facts, the table (medians across rounds), the targets and per-round details. */
void bench_report_print(const BenchReport *rep, FILE *f);
/* False when a measured target is missed; targets that could not be measured do not count. */
bool bench_report_targets_met(const BenchReport *rep);
