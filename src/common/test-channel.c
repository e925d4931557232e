/* SPDX-License-Identifier: MIT */
/*
 * The char-device channel against stand-ins for the kernel side: a SOCK_SEQPACKET socketpair
 * (one message per read and write, like the device), a FIFO opened by path (no S_ISCHR
 * check), and a timerfd (a read into a too-small buffer fails with EINVAL and leaves the
 * data queued, like the device).
 */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/channel.h"

static const char reg_msg[] = "REG1";

typedef struct Fixture {
	HvChannel *ch;
	int peer; /* the "kernel" end of the socketpair */
	HvRegistration reg;
	unsigned checks;
	char last_reply[16];
	int check_result;
} Fixture;

static int check_reply(const void *reply, size_t len, void *userdata)
{
	Fixture *f = userdata;

	f->checks++;
	assert_true(len < sizeof(f->last_reply));
	memcpy(f->last_reply, reply, len);
	f->last_reply[len] = '\0';
	return f->check_result;
}

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->reg = (HvRegistration){
		.msg = reg_msg,
		.msg_len = 4,
		.reply_size = 4,
		.reply_timeout_usec = 2000000,
		.check_reply = check_reply,
		.userdata = f,
	};
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(channel_chardev_new_fd(sv[0], &f->reg, &f->ch), 0);
	f->peer = sv[1];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;

	channel_free(f->ch);
	close(f->peer);
	free(f);
	return 0;
}

static uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Reads one message from the peer end, which must be there already. */
static size_t peer_read(Fixture *f, char *buf, size_t size)
{
	ssize_t n = recv(f->peer, buf, size, MSG_DONTWAIT);

	assert_true(n >= 0);
	return (size_t)n;
}

static void test_registration(void **state)
{
	Fixture *f = *state;
	char buf[64];

	assert_int_equal(channel_get_fd(f->ch), -EBADF); /* not connected yet */
	/* the reply can be queued in advance: the socket keeps it until connect reads it */
	assert_int_equal(write(f->peer, "OK!!", 4), 4);
	assert_int_equal(channel_connect(f->ch), 0);
	assert_int_equal(f->ch->n_connects, 1);
	assert_int_equal(f->checks, 1);
	assert_string_equal(f->last_reply, "OK!!");
	assert_true(channel_get_fd(f->ch) >= 0);
	assert_int_equal(peer_read(f, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "REG1", 4);
	assert_int_equal(channel_connect(f->ch), -EISCONN);

	/* reconnect re-registers on the same descriptor */
	assert_int_equal(write(f->peer, "OK2!", 4), 4);
	assert_int_equal(channel_reconnect(f->ch), 0);
	assert_int_equal(f->ch->n_connects, 2);
	assert_string_equal(f->last_reply, "OK2!");
	assert_int_equal(peer_read(f, buf, sizeof(buf)), 4);
}

static void test_check_reply_rejects(void **state)
{
	Fixture *f = *state;

	f->check_result = -EPROTO;
	assert_int_equal(write(f->peer, "BAD!", 4), 4);
	assert_int_equal(channel_connect(f->ch), -EPROTO);
	assert_int_equal(f->ch->n_connects, 0);
	assert_int_equal(channel_get_fd(f->ch), -EBADF);
	assert_int_equal(channel_send(f->ch, "x", 1), -ENOTCONN);
}

static void test_reply_size_mismatch(void **state)
{
	Fixture *f = *state;
	static char big[9000];

	assert_int_equal(write(f->peer, "abc", 3), 3);
	assert_int_equal(channel_connect(f->ch), -EBADMSG);
	assert_int_equal(write(f->peer, "abcde", 5), 5);
	assert_int_equal(channel_connect(f->ch), -EBADMSG);
	assert_int_equal(write(f->peer, big, sizeof(big)), sizeof(big));
	assert_int_equal(channel_connect(f->ch), -EBADMSG);
	assert_int_equal(f->checks, 0);
	assert_int_equal(f->ch->n_connects, 0);
	assert_int_equal(channel_get_fd(f->ch), -EBADF);
}

static void test_reply_timeout(void **state)
{
	Fixture *f = *state;
	HvRegistration reg = f->reg;
	HvChannel *ch;
	uint64_t t0;
	int sv[2];

	reg.reply_timeout_usec = 50000;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(channel_chardev_new_fd(sv[0], &reg, &ch), 0);
	t0 = now();
	assert_int_equal(channel_connect(ch), -ETIMEDOUT);
	assert_true(now() - t0 >= 50000);
	assert_true(now() - t0 < 1000000);
	assert_int_equal(channel_get_fd(ch), -EBADF);
	assert_int_equal(ch->n_connects, 0);
	channel_free(ch);
	close(sv[1]);
}

static void test_recv_messages(void **state)
{
	Fixture *f = *state;
	char buf[64];
	size_t len = 0;

	assert_int_equal(write(f->peer, "OK!!", 4), 4);
	assert_int_equal(channel_connect(f->ch), 0);

	/* nothing queued: -EAGAIN at once instead of a blocking read */
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EAGAIN);

	assert_int_equal(write(f->peer, "abc", 3), 3);
	assert_int_equal(write(f->peer, "defgh", 5), 5);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "abc", 3);
	/* the caller's poll already saw POLLIN: read straight away */
	assert_int_equal(channel_recv(f->ch, POLLIN, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "defgh", 5);
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -EAGAIN);

	/* the peer going away is end of file, not an empty message */
	close(f->peer);
	f->peer = -1;
	assert_int_equal(channel_recv(f->ch, 0, buf, sizeof(buf), &len), -ECONNRESET);
}

