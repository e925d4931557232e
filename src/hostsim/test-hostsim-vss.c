/* SPDX-License-Identifier: MIT */
/*
 * Tests of the VSS kernel-driver model on the transport model, without FUSE: the daemon side
 * is driven through hs_transport_* calls, time through a fake clock.
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
#include "hostsim/hostsim-vss.h"

#define MSG HS_VSS_MSG_SIZE
#define FREEZE_TIMEOUT_USEC (900 * UINT64_C(1000000))
#define TIMEOUT_USEC (30 * UINT64_C(1000000))

typedef struct Fixture {
	HsTransport t;
	HsVssModel m;
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

static const HsVssModelOps ops = {
	.now_usec = fake_now,
	.changed = fake_changed,
};

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = 1000;
	hs_transport_init(&f->t, &hs_vss_service_ops, &f->m);
	hs_transport_set_backend(&f->t, fake_queued, f);
	/* 0: the kernel's timeouts. */
	hs_vss_init(&f->m, &f->t, &ops, f, 0, 0);
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

/* Daemon: a 12-byte message whose first byte is op. */
static ssize_t write_op(Fixture *f, uint8_t op)
{
	uint8_t msg[MSG] = { op };

	return hs_transport_write(&f->t, msg, sizeof(msg));
}

/* Daemon: the reply as upstream builds it, status over the op byte, flags at 8. */
static ssize_t write_reply(Fixture *f, uint32_t status, uint32_t flags)
{
	uint8_t msg[MSG] = {};

	put32(msg, status);
	put32(msg + HS_VSS_OFF_FLAGS, flags);
	return hs_transport_write(&f->t, msg, sizeof(msg));
}

/* Daemon: open, REGISTER1 and read the 4-byte reply. */
static void register_daemon(Fixture *f)
{
	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), MSG);
	assert_int_equal(hs_transport_read(&f->t, f->buf, MSG), HS_VSS_REGISTER_REPLY_SIZE);
	assert_int_equal(f->m.state, HS_VSS_READY);
	assert_true(hs_vss_is_idle(&f->m));
}

/* Daemon: reads the pending request and checks it is 12 zero bytes except op. */
static void read_request(Fixture *f, uint8_t op)
{
	uint8_t want[MSG] = { op };

	assert_true(hs_transport_readable(&f->t));
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), MSG);
	assert_memory_equal(f->buf, want, MSG);
}

static void test_registration_flow(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(f->m.state, HS_VSS_DEVICE_INIT);
	assert_int_equal(hs_transport_read(&f->t, f->buf, sizeof(f->buf)), -EAGAIN);

	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), MSG);
	assert_int_equal(f->m.registrations, 1);
	assert_int_equal(f->m.dm_reg_value, HS_VSS_OP_REGISTER1);
	assert_int_equal(f->queued, 1);
	/* Not READY until the daemon has read the reply. */
	assert_int_equal(f->m.state, HS_VSS_DEVICE_INIT);
	assert_false(hs_vss_is_idle(&f->m));

	/* The reply is 4 bytes even when the daemon offers its 12-byte buffer. */
	memset(f->buf, 0xaa, sizeof(f->buf));
	assert_int_equal(hs_transport_read(&f->t, f->buf, MSG), HS_VSS_REGISTER_REPLY_SIZE);
	assert_int_equal(le32(f->buf), HS_VSS_OP_REGISTER1);
	assert_int_equal(f->buf[4], 0xaa);
	assert_int_equal(f->m.state, HS_VSS_READY);
	assert_true(f->m.registered);
	assert_true(hs_vss_is_idle(&f->m));
}

static void test_reply_read_with_small_buffer(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), MSG);
	/* Too small for the 4-byte reply: EINVAL and the reply stays queued, still not READY. */
	assert_int_equal(hs_transport_read(&f->t, f->buf, 3), -EINVAL);
	assert_int_equal(f->m.state, HS_VSS_DEVICE_INIT);
	assert_int_equal(hs_transport_read(&f->t, f->buf, 4), 4);
	assert_int_equal(f->m.state, HS_VSS_READY);
}

