/* SPDX-License-Identifier: MIT */
/*
 * The host's side of the fcopy IC (see hostsim.h): messages built in the host's wire form
 * (UTF-16LE names), transactions on the fcopy kernel model, waiting for registration,
 * counters and the whole Copy-VMFile sequence, on the pre-6.10 char device or on the uio
 * channel (hostsim-uio.c; messages built once for both, framed in IC headers there). Threads
 * and locking as in hostsim.c: the calling thread is the host and runs the kernel's timer
 * while it waits (char device) or waits for the uio host thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hv-status.h"
#include "common/icmsg.h"
#include "common/macro.h"
#include "hostsim/hostsim-fcopy.h"
#include "hostsim/hostsim-internal.h"
#include "hostsim/hostsim-private.h"
#include "hostsim/hostsim-uio.h"
#include "hostsim/hostsim.h"

const char *hostsim_fcopy_device(HostSim *sim)
{
	return sim->fcopy_device;
}

int hostsim_fcopy_wait_ready(HostSim *sim, uint64_t timeout_usec)
{
	uint64_t deadline = hs_now_usec() + timeout_usec;
	int r = 0;

	pthread_mutex_lock(&sim->lock);
	__atomic_add_fetch(&sim->ready_waiters, 1, __ATOMIC_RELEASE);
	while (!hs_fcopy_is_idle(&sim->fcopy)) {
		struct timespec ts = hs_to_timespec(deadline);

		if (hs_now_usec() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		(void)pthread_cond_timedwait(&sim->cond, &sim->lock, &ts);
	}
	__atomic_sub_fetch(&sim->ready_waiters, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sim->lock);
	return r;
}

void hostsim_fcopy_stats(HostSim *sim, HostSimFcopyStats *ret)
{
	pthread_mutex_lock(&sim->lock);
	*ret = (HostSimFcopyStats){
		.opens = sim->fcopy_transport.opens,
		.ebusy = sim->fcopy_transport.ebusy,
		.releases = sim->fcopy_transport.releases,
		.registrations = sim->fcopy.registrations,
		.einval_writes = sim->fcopy_transport.einval_writes,
		.timeouts = sim->fcopy.timeouts + sim->fcopy.withdrawn,
		.not_ready = sim->fcopy.not_ready,
		.resets = sim->fcopy.resets_failed,
		.starts = sim->fcopy.delivered[HS_FCOPY_START_FILE_COPY],
		.writes = sim->fcopy.delivered[HS_FCOPY_WRITE_TO_FILE],
		.completes = sim->fcopy.delivered[HS_FCOPY_COMPLETE],
		.cancels = sim->fcopy.delivered[HS_FCOPY_CANCEL],
		.ready = sim->fcopy.state >= HS_FCOPY_READY,
	};
	pthread_mutex_unlock(&sim->lock);
}

/* One host transaction with the host's message msg (len bytes from the fcopy header on). */
static int fcopy_transact(HostSim *sim, const void *msg, size_t len, uint32_t *ret_status)
{
	uint64_t submitted;
	int r;

	if (!sim)
		return -EINVAL;

	pthread_mutex_lock(&sim->fcopy_host_lock);
	pthread_mutex_lock(&sim->lock);

	submitted = hs_now_usec();
	r = hs_fcopy_host_submit(&sim->fcopy, msg, len);
	if (r < 0)
		goto out;

	/*
	 * Once handed to the daemon the kernel's own timer decides, run here by the waiting
	 * host; a request left in the ring (a transaction still running) is given up after the
	 * ordinary timeout.
	 */
	while (sim->fcopy.phase != HS_FCOPY_HOST_DONE) {
		uint64_t deadline = sim->fcopy.deadline != 0
					    ? sim->fcopy.deadline
					    : submitted + sim->opts.fcopy_timeout_usec;
		struct timespec ts;

		if (hs_now_usec() >= deadline) {
			if (sim->fcopy.deadline != 0)
				hs_fcopy_tick(&sim->fcopy);
			else
				(void)hs_fcopy_host_withdraw(&sim->fcopy);
			continue;
		}
		ts = hs_to_timespec(deadline);
		(void)pthread_cond_timedwait(&sim->cond, &sim->lock, &ts);
	}

	if (ret_status)
		*ret_status = sim->fcopy.host_status;
	hs_fcopy_host_finish(&sim->fcopy);
out:
	pthread_mutex_unlock(&sim->lock);
	pthread_mutex_unlock(&sim->fcopy_host_lock);
	/* "Idle" may have become true now. */
	if (__atomic_load_n(&sim->ready_waiters, __ATOMIC_ACQUIRE) > 0)
		pthread_cond_broadcast(&sim->cond);
	return r;
}

