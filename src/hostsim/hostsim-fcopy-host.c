/* SPDX-License-Identifier: MIT */
/*
 * The host's side of the fcopy IC (see hostsim.h): messages built in the host's wire form
 * (UTF-16LE names), transactions on the fcopy kernel model, waiting for registration,
 * counters and the whole Copy-VMFile sequence. Threads and locking as in hostsim.c: the
 * calling thread is the host and runs the kernel's timer while it waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim-fcopy.h"
#include "hostsim/hostsim-private.h"
#include "hostsim/hostsim-utf16.h"
#include "hostsim/hostsim.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	for (size_t i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (size_t i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

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

/* The host's name field: UTF-16LE, NUL-terminated within W_MAX_PATH units. */
static int put_name(uint8_t *field, const char *s)
{
	size_t units;
	int r;

	r = hostsim_utf16_from_utf8(s, field, HS_FCOPY_W_MAX_PATH - 1, &units);
	if (r == -E2BIG)
		return -ENAMETOOLONG;
	return r;
}

int hostsim_fcopy_start(HostSim *sim, const char *path_utf8, const char *name_utf8, uint32_t flags,
			uint64_t size, uint32_t *ret_status)
{
	uint8_t msg[HS_FCOPY_START_SIZE] = {};
	int r;

	if (!path_utf8 || !name_utf8)
		return -EINVAL;

	put_le32(msg, HS_FCOPY_START_FILE_COPY);
	r = put_name(msg + HS_FCOPY_OFF_FILE_NAME, name_utf8);
	if (r < 0)
		return r;
	r = put_name(msg + HS_FCOPY_OFF_PATH_NAME, path_utf8);
	if (r < 0)
		return r;
	put_le32(msg + HS_FCOPY_OFF_COPY_FLAGS, flags);
	put_le64(msg + HS_FCOPY_OFF_FILE_SIZE, size);
	return fcopy_transact(sim, msg, sizeof(msg), ret_status);
}

int hostsim_fcopy_write(HostSim *sim, uint64_t offset, const void *data, size_t len,
			uint32_t *ret_status)
{
	_cleanup_free_ uint8_t *msg = NULL;

	if (len > HS_FCOPY_DATA_FRAGMENT || (len > 0 && !data))
		return -EINVAL;

	/* 6 KiB: not on the stack of a caller that may be a test thread. */
	msg = calloc(1, HS_FCOPY_DO_SIZE);
	if (!msg)
		return -ENOMEM;
	put_le32(msg, HS_FCOPY_WRITE_TO_FILE);
	put_le64(msg + HS_FCOPY_OFF_OFFSET, offset);
	put_le32(msg + HS_FCOPY_OFF_SIZE, (uint32_t)len);
	if (len > 0)
		memcpy(msg + HS_FCOPY_OFF_DATA, data, len);
	return fcopy_transact(sim, msg, HS_FCOPY_DO_SIZE, ret_status);
}

/* A header-only message (COMPLETE, CANCEL). */
static int fcopy_simple(HostSim *sim, uint32_t op, uint32_t *ret_status)
{
	uint8_t msg[HS_FCOPY_HDR_SIZE] = {};

	put_le32(msg, op);
	return fcopy_transact(sim, msg, sizeof(msg), ret_status);
}

int hostsim_fcopy_complete(HostSim *sim, uint32_t *ret_status)
{
	return fcopy_simple(sim, HS_FCOPY_COMPLETE, ret_status);
}

int hostsim_fcopy_cancel(HostSim *sim, uint32_t *ret_status)
{
	return fcopy_simple(sim, HS_FCOPY_CANCEL, ret_status);
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

int hostsim_fcopy_copy_file(HostSim *sim, const char *local_src, const char *dest_path,
			    const char *dest_name, uint32_t flags, uint32_t *ret_status)
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

	r = hostsim_fcopy_start(sim, dest_path, dest_name, flags, (uint64_t)st.st_size, &status);
	if (r < 0 || status != HV_S_OK)
		goto out;

	for (;;) {
		ssize_t n = read_chunk(fd, buf, HS_FCOPY_DATA_FRAGMENT);

		if (n < 0) {
			r = (int)n;
			/* The host's source failed: it cancels the copy. */
			(void)hostsim_fcopy_cancel(sim, NULL);
			goto out;
		}
		if (n == 0)
			break;
		r = hostsim_fcopy_write(sim, offset, buf, (size_t)n, &status);
		if (r < 0)
			goto out;
		if (status != HV_S_OK) {
			(void)hostsim_fcopy_cancel(sim, NULL);
			goto out;
		}
		offset += (uint64_t)n;
	}
	r = hostsim_fcopy_complete(sim, &status);
out:
	if (r >= 0 && ret_status)
		*ret_status = status;
	return r;
}
