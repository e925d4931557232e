/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/conf.h"
#include "common/log.h"

typedef struct Settings {
	bool enabled;
	unsigned retries;
	uint64_t timeout;
	mode_t mode;
	char *name;
	char **words;
	char *dir;
	int level;
} Settings;

#define ITEM(k, t, f, mn, mx)                              \
	{                                                  \
		"kvp", k, t, offsetof(Settings, f), mn, mx \
	}
static const ConfItem table[] = {
	ITEM("enabled", CONF_BOOL, enabled, 0, 0),
	ITEM("retries", CONF_UINT, retries, 1, 10),
	ITEM("timeout", CONF_USEC, timeout, 0, 0),
	ITEM("mode", CONF_MODE, mode, 0, 0777),
	ITEM("name", CONF_STRING, name, 0, 0),
	ITEM("words", CONF_STRV, words, 0, 0),
	ITEM("dir", CONF_PATH, dir, 0, 0),
	ITEM("log-level", CONF_LOGLEVEL, level, 0, 0),
	{ "timesync", "poll", CONF_USEC, offsetof(Settings, timeout), 1000, 3600000000ULL },
};

typedef struct Fixture {
	Settings s;
	char dir[64];
	int log_fd; /* read end of the pipe that stderr points to while parsing */
	int log_write_fd;
	char logs[8192];
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));
	int p[2];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-conf-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	f->log_fd = p[0];
	f->log_write_fd = p[1];
	log_open("test-conf", LOG_TARGET_CONSOLE);
	f->s.retries = 1;
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	Fixture *f = *state;

	close(f->log_fd);
	close(f->log_write_fd);
	conf_free(table, ELEMENTSOF(table), &f->s);
	assert_null(f->s.name);
	assert_null(f->s.words);
	assert_null(f->s.dir);
	assert_int_equal(nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* The warnings logged so far. */
static const char *logs(Fixture *f)
{
	ssize_t n = read(f->log_fd, f->logs, sizeof(f->logs) - 1);

	f->logs[n > 0 ? n : 0] = '\0';
	return f->logs;
}

/*
 * Warnings go to stderr: point it at the pipe only while the parser runs, so that cmocka's
 * own failure messages (also on stderr) stay visible.
 */
static int capture_begin(Fixture *f)
{
	int saved = dup(STDERR_FILENO);

	assert_true(saved >= 0);
	assert_int_equal(dup2(f->log_write_fd, STDERR_FILENO), STDERR_FILENO);
	return saved;
}

static void capture_end(int saved)
{
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
}

static int parse(Fixture *f, const char *text, ConfError *err)
{
	int saved = capture_begin(f), r;

	r = conf_parse_buffer(table, ELEMENTSOF(table), &f->s, "test.conf", text, strlen(text),
			      err);
	capture_end(saved);
	return r;
}

static int load(Fixture *f, const char *main_path, const char *dropins, ConfError *err)
{
	int saved = capture_begin(f), r;

	r = conf_load(table, ELEMENTSOF(table), &f->s, main_path, dropins, err);
	capture_end(saved);
	return r;
}

static void write_file(Fixture *f, const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "we");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void test_valid_file(void **state)
{
	Fixture *f = *state;
	ConfError err = { 0 };

	assert_int_equal(parse(f,
			       "# hvguest\n"
			       "[kvp]\n"
			       "enabled = yes\n"
			       "retries=7\n"
			       "timeout = 2min\n"
			       "mode = 0640\n"
			       "name = hello world \n"
			       "words = a b\n"
			       "dir = /var/lib/hyperv\n"
			       "log-level = debug\n",
			       &err),
			 0);
	assert_true(f->s.enabled);
	assert_int_equal(f->s.retries, 7);
	assert_int_equal(f->s.timeout, 120000000);
	assert_int_equal(f->s.mode, 0640);
	assert_string_equal(f->s.name, "hello world");
	assert_int_equal(strv_length(f->s.words), 2);
	assert_string_equal(f->s.dir, "/var/lib/hyperv");
	assert_int_equal(f->s.level, LOG_DEBUG);
	assert_string_equal(logs(f), "");
}

static void test_comments_and_whitespace(void **state)
{
	Fixture *f = *state;

	assert_int_equal(parse(f,
			       "# one\n ; two\n\n\t[ kvp ]  \r\n  retries\t=  4  \r\n"
			       "#retries = 9\n; retries = 9\nname = a # not a comment\n",
			       NULL),
			 0);
	assert_int_equal(f->s.retries, 4);
	assert_string_equal(f->s.name, "a # not a comment");
	/* no trailing newline, and a later assignment wins */
	assert_int_equal(parse(f, "[kvp]\nretries = 5\nretries = 6", NULL), 0);
	assert_int_equal(f->s.retries, 6);
}

static void test_dropins_override(void **state)
{
	Fixture *f = *state;
	char main_path[128], dropins[128];
	ConfError err;

	write_file(f, "main.conf", "[kvp]\nname = main\nretries = 2\nwords = from main\n");
	snprintf(dropins, sizeof(dropins), "%s/conf.d", f->dir);
	assert_int_equal(mkdir(dropins, 0755), 0);
	write_file(f, "conf.d/20-b.conf", "[kvp]\nname = b\n");
	write_file(f, "conf.d/10-a.conf", "[kvp]\nname = a\nretries = 5\n");
	write_file(f, "conf.d/30-c.txt", "[kvp]\nname = not a drop-in\n");
	write_file(f, "conf.d/.99-hidden.conf", "[kvp]\nname = hidden\n");
	snprintf(main_path, sizeof(main_path), "%s/main.conf", f->dir);

	assert_int_equal(load(f, main_path, dropins, &err), 0);
	assert_string_equal(f->s.name, "b");
	assert_int_equal(f->s.retries, 5);
	assert_string_equal(f->s.words[0], "from");
	assert_string_equal(f->s.words[1], "main");

	/* errors in a drop-in name that file */
	write_file(f, "conf.d/40-bad.conf", "[kvp]\n\nretries = many\n");
	assert_int_equal(load(f, main_path, dropins, &err), -EINVAL);
	assert_non_null(strstr(err.file, "conf.d/40-bad.conf"));
	assert_int_equal(err.line, 3);
	assert_string_equal(err.key, "retries");
}

static void test_missing_files_ok(void **state)
{
	Fixture *f = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/nope.conf", f->dir);
	assert_int_equal(load(f, path, f->dir, NULL), 0);
	snprintf(path, sizeof(path), "%s/nope.d", f->dir);
	assert_int_equal(load(f, NULL, path, NULL), 0);
	assert_int_equal(load(f, NULL, NULL, NULL), 0);
	assert_int_equal(f->s.retries, 1);
	assert_null(f->s.name);
}

static void test_unknown_key_warns(void **state)
{
	Fixture *f = *state;
	ConfError err = { 0 };
	const char *l;

	assert_int_equal(parse(f, "[kvp]\nbogus = 1\nretries = 3\n", &err), 0);
	assert_int_equal(f->s.retries, 3);
	l = logs(f);
	assert_non_null(strstr(l, "test.conf:2"));
	assert_non_null(strstr(l, "'bogus'"));
	assert_int_equal(err.line, 0); /* untouched on success */
}

static void test_sections(void **state)
{
	Fixture *f = *state;

	/* [vss] is known but has no table entry here: another daemon's, skipped silently */
	assert_int_equal(parse(f,
			       "[vss]\nfreeze-timeout = whatever\nretries = 9\n[kvp]\n"
			       "retries = 2\n",
			       NULL),
			 0);
	assert_int_equal(f->s.retries, 2);
	assert_string_equal(logs(f), "");

	assert_int_equal(parse(f, "[frobnicate]\nretries = 9\n", NULL), 0);
	assert_int_equal(f->s.retries, 2);
	assert_non_null(strstr(logs(f), "test.conf:1: unknown section [frobnicate]"));

	assert_int_equal(parse(f, "retries = 9\n", NULL), 0);
	assert_int_equal(f->s.retries, 2);
	assert_non_null(strstr(logs(f), "outside of a section"));

	/* a table entry in [timesync] makes that section owned */
	assert_int_equal(parse(f, "[timesync]\npoll = 64s\n", NULL), 0);
	assert_int_equal(f->s.timeout, 64000000);
	assert_int_equal(parse(f, "[timesync]\npoll = 0\n", NULL), -EINVAL);
}

static void test_invalid_values(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *key;
		const char *message;
	} cases[] = {
		{ "[kvp]\nenabled = maybe\n", 2, "enabled", "boolean" },
		{ "[kvp]\n\nretries = 11\n", 3, "retries", "range" },
		{ "[kvp]\nretries = 0\n", 2, "retries", "range" },
		{ "[kvp]\nretries = -1\n", 2, "retries", "number" },
		{ "[kvp]\nretries = 99999999999999999999\n", 2, "retries", "range" },
		{ "[kvp]\nretries = 3x\n", 2, "retries", "number" },
		{ "[kvp]\nretries =\n", 2, "retries", "number" },
		{ "[kvp]\nretries = 1\njustakey\n", 3, "justakey", "missing '='" },
		{ "[kvp]\n= 5\n", 2, "", "missing key" },
		{ "[kvp]\ndir = relative/x\n", 2, "dir", "absolute" },
		{ "[kvp]\ndir =\n", 2, "dir", "absolute" },
		{ "[kvp]\nmode = 0999\n", 2, "mode", "octal" },
		{ "[kvp]\nmode = 01777\n", 2, "mode", "range" },
		{ "[kvp]\ntimeout = 5 fortnights\n", 2, "timeout", "time span" },
		{ "[kvp]\ntimeout = 99999999999999h\n", 2, "timeout", "range" },
		{ "[kvp]\nlog-level = loud\n", 2, "log-level", "log level" },
		{ "[kvp\nretries = 1\n", 1, "", "section" },
		{ "[kvp] x\n", 1, "", "section" },
	};
	Fixture *f = *state;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		ConfError err = { 0 };

		assert_int_equal(parse(f, cases[i].text, &err), -EINVAL);
		assert_string_equal(err.file, "test.conf");
		assert_int_equal(err.line, cases[i].line);
		assert_string_equal(err.key, cases[i].key);
		if (!strstr(err.message, cases[i].message))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err.message,
				 cases[i].message);
	}
	/* a NULL reterr is allowed */
	assert_int_equal(parse(f, "[kvp]\nenabled = maybe\n", NULL), -EINVAL);
}

