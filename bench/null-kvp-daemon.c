/* SPDX-License-Identifier: MIT */
/*
 * null-kvp-daemon: the transport floor for bench-kvp. Registers on the KVP device like a real
 * daemon, then answers every request with a zero-filled 7432-byte message (status 0 = HV_S_OK)
 * and does no other work: no pools, no allocation per request. ENUMERATE replies carry the fixed
 * record "k" = "v" so the host sees a record. Whatever this costs is the price of the emulated
 * kernel transport, which bench-kvp subtracts from the real daemons' figures.
 *
 * SIGTERM/SIGINT end it (through a signalfd in the poll set, so no global flag is needed).
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

#include "common/macro.h"

/* struct hv_kvp_msg (hyperv-abi.md §4.2): 7432 bytes on x86_64; offsets from its start. */
#define KVP_MSG_SIZE 7432
#define KVP_OFF_OPERATION 0
#define KVP_OFF_ENUM_KEY 20
#define KVP_OFF_ENUM_VALUE 532
#define KVP_OP_ENUMERATE 3
#define KVP_OP_REGISTER1 100

/* Reads exactly one message; the device hands out whole messages or fails. */
static int read_msg(int fd, uint8_t *buf)
{
	ssize_t n;

	do {
		n = read(fd, buf, KVP_MSG_SIZE);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if (n != KVP_MSG_SIZE)
		return -EBADMSG;
	return 0;
}

static int write_msg(int fd, const uint8_t *buf)
{
	ssize_t n;

	do {
		n = write(fd, buf, KVP_MSG_SIZE);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if (n != KVP_MSG_SIZE)
		return -EIO;
	return 0;
}

/* Waits for POLLIN on fd; returns 1 when readable, 0 when a termination signal arrived. */
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
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			return -EIO;
		if (p[0].revents & POLLIN)
			return 1;
	}
}

/* Returns 1 once registered, 0 when a termination signal arrived first. */
static int register_on(int fd, int sigfd, uint8_t *buf)
{
	int r;

	memset(buf, 0, KVP_MSG_SIZE);
	buf[KVP_OFF_OPERATION] = KVP_OP_REGISTER1;
	r = write_msg(fd, buf);
	if (r < 0)
		return r;
	r = wait_readable(fd, sigfd);
	if (r <= 0)
		return r;
	/* The reply carries the driver version ("3.1"); the floor has no use for it. */
	r = read_msg(fd, buf);
	return r < 0 ? r : 1;
}

/* Returns 0 on a termination signal, negative errno on a device failure. */
static int serve(int fd, int sigfd)
{
	_cleanup_free_ uint8_t *in = malloc(KVP_MSG_SIZE), *out = calloc(1, KVP_MSG_SIZE);
	int r;

	if (!in || !out)
		return -ENOMEM;
	r = register_on(fd, sigfd, in);
	if (r <= 0)
		return r;
	for (;;) {
		bool enumerate;

		r = wait_readable(fd, sigfd);
		if (r <= 0)
			return r;
		r = read_msg(fd, in);
		if (r < 0)
			return r;
		/* The error word overlaps op/pool: a zeroed reply is HV_S_OK for any request. */
		enumerate = in[KVP_OFF_OPERATION] == KVP_OP_ENUMERATE;
		out[KVP_OFF_ENUM_KEY] = enumerate ? 'k' : 0;
		out[KVP_OFF_ENUM_VALUE] = enumerate ? 'v' : 0;
		r = write_msg(fd, out);
		if (r < 0)
			return r;
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

int main(int argc, char *argv[])
{
	static const struct option options[] = { { "device", required_argument, NULL, 'D' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	const char *device = "/dev/vmbus/hv_kvp";
	_cleanup_close_ int fd = -EBADF, sigfd = -EBADF;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'D':
			device = optarg;
			break;
		case 'h':
			printf("Usage: %s [--device PATH]\n"
			       "Registers on the KVP device and answers every request with "
			       "HV_S_OK.\n",
			       argv[0]);
			return EXIT_SUCCESS;
		default:
			return EXIT_FAILURE;
		}
	}

	sigfd = make_signalfd();
	if (sigfd < 0) {
		fprintf(stderr, "null-kvp-daemon: signalfd: %s\n", strerror(-sigfd));
		return EXIT_FAILURE;
	}
	fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "null-kvp-daemon: open '%s': %m\n", device);
		return EXIT_FAILURE;
	}
	r = serve(fd, sigfd);
	if (r < 0) {
		fprintf(stderr, "null-kvp-daemon: '%s': %s\n", device, strerror(-r));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
