/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/event.h"
#include "common/fileio.h"
#include "common/log.h"
#include "config.h"
#include "ctl/ctl-json.h"
#include "ctl/ctl-status.h"

/* The key=value files are a few KiB; anything larger is not ours. */
#define STATUS_FILE_MAX (64u * 1024u)

static const char *const daemon_names[_CTL_DAEMON_MAX] = {
	[CTL_DAEMON_KVP] = "kvp",
	[CTL_DAEMON_VSS] = "vss",
	[CTL_DAEMON_FCOPY] = "fcopy",
	[CTL_DAEMON_TIMESYNC] = "timesync",
};

/* Program names, also what /proc/PID/comm holds (cut to CTL_COMM_MAX bytes). */
static const char *const programs[_CTL_DAEMON_MAX] = {
	[CTL_DAEMON_KVP] = "hv_kvp_daemon",
	[CTL_DAEMON_VSS] = "hv_vss_daemon",
	[CTL_DAEMON_FCOPY] = "hv_fcopy_daemon",
	[CTL_DAEMON_TIMESYNC] = "hv_timesync_daemon",
};

/* The kernel keeps TASK_COMM_LEN - 1 = 15 bytes of a program name in comm. */
#define CTL_COMM_MAX 15

static const char *const state_names[_CTL_STATE_MAX] = {
	[CTL_STATE_RUNNING] = "running",
	[CTL_STATE_STOPPED] = "stopped",
	[CTL_STATE_STALE] = "stale",
	[CTL_STATE_UNKNOWN] = "unknown",
};

/* kvp-status keys "requests_<name>" and the Prometheus op labels, CTL_KVP_N_OPS of them. */
static const char *const kvp_ops[CTL_KVP_N_OPS] = {
	"get", "set", "delete", "enumerate", "get_ip_info", "set_ip_info", "invalid",
};
static const char *const fcopy_results[3] = { "ok", "failed", "cancelled" };

const char *ctl_daemon_to_string(CtlDaemon d)
{
	return d >= 0 && d < _CTL_DAEMON_MAX ? daemon_names[d] : NULL;
}

const char *ctl_daemon_state_to_string(CtlDaemonState s)
{
	return s >= 0 && s < _CTL_STATE_MAX ? state_names[s] : NULL;
}

/* A key=value file split in place: lines without '=' are skipped, the last of a key wins. */
typedef struct KvFile {
	char *text;
} KvFile;

static const char *kv_get(const KvFile *kv, size_t size, const char *key)
{
	const char *found = NULL;
	size_t klen = strlen(key);

	/* Lines were split into NUL-terminated strings: walk them all. */
	for (const char *p = kv->text; p < kv->text + size; p += strlen(p) + 1)
		if (strncmp(p, key, klen) == 0 && p[klen] == '=')
			found = p + klen + 1;
	return found;
}

static bool kv_u64(const KvFile *kv, size_t size, const char *key, uint64_t *ret)
{
	const char *v = kv_get(kv, size, key);
	char *end;
	unsigned long long x;

	if (!v || !isdigit((unsigned char)v[0]))
		return false;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*ret = x;
	return true;
}

static void kv_str(const KvFile *kv, size_t size, const char *key, char *buf, size_t bufsize)
{
	const char *v = kv_get(kv, size, key);

	(void)snprintf(buf, bufsize, "%s", v ? v : "");
}

/* Reads name below dirfd and splits it into lines; 0, -ENOENT, or another negative errno. */
static int kv_read(int dirfd, const char *name, KvFile *ret, size_t *ret_size)
{
	size_t size;
	int r;

	r = read_full_file_at(dirfd, name, STATUS_FILE_MAX, &ret->text, &size);
	if (r < 0)
		return r;
	for (size_t i = 0; i < size; i++)
		if (ret->text[i] == '\n')
			ret->text[i] = '\0';
	*ret_size = size;
	return 0;
}

