/* SPDX-License-Identifier: MIT */
/*
 * hv_fcopy_daemon: Hyper-V file copy (Copy-VMFile) for Linux guests.
 * Wiring only: options, settings, logging, the transport choice, the Manager, the exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/channel.h"
#include "common/conf.h"
#include "common/daemon-cli.h"
#include "common/log.h"
#include "config.h"
#include "fcopy/fcopy-manager.h"
#include "fcopy/fcopy-settings.h"
#include "fcopy/fcopy-uio-discover.h"

static void help_options(void)
{
	printf("      --device=PATH      use this char device (default %s if present, else uio)\n"
	       "      --uio-fds=RING,IRQ testing: inherited uio ring and interrupt descriptors\n"
	       "      --sysfs-dir=DIR    where to look for the uio device (default /sys)\n"
	       "      --dev-dir=DIR      where /dev/uioN lives (default /dev)\n"
	       "      --run-dir=DIR      crash-cleanup record directory (default %s)\n",
	       FCOPY_DEVICE, FCOPY_RUN_DIR);
}

enum {
	ARG_DEVICE = DAEMON_CLI_ARG_FIRST,
	ARG_UIO_FDS,
	ARG_SYSFS_DIR,
	ARG_DEV_DIR,
	ARG_RUN_DIR,
};

static const struct option options[] = {
	{ "device", required_argument, NULL, ARG_DEVICE },
	{ "uio-fds", required_argument, NULL, ARG_UIO_FDS },
	{ "sysfs-dir", required_argument, NULL, ARG_SYSFS_DIR },
	{ "dev-dir", required_argument, NULL, ARG_DEV_DIR },
	{ "run-dir", required_argument, NULL, ARG_RUN_DIR },
	{},
};

static int parse_option(int opt, const char *arg, bool overrides, void *userdata)
{
	FcopySettings *s = userdata;
	char **target;
	int r;

	switch (opt) {
	case ARG_DEVICE:
		target = &s->device;
		break;
	case ARG_UIO_FDS:
		/* Checked in both passes, so a bad value fails before the configuration is read. */
		r = fcopy_settings_parse_uio_fds(arg, &s->uio_ring_fd, &s->uio_irq_fd);
		if (r < 0)
			fprintf(stderr, "Invalid --uio-fds '%s': expected RING,IRQ.\n", arg);
		return r;
	case ARG_SYSFS_DIR:
		target = &s->sysfs_dir;
		break;
	case ARG_DEV_DIR:
		target = &s->dev_dir;
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
	return fcopy_settings_load(userdata, config, config_dir, reterr);
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
	uint8_t reg_msg[FCOPY_CHARDEV_REPLY_SIZE];
	FcopyTransport transport = FCOPY_TRANSPORT_CHARDEV;
	char label[PATH_MAX];
	FcopySettings settings;
	HvChannel *ch = NULL;
	const DaemonCli cli = {
		.program = "hv_fcopy_daemon",
		.summary = "Hyper-V file copy daemon: receives files sent with Copy-VMFile.",
		.help_options = help_options,
		.options = options,
		.parse_option = parse_option,
		.load = load,
		.log_level = &settings.log_level,
		.userdata = &settings,
	};
	int r;

	log_open("hv_fcopy_daemon", LOG_TARGET_AUTO);
	r = fcopy_settings_init(&settings);
	if (r < 0) {
		log_oom();
		return EXIT_FAILURE;
	}
	r = daemon_cli_parse(&cli, argc, argv);
	if (r <= 0)
		goto out;

	r = open_channel(&settings, reg_msg, &transport, &ch, label, sizeof(label));
	if (r == 0) {
		daemon_cli_notify_absent("No file copy channel on this system");
		goto out;
	}
	if (r < 0)
		goto out;
	r = manager_new(&settings, transport, ch, label, &m);
	if (r < 0) {
		channel_free(ch);
		goto out;
	}
	/* A discovered uio node (not the char device, not inherited descriptors). */
	manager_set_exit_on_loss(m, transport == FCOPY_TRANSPORT_IC && settings.uio_ring_fd < 0);
	r = manager_start(m);
	if (r >= 0)
		r = manager_run(m);
	m = manager_free(m);
out:
	fcopy_settings_done(&settings);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
