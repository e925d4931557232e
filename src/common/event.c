/* SPDX-License-Identifier: MIT */
/*
 * The poll(2) event loop (see event.h for why poll and not epoll).
 *
 * Sources live in one array, in creation order. Safe iteration: while callbacks run
 * (e->dispatching) the array only grows; a freed source is marked dead, never called again,
 * and released after the dispatch phase. Dispatch loops index the array afresh on every
 * step because a callback adding a source may reallocate it.
 *
 * Signals: in signalfd mode (default) Event.signal_fd is a signalfd over the signals of the
 * live signal sources; in handler mode it is the read end of a self-pipe that a sigaction
 * handler writes signal numbers to (one byte each: Linux signal numbers are below 65).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/event.h"
#include "common/notify.h"

typedef enum SourceType {
	SOURCE_IO,
	SOURCE_TIME,
	SOURCE_SIGNAL,
	_SOURCE_TYPE_MAX,
} SourceType;

struct EventSource {
	Event *event;
	SourceType type;
	bool enabled;
	bool dead; /* freed while dispatching: skipped, released after the dispatch phase */
	void *userdata;
	union {
		struct {
			int fd;
			short events;
			short revents; /* pending from this iteration's poll, 0 when dispatched */
			int slot;      /* index into Event.pollfds, -1 when not polled */
			event_io_handler_t cb;
		} io;
		struct {
			uint64_t usec;	    /* CLOCK_MONOTONIC deadline, USEC_INFINITY: disarmed */
			uint64_t fired_run; /* iteration it last fired in: fires at most once per
					       run */
			event_time_handler_t cb;
		} time;
		struct {
			int sig;
			event_signal_handler_t cb;
		} signal;
	};
};

/* pollfds[0] is the wakeup eventfd, pollfds[1] the signalfd or the self-pipe (fd < 0: unused). */
#define SLOT_WAKEUP 0
#define SLOT_SIGNAL 1
#define SLOT_FIRST_IO 2

struct Event {
	EventSource **sources;
	size_t n_sources, n_alloc;
	struct pollfd *pollfds;
	size_t n_pollfds_alloc;
	int wakeup_fd;
	event_wakeup_handler_t wakeup_cb;
	void *wakeup_userdata;
	int signal_fd;	   /* signalfd, or the self-pipe's read end in handler mode */
	int signal_pipe_w; /* handler mode: the self-pipe's write end */
	EventSignalMode signal_mode;
	uint64_t iteration;
	bool dispatching;
	bool have_dead;
	bool exiting;
	int exit_code;
	EventSource *watchdog;
	uint64_t watchdog_usec;
};

/*
 * Handler mode: the self-pipe write end of the one Event in that mode, -1 when none. The one
 * mutable global of the loop, by necessity: a signal handler gets no userdata. sig_atomic_t so
 * the handler reads it whole; it is cleared before the descriptor is closed.
 */
static volatile sig_atomic_t signal_pipe_fd = -1;

static void signal_pipe_handler(int sig)
{
	int saved = errno, fd = signal_pipe_fd;
	uint8_t b = (uint8_t)sig;

	/* EAGAIN (pipe full): thousands are pending already; the loop sees this signal number
	 * only if an earlier byte for it is queued, which is the signalfd's coalescing too. */
	if (fd >= 0 && write(fd, &b, 1) < 0) {
		/* nothing to do in a signal handler */
	}
	errno = saved;
}

