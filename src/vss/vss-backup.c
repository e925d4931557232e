/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/event.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/message-id.h"
#include "vss/vss-backup.h"
#include "vss/vss-guardian.h"
#include "vss/vss-hooks.h"
#include "vss/vss-mounts.h"
#include "vss/vss-plan.h"

#define MOUNTINFO_MAX (64u << 20)
/* The guardian thaws on its own this long after our own deadline would have. */
#define GUARDIAN_MARGIN_USEC (5 * USEC_PER_SEC)

struct VssBackup {
	const VssBackupEnv *env;
	char id[40];
	VssMount *mounts;
	size_t n_mounts;
	VssPlan *plan;
	VssTarget *targets;
	size_t n_targets;
	const char **mount_list; /* NULL-terminated target paths, for the hooks */
	VssHooks *hooks;
	VssFreezeSession *session;
	VssGuardian guardian;
	bool deferred; /* logging deferred since just before the first freeze */
	bool frozen;
	bool finished; /* thaw hooks ran and the outcome is recorded */
	int guardian_outcome;
	uint64_t started_usec;
	char marker[PATH_MAX];
};

static int load_plan(const VssSettings *s, VssMount **ret_m, size_t *ret_n, VssPlan **ret_plan)
{
	const char *path = s->mountinfo ? s->mountinfo : "/proc/self/mountinfo";
	_cleanup_free_ char *text = NULL;
	size_t size;
	int r;

	r = read_full_file_at(AT_FDCWD, path, MOUNTINFO_MAX, &text, &size);
	if (r < 0)
		return log_error_errno(r, "Could not read the mount table '%s': %m", path);
	r = vss_mounts_parse(text, size, ret_m, ret_n);
	if (r < 0)
		return log_error_errno(r, "Could not parse the mount table '%s': %m", path);
	if (r > 0)
		log_debug("Ignored %d malformed line(s) in '%s'.", r, path);

	VssPlanOptions o = {
		.include_mounts = s->include_mounts,
		.exclude_mounts = s->exclude_mounts,
		.include_types = s->include_types,
		.exclude_types = s->exclude_types,
		.sys = &vss_sys_ops_linux,
	};
	r = vss_plan_build(*ret_m, *ret_n, &o, ret_plan);
	if (r < 0) {
		*ret_m = vss_mounts_free(*ret_m, *ret_n);
		return log_error_errno(r, "Could not plan the freeze: %m");
	}
	return 0;
}

/* Names the first writable filesystem in scope that cannot be frozen, if any. */
static const VssPlanEntry *first_unfreezable(const VssPlan *p)
{
	for (size_t i = 0; i < vss_plan_n_entries(p); i++) {
		const VssPlanEntry *e = vss_plan_entry(p, i);

		if (e->verdict == VSS_VERDICT_CANNOT_FREEZE)
			return e;
	}
	return NULL;
}

int vss_backup_check(const VssBackupEnv *env)
{
	VssMount *m = NULL;
	VssPlan *p = NULL;
	size_t n = 0;
	int r;

	r = load_plan(env->settings, &m, &n, &p);
	if (r < 0)
		return r;
	const VssPlanEntry *bad = first_unfreezable(p);
	if (bad)
		r = log_notice_errno(EOPNOTSUPP,
				     "Backup check: '%s' (%s) cannot be frozen (%s); the "
				     "host will take a crash-consistent copy.",
				     bad->path, bad->fstype, bad->reason);
	else
		log_debug("Backup check: %zu filesystem(s) to freeze.", vss_plan_n_targets(p));
	vss_plan_free(p);
	vss_mounts_free(m, n);
	return r;
}

static void make_id(char *buf, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, size, "%lld-%d", (long long)ts.tv_sec, (int)getpid());
}

static int build_targets(VssBackup *b)
{
	b->n_targets = vss_plan_n_targets(b->plan);
	b->targets = calloc(b->n_targets + 1, sizeof(*b->targets));
	b->mount_list = calloc(b->n_targets + 1, sizeof(*b->mount_list));
	if (!b->targets || !b->mount_list)
		return log_oom();
	for (size_t i = 0; i < b->n_targets; i++) {
		const VssPlanEntry *e = vss_plan_target(b->plan, i);

		b->targets[i] = (VssTarget){ .path = e->path, .level = e->level };
		b->mount_list[i] = e->path;
	}
	return 0;
}

