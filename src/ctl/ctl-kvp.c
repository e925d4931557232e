/* SPDX-License-Identifier: MIT */
/*
 * hvctl kvp list/get/set/delete/watch: argument meaning, messages and exit codes on top of
 * ctl-pool (file access) and ctl-json (output).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/event.h"
#include "common/fileio.h"
#include "common/log.h"
#include "ctl/ctl-json.h"
#include "ctl/ctl-kvp.h"
#include "ctl/ctl-pool.h"

/* Keys longer than this are not padded in list output (cloud-init's keys reach ~120). */
#define LIST_MAX_PAD 64u
/* Retry delay when watch finds the pool locked. */
#define WATCH_RETRY_USEC (100u * 1000u)

/* A key from the command line or a file, safe to put in a message (control chars shown). */
static char *printable(const char *s)
{
	char *e = NULL;

	if (ctl_text_escape(s, &e, NULL) < 0)
		return NULL;
	return e;
}

static int open_state_dir(const CtlOptions *o)
{
	int fd = open_dir(o->state_dir);

	if (fd < 0)
		return log_error_errno(fd, "Cannot open state directory '%s': %m", o->state_dir);
	return fd;
}

/* Every failure to read or write a pool file is exit status 3. */
static CtlExit report_pool_error(const CtlOptions *o, KvpPoolId pool, int r)
{
	const char *name = ctl_pool_file_name(pool);

	switch (r) {
	case -ETIMEDOUT:
		log_error("Pool file '%s/%s' stayed locked by another program for %llu ms; try "
			  "again, or wait longer with --lock-timeout.",
			  o->state_dir, name,
			  (unsigned long long)(o->lock_timeout_usec / USEC_PER_MSEC));
		break;
	case -EBADMSG:
		log_error("Pool file '%s/%s' ends in a partial record (a writer was interrupted); "
			  "refusing to append after it, which would misalign every later record.",
			  o->state_dir, name);
		break;
	case -ENOSPC:
		log_error("Pool file '%s/%s' already holds %u records, the most hv_kvp_daemon "
			  "reads; delete some first.",
			  o->state_dir, name, KVP_POOL_MAX_RECORDS);
		break;
	case -EBADFD:
		log_error("'%s/%s' is not a regular file.", o->state_dir, name);
		break;
	default:
		log_error_errno(r, "Cannot access pool file '%s/%s': %m", o->state_dir, name);
		break;
	}
	return CTL_EXIT_IO;
}

/* One warning line when reading the file had to cut, skip or ignore something. */
static void warn_damage(const CtlOptions *o, KvpPoolId pool, const KvpParseStats *st)
{
	if (st->n_capped == 0 && st->n_skipped == 0 && st->n_dropped == 0 &&
	    st->trailing_bytes == 0)
		return;
	log_warning("Warning: pool file '%s/%s': %zu record(s) with an unterminated key or value "
		    "cut, %zu unreadable record(s) skipped, %zu record(s) beyond %u ignored, %zu "
		    "byte(s) of a partial record ignored.",
		    o->state_dir, ctl_pool_file_name(pool), st->n_capped, st->n_skipped,
		    st->n_dropped, KVP_POOL_MAX_RECORDS, st->trailing_bytes);
}

static void note_auto_pool(void)
{
	log_info("Pool 2 (auto) has no file content: hv_kvp_daemon computes its values (host "
		 "name, OS, addresses...) when the host asks for them.");
}

static CtlExit refuse_pool(KvpPoolId pool)
{
	switch (pool) {
	case KVP_POOL_EXTERNAL:
	case KVP_POOL_AUTO_EXTERNAL:
		log_error("Pool %d (%s) is written by the Hyper-V host through hv_kvp_daemon; "
			  "hvctl writes only pool 1 (guest).",
			  (int)pool, kvp_pool_to_string(pool));
		break;
	case KVP_POOL_AUTO:
		log_error("Pool 2 (auto) is computed by hv_kvp_daemon; hvctl writes only pool 1 "
			  "(guest).");
		break;
	case KVP_POOL_AUTO_INTERNAL:
		log_error("Pool 4 (auto-internal) is reserved; hvctl writes only pool 1 (guest).");
		break;
	case KVP_POOL_GUEST:
	case _KVP_POOL_MAX:
	case _KVP_POOL_INVALID:
		log_error("Pool %d cannot be written.", (int)pool);
		break;
	}
	return CTL_EXIT_NOT_FOUND;
}

