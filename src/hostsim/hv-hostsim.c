/* SPDX-License-Identifier: MIT */
/*
 * hv-hostsim: runs a Hyper-V guest daemon against a simulated host and guest kernel, and
 * drives it with a scenario script. See --help.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/macro.h"
#include "config.h"
#include "hostsim/hostsim-scenario.h"
#include "hostsim/hostsim.h"

#define EXIT_CHECKS_FAILED 1
#define EXIT_USAGE 2
#define EXIT_SETUP 3
#define OS_RELEASE_MAX (64 * 1024)
#define ALLOW_FREEZE_MAX 16

/* Set by SIGINT/SIGTERM; the scenario stops between commands. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
}

static void help(FILE *out)
{
	fputs("Usage: hv-hostsim run [OPTIONS] -- DAEMON [ARGS...]\n"
	      "       hv-hostsim --help | --version\n"
	      "\n"
	      "Runs DAEMON (e.g. /usr/sbin/hv_kvp_daemon -n) inside private namespaces against a\n"
	      "simulated Hyper-V host and guest kernel (/dev/vmbus/hv_kvp, hv_vss and hv_fcopy\n"
	      "served over FUSE; fcopy also as a uio channel), waits until it registered on the\n"
	      "--service device, then plays the scenario script. Needs root and /dev/fuse. In "
	      "ARGS,\n"
	      "@STATE@ becomes the state directory, @DEVICE@ the --service device path and\n"
	      "@UIO_FDS@ \"RING,IRQ\", the inherited descriptors of the fcopy uio channel.\n"
	      "\n"
	      "Options:\n"
	      "  --service kvp|vss|fcopy\n"
	      "                       the daemon serves hv_kvp (default), hv_vss or hv_fcopy\n"
	      "  --fcopy-transport chardev|uio\n"
	      "                       fcopy on /dev/vmbus/hv_fcopy (kernels < 6.10, default) or "
	      "on\n"
	      "                       a uio channel (ring memfd + interrupt socket, @UIO_FDS@);\n"
	      "                       ready once the daemon registered / answered the negotiation\n"
	      "  --fcopy-timeout SEC  host/kernel timeout per fcopy message (default 30)\n"
	      "  --uio-ring-size BYTES\n"
	      "                       uio ring size per direction (default page + 16 KiB)\n"
	      "  --netns              new network namespace: veth hv0 (MAC " HOSTSIM_MAC ",\n"
	      "                       " HOSTSIM_IPV4 "/24, " HOSTSIM_IPV6
	      "/64, default via " HOSTSIM_IPV4_GW ")\n"
	      "                       <-> hv0peer (" HOSTSIM_PEER_IPV4
	      "/24), docker0 bridge, fresh /sys\n"
	      "  --var-lib-tmpfs      tmpfs on /var/lib (for daemons with a fixed "
	      "/var/lib/hyperv;\n"
	      "                       without it such a daemon writes the machine's /var/lib)\n"
	      "  --os-release FILE    bind FILE's content over /etc/os-release\n"
	      "  --hostname NAME      guest hostname (default hvguest-vm)\n"
	      "  --domain NAME        domain in /etc/hosts (default example.test)\n"
	      "  --timeout SEC        kernel KVP timeout, HV_UTIL_TIMEOUT (default 30)\n"
	      "  --vss-timeout SEC    kernel VSS timeout for THAW and HOT_BACKUP (default 30)\n"
	      "  --vss-freeze-timeout SEC\n"
	      "                       kernel VSS timeout for FREEZE (default 900)\n"
	      "  --allow-freeze DEV   block device (a test loop device) that FREEZE/THAW may "
	      "reach;\n"
	      "                       repeatable. FREEZE and THAW are refused unless every\n"
	      "                       freezable filesystem the daemon can see is on such a device\n"
	      "                       and none is its \"/\": run VSS daemons in a jail, never\n"
	      "                       against this machine's filesystems\n"
	      "  --state-dir DIR      state directory for @STATE@ and append-pool1\n"
	      "                       (default: <scratch>/state)\n"
	      "  --script FILE|-      scenario script (default: standard input)\n"
	      "  --show-log           print the captured syslog and daemon output at the end\n"
	      "  -v, --verbose        debug messages from the simulator\n"
	      "\n"
	      "Exit status: 0 all checks passed, 1 a check or command failed, 2 usage error,\n"
	      "3 the simulated guest or the daemon could not be set up.\n"
	      "\n",
	      out);
	scenario_help(out);
}

/* Replaces every @STATE@, @DEVICE@ and @UIO_FDS@ in s; returns a new string. */
static char *substitute(const char *s, const char *state, const char *device, const char *uio_fds)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (*s) {
		const char *rep = NULL;
		size_t skip = 0;

		if (strncmp(s, "@STATE@", 7) == 0) {
			rep = state;
			skip = 7;
		} else if (strncmp(s, "@DEVICE@", 8) == 0) {
			rep = device;
			skip = 8;
		} else if (strncmp(s, "@UIO_FDS@", 9) == 0) {
			rep = uio_fds;
			skip = 9;
		}
		if (rep) {
			size_t n = strlen(rep);
			char *p = realloc(out, cap + n);

			if (!p) {
				free(out);
				return NULL;
			}
			out = p;
			cap += n;
			memcpy(out + len, rep, n);
			len += n;
			s += skip;
		} else {
			out[len++] = *s++;
		}
	}
	out[len] = '\0';
	return out;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char *read_small_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(OS_RELEASE_MAX + 1);
	if (!buf)
		return NULL;
	n = fread(buf, 1, OS_RELEASE_MAX, f);
	if (ferror(f)) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

