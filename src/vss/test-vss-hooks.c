/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vss/vss-hooks.h"

#define SEC 1000000ull
#define MSEC 1000ull

typedef struct Fx {
	char root[64];
	char dir[128];	 /* the hooks directory */
	char bin[128];	 /* fake clients, first in PATH */
	char log[128];	 /* what hooks and fakes write */
	char state[128]; /* HOOK_STATE_DIR of the examples */
	char env[8][320];
	const char *extra[9];
	VssHooksConfig cfg;
	VssHooksBackup backup;
	VssHooks *live[4]; /* freed by teardown if a failed test could not: no holder left */
} Fx;

static const char *const test_mounts[] = { "/", "/srv/data", "/mnt/new\nline", "/mnt/back\\slash",
					   NULL };

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static void write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = strlen(content);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* The file's content, NUL-terminated ("" if it does not exist); *ret_size if non-NULL. */
static char *read_file(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 20);
	size_t n = 0;

	assert_non_null(buf);
	if (f) {
		n = fread(buf, 1, (1 << 20) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (ret_size)
		*ret_size = n;
	return buf;
}

static void write_hook(Fx *fx, const char *name, const char *body)
{
	char path[256], text[4096];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	write_file(path, text, 0755);
}

/* A hook that logs "NAME ARG OPERATION FREEZE_RESULT" and exits with code. */
static void write_logging_hook(Fx *fx, const char *name, int code)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "echo \"${0##*/} $1 $HVGUEST_VSS_OPERATION ${HVGUEST_VSS_FREEZE_RESULT:--}\" "
		 ">>\"$HOOK_LOG\"\nexit %d",
		 code);
	write_hook(fx, name, body);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void set_env(Fx *fx, unsigned i, const char *name, const char *value)
{
	snprintf(fx->env[i], sizeof(fx->env[i]), "%s=%s", name, value);
	fx->extra[i] = fx->env[i];
}

static int setup(void **state)
{
	Fx *fx = calloc(1, sizeof(*fx));
	char path[300];

	assert_non_null(fx);
	snprintf(fx->root, sizeof(fx->root), "/tmp/test-vss-hooks-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	assert_int_equal(chmod(fx->root, 0755), 0);
	snprintf(fx->dir, sizeof(fx->dir), "%s/vss.d", fx->root);
	snprintf(fx->bin, sizeof(fx->bin), "%s/bin", fx->root);
	snprintf(fx->log, sizeof(fx->log), "%s/log", fx->root);
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->root);
	assert_int_equal(mkdir(fx->dir, 0755), 0);
	assert_int_equal(mkdir(fx->bin, 0755), 0);
	assert_int_equal(chmod(fx->dir, 0755), 0);

	snprintf(path, sizeof(path), "%s:/usr/sbin:/usr/bin:/sbin:/bin", fx->bin);
	set_env(fx, 0, "PATH", path);
	set_env(fx, 1, "HOOK_LOG", fx->log);
	set_env(fx, 2, "ROOT", fx->root);
	set_env(fx, 3, "FAKE_SQL_LOG", fx->log);
	set_env(fx, 4, "HOOK_STATE_DIR", fx->state);
	set_env(fx, 5, "HOOK_CONFIG", "/nonexistent/hvguest-test");
	fx->extra[6] = NULL;

	fx->cfg = (VssHooksConfig){
		.dir = fx->dir,
		.timeout_usec = 10 * SEC,
		.holder_grace_usec = 2 * SEC,
		.extra_env = fx->extra,
	};
	fx->backup = (VssHooksBackup){
		.id = "test-1",
		.mounts = test_mounts,
		.deadline_sec = 2000000000,
	};
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	Fx *fx = *state;

	for (size_t i = 0; i < ELEMENTSOF(fx->live); i++)
		vss_hooks_free(fx->live[i]);
	nftw(fx->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static VssHooks *new_hooks(Fx *fx)
{
	VssHooks *h = NULL;

	assert_int_equal(vss_hooks_new(&fx->cfg, &fx->backup, &h), 0);
	assert_non_null(h);
	for (size_t i = 0; i < ELEMENTSOF(fx->live); i++)
		if (!fx->live[i]) {
			fx->live[i] = h;
			return h;
		}
	fail_msg("too many live VssHooks");
	return NULL;
}

static void drop_hooks(Fx *fx, VssHooks *h)
{
	for (size_t i = 0; i < ELEMENTSOF(fx->live); i++)
		if (fx->live[i] == h)
			fx->live[i] = NULL;
	vss_hooks_free(h);
}

/* True if pid is running (not gone, not a zombie waiting for init). */
static bool pid_alive(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return false;
	return p[2] != 'Z' && p[2] != 'X';
}

static bool wait_pid_gone(pid_t pid)
{
	for (int i = 0; i < 300; i++) {
		if (!pid_alive(pid))
			return true;
		usleep(10 * 1000);
	}
	return false;
}

static pid_t read_pid(Fx *fx, const char *name)
{
	char path[256];
	char *s;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", fx->root, name);
	s = read_file(path, NULL);
	pid = (pid_t)atoi(s);
	free(s);
	assert_true(pid > 1);
	return pid;
}

static void test_classify(void **state)
{
	struct stat hook = { .st_mode = S_IFREG | 0755, .st_uid = 0 };
	struct stat mine = { .st_mode = S_IFREG | 0700, .st_uid = 1234 };
	struct stat other = { .st_mode = S_IFREG | 0755, .st_uid = 1000 };
	struct stat gw = { .st_mode = S_IFREG | 0775, .st_uid = 0 };
	struct stat ww = { .st_mode = S_IFREG | 0757, .st_uid = 0 };
	struct stat noexec = { .st_mode = S_IFREG | 0644, .st_uid = 0 };
	struct stat wwnoexec = { .st_mode = S_IFREG | 0666, .st_uid = 1000 };
	struct stat dir = { .st_mode = S_IFDIR | 0755, .st_uid = 0 };
	struct stat fifo = { .st_mode = S_IFIFO | 0755, .st_uid = 0 };
	static const char *const backups[] = {
		"50-pg~",	  "50-pg.dpkg-old", "50-pg.dpkg-dist", "50-pg.dpkg-new",
		"50-pg.rpmnew",	  "50-pg.rpmsave",  "50-pg.rpmorig",   "50-pg.ucf-dist",
		"#50-pg#",	  "50-pg.orig",	    "50-pg.bak",       "50-pg.swp",
		"50-pg.disabled", "50-pg.dpkg-tmp",
	};

	assert_int_equal(vss_hook_classify("50-pg", &hook, 0), VSS_HOOK_FILE_HOOK);
	assert_int_equal(vss_hook_classify("50-pg.sh", &hook, 0), VSS_HOOK_FILE_HOOK);
	assert_int_equal(vss_hook_classify("#50", &hook, 0), VSS_HOOK_FILE_HOOK);
	for (size_t i = 0; i < ELEMENTSOF(backups); i++)
		assert_int_equal(vss_hook_classify(backups[i], &hook, 0), VSS_HOOK_FILE_BACKUP);
	assert_int_equal(vss_hook_classify(".50-pg", &hook, 0), VSS_HOOK_FILE_HIDDEN);
	assert_int_equal(vss_hook_classify("50-pg", NULL, 0), VSS_HOOK_FILE_NOT_REGULAR);
	assert_int_equal(vss_hook_classify("50-pg", &dir, 0), VSS_HOOK_FILE_NOT_REGULAR);
	assert_int_equal(vss_hook_classify("50-pg", &fifo, 0), VSS_HOOK_FILE_NOT_REGULAR);
	assert_int_equal(vss_hook_classify("50-pg", &noexec, 0), VSS_HOOK_FILE_NOT_EXECUTABLE);
	/* Not executable wins: such a file is not a hook at all, whatever its owner. */
	assert_int_equal(vss_hook_classify("50-pg", &wwnoexec, 0), VSS_HOOK_FILE_NOT_EXECUTABLE);
	assert_int_equal(vss_hook_classify("50-pg", &other, 0), VSS_HOOK_FILE_BAD_OWNER);
	assert_int_equal(vss_hook_classify("50-pg", &mine, 1234), VSS_HOOK_FILE_HOOK);
	assert_int_equal(vss_hook_classify("50-pg", &mine, 0), VSS_HOOK_FILE_BAD_OWNER);
	assert_int_equal(vss_hook_classify("50-pg", &gw, 0), VSS_HOOK_FILE_WRITABLE);
	assert_int_equal(vss_hook_classify("50-pg", &ww, 0), VSS_HOOK_FILE_WRITABLE);
	assert_int_equal(vss_hook_classify("", &hook, 0), _VSS_HOOK_FILE_INVALID);
	assert_true(vss_hook_file_refused(VSS_HOOK_FILE_WRITABLE));
	assert_true(vss_hook_file_refused(VSS_HOOK_FILE_BAD_OWNER));
	assert_false(vss_hook_file_refused(VSS_HOOK_FILE_BACKUP));
	assert_false(vss_hook_file_refused(VSS_HOOK_FILE_NOT_EXECUTABLE));
	for (int i = 0; i < _VSS_HOOK_FILE_MAX; i++)
		assert_non_null(vss_hook_file_to_string(i));
	for (int i = 0; i < _VSS_HOOK_OUTCOME_MAX; i++)
		assert_non_null(vss_hook_outcome_to_string(i));
	for (int i = 0; i < _VSS_HOOK_PHASE_MAX; i++)
		assert_non_null(vss_hook_phase_to_string(i));
	assert_null(vss_hook_phase_to_string(_VSS_HOOK_PHASE_MAX));
}

static void test_new_invalid(void **state)
{
	Fx *fx = *state;
	VssHooksConfig cfg = fx->cfg;
	VssHooksBackup b = fx->backup;
	const char *own[] = { "HVGUEST_VSS_OPERATION=thaw", NULL };
	const char *noeq[] = { "PATH", NULL };
	const char *many[32];
	const char *huge_mounts[3];
	char *huge;
	VssHooks *h = NULL;

	cfg.dir = "relative/vss.d";
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -EINVAL);
	cfg = fx->cfg;
	b.id = "";
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -EINVAL);
	b.id = "has space";
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -EINVAL);
	b.id = "new\nline";
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -EINVAL);
	b.id = NULL;
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -EINVAL);
	b = fx->backup;
	cfg.extra_env = own;
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -EINVAL);
	cfg.extra_env = noeq;
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -EINVAL);
	for (unsigned i = 0; i < 31; i++)
		many[i] = "A=b";
	many[31] = NULL;
	cfg.extra_env = many;
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -EINVAL);
	many[24] = NULL; /* 24 is the documented maximum */
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), 0);
	h = vss_hooks_free(h);
	cfg = fx->cfg;

	huge = malloc(200000);
	assert_non_null(huge);
	memset(huge, 'x', 199999);
	huge[0] = '/';
	huge[199999] = '\0';
	huge_mounts[0] = "/";
	huge_mounts[1] = huge;
	huge_mounts[2] = NULL;
	b.mounts = huge_mounts;
	assert_int_equal(vss_hooks_new(&cfg, &b, &h), -E2BIG);
	free(huge);
	assert_null(h);
}