static void test_write_size_must_be_12(void **state)
{
	Fixture *f = *state;
	uint8_t big[7432] = { HS_VSS_OP_REGISTER1 };

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(hs_transport_write(&f->t, big, 11), -EINVAL);
	assert_int_equal(hs_transport_write(&f->t, big, 13), -EINVAL);
	assert_int_equal(hs_transport_write(&f->t, big, sizeof(big)), -EINVAL);
	assert_int_equal(hs_transport_write(&f->t, big, 0), -EINVAL);
	assert_int_equal(f->m.registrations, 0);
	assert_int_equal(f->t.einval_writes, 4);
	assert_false(hs_transport_readable(&f->t));

	/* Also for replies to an outstanding request. */
	assert_int_equal(hs_transport_write(&f->t, big, MSG), MSG);
	assert_int_equal(hs_transport_read(&f->t, f->buf, MSG), 4);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	read_request(f, HS_VSS_OP_HOT_BACKUP);
	memset(big, 0, sizeof(big));
	assert_int_equal(hs_transport_write(&f->t, big, 8), -EINVAL);
	assert_int_equal(hs_transport_write(&f->t, big, 16), -EINVAL);
	assert_int_equal(f->m.phase, HS_VSS_HOST_ACTIVE);
	assert_int_equal(hs_transport_write(&f->t, big, MSG), MSG);
	assert_int_equal(f->m.phase, HS_VSS_HOST_DONE);
	assert_int_equal(f->m.host_status, HV_S_OK);
}

static void test_registration_legacy(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER), MSG);
	assert_int_equal(f->m.registrations, 1);
	assert_int_equal(f->m.dm_reg_value, HS_VSS_OP_REGISTER);
	/* No reply, and nothing ever makes the service READY. */
	assert_false(hs_transport_readable(&f->t));
	assert_int_equal(f->m.state, HS_VSS_DEVICE_INIT);
	assert_false(hs_vss_is_idle(&f->m));

	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	assert_int_equal(f->m.phase, HS_VSS_HOST_DONE);
	assert_int_equal(f->m.end, HS_VSS_END_NOT_READY);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_false(hs_transport_readable(&f->t));
}

static void test_registration_refused_during_transaction(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	assert_int_equal(f->m.state, HS_VSS_USERSPACE_REQ);

	/* Before and after reading the request: EINVAL, nothing changes. */
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), -EINVAL);
	read_request(f, HS_VSS_OP_HOT_BACKUP);
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), -EINVAL);
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER), -EINVAL);
	assert_int_equal(f->m.registrations, 1);
	assert_int_equal(f->m.state, HS_VSS_USERSPACE_REQ);
	assert_int_equal(f->m.phase, HS_VSS_HOST_ACTIVE);

	/* A status whose low byte is 129 is read as a registration, and refused too. */
	assert_int_equal(write_reply(f, 0x80000081u, 0), -EINVAL);
	assert_int_equal(f->m.phase, HS_VSS_HOST_ACTIVE);

	assert_int_equal(write_reply(f, HV_S_OK, 0), MSG);
	assert_int_equal(f->m.end, HS_VSS_END_REPLY);
	assert_int_equal(f->m.state, HS_VSS_READY);
}

static void test_reregistration_with_unread_message(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), MSG);
	/* The first reply is still unread: the kernel cannot queue another one. */
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), -EFAULT);
	assert_int_equal(f->m.registrations, 1);
	assert_int_equal(hs_transport_read(&f->t, f->buf, MSG), 4);
	assert_int_equal(f->m.state, HS_VSS_READY);

	/* Registering again while READY and idle is accepted (another reply). */
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), MSG);
	assert_int_equal(f->m.registrations, 2);
	assert_int_equal(hs_transport_read(&f->t, f->buf, MSG), 4);
	assert_true(hs_vss_is_idle(&f->m));
}