typedef struct Args {
	HostSimOptions opts;
	ScenarioService service;
	HostSimFcopyTransport fcopy_transport;
	uint64_t fcopy_timeout_usec;
	uint64_t uio_ring_size;
	dev_t allow_freeze[ALLOW_FREEZE_MAX];
	size_t n_allow_freeze;
	const char *script;
	const char *state_dir;
	const char *os_release_file;
	bool show_log;
	char **daemon_argv;
} Args;

static int parse_args(int argc, char *argv[], Args *a)
{
	enum {
		ARG_NETNS = 0x100,
		ARG_VAR_LIB_TMPFS,
		ARG_OS_RELEASE,
		ARG_HOSTNAME,
		ARG_DOMAIN,
		ARG_TIMEOUT,
		ARG_STATE_DIR,
		ARG_SCRIPT,
		ARG_SHOW_LOG,
		ARG_SERVICE,
		ARG_VSS_TIMEOUT,
		ARG_VSS_FREEZE_TIMEOUT,
		ARG_ALLOW_FREEZE,
		ARG_FCOPY_TRANSPORT,
		ARG_FCOPY_TIMEOUT,
		ARG_UIO_RING_SIZE,
	};
	static const struct option options[] = {
		{ "netns", no_argument, NULL, ARG_NETNS },
		{ "var-lib-tmpfs", no_argument, NULL, ARG_VAR_LIB_TMPFS },
		{ "os-release", required_argument, NULL, ARG_OS_RELEASE },
		{ "hostname", required_argument, NULL, ARG_HOSTNAME },
		{ "domain", required_argument, NULL, ARG_DOMAIN },
		{ "timeout", required_argument, NULL, ARG_TIMEOUT },
		{ "state-dir", required_argument, NULL, ARG_STATE_DIR },
		{ "script", required_argument, NULL, ARG_SCRIPT },
		{ "show-log", no_argument, NULL, ARG_SHOW_LOG },
		{ "service", required_argument, NULL, ARG_SERVICE },
		{ "vss-timeout", required_argument, NULL, ARG_VSS_TIMEOUT },
		{ "vss-freeze-timeout", required_argument, NULL, ARG_VSS_FREEZE_TIMEOUT },
		{ "allow-freeze", required_argument, NULL, ARG_ALLOW_FREEZE },
		{ "fcopy-transport", required_argument, NULL, ARG_FCOPY_TRANSPORT },
		{ "fcopy-timeout", required_argument, NULL, ARG_FCOPY_TIMEOUT },
		{ "uio-ring-size", required_argument, NULL, ARG_UIO_RING_SIZE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	/* argv[0] is "run"; stop at the first non-option (the daemon). */
	optind = 1;
	while ((c = getopt_long(argc, argv, "+vh", options, NULL)) >= 0) {
		struct stat st;
		char *end;
		double t;

		switch (c) {
		case ARG_NETNS:
			a->opts.netns = true;
			break;
		case ARG_VAR_LIB_TMPFS:
			a->opts.tmpfs_var_lib = true;
			break;
		case ARG_OS_RELEASE:
			a->os_release_file = optarg;
			break;
		case ARG_HOSTNAME:
			a->opts.hostname = optarg;
			break;
		case ARG_DOMAIN:
			a->opts.domain = optarg;
			break;
		case ARG_TIMEOUT:
		case ARG_VSS_TIMEOUT:
		case ARG_VSS_FREEZE_TIMEOUT:
		case ARG_FCOPY_TIMEOUT:
			t = strtod(optarg, &end);
			if (*end || !(t > 0) || t > 86400) {
				log_error("Invalid timeout '%s'.", optarg);
				return -EINVAL;
			}
			if (c == ARG_TIMEOUT)
				a->opts.kvp_timeout_usec = (uint64_t)(t * 1e6);
			else if (c == ARG_VSS_TIMEOUT)
				a->opts.vss_timeout_usec = (uint64_t)(t * 1e6);
			else if (c == ARG_FCOPY_TIMEOUT)
				a->opts.fcopy_timeout_usec = (uint64_t)(t * 1e6);
			else
				a->opts.vss_freeze_timeout_usec = (uint64_t)(t * 1e6);
			break;
		case ARG_SERVICE:
			a->service = scenario_service_from_string(optarg);
			if (a->service < 0) {
				log_error("Invalid --service '%s' (kvp, vss or fcopy).", optarg);
				return -EINVAL;
			}
			break;
		case ARG_FCOPY_TRANSPORT:
			if (hostsim_fcopy_transport_from_string(optarg, &a->fcopy_transport) < 0) {
				log_error("Invalid --fcopy-transport '%s' (chardev or uio).",
					  optarg);
				return -EINVAL;
			}
			break;
		case ARG_UIO_RING_SIZE:
			a->uio_ring_size = strtoull(optarg, &end, 0);
			if (*end || *optarg == '-' || a->uio_ring_size == 0 ||
			    a->uio_ring_size > UINT32_MAX) {
				log_error("Invalid --uio-ring-size '%s'.", optarg);
				return -EINVAL;
			}
			break;
		case ARG_ALLOW_FREEZE:
			/* Resolved now: the simulated guest gets a private /dev without it. */
			if (stat(optarg, &st) < 0)
				return log_error_errno(errno, "Cannot stat '%s': %m", optarg);
			if (!S_ISBLK(st.st_mode)) {
				log_error("--allow-freeze '%s' is not a block device.", optarg);
				return -EINVAL;
			}
			if (a->n_allow_freeze >= ALLOW_FREEZE_MAX) {
				log_error("Too many --allow-freeze devices.");
				return -EINVAL;
			}
			a->allow_freeze[a->n_allow_freeze++] = st.st_rdev;
			break;
		case ARG_STATE_DIR:
			a->state_dir = optarg;
			break;
		case ARG_SCRIPT:
			a->script = optarg;
			break;
		case ARG_SHOW_LOG:
			a->show_log = true;
			break;
		case 'v':
			log_set_max_level(LOG_DEBUG);
			break;
		case 'h':
			help(stdout);
			exit(EXIT_SUCCESS);
		default:
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		log_error("Missing the daemon to run (after \"--\").");
		return -EINVAL;
	}
	a->daemon_argv = argv + optind;
	return 0;
}

static int run(int argc, char *argv[])
{
	_cleanup_(hostsim_freep) HostSim *sim = NULL;
	_cleanup_free_ char *os_release = NULL;
	_cleanup_fclose_ FILE *script_file = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	ScenarioEnv env = { .out = stdout, .interrupted = &interrupted };
	Args a = {};
	FILE *script;
	const char *device;
	char uio_fds[32] = "";
	char **dargv;
	size_t n;
	int r, failures;

	r = parse_args(argc, argv, &a);
	if (r < 0)
		return EXIT_USAGE;

	if (a.os_release_file) {
		os_release = read_small_file(a.os_release_file);
		if (!os_release) {
			log_error_errno(errno, "Failed to read '%s': %m", a.os_release_file);
			return EXIT_USAGE;
		}
		a.opts.os_release = os_release;
	}
	if (!a.script || strcmp(a.script, "-") == 0) {
		script = stdin;
	} else {
		script_file = fopen(a.script, "re");
		if (!script_file) {
			log_error_errno(errno, "Failed to open '%s': %m", a.script);
			return EXIT_USAGE;
		}
		script = script_file;
	}

	/* No SA_RESTART: blocking reads of the script return so that we can stop. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	r = hostsim_new(&a.opts, &sim);
	if (r < 0) {
		log_error_errno(r, "Failed to set up the simulated guest: %m");
		return EXIT_SETUP;
	}
	for (size_t i = 0; i < a.n_allow_freeze; i++) {
		r = hostsim_vss_allow_freeze(sim, a.allow_freeze[i]);
		if (r < 0) {
			log_error_errno(r, "Failed to allow a device for FREEZE: %m");
			return EXIT_SETUP;
		}
	}
	device = a.service == SCENARIO_SERVICE_VSS     ? hostsim_vss_device(sim)
		 : a.service == SCENARIO_SERVICE_FCOPY ? hostsim_fcopy_device(sim)
						       : hostsim_kvp_device(sim);
	if (a.service == SCENARIO_SERVICE_FCOPY && a.fcopy_transport == HOSTSIM_FCOPY_UIO) {
		int ring_fd, irq_fd;

		/* Before any daemon starts: every daemon spawned afterwards inherits the ends. */
		r = hostsim_fcopy_uio_open(sim, (size_t)a.uio_ring_size, a.opts.fcopy_timeout_usec);
		if (r >= 0)
			r = hostsim_fcopy_uio_fds(sim, &ring_fd, &irq_fd);
		if (r < 0) {
			log_error_errno(r, "Failed to set up the fcopy uio channel: %m");
			return EXIT_SETUP;
		}
		(void)snprintf(uio_fds, sizeof(uio_fds), "%d,%d", ring_fd, irq_fd);
		device = "the fcopy uio channel";
	}

	for (n = 0; a.daemon_argv[n]; n++)
		;
	dargv = calloc(n + 1, sizeof(char *));
	if (!dargv) {
		log_oom();
		return EXIT_SETUP;
	}
	for (size_t i = 0; i < n; i++) {
		dargv[i] = substitute(a.daemon_argv[i],
				      a.state_dir ? a.state_dir : hostsim_state_dir(sim), device,
				      uio_fds);
		if (!dargv[i]) {
			strv_free(dargv);
			log_oom();
			return EXIT_SETUP;
		}
	}

	env.sim = sim;
	env.service = a.service;
	env.fcopy_transport = a.fcopy_transport;
	env.daemon_argv = dargv;
	env.pool_dir = a.state_dir ? a.state_dir : hostsim_state_dir(sim);

	printf("hv-hostsim: guest \"%s\" with %s, scratch %s%s%s\n",
	       a.opts.hostname ? a.opts.hostname : "hvguest-vm", device, hostsim_scratch_dir(sim),
	       a.opts.netns ? ", network hv0 " HOSTSIM_MAC : "",
	       a.opts.tmpfs_var_lib ? ", tmpfs /var/lib" : "");
	printf("guest> starting");
	for (size_t i = 0; dargv[i]; i++)
		printf(" %s", dargv[i]);
	printf("\n");
	fflush(stdout);

	r = scenario_start_daemon(&env);
	if (r < 0) {
		scenario_show_logs(&env);
		strv_free(dargv);
		return EXIT_SETUP;
	}

	failures = scenario_run(&env, script, a.script ? a.script : "stdin");

	if (a.show_log)
		scenario_show_logs(&env);
	if (env.daemon) {
		int st = hostsim_daemon_stop(env.daemon);

		if (st >= 0 && WIFEXITED(st))
			printf("\nguest> daemon stopped, exit status %d\n", WEXITSTATUS(st));
		else if (st >= 0 && WIFSIGNALED(st))
			printf("\nguest> daemon stopped by signal %d\n", WTERMSIG(st));
	}
	strv_free(dargv);

	if (failures < 0) {
		log_error_errno(failures, "Failed to run the script: %m");
		return EXIT_CHECKS_FAILED;
	}
	printf("%s: %d failure%s\n", failures == 0 ? "PASS" : "FAIL", failures,
	       failures == 1 ? "" : "s");
	return failures == 0 ? EXIT_SUCCESS : EXIT_CHECKS_FAILED;
}

int main(int argc, char *argv[])
{
	log_open("hv-hostsim", LOG_TARGET_CONSOLE);

	if (argc < 2) {
		help(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help(stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("hv-hostsim %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "run") == 0)
		return run(argc - 1, argv + 1);

	log_error("Unknown command '%s'; see --help.", argv[1]);
	return EXIT_USAGE;
}
