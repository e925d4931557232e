/* SPDX-License-Identifier: MIT */
/*
 * One background thread for the host requests that may take seconds (GET_IP_INFO may ask
 * NetworkManager or run a site's helper script; SET_IP_INFO applies a network
 * configuration). The manager hands it one job at a time (the host has at most one KVP
 * transaction outstanding), keeps serving signals and the watchdog meanwhile, and sends the
 * reply when the loop's wakeup reports the job done. An idle worker sleeps on a condition
 * variable.
 */
#pragma once

#include <stdbool.h>

#include "common/event.h"
#include "common/macro.h"

typedef struct KvpWorker KvpWorker;

/* A job: runs on the worker thread, returns 0 or a negative errno. */
typedef int (*kvp_job_fn)(void *userdata);

/* Starts the thread. Completion is signalled with event_wakeup(e). */
int kvp_worker_new(Event *e, KvpWorker **ret);
/* Queues fn(userdata). -EBUSY while a job is queued, running or not yet collected. */
int kvp_worker_submit(KvpWorker *w, kvp_job_fn fn, void *userdata);
/* On the loop thread: true and *ret_r = the job's result if a job finished since. */
bool kvp_worker_collect(KvpWorker *w, int *ret_r);
/* True from submit until collect. */
bool kvp_worker_busy(KvpWorker *w);
/* Waits for a running job to end, stops and joins the thread. Accepts NULL. */
KvpWorker *kvp_worker_free(KvpWorker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpWorker *, kvp_worker_free);
