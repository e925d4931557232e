/* SPDX-License-Identifier: MIT */
/*
 * The uio channel against an in-process host: a memfd of 2 * (page + 16 KiB) stands for map 0
 * of /dev/uioN and a SOCK_SEQPACKET socketpair for its interrupt descriptor. The host side
 * maps the same memfd, writes packets into the daemon's RX ring, reads replies from its TX
 * ring and models uio_hv_generic's mask handling: it interrupts only while the RX
 * interrupt_mask is 0 and then sets it to 1; a written 1 clears it, a 0 sets it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/channel.h"
#include "common/ringbuf.h"

/* ring data bytes per direction (kernel >= 2025 layout: header page + 16 KiB) */
#define DATA_SIZE 16384

typedef struct Fixture {
	HvChannel *ch;
	int host_irq;	  /* host end of the interrupt socketpair */
	int host_ring_fd; /* host's own descriptor of the memfd */
	size_t page;
	size_t ring_size;
	void *mem;	    /* host's mapping of both rings */
	RingBuf to_guest;   /* daemon's RX (second half): the host writes it */
	RingBuf from_guest; /* daemon's TX (first half): the host reads it */
	uint32_t irq_count;
} Fixture;

static uint32_t rx_mask(Fixture *f)
{
	return __atomic_load_n(&f->to_guest.hdr->interrupt_mask, __ATOMIC_SEQ_CST);
}

static void set_rx_mask(Fixture *f, uint32_t v)
{
	__atomic_store_n(&f->to_guest.hdr->interrupt_mask, v, __ATOMIC_SEQ_CST);
}

/* Host side of one interrupt: the driver masks RX and bumps the count the daemon reads. */
static int host_interrupt(Fixture *f)
{
	uint32_t count = ++f->irq_count;

	set_rx_mask(f, 1);
	return send(f->host_irq, &count, sizeof(count), MSG_NOSIGNAL) == sizeof(count) ? 0 : -EIO;
}

/*
 * Queues one packet on RX and interrupts if the mask is clear. Returns 1 if it interrupted,
 * 0 if not, -EAGAIN if RX is full. Thread-safe against the daemon (not against another host).
 */
static int host_queue(Fixture *f, const void *payload, size_t len, uint64_t trans_id)
{
	int r = ringbuf_write_packet(&f->to_guest, payload, len, trans_id, 0);

	if (r < 0)
		return r;
	/* pairs with the daemon's unmask-then-look: one of us sees the other */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (rx_mask(f) != 0)
		return 0;
	r = host_interrupt(f);
	return r < 0 ? r : 1;
}

/* Reads one 4-byte signal from the daemon and applies it like uio_hv_generic. */
static int host_take_signal(Fixture *f)
{
	int32_t v;
	ssize_t n = recv(f->host_irq, &v, sizeof(v), MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	assert_int_equal(n, sizeof(v));
	assert_true(v == 0 || v == 1);
	set_rx_mask(f, v == 1 ? 0 : 1);
	return v;
}

/* Reads the daemon's next reply from TX; returns its trans_id. */
static uint64_t host_read_reply(Fixture *f, void *buf, size_t size, size_t *ret_len)
{
	VmPacketDesc d;

	assert_int_equal(ringbuf_peek(&f->from_guest, &d), 0);
	assert_int_equal(d.type, VM_PKT_DATA_INBAND);
	assert_int_equal(d.flags, 0);
	assert_int_equal(ringbuf_read_packet(&f->from_guest, buf, size, ret_len), 0);
	return d.trans_id;
}

/* Whether an interrupt count is waiting for the daemon (without consuming it). */
static bool irq_pending(Fixture *f)
{
	struct pollfd p = { .fd = channel_get_fd(f->ch), .events = POLLIN };

	assert_int_not_equal(poll(&p, 1, 0), -1);
	return p.revents & POLLIN;
}

/* The daemon's side of a wakeup: poll the channel's descriptor, up to 5 s. */
static short wait_irq(Fixture *f)
{
	struct pollfd p = { .fd = channel_get_fd(f->ch), .events = POLLIN };

	assert_true(p.fd >= 0);
	assert_int_equal(poll(&p, 1, 5000), 1);
	return p.revents;
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 13 + i * 5 + 3);
}

