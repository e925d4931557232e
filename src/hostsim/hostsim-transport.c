/* SPDX-License-Identifier: MIT */
/*
 * hv_utils transport model (see hostsim-transport.h). Behaviour mirrored from
 * drivers/hv/hv_utils_transport.c as described in hyperv-abi.md §3.1-3.2.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "hostsim/hostsim-transport.h"

void hs_transport_init(HsTransport *t, const HsServiceOps *ops, void *svc)
{
	assert(t);
	assert(ops);

	memset(t, 0, offsetof(HsTransport, msg));
	t->ops = ops;
	t->svc = svc;
}

void hs_transport_set_backend(HsTransport *t, void (*queued)(void *backend), void *backend)
{
	t->queued = queued;
	t->backend = backend;
}

int hs_transport_open(HsTransport *t)
{
	if (t->open) {
		t->ebusy++;
		return -EBUSY;
	}
	t->open = true;
	t->opens++;
	return 0;
}

static void drop_msg(HsTransport *t)
{
	t->has_msg = false;
	t->msg_len = 0;
	t->on_read = NULL;
}

void hs_transport_release(HsTransport *t)
{
	t->open = false;
	t->opener_pid = t->opener_sid = 0;
	t->releases++;
	/* Undelivered messages must not reach the next opener. */
	drop_msg(t);
	if (t->ops->on_reset)
		t->ops->on_reset(t->svc);
}

ssize_t hs_transport_read(HsTransport *t, void *buf, size_t size)
{
	HsOnRead on_read;
	size_t len;

	if (!t->has_msg)
		return -EAGAIN;
	if (size < t->msg_len)
		return -EINVAL;

	len = t->msg_len;
	memcpy(buf, t->msg, len);
	on_read = t->on_read;
	drop_msg(t);
	t->reads++;

	/* The hook may queue the next message (KVP: registration done -> deferred request). */
	if (on_read)
		on_read(t->svc);

	return (ssize_t)len;
}

ssize_t hs_transport_write(HsTransport *t, const void *buf, size_t len)
{
	int r;

	t->writes++;
	r = t->ops->on_msg(t->svc, buf, len);
	if (r < 0) {
		if (r == -EINVAL)
			t->einval_writes++;
		return r;
	}
	return (ssize_t)len;
}

bool hs_transport_readable(const HsTransport *t)
{
	return t->has_msg;
}

int hs_transport_send(HsTransport *t, const void *msg, size_t len, HsOnRead on_read)
{
	if (!t->open)
		return -EINVAL;
	if (t->has_msg)
		return -EFAULT; /* previous message was not received */
	if (len > HS_TRANSPORT_MSG_MAX)
		return -EMSGSIZE;

	memcpy(t->msg, msg, len);
	t->msg_len = len;
	t->has_msg = true;
	t->on_read = on_read;

	if (t->queued)
		t->queued(t->backend);
	return 0;
}
