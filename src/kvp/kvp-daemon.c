/* SPDX-License-Identifier: MIT */
/*
 * hv_kvp_daemon: Hyper-V Data Exchange (KVP) for Linux guests.
 * Wiring only: options, settings, logging, the Manager, the exit code.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/conf.h"
#include "common/daemon-cli.h"
#include "common/log.h"
#include "config.h"
#include "kvp/kvp-manager.h"
#include "kvp/kvp-settings.h"

static void help_options(void)
{
	printf("      --device=PATH      KVP device (default %s)\n"
	       "      --state-dir=DIR    pool directory (default %s)\n"
	       "      --os-release=FILE  os-release file for the auto pool\n"
	       "      --root-dir=DIR     testing: network configuration below DIR\n"
	       "      --tools-dir=DIR    testing: nmcli, networkctl, netplan, ifup, ifdown in DIR\n"
	       "      --sysfs-dir=DIR    testing: NICs from DIR/class/net instead of udev\n",
	       KVP_DEVICE, KVP_STATE_DIR);
}

enum {
	ARG_DEVICE = DAEMON_CLI_ARG_FIRST,
	ARG_STATE_DIR,
	ARG_OS_RELEASE,
	ARG_ROOT_DIR,
	ARG_TOOLS_DIR,
	ARG_SYSFS_DIR,
};

static const struct option options[] = {
	{ "device", required_argument, NULL, ARG_DEVICE },
	{ "state-dir", required_argument, NULL, ARG_STATE_DIR },
	{ "os-release", required_argument, NULL, ARG_OS_RELEASE },
	{ "root-dir", required_argument, NULL, ARG_ROOT_DIR },
	{ "tools-dir", required_argument, NULL, ARG_TOOLS_DIR },
	{ "sysfs-dir", required_argument, NULL, ARG_SYSFS_DIR },
	{},
};

static int parse_option(int opt, const char *arg, bool overrides, void *userdata)
{
	KvpSettings *s = userdata;
	char **target;

	switch (opt) {
	case ARG_DEVICE:
		target = &s->device;
		break;
	case ARG_STATE_DIR:
		target = &s->state_dir;
		break;
	case ARG_OS_RELEASE:
		target = &s->os_release;
		break;
	case ARG_ROOT_DIR:
		target = &s->root_dir;
		break;
	case ARG_TOOLS_DIR:
		target = &s->tools_dir;
		break;
	case ARG_SYSFS_DIR:
		target = &s->sysfs_dir;
		break;
	default:
		return -EINVAL;
	}
	return overrides ? free_and_strdup(target, arg) : 0;
}

static int load(void *userdata, const char *config, const char *config_dir, ConfError *reterr)
{
	return kvp_settings_load(userdata, config, config_dir, reterr);
}

int main(int argc, char *argv[])
{
	_cleanup_(manager_freep) Manager *m = NULL;
	KvpSettings settings;
	const DaemonCli cli = {
		.program = "hv_kvp_daemon",
		.summary = "Hyper-V Data Exchange (KVP) daemon.",
		.help_options = help_options,
		.options = options,
		.parse_option = parse_option,
		.load = load,
		.log_level = &settings.log_level,
		.userdata = &settings,
	};
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
	r = daemon_cli_parse(&cli, argc, argv);
	if (r <= 0)
		goto out;

	r = manager_new(&settings, &m);
	if (r >= 0)
		r = manager_start(m);
	if (m && r == -ENOENT) {
		/* No device at start-up (logged): normal where KVP is not offered, exit 0. */
		daemon_cli_notify_absent("No KVP device on this system");
		r = 0;
	} else if (r >= 0) {
		r = manager_run(m);
	}
	m = manager_free(m);
out:
	kvp_settings_done(&settings);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
