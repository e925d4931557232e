/* SPDX-License-Identifier: MIT */
/* The example hooks (examples/vss.d) run against fake database clients. */
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

	return cmocka_run_group_tests_name("vss-hooks-examples", tests, NULL, NULL);
}
