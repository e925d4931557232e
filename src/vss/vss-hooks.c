/* SPDX-License-Identifier: MIT */
/*
 * The hooks of one backup: directory scan and policy, freeze / thaw / freeze-failed calls
 * through common/hook.h, and the end of whatever the hooks left behind (contract in
 * vss-hooks.h). Non-logging.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#include "common/hook.h"
#include "vss/vss-hooks.h"

#define USEC_PER_SEC UINT64_C(1000000)
/* Our own environment entries: operation, mounts, timeout, id, deadline, freeze result. */
#define OWN_ENV_MAX 6u
#define EXTRA_ENV_MAX (HOOK_EXTRA_ENV_MAX - OWN_ENV_MAX - 2u)
#define OWN_ENV_PREFIX "HVGUEST_VSS_"
/* Linux's limit on one argument or environment string (MAX_ARG_STRLEN), NUL included. */
#define ENV_STRING_MAX (32u * 4096u)

typedef enum HooksState {
	HOOKS_NEW,    /* nothing ran */
	HOOKS_FROZE,  /* the freeze phase ran (or began) */
	HOOKS_CLOSED, /* a closing phase ran: nothing more will */
} HooksState;

/* A hook (or a refused file) of this backup, in name order. */
typedef struct Entry {
	char name[NAME_MAX + 1];
	VssHookFile file;
	bool started;		       /* its freeze call was spawned: it gets a closing call */
	VssHookOutcome freeze_outcome; /* valid when started */
} Entry;

struct VssHooks {
	char *dir;
	uint64_t timeout_usec, grace_usec, drain_usec;
	bool ignore_failures;
	char **extra_env;
	size_t n_extra;
	char *env_mounts, *env_timeout, *env_id, *env_deadline; /* "NAME=value" */

