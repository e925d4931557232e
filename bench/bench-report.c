/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/macro.h"

#include "bench-report.h"
#include "bench-util.h"

#define CELL 64
#define COLS 6
#define DASH "–"

/* Rows of the comparison table, in print order. */
typedef enum Row {
	ROW_ENUM_1000,
	ROW_ENUM_5000,
	ROW_ENUM_CPU_5000, /* daemon CPU over the 5,000 enumeration: transport-independent */
	ROW_P50,
	ROW_P99,
	ROW_CPU,
	ROW_CPU_NET, /* CPU per request minus the floor's: the daemon's own work */
	ROW_RSS,
	ROW_RSS_ANON,
	ROW_IP_P50,
	ROW_IP_P99,
	ROW_IP_CPU, /* daemon + its children's CPU per GET_IP_INFO */
	_ROW_MAX,
} Row;

static const char *const row_names[_ROW_MAX] = {
	[ROW_ENUM_1000] = "enumerate 1,000 (ms)",
	[ROW_ENUM_5000] = "enumerate 5,000 (ms)",
	[ROW_ENUM_CPU_5000] = "enumerate 5,000 daemon CPU (ms)",
	[ROW_P50] = "mixed p50 (µs)",
	[ROW_P99] = "mixed p99 (µs)",
	[ROW_CPU] = "CPU/request (µs)",
	[ROW_CPU_NET] = "CPU/request − floor (µs)",
	[ROW_RSS] = "idle RSS (KiB)",
	[ROW_RSS_ANON] = "idle RssAnon (KiB)",
	[ROW_IP_P50] = "GET_IP_INFO p50 (µs)",
	[ROW_IP_P99] = "GET_IP_INFO p99 (µs)",
	[ROW_IP_CPU] = "GET_IP_INFO CPU/request (µs)",
};

typedef enum Verdict {
	VERDICT_MET,
	VERDICT_MISSED,
	VERDICT_UNKNOWN,
} Verdict;

static const char *const daemon_names[_BENCH_DAEMON_MAX] = {
	[BENCH_HVGUEST] = "hvguest",
	[BENCH_UPSTREAM] = "upstream",
	[BENCH_FLOOR] = "floor",
};

const char *bench_daemon_name(BenchDaemon d)
{
	if (d < 0 || d >= _BENCH_DAEMON_MAX)
		return NULL;
	return daemon_names[d];
}

BenchDaemon bench_daemon_from_name(const char *s)
{
	for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++) {
		if (strcmp(s, daemon_names[d]) == 0)
			return (BenchDaemon)d;
	}
	return _BENCH_DAEMON_INVALID;
}

void result_note(DaemonResult *res, const char *fmt, ...)
{
	size_t len = strlen(res->notes);
	va_list ap;

	if (len > 0 && len + 2 < sizeof(res->notes)) {
		memcpy(res->notes + len, "; ", 3);
		len += 2;
	}
	if (len + 1 >= sizeof(res->notes))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(res->notes + len, sizeof(res->notes) - len, fmt, ap);
	va_end(ap);
}

/* Version of the installed hyperv-daemons package, from dpkg's database (no dpkg-query run). */
static void upstream_version(char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen("/var/lib/dpkg/status", "re");
	char line[512];
	bool in_pkg = false;

	buf[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "Package: ", 9) == 0)
			in_pkg = strcmp(line + 9, "hyperv-daemons") == 0;
		else if (in_pkg && strncmp(line, "Version: ", 9) == 0) {
			(void)snprintf(buf, size, "%.*s", (int)size - 1, line + 9);
			return;
		}
	}
}

static void cpu_model(char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];

	(void)snprintf(buf, size, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			line[strcspn(line, "\n")] = 0;
			(void)snprintf(buf, size, "%.*s", (int)size - 1, colon + 2);
			return;
		}
	}
}

