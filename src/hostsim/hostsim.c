/* SPDX-License-Identifier: MIT */
/*
 * HostSim: ties the environment, the FUSE device server, the kernel models and the host
 * together (see hostsim.h).
 *
 * Threads: the caller's threads act as the host (one transaction at a time, serialised by
 * host_lock) and run the kernel's timeout themselves while they wait for a reply; the FUSE
 * loop thread plays the daemon-facing side of the kernel; a small thread records syslog
 * datagrams. All model state is guarded by one recursive mutex (see hostsim-fuse.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/hv-status.h"
#include "common/log.h"
#include "common/macro.h"
#include "hostsim/hostsim-env.h"
#include "hostsim/hostsim-fcopy.h"
#include "hostsim/hostsim-fuse.h"
#include "hostsim/hostsim-internal.h"
#include "hostsim/hostsim-kvp-host.h"
#include "hostsim/hostsim-kvp.h"
#include "hostsim/hostsim-private.h"
#include "hostsim/hostsim-vss.h"
#include "hostsim/hostsim.h"

#define DEFAULT_HOSTNAME "hvguest-vm"
#define DEFAULT_DOMAIN "example.test"
#define DEFAULT_KVP_TIMEOUT_USEC (30 * UINT64_C(1000000)) /* HV_UTIL_TIMEOUT */
#define VMBUS_DIR "/dev/vmbus"
#define SYSLOG_SOCKET "/dev/log"

uint64_t hs_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct timespec hs_to_timespec(uint64_t usec)
{
	return (struct timespec){ .tv_sec = (time_t)(usec / 1000000u),
				  .tv_nsec = (long)(usec % 1000000u) * 1000L };
}

static uint64_t model_now(void *userdata)
{
	return hs_now_usec();
}

/*
 * Runs with the lock held. Waking the waiters right here would make them block on the lock
 * at once (two more context switches per transaction), so only note it; the FUSE handler
 * broadcasts after unlocking (fuse_activity), and host-thread paths check their own state.
 */
static void model_changed(void *userdata)
{
	HostSim *sim = userdata;

	__atomic_store_n(&sim->wake_pending, true, __ATOMIC_RELEASE);
}

static const HsKvpModelOps kvp_model_ops = {
	.now_usec = model_now,
	.changed = model_changed,
};

static const HsVssModelOps vss_model_ops = {
	.now_usec = model_now,
	.changed = model_changed,
};

static const HsFcopyModelOps fcopy_model_ops = {
	.now_usec = model_now,
	.changed = model_changed,
};

/*
 * After a FUSE open/read/write/release, without the lock: wake the host if the model
 * changed, and "wait ready" callers, who also care about queue changes. Broadcasting after
 * the state change was made under the lock cannot lose a wakeup: waiters re-check the state
 * under the lock before sleeping.
 */
static void fuse_activity(void *userdata)
{
	HostSim *sim = userdata;

	if (__atomic_exchange_n(&sim->wake_pending, false, __ATOMIC_ACQ_REL) ||
	    __atomic_load_n(&sim->ready_waiters, __ATOMIC_ACQUIRE) > 0)
		pthread_cond_broadcast(&sim->cond);
}

void hostsim_track_daemon(HostSim *sim, HostSimDaemon *d)
{
	HostSimDaemon **a;

	pthread_mutex_lock(&sim->daemons_lock);
	a = realloc(sim->daemons, (sim->n_daemons + 1) * sizeof(*a));
	if (a) {
		sim->daemons = a;
		sim->daemons[sim->n_daemons++] = d;
	}
	pthread_mutex_unlock(&sim->daemons_lock);
}

void hostsim_untrack_daemon(HostSim *sim, HostSimDaemon *d)
{
	pthread_mutex_lock(&sim->daemons_lock);
	for (size_t i = 0; i < sim->n_daemons; i++) {
		if (sim->daemons[i] != d)
			continue;
		memmove(sim->daemons + i, sim->daemons + i + 1,
			(sim->n_daemons - i - 1) * sizeof(sim->daemons[0]));
		sim->n_daemons--;
		break;
	}
	pthread_mutex_unlock(&sim->daemons_lock);
}

