/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/channel.h"
#include "common/daemon-cli.h"
#include "common/event.h"
#include "common/fileio.h"
#include "common/hv-status.h"
#include "common/log.h"
#include "common/message-id.h"
#include "common/notify.h"
#include "kvp/kvp-auto.h"
#include "kvp/kvp-fqdn.h"
#include "kvp/kvp-ipinfo.h"
#include "kvp/kvp-ipset.h"
#include "kvp/kvp-manager.h"
#include "kvp/kvp-msg.h"
#include "kvp/kvp-netinfo.h"
#include "kvp/kvp-netsrc.h"
#include "kvp/kvp-nicinfo.h"
#include "kvp/kvp-persist.h"
#include "kvp/kvp-status.h"
#include "kvp/kvp-store.h"
#include "common/worker.h"

/* The kernel answers registration at once; a second is generous even on a loaded guest. */
#define REGISTER_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define RECONNECT_MIN_USEC (100 * USEC_PER_MSEC)
#define RECONNECT_MAX_USEC (5 * USEC_PER_SEC)
/*
 * How long start-up waits for the first name lookup, so that the host's first look at the
 * auto pool shows the FQDN rather than the bare hostname. /etc/hosts answers in µs; a slow
 * DNS server only delays READY by this much, and the value follows when it answers.
 */
#define FQDN_FIRST_WAIT_USEC (2 * USEC_PER_SEC)
/* The host walks the auto pool every few seconds; one name lookup per interval is plenty. */
#define FQDN_REFRESH_MIN_USEC (10 * USEC_PER_SEC)

struct Manager {
	const KvpSettings *settings;
	Event *event;
	EventSource *io;
	EventSource *reconnect_timer;
	HvChannel *channel;
	int state_fd;
	KvpStore *store;
	KvpAuto *autopool;
	KvpFqdn *fqdn;
	KvpPersist *persist;
	Worker *worker;	    /* GET_IP_INFO / SET_IP_INFO run here, off the event loop */
	KvpNetSrc *netsrc;  /* DNS servers and DHCP state per link */
	KvpIpSet *ipset;    /* host-injected IP configuration */
	KvpStatus *status;  /* RUN/kvp-status for hvctl status; NULL without a run directory */
	bool persist_stuck; /* the writer did not stop in time: leave store and thread alone */
	uint64_t reconnect_delay_usec;
	uint64_t fqdn_refreshed_usec; /* CLOCK_MONOTONIC of the last refresh request */
	sem_t fqdn_first;	      /* posted once, after the first lookup completed */
	atomic_bool fqdn_posted;
	bool fqdn_sem_init;
	uint64_t n_requests;
	char version[64];
	uint8_t register_msg[KVP_MSG_SIZE];
	/* Twice the message size so a kernel message of an unexpected size is seen whole. */
	uint8_t in[2 * KVP_MSG_SIZE];
	uint8_t out[KVP_MSG_SIZE];
	KvpRequest req;

	/* The IP request the worker is on: written before submit, read after collect. */
	KvpIpInfo ip_req;
	KvpIpInfo ip_reply;
	char ip_ifname[IF_NAMESIZE];
	KvpNetSrcReport ip_report;
	char tool_paths[5][PATH_MAX]; /* nmcli, networkctl, netplan, ifup, ifdown (tests) */
};

static int check_register_reply(const void *reply, size_t len, void *userdata)
{
	Manager *m = userdata;

	return kvp_msg_parse_register_reply(reply, len, m->version, sizeof(m->version));
}

static void on_fqdn(const char *fqdn, void *userdata)
{
	Manager *m = userdata;

	/* Called on the resolver thread; kvp_auto_set_fqdn() is thread-safe. */
	kvp_auto_set_fqdn(m->autopool, fqdn);
	if (!atomic_exchange(&m->fqdn_posted, true))
		(void)sem_post(&m->fqdn_first);
}

