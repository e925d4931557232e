/* SPDX-License-Identifier: MIT */
/*
 * Scenario commands of the host's file-copy IC (Copy-VMFile, a cancelled copy, a rescinded uio
 * channel) and checks of the files the daemon wrote, on the transport chosen with
 * --fcopy-transport (the pre-6.10 char device or the uio channel).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim-scenario-internal.h"

#define POLL_USEC 10000u /* registration polling step for the char device */
#define COMPARE_CHUNK 65536u

static uint64_t remaining(uint64_t deadline)
{
	uint64_t now = scenario_now_usec();

	return now >= deadline ? 1 : deadline - now;
}

int scenario_fcopy_wait_registered(ScenarioEnv *env, unsigned n, uint64_t timeout_usec)
{
	uint64_t deadline = scenario_now_usec() + timeout_usec;
	HostSimFcopyStats s;

	switch (env->fcopy_transport) {
	case HOSTSIM_FCOPY_UIO:
		return hostsim_fcopy_uio_wait_ready(env->sim, timeout_usec);
	case HOSTSIM_FCOPY_CHARDEV:
		/* No wait_registered for hv_fcopy: poll the counter, then wait for READY. */
		for (;;) {
			struct timespec ts = { .tv_nsec = POLL_USEC * 1000L };

			hostsim_fcopy_stats(env->sim, &s);
			if (s.registrations >= n)
				break;
			if (scenario_now_usec() >= deadline)
				return -ETIMEDOUT;
			(void)nanosleep(&ts, NULL);
		}
		return hostsim_fcopy_wait_ready(env->sim, remaining(deadline));
	}
	return -EINVAL;
}

const char *scenario_fcopy_state(ScenarioEnv *env)
{
	HostSimFcopyUioStats u;
	HostSimFcopyStats c;

	switch (env->fcopy_transport) {
	case HOSTSIM_FCOPY_UIO:
		if (hostsim_fcopy_uio_stats(env->sim, &u) < 0)
			return "NO_CHANNEL";
		if (u.killed)
			return "RESCINDED";
		if (u.negotiated)
			return "NEGOTIATED";
		return u.negotiation_failed ? "NEGOTIATION_FAILED" : "OFFERED";
	case HOSTSIM_FCOPY_CHARDEV:
		hostsim_fcopy_stats(env->sim, &c);
		return c.ready ? "READY" : "DEVICE_INIT";
	}
	return "?";
}

void scenario_fcopy_stats(ScenarioEnv *env, HostSimKvpStats *ret)
{
	HostSimFcopyUioStats u;
	HostSimFcopyStats c;

	switch (env->fcopy_transport) {
	case HOSTSIM_FCOPY_UIO:
		/* The uio channel has no opens or registrations: the negotiation stands for it. */
		(void)hostsim_fcopy_uio_stats(env->sim, &u);
		*ret = (HostSimKvpStats){
			.registrations = u.negotiated ? 1 : 0,
			.timeouts = u.timeouts,
			.ready = u.negotiated && !u.killed,
		};
		return;
	case HOSTSIM_FCOPY_CHARDEV:
		hostsim_fcopy_stats(env->sim, &c);
		*ret = (HostSimKvpStats){
			.opens = c.opens,
			.ebusy = c.ebusy,
			.releases = c.releases,
			.registrations = c.registrations,
			.einval_writes = c.einval_writes,
			.timeouts = c.timeouts,
			.ready = c.ready,
		};
		return;
	}
	*ret = (HostSimKvpStats){};
}

static void print_target(FILE *out, const char *dir, const char *name)
{
	fputs(" to ", out);
	scenario_print_quoted(out, dir);
	fputs(" / ", out);
	scenario_print_quoted(out, name);
}