static void test_missing_and_empty_dir(void **state)
{
	Fx *fx = *state;
	char missing[256];
	const VssHookRun *runs;
	size_t n;
	char *s;
	VssHooks *h;

	/* Empty directory. */
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 0);
	assert_int_equal(vss_hooks_dir_error(h), 0);
	assert_int_equal(vss_hooks_thaw(h), 0);
	assert_int_equal(vss_hooks_format_summary(h, &s), 0);
	assert_string_equal(s, "");
	free(s);
	drop_hooks(fx, h);

	/* Missing directory: no hooks, not an error. */
	snprintf(missing, sizeof(missing), "%s/nonexistent", fx->root);
	fx->cfg.dir = missing;
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 0);
	(void)runs;
	assert_int_equal(vss_hooks_dir_error(h), 0);
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	drop_hooks(fx, h);

	/* A file where the directory should be is an error. */
	write_file(missing, "", 0644);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	assert_int_equal(vss_hooks_dir_error(h), -ENOTDIR);
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	drop_hooks(fx, h);
}

static void test_order_and_reverse_thaw(void **state)
{
	Fx *fx = *state;
	/* strcmp order, whatever the locale: digits, then upper case, then lower case. */
	static const char *const order[] = { "10-a", "2-b", "B-upper", "a-lower" };
	const VssHookRun *runs;
	size_t n;
	char *log;
	VssHooks *h;

	write_logging_hook(fx, "a-lower", 0);
	write_logging_hook(fx, "B-upper", 0);
	write_logging_hook(fx, "2-b", 0);
	write_logging_hook(fx, "10-a", 0);

	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "10-a freeze freeze -\n"
				 "2-b freeze freeze -\n"
				 "B-upper freeze freeze -\n"
				 "a-lower freeze freeze -\n");
	free(log);
	assert_int_equal(vss_hooks_thaw(h), 0);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "10-a freeze freeze -\n"
				 "2-b freeze freeze -\n"
				 "B-upper freeze freeze -\n"
				 "a-lower freeze freeze -\n"
				 "a-lower thaw thaw ok\n"
				 "B-upper thaw thaw ok\n"
				 "2-b thaw thaw ok\n"
				 "10-a thaw thaw ok\n");
	free(log);

	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(runs[i].name, order[i]);
		assert_int_equal(runs[i].phase, VSS_HOOK_PHASE_FREEZE);
		assert_int_equal(runs[i].outcome, VSS_HOOK_OUTCOME_OK);
		assert_string_equal(runs[7 - i].name, order[i]);
		assert_int_equal(runs[7 - i].phase, VSS_HOOK_PHASE_THAW);
		assert_int_equal(runs[7 - i].outcome, VSS_HOOK_OUTCOME_OK);
		assert_true(runs[i].duration_usec > 0);
		assert_int_equal(runs[i].left_alive, 0);
	}
	/* One closing phase per backup. */
	assert_int_equal(vss_hooks_thaw(h), -EALREADY);
	assert_int_equal(vss_hooks_freeze_failed(h), -EALREADY);
	assert_int_equal(vss_hooks_freeze(h), -EALREADY);
	drop_hooks(fx, h);
}

