/* SPDX-License-Identifier: MIT */
/*
 * FUSE low-level server for /dev/vmbus (see hostsim-fuse.h). The rules it follows are the
 * verified ones of test-harness.md §3: direct_io, seekable, parked reads answered from any
 * thread, EINTR on interrupt, poll notifications, EINVAL for short read buffers.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "hostsim/hostsim-fuse.h"

#define FSNAME "hvguest-sim"
#define MAX_DEVICES 8u
#define MAX_PARKED 16u
/* Device nodes never change: let the kernel cache names and attributes. */
#define ENTRY_TIMEOUT 3600.0

typedef struct FuseDev {
	HsFuse *fuse;
	const char *name;
	fuse_ino_t ino;
	HsTransport *t;

	struct fuse_pollhandle *ph; /* newest poll handle waiting for a notification */
	fuse_req_t parked[MAX_PARKED];
	size_t parked_size[MAX_PARKED];
	size_t n_parked;
	bool delivering; /* d->buf in use: nested deliveries are postponed */
	bool redo;

	unsigned opens, reads, writes, polls, notifies, parked_total, interrupts;

	uint8_t buf[HS_TRANSPORT_MSG_MAX];
} FuseDev;

struct HsFuse {
	struct fuse_session *se;
	pthread_t thread;
	bool thread_started;
	bool mounted;
	char *mountpoint;
	char *ctl_dir;
	dev_t dev; /* of the mount, names the fusectl connection */
	struct timespec start;

	pthread_mutex_t *lock;
	void (*activity)(void *userdata);
	void *userdata;

	FuseDev devs[MAX_DEVICES];
	size_t n_devs;

	pthread_mutex_t done_lock;
	pthread_cond_t done_cond;
	bool loop_done;
};

static FuseDev *dev_by_ino(HsFuse *f, fuse_ino_t ino)
{
	if (ino < FUSE_ROOT_ID + 1 || ino >= FUSE_ROOT_ID + 1 + f->n_devs)
		return NULL;
	return &f->devs[ino - FUSE_ROOT_ID - 1];
}

static void fill_attr(HsFuse *f, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		/* Like the misc device: root only. A regular file, not a character device. */
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
	}
	st->st_atim = st->st_mtim = st->st_ctim = f->start;
}

static void activity(HsFuse *f)
{
	if (f->activity)
		f->activity(f->userdata);
}

static void unpark_at(FuseDev *d, size_t i)
{
	memmove(d->parked + i, d->parked + i + 1, (d->n_parked - i - 1) * sizeof(d->parked[0]));
	memmove(d->parked_size + i, d->parked_size + i + 1,
		(d->n_parked - i - 1) * sizeof(d->parked_size[0]));
	d->n_parked--;
}

/* Hands the queued message to req (or fails it with EINVAL). d->delivering must be set. */
static void read_and_reply(FuseDev *d, fuse_req_t req, size_t size)
{
	ssize_t n = hs_transport_read(d->t, d->buf, MIN(size, sizeof(d->buf)));

	if (n >= 0) {
		d->reads++;
		(void)fuse_reply_buf(req, (const char *)d->buf, (size_t)n);
	} else {
		(void)fuse_reply_err(req, (int)-n);
	}
}

/*
 * A message became readable (or may have): complete the oldest parked read, then wake
 * poll waiters. Re-entrant calls from on-read hooks are folded into the running loop.
 */
static void deliver(FuseDev *d)
{
	if (d->delivering) {
		d->redo = true;
		return;
	}

	d->delivering = true;
	do {
		d->redo = false;
		while (d->n_parked > 0 && hs_transport_readable(d->t)) {
			fuse_req_t req = d->parked[0];
			size_t size = d->parked_size[0];

			unpark_at(d, 0);
			read_and_reply(d, req, size);
		}
		if (d->ph && hs_transport_readable(d->t)) {
			(void)fuse_lowlevel_notify_poll(d->ph);
			fuse_pollhandle_destroy(d->ph);
			d->ph = NULL;
			d->notifies++;
		}
	} while (d->redo);
	d->delivering = false;
}