static void test_usec_suffixes(void **state)
{
	static const struct {
		const char *value;
		uint64_t usec;
	} cases[] = {
		{ "30", 30000000 },	 { "30s", 30000000 }, { "30 sec", 30000000 },
		{ "500ms", 500000 },	 { "250us", 250 },    { "2min", 120000000 },
		{ "1h", 3600000000ULL }, { "0", 0 },	      { "7 ms", 7000 },
	};
	Fixture *f = *state;
	char text[64];

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		snprintf(text, sizeof(text), "[kvp]\ntimeout = %s\n", cases[i].value);
		assert_int_equal(parse(f, text, NULL), 0);
		assert_int_equal(f->s.timeout, cases[i].usec);
	}
	assert_int_equal(parse(f, "[kvp]\ntimeout = 1.5s\n", NULL), -EINVAL);
	assert_int_equal(parse(f, "[kvp]\ntimeout = s\n", NULL), -EINVAL);
	assert_int_equal(parse(f, "[kvp]\ntimeout = 5d\n", NULL), -EINVAL);
}

static void test_strv(void **state)
{
	Fixture *f = *state;
	char **copy;

	assert_int_equal(parse(f, "[kvp]\nwords =  a  b\tc \n", NULL), 0);
	assert_int_equal(strv_length(f->s.words), 3);
	assert_string_equal(f->s.words[0], "a");
	assert_string_equal(f->s.words[1], "b");
	assert_string_equal(f->s.words[2], "c");
	assert_null(f->s.words[3]);

	copy = strv_copy(f->s.words);
	assert_non_null(copy);
	assert_int_equal(strv_length(copy), 3);
	assert_ptr_not_equal(copy[0], f->s.words[0]);
	assert_string_equal(copy[2], "c");
	strv_free(copy);

	/* replaces, and an empty value gives an empty list */
	assert_int_equal(parse(f, "[kvp]\nwords = x\n", NULL), 0);
	assert_int_equal(strv_length(f->s.words), 1);
	assert_int_equal(parse(f, "[kvp]\nwords =\n", NULL), 0);
	assert_non_null(f->s.words);
	assert_int_equal(strv_length(f->s.words), 0);

	assert_int_equal(strv_length(NULL), 0);
	strv_free(NULL);
	copy = strv_copy(NULL);
	assert_non_null(copy);
	assert_null(copy[0]);
	strv_free(copy);
}