static int memfd_of_size(size_t size)
{
	int fd = memfd_create("test-uio-ring", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));
	int sv[2], ring_fd;

	assert_non_null(f);
	f->page = (size_t)sysconf(_SC_PAGESIZE);
	f->ring_size = f->page + DATA_SIZE;
	f->host_ring_fd = memfd_of_size(2 * f->ring_size);
	f->mem = mmap(NULL, 2 * f->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->host_ring_fd,
		      0);
	assert_true(f->mem != MAP_FAILED);
	assert_int_equal(ringbuf_init(&f->from_guest, f->mem, f->ring_size, f->page), 0);
	assert_int_equal(
		ringbuf_init(&f->to_guest, (uint8_t *)f->mem + f->ring_size, f->ring_size, f->page),
		0);
	/* uio_hv_generic masks RX when the device is opened */
	set_rx_mask(f, 1);

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	ring_fd = fcntl(f->host_ring_fd, F_DUPFD_CLOEXEC, 3);
	assert_true(ring_fd >= 0);
	assert_int_equal(channel_uio_new_fds(ring_fd, sv[0], &f->ch), 0);
	f->host_irq = sv[1];
	assert_int_equal(channel_connect(f->ch), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;

	channel_free(f->ch);
	if (f->host_irq >= 0)
		close(f->host_irq);
	munmap(f->mem, 2 * f->ring_size);
	close(f->host_ring_fd);
	free(f);
	return 0;
}

static void test_round_trip(void **state)
{
	Fixture *f = *state;
	/* an IC negotiate: 28-byte header + counts + 2 framework + 3 service versions = 56 */
	uint8_t neg[56], buf[8192], reply[256];
	size_t len = 0, rlen = 0;

	assert_int_equal(rx_mask(f), 0); /* connect unmasked RX */
	assert_int_equal(f->ch->n_connects, 1);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EAGAIN);

	fill_pattern(neg, sizeof(neg), 1);
	assert_int_equal(host_queue(f, neg, sizeof(neg), 0x1122334455667788), 1);
	assert_int_equal(rx_mask(f), 1);
	assert_true(wait_irq(f) & POLLIN);
	assert_int_equal(channel_recv(f->ch, POLLIN, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(neg));
	assert_memory_equal(buf, neg, sizeof(neg));
	assert_false(irq_pending(f)); /* the count was consumed */
	assert_int_equal(rx_mask(f), 1);
	/* empty now: the channel unmasks before giving up */
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EAGAIN);
	assert_int_equal(rx_mask(f), 0);

	buf[0] ^= 0xff;
	assert_int_equal(channel_send(f->ch, buf, 52), 0);
	assert_int_equal(host_read_reply(f, reply, sizeof(reply), &rlen), 0x1122334455667788);
	assert_int_equal(rlen, 56); /* padded to 8 on the wire */
	assert_memory_equal(reply, buf, 52);
	assert_int_equal(host_take_signal(f), 1);
	assert_int_equal(host_take_signal(f), -EAGAIN); /* exactly one signal per send */
}

static void test_drain_after_one_interrupt(void **state)
{
	Fixture *f = *state;
	uint8_t in[200], buf[512], reply[64];
	size_t len, rlen;

	for (uint32_t i = 0; i < 5; i++) {
		fill_pattern(in, sizeof(in), i);
		/* only the first finds the mask clear */
		assert_int_equal(host_queue(f, in, 40 + 8 * i, 100 + i), i == 0 ? 1 : 0);
	}
	assert_int_equal(f->irq_count, 1);

	assert_int_equal(channel_recv(f->ch, wait_irq(f), buf, sizeof(buf), &len), 0);
	for (uint32_t i = 0; i < 5; i++) {
		if (i > 0)
			assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), 0);
		fill_pattern(in, sizeof(in), i);
		assert_int_equal(len, 40 + 8 * i);
		assert_memory_equal(buf, in, len);
		/* each reply carries the id of the packet just received */
		assert_int_equal(channel_send(f->ch, &i, sizeof(i)), 0);
		assert_int_equal(host_read_reply(f, reply, sizeof(reply), &rlen), 100 + i);
		assert_int_equal(host_take_signal(f), 1);
	}
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EAGAIN);
	assert_int_equal(rx_mask(f), 0);
	assert_false(irq_pending(f));
}

