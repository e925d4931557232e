/* SPDX-License-Identifier: MIT */
/*
 * VMBus ring buffer (struct hv_ring_buffer, hyperv-abi.md §8.4) as mapped by uio_hv_generic:
 * a header page followed by a data area that packets wrap around. Pure position arithmetic and
 * copies; no I/O. The indexes are shared with the host and accessed with acquire/release atomics.
 * One RingBuf has one reader or one writer on our side (RX ring: reader, TX ring: writer).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* vmpacket_descriptor.type values (§2.1). */
#define VM_PKT_DATA_INBAND 0x6
#define VM_PKT_DATA_USING_XFER_PAGES 0x7
#define VM_PKT_DATA_USING_GPA_DIRECT 0x9
#define VM_PKT_COMP 0xb

#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 0x1

/* Size of the packet descriptor and of the trailing index, in bytes. */
#define VM_PKT_DESC_SIZE 16
#define VM_PKT_TRAILER_SIZE 8

/* Byte layout of the shared ring header (first page of each ring). */
typedef struct HvRingHeader {
	uint32_t write_index;	  /* byte offset into the data area */
	uint32_t read_index;	  /* byte offset into the data area */
	uint32_t interrupt_mask;  /* 1: the other side must not interrupt the reader */
	uint32_t pending_send_sz; /* bytes the writer waits for; 0: not waiting */
	uint32_t reserved[12];
	uint32_t feature_bits; /* bit 0: feat_pending_send_sz */
} HvRingHeader;

/* A decoded packet descriptor (§2.1); lengths in 8-byte units as on the wire. */
typedef struct VmPacketDesc {
	uint16_t type;
	uint16_t offset8;
	uint16_t len8;
	uint16_t flags;
	uint64_t trans_id;
} VmPacketDesc;

typedef struct RingBuf {
	HvRingHeader *hdr;
	uint8_t *data;
	uint32_t data_size; /* bytes, a multiple of 8 */
} RingBuf;

/*
 * Describes one ring of total_size bytes at mem: the header occupies the first page_size bytes,
 * the data area the rest. page_size must be a power of two >= sizeof(HvRingHeader); the data area
 * must be non-empty, a multiple of 8 and below 4 GiB. Does not touch the memory.
 * Returns 0 or -EINVAL.
 */
int ringbuf_init(RingBuf *rb, void *mem, size_t total_size, size_t page_size);

/*
 * Bytes available to the reader (write_index - read_index, modulo the data size). Returns them
 * (>= 0) or -EBADMSG if an index is out of range or not 8-byte aligned.
 */
int64_t ringbuf_bytes_to_read(const RingBuf *rb);

/*
 * Decodes and validates the next packet's descriptor without consuming it: offset8 >= 2,
 * len8 >= offset8, and the packet plus its 8-byte trailer within the available bytes.
 * Returns 0 and fills *ret, -EAGAIN if the ring is empty, -EBADMSG if the ring or the descriptor
 * is malformed (the ring is then unusable; reset the channel).
 */
int ringbuf_peek(const RingBuf *rb, VmPacketDesc *ret);

/*
 * Consumes the next packet, which must be VM_PKT_DATA_INBAND: copies its payload
 * ((len8 - offset8) * 8 bytes, including the sender's padding) into buf, sets *ret_len and
 * advances read_index past the packet and its trailer (release). Call ringbuf_peek() first to
 * learn the transaction id. Returns 0, -EAGAIN (empty), -EBADMSG (malformed or another packet
 * type; nothing consumed) or -ENOBUFS (payload larger than size; the packet stays in place).
 */
int ringbuf_read_packet(RingBuf *rb, void *buf, size_t size, size_t *ret_len);

/*
 * Consumes the next packet whatever its type (e.g. a VM_PKT_COMP the reader has no use for),
 * after the same validation as ringbuf_peek(): advances read_index past the packet and its
 * trailer (release) without copying anything. Returns 0, -EAGAIN (empty) or -EBADMSG
 * (malformed; nothing consumed).
 */
int ringbuf_skip_packet(RingBuf *rb);

/*
 * Appends one VM_PKT_DATA_INBAND packet: 16-byte descriptor, payload, zero padding to 8 bytes,
 * and the trailer (start offset in the upper 32 bits), then publishes write_index (release).
 * The ring is never filled completely. Returns 0, -EAGAIN (not enough free space; nothing
 * written), -EMSGSIZE (can never fit this ring or len8) or -EBADMSG (indexes corrupt).
 */
int ringbuf_write_packet(RingBuf *rb, const void *payload, size_t len, uint64_t trans_id,
			 uint16_t flags);

/* Asks the other side not to interrupt us (interrupt_mask = 1). */
void ringbuf_mask_interrupt(RingBuf *rb);

/*
 * Unmasks interrupts, then (after a full barrier, so the host either sees the unmask or we see
 * its data) re-checks the ring. Returns true if data is waiting, in which case the caller must
 * drain it rather than sleep, since no interrupt may come for it.
 */
bool ringbuf_unmask_and_pending(RingBuf *rb);