static void wait_first_fqdn(Manager *m)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + FQDN_FIRST_WAIT_USEC;
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / USEC_PER_SEC),
		.tv_nsec = (long)(deadline % USEC_PER_SEC * NSEC_PER_USEC),
	};

	while (sem_clockwait(&m->fqdn_first, CLOCK_MONOTONIC, &ts) < 0 && errno == EINTR)
		;
}

static int op_get(Manager *m, const KvpRequest *req)
{
	const char *value;
	int r;

	if (req->pool == KVP_POOL_AUTO)
		r = kvp_auto_get(m->autopool, req->key, &value);
	else
		r = kvp_store_get(m->store, req->pool, req->key, &value);
	if (r < 0)
		return r;
	return kvp_msg_build_get(m->out, req->key, value);
}

static int op_set(Manager *m, const KvpRequest *req)
{
	int r = kvp_store_set(m->store, req->pool, req->key, req->value);
	if (r < 0)
		return r;
	kvp_persist_kick(m->persist);
	kvp_msg_build_status(m->out, HV_S_OK);
	return 0;
}

static int op_delete(Manager *m, const KvpRequest *req)
{
	int r = kvp_store_delete(m->store, req->pool, req->key);
	if (r < 0)
		return r;
	kvp_persist_kick(m->persist);
	kvp_msg_build_status(m->out, HV_S_OK);
	return 0;
}

static int op_enumerate(Manager *m, const KvpRequest *req)
{
	const char *key, *value;
	int r;

	if (req->pool == KVP_POOL_AUTO) {
		/* A new host enumeration: let the resolver catch up with hostname changes. */
		if (req->index == 0) {
			uint64_t now = now_usec(CLOCK_MONOTONIC);

			if (now - m->fqdn_refreshed_usec >= FQDN_REFRESH_MIN_USEC) {
				m->fqdn_refreshed_usec = now;
				kvp_fqdn_request_refresh(m->fqdn);
			}
		}
		r = kvp_auto_enumerate(m->autopool, req->index, &key, &value);
	} else {
		r = kvp_store_enumerate(m->store, req->pool, req->index, &key, &value);
	}
	if (r < 0)
		return r;
	return kvp_msg_build_enumerate(m->out, key, value);
}

static int dispatch(Manager *m, const KvpRequest *req)
{
	switch (req->op) {
	case KVP_OP_GET:
		return op_get(m, req);
	case KVP_OP_SET:
		return op_set(m, req);
	case KVP_OP_DELETE:
		return op_delete(m, req);
	case KVP_OP_ENUMERATE:
		return op_enumerate(m, req);
	case KVP_OP_GET_IP_INFO:
	case KVP_OP_SET_IP_INFO:
		/* Handled by start_ip_request(): they need the raw message. */
		break;
	case _KVP_OP_MAX:
	case _KVP_OP_INVALID:
		break;
	}
	return -EOPNOTSUPP;
}

static int job_get_ip_info(void *userdata)
{
	Manager *m = userdata;
	int ifindex, r;

	/* Upstream reports both families whatever addr_family the host sent; so do we. */
	r = kvp_nicinfo_query(m->ip_req.adapter_id, 0, &m->ip_reply, m->ip_ifname, &ifindex);
	if (r == -ENODEV || r == -EINVAL)
		return -ENXIO; /* no NIC with that MAC: HV_E_FAIL, as upstream answers */
	if (r < 0)
		return r;
	return kvp_netsrc_fill(m->netsrc, m->ip_ifname, ifindex, &m->ip_reply, &m->ip_report);
}

static int job_set_ip_info(void *userdata)
{
	Manager *m = userdata;

	return kvp_ipset_apply(m->ipset, &m->ip_req);
}

