/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stddef.h>

#include "common/utf8.h"

/*
 * Length of the well-formed UTF-8 sequence at s[0..len), or 0 if it is malformed (RFC 3629
 * table 3-7: the second byte's range excludes overlongs (E0, F0), surrogates (ED) and
 * values above U+10FFFF (F4)).
 */
static size_t utf8_sequence_len(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */

	if (len < n)
		return 0;

	switch (s[0]) {
	case 0xE0:
		lo = 0xA0;
		break;
	case 0xED:
		hi = 0x9F;
		break;
	case 0xF0:
		lo = 0x90;
		break;
	case 0xF4:
		hi = 0x8F;
		break;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

bool utf8_is_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_sequence_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t utf8_utf16_units(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t units = 0;

	/* One unit per lead byte; four-byte sequences (U+10000 and up) need a surrogate pair. */
	for (size_t i = 0; i < len; i++) {
		if ((p[i] & 0xC0) == 0x80)
			continue;
		units += p[i] >= 0xF0 ? 2 : 1;
	}
	return units;
}
