/* SPDX-License-Identifier: MIT */
/*
 * null-fcopy-daemon: the transport floor for bench-fcopy. Speaks both file copy transports
 * like a real daemon and answers every host message with success, but writes no file: what a
 * copy costs with this daemon is the price of the emulated transport alone (one synchronous
 * host round trip per 6 KiB fragment), the ceiling any real daemon can reach on it.
 *
 *   --device=PATH      char device (kernels < 6.10): the 4-byte version handshake, then every
 *                      message is answered with the 4-byte status HV_S_OK. Blocking reads and
 *                      no poll(), as the Debian daemon does: one read and one write per
 *                      message is the least this transport allows.
 *   --uio-fds=RING,IRQ the uio seam (hostsim): NEGOTIATE is answered as hv_fcopy_daemon does
 *                      (framework 3.0, service 1.1), every other IC message with status 0.
 *
 * No allocation per message and no decoding beyond the IC header. On uio SIGTERM/SIGINT end it
 * through a signalfd in the poll set (exit 0); on the char device a blocking read cannot watch
 * for signals, so they keep their default action and end it there.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/channel.h"
#include "common/icmsg.h"
#include "common/macro.h"

/* Char device: the handshake word and every status are one native int. */
#define CHARDEV_WORD 4
#define FCOPY_VERSION_1 1
/* The char device's largest message (WRITE_TO_FILE); the Debian daemon reads this much too. */
#define CHARDEV_MSG_MAX 6196
/* Larger than any message either transport carries (IC header + 6196-byte WRITE_TO_FILE). */
#define MSG_BUFFER_SIZE 16384

static const IcVersion fw_versions[] = { { 3, 0 } };
static const IcVersion svc_versions[] = { { 1, 1 } };

/* Waits for POLLIN on fd; returns its revents, 0 when a termination signal arrived. */
static int wait_readable(int fd, int sigfd)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, ELEMENTSOF(p), -1) < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (p[1].revents & POLLIN)
			return 0;
		if (p[0].revents)
			return p[0].revents;
	}
}

static int write_word(int fd, int32_t v)
{
	ssize_t n;

	do
		n = write(fd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	return n == sizeof(v) ? 0 : -EIO;
}

/* One whole message per read: the device hands out whole messages or fails. */
static int read_msg(int fd, uint8_t *buf, size_t size, size_t *ret_len)
{
	ssize_t n;

	do
		n = read(fd, buf, size);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if (n == 0)
		return -ECONNRESET;
	*ret_len = (size_t)n;
	return 0;
}

/* Returns only on a device failure (negative errno); signals end the process. */
static int serve_chardev(const char *path, uint8_t *buf)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	size_t len;
	int r;

	if (fd < 0)
		return negative_errno();
	r = write_word(fd, FCOPY_VERSION_1);
	if (r < 0)
		return r;
	for (bool registered = false;;) {
		/* Blocks until the kernel queues a message (it ignores O_NONBLOCK anyway). */
		r = read_msg(fd, buf, CHARDEV_MSG_MAX, &len);
		if (r < 0)
			return r;
		if (!registered) {
			/* The kernel's version reply: READY once read; nothing to answer. */
			if (len != CHARDEV_WORD)
				return -EBADMSG;
			registered = true;
			continue;
		}
		r = write_word(fd, 0); /* HV_S_OK */
		if (r < 0)
			return r;
	}
}

/* Answers one IC message in place; returns the reply's length (0: nothing to answer). */
static size_t answer_ic(uint8_t *buf, size_t len)
{
	IcVersion fw, svc;
	IcMsgHeader h;

	if (icmsg_parse_header(buf, len, &h) < 0)
		return 0;
	if (h.msgtype == ICMSGTYPE_NEGOTIATE)
		/* Writes the reply in place, a failed negotiation included. */
		(void)icmsg_negotiate(buf, len, fw_versions, ELEMENTSOF(fw_versions), svc_versions,
				      ELEMENTSOF(svc_versions), &fw, &svc);
	else
		(void)icmsg_set_response(buf, len, 0);
	return len;
}