/* The sim's uio channel, or NULL before hostsim_fcopy_uio_open(). */
static HsUio *get_uio(HostSim *sim)
{
	HsUio *u;

	pthread_mutex_lock(&sim->lock);
	u = sim->fcopy_uio;
	pthread_mutex_unlock(&sim->lock);
	return u;
}

/* One host message (from the fcopy header on) on transport t. */
static int send_msg(HostSim *sim, HostSimFcopyTransport t, const void *msg, size_t len,
		    uint32_t *ret_status)
{
	HsUio *u;

	if (!sim)
		return -EINVAL;
	switch (t) {
	case HOSTSIM_FCOPY_CHARDEV:
		return fcopy_transact(sim, msg, len, ret_status);
	case HOSTSIM_FCOPY_UIO:
		u = get_uio(sim);
		if (!u)
			return -ENODEV;
		return hs_uio_transact(u, ICMSGTYPE_FCOPY, msg, len, ret_status);
	}
	return -EINVAL;
}

int hostsim_fcopy_via_start(HostSim *sim, HostSimFcopyTransport t, const char *path_utf8,
			    const char *name_utf8, uint32_t flags, uint64_t size,
			    uint32_t *ret_status)
{
	uint8_t msg[HS_FCOPY_START_SIZE];
	int r;

	r = hs_fcopy_build_start(msg, path_utf8, name_utf8, flags, size);
	if (r < 0)
		return r;
	return send_msg(sim, t, msg, sizeof(msg), ret_status);
}

int hostsim_fcopy_via_write(HostSim *sim, HostSimFcopyTransport t, uint64_t offset,
			    const void *data, size_t len, uint32_t *ret_status)
{
	/* 6 KiB: not on the stack of a caller that may be a test thread. */
	_cleanup_free_ uint8_t *msg = malloc(HS_FCOPY_DO_SIZE);
	int r;

	if (!msg)
		return -ENOMEM;
	r = hs_fcopy_build_write(msg, offset, data, len);
	if (r < 0)
		return r;
	return send_msg(sim, t, msg, HS_FCOPY_DO_SIZE, ret_status);
}

int hostsim_fcopy_via_complete(HostSim *sim, HostSimFcopyTransport t, uint32_t *ret_status)
{
	uint8_t msg[HS_FCOPY_HDR_SIZE];

	hs_fcopy_build_simple(msg, HS_FCOPY_COMPLETE);
	return send_msg(sim, t, msg, sizeof(msg), ret_status);
}

int hostsim_fcopy_via_cancel(HostSim *sim, HostSimFcopyTransport t, uint32_t *ret_status)
{
	uint8_t msg[HS_FCOPY_HDR_SIZE];

	hs_fcopy_build_simple(msg, HS_FCOPY_CANCEL);
	return send_msg(sim, t, msg, sizeof(msg), ret_status);
}

int hostsim_fcopy_start(HostSim *sim, const char *path_utf8, const char *name_utf8, uint32_t flags,
			uint64_t size, uint32_t *ret_status)
{
	return hostsim_fcopy_via_start(sim, HOSTSIM_FCOPY_CHARDEV, path_utf8, name_utf8, flags,
				       size, ret_status);
}

int hostsim_fcopy_write(HostSim *sim, uint64_t offset, const void *data, size_t len,
			uint32_t *ret_status)
{
	return hostsim_fcopy_via_write(sim, HOSTSIM_FCOPY_CHARDEV, offset, data, len, ret_status);
}