/* Decodes an IP request and hands it to the worker; the reply is sent when it is done. */
static int start_ip_request(Manager *m, const KvpRequest *req, size_t len)
{
	int r;

	r = kvp_ipinfo_decode(m->in, len, &m->ip_req);
	if (r < 0)
		return r;
	m->ip_ifname[0] = 0;
	r = worker_submit(m->worker,
			  req->op == KVP_OP_GET_IP_INFO ? job_get_ip_info : job_set_ip_info, m);
	if (r < 0)
		return r;
	/* Nothing else can arrive before we answer; stop polling until then. */
	r = event_source_set_enabled(m->io, false);
	return r < 0 ? r : 1;
}

/* Logs how a request ended: debug for the normal outcomes, louder for bad host input. */
static void log_request(Manager *m, const KvpRequest *req, int r, uint32_t status)
{
	char f_op[32], f_pool[32], f_status[32];
	int level;

	snprintf(f_op, sizeof(f_op), "HV_OP=%s", kvp_op_to_string((KvpOp)req->raw_op));
	snprintf(f_pool, sizeof(f_pool), "HV_POOL=%u", req->raw_pool);
	snprintf(f_status, sizeof(f_status), "HV_STATUS=0x%08x", status);

	switch (r) {
	case 0:
	case -ENOENT: /* key not found, end of an enumeration: part of the protocol */
		level = LOG_DEBUG;
		break;
	case -EROFS:
		level = LOG_NOTICE;
		break;
	default:
		level = LOG_WARNING;
		break;
	}
	if (level > log_get_max_level())
		return;
	if (r >= 0 || r == -ENOENT)
		log_fields_errno(level, 0, LOG_FIELDS(f_op, f_pool, f_status),
				 "Host %s on pool %u key '%s' index %u: %s",
				 kvp_op_to_string((KvpOp)req->raw_op), req->raw_pool, req->key,
				 req->index, hv_status_to_string(status));
	else if (r == -EROFS)
		log_fields_errno(level, r, LOG_FIELDS(f_op, f_pool, f_status),
				 "Host %s on pool %u (%s) refused: the daemon only stores host "
				 "data in pools 0 and 3.",
				 kvp_op_to_string((KvpOp)req->raw_op), req->raw_pool,
				 kvp_pool_to_string((KvpPoolId)req->raw_pool));
	else
		log_fields_errno(level, r, LOG_FIELDS(f_op, f_pool, f_status),
				 "Rejected host request op=%u pool=%u, answering %s: %m",
				 req->raw_op, req->raw_pool, hv_status_to_string(status));
}

static int connect_channel(Manager *m)
{
	int r = channel_connect(m->channel);
	if (r < 0)
		return r;
	kvp_auto_set_version(m->autopool, m->version);
	return event_source_set_io_fd(m->io, channel_get_fd(m->channel));
}

static int on_reconnect_timer(EventSource *s, uint64_t usec, void *userdata)
{
	Manager *m = userdata;
	int r;

	r = connect_channel(m);
	if (r < 0) {
		m->reconnect_delay_usec = MIN(m->reconnect_delay_usec * 2, RECONNECT_MAX_USEC);
		log_debug_errno(r, "Registering again did not work yet, next try in %llu ms: %m",
				(unsigned long long)(m->reconnect_delay_usec / USEC_PER_MSEC));
		return event_source_set_time_relative(s, m->reconnect_delay_usec);
	}
	m->reconnect_delay_usec = RECONNECT_MIN_USEC;
	log_info("Registered with the host again (KVP protocol %s).", m->version);
	(void)notify_status("Registered with the host (KVP protocol %s), %u registrations",
			    m->version, m->channel->n_connects);
	return event_source_set_enabled(m->io, true);
}

static int manager_reconnect(Manager *m, int reason)
{
	int r;

	channel_disconnect(m->channel);
	r = connect_channel(m);
	if (r >= 0) {
		(void)notify_status("Registered with the host (KVP protocol %s), %u registrations",
				    m->version, m->channel->n_connects);
		return 0;
	}
	log_notice_errno(r, "Could not register with %s, retrying: %m", m->settings->device);
	(void)notify_status("Waiting for %s", m->settings->device);
	r = event_source_set_enabled(m->io, false);
	if (r < 0)
		return r;
	m->reconnect_delay_usec = RECONNECT_MIN_USEC;
	return event_source_set_time_relative(m->reconnect_timer, m->reconnect_delay_usec);
}