/* Without POLLIN the channel must not read the descriptor: that read would block on uio. */
static void test_count_read_only_on_pollin(void **state)
{
	Fixture *f = *state;
	uint8_t in[16] = { 1, 2, 3 }, buf[64];
	size_t len;

	assert_int_equal(host_queue(f, in, sizeof(in), 1), 1);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), 0);
	assert_memory_equal(buf, in, sizeof(in));
	assert_true(irq_pending(f));
	/* the stale count is read with an empty ring: -EAGAIN, descriptor quiet again */
	assert_int_equal(channel_recv(f->ch, wait_irq(f), buf, sizeof(buf), &len), -EAGAIN);
	assert_false(irq_pending(f));
}

/* Packets queued while the mask is still set raise no interrupt: the re-check must find them. */
static void test_queued_while_masked(void **state)
{
	Fixture *f = *state;
	uint8_t in[24] = { 9 }, buf[64];
	size_t len;

	set_rx_mask(f, 1); /* as after an interrupt the daemon has not drained yet */
	assert_int_equal(host_queue(f, in, sizeof(in), 5), 0);
	assert_int_equal(host_queue(f, in, sizeof(in), 6), 0);
	assert_false(irq_pending(f));
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), 0);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), 0);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EAGAIN);
	assert_int_equal(rx_mask(f), 0);
	/* now the host interrupts again */
	assert_int_equal(host_queue(f, in, sizeof(in), 7), 1);
}

#define N_RACE 20000

static size_t race_len(uint32_t i)
{
	return 4 + (i * 7) % 300;
}

static void *host_thread(void *arg)
{
	Fixture *f = arg;
	uint8_t buf[512];

	for (uint32_t i = 0; i < N_RACE; i++) {
		size_t len = race_len(i);
		int r;

		memcpy(buf, &i, sizeof(i));
		fill_pattern(buf + 4, len - 4, i);
		while ((r = host_queue(f, buf, len, i)) == -EAGAIN)
			sched_yield();
		if (r < 0)
			return (void *)(intptr_t)r;
	}
	return NULL;
}

/*
 * Concurrency smoke test: a host thread writing while the daemon drains. Every packet must
 * arrive once and in order, and the daemon must never sleep (5-second poll) with one queued.
 * The exact lost-wakeup window is hit deterministically by test_recheck_after_unmask.
 */
static void test_no_lost_wakeup(void **state)
{
	Fixture *f = *state;
	uint8_t buf[512], expect[512];
	uint32_t got = 0;
	pthread_t t;
	void *res;

	assert_int_equal(pthread_create(&t, NULL, host_thread, f), 0);
	while (got < N_RACE) {
		short revents = wait_irq(f);
		size_t len;
		int r;

		while ((r = channel_recv(f->ch, revents, buf, sizeof(buf), &len)) == 0) {
			uint32_t seq;

			revents = 0;
			memcpy(&seq, buf, sizeof(seq));
			assert_int_equal(seq, got);
			assert_int_equal(len, (race_len(got) + 7) / 8 * 8);
			fill_pattern(expect, race_len(got) - 4, got);
			assert_memory_equal(buf + 4, expect, race_len(got) - 4);
			got++;
		}
		assert_int_equal(r, -EAGAIN);
	}
	assert_int_equal(pthread_join(t, &res), 0);
	assert_null(res);
}

/*
 * Fault injection for the window between "RX looks empty" and the unmask: the daemon's RX
 * header page is made read-only, so its unmask store faults; the handler queues a packet the
 * way the host would at that instant (the mask still reads 1: no interrupt) and lifts the
 * protection, after which the store completes. A signal handler can reach its context only
 * through a static.
 */
