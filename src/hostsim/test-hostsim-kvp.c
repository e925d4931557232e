/* SPDX-License-Identifier: MIT */
/*
 * Tests of the KVP kernel-driver model and the transport model, without FUSE: the daemon
 * side is driven through hs_transport_* calls, time through a fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hv-status.h"
#include "hostsim/hostsim-kvp-host.h"
#include "hostsim/hostsim-kvp.h"

#define MSG HS_KVP_MSG_SIZE
#define TIMEOUT_USEC (30 * UINT64_C(1000000))

typedef struct Fixture {
	HsTransport t;
	HsKvpModel m;
	uint64_t now;
	unsigned changed, queued;
	uint8_t host[MSG];
	uint8_t buf[HS_TRANSPORT_MSG_MAX];
} Fixture;

static uint64_t fake_now(void *userdata)
{
	Fixture *f = userdata;

	return f->now;
}

static void fake_changed(void *userdata)
{
	Fixture *f = userdata;

	f->changed++;
}

static void fake_queued(void *backend)
{
	Fixture *f = backend;

	f->queued++;
}

static const HsKvpModelOps ops = {
	.now_usec = fake_now,
	.changed = fake_changed,
};

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = 1000;
	hs_transport_init(&f->t, &hs_kvp_service_ops, &f->m);
	hs_transport_set_backend(&f->t, fake_queued, f);
	hs_kvp_init(&f->m, &f->t, &ops, f, TIMEOUT_USEC);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Daemon: write a 7432-byte message whose first byte is op. */
static ssize_t write_op(Fixture *f, uint8_t op)
{
	uint8_t msg[MSG] = { op };

	return hs_transport_write(&f->t, msg, sizeof(msg));
}

/* Daemon: open, register with REGISTER1 and read the reply, as upstream does. */
static void register_daemon(Fixture *f)
{
	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_op(f, HS_KVP_OP_REGISTER1), MSG);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), MSG);
	assert_int_equal(f->m.state, HS_KVP_READY);
}

/* Daemon: read the pending request into f->buf. */
static void read_request(Fixture *f)
{
	assert_true(hs_transport_readable(&f->t));
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), MSG);
}

static void reply(Fixture *f, uint32_t status, const char *key, const char *value)
{
	uint8_t msg[MSG] = {};

	put32(msg, status);
	if (key)
		memcpy(msg + HS_KVP_OFF_ENUM_KEY, key, strlen(key) + 1);
	if (value)
		memcpy(msg + HS_KVP_OFF_ENUM_VALUE, value, strlen(value) + 1);
	assert_int_equal(hs_transport_write(&f->t, msg, sizeof(msg)), MSG);
}

static void test_registration_flow(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(f->m.state, HS_KVP_DEVICE_INIT);
	assert_false(hs_transport_readable(&f->t));
	/* Nothing to read yet: the back-end must park the read. */
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), -EAGAIN);

	assert_int_equal(write_op(f, HS_KVP_OP_REGISTER1), MSG);
	assert_int_equal(f->m.registrations, 1);
	assert_int_equal(f->queued, 1);
	/* Not READY until the daemon has read the reply. */
	assert_int_equal(f->m.state, HS_KVP_DEVICE_INIT);

	memset(f->buf, 0xaa, sizeof(f->buf));
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), MSG);
	assert_int_equal(f->buf[0], HS_KVP_OP_REGISTER1);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_REGISTER_VERSION, "3.1");
	assert_int_equal(f->buf[MSG - 1], 0);
	assert_int_equal(f->m.state, HS_KVP_READY);
	assert_true(hs_kvp_is_idle(&f->m));
}

static void test_registration_legacy(void **state)
{
	Fixture *f = *state;
	HostKvpReply r;

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_op(f, HS_KVP_OP_REGISTER), MSG);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), MSG);
	assert_int_equal(f->buf[0], HS_KVP_OP_REGISTER);
	assert_int_equal(f->m.state, HS_KVP_READY);

	/* Legacy daemons report failure with an empty key, not with the status field. */
	hs_kvp_host_build_enumerate(f->host, 0, 0);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	reply(f, HV_S_OK, "", "ignored");
	assert_int_equal(f->m.phase, HS_KVP_HOST_DONE);
	assert_int_equal(f->m.host_status, HV_S_CONT);
	hs_kvp_host_finish(&f->m);

	hs_kvp_host_build_enumerate(f->host, 0, 1);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	reply(f, 0x12345678, "k", "v"); /* status field ignored in legacy mode */
	assert_int_equal(f->m.host_status, HV_S_OK);
	hs_kvp_host_parse_reply(f->m.host_msg, f->m.host_status, &r);
	assert_string_equal(r.key, "k");
	assert_string_equal(r.value, "v");
}

