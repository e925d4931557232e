/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 <-> UTF-16LE with the guest kernel's semantics (see hostsim-utf16.h). The kernel
 * behaviour reproduced here was read from fs/nls/nls_base.c; the code is our own.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "hostsim/hostsim-utf16.h"

#define UNICODE_MAX 0x10ffffu
#define PLANE_SIZE 0x10000u
#define REPLACEMENT_CHAR 0xfffdu

static bool is_surrogate(uint32_t u)
{
	return (u & 0xfffff800u) == 0xd800u;
}

int hostsim_utf8_decode(const uint8_t *s, size_t len, uint32_t *ret)
{
	uint32_t u, min;
	size_t n;

	if (len == 0)
		return -EILSEQ;

	if (s[0] < 0x80) {
		*ret = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		u = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		u = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		u = s[0] & 0x07;
		min = 0x10000;
	} else {
		/* Continuation byte as lead, or the 5/6-byte forms the kernel rejects as > max. */
		return -EILSEQ;
	}

	if (len < n)
		return -EILSEQ;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -EILSEQ;
		u = (u << 6) | (s[i] & 0x3f);
	}
	if (u < min || u > UNICODE_MAX || is_surrogate(u))
		return -EILSEQ;

	*ret = u;
	return (int)n;
}

/* Encodes u into out if it fits in room bytes; returns the byte count or 0 if it does not. */
static size_t utf8_encode(uint32_t u, char *out, size_t room)
{
	uint8_t *o = (uint8_t *)out;

	if (u < 0x80) {
		if (room < 1)
			return 0;
		o[0] = (uint8_t)u;
		return 1;
	}
	if (u < 0x800) {
		if (room < 2)
			return 0;
		o[0] = (uint8_t)(0xc0 | (u >> 6));
		o[1] = (uint8_t)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < PLANE_SIZE) {
		if (room < 3)
			return 0;
		o[0] = (uint8_t)(0xe0 | (u >> 12));
		o[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
		o[2] = (uint8_t)(0x80 | (u & 0x3f));
		return 3;
	}
	if (room < 4)
		return 0;
	o[0] = (uint8_t)(0xf0 | (u >> 18));
	o[1] = (uint8_t)(0x80 | ((u >> 12) & 0x3f));
	o[2] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
	o[3] = (uint8_t)(0x80 | (u & 0x3f));
	return 4;
}

int hostsim_utf16_from_utf8_kernel(const char *s, size_t inlen, uint8_t *out, size_t maxout)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = 0;

	while (inlen > 0 && maxout > 0 && *p) {
		uint32_t u;
		int size;

		if (*p < 0x80) {
			hostsim_utf16_put(out, n++, *p++);
			inlen--;
			maxout--;
			continue;
		}

		size = hostsim_utf8_decode(p, inlen, &u);
		if (size < 0)
			return -EILSEQ;
		p += size;
		inlen -= (size_t)size;

		if (u >= PLANE_SIZE) {
			/* The kernel stops (rather than skipping) when a pair no longer fits. */
			if (maxout < 2)
				break;
			u -= PLANE_SIZE;
			hostsim_utf16_put(out, n++, (uint16_t)(0xd800 | ((u >> 10) & 0x3ff)));
			hostsim_utf16_put(out, n++, (uint16_t)(0xdc00 | (u & 0x3ff)));
			maxout -= 2;
		} else {
			hostsim_utf16_put(out, n++, (uint16_t)u);
			maxout--;
		}
	}

	return (int)n;
}

size_t hostsim_utf16_to_utf8_kernel(const uint8_t *in, size_t in_units, char *out, size_t maxout)
{
	size_t i = 0, n = 0;

	while (i < in_units && n < maxout) {
		uint32_t u = hostsim_utf16_get(in, i);

		if (u == 0)
			break;
		i++;

		if (u < 0x80) {
			out[n++] = (char)u;
			continue;
		}

		if (is_surrogate(u)) {
			uint32_t v;

			if (u & 0x400)
				continue; /* lone low surrogate: dropped */
			if (i >= in_units)
				break;
			v = hostsim_utf16_get(in, i);
			if ((v & 0xfc00) != 0xdc00)
				continue; /* high surrogate without its pair: dropped, v not
					     consumed */
			u = PLANE_SIZE + ((u & 0x3ff) << 10) + (v & 0x3ff);
			i++;
		}

		/* A character that does not fit is skipped, not truncated. */
		n += utf8_encode(u, out + n, maxout - n);
	}

	return n;
}

int hostsim_utf16_from_utf8(const char *s, uint8_t *out, size_t max_units, size_t *ret_units)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s), n = 0;

	while (len > 0) {
		uint32_t u;
		int size = hostsim_utf8_decode(p, len, &u);

		if (size < 0)
			return -EILSEQ;
		p += size;
		len -= (size_t)size;

		if (u >= PLANE_SIZE) {
			if (max_units - n < 2)
				return -E2BIG;
			u -= PLANE_SIZE;
			hostsim_utf16_put(out, n++, (uint16_t)(0xd800 | (u >> 10)));
			hostsim_utf16_put(out, n++, (uint16_t)(0xdc00 | (u & 0x3ff)));
		} else {
			if (max_units - n < 1)
				return -E2BIG;
			hostsim_utf16_put(out, n++, (uint16_t)u);
		}
	}

	*ret_units = n;
	return 0;
}

ssize_t hostsim_utf16_to_utf8(const uint8_t *in, size_t units, char *out, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return -ENOBUFS;

	for (size_t i = 0; i < units; i++) {
		uint32_t u = hostsim_utf16_get(in, i);
		size_t k;

		if (u == 0)
			break;
		if (is_surrogate(u)) {
			uint32_t v = i + 1 < units ? hostsim_utf16_get(in, i + 1) : 0;

			if (!(u & 0x400) && (v & 0xfc00) == 0xdc00) {
				u = PLANE_SIZE + ((u & 0x3ff) << 10) + (v & 0x3ff);
				i++;
			} else {
				u = REPLACEMENT_CHAR;
			}
		}

		/* Keep one byte for the terminator. */
		k = utf8_encode(u, out + n, size - 1 - n);
		if (k == 0) {
			out[n] = '\0';
			return -ENOBUFS;
		}
		n += k;
	}

	out[n] = '\0';
	return (ssize_t)n;
}
