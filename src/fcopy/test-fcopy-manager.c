/* SPDX-License-Identifier: MIT */
/*
 * The fcopy manager in-process against a stand-in kernel: a SOCK_SEQPACKET socketpair under
 * a char-device channel (one message per read and write). The char-device framing gets the
 * 4-byte handshake and bare bodies; the IC framing (what the uio ring carries) gets IC
 * headers, negotiation and UTF-16LE names over the same kind of channel: the framing does
 * not depend on the transport below it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/event.h"
#include "common/fileio.h"
#include "common/hv-status.h"
#include "common/icmsg.h"
#include "common/log.h"
#include "fcopy/fcopy-manager.h"
#include "fcopy/fcopy-msg.h"
#include "fcopy/fcopy-status.h"
#include "fcopy/fcopy-transfer.h"

#define MSG_MAX (ICMSG_HDR + FCOPY_WRITE_SIZE)

typedef struct Fixture {
	FcopyTransport transport;
	char top[PATH_MAX]; /* temp dir holding dest/ and run/ */
	char dest[PATH_MAX];
	char run[PATH_MAX];
	FcopySettings settings;
	uint8_t reg_msg[FCOPY_CHARDEV_REPLY_SIZE];
	Manager *m;
	int peer; /* the kernel's end */
} Fixture;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	assert_true(n > 0 && (size_t)n < size);
}

static void write_plain(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		/* The status file for hvctl is there as long as the manager runs. */
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, FCOPY_STATUS_FILE) != 0)
			n++;
	closedir(d);
	return n;
}

/* Creates the manager over a fresh socketpair and starts it (handshake included). */
static void manager_up(Fixture *f)
{
	HvRegistration reg = {};
	HvChannel *ch = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	if (f->transport == FCOPY_TRANSPORT_CHARDEV) {
		uint8_t reply[4];

		fcopy_chardev_registration(f->reg_msg, &reg);
		/* The kernel's FCOPY_CURRENT_VERSION reply, queued ahead of the handshake. */
		fcopy_msg_build_chardev_register(reply);
		assert_int_equal(write(sv[1], reply, sizeof(reply)), 4);
	}
	assert_int_equal(channel_chardev_new_fd(sv[0], &reg, &ch), 0);
	assert_int_equal(manager_new(&f->settings, f->transport, ch, "test", &f->m), 0);
	f->peer = sv[1];
	assert_int_equal(manager_start(f->m), 0);
	if (f->transport == FCOPY_TRANSPORT_CHARDEV) {
		uint8_t hs[8];

		assert_int_equal(read(f->peer, hs, sizeof(hs)), 4);
		assert_int_equal(get32(hs), FCOPY_VERSION_1);
	}
}

static void manager_down(Fixture *f)
{
	f->m = manager_free(f->m);
	f->peer = safe_close(f->peer);
}

