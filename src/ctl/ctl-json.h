/* SPDX-License-Identifier: MIT */
/*
 * hvctl's output encoders: a JSON string escaper with the few JSON printers hvctl needs, and
 * the escaper for human-readable output. Pure apart from writing to the FILE given; no
 * logging.
 *
 * JSON strings (RFC 8259): '"' and '\' are escaped, control characters below U+0020 become
 * \u00XX, everything else passes through as UTF-8. Bytes that are not well-formed UTF-8
 * (pool files written by other programs, a key typed on the command line) become \ufffd,
 * so the output is always valid JSON. Objects keep a fixed key order, so the output is
 * stable enough to compare textually.
 *
 * Human text: C0 controls, DEL, C1 controls (U+0080..U+009F, which terminals also obey) and
 * bytes that are not UTF-8 are shown as \xNN, so a value can neither break the one line per
 * record layout nor send escape sequences to the terminal. Backslashes are kept as they are
 * (Windows paths and domain\user names are common); use JSON for exact values.
 */
#pragma once

#include <stdio.h>

#include "ctl/ctl-pool.h"

/*
 * Escapes s[0..len) as the inside of a JSON string (no surrounding quotes) into a malloc'ed,
 * NUL-terminated *ret. Returns the length of *ret, -E2BIG beyond INT_MAX / 6 bytes, or -ENOMEM.
 */
int ctl_json_escape(const char *s, size_t len, char **ret);

/* Writes s as a quoted JSON string. -EIO if the stream reports an error. */
int ctl_json_print_string(FILE *f, const char *s);

/*
 * {"pool":P,"records":[{"key":"…","value":"…"},…]} and a newline, records in the order
 * given (file order). -EIO on a stream error.
 */
int ctl_json_print_list(FILE *f, unsigned pool, const KvpRecord *v, size_t n);

/* {"pool":P,"key":"…","value":"…"} and a newline. -EIO on a stream error. */
int ctl_json_print_get(FILE *f, unsigned pool, const char *key, const char *value);

/*
 * One JSON Lines record per change: {"pool":P,"change":"added","key":"…","value":"…"};
 * "removed" has no "value". -EINVAL for an invalid change, -EIO on a stream error.
 */
int ctl_json_print_change(FILE *f, unsigned pool, CtlChange c, const char *key, const char *value);

/*
 * Escapes s for human output (see above) into a malloc'ed *ret. *ret_width (may be NULL)
 * is the number of characters the result shows (code points), for column alignment.
 * Returns the byte length of *ret, -E2BIG beyond INT_MAX / 4 bytes, or -ENOMEM.
 */
int ctl_text_escape(const char *s, char **ret, size_t *ret_width);

/*
 * Writes "key = value" lines, keys padded to the widest key (at most max_pad characters;
 * longer keys are not padded). -ENOMEM, or -EIO on a stream error.
 */
int ctl_text_print_records(FILE *f, const KvpRecord *v, size_t n, size_t max_pad);

/* "+ key = value", "~ key = value" or "- key" and a newline. -EINVAL, -ENOMEM, -EIO. */
int ctl_text_print_change(FILE *f, CtlChange c, const char *key, const char *value);
