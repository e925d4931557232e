/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/macro.h"
#include "common/ringbuf.h"

static const size_t page_4k = 4096;
static const size_t page_64k = 65536;

/* A ring of one header page plus data_size bytes, zeroed like a freshly opened channel. */
static void *ring_new(RingBuf *rb, size_t page_size, size_t data_size)
{
	void *mem = NULL;

	assert_int_equal(posix_memalign(&mem, page_size, page_size + data_size), 0);
	memset(mem, 0, page_size + data_size);
	assert_int_equal(ringbuf_init(rb, mem, page_size + data_size, page_size), 0);
	return mem;
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

/* Places a raw descriptor at offset off of the data area and publishes write_index = end. */
static void put_raw(RingBuf *rb, uint32_t off, uint16_t type, uint16_t offset8, uint16_t len8,
		    uint32_t end)
{
	uint16_t f[4] = { type, offset8, len8, 0 };

	memcpy(rb->data + off, f, sizeof(f));
	memset(rb->data + off + 8, 0xab, 8);
	rb->hdr->read_index = off;
	rb->hdr->write_index = end;
}

static void test_init_rejects(void **state)
{
	_Alignas(64) static uint8_t mem[8192];
	RingBuf rb;

	assert_int_equal(ringbuf_init(&rb, mem, 8192, 4096), 0);
	assert_int_equal(rb.data_size, 4096);
	assert_ptr_equal(rb.data, mem + 4096);
	assert_int_equal(ringbuf_init(&rb, mem, 4096, 4096), -EINVAL);
	assert_int_equal(ringbuf_init(&rb, mem, 8192, 3000), -EINVAL);
	assert_int_equal(ringbuf_init(&rb, mem, 8192, 64), -EINVAL); /* smaller than the header */
	assert_int_equal(ringbuf_init(&rb, mem, 4096 + 12, 4096), -EINVAL);
	assert_int_equal(ringbuf_init(&rb, NULL, 8192, 4096), -EINVAL);
}

static void test_round_trip(void **state)
{
	size_t page = *(const size_t *)*state;
	static const size_t lens[] = { 0, 1, 7, 8, 9, 100, 1000 };
	_cleanup_free_ void *mem = NULL;
	uint8_t in[1000], out[1024];
	RingBuf rb;

	mem = ring_new(&rb, page, 16384);
	for (size_t i = 0; i < ELEMENTSOF(lens); i++) {
		VmPacketDesc d;
		uint32_t start = rb.hdr->write_index;
		size_t padded = (lens[i] + 7) / 8 * 8, got = 12345;
		uint64_t trailer;

		fill_pattern(in, lens[i], (uint32_t)i);
		assert_int_equal(ringbuf_write_packet(&rb, in, lens[i], 1000 + i, 1), 0);
		assert_int_equal(rb.hdr->write_index, start + 16 + padded + 8);
		memcpy(&trailer, rb.data + start + 16 + padded, 8);
		assert_int_equal(trailer >> 32, start);
		assert_int_equal(ringbuf_bytes_to_read(&rb), 16 + padded + 8);

		assert_int_equal(ringbuf_peek(&rb, &d), 0);
		assert_int_equal(d.type, VM_PKT_DATA_INBAND);
		assert_int_equal(d.offset8, 2);
		assert_int_equal(d.len8, (16 + padded) / 8);
		assert_int_equal(d.flags, 1);
		assert_int_equal(d.trans_id, 1000 + i);

		memset(out, 0xee, sizeof(out));
		assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
		assert_int_equal(got, padded);
		assert_memory_equal(out, in, lens[i]);
		for (size_t j = lens[i]; j < padded; j++)
			assert_int_equal(out[j], 0);
		assert_int_equal(rb.hdr->read_index, rb.hdr->write_index);
		assert_int_equal(ringbuf_peek(&rb, &d), -EAGAIN);
		assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), -EAGAIN);
	}
}

