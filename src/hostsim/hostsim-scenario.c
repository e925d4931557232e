/* SPDX-License-Identifier: MIT */
/*
 * Scenario engine of hv-hostsim (see hostsim-scenario.h). Output is the narration the demo
 * shows, so it is meant for people: one line per action, results indented below.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim-scenario-internal.h"

#define MAX_ARGS 64
#define SHOW_MAX 160 /* bytes of a value shown before eliding */
#define ENUM_MAX 100000u

typedef struct Command {
	const char *name;
	int min_args, max_args; /* not counting the command; -1 = unlimited */
	int (*run)(Run *run, int argc, char **argv);
	const char *usage;
} Command;

uint64_t scenario_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double scenario_ms_since(uint64_t start)
{
	return (double)(scenario_now_usec() - start) / 1000.0;
}

/* Splits line into words in place: blanks separate, "..." groups with \" and \\ escapes. */
static int tokenize(char *line, char **argv, int max)
{
	char *r = line, *w = line;
	int argc = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n')
			r++;
		if (*r == '\0' || *r == '#')
			break;
		if (argc >= max)
			return -E2BIG;

		argv[argc++] = w;
		while (*r && *r != ' ' && *r != '\t' && *r != '\r' && *r != '\n') {
			if (*r != '"') {
				*w++ = *r++;
				continue;
			}
			r++;
			while (*r != '"') {
				if (*r == '\0')
					return -EINVAL; /* unterminated string */
				if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
					r++;
				*w++ = *r++;
			}
			r++;
		}
		if (*r)
			r++;
		*w++ = '\0';
	}
	return argc;
}

void scenario_print_quoted(FILE *out, const char *s)
{
	size_t len = strlen(s);

	fputc('"', out);
	for (size_t i = 0; i < len && i < SHOW_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
	if (len > SHOW_MAX)
		fprintf(out, "... (%zu bytes)", len);
}

void scenario_describe_wait_status(char *buf, size_t size, int status)
{
	if (WIFEXITED(status))
		(void)snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		(void)snprintf(buf, size, "killed by SIG%s",
			       sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status))
							      : "?");
	else
		(void)snprintf(buf, size, "wait status 0x%x", (unsigned)status);
}

/* Reports a failed check or command; always returns 0 so that the script goes on. */
int scenario_fail(Run *run, const char *fmt, ...)
{
	FILE *out = run->env->out;
	int saved_errno = errno;
	va_list ap;

	fprintf(out, "      FAILED (%s:%u): ", run->name, run->line);
	errno = saved_errno; /* for %m */
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	run->failures++;
	return 0;
}

bool scenario_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end || v > max)
		return false;
	*ret = v;
	return true;
}

static bool parse_pool(Run *run, const char *s, uint8_t *ret)
{
	uint64_t v;

	if (!scenario_parse_u64(s, UINT8_MAX, &v)) {
		scenario_fail(run, "bad pool number \"%s\"", s);
		return false;
	}
	*ret = (uint8_t)v;
	return true;
}

bool scenario_parse_status(const char *s, uint32_t *ret)
{
	static const uint32_t known[] = {
		HV_S_OK,
		HV_E_FAIL,
		HV_S_CONT,
		HV_ERROR_NOT_SUPPORTED,
		HV_ERROR_MACHINE_LOCKED,
		HV_ERROR_DEVICE_NOT_CONNECTED,
		HV_INVALIDARG,
		HV_GUID_NOTFOUND,
		HV_ERROR_ALREADY_EXISTS,
		HV_ERROR_DISK_FULL,
	};
	uint64_t v;

	for (size_t i = 0; i < ELEMENTSOF(known); i++)
		if (strcasecmp(s, hv_status_to_string(known[i])) == 0) {
			*ret = known[i];
			return true;
		}
	if (!scenario_parse_u64(s, UINT32_MAX, &v))
		return false;
	*ret = (uint32_t)v;
	return true;
}

void scenario_print_status(Run *run, uint32_t status, uint64_t start)
{
	fprintf(run->env->out, "      <- %s (%.2f ms)\n", hv_status_to_string(status),
		scenario_ms_since(start));
	run->have_status = true;
	run->last_status = status;
}

static int cmd_say(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	bool continued = run->last_say_line != 0 && run->line == run->last_say_line + 1;

	run->last_say_line = argc > 1 ? run->line : 0;
	if (argc == 1) {
		fputc('\n', out);
		return 0;
	}
	fputs(continued ? "    " : "\n==> ", out);
	for (int i = 1; i < argc; i++)
		fprintf(out, "%s%s", argv[i], i + 1 < argc ? " " : "");
	fputc('\n', out);
	return 0;
}

