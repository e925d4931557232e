/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ring reader: arbitrary bytes become the indexes and the data area of
 * an exactly sized heap ring (so ASan sees any access past it), then packets are peeked and read
 * until the ring is empty or reported malformed. A write into what is left must keep the ring
 * consistent. Input: u8 page-size selector, u16 caller buffer size, u32 write_index,
 * u32 read_index, data area bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/ringbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IN_HDR 11

static void drain(RingBuf *rb, size_t bufsize)
{
	_cleanup_free_ uint8_t *small = malloc(bufsize ? bufsize : 1);
	_cleanup_free_ uint8_t *big = malloc(rb->data_size);

	assert_se(small && big);
	for (int i = 0; i < 64; i++) {
		uint32_t before = rb->hdr->read_index;
		int64_t avail = ringbuf_bytes_to_read(rb);
		VmPacketDesc d;
		size_t got;
		int r;

		r = ringbuf_peek(rb, &d);
		if (r == -EAGAIN) {
			assert_se(avail == 0);
			return;
		}
		if (r < 0) {
			assert_se(r == -EBADMSG);
			return;
		}
		assert_se(d.offset8 >= 2 && d.len8 >= d.offset8);
		assert_se((int64_t)d.len8 * 8 + 8 <= avail);

		r = ringbuf_read_packet(rb, small, bufsize, &got);
		if (r == -ENOBUFS) {
			assert_se(rb->hdr->read_index == before);
			r = ringbuf_read_packet(rb, big, rb->data_size, &got);
		}
		if (r < 0) {
			assert_se(r == -EBADMSG && d.type != VM_PKT_DATA_INBAND);
			assert_se(rb->hdr->read_index == before);
			return;
		}
		assert_se(got == ((size_t)d.len8 - d.offset8) * 8);
		assert_se(ringbuf_bytes_to_read(rb) == avail - ((int64_t)d.len8 * 8 + 8));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ uint8_t *mem = NULL;
	size_t page, data_size, bufsize;
	uint32_t w, r;
	RingBuf rb;

	if (size < IN_HDR + 8)
		return 0;
	page = (size_t)128 << (data[0] & 3);
	bufsize = (size_t)data[1] | (size_t)data[2] << 8;
	memcpy(&w, data + 3, 4);
	memcpy(&r, data + 7, 4);
	data_size = (size - IN_HDR) / 8 * 8;

	mem = malloc(page + data_size);
	assert_se(mem);
	memset(mem, 0, page);
	memcpy(mem + page, data + IN_HDR, data_size);
	assert_se(ringbuf_init(&rb, mem, page + data_size, page) == 0);
	rb.hdr->write_index = w;
	rb.hdr->read_index = r;

	drain(&rb, bufsize);

	/* Whatever state the reader left, a writer must not corrupt or overrun it. */
	int64_t before = ringbuf_bytes_to_read(&rb);
	size_t len = bufsize % 64;
	int k = ringbuf_write_packet(&rb, data + IN_HDR, MIN(len, size - IN_HDR), 1, 0);

	assert_se(k == 0 || k == -EAGAIN || k == -EMSGSIZE || k == -EBADMSG);
	if (k == 0) {
		VmPacketDesc d;

		assert_se(before >= 0);
		assert_se(ringbuf_bytes_to_read(&rb) ==
			  before + 16 + (int64_t)(len + 7) / 8 * 8 + 8);
		assert_se(ringbuf_bytes_to_read(&rb) < rb.data_size);
		if (before == 0) {
			assert_se(ringbuf_peek(&rb, &d) == 0);
			assert_se(d.trans_id == 1 && d.type == VM_PKT_DATA_INBAND);
		}
	}
	return 0;
}