static bool pid_alive(uint64_t pid)
{
	if (pid == 0 || pid > INT32_MAX)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Sets state and pid from the file's pid= (absent: unknown). */
static void liveness(CtlStatusReport *r, CtlDaemon d, const KvFile *kv, size_t size)
{
	uint64_t pid;

	if (!kv_u64(kv, size, "pid", &pid) || pid == 0 || pid > INT32_MAX) {
		r->state[d] = CTL_STATE_UNKNOWN;
		return;
	}
	r->pid[d] = (pid_t)pid;
	r->state[d] = pid_alive(pid) ? CTL_STATE_RUNNING : CTL_STATE_STALE;
}

static void read_kvp(int dirfd, CtlStatusReport *r)
{
	KvFile kv = {};
	size_t size;
	uint64_t v;

	if (kv_read(dirfd, "kvp-status", &kv, &size) < 0)
		return;
	liveness(r, CTL_DAEMON_KVP, &kv, size);
	kv_str(&kv, size, "device", r->kvp.device, sizeof(r->kvp.device));
	for (size_t i = 0; i < CTL_KVP_N_OPS; i++) {
		char key[32];

		(void)snprintf(key, sizeof(key), "requests_%s", kvp_ops[i]);
		(void)kv_u64(&kv, size, key, &r->kvp.requests[i]);
	}
	if (kv_get(&kv, size, "last_op") && kv_u64(&kv, size, "last_time", &r->kvp.last_usec)) {
		r->kvp.has_last = true;
		kv_str(&kv, size, "last_op", r->kvp.last_op, sizeof(r->kvp.last_op));
		kv_str(&kv, size, "last_status", r->kvp.last_status, sizeof(r->kvp.last_status));
		if (kv_u64(&kv, size, "last_pool", &v) && v <= 255)
			r->kvp.last_pool = (unsigned)v;
	}
	free(kv.text);
}

static void read_vss(int dirfd, CtlStatusReport *r)
{
	KvFile kv = {};
	size_t size;
	uint64_t v;
	const char *s;

	if (kv_read(dirfd, "vss-status", &kv, &size) < 0) {
		/* Written after the first backup only: no file says nothing about the daemon. */
		r->state[CTL_DAEMON_VSS] = CTL_STATE_UNKNOWN;
		return;
	}
	liveness(r, CTL_DAEMON_VSS, &kv, size);
	r->vss.has_backup = true;
	kv_str(&kv, size, "id", r->vss.id, sizeof(r->vss.id));
	kv_str(&kv, size, "result", r->vss.result, sizeof(r->vss.result));
	s = kv_get(&kv, size, "error");
	r->vss.error = s ? atoi(s) : 0;
	if (kv_u64(&kv, size, "finished", &v) && v <= INT64_MAX)
		r->vss.finished = (int64_t)v;
	if (kv_u64(&kv, size, "filesystems", &v) && v <= UINT32_MAX)
		r->vss.filesystems = (unsigned)v;
	if (kv_u64(&kv, size, "frozen", &v) && v <= UINT32_MAX)
		r->vss.frozen = (unsigned)v;
	(void)kv_u64(&kv, size, "blocked_usec", &r->vss.blocked_usec);
	free(kv.text);
}

static void read_fcopy(int dirfd, CtlStatusReport *r)
{
	KvFile kv = {};
	size_t size;

	if (kv_read(dirfd, "fcopy-status", &kv, &size) < 0)
		return;
	liveness(r, CTL_DAEMON_FCOPY, &kv, size);
	kv_str(&kv, size, "device", r->fcopy.device, sizeof(r->fcopy.device));
	kv_str(&kv, size, "transport", r->fcopy.transport, sizeof(r->fcopy.transport));
	for (size_t i = 0; i < ELEMENTSOF(fcopy_results); i++) {
		char key[32];

		(void)snprintf(key, sizeof(key), "transfers_%s", fcopy_results[i]);
		(void)kv_u64(&kv, size, key, &r->fcopy.transfers[i]);
	}
	if (kv_get(&kv, size, "last_dest") && kv_u64(&kv, size, "last_time", &r->fcopy.last_usec)) {
		r->fcopy.has_last = true;
		kv_str(&kv, size, "last_dest", r->fcopy.last_dest, sizeof(r->fcopy.last_dest));
		kv_str(&kv, size, "last_result", r->fcopy.last_result,
		       sizeof(r->fcopy.last_result));
		(void)kv_u64(&kv, size, "last_bytes", &r->fcopy.last_bytes);
	}
	free(kv.text);
}

static void read_timesync(int dirfd, uint64_t now, CtlStatusReport *r)
{
	_cleanup_free_ char *text = NULL;
	char err[128];
	size_t size;

	if (read_full_file_at(dirfd, CTL_TIME_STATUS_FILE, CTL_TIME_STATUS_MAX, &text, &size) < 0)
		return;
	if (ctl_time_status_parse(text, size, &r->timesync, err, sizeof(err)) < 0) {
		log_debug("Ignoring '%s': %s", CTL_TIME_STATUS_FILE, err);
		r->state[CTL_DAEMON_TIMESYNC] = CTL_STATE_STALE;
		return;
	}
	r->has_timesync = true;
	/* No pid in the file: the daemon rewrites it at least every CTL_TIME_STALE_USEC. */
	r->state[CTL_DAEMON_TIMESYNC] =
		now > r->timesync.updated_usec &&
				now - r->timesync.updated_usec > CTL_TIME_STALE_USEC
			? CTL_STATE_STALE
			: CTL_STATE_RUNNING;
}

/* "123" -> 123; false for anything that is not a positive pid. */
static bool parse_pid(const char *s, pid_t *ret)
{
	unsigned long long x;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x == 0 || x > INT32_MAX)
		return false;
	*ret = (pid_t)x;
	return true;
}

