/* SPDX-License-Identifier: MIT */
/*
 * The host's side of the VSS IC (see hostsim.h): transactions on the VSS kernel model,
 * waiting for registration, counters, the hibernation fake THAW, and the safety gate that
 * keeps FREEZE and THAW away from any daemon that can see filesystems other than the test's
 * own (hostsim-vss-gate.h). Threads and locking as in hostsim.c: the calling thread is the
 * host and runs the kernel's timer while it waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "hostsim/hostsim-private.h"
#include "hostsim/hostsim-vss-gate.h"
#include "hostsim/hostsim-vss.h"
#include "hostsim/hostsim.h"

#define MOUNTINFO_MAX (16u * 1024 * 1024)

const char *hostsim_vss_device(HostSim *sim)
{
	return sim->vss_device;
}

int hostsim_vss_wait_registered(HostSim *sim, unsigned min_registrations, uint64_t timeout_usec)
{
	uint64_t deadline = hs_now_usec() + timeout_usec;
	int r = 0;

	pthread_mutex_lock(&sim->lock);
	__atomic_add_fetch(&sim->ready_waiters, 1, __ATOMIC_RELEASE);
	while (!hs_vss_is_idle(&sim->vss) || sim->vss.registrations < min_registrations) {
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

int hostsim_vss_wait_ready(HostSim *sim, uint64_t timeout_usec)
{
	return hostsim_vss_wait_registered(sim, 0, timeout_usec);
}

void hostsim_vss_stats(HostSim *sim, HostSimVssStats *ret)
{
	pthread_mutex_lock(&sim->lock);
	*ret = (HostSimVssStats){
		.opens = sim->vss_transport.opens,
		.ebusy = sim->vss_transport.ebusy,
		.releases = sim->vss_transport.releases,
		.registrations = sim->vss.registrations,
		.einval_writes = sim->vss_transport.einval_writes,
		.timeouts = sim->vss.timeouts + sim->vss.withdrawn,
		.ready = sim->vss.state >= HS_VSS_READY,
	};
	pthread_mutex_unlock(&sim->lock);
}

const char *hostsim_vss_state(HostSim *sim)
{
	const char *s;

	pthread_mutex_lock(&sim->lock);
	s = hs_vss_state_to_string(sim->vss.state);
	pthread_mutex_unlock(&sim->lock);
	return s;
}

static HostSimVssEnd vss_end_to_public(HsVssHostEnd e)
{
	switch (e) {
	case HS_VSS_END_REPLY:
		return HOSTSIM_VSS_END_REPLY;
	case HS_VSS_END_KERNEL:
		return HOSTSIM_VSS_END_KERNEL;
	case HS_VSS_END_NOT_READY:
		return HOSTSIM_VSS_END_NOT_READY;
	case HS_VSS_END_TIMEOUT:
		return HOSTSIM_VSS_END_TIMEOUT;
	case HS_VSS_END_RESET:
		return HOSTSIM_VSS_END_RESET;
	case HS_VSS_END_SENDFAIL:
		return HOSTSIM_VSS_END_SENDFAIL;
	case HS_VSS_END_SUSPENDED:
		return HOSTSIM_VSS_END_SUSPENDED;
	case HS_VSS_END_WITHDRAWN:
		return HOSTSIM_VSS_END_WITHDRAWN;
	}
	return HOSTSIM_VSS_END_REPLY;
}

int hostsim_vss_allow_freeze(HostSim *sim, dev_t device)
{
	int r = 0;

	if (!sim || major(device) == 0)
		return -EINVAL;

	pthread_mutex_lock(&sim->lock);
	for (size_t i = 0; i < sim->n_vss_allowed; i++)
		if (sim->vss_allowed[i] == device)
			goto out;
	if (sim->n_vss_allowed >= HOSTSIM_VSS_ALLOW_MAX)
		r = -ENOSPC;
	else
		sim->vss_allowed[sim->n_vss_allowed++] = device;
out:
	pthread_mutex_unlock(&sim->lock);
	return r;
}

/* Resolves a mount source inside the daemon's root (its /dev), for btrfs-style mounts. */
static int daemon_source_rdev(void *userdata, const char *source, dev_t *ret)
{
	const pid_t *pid = userdata;
	char path[PATH_MAX];
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "/proc/%d/root%s", (int)*pid, source);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0)
		return negative_errno();
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	*ret = st.st_rdev;
	return 0;
}

/*
 * The safety gate (hostsim-vss-gate.h) for a FREEZE or THAW that could reach the daemon
 * holding hv_vss: its own mount table may show no freezable filesystem but the devices
 * allowed with hostsim_vss_allow_freeze(). Called with the lock held, so that the holder
 * cannot change before the request is queued. -EPERM (logged) when refused.
 */