/* Writes the outcome where hvctl vss status finds it; logging is back on by now. */
static void record(VssBackup *b, const char *result, int error)
{
	const VssFreezeResult *res = b->session ? vss_freeze_session_result(b->session) : NULL;
	_cleanup_free_ char *hooks = NULL;
	char text[4096], f_id[64], f_res[48], f_n[32], f_blocked[48], f_hooks[1024];
	_cleanup_close_ int dirfd = -EBADF;
	uint64_t blocked = res ? res->blocked_usec : 0;
	unsigned frozen = res ? (unsigned)res->n_frozen : 0;
	int r;

	if (b->hooks)
		(void)vss_hooks_format_summary(b->hooks, &hooks);
	snprintf(text, sizeof(text),
		 "id=%s\nresult=%s\nerror=%d\nfinished=%lld\nfilesystems=%zu\nfrozen=%u\n"
		 "blocked_usec=%" PRIu64 "\nhooks=%s\n",
		 b->id, result, error, (long long)time(NULL), b->n_targets, frozen, blocked,
		 hooks ? hooks : "");
	for (size_t i = 0; i < b->n_targets && strlen(text) + PATH_MAX < sizeof(text); i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "mount=%s\n",
			 b->targets[i].path);

	dirfd = open_dir(b->env->settings->run_dir);
	/*
	 * A freeze that failed early (a hook) ends before the marker created the directory, and
	 * nothing was frozen. Otherwise it exists: no mkdir, which could block on a frozen parent.
	 */
	if (dirfd == -ENOENT) {
		r = mkdir_p(b->env->settings->run_dir, 0755);
		dirfd = r < 0 ? r : open_dir(b->env->settings->run_dir);
	}
	r = dirfd < 0 ? dirfd
		      : write_file_atomic_at(dirfd, "vss-status", ".tmp-vss-status-", text,
					     strlen(text), 0644);
	if (r < 0)
		log_warning_errno(r, "Could not write the backup status in '%s', ignoring: %m",
				  b->env->settings->run_dir);

	snprintf(f_id, sizeof(f_id), "HV_BACKUP_ID=%s", b->id);
	snprintf(f_res, sizeof(f_res), "HV_RESULT=%s", result);
	snprintf(f_n, sizeof(f_n), "HV_FROZEN=%u", frozen);
	snprintf(f_blocked, sizeof(f_blocked), "HV_BLOCKED_USEC=%" PRIu64, blocked);
	snprintf(f_hooks, sizeof(f_hooks), "HV_HOOKS=%s", hooks ? hooks : "");
	log_fields_errno(
		error ? LOG_WARNING : LOG_INFO, error,
		LOG_FIELDS("HV_OP=BACKUP", f_id, f_res, f_n, f_blocked, f_hooks,
			   !error && strcmp(result, "ok") == 0 ? HV_MESSAGE_ID_VSS_BACKUP_DONE
							       : HV_MESSAGE_ID_VSS_BACKUP_FAILED),
		"Backup %s: %s; %u of %zu filesystem(s) frozen, writers blocked %.1f ms%s%s.",
		b->id, result, frozen, b->n_targets, (double)blocked / 1000.0,
		hooks && hooks[0] ? "; hooks: " : "", hooks ? hooks : "");
}

static void end_deferred(VssBackup *b)
{
	if (b->deferred) {
		log_defer_end();
		b->deferred = false;
	}
}

/* Undoes a freeze that failed or was cut short; nothing stays frozen. */
static int abort_freeze(VssBackup *b, int error, const char *what)
{
	if (b->session)
		(void)vss_freeze_session_thaw(b->session);
	if (b->guardian.pid > 0)
		(void)vss_guardian_stop(&b->guardian);
	(void)vss_marker_remove(b->marker);
	end_deferred(b);
	log_error_errno(error, "Backup %s: %s: %m", b->id, what);
	if (b->hooks)
		(void)vss_hooks_freeze_failed(b->hooks);
	record(b, "failed", error);
	b->finished = true;
	return error;
}

static int start_hooks(VssBackup *b)
{
	const VssSettings *s = b->env->settings;
	VssHooksConfig cfg = {
		.dir = s->hooks_dir,
		.timeout_usec = s->hook_timeout_usec,
		.ignore_failures =
			vss_hook_failure_from_string(s->hook_failure) == VSS_HOOK_FAILURE_IGNORE,
	};
	VssHooksBackup info = {
		.id = b->id,
		.mounts = b->mount_list,
		.deadline_sec =
			(int64_t)time(NULL) + (int64_t)(s->freeze_timeout_usec / USEC_PER_SEC),
	};
	int r;

	r = vss_hooks_new(&cfg, &info, &b->hooks);
	if (r < 0)
		return log_error_errno(r, "Could not prepare the backup hooks: %m");
	return vss_hooks_freeze(b->hooks);
}