static void test_registration_rejected(void **state)
{
	Fixture *f = *state;
	uint8_t msg[MSG + 100] = { HS_KVP_OP_REGISTER1 };

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(hs_transport_write(&f->t, msg, MSG - 1), -EINVAL);
	assert_int_equal(write_op(f, 5), -EINVAL);
	assert_int_equal(f->t.einval_writes, 2);
	assert_int_equal(f->m.registrations, 0);
	/* Longer than the struct is fine. */
	assert_int_equal(hs_transport_write(&f->t, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	assert_int_equal(f->m.registrations, 1);
}

static void test_ebusy_and_release(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_transport_open(&f->t), -EBUSY);
	assert_int_equal(f->t.ebusy, 1);

	hs_transport_release(&f->t);
	assert_int_equal(f->m.state, HS_KVP_DEVICE_INIT);
	assert_int_equal(f->t.releases, 1);
	/* The daemon must register again after reopening. */
	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(f->t.opens, 2);
	assert_int_equal(f->m.state, HS_KVP_DEVICE_INIT);
}

static void test_unsolicited_write(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	/* READY with nothing outstanding: a "reply" is spurious. */
	assert_int_equal(write_op(f, 0), -EINVAL);
	assert_int_equal(f->t.einval_writes, 1);
	assert_int_equal(f->m.state, HS_KVP_READY);
}

static void test_set_conversion(void **state)
{
	Fixture *f = *state;
	const char *key = "K\xc3\xa9y \xe2\x9c\x93"; /* Kéy ✓ */
	const char *value = "v\xf0\x9f\x98\x80lue";  /* v😀lue */

	register_daemon(f);
	assert_int_equal(hs_kvp_host_build_set(f->host, 0, key, value), 0);
	/* Host wire form: UTF-16, sizes in bytes including the NUL. */
	assert_int_equal(le32(f->host + HS_KVP_OFF_SET_KEY_SIZE), 2 * (5 + 1));
	/* The emoji takes a surrogate pair. */
	assert_int_equal(le32(f->host + HS_KVP_OFF_SET_VALUE_SIZE), 2 * (6 + 1));

	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	assert_int_equal(f->m.state, HS_KVP_USERSPACE_REQ);
	read_request(f);
	assert_int_equal(f->buf[0], HS_KVP_OP_SET);
	assert_int_equal(f->buf[1], 0);
	/* value_type is not forwarded. */
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_VALUE_TYPE), 0);
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_KEY_SIZE), strlen(key) + 1);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_SET_KEY, key);
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_VALUE_SIZE), strlen(value) + 1);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_SET_VALUE, value);
	/* Zero-filled elsewhere. */
	assert_int_equal(f->buf[HS_KVP_OFF_SET_KEY + strlen(key) + 1], 0);
	assert_int_equal(f->buf[MSG - 1], 0);

	reply(f, HV_S_OK, NULL, NULL);
	assert_int_equal(f->m.phase, HS_KVP_HOST_DONE);
	assert_int_equal(f->m.end, HS_KVP_END_REPLY);
	assert_int_equal(f->m.host_status, HV_S_OK);
	assert_int_equal(f->m.state, HS_KVP_READY);
}

static void test_set_long_strings(void **state)
{
	Fixture *f = *state;
	char key[256], value[1025]; /* value: 1024 units, one too many */

	/* The longest host strings: 255 / 1023 units of a 3-byte character. The kernel cuts
	 * them to 511 / 2047 bytes of UTF-8, whole characters only. */
	for (size_t i = 0; i < 255; i++)
		key[i] = 'k';
	key[255] = '\0';
	assert_int_equal(hs_kvp_host_build_set(f->host, 3, key, "x"), 0);
	hs_kvp_build_daemon_msg(f->host, f->buf);
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_KEY_SIZE), 256);

	{
		char wide[3 * 1023 + 1];

		for (size_t i = 0; i < 1023; i++)
			memcpy(wide + 3 * i, "\xe4\xb8\xad", 3);
		wide[3 * 1023] = '\0';
		assert_int_equal(hs_kvp_host_build_set(f->host, 3, "k", wide), 0);
		hs_kvp_build_daemon_msg(f->host, f->buf);
		/* 682 characters = 2046 bytes; the next one does not fit in 2047. */
		assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_VALUE_SIZE), 2046 + 1);
		assert_int_equal(strlen((char *)f->buf + HS_KVP_OFF_SET_VALUE), 2046);
		assert_int_equal(f->buf[1], 3);
	}

	/* Longer than the host can send. */
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	assert_int_equal(hs_kvp_host_build_set(f->host, 0, "k", value), -E2BIG);
	assert_int_equal(hs_kvp_host_build_set(f->host, 0, "\xff", "v"), -EILSEQ);
}

