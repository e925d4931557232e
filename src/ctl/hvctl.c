/* SPDX-License-Identifier: MIT */
/*
 * hvctl: administration of the hvguest services. Wiring only: options, the verb table,
 * the exit status (hvctl(8)).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/event.h"
#include "common/log.h"
#include "config.h"
#include "ctl/ctl-devices.h"
#include "ctl/ctl-kvp.h"
#include "ctl/ctl-pool.h"
#include "ctl/ctl-status.h"
#include "ctl/ctl-time.h"
#include "ctl/ctl-vss.h"

/* Longest --lock-timeout accepted: an hour, in ms. */
#define LOCK_TIMEOUT_MAX_MSEC 3600000ul

typedef struct Verb {
	const char *group;
	const char *name; /* NULL: a one-word command ("hvctl devices") */
	unsigned n_args;  /* exact number of positional arguments after the verb */
	ctl_verb_t run;
} Verb;

static const Verb verbs[] = {
	{ "kvp", "list", 0, ctl_kvp_list },	{ "kvp", "get", 1, ctl_kvp_get },
	{ "kvp", "set", 2, ctl_kvp_set },	{ "kvp", "delete", 1, ctl_kvp_delete },
	{ "kvp", "watch", 0, ctl_kvp_watch },	{ "vss", "plan", 0, ctl_vss_plan },
	{ "vss", "status", 0, ctl_vss_status }, { "time", "status", 0, ctl_time_status },
	{ "devices", NULL, 0, ctl_devices },	{ "status", NULL, 0, ctl_status },
};

static void help(void)
{
	printf("Usage: hvctl [OPTIONS] COMMAND [ARGS]\n"
	       "Administration of the Hyper-V guest services.\n\n"
	       "Commands:\n"
	       "  devices               the VMBus devices: class, instance, channel, driver\n"
	       "  status                each daemon: running or not, last request, backup, copy\n"
	       "  kvp list              list the records of a KVP pool (default: pool 1)\n"
	       "  kvp get KEY           print the value of KEY\n"
	       "  kvp set KEY VALUE     set KEY in the guest pool (pool 1)\n"
	       "  kvp delete KEY        delete KEY from the guest pool (pool 1)\n"
	       "  kvp watch             print changes of a pool as they happen\n"
	       "  vss plan              what a backup freezes, in which order, and why\n"
	       "  vss status            how the last backup went\n"
	       "  time status           the time sync daemon's offset, mode and events\n\n"
	       "Options:\n"
	       "  -p, --pool=N          pool 0-4 (default 1)\n"
	       "  -j, --json            JSON output\n"
	       "      --prometheus      status: Prometheus text format (node_exporter textfile)\n"
	       "      --state-dir=DIR   pool directory (default %s)\n"
	       "      --lock-timeout=MS longest wait for another program's lock (default %llu)\n"
	       "      --mountinfo=FILE  vss plan: mount table to plan (default "
	       "/proc/self/mountinfo)\n"
	       "      --config=FILE     vss plan: read [vss] from FILE only (default:\n"
	       "                        %s and its drop-ins)\n"
	       "      --include=GLOB    vss plan: add an include glob, --exclude=GLOB an exclude "
	       "glob;\n"
	       "                        with a '/' it matches mount points, else types\n"
	       "      --sys-root=DIR    vss plan: look up sysfs and /dev below DIR (empty: "
	       "do not)\n"
	       "      --run-dir=DIR     status, vss status, time status: the daemons' run\n"
	       "                        directory (default /run/hvguest)\n"
	       "  -v, --verbose         devices: every detail of each device\n"
	       "      --sysfs-dir=DIR   devices: read DIR/bus/vmbus instead of udev (tests)\n"
	       "      --proc-dir=DIR    status: look for daemons in DIR instead of /proc (tests)\n"
	       "  -h, --help            show this help\n"
	       "      --version         show the version\n\n"
	       "Use -- before a KEY or VALUE that starts with '-'.\n"
	       "Exit status: 0 success, 1 not found or refused, 2 usage error, 3 I/O error.\n",
	       KVP_STATE_DIR, (unsigned long long)(CTL_POOL_LOCK_TIMEOUT_USEC / USEC_PER_MSEC),
	       HVGUEST_CONF_FILE);
}

enum {
	ARG_STATE_DIR = 0x100,
	ARG_LOCK_TIMEOUT,
	ARG_VERSION,
	ARG_MOUNTINFO,
	ARG_CONFIG,
	ARG_INCLUDE,
	ARG_EXCLUDE,
	ARG_SYS_ROOT,
	ARG_RUN_DIR,
	ARG_SYSFS_DIR,
	ARG_PROMETHEUS,
	ARG_PROC_DIR,
};

