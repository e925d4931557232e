/* SPDX-License-Identifier: MIT */
/*
 * The hv_timesync_daemon manager: finds and opens the Hyper-V PTP clock, decides whether to
 * discipline the system clock or only monitor it, runs timesync_loop_step() once per poll, and
 * reports (journald, sd_notify STATUS=/READY=, RUN/timesync.json).
 *
 * Everything that touches the machine goes through TimesyncManagerOps: the clock, the
 * reference, and the time. The daemon passes NULL (the real ones); tests pass the seeded clock
 * model and drive the manager with manager_poll() in simulated time, never sleeping.
 *
 * Monitor mode runs the same loop against a virtual clock: the real clock is read but never
 * adjusted; the loop's steps and frequency changes are kept as a correction that is added to
 * what the loop reads (clock and reference pairing alike), so the loop stays self-consistent,
 * and the reported offset is the measured one minus that correction: the real clock's offset.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/macro.h"
#include "timesync/clock.h"
#include "timesync/source.h"
#include "timesync/timesync-loop.h"
#include "timesync/timesync-settings.h"
#include "timesync/timesync-status.h"

typedef struct Manager Manager;

typedef struct TimesyncManagerOps {
	/* The system clock. Real: clock_linux_ops. */
	const ClockOps *clock;
	void *clock_data;
	/*
	 * Opens the reference at path: *ret_ops and *ret_source are used as SourceOps and its
	 * userdata until close_source(). Returns 0 or a negative errno (-ENOENT/-ENODEV: not
	 * there). Real: phc_source_open() with phc_source_ops.
	 */
	int (*open_source)(void *userdata, const char *path, const SourceOps **ret_ops,
			   void **ret_source);
	void (*close_source)(void *userdata, void *source);
	/* CLOCK_MONOTONIC and CLOCK_REALTIME now in ns (rate limits; "updated_usec"). */
	int64_t (*monotonic_ns)(void *userdata);
	int64_t (*realtime_ns)(void *userdata);
	void *userdata;
} TimesyncManagerOps;

/* What the tests (and the status file) see of the manager. */
typedef struct TimesyncManagerState {
	bool monitor;	    /* monitor mode: the real clock is never adjusted */
	const char *reason; /* why not adjusting ("" when adjusting); owned by the manager */
	const char *phc;    /* device path */
	bool have_source;   /* the reference is open */
	bool ready;	    /* READY=1 was sent */
	double offset_ns;   /* real clock minus reference, ns (NaN before the first reading) */
	unsigned n_reopen_attempts; /* failed or pending reopens since the device went away */
	int64_t reopen_delay_ns;    /* current back-off */
	unsigned n_status_writes;   /* timesync.json written */
	const TimesyncLoopStatus *loop;
} TimesyncManagerState;

/**
 * manager_new() - create a manager
 * @s: settings (copied where needed; s may be freed afterwards)
 * @ops: machine access, or NULL for the real clock, PHC and time
 * @ret: the manager
 *
 * Returns 0 or -ENOMEM.
 */
int manager_new(const TimesyncSettings *s, const TimesyncManagerOps *ops, Manager **ret);

/* Closes everything; the kernel frequency is left as it is (the best estimate we have). */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/**
 * manager_start() - find and open the PHC, choose the mode, open the run directory
 * @m: manager
 *
 * Returns 1 when ready to poll, 0 when there is no Hyper-V PTP clock here (logged; the caller
 * sends READY=1 and exits 0), or a negative errno (logged).
 */
int manager_start(Manager *m);

/**
 * manager_poll() - one poll of the loop with everything around it
 * @m: started manager
 *
 * Reopens the PHC if it went away (with back-off); with mode=auto, every 60 s of monotonic time,
 * looks for another time service again and switches to monitoring when one appeared (the kernel
 * frequency is left as it is) or back to disciplining when it is gone (re-acquiring), logging
 * each switch once; steps the loop, logs events, sends READY=1
 * after the first reading (or -ESTALE), STATUS= every 10 s or on a change, and writes
 * timesync.json at most once a second. Returns the delay in ns until the next poll (the poll
 * interval dithered by ±25 %, or the reopen back-off), or a negative errno for a fatal error
 * (-EPERM: may not adjust the clock).
 */
int64_t manager_poll(Manager *m);

/*
 * Runs the event loop (signals by handler and self-pipe, no signalfd; timer as poll timeout;
 * watchdog) until SIGTERM or SIGINT (returns 0) or a fatal error (negative errno).
 */
int manager_run(Manager *m);

/* The current state; pointers stay valid until the next manager call. */
void manager_get_state(const Manager *m, TimesyncManagerState *ret);

/* Fills the timesync.json record from the current state (strings owned by the manager). */
void manager_status_info(const Manager *m, TimesyncStatusInfo *ret);