static void test_thaw_without_freeze(void **state)
{
	Fx *fx = *state;
	char *log;
	VssHooks *h;

	write_logging_hook(fx, "10-a", 0);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_thaw(h), 0);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "");
	free(log);
	assert_int_equal(vss_hooks_freeze(h), -EALREADY);
	drop_hooks(fx, h);
}

/* Splits NUL-separated "NAME=value" records and returns the value of name, or NULL. */
static const char *env_get(const char *buf, size_t size, const char *name)
{
	size_t len = strlen(name);

	for (size_t pos = 0; pos < size; pos += strlen(buf + pos) + 1)
		if (strncmp(buf + pos, name, len) == 0 && buf[pos + len] == '=')
			return buf + pos + len + 1;
	return NULL;
}

static void test_environment(void **state)
{
	Fx *fx = *state;
	char path[256];
	size_t size;
	const char *v;
	char *buf;
	VssHooks *h;

	write_hook(fx, "10-env",
		   "env -0 >\"$ROOT/env.$1\"\n"
		   "printf '%s\\n' \"$#\" \"$1\" >\"$ROOT/args.$1\"");
	fx->cfg.timeout_usec = 1500 * MSEC; /* announced as 2 s: rounded up */
	setenv("HVGUEST_TEST_CANARY", "leak", 1);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	assert_int_equal(vss_hooks_thaw(h), 0);
	drop_hooks(fx, h);
	unsetenv("HVGUEST_TEST_CANARY");

	snprintf(path, sizeof(path), "%s/env.freeze", fx->root);
	buf = read_file(path, &size);
	assert_true(size > 0);
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_OPERATION"), "freeze");
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_MOUNTS"),
			    "/\n/srv/data\n/mnt/new\\012line\n/mnt/back\\134slash");
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_TIMEOUT_SEC"), "2");
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_BACKUP_ID"), "test-1");
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_DEADLINE"), "2000000000");
	assert_null(env_get(buf, size, "HVGUEST_VSS_FREEZE_RESULT"));
	assert_string_equal(env_get(buf, size, "LANG"), "C.UTF-8");
	/* The configured extras, PATH included; nothing of ours. */
	v = env_get(buf, size, "PATH");
	assert_non_null(v);
	assert_true(strncmp(v, fx->bin, strlen(fx->bin)) == 0);
	assert_string_equal(env_get(buf, size, "HOOK_LOG"), fx->log);
	assert_null(env_get(buf, size, "HVGUEST_TEST_CANARY"));
	free(buf);

	snprintf(path, sizeof(path), "%s/env.thaw", fx->root);
	buf = read_file(path, &size);
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_OPERATION"), "thaw");
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_FREEZE_RESULT"), "ok");
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_BACKUP_ID"), "test-1");
	free(buf);

	snprintf(path, sizeof(path), "%s/args.thaw", fx->root);
	buf = read_file(path, NULL);
	assert_string_equal(buf, "1\nthaw\n");
	free(buf);

	/* No deadline given: no variable. */
	fx->backup.deadline_sec = 0;
	fx->backup.mounts = NULL;
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	drop_hooks(fx, h);
	snprintf(path, sizeof(path), "%s/env.freeze", fx->root);
	buf = read_file(path, &size);
	assert_null(env_get(buf, size, "HVGUEST_VSS_DEADLINE"));
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_MOUNTS"), "");
	free(buf);
	snprintf(path, sizeof(path), "%s/env.freeze-failed", fx->root);
	buf = read_file(path, &size);
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_OPERATION"), "freeze-failed");
	assert_string_equal(env_get(buf, size, "HVGUEST_VSS_FREEZE_RESULT"), "ok");
	free(buf);
}

static void test_failing_hook_aborts(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	char *log, *sum;
	VssHooks *h;

	write_logging_hook(fx, "10-ok", 0);
	write_hook(fx, "20-fail",
		   "echo \"${0##*/} $1 $HVGUEST_VSS_OPERATION ${HVGUEST_VSS_FREEZE_RESULT:--}\" "
		   ">>\"$HOOK_LOG\"\n"
		   "[ \"$1\" = freeze ] || exit 0\n"
		   "echo 'database is down' >&2; echo second line >&2; exit 3");
	write_logging_hook(fx, "30-never", 0);

	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 3);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_OK);
	assert_string_equal(runs[1].name, "20-fail");
	assert_int_equal(runs[1].outcome, VSS_HOOK_OUTCOME_FAILED);
	assert_int_equal(runs[1].exit_status, 3);
	assert_string_equal(runs[1].message, "database is down");
	assert_string_equal(runs[2].name, "30-never");
	assert_int_equal(runs[2].outcome, VSS_HOOK_OUTCOME_NOT_RUN);
	assert_int_equal(runs[2].duration_usec, 0);

	/* freeze-failed to both hooks whose freeze ran, the failed one included, in reverse. */
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "10-ok freeze freeze -\n"
				 "20-fail freeze freeze -\n"
				 "20-fail freeze-failed freeze-failed failed\n"
				 "10-ok freeze-failed freeze-failed ok\n");
	free(log);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 5);
	assert_int_equal(runs[3].phase, VSS_HOOK_PHASE_FREEZE_FAILED);
	assert_string_equal(runs[3].name, "20-fail");
	assert_string_equal(runs[4].name, "10-ok");

	assert_int_equal(vss_hooks_format_summary(h, &sum), 0);
	assert_non_null(strstr(sum, "10-ok freeze ok "));
	assert_non_null(strstr(sum, "; 20-fail freeze exit 3 "));
	assert_non_null(strstr(sum, "s \"database is down\"; 30-never freeze not-run; "
				    "20-fail freeze-failed ok "));
	free(sum);
	drop_hooks(fx, h);
}