/* Parses a decimal number in [0, max]; -EINVAL otherwise. */
static int parse_number(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* 1: run a verb; 0: done (help, version); -EINVAL: usage error (already reported). */
static int parse_argv(int argc, char *argv[], CtlOptions *o)
{
	static const struct option options[] = {
		{ "pool", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "state-dir", required_argument, NULL, ARG_STATE_DIR },
		{ "lock-timeout", required_argument, NULL, ARG_LOCK_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "mountinfo", required_argument, NULL, ARG_MOUNTINFO },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "include", required_argument, NULL, ARG_INCLUDE },
		{ "exclude", required_argument, NULL, ARG_EXCLUDE },
		{ "sys-root", required_argument, NULL, ARG_SYS_ROOT },
		{ "run-dir", required_argument, NULL, ARG_RUN_DIR },
		{ "verbose", no_argument, NULL, 'v' },
		{ "sysfs-dir", required_argument, NULL, ARG_SYSFS_DIR },
		{ "prometheus", no_argument, NULL, ARG_PROMETHEUS },
		{ "proc-dir", required_argument, NULL, ARG_PROC_DIR },
		{}
	};
	unsigned long v;
	int c;

	/* Options may follow the command (hvctl kvp list --json); getopt permutes. */
	while ((c = getopt_long(argc, argv, "p:jhv", options, NULL)) >= 0) {
		switch (c) {
		case 'p':
			if (parse_number(optarg, _KVP_POOL_MAX - 1, &v) < 0) {
				log_error("Invalid pool '%s': expected 0 to %d.", optarg,
					  _KVP_POOL_MAX - 1);
				return -EINVAL;
			}
			o->pool = (KvpPoolId)v;
			break;
		case 'j':
			o->json = true;
			break;
		case ARG_PROMETHEUS:
			o->prometheus = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case ARG_SYSFS_DIR:
			if (optarg[0] == '\0') {
				log_error("Empty --sysfs-dir.");
				return -EINVAL;
			}
			o->sysfs_dir = optarg;
			break;
		case ARG_PROC_DIR:
			if (optarg[0] == '\0') {
				log_error("Empty --proc-dir.");
				return -EINVAL;
			}
			o->proc_dir = optarg;
			break;
		case ARG_STATE_DIR:
			if (optarg[0] == '\0') {
				log_error("Empty --state-dir.");
				return -EINVAL;
			}
			o->state_dir = optarg;
			break;
		case ARG_LOCK_TIMEOUT:
			if (parse_number(optarg, LOCK_TIMEOUT_MAX_MSEC, &v) < 0) {
				log_error("Invalid --lock-timeout '%s': expected 0 to %lu ms.",
					  optarg, LOCK_TIMEOUT_MAX_MSEC);
				return -EINVAL;
			}
			o->lock_timeout_usec = (uint64_t)v * USEC_PER_MSEC;
			break;
		case ARG_MOUNTINFO:
			o->vss_mountinfo = optarg;
			break;
		case ARG_CONFIG:
			o->vss_config = optarg;
			break;
		case ARG_RUN_DIR:
			o->vss_run_dir = optarg;
			break;
		case ARG_SYS_ROOT:
			o->vss_sys_root = optarg;
			break;
		case ARG_INCLUDE:
		case ARG_EXCLUDE:
			if (optarg[0] == '\0') {
				log_error("Empty --%s glob.",
					  c == ARG_INCLUDE ? "include" : "exclude");
				return -EINVAL;
			}
			if (ctl_strv_push(c == ARG_INCLUDE ? &o->vss_include : &o->vss_exclude,
					  optarg) < 0)
				return log_oom();
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("hvctl (hvguest) %s\n", PACKAGE_VERSION);
			return 0;
		default:
			return -EINVAL; /* getopt printed why */
		}
	}
	return 1;
}

static void options_done(CtlOptions *o)
{
	strv_free(o->vss_include);
	strv_free(o->vss_exclude);
}

/* "list, get, ..." for the group's verbs, for messages. */
static void group_commands(const char *group, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(verbs) && len < size; i++) {
		int k;

		if (strcmp(verbs[i].group, group) != 0 || !verbs[i].name)
			continue;
		k = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", verbs[i].name);
		if (k < 0)
			break;
		len += (size_t)k;
	}
}

int main(int argc, char *argv[])
{
	_cleanup_(options_done) CtlOptions o = {
		.state_dir = KVP_STATE_DIR,
		.pool = KVP_POOL_GUEST,
		.lock_timeout_usec = CTL_POOL_LOCK_TIMEOUT_USEC,
	};
	int r, n;

	log_open("hvctl", LOG_TARGET_CONSOLE);
	r = parse_argv(argc, argv, &o);
	if (r == 0)
		return CTL_EXIT_OK;
	if (r < 0)
		goto usage;

	n = argc - optind;
	if (n < 1) {
		log_error("No command given.");
		goto usage;
	}
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		const Verb *vb = &verbs[i];

		if (strcmp(argv[optind], vb->group) != 0)
			continue;
		if (!vb->name) {
			if ((unsigned)(n - 1) != vb->n_args) {
				log_error("'%s' takes %u argument(s), %d given.", vb->group,
					  vb->n_args, n - 1);
				goto usage;
			}
			return vb->run(&o, argv + optind + 1);
		}
		if (n < 2) {
			char names[128];

			group_commands(vb->group, names, sizeof(names));
			log_error("'%s' needs a command (%s).", vb->group, names);
			goto usage;
		}
		if (strcmp(argv[optind + 1], vb->name) != 0)
			continue;
		if ((unsigned)(n - 2) != vb->n_args) {
			log_error("'%s %s' takes %u argument(s), %d given.", vb->group, vb->name,
				  vb->n_args, n - 2);
			goto usage;
		}
		return vb->run(&o, argv + optind + 2);
	}
	log_error("Unknown command '%s%s%s'.", argv[optind], n > 1 ? " " : "",
		  n > 1 ? argv[optind + 1] : "");
usage:
	fprintf(stderr, "See 'hvctl --help'.\n");
	return CTL_EXIT_USAGE;
}
