/* SPDX-License-Identifier: MIT */
/*
 * VMBus ring arithmetic (hyperv-abi.md §8.4). Ordering: the reader loads write_index with
 * acquire before reading packet bytes and publishes read_index with release after copying them
 * out; the writer mirrors this, so neither side sees bytes the other has not finished with.
 * Every length read from the ring is validated before use: the host is not trusted.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "common/macro.h"
#include "common/ringbuf.h"

_Static_assert(offsetof(HvRingHeader, write_index) == 0, "write_index");
_Static_assert(offsetof(HvRingHeader, read_index) == 4, "read_index");
_Static_assert(offsetof(HvRingHeader, interrupt_mask) == 8, "interrupt_mask");
_Static_assert(offsetof(HvRingHeader, pending_send_sz) == 12, "pending_send_sz");
_Static_assert(offsetof(HvRingHeader, feature_bits) == 64, "feature_bits");

int ringbuf_init(RingBuf *rb, void *mem, size_t total_size, size_t page_size)
{
	size_t data_size;

	if (!rb || !mem)
		return -EINVAL;
	if (page_size < sizeof(HvRingHeader) || (page_size & (page_size - 1)) != 0)
		return -EINVAL;
	if (total_size <= page_size)
		return -EINVAL;
	data_size = total_size - page_size;
	if (data_size % 8 != 0 || data_size > UINT32_MAX)
		return -EINVAL;

	*rb = (RingBuf){
		.hdr = mem,
		.data = (uint8_t *)mem + page_size,
		.data_size = (uint32_t)data_size,
	};
	return 0;
}

static bool index_valid(const RingBuf *rb, uint32_t idx)
{
	return idx < rb->data_size && idx % 8 == 0;
}

/* Bytes from 'from' forward to 'to' around the ring; both already validated. */
static uint32_t ring_distance(const RingBuf *rb, uint32_t from, uint32_t to)
{
	return to >= from ? to - from : rb->data_size - (from - to);
}

/* Copies len (<= data_size) bytes starting at ring offset off (< data_size), with wrap. */
static void copy_from_ring(const RingBuf *rb, uint32_t off, void *dst, size_t len)
{
	size_t first = MIN(len, (size_t)(rb->data_size - off));

	memcpy(dst, rb->data + off, first);
	memcpy((uint8_t *)dst + first, rb->data, len - first);
}

/* Copies len (<= data_size) bytes into the ring at off; returns the offset after them. */
static uint32_t copy_to_ring(RingBuf *rb, uint32_t off, const void *src, size_t len)
{
	size_t first = MIN(len, (size_t)(rb->data_size - off));

	if (len == 0)
		return off;
	memcpy(rb->data + off, src, first);
	memcpy(rb->data, (const uint8_t *)src + first, len - first);
	return (uint32_t)(((uint64_t)off + len) % rb->data_size);
}

