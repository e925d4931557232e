/* SPDX-License-Identifier: MIT */
/* The hook runner: order, environment, failures, timeouts and the checks on vss.d. */
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
#include "test-vss-hooks-util.h"

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
		cmocka_unit_test_setup_teardown(test_refuse_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_not_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_non_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawn_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_and_signal, setup, teardown),
	};

	return cmocka_run_group_tests_name("vss-hooks", tests, NULL, NULL);
}
