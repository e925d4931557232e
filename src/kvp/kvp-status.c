/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hv-status.h"
#include "common/log.h"
#include "kvp/kvp-status.h"

/* Never one of the names hvctl reads. */
#define KVP_STATUS_TMP_PREFIX ".tmp-kvp-status-"
/* pid, started, a device path, ten counters and the last request fit easily. */
#define KVP_STATUS_MAX 8192

struct KvpStatus {
	KvpStatusInfo info;
	char *device;
	int run_fd;
	EventSource *timer;    /* one-shot, armed only while a change waits to be written */
	uint64_t written_usec; /* CLOCK_MONOTONIC of the last write */
	bool pending;	       /* the timer is armed */
};

/* Key suffixes for the counters, in the order of KvpOp. */
static const char *const op_keys[_KVP_OP_MAX] = {
	[KVP_OP_GET] = "get",
	[KVP_OP_SET] = "set",
	[KVP_OP_DELETE] = "delete",
	[KVP_OP_ENUMERATE] = "enumerate",
	[KVP_OP_GET_IP_INFO] = "get_ip_info",
	[KVP_OP_SET_IP_INFO] = "set_ip_info",
};

static int append(char *buf, size_t size, size_t *len, const char *fmt, ...) _printf_(4, 5);
static int append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return -ENOBUFS;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *len)
		return -ENOBUFS;
	*len += (size_t)n;
	return 0;
}

int kvp_status_format(const KvpStatusInfo *info, char *buf, size_t size)
{
	size_t len = 0;
	int r;

	r = append(buf, size, &len, "pid=%ld\nstarted=%" PRIu64 "\ndevice=%s\n", (long)info->pid,
		   info->started_usec, info->device ? info->device : "");
	for (size_t i = 0; r >= 0 && i < _KVP_OP_MAX; i++)
		r = append(buf, size, &len, "requests_%s=%" PRIu64 "\n", op_keys[i],
			   info->requests[i]);
	if (r >= 0)
		r = append(buf, size, &len, "requests_invalid=%" PRIu64 "\n",
			   info->requests_invalid);
	if (r >= 0 && info->has_last) {
		const char *op = kvp_op_to_string((KvpOp)info->last_op);

		if (op)
			r = append(buf, size, &len, "last_op=%s\n", op);
		else
			r = append(buf, size, &len, "last_op=op-%u\n", info->last_op);
		if (r >= 0)
			r = append(buf, size, &len,
				   "last_pool=%u\nlast_status=%s\nlast_time=%" PRIu64 "\n",
				   info->last_pool, hv_status_to_string(info->last_status),
				   info->last_usec);
	}
	return r < 0 ? r : (int)len;
}

static int status_write(KvpStatus *s)
{
	char text[KVP_STATUS_MAX];
	int n;

	n = kvp_status_format(&s->info, text, sizeof(text));
	if (n < 0)
		return n;
	s->written_usec = now_usec(CLOCK_MONOTONIC);
	return write_file_atomic_at(s->run_fd, KVP_STATUS_FILE, KVP_STATUS_TMP_PREFIX, text,
				    (size_t)n, 0644);
}

static int on_timer(EventSource *src, uint64_t usec, void *userdata)
{
	KvpStatus *s = userdata;
	int r;

	s->pending = false;
	r = status_write(s);
	if (r < 0)
		log_debug("Could not write '%s', ignoring: %s", KVP_STATUS_FILE, strerror(-r));
	return 0; /* a status file is never worth stopping the daemon */
}

int kvp_status_new(Event *e, int run_fd, const char *device, KvpStatus **ret)
{
	_cleanup_close_ int fd = run_fd;
	_cleanup_(kvp_status_freep) KvpStatus *s = NULL;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->run_fd = -EBADF;
	s->device = strdup(device ? device : "");
	if (!s->device)
		return -ENOMEM;
	r = event_add_time(e, &s->timer, USEC_INFINITY, on_timer, s);
	if (r < 0)
		return r;
	s->run_fd = TAKE_FD(fd);
	s->info.pid = getpid();
	s->info.started_usec = now_usec(CLOCK_REALTIME);
	s->info.device = s->device;
	r = status_write(s);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

void kvp_status_note_request(KvpStatus *s, bool valid, uint8_t raw_op, uint8_t raw_pool,
			     uint32_t hv_status)
{
	uint64_t due;

	if (!s)
		return;
	if (valid && raw_op < _KVP_OP_MAX)
		s->info.requests[raw_op]++;
	else
		s->info.requests_invalid++;
	s->info.has_last = true;
	s->info.last_op = raw_op;
	s->info.last_pool = raw_pool;
	s->info.last_status = hv_status;
	s->info.last_usec = now_usec(CLOCK_REALTIME);
	if (s->pending)
		return;
	/* At most one write per interval; the first change after a quiet spell goes at once. */
	due = s->written_usec + KVP_STATUS_INTERVAL_USEC;
	if (event_source_set_time(s->timer, MAX(due, now_usec(CLOCK_MONOTONIC))) >= 0)
		s->pending = true;
}

const KvpStatusInfo *kvp_status_info(const KvpStatus *s)
{
	return &s->info;
}

KvpStatus *kvp_status_free(KvpStatus *s)
{
	if (!s)
		return NULL;
	if (s->run_fd >= 0)
		(void)unlinkat(s->run_fd, KVP_STATUS_FILE, 0);
	event_source_free(s->timer);
	safe_close(s->run_fd);
	free(s->device);
	free(s);
	return NULL;
}
