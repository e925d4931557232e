/* SPDX-License-Identifier: MIT */
/*
 * hv_set_ifconfig: the helper that upstream's KVP daemon runs for SET_IP_INFO, as
 * "hv_set_ifconfig <ifcfg-file> [<nmconnection-file>]" (hyperv-abi.md §4.7, §4.8).
 * Installed in the KVP scripts directory so that upstream's daemon (and Microsoft's
 * validation suite, which looks for the file) find it. Parses the ifcfg file strictly and
 * applies it through our back-ends; the keyfile argument is accepted and not read, since
 * the same configuration is in the ifcfg file and we write our own keyfile.
 * Exit status 0 on success, 1 on any failure.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/log.h"
#include "config.h"
#include "kvp/kvp-ipconfig-nic.h"
#include "kvp/kvp-ipset.h"

#define IFCFG_MAX (64u * 1024u)

static void help(void)
{
	printf("Usage: hv_set_ifconfig [OPTIONS] IFCFG-FILE [NMCONNECTION-FILE]\n"
	       "Applies a Hyper-V host-injected IP configuration (upstream ifcfg format).\n\n"
	       "      --backend=NAME   auto, networkmanager, networkd, netplan, ifupdown, ifcfg\n"
	       "                       (default auto)\n"
	       "      --root=DIR       write configuration files below DIR (default /)\n"
	       "      --sysfs=DIR      find the interface in DIR/class/net instead of via udev\n"
	       "      --proc=DIR       look for running network managers in DIR (default /proc)\n"
	       "      --timeout=SEC    time allowed for applying (default %u)\n"
	       "      --nmcli=PATH, --networkctl=PATH, --netplan=PATH, --ifup=PATH,\n"
	       "      --ifdown=PATH    the programs used to apply (absolute paths)\n"
	       "  -d, --debug          log at debug level\n"
	       "  -h, --help           show this help\n",
	       (unsigned)(KVP_IPSET_DEFAULT_TIMEOUT_USEC / 1000000u));
}

enum {
	ARG_BACKEND = 0x100,
	ARG_ROOT,
	ARG_SYSFS,
	ARG_PROC,
	ARG_TIMEOUT,
	ARG_NMCLI,
	ARG_NETWORKCTL,
	ARG_NETPLAN,
	ARG_IFUP,
	ARG_IFDOWN,
};

/* Returns 1 to go on, 0 to exit successfully (help), negative on a usage error. */
static int parse_argv(int argc, char *argv[], KvpIpSetOptions *o)
{
	static const struct option options[] = {
		{ "backend", required_argument, NULL, ARG_BACKEND },
		{ "root", required_argument, NULL, ARG_ROOT },
		{ "sysfs", required_argument, NULL, ARG_SYSFS },
		{ "proc", required_argument, NULL, ARG_PROC },
		{ "timeout", required_argument, NULL, ARG_TIMEOUT },
		{ "nmcli", required_argument, NULL, ARG_NMCLI },
		{ "networkctl", required_argument, NULL, ARG_NETWORKCTL },
		{ "netplan", required_argument, NULL, ARG_NETPLAN },
		{ "ifup", required_argument, NULL, ARG_IFUP },
		{ "ifdown", required_argument, NULL, ARG_IFDOWN },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "dh", options, NULL)) >= 0) {
		switch (c) {
		case ARG_BACKEND:
			o->backend = kvp_ip_backend_from_string(optarg);
			/* script would run us again (we are the default script) */
			if (o->backend < 0 || o->backend == KVP_IP_BACKEND_SCRIPT)
				return log_error_errno(EINVAL, "Unsupported back-end '%s'.",
						       optarg);
			break;
		case ARG_ROOT:
			o->root = optarg;
			break;
		case ARG_SYSFS:
			o->sysfs_dir = optarg;
			break;
		case ARG_PROC:
			o->proc_dir = optarg;
			break;
		case ARG_TIMEOUT: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v == 0 || v > 3600)
				return log_error_errno(EINVAL, "Invalid timeout '%s'.", optarg);
			o->timeout_usec = (uint64_t)v * 1000000u;
			break;
		}
		case ARG_NMCLI:
			o->nmcli = optarg;
			break;
		case ARG_NETWORKCTL:
			o->networkctl = optarg;
			break;
		case ARG_NETPLAN:
			o->netplan = optarg;
			break;
		case ARG_IFUP:
			o->ifup = optarg;
			break;
		case ARG_IFDOWN:
			o->ifdown = optarg;
			break;
		case 'd':
			log_set_max_level(LOG_DEBUG);
			break;
		case 'h':
			help();
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return log_error_errno(EINVAL, "Expected an ifcfg file and optionally a keyfile.");
	return 1;
}

static int run(const KvpIpSetOptions *o, const char *ifcfg_path)
{
	_cleanup_(kvp_ipset_freep) KvpIpSet *s = NULL;
	_cleanup_free_ char *text = NULL;
	const KvpNicOps *ops = o->sysfs_dir ? &kvp_nic_sysfs_ops : &kvp_nic_udev_ops;
	_cleanup_free_ KvpIpConfig *c = NULL;
	KvpNic want, nic;
	int r;

	r = read_full_file_at(AT_FDCWD, ifcfg_path, IFCFG_MAX, &text, NULL);
	if (r < 0)
		return log_error_errno(r, "Failed to read '%s': %m", ifcfg_path);
	c = malloc(sizeof(*c));
	if (!c)
		return log_oom();
	r = kvp_ipconfig_parse_ifcfg(text, c, &want);
	if (r < 0)
		return log_error_errno(r, "Invalid configuration in '%s'.", ifcfg_path);
	r = ops->find_by_ifname((void *)o->sysfs_dir, want.ifname, &nic);
	if (r < 0)
		return log_error_errno(r, "No network interface '%s': %m", want.ifname);
	if (strcmp(nic.mac, want.mac) != 0)
		return log_error_errno(ENODEV, "Interface '%s' has MAC %s, not %s.", nic.ifname,
				       nic.mac, want.mac);
	r = kvp_ipset_new(o, &s);
	if (r < 0)
		return log_error_errno(r, "Failed to set up: %m");
	r = kvp_ipset_apply_config(s, c, &nic);
	if (r < 0)
		return log_error_errno(r, "Failed to configure '%s': %s", nic.ifname,
				       kvp_ipset_last_error(s));
	log_info("Configured '%s' from '%s'.", nic.ifname, ifcfg_path);
	return 0;
}

int main(int argc, char *argv[])
{
	KvpIpSetOptions o = { .backend = KVP_IP_BACKEND_AUTO };
	int r;

	log_open("hv_set_ifconfig", LOG_TARGET_AUTO);
	r = parse_argv(argc, argv, &o);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	r = run(&o, argv[optind]);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