	HooksState state;
	int dir_error;
	Entry *entries;
	size_t n_entries;
	VssHookSkip *skipped;
	size_t n_skipped;
	/* Room for 2 * n_entries calls, allocated by the scan so that recording never fails. */
	VssHookRun *runs;
	HookGroup *groups; /* groups[i]: what runs[i] left alive, if anything */
	HookGroupEnd *ends;
	size_t n_runs;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Editor backups and package managers' leftovers: never meant to run. */
static bool is_backup_name(const char *name)
{
	static const char *const suffixes[] = {
		"~", ".rpmnew", ".rpmsave", ".rpmorig", ".orig", ".bak", ".swp", ".disabled",
	};
	size_t n = strlen(name);

	if (n >= 2 && name[0] == '#' && name[n - 1] == '#')
		return true;
	if (strstr(name, ".dpkg-") || strstr(name, ".ucf-"))
		return true;
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
		if (has_suffix(name, suffixes[i]))
			return true;
	return false;
}

VssHookFile vss_hook_classify(const char *name, const struct stat *st, uid_t euid)
{
	if (!name || !name[0])
		return _VSS_HOOK_FILE_INVALID;
	if (name[0] == '.')
		return VSS_HOOK_FILE_HIDDEN;
	if (is_backup_name(name))
		return VSS_HOOK_FILE_BACKUP;
	if (!st || !S_ISREG(st->st_mode))
		return VSS_HOOK_FILE_NOT_REGULAR;
	if ((st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0)
		return VSS_HOOK_FILE_NOT_EXECUTABLE;
	if (st->st_uid != 0 && st->st_uid != euid)
		return VSS_HOOK_FILE_BAD_OWNER;
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return VSS_HOOK_FILE_WRITABLE;
	return VSS_HOOK_FILE_HOOK;
}

const char *vss_hook_phase_to_string(VssHookPhase p)
{
	switch (p) {
	case VSS_HOOK_PHASE_FREEZE:
		return "freeze";
	case VSS_HOOK_PHASE_THAW:
		return "thaw";
	case VSS_HOOK_PHASE_FREEZE_FAILED:
		return "freeze-failed";
	case _VSS_HOOK_PHASE_MAX:
	case _VSS_HOOK_PHASE_INVALID:
		break;
	}
	return NULL;
}

const char *vss_hook_outcome_to_string(VssHookOutcome o)
{
	switch (o) {
	case VSS_HOOK_OUTCOME_OK:
		return "ok";
	case VSS_HOOK_OUTCOME_FAILED:
		return "failed";
	case VSS_HOOK_OUTCOME_SIGNAL:
		return "signal";
	case VSS_HOOK_OUTCOME_TIMEOUT:
		return "timeout";
	case VSS_HOOK_OUTCOME_SPAWN_ERROR:
		return "spawn-error";
	case VSS_HOOK_OUTCOME_REFUSED:
		return "refused";
	case VSS_HOOK_OUTCOME_NOT_RUN:
		return "not-run";
	case _VSS_HOOK_OUTCOME_MAX:
	case _VSS_HOOK_OUTCOME_INVALID:
		break;
	}
	return NULL;
}

const char *vss_hook_file_to_string(VssHookFile f)
{
	switch (f) {
	case VSS_HOOK_FILE_HOOK:
		return "hook";
	case VSS_HOOK_FILE_HIDDEN:
		return "hidden";
	case VSS_HOOK_FILE_BACKUP:
		return "backup file";
	case VSS_HOOK_FILE_NOT_REGULAR:
		return "not a regular file";
	case VSS_HOOK_FILE_NOT_EXECUTABLE:
		return "not executable";
	case VSS_HOOK_FILE_BAD_OWNER:
		return "not owned by root";
	case VSS_HOOK_FILE_WRITABLE:
		return "group- or world-writable";
	case _VSS_HOOK_FILE_MAX:
	case _VSS_HOOK_FILE_INVALID:
		break;
	}
	return NULL;
}

static bool backup_id_valid(const char *id)
{
	size_t n;

	if (!id)
		return false;
	n = strlen(id);
	if (n == 0 || n > VSS_HOOKS_BACKUP_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/*
 * "HVGUEST_VSS_MOUNTS=" and the mount points one per line; '\n' and '\\' inside one are
 * written as mountinfo does (\012, \134) so that a line is always exactly one mount point.
 */
static int build_mounts_env(const char *const *mounts, char **ret)
{
	static const char prefix[] = OWN_ENV_PREFIX "MOUNTS=";
	_cleanup_free_ char *s = NULL;
	size_t len = sizeof(prefix) - 1, pos;

	for (size_t i = 0; mounts && mounts[i]; i++) {
		for (const char *p = mounts[i]; *p; p++)
			len += (*p == '\n' || *p == '\\') ? 4 : 1;
		len += 1; /* '\n' or the final NUL */
		if (len > ENV_STRING_MAX)
			return -E2BIG;
	}
	s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, prefix, sizeof(prefix) - 1);
	pos = sizeof(prefix) - 1;
	for (size_t i = 0; mounts && mounts[i]; i++) {
		if (i > 0)
			s[pos++] = '\n';
		for (const char *p = mounts[i]; *p; p++) {
			if (*p == '\n' || *p == '\\') {
				memcpy(s + pos, *p == '\n' ? "\\012" : "\\134", 4);
				pos += 4;
			} else
				s[pos++] = *p;
		}
	}
	s[pos] = '\0';
	*ret = TAKE_PTR(s);
	return 0;
}

static int extra_env_check(const char *const *extra, size_t *ret_n)
{
	size_t n = 0;

	for (; extra && extra[n]; n++) {
		if (n >= EXTRA_ENV_MAX)
			return -EINVAL;
		if (extra[n][0] == '=' || !strchr(extra[n], '='))
			return -EINVAL;
		/* Ours must not be overridden or duplicated. */
		if (strncmp(extra[n], OWN_ENV_PREFIX, strlen(OWN_ENV_PREFIX)) == 0)
			return -EINVAL;
	}
	*ret_n = n;
	return 0;
}

static void groups_end(VssHooks *h, uint64_t grace_usec)
{
	bool any = false;

	for (size_t i = 0; i < h->n_runs; i++)
		any = any || h->groups[i].pgid > 0;
	if (!any)
		return;
	(void)hook_groups_end(h->groups, h->n_runs, grace_usec, h->ends);
	for (size_t i = 0; i < h->n_runs; i++) {
		h->runs[i].left_alive = h->ends[i].alive;
		h->runs[i].left_killed = h->ends[i].killed;
	}
}

VssHooks *vss_hooks_free(VssHooks *h)
{
	if (!h)
		return NULL;
	if (h->groups)
		groups_end(h, 0);
	free(h->dir);
	for (size_t i = 0; i < h->n_extra; i++)
		free(h->extra_env[i]);
	free(h->extra_env);
	free(h->env_mounts);
	free(h->env_timeout);
	free(h->env_id);
	free(h->env_deadline);
	free(h->entries);
	free(h->skipped);
	free(h->runs);
	free(h->groups);
	free(h->ends);
	free(h);
	return NULL;
}

int vss_hooks_new(const VssHooksConfig *cfg, const VssHooksBackup *backup, VssHooks **ret)
{
	_cleanup_(vss_hooks_freep) VssHooks *h = NULL;
	const char *dir;
	size_t n_extra;
	int r;

	if (!cfg || !backup || !ret)
		return -EINVAL;
	dir = cfg->dir ? cfg->dir : VSS_HOOKS_DIR;
	if (dir[0] != '/' || !backup_id_valid(backup->id))
		return -EINVAL;
	r = extra_env_check(cfg->extra_env, &n_extra);
	if (r < 0)
		return r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->timeout_usec = cfg->timeout_usec ?: VSS_HOOKS_TIMEOUT_DEFAULT_USEC;
	h->grace_usec = cfg->holder_grace_usec ?: VSS_HOOKS_HOLDER_GRACE_DEFAULT_USEC;
	h->drain_usec = cfg->drain_usec ?: VSS_HOOKS_DRAIN_DEFAULT_USEC;
	h->ignore_failures = cfg->ignore_failures;
	h->dir = strdup(dir);
	if (!h->dir)
		return -ENOMEM;
	h->extra_env = calloc(n_extra + 1, sizeof(char *));
	if (!h->extra_env)
		return -ENOMEM;
	for (; h->n_extra < n_extra; h->n_extra++) {
		h->extra_env[h->n_extra] = strdup(cfg->extra_env[h->n_extra]);
		if (!h->extra_env[h->n_extra])
			return -ENOMEM;
	}

	r = build_mounts_env(backup->mounts, &h->env_mounts);
	if (r < 0)
		return r;
	/* Rounded up: a hook pacing itself by it must not count on a second it lacks. */
	r = asprintf(&h->env_timeout, OWN_ENV_PREFIX "TIMEOUT_SEC=%" PRIu64,
		     (h->timeout_usec + USEC_PER_SEC - 1) / USEC_PER_SEC);
	if (r < 0) {
		h->env_timeout = NULL;
		return -ENOMEM;
	}
	r = asprintf(&h->env_id, OWN_ENV_PREFIX "BACKUP_ID=%s", backup->id);
	if (r < 0) {
		h->env_id = NULL;
		return -ENOMEM;
	}
	if (backup->deadline_sec > 0) {
		r = asprintf(&h->env_deadline, OWN_ENV_PREFIX "DEADLINE=%" PRId64,
			     backup->deadline_sec);
		if (r < 0) {
			h->env_deadline = NULL;
			return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(h);
	return 0;
}

/* Kept names, before classification; sorted with strcmp (byte order, the C locale). */
typedef struct Name {
	char name[NAME_MAX + 1];
} Name;

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const Name *)a)->name, ((const Name *)b)->name);
}

/* Every name in the directory but "." and "..", sorted. */
static int read_names(DIR *d, Name **ret, size_t *ret_n)
{
	_cleanup_free_ Name *names = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;

	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strlen(de->d_name) > NAME_MAX)
			continue; /* cannot happen on Linux */
		if (n == alloc) {
			size_t want = alloc ? alloc * 2 : 16;
			Name *p = reallocarray(names, want, sizeof(*names));

			if (!p)
				return -ENOMEM;
			names = p;
			alloc = want;
		}
		snprintf(names[n++].name, sizeof(names->name), "%s", de->d_name);
		errno = 0;
	}
	if (errno != 0)
		return negative_errno();
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	*ret = TAKE_PTR(names);
	*ret_n = n;
	return 0;
}

