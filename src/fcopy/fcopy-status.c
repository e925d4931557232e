/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/event.h"
#include "common/fileio.h"
#include "fcopy/fcopy-msg.h"
#include "fcopy/fcopy-status.h"

#define FCOPY_STATUS_TMP_PREFIX ".tmp-fcopy-status-"
/* Two names of FCOPY_NAME_SIZE UTF-16 units as UTF-8 (3 bytes each), a label, counters. */
#define FCOPY_STATUS_MAX (6 * FCOPY_NAME_SIZE + 4096)

struct FcopyStatus {
	FcopyStatusInfo info;
	char *device, *transport, *last_dest;
	int run_fd;
};

static const char *const result_names[_FCOPY_RESULT_MAX] = {
	[FCOPY_RESULT_OK] = "ok",
	[FCOPY_RESULT_FAILED] = "failed",
	[FCOPY_RESULT_CANCELLED] = "cancelled",
};

const char *fcopy_result_to_string(FcopyResult r)
{
	if (r < 0 || r >= _FCOPY_RESULT_MAX)
		return NULL;
	return result_names[r];
}

int fcopy_status_format(const FcopyStatusInfo *info, char *buf, size_t size)
{
	const char *res = fcopy_result_to_string(info->last_result);
	size_t len;
	int n;

	n = snprintf(buf, size,
		     "pid=%ld\nstarted=%" PRIu64 "\ndevice=%s\ntransport=%s\ntransfers_ok=%" PRIu64
		     "\ntransfers_failed=%" PRIu64 "\ntransfers_cancelled=%" PRIu64 "\n",
		     (long)info->pid, info->started_usec, info->device ? info->device : "",
		     info->transport ? info->transport : "", info->transfers[FCOPY_RESULT_OK],
		     info->transfers[FCOPY_RESULT_FAILED], info->transfers[FCOPY_RESULT_CANCELLED]);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	len = (size_t)n;
	if (!info->last_dest)
		return (int)len;
	if (!res)
		return -EINVAL;
	n = snprintf(buf + len, size - len,
		     "last_dest=%s\nlast_bytes=%" PRIu64 "\nlast_result=%s\nlast_time=%" PRIu64
		     "\n",
		     info->last_dest, info->last_bytes, res, info->last_usec);
	if (n < 0 || (size_t)n >= size - len)
		return -ENOBUFS;
	/* One line per key whatever the host named the file: it must not add keys. */
	for (size_t i = 0, off = len + strlen("last_dest="); info->last_dest[i]; i++)
		if (buf[off + i] == '\n' || buf[off + i] == '\r')
			buf[off + i] = '?';
	return (int)(len + (size_t)n);
}

static int status_write(FcopyStatus *s)
{
	_cleanup_free_ char *text = malloc(FCOPY_STATUS_MAX);
	int n;

	if (!text)
		return -ENOMEM;
	n = fcopy_status_format(&s->info, text, FCOPY_STATUS_MAX);
	if (n < 0)
		return n;
	return write_file_atomic_at(s->run_fd, FCOPY_STATUS_FILE, FCOPY_STATUS_TMP_PREFIX, text,
				    (size_t)n, 0644);
}

int fcopy_status_new(int run_fd, const char *device, const char *transport, FcopyStatus **ret)
{
	_cleanup_(fcopy_status_freep) FcopyStatus *s = NULL;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->run_fd = -EBADF; /* nothing to remove until the first write worked */
	s->device = strdup(device ? device : "");
	s->transport = strdup(transport ? transport : "");
	if (!s->device || !s->transport)
		return -ENOMEM;
	s->info.pid = getpid();
	s->info.started_usec = now_usec(CLOCK_REALTIME);
	s->info.device = s->device;
	s->info.transport = s->transport;
	s->run_fd = run_fd;
	r = status_write(s);
	if (r < 0) {
		s->run_fd = -EBADF;
		return r;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

int fcopy_status_note_transfer(FcopyStatus *s, const char *dest, uint64_t bytes, FcopyResult result)
{
	char *d;

	if (!s)
		return 0;
	if (!fcopy_result_to_string(result))
		return -EINVAL;
	d = strdup(dest ? dest : "");
	if (!d)
		return -ENOMEM;
	free(s->last_dest);
	s->last_dest = d;
	s->info.transfers[result]++;
	s->info.last_dest = d;
	s->info.last_bytes = bytes;
	s->info.last_result = result;
	s->info.last_usec = now_usec(CLOCK_REALTIME);
	return status_write(s);
}

FcopyStatus *fcopy_status_free(FcopyStatus *s)
{
	if (!s)
		return NULL;
	if (s->run_fd >= 0)
		(void)unlinkat(s->run_fd, FCOPY_STATUS_FILE, 0);
	free(s->device);
	free(s->transport);
	free(s->last_dest);
	free(s);
	return NULL;
}
