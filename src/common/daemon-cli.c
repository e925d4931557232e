/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/daemon-cli.h"
#include "common/event.h"
#include "common/log.h"
#include "common/notify.h"
#include "config.h"

static const struct option common_options[] = {
	{ "no-daemon", no_argument, NULL, 'n' },
	{ "debug", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, DAEMON_CLI_ARG_VERSION },
	{ "config", required_argument, NULL, DAEMON_CLI_ARG_CONFIG },
	{ "config-dir", required_argument, NULL, DAEMON_CLI_ARG_CONFIG_DIR },
};

static void help(const DaemonCli *cli)
{
	printf("Usage: %s [OPTIONS]\n"
	       "%s\n\n"
	       "  -n, --no-daemon        accepted for compatibility (never forks)\n"
	       "  -d, --debug            log at debug level\n"
	       "      --config=FILE      configuration file (default %s)\n"
	       "      --config-dir=DIR   drop-in directory (default %s)\n",
	       cli->program, cli->summary, HVGUEST_CONF_FILE, HVGUEST_CONF_DIR);
	if (cli->help_options)
		cli->help_options();
	printf("  -h, --help             show this help\n"
	       "      --version          show the version\n");
}

/* The shared options followed by the daemon's, {}-terminated; NULL when out of memory. */
static struct option *merge_options(const struct option *own)
{
	size_t n = 0;
	struct option *all;

	while (own && own[n].name)
		n++;
	all = calloc(ELEMENTSOF(common_options) + n + 1, sizeof(*all));
	if (!all)
		return NULL;
	memcpy(all, common_options, sizeof(common_options));
	if (n > 0)
		memcpy(all + ELEMENTSOF(common_options), own, n * sizeof(*own));
	return all;
}

/* One pass over argv: 1 to go on, 0 after --help/--version, or a negative errno. */
static int parse_pass(const DaemonCli *cli, const struct option *options, int argc, char *argv[],
		      bool overrides, const char **config, const char **config_dir)
{
	int c, r;

	optind = 0; /* glibc: 0 also resets its internal state for a second scan */
	while ((c = getopt_long(argc, argv, "ndh", options, NULL)) >= 0) {
		switch (c) {
		case 'n':
			break;
		case 'd':
			if (overrides)
				*cli->log_level = LOG_DEBUG;
			break;
		case 'h':
			help(cli);
			return 0;
		case DAEMON_CLI_ARG_VERSION:
			printf("%s (hvguest) %s\n", cli->program, PACKAGE_VERSION);
			return 0;
		case DAEMON_CLI_ARG_CONFIG:
			*config = optarg;
			break;
		case DAEMON_CLI_ARG_CONFIG_DIR:
			*config_dir = optarg;
			break;
		case '?':
			/* getopt has printed what was wrong. */
			return -EINVAL;
		default:
			r = cli->parse_option(c, optarg, overrides, cli->userdata);
			if (r < 0)
				return r;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "Unexpected argument '%s'.\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

int daemon_cli_log_conf_error(int error, const ConfError *err)
{
	return log_error_errno(error, "Invalid configuration: %s:%u: key '%s': %s", err->file,
			       err->line, err->key, err->message);
}

int daemon_cli_parse(const DaemonCli *cli, int argc, char *argv[])
{
	const char *config = HVGUEST_CONF_FILE, *config_dir = HVGUEST_CONF_DIR;
	_cleanup_free_ struct option *options = merge_options(cli->options);
	ConfError err = {};
	int r;

	if (!options)
		return log_oom();
	r = parse_pass(cli, options, argc, argv, false, &config, &config_dir);
	if (r <= 0)
		return r;
	r = cli->load(cli->userdata, config, config_dir, &err);
	if (r < 0)
		return daemon_cli_log_conf_error(r, &err);
	r = parse_pass(cli, options, argc, argv, true, &config, &config_dir);
	if (r <= 0)
		return r;
	log_set_max_level(*cli->log_level);
	return 1;
}

void daemon_cli_notify_absent(const char *status)
{
	(void)notify_ready();
	(void)notify_status("%s", status);
}

int daemon_run_event_loop(Event *e)
{
	int r = event_set_watchdog(e, true);

	if (r < 0)
		return log_error_errno(r, "Could not enable the watchdog: %m");
	r = event_loop(e);
	if (r < 0)
		return log_error_errno(r, "Event loop ended abnormally: %m");
	return 0;
}