CtlExit ctl_kvp_list(const CtlOptions *o, char *const *args)
{
	_cleanup_close_ int dir_fd = -EBADF;
	CtlPoolView v = { 0 };
	int r;

	if (o->pool == KVP_POOL_AUTO)
		note_auto_pool();
	else {
		dir_fd = open_state_dir(o);
		if (dir_fd < 0)
			return CTL_EXIT_IO;
		r = ctl_pool_read(dir_fd, o->pool, o->lock_timeout_usec, &v);
		if (r < 0)
			return report_pool_error(o, o->pool, r);
		warn_damage(o, o->pool, &v.stats);
		if (!v.exists)
			log_info("Pool file '%s/%s' does not exist: the pool is empty.",
				 o->state_dir, ctl_pool_file_name(o->pool));
	}

	if (o->json)
		r = ctl_json_print_list(stdout, (unsigned)o->pool, v.records, v.n);
	else
		r = ctl_text_print_records(stdout, v.records, v.n, LIST_MAX_PAD);
	ctl_pool_view_done(&v);
	if (r >= 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r < 0) {
		log_error_errno(r, "Cannot write the output: %m");
		return CTL_EXIT_IO;
	}
	return CTL_EXIT_OK;
}

CtlExit ctl_kvp_get(const CtlOptions *o, char *const *args)
{
	_cleanup_close_ int dir_fd = -EBADF;
	_cleanup_free_ char *shown = printable(args[0]);
	CtlPoolView v = { 0 };
	const char *value;
	int r;

	if (o->pool == KVP_POOL_AUTO) {
		note_auto_pool();
		log_error("Key '%s' cannot be read from pool 2 here.", strna(shown));
		return CTL_EXIT_NOT_FOUND;
	}
	dir_fd = open_state_dir(o);
	if (dir_fd < 0)
		return CTL_EXIT_IO;
	r = ctl_pool_read(dir_fd, o->pool, o->lock_timeout_usec, &v);
	if (r < 0)
		return report_pool_error(o, o->pool, r);
	warn_damage(o, o->pool, &v.stats);

	value = ctl_pool_view_get(&v, args[0]);
	if (!value) {
		ctl_pool_view_done(&v);
		log_error("Key '%s' not found in pool %d.", strna(shown), (int)o->pool);
		return CTL_EXIT_NOT_FOUND;
	}
	if (o->json)
		r = ctl_json_print_get(stdout, (unsigned)o->pool, args[0], value);
	else {
		_cleanup_free_ char *text = NULL;

		r = ctl_text_escape(value, &text, NULL);
		if (r >= 0 && fprintf(stdout, "%s\n", text) < 0)
			r = -EIO;
	}
	ctl_pool_view_done(&v);
	if (r >= 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r < 0) {
		log_error_errno(r, "Cannot write the output: %m");
		return CTL_EXIT_IO;
	}
	return CTL_EXIT_OK;
}

/* Explains why a key or value is refused, with its measured size. */
static CtlExit refuse_field(const char *what, int r, const CtlFieldSize *sz, size_t max_units,
			    size_t max_bytes)
{
	switch (r) {
	case -EINVAL:
		log_error("The %s is empty.", what);
		break;
	case -EILSEQ:
		log_error("The %s is not valid UTF-8.", what);
		break;
	default:
		log_error("The %s is too long: %zu UTF-16 units (%zu bytes of UTF-8); the host "
			  "takes at most %zu units and a pool record at most %zu bytes. Nothing "
			  "was written.",
			  what, sz->units, sz->bytes, max_units, max_bytes);
		break;
	}
	return CTL_EXIT_NOT_FOUND;
}