static int log_ip_request(Manager *m, const KvpRequest *req, int r, uint32_t status)
{
	char f_op[32], f_status[32], f_if[48];
	const KvpIpInfo *i = &m->ip_reply;

	snprintf(f_op, sizeof(f_op), "HV_OP=%s", kvp_op_to_string(req->op));
	snprintf(f_status, sizeof(f_status), "HV_STATUS=0x%08x", status);
	snprintf(f_if, sizeof(f_if), "HV_IFNAME=%s", m->ip_ifname);

	if (req->op == KVP_OP_GET_IP_INFO) {
		if (r < 0)
			return log_fields_errno(r == -ENXIO ? LOG_DEBUG : LOG_WARNING, r,
						LOG_FIELDS(f_op, f_status),
						"Host asked for the IP configuration of '%s', "
						"answering %s: %m",
						m->ip_req.adapter_id, hv_status_to_string(status));
		return log_fields_errno(LOG_DEBUG, 0, LOG_FIELDS(f_op, f_status, f_if),
					"Host asked for '%s': %s addresses '%s' masks '%s' "
					"gateways '%s' DNS '%s' (%s) DHCP %s (%s)",
					m->ip_req.adapter_id, m->ip_ifname, i->ip_addr, i->sub_net,
					i->gate_way, i->dns_addr,
					kvp_netsrc_source_to_string(m->ip_report.dns),
					i->dhcp_enabled ? "on" : "off",
					kvp_netsrc_source_to_string(m->ip_report.dhcp));
	}
	if (r < 0)
		return log_fields_errno(
			LOG_WARNING, r,
			LOG_FIELDS(f_op, f_status, HV_MESSAGE_ID_KVP_IP_INJECT_FAILED),
			"Host IP configuration for adapter %s not applied, "
			"answering %s: %s",
			m->ip_req.adapter_id, hv_status_to_string(status),
			strna(kvp_ipset_last_error(m->ipset)));
	return log_fields_errno(LOG_INFO, 0,
				LOG_FIELDS(f_op, f_status, HV_MESSAGE_ID_KVP_IP_INJECTED),
				"Applied the host's IP configuration for adapter %s: addresses "
				"'%s', gateways '%s', DNS '%s', DHCP %s.",
				m->ip_req.adapter_id, m->ip_req.ip_addr, m->ip_req.gate_way,
				m->ip_req.dns_addr, m->ip_req.dhcp_enabled ? "on" : "off");
}

static int send_out(Manager *m)
{
	int r = channel_send(m->channel, m->out, KVP_MSG_SIZE);
	if (r < 0) {
		/* Typically the kernel timed the request out (-EINVAL on the late reply). */
		log_notice_errno(r, "The kernel did not take the reply, registering again: %m");
		return manager_reconnect(m, r);
	}
	return 0;
}

static int on_worker_done(Event *e, void *userdata)
{
	Manager *m = userdata;
	KvpRequest *req = &m->req;
	uint32_t status;
	int r;

	if (!worker_collect(m->worker, &r))
		return 0;
	status = hv_status_from_errno(r);
	if (r >= 0 && req->op == KVP_OP_GET_IP_INFO)
		r = kvp_ipinfo_build_reply(m->out, &m->ip_reply);
	else if (r >= 0)
		kvp_msg_build_status(m->out, HV_S_OK);
	if (r < 0) {
		status = hv_status_from_errno(r);
		kvp_msg_build_status(m->out, status);
	}
	(void)log_ip_request(m, req, r, status);
	kvp_status_note_request(m->status, true, req->raw_op, req->raw_pool, status);

	r = event_source_set_enabled(m->io, true);
	if (r < 0)
		return r;
	return send_out(m);
}

