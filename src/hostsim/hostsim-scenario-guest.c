/* SPDX-License-Identifier: MIT */
/*
 * Scenario commands that act on the guest (cloud-init appends, commands) and on the daemon
 * (restart, signals, waiting for registration), plus counters and logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "hostsim/hostsim-scenario-internal.h"

#define EXEC_TIMEOUT_USEC (60 * UINT64_C(1000000))
#define POOL_RECORD_SIZE 2560u
#define POOL_KEY_SIZE 512u

static bool stat_lookup(const HostSimKvpStats *s, const char *name, uint64_t *ret)
{
	const struct {
		const char *name;
		uint64_t value;
	} fields[] = {
		{ "opens", s->opens },
		{ "ebusy", s->ebusy },
		{ "releases", s->releases },
		{ "registrations", s->registrations },
		{ "einval_writes", s->einval_writes },
		{ "timeouts", s->timeouts },
		{ "ready", s->ready },
	};

	for (size_t i = 0; i < ELEMENTSOF(fields); i++)
		if (strcmp(fields[i].name, name) == 0) {
			*ret = fields[i].value;
			return true;
		}
	return false;
}

/*
 * Counter name -> value: "NAME" on the --service device, "kvp.NAME", "vss.NAME" or
 * "fcopy.NAME" on a given one. All devices have the same counters (fcopy: see
 * scenario_fcopy_stats()).
 */
static bool stat_field(ScenarioEnv *env, const char *name, uint64_t *ret)
{
	ScenarioService service = env->service;
	HostSimKvpStats s;
	HostSimVssStats v;

	if (strncmp(name, "kvp.", 4) == 0 || strncmp(name, "vss.", 4) == 0) {
		service = name[0] == 'k' ? SCENARIO_SERVICE_KVP : SCENARIO_SERVICE_VSS;
		name += 4;
	} else if (strncmp(name, "fcopy.", 6) == 0) {
		service = SCENARIO_SERVICE_FCOPY;
		name += 6;
	}
	if (service == SCENARIO_SERVICE_FCOPY) {
		scenario_fcopy_stats(env, &s);
	} else if (service == SCENARIO_SERVICE_VSS) {
		hostsim_vss_stats(env->sim, &v);
		s = (HostSimKvpStats){
			.opens = v.opens,
			.ebusy = v.ebusy,
			.releases = v.releases,
			.registrations = v.registrations,
			.einval_writes = v.einval_writes,
			.timeouts = v.timeouts,
			.ready = v.ready,
		};
	} else {
		hostsim_kvp_stats(env->sim, &s);
	}
	return stat_lookup(&s, name, ret);
}

int scenario_cmd_expect_stat(Run *run, int argc, char **argv)
{
	uint64_t want, got;

	if (!scenario_parse_u64(argv[2], UINT32_MAX, &want))
		return scenario_fail(run, "bad number \"%s\"", argv[2]);
	if (!stat_field(run->env, argv[1], &got))
		return scenario_fail(run, "unknown counter \"%s\"", argv[1]);
	if (got != want)
		return scenario_fail(run, "expected %s = %" PRIu64 ", got %" PRIu64, argv[1], want,
				     got);
	fprintf(run->env->out, "      ok: %s = %" PRIu64 "\n", argv[1], want);
	return 0;
}

int scenario_cmd_stats(Run *run, int argc, char **argv)
{
	HostSimKvpStats s;
	HostSimVssStats v;
	HostSimFuseStats f;

	hostsim_kvp_stats(run->env->sim, &s);
	hostsim_vss_stats(run->env->sim, &v);
	hostsim_fuse_stats(run->env->sim, &f);
	fprintf(run->env->out,
		"kernel> hv_kvp: state %s; opens %u, EBUSY %u, releases %u, registrations %u,\n"
		"        EINVAL writes %u, host timeouts %u\n"
		"kernel> hv_vss: state %s; opens %u, EBUSY %u, releases %u, registrations %u,\n"
		"        EINVAL writes %u, host timeouts %u\n"
		"        FUSE: reads %u, writes %u, polls %u, poll notifications %u, parked reads "
		"%u, interrupts %u\n",
		hostsim_kvp_state(run->env->sim), s.opens, s.ebusy, s.releases, s.registrations,
		s.einval_writes, s.timeouts, hostsim_vss_state(run->env->sim), v.opens, v.ebusy,
		v.releases, v.registrations, v.einval_writes, v.timeouts, f.reads, f.writes,
		f.polls, f.notifies, f.parked, f.interrupts);
	return 0;
}