static int setup(void **state, FcopyTransport transport)
{
	Fixture *f = calloc(1, sizeof(*f));
	char tmpl[64];

	assert_non_null(f);
	f->transport = transport;
	snprintf(tmpl, sizeof(tmpl), "/tmp/test-fcopy-manager-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, f->top));
	join(f->dest, sizeof(f->dest), f->top, "dest");
	join(f->run, sizeof(f->run), f->top, "run");
	assert_int_equal(mkdir(f->dest, 0755), 0);
	assert_int_equal(fcopy_settings_init(&f->settings), 0);
	assert_int_equal(free_and_strdup(&f->settings.run_dir, f->run), 0);
	manager_up(f);
	*state = f;
	return 0;
}

static int setup_chardev(void **state)
{
	return setup(state, FCOPY_TRANSPORT_CHARDEV);
}

static int setup_ic(void **state)
{
	return setup(state, FCOPY_TRANSPORT_IC);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	Fixture *f = *state;

	manager_down(f);
	fcopy_settings_done(&f->settings);
	assert_int_equal(nftw(f->top, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* Body offset: the IC framing puts a 28-byte header first. */
static size_t hdr(const Fixture *f)
{
	return f->transport == FCOPY_TRANSPORT_IC ? ICMSG_HDR : 0;
}

static void ic_header(uint8_t *p, uint16_t msgtype, size_t body_len)
{
	memset(p, 0, ICMSG_HDR);
	put32(p + ICMSG_OFF_PIPE_MSGSIZE, (uint32_t)body_len);
	put16(p + ICMSG_OFF_VERFRAME, 3);
	put16(p + ICMSG_OFF_MSGTYPE, msgtype);
	put16(p + ICMSG_OFF_VERMSG, 1);
	put16(p + ICMSG_OFF_VERMSG + 2, 1);
	put16(p + ICMSG_OFF_MSGSIZE, (uint16_t)body_len);
	p[ICMSG_OFF_TRANSACTION_ID] = 9;
	p[ICMSG_OFF_FLAGS] = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
}

/* Puts a name into a 260-unit array: UTF-8 bytes (char device) or UTF-16LE (IC, BMP only). */
static void put_name(const Fixture *f, uint8_t *p, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	if (f->transport == FCOPY_TRANSPORT_CHARDEV) {
		memcpy(p, s, strlen(s) + 1);
		return;
	}
	while (*u) {
		uint16_t c;

		if (u[0] < 0x80) {
			c = u[0];
			u += 1;
		} else if ((u[0] & 0xe0) == 0xc0) {
			c = (uint16_t)((u[0] & 0x1f) << 6 | (u[1] & 0x3f));
			u += 2;
		} else {
			c = (uint16_t)((u[0] & 0x0f) << 12 | (u[1] & 0x3f) << 6 | (u[2] & 0x3f));
			u += 3;
		}
		put16(p, c);
		p += 2;
	}
	put16(p, 0);
}

static size_t build_start(const Fixture *f, uint8_t *buf, const char *path, const char *name,
			  uint32_t flags, uint64_t size)
{
	uint8_t *b = buf + hdr(f);

	memset(buf, 0, hdr(f) + FCOPY_START_SIZE);
	if (hdr(f))
		ic_header(buf, ICMSGTYPE_FCOPY, FCOPY_START_SIZE);
	put32(b, FCOPY_OP_START_FILE_COPY);
	put_name(f, b + FCOPY_START_FILE_NAME_OFFSET, name);
	put_name(f, b + FCOPY_START_PATH_NAME_OFFSET, path);
	put32(b + FCOPY_START_COPY_FLAGS_OFFSET, flags);
	put64(b + FCOPY_START_FILE_SIZE_OFFSET, size);
	return hdr(f) + FCOPY_START_SIZE;
}

static size_t build_write(const Fixture *f, uint8_t *buf, uint64_t offset, const void *data,
			  uint32_t len)
{
	uint8_t *b = buf + hdr(f);

	memset(buf, 0, hdr(f) + FCOPY_WRITE_SIZE);
	if (hdr(f))
		ic_header(buf, ICMSGTYPE_FCOPY, FCOPY_WRITE_SIZE);
	put32(b, FCOPY_OP_WRITE_TO_FILE);
	put64(b + FCOPY_WRITE_OFFSET_OFFSET, offset);
	put32(b + FCOPY_WRITE_SIZE_OFFSET, len);
	memcpy(b + FCOPY_WRITE_DATA_OFFSET, data, len);
	return hdr(f) + FCOPY_WRITE_SIZE;
}

/* COMPLETE/CANCEL: the char device hands them over with an over-long length (64 bytes). */
static size_t build_simple(const Fixture *f, uint8_t *buf, FcopyOp op)
{
	memset(buf, 0, hdr(f) + 64);
	if (hdr(f))
		ic_header(buf, ICMSGTYPE_FCOPY, FCOPY_HDR_SIZE);
	put32(buf + hdr(f), (uint32_t)op);
	return hdr(f) + (hdr(f) ? FCOPY_HDR_SIZE : 64);
}

/* Runs the manager until the peer has something to read; false if nothing came. */
static bool pump(Fixture *f)
{
	struct pollfd p = { .fd = f->peer, .events = POLLIN };

	for (int i = 0; i < 20; i++) {
		assert_true(manager_run_once(f->m, 50 * USEC_PER_MSEC) >= 0);
		if (poll(&p, 1, 0) == 1)
			return true;
	}
	return false;
}

/* Sends one message, runs the manager, returns the status of its reply (checked for shape). */
static uint32_t exchange(Fixture *f, uint8_t *msg, size_t len)
{
	static uint8_t reply[2 * MSG_MAX];
	ssize_t n;

	assert_int_equal(send(f->peer, msg, len, 0), (ssize_t)len);
	assert_true(pump(f));
	n = recv(f->peer, reply, sizeof(reply), 0);
	if (f->transport == FCOPY_TRANSPORT_CHARDEV) {
		uint32_t status;

		assert_int_equal(n, FCOPY_CHARDEV_REPLY_SIZE);
		memcpy(&status, reply, sizeof(status)); /* native int */
		return status;
	}
	/* The IC reply echoes the request: same length and body, TRANSACTION | RESPONSE. */
	assert_int_equal(n, (ssize_t)len);
	assert_int_equal(reply[ICMSG_OFF_FLAGS], ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE);
	assert_int_equal(reply[ICMSG_OFF_TRANSACTION_ID], msg[ICMSG_OFF_TRANSACTION_ID]);
	assert_memory_equal(reply + ICMSG_HDR, msg + ICMSG_HDR, len - ICMSG_HDR);
	return get32(reply + ICMSG_OFF_STATUS);
}

static uint32_t do_start(Fixture *f, const char *path, const char *name, uint32_t flags,
			 uint64_t size)
{
	static uint8_t buf[MSG_MAX];

	return exchange(f, buf, build_start(f, buf, path, name, flags, size));
}

static uint32_t do_write(Fixture *f, uint64_t offset, const void *data, uint32_t len)
{
	static uint8_t buf[MSG_MAX];

	return exchange(f, buf, build_write(f, buf, offset, data, len));
}

static uint32_t do_simple(Fixture *f, FcopyOp op)
{
	static uint8_t buf[MSG_MAX];

	return exchange(f, buf, build_simple(f, buf, op));
}

static void assert_file(const char *path, const void *data, size_t len, mode_t mode)
{
	static uint8_t got[3 * FCOPY_DATA_FRAGMENT];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, len);
	assert_int_equal(st.st_mode & 07777, mode);
	assert_true(len <= sizeof(got));
	assert_int_equal(read(fd, got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, data, len);
	close(fd);
}

static void test_copy(void **state)
{
	static uint8_t data[2 * FCOPY_DATA_FRAGMENT + 100];
	Fixture *f = *state;
	char path[PATH_MAX];
	const char *name = "données-ü.bin";

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 8));
	assert_int_equal(do_start(f, f->dest, name, 0, sizeof(data)), HV_S_OK);
	/* Out of order, as the protocol allows. */
	assert_int_equal(
		do_write(f, FCOPY_DATA_FRAGMENT, data + FCOPY_DATA_FRAGMENT, FCOPY_DATA_FRAGMENT),
		HV_S_OK);
	assert_int_equal(do_write(f, 0, data, FCOPY_DATA_FRAGMENT), HV_S_OK);
	assert_int_equal(do_write(f, 2 * FCOPY_DATA_FRAGMENT, data + 2 * FCOPY_DATA_FRAGMENT, 100),
			 HV_S_OK);
	join(path, sizeof(path), f->dest, name);
	assert_int_equal(access(path, F_OK), -1); /* nothing at the name before COMPLETE */
	assert_int_equal(do_simple(f, FCOPY_OP_COMPLETE), HV_S_OK);
	assert_file(path, data, sizeof(data), 0644);
	assert_int_equal(count_entries(f->dest), 1);
	assert_int_equal(count_entries(f->run), 0);
	{
		_cleanup_free_ char *st = NULL;
		size_t st_size;

		join(path, sizeof(path), f->run, FCOPY_STATUS_FILE);
		assert_int_equal(read_full_file_at(AT_FDCWD, path, 65536, &st, &st_size), 0);
		assert_non_null(strstr(st, "transfers_ok=1\ntransfers_failed=0\n"));
		assert_non_null(strstr(st, "last_result=ok\n"));
	}

	/* An empty file, into a trailing-slash path. */
	join(path, sizeof(path), f->dest, "");
	assert_int_equal(do_start(f, path, "empty", 0, 0), HV_S_OK);
	assert_int_equal(do_simple(f, FCOPY_OP_COMPLETE), HV_S_OK);
	join(path, sizeof(path), f->dest, "empty");
	assert_file(path, "", 0, 0644);
}

static void test_overwrite(void **state)
{
	Fixture *f = *state;
	char path[PATH_MAX], inflight[PATH_MAX];

	join(path, sizeof(path), f->dest, "x");
	write_plain(path, "old");
	assert_int_equal(do_start(f, f->dest, "x", 0, 3), HV_ERROR_ALREADY_EXISTS);
	assert_int_equal(do_write(f, 0, "new", 3), HV_E_FAIL); /* no transfer open */
	assert_file(path, "old", 3, 0644 & ~0);

	assert_int_equal(do_start(f, f->dest, "x", FCOPY_FLAG_OVER_WRITE, 3), HV_S_OK);
	/* A named temporary file may exist now: its directory is on record. */
	join(inflight, sizeof(inflight), f->run, "fcopy-inflight");
	assert_int_equal(access(inflight, F_OK), 0);
	assert_int_equal(do_write(f, 0, "new", 3), HV_S_OK);
	assert_int_equal(do_simple(f, FCOPY_OP_COMPLETE), HV_S_OK);
	assert_file(path, "new", 3, 0644);
	assert_int_equal(access(inflight, F_OK), -1);
	assert_int_equal(count_entries(f->dest), 1);

	/* CREATE_PATH missing: -ENOENT -> HV_E_FAIL; with it the directories appear. */
	join(path, sizeof(path), f->dest, "a/b");
	assert_int_equal(do_start(f, path, "y", 0, 1), HV_E_FAIL);
	assert_int_equal(do_start(f, path, "y", FCOPY_FLAG_CREATE_PATH, 1), HV_S_OK);
	assert_int_equal(do_write(f, 0, "y", 1), HV_S_OK);
	assert_int_equal(do_simple(f, FCOPY_OP_COMPLETE), HV_S_OK);
	join(path, sizeof(path), f->dest, "a/b/y");
	assert_file(path, "y", 1, 0644);
}

static void test_cancel(void **state)
{
	Fixture *f = *state;

	assert_int_equal(do_start(f, f->dest, "c", FCOPY_FLAG_OVER_WRITE, 8), HV_S_OK);
	assert_int_equal(do_write(f, 0, "12345678", 8), HV_S_OK);
	assert_int_equal(do_simple(f, FCOPY_OP_CANCEL), HV_S_OK);
	assert_int_equal(count_entries(f->dest), 0);
	assert_int_equal(count_entries(f->run), 0);
	/* A second CANCEL (hibernation's fake one) is fine; COMPLETE now has nothing to do. */
	assert_int_equal(do_simple(f, FCOPY_OP_CANCEL), HV_S_OK);
	assert_int_equal(do_simple(f, FCOPY_OP_COMPLETE), HV_E_FAIL);
	assert_int_equal(count_entries(f->dest), 0);
}

static void test_without_start(void **state)
{
	Fixture *f = *state;

	assert_int_equal(do_write(f, 0, "abc", 3), HV_E_FAIL);
	assert_int_equal(do_simple(f, FCOPY_OP_COMPLETE), HV_E_FAIL);
	assert_int_equal(count_entries(f->dest), 0);
}

static void test_restart_cancels_previous(void **state)
{
	Fixture *f = *state;
	char path[PATH_MAX];

	assert_int_equal(do_start(f, f->dest, "first", 0, 4), HV_S_OK);
	assert_int_equal(do_write(f, 0, "1111", 4), HV_S_OK);
	assert_int_equal(do_start(f, f->dest, "second", 0, 4), HV_S_OK);
	assert_int_equal(do_write(f, 0, "2222", 4), HV_S_OK);
	assert_int_equal(do_simple(f, FCOPY_OP_COMPLETE), HV_S_OK);
	assert_int_equal(count_entries(f->dest), 1);
	join(path, sizeof(path), f->dest, "second");
	assert_file(path, "2222", 4, 0644);
}

static void test_invalid_messages(void **state)
{
	static uint8_t buf[MSG_MAX];
	Fixture *f = *state;
	char path[PATH_MAX];
	size_t len;

	/* START cut short, still with a header to answer in. */
	len = build_start(f, buf, f->dest, "t", 0, 1);
	assert_int_equal(exchange(f, buf, len - 600), HV_E_FAIL);
	/* Unknown operation. */
	len = build_simple(f, buf, FCOPY_OP_COMPLETE);
	put32(buf + hdr(f), 9);
	assert_int_equal(exchange(f, buf, len), HV_E_FAIL);
	/* WRITE claiming more data than a fragment. */
	len = build_write(f, buf, 0, "x", 1);
	put32(buf + hdr(f) + FCOPY_WRITE_SIZE_OFFSET, FCOPY_DATA_FRAGMENT + 1);
	assert_int_equal(exchange(f, buf, len), HV_E_FAIL);
	/* A relative path, and a file name with '/'. */
	assert_int_equal(do_start(f, "relative/dir", "t", 0, 1), HV_E_FAIL);
	assert_int_equal(do_start(f, f->dest, "a/b", 0, 1), HV_E_FAIL);
	/* "..": refused, nothing written outside. */
	join(path, sizeof(path), f->dest, "..");
	assert_int_equal(do_start(f, path, "escape", 0, 1), HV_E_FAIL);

	/* Still serving. */
	assert_int_equal(do_start(f, f->dest, "t", 0, 1), HV_S_OK);
	assert_int_equal(do_write(f, 0, "t", 1), HV_S_OK);
	assert_int_equal(do_simple(f, FCOPY_OP_COMPLETE), HV_S_OK);
	join(path, sizeof(path), f->dest, "t");
	assert_file(path, "t", 1, 0644);
	assert_int_equal(count_entries(f->top), 2);
}

static void test_ic_truncated_and_unknown(void **state)
{
	static uint8_t buf[MSG_MAX];
	Fixture *f = *state;

	/* Too short for an IC header: nothing to answer in, dropped; the next one is served. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(send(f->peer, buf, ICMSG_HDR - 1, 0), ICMSG_HDR - 1);
	for (int i = 0; i < 3; i++)
		assert_true(manager_run_once(f->m, 20 * USEC_PER_MSEC) >= 0);
	/* An FCOPY packet whose body is shorter than the fcopy header. */
	ic_header(buf, ICMSGTYPE_FCOPY, 8);
	assert_int_equal(exchange(f, buf, ICMSG_HDR + 8), HV_E_FAIL);
	/* Another IC's message type on this channel. */
	ic_header(buf, ICMSGTYPE_HEARTBEAT, 8);
	assert_int_equal(exchange(f, buf, ICMSG_HDR + 8), HV_E_FAIL);
	assert_int_equal(do_simple(f, FCOPY_OP_CANCEL), HV_S_OK);
}

static void test_ic_negotiate(void **state)
{
	static uint8_t buf[MSG_MAX], reply[MSG_MAX];
	/* Host offers frameworks 1.0, 3.0 and services 1.0, 1.1, 2.0. */
	static const uint16_t offer[][2] = { { 1, 0 }, { 3, 0 }, { 1, 0 }, { 1, 1 }, { 2, 0 } };
	Fixture *f = *state;
	size_t len = ICMSG_HDR + 8 + 4 * ELEMENTSOF(offer);

	memset(buf, 0, sizeof(buf));
	ic_header(buf, ICMSGTYPE_NEGOTIATE, len - ICMSG_HDR);
	put16(buf + ICMSG_HDR, 2);
	put16(buf + ICMSG_HDR + 2, 3);
	for (size_t i = 0; i < ELEMENTSOF(offer); i++) {
		put16(buf + ICMSG_HDR + 8 + 4 * i, offer[i][0]);
		put16(buf + ICMSG_HDR + 10 + 4 * i, offer[i][1]);
	}
	assert_int_equal(send(f->peer, buf, len, 0), (ssize_t)len);
	assert_true(pump(f));
	assert_int_equal(recv(f->peer, reply, sizeof(reply), 0), (ssize_t)len);
	assert_int_equal(get32(reply + ICMSG_OFF_STATUS), HV_S_OK);
	assert_int_equal(reply[ICMSG_OFF_FLAGS], ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE);
	assert_int_equal(reply[ICMSG_OFF_MSGSIZE], 0x10);
	assert_int_equal(get32(reply + ICMSG_HDR), 1 | 1 << 16);      /* counts 1/1 */
	assert_int_equal(get32(reply + ICMSG_HDR + 8), 3);	      /* framework 3.0 */
	assert_int_equal(get32(reply + ICMSG_HDR + 12), 1 | 1 << 16); /* service 1.1 */

	/* No common service version: HV_E_FAIL, counts 0/0. */
	put16(buf + ICMSG_HDR + 2, 1);
	len = ICMSG_HDR + 8 + 4 * 3;
	assert_int_equal(send(f->peer, buf, len, 0), (ssize_t)len);
	assert_true(pump(f));
	assert_int_equal(recv(f->peer, reply, sizeof(reply), 0), (ssize_t)len);
	assert_int_equal(get32(reply + ICMSG_OFF_STATUS), HV_E_FAIL);
	assert_int_equal(get32(reply + ICMSG_HDR), 0);
}

static void test_channel_lost(void **state)
{
	Fixture *f = *state;

	assert_int_equal(do_start(f, f->dest, "lost", FCOPY_FLAG_OVER_WRITE, 4), HV_S_OK);
	assert_int_equal(do_write(f, 0, "lost", 4), HV_S_OK);
	/* The kernel side goes away: the open transfer is cancelled, the manager keeps running. */
	f->peer = safe_close(f->peer);
	for (int i = 0; i < 3; i++)
		assert_true(manager_run_once(f->m, 20 * USEC_PER_MSEC) >= 0);
	assert_int_equal(count_entries(f->dest), 0);
	assert_int_equal(count_entries(f->run), 0);
}

static void test_channel_withdrawn(void **state)
{
	Fixture *f = *state;
	int r;

	/* A discovered uio node: the host withdrawing the channel ends the daemon cleanly. */
	manager_set_exit_on_loss(f->m, true);
	assert_int_equal(do_start(f, f->dest, "gone", FCOPY_FLAG_OVER_WRITE, 4), HV_S_OK);
	assert_int_equal(do_write(f, 0, "gone", 4), HV_S_OK);
	f->peer = safe_close(f->peer);
	/* The whole loop must end by itself with 0 (reconnecting would loop: killed by the alarm).
	 */
	(void)signal(SIGALRM, SIG_DFL);
	alarm(10);
	r = manager_run(f->m);
	alarm(0);
	assert_int_equal(r, 0);
	assert_int_equal(count_entries(f->dest), 0);
	assert_int_equal(count_entries(f->run), 0);
}

static void test_sigterm(void **state)
{
	Fixture *f = *state;

	assert_int_equal(do_start(f, f->dest, "term", 0, 4), HV_S_OK);
	assert_int_equal(do_write(f, 0, "term", 4), HV_S_OK);
	/* Blocked by the manager and delivered through its signalfd. */
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_true(manager_run_once(f->m, 100 * USEC_PER_MSEC) > 0);
	assert_int_equal(count_entries(f->dest), 0);
}

static void test_crash_cleanup(void **state)
{
	Fixture *f = *state;
	char path[PATH_MAX], keep[PATH_MAX];
	int fd;

	/* What a killed instance leaves: the record and a named temporary file. */
	manager_down(f);
	join(path, sizeof(path), f->dest, FCOPY_TMP_PREFIX "x1y2z3");
	write_plain(path, "partial");
	join(keep, sizeof(keep), f->dest, "keep");
	write_plain(keep, "keep");
	join(path, sizeof(path), f->run, "fcopy-inflight");
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dprintf(fd, "%s\n", f->dest) > 0, 1);
	close(fd);

	manager_up(f);
	assert_int_equal(count_entries(f->dest), 1);
	assert_int_equal(access(keep, F_OK), 0);
	assert_int_equal(count_entries(f->run), 0);
	assert_int_equal(do_simple(f, FCOPY_OP_CANCEL), HV_S_OK);
}

#define BOTH(t)                                                      \
	cmocka_unit_test_setup_teardown(t, setup_chardev, teardown), \
		cmocka_unit_test_setup_teardown(t, setup_ic, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_copy),
		BOTH(test_overwrite),
		BOTH(test_cancel),
		BOTH(test_without_start),
		BOTH(test_restart_cancels_previous),
		BOTH(test_invalid_messages),
		BOTH(test_channel_lost),
		BOTH(test_sigterm),
		cmocka_unit_test_setup_teardown(test_ic_truncated_and_unknown, setup_ic, teardown),
		cmocka_unit_test_setup_teardown(test_ic_negotiate, setup_ic, teardown),
		cmocka_unit_test_setup_teardown(test_channel_withdrawn, setup_ic, teardown),
		cmocka_unit_test_setup_teardown(test_crash_cleanup, setup_chardev, teardown),
	};

	log_set_max_level(getenv("TEST_DEBUG") ? LOG_DEBUG : LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