static int send_reply(Manager *m, const KvpRequest *req, int r)
{
	uint32_t status = hv_status_from_errno(r);

	if (r < 0)
		kvp_msg_build_status(m->out, status);
	log_request(m, req, r, status);
	return send_out(m);
}

static int handle_message(Manager *m, size_t len)
{
	KvpRequest *req = &m->req;
	bool decoded;
	int r;

	m->n_requests++;
	r = kvp_msg_decode(m->in, len, req);
	decoded = r >= 0;
	if (r >= 0 && (req->op == KVP_OP_GET_IP_INFO || req->op == KVP_OP_SET_IP_INFO)) {
		r = start_ip_request(m, req, len);
		if (r > 0)
			return 0; /* answered by on_worker_done() */
	} else if (r >= 0) {
		r = dispatch(m, req);
	}
	kvp_status_note_request(m->status, decoded, req->raw_op, req->raw_pool,
				hv_status_from_errno(r));
	return send_reply(m, req, r);
}

static int on_channel(EventSource *s, int fd, short revents, void *userdata)
{
	Manager *m = userdata;
	size_t len;
	int r;

	r = channel_recv(m->channel, revents, m->in, sizeof(m->in), &len);
	if (r == -EAGAIN) {
		if (revents & (POLLERR | POLLHUP | POLLNVAL))
			return manager_reconnect(m, -EPIPE);
		return 0;
	}
	if (r < 0) {
		log_notice_errno(r, "Reading from %s did not work, registering again: %m",
				 m->settings->device);
		return manager_reconnect(m, r);
	}
	return handle_message(m, len);
}

static int on_signal(EventSource *s, const struct signalfd_siginfo *si, void *userdata)
{
	Manager *m = userdata;

	log_debug("Received signal %u, stopping.", si->ssi_signo);
	(void)notify_stopping();
	return event_exit(m->event, 0);
}

/*
 * RUN/kvp-status, in systemd's RuntimeDirectory= (the first of $RUNTIME_DIRECTORY) or in
 * /run/hvguest when some other hvguest daemon created it. Optional: without it only
 * "hvctl status" lacks the KVP line.
 */
static void open_status(Manager *m)
{
	const char *env = getenv("RUNTIME_DIRECTORY");
	char dir[PATH_MAX];
	int fd, r;

	if (env && env[0] != '\0')
		(void)snprintf(dir, sizeof(dir), "%.*s", (int)strcspn(env, ":"), env);
	else
		(void)snprintf(dir, sizeof(dir), "%s", KVP_RUN_DIR);
	fd = open_dir(dir);
	if (fd < 0) {
		log_debug("No run directory '%s', no status file: %s", dir, strerror(-fd));
		return;
	}
	r = kvp_status_new(m->event, fd, m->settings->device, &m->status);
	if (r < 0)
		log_warning_errno(r, "Could not write '%s/%s', ignoring: %m", dir, KVP_STATUS_FILE);
}

static int open_state(Manager *m)
{
	const KvpSettings *s = m->settings;
	int r;

	/* Upstream creates the directory 0755; the pool files carry the privacy decision. */
	r = mkdir_p(s->state_dir, 0755);
	if (r < 0)
		return log_error_errno(r, "Could not create state directory '%s': %m",
				       s->state_dir);
	m->state_fd = open_dir(s->state_dir);
	if (m->state_fd < 0)
		return log_error_errno(m->state_fd, "Could not open state directory '%s': %m",
				       s->state_dir);

	KvpStoreOptions so = {
		.dir_fd = m->state_fd,
		.mode = 0644,
		.host_pool_mode = s->private_host_pools ? 0600 : 0644,
		.lock_timeout_usec = s->lock_timeout_usec,
	};
	r = kvp_store_open(&so, &m->store);
	if (r < 0)
		return log_error_errno(r, "Could not open the KVP pools in '%s': %m", s->state_dir);
	return 0;
}