/* cloud-init's KVP reporter: append-only, flock()ed, one write() per 2560-byte record. */
int scenario_cmd_append_pool1(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	const char *prefix = argc > 2 ? argv[2] : "CLOUD_INIT";
	_cleanup_close_ int fd = -EBADF;
	char path[PATH_MAX];
	uint64_t n;

	if (!scenario_parse_u64(argv[1], 1000000, &n))
		return scenario_fail(run, "bad record count \"%s\"", argv[1]);
	if (snprintf(path, sizeof(path), "%s/.kvp_pool_1", run->env->pool_dir) >= (int)sizeof(path))
		return scenario_fail(run, "path too long");

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return scenario_fail(run, "cannot open '%s': %m", path);
	if (flock(fd, LOCK_EX) < 0)
		return scenario_fail(run, "cannot lock '%s': %m", path);

	for (uint64_t i = 0; i < n; i++) {
		char rec[POOL_RECORD_SIZE] = {};
		int k, v;

		k = snprintf(rec, POOL_KEY_SIZE, "%s|%" PRIu64, prefix, i);
		v = snprintf(rec + POOL_KEY_SIZE, POOL_RECORD_SIZE - POOL_KEY_SIZE,
			     "{\"name\":\"append-pool1\",\"index\":%" PRIu64
			     ",\"result\":\"SUCCESS\",\"msg\":\"simulated provisioning event\"}",
			     i);
		if (k < 0 || k >= (int)POOL_KEY_SIZE || v < 0 ||
		    v >= (int)(POOL_RECORD_SIZE - POOL_KEY_SIZE)) {
			(void)flock(fd, LOCK_UN);
			return scenario_fail(run, "prefix too long");
		}
		if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
			(void)flock(fd, LOCK_UN);
			return scenario_fail(run, "short write to '%s'", path);
		}
	}
	(void)flock(fd, LOCK_UN);
	fprintf(out, "guest> cloud-init appended %" PRIu64 " record%s \"%s|N\" to %s\n", n,
		n == 1 ? "" : "s", prefix, path);
	return 0;
}

