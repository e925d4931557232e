/* SPDX-License-Identifier: MIT */
/*
 * One background thread for host requests that may take seconds (KVP GET_IP_INFO may ask
 * NetworkManager; SET_IP_INFO applies a network configuration; VSS FREEZE runs hooks). The
 * manager hands it one job at a time (the host has at most one transaction outstanding per
 * service), keeps serving signals and the watchdog meanwhile, and sends the reply when the
 * loop's wakeup reports the job done. An idle worker sleeps on a condition variable.
 */
#pragma once

#include <stdbool.h>

#include "common/event.h"
#include "common/macro.h"

typedef struct Worker Worker;

/* A job: runs on the worker thread, returns 0 or a negative errno. */
typedef int (*worker_job_fn)(void *userdata);

/* Starts the thread. Completion is signalled with event_wakeup(e). */
int worker_new(Event *e, Worker **ret);
/* Queues fn(userdata). -EBUSY while a job is queued, running or not yet collected. */
int worker_submit(Worker *w, worker_job_fn fn, void *userdata);
/* On the loop thread: true and *ret_r = the job's result if a job finished since. */
bool worker_collect(Worker *w, int *ret_r);
/* True from submit until collect. */
bool worker_busy(Worker *w);
/* Waits for a running job to end, stops and joins the thread. Accepts NULL. */
Worker *worker_free(Worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Worker *, worker_free);