static void test_not_ready_fails_at_once(void **state)
{
	Fixture *f = *state;
	const uint8_t forwarded_ops[] = { HS_VSS_OP_FREEZE, HS_VSS_OP_THAW, HS_VSS_OP_HOT_BACKUP };

	/* No daemon at all, then a daemon that opened but has not registered. */
	for (int opened = 0; opened < 2; opened++) {
		if (opened)
			assert_int_equal(hs_transport_open(&f->t), 0);
		for (size_t i = 0; i < sizeof(forwarded_ops); i++) {
			assert_int_equal(hs_vss_host_submit(&f->m, forwarded_ops[i]), 0);
			assert_int_equal(f->m.phase, HS_VSS_HOST_DONE);
			assert_int_equal(f->m.end, HS_VSS_END_NOT_READY);
			assert_int_equal(f->m.host_status, HV_E_FAIL);
			assert_int_equal(f->m.deadline, 0);
			assert_int_equal(f->m.state, HS_VSS_DEVICE_INIT);
			hs_vss_host_finish(&f->m);
		}
	}
	assert_false(hs_transport_readable(&f->t));
	assert_int_equal(f->m.not_ready, 6);
}

static void test_forwarded_messages_and_timeouts(void **state)
{
	Fixture *f = *state;
	const struct {
		uint8_t op;
		uint64_t timeout;
	} cases[] = {
		{ HS_VSS_OP_FREEZE, FREEZE_TIMEOUT_USEC },
		{ HS_VSS_OP_THAW, TIMEOUT_USEC },
		{ HS_VSS_OP_HOT_BACKUP, TIMEOUT_USEC },
	};

	register_daemon(f);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(hs_vss_host_submit(&f->m, cases[i].op), 0);
		assert_int_equal(f->m.phase, HS_VSS_HOST_ACTIVE);
		assert_int_equal(f->m.state, HS_VSS_USERSPACE_REQ);
		assert_int_equal(f->m.deadline, f->now + cases[i].timeout);
		read_request(f, cases[i].op);
		assert_int_equal(write_reply(f, HV_S_OK, 0), MSG);
		assert_int_equal(f->m.phase, HS_VSS_HOST_DONE);
		assert_int_equal(f->m.host_status, HV_S_OK);
		assert_int_equal(f->m.deadline, 0);
		hs_vss_host_finish(&f->m);
		assert_true(hs_vss_is_idle(&f->m));
	}
}

static void test_kernel_answered_ops(void **state)
{
	Fixture *f = *state;
	const uint8_t kernel_ops[] = { HS_VSS_OP_CREATE,       HS_VSS_OP_DELETE,
				       HS_VSS_OP_GET_DM_INFO,  HS_VSS_OP_BU_COMPLETE,
				       HS_VSS_OP_AUTO_RECOVER, 8,
				       HS_VSS_OP_REGISTER1,    255 };

	register_daemon(f);
	for (size_t i = 0; i < sizeof(kernel_ops); i++) {
		assert_int_equal(hs_vss_host_submit(&f->m, kernel_ops[i]), 0);
		assert_int_equal(f->m.phase, HS_VSS_HOST_DONE);
		assert_int_equal(f->m.end, HS_VSS_END_KERNEL);
		assert_int_equal(f->m.host_status, HV_S_OK);
		assert_int_equal(f->m.host_flags, 0);
		/* The daemon never sees them. */
		assert_false(hs_transport_readable(&f->t));
		hs_vss_host_finish(&f->m);
	}
	assert_int_equal(f->m.kernel_answered, sizeof(kernel_ops));
}

static void test_kernel_answer_forces_ready(void **state)
{
	Fixture *f = *state;

	/* No daemon: GET_DM_INFO is answered, and the kernel's poll wrapper sets READY. */
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_GET_DM_INFO), 0);
	assert_int_equal(f->m.host_status, HV_S_OK);
	hs_vss_host_finish(&f->m);
	assert_int_equal(f->m.state, HS_VSS_READY);
	assert_false(hs_vss_is_idle(&f->m)); /* nobody registered */

	/* So a FREEZE now gets past the READY check and fails on the send (no opener). */
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_FREEZE), 0);
	assert_int_equal(f->m.end, HS_VSS_END_SENDFAIL);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.deadline, 0);
	assert_int_equal(f->m.state, HS_VSS_READY);
	hs_vss_host_finish(&f->m);

	/* A daemon that opened but did not register yet would be handed the request. */
	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	assert_int_equal(f->m.phase, HS_VSS_HOST_ACTIVE);
	read_request(f, HS_VSS_OP_HOT_BACKUP);
}

