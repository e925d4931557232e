/* SPDX-License-Identifier: MIT */
/*
 * Scenario commands of the host's VSS IC (FREEZE, THAW, HOT_BACKUP and the ops the kernel
 * answers itself), the hibernation fake THAW, and the service selection shared with the
 * guest commands. FREEZE and THAW go through the simulator's safety gate
 * (hostsim_vss_allow_freeze()): never aim them at a daemon that can see real filesystems.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "common/macro.h"
#include "hostsim/hostsim-scenario-internal.h"
#include "hostsim/hostsim-vss.h"

ScenarioService scenario_service_from_string(const char *s)
{
	if (strcmp(s, "kvp") == 0)
		return SCENARIO_SERVICE_KVP;
	if (strcmp(s, "vss") == 0)
		return SCENARIO_SERVICE_VSS;
	if (strcmp(s, "fcopy") == 0)
		return SCENARIO_SERVICE_FCOPY;
	return _SCENARIO_SERVICE_INVALID;
}

const char *scenario_service_device_name(ScenarioService s)
{
	switch (s) {
	case SCENARIO_SERVICE_KVP:
		return "hv_kvp";
	case SCENARIO_SERVICE_VSS:
		return "hv_vss";
	case SCENARIO_SERVICE_FCOPY:
		return "hv_fcopy";
	case _SCENARIO_SERVICE_MAX:
	case _SCENARIO_SERVICE_INVALID:
		break;
	}
	return "?";
}

int scenario_wait_registered(ScenarioEnv *env, unsigned n, uint64_t timeout_usec)
{
	switch (env->service) {
	case SCENARIO_SERVICE_KVP:
		return hostsim_kvp_wait_registered(env->sim, n, timeout_usec);
	case SCENARIO_SERVICE_VSS:
		return hostsim_vss_wait_registered(env->sim, n, timeout_usec);
	case SCENARIO_SERVICE_FCOPY:
		return scenario_fcopy_wait_registered(env, n, timeout_usec);
	case _SCENARIO_SERVICE_MAX:
	case _SCENARIO_SERVICE_INVALID:
		break;
	}
	return -EINVAL;
}

unsigned scenario_registrations(ScenarioEnv *env)
{
	HostSimKvpStats k;
	HostSimVssStats v;

	switch (env->service) {
	case SCENARIO_SERVICE_FCOPY:
		scenario_fcopy_stats(env, &k);
		return k.registrations;
	case SCENARIO_SERVICE_KVP:
		hostsim_kvp_stats(env->sim, &k);
		return k.registrations;
	case SCENARIO_SERVICE_VSS:
		hostsim_vss_stats(env->sim, &v);
		return v.registrations;
	case _SCENARIO_SERVICE_MAX:
	case _SCENARIO_SERVICE_INVALID:
		break;
	}
	return 0;
}

const char *scenario_service_state(ScenarioEnv *env)
{
	switch (env->service) {
	case SCENARIO_SERVICE_KVP:
		return hostsim_kvp_state(env->sim);
	case SCENARIO_SERVICE_VSS:
		return hostsim_vss_state(env->sim);
	case SCENARIO_SERVICE_FCOPY:
		return scenario_fcopy_state(env);
	case _SCENARIO_SERVICE_MAX:
	case _SCENARIO_SERVICE_INVALID:
		break;
	}
	return "?";
}

/* "FREEZE", "hot_backup", "3", "0x05" -> op. */
static bool parse_op(const char *s, uint8_t *ret)
{
	uint64_t v;

	for (unsigned op = 0; op <= UINT8_MAX; op++) {
		const char *name = hs_vss_op_to_string((uint8_t)op);

		if (name && strcasecmp(name, s) == 0) {
			*ret = (uint8_t)op;
			return true;
		}
	}
	if (!scenario_parse_u64(s, UINT8_MAX, &v))
		return false;
	*ret = (uint8_t)v;
	return true;
}