/* Unsafe if someone other than root (or us) could add, replace or rename hooks. */
static bool dir_safe(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) &&
	       (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* Sizes the per-call arrays for n hooks: one freeze and one closing call each at most. */
static int alloc_runs(VssHooks *h, size_t n)
{
	size_t cap = MAX(n * 2, (size_t)1);

	h->runs = calloc(cap, sizeof(*h->runs));
	h->groups = calloc(cap, sizeof(*h->groups));
	h->ends = calloc(cap, sizeof(*h->ends));
	if (!h->runs || !h->groups || !h->ends)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		h->groups[i] = HOOK_GROUP_INIT;
	return 0;
}

/*
 * Fills entries (hooks and refused files) and skipped. A missing directory is no hooks;
 * an unreadable or unsafe one sets dir_error. Only -ENOMEM is returned.
 */
static int scan(VssHooks *h)
{
	_cleanup_free_ Name *names = NULL;
	size_t n = 0;
	struct stat st;
	DIR *d;
	int fd, r;

	fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			h->dir_error = negative_errno();
		return alloc_runs(h, 0);
	}
	if (fstat(fd, &st) < 0)
		h->dir_error = negative_errno();
	else if (!dir_safe(&st))
		h->dir_error = -EPERM;
	if (h->dir_error < 0) {
		safe_close(fd);
		return alloc_runs(h, 0);
	}
	d = fdopendir(fd);
	if (!d) {
		h->dir_error = negative_errno();
		safe_close(fd);
		return alloc_runs(h, 0);
	}
	r = read_names(d, &names, &n);
	if (r < 0) {
		closedir(d);
		if (r == -ENOMEM)
			return r;
		h->dir_error = r;
		return alloc_runs(h, 0);
	}

	h->entries = calloc(MAX(n, (size_t)1), sizeof(*h->entries));
	h->skipped = calloc(MAX(n, (size_t)1), sizeof(*h->skipped));
	if (!h->entries || !h->skipped) {
		closedir(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		bool have = fstatat(dirfd(d), names[i].name, &st, 0) == 0;
		VssHookFile f = vss_hook_classify(names[i].name, have ? &st : NULL, geteuid());

		if (f == VSS_HOOK_FILE_HOOK || vss_hook_file_refused(f)) {
			Entry *e = &h->entries[h->n_entries++];

			memcpy(e->name, names[i].name, sizeof(e->name));
			e->file = f;
		} else {
			VssHookSkip *s = &h->skipped[h->n_skipped++];

			memcpy(s->name, names[i].name, sizeof(s->name));
			s->why = f;
		}
	}
	closedir(d);
	return alloc_runs(h, h->n_entries);
}

static VssHookRun *add_run(VssHooks *h, const Entry *e, VssHookPhase phase)
{
	VssHookRun *run = &h->runs[h->n_runs++];

	*run = (VssHookRun){ .phase = phase, .file = VSS_HOOK_FILE_HOOK };
	memcpy(run->name, e->name, sizeof(run->name));
	return run;
}

/* First non-blank line of a hook's stderr, control bytes as '?', cut on a UTF-8 boundary. */
static void first_line(const char *err, size_t size, char out[static VSS_HOOK_MESSAGE_MAX])
{
	size_t start = 0, end, n;

	out[0] = '\0';
	while (start < size && (err[start] == ' ' || err[start] == '\t' || err[start] == '\n' ||
				err[start] == '\r'))
		start++;
	if (start >= size)
		return;
	for (end = start; end < size && err[end] != '\n'; end++)
		;
	while (end > start && (err[end - 1] == ' ' || err[end - 1] == '\t' || err[end - 1] == '\r'))
		end--;
	n = MIN(end - start, (size_t)VSS_HOOK_MESSAGE_MAX - 1);
	/* Do not cut a multi-byte character: drop its leading part too. */
	if (n < end - start)
		while (n > 0 && ((unsigned char)err[start + n] & 0xc0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)err[start + i];

		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[n] = '\0';
}

static const char *freeze_result_string(VssHookOutcome o)
{
	switch (o) {
	case VSS_HOOK_OUTCOME_OK:
		return "ok";
	case VSS_HOOK_OUTCOME_FAILED:
		return "failed";
	case VSS_HOOK_OUTCOME_SIGNAL:
		return "signal";
	case VSS_HOOK_OUTCOME_TIMEOUT:
		return "timeout";
	case VSS_HOOK_OUTCOME_SPAWN_ERROR:
	case VSS_HOOK_OUTCOME_REFUSED:
	case VSS_HOOK_OUTCOME_NOT_RUN:
	case _VSS_HOOK_OUTCOME_MAX:
	case _VSS_HOOK_OUTCOME_INVALID:
		break;
	}
	return NULL; /* never started: never asked */
}

/* Runs one hook once and records it as run; returns true if it succeeded. */
static bool call_hook(VssHooks *h, Entry *e, VssHookPhase phase)
{
	char path[PATH_MAX], op[64], result[64];
	const char *argv[] = { path, vss_hook_phase_to_string(phase), NULL };
	const char *env[HOOK_EXTRA_ENV_MAX + 1];
	HookOptions opts = {
		.timeout_usec = h->timeout_usec,
		.drain_usec = h->drain_usec,
		.keep_group = true,
	};
	size_t i = h->n_runs, n_env = 0;
	VssHookRun *run = add_run(h, e, phase);
	HookResult res = { 0 };
	uint64_t t0;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", h->dir, e->name) >= (int)sizeof(path)) {
		run->outcome = VSS_HOOK_OUTCOME_SPAWN_ERROR;
		run->error = -ENAMETOOLONG;
		return false;
	}
	/* Ours first: getenv() returns the first match. */
	snprintf(op, sizeof(op), OWN_ENV_PREFIX "OPERATION=%s", argv[1]);
	env[n_env++] = op;
	env[n_env++] = h->env_mounts;
	env[n_env++] = h->env_timeout;
	env[n_env++] = h->env_id;
	if (h->env_deadline)
		env[n_env++] = h->env_deadline;
	if (phase != VSS_HOOK_PHASE_FREEZE) {
		snprintf(result, sizeof(result), OWN_ENV_PREFIX "FREEZE_RESULT=%s",
			 strna(freeze_result_string(e->freeze_outcome)));
		env[n_env++] = result;
	}
	for (size_t k = 0; k < h->n_extra; k++)
		env[n_env++] = h->extra_env[k];
	env[n_env] = NULL;

	t0 = now_usec();
	r = hook_run_opts(argv, env, &opts, &res, &h->groups[i]);
	run->duration_usec = now_usec() - t0;
	if (r < 0) {
		run->outcome = VSS_HOOK_OUTCOME_SPAWN_ERROR;
		run->error = r;
		return false;
	}
	if (phase == VSS_HOOK_PHASE_FREEZE)
		e->started = true;
	run->pipes_held = res.pipes_held;
	first_line(res.err, res.err_size, run->message);
	if (res.timed_out) {
		run->outcome = VSS_HOOK_OUTCOME_TIMEOUT;
		run->term_signal = res.term_signal;
	} else if (res.exited) {
		run->exit_status = res.exit_status;
		run->outcome = res.exit_status == 0 ? VSS_HOOK_OUTCOME_OK : VSS_HOOK_OUTCOME_FAILED;
	} else {
		run->outcome = VSS_HOOK_OUTCOME_SIGNAL;
		run->term_signal = res.term_signal;
	}
	hook_result_done(&res);
	if (phase == VSS_HOOK_PHASE_FREEZE)
		e->freeze_outcome = run->outcome;
	return run->outcome == VSS_HOOK_OUTCOME_OK;
}

int vss_hooks_freeze(VssHooks *h)
{
	bool aborted = false;
	int r;

	if (!h)
		return -EINVAL;
	if (h->state != HOOKS_NEW)
		return -EALREADY;
	h->state = HOOKS_FROZE;
	r = scan(h);
	if (r < 0)
		return r;
	if (h->dir_error < 0 && !h->ignore_failures)
		return -ECANCELED;

	for (size_t i = 0; i < h->n_entries; i++) {
		Entry *e = &h->entries[i];
		bool ok;

		if (aborted) {
			add_run(h, e, VSS_HOOK_PHASE_FREEZE)->outcome = VSS_HOOK_OUTCOME_NOT_RUN;
			continue;
		}
		if (vss_hook_file_refused(e->file)) {
			VssHookRun *run = add_run(h, e, VSS_HOOK_PHASE_FREEZE);

			run->outcome = VSS_HOOK_OUTCOME_REFUSED;
			run->file = e->file;
			ok = false;
		} else
			ok = call_hook(h, e, VSS_HOOK_PHASE_FREEZE);
		if (!ok && !h->ignore_failures)
			aborted = true;
	}
	return aborted ? -ECANCELED : 0;
}

static int close_phase(VssHooks *h, VssHookPhase phase)
{
	HooksState prev;
	int failed = 0;

	if (!h)
		return -EINVAL;
	if (h->state == HOOKS_CLOSED)
		return -EALREADY;
	prev = h->state;
	h->state = HOOKS_CLOSED;
	if (prev == HOOKS_NEW)
		return 0;

	for (size_t i = h->n_entries; i-- > 0;) {
		Entry *e = &h->entries[i];

		if (e->started && !call_hook(h, e, phase))
			failed++;
	}
	/* Every holder has had its chance to let go: end what is left, all at once. */
	groups_end(h, h->grace_usec);
	return failed;
}

int vss_hooks_thaw(VssHooks *h)
{
	return close_phase(h, VSS_HOOK_PHASE_THAW);
}

int vss_hooks_freeze_failed(VssHooks *h)
{
	return close_phase(h, VSS_HOOK_PHASE_FREEZE_FAILED);
}

const VssHookRun *vss_hooks_runs(const VssHooks *h, size_t *ret_n)
{
	*ret_n = h ? h->n_runs : 0;
	return h ? h->runs : NULL;
}

const VssHookSkip *vss_hooks_skipped(const VssHooks *h, size_t *ret_n)
{
	*ret_n = h ? h->n_skipped : 0;
	return h ? h->skipped : NULL;
}

int vss_hooks_dir_error(const VssHooks *h)
{
	return h ? h->dir_error : -EINVAL;
}

static void format_run(FILE *f, const VssHookRun *r)
{
	fprintf(f, "%s %s ", r->name, vss_hook_phase_to_string(r->phase));
	switch (r->outcome) {
	case VSS_HOOK_OUTCOME_OK:
		fputs("ok", f);
		break;
	case VSS_HOOK_OUTCOME_FAILED:
		fprintf(f, "exit %d", r->exit_status);
		break;
	case VSS_HOOK_OUTCOME_SIGNAL:
		fprintf(f, "signal %d", r->term_signal);
		break;
	case VSS_HOOK_OUTCOME_TIMEOUT:
		fputs("timeout", f);
		break;
	case VSS_HOOK_OUTCOME_SPAWN_ERROR:
		fprintf(f, "spawn-error (%s)", strerror(-r->error));
		break;
	case VSS_HOOK_OUTCOME_REFUSED:
		fprintf(f, "refused (%s)", vss_hook_file_to_string(r->file));
		break;
	case VSS_HOOK_OUTCOME_NOT_RUN:
		fputs("not-run", f);
		return;
	case _VSS_HOOK_OUTCOME_MAX:
	case _VSS_HOOK_OUTCOME_INVALID:
		return;
	}
	if (r->outcome == VSS_HOOK_OUTCOME_REFUSED)
		return;
	fprintf(f, " %" PRIu64 ".%03" PRIu64 "s", r->duration_usec / USEC_PER_SEC,
		r->duration_usec % USEC_PER_SEC / 1000u);
	if (r->message[0])
		fprintf(f, " \"%s\"", r->message);
	if (r->pipes_held)
		fputs(" held-stdout", f);
	if (r->left_alive == HOOK_GROUP_UNCOUNTED)
		fputs(" left=?", f);
	else if (r->left_alive > 0)
		fprintf(f, " left=%" PRIu32 " killed=%" PRIu32, r->left_alive, r->left_killed);
}

int vss_hooks_format_summary(const VssHooks *h, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	bool first = true;
	FILE *f;

	if (!h || !ret)
		return -EINVAL;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	if (h->dir_error < 0) {
		fprintf(f, "directory %s: %s", h->dir, strerror(-h->dir_error));
		first = false;
	}
	for (size_t i = 0; i < h->n_runs; i++) {
		if (!first)
			fputs("; ", f);
		format_run(f, &h->runs[i]);
		first = false;
	}
	for (size_t i = 0; i < h->n_skipped; i++) {
		fprintf(f, "%s%s (%s)", i == 0 ? (first ? "skipped: " : "; skipped: ") : ", ",
			h->skipped[i].name, vss_hook_file_to_string(h->skipped[i].why));
	}
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}
