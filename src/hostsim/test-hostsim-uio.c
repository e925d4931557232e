/* SPDX-License-Identifier: MIT */
/*
 * Tests of the host side of the uio channel (hostsim-uio.c) against a guest written here with
 * the ring and IC code directly (not the daemon): ring layout, negotiation, fcopy messages as
 * the guest sees them (byte offsets written out as numbers on purpose, from hyperv-abi.md
 * §2.2 and §8.1), interrupts only while unmasked, reply status, timeout and rescind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hv-status.h"
#include "common/icmsg.h"
#include "common/ringbuf.h"
#include "hostsim/hostsim-fcopy.h"
#include "hostsim/hostsim-uio.h"

#define SHORT_TIMEOUT_USEC (200 * UINT64_C(1000))
#define WAIT_USEC (5 * UINT64_C(1000000))
#define MAX_SEEN 8
#define PKT_MAX 8192

typedef struct Packet {
	uint8_t data[PKT_MAX];
	size_t len;
	uint64_t trans_id;
} Packet;

typedef struct Guest {
	HsUio *u;
	int irq_fd;
	uint8_t *mem;
	size_t ring_size;
	RingBuf tx, rx;

	/* Responder thread. */
	pthread_t thread;
	bool running;
	int stop; /* atomically read */
	uint32_t reply_status;
	bool echo_all_ones; /* reply with trans_id ~0 as the upstream daemon does */
	pthread_mutex_t lock;
	Packet seen[MAX_SEEN];
	size_t n_seen;
	unsigned irqs;
} Guest;

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Maps the ring memfd as the daemon would (TX first, RX second). */
static void guest_open(Guest *g, HsUio *u)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	int ring_fd;

	g->u = u;
	hs_uio_guest_fds(u, &ring_fd, &g->irq_fd);
	assert_true(ring_fd >= 0);
	assert_true(g->irq_fd >= 0);
	assert_int_equal(fstat(ring_fd, &st), 0);
	g->ring_size = (size_t)st.st_size / 2;
	assert_int_equal(g->ring_size, hs_uio_ring_size(u));
	g->mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
	assert_true(g->mem != MAP_FAILED);
	assert_int_equal(ringbuf_init(&g->tx, g->mem, g->ring_size, (size_t)page), 0);
	assert_int_equal(ringbuf_init(&g->rx, g->mem + g->ring_size, g->ring_size, (size_t)page),
			 0);
	pthread_mutex_init(&g->lock, NULL);
}

/* Waits up to ms for an interrupt; returns its count, or 0 if none came. */
static uint32_t guest_wait_irq(Guest *g, int ms)
{
	struct pollfd p = { .fd = g->irq_fd, .events = POLLIN };
	uint32_t count = 0;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	assert_int_equal(read(g->irq_fd, &count, sizeof(count)), sizeof(count));
	return count;
}

static void guest_signal(Guest *g, int32_t v)
{
	assert_int_equal(write(g->irq_fd, &v, sizeof(v)), sizeof(v));
}

/* Next RX packet, if any. */
static bool guest_recv(Guest *g, Packet *p)
{
	VmPacketDesc d;

	if (ringbuf_peek(&g->rx, &d) == -EAGAIN)
		return false;
	assert_int_equal(d.type, VM_PKT_DATA_INBAND);
	p->trans_id = d.trans_id;
	assert_int_equal(ringbuf_read_packet(&g->rx, p->data, sizeof(p->data), &p->len), 0);
	return true;
}

static void guest_send(Guest *g, const Packet *p)
{
	assert_int_equal(ringbuf_write_packet(&g->tx, p->data, p->len, p->trans_id, 0), 0);
	guest_signal(g, 1);
}