static int cmd_kvp_set(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	HostKvpReply reply;
	uint64_t start, v = 0;
	bool u32 = strcmp(argv[0], "kvp-set-u32") == 0;
	uint8_t pool;
	int r;

	if (!parse_pool(run, argv[1], &pool))
		return 0;
	if (u32 && !scenario_parse_u64(argv[3], UINT32_MAX, &v))
		return scenario_fail(run, "bad 32-bit number \"%s\"", argv[3]);

	fprintf(out, "host> SET%s pool %u ", u32 ? " (REG_U32)" : "", pool);
	scenario_print_quoted(out, argv[2]);
	fputs(" = ", out);
	if (u32)
		fprintf(out, "%" PRIu64, v);
	else
		scenario_print_quoted(out, argv[3]);
	fputc('\n', out);

	start = scenario_now_usec();
	r = u32 ? hostsim_kvp_set_u32(run->env->sim, pool, argv[2], (uint32_t)v, &reply)
		: hostsim_kvp_set(run->env->sim, pool, argv[2], argv[3], &reply);
	if (r < 0)
		return scenario_fail(run, "the host could not send the request: %s", strerror(-r));
	scenario_print_status(run, reply.status, start);
	return 0;
}

static int cmd_kvp_get(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	_cleanup_free_ HostKvpReply *reply = malloc(sizeof(*reply));
	uint64_t start;
	uint8_t pool;
	int r;

	if (!reply)
		return -ENOMEM;
	if (!parse_pool(run, argv[1], &pool))
		return 0;

	fprintf(out, "host> GET pool %u ", pool);
	scenario_print_quoted(out, argv[2]);
	fputc('\n', out);

	start = scenario_now_usec();
	r = hostsim_kvp_get(run->env->sim, pool, argv[2], reply);
	if (r < 0)
		return scenario_fail(run, "the host could not send the request: %s", strerror(-r));
	if (reply->status == HV_S_OK) {
		fputs("      value ", out);
		scenario_print_quoted(out, reply->value);
		fputc('\n', out);
	}
	scenario_print_status(run, reply->status, start);
	run->have_value = true;
	(void)snprintf(run->last_value, sizeof(run->last_value), "%s", reply->value);
	return 0;
}

static int cmd_kvp_delete(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	HostKvpReply reply;
	uint64_t start;
	uint8_t pool;
	int r;

	if (!parse_pool(run, argv[1], &pool))
		return 0;

	fprintf(out, "host> DELETE pool %u ", pool);
	scenario_print_quoted(out, argv[2]);
	fputc('\n', out);

	start = scenario_now_usec();
	r = hostsim_kvp_delete(run->env->sim, pool, argv[2], &reply);
	if (r < 0)
		return scenario_fail(run, "the host could not send the request: %s", strerror(-r));
	scenario_print_status(run, reply.status, start);
	return 0;
}

/* Records printed per enumeration; the rest are counted. */
#define ENUM_SHOWN 12u

static int cmd_kvp_enum(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	_cleanup_free_ HostKvpReply *reply = malloc(sizeof(*reply));
	uint64_t start;
	uint32_t index;
	uint8_t pool;
	int r;

	if (!reply)
		return -ENOMEM;
	if (!parse_pool(run, argv[1], &pool))
		return 0;

	fprintf(out, "host> ENUMERATE pool %u\n", pool);
	start = scenario_now_usec();
	for (index = 0; index < ENUM_MAX; index++) {
		r = hostsim_kvp_enumerate(run->env->sim, pool, index, reply);
		if (r < 0)
			return scenario_fail(run, "the host could not send the request: %s",
					     strerror(-r));
		if (reply->status != HV_S_OK)
			break;
		/* Long pools: the first records and a marker; the count below says the rest. */
		if (index == ENUM_SHOWN)
			fputs("      ...\n", out);
		if (index >= ENUM_SHOWN)
			continue;
		fprintf(out, "      [%u] ", index);
		scenario_print_quoted(out, reply->key);
		fputs(" = ", out);
		scenario_print_quoted(out, reply->value);
		fputc('\n', out);
	}
	fprintf(out, "      %u record%s, ended by %s (%.2f ms)\n", index, index == 1 ? "" : "s",
		hv_status_to_string(reply->status), scenario_ms_since(start));
	run->have_status = true;
	run->last_status = reply->status;
	run->have_count = true;
	run->last_count = index;
	return 0;
}

