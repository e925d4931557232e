/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the unit tests that write configuration and sysfs-like files: a text
 * file writer, a temporary config layout (main file plus one drop-in) and the check of a
 * rejected setting's ConfError. Header-only (static inline): included by test programs
 * only, after <cmocka.h>'s prerequisites, whose assertions fail the running test.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/conf.h"

/* Creates or truncates path (mode 0666 & ~umask) to hold text. */
static inline void test_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/*
 * A temporary configuration layout: dir (a new /tmp/<prefix>-XXXXXX), file (dir/hvguest.conf)
 * and the drop-in directory dropins (dir/hvguest.conf.d, not created) with one drop-in path
 * dropin (dropins/50-x.conf). None of the files exists yet.
 */
typedef struct TestConfDir {
	char dir[64];
	char file[128];
	char dropins[128];
	char dropin[160];
} TestConfDir;

static inline void test_conf_dir_new(TestConfDir *d, const char *prefix)
{
	assert_true(snprintf(d->dir, sizeof(d->dir), "/tmp/%s-XXXXXX", prefix) <
		    (int)sizeof(d->dir));
	assert_non_null(mkdtemp(d->dir));
	assert_true(snprintf(d->file, sizeof(d->file), "%s/hvguest.conf", d->dir) <
		    (int)sizeof(d->file));
	assert_true(snprintf(d->dropins, sizeof(d->dropins), "%s/hvguest.conf.d", d->dir) <
		    (int)sizeof(d->dropins));
	assert_true(snprintf(d->dropin, sizeof(d->dropin), "%s/50-x.conf", d->dropins) <
		    (int)sizeof(d->dropin));
}

/* Removes what test_conf_dir_new() named (whichever exist); fails if anything else is left. */
static inline void test_conf_dir_remove(const TestConfDir *d)
{
	(void)unlink(d->dropin);
	(void)rmdir(d->dropins);
	(void)unlink(d->file);
	assert_int_equal(rmdir(d->dir), 0);
}

/* A setting rejected with err: it names file, line (0: found after merging) and key. */
static inline void test_conf_error_check(const ConfError *err, const char *file, unsigned line,
					 const char *key)
{
	assert_string_equal(err->file, file);
	assert_int_equal(err->line, line);
	assert_string_equal(err->key, key);
	assert_true(err->message[0] != '\0');
}