static void test_set_integers(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_kvp_host_build_set_int(f->host, 0, "n", HS_KVP_REG_U32, UINT32_MAX), 0);
	hs_kvp_build_daemon_msg(f->host, f->buf);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_SET_VALUE, "4294967295");
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_VALUE_SIZE), 11);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_SET_KEY, "n");

	assert_int_equal(hs_kvp_host_build_set_int(f->host, 0, "n", HS_KVP_REG_U64, UINT64_MAX), 0);
	hs_kvp_build_daemon_msg(f->host, f->buf);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_SET_VALUE, "18446744073709551615");
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_VALUE_SIZE), 21);

	/* Unknown value types leave the value empty with size 0. */
	put32(f->host + HS_KVP_OFF_SET_VALUE_TYPE, 3);
	hs_kvp_build_daemon_msg(f->host, f->buf);
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_VALUE_SIZE), 0);
	assert_int_equal(f->buf[HS_KVP_OFF_SET_VALUE], 0);
}

static void test_get_delete_enumerate_layout(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_kvp_host_build_get(f->host, 1, "abc"), 0);
	hs_kvp_build_daemon_msg(f->host, f->buf);
	assert_int_equal(f->buf[0], HS_KVP_OP_GET);
	assert_int_equal(f->buf[1], 1);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_SET_KEY, "abc");
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_KEY_SIZE), 4);
	/* GET carries no value size. */
	assert_int_equal(le32(f->buf + HS_KVP_OFF_SET_VALUE_SIZE), 0);

	assert_int_equal(hs_kvp_host_build_delete(f->host, 0, "gone"), 0);
	hs_kvp_build_daemon_msg(f->host, f->buf);
	assert_int_equal(f->buf[0], HS_KVP_OP_DELETE);
	assert_int_equal(le32(f->buf + HS_KVP_OFF_DELETE_KEY_SIZE), 5);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_DELETE_KEY, "gone");

	/* The pool is copied without validation. */
	hs_kvp_host_build_enumerate(f->host, 200, 7);
	hs_kvp_build_daemon_msg(f->host, f->buf);
	assert_int_equal(f->buf[0], HS_KVP_OP_ENUMERATE);
	assert_int_equal(f->buf[1], 200);
	assert_int_equal(le32(f->buf + HS_KVP_OFF_ENUM_INDEX), 7);
	for (size_t i = 8; i < MSG; i++)
		if (f->buf[i] != 0)
			fail_msg("byte %zu not zero", i);
}

static void test_reply_decoding(void **state)
{
	Fixture *f = *state;
	HostKvpReply r;

	register_daemon(f);

	/* ENUMERATE: key @20, value @532. */
	hs_kvp_host_build_enumerate(f->host, 0, 0);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	reply(f, HV_S_OK, "Na\xc3\xafve",
	      "\xe2\x82\xac"
	      "5");
	assert_int_equal(f->m.host_status, HV_S_OK);
	hs_kvp_host_parse_reply(f->m.host_msg, f->m.host_status, &r);
	assert_string_equal(r.key, "Na\xc3\xafve");
	assert_string_equal(r.value, "\xe2\x82\xac"
				     "5");
	assert_int_equal(le32(f->m.host_msg + HS_KVP_OFF_ENUM_KEY_SIZE), 2 * (5 + 1));
	assert_int_equal(le32(f->m.host_msg + HS_KVP_OFF_ENUM_VALUE_TYPE), HS_KVP_REG_SZ);
	hs_kvp_host_finish(&f->m);

	/* GET: the kernel reads the value at 532, not at the SET layout's 528. */
	assert_int_equal(hs_kvp_host_build_get(f->host, 0, "k"), 0);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	{
		uint8_t msg[MSG] = {};

		memcpy(msg + HS_KVP_OFF_SET_VALUE, "at528", 6);
		assert_int_equal(hs_transport_write(&f->t, msg, sizeof(msg)), MSG);
	}
	hs_kvp_host_parse_reply(f->m.host_msg, f->m.host_status, &r);
	assert_int_equal(r.status, HV_S_OK);
	/* Bytes 528..531 are "at52", so the string at 532 starts with "8". */
	assert_string_equal(r.value, "8");
	hs_kvp_host_finish(&f->m);

	/* A failure status: only the status reaches the host. */
	hs_kvp_host_build_enumerate(f->host, 2, 10);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	reply(f, HV_S_CONT, "should", "not appear");
	hs_kvp_host_parse_reply(f->m.host_msg, f->m.host_status, &r);
	assert_int_equal(r.status, HV_S_CONT);
	assert_string_equal(r.key, "");
	assert_string_equal(r.value, "");
	assert_int_equal(le32(f->m.host_msg + HS_KVP_OFF_ENUM_KEY_SIZE), 0);
}