static void test_reply_status_and_flags(void **state)
{
	Fixture *f = *state;

	register_daemon(f);

	/* The status is forwarded as is; the daemon's flags are recorded. */
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	read_request(f, HS_VSS_OP_HOT_BACKUP);
	assert_int_equal(write_reply(f, HV_E_FAIL, 0x12345678u), MSG);
	assert_int_equal(f->m.end, HS_VSS_END_REPLY);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_true(f->m.have_reply);
	assert_int_equal(f->m.reply_status, HV_E_FAIL);
	assert_int_equal(f->m.reply_flags, 0x12345678u);
	/* Reply byte 0 (the status's low byte 0x05) is not HOT_BACKUP: no flag for the host. */
	assert_int_equal(f->m.host_flags, 0);
	hs_vss_host_finish(&f->m);

	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	assert_false(f->m.have_reply);
	assert_int_equal(f->m.reply_flags, 0);
	read_request(f, HS_VSS_OP_HOT_BACKUP);
	assert_int_equal(write_reply(f, HV_S_OK, HS_VSS_HBU_NO_AUTO_RECOVERY), MSG);
	assert_int_equal(f->m.host_status, HV_S_OK);
	assert_int_equal(f->m.reply_flags, HS_VSS_HBU_NO_AUTO_RECOVERY);
	assert_int_equal(f->m.host_flags, 0);
	hs_vss_host_finish(&f->m);

	/* Only a reply whose first byte is 2 makes the kernel set the flag (status 2 then). */
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_FREEZE), 0);
	read_request(f, HS_VSS_OP_FREEZE);
	assert_int_equal(write_reply(f, HS_VSS_OP_HOT_BACKUP, 0), MSG);
	assert_int_equal(f->m.host_status, 2);
	assert_int_equal(f->m.host_flags, HS_VSS_HBU_NO_AUTO_RECOVERY);
	hs_vss_host_finish(&f->m);

	/* A reply with nothing outstanding is spurious. */
	assert_int_equal(write_reply(f, HV_S_OK, 0), -EINVAL);
	assert_int_equal(f->t.einval_writes, 1);
}

static void test_timeout_leaves_message_queued(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_FREEZE), 0);

	/* 900 s for FREEZE: one microsecond early nothing happens. */
	f->now += FREEZE_TIMEOUT_USEC - 1;
	hs_vss_tick(&f->m);
	assert_int_equal(f->m.phase, HS_VSS_HOST_ACTIVE);
	f->now += 1;
	hs_vss_tick(&f->m);
	assert_int_equal(f->m.phase, HS_VSS_HOST_DONE);
	assert_int_equal(f->m.end, HS_VSS_END_TIMEOUT);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.timeouts, 1);
	assert_int_equal(f->m.state, HS_VSS_READY);
	hs_vss_host_finish(&f->m);

	/* The stale FREEZE is still there; the next request cannot be queued behind it. */
	assert_true(hs_transport_readable(&f->t));
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	assert_int_equal(f->m.end, HS_VSS_END_SENDFAIL);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	hs_vss_host_finish(&f->m);

	/* The daemon wakes up, reads the stale FREEZE and replies: EINVAL. */
	read_request(f, HS_VSS_OP_FREEZE);
	assert_int_equal(write_reply(f, HV_S_OK, 0), -EINVAL);
	assert_int_equal(f->t.einval_writes, 1);
	assert_int_equal(f->m.state, HS_VSS_READY);
}

static void test_timeout_thaw_and_hot_backup(void **state)
{
	Fixture *f = *state;
	const uint8_t ops30[] = { HS_VSS_OP_THAW, HS_VSS_OP_HOT_BACKUP };

	register_daemon(f);
	for (size_t i = 0; i < sizeof(ops30); i++) {
		assert_int_equal(hs_vss_host_submit(&f->m, ops30[i]), 0);
		read_request(f, ops30[i]);
		f->now += TIMEOUT_USEC - 1;
		hs_vss_tick(&f->m);
		assert_int_equal(f->m.phase, HS_VSS_HOST_ACTIVE);
		f->now += 1;
		hs_vss_tick(&f->m);
		assert_int_equal(f->m.end, HS_VSS_END_TIMEOUT);
		assert_int_equal(f->m.host_status, HV_E_FAIL);
		hs_vss_host_finish(&f->m);
		/* Read in time, replied late. */
		assert_int_equal(write_reply(f, HV_S_OK, 0), -EINVAL);
	}
	assert_int_equal(f->m.timeouts, 2);
}