void bench_report_init(BenchReport *rep, unsigned requests, unsigned warmup, unsigned runs,
		       unsigned host_records, unsigned rounds)
{
	struct utsname u;
	char version[48];

	for (unsigned k = 0; k < BENCH_MAX_ROUNDS; k++) {
		for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++) {
			DaemonResult *r = &rep->res[k][d];

			for (unsigned i = 0; i < BENCH_ENUM_SIZES; i++) {
				r->enum_ms[i] = NAN;
				r->enum_cpu_ms[i] = NAN;
				r->rss_start_kib[i] = -1;
				r->anon_start_kib[i] = -1;
			}
			r->ip_rss_kib = -1;
		}
	}
	rep->rounds = MIN(MAX(rounds, 1u), (unsigned)BENCH_MAX_ROUNDS);
	rep->requests = requests;
	rep->warmup = warmup;
	rep->runs = runs;
	rep->host_records = host_records;
	rep->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	if (bench_read_line("/proc/loadavg", rep->load_start, sizeof(rep->load_start)) < 0)
		(void)snprintf(rep->load_start, sizeof(rep->load_start), "unknown");
	if (uname(&u) == 0)
		(void)snprintf(rep->kernel, sizeof(rep->kernel), "%s %s", u.release, u.machine);
	cpu_model(rep->cpu_model, sizeof(rep->cpu_model));
	upstream_version(version, sizeof(version));
	if (version[0])
		(void)snprintf(rep->upstream_label, sizeof(rep->upstream_label),
			       "upstream (Debian %s)", version);
	else
		(void)snprintf(rep->upstream_label, sizeof(rep->upstream_label), "upstream");
}

void bench_report_set_ip(BenchReport *rep, const unsigned ip_requests[_BENCH_DAEMON_MAX],
			 const char *nic)
{
	for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++)
		rep->ip_requests[d] = ip_requests[d];
	(void)snprintf(rep->nic, sizeof(rep->nic), "%s", nic);
}

void bench_report_finish(BenchReport *rep)
{
	if (bench_read_line("/proc/loadavg", rep->load_end, sizeof(rep->load_end)) < 0)
		(void)snprintf(rep->load_end, sizeof(rep->load_end), "unknown");
}