int hostsim_fcopy_complete(HostSim *sim, uint32_t *ret_status)
{
	return hostsim_fcopy_via_complete(sim, HOSTSIM_FCOPY_CHARDEV, ret_status);
}

int hostsim_fcopy_cancel(HostSim *sim, uint32_t *ret_status)
{
	return hostsim_fcopy_via_cancel(sim, HOSTSIM_FCOPY_CHARDEV, ret_status);
}

int hostsim_fcopy_uio_start(HostSim *sim, const char *path_utf8, const char *name_utf8,
			    uint32_t flags, uint64_t size, uint32_t *ret_status)
{
	return hostsim_fcopy_via_start(sim, HOSTSIM_FCOPY_UIO, path_utf8, name_utf8, flags, size,
				       ret_status);
}

int hostsim_fcopy_uio_write(HostSim *sim, uint64_t offset, const void *data, size_t len,
			    uint32_t *ret_status)
{
	return hostsim_fcopy_via_write(sim, HOSTSIM_FCOPY_UIO, offset, data, len, ret_status);
}

int hostsim_fcopy_uio_complete(HostSim *sim, uint32_t *ret_status)
{
	return hostsim_fcopy_via_complete(sim, HOSTSIM_FCOPY_UIO, ret_status);
}

int hostsim_fcopy_uio_cancel(HostSim *sim, uint32_t *ret_status)
{
	return hostsim_fcopy_via_cancel(sim, HOSTSIM_FCOPY_UIO, ret_status);
}

/* Reads up to size bytes (fewer only at end of file). */
static ssize_t read_chunk(int fd, uint8_t *buf, size_t size)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int hostsim_fcopy_via_copy_file(HostSim *sim, HostSimFcopyTransport t, const char *local_src,
				const char *dest_path, const char *dest_name, uint32_t flags,
				uint32_t *ret_status)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ uint8_t *buf = NULL;
	uint32_t status = HV_S_OK;
	uint64_t offset = 0;
	struct stat st;
	int r;

	if (!sim || !local_src || !dest_path || !dest_name)
		return -EINVAL;

	fd = open(local_src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	buf = malloc(HS_FCOPY_DATA_FRAGMENT);
	if (!buf)
		return -ENOMEM;

	r = hostsim_fcopy_via_start(sim, t, dest_path, dest_name, flags, (uint64_t)st.st_size,
				    &status);
	if (r < 0 || status != HV_S_OK)
		goto out;

	for (;;) {
		ssize_t n = read_chunk(fd, buf, HS_FCOPY_DATA_FRAGMENT);

		if (n < 0) {
			r = (int)n;
			/* The host's source failed: it cancels the copy. */
			(void)hostsim_fcopy_via_cancel(sim, t, NULL);
			goto out;
		}
		if (n == 0)
			break;
		r = hostsim_fcopy_via_write(sim, t, offset, buf, (size_t)n, &status);
		if (r < 0)
			goto out;
		if (status != HV_S_OK) {
			(void)hostsim_fcopy_via_cancel(sim, t, NULL);
			goto out;
		}
		offset += (uint64_t)n;
	}
	r = hostsim_fcopy_via_complete(sim, t, &status);
out:
	if (r >= 0 && ret_status)
		*ret_status = status;
	return r;
}

int hostsim_fcopy_copy_file(HostSim *sim, const char *local_src, const char *dest_path,
			    const char *dest_name, uint32_t flags, uint32_t *ret_status)
{
	return hostsim_fcopy_via_copy_file(sim, HOSTSIM_FCOPY_CHARDEV, local_src, dest_path,
					   dest_name, flags, ret_status);
}

int hostsim_fcopy_uio_copy_file(HostSim *sim, const char *local_src, const char *dest_path,
				const char *dest_name, uint32_t flags, uint32_t *ret_status)
{
	return hostsim_fcopy_via_copy_file(sim, HOSTSIM_FCOPY_UIO, local_src, dest_path, dest_name,
					   flags, ret_status);
}