/*
 * The lowest pid below proc_dir whose comm is program (cut to CTL_COMM_MAX bytes, as the
 * kernel does): 1 with *ret_pid set, 0 when there is none, or a negative errno when proc_dir
 * cannot be read. Processes that exit while we look are skipped.
 */
static int find_process(const char *proc_dir, const char *program, pid_t *ret_pid)
{
	size_t want_len = MIN(strlen(program), (size_t)CTL_COMM_MAX);
	struct dirent *de;
	pid_t best = 0;
	DIR *d;

	d = opendir(proc_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *comm = NULL;
		char path[sizeof(de->d_name) + 8];
		size_t size;
		pid_t pid;

		if (!parse_pid(de->d_name, &pid) || (best > 0 && pid >= best))
			continue;
		(void)snprintf(path, sizeof(path), "%s/comm", de->d_name);
		if (read_full_file_at(dirfd(d), path, 64, &comm, &size) < 0)
			continue;
		if (size > 0 && comm[size - 1] == '\n')
			comm[--size] = '\0';
		if (size == want_len && memcmp(comm, program, want_len) == 0)
			best = pid;
	}
	closedir(d);
	if (best == 0)
		return 0;
	*ret_pid = best;
	return 1;
}

/*
 * For a daemon whose status file has no usable pid (no file, no pid= line, or timesync.json,
 * which never has one): a process with the daemon's name means it runs. Stale files keep
 * their verdict; when proc_dir cannot be read the files' verdict stands too.
 */
static void liveness_from_proc(const char *proc_dir, CtlStatusReport *r)
{
	for (CtlDaemon d = 0; d < _CTL_DAEMON_MAX; d++) {
		pid_t pid;
		int k;

		if (r->pid[d] > 0 || r->state[d] == CTL_STATE_STALE)
			continue;
		k = find_process(proc_dir, programs[d], &pid);
		if (k < 0) {
			log_debug_errno(k, "Cannot look for %s in '%s': %m", programs[d], proc_dir);
			continue;
		}
		if (k > 0) {
			r->pid[d] = pid;
			r->state[d] = CTL_STATE_RUNNING;
		} else if (r->state[d] == CTL_STATE_UNKNOWN) {
			r->state[d] = CTL_STATE_STOPPED;
		}
	}
}

int ctl_status_read(int dirfd, const char *proc_dir, uint64_t now, CtlStatusReport *ret)
{
	*ret = (CtlStatusReport){};
	for (size_t d = 0; d < _CTL_DAEMON_MAX; d++)
		ret->state[d] = CTL_STATE_STOPPED;
	read_kvp(dirfd, ret);
	read_vss(dirfd, ret);
	read_fcopy(dirfd, ret);
	read_timesync(dirfd, now, ret);
	liveness_from_proc(proc_dir ? proc_dir : "/proc", ret);
	return 0;
}