static void test_configured_timeouts(void **state)
{
	Fixture *f = *state;

	hs_vss_init(&f->m, &f->t, &ops, f, 5000, 700);
	register_daemon(f);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_FREEZE), 0);
	assert_int_equal(f->m.deadline, f->now + 5000);
	f->now += 5000;
	hs_vss_tick(&f->m);
	assert_int_equal(f->m.end, HS_VSS_END_TIMEOUT);
	hs_vss_host_finish(&f->m);
	read_request(f, HS_VSS_OP_FREEZE);

	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_THAW), 0);
	assert_int_equal(f->m.deadline, f->now + 700);
}

static void test_release_fails_outstanding(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_FREEZE), 0);
	assert_true(hs_transport_readable(&f->t));

	hs_transport_release(&f->t);
	assert_int_equal(f->m.phase, HS_VSS_HOST_DONE);
	assert_int_equal(f->m.end, HS_VSS_END_RESET);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.deadline, 0);
	assert_int_equal(f->m.state, HS_VSS_DEVICE_INIT);
	assert_false(f->m.registered);
	hs_vss_host_finish(&f->m);

	/* The next opener finds nothing queued and must register again. */
	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_false(hs_transport_readable(&f->t));
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_THAW), 0);
	assert_int_equal(f->m.end, HS_VSS_END_NOT_READY);
	hs_vss_host_finish(&f->m);
	assert_int_equal(write_op(f, HS_VSS_OP_REGISTER1), MSG);
	assert_int_equal(hs_transport_read(&f->t, f->buf, MSG), 4);
	assert_true(hs_vss_is_idle(&f->m));
}

static void test_release_after_timeout_keeps_answer(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	f->now += TIMEOUT_USEC;
	hs_vss_tick(&f->m);
	assert_int_equal(f->m.end, HS_VSS_END_TIMEOUT);
	hs_vss_host_finish(&f->m);

	/* The host was answered already; release only drops the stale message. */
	hs_transport_release(&f->t);
	assert_int_equal(f->m.resets_failed, 0);
	assert_int_equal(f->m.phase, HS_VSS_HOST_IDLE);
	assert_false(hs_transport_readable(&f->t));
	assert_int_equal(f->m.state, HS_VSS_DEVICE_INIT);
}

static void test_ebusy(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_transport_open(&f->t), -EBUSY);
	assert_int_equal(hs_transport_open(&f->t), -EBUSY);
	assert_int_equal(f->t.ebusy, 2);
	/* The refused opener changed nothing. */
	assert_true(hs_vss_is_idle(&f->m));
	hs_transport_release(&f->t);
	assert_int_equal(hs_transport_open(&f->t), 0);
	assert_int_equal(f->t.opens, 2);
}

static void test_fake_thaw_idle(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_vss_fake_thaw(&f->m), 0);
	assert_int_equal(f->m.state, HS_VSS_READY);
	assert_int_equal(f->m.phase, HS_VSS_HOST_IDLE);
	read_request(f, HS_VSS_OP_THAW);
	/* No transaction behind it: the daemon's reply fails and it must reopen. */
	assert_int_equal(write_reply(f, HV_S_OK, 0), -EINVAL);
	assert_int_equal(f->m.fake_thaws, 1);
}

static void test_fake_thaw_during_freeze(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_FREEZE), 0);
	read_request(f, HS_VSS_OP_FREEZE);

	/* Suspend while frozen: the timer is cancelled and the host gets no answer. */
	assert_int_equal(hs_vss_fake_thaw(&f->m), 0);
	assert_int_equal(f->m.phase, HS_VSS_HOST_DONE);
	assert_int_equal(f->m.end, HS_VSS_END_SUSPENDED);
	assert_int_equal(f->m.deadline, 0);
	assert_int_equal(f->m.state, HS_VSS_READY);
	hs_vss_host_finish(&f->m);

	/* The FREEZE reply and the fake THAW's reply both fail. */
	assert_int_equal(write_reply(f, HV_S_OK, 0), -EINVAL);
	read_request(f, HS_VSS_OP_THAW);
	assert_int_equal(write_reply(f, HV_S_OK, 0), -EINVAL);
	f->now += FREEZE_TIMEOUT_USEC;
	hs_vss_tick(&f->m);
	assert_int_equal(f->m.timeouts, 0);
}