/* Answers the host's NEGOTIATE with our tables (fcopy: 3.0 / 1.1 unless told otherwise). */
static void guest_negotiate(Guest *g, IcVersion svc)
{
	static const IcVersion fw = { 3, 0 };
	Packet *p = calloc(1, sizeof(*p));
	IcVersion got_fw, got_svc;

	assert_non_null(p);
	/* The host queued it before the guest opened: no interrupt, the unmask finds it. */
	assert_true(ringbuf_unmask_and_pending(&g->rx));
	assert_true(guest_recv(g, p));
	assert_int_equal(le16(p->data + 12), ICMSGTYPE_NEGOTIATE);
	(void)icmsg_negotiate(p->data, p->len, &fw, 1, &svc, 1, &got_fw, &got_svc);
	guest_send(g, p);
	free(p);
}

static void *responder(void *userdata)
{
	Guest *g = userdata;
	Packet *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
		if (guest_wait_irq(g, 20) != 0) {
			pthread_mutex_lock(&g->lock);
			g->irqs++;
			pthread_mutex_unlock(&g->lock);
		}
		for (;;) {
			while (guest_recv(g, p)) {
				pthread_mutex_lock(&g->lock);
				if (g->n_seen < MAX_SEEN)
					g->seen[g->n_seen++] = *p;
				pthread_mutex_unlock(&g->lock);
				assert_int_equal(
					icmsg_set_response(p->data, p->len, g->reply_status), 0);
				if (g->echo_all_ones)
					p->trans_id = UINT64_MAX;
				guest_send(g, p);
			}
			if (!ringbuf_unmask_and_pending(&g->rx))
				break;
		}
	}
	free(p);
	return NULL;
}

static void guest_start_responder(Guest *g, uint32_t status)
{
	g->reply_status = status;
	assert_int_equal(pthread_create(&g->thread, NULL, responder, g), 0);
	g->running = true;
}

static void guest_close(Guest *g)
{
	if (g->running) {
		__atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
		pthread_join(g->thread, NULL);
	}
	munmap(g->mem, 2 * g->ring_size);
	pthread_mutex_destroy(&g->lock);
}

/* A negotiated channel with a responding guest. */
static int setup(void **state)
{
	Guest *g = calloc(1, sizeof(*g));
	HsUio *u = NULL;

	assert_non_null(g);
	assert_int_equal(hs_uio_new(0, SHORT_TIMEOUT_USEC, &u), 0);
	guest_open(g, u);
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	Guest *g = *state;
	HsUio *u = g->u;

	guest_close(g);
	hs_uio_free(u);
	free(g);
	return 0;
}

static void test_initial_layout(void **state)
{
	Guest *g = *state;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	HsUioStats s;

	assert_int_equal(g->ring_size, page + 16 * 1024);
	/* Header fields at the documented byte offsets: 8 interrupt_mask, 64 feature_bits. */
	assert_int_equal(le32(g->mem + 64), 1);
	assert_int_equal(le32(g->mem + g->ring_size + 64), 1);
	assert_int_equal(le32(g->mem + 8), 0);
	assert_int_equal(le32(g->mem + g->ring_size + 8), 1);
	/* NEGOTIATE waits in RX, and RX was masked: no interrupt. */
	assert_true(ringbuf_bytes_to_read(&g->rx) > 0);
	assert_int_equal(ringbuf_bytes_to_read(&g->tx), 0);
	assert_int_equal(guest_wait_irq(g, 50), 0);
	hs_uio_stats(g->u, &s);
	assert_int_equal(s.interrupts, 0);
	assert_int_equal(s.packets_to_guest, 1);
	assert_false(s.negotiated);
}

static void test_ring_size_validation(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	HsUio *u = NULL;

	assert_int_equal(hs_uio_new(page, 0, &u), -EINVAL);
	assert_int_equal(hs_uio_new(page * 2 + 8, 0, &u), -EINVAL);
	assert_int_equal(hs_uio_new(page * 3, 0, &u), 0);
	assert_int_equal(hs_uio_ring_size(u), page * 3);
	hs_uio_free(u);
}

