/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/daemon-cli.h"
#include "common/log.h"
#include "config.h"

enum {
	ARG_DEVICE = DAEMON_CLI_ARG_FIRST,
	ARG_FLAG,
};

static const struct option own_options[] = { { "device", required_argument, NULL, ARG_DEVICE },
					     { "flag", no_argument, NULL, ARG_FLAG },
					     {} };

/* A daemon's settings plus a record of what the helper did with them. */
typedef struct Fake {
	char *device;
	int log_level;
	unsigned n_flag[2]; /* --flag seen in pass 1, pass 2 */
	int flag_result;    /* what the callback answers for --flag */

	unsigned n_loads;
	char config[256], config_dir[256];
	bool device_set_at_load; /* pass 2 must come after the load */
	int load_result;

	int saved_stdout, saved_stderr;
	FILE *out, *err;
	char text[8192];
} Fake;

static int parse_option(int opt, const char *arg, bool overrides, void *userdata)
{
	Fake *f = userdata;

	switch (opt) {
	case ARG_DEVICE:
		return overrides ? free_and_strdup(&f->device, arg) : 0;
	case ARG_FLAG:
		f->n_flag[overrides]++;
		return f->flag_result;
	default:
		return -EINVAL;
	}
}

static int load(void *userdata, const char *config, const char *config_dir, ConfError *reterr)
{
	Fake *f = userdata;

	f->n_loads++;
	(void)snprintf(f->config, sizeof(f->config), "%s", config);
	(void)snprintf(f->config_dir, sizeof(f->config_dir), "%s", config_dir);
	f->device_set_at_load = f->device != NULL;
	if (f->load_result < 0) {
		(void)snprintf(reterr->file, sizeof(reterr->file), "/x/hvguest.conf");
		reterr->line = 7;
		(void)snprintf(reterr->key, sizeof(reterr->key), "device");
		(void)snprintf(reterr->message, sizeof(reterr->message), "must be absolute");
		return f->load_result;
	}
	/* What a configuration file would set; -d must still win over it. */
	f->log_level = LOG_WARNING;
	return free_and_strdup(&f->device, "/from/conf") < 0 ? -ENOMEM : 0;
}

static void help_options(void)
{
	printf("      --device=PATH      the device\n");
}

static DaemonCli make_cli(Fake *f)
{
	return (DaemonCli){
		.program = "hv_test_daemon",
		.summary = "A test daemon.",
		.help_options = help_options,
		.options = own_options,
		.parse_option = parse_option,
		.load = load,
		.log_level = &f->log_level,
		.userdata = f,
	};
}

/* Points stdout and stderr at the capture files, only around the code under test. */
static void redirect(Fake *f)
{
	fflush(stdout);
	fflush(stderr);
	f->saved_stdout = dup(STDOUT_FILENO);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stdout >= 0 && f->saved_stderr >= 0);
	assert_int_equal(dup2(fileno(f->out), STDOUT_FILENO), STDOUT_FILENO);
	assert_int_equal(dup2(fileno(f->err), STDERR_FILENO), STDERR_FILENO);
}

