/* SPDX-License-Identifier: MIT */
/*
 * Shared between the scenario engine (hostsim-scenario.c: parsing, host commands, checks)
 * and the guest and operator commands (hostsim-scenario-guest.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/macro.h"
#include "hostsim/hostsim-scenario.h"

#define SCENARIO_READY_TIMEOUT_USEC (10 * UINT64_C(1000000))

/* One script being played. */
typedef struct Run {
	ScenarioEnv *env;
	const char *name;
	unsigned line;
	unsigned failures;
	unsigned last_say_line; /* consecutive say lines form one paragraph */
	bool have_status, have_value, have_count, have_flags;
	uint32_t last_status;
	uint32_t last_flags; /* the daemon's reply flags of the last vss-* command */
	unsigned last_count;
	char last_value[4096];
} Run;

uint64_t scenario_now_usec(void);
double scenario_ms_since(uint64_t start_usec);
/* Prints s quoted and escaped, eliding after 160 bytes. */
void scenario_print_quoted(FILE *out, const char *s);
/* "exited with status N" / "killed by SIGX". */
void scenario_describe_wait_status(char *buf, size_t size, int status);
/* Reports a failed check or command (counted); always returns 0 so that the script goes on. */
int scenario_fail(Run *run, const char *fmt, ...) _printf_(2, 3);
/* Decimal or 0x... number <= max. */
bool scenario_parse_u64(const char *s, uint64_t max, uint64_t *ret);

/* Guest and operator commands (hostsim-scenario-guest.c); argv[0] is the command. */
int scenario_cmd_expect_stat(Run *run, int argc, char **argv);
int scenario_cmd_stats(Run *run, int argc, char **argv);
int scenario_cmd_append_pool1(Run *run, int argc, char **argv);
int scenario_cmd_exec(Run *run, int argc, char **argv);
int scenario_cmd_restart(Run *run, int argc, char **argv);
int scenario_cmd_kill(Run *run, int argc, char **argv);
int scenario_cmd_sleep(Run *run, int argc, char **argv);
int scenario_cmd_wait_ready(Run *run, int argc, char **argv);
int scenario_cmd_show_log(Run *run, int argc, char **argv);

/* Host VSS commands (hostsim-scenario-vss.c). */
int scenario_cmd_vss(Run *run, int argc, char **argv);
int scenario_cmd_vss_fake_thaw(Run *run, int argc, char **argv);
int scenario_cmd_expect_flags(Run *run, int argc, char **argv);
/* Records a host status for expect-status and prints "<- STATUS (N ms)". */
void scenario_print_status(Run *run, uint32_t status, uint64_t start_usec);
/* Waits until the service is ready with at least n registrations in total. */
int scenario_wait_registered(ScenarioEnv *env, unsigned n, uint64_t timeout_usec);
/* Registrations accepted so far on the service. */
unsigned scenario_registrations(ScenarioEnv *env);
/* The service's state name for narration. */
const char *scenario_service_state(ScenarioEnv *env);
/* A status by name (HV_S_OK, HV_E_FAIL, ...) or number. */
bool scenario_parse_status(const char *s, uint32_t *ret);

/* Host fcopy commands (hostsim-scenario-fcopy.c), on env->fcopy_transport. */
int scenario_cmd_copy_file(Run *run, int argc, char **argv);
int scenario_cmd_copy_cancel(Run *run, int argc, char **argv);
int scenario_cmd_expect_file(Run *run, int argc, char **argv);
int scenario_cmd_fcopy_rescind(Run *run, int argc, char **argv);
/* scenario_wait_registered() for fcopy (uio: n is ignored, the host negotiates once). */
int scenario_fcopy_wait_registered(ScenarioEnv *env, unsigned n, uint64_t timeout_usec);
/* "READY", "DEVICE_INIT", ... (chardev) or "NEGOTIATED", "OFFERED", ... (uio). */
const char *scenario_fcopy_state(ScenarioEnv *env);
/* Counters of the fcopy service in the shape of the KVP ones (for expect-stat). */
void scenario_fcopy_stats(ScenarioEnv *env, HostSimKvpStats *ret);