static void test_failing_hook_ignored(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	char *log;
	VssHooks *h;

	write_logging_hook(fx, "10-ok", 0);
	write_logging_hook(fx, "20-fail", 4);
	write_logging_hook(fx, "30-after", 0);
	fx->cfg.ignore_failures = true;

	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	/* The failing hook gets its thaw too, told how its freeze went; thaw failures count. */
	assert_int_equal(vss_hooks_thaw(h), 1);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "10-ok freeze freeze -\n"
				 "20-fail freeze freeze -\n"
				 "30-after freeze freeze -\n"
				 "30-after thaw thaw ok\n"
				 "20-fail thaw thaw failed\n"
				 "10-ok thaw thaw ok\n");
	free(log);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 6);
	assert_int_equal(runs[1].outcome, VSS_HOOK_OUTCOME_FAILED);
	assert_int_equal(runs[1].exit_status, 4);
	assert_int_equal(runs[4].outcome, VSS_HOOK_OUTCOME_FAILED);
	drop_hooks(fx, h);
}

static void test_timeout_kills_group(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	uint64_t t0, dt;
	char *log;
	pid_t child;
	VssHooks *h;

	write_hook(fx, "10-slow",
		   "if [ \"$1\" = freeze ]; then\n"
		   "  sleep 30 </dev/null >/dev/null 2>&1 & echo $! >\"$ROOT/child.pid\"\n"
		   "  echo stuck >&2; sleep 30\n"
		   "fi\n"
		   "echo \"${0##*/} $1 $HVGUEST_VSS_FREEZE_RESULT\" >>\"$HOOK_LOG\"");
	write_logging_hook(fx, "20-never", 0);
	fx->cfg.timeout_usec = SEC;

	h = new_hooks(fx);
	t0 = mono_usec();
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	dt = mono_usec() - t0;
	assert_true(dt >= SEC);
	assert_true(dt < 5 * SEC);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 2);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_TIMEOUT);
	assert_int_equal(runs[0].term_signal, SIGKILL);
	assert_string_equal(runs[0].message, "stuck");
	assert_int_equal(runs[1].outcome, VSS_HOOK_OUTCOME_NOT_RUN);
	/* Its background child died with it, at the timeout. */
	child = read_pid(fx, "child.pid");
	assert_true(wait_pid_gone(child));

	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "10-slow freeze-failed timeout\n");
	free(log);
	drop_hooks(fx, h);
}

static void test_holder_survives_until_thaw(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	char *log;
	pid_t holder;
	VssHooks *h;

	/* A holder that its thaw call does not release: ended by us after the thaw phase. */
	write_hook(
		fx, "50-holder",
		"case $1 in\n"
		"freeze) sleep 30 </dev/null >/dev/null 2>&1 & echo $! >\"$ROOT/holder.pid\" ;;\n"
		"thaw) kill -0 \"$(cat \"$ROOT/holder.pid\")\" && echo alive >>\"$HOOK_LOG\" ;;\n"
		"esac\nexit 0");
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	holder = read_pid(fx, "holder.pid");
	usleep(100 * 1000);
	assert_true(pid_alive(holder));
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_OK);
	assert_false(runs[0].pipes_held);

	assert_int_equal(vss_hooks_thaw(h), 0);
	/* It was alive during the thaw call, and is gone once the phase is over. */
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "alive\n");
	free(log);
	assert_false(pid_alive(holder));
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 2);
	assert_int_equal(runs[0].left_alive, 1);
	assert_int_equal(runs[0].left_killed, 0);
	assert_int_equal(runs[1].left_alive, 0);
	drop_hooks(fx, h);
}

static void test_holder_released_by_thaw(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	pid_t holder;
	VssHooks *h;

	write_hook(
		fx, "50-holder",
		"case $1 in\n"
		"freeze) sleep 30 </dev/null >/dev/null 2>&1 & echo $! >\"$ROOT/holder.pid\" ;;\n"
		"thaw) pid=$(cat \"$ROOT/holder.pid\"); kill $pid\n"
		"  while kill -0 $pid 2>/dev/null && ! grep -q '^State:.*Z' /proc/$pid/status; do\n"
		"    sleep 0.01; done ;;\n"
		"esac\nexit 0");
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	holder = read_pid(fx, "holder.pid");
	assert_true(pid_alive(holder));
	assert_int_equal(vss_hooks_thaw(h), 0);
	assert_true(wait_pid_gone(holder));
	runs = vss_hooks_runs(h, &n);
	/* Nothing was left for us to end. */
	assert_int_equal(runs[0].left_alive, 0);
	assert_int_equal(runs[0].left_killed, 0);
	drop_hooks(fx, h);
}

static void test_stubborn_holder_killed(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	uint64_t t0, dt;
	pid_t holder;
	VssHooks *h;

	write_hook(fx, "50-stubborn",
		   "[ \"$1\" = freeze ] || exit 0\n"
		   "(trap '' TERM; touch \"$ROOT/ready\"; while :; do sleep 0.05; done) "
		   "</dev/null >/dev/null 2>&1 &\n"
		   "echo $! >\"$ROOT/holder.pid\"\n"
		   "# Ignoring SIGTERM before we return, or the test would race with it.\n"
		   "while [ ! -e \"$ROOT/ready\" ]; do sleep 0.01; done");
	fx->cfg.holder_grace_usec = 300 * MSEC;
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	holder = read_pid(fx, "holder.pid");
	assert_true(pid_alive(holder));
	t0 = mono_usec();
	assert_int_equal(vss_hooks_thaw(h), 0);
	dt = mono_usec() - t0;
	assert_true(dt >= 300 * MSEC);
	assert_true(dt < 3 * SEC);
	assert_false(pid_alive(holder));
	runs = vss_hooks_runs(h, &n);
	assert_true(runs[0].left_alive >= 1);
	assert_true(runs[0].left_killed >= 1);
	drop_hooks(fx, h);
}

static void test_holder_keeping_stdout(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	uint64_t t0;
	pid_t holder;
	char *sum;
	VssHooks *h;

	/* The holder forgot to redirect stdout: we must not wait for it until the timeout. */
	write_hook(fx, "50-careless",
		   "[ \"$1\" = freeze ] || exit 0\n"
		   "sleep 30 & echo $! >\"$ROOT/holder.pid\"");
	fx->cfg.timeout_usec = 20 * SEC;
	h = new_hooks(fx);
	t0 = mono_usec();
	assert_int_equal(vss_hooks_freeze(h), 0);
	assert_true(mono_usec() - t0 < 2 * SEC);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_OK);
	assert_true(runs[0].pipes_held);
	holder = read_pid(fx, "holder.pid");
	assert_true(pid_alive(holder));
	assert_int_equal(vss_hooks_thaw(h), 0);
	assert_false(pid_alive(holder));
	assert_int_equal(vss_hooks_format_summary(h, &sum), 0);
	assert_non_null(strstr(sum, "50-careless freeze ok "));
	assert_non_null(strstr(sum, " held-stdout left=1 killed=0"));
	free(sum);
	drop_hooks(fx, h);
}