static void *syslog_thread(void *userdata)
{
	HostSim *sim = userdata;
	char buf[8192 + 1];

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = sim->log_sock, .events = POLLIN },
			{ .fd = sim->log_stop, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = recv(sim->log_sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
			n--;
		buf[n++] = '\n';
		(void)!write(sim->log_fd, buf, (size_t)n);
	}
	return NULL;
}

static int syslog_start(HostSim *sim)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = SYSLOG_SOCKET };
	sigset_t all, old;
	int r;

	sim->log_fd = open(sim->syslog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (sim->log_fd < 0)
		return negative_errno();
	sim->log_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sim->log_sock < 0)
		return negative_errno();
	if (bind(sim->log_sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	(void)chmod(SYSLOG_SOCKET, 0666);
	sim->log_stop = eventfd(0, EFD_CLOEXEC);
	if (sim->log_stop < 0)
		return negative_errno();

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&sim->log_thread, NULL, syslog_thread, sim);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return -r;
	sim->log_thread_started = true;
	return 0;
}

static void syslog_stop(HostSim *sim)
{
	if (sim->log_thread_started) {
		uint64_t one = 1;

		(void)!write(sim->log_stop, &one, sizeof(one));
		pthread_join(sim->log_thread, NULL);
		sim->log_thread_started = false;
	}
	sim->log_sock = safe_close(sim->log_sock);
	sim->log_stop = safe_close(sim->log_stop);
	sim->log_fd = safe_close(sim->log_fd);
}

HostSim *hostsim_free(HostSim *sim)
{
	if (!sim)
		return NULL;

	/* Daemons first: their descriptors keep the FUSE connection alive. */
	for (;;) {
		HostSimDaemon *d = NULL;

		pthread_mutex_lock(&sim->daemons_lock);
		if (sim->n_daemons > 0)
			d = sim->daemons[sim->n_daemons - 1];
		pthread_mutex_unlock(&sim->daemons_lock);
		if (!d)
			break;
		(void)hostsim_daemon_stop(d);
	}

	sim->fuse = hs_fuse_stop(sim->fuse);
	sim->fcopy_uio = hs_uio_free(sim->fcopy_uio);
	syslog_stop(sim);
	sim->env = hs_env_free(sim->env);

	pthread_mutex_destroy(&sim->lock);
	pthread_cond_destroy(&sim->cond);
	pthread_mutex_destroy(&sim->host_lock);
	pthread_mutex_destroy(&sim->vss_host_lock);
	pthread_mutex_destroy(&sim->fcopy_host_lock);
	pthread_mutex_destroy(&sim->daemons_lock);
	free(sim->daemons);
	free(sim->hostname);
	free(sim->domain);
	free(sim->os_release);
	free(sim);
	return NULL;
}

static int copy_options(HostSim *sim, const HostSimOptions *o)
{
	static const HostSimOptions defaults = {};

	if (!o)
		o = &defaults;
	sim->opts = *o;
	sim->hostname = strdup(o->hostname ? o->hostname : DEFAULT_HOSTNAME);
	sim->domain = strdup(o->domain ? o->domain : DEFAULT_DOMAIN);
	if (!sim->hostname || !sim->domain)
		return -ENOMEM;
	if (o->os_release) {
		sim->os_release = strdup(o->os_release);
		if (!sim->os_release)
			return -ENOMEM;
	}
	sim->opts.hostname = sim->hostname;
	sim->opts.domain = sim->domain;
	sim->opts.os_release = sim->os_release;
	if (sim->opts.kvp_timeout_usec == 0)
		sim->opts.kvp_timeout_usec = DEFAULT_KVP_TIMEOUT_USEC;
	if (sim->opts.vss_freeze_timeout_usec == 0)
		sim->opts.vss_freeze_timeout_usec = HS_VSS_FREEZE_TIMEOUT_USEC;
	if (sim->opts.vss_timeout_usec == 0)
		sim->opts.vss_timeout_usec = HS_VSS_TIMEOUT_USEC;
	if (sim->opts.fcopy_timeout_usec == 0)
		sim->opts.fcopy_timeout_usec = HS_FCOPY_TIMEOUT_USEC;
	return 0;
}