/* "3 s ago", "2 min ago", "5 h ago", "4 d ago"; "just now" for a time in the future. */
static void format_age(uint64_t then_usec, uint64_t now_usec, char *buf, size_t size)
{
	uint64_t s;

	if (then_usec > now_usec) {
		(void)snprintf(buf, size, "just now");
		return;
	}
	s = (now_usec - then_usec) / USEC_PER_SEC;
	if (s < 120)
		(void)snprintf(buf, size, "%" PRIu64 " s ago", s);
	else if (s < 120 * 60)
		(void)snprintf(buf, size, "%" PRIu64 " min ago", s / 60);
	else if (s < 48 * 3600)
		(void)snprintf(buf, size, "%" PRIu64 " h ago", s / 3600);
	else
		(void)snprintf(buf, size, "%" PRIu64 " d ago", s / 86400);
}

/* The details after the state; strings from files are escaped for the terminal. */
static int details_kvp(FILE *f, const CtlStatusReport *r, uint64_t now)
{
	_cleanup_free_ char *dev = NULL;
	char age[32], op[32];
	uint64_t total = 0;

	if (ctl_text_escape(r->kvp.device, &dev, NULL) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < CTL_KVP_N_OPS; i++)
		total += r->kvp.requests[i];
	/* Found in /proc without a status file: no device to show. */
	fprintf(f, "pid %ld, %s%s%" PRIu64 " request%s", (long)r->pid[CTL_DAEMON_KVP], dev,
		dev[0] ? ", " : "", total, total == 1 ? "" : "s");
	if (!r->kvp.has_last)
		return 0;
	for (size_t i = 0; i < sizeof(op); i++) {
		op[i] = (char)toupper((unsigned char)r->kvp.last_op[i]);
		if (!op[i])
			break;
	}
	op[sizeof(op) - 1] = '\0';
	format_age(r->kvp.last_usec, now, age, sizeof(age));
	_cleanup_free_ char *st = NULL;
	if (ctl_text_escape(r->kvp.last_status, &st, NULL) < 0)
		return -ENOMEM;
	_cleanup_free_ char *ope = NULL;
	if (ctl_text_escape(op, &ope, NULL) < 0)
		return -ENOMEM;
	fprintf(f, ", last %s pool %u %s %s", ope, r->kvp.last_pool, st, age);
	return 0;
}