static void test_free_ends_holders(void **state)
{
	Fx *fx = *state;
	pid_t holder;
	VssHooks *h;

	write_hook(fx, "50-holder",
		   "sleep 30 </dev/null >/dev/null 2>&1 & echo $! >\"$ROOT/holder.pid\"");
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	holder = read_pid(fx, "holder.pid");
	assert_true(pid_alive(holder));
	/* The manager gave up without a closing phase: nothing may be left behind. */
	drop_hooks(fx, h);
	assert_false(pid_alive(holder));
}

static void test_refuse_writable(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	char path[256], *log, *sum;
	size_t n;
	VssHooks *h;

	write_logging_hook(fx, "10-ok", 0);
	write_logging_hook(fx, "20-world", 0);
	write_logging_hook(fx, "30-group", 0);
	snprintf(path, sizeof(path), "%s/20-world", fx->dir);
	assert_int_equal(chmod(path, 0757), 0);
	snprintf(path, sizeof(path), "%s/30-group", fx->dir);
	assert_int_equal(chmod(path, 0775), 0);

	/* Abort: the refusal is a failure, nothing after it runs. */
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 3);
	assert_int_equal(runs[1].outcome, VSS_HOOK_OUTCOME_REFUSED);
	assert_int_equal(runs[1].file, VSS_HOOK_FILE_WRITABLE);
	assert_int_equal(runs[2].outcome, VSS_HOOK_OUTCOME_NOT_RUN);
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	assert_int_equal(vss_hooks_format_summary(h, &sum), 0);
	assert_non_null(strstr(sum, "20-world freeze refused (group- or world-writable)"));
	free(sum);
	drop_hooks(fx, h);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "10-ok freeze freeze -\n10-ok freeze-failed freeze-failed ok\n");
	free(log);
	unlink(fx->log);

	/* Ignore: still never run, the others are. */
	fx->cfg.ignore_failures = true;
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 3);
	assert_int_equal(runs[1].outcome, VSS_HOOK_OUTCOME_REFUSED);
	assert_int_equal(runs[2].outcome, VSS_HOOK_OUTCOME_REFUSED);
	assert_int_equal(runs[2].file, VSS_HOOK_FILE_WRITABLE);
	assert_int_equal(vss_hooks_thaw(h), 0);
	drop_hooks(fx, h);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "10-ok freeze freeze -\n10-ok thaw thaw ok\n");
	free(log);
}

static void test_refuse_not_root(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	char path[256], *log;
	size_t n;
	VssHooks *h;

	if (geteuid() != 0)
		skip(); /* needs chown */
	write_logging_hook(fx, "10-nobody", 0);
	snprintf(path, sizeof(path), "%s/10-nobody", fx->dir);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(chmod(path, 0755), 0);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_REFUSED);
	assert_int_equal(runs[0].file, VSS_HOOK_FILE_BAD_OWNER);
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	drop_hooks(fx, h);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "");
	free(log);

	/* A directory someone else owns or may write to: every hook refused. */
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(chown(fx->dir, 65534, 65534), 0);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	assert_int_equal(vss_hooks_dir_error(h), -EPERM);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 0);
	drop_hooks(fx, h);
	assert_int_equal(chown(fx->dir, 0, 0), 0);
	assert_int_equal(chmod(fx->dir, 0777), 0);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	assert_int_equal(vss_hooks_dir_error(h), -EPERM);
	drop_hooks(fx, h);
	fx->cfg.ignore_failures = true;
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	assert_int_equal(vss_hooks_thaw(h), 0);
	drop_hooks(fx, h);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "");
	free(log);
	assert_int_equal(chmod(fx->dir, 0755), 0);
}

static void test_skip_non_hooks(void **state)
{
	Fx *fx = *state;
	static const char *const leftovers[] = { "50-x~",	"50-x.dpkg-old", "50-x.dpkg-dist",
						 "50-x.rpmnew", "50-x.rpmsave",	 "#50-x#",
						 ".50-hidden",	"50-x.ucf-old",	 "50-x.bak" };
	const VssHookRun *runs;
	const VssHookSkip *skipped;
	char path[256], target[256], *log, *sum;
	size_t n;
	VssHooks *h;

	for (size_t i = 0; i < ELEMENTSOF(leftovers); i++)
		write_logging_hook(fx, leftovers[i], 0);
	write_logging_hook(fx, "60-README", 0);
	snprintf(path, sizeof(path), "%s/60-README", fx->dir);
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/70-sub.d", fx->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/80-dangling", fx->dir);
	assert_int_equal(symlink("/nonexistent/hook", path), 0);
	/* A symlink to a good hook is followed. */
	snprintf(target, sizeof(target), "%s/real-hook", fx->root);
	write_file(target, "#!/bin/sh\necho \"${0##*/} $1\" >>\"$HOOK_LOG\"\n", 0755);
	snprintf(path, sizeof(path), "%s/40-link", fx->dir);
	assert_int_equal(symlink(target, path), 0);
	write_logging_hook(fx, "50-x", 0);

	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 2);
	assert_string_equal(runs[0].name, "40-link");
	assert_string_equal(runs[1].name, "50-x");
	skipped = vss_hooks_skipped(h, &n);
	assert_int_equal(n, ELEMENTSOF(leftovers) + 3);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(skipped[i].name, "60-README") == 0)
			assert_int_equal(skipped[i].why, VSS_HOOK_FILE_NOT_EXECUTABLE);
		else if (strcmp(skipped[i].name, "70-sub.d") == 0 ||
			 strcmp(skipped[i].name, "80-dangling") == 0)
			assert_int_equal(skipped[i].why, VSS_HOOK_FILE_NOT_REGULAR);
		else if (strcmp(skipped[i].name, ".50-hidden") == 0)
			assert_int_equal(skipped[i].why, VSS_HOOK_FILE_HIDDEN);
		else
			assert_int_equal(skipped[i].why, VSS_HOOK_FILE_BACKUP);
		/* Sorted. */
		if (i > 0)
			assert_true(strcmp(skipped[i - 1].name, skipped[i].name) < 0);
	}
	assert_int_equal(vss_hooks_thaw(h), 0);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "40-link freeze\n"
				 "50-x freeze freeze -\n"
				 "50-x thaw thaw ok\n"
				 "40-link thaw\n");
	free(log);
	assert_int_equal(vss_hooks_format_summary(h, &sum), 0);
	assert_non_null(strstr(sum, "; skipped: #50-x# (backup file), "));
	assert_non_null(strstr(sum, "60-README (not executable)"));
	free(sum);
	drop_hooks(fx, h);
}

