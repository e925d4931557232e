/* SPDX-License-Identifier: MIT */
/*
 * Host side of the uio channel (see hostsim-uio.h). The host writes the RX ring and reads the
 * TX ring with the same ring code the guest uses (common/ringbuf), frames IC messages with
 * common/icmsg's layout, and plays uio_hv_generic's interrupt logic on the socket.
 *
 * Threads: callers are the host (one transaction at a time, host_lock); the host thread waits on
 * the interrupt socket, applies the guest's mask writes and drains TX on every signal. Everything
 * below lock is shared between them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/hv-status.h"
#include "common/icmsg.h"
#include "common/macro.h"
#include "common/ringbuf.h"
#include "hostsim/hostsim-fcopy.h"
#include "hostsim/hostsim-uio.h"
#include "hostsim/hostsim-utf16.h"

/* How often a host blocked on a full RX ring looks again (the guest may read without a signal). */
#define RX_FULL_RETRY_USEC 10000u
/* struct icmsg_negotiate with 2 framework + 2 service versions. */
#define NEGOTIATE_BODY_SIZE (8u + 4u * 4u)
/* vmbuspipe_hdr is 8 bytes; its msgsize counts what follows it. */
#define PIPE_HDR_SIZE 8u

struct HsUio {
	size_t ring_size, page_size;
	uint64_t timeout_usec;
	int ring_fd, guest_irq_fd, host_irq_fd, stop_fd;
	uint8_t *mem;
	RingBuf tx; /* guest -> host: the host reads */
	RingBuf rx; /* host -> guest: the host writes */

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t host_lock; /* one host transaction at a time */
	pthread_mutex_t lock;	   /* everything below */
	pthread_cond_t cond;	   /* CLOCK_MONOTONIC: reply, negotiation, kill, signal */

	uint32_t irq_count; /* the uio event count the guest reads */
	uint64_t next_trans_id;
	uint8_t next_ic_id;
	bool negotiating;

	/* The transaction in progress. */
	bool pending, done;
	uint16_t pending_type;
	uint64_t pending_trans_id;
	uint32_t status;

