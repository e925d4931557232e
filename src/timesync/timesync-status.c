/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "timesync/timesync-status.h"

#define STATUS_MAX 4096

/* Appends to buf at *pos; false once the output does not fit (then *pos stops moving). */
typedef struct Out {
	char *buf;
	size_t size, pos;
	bool overflow;
} Out;

_printf_(2, 3) static void out_printf(Out *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->buf + o->pos, o->size - o->pos, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= o->size - o->pos) {
		o->overflow = true;
		return;
	}
	o->pos += (size_t)r;
}

/* A JSON string: ", \ and control characters escaped; other bytes as they are. NULL: null. */
static void out_string(Out *o, const char *s)
{
	if (!s) {
		out_printf(o, "null");
		return;
	}
	out_printf(o, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			out_printf(o, "\\\"");
			break;
		case '\\':
			out_printf(o, "\\\\");
			break;
		case '\n':
			out_printf(o, "\\n");
			break;
		case '\t':
			out_printf(o, "\\t");
			break;
		case '\r':
			out_printf(o, "\\r");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				out_printf(o, "\\u%04x", *p);
			else
				out_printf(o, "%c", *p);
			break;
		}
	}
	out_printf(o, "\"");
}

/* JSON has no NaN or infinity. */
static void out_double(Out *o, double v, int decimals)
{
	if (!isfinite(v)) {
		out_printf(o, "null");
		return;
	}
	/* Values that print as zero print as "0.0", not "-0.0" (valid JSON, but reads as a sign).
	 */
	if (fabs(v) < 0.5 * pow(10.0, -decimals))
		v = 0.0;
	out_printf(o, "%.*f", decimals, v);
}

static const char *json_bool(bool b)
{
	return b ? "true" : "false";
}

int timesync_status_format_json(const TimesyncStatusInfo *info, char *buf, size_t size)
{
	Out o = { .buf = buf, .size = size };

	if (size == 0)
		return -ENOBUFS;
	out_printf(&o, "{\"mode\":");
	out_string(&o, info->mode);
	out_printf(&o, ",\"adjusting\":%s,\"reason\":", json_bool(info->adjusting));
	out_string(&o, info->reason);
	out_printf(&o, ",\"phc\":");
	out_string(&o, info->phc);
	out_printf(&o, ",\"state\":");
	out_string(&o, info->state);
	out_printf(&o, ",\"offset_ns\":");
	out_double(&o, info->offset_ns, 1);
	out_printf(&o, ",\"frequency_ppb\":");
	out_double(&o, info->frequency_ppb, 3);
	out_printf(&o,
		   ",\"stale\":%s,\"synced\":%s,\"steps\":%" PRIu64 ",\"external_steps\":%" PRIu64
		   ",\"events\":%" PRIu64 ",\"last_step_ns\":%" PRId64 ",\"last_event\":",
		   json_bool(info->stale), json_bool(info->synced), info->n_steps,
		   info->n_external_steps, info->n_events, info->last_step_ns);
	out_string(&o, info->last_event ? info->last_event : "");
	out_printf(&o, ",\"updated_usec\":%" PRIu64 "}\n", info->updated_realtime_ns / 1000);
	if (o.overflow)
		return -ENOBUFS;
	return (int)o.pos;
}

int timesync_status_write(int run_dir_fd, const TimesyncStatusInfo *info)
{
	char buf[STATUS_MAX];
	int len;

	len = timesync_status_format_json(info, buf, sizeof(buf));
	if (len < 0)
		return len;
	return write_file_atomic_at(run_dir_fd, TIMESYNC_STATUS_FILE, ".tmp-timesync.json-", buf,
				    (size_t)len, 0644);
}