static void test_spawn_error(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	char path[256], *log;
	size_t n;
	VssHooks *h;

	/* Executable but no "#!": exec fails; its freeze never ran, so no closing call. */
	snprintf(path, sizeof(path), "%s/10-noshebang", fx->dir);
	write_file(path, "echo ran >>\"$HOOK_LOG\"\n", 0755);
	write_logging_hook(fx, "20-next", 0);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 2);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_SPAWN_ERROR);
	assert_int_equal(runs[0].error, -ENOEXEC);
	assert_int_equal(runs[1].outcome, VSS_HOOK_OUTCOME_NOT_RUN);
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 2);
	drop_hooks(fx, h);
	log = read_file(fx->log, NULL);
	assert_string_equal(log, "");
	free(log);
}

static void test_message_and_signal(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	char body[1024];
	size_t n, len;
	VssHooks *h;

	write_hook(fx, "10-noisy",
		   "printf '\\n  \\n\\tfirst\\001line \\r\\nsecond\\n' >&2; exit 1");
	/* 200 two-byte characters: the message is cut between characters, never inside. */
	snprintf(body, sizeof(body),
		 "i=0; while [ $i -lt 200 ]; do printf '\\303\\251' >&2; i=$((i+1)); done; "
		 "exit 2");
	write_hook(fx, "20-long", body);
	write_hook(fx, "30-signal", "kill -USR1 $$; sleep 5");
	fx->cfg.ignore_failures = true;
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 3);
	assert_string_equal(runs[0].message, "first?line");
	len = strlen(runs[1].message);
	assert_true(len >= VSS_HOOK_MESSAGE_MAX - 3);
	assert_true(len < VSS_HOOK_MESSAGE_MAX);
	assert_int_equal(len % 2, 0);
	assert_int_equal((unsigned char)runs[1].message[len - 2], 0xc3);
	assert_int_equal(runs[2].outcome, VSS_HOOK_OUTCOME_SIGNAL);
	assert_int_equal(runs[2].term_signal, SIGUSR1);
	assert_int_equal(vss_hooks_thaw(h), 3);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 6);
	/* Each told how its freeze ended: the signal one gets "signal". */
	drop_hooks(fx, h);
}

/* ---- the example hooks against fake database clients ---- */

/*
 * Logs "<pid> start ARGS", "<pid> sql LINE" per statement, "<pid> lock" / "<pid> unlock"
 * when the backup starts / stops, and "<pid> end" or "<pid> end locked" (the session ended
 * with the backup still in progress: the server would abort it).
 */
static const char fake_psql[] =
	"#!/bin/sh\n"
	"log=${FAKE_SQL_LOG:?}\n"
	"locked=0\n"
	"printf '%s start %s\\n' $$ \"$*\" >>\"$log\"\n"
	"trap 'if [ $locked = 1 ]; then printf \"%s end locked\\n\" $$; else printf \"%s end\\n\" "
	"$$; "
	"fi >>\"$log\"' EXIT\n"
	"trap 'exit 143' TERM\n"
	"handle() {\n"
	"  printf '%s sql %s\\n' $$ \"$1\" >>\"$log\"\n"
	"  case $1 in\n"
	"  *\"${FAKE_FAIL:-@none@}\"*) printf 'ERROR:  fake failure in %s\\n' \"$1\" >&2; exit 3 "
	";;\n"
	"  *server_version_num*) echo \"${FAKE_PG_VERSION:-160002}\" ;;\n"
	"  *pg_backup_start*|*pg_start_backup*) locked=1; printf '%s lock\\n' $$ >>\"$log\";"
	" echo 0/2000028 ;;\n"
	"  *pg_backup_stop*|*pg_stop_backup*)\n"
	"    [ $locked = 1 ] || { echo 'ERROR:  backup is not in progress' >&2; exit 3; }\n"
	"    locked=0; printf '%s unlock\\n' $$ >>\"$log\"\n"
	"    label='START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
	"LABEL: fake label' ;;\n"
	"  ?echo\\ -n\\ :hvg_labelfile) printf '%s\\n' \"$label\" ;;\n"
	"  ?echo\\ -n\\ :hvg_spcmapfile) ;;\n"
	"  ?echo\\ *) printf '%s\\n' \"${1#?echo }\" ;;\n"
	"  ?q) exit 0 ;;\n"
	"  esac\n"
	"}\n"
	"while [ $# -gt 0 ]; do\n"
	"  case $1 in -c) shift; handle \"$1\"; exit 0 ;; esac\n"
	"  shift\n"
	"done\n"
	"while IFS= read -r line; do handle \"$line\"; done\n";

static const char fake_mariadb[] =
	"#!/bin/sh\n"
	"log=${FAKE_SQL_LOG:?}\n"
	"locked=0\n"
	"printf '%s start %s\\n' $$ \"$*\" >>\"$log\"\n"
	"trap 'if [ $locked = 1 ]; then printf \"%s end locked\\n\" $$; else printf \"%s end\\n\" "
	"$$; "
	"fi >>\"$log\"' EXIT\n"
	"trap 'exit 143' TERM\n"
	"handle() {\n"
	"  printf '%s sql %s\\n' $$ \"$1\" >>\"$log\"\n"
	"  case $1 in\n"
	"  *\"${FAKE_FAIL:-@none@}\"*) printf 'ERROR 1205: fake failure in %s\\n' \"$1\" >&2; exit "
	"1 ;;\n"
	"  'SELECT VERSION()') echo \"${FAKE_MYSQL_VERSION:-10.11.6-MariaDB-0+deb12u1}\" ;;\n"
	"  'BACKUP STAGE START;') started=1 ;;\n"
	"  'BACKUP STAGE BLOCK_COMMIT;') [ \"${started:-0}\" = 1 ] || exit 1; locked=1;"
	" printf '%s lock\\n' $$ >>\"$log\" ;;\n"
	"  'FLUSH TABLES WITH READ LOCK;') locked=1; printf '%s lock\\n' $$ >>\"$log\" ;;\n"
	"  'BACKUP STAGE END;'|'UNLOCK TABLES;') locked=0; printf '%s unlock\\n' $$ >>\"$log\" ;;\n"
	"  \"SELECT 'HVGUEST-\"*) x=${1#\"SELECT '\"}; printf '%s\\n' \"${x%\"';\"}\" ;;\n"
	"  ?q|quit|exit) exit 0 ;;\n"
	"  esac\n"
	"}\n"
	"while [ $# -gt 0 ]; do\n"
	"  case $1 in -e) shift; handle \"$1\"; exit 0 ;; esac\n"
	"  shift\n"
	"done\n"
	"while IFS= read -r line; do handle \"$line\"; done\n";

