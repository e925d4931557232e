/* SPDX-License-Identifier: MIT */
/*
 * bench-kvp: compares our hv_kvp_daemon with Debian's upstream daemon and with a null daemon
 * (the transport floor) on one simulated host (src/hostsim). Each daemon runs alone (the device
 * admits one opener) against pools seeded before it starts, and is measured on:
 *   - one full host ENUMERATE of the guest pool (pool 1) with 1,000 and 5,000 records;
 *   - a mixed GET/SET run on a 1,000-record host pool (pool 0): latency percentiles;
 *   - daemon CPU per request over that run (schedstat of all its threads);
 *   - idle RSS after the run and 1 s of idleness;
 *   - GET_IP_INFO latency for the simulated NIC hv0 (4 addresses), with every answer checked.
 * Method and meaning of every number: bench/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hv-status.h"
#include "common/log.h"
#include "common/macro.h"
#include "hostsim/hostsim.h"

#include "bench-net.h"
#include "bench-report.h"
#include "bench-util.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define READY_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define HOST_POOL 0
#define GUEST_POOL 1
#define UPSTREAM_STATE_DIR "/var/lib/hyperv"
/* A daemon that fails this many requests in a row is treated as broken (each may cost 30 s). */
#define MAX_FAILURES 10
/* The NIC GET_IP_INFO asks about (hostsim-net.c) and the address the bench adds to it, so
 * that it has 4: 192.0.2.10/24, 198.51.100.10/25, 2001:db8::10/64 and its IPv6 link-local. */
#define NIC_NAME "hv0"
#define NIC_EXTRA_ADDR "198.51.100.10/25"
/* The name server of the simulator's /etc/resolv.conf (hostsim-env.c). */
#define SIM_DNS "192.0.2.53"
/* Until the kernel has finished duplicate address detection on hv0's link-local address. */
#define DAD_TIMEOUT_USEC (5 * USEC_PER_SEC)

typedef struct BenchConfig {
	bool quick, strict;
	unsigned requests, warmup, runs, host_records, rounds;
	unsigned ip_requests[_BENCH_DAEMON_MAX]; /* measured GET_IP_INFO requests */
	const char *path[_BENCH_DAEMON_MAX];
	bool enabled[_BENCH_DAEMON_MAX];
} BenchConfig;

typedef struct Bench {
	const BenchConfig *cfg;
	HostSim *sim;
	unsigned *generation; /* per host-pool key: how many times the bench has SET it */
	uint64_t rng;
} Bench;

static const size_t enum_sizes[BENCH_ENUM_SIZES] = { 1000, 5000 };

/* xorshift64*: reproducible key choice across daemons and runs. */
static uint32_t bench_random(Bench *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return (uint32_t)((b->rng * UINT64_C(2685821657736338717)) >> 32);
}

/* A cloud-init style record (hyperv-abi.md §5.3), about 230 bytes of JSON. */
static void fill_guest_record(size_t i, char *key, char *value, void *userdata)
{
	(void)snprintf(
		key, BENCH_POOL_KEY_SIZE,
		"CLOUD_INIT|1700000000|diagnostic|bench/event-%05zu|%08zx-1c2d-4e5f-8a9b-%012zx", i,
		(i * 2654435761u) & 0xffffffffu, i);
	(void)snprintf(value, BENCH_POOL_VALUE_SIZE,
		       "{\"name\":\"bench/event-%05zu\",\"type\":\"diagnostic\","
		       "\"ts\":\"2024-01-01T00:%02zu:%02zu.%06zuZ\",\"result\":\"SUCCESS\","
		       "\"msg\":\"synthetic benchmark event %zu: cloud-init reporting through "
		       "KVP pool 1, padded to a realistic size.\"}",
		       i, (i / 60) % 60, i % 60, (i * 7919) % 1000000, i);
}

static void host_value(size_t i, unsigned generation, char *buf, size_t size)
{
	(void)snprintf(buf, size,
		       "value-%zu-generation-%u-host-supplied-data-padded-to-a-typical-size", i,
		       generation);
}

static void fill_host_record(size_t i, char *key, char *value, void *userdata)
{
	(void)snprintf(key, BENCH_POOL_KEY_SIZE, "key%zu", i);
	host_value(i, 0, value, BENCH_POOL_VALUE_SIZE);
}

static const char *state_dir(Bench *b, BenchDaemon d)
{
	switch (d) {
	case BENCH_HVGUEST:
		return hostsim_state_dir(b->sim);
	case BENCH_UPSTREAM:
		return UPSTREAM_STATE_DIR;
	case BENCH_FLOOR:
	case _BENCH_DAEMON_MAX:
	case _BENCH_DAEMON_INVALID:
		break;
	}
	return NULL;
}