static const char *set_result_to_string(CtlSetResult r)
{
	switch (r) {
	case CTL_SET_ADDED:
		return "appended";
	case CTL_SET_REPLACED:
		return "replaced in place";
	case CTL_SET_UNCHANGED:
		return "unchanged";
	case _CTL_SET_RESULT_MAX:
	case _CTL_SET_RESULT_INVALID:
		break;
	}
	return "?";
}

CtlExit ctl_kvp_set(const CtlOptions *o, char *const *args)
{
	_cleanup_close_ int dir_fd = -EBADF;
	CtlFieldSize sz;
	CtlSetResult result;
	int r;

	/* Every check before the state directory is even opened: a refusal writes nothing. */
	if (o->pool != KVP_POOL_GUEST)
		return refuse_pool(o->pool);
	r = ctl_pool_check_key(args[0], &sz);
	if (r < 0)
		return refuse_field("key", r, &sz, KVP_HOST_KEY_UNITS, KVP_KEY_SIZE - 1);
	r = ctl_pool_check_value(args[1], &sz);
	if (r < 0)
		return refuse_field("value", r, &sz, KVP_HOST_VALUE_UNITS, KVP_VALUE_SIZE - 1);

	dir_fd = open_state_dir(o);
	if (dir_fd < 0)
		return CTL_EXIT_IO;
	r = ctl_pool_set(dir_fd, o->pool, args[0], args[1], o->lock_timeout_usec, &result);
	if (r < 0)
		return report_pool_error(o, o->pool, r);
	log_debug("Key %s in pool %d.", set_result_to_string(result), (int)o->pool);
	return CTL_EXIT_OK;
}

CtlExit ctl_kvp_delete(const CtlOptions *o, char *const *args)
{
	_cleanup_close_ int dir_fd = -EBADF;
	_cleanup_free_ char *shown = printable(args[0]);
	size_t removed = 0;
	int r;

	if (o->pool != KVP_POOL_GUEST)
		return refuse_pool(o->pool);
	if (args[0][0] == '\0') {
		log_error("The key is empty.");
		return CTL_EXIT_NOT_FOUND;
	}
	dir_fd = open_state_dir(o);
	if (dir_fd < 0)
		return CTL_EXIT_IO;
	r = ctl_pool_delete(dir_fd, o->pool, args[0], o->lock_timeout_usec, &removed);
	if (r == -ENOENT) {
		log_error("Key '%s' not found in pool %d; nothing deleted.", strna(shown),
			  (int)o->pool);
		return CTL_EXIT_NOT_FOUND;
	}
	if (r < 0)
		return report_pool_error(o, o->pool, r);
	log_debug("Deleted %zu record(s).", removed);
	return CTL_EXIT_OK;
}

typedef struct Watch {
	const CtlOptions *o;
	Event *event;
	EventSource *retry;
	int dir_fd;
	int inotify_fd;
	CtlPoolView view; /* what was last reported */
	KvpParseStats warned;
} Watch;

static int watch_print_change(CtlChange c, const char *key, const char *value, void *userdata)
{
	Watch *w = userdata;

	if (w->o->json)
		return ctl_json_print_change(stdout, (unsigned)w->o->pool, c, key, value);
	return ctl_text_print_change(stdout, c, key, value);
}

/* Re-reads the pool and prints what changed since the last read. */
static int watch_refresh(Watch *w)
{
	CtlPoolView v = { 0 };
	int r;

	/*
	 * Short attempts so that signals stay responsive; a lock held longer only delays the
	 * report (the retry timer tries again), it does not end the watch.
	 */
	r = ctl_pool_read(w->dir_fd, w->o->pool, MIN(w->o->lock_timeout_usec, WATCH_RETRY_USEC),
			  &v);
	if (r == -ETIMEDOUT) {
		log_debug("Pool file locked, retrying.");
		return event_source_set_time_relative(w->retry, WATCH_RETRY_USEC);
	}
	if (r < 0) {
		report_pool_error(w->o, w->o->pool, r);
		return r;
	}
	if (memcmp(&v.stats, &w->warned, sizeof(v.stats)) != 0) {
		warn_damage(w->o, w->o->pool, &v.stats);
		w->warned = v.stats;
	}
	r = ctl_pool_diff(w->view.records, w->view.n, v.records, v.n, watch_print_change, w);
	ctl_pool_view_done(&w->view);
	w->view = v;
	if (r >= 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r < 0)
		return log_error_errno(r, "Cannot write the output: %m");
	return 0;
}