static void test_wrap_around(void **state)
{
	size_t page = *(const size_t *)*state;
	_cleanup_free_ void *mem = NULL;
	uint8_t in[64], out[64];
	RingBuf rb;
	size_t got;

	mem = ring_new(&rb, page, 256);

	/* Descriptor in the last 16 bytes, payload and trailer wrapped to the start. */
	rb.hdr->read_index = rb.hdr->write_index = 240;
	fill_pattern(in, 40, 99);
	assert_int_equal(ringbuf_write_packet(&rb, in, 40, 7, 0), 0);
	assert_int_equal(rb.hdr->write_index, (240 + 64) % 256);
	assert_memory_equal(rb.data, in, 40);
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
	assert_int_equal(got, 40);
	assert_memory_equal(out, in, 40);
	assert_int_equal(rb.hdr->read_index, 48);

	/* Descriptor itself split across the end. */
	rb.hdr->read_index = rb.hdr->write_index = 248;
	assert_int_equal(ringbuf_write_packet(&rb, in, 24, 8, 0), 0);
	VmPacketDesc d;
	assert_int_equal(ringbuf_peek(&rb, &d), 0);
	assert_int_equal(d.trans_id, 8);
	assert_int_equal(d.len8, 5);
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
	assert_memory_equal(out, in, 24);

	/* Many packets of varying size cross the end repeatedly. */
	for (uint32_t i = 0; i < 500; i++) {
		size_t len = i % 57;

		fill_pattern(in, len, i);
		assert_int_equal(ringbuf_write_packet(&rb, in, len, i, 0), 0);
		assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
		assert_int_equal(got, (len + 7) / 8 * 8);
		assert_memory_equal(out, in, len);
	}
}

static void test_full_ring(void **state)
{
	_cleanup_free_ void *mem = NULL, *snap = NULL;
	uint8_t in[200] = { 0 }, out[64];
	RingBuf rb;
	size_t got;

	mem = ring_new(&rb, page_4k, 256);
	snap = malloc(page_4k + 256);
	assert_non_null(snap);

	/* Three 64-byte packets (16 + 40 + 8) use 192 of 256 bytes. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ringbuf_write_packet(&rb, in, 40, i, 0), 0);
	/* A fourth would fill the ring exactly: refused, nothing written. */
	memcpy(snap, mem, page_4k + 256);
	assert_int_equal(ringbuf_write_packet(&rb, in, 40, 3, 0), -EAGAIN);
	assert_memory_equal(snap, mem, page_4k + 256);
	/* 56 bytes leave 8 free. */
	assert_int_equal(ringbuf_write_packet(&rb, in, 32, 3, 0), 0);
	assert_int_equal(ringbuf_bytes_to_read(&rb), 248);
	assert_int_equal(ringbuf_write_packet(&rb, in, 0, 4, 0), -EAGAIN);
	/* 200 bytes (224 on the ring) would fit an empty ring; 232 (256) never can. */
	assert_int_equal(ringbuf_write_packet(&rb, in, 200, 5, 0), -EAGAIN);
	assert_int_equal(ringbuf_write_packet(&rb, in, 232, 5, 0), -EMSGSIZE);

	/* Reading frees space again. */
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
	assert_int_equal(ringbuf_write_packet(&rb, in, 40, 6, 0), 0);
	/* Packet 0 was read; 1, 2, 3 and 6 follow in order; the refused ones left no trace. */
	static const uint64_t ids[] = { 1, 2, 3, 6 };
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		VmPacketDesc d;

		assert_int_equal(ringbuf_peek(&rb, &d), 0);
		assert_int_equal(d.trans_id, ids[i]);
		assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
	}
	assert_int_equal(ringbuf_bytes_to_read(&rb), 0);
}

