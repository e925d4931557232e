/* SPDX-License-Identifier: MIT */
/*
 * Tests of the pre-6.10 fcopy kernel-driver model on the transport model, without FUSE: the
 * daemon side is driven through hs_transport_* calls, time through a fake clock. Offsets in
 * the checks are the documented ones (hyperv-abi.md §8.1), written out as numbers on purpose.
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
#include "hostsim/hostsim-fcopy.h"
#include "hostsim/hostsim-utf16.h"

#define TIMEOUT_USEC (30 * UINT64_C(1000000))

typedef struct Fixture {
	HsTransport t;
	HsFcopyModel m;
	uint64_t now;
	unsigned changed, queued;
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

static const HsFcopyModelOps ops = {
	.now_usec = fake_now,
	.changed = fake_changed,
};

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = 1000;
	hs_transport_init(&f->t, &hs_fcopy_service_ops, &f->m);
	hs_transport_set_backend(&f->t, fake_queued, f);
	hs_fcopy_init(&f->m, &f->t, &ops, f, 0);
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

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (size_t i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (size_t i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Daemon: one 4-byte write. */
static ssize_t write_u32(Fixture *f, uint32_t v)
{
	uint8_t msg[4];

	put32(msg, v);
	return hs_transport_write(&f->t, msg, sizeof(msg));
}

/* Daemon: open, version 1, read the 4-byte reply. */
static void register_daemon(Fixture *f)
{
	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_u32(f, 1), 4);
	assert_int_equal(f->m.state, HS_FCOPY_DEVICE_INIT);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 4);
	assert_int_equal(le32(f->buf), 1);
	assert_int_equal(f->m.state, HS_FCOPY_READY);
	assert_true(hs_fcopy_is_idle(&f->m));
}

/* Host: a header-only message. */
static int submit_simple(Fixture *f, uint32_t op)
{
	uint8_t msg[36] = {};

	put32(msg, op);
	return hs_fcopy_host_submit(&f->m, msg, sizeof(msg));
}

/* Host: START with names in UTF-16LE. */
static int submit_start(Fixture *f, const char *path, const char *name, uint32_t flags,
			uint64_t size)
{
	uint8_t msg[1088] = {};
	size_t units;

	put32(msg, HS_FCOPY_START_FILE_COPY);
	memset(msg + 4, 0xAB, 32); /* service ids: the kernel does not forward them */
	assert_int_equal(hostsim_utf16_from_utf8(name, msg + 36, 259, &units), 0);
	assert_int_equal(hostsim_utf16_from_utf8(path, msg + 556, 259, &units), 0);
	put32(msg + 1076, flags);
	put64(msg + 1080, size);
	return hs_fcopy_host_submit(&f->m, msg, sizeof(msg));
}

/* Host: WRITE with len bytes of fill at offset. */
static int submit_write(Fixture *f, uint64_t offset, uint8_t fill, uint32_t len)
{
	static uint8_t msg[6196];

	memset(msg, 0, sizeof(msg));
	put32(msg, HS_FCOPY_WRITE_TO_FILE);
	put64(msg + 40, offset);
	put32(msg + 48, len);
	memset(msg + 52, fill, len);
	return hs_fcopy_host_submit(&f->m, msg, sizeof(msg));
}

/* Daemon: replies with status; the host's transaction is then DONE with that status. */
static void reply_and_check(Fixture *f, uint32_t status)
{
	assert_int_equal(write_u32(f, status), 4);
	assert_int_equal(f->m.phase, HS_FCOPY_HOST_DONE);
	assert_int_equal(f->m.end, HS_FCOPY_END_REPLY);
	assert_int_equal(f->m.host_status, status);
	assert_int_equal(f->m.state, HS_FCOPY_READY);
	hs_fcopy_host_finish(&f->m);
	assert_true(hs_fcopy_is_idle(&f->m));
}

static void test_handshake_v1(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(f->m.registrations, 1);
	/* Once registered, a version write is an unsolicited reply. */
	assert_int_equal(write_u32(f, 1), -EINVAL);
}

static void test_handshake_v1_twice_before_read(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_u32(f, 1), 4);
	/* The reply is still unread: the second send fails. */
	assert_int_equal(write_u32(f, 1), -EFAULT);
	assert_int_equal(f->m.registrations, 1);
}

static void test_handshake_v0_and_bad(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_u32(f, 2), -EINVAL);
	assert_int_equal(write_u32(f, 0), 4);
	assert_false(hs_transport_readable(&f->t));
	assert_int_equal(f->m.state, HS_FCOPY_DEVICE_INIT);
	assert_int_equal(f->m.registrations, 1);

	/* Still not READY: the host fails at once. */
	assert_int_equal(submit_simple(f, HS_FCOPY_COMPLETE), 0);
	assert_int_equal(f->m.phase, HS_FCOPY_HOST_DONE);
	assert_int_equal(f->m.end, HS_FCOPY_END_NOT_READY);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_false(hs_transport_readable(&f->t));
}