static struct {
	Fixture *f;
	uint8_t *page; /* the daemon's RX header page */
	unsigned faults;
	int queued; /* host_queue's result: 0 = queued without interrupt */
} inject;

static const char late_packet[16] = "late packet";

static void inject_handler(int sig, siginfo_t *si, void *uc)
{
	uint8_t *addr = si->si_addr;

	if (addr < inject.page || addr >= inject.page + inject.f->page)
		abort(); /* a real crash */
	inject.faults++;
	inject.queued = host_queue(inject.f, late_packet, sizeof(late_packet), 99);
	if (mprotect(inject.page, inject.f->page, PROT_READ | PROT_WRITE) < 0)
		abort();
}

/* Start of the channel's own mapping of the fixture's memfd (not the host's). */
static uint8_t *daemon_mapping(Fixture *f)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	uint8_t *found = NULL;
	char line[512];

	assert_non_null(maps);
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx", &start, &end) != 2 ||
		    !strstr(line, "memfd:test-uio-ring") || (void *)start == f->mem ||
		    end - start != 2 * f->ring_size)
			continue;
		found = (uint8_t *)start;
	}
	fclose(maps);
	return found;
}

static void test_recheck_after_unmask(void **state)
{
	Fixture *f = *state;
	struct sigaction sa = { .sa_sigaction = inject_handler, .sa_flags = SA_SIGINFO }, old;
	uint8_t *rings = daemon_mapping(f), buf[64];
	size_t len = 0;
	int r;

	assert_non_null(rings);
	inject.f = f;
	inject.page = rings + f->ring_size;
	inject.faults = 0;
	inject.queued = -1;
	set_rx_mask(f, 1); /* as right after an interrupt */

	assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);
	assert_int_equal(mprotect(inject.page, f->page, PROT_READ), 0);
	r = channel_recv(f->ch, 0, buf, sizeof(buf), &len);
	assert_int_equal(sigaction(SIGSEGV, &old, NULL), 0);

	assert_int_equal(inject.faults, 1);
	assert_int_equal(inject.queued, 0); /* no interrupt will come for it */
	assert_false(irq_pending(f));
	assert_int_equal(r, 0);
	assert_int_equal(len, sizeof(late_packet));
	assert_memory_equal(buf, late_packet, sizeof(late_packet));
	assert_int_equal(rx_mask(f), 0);
}

static void test_wrap_around(void **state)
{
	Fixture *f = *state;
	uint8_t in[1600], buf[2048], reply[2048];
	unsigned wraps_rx = 0, wraps_tx = 0;

	for (uint32_t i = 0; i < 3000; i++) {
		size_t len = 1 + (i * 37) % 1500, got, rlen;
		uint32_t rx_before = f->to_guest.hdr->write_index;
		uint32_t tx_before = f->from_guest.hdr->read_index;

		fill_pattern(in, len, i);
		assert_int_equal(host_queue(f, in, len, i), 1);
		assert_int_equal(channel_recv(f->ch, wait_irq(f), buf, sizeof(buf), &got), 0);
		assert_int_equal(got, (len + 7) / 8 * 8);
		assert_memory_equal(buf, in, len);
		assert_int_equal(channel_send(f->ch, buf, len), 0);
		assert_int_equal(host_read_reply(f, reply, sizeof(reply), &rlen), i);
		assert_int_equal(rlen, got);
		assert_memory_equal(reply, in, len);
		assert_int_equal(host_take_signal(f), 1); /* clears the mask: next one interrupts */
		wraps_rx += f->to_guest.hdr->write_index < rx_before;
		wraps_tx += f->from_guest.hdr->read_index < tx_before;
	}
	/* about 2.3 MB through 16 KiB rings */
	assert_true(wraps_rx > 100);
	assert_true(wraps_tx > 100);
}

/* Rewrites a u16 descriptor field (byte offset field) of the packet at data offset off of RX. */
static void patch_desc(Fixture *f, uint32_t off, size_t field, uint16_t value)
{
	memcpy(f->to_guest.data + off + field, &value, sizeof(value));
}