/* Test seam: a tool from --tools-dir, or NULL for the module's default path. */
static const char *tool_path(Manager *m, unsigned slot, const char *name)
{
	if (!m->settings->tools_dir)
		return NULL;
	snprintf(m->tool_paths[slot], sizeof(m->tool_paths[slot]), "%s/%s", m->settings->tools_dir,
		 name);
	return m->tool_paths[slot];
}

static int manager_setup_ip(Manager *m)
{
	const KvpSettings *s = m->settings;
	KvpIpBackend backend;
	int r;

	backend = kvp_ip_backend_from_string(s->ip_backend);
	if (backend < 0)
		return log_error_errno(backend, "Unknown ip_backend '%s' in the [kvp] settings.",
				       s->ip_backend);

	KvpNetSrcOptions no = {
		.root = s->root_dir,
		.nmcli = tool_path(m, 0, "nmcli"),
		.dns_helper = s->dns_helper,
		.dhcp_helper = s->dhcp_helper,
		.helper_timeout_usec = s->helper_timeout_usec,
	};
	r = kvp_netsrc_new(&no, &m->netsrc);
	if (r < 0)
		return log_error_errno(r, "Could not set up DNS and DHCP reporting: %m");

	KvpIpSetOptions io = {
		.backend = backend,
		.root = s->root_dir,
		.state_dir = s->state_dir,
		.sysfs_dir = s->sysfs_dir,
		.nmcli = tool_path(m, 0, "nmcli"),
		.networkctl = tool_path(m, 1, "networkctl"),
		.netplan = tool_path(m, 2, "netplan"),
		.ifup = tool_path(m, 3, "ifup"),
		.ifdown = tool_path(m, 4, "ifdown"),
		.set_ifconfig = s->set_ifconfig_helper,
		.timeout_usec = s->ip_apply_timeout_usec,
	};
	r = kvp_ipset_new(&io, &m->ipset);
	if (r < 0)
		return log_error_errno(r, "Could not set up IP injection: %m");

	r = worker_new(m->event, &m->worker);
	if (r < 0)
		return log_error_errno(r, "Could not start the worker thread: %m");
	r = event_set_wakeup_handler(m->event, on_worker_done, m);
	if (r < 0)
		return log_error_errno(r, "Could not set up the worker wakeup: %m");
	return 0;
}

int manager_new(const KvpSettings *settings, Manager **ret)
{
	_cleanup_(manager_freep) Manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return log_oom();
	m->settings = settings;
	m->state_fd = -EBADF;

	r = event_new(&m->event);
	if (r < 0)
		return log_error_errno(r, "Could not create the event loop: %m");
	/* Before any thread exists, so every thread inherits these signals blocked. */
	r = event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
	if (r >= 0)
		r = event_add_signal(m->event, NULL, SIGINT, on_signal, m);
	if (r < 0)
		return log_error_errno(r, "Could not set up signal handling: %m");
	(void)signal(SIGPIPE, SIG_IGN);

	r = open_state(m);
	if (r < 0)
		return r;

	KvpAutoOptions ao = {
		.os_release_path = settings->os_release,
		.exclude_ifaces = settings->exclude_interfaces,
		.net = &netinfo_libnl_ops,
	};
	r = kvp_auto_new(&ao, &m->autopool);
	if (r < 0)
		return log_error_errno(r, "Could not gather the auto pool's facts: %m");
	if (sem_init(&m->fqdn_first, 0, 0) < 0)
		return log_error_errno(errno, "Could not create a semaphore: %m");
	m->fqdn_sem_init = true;
	r = kvp_fqdn_new(on_fqdn, m, &m->fqdn);
	if (r < 0)
		return log_error_errno(r, "Could not start the name resolver: %m");
	/* The plain hostname until the first lookup completes. */
	char fqdn[256];
	if (kvp_fqdn_get(m->fqdn, fqdn, sizeof(fqdn)) >= 0)
		kvp_auto_set_fqdn(m->autopool, fqdn);
	kvp_fqdn_request_refresh(m->fqdn);
	m->fqdn_refreshed_usec = now_usec(CLOCK_MONOTONIC);
	r = kvp_persist_new(m->store, &m->persist);
	if (r < 0)
		return log_error_errno(r, "Could not start the pool writer: %m");
	r = manager_setup_ip(m);
	if (r < 0)
		return r;

	kvp_msg_build_register(m->register_msg);
	HvRegistration reg = {
		.msg = m->register_msg,
		.msg_len = KVP_MSG_SIZE,
		.reply_size = KVP_MSG_SIZE,
		.reply_timeout_usec = REGISTER_TIMEOUT_USEC,
		.check_reply = check_register_reply,
		.userdata = m,
	};
	r = channel_chardev_new(settings->device, &reg, &m->channel);
	if (r < 0)
		return log_error_errno(r, "Could not set up the channel to '%s': %m",
				       settings->device);
	r = event_add_io(m->event, &m->io, -EBADF, POLLIN, on_channel, m);
	if (r >= 0)
		r = event_source_set_enabled(m->io, false);
	if (r >= 0)
		r = event_add_time(m->event, &m->reconnect_timer, USEC_INFINITY, on_reconnect_timer,
				   m);
	if (r < 0)
		return log_error_errno(r, "Could not set up event sources: %m");

	open_status(m);

	*ret = TAKE_PTR(m);
	return 0;
}

