/* SPDX-License-Identifier: MIT */
/*
 * JSON and human-readable encoders for hvctl (see ctl-json.h for the rules).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl-json.h"

/*
 * Length of the well-formed UTF-8 sequence starting at p (left bytes available), or 0 if
 * p[0] does not start one. The lead byte gives the candidate length; utf8_is_valid() then
 * rejects overlongs, surrogates and values above U+10FFFF.
 */
static size_t utf8_seq_len(const unsigned char *p, size_t left)
{
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (n > left || !utf8_is_valid((const char *)p, n))
		return 0;
	return n;
}

static const char hex_digits[] = "0123456789abcdef";

int ctl_json_escape(const char *s, size_t len, char **ret)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;

	/* Worst case: every byte becomes a six-character \u escape; the length must fit an int. */
	if (len > (INT_MAX - 1) / 6)
		return -E2BIG;
	out = malloc(len * 6 + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len(p + i, len - i);

		if (n == 0) {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
			continue;
		}
		if (n > 1) {
			memcpy(o, p + i, n);
			o += n;
			i += n;
			continue;
		}
		if (p[i] == '"' || p[i] == '\\') {
			*o++ = '\\';
			*o++ = (char)p[i];
		} else if (p[i] < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex_digits[p[i] >> 4];
			o[5] = hex_digits[p[i] & 0xf];
			o += 6;
		} else
			*o++ = (char)p[i];
		i++;
	}
	*o = '\0';
	*ret = out;
	return (int)(o - out);
}

int ctl_json_print_string(FILE *f, const char *s)
{
	_cleanup_free_ char *e = NULL;
	int r;

	r = ctl_json_escape(s, strlen(s), &e);
	if (r < 0)
		return r;
	if (fprintf(f, "\"%s\"", e) < 0)
		return -EIO;
	return 0;
}

int ctl_json_print_list(FILE *f, unsigned pool, const KvpRecord *v, size_t n)
{
	int r;

	if (fprintf(f, "{\"pool\":%u,\"records\":[", pool) < 0)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		if (fputs(i > 0 ? ",{\"key\":" : "{\"key\":", f) < 0)
			return -EIO;
		r = ctl_json_print_string(f, v[i].key);
		if (r < 0)
			return r;
		if (fputs(",\"value\":", f) < 0)
			return -EIO;
		r = ctl_json_print_string(f, v[i].value);
		if (r < 0)
			return r;
		if (fputc('}', f) == EOF)
			return -EIO;
	}
	if (fputs("]}\n", f) < 0)
		return -EIO;
	return 0;
}

int ctl_json_print_get(FILE *f, unsigned pool, const char *key, const char *value)
{
	int r;

	if (fprintf(f, "{\"pool\":%u,\"key\":", pool) < 0)
		return -EIO;
	r = ctl_json_print_string(f, key);
	if (r < 0)
		return r;
	if (fputs(",\"value\":", f) < 0)
		return -EIO;
	r = ctl_json_print_string(f, value);
	if (r < 0)
		return r;
	if (fputs("}\n", f) < 0)
		return -EIO;
	return 0;
}

int ctl_json_print_change(FILE *f, unsigned pool, CtlChange c, const char *key, const char *value)
{
	const char *name = ctl_change_to_string(c);
	int r;

	if (!name)
		return -EINVAL;
	if (fprintf(f, "{\"pool\":%u,\"change\":\"%s\",\"key\":", pool, name) < 0)
		return -EIO;
	r = ctl_json_print_string(f, key);
	if (r < 0)
		return r;
	if (c != CTL_CHANGE_REMOVED) {
		if (fputs(",\"value\":", f) < 0)
			return -EIO;
		r = ctl_json_print_string(f, value ? value : "");
		if (r < 0)
			return r;
	}
	if (fputs("}\n", f) < 0)
		return -EIO;
	return 0;
}

static char *put_hex_byte(char *o, unsigned char b)
{
	o[0] = '\\';
	o[1] = 'x';
	o[2] = hex_digits[b >> 4];
	o[3] = hex_digits[b & 0xf];
	return o + 4;
}

int ctl_text_escape(const char *s, char **ret, size_t *ret_width)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), width = 0;
	char *out, *o;

	/* Worst case: every byte becomes a four-character \xNN; the length must fit an int. */
	if (len > (INT_MAX - 1) / 4)
		return -E2BIG;
	out = malloc(len * 4 + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len(p + i, len - i);

		if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			/* Not UTF-8, or a C0 control / DEL. */
			o = put_hex_byte(o, p[i]);
			width += 4;
			i++;
		} else if (n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0) {
			/* U+0080..U+009F: C1 controls (0x9B is CSI on many terminals). */
			o = put_hex_byte(o, p[i]);
			o = put_hex_byte(o, p[i + 1]);
			width += 8;
			i += 2;
		} else {
			memcpy(o, p + i, n);
			o += n;
			width++;
			i += n;
		}
	}
	*o = '\0';
	*ret = out;
	if (ret_width)
		*ret_width = width;
	return (int)(o - out);
}

static int print_pad(FILE *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fputc(' ', f) == EOF)
			return -EIO;
	return 0;
}

int ctl_text_print_records(FILE *f, const KvpRecord *v, size_t n, size_t max_pad)
{
	size_t pad = 0;
	int r;

	/* First pass: the widest key that still gets padded. */
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *k = NULL;
		size_t w;

		r = ctl_text_escape(v[i].key, &k, &w);
		if (r < 0)
			return r;
		if (w <= max_pad)
			pad = MAX(pad, w);
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *k = NULL, *val = NULL;
		size_t w;

		r = ctl_text_escape(v[i].key, &k, &w);
		if (r < 0)
			return r;
		r = ctl_text_escape(v[i].value, &val, NULL);
		if (r < 0)
			return r;
		if (fputs(k, f) < 0)
			return -EIO;
		r = print_pad(f, w < pad ? pad - w : 0);
		if (r < 0)
			return r;
		if (fprintf(f, " = %s\n", val) < 0)
			return -EIO;
	}
	return 0;
}

int ctl_text_print_change(FILE *f, CtlChange c, const char *key, const char *value)
{
	static const char marks[_CTL_CHANGE_MAX] = {
		[CTL_CHANGE_ADDED] = '+',
		[CTL_CHANGE_CHANGED] = '~',
		[CTL_CHANGE_REMOVED] = '-',
	};
	_cleanup_free_ char *k = NULL, *val = NULL;
	int r;

	if (c < 0 || c >= _CTL_CHANGE_MAX)
		return -EINVAL;
	r = ctl_text_escape(key, &k, NULL);
	if (r < 0)
		return r;
	if (c == CTL_CHANGE_REMOVED) {
		if (fprintf(f, "- %s\n", k) < 0)
			return -EIO;
		return 0;
	}
	r = ctl_text_escape(value ? value : "", &val, NULL);
	if (r < 0)
		return r;
	if (fprintf(f, "%c %s = %s\n", marks[c], k, val) < 0)
		return -EIO;
	return 0;
}
