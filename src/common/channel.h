/* SPDX-License-Identifier: MIT */
/*
 * HvChannel: the transport seam between a daemon's manager and the guest kernel.
 *
 * One implementation per transport (char device, uio ring). Every
 * implementation carries whole messages: one message per recv, one per send. The manager
 * never touches descriptors directly except to hand channel_get_fd() to the event loop.
 *
 * Non-logging: failures come back as negative errno; the manager decides and logs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

typedef struct HvChannel HvChannel;

/*
 * What a service writes right after open, and how the kernel's reply is checked.
 * The kernel makes a service READY only once that reply has been read, so connect
 * always reads it before returning.
 */
typedef struct HvRegistration {
	const void *msg;   /* registration message, written once per connect */
	size_t msg_len;	   /* 0: nothing is written */
	size_t reply_size; /* exact size the reply must have (KVP 7432, VSS 4, fcopy 4); 0: none */
	uint64_t reply_timeout_usec; /* wait at most this long for the reply */
	/* Validates the reply (called with exactly reply_size bytes); 0 or negative errno. */
	int (*check_reply)(const void *reply, size_t len, void *userdata);
	void *userdata;
} HvRegistration;

typedef struct HvChannelOps {
	const char *name;
	int (*connect)(HvChannel *ch);
	void (*disconnect)(HvChannel *ch);
	int (*recv)(HvChannel *ch, short revents, void *buf, size_t size, size_t *ret_len);
	/* Optional (NULL: -EOPNOTSUPP): see channel_recv_wait(). */
	int (*recv_wait)(HvChannel *ch, uint64_t timeout_usec, void *buf, size_t size,
			 size_t *ret_len);
	int (*send)(HvChannel *ch, const void *buf, size_t len);
	int (*get_fd)(HvChannel *ch);
	void (*free)(HvChannel *ch);
} HvChannelOps;

/* Embedded first in every implementation's private struct. */
struct HvChannel {
	const HvChannelOps *ops;
	unsigned n_connects; /* successful connects, for status and tests */
};

/*
 * A char-device channel on path (e.g. /dev/vmbus/hv_kvp). The node may be anything that
 * gives one message per read/write (a real misc device, a FUSE file, a SEQPACKET socket
 * path is not supported): no S_ISCHR check. reg is copied; reg->msg must outlive the
 * channel.
 */
int channel_chardev_new(const char *path, const HvRegistration *reg, HvChannel **ret);

/*
 * Like channel_chardev_new() but over an already-open descriptor, which the channel takes
 * over (closed by channel_free(); if this call fails, fd stays the caller's). For unit tests
 * (a SOCK_SEQPACKET socketpair) and for descriptors inherited from a simulator.
 * channel_connect() registers on that descriptor; disconnect keeps it open and reconnect
 * re-sends the registration on it instead of reopening.
 */
int channel_chardev_new_fd(int fd, const HvRegistration *reg, HvChannel **ret);

/*
 * uio_hv_generic channel (hyperv-abi.md §8.3-§8.5): ring memory + interrupt descriptor.
 * channel_connect() opens dev_path (e.g. /dev/uio3) O_RDWR|O_CLOEXEC, maps 2 * ring_size
 * bytes MAP_SHARED at offset 0 (first half TX = guest to host, second half RX = host to
 * guest; each a header page of sysconf(_SC_PAGESIZE) bytes, then data) and clears the RX
 * interrupt_mask; disconnect unmaps and closes. ring_size is map 0's size / 2, in bytes; it
 * must exceed the page size and be a multiple of it, else -EINVAL. The descriptor is both
 * the ring and the interrupt descriptor. connect errors: open's or mmap's errno, -EINVAL for
 * a regular file shorter than 2 * ring_size (it would fault later), -EISCONN.
 *
 * channel_recv() reads the 4-byte interrupt count only when revents has POLLIN (-EIO there
 * means the channel was rescinded; end of file -ECONNRESET; POLLERR/POLLHUP without POLLIN
 * -EIO), then returns the next VM_PKT_DATA_INBAND payload (padded to 8 bytes as on the
 * wire), skipping other packet types. When the ring is empty it clears the RX interrupt_mask
 * and looks again, so -EAGAIN means no packet can be queued without an interrupt following:
 * call it until -EAGAIN, and once right after connect (packets queued before the mask was
 * cleared raise no interrupt). -EBADMSG: malformed ring (reconnect); -ENOBUFS: payload
 * larger than size (it stays queued).
 * channel_send() writes one in-band packet carrying the trans_id of the last packet received
 * (0 before any; reset by connect), then writes the int 1 to the interrupt descriptor (clears
 * the RX mask and signals the host). -ENOBUFS when the TX ring lacks room (never blocks),
 * -EMSGSIZE if len can never fit, or the signal write's errno (-EIO: rescinded).
 * channel_get_fd() is the interrupt descriptor.
 */