int manager_start(Manager *m)
{
	const char *dev = m->settings->device;
	int r;

	wait_first_fqdn(m);
	r = connect_channel(m);
	switch (r) {
	case -ENOENT:
		/* Not a Hyper-V guest, or hv_utils not loaded: nothing to serve. */
		return log_notice_errno(r,
					"Device %s is not present; the KVP service is not "
					"offered here.",
					dev);
	case -EBUSY:
		return log_error_errno(r, "Device %s is busy: another KVP daemon is running.", dev);
	default:
		if (r < 0)
			return log_error_errno(r, "Could not register with %s: %m", dev);
	}
	r = event_source_set_enabled(m->io, true);
	if (r < 0)
		return log_error_errno(r, "Could not watch %s: %m", dev);

	log_info("Registered with the host on %s (KVP protocol %s).", dev, m->version);
	(void)notify_ready();
	(void)notify_status("Registered with the host (KVP protocol %s)", m->version);
	return 0;
}

int manager_run(Manager *m)
{
	return daemon_run_event_loop(m->event);
}

Manager *manager_free(Manager *m)
{
	if (!m)
		return NULL;

	if (m->persist) {
		int r = kvp_persist_stop(m->persist, m->settings->flush_timeout_usec);
		if (r < 0) {
			/* Likely /var frozen by a backup: the writer is blocked in the kernel. */
			log_warning_errno(r,
					  "Pending KVP pool writes did not finish within %llu s, "
					  "exiting without them: %m",
					  (unsigned long long)(m->settings->flush_timeout_usec /
							       USEC_PER_SEC));
			m->persist_stuck = true;
		} else {
			kvp_persist_free(m->persist);
		}
	}
	/* The worker first: a job in progress uses the channel's request buffers. */
	worker_free(m->worker);
	kvp_netsrc_free(m->netsrc);
	kvp_ipset_free(m->ipset);
	channel_free(m->channel);
	event_source_free(m->io);
	event_source_free(m->reconnect_timer);
	kvp_status_free(m->status);
	kvp_fqdn_free(m->fqdn);
	if (m->fqdn_sem_init)
		sem_destroy(&m->fqdn_first);
	kvp_auto_free(m->autopool);
	if (!m->persist_stuck) {
		kvp_store_free(m->store);
		safe_close(m->state_fd);
	}
	event_free(m->event);
	free(m);
	return NULL;
}
