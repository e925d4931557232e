/* SPDX-License-Identifier: MIT */
/*
 * hvctl time status: the time sync daemon's status file, validated and shown in words, or
 * passed through as JSON. The file is a flat JSON object (timesync-status.h in the daemon);
 * the small parser below reads exactly that: an object of scalar members, where unknown
 * members may hold any JSON value and are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "common/utf8.h"
#include "config.h"
#include "ctl/ctl-json.h"
#include "ctl/ctl-time.h"

#ifndef TIMESYNC_RUN_DIR
#define TIMESYNC_RUN_DIR "/run/hvguest"
#endif

/* Deepest nesting of an unknown member's value that is skipped. */
#define JSON_DEPTH_MAX 16

typedef struct Parser {
	const char *p, *end, *start;
	char *err;
	size_t err_size;
} Parser;

/* Records the first error with its line number; returns -EBADMSG. */
__attribute__((format(printf, 2, 3))) static int fail(Parser *ps, const char *fmt, ...)
{
	unsigned line = 1;
	size_t n;
	va_list ap;

	for (const char *q = ps->start; q < ps->p && q < ps->end; q++)
		line += *q == '\n';
	n = (size_t)snprintf(ps->err, ps->err_size, "line %u: ", line);
	if (n < ps->err_size) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->err_size - n, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(Parser *ps)
{
	while (ps->p < ps->end && is_json_space(*ps->p))
		ps->p++;
}

static bool take(Parser *ps, char c)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return true;
	}
	return false;
}

static bool take_word(Parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static int hex4(Parser *ps, unsigned *ret)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(ps, "invalid \\u escape");
	}
	*ret = v;
	return 0;
}

/* Appends code point cp as UTF-8 if it fits whole into buf (size including the NUL). */
static void put_utf8(char *buf, size_t size, size_t *len, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (!buf || *len + n >= size)
		return;
	memcpy(buf + *len, u, n);
	*len += n;
	buf[*len] = '\0';
}

/*
 * Length of the well-formed UTF-8 sequence at p (left bytes available), or 0 if p[0] does
 * not start one: a lead byte and its continuation bytes, checked as one sequence.
 */
static size_t utf8_len(const char *p, size_t left)
{
	size_t n = 1;

	if ((unsigned char)p[0] < 0x80)
		return 1;
	while (n < 4 && n < left && ((unsigned char)p[n] & 0xC0) == 0x80)
		n++;
	return utf8_is_valid(p, n) ? n : 0;
}

/*
 * Parses a JSON string (the opening quote is next) into buf (NULL: validate and skip).
 * Too long values are truncated at a character boundary.
 */
static int parse_string(Parser *ps, char *buf, size_t size)
{
	size_t len = 0;
	int r;

	if (buf && size > 0)
		buf[0] = '\0';
	if (!take(ps, '"'))
		return fail(ps, "expected a string");
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;
		unsigned cp, lo;

		if (c < 0x20)
			return fail(ps, "control character in a string");
		if (c != '\\') {
			size_t n = 1;

			/*
			 * The daemon passes bytes >= 0x80 through as they are (a path from the
			 * configuration may be in any encoding): a byte that does not start
			 * a well-formed sequence is read as U+FFFD.
			 */
			n = utf8_len(ps->p, (size_t)(ps->end - ps->p));
			if (n == 0) {
				put_utf8(buf, size, &len, 0xFFFD);
				ps->p++;
				continue;
			}
			if (buf && len + n < size) {
				memcpy(buf + len, ps->p, n);
				len += n;
				buf[len] = '\0';
			}
			ps->p += n;
			continue;
		}
		if (++ps->p >= ps->end)
			break;
		c = (unsigned char)*ps->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			cp = c;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			r = hex4(ps, &cp);
			if (r < 0)
				return r;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return fail(ps, "lone low surrogate in a string");
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (!take_word(ps, "\\u"))
					return fail(ps, "lone high surrogate in a string");
				r = hex4(ps, &lo);
				if (r < 0)
					return r;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return fail(ps, "invalid surrogate pair in a string");
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			break;
		default:
			return fail(ps, "invalid escape '\\%c'", c);
		}
		put_utf8(buf, size, &len, cp);
	}
	if (ps->p >= ps->end)
		return fail(ps, "unterminated string");
	ps->p++;
	return 0;
}