int hostsim_fcopy_uio_open(HostSim *sim, size_t ring_size, uint64_t timeout_usec)
{
	HsUio *u = NULL;
	int r;

	if (!sim)
		return -EINVAL;
	if (get_uio(sim))
		return -EEXIST;
	r = hs_uio_new(ring_size, timeout_usec, &u);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sim->lock);
	if (sim->fcopy_uio) {
		r = -EEXIST;
	} else {
		sim->fcopy_uio = u;
		u = NULL;
	}
	pthread_mutex_unlock(&sim->lock);
	hs_uio_free(u);
	return r;
}

int hostsim_fcopy_uio_fds(HostSim *sim, int *ret_ring_fd, int *ret_irq_fd)
{
	HsUio *u = sim ? get_uio(sim) : NULL;

	if (!u)
		return -ENODEV;
	hs_uio_guest_fds(u, ret_ring_fd, ret_irq_fd);
	return 0;
}

size_t hostsim_inherited_fds(HostSim *sim, int *fds, size_t max)
{
	HsUio *u = get_uio(sim);
	int ring, irq;

	if (!u || max < 2)
		return 0;
	hs_uio_guest_fds(u, &ring, &irq);
	fds[0] = ring;
	fds[1] = irq;
	return 2;
}

int hostsim_fcopy_uio_wait_ready(HostSim *sim, uint64_t timeout_usec)
{
	HsUio *u = sim ? get_uio(sim) : NULL;

	if (!u)
		return -ENODEV;
	return hs_uio_wait_negotiated(u, timeout_usec);
}

int hostsim_fcopy_uio_kill_channel(HostSim *sim)
{
	HsUio *u = sim ? get_uio(sim) : NULL;

	if (!u)
		return -ENODEV;
	hs_uio_kill(u);
	return 0;
}

int hostsim_fcopy_uio_stats(HostSim *sim, HostSimFcopyUioStats *ret)
{
	HsUio *u = sim ? get_uio(sim) : NULL;
	HsUioStats s;

	*ret = (HostSimFcopyUioStats){};
	if (!u)
		return -ENODEV;
	hs_uio_stats(u, &s);
	*ret = (HostSimFcopyUioStats){
		.interrupts = s.interrupts,
		.signals = s.signals,
		.masks = s.masks,
		.bad_writes = s.bad_writes,
		.packets_to_guest = s.packets_to_guest,
		.packets_from_guest = s.packets_from_guest,
		.bad_packets = s.bad_packets,
		.late_replies = s.late_replies,
		.trans_id_mismatch = s.trans_id_mismatch,
		.transactions = s.transactions,
		.timeouts = s.timeouts,
		.not_ready = s.not_ready,
		.negotiated = s.negotiated,
		.negotiation_failed = s.negotiation_failed,
		.killed = s.killed,
	};
	return 0;
}

int hostsim_fcopy_transport_from_string(const char *s, HostSimFcopyTransport *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "chardev") == 0)
		*ret = HOSTSIM_FCOPY_CHARDEV;
	else if (strcmp(s, "uio") == 0)
		*ret = HOSTSIM_FCOPY_UIO;
	else
		return -EINVAL;
	return 0;
}

const char *hostsim_fcopy_transport_to_string(HostSimFcopyTransport t)
{
	switch (t) {
	case HOSTSIM_FCOPY_CHARDEV:
		return "chardev";
	case HOSTSIM_FCOPY_UIO:
		return "uio";
	}
	return "?";
}

int hostsim_fcopy_via_wait_ready(HostSim *sim, HostSimFcopyTransport t, uint64_t timeout_usec)
{
	switch (t) {
	case HOSTSIM_FCOPY_CHARDEV:
		return hostsim_fcopy_wait_ready(sim, timeout_usec);
	case HOSTSIM_FCOPY_UIO:
		return hostsim_fcopy_uio_wait_ready(sim, timeout_usec);
	}
	return -EINVAL;
}