static void on_queued(void *backend)
{
	deliver(backend);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	HsFuse *f = fuse_req_userdata(req);
	struct fuse_entry_param e = {};

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (size_t i = 0; i < f->n_devs; i++) {
		if (strcmp(f->devs[i].name, name) != 0)
			continue;
		e.ino = f->devs[i].ino;
		e.attr_timeout = ENTRY_TIMEOUT;
		e.entry_timeout = ENTRY_TIMEOUT;
		fill_attr(f, e.ino, &e.attr);
		fuse_reply_entry(req, &e);
		return;
	}
	fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	HsFuse *f = fuse_req_userdata(req);
	struct stat st;

	if (ino != FUSE_ROOT_ID && !dev_by_ino(f, ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(f, ino, &st);
	fuse_reply_attr(req, &st, ENTRY_TIMEOUT);
}

/* O_TRUNC and the like: accept and ignore, as the misc device does. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	op_getattr(req, ino, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	HsFuse *f = fuse_req_userdata(req);
	char buf[4096];
	size_t used = 0;

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}

	/* Entry k (0 ".", 1 "..", 2.. devices) carries offset k + 1. */
	for (off_t k = off; k < (off_t)(2 + f->n_devs); k++) {
		struct stat st = {};
		const char *name;
		size_t n;

		if (k == 0) {
			name = ".";
			st.st_ino = FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		} else if (k == 1) {
			name = "..";
			st.st_ino = FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		} else {
			name = f->devs[k - 2].name;
			st.st_ino = f->devs[k - 2].ino;
			st.st_mode = S_IFREG;
		}
		n = fuse_add_direntry(req, buf + used, MIN(size, sizeof(buf)) - used, name, &st,
				      k + 1);
		if (n > MIN(size, sizeof(buf)) - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

/* Reads up to size - 1 bytes of a small /proc file, NUL-terminated; false on failure. */
static bool read_proc(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/*
 * Process (thread group) and session of the thread tid (FUSE names the calling thread, in
 * our PID namespace). /proc/<tid>/stat is "tid (comm) state ppid pgrp session ...", where
 * comm may hold ')' and blanks; /proc/<tid>/status has "Tgid:". 0 when unknown (the opener
 * lives in a PID namespace we cannot see into, or is gone).
 */
static void identify_opener(pid_t tid, pid_t *ret_pid, pid_t *ret_sid)
{
	char path[64], buf[2048];
	const char *p;
	int v;

	*ret_pid = *ret_sid = 0;
	if (tid <= 0)
		return;

	if (snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid) < (int)sizeof(path) &&
	    read_proc(path, buf, sizeof(buf)) && (p = strrchr(buf, ')')) &&
	    sscanf(p + 1, " %*c %*d %*d %d", &v) == 1 && v > 0)
		*ret_sid = (pid_t)v;
	if (snprintf(path, sizeof(path), "/proc/%d/status", (int)tid) < (int)sizeof(path) &&
	    read_proc(path, buf, sizeof(buf)) && (p = strstr(buf, "\nTgid:")) &&
	    sscanf(p + 6, "%d", &v) == 1 && v > 0)
		*ret_pid = (pid_t)v;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	HsFuse *f = fuse_req_userdata(req);
	FuseDev *d = dev_by_ino(f, ino);
	pid_t pid, sid;
	int r;

	if (!d) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
		return;
	}

	/* Read before taking the lock: the opener is blocked in open() meanwhile. */
	identify_opener(fuse_req_ctx(req)->pid, &pid, &sid);

	pthread_mutex_lock(f->lock);
	r = hs_transport_open(d->t);
	if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		d->t->opener_pid = pid;
		d->t->opener_sid = sid;
		d->opens++;
		/* One read()/write() syscall = one FUSE request = one message; no page cache. */
		fi->direct_io = 1;
		fi->keep_cache = 0;
		/* Seekable on purpose: pread/pwrite at offset 0 must work (old fcopy daemon). */
		fi->nonseekable = 0;
		fi->noflush = 1;
		if (fuse_reply_open(req, fi) == -ENOENT)
			/* The open() was interrupted: the kernel never saw it, undo. */
			hs_transport_release(d->t);
	}
	pthread_mutex_unlock(f->lock);
	activity(f);
}

static void on_interrupt(fuse_req_t req, void *data)
{
	FuseDev *d = data;
	HsFuse *f = d->fuse;

	/* May run synchronously inside fuse_req_interrupt_func() with the lock held. */
	pthread_mutex_lock(f->lock);
	for (size_t i = 0; i < d->n_parked; i++) {
		if (d->parked[i] != req)
			continue;
		unpark_at(d, i);
		d->interrupts++;
		(void)fuse_reply_err(req, EINTR);
		break;
	}
	pthread_mutex_unlock(f->lock);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	HsFuse *f = fuse_req_userdata(req);
	FuseDev *d = dev_by_ino(f, ino);

	if (!d) {
		fuse_reply_err(req, EISDIR);
		return;
	}

	pthread_mutex_lock(f->lock);
	if (!hs_transport_readable(d->t)) {
		/* The kernel blocks (even with O_NONBLOCK): park until a message is queued. */
		if (d->n_parked >= MAX_PARKED) {
			fuse_reply_err(req, EAGAIN);
		} else {
			d->parked[d->n_parked] = req;
			d->parked_size[d->n_parked] = size;
			d->n_parked++;
			d->parked_total++;
			/* Registered under the lock so no other thread can answer req first. */
			fuse_req_interrupt_func(req, on_interrupt, d);
		}
		pthread_mutex_unlock(f->lock);
		return;
	}

	d->delivering = true;
	read_and_reply(d, req, size);
	d->delivering = false;
	if (d->redo)
		deliver(d);
	pthread_mutex_unlock(f->lock);
	activity(f);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	HsFuse *f = fuse_req_userdata(req);
	FuseDev *d = dev_by_ino(f, ino);
	ssize_t n;

	if (!d) {
		fuse_reply_err(req, EISDIR);
		return;
	}

	pthread_mutex_lock(f->lock);
	d->writes++;
	n = hs_transport_write(d->t, buf, size);
	pthread_mutex_unlock(f->lock);

	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
	activity(f);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	HsFuse *f = fuse_req_userdata(req);
	FuseDev *d = dev_by_ino(f, ino);
	unsigned revents = 0;

	if (!d) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_err(req, EISDIR);
		return;
	}

	pthread_mutex_lock(f->lock);
	d->polls++;
	if (ph) {
		/* Keep only the newest handle; the kernel re-polls after every wakeup. */
		if (d->ph)
			fuse_pollhandle_destroy(d->ph);
		d->ph = ph;
	}
	/* Never POLLOUT, like the real driver: writes are always "accepted". */
	if (hs_transport_readable(d->t))
		revents = POLLIN | POLLRDNORM;
	fuse_reply_poll(req, revents);
	pthread_mutex_unlock(f->lock);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	HsFuse *f = fuse_req_userdata(req);
	FuseDev *d = dev_by_ino(f, ino);

	if (d) {
		pthread_mutex_lock(f->lock);
		hs_transport_release(d->t);
		if (d->ph) {
			fuse_pollhandle_destroy(d->ph);
			d->ph = NULL;
		}
		/* No reader can be left once the last descriptor is gone; be safe anyway. */
		while (d->n_parked > 0) {
			fuse_req_t r = d->parked[0];

			unpark_at(d, 0);
			(void)fuse_reply_err(r, EBADF);
		}
		pthread_mutex_unlock(f->lock);
	}
	fuse_reply_err(req, 0);
	activity(f);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.poll = op_poll,
};

static void *loop_thread(void *userdata)
{
	HsFuse *f = userdata;

	(void)fuse_session_loop(f->se);

	pthread_mutex_lock(&f->done_lock);
	f->loop_done = true;
	pthread_cond_broadcast(&f->done_cond);
	pthread_mutex_unlock(&f->done_lock);
	return NULL;
}

static bool wait_loop_done(HsFuse *f, unsigned timeout_ms)
{
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&f->done_lock);
	while (!f->loop_done)
		if (pthread_cond_timedwait(&f->done_cond, &f->done_lock, &ts) == ETIMEDOUT)
			break;
	done = f->loop_done;
	pthread_mutex_unlock(&f->done_lock);
	return done;
}