static const char *describe_end(HostSimVssEnd end)
{
	switch (end) {
	case HOSTSIM_VSS_END_REPLY:
		return NULL;
	case HOSTSIM_VSS_END_KERNEL:
		return "kernel> answered by the kernel itself, never reaches the daemon";
	case HOSTSIM_VSS_END_NOT_READY:
		return "kernel> no daemon registered: failed at once";
	case HOSTSIM_VSS_END_TIMEOUT:
		return "kernel> VSS: timeout waiting for daemon to reply (the message stays "
		       "queued)";
	case HOSTSIM_VSS_END_RESET:
		return "kernel> the daemon closed the device during the transaction";
	case HOSTSIM_VSS_END_SENDFAIL:
		return "kernel> VSS: failed to communicate to the daemon (previous message unread)";
	case HOSTSIM_VSS_END_SUSPENDED:
		return "kernel> cancelled by the fake THAW";
	case HOSTSIM_VSS_END_WITHDRAWN:
		return "host> gave up: the request stayed in the ring";
	}
	return NULL;
}

int scenario_cmd_vss(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	HostSimVssResult res;
	uint32_t status, flags;
	const char *name, *why;
	uint64_t start;
	uint8_t op;
	int r;

	if (strcmp(argv[0], "vss-freeze") == 0)
		op = HS_VSS_OP_FREEZE;
	else if (strcmp(argv[0], "vss-thaw") == 0)
		op = HS_VSS_OP_THAW;
	else if (strcmp(argv[0], "vss-hot-backup") == 0)
		op = HS_VSS_OP_HOT_BACKUP;
	else if (!parse_op(argv[1], &op))
		return scenario_fail(run, "unknown VSS operation \"%s\"", argv[1]);

	name = hs_vss_op_to_string(op);
	if (name)
		fprintf(out, "host> VSS %s\n", name);
	else
		fprintf(out, "host> VSS op %u\n", op);
	fflush(out);

	start = scenario_now_usec();
	r = hostsim_vss_request(run->env->sim, op, &status, &flags);
	if (r == -EPERM)
		return scenario_fail(run, "refused by the safety gate: the daemon can see "
					  "filesystems that are not allowed test devices");
	if (r < 0)
		return scenario_fail(run, "the host could not send the request: %s", strerror(-r));

	if (hostsim_vss_last_result(run->env->sim, &res) >= 0) {
		why = describe_end(res.end);
		if (why)
			fprintf(out, "      %s\n", why);
		else
			fprintf(out,
				"      reply flags 0x%08" PRIx32 ", flags to the host 0x%08" PRIx32
				"\n",
				res.reply_flags, res.host_flags);
	}
	scenario_print_status(run, status, start);
	run->have_flags = true;
	run->last_flags = flags;
	return 0;
}

int scenario_cmd_vss_fake_thaw(Run *run, int argc, char **argv)
{
	FILE *out = run->env->out;
	int r;

	fputs("kernel> suspending: fake THAW to the VSS daemon, state forced to READY\n", out);
	fflush(out);
	r = hostsim_vss_fake_thaw(run->env->sim);
	if (r == -EPERM)
		return scenario_fail(run, "refused by the safety gate");
	if (r < 0)
		fprintf(out, "      (not delivered: %s; the kernel ignores that)\n", strerror(-r));
	return 0;
}

int scenario_cmd_expect_flags(Run *run, int argc, char **argv)
{
	uint64_t want;

	if (!scenario_parse_u64(argv[1], UINT32_MAX, &want))
		return scenario_fail(run, "bad number \"%s\"", argv[1]);
	if (!run->have_flags)
		return scenario_fail(run, "expect-flags without a preceding vss-* command");
	if (run->last_flags != want)
		return scenario_fail(run, "expected flags 0x%08" PRIx64 ", got 0x%08" PRIx32, want,
				     run->last_flags);
	fprintf(run->env->out, "      ok: flags are 0x%08" PRIx64 "\n", want);
	return 0;
}