int channel_uio_new(const char *dev_path, size_t ring_size, HvChannel **ret);

/*
 * Like channel_uio_new() over already-open descriptors, for tests and the simulator seam:
 * ring_fd is a memfd or file of 2 * ring_size bytes (ring_size = st_size / 2, checked as
 * above: -EINVAL), irq_fd behaves like /dev/uioN for 4-byte reads and writes (a
 * SOCK_SEQPACKET socket under test; writes to a socket use MSG_NOSIGNAL). The channel takes
 * both (closed by channel_free(); if this call fails they stay the caller's). Disconnect
 * unmaps but keeps them open; connect maps again. -EBADF for a negative descriptor.
 */
int channel_uio_new_fds(int ring_fd, int irq_fd, HvChannel **ret);

/*
 * Opens and registers: open(O_RDWR|O_CLOEXEC), write the registration message, wait for
 * POLLIN up to reply_timeout_usec, read the reply and check it. Errors: open's errno
 * (-ENOENT, -EBUSY, ...), the write's errno or -EIO for a short write, -ETIMEDOUT, -EBADMSG
 * for a reply of the wrong size, or check_reply's error; -EISCONN if already connected.
 * On error the channel is left disconnected.
 */
int channel_connect(HvChannel *ch);
void channel_disconnect(HvChannel *ch);
/* disconnect + connect: the recovery for any read or write failure. */
int channel_reconnect(HvChannel *ch);

/*
 * Receives one message if one is queued. revents is what the caller's own poll of
 * channel_get_fd() just reported, or 0: without POLLIN in it the channel polls with a zero
 * timeout first, because the kernel ignores O_NONBLOCK and a read with nothing queued would
 * block. Pass POLLIN only straight from a poll that reported it. Returns 0 with
 * *ret_len set, -EAGAIN if nothing is queued, -ENOBUFS if the message is larger than size
 * (the device's EINVAL; it stays queued), -ECONNRESET on end of file, -EIO on POLLERR/POLLHUP
 * without data, -ENOTCONN when disconnected, or the read errno. (A SEQPACKET socket
 * truncates an oversized message instead: size buffers for the largest message.)
 */
int channel_recv(HvChannel *ch, short revents, void *buf, size_t size, size_t *ret_len);
/*
 * Char device only: waits up to timeout_usec (> 0) in a blocking read for the next message,
 * without the poll(2) that channel_recv() needs first. For a burst of messages that follow
 * each other closely (a file transfer): each poll is a round trip to the device's owner, which
 * under a FUSE simulator costs as much as the read itself. The timeout is a one-shot
 * ITIMER_REAL whose SIGALRM (handler installed on first use, without SA_RESTART) ends the
 * read, so the process must be single-threaded or keep SIGALRM blocked in other threads, and
 * must not use ITIMER_REAL itself. Signals the event loop takes through signalfd stay blocked
 * and wait for the read to end (at most timeout_usec). Returns 0 with *ret_len set, -EAGAIN
 * when nothing came in time (or another signal ended the wait), -EOPNOTSUPP for channels
 * without it or when SIGALRM is blocked, -EINVAL for a zero timeout, and channel_recv()'s
 * other errors.
 */
int channel_recv_wait(HvChannel *ch, uint64_t timeout_usec, void *buf, size_t size,
		      size_t *ret_len);
/* Sends one whole message; a short write is -EIO, -ENOTCONN when disconnected. */
int channel_send(HvChannel *ch, const void *buf, size_t len);
/* The descriptor to poll for POLLIN, or -EBADF when disconnected. */
int channel_get_fd(HvChannel *ch);

HvChannel *channel_free(HvChannel *ch);
DEFINE_TRIVIAL_CLEANUP_FUNC(HvChannel *, channel_free);
