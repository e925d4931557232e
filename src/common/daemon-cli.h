/* SPDX-License-Identifier: MIT */
/*
 * The command line every hvguest daemon shares: -n/--no-daemon (accepted, never forks),
 * -d/--debug, -h/--help, --version, --config=FILE and --config-dir=DIR, plus a table of the
 * daemon's own options handled by a callback.
 *
 * The options are read twice so that the command line wins over the configuration files:
 * pass 1 only learns where the configuration lives (and validates), then the files are
 * loaded, then pass 2 applies the daemon's options on top. This is main() code: it prints
 * --help/--version on stdout, usage errors on stderr, and logs an invalid configuration.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "common/conf.h"
#include "common/event.h"

/* getopt values of the shared long options; a daemon numbers its own from DAEMON_CLI_ARG_FIRST. */
enum {
	DAEMON_CLI_ARG_VERSION = 0x100,
	DAEMON_CLI_ARG_CONFIG,
	DAEMON_CLI_ARG_CONFIG_DIR,
	DAEMON_CLI_ARG_FIRST = 0x120,
};

typedef struct DaemonCli {
	const char *program; /* "hv_kvp_daemon": the usage and version lines */
	const char *summary; /* the second line of --help, without '\n' */
	/* Prints the daemon's own --help lines, shown between --config-dir and -h. */
	void (*help_options)(void);
	/* The daemon's own long options ({}-terminated, values >= DAEMON_CLI_ARG_FIRST), or NULL.
	 */
	const struct option *options;
	/*
	 * Called for each of options in both passes; overrides is false in pass 1 (validate
	 * only: the configuration is not loaded yet) and true in pass 2. Returns 0, or a negative
	 * errno that ends parsing (the callback has printed why).
	 */
	int (*parse_option)(int opt, const char *arg, bool overrides, void *userdata);
	/* Loads the configuration: 0, or a negative errno with *reterr filled for -EINVAL. */
	int (*load)(void *userdata, const char *config, const char *config_dir, ConfError *reterr);
	int *log_level; /* the settings' level: -d makes it LOG_DEBUG after loading */
	void *userdata;
} DaemonCli;

/*
 * Runs pass 1, cli->load() with --config/--config-dir (default HVGUEST_CONF_FILE and
 * HVGUEST_CONF_DIR), pass 2, then log_set_max_level(*cli->log_level). Returns 1 when the
 * daemon should run, 0 when it should exit successfully (--help or --version printed), or a
 * negative errno when it should fail (already reported: getopt's message, "Unexpected
 * argument", the callback's message or the logged configuration error).
 */
int daemon_cli_parse(const DaemonCli *cli, int argc, char *argv[]);

/*
 * Logs a failed configuration load as "Invalid configuration: FILE:LINE: key 'K': MSG" at
 * error level. Returns -abs(error).
 */
int daemon_cli_log_conf_error(int error, const ConfError *err);

/*
 * For a daemon whose device or channel does not exist on this system: tells systemd READY=1
 * and STATUS=status so that a Type=notify unit exiting 0 right after is not a failed start.
 * Notification errors are ignored (no systemd, nothing to tell).
 */
void daemon_cli_notify_absent(const char *status);

/*
 * The daemons' main loop: enables the systemd watchdog (when WATCHDOG_USEC asks for it), runs
 * e until event_exit(), and logs a failure at error level. Returns 0 or the negative errno.
 */
int daemon_run_event_loop(Event *e);
