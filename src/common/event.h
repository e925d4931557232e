/* SPDX-License-Identifier: MIT */
/*
 * A small poll(2) event loop shared by every hvguest daemon.
 *
 * poll, not epoll, on purpose: clock and network simulators used to evaluate time daemons
 * intercept poll/select/timerfd. Timers are kept in the loop itself (the poll timeout is the
 * distance to the earliest enabled timer), so an idle loop with no timers sleeps forever.
 * Signals arrive through one signalfd by default, or through a sigaction handler and a
 * self-pipe (event_set_signal_mode()) for daemons that must not use signalfd. Other threads
 * wake the loop with event_wakeup(), which writes an eventfd that is part of every poll once
 * event_set_wakeup_handler() created it.
 *
 * Ownership: the Event owns its sources; event_source_free() removes one early, and
 * event_free() frees those that remain (so free sources before the Event, never after).
 * Callbacks may add, free or re-arm any source, including their own. A callback returning a
 * negative errno ends the loop with that value.
 *
 * Dispatch order within one iteration: signals, the wakeup handler, io sources (in creation
 * order), then expired timers (earliest deadline first).
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
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

typedef enum EventSignalMode {
	EVENT_SIGNALS_SIGNALFD, /* default: signals blocked and read from a signalfd */
	EVENT_SIGNALS_HANDLER,	/* sigaction handler writing to a self-pipe (no signalfd) */
	_EVENT_SIGNAL_MODE_MAX,
} EventSignalMode;

/* CLOCK_MONOTONIC now, in µs. */
uint64_t now_usec(clockid_t clock);

int event_new(Event **ret);
Event *event_free(Event *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(Event *, event_free);

/*
 * Watches fd for events (POLLIN, ...); the callback gets the revents poll reported. ret may be
 * NULL (for every event_add_*): the source then lives as long as the Event.
 */
int event_add_io(Event *e, EventSource **ret, int fd, short events, event_io_handler_t cb,
		 void *userdata);
/* Changes the fd of an io source (for example after a device reopen); -EBADF: not polled. */
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

/*
 * Blocks sigs[0..n) in the calling thread (pthread_sigmask). Threads inherit the mask of the
 * thread that creates them, so a daemon with worker threads must call this for every signal
 * it will add with event_add_signal() BEFORE creating any thread; otherwise the kernel may
 * deliver the signal to a worker with the default disposition (death for SIGTERM) instead of
 * queueing it for the signalfd. Returns 0 or -EINVAL.
 */
int event_block_signals(const int *sigs, size_t n);

/*
 * Signalfd mode: blocks sig in the calling thread (see event_block_signals() for threads) and
 * delivers it through the loop's signalfd. Handler mode: unblocks sig in the calling thread and
 * installs a sigaction handler for it (the default disposition comes back when its last source
 * is freed). Several sources may watch one signal; all are called.
 */
int event_add_signal(Event *e, EventSource **ret, int sig, event_signal_handler_t cb,
		     void *userdata);

/*
 * Chooses how signals reach the loop; call before the first event_add_signal() (-EBUSY
 * otherwise). EVENT_SIGNALS_HANDLER is for single-threaded daemons that run under LD_PRELOAD
 * clock simulators, which do not know signalfd: a plain sigaction handler writes the signal
 * number to a self-pipe (the only process-wide state, so one Event at a time may use it:
 * -EBUSY for a second one) that the poll watches. Handlers still get a signalfd_siginfo, with
 * only ssi_signo filled. Returns 0, -EINVAL, -EBUSY or the errno of pipe2().
 */
int event_set_signal_mode(Event *e, EventSignalMode mode);

/* Enables or disables any kind of source; a disabled source is not polled or fired. */
int event_source_set_enabled(EventSource *s, bool enabled);
EventSource *event_source_free(EventSource *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(EventSource *, event_source_free);

/*
 * Cross-thread wake-up: event_wakeup() may be called from any thread (async-signal-safe);
 * the loop then calls cb once on its own thread, however many wakeups were coalesced. The
 * eventfd is created by the first event_set_wakeup_handler() (its errno is returned), so
 * loops without one hold one descriptor less; event_wakeup() before that returns -EBADF.
 */
int event_set_wakeup_handler(Event *e, event_wakeup_handler_t cb, void *userdata);
int event_wakeup(Event *e);

/*
 * If systemd enabled the watchdog, pings WATCHDOG=1 from the loop at half the interval.
 * Returns 1 if enabled, 0 if systemd did not ask for it.
 */
int event_set_watchdog(Event *e, bool enabled);

/*
 * Runs one iteration, waiting at most timeout_usec (USEC_INFINITY: no limit). Returns 1 if any
 * callback ran, 0 if none did (timeout, or poll interrupted by a signal), or a negative errno
 * (a callback's error, which also ends event_loop()). Not callable from a callback (-EBUSY).
 */
int event_run(Event *e, uint64_t timeout_usec);
/* Runs until event_exit(); returns the exit code or a callback's negative errno. */
int event_loop(Event *e);
/* Makes event_loop() return code after the current iteration. */
int event_exit(Event *e, int code);
