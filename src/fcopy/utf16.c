/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>

#include "fcopy/utf16.h"

static uint16_t unit_at(const uint8_t *p, size_t i)
{
	return (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
}

size_t utf16le_strnlen(const void *src, size_t n_units)
{
	const uint8_t *p = src;
	size_t i;

	for (i = 0; i < n_units; i++)
		if (unit_at(p, i) == 0)
			break;
	return i;
}

/* Bytes needed to encode code point cp (<= U+10FFFF, not a surrogate) in UTF-8. */
static size_t utf8_width(uint32_t cp)
{
	if (cp < 0x80)
		return 1;
	if (cp < 0x800)
		return 2;
	if (cp < 0x10000)
		return 3;
	return 4;
}

static void utf8_put(char *dst, uint32_t cp, size_t width)
{
	uint8_t *d = (uint8_t *)dst;

	switch (width) {
	case 1:
		d[0] = (uint8_t)cp;
		break;
	case 2:
		d[0] = (uint8_t)(0xc0 | cp >> 6);
		d[1] = (uint8_t)(0x80 | (cp & 0x3f));
		break;
	case 3:
		d[0] = (uint8_t)(0xe0 | cp >> 12);
		d[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (uint8_t)(0x80 | (cp & 0x3f));
		break;
	default:
		d[0] = (uint8_t)(0xf0 | cp >> 18);
		d[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		d[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		d[3] = (uint8_t)(0x80 | (cp & 0x3f));
		break;
	}
}

/* Converts n units (no NUL among them) into dst; on error dst holds a partial string. */
static int convert(const uint8_t *p, size_t n, char *dst, size_t dst_size)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t cp = unit_at(p, i);
		size_t w;

		if (cp >= 0xdc00 && cp <= 0xdfff)
			return -EILSEQ; /* low surrogate without a high one before it */
		if (cp >= 0xd800 && cp <= 0xdbff) {
			/* The low half must be inside the array and before the NUL. */
			uint32_t lo = i + 1 < n ? unit_at(p, i + 1) : 0;

			if (lo < 0xdc00 || lo > 0xdfff)
				return -EILSEQ;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i++;
		}
		w = utf8_width(cp);
		/* Keep one byte for the NUL: out + w must stay strictly below dst_size. */
		if (w >= dst_size - out || out + w > INT32_MAX)
			return -ENAMETOOLONG;
		utf8_put(dst + out, cp, w);
		out += w;
	}
	dst[out] = '\0';
	return (int)out;
}

int utf16le_to_utf8(const void *src, size_t n_units, char *dst, size_t dst_size)
{
	int r;

	if (dst_size == 0)
		return -ENAMETOOLONG;
	r = convert(src, utf16le_strnlen(src, n_units), dst, dst_size);
	if (r < 0)
		dst[0] = '\0';
	return r;
}