uint64_t now_usec(clockid_t clock)
{
	struct timespec ts;

	assert_se(clock_gettime(clock, &ts) == 0);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

int event_new(Event **ret)
{
	Event *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->signal_fd = -EBADF;
	e->signal_pipe_w = -EBADF;
	e->wakeup_fd = -EBADF; /* created by event_set_wakeup_handler() */
	*ret = e;
	return 0;
}

Event *event_free(Event *e)
{
	if (!e)
		return NULL;
	if (e->signal_mode == EVENT_SIGNALS_HANDLER) {
		/* handlers off before the pipe goes, so none writes to a reused descriptor */
		for (size_t i = 0; i < e->n_sources; i++)
			if (e->sources[i]->type == SOURCE_SIGNAL && !e->sources[i]->dead)
				(void)signal(e->sources[i]->signal.sig, SIG_DFL);
		signal_pipe_fd = -1;
		safe_close(e->signal_pipe_w);
	}
	for (size_t i = 0; i < e->n_sources; i++)
		free(e->sources[i]);
	free(e->sources);
	free(e->pollfds);
	safe_close(e->wakeup_fd);
	safe_close(e->signal_fd);
	free(e);
	return NULL;
}

static int source_new(Event *e, SourceType type, void *userdata, EventSource **ret)
{
	EventSource *s;

	if (e->n_sources == e->n_alloc) {
		size_t n = MAX(e->n_alloc * 2, (size_t)8);
		EventSource **a = reallocarray(e->sources, n, sizeof(*a));

		if (!a)
			return -ENOMEM;
		e->sources = a;
		e->n_alloc = n;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->event = e;
	s->type = type;
	s->enabled = true;
	s->userdata = userdata;
	e->sources[e->n_sources++] = s;
	*ret = s;
	return 0;
}

int event_add_io(Event *e, EventSource **ret, int fd, short events, event_io_handler_t cb,
		 void *userdata)
{
	EventSource *s;
	int r;

	if (!e || !cb)
		return -EINVAL;
	r = source_new(e, SOURCE_IO, userdata, &s);
	if (r < 0)
		return r;
	s->io.fd = fd;
	s->io.events = events;
	s->io.slot = -1;
	s->io.cb = cb;
	if (ret)
		*ret = s;
	return 0;
}

int event_source_set_io_fd(EventSource *s, int fd)
{
	if (!s || s->type != SOURCE_IO)
		return -EINVAL;
	s->io.fd = fd;
	s->io.revents = 0; /* readiness of the old descriptor means nothing for the new one */
	return 0;
}

int event_add_time(Event *e, EventSource **ret, uint64_t usec, event_time_handler_t cb,
		   void *userdata)
{
	EventSource *s;
	int r;

	if (!e || !cb)
		return -EINVAL;
	r = source_new(e, SOURCE_TIME, userdata, &s);
	if (r < 0)
		return r;
	s->time.usec = usec;
	s->time.cb = cb;
	if (ret)
		*ret = s;
	return 0;
}

int event_source_set_time(EventSource *s, uint64_t usec)
{
	if (!s || s->type != SOURCE_TIME)
		return -EINVAL;
	s->time.usec = usec;
	return 0;
}

int event_source_set_time_relative(EventSource *s, uint64_t usec)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);

	/* saturate: a huge relative time means "never", not a wrapped-around past deadline */
	return event_source_set_time(s, usec >= USEC_INFINITY - now ? USEC_INFINITY : now + usec);
}

static bool have_signal_source(Event *e, int sig)
{
	for (size_t i = 0; i < e->n_sources; i++)
		if (e->sources[i]->type == SOURCE_SIGNAL && !e->sources[i]->dead &&
		    (sig == 0 || e->sources[i]->signal.sig == sig))
			return true;
	return false;
}

