/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 <-> UTF-16LE conversions for the simulated host and guest kernel.
 *
 * Two families:
 *   - "kernel" conversions reproduce the guest kernel's utf8s_to_utf16s() and
 *     utf16s_to_utf8s() (fs/nls/nls_base.c) as drivers/hv/hv_kvp.c calls them, including
 *     their cutting rules, so the daemon sees exactly what a real kernel would hand it;
 *   - "host" conversions are strict/lossless, used where the simulated Windows host turns
 *     the caller's UTF-8 into its UTF-16 wire form and back.
 *
 * UTF-16 text is always little-endian bytes (2 per code unit) so that callers can point into
 * packed message buffers without alignment concerns. Pure: no I/O, no allocation.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Decodes one strictly valid UTF-8 sequence (no overlongs, no surrogates, nothing above
 * U+10FFFF, no truncation) from s[0..len). Returns the number of bytes consumed (1-4) and
 * stores the code point in *ret, or -EILSEQ.
 */
int hostsim_utf8_decode(const uint8_t *s, size_t len, uint32_t *ret);

/*
 * The kernel's utf8s_to_utf16s(s, inlen, UTF16_LITTLE_ENDIAN, out, maxout): converts until
 * inlen bytes are consumed, a NUL byte is met or maxout units are written; a character that
 * needs a surrogate pair when only one unit is left ends the conversion. Writes no
 * terminator. Returns the number of units written, or -EILSEQ (the kernel's -EINVAL) when a
 * malformed sequence is met before the limit; out may then hold partial output.
 */
int hostsim_utf16_from_utf8_kernel(const char *s, size_t inlen, uint8_t *out, size_t maxout);

/*
 * The kernel's utf16s_to_utf8s(in, inlen, UTF16_LITTLE_ENDIAN, out, maxout): converts until
 * in_units units are consumed, a NUL unit is met or maxout bytes are written. Unpaired
 * surrogates are skipped silently; a character that does not fit in the remaining space is
 * skipped (a later, shorter one may still fit). Writes no terminator. Returns the number of
 * bytes written (<= maxout).
 */
size_t hostsim_utf16_to_utf8_kernel(const uint8_t *in, size_t in_units, char *out, size_t maxout);

/*
 * Host side: encodes the NUL-terminated UTF-8 string s as UTF-16LE into out (room for
 * max_units units, no terminator written) and stores the unit count. -EILSEQ if s is not
 * valid UTF-8, -E2BIG if it needs more than max_units units.
 */
int hostsim_utf16_from_utf8(const char *s, uint8_t *out, size_t max_units, size_t *ret_units);

/*
 * Host side: decodes up to units UTF-16LE units (stopping at a NUL unit) into out as
 * NUL-terminated UTF-8; unpaired surrogates become U+FFFD. Returns the UTF-8 length, or
 * -ENOBUFS if out (size bytes including the terminator) is too small; out is then
 * truncated at a character boundary and still terminated (when size > 0).
 */
ssize_t hostsim_utf16_to_utf8(const uint8_t *in, size_t units, char *out, size_t size);

/* Reads / writes one little-endian code unit at unit index i. */
static inline uint16_t hostsim_utf16_get(const uint8_t *p, size_t i)
{
	return (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
}
static inline void hostsim_utf16_put(uint8_t *p, size_t i, uint16_t u)
{
	p[2 * i] = (uint8_t)(u & 0xff);
	p[2 * i + 1] = (uint8_t)(u >> 8);
}