/* A peer that sends one message after a delay, as the host does after our reply. */
typedef struct DelayedSend {
	int fd;
	unsigned delay_ms;
} DelayedSend;

static void *delayed_send(void *userdata)
{
	DelayedSend *d = userdata;
	struct timespec ts = { .tv_nsec = (long)d->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	assert_int_equal(write(d->fd, "late", 4), 4);
	return NULL;
}

static void test_recv_wait(void **state)
{
	Fixture *f = *state;
	DelayedSend d = { .fd = f->peer, .delay_ms = 30 };
	struct sigaction old;
	char buf[64];
	size_t len = 0;
	uint64_t t0;
	pthread_t th;
	sigset_t ss;

	assert_int_equal(channel_recv_wait(f->ch, 1000, buf, sizeof(buf), &len), -ENOTCONN);
	assert_int_equal(write(f->peer, "OK!!", 4), 4);
	assert_int_equal(channel_connect(f->ch), 0);
	assert_int_equal(channel_recv_wait(f->ch, 0, buf, sizeof(buf), &len), -EINVAL);

	/* queued: returned at once */
	assert_int_equal(write(f->peer, "abc", 3), 3);
	assert_int_equal(channel_recv_wait(f->ch, 1000000, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "abc", 3);

	/* arrives while we block: no poll needed, the read itself waits for it */
	assert_int_equal(pthread_create(&th, NULL, delayed_send, &d), 0);
	t0 = now();
	assert_int_equal(channel_recv_wait(f->ch, 2000000, buf, sizeof(buf), &len), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "late", 4);
	assert_true(now() - t0 >= 20000);

	/* nothing comes: the alarm ends the read after the timeout, and is not left armed */
	t0 = now();
	assert_int_equal(channel_recv_wait(f->ch, 50000, buf, sizeof(buf), &len), -EAGAIN);
	assert_true(now() - t0 >= 40000);
	assert_true(now() - t0 < 2000000);
	{
		struct itimerval it;

		assert_int_equal(getitimer(ITIMER_REAL, &it), 0);
		assert_int_equal(it.it_value.tv_sec, 0);
		assert_int_equal(it.it_value.tv_usec, 0);
	}
	/* the handler does not restart the read (that would defeat the timeout) */
	assert_int_equal(sigaction(SIGALRM, NULL, &old), 0);
	assert_false(old.sa_flags & SA_RESTART);

	/* a blocked SIGALRM could never end the read: refused, not a hang (new channel) */
	channel_free(f->ch);
	{
		int sv[2];

		close(f->peer);
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(channel_chardev_new_fd(sv[0], &f->reg, &f->ch), 0);
		f->peer = sv[1];
	}
	assert_int_equal(write(f->peer, "OK!!", 4), 4);
	assert_int_equal(channel_connect(f->ch), 0);
	sigemptyset(&ss);
	sigaddset(&ss, SIGALRM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &ss, NULL), 0);
	assert_int_equal(channel_recv_wait(f->ch, 50000, buf, sizeof(buf), &len), -EOPNOTSUPP);
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &ss, NULL), 0);
}