/* Gives cmocka its stdout and stderr back, so that failures are seen. */
static void restore(Fake *f)
{
	fflush(stdout);
	fflush(stderr);
	assert_int_equal(dup2(f->saved_stdout, STDOUT_FILENO), STDOUT_FILENO);
	assert_int_equal(dup2(f->saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(f->saved_stdout);
	close(f->saved_stderr);
}

static int setup(void **state)
{
	Fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->log_level = LOG_INFO;
	f->out = tmpfile();
	f->err = tmpfile();
	assert_non_null(f->out);
	assert_non_null(f->err);
	unsetenv("JOURNAL_STREAM");
	log_open("test-daemon-cli", LOG_TARGET_STDERR);
	log_set_max_level(LOG_INFO);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fake *f = *state;

	fclose(f->out);
	fclose(f->err);
	free(f->device);
	free(f);
	return 0;
}

/* Everything written to stdout (out) or stderr (!out) so far. */
static const char *captured(Fake *f, bool out)
{
	FILE *file = out ? f->out : f->err;
	size_t n;

	rewind(file);
	n = fread(f->text, 1, sizeof(f->text) - 1, file);
	f->text[n] = '\0';
	return f->text;
}

/* Runs the helper on a writable copy of args (getopt permutes argv). */
static int parse(Fake *f, const char *const *args)
{
	DaemonCli cli = make_cli(f);
	char *argv[16] = {};
	int argc = 0, r;

	for (; args[argc]; argc++) {
		assert_true(argc < (int)ELEMENTSOF(argv) - 1);
		argv[argc] = strdup(args[argc]);
		assert_non_null(argv[argc]);
	}
	redirect(f);
	r = daemon_cli_parse(&cli, argc, argv);
	restore(f);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return r;
}

static void test_defaults(void **state)
{
	Fake *f = *state;
	const char *argv[] = { "hv_test_daemon", NULL };

	assert_int_equal(parse(f, argv), 1);
	assert_int_equal(f->n_loads, 1);
	assert_string_equal(f->config, HVGUEST_CONF_FILE);
	assert_string_equal(f->config_dir, HVGUEST_CONF_DIR);
	assert_string_equal(f->device, "/from/conf");
	/* The loaded level is applied to the logger. */
	assert_int_equal(log_get_max_level(), LOG_WARNING);
	assert_string_equal(captured(f, true), "");
}

/* Pass 1 finds the files, the load runs, pass 2 overrides: the command line wins. */
static void test_overrides_after_load(void **state)
{
	Fake *f = *state;
	const char *argv[] = { "hv_test_daemon", "--device=/from/argv",	  "-n",	    "--config",
			       "/etc/a.conf",	 "--config-dir=/etc/a.d", "--flag", NULL };

	assert_int_equal(parse(f, argv), 1);
	assert_int_equal(f->n_loads, 1);
	assert_string_equal(f->config, "/etc/a.conf");
	assert_string_equal(f->config_dir, "/etc/a.d");
	assert_false(f->device_set_at_load);
	assert_string_equal(f->device, "/from/argv");
	assert_int_equal(f->n_flag[0], 1);
	assert_int_equal(f->n_flag[1], 1);
}

static void test_debug_beats_config(void **state)
{
	Fake *f = *state;
	const char *argv[] = { "hv_test_daemon", "-d", NULL };
	const char *argv_long[] = { "hv_test_daemon", "--debug", NULL };

	assert_int_equal(parse(f, argv), 1);
	assert_int_equal(f->log_level, LOG_DEBUG);
	assert_int_equal(log_get_max_level(), LOG_DEBUG);
	f->log_level = LOG_INFO;
	assert_int_equal(parse(f, argv_long), 1);
	assert_int_equal(f->n_loads, 2);
	assert_int_equal(log_get_max_level(), LOG_DEBUG);
}

static void test_help(void **state)
{
	Fake *f = *state;
	const char *argv[] = { "hv_test_daemon", "--device=/x", "-h", NULL };
	char expected[2048];

	(void)snprintf(expected, sizeof(expected),
		       "Usage: hv_test_daemon [OPTIONS]\n"
		       "A test daemon.\n\n"
		       "  -n, --no-daemon        accepted for compatibility (never forks)\n"
		       "  -d, --debug            log at debug level\n"
		       "      --config=FILE      configuration file (default %s)\n"
		       "      --config-dir=DIR   drop-in directory (default %s)\n"
		       "      --device=PATH      the device\n"
		       "  -h, --help             show this help\n"
		       "      --version          show the version\n",
		       HVGUEST_CONF_FILE, HVGUEST_CONF_DIR);
	assert_int_equal(parse(f, argv), 0);
	assert_int_equal(f->n_loads, 0);
	assert_string_equal(captured(f, true), expected);
}

static void test_version(void **state)
{
	Fake *f = *state;
	const char *argv[] = { "hv_test_daemon", "--version", "--config=/nonexistent", NULL };
	char expected[128];

	(void)snprintf(expected, sizeof(expected), "hv_test_daemon (hvguest) %s\n",
		       PACKAGE_VERSION);
	assert_int_equal(parse(f, argv), 0);
	assert_int_equal(f->n_loads, 0);
	assert_string_equal(captured(f, true), expected);
}

static void test_usage_errors(void **state)
{
	Fake *f = *state;
	const char *unknown[] = { "hv_test_daemon", "--bogus", NULL };
	const char *missing_arg[] = { "hv_test_daemon", "--device", NULL };
	const char *positional[] = { "hv_test_daemon", "-n", "extra", NULL };

	assert_int_equal(parse(f, unknown), -EINVAL);
	assert_non_null(strstr(captured(f, false), "bogus"));
	assert_int_equal(parse(f, missing_arg), -EINVAL);
	assert_int_equal(parse(f, positional), -EINVAL);
	assert_non_null(strstr(captured(f, false), "Unexpected argument 'extra'.\n"));
	/* Nothing is loaded for a command line that is wrong. */
	assert_int_equal(f->n_loads, 0);
	assert_null(f->device);
}

/* A callback's error ends the first pass, before the configuration is read. */
static void test_option_error(void **state)
{
	Fake *f = *state;
	const char *argv[] = { "hv_test_daemon", "--flag", "--device=/d", NULL };

	f->flag_result = -ERANGE;
	assert_int_equal(parse(f, argv), -ERANGE);
	assert_int_equal(f->n_flag[0], 1);
	assert_int_equal(f->n_flag[1], 0);
	assert_int_equal(f->n_loads, 0);
}

static void test_conf_error(void **state)
{
	Fake *f = *state;
	const char *argv[] = { "hv_test_daemon", "--device=/d", NULL };

	f->load_result = -EINVAL;
	assert_int_equal(parse(f, argv), -EINVAL);
	assert_int_equal(f->n_loads, 1);
	/* No pass 2 after a failed load. */
	assert_null(f->device);
	assert_non_null(strstr(captured(f, false), "<3>Invalid configuration: /x/hvguest.conf:7: "
						   "key 'device': must be absolute"));
}

static void test_log_conf_error(void **state)
{
	Fake *f = *state;
	ConfError err = { .file = "/a.conf", .line = 12, .key = "mode", .message = "bad" };
	int r1, r2;

	redirect(f);
	r1 = daemon_cli_log_conf_error(EINVAL, &err);
	r2 = daemon_cli_log_conf_error(-ERANGE, &err);
	restore(f);
	assert_int_equal(r1, -EINVAL);
	assert_int_equal(r2, -ERANGE);
	assert_string_equal(captured(f, false),
			    "<3>Invalid configuration: /a.conf:12: key 'mode': bad\n"
			    "<3>Invalid configuration: /a.conf:12: key 'mode': bad\n");
}

/* READY=1 then STATUS=, on the socket NOTIFY_SOCKET names. */
static void test_notify_absent(void **state)
{
	char dir[] = "/tmp/test-daemon-cli-XXXXXX", buf[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool ready = false, status = false;
	ssize_t n;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);

	daemon_cli_notify_absent("No test device on this system");
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		ready |= strcmp(buf, "READY=1") == 0;
		status |= strcmp(buf, "STATUS=No test device on this system") == 0;
	}
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	unlink(sa.sun_path);
	rmdir(dir);
	assert_true(ready);
	assert_true(status);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrides_after_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debug_beats_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_option_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_conf_error, setup, teardown),
		cmocka_unit_test(test_notify_absent),
	};

	return cmocka_run_group_tests_name("daemon-cli", tests, NULL, NULL);
}