static void test_malformed(void **state)
{
	_cleanup_free_ void *mem = NULL;
	uint8_t out[256];
	VmPacketDesc d;
	RingBuf rb;
	size_t got;

	mem = ring_new(&rb, page_4k, 256);

	/* len8 < offset8 */
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 4, 3, 64);
	assert_int_equal(ringbuf_peek(&rb, &d), -EBADMSG);
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), -EBADMSG);
	assert_int_equal(rb.hdr->read_index, 0);

	/* offset8 < 2: payload would overlap the descriptor */
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 1, 4, 64);
	assert_int_equal(ringbuf_peek(&rb, &d), -EBADMSG);
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 0, 0, 64);
	assert_int_equal(ringbuf_peek(&rb, &d), -EBADMSG);

	/* Packet + trailer longer than what the writer published: 7 * 8 + 8 = 64 > 56 */
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 2, 7, 56);
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), -EBADMSG);
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 2, 0xffff, 248);
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), -EBADMSG);
	/* ...but exactly fitting is fine */
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 2, 7, 64);
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
	assert_int_equal(got, 40);
	assert_int_equal(rb.hdr->read_index, 64);

	/* Truncated: fewer bytes than a descriptor and trailer */
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 2, 2, 16);
	assert_int_equal(ringbuf_peek(&rb, &d), -EBADMSG);
	assert_int_equal(rb.hdr->read_index, 0);

	/* Indexes out of range or not 8-byte aligned */
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 2, 2, 256);
	assert_int_equal(ringbuf_peek(&rb, &d), -EBADMSG);
	put_raw(&rb, 0, VM_PKT_DATA_INBAND, 2, 2, 28);
	assert_int_equal(ringbuf_peek(&rb, &d), -EBADMSG);
	rb.hdr->read_index = 4;
	assert_int_equal(ringbuf_bytes_to_read(&rb), -EBADMSG);
	assert_int_equal(ringbuf_write_packet(&rb, out, 8, 0, 0), -EBADMSG);

	/* A well-formed packet of another type: peekable, but not consumed as in-band data */
	put_raw(&rb, 0, VM_PKT_COMP, 2, 2, 24);
	assert_int_equal(ringbuf_peek(&rb, &d), 0);
	assert_int_equal(d.type, VM_PKT_COMP);
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), -EBADMSG);
	assert_int_equal(rb.hdr->read_index, 0);
}

static void test_skip(void **state)
{
	_cleanup_free_ void *mem = NULL;
	uint8_t in[40], out[64];
	VmPacketDesc d;
	RingBuf rb;
	size_t got;

	mem = ring_new(&rb, page_4k, 256);
	assert_int_equal(ringbuf_skip_packet(&rb), -EAGAIN);

	/* A completion (16 + 8 bytes + trailer) followed by an in-band packet: skip the first. */
	put_raw(&rb, 0, VM_PKT_COMP, 2, 3, 32);
	fill_pattern(in, sizeof(in), 3);
	rb.hdr->write_index = 32;
	assert_int_equal(ringbuf_write_packet(&rb, in, sizeof(in), 77, 0), 0);
	assert_int_equal(ringbuf_skip_packet(&rb), 0);
	assert_int_equal(rb.hdr->read_index, 32);
	assert_int_equal(ringbuf_peek(&rb, &d), 0);
	assert_int_equal(d.trans_id, 77);
	assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
	assert_memory_equal(out, in, sizeof(in));

	/* In-band packets can be skipped too, also across the end of the data area. */
	rb.hdr->read_index = rb.hdr->write_index = 240;
	assert_int_equal(ringbuf_write_packet(&rb, in, sizeof(in), 78, 0), 0);
	assert_int_equal(ringbuf_skip_packet(&rb), 0);
	assert_int_equal(rb.hdr->read_index, (240 + 64) % 256);
	assert_int_equal(ringbuf_skip_packet(&rb), -EAGAIN);

	/* Malformed: nothing consumed. */
	put_raw(&rb, 0, VM_PKT_COMP, 4, 3, 64);
	assert_int_equal(ringbuf_skip_packet(&rb), -EBADMSG);
	assert_int_equal(rb.hdr->read_index, 0);
}