static void test_skip_completion(void **state)
{
	Fixture *f = *state;
	uint8_t in[32], buf[64], reply[16];
	size_t len, rlen;

	fill_pattern(in, sizeof(in), 4);
	assert_int_equal(host_queue(f, in, 8, 41), 1);
	patch_desc(f, 0, 0, VM_PKT_COMP);
	assert_int_equal(host_queue(f, in, sizeof(in), 42), 0);
	assert_int_equal(channel_recv(f->ch, wait_irq(f), buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(in));
	assert_memory_equal(buf, in, sizeof(in));
	assert_int_equal(f->to_guest.hdr->read_index, f->to_guest.hdr->write_index);
	/* the completion's id is not what a reply echoes */
	assert_int_equal(channel_send(f->ch, buf, 8), 0);
	assert_int_equal(host_read_reply(f, reply, sizeof(reply), &rlen), 42);

	/* a completion alone: consumed, nothing returned */
	assert_int_equal(host_queue(f, in, 8, 43), 0);
	patch_desc(f, f->to_guest.hdr->read_index, 0, VM_PKT_COMP);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EAGAIN);
	assert_int_equal(f->to_guest.hdr->read_index, f->to_guest.hdr->write_index);
}

static void test_malformed(void **state)
{
	Fixture *f = *state;
	uint8_t in[32] = { 0 }, buf[64];
	size_t len;

	assert_int_equal(host_queue(f, in, sizeof(in), 1), 1);
	/* len8 (@4) below offset8 (2) */
	patch_desc(f, 0, 4, 1);
	assert_int_equal(channel_recv(f->ch, wait_irq(f), buf, sizeof(buf), &len), -EBADMSG);
	assert_int_equal(f->to_guest.hdr->read_index, 0);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EBADMSG);

	/* a write_index off the 8-byte grid */
	patch_desc(f, 0, 4, 6);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), 0);
	f->to_guest.hdr->write_index += 4;
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EBADMSG);
}

static void test_oversize(void **state)
{
	Fixture *f = *state;
	uint8_t in[200], small[64], big[200];
	size_t len = 12345;

	fill_pattern(in, sizeof(in), 8);
	assert_int_equal(host_queue(f, in, sizeof(in), 3), 1);
	assert_int_equal(channel_recv(f->ch, wait_irq(f), small, sizeof(small), &len), -ENOBUFS);
	assert_int_equal(len, 12345);
	assert_int_equal(f->to_guest.hdr->read_index, 0);
	assert_int_equal(channel_recv(f->ch, 0, big, sizeof(big), &len), 0);
	assert_int_equal(len, sizeof(in));
	assert_memory_equal(big, in, sizeof(in));
}

static void test_tx_full(void **state)
{
	Fixture *f = *state;
	/* 16 + 1000 + 8 = 1024 bytes a packet; the ring is never filled completely */
	static uint8_t msg[1000];
	unsigned sent = 0;
	uint8_t reply[1024];
	size_t rlen;
	int r;

	while ((r = channel_send(f->ch, msg, sizeof(msg))) == 0)
		sent++;
	assert_int_equal(r, -ENOBUFS);
	assert_int_equal(sent, DATA_SIZE / 1024 - 1);
	for (unsigned i = 0; i < sent; i++)
		assert_int_equal(host_take_signal(f), 1);
	assert_int_equal(host_take_signal(f), -EAGAIN); /* the refused send did not signal */

	assert_int_equal(channel_send(f->ch, msg, DATA_SIZE), -EMSGSIZE);
	assert_int_equal(host_read_reply(f, reply, sizeof(reply), &rlen), 0);
	assert_int_equal(channel_send(f->ch, msg, sizeof(msg)), 0);
	assert_int_equal(host_take_signal(f), 1);
}

static void test_irq_closed(void **state)
{
	Fixture *f = *state;
	uint8_t buf[64];
	size_t len;

	close(f->host_irq);
	f->host_irq = -EBADF;
	assert_int_equal(channel_recv(f->ch, wait_irq(f), buf, sizeof(buf), &len), -ECONNRESET);
	assert_int_equal(channel_recv(f->ch, POLLHUP, buf, sizeof(buf), &len), -EIO);
	assert_int_equal(channel_send(f->ch, buf, 8), -EPIPE);
}