/* Writes pools 0 and 1 for the next start of d; resets the bench's view of pool 0. */
static int seed_pools(Bench *b, BenchDaemon d, size_t guest_records)
{
	const char *dir = state_dir(b, d);
	char path[4096];
	int r;

	memset(b->generation, 0, b->cfg->host_records * sizeof(*b->generation));
	if (!dir)
		return 0;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return log_error_errno(r, "Failed to create '%s': %m", dir);
	if (snprintf(path, sizeof(path), "%s/.kvp_pool_%d", dir, HOST_POOL) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = bench_pool_write(path, b->cfg->host_records, fill_host_record, NULL);
	if (r < 0)
		return log_error_errno(r, "Failed to write '%s': %m", path);
	(void)snprintf(path, sizeof(path), "%s/.kvp_pool_%d", dir, GUEST_POOL);
	r = bench_pool_write(path, guest_records, fill_guest_record, NULL);
	if (r < 0)
		return log_error_errno(r, "Failed to write '%s': %m", path);
	return 0;
}

/* Shows what a misbehaving daemon said: its stderr log, and syslog for upstream. */
static void dump_log_tail(const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t size = 0;

	if (!path || read_full_file_at(AT_FDCWD, path, 16 << 20, &text, &size) < 0 || size == 0)
		return;
	fprintf(stderr, "---- end of %s ----\n%s\n----\n", path,
		size > 2048 ? text + size - 2048 : text);
}

static int spawn_daemon(Bench *b, BenchDaemon d, HostSimDaemon **ret)
{
	const char *dev = hostsim_kvp_device(b->sim), *bin = b->cfg->path[d];
	const char *hvguest_argv[] = { bin,
				       "--device",
				       dev,
				       "--state-dir",
				       state_dir(b, d),
				       "--config",
				       "/nonexistent",
				       "--config-dir",
				       "/nonexistent",
				       NULL };
	const char *upstream_argv[] = { bin, "-n", NULL };
	const char *floor_argv[] = { bin, "--device", dev, NULL };
	const char **argv = NULL;

	switch (d) {
	case BENCH_HVGUEST:
		argv = hvguest_argv;
		break;
	case BENCH_UPSTREAM:
		argv = upstream_argv;
		break;
	case BENCH_FLOOR:
		argv = floor_argv;
		break;
	case _BENCH_DAEMON_MAX:
	case _BENCH_DAEMON_INVALID:
		return -EINVAL;
	}
	/* Only read, as by execv(), whose prototype predates const. */
	return hostsim_daemon_spawn(b->sim, (char *const *)argv, NULL, ret);
}

/* Stops hd and records an abnormal end; upstream dies of SIGTERM by design. */
static void stop_daemon(BenchDaemon d, HostSimDaemon *hd, DaemonResult *res)
{
	int st = hostsim_daemon_stop(hd);

	if (st < 0)
		result_note(res, "stop failed: %s", strerror(-st));
	else if (WIFSIGNALED(st) && !(d == BENCH_UPSTREAM && WTERMSIG(st) == SIGTERM))
		result_note(res, "ended by signal %d on stop%s", WTERMSIG(st),
			    WTERMSIG(st) == SIGKILL ? " (ignored SIGTERM for 5 s)" : "");
	else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		result_note(res, "exit status %d on stop", WEXITSTATUS(st));
}

/*
 * One complete host enumeration of the guest pool: positions 0, 1, ... until the daemon stops
 * answering HV_S_OK (expected: n records, then HV_S_CONT). The floor answers HV_S_OK forever,
 * so it gets the same n + 1 requests. Returns the wall time in ns or a negative errno.
 */
static int64_t enumerate_once(Bench *b, BenchDaemon d, size_t n, DaemonResult *res)
{
	HostKvpReply reply;
	size_t records = 0;
	uint32_t status = HV_S_OK;
	uint64_t t0 = bench_now_ns(), t1;

	for (uint32_t pos = 0; pos <= n + 16; pos++) {
		int r = hostsim_kvp_enumerate(b->sim, GUEST_POOL, pos, &reply);

		if (r < 0)
			return log_error_errno(r, "Simulator failed at position %u: %m", pos);
		status = reply.status;
		if (d == BENCH_FLOOR) {
			if (pos == n)
				break;
			continue;
		}
		if (status != HV_S_OK)
			break;
		if (records == 0 && strncmp(reply.key, "CLOUD_INIT|", 11) != 0)
			result_note(res, "enumerate %zu: first key '%.40s' is not a seeded record",
				    n, reply.key);
		records++;
	}
	t1 = bench_now_ns();
	if (d != BENCH_FLOOR && (records != n || status != HV_S_CONT)) {
		result_note(res, "enumerate %zu: got %zu records, ended with %s", n, records,
			    hv_status_to_string(status));
		if (status != HV_S_CONT && status != HV_S_OK)
			return -EPROTO;
	}
	return (int64_t)(t1 - t0);
}

#define MAX_THREADS 16

typedef struct CpuSnapshot {
	uint64_t wall, sched, stat, self;
	uint64_t rchar, wchar; /* daemon I/O bytes (/proc/<pid>/io) */
	BenchThreadCpu threads[MAX_THREADS];
	size_t n_threads;
} CpuSnapshot;

static int cpu_snapshot(pid_t pid, CpuSnapshot *ret)
{
	int r;

	ret->wall = bench_now_ns();
	ret->self = bench_self_cpu_ns();
	r = bench_proc_threads(pid, ret->threads, MAX_THREADS, &ret->n_threads);
	if (r < 0)
		return r;
	ret->sched = 0;
	for (size_t i = 0; i < ret->n_threads; i++)
		ret->sched += ret->threads[i].ns;
	r = bench_proc_io(pid, &ret->rchar, &ret->wchar);
	if (r < 0)
		return r;
	return bench_proc_cpu_stat_ns(pid, &ret->stat);
}

/* "name µs, name µs" per request for every thread alive at both snapshots. */
static void thread_breakdown(const CpuSnapshot *a, const CpuSnapshot *b, unsigned requests,
			     char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < b->n_threads; i++) {
		for (size_t j = 0; j < a->n_threads; j++) {
			int k;

			if (a->threads[j].tid != b->threads[i].tid)
				continue;
			k = snprintf(buf + len, size - len, "%s%s %.1f", len ? ", " : "",
				     b->threads[i].comm,
				     (double)(b->threads[i].ns - a->threads[j].ns) / 1e3 /
					     requests);
			if (k < 0 || (size_t)k >= size - len)
				return;
			len += (size_t)k;
		}
	}
}