static void test_send(void **state)
{
	Fixture *f = *state;
	char buf[64];

	assert_int_equal(channel_send(f->ch, "early", 5), -ENOTCONN);
	assert_int_equal(write(f->peer, "OK!!", 4), 4);
	assert_int_equal(channel_connect(f->ch), 0);
	assert_int_equal(peer_read(f, buf, sizeof(buf)), 4);

	assert_int_equal(channel_send(f->ch, "reply-one", 9), 0);
	assert_int_equal(channel_send(f->ch, "two", 3), 0);
	assert_int_equal(peer_read(f, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "reply-one", 9);
	assert_int_equal(peer_read(f, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "two", 3);

	channel_disconnect(f->ch);
	assert_int_equal(channel_send(f->ch, "late", 4), -ENOTCONN);
}

/* By path: a FIFO is no char device, and its "reply" is our own registration echoed back. */
static void test_path_fifo(void **state)
{
	Fixture *f = *state;
	char dir[] = "/tmp/test-channel-XXXXXX", path[64];
	HvChannel *ch;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hv_test", dir);
	assert_int_equal(channel_chardev_new(path, &f->reg, &ch), 0);
	assert_int_equal(channel_connect(ch), -ENOENT);
	assert_int_equal(mkfifo(path, 0600), 0);

	assert_int_equal(channel_connect(ch), 0);
	assert_string_equal(f->last_reply, "REG1");
	assert_true(channel_get_fd(ch) >= 0);
	channel_disconnect(ch);
	assert_int_equal(channel_get_fd(ch), -EBADF);
	assert_int_equal(channel_reconnect(ch), 0);
	assert_int_equal(ch->n_connects, 2);
	assert_int_equal(f->checks, 2);
	channel_free(ch);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* A too-small buffer: -ENOBUFS and the message stays queued for a large enough read. */
static void test_recv_too_small(void **state)
{
	const HvRegistration none = { 0 };
	struct itimerspec its = { .it_value = { .tv_nsec = 1 } };
	uint64_t expirations = 0;
	size_t len = 0;
	HvChannel *ch;
	int tfd;

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_true(tfd >= 0);
	assert_int_equal(channel_chardev_new_fd(tfd, &none, &ch), 0);
	assert_int_equal(channel_connect(ch), 0); /* nothing to write, no reply awaited */
	assert_int_equal(channel_recv(ch, 0, &expirations, sizeof(expirations), &len), -EAGAIN);
	assert_int_equal(timerfd_settime(tfd, 0, &its, NULL), 0);
	usleep(1000);
	assert_int_equal(channel_recv(ch, 0, &expirations, 4, &len), -ENOBUFS);
	assert_int_equal(channel_recv(ch, 0, &expirations, sizeof(expirations), &len), 0);
	assert_int_equal(len, sizeof(expirations));
	assert_int_equal(expirations, 1);
	channel_free(ch);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_registration),  T(test_check_reply_rejects), T(test_reply_size_mismatch),
		T(test_reply_timeout), T(test_recv_messages),	    T(test_send),
		T(test_path_fifo),     T(test_recv_too_small),	    T(test_recv_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