/* A stream socket as interrupt descriptor raises SIGPIPE on a closed peer unless told not to. */
static void test_irq_stream_no_sigpipe(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);
	HvChannel *ch = NULL;
	uint8_t msg[8] = { 0 };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(channel_uio_new_fds(memfd_of_size(4 * page), sv[0], &ch), 0);
	assert_int_equal(channel_connect(ch), 0);
	close(sv[1]);
	assert_int_equal(channel_send(ch, msg, sizeof(msg)), -EPIPE);
	channel_free(ch);
	signal(SIGPIPE, old);
}

static void test_reconnect(void **state)
{
	Fixture *f = *state;
	int fd = channel_get_fd(f->ch);
	uint8_t in[16] = { 5 }, buf[64], reply[64];
	size_t len, rlen;

	assert_int_equal(host_queue(f, in, sizeof(in), 77), 1);
	assert_int_equal(channel_recv(f->ch, wait_irq(f), buf, sizeof(buf), &len), 0);

	channel_disconnect(f->ch);
	assert_int_equal(channel_get_fd(f->ch), -EBADF);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -ENOTCONN);
	assert_int_equal(channel_send(f->ch, buf, 8), -ENOTCONN);
	assert_true(fd_open(fd)); /* handed-over descriptors survive */

	/* queued while disconnected and masked (as the driver does on open): no interrupt */
	set_rx_mask(f, 1);
	assert_int_equal(host_queue(f, in, sizeof(in), 78), 0);
	assert_int_equal(channel_connect(f->ch), 0);
	assert_int_equal(channel_connect(f->ch), -EISCONN);
	assert_int_equal(f->ch->n_connects, 2);
	assert_int_equal(channel_get_fd(f->ch), fd);
	assert_int_equal(rx_mask(f), 0);

	/* a fresh connection has no transaction to echo yet */
	assert_int_equal(channel_send(f->ch, buf, 8), 0);
	assert_int_equal(host_read_reply(f, reply, sizeof(reply), &rlen), 0);
	assert_int_equal(host_take_signal(f), 1);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), 0);
	assert_memory_equal(buf, in, sizeof(in));
	assert_int_equal(channel_send(f->ch, buf, 8), 0);
	assert_int_equal(host_read_reply(f, reply, sizeof(reply), &rlen), 78);

	assert_int_equal(channel_reconnect(f->ch), 0);
	assert_int_equal(f->ch->n_connects, 3);
}

static void test_invalid_sizes(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t bad_rings[] = { 0, 8, page, page + 8, 2 * page + 4, page + page / 2 };
	HvChannel *ch = NULL;
	int sv[2], fd;

	for (size_t i = 0; i < sizeof(bad_rings) / sizeof(bad_rings[0]); i++)
		assert_int_equal(channel_uio_new("/dev/null", bad_rings[i], &ch), -EINVAL);
	assert_int_equal(channel_uio_new(NULL, 2 * page, &ch), -EINVAL);
	assert_int_equal(channel_uio_new("", 2 * page, &ch), -EINVAL);
	assert_null(ch);
	assert_int_equal(channel_uio_new("/dev/null", 2 * page, &ch), 0);
	ch = channel_free(ch);

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(channel_uio_new_fds(-1, sv[0], &ch), -EBADF);
	for (size_t i = 0; i < sizeof(bad_rings) / sizeof(bad_rings[0]); i++) {
		fd = memfd_of_size(2 * bad_rings[i]);
		assert_int_equal(channel_uio_new_fds(fd, sv[0], &ch), -EINVAL);
		assert_true(fd_open(fd)); /* failure leaves both with the caller */
		assert_true(fd_open(sv[0]));
		close(fd);
	}
	fd = memfd_of_size(4 * page + 1); /* odd: no two equal halves */
	assert_int_equal(channel_uio_new_fds(fd, sv[0], &ch), -EINVAL);
	close(fd);
	assert_null(ch);

	/* a file that shrank after new is refused at connect instead of faulting later */
	fd = memfd_of_size(4 * page);
	assert_int_equal(channel_uio_new_fds(fd, sv[0], &ch), 0);
	assert_int_equal(ftruncate(fd, (off_t)(3 * page)), 0);
	assert_int_equal(channel_connect(ch), -EINVAL);
	assert_int_equal(channel_get_fd(ch), -EBADF);
	assert_int_equal(ftruncate(fd, (off_t)(4 * page)), 0);
	assert_int_equal(channel_connect(ch), 0);
	assert_int_equal(channel_get_fd(ch), sv[0]);
	channel_free(ch);
	assert_false(fd_open(fd)); /* taken over and closed by free */
	assert_false(fd_open(sv[0]));
	close(sv[1]);
}