static int measure_enumerate(Bench *b, BenchDaemon d, pid_t pid, unsigned size_idx,
			     DaemonResult *res)
{
	size_t n = enum_sizes[size_idx];
	/* Upstream re-reads the pool per position (§5.4: 4.74 s at 5,000): one run suffices. */
	unsigned runs = d == BENCH_UPSTREAM && n >= 5000 ? 1 : b->cfg->runs;
	uint64_t wall[16], cpu[16];

	runs = MIN(runs, (unsigned)ELEMENTSOF(wall));
	for (unsigned i = 0; i < runs; i++) {
		CpuSnapshot before, after;
		int64_t t;
		int r;

		r = cpu_snapshot(pid, &before);
		if (r < 0)
			return log_error_errno(r, "Failed to read CPU of %d: %m", (int)pid);
		t = enumerate_once(b, d, n, res);
		if (t < 0)
			return (int)t;
		r = cpu_snapshot(pid, &after);
		if (r < 0)
			return log_error_errno(r, "Failed to read CPU of %d: %m", (int)pid);
		wall[i] = (uint64_t)t;
		cpu[i] = after.sched - before.sched;
		log_info("  %s: enumerate %zu, run %u/%u: %.2f ms, daemon CPU %.2f ms",
			 bench_daemon_name(d), n, i + 1, runs, (double)wall[i] / 1e6,
			 (double)cpu[i] / 1e6);
	}
	res->enum_ms[size_idx] = (double)bench_quantile(wall, runs, 0.5) / 1e6;
	res->enum_cpu_ms[size_idx] = (double)bench_quantile(cpu, runs, 0.5) / 1e6;
	res->enum_runs[size_idx] = runs;
	return 0;
}

/* One host request of the mixed run; checks what the host got back. */
static int mixed_request(Bench *b, BenchDaemon d, bool set, DaemonResult *res)
{
	char key[32], value[BENCH_POOL_VALUE_SIZE];
	size_t i = bench_random(b) % b->cfg->host_records;
	HostKvpReply reply;
	int r;

	(void)snprintf(key, sizeof(key), "key%zu", i);
	if (set) {
		host_value(i, ++b->generation[i], value, sizeof(value));
		r = hostsim_kvp_set(b->sim, HOST_POOL, key, value, &reply);
	} else {
		r = hostsim_kvp_get(b->sim, HOST_POOL, key, &reply);
	}
	if (r < 0)
		return log_error_errno(r, "Simulator failed: %m");
	if (reply.status != HV_S_OK) {
		res->bad_status++;
		return 0;
	}
	if (set || d == BENCH_FLOOR)
		return 0;
	if (reply.value[0] == 0) {
		res->get_empty++; /* upstream's documented behaviour (hyperv-abi.md §4.3) */
		return 0;
	}
	host_value(i, b->generation[i], value, sizeof(value));
	if (strcmp(reply.value, value) != 0)
		res->get_mismatch++;
	return 0;
}

/* Latencies of the measured requests, in ns: all, and split by operation. */
typedef struct MixedSamples {
	uint64_t *all, *get, *set;
	size_t n, n_get, n_set;
} MixedSamples;

static void mixed_samples_done(MixedSamples *m)
{
	free(m->all);
	free(m->get);
	free(m->set);
}