int vss_backup_freeze(const VssBackupEnv *env, VssBackup **ret)
{
	_cleanup_(vss_backup_freep) VssBackup *b = NULL;
	const VssSettings *s = env->settings;
	size_t bad_index = 0;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return log_oom();
	b->env = env;
	b->guardian = VSS_GUARDIAN_NULL;
	b->started_usec = now_usec(CLOCK_MONOTONIC);
	make_id(b->id, sizeof(b->id));
	snprintf(b->marker, sizeof(b->marker), "%s/vss-frozen", s->run_dir);

	r = load_plan(s, &b->mounts, &b->n_mounts, &b->plan);
	if (r < 0)
		return r;
	r = build_targets(b);
	if (r < 0)
		return r;

	r = start_hooks(b);
	if (r < 0)
		return abort_freeze(b, r, "a freeze hook failed, nothing was frozen");

	/* Everything that can allocate, open or fork happens before the first freeze. */
	r = vss_freeze_session_new(env->ops, env->ops_userdata, b->targets, b->n_targets,
				   &b->session, &bad_index);
	if (r < 0)
		return abort_freeze(b, r, "could not open the filesystems to freeze");
	(void)vss_freeze_session_sync(b->session);
	r = mkdir_p(s->run_dir, 0755);
	if (r >= 0)
		r = vss_marker_write(b->marker, getpid(), b->targets, b->n_targets);
	if (r < 0)
		return abort_freeze(b, r, "could not write the frozen-marker");

	size_t n_fds;
	const int *fds = vss_freeze_session_fds(b->session, &n_fds);
	VssGuardianConfig gc = {
		.deadline_usec = s->freeze_timeout_usec + GUARDIAN_MARGIN_USEC,
		.thaw = vss_freeze_session_guardian_thaw,
		.userdata = b->session,
		.keep_fds = fds,
		.n_keep_fds = n_fds,
#if !defined(__SANITIZE_ADDRESS__)
		.lock_memory = true,
#endif
	};
	r = vss_guardian_start(&gc, &b->guardian);
	if (r < 0)
		return abort_freeze(b, r, "could not start the thaw guardian");

	log_defer_begin();
	b->deferred = true;
	r = vss_freeze_session_freeze(b->session, s->freeze_timeout_usec);
	if (r < 0)
		return abort_freeze(b, r, "freezing failed, everything was thawed again");
	b->frozen = true;
	*ret = TAKE_PTR(b);
	return 0;
}

int vss_backup_unfreeze(VssBackup *b)
{
	int r = 0;

	if (b->session && b->frozen)
		r = vss_freeze_session_thaw(b->session);
	b->frozen = false;
	(void)vss_marker_remove(b->marker);
	end_deferred(b);
	return r;
}

void vss_backup_finish(VssBackup *b, const char *why, int thaw_result)
{
	/*
	 * Reaping the guardian can take a scheduler round trip or two; the host already has
	 * its answer by now. Until then it only watches: everything it would thaw is thawed.
	 */
	if (b->guardian.pid > 0)
		b->guardian_outcome = vss_guardian_stop(&b->guardian);
	if (b->guardian_outcome == VSS_GUARDIAN_DEADLINE)
		log_warning("Backup %s: the guardian's backstop thawed before the daemon did.",
			    b->id);
	if (b->hooks)
		(void)vss_hooks_thaw(b->hooks);
	record(b, strcmp(why, "host") == 0 ? "ok" : why, thaw_result < 0 ? thaw_result : 0);
	b->finished = true;
}

int vss_backup_thaw(VssBackup *b, const char *why)
{
	int r = vss_backup_unfreeze(b);

	vss_backup_finish(b, why, r);
	return r;
}

VssBackup *vss_backup_free(VssBackup *b)
{
	if (!b)
		return NULL;
	if (b->frozen)
		(void)vss_backup_unfreeze(b);
	if (!b->finished && b->session)
		vss_backup_finish(b, "shutdown", 0);
	end_deferred(b);
	if (b->guardian.pid > 0)
		(void)vss_guardian_stop(&b->guardian);
	vss_freeze_session_free(b->session);
	vss_hooks_free(b->hooks);
	free(b->mount_list);
	free(b->targets);
	vss_plan_free(b->plan);
	vss_mounts_free(b->mounts, b->n_mounts);
	free(b);
	return NULL;
}

int vss_backup_recover(const VssBackupEnv *env)
{
	char marker[PATH_MAX];
	pid_t pid = 0;
	int r;

	snprintf(marker, sizeof(marker), "%s/vss-frozen", env->settings->run_dir);
	r = vss_freeze_recover(marker, env->ops, env->ops_userdata, &pid);
	if (r < 0)
		return log_error_errno(r,
				       "Could not thaw what a previous instance left frozen "
				       "(marker '%s'): %m",
				       marker);
	if (r > 0)
		log_warning("Thawed %d filesystem(s) left frozen by a previous instance (pid %d).",
			    r, (int)pid);
	return r;
}