/* Display width of UTF-8 text: code points, not bytes (the table uses µ, – and ×). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

static void fmt_value(char *buf, double v)
{
	if (isnan(v))
		(void)snprintf(buf, CELL, DASH);
	else if (fabs(v) >= 1000)
		(void)snprintf(buf, CELL, "%.0f", v);
	else if (fabs(v) >= 100)
		(void)snprintf(buf, CELL, "%.1f", v);
	else
		(void)snprintf(buf, CELL, "%.2f", v);
}

static void fmt_ratio(char *buf, double num, double den)
{
	if (isnan(num) || isnan(den) || den == 0)
		(void)snprintf(buf, CELL, DASH);
	else
		(void)snprintf(buf, CELL, "%.3g×", num / den);
}

/* A metric of one round; NAN where not measured. */
static double metric_round(const BenchReport *rep, unsigned k, BenchDaemon d, Row row)
{
	const DaemonResult *r = &rep->res[k][d], *fl = &rep->res[k][BENCH_FLOOR];

	if (!r->ran)
		return NAN;
	switch (row) {
	case ROW_ENUM_1000:
		return r->enum_ms[0];
	case ROW_ENUM_5000:
		return r->enum_ms[1];
	case ROW_ENUM_CPU_5000:
		return r->enum_cpu_ms[1];
	case ROW_P50:
		return r->have_mixed ? r->p50_us : NAN;
	case ROW_P99:
		return r->have_mixed ? r->p99_us : NAN;
	case ROW_CPU:
		return r->have_mixed ? r->cpu_us : NAN;
	case ROW_CPU_NET:
		return r->have_mixed && fl->have_mixed && fl->ran ? r->cpu_us - fl->cpu_us : NAN;
	case ROW_RSS:
		return r->have_mixed ? (double)r->rss_kib : NAN;
	case ROW_RSS_ANON:
		return r->have_mixed ? (double)r->rss_anon_kib : NAN;
	case ROW_IP_P50:
		return r->have_ip ? r->ip_p50_us : NAN;
	case ROW_IP_P99:
		return r->have_ip ? r->ip_p99_us : NAN;
	case ROW_IP_CPU:
		return r->have_ip ? r->ip_cpu_us + r->ip_children_cpu_us : NAN;
	case _ROW_MAX:
		break;
	}
	return NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A metric as shown in the table: the median across rounds of the rounds that measured it. */
static double metric(const BenchReport *rep, BenchDaemon d, Row row)
{
	double v[BENCH_MAX_ROUNDS];
	size_t n = 0;

	for (unsigned k = 0; k < rep->rounds; k++) {
		double x = metric_round(rep, k, d, row);

		if (!isnan(x))
			v[n++] = x;
	}
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_row(FILE *f, char cells[COLS][CELL], const size_t *width)
{
	for (unsigned c = 0; c < COLS; c++) {
		size_t pad = width[c] - text_width(cells[c]);

		/* The metric name is left-aligned, numbers right-aligned. */
		fprintf(f, "| %*s%s%*s ", c == 0 ? 0 : (int)pad, "", cells[c],
			c == 0 ? (int)pad : 0, "");
	}
	fprintf(f, "|\n");
}

static void print_table(const BenchReport *rep, FILE *f)
{
	char cells[_ROW_MAX + 1][COLS][CELL];
	size_t width[COLS] = {};

	(void)snprintf(cells[0][0], CELL, "metric");
	(void)snprintf(cells[0][1], CELL, "hvguest");
	(void)snprintf(cells[0][2], CELL, "%s", rep->upstream_label);
	(void)snprintf(cells[0][3], CELL, "floor");
	(void)snprintf(cells[0][4], CELL, "hvguest/upstream");
	(void)snprintf(cells[0][5], CELL, "hvguest/floor");
	for (Row row = 0; row < _ROW_MAX; row++) {
		char(*c)[CELL] = cells[row + 1];
		double ours = metric(rep, BENCH_HVGUEST, row);

		(void)snprintf(c[0], CELL, "%s", row_names[row]);
		for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++) {
			if (rep->skipped[d][0] || !rep->res[0][d].ran)
				(void)snprintf(c[1 + d], CELL, "skipped");
			else
				fmt_value(c[1 + d], metric(rep, (BenchDaemon)d, row));
		}
		fmt_ratio(c[4], ours, metric(rep, BENCH_UPSTREAM, row));
		/* Relative to the floor, "minus floor" has no meaning. */
		if (row == ROW_CPU_NET)
			(void)snprintf(c[5], CELL, DASH);
		else
			fmt_ratio(c[5], ours, metric(rep, BENCH_FLOOR, row));
	}
	for (unsigned i = 0; i < ELEMENTSOF(cells); i++) {
		for (unsigned c = 0; c < COLS; c++)
			width[c] = MAX(width[c], text_width(cells[i][c]));
	}
	print_row(f, cells[0], width);
	for (unsigned c = 0; c < COLS; c++) {
		fprintf(f, "|%s", c == 0 ? ":" : "-");
		for (size_t k = 0; k < width[c]; k++)
			fputc('-', f);
		fprintf(f, "%s", c == 0 ? "-" : ":");
	}
	fprintf(f, "|\n");
	for (unsigned i = 1; i < ELEMENTSOF(cells); i++)
		print_row(f, cells[i], width);
}

static Verdict verdict(bool measurable, bool met)
{
	if (!measurable)
		return VERDICT_UNKNOWN;
	return met ? VERDICT_MET : VERDICT_MISSED;
}

static const char *verdict_text(Verdict v)
{
	switch (v) {
	case VERDICT_MET:
		return "MET";
	case VERDICT_MISSED:
		return "MISSED";
	case VERDICT_UNKNOWN:
		return "not measured";
	}
	return "?";
}

static Verdict target_enum(const BenchReport *rep, double *ret_speedup)
{
	double ours = metric(rep, BENCH_HVGUEST, ROW_ENUM_5000),
	       up = metric(rep, BENCH_UPSTREAM, ROW_ENUM_5000);

	*ret_speedup = up / ours;
	return verdict(!isnan(ours) && !isnan(up) && ours > 0,
		       *ret_speedup >= BENCH_TARGET_ENUM_SPEEDUP);
}

static Verdict target_p50(const BenchReport *rep, double *ret_ratio)
{
	double ours = metric(rep, BENCH_HVGUEST, ROW_P50), fl = metric(rep, BENCH_FLOOR, ROW_P50);

	*ret_ratio = ours / fl;
	return verdict(!isnan(ours) && !isnan(fl) && fl > 0,
		       *ret_ratio <= BENCH_TARGET_P50_VS_FLOOR);
}

static Verdict target_rss(const BenchReport *rep)
{
	double ours = metric(rep, BENCH_HVGUEST, ROW_RSS);

	return verdict(!isnan(ours), ours <= BENCH_TARGET_RSS_KIB);
}

static Verdict target_ip(const BenchReport *rep)
{
	double ours = metric(rep, BENCH_HVGUEST, ROW_IP_P50);

	return verdict(!isnan(ours), ours <= BENCH_TARGET_IP_INFO_P50_US);
}

bool bench_report_targets_met(const BenchReport *rep)
{
	double x;

	return target_enum(rep, &x) != VERDICT_MISSED && target_p50(rep, &x) != VERDICT_MISSED &&
	       target_rss(rep) != VERDICT_MISSED && target_ip(rep) != VERDICT_MISSED;
}

/* "; upstream 652.1 ms, floor 61.2 µs" for the GET_IP_INFO target line. */
static void print_ip_others(const BenchReport *rep, FILE *f)
{
	for (unsigned d = BENCH_HVGUEST + 1; d < _BENCH_DAEMON_MAX; d++) {
		double v = metric(rep, (BenchDaemon)d, ROW_IP_P50);

		if (isnan(v))
			continue;
		if (v >= 1000)
			fprintf(f, "; %s %.1f ms", daemon_names[d], v / 1e3);
		else
			fprintf(f, "; %s %.1f µs", daemon_names[d], v);
	}
}

/* How many of our GET_IP_INFO answers, across rounds, were not hv0's configuration. */
static void print_ip_answers(const BenchReport *rep, FILE *f)
{
	unsigned total = 0, bad = 0;

	for (unsigned k = 0; k < rep->rounds; k++) {
		const DaemonResult *r = &rep->res[k][BENCH_HVGUEST];

		if (!r->have_ip)
			continue;
		total += r->ip_requests + 1;
		bad += r->ip_bad_status + r->ip_wrong;
	}
	if (bad == 0)
		fprintf(f,
			"    answers: all %u correct (HV_S_OK, hv0's addresses, subnets, "
			"gateways and DNS)\n",
			total);
	else
		fprintf(f, "    answers: %u of %u WRONG or not HV_S_OK (see anomalies)\n", bad,
			total);
}

static void print_targets(const BenchReport *rep, FILE *f)
{
	double speedup, ratio;
	Verdict v;

	fprintf(f, "\nTargets%s:\n", rep->rounds > 1 ? " (medians across rounds)" : "");
	v = target_enum(rep, &speedup);
	fprintf(f,
		"  ENUMERATE of 5,000 >= %.0fx faster than upstream: ", BENCH_TARGET_ENUM_SPEEDUP);
	if (v != VERDICT_UNKNOWN)
		fprintf(f, "%.1f ms / %.2f ms = %.1fx -> ",
			metric(rep, BENCH_UPSTREAM, ROW_ENUM_5000),
			metric(rep, BENCH_HVGUEST, ROW_ENUM_5000), speedup);
	fprintf(f, "%s\n", verdict_text(v));
	if (v != VERDICT_UNKNOWN) {
		double up = metric(rep, BENCH_UPSTREAM, ROW_ENUM_CPU_5000),
		       ours = metric(rep, BENCH_HVGUEST, ROW_ENUM_CPU_5000),
		       fl = metric(rep, BENCH_FLOOR, ROW_ENUM_CPU_5000),
		       fl_wall = metric(rep, BENCH_FLOOR, ROW_ENUM_5000);

		fprintf(f, "    by daemon CPU: %.1f ms / %.1f ms = %.1fx", up, ours, up / ours);
		if (!isnan(fl))
			fprintf(f, "; minus the floor's %.1f ms CPU: %.1f ms / %.1f ms", fl,
				up - fl, ours - fl);
		fprintf(f, "\n");
		if (!isnan(fl_wall))
			fprintf(f,
				"    transport bound: the floor alone needs %.1f ms for the same "
				"requests, so at most %.1fx is reachable on this harness\n",
				fl_wall, metric(rep, BENCH_UPSTREAM, ROW_ENUM_5000) / fl_wall);
	}

	v = target_p50(rep, &ratio);
	fprintf(f, "  median request <= %.1fx the floor: ", BENCH_TARGET_P50_VS_FLOOR);
	if (v != VERDICT_UNKNOWN)
		fprintf(f, "%.1f µs / %.1f µs = %.2fx -> ", metric(rep, BENCH_HVGUEST, ROW_P50),
			metric(rep, BENCH_FLOOR, ROW_P50), ratio);
	fprintf(f, "%s\n", verdict_text(v));

	v = target_rss(rep);
	fprintf(f, "  idle RSS <= %d KiB: ", BENCH_TARGET_RSS_KIB);
	if (v != VERDICT_UNKNOWN)
		fprintf(f, "%.0f KiB (RssAnon %.0f KiB) -> ", metric(rep, BENCH_HVGUEST, ROW_RSS),
			metric(rep, BENCH_HVGUEST, ROW_RSS_ANON));
	fprintf(f, "%s\n", verdict_text(v));
	if (v != VERDICT_UNKNOWN && !isnan(metric(rep, BENCH_FLOOR, ROW_RSS)))
		fprintf(f,
			"    for scale: the floor (no pools, libc only) has %.0f KiB (RssAnon %.0f "
			"KiB)\n",
			metric(rep, BENCH_FLOOR, ROW_RSS), metric(rep, BENCH_FLOOR, ROW_RSS_ANON));

	v = target_ip(rep);
	fprintf(f, "  GET_IP_INFO median <= %.0f ms: ", BENCH_TARGET_IP_INFO_P50_US / 1e3);
	if (v != VERDICT_UNKNOWN) {
		fprintf(f, "%.1f µs", metric(rep, BENCH_HVGUEST, ROW_IP_P50));
		print_ip_others(rep, f);
		fprintf(f, " -> ");
	}
	fprintf(f, "%s\n", verdict_text(v));
	if (v != VERDICT_UNKNOWN)
		print_ip_answers(rep, f);
}

static void print_daemon_details(const BenchReport *rep, unsigned k, BenchDaemon d, FILE *f)
{
	const DaemonResult *r = &rep->res[k][d];

	if (!r->ran)
		return;
	if (rep->rounds > 1)
		fprintf(f, "  round %u, %s:\n", k + 1, daemon_names[d]);
	else
		fprintf(f, "  %s:\n", daemon_names[d]);
	for (unsigned i = 0; i < BENCH_ENUM_SIZES; i++) {
		const char *size = i == 0 ? "1,000" : "5,000";

		if (r->rss_start_kib[i] >= 0)
			fprintf(f,
				"    start with %s guest records: registered after %.1f ms, RSS "
				"%ld "
				"KiB, RssAnon %ld KiB\n",
				size, r->startup_ms[i], r->rss_start_kib[i], r->anon_start_kib[i]);
		if (r->enum_runs[i] > 0)
			fprintf(f,
				"    enumerate %s: %.2f ms wall, %.2f ms daemon CPU (median of "
				"%u)\n",
				size, r->enum_ms[i], r->enum_cpu_ms[i], r->enum_runs[i]);
	}
	if (r->have_mixed) {
		fprintf(f,
			"    mixed: p50 %.1f, p90 %.1f, p99 %.1f, max %.1f µs; %.0f req/s; daemon "
			"CPU/request %.2f µs (in flight %.2f, /proc/stat %.1f); harness "
			"CPU/request %.1f µs; RSS %ld KiB, RssAnon %ld KiB\n",
			r->p50_us, r->p90_us, r->p99_us, r->max_us, r->throughput, r->cpu_us,
			r->cpu_run_us, r->cpu_stat_us, r->harness_cpu_us, r->rss_kib,
			r->rss_anon_kib);
		fprintf(f,
			"    GET p50 %.1f, p99 %.1f µs; SET p50 %.1f, p99 %.1f µs; daemon "
			"CPU/request by thread (µs): %s\n",
			r->get_p50_us, r->get_p99_us, r->set_p50_us, r->set_p99_us, r->threads);
		fprintf(f,
			"    daemon I/O per request (incl. the 7,432-byte device messages): read "
			"%.1f KiB, written %.1f KiB\n",
			r->read_kib, r->written_kib);
		if (d != BENCH_FLOOR)
			fprintf(f, "    GET answers: %u empty, %u wrong value, %u not HV_S_OK\n",
				r->get_empty, r->get_mismatch, r->bad_status);
	}
	if (r->have_ip) {
		fprintf(f,
			"    GET_IP_INFO: first %.1f µs, then %u: p50 %.1f, p90 %.1f, p99 %.1f, "
			"max "
			"%.1f µs; CPU/request %.1f µs daemon + %.1f µs children; RSS after %ld "
			"KiB\n",
			r->ip_first_us, r->ip_requests, r->ip_p50_us, r->ip_p90_us, r->ip_p99_us,
			r->ip_max_us, r->ip_cpu_us, r->ip_children_cpu_us, r->ip_rss_kib);
		if (d != BENCH_FLOOR) {
			fprintf(f,
				"    GET_IP_INFO answers: %u not HV_S_OK, %u not hv0's "
				"configuration, %u differ from the first\n",
				r->ip_bad_status, r->ip_wrong, r->ip_changed);
			/* The answer is the same every round unless something drifts. */
			if (k == 0 || strcmp(r->ip_answer, rep->res[0][d].ip_answer) != 0)
				fprintf(f, "    GET_IP_INFO answer: %s\n", r->ip_answer);
		}
	}
	if (r->notes[0])
		fprintf(f, "    anomalies: %s\n", r->notes);
}

static void print_details(const BenchReport *rep, FILE *f)
{
	fprintf(f, "\nDetails:\n");
	for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++) {
		if (rep->skipped[d][0])
			fprintf(f, "  %s: %s\n", daemon_names[d], rep->skipped[d]);
	}
	for (unsigned k = 0; k < rep->rounds; k++) {
		for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++)
			print_daemon_details(rep, k, (BenchDaemon)d, f);
	}
}

void bench_report_print(const BenchReport *rep, FILE *f)
{
	fprintf(f, "\nMachine: %ld CPUs online, %s, kernel %s\n", rep->nproc, rep->cpu_model,
		rep->kernel);
	fprintf(f, "Load average: %s (start), %s (end)\n", rep->load_start, rep->load_end);
	fprintf(f,
		"Method: one daemon at a time on the simulated host (FUSE /dev/vmbus/hv_kvp); "
		"mixed = %u requests after %u warm-up, alternating GET/SET of random keys of a "
		"%u-record pool 0; enumerations of pool 1 = median of %u run(s); %u round(s), "
		"daemon order rotated each round, table = median across rounds\n",
		rep->requests, rep->warmup, rep->host_records, rep->runs, rep->rounds);
	if (rep->nic[0])
		fprintf(f,
			"GET_IP_INFO: %u requests (upstream %u) after one unmeasured first "
			"request, "
			"adapter %s\n",
			rep->ip_requests[BENCH_HVGUEST], rep->ip_requests[BENCH_UPSTREAM],
			rep->nic);
	fprintf(f, "\n");
	print_table(rep, f);
	print_targets(rep, f);
	print_details(rep, f);
}