/* Points the signalfd at the signals of all live signal sources. */
static int update_signal_fd(Event *e)
{
	sigset_t ss;
	int fd;

	sigemptyset(&ss);
	for (size_t i = 0; i < e->n_sources; i++)
		if (e->sources[i]->type == SOURCE_SIGNAL && !e->sources[i]->dead)
			sigaddset(&ss, e->sources[i]->signal.sig);
	/* signalfd() creates a new descriptor only for exactly -1 */
	fd = signalfd(e->signal_fd >= 0 ? e->signal_fd : -1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	e->signal_fd = fd;
	return 0;
}

int event_block_signals(const int *sigs, size_t n)
{
	sigset_t ss;
	int r;

	sigemptyset(&ss);
	for (size_t i = 0; i < n; i++)
		if (sigaddset(&ss, sigs[i]) < 0)
			return -EINVAL;
	r = pthread_sigmask(SIG_BLOCK, &ss, NULL);
	return r > 0 ? -r : 0;
}

int event_set_signal_mode(Event *e, EventSignalMode mode)
{
	int p[2];

	if (!e || mode < 0 || mode >= _EVENT_SIGNAL_MODE_MAX)
		return -EINVAL;
	if (mode == e->signal_mode)
		return 0;
	if (have_signal_source(e, 0))
		return -EBUSY;
	switch (mode) {
	case EVENT_SIGNALS_HANDLER:
		if (signal_pipe_fd >= 0)
			return -EBUSY;
		/* non-blocking both ends: the handler must never block, the loop drains */
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
			return negative_errno();
		safe_close(e->signal_fd); /* a signalfd left by freed sources */
		e->signal_fd = p[0];
		e->signal_pipe_w = p[1];
		signal_pipe_fd = p[1];
		break;
	case EVENT_SIGNALS_SIGNALFD:
		signal_pipe_fd = -1;
		e->signal_fd = safe_close(e->signal_fd);
		e->signal_pipe_w = safe_close(e->signal_pipe_w);
		break;
	case _EVENT_SIGNAL_MODE_MAX:
		return -EINVAL;
	}
	e->signal_mode = mode;
	return 0;
}

/* Handler mode: installs the handler for sig and unblocks it in the calling thread. */
static int install_signal_handler(int sig)
{
	struct sigaction sa = { .sa_handler = signal_pipe_handler, .sa_flags = SA_RESTART };
	sigset_t ss;
	int r;

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		return negative_errno();
	sigemptyset(&ss);
	sigaddset(&ss, sig);
	r = pthread_sigmask(SIG_UNBLOCK, &ss, NULL);
	return r > 0 ? -r : 0;
}

int event_add_signal(Event *e, EventSource **ret, int sig, event_signal_handler_t cb,
		     void *userdata)
{
	EventSource *s;
	int r;

	if (!e || !cb || sig <= 0 || sig >= _NSIG || sig == SIGKILL || sig == SIGSTOP)
		return -EINVAL;
	if (e->signal_mode == EVENT_SIGNALS_SIGNALFD) {
		r = event_block_signals(&sig, 1);
		if (r < 0)
			return r;
	}
	r = source_new(e, SOURCE_SIGNAL, userdata, &s);
	if (r < 0)
		return r;
	s->signal.sig = sig;
	s->signal.cb = cb;
	if (e->signal_mode == EVENT_SIGNALS_HANDLER)
		r = install_signal_handler(sig);
	else
		r = update_signal_fd(e);
	if (r < 0) {
		event_source_free(s);
		return r;
	}
	if (ret)
		*ret = s;
	return 0;
}

int event_source_set_enabled(EventSource *s, bool enabled)
{
	if (!s || s->dead)
		return -EINVAL;
	s->enabled = enabled;
	if (s->type == SOURCE_IO)
		s->io.revents = 0;
	return 0;
}

static void source_release(Event *e, EventSource *s)
{
	for (size_t i = 0; i < e->n_sources; i++) {
		if (e->sources[i] != s)
			continue;
		memmove(e->sources + i, e->sources + i + 1,
			(e->n_sources - i - 1) * sizeof(EventSource *));
		e->n_sources--;
		break;
	}
	free(s);
}

EventSource *event_source_free(EventSource *s)
{
	Event *e;

	if (!s || s->dead)
		return NULL;
	e = s->event;
	s->dead = true;
	s->enabled = false;
	if (s->type == SOURCE_SIGNAL && e->signal_mode == EVENT_SIGNALS_HANDLER) {
		/* the last watcher gone: the signal means what it did before (SIGTERM kills) */
		if (!have_signal_source(e, s->signal.sig))
			(void)signal(s->signal.sig, SIG_DFL);
	} else if (s->type == SOURCE_SIGNAL)
		(void)update_signal_fd(e); /* only fails on ENOMEM; an extra signal is dropped */
	if (e->watchdog == s)
		e->watchdog = NULL;
	if (e->dispatching)
		e->have_dead = true;
	else
		source_release(e, s);
	return NULL;
}

int event_set_wakeup_handler(Event *e, event_wakeup_handler_t cb, void *userdata)
{
	if (!e)
		return -EINVAL;
	if (e->wakeup_fd < 0) {
		e->wakeup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (e->wakeup_fd < 0)
			return negative_errno();
	}
	e->wakeup_cb = cb;
	e->wakeup_userdata = userdata;
	return 0;
}

int event_wakeup(Event *e)
{
	const uint64_t one = 1;
	int saved = errno, r = 0;

	if (!e || e->wakeup_fd < 0)
		return -EBADF;
	/* EAGAIN: the counter is saturated, so a wakeup is pending anyway. */
	if (write(e->wakeup_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		r = negative_errno();
	errno = saved;
	return r;
}

static int watchdog_handler(EventSource *s, uint64_t usec, void *userdata)
{
	Event *e = userdata;

	/* A failed ping cannot be helped here; systemd restarts us if pings stop arriving. */
	(void)notify_watchdog();
	return event_source_set_time_relative(s, e->watchdog_usec / 2);
}

int event_set_watchdog(Event *e, bool enabled)
{
	uint64_t usec = 0;
	int r;

	if (enabled) {
		r = notify_watchdog_usec(&usec);
		if (r < 0)
			return r;
	}
	if (usec == 0) {
		e->watchdog = event_source_free(e->watchdog);
		return 0;
	}
	e->watchdog_usec = usec;
	if (!e->watchdog) {
		r = event_add_time(e, &e->watchdog, USEC_INFINITY, watchdog_handler, e);
		if (r < 0)
			return r;
	}
	r = event_source_set_time_relative(e->watchdog, usec / 2);
	return r < 0 ? r : 1;
}

/* Earliest deadline of an enabled, armed timer, or USEC_INFINITY. */
static uint64_t next_deadline(Event *e)
{
	uint64_t t = USEC_INFINITY;

	for (size_t i = 0; i < e->n_sources; i++) {
		EventSource *s = e->sources[i];

		if (s->type == SOURCE_TIME && s->enabled && !s->dead)
			t = MIN(t, s->time.usec);
	}
	return t;
}

static int poll_timeout_ms(Event *e, uint64_t timeout_usec)
{
	uint64_t deadline = next_deadline(e), wait = timeout_usec;

	if (deadline != USEC_INFINITY) {
		uint64_t now = now_usec(CLOCK_MONOTONIC);

		wait = MIN(wait, deadline > now ? deadline - now : 0);
	}
	if (wait == USEC_INFINITY)
		return -1;
	/* round up: waking before the deadline would only spin */
	wait = (wait + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

static int build_pollfds(Event *e, nfds_t *ret_n)
{
	size_t n = SLOT_FIRST_IO + e->n_sources;

	if (n > e->n_pollfds_alloc) {
		struct pollfd *p = reallocarray(e->pollfds, n, sizeof(*p));

		if (!p)
			return -ENOMEM;
		e->pollfds = p;
		e->n_pollfds_alloc = n;
	}
	e->pollfds[SLOT_WAKEUP] = (struct pollfd){ .fd = e->wakeup_fd, .events = POLLIN };
	e->pollfds[SLOT_SIGNAL] = (struct pollfd){ .fd = e->signal_fd, .events = POLLIN };
	n = SLOT_FIRST_IO;
	for (size_t i = 0; i < e->n_sources; i++) {
		EventSource *s = e->sources[i];

		if (s->type != SOURCE_IO)
			continue;
		s->io.revents = 0;
		s->io.slot = -1;
		if (!s->enabled || s->dead || s->io.fd < 0)
			continue;
		s->io.slot = (int)n;
		e->pollfds[n++] = (struct pollfd){ .fd = s->io.fd, .events = s->io.events };
	}
	*ret_n = n;
	return 0;
}

static int dispatch_signal(Event *e, const struct signalfd_siginfo *si, unsigned *n_dispatched)
{
	for (size_t i = 0; i < e->n_sources; i++) {
		EventSource *s = e->sources[i];
		int r;

		if (s->type != SOURCE_SIGNAL || !s->enabled || s->dead ||
		    (uint32_t)s->signal.sig != si->ssi_signo)
			continue;
		(*n_dispatched)++;
		r = s->signal.cb(s, si, s->userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

static int dispatch_signals(Event *e, unsigned *n_dispatched)
{
	struct signalfd_siginfo si;
	uint8_t buf[64];
	ssize_t n;
	int r;

	if (e->signal_mode == EVENT_SIGNALS_SIGNALFD) {
		while (read(e->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			r = dispatch_signal(e, &si, n_dispatched);
			if (r < 0)
				return r;
		}
		return 0;
	}
	while ((n = read(e->signal_fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			si = (struct signalfd_siginfo){ .ssi_signo = buf[i] };
			r = dispatch_signal(e, &si, n_dispatched);
			if (r < 0)
				return r;
		}
	return 0;
}

static int dispatch_io(Event *e, unsigned *n_dispatched)
{
	for (size_t i = 0; i < e->n_sources; i++) {
		EventSource *s = e->sources[i];
		short revents;
		int r;

		if (s->type != SOURCE_IO || !s->enabled || s->dead || s->io.revents == 0)
			continue;
		revents = s->io.revents;
		s->io.revents = 0;
		(*n_dispatched)++;
		r = s->io.cb(s, s->io.fd, revents, s->userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Fires expired timers earliest first; each at most once per iteration (re-arming is safe). */
static int dispatch_timers(Event *e, unsigned *n_dispatched)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);

	for (;;) {
		EventSource *next = NULL;
		uint64_t deadline;
		int r;

		for (size_t i = 0; i < e->n_sources; i++) {
			EventSource *s = e->sources[i];

			if (s->type != SOURCE_TIME || !s->enabled || s->dead ||
			    s->time.usec > now || s->time.fired_run == e->iteration)
				continue;
			if (!next || s->time.usec < next->time.usec)
				next = s;
		}
		if (!next)
			return 0;
		deadline = next->time.usec;
		next->time.usec = USEC_INFINITY;
		next->time.fired_run = e->iteration;
		(*n_dispatched)++;
		r = next->time.cb(next, deadline, next->userdata);
		if (r < 0)
			return r;
	}
}

static int dispatch(Event *e, unsigned *n_dispatched)
{
	uint64_t counter;
	int r;

	if (e->pollfds[SLOT_SIGNAL].revents & POLLIN) {
		r = dispatch_signals(e, n_dispatched);
		if (r < 0)
			return r;
	}
	if (e->pollfds[SLOT_WAKEUP].revents & POLLIN) {
		/* reading resets the counter: coalesced wakeups become one callback */
		if (read(e->wakeup_fd, &counter, sizeof(counter)) > 0 && e->wakeup_cb) {
			(*n_dispatched)++;
			r = e->wakeup_cb(e, e->wakeup_userdata);
			if (r < 0)
				return r;
		}
	}
	r = dispatch_io(e, n_dispatched);
	if (r < 0)
		return r;
	return dispatch_timers(e, n_dispatched);
}

static void release_dead(Event *e)
{
	size_t j = 0;

	for (size_t i = 0; i < e->n_sources; i++) {
		if (e->sources[i]->dead)
			free(e->sources[i]);
		else
			e->sources[j++] = e->sources[i];
	}
	e->n_sources = j;
	e->have_dead = false;
}

int event_run(Event *e, uint64_t timeout_usec)
{
	unsigned n_dispatched = 0;
	nfds_t n;
	int r;

	if (!e)
		return -EINVAL;
	if (e->dispatching)
		return -EBUSY; /* no recursion from callbacks */
	r = build_pollfds(e, &n);
	if (r < 0)
		return r;
	r = poll(e->pollfds, n, poll_timeout_ms(e, timeout_usec));
	if (r < 0 && errno == EINTR && e->signal_mode == EVENT_SIGNALS_HANDLER)
		/* our handler interrupted the wait: collect its byte now, not one wait later */
		r = poll(e->pollfds, n, 0);
	if (r < 0)
		return errno == EINTR ? 0 : negative_errno();
	for (size_t i = 0; i < e->n_sources; i++) {
		EventSource *s = e->sources[i];

		if (s->type == SOURCE_IO && s->io.slot >= 0)
			s->io.revents = e->pollfds[s->io.slot].revents;
	}

	e->iteration++;
	e->dispatching = true;
	r = dispatch(e, &n_dispatched);
	e->dispatching = false;
	if (e->have_dead)
		release_dead(e);
	if (r < 0) {
		e->exiting = true;
		e->exit_code = r;
		return r;
	}
	return n_dispatched > 0;
}

int event_loop(Event *e)
{
	if (!e)
		return -EINVAL;
	while (!e->exiting) {
		int r = event_run(e, USEC_INFINITY);

		if (r < 0)
			return r;
	}
	return e->exit_code;
}

int event_exit(Event *e, int code)
{
	if (!e)
		return -EINVAL;
	e->exiting = true;
	e->exit_code = code;
	return 0;
}
