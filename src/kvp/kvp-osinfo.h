/* SPDX-License-Identifier: MIT */
/*
 * os-release(5) parsing and the auto pool's OS keys. Pure: text and a struct utsname in,
 * strings out; reading the file is the caller's job.
 *
 * Accepted syntax, a subset of shell assignments as os-release(5) describes:
 *   KEY=value            KEY matches [A-Za-z_][A-Za-z0-9_]*; leading blanks allowed
 *   KEY="a \"b\" \\ c"   inside "...", backslash escapes \ " $ ` (other pairs stay as is)
 *   KEY='literal'        no escapes inside '...'
 *   KEY=a"b"'c'          adjacent pieces concatenate; unquoted \x gives x
 *   # comment, blank lines
 * A line that does not parse (no '=', bad key, unterminated quote, unquoted blank followed by
 * anything but a comment, a NUL byte) is skipped as a whole. The last assignment of a key
 * wins. Lines may be of any length.
 */
#pragma once

#include <stddef.h>
#include <sys/utsname.h>

#include "common/macro.h"

/*
 * Looks key up in os-release text[0..len) (need not be NUL-terminated) and returns the
 * unquoted, unescaped value in *ret (malloc'ed). -ENOENT if no valid line assigns key,
 * -ENOMEM.
 */
int os_release_get(const char *text, size_t len, const char *key, char **ret);

/* The auto pool's OS facts (hyperv-abi.md §4.5). All strings malloc'ed, never NULL. */
typedef struct KvpOsInfo {
	char *os_name;	      /* OSName: NAME, else uname sysname */
	char *major_version;  /* OSMajorVersion: VERSION_ID up to the first '.', else all of it */
	char *minor_version;  /* OSMinorVersion: VERSION_ID after the first '.', else "" */
	char *build_number;   /* OSBuildNumber: full uname release */
	char *os_version;     /* OSVersion: uname release cut at the first '-' */
	char *processor_arch; /* ProcessorArchitecture: uname machine */
} KvpOsInfo;

/*
 * Fills ret from os-release text (NULL or empty when no file was found) and u.
 * VERSION_ID "22.04" gives major "22", minor "04"; "12" gives "12" and ""; "8.10.1" gives
 * "8" and "10.1"; no VERSION_ID gives "" and "". (Upstream put all of VERSION_ID into
 * OSMajorVersion and "" into OSMinorVersion; splitting reports the minor number too.)
 * Strings are copied as found; the caller bounds and validates them for the host.
 * On failure ret is left empty.
 */
int kvp_osinfo_fill(const char *text, size_t len, const struct utsname *u, KvpOsInfo *ret);

/* Frees the strings of i and zeroes it. */
void kvp_osinfo_done(KvpOsInfo *i);