static int vss_gate(HostSim *sim, uint8_t op)
{
	_cleanup_free_ char *mountinfo = NULL;
	const char *name = op == HS_VSS_OP_FREEZE ? "FREEZE" : "THAW";
	char path[64], reason[PATH_MAX + 128] = "";
	pid_t pid = sim->vss_transport.opener_pid;
	int r;

	if (op != HS_VSS_OP_FREEZE && op != HS_VSS_OP_THAW)
		return 0;
	/* Nobody holds the device: the kernel fails the request, no daemon can see it. */
	if (!sim->vss_transport.open)
		return 0;

	if (pid <= 0) {
		log_error("Refusing to send %s: cannot tell which process holds %s.", name,
			  sim->vss_device);
		return -EPERM;
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	r = read_full_file_at(AT_FDCWD, path, MOUNTINFO_MAX, &mountinfo, NULL);
	if (r < 0) {
		log_error_errno(r, "Refusing to send %s: cannot read '%s': %m", name, path);
		return -EPERM;
	}
	r = hs_vss_gate_check(mountinfo, sim->vss_allowed, sim->n_vss_allowed, daemon_source_rdev,
			      &pid, reason, sizeof(reason));
	if (r < 0) {
		log_error("Refusing to send %s to the daemon (pid %d): %s%s.", name, (int)pid,
			  r == -EPERM ? "" : "unreadable mount table", reason);
		return -EPERM;
	}
	return 0;
}

int hostsim_vss_request(HostSim *sim, uint8_t op, uint32_t *ret_status, uint32_t *ret_flags)
{
	uint64_t submitted;
	int r;

	if (!sim)
		return -EINVAL;

	pthread_mutex_lock(&sim->vss_host_lock);
	pthread_mutex_lock(&sim->lock);

	submitted = hs_now_usec();
	/* Only once the previous transaction is over (-EBUSY then): the gate reads /proc. */
	if (sim->vss.phase != HS_VSS_HOST_IDLE) {
		r = -EBUSY;
		goto out;
	}
	r = vss_gate(sim, op);
	if (r < 0)
		goto out;
	r = hs_vss_host_submit(&sim->vss, op);
	if (r < 0)
		goto out;

	/*
	 * Once handed to the daemon the kernel's own timer decides, run here by the waiting
	 * host; a request left in the ring (a transaction still running) is given up after the
	 * ordinary timeout.
	 */
	while (sim->vss.phase != HS_VSS_HOST_DONE) {
		uint64_t deadline = sim->vss.deadline != 0 ? sim->vss.deadline
							   : submitted + sim->opts.vss_timeout_usec;
		struct timespec ts;

		if (hs_now_usec() >= deadline) {
			if (sim->vss.deadline != 0)
				hs_vss_tick(&sim->vss);
			else
				(void)hs_vss_host_withdraw(&sim->vss);
			continue;
		}
		ts = hs_to_timespec(deadline);
		(void)pthread_cond_timedwait(&sim->cond, &sim->lock, &ts);
	}

	sim->vss_result = (HostSimVssResult){
		.op = op,
		.end = vss_end_to_public(sim->vss.end),
		.status = sim->vss.host_status,
		.host_flags = sim->vss.host_flags,
		.reply_flags = sim->vss.have_reply ? sim->vss.reply_flags : 0,
		.usec = hs_now_usec() - submitted,
	};
	sim->have_vss_result = true;
	hs_vss_host_finish(&sim->vss);

	if (sim->vss_result.end == HOSTSIM_VSS_END_SUSPENDED) {
		r = -ECONNABORTED;
		goto out;
	}
	if (ret_status)
		*ret_status = sim->vss_result.status;
	if (ret_flags)
		*ret_flags = sim->vss_result.reply_flags;
out:
	pthread_mutex_unlock(&sim->lock);
	pthread_mutex_unlock(&sim->vss_host_lock);
	/* "Idle" may have become true now. */
	if (__atomic_load_n(&sim->ready_waiters, __ATOMIC_ACQUIRE) > 0)
		pthread_cond_broadcast(&sim->cond);
	return r;
}

int hostsim_vss_fake_thaw(HostSim *sim)
{
	int r;

	pthread_mutex_lock(&sim->lock);
	r = vss_gate(sim, HS_VSS_OP_THAW);
	if (r >= 0)
		r = hs_vss_fake_thaw(&sim->vss);
	pthread_mutex_unlock(&sim->lock);
	/* A host thread may be waiting for the transaction this cancelled. */
	pthread_cond_broadcast(&sim->cond);
	return r;
}

int hostsim_vss_last_result(HostSim *sim, HostSimVssResult *ret)
{
	int r = -ENODATA;

	pthread_mutex_lock(&sim->lock);
	if (sim->have_vss_result) {
		*ret = sim->vss_result;
		r = 0;
	}
	pthread_mutex_unlock(&sim->lock);
	return r;
}