int hostsim_new(const HostSimOptions *o, HostSim **ret)
{
	_cleanup_(hostsim_freep) HostSim *sim = NULL;
	HsFuseDevice devices[] = { { "hv_kvp", NULL }, { "hv_vss", NULL }, { "hv_fcopy", NULL } };
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	int n, r;

	if (!ret)
		return -EINVAL;

	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	sim->log_sock = sim->log_fd = sim->log_stop = -EBADF;

	/* The FUSE loop may re-enter through the interrupt callback: recursive. */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&sim->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sim->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&sim->host_lock, NULL);
	pthread_mutex_init(&sim->vss_host_lock, NULL);
	pthread_mutex_init(&sim->fcopy_host_lock, NULL);
	pthread_mutex_init(&sim->daemons_lock, NULL);

	r = copy_options(sim, o);
	if (r < 0)
		return r;

	/* Namespaces first: unshare() needs a single-threaded process. */
	r = hs_env_new(&sim->opts, &sim->env);
	if (r < 0)
		return r;

	n = snprintf(sim->state_dir, sizeof(sim->state_dir), "%s/state", hs_env_scratch(sim->env));
	if (n < 0 || (size_t)n >= sizeof(sim->state_dir))
		return -ENAMETOOLONG;
	n = snprintf(sim->syslog_path, sizeof(sim->syslog_path), "%s/syslog.log",
		     hs_env_scratch(sim->env));
	if (n < 0 || (size_t)n >= sizeof(sim->syslog_path))
		return -ENAMETOOLONG;
	(void)snprintf(sim->kvp_device, sizeof(sim->kvp_device), VMBUS_DIR "/%s", devices[0].name);
	(void)snprintf(sim->vss_device, sizeof(sim->vss_device), VMBUS_DIR "/%s", devices[1].name);
	(void)snprintf(sim->fcopy_device, sizeof(sim->fcopy_device), VMBUS_DIR "/%s",
		       devices[2].name);

	hs_transport_init(&sim->kvp_transport, &hs_kvp_service_ops, &sim->kvp);
	hs_kvp_init(&sim->kvp, &sim->kvp_transport, &kvp_model_ops, sim,
		    sim->opts.kvp_timeout_usec);
	hs_transport_init(&sim->vss_transport, &hs_vss_service_ops, &sim->vss);
	hs_vss_init(&sim->vss, &sim->vss_transport, &vss_model_ops, sim,
		    sim->opts.vss_freeze_timeout_usec, sim->opts.vss_timeout_usec);
	hs_transport_init(&sim->fcopy_transport, &hs_fcopy_service_ops, &sim->fcopy);
	hs_fcopy_init(&sim->fcopy, &sim->fcopy_transport, &fcopy_model_ops, sim,
		      sim->opts.fcopy_timeout_usec);

	r = syslog_start(sim);
	if (r < 0)
		return r;

	devices[0].transport = &sim->kvp_transport;
	devices[1].transport = &sim->vss_transport;
	devices[2].transport = &sim->fcopy_transport;
	r = hs_fuse_start(VMBUS_DIR, devices, ELEMENTSOF(devices), &sim->lock, fuse_activity, sim,
			  hs_env_scratch(sim->env), &sim->fuse);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(sim);
	return 0;
}

const char *hostsim_scratch_dir(HostSim *sim)
{
	return hs_env_scratch(sim->env);
}

