/* SPDX-License-Identifier: MIT */
/*
 * hv_vss_daemon: Hyper-V live backup (VSS) for Linux guests.
 * Wiring only: options, settings, logging, the Manager, the exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "config.h"
#include "vss/vss-backup.h"
#include "vss/vss-manager.h"
#include "vss/vss-settings.h"

static void help(void)
{
	printf("Usage: hv_vss_daemon [OPTIONS]\n"
	       "Hyper-V live backup (VSS) daemon: freezes and thaws filesystems for the host.\n\n"
	       "  -n, --no-daemon        accepted for compatibility (never forks)\n"
	       "  -d, --debug            log at debug level\n"
	       "      --config=FILE      configuration file (default %s)\n"
	       "      --config-dir=DIR   drop-in directory (default %s)\n"
	       "      --device=PATH      VSS device (default %s)\n"
	       "      --run-dir=DIR      frozen-marker and status directory (default %s)\n"
	       "      --hooks-dir=DIR    freeze/thaw hooks (default %s)\n"
	       "      --mountinfo=FILE   testing: plan from FILE instead of /proc/self/mountinfo\n"
	       "      --recover          thaw what a killed instance left frozen, then exit\n"
	       "  -h, --help             show this help\n"
	       "      --version          show the version\n",
	       HVGUEST_CONF_FILE, HVGUEST_CONF_DIR, VSS_DEVICE, VSS_RUN_DIR, VSS_HOOKS_DIR);
}

enum {
	ARG_CONFIG = 0x100,
	ARG_CONFIG_DIR,
	ARG_DEVICE,
	ARG_RUN_DIR,
	ARG_HOOKS_DIR,
	ARG_MOUNTINFO,
	ARG_RECOVER,
	ARG_VERSION,
};

/* Two passes: where the config lives first, then overrides on top of it. */
static int parse_argv(int argc, char *argv[], VssSettings *s, bool overrides, const char **config,
		      const char **config_dir, bool *recover)
{
	static const struct option options[] = {
		{ "no-daemon", no_argument, NULL, 'n' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
		{ "device", required_argument, NULL, ARG_DEVICE },
		{ "run-dir", required_argument, NULL, ARG_RUN_DIR },
		{ "hooks-dir", required_argument, NULL, ARG_HOOKS_DIR },
		{ "mountinfo", required_argument, NULL, ARG_MOUNTINFO },
		{ "recover", no_argument, NULL, ARG_RECOVER },
		{}
	};
	char **target;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ndh", options, NULL)) >= 0) {
		target = NULL;
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
			printf("hv_vss_daemon (hvguest) %s\n", PACKAGE_VERSION);
			return 0;
		case ARG_CONFIG:
			*config = optarg;
			break;
		case ARG_CONFIG_DIR:
			*config_dir = optarg;
			break;
		case ARG_DEVICE:
			target = &s->device;
			break;
		case ARG_RUN_DIR:
			target = &s->run_dir;
			break;
		case ARG_HOOKS_DIR:
			target = &s->hooks_dir;
			break;
		case ARG_MOUNTINFO:
			target = &s->mountinfo;
			break;
		case ARG_RECOVER:
			*recover = true;
			break;
		default:
			return -EINVAL;
		}
		if (target && overrides) {
			r = free_and_strdup(target, optarg);
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

int main(int argc, char *argv[])
{
	_cleanup_(manager_freep) Manager *m = NULL;
	const char *config = HVGUEST_CONF_FILE, *config_dir = HVGUEST_CONF_DIR;
	VssSettings settings;
	ConfError err = {};
	bool recover = false;
	int r;

	log_open("hv_vss_daemon", LOG_TARGET_AUTO);
	r = vss_settings_init(&settings);
	if (r < 0) {
		log_oom();
		return EXIT_FAILURE;
	}
	r = parse_argv(argc, argv, &settings, false, &config, &config_dir, &recover);
	if (r <= 0)
		goto out;
	r = vss_settings_load(&settings, config, config_dir, &err);
	if (r < 0) {
		log_error_errno(r, "Invalid configuration: %s:%u: key '%s': %s", err.file, err.line,
				err.key, err.message);
		goto out;
	}
	r = parse_argv(argc, argv, &settings, true, &config, &config_dir, &recover);
	if (r <= 0)
		goto out;
	log_set_max_level(settings.log_level);

	if (recover) {
		/* ExecStopPost=: the whole service was killed, guardian included. */
		VssBackupEnv env = { .settings = &settings, .ops = &vss_freezer_ops_linux };
		r = vss_backup_recover(&env);
		goto out;
	}
	r = manager_new(&settings, &m);
	if (r >= 0)
		r = manager_start(m);
	if (r >= 0)
		r = manager_run(m);
	m = manager_free(m);
out:
	vss_settings_done(&settings);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