static void test_negotiation_round_trip(void **state)
{
	Guest *g = *state;
	static const IcVersion fw = { 3, 0 }, svc = { 1, 1 };
	Packet *p = calloc(1, sizeof(*p));
	IcVersion got_fw, got_svc;
	HsUioStats s;

	assert_non_null(p);
	assert_true(ringbuf_unmask_and_pending(&g->rx));
	assert_true(guest_recv(g, p));
	/* 28-byte IC header + counts + 4 offered versions. */
	assert_int_equal(p->len, 56); /* 52 padded to 8 */
	assert_int_equal(le16(p->data + 12), ICMSGTYPE_NEGOTIATE);
	assert_int_equal(le16(p->data + 18), 24); /* icmsgsize */
	assert_int_equal(p->data[25], ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
	assert_int_equal(le16(p->data + 28), 2);	  /* framework versions */
	assert_int_equal(le16(p->data + 30), 2);	  /* service versions */
	assert_int_equal(le32(p->data + 36), 0x00000001); /* 1.0: major 1, minor 0 */
	assert_int_equal(le32(p->data + 40), 0x00000003); /* 3.0 */
	assert_int_equal(le32(p->data + 44), 0x00000001); /* 1.0 */
	assert_int_equal(le32(p->data + 48), 0x00010001); /* 1.1 */

	assert_int_equal(hs_uio_wait_negotiated(g->u, 1000), -ETIMEDOUT);
	assert_int_equal(icmsg_negotiate(p->data, p->len, &fw, 1, &svc, 1, &got_fw, &got_svc), 0);
	guest_send(g, p);
	assert_int_equal(hs_uio_wait_negotiated(g->u, WAIT_USEC), 0);

	hs_uio_stats(g->u, &s);
	assert_true(s.negotiated);
	assert_false(s.negotiation_failed);
	assert_int_equal(s.signals, 1);
	assert_int_equal(s.packets_from_guest, 1);
	assert_int_equal(s.bad_packets, 0);
	free(p);
}

static void test_negotiation_wrong_version(void **state)
{
	Guest *g = *state;
	uint8_t body[HS_FCOPY_HDR_SIZE];
	uint32_t status = 0;
	HsUioStats s;

	guest_negotiate(g, (IcVersion){ 1, 0 });
	assert_int_equal(hs_uio_wait_negotiated(g->u, WAIT_USEC), -EPROTO);
	hs_uio_stats(g->u, &s);
	assert_true(s.negotiation_failed);
	assert_false(s.negotiated);

	/* No FCOPY message on a channel that is not negotiated: HV_E_FAIL at once. */
	hs_fcopy_build_simple(body, HS_FCOPY_COMPLETE);
	assert_int_equal(hs_uio_transact(g->u, ICMSGTYPE_FCOPY, body, sizeof(body), &status), 0);
	assert_int_equal(status, HV_E_FAIL);
	hs_uio_stats(g->u, &s);
	assert_int_equal(s.not_ready, 1);
	assert_int_equal(s.packets_to_guest, 1);
}

static void check_fcopy_ic_header(const Packet *p, uint16_t body_len)
{
	assert_int_equal(le32(p->data + 4), 20u + body_len); /* vmbuspipe_hdr.msgsize */
	assert_int_equal(le32(p->data + 8), 0x00000003);     /* icverframe 3.0 */
	assert_int_equal(le16(p->data + 12), 7);	     /* ICMSGTYPE_FCOPY */
	assert_int_equal(le32(p->data + 14), 0x00010001);    /* icvermsg 1.1 */
	assert_int_equal(le16(p->data + 18), body_len);
	assert_int_equal(le32(p->data + 20), 0);
	assert_int_equal(p->data[25], ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
	assert_true(p->len >= 28u + body_len && p->len < 28u + body_len + 8);
}

static void test_fcopy_transaction_byte_exact(void **state)
{
	Guest *g = *state;
	_cleanup_free_ uint8_t *msg = malloc(HS_FCOPY_DO_SIZE);
	static const char data[] = "hello";
	uint32_t status = 1;
	HsUioStats s;
	const uint8_t *b;

	assert_non_null(msg);
	guest_negotiate(g, (IcVersion){ 1, 1 });
	assert_int_equal(hs_uio_wait_negotiated(g->u, WAIT_USEC), 0);
	guest_start_responder(g, HV_S_OK);

	/* "dir/é" and "ä€.txt": 2-byte and 3-byte UTF-8 become one UTF-16 unit each. */
	assert_int_equal(hs_fcopy_build_start(msg, "/tmp/dir\xc3\xa9", "\xc3\xa4\xe2\x82\xac.txt",
					      HS_FCOPY_OVER_WRITE | HS_FCOPY_CREATE_PATH, 5),
			 0);
	assert_int_equal(hs_uio_transact(g->u, ICMSGTYPE_FCOPY, msg, HS_FCOPY_START_SIZE, &status),
			 0);
	assert_int_equal(status, HV_S_OK);
	assert_int_equal(hs_fcopy_build_write(msg, 0, data, 5), 0);
	assert_int_equal(hs_uio_transact(g->u, ICMSGTYPE_FCOPY, msg, HS_FCOPY_DO_SIZE, &status), 0);
	assert_int_equal(status, HV_S_OK);
	hs_fcopy_build_simple(msg, HS_FCOPY_COMPLETE);
	assert_int_equal(hs_uio_transact(g->u, ICMSGTYPE_FCOPY, msg, HS_FCOPY_HDR_SIZE, &status),
			 0);
	assert_int_equal(status, HV_S_OK);

	pthread_mutex_lock(&g->lock);
	assert_int_equal(g->n_seen, 3);

	check_fcopy_ic_header(&g->seen[0], 1088);
	b = g->seen[0].data + 28;
	assert_int_equal(le32(b), 0); /* START_FILE_COPY */
	/* file_name @36: U+00E4 U+20AC '.' 't' 'x' 't' NUL */
	assert_int_equal(le16(b + 36), 0x00e4);
	assert_int_equal(le16(b + 38), 0x20ac);
	assert_int_equal(le16(b + 40), '.');
	assert_int_equal(le16(b + 46), 't');
	assert_int_equal(le16(b + 48), 0);
	/* path_name @556: "/tmp/dir" U+00E9 NUL */
	assert_int_equal(le16(b + 556), '/');
	assert_int_equal(le16(b + 556 + 2 * 7), 'r');
	assert_int_equal(le16(b + 556 + 2 * 8), 0x00e9);
	assert_int_equal(le16(b + 556 + 2 * 9), 0);
	assert_int_equal(le32(b + 1076), 3);
	assert_int_equal(le64(b + 1080), 5);

	check_fcopy_ic_header(&g->seen[1], 6196);
	b = g->seen[1].data + 28;
	assert_int_equal(le32(b), 1); /* WRITE_TO_FILE */
	assert_int_equal(le64(b + 40), 0);
	assert_int_equal(le32(b + 48), 5);
	assert_memory_equal(b + 52, "hello", 5);
	assert_int_equal(b[57], 0);

	check_fcopy_ic_header(&g->seen[2], 36);
	assert_int_equal(le32(g->seen[2].data + 28), 2); /* COMPLETE */

	/* VMBus transaction ids count up (1 was NEGOTIATE); IC ids too. */
	assert_int_equal(g->seen[0].trans_id, 2);
	assert_int_equal(g->seen[1].trans_id, 3);
	assert_int_equal(g->seen[2].trans_id, 4);
	assert_int_equal(g->seen[1].data[24], (uint8_t)(g->seen[0].data[24] + 1));
	pthread_mutex_unlock(&g->lock);

	hs_uio_stats(g->u, &s);
	assert_int_equal(s.transactions, 3);
	assert_int_equal(s.packets_to_guest, 4);
	assert_int_equal(s.packets_from_guest, 4);
	assert_int_equal(s.trans_id_mismatch, 0);
	assert_int_equal(s.timeouts, 0);
	/* The responder unmasks before sleeping: each request interrupted it once at most. */
	assert_true(s.interrupts >= 1 && s.interrupts <= 3);
}

static void test_reply_status_propagated(void **state)
{
	Guest *g = *state;
	uint8_t body[HS_FCOPY_HDR_SIZE];
	uint32_t status = 0;
	HsUioStats s;

	guest_negotiate(g, (IcVersion){ 1, 1 });
	assert_int_equal(hs_uio_wait_negotiated(g->u, WAIT_USEC), 0);
	g->echo_all_ones = true;
	guest_start_responder(g, HV_ERROR_ALREADY_EXISTS);

	hs_fcopy_build_simple(body, HS_FCOPY_CANCEL);
	assert_int_equal(hs_uio_transact(g->u, ICMSGTYPE_FCOPY, body, sizeof(body), &status), 0);
	assert_int_equal(status, HV_ERROR_ALREADY_EXISTS);
	hs_uio_stats(g->u, &s);
	/* Upstream's trans_id ~0 is accepted, and counted. */
	assert_int_equal(s.trans_id_mismatch, 1);
	assert_int_equal(s.timeouts, 0);
}

static void test_interrupts_only_when_unmasked_and_timeout(void **state)
{
	Guest *g = *state;
	uint8_t body[HS_FCOPY_HDR_SIZE];
	uint32_t status = 0, count;
	Packet *p = calloc(1, sizeof(*p));
	HsUioStats s;

	assert_non_null(p);
	guest_negotiate(g, (IcVersion){ 1, 1 });
	assert_int_equal(hs_uio_wait_negotiated(g->u, WAIT_USEC), 0);
	/* The guest masks RX (write 0) and does not answer: no interrupt, then the timeout. */
	guest_signal(g, 0);
	for (int i = 0; i < 200; i++) {
		hs_uio_stats(g->u, &s);
		if (s.masks == 1)
			break;
		usleep(1000);
	}
	assert_int_equal(s.masks, 1);
	assert_int_equal(le32(g->mem + g->ring_size + 8), 1);

	hs_fcopy_build_simple(body, HS_FCOPY_COMPLETE);
	assert_int_equal(hs_uio_transact(g->u, ICMSGTYPE_FCOPY, body, sizeof(body), &status), 0);
	assert_int_equal(status, HV_E_FAIL);
	assert_int_equal(guest_wait_irq(g, 20), 0);
	hs_uio_stats(g->u, &s);
	assert_int_equal(s.interrupts, 0);
	assert_int_equal(s.timeouts, 1);
	assert_int_equal(s.transactions, 1);

	/* The request stayed in the ring; a late answer is recognised as such. */
	assert_true(guest_recv(g, p));
	assert_int_equal(icmsg_set_response(p->data, p->len, HV_S_OK), 0);
	guest_send(g, p); /* also clears the RX mask */
	for (int i = 0; i < 200; i++) {
		hs_uio_stats(g->u, &s);
		if (s.late_replies == 1)
			break;
		usleep(1000);
	}
	assert_int_equal(s.late_replies, 1);
	assert_int_equal(le32(g->mem + g->ring_size + 8), 0);

	/* Unmasked now: the next request interrupts once, with the count, and masks RX. */
	hs_fcopy_build_simple(body, HS_FCOPY_CANCEL);
	assert_int_equal(hs_uio_transact(g->u, ICMSGTYPE_FCOPY, body, sizeof(body), &status), 0);
	assert_int_equal(status, HV_E_FAIL);
	count = guest_wait_irq(g, 1000);
	assert_int_equal(count, 1);
	assert_int_equal(le32(g->mem + g->ring_size + 8), 1);
	hs_uio_stats(g->u, &s);
	assert_int_equal(s.interrupts, 1);
	assert_int_equal(s.timeouts, 2);
	free(p);
}

typedef struct KillArgs {
	HsUio *u;
	uint32_t status;
	int r;
} KillArgs;

static void *transact_thread(void *userdata)
{
	KillArgs *a = userdata;
	uint8_t body[HS_FCOPY_HDR_SIZE];

	hs_fcopy_build_simple(body, HS_FCOPY_COMPLETE);
	a->r = hs_uio_transact(a->u, ICMSGTYPE_FCOPY, body, sizeof(body), &a->status);
	return NULL;
}

static void test_kill_channel(void **state)
{
	Guest *g = *state;
	KillArgs a = { .status = 0, .r = 1 };
	uint8_t body[HS_FCOPY_HDR_SIZE];
	pthread_t t;
	int32_t one = 1;
	uint32_t count;
	HsUio *u;
	HsUioStats s;

	/* A long timeout, so that the kill (not the timer) ends the transaction. */
	guest_close(g);
	hs_uio_free(g->u);
	memset(g, 0, sizeof(*g));
	assert_int_equal(hs_uio_new(0, 60 * UINT64_C(1000000), &u), 0);
	guest_open(g, u);
	a.u = u;
	guest_negotiate(g, (IcVersion){ 1, 1 });
	assert_int_equal(hs_uio_wait_negotiated(u, WAIT_USEC), 0);

	assert_int_equal(pthread_create(&t, NULL, transact_thread, &a), 0);
	/* The guest left RX unmasked after the negotiation: the request interrupts it. */
	count = guest_wait_irq(g, 5000);
	assert_int_equal(count, 1);
	hs_uio_kill(u);
	pthread_join(t, NULL);
	assert_int_equal(a.r, 0);
	assert_int_equal(a.status, HV_E_FAIL);

	/* The guest's end: end of file on read, EPIPE on write (SIGPIPE is ignored in main). */
	assert_int_equal(read(g->irq_fd, &count, sizeof(count)), 0);
	assert_int_equal(write(g->irq_fd, &one, sizeof(one)), -1);
	assert_int_equal(errno, EPIPE);

	hs_fcopy_build_simple(body, HS_FCOPY_COMPLETE);
	assert_int_equal(hs_uio_transact(u, ICMSGTYPE_FCOPY, body, sizeof(body), NULL), -ENOTCONN);
	assert_int_equal(hs_uio_wait_negotiated(u, WAIT_USEC), 0);
	hs_uio_kill(u); /* idempotent */
	hs_uio_stats(u, &s);
	assert_true(s.killed);
	assert_int_equal(s.timeouts, 0);
}

static void test_builders_reject(void **state)
{
	_cleanup_free_ uint8_t *msg = malloc(HS_FCOPY_DO_SIZE);
	char long_name[300];

	assert_non_null(msg);
	memset(long_name, 'a', 259);
	long_name[259] = '\0';
	assert_int_equal(hs_fcopy_build_start(msg, "/tmp", long_name, 0, 0), 0);
	long_name[259] = 'a';
	long_name[260] = '\0';
	assert_int_equal(hs_fcopy_build_start(msg, "/tmp", long_name, 0, 0), -ENAMETOOLONG);
	assert_int_equal(hs_fcopy_build_start(msg, "/tmp", "\xff", 0, 0), -EILSEQ);
	assert_int_equal(hs_fcopy_build_write(msg, 0, "x", HS_FCOPY_DATA_FRAGMENT + 1), -EINVAL);
	assert_int_equal(hs_fcopy_build_write(msg, 0, NULL, 1), -EINVAL);
	assert_int_equal(hs_fcopy_build_write(msg, 7, NULL, 0), 0);
	assert_int_equal(le32(msg + 48), 0);
	assert_int_equal(le64(msg + 40), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_initial_layout, setup, teardown),
		cmocka_unit_test(test_ring_size_validation),
		cmocka_unit_test_setup_teardown(test_negotiation_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negotiation_wrong_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fcopy_transaction_byte_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_status_propagated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupts_only_when_unmasked_and_timeout,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_channel, setup, teardown),
		cmocka_unit_test(test_builders_reject),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