static void test_reply_limits_and_invalid(void **state)
{
	Fixture *f = *state;
	char key[512], value[2048];
	HostKvpReply r;

	register_daemon(f);

	memset(key, 'k', 300);
	key[300] = '\0';
	memset(value, 'v', 1500);
	value[1500] = '\0';
	hs_kvp_host_build_enumerate(f->host, 0, 0);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	reply(f, HV_S_OK, key, value);
	assert_int_equal(f->m.host_status, HV_S_OK);
	hs_kvp_host_parse_reply(f->m.host_msg, f->m.host_status, &r);
	/* Silently cut to 254 / 1022 units. */
	assert_int_equal(strlen(r.key), 254);
	assert_int_equal(strlen(r.value), 1022);
	assert_int_equal(le32(f->m.host_msg + HS_KVP_OFF_ENUM_KEY_SIZE), 2 * 255);
	assert_int_equal(le32(f->m.host_msg + HS_KVP_OFF_ENUM_VALUE_SIZE), 2 * 1023);
	hs_kvp_host_finish(&f->m);

	/* Invalid UTF-8 fails the request. */
	hs_kvp_host_build_enumerate(f->host, 0, 1);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	reply(f, HV_S_OK, "ok", "bad\xc3");
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	hs_kvp_host_finish(&f->m);

	/* An unterminated 512-byte key: strlen stays within the field. */
	hs_kvp_host_build_enumerate(f->host, 0, 2);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	{
		uint8_t msg[MSG] = {};

		memset(msg + HS_KVP_OFF_ENUM_KEY, 'x', HS_KVP_KEY_SIZE);
		memcpy(msg + HS_KVP_OFF_ENUM_VALUE, "val", 4);
		assert_int_equal(hs_transport_write(&f->t, msg, sizeof(msg)), MSG);
	}
	assert_int_equal(f->m.host_status, HV_S_OK);
	hs_kvp_host_parse_reply(f->m.host_msg, f->m.host_status, &r);
	assert_int_equal(strlen(r.key), 254);
	assert_string_equal(r.value, "val");
}

static void test_deferred_until_registration(void **state)
{
	Fixture *f = *state;

	hs_kvp_host_build_get(f->host, 0, "early");
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	assert_int_equal(f->m.phase, HS_KVP_HOST_QUEUED);
	assert_int_equal(f->m.deferred, 1);
	assert_int_equal(f->m.deadline, 0);
	/* A second host request is refused: one transaction at a time. */
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), -EBUSY);

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_op(f, HS_KVP_OP_REGISTER1), MSG);
	/* Still waiting: only the registration reply is queued. */
	assert_int_equal(f->m.phase, HS_KVP_HOST_QUEUED);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), MSG);
	assert_int_equal(f->buf[0], HS_KVP_OP_REGISTER1);

	/* Reading the registration reply released the deferred request. */
	assert_int_equal(f->m.phase, HS_KVP_HOST_ACTIVE);
	assert_int_equal(f->m.deadline, f->now + TIMEOUT_USEC);
	read_request(f);
	assert_int_equal(f->buf[0], HS_KVP_OP_GET);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_SET_KEY, "early");
	reply(f, HV_S_CONT, NULL, NULL);
	assert_int_equal(f->m.host_status, HV_S_CONT);
}