static void summarize(MixedSamples *m, const CpuSnapshot *start, const CpuSnapshot *end,
		      const CpuSnapshot *settled, DaemonResult *res)
{
	double n = (double)m->n;

	res->requests = (unsigned)m->n;
	res->p50_us = (double)bench_quantile(m->all, m->n, 0.50) / 1e3;
	res->p90_us = (double)bench_quantile(m->all, m->n, 0.90) / 1e3;
	res->p99_us = (double)bench_quantile(m->all, m->n, 0.99) / 1e3;
	res->max_us = (double)bench_quantile(m->all, m->n, 1.0) / 1e3;
	if (m->n_get > 0) {
		res->get_p50_us = (double)bench_quantile(m->get, m->n_get, 0.50) / 1e3;
		res->get_p99_us = (double)bench_quantile(m->get, m->n_get, 0.99) / 1e3;
	}
	if (m->n_set > 0) {
		res->set_p50_us = (double)bench_quantile(m->set, m->n_set, 0.50) / 1e3;
		res->set_p99_us = (double)bench_quantile(m->set, m->n_set, 0.99) / 1e3;
	}
	res->throughput = n * 1e9 / (double)(end->wall - start->wall);
	res->cpu_run_us = (double)(end->sched - start->sched) / 1e3 / n;
	res->cpu_us = (double)(settled->sched - start->sched) / 1e3 / n;
	res->cpu_stat_us = (double)(settled->stat - start->stat) / 1e3 / n;
	res->harness_cpu_us = (double)(end->self - start->self) / 1e3 / n;
	res->read_kib = (double)(settled->rchar - start->rchar) / 1024 / n;
	res->written_kib = (double)(settled->wchar - start->wchar) / 1024 / n;
	thread_breakdown(start, settled, res->requests, res->threads, sizeof(res->threads));
	res->have_mixed = true;
}

static int measure_mixed(Bench *b, BenchDaemon d, pid_t pid, DaemonResult *res)
{
	unsigned total = b->cfg->warmup + b->cfg->requests;
	_cleanup_(mixed_samples_done) MixedSamples m = {
		.all = calloc(b->cfg->requests, sizeof(uint64_t)),
		.get = calloc(b->cfg->requests, sizeof(uint64_t)),
		.set = calloc(b->cfg->requests, sizeof(uint64_t)),
	};
	CpuSnapshot start = {}, end, settled;
	long anon;
	int r;

	if (!m.all || !m.get || !m.set)
		return log_oom();
	b->rng = UINT64_C(0x9e3779b97f4a7c15);
	for (unsigned i = 0; i < total; i++) {
		bool set = i % 2 == 1;
		uint64_t t0, t;

		if (i == b->cfg->warmup) {
			r = cpu_snapshot(pid, &start);
			if (r < 0)
				return log_error_errno(r, "Failed to read CPU of %d: %m", (int)pid);
		}
		t0 = bench_now_ns();
		r = mixed_request(b, d, set, res);
		if (r < 0)
			return r;
		t = bench_now_ns() - t0;
		if (i >= b->cfg->warmup) {
			m.all[m.n++] = t;
			if (set)
				m.set[m.n_set++] = t;
			else
				m.get[m.n_get++] = t;
		}
		if (res->bad_status >= MAX_FAILURES && res->bad_status == i + 1)
			return log_error_errno(EPROTO, "%s fails every request.",
					       bench_daemon_name(d));
	}
	r = cpu_snapshot(pid, &end);
	if (r < 0)
		return log_error_errno(r, "Failed to read CPU of %d: %m", (int)pid);
	/* Idle 1 s: deferred work (e.g. a writer thread persisting the SETs) lands in this
	 * window and is charged to the run; then the daemon counts as idle for RSS. */
	(void)usleep(USEC_PER_SEC);
	r = cpu_snapshot(pid, &settled);
	if (r >= 0)
		r = bench_proc_rss_kib(pid, &res->rss_kib, &anon);
	if (r < 0)
		return log_error_errno(r, "Failed to read /proc/%d: %m", (int)pid);
	res->rss_anon_kib = anon;
	summarize(&m, &start, &end, &settled, res);
	return 0;
}