/* Copies examples/vss.d/<name> into the hooks directory and installs the fake client. */
static void install_example(Fx *fx, const char *name, const char *client, const char *fake)
{
	const char *examples = getenv("HVGUEST_EXAMPLES_DIR");
	char src[512], dst[256];
	char *text;
	size_t size;

	if (!examples)
		fail_msg("HVGUEST_EXAMPLES_DIR is not set (run through meson test)");
	snprintf(src, sizeof(src), "%s/vss.d/%s", examples, name);
	text = read_file(src, &size);
	if (size == 0)
		fail_msg("cannot read %s", src);
	snprintf(dst, sizeof(dst), "%s/%s", fx->dir, name);
	write_file(dst, text, 0755);
	free(text);
	snprintf(dst, sizeof(dst), "%s/%s", fx->bin, client);
	write_file(dst, fake, 0755);
}

/* The pid of the session whose log has a line "<pid> <what>", or 0. */
static pid_t session_with(const char *log, const char *what)
{
	const char *p = log;

	while ((p = strstr(p, what))) {
		const char *line = p;

		while (line > log && line[-1] != '\n')
			line--;
		if (p > line && p[-1] == ' ')
			return (pid_t)atoi(line);
		p++;
	}
	return 0;
}

static bool log_has(const char *log, pid_t pid, const char *what)
{
	char line[512];

	snprintf(line, sizeof(line), "%d %s\n", (int)pid, what);
	return (strncmp(log, line, strlen(line)) == 0) || strstr(log, line) != NULL;
}

static size_t log_pos(const char *log, pid_t pid, const char *what)
{
	char line[512];
	const char *p;

	snprintf(line, sizeof(line), "%d %s\n", (int)pid, what);
	p = strstr(log, line);
	assert_non_null(p);
	return (size_t)(p - log);
}

/* Runs freeze, checks the lock is held by a live session, thaws, checks it was released. */
static void check_holder_cycle(Fx *fx, const char *lock_sql, const char *unlock_sql)
{
	const VssHookRun *runs;
	size_t n;
	char *log;
	pid_t holder;
	VssHooks *h;

	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 1);
	if (runs[0].outcome != VSS_HOOK_OUTCOME_OK)
		fail_msg("freeze: %s (%s)", vss_hook_outcome_to_string(runs[0].outcome),
			 runs[0].message);
	assert_false(runs[0].pipes_held);

	log = read_file(fx->log, NULL);
	holder = session_with(log, lock_sql);
	assert_true(holder > 1);
	assert_true(log_has(log, holder, "lock"));
	/* The hook has exited; the session holding the lock has not. */
	assert_false(log_has(log, holder, "end"));
	assert_false(log_has(log, holder, "end locked"));
	free(log);
	usleep(300 * 1000);
	assert_true(pid_alive(holder));
	log = read_file(fx->log, NULL);
	assert_false(log_has(log, holder, "end"));
	free(log);

	assert_int_equal(vss_hooks_thaw(h), 0);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 2);
	if (runs[1].outcome != VSS_HOOK_OUTCOME_OK)
		fail_msg("thaw: %s (%s)", vss_hook_outcome_to_string(runs[1].outcome),
			 runs[1].message);
	log = read_file(fx->log, NULL);
	/* Released in the same session, then the session ended cleanly, by itself. */
	assert_true(log_pos(log, holder, unlock_sql) < log_pos(log, holder, "unlock"));
	assert_true(log_pos(log, holder, "unlock") < log_pos(log, holder, "end"));
	assert_null(strstr(log, "end locked"));
	free(log);
	assert_true(wait_pid_gone(holder));
	assert_int_equal(runs[0].left_alive, 0);
	assert_int_equal(runs[1].left_alive, 0);
	drop_hooks(fx, h);
}

static void test_example_postgresql(void **state)
{
	Fx *fx = *state;
	char path[256], *label;

	snprintf(path, sizeof(path), "%s/labels", fx->root);
	assert_int_equal(mkdir(path, 0755), 0);
	set_env(fx, 6, "PG_LABEL_DIR", path);
	install_example(fx, "50-postgresql", "psql", fake_psql);
	check_holder_cycle(
		fx, "sql SELECT pg_backup_start('hvguest test-1', true);",
		"sql SELECT labelfile, spcmapfile FROM pg_backup_stop(false) \\gset hvg_");
	/* What pg_backup_stop() returned, byte for byte; no tablespace_map without one. */
	snprintf(path, sizeof(path), "%s/labels/backup_label.test-1", fx->root);
	label = read_file(path, NULL);
	assert_string_equal(label, "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
				   "LABEL: fake label\n");
	free(label);
	snprintf(path, sizeof(path), "%s/labels/tablespace_map.test-1", fx->root);
	assert_int_equal(access(path, F_OK), -1);
	/* CHECKPOINT ran first, in a session of its own. */
	label = read_file(fx->log, NULL);
	assert_true(session_with(label, "sql CHECKPOINT") > 1);
	assert_true(strstr(label, "sql CHECKPOINT") < strstr(label, "sql SELECT pg_backup_start"));
	free(label);
	/* Its files live in the state directory, not on a frozen filesystem. */
	snprintf(path, sizeof(path), "%s/postgresql/out", fx->state);
	label = read_file(path, NULL);
	assert_non_null(strstr(label, "HVGUEST-LOCKED\n"));
	assert_non_null(strstr(label, "HVGUEST-RELEASED\n"));
	free(label);
}

static void test_example_postgresql_14(void **state)
{
	Fx *fx = *state;

	set_env(fx, 6, "FAKE_PG_VERSION", "140011");
	install_example(fx, "50-postgresql", "psql", fake_psql);
	check_holder_cycle(
		fx, "sql SELECT pg_start_backup('hvguest test-1', true, false);",
		"sql SELECT labelfile, spcmapfile FROM pg_stop_backup(false) \\gset hvg_");
}