static void test_withdraw(void **state)
{
	Fixture *f = *state;

	hs_kvp_host_build_enumerate(f->host, 0, 0);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	assert_true(hs_kvp_host_withdraw(&f->m));
	assert_int_equal(f->m.phase, HS_KVP_HOST_DONE);
	assert_int_equal(f->m.end, HS_KVP_END_WITHDRAWN);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	hs_kvp_host_finish(&f->m);

	/* The withdrawn request never reaches a daemon that registers later. */
	register_daemon(f);
	assert_false(hs_transport_readable(&f->t));
	assert_false(hs_kvp_host_withdraw(&f->m));
}

static void test_timeout_leaves_message_queued(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	hs_kvp_host_build_get(f->host, 0, "slow");
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	assert_true(hs_transport_readable(&f->t));

	/* Not due yet. */
	f->now += TIMEOUT_USEC - 1;
	hs_kvp_tick(&f->m);
	assert_int_equal(f->m.phase, HS_KVP_HOST_ACTIVE);

	f->now += 1;
	hs_kvp_tick(&f->m);
	assert_int_equal(f->m.phase, HS_KVP_HOST_DONE);
	assert_int_equal(f->m.end, HS_KVP_END_TIMEOUT);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.timeouts, 1);
	assert_int_equal(f->m.state, HS_KVP_READY);
	/* The unread message stays queued... */
	assert_true(hs_transport_readable(&f->t));
	hs_kvp_host_finish(&f->m);

	/* ...so the next host request cannot be sent and fails at once. */
	hs_kvp_host_build_get(f->host, 0, "next");
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	assert_int_equal(f->m.phase, HS_KVP_HOST_DONE);
	assert_int_equal(f->m.end, HS_KVP_END_SENDFAIL);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.state, HS_KVP_READY);
	hs_kvp_host_finish(&f->m);

	/* The late daemon reads the stale request; its reply is rejected. */
	read_request(f);
	assert_string_equal((char *)f->buf + HS_KVP_OFF_SET_KEY, "slow");
	assert_int_equal(write_op(f, 0), -EINVAL);
	assert_int_equal(f->t.einval_writes, 1);
	assert_true(hs_kvp_is_idle(&f->m));
}

static void test_release_fails_outstanding(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	hs_kvp_host_build_enumerate(f->host, 0, 0);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	f->changed = 0;

	hs_transport_release(&f->t);
	assert_int_equal(f->m.phase, HS_KVP_HOST_DONE);
	assert_int_equal(f->m.end, HS_KVP_END_RESET);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.deadline, 0);
	assert_int_equal(f->m.state, HS_KVP_DEVICE_INIT);
	assert_true(f->changed > 0);
	hs_kvp_host_finish(&f->m);

	/* A request queued but unread is dropped by the release too. */
	register_daemon(f);
	hs_kvp_host_build_enumerate(f->host, 0, 1);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	assert_true(hs_transport_readable(&f->t));
	hs_transport_release(&f->t);
	assert_false(hs_transport_readable(&f->t));
	assert_int_equal(f->m.end, HS_KVP_END_RESET);
}

static void test_short_read_keeps_message(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	hs_kvp_host_build_enumerate(f->host, 0, 0);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	assert_int_equal(hs_transport_read(&f->t, f->buf, MSG - 1), -EINVAL);
	assert_true(hs_transport_readable(&f->t));
	/* A larger buffer gets exactly one message. */
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), MSG);
	assert_false(hs_transport_readable(&f->t));
}

static void test_raw_request(void **state)
{
	Fixture *f = *state;
	uint8_t raw[100] = { HS_KVP_OP_ENUMERATE, 9 };

	register_daemon(f);
	assert_int_equal(hs_kvp_host_submit_raw(&f->m, raw, sizeof(raw)), 0);
	/* Delivered with its own length. */
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), sizeof(raw));
	assert_int_equal(f->buf[1], 9);
	reply(f, HV_S_OK, "rk", "rv");
	assert_int_equal(f->m.host_status, HV_S_OK);
	assert_int_equal(f->m.reply_len, MSG);
	assert_string_equal((char *)f->m.reply + HS_KVP_OFF_ENUM_KEY, "rk");
	hs_kvp_host_finish(&f->m);

	assert_int_equal(hs_kvp_host_submit_raw(&f->m, raw, HS_TRANSPORT_MSG_MAX + 1), -EMSGSIZE);
}

