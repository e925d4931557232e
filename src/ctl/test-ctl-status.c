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
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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
	char proc[64]; /* a fake /proc: PID/comm files */
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-ctl-status-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->fd = open_dir(f->dir);
	assert_true(f->fd >= 0);
	snprintf(f->proc, sizeof(f->proc), "/tmp/test-ctl-status-proc-XXXXXX");
	assert_non_null(mkdtemp(f->proc));
	*state = f;
	return 0;
}

/* Removes f->proc and everything fake_process() put there (PID/comm, or plain files). */
static void remove_fake_proc(Fixture *f)
{
	DIR *d = opendir(f->proc);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char comm[300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(comm, sizeof(comm), "%s/comm", de->d_name);
		(void)unlinkat(dirfd(d), comm, 0);
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
			assert_int_equal(unlinkat(dirfd(d), de->d_name, 0), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(f->proc), 0);
}

/* f->proc/name/comm holding comm (as the kernel writes it, with '\n'); comm NULL: no file. */
static void fake_process(Fixture *f, const char *name, const char *comm)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->proc, name);
	assert_int_equal(mkdir(path, 0755), 0);
	if (!comm)
		return;
	fd = open_dir(path);
	assert_true(fd >= 0);
	assert_int_equal(write_file_atomic_at(fd, "comm", ".tmp-", comm, strlen(comm), 0444), 0);
	close(fd);
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
	remove_fake_proc(f);
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

	/* Empty directory and no such process: nothing runs. */
	assert_int_equal(ctl_status_read(f->fd, f->proc, NOW_USEC, &r), 0);
	assert_int_equal(r.state[CTL_DAEMON_KVP], CTL_STATE_STOPPED);
	assert_int_equal(r.state[CTL_DAEMON_VSS], CTL_STATE_STOPPED);
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

	assert_int_equal(ctl_status_read(f->fd, f->proc, NOW_USEC, &r), 0);
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

	/* No pid= and no hv_vss_daemon process. */
	assert_int_equal(r.state[CTL_DAEMON_VSS], CTL_STATE_STOPPED);
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
	assert_int_equal(ctl_status_read(f->fd, f->proc, NOW_USEC, &r), 0);
	assert_int_equal(r.state[CTL_DAEMON_TIMESYNC], CTL_STATE_STALE);
	assert_int_equal(r.state[CTL_DAEMON_VSS], CTL_STATE_RUNNING);
	assert_int_equal(r.vss.finished, 0);
	assert_int_equal(r.state[CTL_DAEMON_KVP], CTL_STATE_STOPPED); /* pid=0: none usable */
	assert_int_equal(r.kvp.requests[0], 0);
	assert_int_equal(r.kvp.requests[1], 0);
	assert_false(r.kvp.has_last);
}

/* No usable pid in the file: the daemon is looked up by name in /proc. */
static void test_read_proc(void **state)
{
	Fixture *f = *state;
	CtlStatusReport r;
	char text[256];
	pid_t dead = dead_pid();

	fake_process(f, "4242", "hv_vss_daemon\n");
	fake_process(f, "5000", "hv_vss_daemon\n");   /* a second one: the lower pid wins */
	fake_process(f, "4100", "hv_timesync_dae\n"); /* comm keeps 15 bytes of the name */
	fake_process(f, "300", "hv_timesync\n");      /* a shorter name is not ours */
	fake_process(f, "301", "hv_fcopy_daemonx\n");
	fake_process(f, "302", "hv_fcopy_daemo\n");
	fake_process(f, "303", NULL); /* exited while we look: no comm */
	fake_process(f, "0", "hv_fcopy_daemon\n");
	fake_process(f, "12ab", "hv_fcopy_daemon\n");
	fake_process(f, "self", "hv_fcopy_daemon\n");
	fake_process(f, "4000", "hv_kvp_daemon\n");

	/* kvp: a dead pid stays stale even though a process of that name exists. */
	snprintf(text, sizeof(text), "pid=%ld\ndevice=/dev/vmbus/hv_kvp\n", (long)dead);
	put(f, "kvp-status", text);
	put(f, "vss-status", "result=ok\nfinished=1795342323\n");

	assert_int_equal(ctl_status_read(f->fd, f->proc, NOW_USEC, &r), 0);
	assert_int_equal(r.state[CTL_DAEMON_KVP], CTL_STATE_STALE);
	assert_int_equal(r.pid[CTL_DAEMON_KVP], dead);
	assert_int_equal(r.state[CTL_DAEMON_VSS], CTL_STATE_RUNNING);
	assert_int_equal(r.pid[CTL_DAEMON_VSS], 4242);
	assert_true(r.vss.has_backup);
	assert_int_equal(r.state[CTL_DAEMON_FCOPY], CTL_STATE_STOPPED);
	assert_int_equal(r.pid[CTL_DAEMON_FCOPY], 0);
	/* No timesync.json yet, but the process is there. */
	assert_int_equal(r.state[CTL_DAEMON_TIMESYNC], CTL_STATE_RUNNING);
	assert_int_equal(r.pid[CTL_DAEMON_TIMESYNC], 4100);
	assert_false(r.has_timesync);

	/* kvp-status without a pid: the process found by name. */
	put(f, "kvp-status", "device=/dev/vmbus/hv_kvp\n");
	assert_int_equal(ctl_status_read(f->fd, f->proc, NOW_USEC, &r), 0);
	assert_int_equal(r.state[CTL_DAEMON_KVP], CTL_STATE_RUNNING);
	assert_int_equal(r.pid[CTL_DAEMON_KVP], 4000);

	/* A /proc that cannot be read leaves the files' verdict: vss cannot tell. */
	assert_int_equal(ctl_status_read(f->fd, "/nonexistent/proc", NOW_USEC, &r), 0);
	assert_int_equal(r.state[CTL_DAEMON_VSS], CTL_STATE_UNKNOWN);
	assert_int_equal(r.state[CTL_DAEMON_KVP], CTL_STATE_UNKNOWN);
	assert_int_equal(r.state[CTL_DAEMON_TIMESYNC], CTL_STATE_STOPPED);
}

