/* SPDX-License-Identifier: MIT */
/*
 * Scenario scripts for hv-hostsim: one command per line, '#' comments, double-quoted
 * strings with \" and \\ escapes. The engine plays the host (KVP and VSS requests), the guest
 * (commands run inside the simulated guest, cloud-init-style pool 1 appends) and the
 * operator (restart, signals), narrates everything on out, and checks expectations.
 */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "hostsim/hostsim.h"

/* The device whose registration "run", "restart" and "wait-ready" wait for. */
typedef enum ScenarioService {
	SCENARIO_SERVICE_KVP,
	SCENARIO_SERVICE_VSS,
	SCENARIO_SERVICE_FCOPY, /* hv_fcopy char device or the uio channel (fcopy_transport) */
	_SCENARIO_SERVICE_MAX,
	_SCENARIO_SERVICE_INVALID = -EINVAL,
} ScenarioService;

typedef struct ScenarioEnv {
	HostSim *sim;
	ScenarioService service;		  /* the daemon under test serves this device */
	HostSimFcopyTransport fcopy_transport;	  /* with SCENARIO_SERVICE_FCOPY */
	char **daemon_argv;			  /* argv of the daemon under test (for restart) */
	HostSimDaemon *daemon;			  /* current instance; replaced by restart */
	const char *pool_dir;			  /* where append-pool1 writes .kvp_pool_1 */
	FILE *out;				  /* narration */
	const volatile sig_atomic_t *interrupted; /* stop between commands when set */
} ScenarioEnv;

/*
 * Runs the script read from f (name is used in messages). Returns the number of failed
 * expectations and commands (0 = success), or a negative errno when the script could not be
 * read or parsed.
 */
int scenario_run(ScenarioEnv *env, FILE *f, const char *name);

/*
 * Starts env->daemon_argv as env->daemon; waits (10 s) until it registered on env->service
 * (fcopy over uio: until the channel is negotiated; the host negotiates once per channel).
 */
int scenario_start_daemon(ScenarioEnv *env);

/* Prints the captured syslog and the current daemon's output. */
void scenario_show_logs(ScenarioEnv *env);

/* Prints the script language reference. */
void scenario_help(FILE *out);

/* "kvp" / "vss" / "fcopy" -> the service, _SCENARIO_SERVICE_INVALID otherwise. */
ScenarioService scenario_service_from_string(const char *s);
/* "hv_kvp" / "hv_vss" / "hv_fcopy". */
const char *scenario_service_device_name(ScenarioService s);