	HsUioStats stats;
	uint8_t *reply; /* one TX packet's payload: at most the ring's data area */
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct timespec to_timespec(uint64_t usec)
{
	return (struct timespec){ .tv_sec = (time_t)(usec / 1000000u),
				  .tv_nsec = (long)(usec % 1000000u) * 1000L };
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (size_t i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Writes the 28-byte IC header of a host request with a body of body_len bytes. */
static void put_ic_header(uint8_t *p, uint16_t msgtype, IcVersion fw, IcVersion svc,
			  uint16_t body_len, uint8_t ic_id)
{
	memset(p, 0, ICMSG_HDR);
	put_le32(p + ICMSG_OFF_PIPE_FLAGS, 0);
	put_le32(p + ICMSG_OFF_PIPE_MSGSIZE, ICMSG_HDR - PIPE_HDR_SIZE + body_len);
	put_le16(p + ICMSG_OFF_VERFRAME, fw.major);
	put_le16(p + ICMSG_OFF_VERFRAME + 2, fw.minor);
	put_le16(p + ICMSG_OFF_MSGTYPE, msgtype);
	put_le16(p + ICMSG_OFF_VERMSG, svc.major);
	put_le16(p + ICMSG_OFF_VERMSG + 2, svc.minor);
	put_le16(p + ICMSG_OFF_MSGSIZE, body_len);
	put_le32(p + ICMSG_OFF_STATUS, 0);
	p[ICMSG_OFF_TRANSACTION_ID] = ic_id;
	p[ICMSG_OFF_FLAGS] = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
}

/*
 * Queues one packet on RX (lock held) and, like uio_hv_generic's interrupt handler, interrupts
 * the guest only if it left RX unmasked, masking it at the same time.
 */
static int queue_packet(HsUio *u, const uint8_t *payload, size_t len, uint64_t trans_id)
{
	int r;

	r = ringbuf_write_packet(&u->rx, payload, len, trans_id, 0);
	if (r < 0)
		return r;
	u->stats.packets_to_guest++;

	/* Pairs with the guest's fence between unmasking and re-checking the ring. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&u->rx.hdr->interrupt_mask, __ATOMIC_RELAXED) == 0) {
		__atomic_store_n(&u->rx.hdr->interrupt_mask, 1, __ATOMIC_RELAXED);
		u->irq_count++;
		u->stats.interrupts++;
		/* Never blocks: an unread count is superseded by the next one anyway. */
		(void)send(u->host_irq_fd, &u->irq_count, sizeof(u->irq_count),
			   MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	return 0;
}

static bool negotiate_reply_ok(const uint8_t *p, size_t len, const IcMsgHeader *h)
{
	if (h->status != HV_S_OK || len < ICMSG_HDR + 16)
		return false;
	/* icframe_vercnt, icmsg_vercnt, reserved, then the chosen framework and service. */
	return get_le16(p + ICMSG_HDR) == 1 && get_le16(p + ICMSG_HDR + 2) == 1 &&
	       get_le16(p + ICMSG_HDR + 8) == HS_UIO_FW_MAJOR &&
	       get_le16(p + ICMSG_HDR + 10) == HS_UIO_FW_MINOR &&
	       get_le16(p + ICMSG_HDR + 12) == HS_UIO_SVC_MAJOR &&
	       get_le16(p + ICMSG_HDR + 14) == HS_UIO_SVC_MINOR;
}

/* One reply from TX (lock held). */
static void handle_reply(HsUio *u, const uint8_t *p, size_t len, uint64_t trans_id)
{
	IcMsgHeader h;

	if (icmsg_parse_header(p, len, &h) < 0 || !(h.flags & ICMSGHDRFLAG_RESPONSE)) {
		u->stats.bad_packets++;
		return;
	}

	if (h.msgtype == ICMSGTYPE_NEGOTIATE) {
		if (!u->negotiating) {
			u->stats.late_replies++;
			return;
		}
		u->negotiating = false;
		if (negotiate_reply_ok(p, len, &h))
			u->stats.negotiated = true;
		else
			u->stats.negotiation_failed = true;
		return;
	}

	if (!u->pending || u->done || h.msgtype != u->pending_type) {
		u->stats.late_replies++;
		return;
	}
	if (trans_id != u->pending_trans_id) {
		/* The upstream uio daemon always sends ~0 and the host evidently accepts it. */
		if (trans_id != UINT64_MAX) {
			u->stats.late_replies++;
			return;
		}
		u->stats.trans_id_mismatch++;
	}
	u->status = h.status;
	u->done = true;
}

/* Reads every packet the guest queued on TX (lock held). */
static void drain_tx(HsUio *u)
{
	for (;;) {
		VmPacketDesc d;
		size_t len;
		int r;

		r = ringbuf_peek(&u->tx, &d);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			/* A corrupt ring stays corrupt: count it once per drain and stop. */
			u->stats.bad_packets++;
			return;
		}
		if (d.type != VM_PKT_DATA_INBAND) {
			(void)ringbuf_skip_packet(&u->tx);
			u->stats.bad_packets++;
			continue;
		}
		r = ringbuf_read_packet(&u->tx, u->reply, u->tx.data_size, &len);
		if (r < 0) {
			u->stats.bad_packets++;
			return;
		}
		u->stats.packets_from_guest++;
		handle_reply(u, u->reply, len, d.trans_id);
	}
}

/* What uio_hv_generic does with a 4-byte write (hv_uio_irqcontrol), then the host's reaction. */
static void handle_guest_write(HsUio *u, const uint8_t *buf, ssize_t n)
{
	int32_t v;

	pthread_mutex_lock(&u->lock);
	if (n != (ssize_t)sizeof(v)) {
		u->stats.bad_writes++;
	} else {
		memcpy(&v, buf, sizeof(v));
		if (v == 1) {
			__atomic_store_n(&u->rx.hdr->interrupt_mask, 0, __ATOMIC_RELEASE);
			u->stats.signals++;
		} else if (v == 0) {
			__atomic_store_n(&u->rx.hdr->interrupt_mask, 1, __ATOMIC_RELEASE);
			u->stats.masks++;
		} else {
			u->stats.bad_writes++;
		}
	}
	/* Read TX on any activity: a signal is the normal case, reading more is harmless. */
	drain_tx(u);
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

static void *host_thread(void *userdata)
{
	HsUio *u = userdata;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = u->host_irq_fd, .events = POLLIN },
			{ .fd = u->stop_fd, .events = POLLIN },
		};
		uint8_t buf[16];
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		n = recv(u->host_irq_fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break; /* the guest's end is closed: nobody can signal any more */
		handle_guest_write(u, buf, n);
	}
	return NULL;
}

/* The host's NEGOTIATE request (lock held). */
static int send_negotiate(HsUio *u)
{
	static const IcVersion fw_offer[] = { { 1, 0 }, { 3, 0 } };
	static const IcVersion svc_offer[] = { { 1, 0 }, { 1, 1 } };
	uint8_t msg[ICMSG_HDR + NEGOTIATE_BODY_SIZE] = {};
	uint8_t *v = msg + ICMSG_HDR + 8;

	put_ic_header(msg, ICMSGTYPE_NEGOTIATE, (IcVersion){ 1, 0 }, (IcVersion){ 1, 0 },
		      NEGOTIATE_BODY_SIZE, u->next_ic_id++);
	put_le16(msg + ICMSG_HDR, ELEMENTSOF(fw_offer));
	put_le16(msg + ICMSG_HDR + 2, ELEMENTSOF(svc_offer));
	for (size_t i = 0; i < ELEMENTSOF(fw_offer); i++, v += 4) {
		put_le16(v, fw_offer[i].major);
		put_le16(v + 2, fw_offer[i].minor);
	}
	for (size_t i = 0; i < ELEMENTSOF(svc_offer); i++, v += 4) {
		put_le16(v, svc_offer[i].major);
		put_le16(v + 2, svc_offer[i].minor);
	}
	u->negotiating = true;
	return queue_packet(u, msg, sizeof(msg), u->next_trans_id++);
}

static int start_thread(HsUio *u)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&u->thread, NULL, host_thread, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return -r;
	u->thread_started = true;
	return 0;
}

static void stop_thread(HsUio *u)
{
	uint64_t one = 1;

	if (!u->thread_started)
		return;
	(void)!write(u->stop_fd, &one, sizeof(one));
	pthread_join(u->thread, NULL);
	u->thread_started = false;
}

static int init_memory(HsUio *u)
{
	size_t total = 2 * u->ring_size;
	HvRingHeader *tx, *rx;
	int r;

	u->ring_fd = memfd_create("hv-hostsim-uio-ring", MFD_CLOEXEC);
	if (u->ring_fd < 0)
		return negative_errno();
	if (ftruncate(u->ring_fd, (off_t)total) < 0)
		return negative_errno();
	u->mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, u->ring_fd, 0);
	if (u->mem == MAP_FAILED) {
		u->mem = NULL;
		return negative_errno();
	}
	r = ringbuf_init(&u->tx, u->mem, u->ring_size, u->page_size);
	if (r < 0)
		return r;
	r = ringbuf_init(&u->rx, u->mem + u->ring_size, u->ring_size, u->page_size);
	if (r < 0)
		return r;

