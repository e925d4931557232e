/* SPDX-License-Identifier: MIT */
/*
 * Bounded UTF-16LE -> UTF-8 conversion for host-supplied names (fcopy file_name/path_name,
 * hyperv-abi.md §8.1), and a strict UTF-8 validator for names the pre-6.10 kernel already
 * converted (§8.2). Pure: no I/O, no allocation, no logging. Input is taken as bytes because
 * the arrays sit at unaligned offsets inside host messages.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Number of UTF-16 units before the first NUL unit in src (n_units units, little endian), or
 * n_units when there is none.
 */
size_t utf16le_strnlen(const void *src, size_t n_units);

/*
 * Converts UTF-16LE src (at most n_units units; stops at the first NUL unit or the array end)
 * to NUL-terminated UTF-8 in dst (dst_size bytes including the NUL). Surrogate pairs become
 * 4-byte sequences. Returns the UTF-8 length in bytes (without the NUL), -EILSEQ for an
 * unpaired or reversed surrogate, -ENAMETOOLONG if dst cannot hold the result and its NUL
 * (dst_size == 0 included). dst is left holding an empty string on any error (if dst_size > 0).
 */
int utf16le_to_utf8(const void *src, size_t n_units, char *dst, size_t dst_size);

/* utf8_is_valid() lives in common/utf8.h, shared with the KVP codec. */
#include "common/utf8.h"
