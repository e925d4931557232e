/* SPDX-License-Identifier: MIT */
/*
 * hv_vss_daemon: Hyper-V live backup (VSS) for Linux guests.
 * Wiring only: options, settings, logging, the Manager, the exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/conf.h"
#include "common/daemon-cli.h"
#include "common/log.h"
#include "config.h"
#include "vss/vss-backup.h"
#include "vss/vss-manager.h"
#include "vss/vss-settings.h"

static void help_options(void)
{
	printf("      --device=PATH      VSS device (default %s)\n"
	       "      --run-dir=DIR      frozen-marker and status directory (default %s)\n"
	       "      --hooks-dir=DIR    freeze/thaw hooks (default %s)\n"
	       "      --mountinfo=FILE   testing: plan from FILE instead of /proc/self/mountinfo\n"
	       "      --recover          thaw what a killed instance left frozen, then exit\n",
	       VSS_DEVICE, VSS_RUN_DIR, VSS_HOOKS_DIR);
}

enum {
	ARG_DEVICE = DAEMON_CLI_ARG_FIRST,
	ARG_RUN_DIR,
	ARG_HOOKS_DIR,
	ARG_MOUNTINFO,
	ARG_RECOVER,
};

static const struct option options[] = {
	{ "device", required_argument, NULL, ARG_DEVICE },
	{ "run-dir", required_argument, NULL, ARG_RUN_DIR },
	{ "hooks-dir", required_argument, NULL, ARG_HOOKS_DIR },
	{ "mountinfo", required_argument, NULL, ARG_MOUNTINFO },
	{ "recover", no_argument, NULL, ARG_RECOVER },
	{},
};

/* The settings plus the one option that is an action rather than a setting. */
typedef struct VssArgs {
	VssSettings settings;
	bool recover;
} VssArgs;

static int parse_option(int opt, const char *arg, bool overrides, void *userdata)
{
	VssArgs *a = userdata;
	char **target;

	switch (opt) {
	case ARG_DEVICE:
		target = &a->settings.device;
		break;
	case ARG_RUN_DIR:
		target = &a->settings.run_dir;
		break;
	case ARG_HOOKS_DIR:
		target = &a->settings.hooks_dir;
		break;
	case ARG_MOUNTINFO:
		target = &a->settings.mountinfo;
		break;
	case ARG_RECOVER:
		a->recover = true;
		return 0;
	default:
		return -EINVAL;
	}
	return overrides ? free_and_strdup(target, arg) : 0;
}

static int load(void *userdata, const char *config, const char *config_dir, ConfError *reterr)
{
	VssArgs *a = userdata;

	return vss_settings_load(&a->settings, config, config_dir, reterr);
}

int main(int argc, char *argv[])
{
	_cleanup_(manager_freep) Manager *m = NULL;
	VssArgs args = {};
	const DaemonCli cli = {
		.program = "hv_vss_daemon",
		.summary =
			"Hyper-V live backup (VSS) daemon: freezes and thaws filesystems for the "
			"host.",
		.help_options = help_options,
		.options = options,
		.parse_option = parse_option,
		.load = load,
		.log_level = &args.settings.log_level,
		.userdata = &args,
	};
	int r;

	log_open("hv_vss_daemon", LOG_TARGET_AUTO);
	r = vss_settings_init(&args.settings);
	if (r < 0) {
		log_oom();
		return EXIT_FAILURE;
	}
	r = daemon_cli_parse(&cli, argc, argv);
	if (r <= 0)
		goto out;

	if (args.recover) {
		/* ExecStopPost=: the whole service was killed, guardian included. */
		VssBackupEnv env = { .settings = &args.settings, .ops = &vss_freezer_ops_linux };
		r = vss_backup_recover(&env);
		goto out;
	}
	r = manager_new(&args.settings, &m);
	if (r >= 0)
		r = manager_start(m);
	if (m && r == -ENOENT) {
		/* No device at start-up (logged): normal where backup is not offered, exit 0. */
		daemon_cli_notify_absent("No VSS device on this system");
		r = 0;
	} else if (r >= 0) {
		r = manager_run(m);
	}
	m = manager_free(m);
out:
	vss_settings_done(&args.settings);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