	/* As the kernel leaves them: feat_pending_send_sz, and RX masked until the guest opens. */
	tx = u->tx.hdr;
	rx = u->rx.hdr;
	tx->feature_bits = 1;
	rx->feature_bits = 1;
	rx->interrupt_mask = 1;
	u->reply = malloc(u->tx.data_size);
	if (!u->reply)
		return -ENOMEM;
	return 0;
}

int hs_uio_new(size_t ring_size, uint64_t timeout_usec, HsUio **ret)
{
	_cleanup_(hs_uio_freep) HsUio *u = NULL;
	pthread_condattr_t ca;
	long page = sysconf(_SC_PAGESIZE);
	int sv[2], r;

	if (!ret || page <= 0)
		return -EINVAL;
	if (ring_size == 0)
		ring_size = (size_t)page + HS_UIO_RING_DATA_DEFAULT;
	if (ring_size <= (size_t)page || ring_size % (size_t)page != 0 ||
	    ring_size - (size_t)page > UINT32_MAX)
		return -EINVAL;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	*u = (HsUio){
		.ring_size = ring_size,
		.page_size = (size_t)page,
		.timeout_usec = timeout_usec ? timeout_usec : HS_UIO_TIMEOUT_USEC,
		.ring_fd = -EBADF,
		.guest_irq_fd = -EBADF,
		.host_irq_fd = -EBADF,
		.stop_fd = -EBADF,
		.next_trans_id = 1,
	};
	pthread_mutex_init(&u->host_lock, NULL);
	pthread_mutex_init(&u->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->cond, &ca);
	pthread_condattr_destroy(&ca);

	r = init_memory(u);
	if (r < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	u->host_irq_fd = sv[0];
	u->guest_irq_fd = sv[1];
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (u->stop_fd < 0)
		return negative_errno();

	r = send_negotiate(u);
	if (r < 0)
		return r;
	r = start_thread(u);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(u);
	return 0;
}

void hs_uio_kill(HsUio *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	if (u->stats.killed) {
		pthread_mutex_unlock(&u->lock);
		return;
	}
	u->stats.killed = true;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);

	/* The thread polls host_irq_fd: stop it before closing. */
	stop_thread(u);
	u->host_irq_fd = safe_close(u->host_irq_fd);
}