/* A JSON number (RFC 8259 grammar, checked before strtod, which accepts more). */
static int parse_number(Parser *ps, double *ret)
{
	const char *s = ps->p, *q = s;
	char tmp[64];

	if (q < ps->end && *q == '-')
		q++;
	if (q < ps->end && *q == '0')
		q++;
	else if (q < ps->end && *q >= '1' && *q <= '9')
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	else
		return fail(ps, "expected a value");
	if (q < ps->end && *q == '.') {
		if (++q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, "invalid number");
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, "invalid number");
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if ((size_t)(q - s) >= sizeof(tmp))
		return fail(ps, "number too long");
	memcpy(tmp, s, (size_t)(q - s));
	tmp[q - s] = '\0';
	*ret = strtod(tmp, NULL);
	if (!isfinite(*ret))
		return fail(ps, "number out of range");
	ps->p = q;
	return 0;
}

static int skip_value(Parser *ps, unsigned depth)
{
	double d;
	int r;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "expected a value");
	if (*ps->p == '"')
		return parse_string(ps, NULL, 0);
	if (take_word(ps, "true") || take_word(ps, "false") || take_word(ps, "null"))
		return 0;
	if (*ps->p != '{' && *ps->p != '[')
		return parse_number(ps, &d);
	if (depth >= JSON_DEPTH_MAX)
		return fail(ps, "nested too deeply");
	char closer = *ps->p++ == '{' ? '}' : ']';
	if (take(ps, closer))
		return 0;
	do {
		if (closer == '}') {
			r = parse_string(ps, NULL, 0);
			if (r < 0)
				return r;
			if (!take(ps, ':'))
				return fail(ps, "expected ':'");
		}
		r = skip_value(ps, depth + 1);
		if (r < 0)
			return r;
	} while (take(ps, ','));
	if (!take(ps, closer))
		return fail(ps, "expected ',' or '%c'", closer);
	return 0;
}

typedef enum FieldType {
	FIELD_STRING,
	FIELD_BOOL,
	FIELD_NUMBER,	/* double; null allowed when has is set */
	FIELD_UNSIGNED, /* non-negative integer below 2^53 */
} FieldType;

typedef struct Field {
	const char *key;
	FieldType type;
	size_t offset, size; /* of the member of CtlTimeStatus (size: strings) */
	ssize_t has;	     /* offset of the has_* flag, or -1: null not allowed */
} Field;

#define F_STR(k, m)                                                                              \
	{                                                                                        \
		k, FIELD_STRING, offsetof(CtlTimeStatus, m), sizeof(((CtlTimeStatus *)0)->m), -1 \
	}
#define F_BOOL(k, m)                                             \
	{                                                        \
		k, FIELD_BOOL, offsetof(CtlTimeStatus, m), 0, -1 \
	}
#define F_NUM(k, m, h)                                                                     \
	{                                                                                  \
		k, FIELD_NUMBER, offsetof(CtlTimeStatus, m), 0, offsetof(CtlTimeStatus, h) \
	}
#define F_UINT(k, m)                                                 \
	{                                                            \
		k, FIELD_UNSIGNED, offsetof(CtlTimeStatus, m), 0, -1 \
	}

/* Every key of the format (timesync-status.h), in the daemon's order. */
static const Field fields[] = {
	F_STR("mode", mode),
	F_BOOL("adjusting", adjusting),
	F_STR("reason", reason),
	F_STR("phc", phc),
	F_STR("state", state),
	F_NUM("offset_ns", offset_ns, has_offset),
	F_NUM("frequency_ppb", frequency_ppb, has_frequency),
	F_BOOL("stale", stale),
	F_BOOL("synced", synced),
	F_UINT("steps", steps),
	F_UINT("external_steps", external_steps),
	F_UINT("events", events),
	F_NUM("last_step_ns", last_step_ns, has_last_step),
	F_STR("last_event", last_event),
	F_UINT("updated_usec", updated_usec),
};