static int details_vss(FILE *f, const CtlStatusReport *r)
{
	_cleanup_free_ char *res = NULL;
	char when[64] = "?";
	time_t t = (time_t)r->vss.finished;
	struct tm tm;

	if (!r->vss.has_backup) {
		fputs("no backup recorded", f);
		return 0;
	}
	if (localtime_r(&t, &tm))
		(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (ctl_text_escape(r->vss.result, &res, NULL) < 0)
		return -ENOMEM;
	fprintf(f, "last backup %s %s (frozen %.2f s, %u filesystem%s)", when, res,
		(double)r->vss.blocked_usec / 1e6, r->vss.filesystems,
		r->vss.filesystems == 1 ? "" : "s");
	return 0;
}

static int details_fcopy(FILE *f, const CtlStatusReport *r, uint64_t now)
{
	_cleanup_free_ char *tr = NULL, *dest = NULL, *res = NULL;
	uint64_t total = r->fcopy.transfers[0] + r->fcopy.transfers[1] + r->fcopy.transfers[2];
	char age[32];

	if (ctl_text_escape(r->fcopy.transport, &tr, NULL) < 0)
		return -ENOMEM;
	fprintf(f, "pid %ld, %s%s%" PRIu64 " file%s", (long)r->pid[CTL_DAEMON_FCOPY], tr,
		tr[0] ? ", " : "", total, total == 1 ? "" : "s");
	if (!r->fcopy.has_last)
		return 0;
	if (ctl_text_escape(r->fcopy.last_dest, &dest, NULL) < 0 ||
	    ctl_text_escape(r->fcopy.last_result, &res, NULL) < 0)
		return -ENOMEM;
	format_age(r->fcopy.last_usec, now, age, sizeof(age));
	fprintf(f, ", last file %s (%" PRIu64 " bytes) %s %s", dest, r->fcopy.last_bytes, res, age);
	return 0;
}

static void details_timesync(FILE *f, const CtlStatusReport *r)
{
	const CtlTimeStatus *t = &r->timesync;
	char off[64];

	if (!r->has_timesync) {
		/* Found in /proc before it wrote timesync.json. */
		fprintf(f, "pid %ld, no status yet", (long)r->pid[CTL_DAEMON_TIMESYNC]);
		return;
	}
	if (t->has_offset)
		fprintf(f, "offset %s, ", ctl_time_format_ns(t->offset_ns, off, sizeof(off)));
	else
		fputs("no offset yet, ", f);
	fprintf(f, "%s, %s", t->synced ? "synced" : "not synced",
		t->adjusting ? "adjusting the clock" : "monitoring only");
}

int ctl_status_print_text(FILE *f, const CtlStatusReport *r, uint64_t now)
{
	for (CtlDaemon d = 0; d < _CTL_DAEMON_MAX; d++) {
		CtlDaemonState s = r->state[d];
		int k = 0;

		switch (s) {
		case CTL_STATE_RUNNING:
			fprintf(f, "%-19s running  ", programs[d]);
			break;
		case CTL_STATE_STOPPED:
			fprintf(f, "%-19s not running", programs[d]);
			/* vss-status stays after the daemon stopped: still worth showing. */
			if (d == CTL_DAEMON_VSS && r->vss.has_backup) {
				fputs(", ", f);
				k = details_vss(f, r);
			}
			fputc('\n', f);
			if (k < 0)
				return k;
			continue;
		case CTL_STATE_STALE:
			if (r->pid[d] > 0)
				fprintf(f, "%-19s not running (pid %ld gone, stale status file)\n",
					programs[d], (long)r->pid[d]);
			else
				fprintf(f, "%-19s not running (stale status file)\n", programs[d]);
			continue;
		case CTL_STATE_UNKNOWN:
			fprintf(f, "%-19s unknown  ", programs[d]);
			break;
		case _CTL_STATE_MAX:
		case _CTL_STATE_INVALID:
			return -EINVAL;
		}
		switch (d) {
		case CTL_DAEMON_KVP:
			k = details_kvp(f, r, now);
			break;
		case CTL_DAEMON_VSS:
			k = details_vss(f, r);
			break;
		case CTL_DAEMON_FCOPY:
			k = details_fcopy(f, r, now);
			break;
		case CTL_DAEMON_TIMESYNC:
			details_timesync(f, r);
			break;
		case _CTL_DAEMON_MAX:
		case _CTL_DAEMON_INVALID:
			return -EINVAL;
		}
		fputc('\n', f);
		if (k < 0)
			return k;
	}
	return ferror(f) ? -EIO : 0;
}

static void json_key(FILE *f, const char *key)
{
	(void)ctl_json_print_string(f, key);
	fputc(':', f);
}

static void json_u64(FILE *f, const char *key, uint64_t v, bool comma)
{
	json_key(f, key);
	fprintf(f, "%" PRIu64 "%s", v, comma ? "," : "");
}

static void json_str(FILE *f, const char *key, const char *v, bool comma)
{
	json_key(f, key);
	(void)ctl_json_print_string(f, v);
	if (comma)
		fputc(',', f);
}

int ctl_status_print_json(FILE *f, const CtlStatusReport *r)
{
	const CtlTimeStatus *t = &r->timesync;

	fputc('{', f);
	for (CtlDaemon d = 0; d < _CTL_DAEMON_MAX; d++) {
		json_key(f, daemon_names[d]);
		fputc('{', f);
		json_str(f, "state", state_names[r->state[d]], true);
		json_key(f, "pid");
		if (r->pid[d] > 0)
			fprintf(f, "%ld,", (long)r->pid[d]);
		else
			fputs("null,", f);
		switch (d) {
		case CTL_DAEMON_KVP:
			json_str(f, "device", r->kvp.device, true);
			json_key(f, "requests");
			fputc('{', f);
			for (size_t i = 0; i < CTL_KVP_N_OPS; i++)
				json_u64(f, kvp_ops[i], r->kvp.requests[i], i + 1 < CTL_KVP_N_OPS);
			fputs("},", f);
			json_key(f, "last_request");
			if (!r->kvp.has_last) {
				fputs("null", f);
				break;
			}
			fputc('{', f);
			json_str(f, "op", r->kvp.last_op, true);
			json_u64(f, "pool", r->kvp.last_pool, true);
			json_str(f, "status", r->kvp.last_status, true);
			json_u64(f, "time_usec", r->kvp.last_usec, false);
			fputc('}', f);
			break;
		case CTL_DAEMON_VSS:
			json_key(f, "last_backup");
			if (!r->vss.has_backup) {
				fputs("null", f);
				break;
			}
			fputc('{', f);
			json_str(f, "id", r->vss.id, true);
			json_str(f, "result", r->vss.result, true);
			json_key(f, "error");
			fprintf(f, "%d,", r->vss.error);
			json_key(f, "finished");
			fprintf(f, "%" PRId64 ",", r->vss.finished);
			json_u64(f, "filesystems", r->vss.filesystems, true);
			json_u64(f, "frozen", r->vss.frozen, true);
			json_u64(f, "blocked_usec", r->vss.blocked_usec, false);
			fputc('}', f);
			break;
		case CTL_DAEMON_FCOPY:
			json_str(f, "device", r->fcopy.device, true);
			json_str(f, "transport", r->fcopy.transport, true);
			json_key(f, "transfers");
			fputc('{', f);
			for (size_t i = 0; i < ELEMENTSOF(fcopy_results); i++)
				json_u64(f, fcopy_results[i], r->fcopy.transfers[i],
					 i + 1 < ELEMENTSOF(fcopy_results));
			fputs("},", f);
			json_key(f, "last_transfer");
			if (!r->fcopy.has_last) {
				fputs("null", f);
				break;
			}
			fputc('{', f);
			json_str(f, "dest", r->fcopy.last_dest, true);
			json_u64(f, "bytes", r->fcopy.last_bytes, true);
			json_str(f, "result", r->fcopy.last_result, true);
			json_u64(f, "time_usec", r->fcopy.last_usec, false);
			fputc('}', f);
			break;
		case CTL_DAEMON_TIMESYNC:
			if (!r->has_timesync) {
				fputs("\"mode\":null,\"offset_ns\":null,\"synced\":null,"
				      "\"updated_usec\":null",
				      f);
				break;
			}
			json_str(f, "mode", t->mode, true);
			json_key(f, "offset_ns");
			if (t->has_offset && isfinite(t->offset_ns))
				fprintf(f, "%.1f,", t->offset_ns);
			else
				fputs("null,", f);
			json_key(f, "synced");
			fputs(t->synced ? "true," : "false,", f);
			json_u64(f, "updated_usec", t->updated_usec, false);
			break;
		case _CTL_DAEMON_MAX:
		case _CTL_DAEMON_INVALID:
			return -EINVAL;
		}
		fputs(d + 1 < _CTL_DAEMON_MAX ? "}," : "}", f);
	}
	fputs("}\n", f);
	return ferror(f) ? -EIO : 0;
}

/* One family's HELP and TYPE lines (Prometheus text format 0.0.4). */
static void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int ctl_status_print_prometheus(FILE *f, const CtlStatusReport *r)
{
	const CtlTimeStatus *t = &r->timesync;
	bool kvp = r->state[CTL_DAEMON_KVP] == CTL_STATE_RUNNING;
	bool fcopy = r->state[CTL_DAEMON_FCOPY] == CTL_STATE_RUNNING;
	bool timesync = r->state[CTL_DAEMON_TIMESYNC] == CTL_STATE_RUNNING && r->has_timesync;
	bool up_known = false;

	for (CtlDaemon d = 0; d < _CTL_DAEMON_MAX; d++)
		up_known |= r->state[d] != CTL_STATE_UNKNOWN;
	if (up_known) {
		prom_family(
			f, "hvguest_daemon_up", "gauge",
			"Whether the daemon runs (1) or not (0), from its status file or /proc.");
		for (CtlDaemon d = 0; d < _CTL_DAEMON_MAX; d++)
			if (r->state[d] != CTL_STATE_UNKNOWN)
				fprintf(f, "hvguest_daemon_up{daemon=\"%s\"} %d\n", daemon_names[d],
					r->state[d] == CTL_STATE_RUNNING);
	}
	if (kvp) {
		prom_family(f, "hvguest_kvp_requests_total", "counter",
			    "Host KVP requests answered since the daemon started, by operation.");
		for (size_t i = 0; i < CTL_KVP_N_OPS; i++)
			fprintf(f, "hvguest_kvp_requests_total{op=\"%s\"} %" PRIu64 "\n",
				kvp_ops[i], r->kvp.requests[i]);
	}
	if (kvp && r->kvp.has_last) {
		prom_family(
			f, "hvguest_kvp_last_request_timestamp_seconds", "gauge",
			"When the last host KVP request was answered, seconds since the epoch.");
		fprintf(f, "hvguest_kvp_last_request_timestamp_seconds %.6f\n",
			(double)r->kvp.last_usec / 1e6);
	}
	if (r->vss.has_backup) {
		prom_family(f, "hvguest_vss_last_backup_timestamp_seconds", "gauge",
			    "When the last backup ended, seconds since the epoch.");
		fprintf(f, "hvguest_vss_last_backup_timestamp_seconds %" PRId64 "\n",
			r->vss.finished);
		prom_family(f, "hvguest_vss_last_backup_success", "gauge",
			    "Whether the last backup succeeded (1) or not (0).");
		fprintf(f, "hvguest_vss_last_backup_success %d\n",
			strcmp(r->vss.result, "ok") == 0 && r->vss.error == 0);
		prom_family(f, "hvguest_vss_last_backup_frozen_seconds", "gauge",
			    "How long the last backup blocked writers, in seconds.");
		fprintf(f, "hvguest_vss_last_backup_frozen_seconds %.6f\n",
			(double)r->vss.blocked_usec / 1e6);
	}
	if (fcopy) {
		prom_family(f, "hvguest_fcopy_transfers_total", "counter",
			    "Host file copies since the daemon started, by result.");
		for (size_t i = 0; i < ELEMENTSOF(fcopy_results); i++)
			fprintf(f, "hvguest_fcopy_transfers_total{result=\"%s\"} %" PRIu64 "\n",
				fcopy_results[i], r->fcopy.transfers[i]);
	}
	if (fcopy && r->fcopy.has_last) {
		prom_family(f, "hvguest_fcopy_last_transfer_timestamp_seconds", "gauge",
			    "When the last file copy ended, seconds since the epoch.");
		fprintf(f, "hvguest_fcopy_last_transfer_timestamp_seconds %.6f\n",
			(double)r->fcopy.last_usec / 1e6);
		prom_family(f, "hvguest_fcopy_last_transfer_bytes", "gauge",
			    "Bytes received by the last file copy.");
		fprintf(f, "hvguest_fcopy_last_transfer_bytes %" PRIu64 "\n", r->fcopy.last_bytes);
	}
	if (timesync && t->has_offset && isfinite(t->offset_ns)) {
		prom_family(f, "hvguest_timesync_offset_seconds", "gauge",
			    "System clock minus host clock, in seconds (positive: guest ahead).");
		fprintf(f, "hvguest_timesync_offset_seconds %.9f\n", t->offset_ns / 1e9);
	}
	if (timesync) {
		prom_family(f, "hvguest_timesync_synced", "gauge",
			    "Whether the system clock is synchronised to the host (1) or not (0).");
		fprintf(f, "hvguest_timesync_synced %d\n", t->synced);
	}
	return ferror(f) ? -EIO : 0;
}

CtlExit ctl_status(const CtlOptions *o, char *const *args)
{
	const char *dir = o->vss_run_dir ? o->vss_run_dir : VSS_RUN_DIR;
	_cleanup_close_ int fd = -EBADF;
	CtlStatusReport *rep;
	uint64_t now = now_usec(CLOCK_REALTIME);
	int r;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "Cannot open the run directory '%s': %s\n", dir, strerror(errno));
		return CTL_EXIT_NOT_FOUND;
	}
	rep = malloc(sizeof(*rep)); /* the fcopy destination alone is 4 KiB */
	if (!rep) {
		log_oom();
		return CTL_EXIT_IO;
	}
	r = ctl_status_read(fd, o->proc_dir, now, rep);
	if (r >= 0)
		r = o->prometheus ? ctl_status_print_prometheus(stdout, rep)
		    : o->json	  ? ctl_status_print_json(stdout, rep)
				  : ctl_status_print_text(stdout, rep, now);
	free(rep);
	if (r >= 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r < 0) {
		log_error_errno(r, "Cannot write the status: %m");
		return CTL_EXIT_IO;
	}
	return CTL_EXIT_OK;
}
