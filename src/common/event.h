/* SPDX-License-Identifier: MIT */
/*
 * A small poll(2) event loop shared by every hvguest daemon.
 *
 * poll, not epoll, on purpose: clock and network simulators used to evaluate time daemons
 * intercept poll/select/timerfd. Timers are kept in the loop itself (the poll timeout is the
 * distance to the earliest enabled timer), so an idle loop with no timers sleeps forever.
 * Signals arrive through one signalfd. Other threads wake the loop with event_wakeup(),
 * which writes an eventfd that is part of every poll.
 *
 * Ownership: the Event owns its sources; event_source_free() removes one early. Callbacks may
 * add, free or re-arm any source, including their own. A callback returning a negative errno
 * ends the loop with that value.
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <time.h>

#include "common/macro.h"

typedef struct Event Event;
typedef struct EventSource EventSource;

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

typedef int (*event_io_handler_t)(EventSource *s, int fd, short revents, void *userdata);
typedef int (*event_time_handler_t)(EventSource *s, uint64_t usec, void *userdata);
typedef int (*event_signal_handler_t)(EventSource *s, const struct signalfd_siginfo *si,
				      void *userdata);
typedef int (*event_wakeup_handler_t)(Event *e, void *userdata);

/* CLOCK_MONOTONIC now, in µs. */
uint64_t now_usec(clockid_t clock);

int event_new(Event **ret);
Event *event_free(Event *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(Event *, event_free);

/* Watches fd for events (POLLIN, ...); the callback gets the revents poll reported. */
int event_add_io(Event *e, EventSource **ret, int fd, short events, event_io_handler_t cb,
		 void *userdata);
/* Changes the fd or events of an io source (for example after a device reopen). */
int event_source_set_io_fd(EventSource *s, int fd);

/*
 * One-shot timer at an absolute CLOCK_MONOTONIC time in µs; USEC_INFINITY leaves it disarmed.
 * The timer disarms itself before its callback runs; re-arm with event_source_set_time().
 */
int event_add_time(Event *e, EventSource **ret, uint64_t usec, event_time_handler_t cb,
		   void *userdata);
int event_source_set_time(EventSource *s, uint64_t usec);
/* Convenience: arm relative to now. */
int event_source_set_time_relative(EventSource *s, uint64_t usec);

/* Blocks sig for the whole process and delivers it through the loop's signalfd. */
int event_add_signal(Event *e, EventSource **ret, int sig, event_signal_handler_t cb,
		     void *userdata);

/* Enables or disables any kind of source; a disabled source is not polled or fired. */
int event_source_set_enabled(EventSource *s, bool enabled);
EventSource *event_source_free(EventSource *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(EventSource *, event_source_free);

/*
 * Cross-thread wake-up: event_wakeup() may be called from any thread (async-signal-safe);
 * the loop then calls cb once on its own thread, however many wakeups were coalesced.
 */
int event_set_wakeup_handler(Event *e, event_wakeup_handler_t cb, void *userdata);
int event_wakeup(Event *e);

/*
 * If systemd enabled the watchdog, pings WATCHDOG=1 from the loop at half the interval.
 * Returns 1 if enabled, 0 if systemd did not ask for it.
 */
int event_set_watchdog(Event *e, bool enabled);

/* Runs one iteration, waiting at most timeout_usec (USEC_INFINITY: no limit). */
int event_run(Event *e, uint64_t timeout_usec);
/* Runs until event_exit(); returns the exit code or a callback's negative errno. */
int event_loop(Event *e);
int event_exit(Event *e, int code);
