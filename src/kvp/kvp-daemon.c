/* SPDX-License-Identifier: MIT */
/*
 * hv_kvp_daemon: Hyper-V Data Exchange (KVP) for Linux guests.
 * Wiring only: options, settings, logging, the Manager, the exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "config.h"
#include "kvp/kvp-manager.h"
#include "kvp/kvp-settings.h"

static void help(void)
{
	printf("Usage: hv_kvp_daemon [OPTIONS]\n"
	       "Hyper-V Data Exchange (KVP) daemon.\n\n"
	       "  -n, --no-daemon        accepted for compatibility (never forks)\n"
	       "  -d, --debug            log at debug level\n"
	       "      --config=FILE      configuration file (default %s)\n"
	       "      --config-dir=DIR   drop-in directory (default %s)\n"
	       "      --device=PATH      KVP device (default %s)\n"
	       "      --state-dir=DIR    pool directory (default %s)\n"
	       "      --os-release=FILE  os-release file for the auto pool\n"
	       "      --root-dir=DIR     testing: network configuration below DIR\n"
	       "      --tools-dir=DIR    testing: nmcli, networkctl, netplan, ifup, ifdown in DIR\n"
	       "      --sysfs-dir=DIR    testing: NICs from DIR/class/net instead of udev\n"
	       "  -h, --help             show this help\n"
	       "      --version          show the version\n",
	       HVGUEST_CONF_FILE, HVGUEST_CONF_DIR, KVP_DEVICE, KVP_STATE_DIR);
}

enum {
	ARG_CONFIG = 0x100,
	ARG_CONFIG_DIR,
	ARG_DEVICE,
	ARG_STATE_DIR,
	ARG_OS_RELEASE,
	ARG_ROOT_DIR,
	ARG_TOOLS_DIR,
	ARG_SYSFS_DIR,
	ARG_VERSION,
};

/* Applies options in two passes: where the config lives first, then overrides on top. */
static int parse_argv(int argc, char *argv[], KvpSettings *s, bool overrides, const char **config,
		      const char **config_dir)
{
	static const struct option options[] = {
		{ "no-daemon", no_argument, NULL, 'n' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
		{ "device", required_argument, NULL, ARG_DEVICE },
		{ "state-dir", required_argument, NULL, ARG_STATE_DIR },
		{ "os-release", required_argument, NULL, ARG_OS_RELEASE },
		{ "root-dir", required_argument, NULL, ARG_ROOT_DIR },
		{ "tools-dir", required_argument, NULL, ARG_TOOLS_DIR },
		{ "sysfs-dir", required_argument, NULL, ARG_SYSFS_DIR },
		{}
	};
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
			printf("hv_kvp_daemon (hvguest) %s\n", PACKAGE_VERSION);
			return 0;
		case ARG_CONFIG:
			*config = optarg;
			break;
		case ARG_CONFIG_DIR:
			*config_dir = optarg;
			break;
		case ARG_DEVICE:
			r = overrides ? free_and_strdup(&s->device, optarg) : 0;
			break;
		case ARG_STATE_DIR:
			r = overrides ? free_and_strdup(&s->state_dir, optarg) : 0;
			break;
		case ARG_OS_RELEASE:
			r = overrides ? free_and_strdup(&s->os_release, optarg) : 0;
			break;
		case ARG_ROOT_DIR:
			r = overrides ? free_and_strdup(&s->root_dir, optarg) : 0;
			break;
		case ARG_TOOLS_DIR:
			r = overrides ? free_and_strdup(&s->tools_dir, optarg) : 0;
			break;
		case ARG_SYSFS_DIR:
			r = overrides ? free_and_strdup(&s->sysfs_dir, optarg) : 0;
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
	KvpSettings settings;
	ConfError err = {};
	int r;

	/*
	 * Keep an idle daemon small: one malloc arena for our few threads, and a fixed mmap
	 * threshold so multi-megabyte pool buffers go back to the kernel when freed instead of
	 * staying resident in an arena (glibc raises the threshold after the first big free).
	 */
	(void)mallopt(M_ARENA_MAX, 1);
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	log_open("hv_kvp_daemon", LOG_TARGET_AUTO);
	r = kvp_settings_init(&settings);
	if (r < 0) {
		log_oom();
		return EXIT_FAILURE;
	}
	r = parse_argv(argc, argv, &settings, false, &config, &config_dir);
	if (r <= 0)
		goto out;
	r = kvp_settings_load(&settings, config, config_dir, &err);
	if (r < 0) {
		log_error_errno(r, "Invalid configuration: %s:%u: key '%s': %s", err.file, err.line,
				err.key, err.message);
		goto out;
	}
	r = parse_argv(argc, argv, &settings, true, &config, &config_dir);
	if (r <= 0)
		goto out;
	log_set_max_level(settings.log_level);

	r = manager_new(&settings, &m);
	if (r >= 0)
		r = manager_start(m);
	if (r >= 0)
		r = manager_run(m);
	m = manager_free(m);
out:
	kvp_settings_done(&settings);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
