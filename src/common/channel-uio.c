/* SPDX-License-Identifier: MIT */
/*
 * HvChannel over uio_hv_generic (hyperv-abi.md §8.3-§8.5): the daemon reads and writes the
 * VMBus rings itself and uses the uio descriptor only for interrupts.
 *
 * Interrupt discipline: on a host interrupt the driver sets the RX interrupt_mask to 1 and
 * bumps the uio event count, so after that no further interrupt comes until we clear the
 * mask. We therefore drain the ring, clear the mask when it looks empty and look again:
 * a packet the host queued while the mask was still set is picked up by that second look,
 * and any later packet raises an interrupt. Writing the int 1 to the descriptor both clears
 * the mask and signals the host, which is what a reply needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/channel.h"
#include "common/ringbuf.h"

typedef struct UioChannel {
	HvChannel ch;	  /* first: the ops recover us by cast */
	char *dev_path;	  /* NULL when wrapping descriptors handed over by the caller */
	size_t ring_size; /* bytes per direction, header page included */
	size_t page_size; /* ring header size: the system page size */
	int ring_fd;	  /* -EBADF while a path channel is disconnected */
	int irq_fd;	  /* == ring_fd for a path channel */
	bool irq_is_socket;
	void *mem; /* 2 * ring_size bytes while connected, else NULL */
	RingBuf tx, rx;
	uint64_t trans_id; /* of the last packet received; echoed by send */
} UioChannel;

static UioChannel *uio(HvChannel *ch)
{
	return (UioChannel *)ch;
}

static size_t system_page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/*
 * Both rings are a header page plus a non-empty data area that ringbuf can index with 32
 * bits; a page multiple keeps the RX half page-aligned (and a multiple of 8).
 */
static bool ring_size_valid(size_t ring_size, size_t page_size)
{
	return ring_size > page_size && ring_size % page_size == 0 &&
	       ring_size - page_size <= UINT32_MAX && ring_size <= SIZE_MAX / 2;
}

static void uio_unmap(UioChannel *c)
{
	if (c->mem)
		(void)munmap(c->mem, 2 * c->ring_size);
	c->mem = NULL;
	c->tx = c->rx = (RingBuf){ 0 };
}

static void uio_disconnect(HvChannel *ch)
{
	UioChannel *c = uio(ch);

	uio_unmap(c);
	/* handed-over descriptors cannot be reopened, so they stay open until free */
	if (c->dev_path) {
		c->ring_fd = safe_close(c->ring_fd);
		c->irq_fd = -EBADF;
	}
}

/* Maps both rings from the open ring_fd and clears the RX interrupt_mask. */
static int uio_map(UioChannel *c)
{
	struct stat st;
	void *mem;
	int r;

	if (fstat(c->ring_fd, &st) < 0)
		return negative_errno();
	/* a file shorter than the mapping would SIGBUS on access (uio nodes report size 0) */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < 2 * (uint64_t)c->ring_size)
		return -EINVAL;
	if (fstat(c->irq_fd, &st) < 0)
		return negative_errno();
	c->irq_is_socket = S_ISSOCK(st.st_mode);

	mem = mmap(NULL, 2 * c->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->ring_fd, 0);
	if (mem == MAP_FAILED)
		return negative_errno();
	c->mem = mem;
	r = ringbuf_init(&c->tx, mem, c->ring_size, c->page_size);
	if (r >= 0)
		r = ringbuf_init(&c->rx, (uint8_t *)mem + c->ring_size, c->ring_size, c->page_size);
	if (r < 0) {
		uio_unmap(c);
		return r;
	}
	/* the driver masks RX on open; whatever is already queued is found by the first recv */
	(void)ringbuf_unmask_and_pending(&c->rx);
	return 0;
}