/* The production constructor on a regular file standing in for /dev/uioN (mapping only). */
static void test_dev_path(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), ring = page + DATA_SIZE;
	char dir[] = "/tmp/test-channel-uio-XXXXXX", path[64], missing[64];
	uint8_t in[40], buf[64], *mem;
	HvChannel *ch = NULL;
	uint32_t mask = 1;
	struct stat st, st_fd;
	RingBuf to_guest;
	size_t len;
	int fd, hfd;

	assert_non_null(mkdtemp(dir));
	assert_true(snprintf(path, sizeof(path), "%s/uio0", dir) < (int)sizeof(path));
	assert_true(snprintf(missing, sizeof(missing), "%s/uio1", dir) < (int)sizeof(missing));
	hfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(hfd >= 0);
	assert_int_equal(ftruncate(hfd, (off_t)(2 * ring)), 0);
	assert_int_equal(pwrite(hfd, &mask, sizeof(mask), (off_t)(ring + 8)), sizeof(mask));
	mem = mmap(NULL, 2 * ring, PROT_READ | PROT_WRITE, MAP_SHARED, hfd, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(ringbuf_init(&to_guest, mem + ring, ring, page), 0);

	assert_int_equal(channel_uio_new(missing, ring, &ch), 0);
	assert_int_equal(channel_connect(ch), -ENOENT);
	ch = channel_free(ch);
	/* larger rings than the file holds */
	assert_int_equal(channel_uio_new(path, 2 * ring, &ch), 0);
	assert_int_equal(channel_connect(ch), -EINVAL);
	ch = channel_free(ch);

	assert_int_equal(channel_uio_new(path, ring, &ch), 0);
	assert_int_equal(channel_get_fd(ch), -EBADF); /* opened only by connect */
	assert_int_equal(channel_connect(ch), 0);
	fd = channel_get_fd(ch);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fstat(fd, &st_fd), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st_fd.st_ino, st.st_ino);
	/* RX (second half) unmasked through the shared mapping */
	assert_int_equal(pread(hfd, &mask, sizeof(mask), (off_t)(ring + 8)), sizeof(mask));
	assert_int_equal(mask, 0);
	/* and a packet the host put in the second half is what recv sees */
	fill_pattern(in, sizeof(in), 2);
	assert_int_equal(ringbuf_write_packet(&to_guest, in, sizeof(in), 1, 0), 0);
	assert_int_equal(channel_recv(ch, 0, buf, sizeof(buf), &len), 0);
	assert_memory_equal(buf, in, sizeof(in));

	channel_disconnect(ch);
	assert_int_equal(channel_get_fd(ch), -EBADF);
	assert_false(fd_open(fd)); /* the device is closed on disconnect */
	assert_int_equal(channel_reconnect(ch), 0);
	assert_true(channel_get_fd(ch) >= 0);
	assert_int_equal(ch->n_connects, 2);
	channel_free(ch);

	munmap(mem, 2 * ring);
	close(hfd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_after_one_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_read_only_on_pollin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_while_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recheck_after_unmask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_lost_wakeup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_around, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq_closed, setup, teardown),
		cmocka_unit_test(test_irq_stream_no_sigpipe),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test(test_invalid_sizes),
		cmocka_unit_test(test_dev_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