/* Aborts our connection through fusectl, for when a leftover opener keeps it alive. */
static void abort_connection(HsFuse *f)
{
	char dir[PATH_MAX], path[PATH_MAX];
	bool mounted = false;
	int fd;

	if (!f->ctl_dir)
		return;

	if (snprintf(dir, sizeof(dir), "%s/fusectl", f->ctl_dir) >= (int)sizeof(dir))
		return;
	if (access("/sys/fs/fuse/connections", F_OK) == 0 &&
	    snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", minor(f->dev)) > 0 &&
	    access(path, F_OK) == 0) {
		/* Already visible. */
	} else {
		(void)mkdir(dir, 0700);
		if (mount("fusectl", dir, "fusectl", 0, NULL) < 0) {
			log_debug("Failed to mount fusectl on '%s': %m", dir);
			return;
		}
		mounted = true;
		if (snprintf(path, sizeof(path), "%s/%u/abort", dir, minor(f->dev)) >=
		    (int)sizeof(path)) {
			(void)umount2(dir, MNT_DETACH);
			return;
		}
	}

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	} else {
		log_debug("Failed to open '%s': %m", path);
	}
	if (mounted)
		(void)umount2(dir, MNT_DETACH);
}

HsFuse *hs_fuse_stop(HsFuse *f)
{
	if (!f)
		return NULL;

	if (f->se) {
		if (f->thread_started) {
			fuse_session_exit(f->se);
			if (f->mounted) {
				fuse_session_unmount(f->se);
				f->mounted = false;
			}
			if (!wait_loop_done(f, 2000)) {
				abort_connection(f);
				if (!wait_loop_done(f, 5000))
					/* Never seen; better to leak than to hang forever. */
					log_debug("FUSE loop thread did not stop");
			}
			if (f->loop_done)
				pthread_join(f->thread, NULL);
			else
				pthread_detach(f->thread);
		} else if (f->mounted) {
			fuse_session_unmount(f->se);
		}

		pthread_mutex_lock(f->lock);
		for (size_t i = 0; i < f->n_devs; i++) {
			FuseDev *d = &f->devs[i];

			while (d->n_parked > 0) {
				fuse_req_t r = d->parked[0];

				unpark_at(d, 0);
				(void)fuse_reply_err(r, EBADF);
			}
			if (d->ph) {
				fuse_pollhandle_destroy(d->ph);
				d->ph = NULL;
			}
			hs_transport_set_backend(d->t, NULL, NULL);
		}
		pthread_mutex_unlock(f->lock);

		if (f->loop_done || !f->thread_started)
			fuse_session_destroy(f->se);
	}

	pthread_mutex_destroy(&f->done_lock);
	pthread_cond_destroy(&f->done_cond);
	free(f->mountpoint);
	free(f->ctl_dir);
	free(f);
	return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(HsFuse *, hs_fuse_stop);

int hs_fuse_start(const char *mountpoint, const HsFuseDevice *devices, size_t n_devices,
		  pthread_mutex_t *lock, void (*activity_cb)(void *userdata), void *userdata,
		  const char *ctl_dir, HsFuse **ret)
{
	_cleanup_(hs_fuse_stopp) HsFuse *f = NULL;
	char *argv[] = { (char *)"hv-hostsim", (char *)"-o",
			 (char *)"fsname=" FSNAME ",subtype=" FSNAME
				 ",allow_other,default_permissions",
			 NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	pthread_condattr_t ca;
	sigset_t all, old;
	struct stat st;
	int r;

	if (n_devices == 0 || n_devices > MAX_DEVICES)
		return -EINVAL;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->lock = lock;
	f->activity = activity_cb;
	f->userdata = userdata;
	clock_gettime(CLOCK_REALTIME, &f->start);
	pthread_mutex_init(&f->done_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->done_cond, &ca);
	pthread_condattr_destroy(&ca);

	f->mountpoint = strdup(mountpoint);
	if (!f->mountpoint)
		return -ENOMEM;
	if (ctl_dir) {
		f->ctl_dir = strdup(ctl_dir);
		if (!f->ctl_dir)
			return -ENOMEM;
	}

	f->n_devs = n_devices;
	for (size_t i = 0; i < n_devices; i++) {
		FuseDev *d = &f->devs[i];

		d->fuse = f;
		d->name = devices[i].name;
		d->ino = FUSE_ROOT_ID + 1 + i;
		d->t = devices[i].transport;
	}

	f->se = fuse_session_new(&args, &ops, sizeof(ops), f);
	fuse_opt_free_args(&args);
	if (!f->se)
		return -EIO;

	if (fuse_session_mount(f->se, mountpoint) != 0)
		return -EIO;
	f->mounted = true;

	pthread_mutex_lock(lock);
	for (size_t i = 0; i < n_devices; i++)
		hs_transport_set_backend(f->devs[i].t, on_queued, &f->devs[i]);
	pthread_mutex_unlock(lock);

	/* Signals belong to the caller's threads, never to the loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&f->thread, NULL, loop_thread, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return -r;
	f->thread_started = true;

	/* Only now: a stat() before the loop runs would wait forever for FUSE_INIT. */
	if (stat(mountpoint, &st) < 0)
		return negative_errno();
	f->dev = st.st_dev;

	*ret = TAKE_PTR(f);
	return 0;
}

void hs_fuse_get_stats(HsFuse *f, HsFuseStats *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < f->n_devs; i++) {
		const FuseDev *d = &f->devs[i];

		ret->opens += d->opens;
		ret->reads += d->reads;
		ret->writes += d->writes;
		ret->polls += d->polls;
		ret->notifies += d->notifies;
		ret->parked += d->parked_total;
		ret->interrupts += d->interrupts;
	}
}