static uint32_t load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Our own index: only we write it, so a relaxed load suffices. */
static uint32_t load_own(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

int64_t ringbuf_bytes_to_read(const RingBuf *rb)
{
	uint32_t w = load_acquire(&rb->hdr->write_index);
	uint32_t r = load_own(&rb->hdr->read_index);

	if (!index_valid(rb, w) || !index_valid(rb, r))
		return -EBADMSG;
	return ring_distance(rb, r, w);
}

/* Validates the descriptor at read_index; on success *ret and *ret_read_index are set. */
static int peek_at(const RingBuf *rb, VmPacketDesc *ret, uint32_t *ret_read_index)
{
	uint8_t raw[VM_PKT_DESC_SIZE];
	VmPacketDesc d;
	uint16_t u16[4];
	uint64_t u64, pkt_size;
	uint32_t r;
	int64_t avail;

	avail = ringbuf_bytes_to_read(rb);
	if (avail < 0)
		return (int)avail;
	if (avail == 0)
		return -EAGAIN;
	/* The writer publishes whole packets only: anything shorter is corruption. */
	if (avail < VM_PKT_DESC_SIZE + VM_PKT_TRAILER_SIZE)
		return -EBADMSG;

	r = load_own(&rb->hdr->read_index);
	copy_from_ring(rb, r, raw, sizeof(raw));
	memcpy(u16, raw, sizeof(u16));
	memcpy(&u64, raw + 8, sizeof(u64));
	d = (VmPacketDesc){
		.type = le16toh(u16[0]),
		.offset8 = le16toh(u16[1]),
		.len8 = le16toh(u16[2]),
		.flags = le16toh(u16[3]),
		.trans_id = le64toh(u64),
	};

	if (d.offset8 < VM_PKT_DESC_SIZE / 8 || d.len8 < d.offset8)
		return -EBADMSG;
	pkt_size = (uint64_t)d.len8 * 8 + VM_PKT_TRAILER_SIZE;
	if (pkt_size > (uint64_t)avail)
		return -EBADMSG;

	*ret = d;
	*ret_read_index = r;
	return 0;
}

int ringbuf_peek(const RingBuf *rb, VmPacketDesc *ret)
{
	uint32_t r;

	return peek_at(rb, ret, &r);
}

/* Publishes read_index past the packet d that starts at r (release: we are done with its bytes). */
static void consume(RingBuf *rb, const VmPacketDesc *d, uint32_t r)
{
	r = (uint32_t)(((uint64_t)r + (uint64_t)d->len8 * 8 + VM_PKT_TRAILER_SIZE) % rb->data_size);
	__atomic_store_n(&rb->hdr->read_index, r, __ATOMIC_RELEASE);
}

int ringbuf_skip_packet(RingBuf *rb)
{
	VmPacketDesc d;
	uint32_t r;
	int k;

	k = peek_at(rb, &d, &r);
	if (k < 0)
		return k;
	consume(rb, &d, r);
	return 0;
}

int ringbuf_read_packet(RingBuf *rb, void *buf, size_t size, size_t *ret_len)
{
	VmPacketDesc d;
	uint32_t r, payload_off;
	size_t payload_len;
	int k;

	k = peek_at(rb, &d, &r);
	if (k < 0)
		return k;
	if (d.type != VM_PKT_DATA_INBAND)
		return -EBADMSG;

	/* Lengths come from our validated copy d, never from ring memory the host may rewrite. */
	payload_len = ((size_t)d.len8 - d.offset8) * 8;
	if (payload_len > size)
		return -ENOBUFS;

	payload_off = (uint32_t)(((uint64_t)r + (uint64_t)d.offset8 * 8) % rb->data_size);
	copy_from_ring(rb, payload_off, buf, payload_len);
	consume(rb, &d, r);
	*ret_len = payload_len;
	return 0;
}

int ringbuf_write_packet(RingBuf *rb, const void *payload, size_t len, uint64_t trans_id,
			 uint16_t flags)
{
	static const uint8_t zeros[8];
	uint8_t raw[VM_PKT_DESC_SIZE];
	uint16_t u16[4];
	uint64_t u64, padded, pkt_len, total;
	uint32_t r, w, start, free_bytes;

	if (!payload && len > 0)
		return -EINVAL;

	padded = ((uint64_t)len + 7) & ~UINT64_C(7);
	pkt_len = VM_PKT_DESC_SIZE + padded;
	total = pkt_len + VM_PKT_TRAILER_SIZE;
	/* len8 is a u16 and the ring must keep at least one free byte. */
	if (pkt_len / 8 > UINT16_MAX || total >= rb->data_size)
		return -EMSGSIZE;

	r = load_acquire(&rb->hdr->read_index);
	w = load_own(&rb->hdr->write_index);
	if (!index_valid(rb, r) || !index_valid(rb, w))
		return -EBADMSG;

	/* Free bytes; read == write means empty, so "full" is never reached by writing. */
	free_bytes = rb->data_size - ring_distance(rb, r, w);
	if (total >= free_bytes)
		return -EAGAIN;

	u16[0] = htole16(VM_PKT_DATA_INBAND);
	u16[1] = htole16(VM_PKT_DESC_SIZE / 8);
	u16[2] = htole16((uint16_t)(pkt_len / 8));
	u16[3] = htole16(flags);
	u64 = htole64(trans_id);
	memcpy(raw, u16, sizeof(u16));
	memcpy(raw + 8, &u64, sizeof(u64));

	start = w;
	w = copy_to_ring(rb, w, raw, sizeof(raw));
	w = copy_to_ring(rb, w, payload, len);
	w = copy_to_ring(rb, w, zeros, padded - len);
	/* Trailer: the packet's start offset in the upper 32 bits (readers skip it). */
	u64 = htole64((uint64_t)start << 32);
	w = copy_to_ring(rb, w, &u64, sizeof(u64));

	__atomic_store_n(&rb->hdr->write_index, w, __ATOMIC_RELEASE);
	return 0;
}

void ringbuf_mask_interrupt(RingBuf *rb)
{
	__atomic_store_n(&rb->hdr->interrupt_mask, 1, __ATOMIC_RELEASE);
}

bool ringbuf_unmask_and_pending(RingBuf *rb)
{
	__atomic_store_n(&rb->hdr->interrupt_mask, 0, __ATOMIC_RELEASE);
	/* Store-load ordering: the unmask must be visible before we look at write_index. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ringbuf_bytes_to_read(rb) != 0;
}
