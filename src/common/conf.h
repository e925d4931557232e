/* SPDX-License-Identifier: MIT */
/*
 * Table-driven parser for /etc/hvguest/hvguest.conf and hvguest.conf.d/\*.conf.
 *
 * INI syntax: "[section]", "key = value", '#' or ';' comments, surrounding whitespace ignored,
 * no quoting (values run to end of line). Drop-ins are read in lexical order after the main
 * file; a later assignment overrides an earlier one. Sections are [kvp] [vss] [fcopy]
 * [timesync]; a daemon passes the table for the sections it owns and the parser ignores the
 * other known sections.
 *
 * Unknown section or unknown key in an owned section: a warning (logged at the decision point,
 * here, because this module is where it is decided) and parsing continues. Invalid value,
 * missing '=', or a line longer than CONF_LINE_MAX: the load fails with -EINVAL and *reterr
 * names file, line and key.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

#define CONF_LINE_MAX 4096

typedef enum ConfType {
	CONF_BOOL,     /* bool: yes/no/true/false/on/off/1/0 */
	CONF_UINT,     /* unsigned: decimal, within [min, max] */
	CONF_USEC,     /* uint64_t µs: "30", "30s", "500ms", "2min", within [min, max] (µs) */
	CONF_MODE,     /* mode_t: octal such as 0600, within [min, max] */
	CONF_STRING,   /* char *: strdup'ed, replacing and freeing the previous value */
	CONF_STRV,     /* char **: whitespace-separated words, NULL-terminated, replacing */
	CONF_PATH,     /* char *: like CONF_STRING but must be absolute */
	CONF_LOGLEVEL, /* int: a log_level_from_string() name */
	_CONF_TYPE_MAX,
} ConfType;

typedef struct ConfItem {
	const char *section;
	const char *key;
	ConfType type;
	size_t offset;	   /* offsetof() into the caller's settings struct */
	uint64_t min, max; /* CONF_UINT, CONF_USEC, CONF_MODE; max == 0 means the type's maximum */
} ConfItem;

typedef struct ConfError {
	char file[256];
	unsigned line;
	char key[64];
	char message[160];
} ConfError;

/*
 * Parses one buffer as if it came from file "name" into target. Used for every file and by
 * the unit tests and fuzzer. Returns 0 or a negative errno (-EINVAL with *reterr filled).
 * On failure the assignments before the failing line have been applied: discard target.
 */
int conf_parse_buffer(const ConfItem *table, size_t n_items, void *target, const char *name,
		      const char *text, size_t len, ConfError *reterr);

/*
 * Loads main_path (missing file is fine) then every "*.conf" in dropin_dir (missing dir is
 * fine), in lexical order. Either path may be NULL.
 */
int conf_load(const ConfItem *table, size_t n_items, void *target, const char *main_path,
	      const char *dropin_dir, ConfError *reterr);

/* Frees the CONF_STRING/CONF_PATH/CONF_STRV members of target that the table describes. */
void conf_free(const ConfItem *table, size_t n_items, void *target);

/* Replaces *p by a copy of s (freeing the old one). 0 or -ENOMEM, *p untouched on failure. */
int free_and_strdup(char **p, const char *s);

void strv_free(char **l);
char **strv_copy(char *const *l);
size_t strv_length(char *const *l);