/* The real /proc: a child named like the time sync daemon, which the kernel cuts to 15 bytes. */
static void test_read_real_proc(void **state)
{
	Fixture *f = *state;
	int ready[2], st;
	CtlStatusReport r;
	pid_t child;
	char c;

	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(ready[0]);
		if (prctl(PR_SET_NAME, "hv_timesync_daemon", 0, 0, 0) < 0)
			_exit(1);
		(void)write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);

	assert_int_equal(ctl_status_read(f->fd, NULL, NOW_USEC, &r), 0);
	(void)kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_int_equal(r.state[CTL_DAEMON_TIMESYNC], CTL_STATE_RUNNING);
	/* Another hv_timesync_daemon on this machine could have a lower pid. */
	assert_true(r.pid[CTL_DAEMON_TIMESYNC] > 0 && r.pid[CTL_DAEMON_TIMESYNC] <= child);
}

/* Found in /proc without a status file: the pid and no file details. */
static void test_text_proc_only(void **state)
{
	CtlStatusReport r = {};
	char *out;

	r.state[CTL_DAEMON_KVP] = CTL_STATE_RUNNING;
	r.pid[CTL_DAEMON_KVP] = 55;
	r.state[CTL_DAEMON_VSS] = CTL_STATE_RUNNING;
	r.pid[CTL_DAEMON_VSS] = 56;
	r.state[CTL_DAEMON_FCOPY] = CTL_STATE_RUNNING;
	r.pid[CTL_DAEMON_FCOPY] = 57;
	r.state[CTL_DAEMON_TIMESYNC] = CTL_STATE_RUNNING;
	r.pid[CTL_DAEMON_TIMESYNC] = 58;
	out = print_to_string(ctl_status_print_text, NULL, &r);
	assert_string_equal(out, "hv_kvp_daemon       running  pid 55, 0 requests\n"
				 "hv_vss_daemon       running  no backup recorded\n"
				 "hv_fcopy_daemon     running  pid 57, 0 files\n"
				 "hv_timesync_daemon  running  pid 58, no status yet\n");
	free(out);
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
		"file or /proc.\n"
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
	char dir_opt[96], proc_opt[96], text[512], *out;

	snprintf(dir_opt, sizeof(dir_opt), "--run-dir=%s", f->dir);
	snprintf(proc_opt, sizeof(proc_opt), "--proc-dir=%s", f->proc);
	snprintf(text, sizeof(text), "pid=%ld\ndevice=/dev/vmbus/hv_kvp\nrequests_get=1\n",
		 (long)getpid());
	put(f, "kvp-status", text);
	snprintf(text, sizeof(text), "pid=%ld\ntransport=chardev\n", (long)dead_pid());
	put(f, "fcopy-status", text);

	assert_int_equal(run_hvctl(f, (const char *[]){ "status", dir_opt, proc_opt, NULL }), 0);
	out = read_out(f, "out");
	snprintf(text, sizeof(text),
		 "hv_kvp_daemon       running  pid %ld, /dev/vmbus/hv_kvp, 1 request\n"
		 "hv_vss_daemon       not running\n"
		 "hv_fcopy_daemon     not running (pid ",
		 (long)getpid());
	assert_true(strncmp(out, text, strlen(text)) == 0);
	assert_non_null(strstr(out, "gone, stale status file)\nhv_timesync_daemon  not running\n"));
	free(out);

	assert_int_equal(
		run_hvctl(f, (const char *[]){ "status", "--json", dir_opt, proc_opt, NULL }), 0);
	out = read_out(f, "out");
	assert_non_null(strstr(out, "{\"kvp\":{\"state\":\"running\""));
	assert_non_null(strstr(out, "\"fcopy\":{\"state\":\"stale\""));
	free(out);

	assert_int_equal(
		run_hvctl(f, (const char *[]){ "--prometheus", "status", dir_opt, proc_opt, NULL }),
		0);
	out = read_out(f, "out");
	assert_non_null(strstr(out, "hvguest_daemon_up{daemon=\"kvp\"} 1\n"
				    "hvguest_daemon_up{daemon=\"vss\"} 0\n"
				    "hvguest_daemon_up{daemon=\"fcopy\"} 0\n"
				    "hvguest_daemon_up{daemon=\"timesync\"} 0\n"));
	assert_non_null(strstr(out, "hvguest_kvp_requests_total{op=\"get\"} 1\n"));
	assert_null(strstr(out, "hvguest_fcopy_transfers_total")); /* not from a dead process */
	free(out);

	/* A process named hv_vss_daemon in the --proc-dir tree is found. */
	fake_process(f, "31337", "hv_vss_daemon\n");
	assert_int_equal(run_hvctl(f, (const char *[]){ "status", dir_opt, proc_opt, NULL }), 0);
	out = read_out(f, "out");
	assert_non_null(strstr(out, "\nhv_vss_daemon       running  no backup recorded\n"));
	free(out);
	assert_int_equal(run_hvctl(f, (const char *[]){ "status", "--proc-dir=", NULL }), 2);

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
		cmocka_unit_test_setup_teardown(test_read_proc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_real_proc, setup, teardown),
		cmocka_unit_test(test_text_proc_only),
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