static int parse_field(Parser *ps, const Field *f, CtlTimeStatus *s)
{
	char *base = (char *)s;
	double d;
	int r;

	skip_ws(ps);
	switch (f->type) {
	case FIELD_STRING:
		/* null (no PHC, no event): shown as empty. */
		if (take_word(ps, "null")) {
			base[f->offset] = '\0';
			return 0;
		}
		return parse_string(ps, base + f->offset, f->size);
	case FIELD_BOOL:
		if (take_word(ps, "true"))
			*(bool *)(base + f->offset) = true;
		else if (take_word(ps, "false"))
			*(bool *)(base + f->offset) = false;
		else
			return fail(ps, "\"%s\" must be true or false", f->key);
		return 0;
	case FIELD_NUMBER:
		if (take_word(ps, "null")) {
			*(bool *)(base + f->has) = false;
			return 0;
		}
		r = parse_number(ps, &d);
		if (r < 0)
			return r;
		*(double *)(base + f->offset) = d;
		*(bool *)(base + f->has) = true;
		return 0;
	case FIELD_UNSIGNED:
		r = parse_number(ps, &d);
		if (r < 0)
			return r;
		/* 2^53: every integer below is exact in a double. */
		if (d < 0 || d >= 9007199254740992.0 || d != (double)(uint64_t)d)
			return fail(ps, "\"%s\" must be a non-negative integer", f->key);
		*(uint64_t *)(base + f->offset) = (uint64_t)d;
		return 0;
	}
	return fail(ps, "internal error");
}

int ctl_time_status_parse(const char *text, size_t len, CtlTimeStatus *ret, char *err,
			  size_t err_size)
{
	Parser ps = {
		.p = text, .end = text + len, .start = text, .err = err, .err_size = err_size
	};
	bool seen[ELEMENTSOF(fields)] = { false };
	CtlTimeStatus s = { 0 };
	char key[64];
	int r;

	if (err_size > 0)
		err[0] = '\0';
	if (!take(&ps, '{'))
		return fail(&ps, "not a JSON object");
	if (!take(&ps, '}')) {
		do {
			const Field *f = NULL;

			r = parse_string(&ps, key, sizeof(key));
			if (r < 0)
				return r;
			if (!take(&ps, ':'))
				return fail(&ps, "expected ':' after \"%s\"", key);
			for (size_t i = 0; i < ELEMENTSOF(fields); i++)
				if (strcmp(fields[i].key, key) == 0) {
					if (seen[i])
						return fail(&ps, "duplicate key \"%s\"", key);
					seen[i] = true;
					f = &fields[i];
				}
			r = f ? parse_field(&ps, f, &s) : skip_value(&ps, 1);
			if (r < 0)
				return r;
		} while (take(&ps, ','));
		if (!take(&ps, '}'))
			return fail(&ps, "expected ',' or '}'");
	}
	skip_ws(&ps);
	if (ps.p != ps.end)
		return fail(&ps, "trailing data after the object");
	for (size_t i = 0; i < ELEMENTSOF(fields); i++)
		if (!seen[i]) {
			snprintf(err, err_size, "missing key \"%s\"", fields[i].key);
			return -EBADMSG;
		}
	*ret = s;
	return 0;
}

char *ctl_time_format_ns(double ns, char *buf, size_t size)
{
	double a = ns < 0 ? -ns : ns;
	const char *sign = ns < 0 ? "-" : "+";

	if (a < 1e3)
		snprintf(buf, size, "%s%.0f ns", sign, a);
	else if (a < 1e6)
		snprintf(buf, size, "%s%.3f µs", sign, a / 1e3);
	else if (a < 1e9)
		snprintf(buf, size, "%s%.3f ms", sign, a / 1e6);
	else
		snprintf(buf, size, "%s%.3f s", sign, a / 1e9);
	return buf;
}

static int line(FILE *f, const char *label, const char *value)
{
	_cleanup_free_ char *e = NULL;

	if (ctl_text_escape(value, &e, NULL) < 0)
		return -ENOMEM;
	return fprintf(f, "%-14s %s\n", label, e) < 0 ? -EIO : 0;
}