const char *hostsim_state_dir(HostSim *sim)
{
	return sim->state_dir;
}

const char *hostsim_kvp_device(HostSim *sim)
{
	return sim->kvp_device;
}

const char *hostsim_syslog_path(HostSim *sim)
{
	return sim->syslog_path;
}

int hostsim_kvp_wait_registered(HostSim *sim, unsigned min_registrations, uint64_t timeout_usec)
{
	uint64_t deadline = hs_now_usec() + timeout_usec;
	int r = 0;

	pthread_mutex_lock(&sim->lock);
	__atomic_add_fetch(&sim->ready_waiters, 1, __ATOMIC_RELEASE);
	while (!hs_kvp_is_idle(&sim->kvp) || sim->kvp.registrations < min_registrations) {
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

/* The device is still held by a process of session sid (or by someone we cannot tell). */
static bool held_by(const HsTransport *t, pid_t sid)
{
	return t->open && (t->opener_sid == 0 || t->opener_sid == sid);
}

void hostsim_wait_released(HostSim *sim, pid_t sid, uint64_t timeout_usec)
{
	uint64_t deadline = hs_now_usec() + timeout_usec;

	pthread_mutex_lock(&sim->lock);
	__atomic_add_fetch(&sim->ready_waiters, 1, __ATOMIC_RELEASE);
	while ((held_by(&sim->kvp_transport, sid) || held_by(&sim->vss_transport, sid) ||
		held_by(&sim->fcopy_transport, sid)) &&
	       hs_now_usec() < deadline) {
		struct timespec ts = hs_to_timespec(deadline);

		(void)pthread_cond_timedwait(&sim->cond, &sim->lock, &ts);
	}
	__atomic_sub_fetch(&sim->ready_waiters, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sim->lock);
}

int hostsim_kvp_wait_ready(HostSim *sim, uint64_t timeout_usec)
{
	return hostsim_kvp_wait_registered(sim, 0, timeout_usec);
}

void hostsim_kvp_stats(HostSim *sim, HostSimKvpStats *ret)
{
	pthread_mutex_lock(&sim->lock);
	*ret = (HostSimKvpStats){
		.opens = sim->kvp_transport.opens,
		.ebusy = sim->kvp_transport.ebusy,
		.releases = sim->kvp_transport.releases,
		.registrations = sim->kvp.registrations,
		.einval_writes = sim->kvp_transport.einval_writes,
		.timeouts = sim->kvp.timeouts + sim->kvp.withdrawn,
		.ready = sim->kvp.state >= HS_KVP_READY,
	};
	pthread_mutex_unlock(&sim->lock);
}

void hostsim_fuse_stats(HostSim *sim, HostSimFuseStats *ret)
{
	HsFuseStats s;

	pthread_mutex_lock(&sim->lock);
	hs_fuse_get_stats(sim->fuse, &s);
	pthread_mutex_unlock(&sim->lock);
	*ret = (HostSimFuseStats){
		.opens = s.opens,
		.reads = s.reads,
		.writes = s.writes,
		.polls = s.polls,
		.notifies = s.notifies,
		.parked = s.parked,
		.interrupts = s.interrupts,
	};
}

const char *hostsim_kvp_state(HostSim *sim)
{
	const char *s;

	pthread_mutex_lock(&sim->lock);
	s = hs_kvp_state_to_string(sim->kvp.state);
	pthread_mutex_unlock(&sim->lock);
	return s;
}

HostSimKvpEnd hostsim_kvp_last_end(HostSim *sim)
{
	HsKvpHostEnd e;

	pthread_mutex_lock(&sim->lock);
	e = sim->kvp.end;
	pthread_mutex_unlock(&sim->lock);

	switch (e) {
	case HS_KVP_END_REPLY:
		return HOSTSIM_KVP_END_REPLY;
	case HS_KVP_END_TIMEOUT:
		return HOSTSIM_KVP_END_TIMEOUT;
	case HS_KVP_END_RESET:
		return HOSTSIM_KVP_END_RESET;
	case HS_KVP_END_SENDFAIL:
		return HOSTSIM_KVP_END_SENDFAIL;
	case HS_KVP_END_WITHDRAWN:
		return HOSTSIM_KVP_END_WITHDRAWN;
	}
	return HOSTSIM_KVP_END_REPLY;
}

/*
 * Submits one host request and waits until it is answered. Returns with host_lock and lock
 * held (release with transact_end()) so that the caller can read the result in sim->kvp.
 * While the request waits for a daemon (deferred), the host gives up after the kernel
 * timeout; once handed over, the kernel's own timer decides, run here by the waiting host.
 */
static int transact_begin(HostSim *sim, const uint8_t *host_msg, const void *raw, size_t raw_len)
{
	uint64_t submitted;
	int r;

	pthread_mutex_lock(&sim->host_lock);
	pthread_mutex_lock(&sim->lock);

	r = host_msg ? hs_kvp_host_submit(&sim->kvp, host_msg)
		     : hs_kvp_host_submit_raw(&sim->kvp, raw, raw_len);
	if (r < 0) {
		pthread_mutex_unlock(&sim->lock);
		pthread_mutex_unlock(&sim->host_lock);
		return r;
	}

	submitted = hs_now_usec();
	while (sim->kvp.phase != HS_KVP_HOST_DONE) {
		uint64_t deadline = sim->kvp.deadline != 0 ? sim->kvp.deadline
							   : submitted + sim->opts.kvp_timeout_usec;
		struct timespec ts;

		if (hs_now_usec() >= deadline) {
			if (sim->kvp.deadline != 0)
				hs_kvp_tick(&sim->kvp);
			else
				(void)hs_kvp_host_withdraw(&sim->kvp);
			continue;
		}
		ts = hs_to_timespec(deadline);
		(void)pthread_cond_timedwait(&sim->cond, &sim->lock, &ts);
	}
	return 0;
}

static void transact_end(HostSim *sim)
{
	hs_kvp_host_finish(&sim->kvp);
	pthread_mutex_unlock(&sim->lock);
	pthread_mutex_unlock(&sim->host_lock);
	/* "Idle" may have become true now. */
	if (__atomic_load_n(&sim->ready_waiters, __ATOMIC_ACQUIRE) > 0)
		pthread_cond_broadcast(&sim->cond);
}

static int kvp_transact(HostSim *sim, const uint8_t *msg, HostKvpReply *ret)
{
	int r;

	r = transact_begin(sim, msg, NULL, 0);
	if (r < 0)
		return r;
	if (ret)
		hs_kvp_host_parse_reply(sim->kvp.host_msg, sim->kvp.host_status, ret);
	transact_end(sim);
	return 0;
}

int hostsim_kvp_set(HostSim *sim, uint8_t pool, const char *key, const char *value,
		    HostKvpReply *ret)
{
	uint8_t msg[HS_KVP_MSG_SIZE];
	int r;

	r = hs_kvp_host_build_set(msg, pool, key, value);
	if (r < 0)
		return r;
	return kvp_transact(sim, msg, ret);
}

int hostsim_kvp_set_u32(HostSim *sim, uint8_t pool, const char *key, uint32_t value,
			HostKvpReply *ret)
{
	uint8_t msg[HS_KVP_MSG_SIZE];
	int r;

	r = hs_kvp_host_build_set_int(msg, pool, key, HS_KVP_REG_U32, value);
	if (r < 0)
		return r;
	return kvp_transact(sim, msg, ret);
}

int hostsim_kvp_set_u64(HostSim *sim, uint8_t pool, const char *key, uint64_t value,
			HostKvpReply *ret)
{
	uint8_t msg[HS_KVP_MSG_SIZE];
	int r;

	r = hs_kvp_host_build_set_int(msg, pool, key, HS_KVP_REG_U64, value);
	if (r < 0)
		return r;
	return kvp_transact(sim, msg, ret);
}

int hostsim_kvp_get(HostSim *sim, uint8_t pool, const char *key, HostKvpReply *ret)
{
	uint8_t msg[HS_KVP_MSG_SIZE];
	int r;

	r = hs_kvp_host_build_get(msg, pool, key);
	if (r < 0)
		return r;
	return kvp_transact(sim, msg, ret);
}

int hostsim_kvp_delete(HostSim *sim, uint8_t pool, const char *key, HostKvpReply *ret)
{
	uint8_t msg[HS_KVP_MSG_SIZE];
	int r;

	r = hs_kvp_host_build_delete(msg, pool, key);
	if (r < 0)
		return r;
	return kvp_transact(sim, msg, ret);
}

int hostsim_kvp_enumerate(HostSim *sim, uint8_t pool, uint32_t index, HostKvpReply *ret)
{
	uint8_t msg[HS_KVP_MSG_SIZE];

	hs_kvp_host_build_enumerate(msg, pool, index);
	return kvp_transact(sim, msg, ret);
}

int hostsim_kvp_get_ip_info(HostSim *sim, const char *adapter_id, uint8_t addr_family,
			    HostKvpIpInfo *ret)
{
	_cleanup_free_ HostKvpIpInfo *q = NULL;
	uint8_t msg[HS_KVP_MSG_SIZE];
	int r;

	if (!adapter_id || !ret)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	if (snprintf(q->adapter_id, sizeof(q->adapter_id), "%s", adapter_id) >=
	    (int)sizeof(q->adapter_id))
		return -E2BIG;
	q->addr_family = addr_family;
	r = hs_kvp_host_build_ip_info(msg, HS_KVP_OP_GET_IP_INFO, q);
	if (r < 0)
		return r;

	r = transact_begin(sim, msg, NULL, 0);
	if (r < 0)
		return r;
	hs_kvp_host_parse_ip_info(sim->kvp.host_msg, sim->kvp.host_status, ret);
	transact_end(sim);
	return 0;
}

int hostsim_kvp_set_ip_info(HostSim *sim, const HostKvpIpInfo *cfg, uint32_t *ret_status)
{
	uint8_t msg[HS_KVP_MSG_SIZE];
	int r;

	if (!cfg)
		return -EINVAL;
	r = hs_kvp_host_build_ip_info(msg, HS_KVP_OP_SET_IP_INFO, cfg);
	if (r < 0)
		return r;

	r = transact_begin(sim, msg, NULL, 0);
	if (r < 0)
		return r;
	if (ret_status)
		*ret_status = sim->kvp.host_status;
	transact_end(sim);
	return 0;
}

int hostsim_kvp_raw(HostSim *sim, const void *msg, size_t len, void *reply, size_t reply_size,
		    size_t *ret_len, uint32_t *ret_host_status)
{
	int r;

	if (!sim || (!msg && len > 0))
		return -EINVAL;

	r = transact_begin(sim, NULL, msg, len);
	if (r < 0)
		return r;

	if (ret_host_status)
		*ret_host_status = sim->kvp.host_status;
	switch (sim->kvp.end) {
	case HS_KVP_END_REPLY:
		if (reply)
			memcpy(reply, sim->kvp.reply,
			       MIN(MIN(reply_size, sim->kvp.reply_len), sizeof(sim->kvp.reply)));
		if (ret_len)
			*ret_len = sim->kvp.reply_len;
		r = 0;
		break;
	case HS_KVP_END_TIMEOUT:
	case HS_KVP_END_WITHDRAWN:
		r = -ETIMEDOUT;
		break;
	case HS_KVP_END_RESET:
		r = -ECONNRESET;
		break;
	case HS_KVP_END_SENDFAIL:
		r = -EBUSY;
		break;
	}
	transact_end(sim);
	return r;
}