/* One GET_IP_INFO for hv0's MAC; returns its round trip in ns or a negative errno. */
static int64_t ip_info_request(Bench *b, BenchDaemon d, const BenchNicAddr *nic, size_t n_nic,
			       const HostKvpIpInfo *first, HostKvpIpInfo *ret, DaemonResult *res)
{
	static const char *const gateways[] = { HOSTSIM_IPV4_GW, HOSTSIM_IPV6_GW, NULL };
	char problems[sizeof(res->ip_problems)];
	uint64_t t0 = bench_now_ns(), t;
	int r;

	/* addr_family 0: both families (the daemons report both whatever the host asks). */
	r = hostsim_kvp_get_ip_info(b->sim, HOSTSIM_MAC, 0, ret);
	t = bench_now_ns() - t0;
	if (r < 0)
		return log_error_errno(r, "Simulator failed: %m");
	if (ret->status != HV_S_OK) {
		res->ip_bad_status++;
		return (int64_t)t;
	}
	if (d == BENCH_FLOOR)
		return (int64_t)t; /* a zeroed answer: nothing to check */
	if (first &&
	    (strcmp(ret->ip_addr, first->ip_addr) != 0 ||
	     strcmp(ret->sub_net, first->sub_net) != 0 ||
	     strcmp(ret->gate_way, first->gate_way) != 0 ||
	     strcmp(ret->dns_addr, first->dns_addr) != 0 ||
	     ret->addr_family != first->addr_family || ret->dhcp_enabled != first->dhcp_enabled))
		res->ip_changed++;
	if (bench_ip_answer_check(ret, nic, n_nic, gateways, SIM_DNS, problems, sizeof(problems)) >
	    0) {
		if (res->ip_wrong++ == 0)
			(void)snprintf(res->ip_problems, sizeof(res->ip_problems), "%s", problems);
	}
	return (int64_t)t;
}

/*
 * GET_IP_INFO latency: one first request (timed on its own: the daemon may set up its netlink
 * state lazily), then the configured number, back to back. Every answer is checked against
 * hv0's addresses as the kernel lists them right before the run.
 */
static int measure_ip_info(Bench *b, BenchDaemon d, pid_t pid, DaemonResult *res)
{
	unsigned n = b->cfg->ip_requests[d];
	_cleanup_free_ uint64_t *lat = calloc(MAX(n, 1u), sizeof(uint64_t));
	_cleanup_free_ HostKvpIpInfo *first = calloc(1, sizeof(*first)),
				     *ans = calloc(1, sizeof(*ans));
	BenchNicAddr nic[BENCH_NIC_MAX_ADDRS];
	uint64_t sched0, sched1, child0, child1;
	size_t n_nic;
	long anon;
	int64_t t;
	int r;

	if (!lat || !first || !ans)
		return log_oom();
	if (n == 0)
		return 0;
	r = bench_net_addresses(NIC_NAME, nic, ELEMENTSOF(nic), &n_nic);
	if (r < 0)
		return log_error_errno(r, "Failed to list the addresses of " NIC_NAME ": %m");

	t = ip_info_request(b, d, nic, n_nic, NULL, first, res);
	if (t < 0)
		return (int)t;
	res->ip_first_us = (double)t / 1e3;
	(void)snprintf(res->ip_answer, sizeof(res->ip_answer),
		       /* Cut each list (the host's fields hold up to 4 KiB) to keep it readable. */
		       "%s, family %u, addresses '%.400s', subnets '%.400s', gateways '%.200s', "
		       "DNS '%.200s', DHCP %u",
		       hv_status_to_string(first->status), first->addr_family, first->ip_addr,
		       first->sub_net, first->gate_way, first->dns_addr, first->dhcp_enabled);

	r = bench_proc_cpu_schedstat_ns(pid, &sched0);
	if (r >= 0)
		r = bench_proc_children_cpu_ns(pid, &child0);
	if (r < 0)
		return log_error_errno(r, "Failed to read CPU of %d: %m", (int)pid);
	for (unsigned i = 0; i < n; i++) {
		t = ip_info_request(b, d, nic, n_nic, first, ans, res);
		if (t < 0)
			return (int)t;
		lat[i] = (uint64_t)t;
		if (res->ip_bad_status >= MAX_FAILURES && res->ip_bad_status == i + 2)
			return log_error_errno(EPROTO, "%s fails every GET_IP_INFO.",
					       bench_daemon_name(d));
		if (n >= 10 && (i + 1) % (n / 10) == 0 && t > 100000000)
			log_info("  %s: GET_IP_INFO %u/%u", bench_daemon_name(d), i + 1, n);
	}
	r = bench_proc_cpu_schedstat_ns(pid, &sched1);
	if (r >= 0)
		r = bench_proc_children_cpu_ns(pid, &child1);
	if (r >= 0)
		r = bench_proc_rss_kib(pid, &res->ip_rss_kib, &anon);
	if (r < 0)
		return log_error_errno(r, "Failed to read /proc/%d: %m", (int)pid);

	res->ip_requests = n;
	res->ip_p50_us = (double)bench_quantile(lat, n, 0.50) / 1e3;
	res->ip_p90_us = (double)bench_quantile(lat, n, 0.90) / 1e3;
	res->ip_p99_us = (double)bench_quantile(lat, n, 0.99) / 1e3;
	res->ip_max_us = (double)bench_quantile(lat, n, 1.0) / 1e3;
	res->ip_cpu_us = (double)(sched1 - sched0) / 1e3 / n;
	res->ip_children_cpu_us = (double)(child1 - child0) / 1e3 / n;
	res->have_ip = true;
	log_info("  %s: GET_IP_INFO first %.0f µs, p50 %.0f µs, p99 %.0f µs", bench_daemon_name(d),
		 res->ip_first_us, res->ip_p50_us, res->ip_p99_us);
	return 0;
}