static int on_retry(EventSource *s, uint64_t usec, void *userdata)
{
	Watch *w = userdata;

	assert_se(w);

	return watch_refresh(w);
}

static int on_inotify(EventSource *s, int fd, short revents, void *userdata)
{
	/* Room for many events; each is a struct inotify_event plus its name. */
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	Watch *w = userdata;
	const char *name;
	bool relevant = false;

	assert_se(w);
	name = ctl_pool_file_name(w->o->pool);

	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));

		if (k < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			return log_error_errno(errno, "Cannot read inotify events: %m");
		}
		for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)k;) {
			const struct inotify_event *ev = (const struct inotify_event *)(buf + off);

			off += sizeof(struct inotify_event) + ev->len;
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)) {
				log_error("State directory '%s' went away.", w->o->state_dir);
				return -ENOENT;
			}
			/* Lost events: re-read to be sure. */
			if (ev->mask & IN_Q_OVERFLOW)
				relevant = true;
			else if (ev->len > 0 && strcmp(ev->name, name) == 0)
				relevant = true;
		}
	}
	return relevant ? watch_refresh(w) : 0;
}

static int on_signal(EventSource *s, const struct signalfd_siginfo *si, void *userdata)
{
	Watch *w = userdata;

	assert_se(w);

	return event_exit(w->event, 0);
}

static int watch_setup(Watch *w)
{
	/* The pool file's directory, so creation, replacement and removal are seen too. */
	const uint32_t mask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_DELETE |
			      IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
	int r;

	r = event_new(&w->event);
	if (r < 0)
		return log_error_errno(r, "Cannot create the event loop: %m");
	r = event_add_signal(w->event, NULL, SIGINT, on_signal, w);
	if (r >= 0)
		r = event_add_signal(w->event, NULL, SIGTERM, on_signal, w);
	if (r >= 0)
		r = event_add_time(w->event, &w->retry, USEC_INFINITY, on_retry, w);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the event loop: %m");

	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->inotify_fd < 0)
		return log_error_errno(errno, "Cannot create an inotify instance: %m");
	if (inotify_add_watch(w->inotify_fd, w->o->state_dir, mask) < 0)
		return log_error_errno(errno, "Cannot watch '%s': %m", w->o->state_dir);
	r = event_add_io(w->event, NULL, w->inotify_fd, POLLIN, on_inotify, w);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the event loop: %m");
	return 0;
}

static void watch_done(Watch *w)
{
	w->event = event_free(w->event);
	w->inotify_fd = safe_close(w->inotify_fd);
	w->dir_fd = safe_close(w->dir_fd);
	ctl_pool_view_done(&w->view);
}

CtlExit ctl_kvp_watch(const CtlOptions *o, char *const *args)
{
	Watch w = { .o = o, .dir_fd = -EBADF, .inotify_fd = -EBADF };
	int r;

	if (o->pool == KVP_POOL_AUTO) {
		note_auto_pool();
		log_error("Nothing to watch in pool 2.");
		return CTL_EXIT_NOT_FOUND;
	}
	w.dir_fd = open_state_dir(o);
	if (w.dir_fd < 0)
		return CTL_EXIT_IO;

	/* Watch first, then read: a change between the two is reported, not lost. */
	r = watch_setup(&w);
	if (r >= 0) {
		r = ctl_pool_read(w.dir_fd, o->pool, o->lock_timeout_usec, &w.view);
		if (r < 0)
			report_pool_error(o, o->pool, r);
	}
	if (r >= 0) {
		warn_damage(o, o->pool, &w.view.stats);
		w.warned = w.view.stats;
		log_info("Watching pool %d in '%s' (%zu record(s)); interrupt to stop.",
			 (int)o->pool, o->state_dir, w.view.n);
		r = event_loop(w.event);
	}
	watch_done(&w);
	return r < 0 ? CTL_EXIT_IO : CTL_EXIT_OK;
}