static int cmd_kvp_get_ip_info(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	_cleanup_free_ HostKvpIpInfo *info = malloc(sizeof(*info));
	uint64_t start, family = 0;
	int r;

	if (!info)
		return -ENOMEM;
	if (argc > 2 && !scenario_parse_u64(argv[2], UINT8_MAX, &family))
		return scenario_fail(run, "bad address family \"%s\"", argv[2]);

	fprintf(out, "host> GET_IP_INFO adapter ");
	scenario_print_quoted(out, argv[1]);
	fprintf(out, " family %" PRIu64 "\n", family);
	start = scenario_now_usec();
	r = hostsim_kvp_get_ip_info(run->env->sim, argv[1], (uint8_t)family, info);
	if (r < 0)
		return scenario_fail(run, "the host could not send the request: %s", strerror(-r));
	if (info->status == HV_S_OK) {
		fprintf(out, "      family %u, dhcp %u\n", info->addr_family, info->dhcp_enabled);
		fputs("      addresses ", out);
		scenario_print_quoted(out, info->ip_addr);
		fputs("\n      subnets   ", out);
		scenario_print_quoted(out, info->sub_net);
		fputs("\n      gateways  ", out);
		scenario_print_quoted(out, info->gate_way);
		fputs("\n      dns       ", out);
		scenario_print_quoted(out, info->dns_addr);
		fputc('\n', out);
	}
	scenario_print_status(run, info->status, start);
	return 0;
}

static int cmd_expect_status(Run *run, int argc, char **argv)
{
	uint32_t want;

	if (!scenario_parse_status(argv[1], &want))
		return scenario_fail(run, "unknown status \"%s\"", argv[1]);
	if (!run->have_status)
		return scenario_fail(run, "expect-status without a preceding host command");
	if (run->last_status != want)
		return scenario_fail(run, "expected status %s, got %s", hv_status_to_string(want),
				     hv_status_to_string(run->last_status));
	fprintf(run->env->out, "      ok: status is %s\n", hv_status_to_string(want));
	return 0;
}

static int cmd_expect_value(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;

	if (!run->have_value)
		return scenario_fail(run, "expect-value without a preceding kvp-get");
	if (strcmp(run->last_value, argv[1]) != 0) {
		fprintf(out, "      FAILED (%s:%u): expected value ", run->name, run->line);
		scenario_print_quoted(out, argv[1]);
		fputs(", got ", out);
		scenario_print_quoted(out, run->last_value);
		fputc('\n', out);
		run->failures++;
		return 0;
	}
	fputs("      ok: value is ", out);
	scenario_print_quoted(out, argv[1]);
	fputc('\n', out);
	return 0;
}

static int cmd_expect_count(Run *run, int argc, char **argv)
{
	uint64_t want;

	if (!scenario_parse_u64(argv[1], UINT32_MAX, &want))
		return scenario_fail(run, "bad count \"%s\"", argv[1]);
	if (!run->have_count)
		return scenario_fail(run, "expect-count without a preceding kvp-enum");
	if (run->last_count != want)
		return scenario_fail(run, "expected %" PRIu64 " records, got %u", want,
				     run->last_count);
	fprintf(run->env->out, "      ok: %" PRIu64 " records\n", want);
	return 0;
}