static void test_path_must_be_absolute(void **state)
{
	Fixture *f = *state;
	ConfError err;

	assert_int_equal(parse(f, "[kvp]\ndir = /ok\n", &err), 0);
	assert_int_equal(parse(f, "[kvp]\ndir = ./rel\n", &err), -EINVAL);
	assert_string_equal(err.key, "dir");
	assert_string_equal(f->s.dir, "/ok"); /* previous value kept */
	assert_int_equal(parse(f, "[kvp]\nname = ./rel\n", &err), 0);
	assert_string_equal(f->s.name, "./rel");
}

static void test_line_length(void **state)
{
	Fixture *f = *state;
	size_t n = 6 + CONF_LINE_MAX + 2;
	char *text = malloc(n + 1);
	ConfError err = { 0 };

	assert_non_null(text);
	/* exactly CONF_LINE_MAX characters: accepted */
	memcpy(text, "[kvp]\n#", 7);
	memset(text + 7, 'x', CONF_LINE_MAX - 1);
	text[6 + CONF_LINE_MAX] = '\n';
	text[6 + CONF_LINE_MAX + 1] = '\0';
	assert_int_equal(parse(f, text, &err), 0);
	/* one more: rejected, naming line 2 */
	memset(text + 7, 'x', CONF_LINE_MAX);
	text[6 + CONF_LINE_MAX + 1] = '\0';
	assert_int_equal(parse(f, text, &err), -EINVAL);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "too long"));
	free(text);
}