static void test_ip_info(void **state)
{
	Fixture *f = *state;
	HostKvpIpInfo *q = calloc(1, sizeof(*q)), *a = calloc(1, sizeof(*a));
	uint8_t *v;

	assert_non_null(q);
	assert_non_null(a);
	register_daemon(f);

	memcpy(q->adapter_id, "00:15:5D:12:34:56", 18);
	q->addr_family = 3;
	assert_int_equal(hs_kvp_host_build_ip_info(f->host, HS_KVP_OP_GET_IP_INFO, q), 0);
	assert_int_equal(hs_kvp_host_submit(&f->m, f->host), 0);
	read_request(f);
	v = f->buf + HS_KVP_IP_DAEMON_OFF;
	assert_int_equal(f->buf[0], HS_KVP_OP_GET_IP_INFO);
	assert_string_equal((char *)v + HS_KVP_IPV_ADAPTER_ID, "00:15:5D:12:34:56");
	assert_int_equal(v[HS_KVP_IPV_ADDR_FAMILY], 3);

	/* The daemon answers with UTF-8 lists in the u16 arrays used as bytes. */
	memset(f->buf, 0, MSG);
	memcpy(v + HS_KVP_IPV_ADAPTER_ID, "00:15:5D:12:34:56", 18);
	memcpy(v + HS_KVP_IPV_IP_ADDR, "192.0.2.10;2001:db8::10", 24);
	memcpy(v + HS_KVP_IPV_SUB_NET, "255.255.255.0;64", 17);
	memcpy(v + HS_KVP_IPV_GATE_WAY, "192.0.2.1;", 11);
	memcpy(v + HS_KVP_IPV_DNS_ADDR, "192.0.2.53;", 12);
	v[HS_KVP_IPV_ADDR_FAMILY] = 3;
	v[HS_KVP_IPV_DHCP_ENABLED] = 1;
	assert_int_equal(hs_transport_write(&f->t, f->buf, MSG), MSG);
	assert_int_equal(f->m.host_status, HV_S_OK);
	hs_kvp_host_parse_ip_info(f->m.host_msg, f->m.host_status, a);
	assert_string_equal(a->adapter_id, "00:15:5D:12:34:56");
	assert_string_equal(a->ip_addr, "192.0.2.10;2001:db8::10");
	assert_string_equal(a->sub_net, "255.255.255.0;64");
	assert_string_equal(a->gate_way, "192.0.2.1;");
	assert_string_equal(a->dns_addr, "192.0.2.53;");
	assert_int_equal(a->addr_family, 3);
	assert_int_equal(a->dhcp_enabled, 1);
	hs_kvp_host_finish(&f->m);

	/* SET_IP_INFO forwards everything, converted to UTF-8. */
	memcpy(q->adapter_id, "{guid}", 7);
	memcpy(q->ip_addr, "10.0.0.5", 9);
	memcpy(q->sub_net, "255.0.0.0", 10);
	memcpy(q->gate_way, "10.0.0.1", 9);
	memcpy(q->dns_addr, "10.0.0.2", 9);
	q->dhcp_enabled = 1;
	q->addr_family = 1;
	assert_int_equal(hs_kvp_host_build_ip_info(f->host, HS_KVP_OP_SET_IP_INFO, q), 0);
	hs_kvp_build_daemon_msg(f->host, f->buf);
	v = f->buf + HS_KVP_IP_DAEMON_OFF;
	assert_string_equal((char *)v + HS_KVP_IPV_ADAPTER_ID, "{guid}");
	assert_string_equal((char *)v + HS_KVP_IPV_IP_ADDR, "10.0.0.5");
	assert_string_equal((char *)v + HS_KVP_IPV_SUB_NET, "255.0.0.0");
	assert_string_equal((char *)v + HS_KVP_IPV_GATE_WAY, "10.0.0.1");
	assert_string_equal((char *)v + HS_KVP_IPV_DNS_ADDR, "10.0.0.2");
	assert_int_equal(v[HS_KVP_IPV_DHCP_ENABLED], 1);
	assert_int_equal(v[HS_KVP_IPV_ADDR_FAMILY], 1);

	free(q);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registration_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ebusy_and_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsolicited_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_conversion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_long_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_integers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_delete_enumerate_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_decoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_limits_and_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_until_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_withdraw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_leaves_message_queued, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_release_fails_outstanding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_read_keeps_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip_info, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