int scenario_cmd_copy_file(Run *run, int argc, char **argv)
{
	ScenarioEnv *env = run->env;
	FILE *out = env->out;
	HostSimFcopyTransport t = env->fcopy_transport;
	uint32_t flags = 0, status, want = 0;
	bool check = false;
	uint64_t start;
	struct stat st;
	int r;

	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "overwrite") == 0)
			flags |= HOSTSIM_FCOPY_OVER_WRITE;
		else if (strcmp(argv[i], "create-path") == 0)
			flags |= HOSTSIM_FCOPY_CREATE_PATH;
		else if (strcmp(argv[i], "expect") == 0 && i + 1 < argc &&
			 scenario_parse_status(argv[i + 1], &want)) {
			check = true;
			i++;
		} else
			return scenario_fail(run, "unknown copy-file option \"%s\"", argv[i]);
	}
	if (stat(argv[1], &st) < 0)
		return scenario_fail(run, "cannot read the host's file '%s': %m", argv[1]);

	fprintf(out, "host> Copy-VMFile (%s) ", hostsim_fcopy_transport_to_string(t));
	scenario_print_quoted(out, argv[1]);
	fprintf(out, ", %" PRIu64 " bytes", (uint64_t)st.st_size);
	print_target(out, argv[2], argv[3]);
	fprintf(out, "%s%s\n", flags & HOSTSIM_FCOPY_OVER_WRITE ? " -Force" : "",
		flags & HOSTSIM_FCOPY_CREATE_PATH ? " -CreateFullPath" : "");
	fflush(out);

	start = scenario_now_usec();
	r = hostsim_fcopy_via_copy_file(env->sim, t, argv[1], argv[2], argv[3], flags, &status);
	if (r < 0)
		return scenario_fail(run, "the host could not send the file: %s", strerror(-r));
	scenario_print_status(run, status, start);
	if (check) {
		if (status != want)
			return scenario_fail(run, "expected status %s, got %s",
					     hv_status_to_string(want),
					     hv_status_to_string(status));
		fprintf(out, "      ok: status is %s\n", hv_status_to_string(want));
	}
	return 0;
}

/* One narrated host message of a hand-driven copy; false when the simulator failed. */
static bool step(Run *run, const char *what, int r, uint32_t status, uint64_t start)
{
	if (r < 0) {
		scenario_fail(run, "the host could not send %s: %s", what, strerror(-r));
		return false;
	}
	fprintf(run->env->out, "      %s -> %s (%.2f ms)\n", what, hv_status_to_string(status),
		scenario_ms_since(start));
	return true;
}

int scenario_cmd_copy_cancel(Run *run, int argc, char **argv)
{
	ScenarioEnv *env = run->env;
	FILE *out = env->out;
	HostSimFcopyTransport t = env->fcopy_transport;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	uint64_t limit, offset = 0, start = scenario_now_usec();
	uint32_t status = HV_S_OK;
	struct stat st;
	int r;

	if (!scenario_parse_u64(argv[4], UINT64_MAX, &limit))
		return scenario_fail(run, "bad byte count \"%s\"", argv[4]);
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return scenario_fail(run, "cannot read the host's file '%s': %m", argv[1]);
	buf = malloc(HOSTSIM_FCOPY_DATA_MAX);
	if (!buf)
		return -ENOMEM;

	fprintf(out, "host> Copy-VMFile (%s) ", hostsim_fcopy_transport_to_string(t));
	scenario_print_quoted(out, argv[1]);
	print_target(out, argv[2], argv[3]);
	fprintf(out, ", cancelled after %" PRIu64 " bytes\n", limit);
	fflush(out);

	r = hostsim_fcopy_via_start(env->sim, t, argv[2], argv[3], 0, (uint64_t)st.st_size,
				    &status);
	if (!step(run, "START_FILE_COPY", r, status, start))
		return 0;
	while (status == HV_S_OK && offset < limit) {
		size_t want = (size_t)MIN(limit - offset, (uint64_t)HOSTSIM_FCOPY_DATA_MAX);
		ssize_t n = pread(fd, buf, want, (off_t)offset);
		char what[64];

		if (n < 0)
			return scenario_fail(run, "cannot read the host's file: %m");
		if (n == 0)
			break;
		r = hostsim_fcopy_via_write(env->sim, t, offset, buf, (size_t)n, &status);
		(void)snprintf(what, sizeof(what), "WRITE_TO_FILE @%" PRIu64 " +%zd", offset, n);
		if (!step(run, what, r, status, start))
			return 0;
		offset += (uint64_t)n;
	}
	r = hostsim_fcopy_via_cancel(env->sim, t, &status);
	if (!step(run, "CANCEL_FCOPY", r, status, start))
		return 0;
	scenario_print_status(run, status, start);
	return 0;
}