static void test_write_sizes(void **state)
{
	Fixture *f = *state;
	uint8_t b[12] = { 1 };

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(hs_transport_write(&f->t, b, 3), -EINVAL);
	assert_int_equal(hs_transport_write(&f->t, b, 8), -EINVAL);
	assert_int_equal(hs_transport_write(&f->t, b, 12), -EINVAL);
	assert_int_equal(f->m.registrations, 0);
	assert_int_equal(f->t.einval_writes, 3);
	assert_int_equal(hs_transport_write(&f->t, b, 4), 4);
	assert_int_equal(f->m.registrations, 1);
}

static void test_not_ready_fails_at_once(void **state)
{
	Fixture *f = *state;

	assert_int_equal(submit_start(f, "/tmp", "x", 0, 0), 0);
	assert_int_equal(f->m.end, HS_FCOPY_END_NOT_READY);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.not_ready, 1);
	hs_fcopy_host_finish(&f->m);

	/* Registered but the reply not read yet: still not READY. */
	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_u32(f, 1), 4);
	assert_int_equal(submit_simple(f, HS_FCOPY_CANCEL), 0);
	assert_int_equal(f->m.end, HS_FCOPY_END_NOT_READY);
	assert_int_equal(f->m.not_ready, 2);
}

static void test_start_layout(void **state)
{
	Fixture *f = *state;
	/* "ü" (2 UTF-8 bytes) and "€" (3 bytes), U+1F600 (surrogate pair, 4 bytes). */
	const char *name = "f\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80.txt";

	register_daemon(f);
	assert_int_equal(submit_start(f, "/dst/dir", name,
				      HS_FCOPY_OVER_WRITE | HS_FCOPY_CREATE_PATH,
				      UINT64_C(0x123456789)),
			 0);
	assert_int_equal(f->m.state, HS_FCOPY_USERSPACE_REQ);
	assert_int_equal(f->m.deadline, f->now + TIMEOUT_USEC);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 1088);

	assert_int_equal(le32(f->buf), 0);
	for (size_t i = 4; i < 36; i++)
		assert_int_equal(f->buf[i], 0);
	assert_string_equal((const char *)f->buf + 36, name);
	assert_string_equal((const char *)f->buf + 556, "/dst/dir");
	/* Everything after the UTF-8 names is zero up to the next field. */
	for (size_t i = 36 + strlen(name); i < 556; i++)
		assert_int_equal(f->buf[i], 0);
	for (size_t i = 556 + strlen("/dst/dir"); i < 1076; i++)
		assert_int_equal(f->buf[i], 0);
	assert_int_equal(le32(f->buf + 1076), 3);
	assert_int_equal(le64(f->buf + 1080), UINT64_C(0x123456789));

	/* The daemon's status is what the host sees. */
	reply_and_check(f, HV_ERROR_ALREADY_EXISTS);
	assert_int_equal(f->m.delivered[HS_FCOPY_START_FILE_COPY], 1);
}

static void test_start_long_name_cut(void **state)
{
	Fixture *f = *state;
	char name[401];

	/* 200 x U+00E9: 200 UTF-16 units, 400 UTF-8 bytes; the kernel keeps 259 bytes at most,
	 * i.e. 129 whole characters (258 bytes). */
	for (size_t i = 0; i < 200; i++) {
		name[2 * i] = (char)0xc3;
		name[2 * i + 1] = (char)0xa9;
	}
	name[400] = '\0';
	register_daemon(f);
	assert_int_equal(submit_start(f, "/p", name, 0, 0), 0);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 1088);
	assert_int_equal(strlen((const char *)f->buf + 36), 258);
	assert_int_equal(f->buf[36 + 258], 0);
}

static void test_write_layout(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(submit_write(f, 12288, 0x5a, 6144), 0);
	/* A buffer smaller than the message: EINVAL and it stays. */
	assert_int_equal(hs_transport_read(&f->t, f->buf, 6195), -EINVAL);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 6196);
	assert_int_equal(le32(f->buf), 1);
	assert_int_equal(le32(f->buf + 36), 0);
	assert_int_equal(le64(f->buf + 40), 12288);
	assert_int_equal(le32(f->buf + 48), 6144);
	for (size_t i = 52; i < 6196; i++)
		assert_int_equal(f->buf[i], 0x5a);
	reply_and_check(f, HV_S_OK);
	assert_int_equal(f->m.delivered[HS_FCOPY_WRITE_TO_FILE], 1);
}

static void test_complete_cancel_overlong(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(submit_write(f, 0, 0x77, 100), 0);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 6196);
	reply_and_check(f, HV_S_OK);

	assert_int_equal(submit_simple(f, HS_FCOPY_COMPLETE), 0);
	/* 28 bytes of IC headers counted: 64 bytes, the tail left over from the WRITE. */
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 64);
	assert_int_equal(le32(f->buf), 2);
	for (size_t i = 4; i < 36; i++)
		assert_int_equal(f->buf[i], 0);
	/* Bytes 36..63 are the WRITE's pad, offset, size and data. */
	assert_int_equal(le32(f->buf + 48), 100);
	assert_int_equal(f->buf[52], 0x77);
	reply_and_check(f, HV_S_OK);

	assert_int_equal(submit_simple(f, HS_FCOPY_CANCEL), 0);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 64);
	assert_int_equal(le32(f->buf), 3);
	reply_and_check(f, HV_S_OK);
	assert_int_equal(f->m.delivered[HS_FCOPY_COMPLETE], 1);
	assert_int_equal(f->m.delivered[HS_FCOPY_CANCEL], 1);
}

