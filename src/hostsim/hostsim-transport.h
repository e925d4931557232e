/* SPDX-License-Identifier: MIT */
/*
 * Model of the guest kernel's hv_utils character-device transport
 * (drivers/hv/hv_utils_transport.c, hyperv-abi.md §3): one opener at a time, a single
 * kernel -> daemon message slot with an "on read" hook, one message per read and per
 * write, release dropping the unread message and resetting the service.
 *
 * Pure logic shared by every emulated service (KVP, VSS; fcopy later). A back-end
 * (FUSE, socket) maps file operations onto these calls and is told through the "queued"
 * hook when a message becomes readable, so that it can complete parked reads and poll
 * waiters. Not thread-safe: the owner serialises all calls with its own lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The kernel's largest message is 7432 bytes (KVP); raw tests may queue up to this much. */
#define HS_TRANSPORT_MSG_MAX 16384u

typedef struct HsServiceOps {
	/* One daemon write (the whole buffer). Returns 0 or a negative errno for write(). */
	int (*on_msg)(void *svc, const void *buf, size_t len);
	/* The device was released; the queued message is already gone. */
	void (*on_reset)(void *svc);
} HsServiceOps;

/* Runs once, right after the daemon has read the message it was queued with. */
typedef void (*HsOnRead)(void *svc);

typedef struct HsTransport {
	const HsServiceOps *ops;
	void *svc;
	void (*queued)(void *backend); /* a message became readable */
	void *backend;

	bool open; /* CHARDEV mode: a daemon holds the device */
	/*
	 * The process holding the device (thread group id) and its session id (the simulator
	 * starts every daemon as a session leader), as seen from the simulator's PID namespace.
	 * Filled in by the back-end after a successful open; 0 = unknown.
	 */
	pid_t opener_pid, opener_sid;
	bool has_msg;
	size_t msg_len;
	HsOnRead on_read;

	/* Counters for tests of the reopen and EBUSY paths. */
	unsigned opens, ebusy, releases, reads, writes, einval_writes;

	uint8_t msg[HS_TRANSPORT_MSG_MAX];
} HsTransport;

/* Initialises t (INIT mode, nothing queued) for the service svc. */
void hs_transport_init(HsTransport *t, const HsServiceOps *ops, void *svc);

/* Installs the back-end's "message queued" hook. */
void hs_transport_set_backend(HsTransport *t, void (*queued)(void *backend), void *backend);

/* open(): 0, or -EBUSY while another opener holds the device. */
int hs_transport_open(HsTransport *t);

/* release(): back to INIT, drops any unread message, forgets the opener, runs the reset. */
void hs_transport_release(HsTransport *t);

/*
 * read(): copies the queued message into buf and runs its on-read hook; returns its length.
 * -EAGAIN when nothing is queued (the back-end parks the read: the kernel blocks, even
 * with O_NONBLOCK); -EINVAL when size is smaller than the message, which stays queued.
 */
ssize_t hs_transport_read(HsTransport *t, void *buf, size_t size);

/* write(): hands the buffer to the service; returns len or the service's negative errno. */
ssize_t hs_transport_write(HsTransport *t, const void *buf, size_t len);

/* poll(): true while a message is queued (POLLIN|POLLRDNORM; never POLLOUT). */
bool hs_transport_readable(const HsTransport *t);

/*
 * Kernel side (hvutil_transport_send): queues msg with an optional on-read hook.
 * -EINVAL when no daemon holds the device, -EFAULT when the previous message is still
 * unread, -EMSGSIZE when len exceeds HS_TRANSPORT_MSG_MAX.
 */
int hs_transport_send(HsTransport *t, const void *msg, size_t len, HsOnRead on_read);