int scenario_cmd_fcopy_rescind(Run *run, int argc, char **argv)
{
	int r;

	fputs("host> rescinds the fcopy channel (uio: the daemon's reads see end of file)\n",
	      run->env->out);
	r = hostsim_fcopy_uio_kill_channel(run->env->sim);
	if (r < 0)
		return scenario_fail(run, "no uio channel to rescind (--fcopy-transport uio)");
	return 0;
}

/* 0 equal, 1 different, negative errno. */
static int compare_files(const char *a, const char *b)
{
	_cleanup_close_ int fa = open(a, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int fb = open(b, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint8_t *ba = malloc(COMPARE_CHUNK);
	_cleanup_free_ uint8_t *bb = malloc(COMPARE_CHUNK);

	if (fa < 0 || fb < 0)
		return -errno;
	if (!ba || !bb)
		return -ENOMEM;
	for (;;) {
		ssize_t na = read(fa, ba, COMPARE_CHUNK);
		ssize_t nb = read(fb, bb, COMPARE_CHUNK);

		/* Regular files: short reads only at the end. */
		if (na < 0 || nb < 0)
			return -errno;
		if (na != nb || memcmp(ba, bb, (size_t)na) != 0)
			return 1;
		if (na == 0)
			return 0;
	}
}

int scenario_cmd_expect_file(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	const char *path = argv[1], *what = argv[2];
	struct stat st;
	uint64_t v;
	int r;

	if (strcmp(what, "absent") == 0) {
		if (argc != 3)
			return scenario_fail(run, "usage: expect-file PATH absent");
		if (lstat(path, &st) == 0)
			return scenario_fail(run, "'%s' exists", path);
		fprintf(out, "      ok: %s does not exist\n", path);
		return 0;
	}
	if (argc != 4)
		return scenario_fail(run,
				     "usage: expect-file PATH same LOCAL | size N | mode OCTAL");
	if (lstat(path, &st) < 0)
		return scenario_fail(run, "cannot stat '%s': %m", path);
	if (!S_ISREG(st.st_mode))
		return scenario_fail(run, "'%s' is not a regular file", path);

	if (strcmp(what, "same") == 0) {
		r = compare_files(path, argv[3]);
		if (r < 0)
			return scenario_fail(run, "cannot compare '%s' and '%s': %s", path, argv[3],
					     strerror(-r));
		if (r > 0)
			return scenario_fail(run, "'%s' differs from '%s'", path, argv[3]);
		fprintf(out, "      ok: %s has the same %" PRIu64 " bytes as %s\n", path,
			(uint64_t)st.st_size, argv[3]);
	} else if (strcmp(what, "size") == 0) {
		if (!scenario_parse_u64(argv[3], UINT64_MAX, &v))
			return scenario_fail(run, "bad size \"%s\"", argv[3]);
		if ((uint64_t)st.st_size != v)
			return scenario_fail(
				run, "expected %s to have %" PRIu64 " bytes, it has %" PRIu64, path,
				v, (uint64_t)st.st_size);
		fprintf(out, "      ok: %s has %" PRIu64 " bytes\n", path, v);
	} else if (strcmp(what, "mode") == 0) {
		char *end;
		unsigned long m = strtoul(argv[3], &end, 8);

		if (*end || end == argv[3] || m > 07777)
			return scenario_fail(run, "bad mode \"%s\"", argv[3]);
		if ((st.st_mode & 07777) != m)
			return scenario_fail(run, "expected %s to have mode %04lo, it has %04o",
					     path, m, (unsigned)(st.st_mode & 07777));
		fprintf(out, "      ok: %s has mode %04lo\n", path, m);
	} else {
		return scenario_fail(run, "unknown expect-file check \"%s\"", what);
	}
	return 0;
}