static void test_fake_thaw_with_unread_message(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_FREEZE), 0);
	/* The FREEZE is still unread: the fake THAW cannot be queued (ignored by the kernel). */
	assert_int_equal(hs_vss_fake_thaw(&f->m), -EFAULT);
	assert_int_equal(f->m.end, HS_VSS_END_SUSPENDED);
	hs_vss_host_finish(&f->m);
	read_request(f, HS_VSS_OP_FREEZE);
	assert_false(hs_transport_readable(&f->t));
	assert_int_equal(write_reply(f, HV_S_OK, 0), -EINVAL);
}

static void test_fake_thaw_without_daemon_forces_ready(void **state)
{
	Fixture *f = *state;

	assert_int_equal(hs_vss_fake_thaw(&f->m), -EINVAL);
	assert_int_equal(f->m.state, HS_VSS_READY);
	/* Forced READY: a FREEZE now fails on the send rather than as "not ready". */
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_FREEZE), 0);
	assert_int_equal(f->m.end, HS_VSS_END_SENDFAIL);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
}

static void test_host_serialisation_and_withdraw(void **state)
{
	Fixture *f = *state;

	register_daemon(f);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_HOT_BACKUP), 0);
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_THAW), -EBUSY);
	read_request(f, HS_VSS_OP_HOT_BACKUP);
	assert_int_equal(write_reply(f, HV_S_OK, 0), MSG);
	/* DONE until the host acknowledges it. */
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_THAW), -EBUSY);
	assert_false(hs_vss_host_withdraw(&f->m));
	hs_vss_host_finish(&f->m);

	/* While the kernel is mid-transaction the request stays in the ring. */
	f->m.state = HS_VSS_USERSPACE_RECV;
	assert_int_equal(hs_vss_host_submit(&f->m, HS_VSS_OP_THAW), 0);
	assert_int_equal(f->m.phase, HS_VSS_HOST_QUEUED);
	assert_false(hs_transport_readable(&f->t));
	assert_true(hs_vss_host_withdraw(&f->m));
	assert_int_equal(f->m.end, HS_VSS_END_WITHDRAWN);
	assert_int_equal(f->m.host_status, HV_E_FAIL);
	assert_int_equal(f->m.withdrawn, 1);
}

static void test_op_names(void **state)
{
	assert_string_equal(hs_vss_op_to_string(HS_VSS_OP_FREEZE), "FREEZE");
	assert_string_equal(hs_vss_op_to_string(HS_VSS_OP_THAW), "THAW");
	assert_string_equal(hs_vss_op_to_string(HS_VSS_OP_HOT_BACKUP), "HOT_BACKUP");
	assert_string_equal(hs_vss_op_to_string(HS_VSS_OP_AUTO_RECOVER), "AUTO_RECOVER");
	assert_null(hs_vss_op_to_string(8));
	assert_null(hs_vss_op_to_string(HS_VSS_OP_REGISTER1));
	assert_string_equal(hs_vss_state_to_string(HS_VSS_USERSPACE_REQ), "USERSPACE_REQ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registration_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_read_with_small_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_size_must_be_12, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration_refused_during_transaction, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reregistration_with_unread_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_not_ready_fails_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forwarded_messages_and_timeouts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kernel_answered_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_answer_forces_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_status_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_leaves_message_queued, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timeout_thaw_and_hot_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configured_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_fails_outstanding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_after_timeout_keeps_answer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ebusy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_thaw_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_thaw_during_freeze, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_thaw_with_unread_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fake_thaw_without_daemon_forces_ready, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_host_serialisation_and_withdraw, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_op_names, setup, teardown),
	};

	return cmocka_run_group_tests_name("hostsim-vss", tests, NULL, NULL);
}
