/* SPDX-License-Identifier: MIT */
/*
 * hv_timesync_daemon: disciplines the system clock against the Hyper-V PTP clock.
 * Wiring only: options, settings, logging, the Manager, the exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/conf.h"
#include "common/daemon-cli.h"
#include "common/log.h"
#include "config.h"
#include "timesync/timesync-manager.h"
#include "timesync/timesync-settings.h"

static void help_options(void)
{
	printf("      --phc=PATH         use this PTP clock (default: the one named \"hyperv\")\n"
	       "      --mode=MODE        auto, discipline or monitor (default auto)\n"
	       "      --sysfs-dir=DIR    where to look for the PTP clock (default /sys)\n"
	       "      --dev-dir=DIR      where /dev/ptpN lives (default /dev)\n"
	       "      --proc-dir=DIR     where to look for other time services (default /proc)\n"
	       "      --run-dir=DIR      status file directory (default %s)\n",
	       TIMESYNC_RUN_DIR);
}

enum {
	ARG_PHC = DAEMON_CLI_ARG_FIRST,
	ARG_MODE,
	ARG_SYSFS_DIR,
	ARG_DEV_DIR,
	ARG_PROC_DIR,
	ARG_RUN_DIR,
};

static const struct option options[] = {
	{ "phc", required_argument, NULL, ARG_PHC },
	{ "mode", required_argument, NULL, ARG_MODE },
	{ "sysfs-dir", required_argument, NULL, ARG_SYSFS_DIR },
	{ "dev-dir", required_argument, NULL, ARG_DEV_DIR },
	{ "proc-dir", required_argument, NULL, ARG_PROC_DIR },
	{ "run-dir", required_argument, NULL, ARG_RUN_DIR },
	{},
};

static int parse_option(int opt, const char *arg, bool overrides, void *userdata)
{
	TimesyncSettings *s = userdata;
	TimesyncMode mode;
	char **target;

	switch (opt) {
	case ARG_PHC:
		target = &s->phc;
		break;
	case ARG_MODE:
		mode = timesync_mode_from_string(arg);
		if (mode < 0) {
			fprintf(stderr,
				"Invalid --mode '%s': expected auto, discipline or monitor.\n",
				arg);
			return -EINVAL;
		}
		if (overrides)
			s->mode = mode;
		return 0;
	case ARG_SYSFS_DIR:
		target = &s->sysfs_dir;
		break;
	case ARG_DEV_DIR:
		target = &s->dev_dir;
		break;
	case ARG_PROC_DIR:
		target = &s->proc_dir;
		break;
	case ARG_RUN_DIR:
		target = &s->run_dir;
		break;
	default:
		return -EINVAL;
	}
	return overrides ? free_and_strdup(target, arg) : 0;
}

static int load(void *userdata, const char *config, const char *config_dir, ConfError *reterr)
{
	return timesync_settings_load(userdata, config, config_dir, reterr);
}

int main(int argc, char *argv[])
{
	_cleanup_(manager_freep) Manager *m = NULL;
	TimesyncSettings settings;
	const DaemonCli cli = {
		.program = "hv_timesync_daemon",
		.summary = "Hyper-V time sync daemon: disciplines the system clock against the "
			   "host's PTP clock.",
		.help_options = help_options,
		.options = options,
		.parse_option = parse_option,
		.load = load,
		.log_level = &settings.log_level,
		.userdata = &settings,
	};
	int r;

	log_open("hv_timesync_daemon", LOG_TARGET_AUTO);
	r = timesync_settings_init(&settings);
	if (r < 0) {
		log_oom();
		return EXIT_FAILURE;
	}
	r = daemon_cli_parse(&cli, argc, argv);
	if (r <= 0)
		goto out;

	r = manager_new(&settings, NULL, &m);
	if (r < 0) {
		log_oom();
		goto out;
	}
	r = manager_start(m);
	if (r == 0) {
		daemon_cli_notify_absent("No Hyper-V PTP clock on this system");
		goto out;
	}
	if (r > 0)
		r = manager_run(m);
	m = manager_free(m);
out:
	timesync_settings_done(&settings);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