int ctl_time_status_print_text(FILE *f, const CtlTimeStatus *s, uint64_t now_usec)
{
	char buf[512], a[64];
	struct tm tm;
	time_t t = (time_t)(s->updated_usec / 1000000u);
	int r;

	if (s->adjusting)
		snprintf(buf, sizeof(buf), "%s (adjusting the system clock)", s->mode);
	else
		snprintf(buf, sizeof(buf), "%s (not adjusting%s%s)", s->mode,
			 s->reason[0] ? ": " : "", s->reason);
	r = line(f, "Mode:", buf);
	if (r >= 0)
		r = line(f, "Clock:", s->phc[0] ? s->phc : "none");
	if (r >= 0)
		r = line(f, "State:", s->state);
	if (r >= 0)
		r = line(f, "Offset:",
			 s->has_offset ? ctl_time_format_ns(s->offset_ns, a, sizeof(a))
				       : "unknown");
	if (r >= 0) {
		if (s->has_frequency)
			snprintf(buf, sizeof(buf), "%+.3f ppm", s->frequency_ppb / 1e3);
		r = line(f, "Frequency:", s->has_frequency ? buf : "unknown");
	}
	if (r >= 0)
		r = line(f, "Synchronised:", s->synced ? "yes" : "no");
	if (r >= 0)
		r = line(f, "Host samples:",
			 s->stale ? "stale (the host's clock stopped advancing; holding over)"
				  : "fresh");
	if (r >= 0) {
		/* last_step_ns is 0 before the first step. */
		bool last = s->has_last_step && s->steps > 0;

		snprintf(buf, sizeof(buf), "%llu by this daemon%s%s%s, %llu by others",
			 (unsigned long long)s->steps, last ? " (last " : "",
			 last ? ctl_time_format_ns(s->last_step_ns, a, sizeof(a)) : "",
			 last ? ")" : "", (unsigned long long)s->external_steps);
		r = line(f, "Steps:", buf);
	}
	if (r >= 0) {
		snprintf(buf, sizeof(buf), "%llu%s%s", (unsigned long long)s->events,
			 s->last_event[0] ? ", last: " : "", s->last_event);
		r = line(f, "Events:", buf);
	}
	if (r < 0)
		return r;
	if (!gmtime_r(&t, &tm) || strftime(a, sizeof(a), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(a, sizeof(a), "%llu µs", (unsigned long long)s->updated_usec);
	if (now_usec >= s->updated_usec)
		snprintf(buf, sizeof(buf), "%s (%llu s ago)", a,
			 (unsigned long long)((now_usec - s->updated_usec) / 1000000u));
	else
		snprintf(buf, sizeof(buf), "%s (in the future: the clock was stepped back)", a);
	return line(f, "Updated:", buf);
}

/*
 * Writes text[0..len) and a newline, each byte that is not part of well-formed UTF-8 as
 * \ufffd: the parser has checked that such bytes only occur inside strings, so the output
 * stays valid JSON.
 */
static int print_json_passthrough(FILE *f, const char *text, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(text + i, len - i);

		if (n == 0 ? fputs("\\ufffd", f) == EOF : fwrite(text + i, 1, n, f) != n)
			return -EIO;
		i += n ? n : 1;
	}
	return fputc('\n', f) == EOF ? -EIO : 0;
}

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

CtlExit ctl_time_status(const CtlOptions *o, char *const *args)
{
	const char *dir = o->vss_run_dir ? o->vss_run_dir : TIMESYNC_RUN_DIR;
	_cleanup_free_ char *text = NULL;
	CtlTimeStatus s;
	char path[4096], err[256];
	uint64_t now = realtime_usec();
	size_t size;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, CTL_TIME_STATUS_FILE) >=
	    sizeof(path)) {
		fprintf(stderr, "Run directory name too long.\n");
		return CTL_EXIT_USAGE;
	}
	r = read_full_file_at(AT_FDCWD, path, CTL_TIME_STATUS_MAX, &text, &size);
	if (r == -ENOENT) {
		fprintf(stderr,
			"No time sync status ('%s' does not exist): hv-timesync-daemon is not "
			"running, or this machine has no Hyper-V PTP clock.\n",
			path);
		return CTL_EXIT_IO;
	}
	if (r < 0) {
		fprintf(stderr, "Cannot read '%s': %s\n", path, strerror(-r));
		return CTL_EXIT_IO;
	}
	if (ctl_time_status_parse(text, size, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "Malformed time sync status '%s': %s\n", path, err);
		return CTL_EXIT_NOT_FOUND;
	}
	if (now > s.updated_usec && now - s.updated_usec > CTL_TIME_STALE_USEC)
		fprintf(stderr,
			"Warning: the status is %llu s old; is hv-timesync-daemon running?\n",
			(unsigned long long)((now - s.updated_usec) / 1000000u));
	if (o->json) {
		/* Validated above: pass the daemon's object through, whitespace trimmed. */
		size_t b = 0, e = size;

		while (b < e && is_json_space(text[b]))
			b++;
		while (e > b && is_json_space(text[e - 1]))
			e--;
		r = print_json_passthrough(stdout, text + b, e - b);
	} else
		r = ctl_time_status_print_text(stdout, &s, now);
	if (r >= 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r < 0) {
		fprintf(stderr, "Cannot write the output: %s\n", strerror(-r));
		return CTL_EXIT_IO;
	}
	return CTL_EXIT_OK;
}