/* Seeds, starts d, waits until it registered, runs the measurements, stops it. */
static int run_phase(Bench *b, BenchDaemon d, unsigned size_idx, bool mixed, DaemonResult *res)
{
	HostSimKvpStats before, after;
	HostSimDaemon *hd = NULL;
	uint64_t t0;
	int r;

	r = seed_pools(b, d, enum_sizes[size_idx]);
	if (r < 0)
		return r;
	hostsim_kvp_stats(b->sim, &before);
	t0 = bench_now_ns();
	r = spawn_daemon(b, d, &hd);
	if (r < 0)
		return log_error_errno(r, "Failed to start '%s': %m", b->cfg->path[d]);
	r = hostsim_kvp_wait_ready(b->sim, READY_TIMEOUT_USEC);
	if (r < 0) {
		log_error_errno(r, "%s did not register: %m", bench_daemon_name(d));
		result_note(res, "did not register within 10 s");
		goto out;
	}
	res->startup_ms[size_idx] = (double)(bench_now_ns() - t0) / 1e6;
	if (bench_proc_rss_kib(hostsim_daemon_pid(hd), &res->rss_start_kib[size_idx],
			       &res->anon_start_kib[size_idx]) < 0)
		res->rss_start_kib[size_idx] = -1;

	r = measure_enumerate(b, d, hostsim_daemon_pid(hd), size_idx, res);
	if (r >= 0 && mixed)
		r = measure_mixed(b, d, hostsim_daemon_pid(hd), res);
	/* After the idle RSS was taken: netlink state built here must not count as idle. */
	if (r >= 0 && mixed)
		r = measure_ip_info(b, d, hostsim_daemon_pid(hd), res);
out:
	hostsim_kvp_stats(b->sim, &after);
	if (after.timeouts > before.timeouts)
		result_note(res, "%u request(s) timed out", after.timeouts - before.timeouts);
	if (after.registrations > before.registrations + 1)
		result_note(res, "re-registered %u time(s)",
			    after.registrations - before.registrations - 1);
	if (r < 0 || res->notes[0]) {
		dump_log_tail(hostsim_daemon_log_path(hd));
		if (d == BENCH_UPSTREAM)
			dump_log_tail(hostsim_syslog_path(b->sim));
	}
	stop_daemon(d, hd, res);
	return r;
}

static void run_daemon(Bench *b, BenchDaemon d, DaemonResult *res)
{
	int r;

	log_info("%s: %s", bench_daemon_name(d), b->cfg->path[d]);
	res->ran = true;
	r = run_phase(b, d, 0, true, res);
	if (r >= 0)
		r = run_phase(b, d, 1, false, res);
	if (r < 0) {
		res->failed = true;
		result_note(res, "measurement aborted: %s", strerror(-r));
	}
	if (res->get_mismatch > 0)
		result_note(res, "%u GET(s) returned a wrong value", res->get_mismatch);
	if (res->bad_status > 0)
		result_note(res, "%u mixed request(s) not HV_S_OK", res->bad_status);
	if (res->ip_bad_status > 0)
		result_note(res, "%u GET_IP_INFO answer(s) not HV_S_OK", res->ip_bad_status);
	if (res->ip_wrong > 0)
		result_note(res, "%u GET_IP_INFO answer(s) not hv0's configuration%s: %s",
			    res->ip_wrong,
			    d == BENCH_UPSTREAM ? " (recorded, not counted as a failure)" : "",
			    res->ip_problems);
	if (res->ip_changed > 0)
		result_note(res, "%u GET_IP_INFO answer(s) differ from the first", res->ip_changed);
}

static void help(const char *prog)
{
	printf("Usage: %s [OPTIONS]\n"
	       "Benchmarks KVP daemons against the simulated Hyper-V host (run as root).\n\n"
	       "      --quick          fewer requests and runs (CI smoke)\n"
	       "      --daemon=PATH    our daemon (default %s)\n"
	       "      --null=PATH      the null daemon (default %s)\n"
	       "      --upstream=PATH  upstream daemon (default %s)\n"
	       "      --only=LIST      comma-separated subset of hvguest,upstream,floor\n"
	       "      --requests=N     measured mixed requests (default 10000, quick 1000)\n"
	       "      --warmup=N       warm-up requests (default 500, quick 100)\n"
	       "      --runs=N         enumerations per size, median reported (default 3)\n"
	       "      --rounds=N       repeat everything N times (1-%d), table = medians "
	       "(default 3, quick 1)\n"
	       "      --ip-requests=N  measured GET_IP_INFO requests for hvguest and floor "
	       "(default 200, quick 50; 0 skips)\n"
	       "      --ip-requests-upstream=N\n"
	       "                       the same for upstream, 0.5-2 s each (default 20, quick 3)\n"
	       "      --strict         exit with status 2 when a target is missed\n"
	       "  -h, --help           show this help\n",
	       prog, BENCH_HVGUEST_DAEMON, BENCH_NULL_DAEMON, BENCH_UPSTREAM_DAEMON,
	       BENCH_MAX_ROUNDS);
}