static void test_nul_byte(void **state)
{
	Fixture *f = *state;
	static const char text[] = "[kvp]\nretries = 2\0 3\n";
	ConfError err = { 0 };

	assert_int_equal(conf_parse_buffer(table, ELEMENTSOF(table), &f->s, "nul.conf", text,
					   sizeof(text) - 1, &err),
			 -EINVAL); /* fails before any warning could be logged */
	assert_int_equal(err.line, 2);
}

static void test_free_and_strdup(void **state)
{
	char *p = strdup("old");

	assert_non_null(p);
	assert_int_equal(free_and_strdup(&p, "new value"), 0);
	assert_string_equal(p, "new value");
	assert_int_equal(free_and_strdup(&p, ""), 0);
	assert_string_equal(p, "");
	free(p);
	p = NULL;
	assert_int_equal(free_and_strdup(&p, "from NULL"), 0);
	assert_string_equal(p, "from NULL");
	free(p);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_valid_file),
		T(test_comments_and_whitespace),
		T(test_dropins_override),
		T(test_missing_files_ok),
		T(test_unknown_key_warns),
		T(test_sections),
		T(test_invalid_values),
		T(test_usec_suffixes),
		T(test_strv),
		T(test_path_must_be_absolute),
		T(test_line_length),
		T(test_nul_byte),
		T(test_free_and_strdup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