HsUio *hs_uio_free(HsUio *u)
{
	if (!u)
		return NULL;
	stop_thread(u);
	safe_close(u->host_irq_fd);
	safe_close(u->guest_irq_fd);
	safe_close(u->stop_fd);
	safe_close(u->ring_fd);
	if (u->mem)
		munmap(u->mem, 2 * u->ring_size);
	free(u->reply);
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	pthread_mutex_destroy(&u->host_lock);
	free(u);
	return NULL;
}

void hs_uio_guest_fds(HsUio *u, int *ret_ring_fd, int *ret_irq_fd)
{
	if (ret_ring_fd)
		*ret_ring_fd = u->ring_fd;
	if (ret_irq_fd)
		*ret_irq_fd = u->guest_irq_fd;
}

size_t hs_uio_ring_size(HsUio *u)
{
	return u->ring_size;
}

int hs_uio_wait_negotiated(HsUio *u, uint64_t timeout_usec)
{
	uint64_t deadline = now_usec() + timeout_usec;
	int r = 0;

	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct timespec ts = to_timespec(deadline);

		if (u->stats.negotiated)
			break;
		if (u->stats.negotiation_failed) {
			r = -EPROTO;
			break;
		}
		if (u->stats.killed) {
			r = -ENOTCONN;
			break;
		}
		if (now_usec() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		(void)pthread_cond_timedwait(&u->cond, &u->lock, &ts);
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* Puts the request on RX, waiting for room until deadline (lock held). */
static int queue_request(HsUio *u, const uint8_t *msg, size_t len, uint64_t trans_id,
			 uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_usec();
		struct timespec ts;
		int r;

		r = queue_packet(u, msg, len, trans_id);
		if (r != -EAGAIN)
			return r;
		if (u->stats.killed || now >= deadline)
			return -ETIMEDOUT;
		/* The guest frees room by reading, which need not come with a signal: poll. */
		ts = to_timespec(MIN(deadline, now + RX_FULL_RETRY_USEC));
		(void)pthread_cond_timedwait(&u->cond, &u->lock, &ts);
	}
}

/* Builds the request and runs the transaction (both locks held). */
static int transact_locked(HsUio *u, uint16_t msgtype, const void *body, size_t len,
			   uint32_t *ret_status)
{
	_cleanup_free_ uint8_t *msg = NULL;
	uint64_t deadline = now_usec() + u->timeout_usec;
	uint64_t trans_id;
	uint32_t status = HV_E_FAIL;
	int r;

	if (u->stats.killed)
		return -ENOTCONN;
	if (!u->stats.negotiated) {
		u->stats.not_ready++;
		goto out;
	}

	msg = malloc(ICMSG_HDR + len);
	if (!msg)
		return -ENOMEM;
	put_ic_header(msg, msgtype, (IcVersion){ HS_UIO_FW_MAJOR, HS_UIO_FW_MINOR },
		      (IcVersion){ HS_UIO_SVC_MAJOR, HS_UIO_SVC_MINOR }, (uint16_t)len,
		      u->next_ic_id++);
	memcpy(msg + ICMSG_HDR, body, len);
	trans_id = u->next_trans_id++;

	u->pending = true;
	u->done = false;
	u->pending_type = msgtype;
	u->pending_trans_id = trans_id;

	r = queue_request(u, msg, ICMSG_HDR + len, trans_id, deadline);
	if (r < 0 && r != -ETIMEDOUT) {
		u->pending = false;
		return r;
	}
	while (r == 0 && !u->done && !u->stats.killed && now_usec() < deadline) {
		struct timespec ts = to_timespec(deadline);

		(void)pthread_cond_timedwait(&u->cond, &u->lock, &ts);
	}
	if (u->done)
		status = u->status;
	else if (!u->stats.killed)
		u->stats.timeouts++;
	u->pending = false;
	u->stats.transactions++;
out:
	if (ret_status)
		*ret_status = status;
	return 0;
}

int hs_uio_transact(HsUio *u, uint16_t msgtype, const void *body, size_t len, uint32_t *ret_status)
{
	int r;

	if (!u || !body || len == 0 || len > UINT16_MAX)
		return -EINVAL;

	pthread_mutex_lock(&u->host_lock);
	pthread_mutex_lock(&u->lock);
	r = transact_locked(u, msgtype, body, len, ret_status);
	pthread_mutex_unlock(&u->lock);
	pthread_mutex_unlock(&u->host_lock);
	return r;
}

void hs_uio_stats(HsUio *u, HsUioStats *ret)
{
	pthread_mutex_lock(&u->lock);
	*ret = u->stats;
	pthread_mutex_unlock(&u->lock);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (size_t i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The host's name field: UTF-16LE, NUL-terminated within W_MAX_PATH units (zeroed by caller). */
static int put_name(uint8_t *field, const char *s)
{
	size_t units;
	int r;

	r = hostsim_utf16_from_utf8(s, field, HS_FCOPY_W_MAX_PATH - 1, &units);
	if (r == -E2BIG)
		return -ENAMETOOLONG;
	return r;
}

int hs_fcopy_build_start(uint8_t *msg, const char *path_utf8, const char *name_utf8, uint32_t flags,
			 uint64_t size)
{
	int r;

	if (!msg || !path_utf8 || !name_utf8)
		return -EINVAL;
	memset(msg, 0, HS_FCOPY_START_SIZE);
	put_le32(msg, HS_FCOPY_START_FILE_COPY);
	r = put_name(msg + HS_FCOPY_OFF_FILE_NAME, name_utf8);
	if (r < 0)
		return r;
	r = put_name(msg + HS_FCOPY_OFF_PATH_NAME, path_utf8);
	if (r < 0)
		return r;
	put_le32(msg + HS_FCOPY_OFF_COPY_FLAGS, flags);
	put_le64(msg + HS_FCOPY_OFF_FILE_SIZE, size);
	return 0;
}

int hs_fcopy_build_write(uint8_t *msg, uint64_t offset, const void *data, size_t len)
{
	if (!msg || len > HS_FCOPY_DATA_FRAGMENT || (len > 0 && !data))
		return -EINVAL;
	memset(msg, 0, HS_FCOPY_DO_SIZE);
	put_le32(msg, HS_FCOPY_WRITE_TO_FILE);
	put_le64(msg + HS_FCOPY_OFF_OFFSET, offset);
	put_le32(msg + HS_FCOPY_OFF_SIZE, (uint32_t)len);
	if (len > 0)
		memcpy(msg + HS_FCOPY_OFF_DATA, data, len);
	return 0;
}

void hs_fcopy_build_simple(uint8_t *msg, uint32_t op)
{
	memset(msg, 0, HS_FCOPY_HDR_SIZE);
	put_le32(msg, op);
}