static void test_example_postgresql_env_override(void **state)
{
	Fx *fx = *state;
	char path[256];

	/* Not in PATH, named by PSQL instead. */
	snprintf(path, sizeof(path), "%s/pg", fx->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/pg/psql-16", fx->root);
	write_file(path, fake_psql, 0755);
	set_env(fx, 6, "PSQL", path);
	install_example(fx, "50-postgresql", "not-psql", fake_psql);
	check_holder_cycle(
		fx, "sql SELECT pg_backup_start('hvguest test-1', true);",
		"sql SELECT labelfile, spcmapfile FROM pg_backup_stop(false) \\gset hvg_");
}

static void test_example_postgresql_start_fails(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	char *log;
	pid_t holder;
	VssHooks *h;

	set_env(fx, 6, "FAKE_FAIL", "pg_backup_start");
	install_example(fx, "50-postgresql", "psql", fake_psql);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(runs[0].outcome, VSS_HOOK_OUTCOME_FAILED);
	assert_non_null(strstr(runs[0].message, "pg_backup_start failed: ERROR:  fake failure"));
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	log = read_file(fx->log, NULL);
	holder = session_with(log, "sql SELECT pg_backup_start('hvguest test-1', true);");
	assert_true(holder > 1);
	assert_true(log_has(log, holder, "end"));
	assert_null(strstr(log, "end locked"));
	free(log);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(n, 2);
	assert_int_equal(runs[1].outcome, VSS_HOOK_OUTCOME_OK);
	assert_int_equal(runs[0].left_alive, 0);
	drop_hooks(fx, h);
}

static void test_example_postgresql_lock_lost(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	char *log;
	pid_t holder;
	VssHooks *h;

	/* The holder dies during the backup: thaw must say so instead of claiming success. */
	install_example(fx, "50-postgresql", "psql", fake_psql);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	log = read_file(fx->log, NULL);
	holder = session_with(log, "sql SELECT pg_backup_start('hvguest test-1', true);");
	free(log);
	assert_true(holder > 1);
	assert_int_equal(kill(holder, SIGKILL), 0);
	assert_true(wait_pid_gone(holder));
	assert_int_equal(vss_hooks_thaw(h), 1);
	runs = vss_hooks_runs(h, &n);
	assert_int_equal(runs[1].outcome, VSS_HOOK_OUTCOME_FAILED);
	assert_non_null(strstr(runs[1].message, "holder exited before the release"));
	drop_hooks(fx, h);
}

static void test_example_postgresql_checkpoint_only(void **state)
{
	Fx *fx = *state;
	char *log;
	VssHooks *h;

	set_env(fx, 6, "PG_MODE", "checkpoint");
	install_example(fx, "50-postgresql", "psql", fake_psql);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	assert_int_equal(vss_hooks_thaw(h), 0);
	drop_hooks(fx, h);
	log = read_file(fx->log, NULL);
	assert_non_null(strstr(log, "sql CHECKPOINT"));
	assert_null(strstr(log, "backup_start"));
	free(log);
}

static void test_example_mariadb(void **state)
{
	Fx *fx = *state;
	char *log;
	pid_t holder;

	install_example(fx, "50-mariadb", "mariadb", fake_mariadb);
	check_holder_cycle(fx, "sql BACKUP STAGE BLOCK_COMMIT;", "sql BACKUP STAGE END;");
	log = read_file(fx->log, NULL);
	holder = session_with(log, "sql BACKUP STAGE BLOCK_COMMIT;");
	assert_true(log_pos(log, holder, "sql SET SESSION lock_wait_timeout = 10;") <
		    log_pos(log, holder, "sql BACKUP STAGE START;"));
	assert_true(log_pos(log, holder, "sql BACKUP STAGE START;") <
		    log_pos(log, holder, "sql BACKUP STAGE BLOCK_COMMIT;"));
	/* The holder's client kept its results unbuffered, or the hook could not see them. */
	assert_true(log_has(log, holder, "start --batch --skip-column-names --unbuffered"));
	free(log);
}

static void test_example_mysql(void **state)
{
	Fx *fx = *state;

	set_env(fx, 6, "FAKE_MYSQL_VERSION", "8.0.36");
	install_example(fx, "50-mariadb", "mariadb", fake_mariadb);
	check_holder_cycle(fx, "sql FLUSH TABLES WITH READ LOCK;", "sql UNLOCK TABLES;");
}

static void test_example_mariadb_lock_fails(void **state)
{
	Fx *fx = *state;
	const VssHookRun *runs;
	size_t n;
	char *log;
	VssHooks *h;

	set_env(fx, 6, "FAKE_FAIL", "BLOCK_COMMIT");
	install_example(fx, "50-mariadb", "mariadb", fake_mariadb);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), -ECANCELED);
	runs = vss_hooks_runs(h, &n);
	assert_non_null(strstr(runs[0].message, "taking the backup lock failed: ERROR 1205"));
	assert_int_equal(vss_hooks_freeze_failed(h), 0);
	drop_hooks(fx, h);
	log = read_file(fx->log, NULL);
	assert_null(strstr(log, "end locked"));
	assert_null(strstr(log, " lock\n"));
	free(log);
}

static void test_example_stale_holder_ended(void **state)
{
	Fx *fx = *state;
	char *log;
	pid_t first, second;
	VssHooks *h;

	/*
	 * The daemon died after freeze (no thaw, no group end): the next backup's freeze ends
	 * the old holder before taking the lock again.
	 */
	install_example(fx, "50-mariadb", "mariadb", fake_mariadb);
	h = new_hooks(fx);
	assert_int_equal(vss_hooks_freeze(h), 0);
	log = read_file(fx->log, NULL);
	first = session_with(log, "sql BACKUP STAGE BLOCK_COMMIT;");
	free(log);
	assert_true(first > 1);
	/* Forget the group, as a crashed daemon would. */
	unlink(fx->log);
	fx->backup.id = "test-2";
	{
		VssHooks *h2 = new_hooks(fx);

		assert_int_equal(vss_hooks_freeze(h2), 0);
		assert_true(wait_pid_gone(first));
		log = read_file(fx->log, NULL);
		second = session_with(log, "sql BACKUP STAGE BLOCK_COMMIT;");
		assert_true(second > 1 && second != first);
		assert_true(log_has(log, first, "end locked"));
		free(log);
		assert_int_equal(vss_hooks_thaw(h2), 0);
		drop_hooks(fx, h2);
	}
	drop_hooks(fx, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test_setup_teardown(test_new_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_empty_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_reverse_thaw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thaw_without_freeze, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_hook_aborts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_hook_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder_survives_until_thaw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder_released_by_thaw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stubborn_holder_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder_keeping_stdout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_ends_holders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_not_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_non_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawn_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_and_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_postgresql, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_postgresql_14, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_postgresql_env_override, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_example_postgresql_start_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_example_postgresql_lock_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_postgresql_checkpoint_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_example_mariadb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_mysql, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_mariadb_lock_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_stale_holder_ended, setup, teardown),
	};

	return cmocka_run_group_tests_name("vss-hooks", tests, NULL, NULL);
}