static const Command commands[] = {
	{ "say", 0, -1, cmd_say, "say TEXT...                 print narration" },
	{ "kvp-set", 3, 3, cmd_kvp_set, "kvp-set POOL KEY VALUE      host SET (REG_SZ)" },
	{ "kvp-set-u32", 3, 3, cmd_kvp_set, "kvp-set-u32 POOL KEY N      host SET (REG_U32)" },
	{ "kvp-get", 2, 2, cmd_kvp_get, "kvp-get POOL KEY            host GET" },
	{ "kvp-delete", 2, 2, cmd_kvp_delete, "kvp-delete POOL KEY         host DELETE" },
	{ "kvp-enum", 1, 1, cmd_kvp_enum,
	  "kvp-enum POOL               host ENUMERATE from 0 until a non-OK status" },
	{ "kvp-get-ip-info", 1, 2, cmd_kvp_get_ip_info,
	  "kvp-get-ip-info MAC [FAMILY] host GET_IP_INFO (MAC upper-case, e.g. " HOSTSIM_MAC ")" },
	{ "vss-freeze", 0, 0, scenario_cmd_vss,
	  "vss-freeze                  host FREEZE (only through the safety gate: see\n"
	  "                            --allow-freeze)" },
	{ "vss-thaw", 0, 0, scenario_cmd_vss, "vss-thaw                    host THAW (same gate)" },
	{ "vss-hot-backup", 0, 0, scenario_cmd_vss,
	  "vss-hot-backup              host HOT_BACKUP (prints status and the reply's flags)" },
	{ "vss-op", 1, 1, scenario_cmd_vss,
	  "vss-op OP                   host VSS request by number or name (GET_DM_INFO...)" },
	{ "vss-fake-thaw", 0, 0, scenario_cmd_vss_fake_thaw,
	  "vss-fake-thaw               hibernation: the kernel's fake THAW (same gate)" },
	{ "copy-file", 3, 7, scenario_cmd_copy_file,
	  "copy-file LOCAL DIR NAME [overwrite] [create-path] [expect STATUS]\n"
	  "                            host Copy-VMFile of LOCAL to DIR/NAME (--service fcopy)" },
	{ "copy-cancel", 4, 4, scenario_cmd_copy_cancel,
	  "copy-cancel LOCAL DIR NAME BYTES\n"
	  "                            host START, WRITE of the first BYTES, then CANCEL" },
	{ "fcopy-rescind", 0, 0, scenario_cmd_fcopy_rescind,
	  "fcopy-rescind               uio: the host rescinds the channel (EOF/EPIPE for the\n"
	  "                            daemon)" },
	{ "expect-file", 2, 3, scenario_cmd_expect_file,
	  "expect-file PATH same LOCAL | size N | mode OCTAL | absent\n"
	  "                            check a file in the guest" },
	{ "expect-status", 1, 1, cmd_expect_status,
	  "expect-status STATUS        last status (HV_S_OK, HV_S_CONT, HV_E_FAIL, 0x...)" },
	{ "expect-flags", 1, 1, scenario_cmd_expect_flags,
	  "expect-flags N              flags of the daemon's last VSS reply (bytes 8-11)" },
	{ "expect-value", 1, 1, cmd_expect_value,
	  "expect-value TEXT           value of the last GET" },
	{ "expect-count", 1, 1, cmd_expect_count,
	  "expect-count N              records of the last kvp-enum" },
	{ "expect-stat", 2, 2, scenario_cmd_expect_stat,
	  "expect-stat NAME N          counter of the --service device (opens, ebusy, releases,\n"
	  "                            registrations, einval_writes, timeouts, ready); kvp.NAME,\n"
	  "                            vss.NAME or fcopy.NAME for a given device" },
	{ "append-pool1", 1, 2, scenario_cmd_append_pool1,
	  "append-pool1 N [PREFIX]     append N records to .kvp_pool_1 as cloud-init does" },
	{ "exec", 1, -1, scenario_cmd_exec,
	  "exec CMD [ARGS...]          run a command inside the guest" },
	{ "restart", 0, 0, scenario_cmd_restart,
	  "restart                     stop the daemon (SIGTERM) and start it again" },
	{ "kill", 1, 1, scenario_cmd_kill,
	  "kill SIG                    signal the daemon (TERM, STOP, 9...)" },
	{ "sleep", 1, 1, scenario_cmd_sleep,
	  "sleep SECONDS               pause (fractions allowed)" },
	{ "wait-ready", 0, 1, scenario_cmd_wait_ready,
	  "wait-ready [SECONDS]        wait until the --service device is READY and idle\n"
	  "                            (default 10 s)" },
	{ "wait-registered", 1, 2, scenario_cmd_wait_ready,
	  "wait-registered N [SECONDS] wait until N registrations in total and ready (after a\n"
	  "                            provoked reopen)" },
	{ "stats", 0, 0, scenario_cmd_stats,
	  "stats                       print the counters of both devices" },
	{ "show-log", 0, 0, scenario_cmd_show_log,
	  "show-log                    print captured syslog and the daemon's output" },
};

void scenario_help(FILE *out)
{
	fputs("Script language: one command per line, '#' starts a comment, \"...\" quotes\n"
	      "(with \\\" and \\\\ escapes).\n\n",
	      out);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(out, "  %s\n", commands[i].usage);
}

static int run_line(Run *run, char *line)
{
	char *argv[MAX_ARGS + 1];
	int argc;

	argc = tokenize(line, argv, MAX_ARGS);
	if (argc < 0)
		return scenario_fail(run,
				     argc == -E2BIG ? "too many words" : "unterminated string");
	if (argc == 0)
		return 0;
	argv[argc] = NULL;

	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		const Command *c = &commands[i];

		if (strcmp(c->name, argv[0]) != 0)
			continue;
		if (argc - 1 < c->min_args || (c->max_args >= 0 && argc - 1 > c->max_args))
			return scenario_fail(run, "usage: %s", c->usage);
		return c->run(run, argc, argv);
	}
	return scenario_fail(run, "unknown command \"%s\"", argv[0]);
}

int scenario_run(ScenarioEnv *env, FILE *f, const char *name)
{
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	Run run = { .env = env, .name = name };

	while (!*env->interrupted) {
		ssize_t n;
		int r;

		errno = 0;
		n = getline(&line, &size, f);
		if (n < 0) {
			if (errno != 0 && errno != EINTR)
				return negative_errno();
			break;
		}
		run.line++;
		r = run_line(&run, line);
		fflush(env->out);
		if (r < 0)
			return r;
	}
	if (*env->interrupted) {
		fprintf(env->out, "(interrupted)\n");
		run.failures++;
	}
	return (int)MIN(run.failures, (unsigned)INT_MAX);
}
