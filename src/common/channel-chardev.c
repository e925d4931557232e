/* SPDX-License-Identifier: MIT */
/*
 * HvChannel over the hv_utils character devices (hyperv-abi.md §3), plus the generic
 * channel_*() dispatchers.
 *
 * Kernel rules this file is built around: one message per read and per write; read blocks
 * even with O_NONBLOCK, so always poll first; a read into a too-small buffer fails with
 * EINVAL and leaves the message queued; poll never reports POLLOUT (writes are always
 * accepted); the service is READY only once the registration reply has been read.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/channel.h"

/* Reply buffer floor: larger than any reply, so an oversized reply is seen, not EINVAL. */
#define REPLY_BUFFER_MIN 8192

typedef struct ChardevChannel {
	HvChannel ch; /* first: the ops recover us by cast */
	char *path;   /* NULL when wrapping an inherited descriptor */
	int fd;	      /* open descriptor, or -EBADF when a path channel is disconnected */
	bool connected;
	bool alarm_ready; /* our SIGALRM handler is installed (recv_wait) */
	HvRegistration reg;
} ChardevChannel;

static ChardevChannel *chardev(HvChannel *ch)
{
	return (ChardevChannel *)ch;
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Waits for POLLIN up to timeout_usec, retrying EINTR with the remaining time. */
static int wait_readable(int fd, uint64_t timeout_usec)
{
	uint64_t deadline = monotonic_usec() + timeout_usec;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = monotonic_usec(), left = deadline > now ? deadline - now : 0;
		/* round up so that a sub-millisecond remainder still waits */
		uint64_t ms = (left + 999) / 1000;
		int r = poll(&p, 1, ms > INT32_MAX ? INT32_MAX : (int)ms);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (r == 0) {
			if (monotonic_usec() >= deadline)
				return -ETIMEDOUT;
			continue;
		}
		if (p.revents & POLLIN)
			return 0;
		if (p.revents & POLLNVAL)
			return -EBADF;
		return -EIO; /* POLLERR/POLLHUP: the driver is going away */
	}
}

static int write_message(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	return (size_t)n == len ? 0 : -EIO;
}

static ssize_t read_message(int fd, void *buf, size_t size)
{
	ssize_t n;

	do
		n = read(fd, buf, size);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EINVAL ? -ENOBUFS : negative_errno();
	if (n == 0)
		return -ECONNRESET; /* the device never sends empty messages: peer gone */
	return n;
}

/* Writes the registration and reads and checks the reply on an open descriptor. */
static int do_register(ChardevChannel *c)
{
	const HvRegistration *reg = &c->reg;
	_cleanup_free_ void *reply = NULL;
	size_t size;
	ssize_t n;
	int r;

	if (reg->msg_len > 0) {
		r = write_message(c->fd, reg->msg, reg->msg_len);
		if (r < 0)
			return r;
	}
	if (reg->reply_size == 0)
		return 0;

	r = wait_readable(c->fd, reg->reply_timeout_usec);
	if (r < 0)
		return r;
	size = MAX(reg->reply_size, (size_t)REPLY_BUFFER_MIN);
	reply = calloc(1, size);
	if (!reply)
		return -ENOMEM;
	n = read_message(c->fd, reply, size);
	if (n < 0)
		return n == -ENOBUFS ? -EBADMSG : (int)n;
	if ((size_t)n != reg->reply_size)
		return -EBADMSG;
	return reg->check_reply ? reg->check_reply(reply, (size_t)n, reg->userdata) : 0;
}

static void chardev_disconnect(HvChannel *ch)
{
	ChardevChannel *c = chardev(ch);

	c->connected = false;
	/* an inherited descriptor cannot be reopened, so it stays open until free */
	if (c->path)
		c->fd = safe_close(c->fd);
}