int scenario_cmd_exec(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	_cleanup_free_ char *output = NULL;
	char desc[64];
	int status, r;

	/* "@STATE@" as a whole word names the pool directory, as in the daemon's arguments. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "@STATE@") == 0)
			argv[i] = (char *)run->env->pool_dir;

	fputs("guest$", out);
	for (int i = 1; i < argc; i++)
		fprintf(out, " %s", argv[i]);
	fputc('\n', out);

	r = hostsim_run_capture(run->env->sim, argv + 1, EXEC_TIMEOUT_USEC, &status, &output);
	if (r < 0)
		return scenario_fail(run, "cannot run '%s': %s", argv[1], strerror(-r));

	for (char *p = output, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl) {
			fprintf(out, "      | %s\n", p);
			break;
		}
		fprintf(out, "      | %.*s\n", (int)(nl - p), p);
	}
	if (status != 0) {
		scenario_describe_wait_status(desc, sizeof(desc), status);
		fprintf(out, "      (%s)\n", desc);
	}
	return 0;
}

int scenario_start_daemon(ScenarioEnv *env)
{
	uint64_t start = scenario_now_usec();
	unsigned before = scenario_registrations(env);
	int r;

	r = hostsim_daemon_spawn(env->sim, env->daemon_argv, NULL, &env->daemon);
	if (r < 0) {
		fprintf(env->out, "guest> cannot start '%s': %s\n", env->daemon_argv[0],
			strerror(-r));
		return r;
	}
	r = scenario_wait_registered(env, before + 1, SCENARIO_READY_TIMEOUT_USEC);
	if (r < 0) {
		fprintf(env->out,
			"kernel> the daemon (pid %d) did not register on %s within 10 s\n",
			(int)hostsim_daemon_pid(env->daemon),
			scenario_service_device_name(env->service));
		return r;
	}
	fprintf(env->out, "kernel> daemon registered on %s (pid %d) after %.1f ms\n",
		scenario_service_device_name(env->service), (int)hostsim_daemon_pid(env->daemon),
		scenario_ms_since(start));
	return 0;
}

int scenario_cmd_restart(Run *run, int argc, char **argv)
{
	ScenarioEnv *env = run->env;
	char desc[64];

	if (env->daemon) {
		int st = hostsim_daemon_stop(env->daemon);

		env->daemon = NULL;
		if (st < 0)
			(void)snprintf(desc, sizeof(desc), "%s", strerror(-st));
		else
			scenario_describe_wait_status(desc, sizeof(desc), st);
		fprintf(env->out, "guest> daemon stopped: %s\n", desc);
	}
	if (scenario_start_daemon(env) < 0)
		return scenario_fail(run, "restart failed");
	return 0;
}

static int parse_signal(const char *s)
{
	uint64_t v;

	if (scenario_parse_u64(s, NSIG - 1, &v))
		return (int)v;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && strcasecmp(abbrev, s) == 0)
			return sig;
	}
	return -EINVAL;
}

int scenario_cmd_kill(Run *run, int argc, char **argv)
{
	ScenarioEnv *env = run->env;
	char desc[64];
	int sig, r;

	sig = parse_signal(argv[1]);
	if (sig < 0)
		return scenario_fail(run, "unknown signal \"%s\"", argv[1]);
	if (!env->daemon)
		return scenario_fail(run, "no daemon is running");

	fprintf(env->out, "guest> kill -%s %d\n", sigabbrev_np(sig),
		(int)hostsim_daemon_pid(env->daemon));
	r = hostsim_daemon_signal(env->daemon, sig);
	if (r < 0)
		return scenario_fail(run, "signal failed: %s", strerror(-r));
	if (sig == SIGTERM || sig == SIGKILL) {
		scenario_describe_wait_status(desc, sizeof(desc), r);
		fprintf(env->out, "      daemon %s\n", desc);
	}
	return 0;
}

int scenario_cmd_sleep(Run *run, int argc, char **argv)
{
	char *end;
	double s = strtod(argv[1], &end);
	struct timespec ts;

	if (*end || !(s >= 0) || s > 86400)
		return scenario_fail(run, "bad duration \"%s\"", argv[1]);
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	fprintf(run->env->out, "...   (%g s)\n", s);
	fflush(run->env->out);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !*run->env->interrupted)
		;
	return 0;
}

static bool parse_seconds(const char *s, uint64_t *ret_usec)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || !(v > 0) || v > 86400)
		return false;
	*ret_usec = (uint64_t)(v * 1e6);
	return true;
}

int scenario_cmd_wait_ready(Run *run, int argc, char **argv)
{
	uint64_t start = scenario_now_usec(), t = SCENARIO_READY_TIMEOUT_USEC, n = 0;
	bool registered = strcmp(argv[0], "wait-registered") == 0;
	const char *dev = scenario_service_device_name(run->env->service);
	int r;

	if (registered && !scenario_parse_u64(argv[1], UINT32_MAX, &n))
		return scenario_fail(run, "bad count \"%s\"", argv[1]);
	if (argc > 1 + registered && !parse_seconds(argv[1 + registered], &t))
		return scenario_fail(run, "bad duration \"%s\"", argv[1 + registered]);

	r = scenario_wait_registered(run->env, (unsigned)n, t);
	if (r < 0)
		return scenario_fail(run, "%s is not ready (state %s)", dev,
				     scenario_service_state(run->env));
	if (registered)
		fprintf(run->env->out, "kernel> %s ready, %" PRIu64 " registrations (%.1f ms)\n",
			dev, n, scenario_ms_since(start));
	else
		fprintf(run->env->out, "kernel> %s ready (%.1f ms)\n", dev,
			scenario_ms_since(start));
	return 0;
}

static void dump_file(FILE *out, const char *title, const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[1024];

	fprintf(out, "---- %s (%s)\n", title, path);
	if (!f) {
		fprintf(out, "      (none)\n");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		fprintf(out, "      | %s\n", line);
	}
}

void scenario_show_logs(ScenarioEnv *env)
{
	dump_file(env->out, "syslog", hostsim_syslog_path(env->sim));
	if (env->daemon)
		dump_file(env->out, "daemon stdout/stderr", hostsim_daemon_log_path(env->daemon));
}

int scenario_cmd_show_log(Run *run, int argc, char **argv)
{
	scenario_show_logs(run->env);
	return 0;
}