/* Answers every queued packet (no interrupt comes for packets already queued). */
static int drain_uio(HvChannel *ch, short revents, uint8_t *buf)
{
	for (;;) {
		size_t len, reply;
		int r;

		r = channel_recv(ch, revents, buf, MSG_BUFFER_SIZE, &len);
		revents = 0;
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		reply = answer_ic(buf, len);
		if (reply == 0)
			continue;
		r = channel_send(ch, buf, reply);
		if (r < 0)
			return r;
	}
}

static int serve_uio(int ring_fd, int irq_fd, int sigfd, uint8_t *buf)
{
	_cleanup_(channel_freep) HvChannel *ch = NULL;
	int r;

	r = channel_uio_new_fds(ring_fd, irq_fd, &ch);
	if (r < 0) {
		safe_close(ring_fd);
		safe_close(irq_fd);
		return r;
	}
	r = channel_connect(ch);
	if (r < 0)
		return r;
	/* Packets queued before connect cleared the RX mask raised no interrupt. */
	r = drain_uio(ch, 0, buf);
	for (;;) {
		if (r < 0)
			return r;
		r = wait_readable(channel_get_fd(ch), sigfd);
		if (r <= 0)
			return r;
		r = drain_uio(ch, (short)r, buf);
	}
}

static int make_signalfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return negative_errno();
	fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	return fd;
}

static int parse_fds(const char *s, int *ret_ring, int *ret_irq)
{
	char *end;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (errno || end == s || *end != ',' || a < 0 || a > INT32_MAX)
		return -EINVAL;
	s = end + 1;
	b = strtol(s, &end, 10);
	if (errno || end == s || *end || b < 0 || b > INT32_MAX || a == b)
		return -EINVAL;
	*ret_ring = (int)a;
	*ret_irq = (int)b;
	return 0;
}

int main(int argc, char *argv[])
{
	enum { ARG_DEVICE = 0x100, ARG_UIO_FDS };
	static const struct option options[] = { { "device", required_argument, NULL, ARG_DEVICE },
						 { "uio-fds", required_argument, NULL,
						   ARG_UIO_FDS },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	const char *device = "/dev/vmbus/hv_fcopy";
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int sigfd = -EBADF;
	int c, r, ring_fd = -EBADF, irq_fd = -EBADF;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case ARG_DEVICE:
			device = optarg;
			break;
		case ARG_UIO_FDS:
			if (parse_fds(optarg, &ring_fd, &irq_fd) < 0) {
				fprintf(stderr, "null-fcopy-daemon: bad --uio-fds '%s'\n", optarg);
				return EXIT_FAILURE;
			}
			break;
		case 'h':
			printf("Usage: %s [--device=PATH | --uio-fds=RING,IRQ]\n"
			       "Answers every file copy message with success and writes no file.\n",
			       argv[0]);
			return EXIT_SUCCESS;
		default:
			return EXIT_FAILURE;
		}
	}

	buf = malloc(MSG_BUFFER_SIZE);
	if (!buf) {
		fprintf(stderr, "null-fcopy-daemon: out of memory\n");
		return EXIT_FAILURE;
	}
	if (ring_fd >= 0) {
		sigfd = make_signalfd();
		if (sigfd < 0) {
			fprintf(stderr, "null-fcopy-daemon: signalfd: %s\n", strerror(-sigfd));
			return EXIT_FAILURE;
		}
		r = serve_uio(ring_fd, irq_fd, sigfd, buf);
	} else
		r = serve_chardev(device, buf);
	if (r < 0) {
		fprintf(stderr, "null-fcopy-daemon: %s: %s\n", ring_fd >= 0 ? "uio" : device,
			strerror(-r));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