static int chardev_connect(HvChannel *ch)
{
	ChardevChannel *c = chardev(ch);
	int r;

	if (c->connected)
		return -EISCONN;
	if (c->path) {
		/* no S_ISCHR check: under test the node is a FUSE regular file */
		c->fd = open(c->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (c->fd < 0) {
			r = negative_errno();
			c->fd = -EBADF;
			return r;
		}
	} else if (c->fd < 0) {
		return -EBADF;
	}
	r = do_register(c);
	if (r < 0) {
		chardev_disconnect(ch);
		return r;
	}
	c->connected = true;
	ch->n_connects++;
	return 0;
}

static int chardev_recv(HvChannel *ch, short revents, void *buf, size_t size, size_t *ret_len)
{
	ChardevChannel *c = chardev(ch);
	struct pollfd p = { .fd = c->fd, .events = POLLIN, .revents = revents };
	ssize_t n;
	int r;

	if (!c->connected)
		return -ENOTCONN;
	/*
	 * The kernel ignores O_NONBLOCK: only read what poll says is queued. When the caller's
	 * own poll just reported POLLIN, a second poll would only cost a round trip (one more
	 * FUSE request per message under the simulator).
	 */
	if (!(revents & POLLIN)) {
		do
			r = poll(&p, 1, 0);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return negative_errno();
		if (r == 0)
			return -EAGAIN;
	}
	if (!(p.revents & POLLIN))
		return (p.revents & POLLNVAL) ? -EBADF : -EIO;
	n = read_message(c->fd, buf, size);
	if (n < 0)
		return (int)n;
	*ret_len = (size_t)n;
	return 0;
}

/* SIGALRM only has to end a blocking read with EINTR: nothing to do in the handler. */
static void on_alarm(int sig)
{
}

static int setup_alarm(ChardevChannel *c)
{
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: read must fail */
	sigset_t blocked;

	if (c->alarm_ready)
		return 0;
	/* A blocked SIGALRM could never end the read: refuse rather than hang. */
	if (sigprocmask(SIG_BLOCK, NULL, &blocked) < 0)
		return negative_errno();
	if (sigismember(&blocked, SIGALRM))
		return -EOPNOTSUPP;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return negative_errno();
	c->alarm_ready = true;
	return 0;
}

static int chardev_recv_wait(HvChannel *ch, uint64_t timeout_usec, void *buf, size_t size,
			     size_t *ret_len)
{
	ChardevChannel *c = chardev(ch);
	struct itimerval arm = {
		.it_value = { .tv_sec = (time_t)(timeout_usec / 1000000),
			      .tv_usec = (suseconds_t)(timeout_usec % 1000000) },
	};
	const struct itimerval disarm = {};
	ssize_t n;
	int r, saved;

	if (!c->connected)
		return -ENOTCONN;
	if (timeout_usec == 0)
		return -EINVAL;
	r = setup_alarm(c);
	if (r < 0)
		return r;
	if (setitimer(ITIMER_REAL, &arm, NULL) < 0)
		return negative_errno();
	n = read(c->fd, buf, size);
	saved = errno;
	/*
	 * If the alarm expires between the read and here, its signal is delivered on the way
	 * back from setitimer(), while nothing blocks: it cannot interrupt a later call.
	 */
	(void)setitimer(ITIMER_REAL, &disarm, NULL);
	if (n < 0) {
		if (saved == EINTR)
			return -EAGAIN; /* the alarm (or another signal): back to the event loop */
		return saved == EINVAL ? -ENOBUFS : -saved;
	}
	if (n == 0)
		return -ECONNRESET;
	*ret_len = (size_t)n;
	return 0;
}

static int chardev_send(HvChannel *ch, const void *buf, size_t len)
{
	ChardevChannel *c = chardev(ch);

	if (!c->connected)
		return -ENOTCONN;
	return write_message(c->fd, buf, len);
}

static int chardev_get_fd(HvChannel *ch)
{
	ChardevChannel *c = chardev(ch);

	return c->connected ? c->fd : -EBADF;
}

static void chardev_free(HvChannel *ch)
{
	ChardevChannel *c = chardev(ch);

	c->connected = false;
	safe_close(c->fd);
	free(c->path);
	free(c);
}

static const HvChannelOps chardev_ops = {
	.name = "chardev",
	.connect = chardev_connect,
	.disconnect = chardev_disconnect,
	.recv = chardev_recv,
	.recv_wait = chardev_recv_wait,
	.send = chardev_send,
	.get_fd = chardev_get_fd,
	.free = chardev_free,
};

static int chardev_new(const HvRegistration *reg, ChardevChannel **ret)
{
	ChardevChannel *c;

	if (!reg || (reg->msg_len > 0 && !reg->msg))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ch.ops = &chardev_ops;
	c->fd = -EBADF;
	c->reg = *reg;
	*ret = c;
	return 0;
}

int channel_chardev_new(const char *path, const HvRegistration *reg, HvChannel **ret)
{
	ChardevChannel *c;
	int r;

	if (!path || !*path)
		return -EINVAL;
	r = chardev_new(reg, &c);
	if (r < 0)
		return r;
	c->path = strdup(path);
	if (!c->path) {
		free(c);
		return -ENOMEM;
	}
	*ret = &c->ch;
	return 0;
}

int channel_chardev_new_fd(int fd, const HvRegistration *reg, HvChannel **ret)
{
	ChardevChannel *c;
	int r;

	if (fd < 0)
		return -EBADF;
	r = chardev_new(reg, &c);
	if (r < 0)
		return r;
	c->fd = fd;
	*ret = &c->ch;
	return 0;
}

int channel_connect(HvChannel *ch)
{
	return ch->ops->connect(ch);
}

void channel_disconnect(HvChannel *ch)
{
	ch->ops->disconnect(ch);
}

int channel_reconnect(HvChannel *ch)
{
	ch->ops->disconnect(ch);
	return ch->ops->connect(ch);
}

int channel_recv(HvChannel *ch, short revents, void *buf, size_t size, size_t *ret_len)
{
	return ch->ops->recv(ch, revents, buf, size, ret_len);
}

int channel_recv_wait(HvChannel *ch, uint64_t timeout_usec, void *buf, size_t size, size_t *ret_len)
{
	if (!ch->ops->recv_wait)
		return -EOPNOTSUPP;
	return ch->ops->recv_wait(ch, timeout_usec, buf, size, ret_len);
}

int channel_send(HvChannel *ch, const void *buf, size_t len)
{
	return ch->ops->send(ch, buf, len);
}

int channel_get_fd(HvChannel *ch)
{
	return ch->ops->get_fd(ch);
}

HvChannel *channel_free(HvChannel *ch)
{
	if (ch)
		ch->ops->free(ch);
	return NULL;
}
