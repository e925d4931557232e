/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 checks shared by every parser of host bytes (KVP strings, fcopy names). Pure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF). */
bool utf8_is_valid(const char *s, size_t len);
/* UTF-16 units needed to encode well-formed UTF-8 s[0..len). */
size_t utf8_utf16_units(const char *s, size_t len);