static void test_timeout_stale_and_late_reply(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(submit_simple(f, HS_FCOPY_COMPLETE), 0);
	f->now += TIMEOUT_USEC - 1;
	hs_fcopy_tick(&f->m);
	assert_int_equal(f->m.phase, HS_FCOPY_HOST_ACTIVE);
	f->now += 1;
	hs_fcopy_tick(&f->m);
	assert_int_equal(f->m.phase, HS_FCOPY_HOST_DONE);
	assert_int_equal(f->m.end, HS_FCOPY_END_TIMEOUT);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.state, HS_FCOPY_READY);
	assert_int_equal(f->m.timeouts, 1);
	hs_fcopy_host_finish(&f->m);

	/* The stale message is still there; the late reply is refused. */
	assert_true(hs_transport_readable(&f->t));
	assert_false(hs_fcopy_is_idle(&f->m));
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 64);
	assert_int_equal(write_u32(f, HV_S_OK), -EINVAL);

	/* Once it has been read, the next request goes through. */
	assert_int_equal(submit_simple(f, HS_FCOPY_CANCEL), 0);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), 64);
	reply_and_check(f, HV_S_OK);
}

static void test_sendfail_unread(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(submit_simple(f, HS_FCOPY_COMPLETE), 0);
	f->now += TIMEOUT_USEC;
	hs_fcopy_tick(&f->m);
	hs_fcopy_host_finish(&f->m);
	/* Stale COMPLETE unread: the next message cannot be queued. */
	assert_int_equal(submit_simple(f, HS_FCOPY_CANCEL), 0);
	assert_int_equal(f->m.phase, HS_FCOPY_HOST_DONE);
	assert_int_equal(f->m.end, HS_FCOPY_END_SENDFAIL);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.state, HS_FCOPY_READY);
	assert_int_equal(f->m.deadline, 0);
}

static void test_configurable_timeout(void **state)
{
	Fixture *f = *state;

	hs_fcopy_init(&f->m, &f->t, &ops, f, 5000);
	register_daemon(f);
	assert_int_equal(submit_simple(f, HS_FCOPY_COMPLETE), 0);
	assert_int_equal(f->m.deadline, f->now + 5000);
	f->now += 5000;
	hs_fcopy_tick(&f->m);
	assert_int_equal(f->m.end, HS_FCOPY_END_TIMEOUT);
}

static void test_release_fails_and_resets(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(submit_write(f, 0, 1, 10), 0);
	hs_transport_release(&f->t);
	assert_int_equal(f->m.phase, HS_FCOPY_HOST_DONE);
	assert_int_equal(f->m.end, HS_FCOPY_END_RESET);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.state, HS_FCOPY_DEVICE_INIT);
	assert_false(f->m.registered);
	assert_false(hs_transport_readable(&f->t));
	hs_fcopy_host_finish(&f->m);

	/* Back to "no daemon"; a new opener must register again. */
	assert_int_equal(submit_simple(f, HS_FCOPY_CANCEL), 0);
	assert_int_equal(f->m.end, HS_FCOPY_END_NOT_READY);
	hs_fcopy_host_finish(&f->m);
	register_daemon(f);
	assert_int_equal(f->m.registrations, 2);
}

static void test_queued_and_busy(void **state)
{
	Fixture *f = *state;
	uint8_t small[35] = {};

	register_daemon(f);
	assert_int_equal(hs_fcopy_host_submit(&f->m, small, sizeof(small)), -EINVAL);
	assert_int_equal(submit_simple(f, HS_FCOPY_COMPLETE), 0);
	assert_int_equal(submit_simple(f, HS_FCOPY_CANCEL), -EBUSY);

	/* A request that finds the service busy waits in the ring and may be withdrawn. */
	f->m.phase = HS_FCOPY_HOST_IDLE;
	assert_int_equal(submit_simple(f, HS_FCOPY_CANCEL), 0);
	assert_int_equal(f->m.phase, HS_FCOPY_HOST_QUEUED);
	assert_true(hs_fcopy_host_withdraw(&f->m));
	assert_int_equal(f->m.end, HS_FCOPY_END_WITHDRAWN);
	assert_false(hs_fcopy_host_withdraw(&f->m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_v1_twice_before_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_handshake_v0_and_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ready_fails_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_long_name_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_cancel_overlong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_stale_and_late_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sendfail_unread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configurable_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_fails_and_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_and_busy, setup, teardown),
	};

	return cmocka_run_group_tests_name("hostsim-fcopy", tests, NULL, NULL);
}