static int uio_connect(HvChannel *ch)
{
	UioChannel *c = uio(ch);
	int r;

	if (c->mem)
		return -EISCONN;
	if (c->dev_path) {
		c->ring_fd = open(c->dev_path, O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (c->ring_fd < 0) {
			r = negative_errno();
			c->ring_fd = -EBADF;
			return r;
		}
		c->irq_fd = c->ring_fd;
	}
	r = uio_map(c);
	if (r < 0) {
		uio_disconnect(ch);
		return r;
	}
	c->trans_id = 0;
	ch->n_connects++;
	return 0;
}

/* Consumes the 4-byte interrupt count (its value does not matter: we drain the ring anyway). */
static int read_interrupt(UioChannel *c)
{
	uint32_t count;
	ssize_t n;

	do
		n = read(c->irq_fd, &count, sizeof(count));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		/* EAGAIN: a non-blocking descriptor with nothing after all; the ring decides */
		return errno == EAGAIN ? 0 : negative_errno();
	if (n == 0)
		return -ECONNRESET;
	return n == sizeof(count) ? 0 : -EIO;
}

static int uio_recv(HvChannel *ch, short revents, void *buf, size_t size, size_t *ret_len)
{
	UioChannel *c = uio(ch);
	VmPacketDesc d;
	int r;

	if (!c->mem)
		return -ENOTCONN;
	if (revents & POLLIN) {
		r = read_interrupt(c);
		if (r < 0)
			return r;
	} else if (revents & POLLNVAL) {
		return -EBADF;
	} else if (revents & (POLLERR | POLLHUP)) {
		return -EIO;
	}

	for (;;) {
		r = ringbuf_peek(&c->rx, &d);
		if (r == -EAGAIN) {
			/* also true on corrupt indexes, which the next peek reports */
			if (!ringbuf_unmask_and_pending(&c->rx))
				return -EAGAIN;
			continue;
		}
		if (r < 0)
			return r;
		if (d.type == VM_PKT_DATA_INBAND)
			break;
		/* completions and other types carry nothing for an IC daemon */
		r = ringbuf_skip_packet(&c->rx);
		if (r < 0)
			return r;
	}
	r = ringbuf_read_packet(&c->rx, buf, size, ret_len);
	if (r < 0)
		return r;
	c->trans_id = d.trans_id;
	return 0;
}

/* Writes the int 1: the driver clears the RX interrupt_mask and signals the host. */
static int signal_host(UioChannel *c)
{
	int32_t one = 1;
	ssize_t n;

	do
		/* a host end that went away must not kill us with SIGPIPE */
		n = c->irq_is_socket ? send(c->irq_fd, &one, sizeof(one), MSG_NOSIGNAL)
				     : write(c->irq_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	return n == sizeof(one) ? 0 : -EIO;
}

static int uio_send(HvChannel *ch, const void *buf, size_t len)
{
	UioChannel *c = uio(ch);
	int r;

	if (!c->mem)
		return -ENOTCONN;
	r = ringbuf_write_packet(&c->tx, buf, len, c->trans_id, 0);
	if (r == -EAGAIN)
		return -ENOBUFS;
	if (r < 0)
		return r;
	return signal_host(c);
}

static int uio_get_fd(HvChannel *ch)
{
	UioChannel *c = uio(ch);

	return c->mem ? c->irq_fd : -EBADF;
}

static void uio_free(HvChannel *ch)
{
	UioChannel *c = uio(ch);

	uio_disconnect(ch);
	if (c->irq_fd != c->ring_fd)
		safe_close(c->irq_fd);
	safe_close(c->ring_fd);
	free(c->dev_path);
	free(c);
}

static const HvChannelOps uio_ops = {
	.name = "uio",
	.connect = uio_connect,
	.disconnect = uio_disconnect,
	.recv = uio_recv,
	.send = uio_send,
	.get_fd = uio_get_fd,
	.free = uio_free,
};

static int uio_new(size_t ring_size, UioChannel **ret)
{
	size_t page_size = system_page_size();
	UioChannel *c;

	if (!ring_size_valid(ring_size, page_size))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ch.ops = &uio_ops;
	c->ring_size = ring_size;
	c->page_size = page_size;
	c->ring_fd = c->irq_fd = -EBADF;
	*ret = c;
	return 0;
}

int channel_uio_new(const char *dev_path, size_t ring_size, HvChannel **ret)
{
	UioChannel *c;
	int r;

	if (!dev_path || !*dev_path)
		return -EINVAL;
	r = uio_new(ring_size, &c);
	if (r < 0)
		return r;
	c->dev_path = strdup(dev_path);
	if (!c->dev_path) {
		free(c);
		return -ENOMEM;
	}
	*ret = &c->ch;
	return 0;
}

int channel_uio_new_fds(int ring_fd, int irq_fd, HvChannel **ret)
{
	struct stat st;
	UioChannel *c;
	int r;

	if (ring_fd < 0 || irq_fd < 0)
		return -EBADF;
	if (fstat(ring_fd, &st) < 0)
		return negative_errno();
	if (st.st_size <= 0 || st.st_size % 2 != 0)
		return -EINVAL;
	r = uio_new((size_t)st.st_size / 2, &c);
	if (r < 0)
		return r;
	c->ring_fd = ring_fd;
	c->irq_fd = irq_fd;
	*ret = &c->ch;
	return 0;
}
