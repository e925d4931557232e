/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/event.h"
#include "common/fileio.h"
#include "ctl/ctl-status.h"

/* 2026-11-22 10:12:03 UTC */
#define T0 UINT64_C(1795342323)
#define NOW_USEC ((T0 + 5) * USEC_PER_SEC)

typedef struct Fixture {
	char dir[64];
	int fd;
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-ctl-status-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->fd = open_dir(f->dir);
	assert_true(f->fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;
	const char *names[] = { "kvp-status",	 "vss-status", "fcopy-status",
				"timesync.json", "out",	       "err" };

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		(void)unlinkat(f->fd, names[i], 0);
	close(f->fd);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void put(Fixture *f, const char *name, const char *text)
{
	assert_int_equal(write_file_atomic_at(f->fd, name, ".tmp-test-", text, strlen(text), 0644),
			 0);
}

/* A pid that certainly belongs to no process: a child that has been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void timesync_json(char *buf, size_t size, uint64_t updated_usec)
{
	snprintf(
		buf, size,
		"{\"mode\":\"discipline\",\"adjusting\":true,\"reason\":\"\",\"phc\":\"/dev/ptp0\","
		"\"state\":\"locked\",\"offset_ns\":-1500.0,\"frequency_ppb\":12.000,"
		"\"stale\":false,\"synced\":true,\"steps\":1,\"external_steps\":0,\"events\":0,"
		"\"last_step_ns\":null,\"last_event\":\"\",\"updated_usec\":%llu}\n",
		(unsigned long long)updated_usec);
}

/* The report the printers are tested on: every daemon in a different state. */
static void fixed_report(CtlStatusReport *r)
{
	*r = (CtlStatusReport){};
	r->state[CTL_DAEMON_KVP] = CTL_STATE_RUNNING;
	r->pid[CTL_DAEMON_KVP] = 123;
	snprintf(r->kvp.device, sizeof(r->kvp.device), "/dev/vmbus/hv_kvp");
	r->kvp.requests[0] = 10;   /* get */
	r->kvp.requests[3] = 1522; /* enumerate */
	r->kvp.has_last = true;
	snprintf(r->kvp.last_op, sizeof(r->kvp.last_op), "get");
	snprintf(r->kvp.last_status, sizeof(r->kvp.last_status), "HV_S_OK");
	r->kvp.last_usec = NOW_USEC - 3 * USEC_PER_SEC;

	r->state[CTL_DAEMON_VSS] = CTL_STATE_UNKNOWN;
	r->vss.has_backup = true;
	snprintf(r->vss.id, sizeof(r->vss.id), "1795342300-42");
	snprintf(r->vss.result, sizeof(r->vss.result), "ok");
	r->vss.finished = (int64_t)T0;
	r->vss.filesystems = 3;
	r->vss.frozen = 3;
	r->vss.blocked_usec = 210000;

	r->state[CTL_DAEMON_FCOPY] = CTL_STATE_RUNNING;
	r->pid[CTL_DAEMON_FCOPY] = 77;
	snprintf(r->fcopy.device, sizeof(r->fcopy.device), "/dev/uio0");
	snprintf(r->fcopy.transport, sizeof(r->fcopy.transport), "uio");
	r->fcopy.transfers[0] = 4;
	r->fcopy.transfers[1] = 1;
	r->fcopy.has_last = true;
	snprintf(r->fcopy.last_dest, sizeof(r->fcopy.last_dest), "/tmp/x\x1b[2J");
	r->fcopy.last_bytes = 145;
	snprintf(r->fcopy.last_result, sizeof(r->fcopy.last_result), "ok");
	r->fcopy.last_usec = NOW_USEC - 150 * USEC_PER_SEC;

	r->state[CTL_DAEMON_TIMESYNC] = CTL_STATE_STOPPED;
}

static char *print_to_string(int (*fn)(FILE *, const CtlStatusReport *, uint64_t),
			     int (*fn2)(FILE *, const CtlStatusReport *), const CtlStatusReport *r)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	assert_int_equal(fn ? fn(f, r, NOW_USEC) : fn2(f, r), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_names(void **state)
{
	assert_string_equal(ctl_daemon_to_string(CTL_DAEMON_TIMESYNC), "timesync");
	assert_null(ctl_daemon_to_string(_CTL_DAEMON_MAX));
	assert_string_equal(ctl_daemon_state_to_string(CTL_STATE_STALE), "stale");
	assert_null(ctl_daemon_state_to_string(_CTL_STATE_INVALID));
}

static void test_read(void **state)
{
	Fixture *f = *state;
	CtlStatusReport r;
	char text[1024];

	/* Empty directory: nothing runs, vss cannot tell. */
	assert_int_equal(ctl_status_read(f->fd, NOW_USEC, &r), 0);
	assert_int_equal(r.state[CTL_DAEMON_KVP], CTL_STATE_STOPPED);
	assert_int_equal(r.state[CTL_DAEMON_VSS], CTL_STATE_UNKNOWN);
	assert_int_equal(r.state[CTL_DAEMON_FCOPY], CTL_STATE_STOPPED);
	assert_int_equal(r.state[CTL_DAEMON_TIMESYNC], CTL_STATE_STOPPED);
	assert_false(r.vss.has_backup);

	/* kvp: our own pid, so alive; fcopy: a reaped child's pid. */
	snprintf(text, sizeof(text),
		 "pid=%ld\nstarted=1\ndevice=/dev/vmbus/hv_kvp\nrequests_get=10\n"
		 "requests_get_ip_info=2\nrequests_invalid=1\nlast_op=set-ip-info\nlast_pool=3\n"
		 "last_status=HV_E_FAIL\nlast_time=123456\n",
		 (long)getpid());
	put(f, "kvp-status", text);
	snprintf(text, sizeof(text),
		 "pid=%ld\ndevice=/dev/uio3\ntransport=uio\ntransfers_ok=2\ntransfers_failed=1\n"
		 "transfers_cancelled=5\nlast_dest=/tmp/a b\nlast_bytes=9\nlast_result=cancelled\n"
		 "last_time=99\n",
		 (long)dead_pid());
	put(f, "fcopy-status", text);
	put(f, "vss-status",
	    "id=x\nresult=failed\nerror=16\nfinished=1795342323\nfilesystems=2\n"
	    "frozen=1\nblocked_usec=5000\nhooks=\nmount=/\nmount=/var\n");
	timesync_json(text, sizeof(text), NOW_USEC - USEC_PER_SEC);
	put(f, "timesync.json", text);

	assert_int_equal(ctl_status_read(f->fd, NOW_USEC, &r), 0);
	assert_int_equal(r.state[CTL_DAEMON_KVP], CTL_STATE_RUNNING);
	assert_int_equal(r.pid[CTL_DAEMON_KVP], getpid());
	assert_string_equal(r.kvp.device, "/dev/vmbus/hv_kvp");
	assert_int_equal(r.kvp.requests[0], 10);
	assert_int_equal(r.kvp.requests[4], 2);
	assert_int_equal(r.kvp.requests[6], 1);
	assert_true(r.kvp.has_last);
	assert_string_equal(r.kvp.last_op, "set-ip-info");
	assert_int_equal(r.kvp.last_pool, 3);
	assert_string_equal(r.kvp.last_status, "HV_E_FAIL");
	assert_int_equal(r.kvp.last_usec, 123456);

	assert_int_equal(r.state[CTL_DAEMON_FCOPY], CTL_STATE_STALE);
	assert_string_equal(r.fcopy.transport, "uio");
	assert_int_equal(r.fcopy.transfers[2], 5);
	assert_string_equal(r.fcopy.last_dest, "/tmp/a b");
	assert_string_equal(r.fcopy.last_result, "cancelled");

	assert_int_equal(r.state[CTL_DAEMON_VSS], CTL_STATE_UNKNOWN); /* no pid= yet */
	assert_true(r.vss.has_backup);
	assert_string_equal(r.vss.result, "failed");
	assert_int_equal(r.vss.error, 16);
	assert_int_equal(r.vss.finished, 1795342323);
	assert_int_equal(r.vss.filesystems, 2);
	assert_int_equal(r.vss.blocked_usec, 5000);

	assert_int_equal(r.state[CTL_DAEMON_TIMESYNC], CTL_STATE_RUNNING);
	assert_true(r.has_timesync);
	assert_true(r.timesync.synced);

	/* A timesync.json older than CTL_TIME_STALE_USEC is left over from a crash. */
	timesync_json(text, sizeof(text), NOW_USEC - CTL_TIME_STALE_USEC - 1);
	put(f, "timesync.json", text);
	/* vss-status with a pid tells whether the daemon runs; garbage counters are ignored. */
	snprintf(text, sizeof(text), "pid=%ld\nresult=ok\nfinished=x\n", (long)getpid());
	put(f, "vss-status", text);
	put(f, "kvp-status", "pid=0\nrequests_get=-1\nrequests_set=12junk\n");
	assert_int_equal(ctl_status_read(f->fd, NOW_USEC, &r), 0);
	assert_int_equal(r.state[CTL_DAEMON_TIMESYNC], CTL_STATE_STALE);
	assert_int_equal(r.state[CTL_DAEMON_VSS], CTL_STATE_RUNNING);
	assert_int_equal(r.vss.finished, 0);
	assert_int_equal(r.state[CTL_DAEMON_KVP], CTL_STATE_UNKNOWN);
	assert_int_equal(r.kvp.requests[0], 0);
	assert_int_equal(r.kvp.requests[1], 0);
	assert_false(r.kvp.has_last);
}

static void test_text(void **state)
{
	CtlStatusReport r;
	char *out;

	fixed_report(&r);
	out = print_to_string(ctl_status_print_text, NULL, &r);
	assert_string_equal(
		out,
		"hv_kvp_daemon       running  pid 123, /dev/vmbus/hv_kvp, 1532 requests, last GET "
		"pool 0 HV_S_OK 3 s ago\n"
		"hv_vss_daemon       unknown  last backup 2026-11-22 10:12:03 ok (frozen 0.21 s, 3 "
		"filesystems)\n"
		"hv_fcopy_daemon     running  pid 77, uio, 5 files, last file /tmp/x\\x1b[2J (145 "
		"bytes) ok 2 min ago\n"
		"hv_timesync_daemon  not running\n");
	free(out);

	r.state[CTL_DAEMON_KVP] = CTL_STATE_STALE;
	r.state[CTL_DAEMON_VSS] = CTL_STATE_STOPPED;
	r.state[CTL_DAEMON_FCOPY] = CTL_STATE_STOPPED;
	r.state[CTL_DAEMON_TIMESYNC] = CTL_STATE_RUNNING;
	r.has_timesync = true;
	r.timesync.has_offset = true;
	r.timesync.offset_ns = -1500;
	r.timesync.synced = true;
	r.timesync.adjusting = true;
	out = print_to_string(ctl_status_print_text, NULL, &r);
	assert_string_equal(out,
			    "hv_kvp_daemon       not running (pid 123 gone, stale status file)\n"
			    "hv_vss_daemon       not running, last backup 2026-11-22 10:12:03 ok "
			    "(frozen 0.21 s, 3 filesystems)\n"
			    "hv_fcopy_daemon     not running\n"
			    "hv_timesync_daemon  running  offset -1.500 µs, synced, adjusting the "
			    "clock\n");
	free(out);
}

static void test_json(void **state)
{
	CtlStatusReport r;
	char *out;

	fixed_report(&r);
	out = print_to_string(NULL, ctl_status_print_json, &r);
	assert_string_equal(
		out,
		"{\"kvp\":{\"state\":\"running\",\"pid\":123,\"device\":\"/dev/vmbus/hv_kvp\","
		"\"requests\":{\"get\":10,\"set\":0,\"delete\":0,\"enumerate\":1522,"
		"\"get_ip_info\":0,\"set_ip_info\":0,\"invalid\":0},\"last_request\":{\"op\":"
		"\"get\",\"pool\":0,\"status\":\"HV_S_OK\",\"time_usec\":1795342325000000}},"
		"\"vss\":{\"state\":\"unknown\",\"pid\":null,\"last_backup\":{\"id\":"
		"\"1795342300-42\",\"result\":\"ok\",\"error\":0,\"finished\":1795342323,"
		"\"filesystems\":3,\"frozen\":3,\"blocked_usec\":210000}},"
		"\"fcopy\":{\"state\":\"running\",\"pid\":77,\"device\":\"/dev/uio0\","
		"\"transport\":\"uio\",\"transfers\":{\"ok\":4,\"failed\":1,\"cancelled\":0},"
		"\"last_transfer\":{\"dest\":\"/tmp/x\\u001b[2J\",\"bytes\":145,\"result\":\"ok\","
		"\"time_usec\":1795342178000000}},"
		"\"timesync\":{\"state\":\"stopped\",\"pid\":null,\"mode\":null,\"offset_ns\":null,"
		"\"synced\":null,\"updated_usec\":null}}\n");
	free(out);
}

static void test_prometheus(void **state)
{
	CtlStatusReport r;
	char *out;

	fixed_report(&r);
	r.state[CTL_DAEMON_TIMESYNC] = CTL_STATE_RUNNING;
	r.has_timesync = true;
	r.timesync.has_offset = true;
	r.timesync.offset_ns = -1500;
	r.timesync.synced = true;
	out = print_to_string(NULL, ctl_status_print_prometheus, &r);
	assert_string_equal(
		out,
		"# HELP hvguest_daemon_up Whether the daemon runs (1) or not (0), from its status "
		"file.\n"
		"# TYPE hvguest_daemon_up gauge\n"
		"hvguest_daemon_up{daemon=\"kvp\"} 1\n"
		"hvguest_daemon_up{daemon=\"fcopy\"} 1\n"
		"hvguest_daemon_up{daemon=\"timesync\"} 1\n"
		"# HELP hvguest_kvp_requests_total Host KVP requests answered since the daemon "
		"started, by operation.\n"
		"# TYPE hvguest_kvp_requests_total counter\n"
		"hvguest_kvp_requests_total{op=\"get\"} 10\n"
		"hvguest_kvp_requests_total{op=\"set\"} 0\n"
		"hvguest_kvp_requests_total{op=\"delete\"} 0\n"
		"hvguest_kvp_requests_total{op=\"enumerate\"} 1522\n"
		"hvguest_kvp_requests_total{op=\"get_ip_info\"} 0\n"
		"hvguest_kvp_requests_total{op=\"set_ip_info\"} 0\n"
		"hvguest_kvp_requests_total{op=\"invalid\"} 0\n"
		"# HELP hvguest_kvp_last_request_timestamp_seconds When the last host KVP request "
		"was answered, seconds since the epoch.\n"
		"# TYPE hvguest_kvp_last_request_timestamp_seconds gauge\n"
		"hvguest_kvp_last_request_timestamp_seconds 1795342325.000000\n"
		"# HELP hvguest_vss_last_backup_timestamp_seconds When the last backup ended, "
		"seconds since the epoch.\n"
		"# TYPE hvguest_vss_last_backup_timestamp_seconds gauge\n"
		"hvguest_vss_last_backup_timestamp_seconds 1795342323\n"
		"# HELP hvguest_vss_last_backup_success Whether the last backup succeeded (1) or "
		"not (0).\n"
		"# TYPE hvguest_vss_last_backup_success gauge\n"
		"hvguest_vss_last_backup_success 1\n"
		"# HELP hvguest_vss_last_backup_frozen_seconds How long the last backup blocked "
		"writers, in seconds.\n"
		"# TYPE hvguest_vss_last_backup_frozen_seconds gauge\n"
		"hvguest_vss_last_backup_frozen_seconds 0.210000\n"
		"# HELP hvguest_fcopy_transfers_total Host file copies since the daemon started, "
		"by result.\n"
		"# TYPE hvguest_fcopy_transfers_total counter\n"
		"hvguest_fcopy_transfers_total{result=\"ok\"} 4\n"
		"hvguest_fcopy_transfers_total{result=\"failed\"} 1\n"
		"hvguest_fcopy_transfers_total{result=\"cancelled\"} 0\n"
		"# HELP hvguest_fcopy_last_transfer_timestamp_seconds When the last file copy "
		"ended, seconds since the epoch.\n"
		"# TYPE hvguest_fcopy_last_transfer_timestamp_seconds gauge\n"
		"hvguest_fcopy_last_transfer_timestamp_seconds 1795342178.000000\n"
		"# HELP hvguest_fcopy_last_transfer_bytes Bytes received by the last file copy.\n"
		"# TYPE hvguest_fcopy_last_transfer_bytes gauge\n"
		"hvguest_fcopy_last_transfer_bytes 145\n"
		"# HELP hvguest_timesync_offset_seconds System clock minus host clock, in seconds "
		"(positive: guest ahead).\n"
		"# TYPE hvguest_timesync_offset_seconds gauge\n"
		"hvguest_timesync_offset_seconds -0.000001500\n"
		"# HELP hvguest_timesync_synced Whether the system clock is synchronised to the "
		"host (1) or not (0).\n"
		"# TYPE hvguest_timesync_synced gauge\n"
		"hvguest_timesync_synced 1\n");
	free(out);

	/* Nothing known: no family at all (an empty file is valid for the collector). */
	r = (CtlStatusReport){};
	for (size_t d = 0; d < _CTL_DAEMON_MAX; d++)
		r.state[d] = CTL_STATE_UNKNOWN;
	out = print_to_string(NULL, ctl_status_print_prometheus, &r);
	assert_string_equal(out, "");
	free(out);
}

/* Runs the built hvctl with args, output into the fixture's out/err; returns its exit code. */
static int run_hvctl(Fixture *f, const char *const *args)
{
	const char *argv[16];
	size_t n = 0;
	char path[128];
	pid_t pid;
	int st;

	argv[n++] = getenv("HVCTL");
	assert_non_null(argv[0]);
	for (; *args && n < ELEMENTSOF(argv) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(path, sizeof(path), "%s/out", f->dir);
		if (!freopen(path, "w", stdout))
			_exit(126);
		snprintf(path, sizeof(path), "%s/err", f->dir);
		if (!freopen(path, "w", stderr))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *read_out(Fixture *f, const char *name)
{
	char *text = NULL;
	size_t size;

	assert_int_equal(read_full_file_at(f->fd, name, 1 << 20, &text, &size), 0);
	return text;
}

static void test_hvctl(void **state)
{
	Fixture *f = *state;
	char dir_opt[96], text[512], *out;

	snprintf(dir_opt, sizeof(dir_opt), "--run-dir=%s", f->dir);
	snprintf(text, sizeof(text), "pid=%ld\ndevice=/dev/vmbus/hv_kvp\nrequests_get=1\n",
		 (long)getpid());
	put(f, "kvp-status", text);
	snprintf(text, sizeof(text), "pid=%ld\ntransport=chardev\n", (long)dead_pid());
	put(f, "fcopy-status", text);

	assert_int_equal(run_hvctl(f, (const char *[]){ "status", dir_opt, NULL }), 0);
	out = read_out(f, "out");
	snprintf(text, sizeof(text),
		 "hv_kvp_daemon       running  pid %ld, /dev/vmbus/hv_kvp, 1 request\n"
		 "hv_vss_daemon       unknown  no backup recorded\n"
		 "hv_fcopy_daemon     not running (pid ",
		 (long)getpid());
	assert_true(strncmp(out, text, strlen(text)) == 0);
	assert_non_null(strstr(out, "gone, stale status file)\nhv_timesync_daemon  not running\n"));
	free(out);

	assert_int_equal(run_hvctl(f, (const char *[]){ "status", "--json", dir_opt, NULL }), 0);
	out = read_out(f, "out");
	assert_non_null(strstr(out, "{\"kvp\":{\"state\":\"running\""));
	assert_non_null(strstr(out, "\"fcopy\":{\"state\":\"stale\""));
	free(out);

	assert_int_equal(run_hvctl(f, (const char *[]){ "--prometheus", "status", dir_opt, NULL }),
			 0);
	out = read_out(f, "out");
	assert_non_null(strstr(out, "hvguest_daemon_up{daemon=\"kvp\"} 1\n"
				    "hvguest_daemon_up{daemon=\"fcopy\"} 0\n"
				    "hvguest_daemon_up{daemon=\"timesync\"} 0\n"));
	assert_non_null(strstr(out, "hvguest_kvp_requests_total{op=\"get\"} 1\n"));
	assert_null(strstr(out, "hvguest_fcopy_transfers_total")); /* not from a dead process */
	free(out);

	/* Extra arguments are a usage error; an unreadable run directory is 1. */
	assert_int_equal(run_hvctl(f, (const char *[]){ "status", "x", dir_opt, NULL }), 2);
	assert_int_equal(
		run_hvctl(f, (const char *[]){ "status", "--run-dir=/nonexistent/hvguest", NULL }),
		1);
	out = read_out(f, "err");
	assert_non_null(strstr(out, "/nonexistent/hvguest"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test_setup_teardown(test_hvctl, setup, teardown),
	};

	/* The backup time is printed in local time. */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
