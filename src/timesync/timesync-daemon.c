/* SPDX-License-Identifier: MIT */
/*
 * hv_timesync_daemon: disciplines the system clock against the Hyper-V PTP clock.
 * Wiring only: options, settings, logging, the Manager, the exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/notify.h"
#include "config.h"
#include "timesync/timesync-manager.h"
#include "timesync/timesync-settings.h"

static void help(void)
{
	printf("Usage: hv_timesync_daemon [OPTIONS]\n"
	       "Hyper-V time sync daemon: disciplines the system clock against the host's PTP "
	       "clock.\n\n"
	       "  -n, --no-daemon        accepted for compatibility (never forks)\n"
	       "  -d, --debug            log at debug level\n"
	       "      --config=FILE      configuration file (default %s)\n"
	       "      --config-dir=DIR   drop-in directory (default %s)\n"
	       "      --phc=PATH         use this PTP clock (default: the one named \"hyperv\")\n"
	       "      --mode=MODE        auto, discipline or monitor (default auto)\n"
	       "      --sysfs-dir=DIR    where to look for the PTP clock (default /sys)\n"
	       "      --dev-dir=DIR      where /dev/ptpN lives (default /dev)\n"
	       "      --proc-dir=DIR     where to look for other time services (default /proc)\n"
	       "      --run-dir=DIR      status file directory (default %s)\n"
	       "  -h, --help             show this help\n"
	       "      --version          show the version\n",
	       HVGUEST_CONF_FILE, HVGUEST_CONF_DIR, TIMESYNC_RUN_DIR);
}

enum {
	ARG_CONFIG = 0x100,
	ARG_CONFIG_DIR,
	ARG_PHC,
	ARG_MODE,
	ARG_SYSFS_DIR,
	ARG_DEV_DIR,
	ARG_PROC_DIR,
	ARG_RUN_DIR,
	ARG_VERSION,
};

/* Two passes: where the config lives first, then overrides on top of it. */
static int parse_argv(int argc, char *argv[], TimesyncSettings *s, bool overrides,
		      const char **config, const char **config_dir)
{
	static const struct option options[] = {
		{ "no-daemon", no_argument, NULL, 'n' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
		{ "phc", required_argument, NULL, ARG_PHC },
		{ "mode", required_argument, NULL, ARG_MODE },
		{ "sysfs-dir", required_argument, NULL, ARG_SYSFS_DIR },
		{ "dev-dir", required_argument, NULL, ARG_DEV_DIR },
		{ "proc-dir", required_argument, NULL, ARG_PROC_DIR },
		{ "run-dir", required_argument, NULL, ARG_RUN_DIR },
		{}
	};
	TimesyncMode mode;
	int c, r = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ndh", options, NULL)) >= 0) {
		switch (c) {
		case 'n':
			break;
		case 'd':
			if (overrides)
				s->log_level = LOG_DEBUG;
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("hv_timesync_daemon (hvguest) %s\n", PACKAGE_VERSION);
			return 0;
		case ARG_CONFIG:
			*config = optarg;
			break;
		case ARG_CONFIG_DIR:
			*config_dir = optarg;
			break;
		case ARG_PHC:
			r = overrides ? free_and_strdup(&s->phc, optarg) : 0;
			break;
		case ARG_MODE:
			mode = timesync_mode_from_string(optarg);
			if (mode < 0) {
				fprintf(stderr,
					"Invalid --mode '%s': expected auto, discipline or "
					"monitor.\n",
					optarg);
				return -EINVAL;
			}
			if (overrides)
				s->mode = mode;
			break;
		case ARG_SYSFS_DIR:
			r = overrides ? free_and_strdup(&s->sysfs_dir, optarg) : 0;
			break;
		case ARG_DEV_DIR:
			r = overrides ? free_and_strdup(&s->dev_dir, optarg) : 0;
			break;
		case ARG_PROC_DIR:
			r = overrides ? free_and_strdup(&s->proc_dir, optarg) : 0;
			break;
		case ARG_RUN_DIR:
			r = overrides ? free_and_strdup(&s->run_dir, optarg) : 0;
			break;
		default:
			return -EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "Unexpected argument '%s'.\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

int main(int argc, char *argv[])
{
	_cleanup_(manager_freep) Manager *m = NULL;
	const char *config = HVGUEST_CONF_FILE, *config_dir = HVGUEST_CONF_DIR;
	TimesyncSettings settings;
	ConfError err = {};
	int r;

	log_open("hv_timesync_daemon", LOG_TARGET_AUTO);
	r = timesync_settings_init(&settings);
	if (r < 0) {
		log_oom();
		return EXIT_FAILURE;
	}
	r = parse_argv(argc, argv, &settings, false, &config, &config_dir);
	if (r <= 0)
		goto out;
	r = timesync_settings_load(&settings, config, config_dir, &err);
	if (r < 0) {
		log_error_errno(r, "Invalid configuration: %s:%u: key '%s': %s", err.file, err.line,
				err.key, err.message);
		goto out;
	}
	r = parse_argv(argc, argv, &settings, true, &config, &config_dir);
	if (r <= 0)
		goto out;
	log_set_max_level(settings.log_level);

	r = manager_new(&settings, NULL, &m);
	if (r < 0) {
		log_oom();
		goto out;
	}
	r = manager_start(m);
	if (r == 0) {
		/* Type=notify: a clean exit before READY=1 would count as a failed start. */
		(void)notify_ready();
		(void)notify_status("No Hyper-V PTP clock on this system");
		goto out;
	}
	if (r > 0)
		r = manager_run(m);
	m = manager_free(m);
out:
	timesync_settings_done(&settings);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