static void test_oversize(void **state)
{
	_cleanup_free_ void *mem = NULL;
	uint8_t in[100], out[100];
	RingBuf rb;
	size_t got = 77;

	mem = ring_new(&rb, page_4k, 1024);
	fill_pattern(in, sizeof(in), 5);
	assert_int_equal(ringbuf_write_packet(&rb, in, 100, 9, 0), 0);
	/* 100 bytes pad to 104 on the wire */
	assert_int_equal(ringbuf_read_packet(&rb, out, 100, &got), -ENOBUFS);
	assert_int_equal(got, 77);
	assert_int_equal(rb.hdr->read_index, 0);

	uint8_t big[104];
	assert_int_equal(ringbuf_read_packet(&rb, big, sizeof(big), &got), 0);
	assert_int_equal(got, 104);
	assert_memory_equal(big, in, 100);
}

static void test_interrupt_mask(void **state)
{
	_cleanup_free_ void *mem = NULL;
	uint8_t in[8] = { 0 };
	RingBuf rb;

	mem = ring_new(&rb, page_4k, 256);
	ringbuf_mask_interrupt(&rb);
	assert_int_equal(rb.hdr->interrupt_mask, 1);
	assert_false(ringbuf_unmask_and_pending(&rb));
	assert_int_equal(rb.hdr->interrupt_mask, 0);

	ringbuf_mask_interrupt(&rb);
	assert_int_equal(ringbuf_write_packet(&rb, in, sizeof(in), 1, 0), 0);
	assert_true(ringbuf_unmask_and_pending(&rb));
	assert_int_equal(rb.hdr->interrupt_mask, 0);
}

#define N_PACKETS 100000

typedef struct ThreadCtx {
	RingBuf rb;
} ThreadCtx;

static size_t packet_len(uint32_t i)
{
	return 4 + i % 301;
}

static void *writer_thread(void *arg)
{
	ThreadCtx *ctx = arg;
	uint8_t buf[512];

	for (uint32_t i = 0; i < N_PACKETS; i++) {
		size_t len = packet_len(i);
		int r;

		memcpy(buf, &i, sizeof(i));
		fill_pattern(buf + 4, len - 4, i);
		while ((r = ringbuf_write_packet(&ctx->rb, buf, len, i, 0)) == -EAGAIN)
			sched_yield();
		if (r < 0)
			return (void *)(intptr_t)r;
	}
	return NULL;
}

static void test_threads(void **state)
{
	_cleanup_free_ void *mem = NULL;
	uint8_t out[512], expect[512];
	ThreadCtx ctx;
	RingBuf rb;
	pthread_t t;
	void *res;

	mem = ring_new(&rb, page_4k, 16384);
	ctx.rb = rb;
	assert_int_equal(pthread_create(&t, NULL, writer_thread, &ctx), 0);

	for (uint32_t i = 0; i < N_PACKETS; i++) {
		size_t len = packet_len(i), got;
		VmPacketDesc d;
		uint32_t seq;
		int r;

		while ((r = ringbuf_peek(&rb, &d)) == -EAGAIN)
			sched_yield();
		assert_int_equal(r, 0);
		assert_int_equal(d.trans_id, i);
		assert_int_equal(ringbuf_read_packet(&rb, out, sizeof(out), &got), 0);
		assert_int_equal(got, (len + 7) / 8 * 8);
		memcpy(&seq, out, sizeof(seq));
		assert_int_equal(seq, i);
		fill_pattern(expect, len - 4, i);
		assert_memory_equal(out + 4, expect, len - 4);
	}
	assert_int_equal(pthread_join(t, &res), 0);
	assert_null(res);
	assert_int_equal(ringbuf_bytes_to_read(&rb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test_prestate(test_round_trip, (void *)&page_4k),
		cmocka_unit_test_prestate(test_round_trip, (void *)&page_64k),
		cmocka_unit_test_prestate(test_wrap_around, (void *)&page_4k),
		cmocka_unit_test_prestate(test_wrap_around, (void *)&page_64k),
		cmocka_unit_test(test_full_ring),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_interrupt_mask),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
