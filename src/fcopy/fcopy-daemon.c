/* SPDX-License-Identifier: MIT */
/*
 * hv_fcopy_daemon: Hyper-V file copy (Copy-VMFile) for Linux guests.
 * Wiring only: options, settings, logging, the transport choice, the Manager, the exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/channel.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/notify.h"
#include "config.h"
#include "fcopy/fcopy-manager.h"
#include "fcopy/fcopy-settings.h"
#include "fcopy/fcopy-uio-discover.h"

static void help(void)
{
	printf("Usage: hv_fcopy_daemon [OPTIONS]\n"
	       "Hyper-V file copy daemon: receives files sent with Copy-VMFile.\n\n"
	       "  -n, --no-daemon        accepted for compatibility (never forks)\n"
	       "  -d, --debug            log at debug level\n"
	       "      --config=FILE      configuration file (default %s)\n"
	       "      --config-dir=DIR   drop-in directory (default %s)\n"
	       "      --device=PATH      use this char device (default %s if present, else uio)\n"
	       "      --uio-fds=RING,IRQ testing: inherited uio ring and interrupt descriptors\n"
	       "      --sysfs-dir=DIR    where to look for the uio device (default /sys)\n"
	       "      --dev-dir=DIR      where /dev/uioN lives (default /dev)\n"
	       "      --run-dir=DIR      crash-cleanup record directory (default %s)\n"
	       "  -h, --help             show this help\n"
	       "      --version          show the version\n",
	       HVGUEST_CONF_FILE, HVGUEST_CONF_DIR, FCOPY_DEVICE, FCOPY_RUN_DIR);
}

enum {
	ARG_CONFIG = 0x100,
	ARG_CONFIG_DIR,
	ARG_DEVICE,
	ARG_UIO_FDS,
	ARG_SYSFS_DIR,
	ARG_DEV_DIR,
	ARG_RUN_DIR,
	ARG_VERSION,
};

/* Two passes: where the config lives first, then overrides on top of it. */
static int parse_argv(int argc, char *argv[], FcopySettings *s, bool overrides, const char **config,
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
		{ "uio-fds", required_argument, NULL, ARG_UIO_FDS },
		{ "sysfs-dir", required_argument, NULL, ARG_SYSFS_DIR },
		{ "dev-dir", required_argument, NULL, ARG_DEV_DIR },
		{ "run-dir", required_argument, NULL, ARG_RUN_DIR },
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
			printf("hv_fcopy_daemon (hvguest) %s\n", PACKAGE_VERSION);
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
		case ARG_UIO_FDS:
			r = fcopy_settings_parse_uio_fds(optarg, &s->uio_ring_fd, &s->uio_irq_fd);
			if (r < 0)
				fprintf(stderr, "Invalid --uio-fds '%s': expected RING,IRQ.\n",
					optarg);
			break;
		case ARG_SYSFS_DIR:
			r = overrides ? free_and_strdup(&s->sysfs_dir, optarg) : 0;
			break;
		case ARG_DEV_DIR:
			r = overrides ? free_and_strdup(&s->dev_dir, optarg) : 0;
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

/*
 * The transport choice (contract C): inherited uio descriptors, an explicit or present char
 * device, else uio discovery. Returns 1 with *ret set, 0 when there is no channel here.
 */
static int open_channel(const FcopySettings *s, uint8_t reg_msg[FCOPY_CHARDEV_REPLY_SIZE],
			FcopyTransport *ret_transport, HvChannel **ret, char *label, size_t size)
{
	const char *device = s->device;
	FcopyUioDevice dev;
	HvRegistration reg;
	int r;

	if (s->uio_ring_fd >= 0) {
		r = channel_uio_new_fds(s->uio_ring_fd, s->uio_irq_fd, ret);
		if (r < 0)
			return log_error_errno(r, "Cannot use uio descriptors %d,%d: %m",
					       s->uio_ring_fd, s->uio_irq_fd);
		(void)snprintf(label, size, "uio descriptors %d,%d", s->uio_ring_fd, s->uio_irq_fd);
		*ret_transport = FCOPY_TRANSPORT_IC;
		return 1;
	}
	if (!device && access(FCOPY_DEVICE, F_OK) >= 0)
		device = FCOPY_DEVICE;
	if (device) {
		fcopy_chardev_registration(reg_msg, &reg);
		r = channel_chardev_new(device, &reg, ret);
		if (r < 0)
			return log_error_errno(r, "Could not set up the channel to '%s': %m",
					       device);
		(void)snprintf(label, size, "%s", device);
		*ret_transport = FCOPY_TRANSPORT_CHARDEV;
		return 1;
	}
	r = fcopy_uio_discover(s->sysfs_dir, s->dev_dir, true, &dev);
	if (r == -ENODEV) {
		/* Not a Hyper-V guest, or file copy is off: nothing is wrong. */
		log_info("No Hyper-V file copy channel here; exiting.");
		return 0;
	}
	if (r == -EBUSY) {
		/*
		 * Kernels < 6.10: hv_utils owns the channel and creates /dev/vmbus/hv_fcopy a
		 * moment later; that node's own udev event starts us again.
		 */
		log_info("The kernel serves file copy through %s on this system; exiting.",
			 FCOPY_DEVICE);
		return 0;
	}
	if (r < 0)
		return log_error_errno(r,
				       "Could not find the uio node of the file copy channel: %m");
	r = channel_uio_new(dev.dev_path, dev.ring_size, ret);
	if (r < 0)
		return log_error_errno(r, "Could not set up the channel to '%s': %m", dev.dev_path);
	(void)snprintf(label, size, "%s", dev.dev_path);
	*ret_transport = FCOPY_TRANSPORT_IC;
	return 1;
}

int main(int argc, char *argv[])
{
	_cleanup_(manager_freep) Manager *m = NULL;
	const char *config = HVGUEST_CONF_FILE, *config_dir = HVGUEST_CONF_DIR;
	uint8_t reg_msg[FCOPY_CHARDEV_REPLY_SIZE];
	FcopyTransport transport = FCOPY_TRANSPORT_CHARDEV;
	char label[PATH_MAX];
	FcopySettings settings;
	HvChannel *ch = NULL;
	ConfError err = {};
	int r;

	log_open("hv_fcopy_daemon", LOG_TARGET_AUTO);
	r = fcopy_settings_init(&settings);
	if (r < 0) {
		log_oom();
		return EXIT_FAILURE;
	}
	r = parse_argv(argc, argv, &settings, false, &config, &config_dir);
	if (r <= 0)
		goto out;
	r = fcopy_settings_load(&settings, config, config_dir, &err);
	if (r < 0) {
		log_error_errno(r, "Invalid configuration: %s:%u: key '%s': %s", err.file, err.line,
				err.key, err.message);
		goto out;
	}
	r = parse_argv(argc, argv, &settings, true, &config, &config_dir);
	if (r <= 0)
		goto out;
	log_set_max_level(settings.log_level);

	r = open_channel(&settings, reg_msg, &transport, &ch, label, sizeof(label));
	if (r == 0) {
		/* Type=notify: a clean exit before READY=1 would count as a failed start. */
		(void)notify_ready();
		(void)notify_status("No file copy channel on this system");
		goto out;
	}
	if (r < 0)
		goto out;
	r = manager_new(&settings, transport, ch, label, &m);
	if (r < 0) {
		channel_free(ch);
		goto out;
	}
	r = manager_start(m);
	if (r >= 0)
		r = manager_run(m);
	m = manager_free(m);
out:
	fcopy_settings_done(&settings);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