static int parse_only(const char *list, BenchConfig *cfg)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++)
		cfg->enabled[d] = false;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		BenchDaemon d = bench_daemon_from_name(w);

		if (d < 0)
			return -EINVAL;
		cfg->enabled[d] = true;
	}
	return 0;
}

static int parse_unsigned(const char *s, unsigned min, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > 100000000)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* Returns 1 to run, 0 to exit successfully (help), negative errno on bad options. */
static int parse_argv(int argc, char *argv[], BenchConfig *cfg)
{
	enum {
		ARG_QUICK = 0x100,
		ARG_DAEMON,
		ARG_NULL,
		ARG_UPSTREAM,
		ARG_ONLY,
		ARG_REQUESTS,
		ARG_WARMUP,
		ARG_RUNS,
		ARG_ROUNDS,
		ARG_IP_REQUESTS,
		ARG_IP_REQUESTS_UPSTREAM,
		ARG_STRICT
	};
	static const struct option options[] = {
		{ "quick", no_argument, NULL, ARG_QUICK },
		{ "daemon", required_argument, NULL, ARG_DAEMON },
		{ "null", required_argument, NULL, ARG_NULL },
		{ "upstream", required_argument, NULL, ARG_UPSTREAM },
		{ "only", required_argument, NULL, ARG_ONLY },
		{ "requests", required_argument, NULL, ARG_REQUESTS },
		{ "warmup", required_argument, NULL, ARG_WARMUP },
		{ "runs", required_argument, NULL, ARG_RUNS },
		{ "rounds", required_argument, NULL, ARG_ROUNDS },
		{ "ip-requests", required_argument, NULL, ARG_IP_REQUESTS },
		{ "ip-requests-upstream", required_argument, NULL, ARG_IP_REQUESTS_UPSTREAM },
		{ "strict", no_argument, NULL, ARG_STRICT },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned requests = 0, warmup = UINT32_MAX, runs = 0, rounds = 0, ip = UINT32_MAX,
		 ip_upstream = UINT32_MAX;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case ARG_QUICK:
			cfg->quick = true;
			break;
		case ARG_DAEMON:
			cfg->path[BENCH_HVGUEST] = optarg;
			break;
		case ARG_NULL:
			cfg->path[BENCH_FLOOR] = optarg;
			break;
		case ARG_UPSTREAM:
			cfg->path[BENCH_UPSTREAM] = optarg;
			break;
		case ARG_ONLY:
			r = parse_only(optarg, cfg);
			break;
		case ARG_REQUESTS:
			r = parse_unsigned(optarg, 1, &requests);
			break;
		case ARG_WARMUP:
			r = parse_unsigned(optarg, 0, &warmup);
			break;
		case ARG_RUNS:
			r = parse_unsigned(optarg, 1, &runs);
			break;
		case ARG_ROUNDS:
			r = parse_unsigned(optarg, 1, &rounds);
			if (r >= 0 && rounds > BENCH_MAX_ROUNDS)
				r = -ERANGE;
			break;
		case ARG_IP_REQUESTS:
			r = parse_unsigned(optarg, 0, &ip);
			break;
		case ARG_IP_REQUESTS_UPSTREAM:
			r = parse_unsigned(optarg, 0, &ip_upstream);
			break;
		case ARG_STRICT:
			cfg->strict = true;
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
	cfg->requests = requests ? requests : cfg->quick ? 1000 : 10000;
	cfg->warmup = warmup != UINT32_MAX ? warmup : cfg->quick ? 100 : 500;
	cfg->runs = runs ? runs : cfg->quick ? 1 : 3;
	cfg->rounds = rounds ? rounds : cfg->quick ? 1 : 3;
	cfg->ip_requests[BENCH_HVGUEST] = ip != UINT32_MAX ? ip : cfg->quick ? 50 : 200;
	cfg->ip_requests[BENCH_FLOOR] = cfg->ip_requests[BENCH_HVGUEST];
	cfg->ip_requests[BENCH_UPSTREAM] = ip_upstream != UINT32_MAX ? ip_upstream
					   : cfg->quick		     ? 3
								     : 20;
	return 1;
}

/*
 * Gives hv0 its 4th address and waits until the kernel has finished duplicate address
 * detection on its link-local address, so that every daemon sees the same, final set. Then
 * describes the NIC for the report.
 */
static int setup_nic(BenchReport *rep)
{
	BenchNicAddr nic[BENCH_NIC_MAX_ADDRS];
	uint64_t deadline = bench_now_ns() + DAD_TIMEOUT_USEC * 1000;
	char text[sizeof(rep->nic)];
	size_t n = 0, len;
	bool tentative;
	int r;

	r = bench_net_add_address(NIC_NAME, NIC_EXTRA_ADDR);
	if (r < 0)
		return log_error_errno(r, "Failed to add " NIC_EXTRA_ADDR " to " NIC_NAME ": %m");
	do {
		r = bench_net_addresses(NIC_NAME, nic, ELEMENTSOF(nic), &n);
		if (r < 0)
			return log_error_errno(r,
					       "Failed to list the addresses of " NIC_NAME ": %m");
		tentative = false;
		for (size_t i = 0; i < n; i++)
			tentative = tentative || nic[i].tentative;
		if (tentative)
			(void)usleep(50000);
	} while (tentative && bench_now_ns() < deadline);
	if (tentative)
		log_warning("Duplicate address detection on " NIC_NAME " still runs after %u s.",
			    (unsigned)(DAD_TIMEOUT_USEC / USEC_PER_SEC));

	len = (size_t)snprintf(text, sizeof(text), NIC_NAME " %s (%zu addresses:", HOSTSIM_MAC, n);
	for (size_t i = 0; i < n && len < sizeof(text); i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s %s/%u%s", i ? "," : "",
					nic[i].text, nic[i].prefixlen,
					nic[i].tentative ? " tentative" : "");
	if (len < sizeof(text))
		(void)snprintf(text + len, sizeof(text) - len, ")");
	bench_report_set_ip(rep, rep->ip_requests, text);
	log_info("GET_IP_INFO target: %s", text);
	return 0;
}

static int run(const BenchConfig *cfg, BenchReport *rep)
{
	HostSimOptions o = {
		/* A network namespace with hv0 for GET_IP_INFO; the other measurements do not
		 * touch the network. */
		.netns = true,
		.tmpfs_var_lib = true,
		.kvp_timeout_usec = 30 * USEC_PER_SEC,
	};
	_cleanup_(hostsim_freep) HostSim *sim = NULL;
	_cleanup_free_ unsigned *gen = calloc(cfg->host_records, sizeof(unsigned));
	Bench b = { .cfg = cfg, .generation = gen };
	int r;

	if (!gen)
		return log_oom();
	/* Single-threaded here, as hostsim_new()'s unshare() requires. */
	r = hostsim_new(&o, &sim);
	if (r < 0)
		return log_error_errno(r, "Failed to create the simulated host (root and "
					  "/dev/fuse needed): %m");
	b.sim = sim;
	/* The bench process is inside the simulator's network namespace now. */
	r = setup_nic(rep);
	if (r < 0)
		return r;
	for (unsigned k = 0; k < rep->rounds; k++) {
		if (rep->rounds > 1)
			log_info("Round %u/%u", k + 1, rep->rounds);
		/* Rotate the order so that slow drifts in machine load do not favour one. */
		for (unsigned j = 0; j < _BENCH_DAEMON_MAX; j++) {
			BenchDaemon d = (BenchDaemon)((k + j) % _BENCH_DAEMON_MAX);

			if (cfg->enabled[d])
				run_daemon(&b, d, &rep->res[k][d]);
		}
	}
	return 0;
}

int main(int argc, char *argv[])
{
	BenchConfig cfg = {
		.host_records = 1000,
		.path = { BENCH_HVGUEST_DAEMON, BENCH_UPSTREAM_DAEMON, BENCH_NULL_DAEMON },
		.enabled = { true, true, true },
	};
	BenchReport rep = {};
	int r;

	log_open("bench-kvp", LOG_TARGET_CONSOLE);
	r = parse_argv(argc, argv, &cfg);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		/* 77: "skipped" for meson's benchmark runner. */
		log_warning("bench-kvp needs root and /dev/fuse, skipping.");
		return 77;
	}
	for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++) {
		if (cfg.enabled[d] && access(cfg.path[d], X_OK) < 0) {
			(void)snprintf(rep.skipped[d], sizeof(rep.skipped[d]),
				       "skipped: '%s' is not executable (%m)", cfg.path[d]);
			log_warning("%s %s", bench_daemon_name(d), rep.skipped[d]);
			cfg.enabled[d] = false;
		}
	}

	bench_report_init(&rep, cfg.requests, cfg.warmup, cfg.runs, cfg.host_records, cfg.rounds);
	for (unsigned d = 0; d < _BENCH_DAEMON_MAX; d++)
		rep.ip_requests[d] = cfg.enabled[d] ? cfg.ip_requests[d] : 0;
	r = run(&cfg, &rep);
	if (r < 0)
		return EXIT_FAILURE;
	bench_report_finish(&rep);
	bench_report_print(&rep, stdout);
	return cfg.strict && !bench_report_targets_met(&rep) ? 2 : EXIT_SUCCESS;
}
