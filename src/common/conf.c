/* SPDX-License-Identifier: MIT */
/*
 * Table-driven INI parser for hvguest.conf and its drop-ins (format in conf.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/conf.h"
#include "common/fileio.h"
#include "common/log.h"

/* Configuration files are a few KiB; anything this large is a mistake. */
#define CONF_FILE_MAX (1024 * 1024)

static const char *const known_sections[] = { "kvp", "vss", "fcopy", "timesync" };

void strv_free(char **l)
{
	if (!l)
		return;
	for (char **p = l; *p; p++)
		free(*p);
	free(l);
}

size_t strv_length(char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}

char **strv_copy(char *const *l)
{
	size_t n = strv_length(l);
	char **c = calloc(n + 1, sizeof(char *));

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(l[i]);
		if (!c[i]) {
			strv_free(c);
			return NULL;
		}
	}
	return c;
}

/* Splits s on whitespace into a new NULL-terminated list (empty for a blank s). */
static char **strv_split(const char *s)
{
	char **l = calloc(1, sizeof(char *));
	size_t n = 0;

	while (l) {
		size_t w;
		char **nl;

		s += strspn(s, " \t");
		w = strcspn(s, " \t");
		if (w == 0)
			return l;
		nl = reallocarray(l, n + 2, sizeof(char *));
		if (!nl)
			break;
		l = nl;
		l[n] = strndup(s, w);
		l[n + 1] = NULL;
		if (!l[n])
			break;
		n++;
		s += w;
	}
	strv_free(l);
	return NULL;
}

static int conf_fail(ConfError *reterr, const char *file, unsigned line, const char *key,
		     const char *message)
{
	if (reterr) {
		*reterr = (ConfError){ .line = line };
		snprintf(reterr->file, sizeof(reterr->file), "%s", file ? file : "");
		snprintf(reterr->key, sizeof(reterr->key), "%s", key ? key : "");
		snprintf(reterr->message, sizeof(reterr->message), "%s", message);
	}
	return -EINVAL;
}

/* Strict unsigned decimal (or octal): digits only, no sign, no whitespace, no overflow. */
static int parse_u64(const char *s, int base, uint64_t *ret, const char **ret_end)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0)
		return -ERANGE;
	*ret = v;
	*ret_end = end;
	return 0;
}

static int parse_usec(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1000000 }, { "s", 1000000 },    { "sec", 1000000 },
		{ "ms", 1000 },	 { "msec", 1000 },    { "us", 1 },
		{ "usec", 1 },	 { "min", 60000000 }, { "h", 3600000000ULL },
	};
	const char *end;
	uint64_t v;

	if (parse_u64(s, 10, &v, &end) < 0)
		return -EINVAL;
	end += strspn(end, " \t");
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -ERANGE;
		*ret = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

/* Returns NULL on success, else the error message for ConfError (ENOMEM is separate). */
static const char *assign(const ConfItem *it, void *target, const char *value, int *reterrno)
{
	char *field = (char *)target + it->offset;
	uint64_t v, max;
	const char *end;
	char *s, **l;
	int r;

	*reterrno = -EINVAL;
	switch (it->type) {
	case CONF_BOOL:
		r = parse_bool(value);
		if (r < 0)
			return "expected a boolean (yes/no/true/false/on/off/1/0)";
		*(bool *)field = r;
		return NULL;
	case CONF_UINT:
		max = it->max == 0 ? UINT_MAX : MIN(it->max, (uint64_t)UINT_MAX);
		r = parse_u64(value, 10, &v, &end);
		if (r == -EINVAL || (r == 0 && *end != '\0'))
			return "expected an unsigned decimal number";
		if (r < 0 || v < it->min || v > max)
			return "number out of range";
		*(unsigned *)field = (unsigned)v;
		return NULL;
	case CONF_USEC:
		max = it->max == 0 ? UINT64_MAX : it->max;
		r = parse_usec(value, &v);
		if (r == -EINVAL)
			return "expected a time span such as 30, 30s, 500ms, 2min or 1h";
		if (r < 0 || v < it->min || v > max)
			return "time span out of range";
		*(uint64_t *)field = v;
		return NULL;
	case CONF_MODE:
		max = it->max == 0 ? 07777 : MIN(it->max, (uint64_t)07777);
		if (parse_u64(value, 8, &v, &end) < 0 || *end != '\0')
			return "expected an octal file mode such as 0600";
		if (v < it->min || v > max)
			return "file mode out of range";
		*(mode_t *)field = (mode_t)v;
		return NULL;
	case CONF_PATH:
		if (value[0] != '/')
			return "expected an absolute path";
		__attribute__((fallthrough));
	case CONF_STRING:
		s = strdup(value);
		if (!s)
			break;
		free(*(char **)field);
		*(char **)field = s;
		return NULL;
	case CONF_STRV:
		l = strv_split(value);
		if (!l)
			break;
		strv_free(*(char ***)field);
		*(char ***)field = l;
		return NULL;
	case CONF_LOGLEVEL:
		r = log_level_from_string(value);
		if (r < 0)
			return "expected a log level (debug, info, notice, warning, err, ...)";
		*(int *)field = r;
		return NULL;
	case _CONF_TYPE_MAX:
		return "unsupported type in the configuration table";
	}
	*reterrno = -ENOMEM;
	return "out of memory";
}

static char *strip(char *s)
{
	char *e;

	s += strspn(s, " \t\r\f\v");
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool is_known_section(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(known_sections); i++)
		if (strcmp(s, known_sections[i]) == 0)
			return true;
	return false;
}

static bool section_is_owned(const ConfItem *table, size_t n_items, const char *section)
{
	for (size_t i = 0; i < n_items; i++)
		if (strcmp(table[i].section, section) == 0)
			return true;
	return false;
}

static const ConfItem *find_item(const ConfItem *table, size_t n_items, const char *section,
				 const char *key)
{
	for (size_t i = 0; i < n_items; i++)
		if (strcmp(table[i].section, section) == 0 && strcmp(table[i].key, key) == 0)
			return &table[i];
	return NULL;
}

int conf_parse_buffer(const ConfItem *table, size_t n_items, void *target, const char *name,
		      const char *text, size_t len, ConfError *reterr)
{
	/* Longest allowed line plus its NUL; a known section name fits in "timesync". */
	char buf[CONF_LINE_MAX + 1], section[16] = "";
	/* in_section: inside a known section; seen_header: after any section header */
	bool owned = false, in_section = false, seen_header = false;
	unsigned lineno = 0;
	size_t pos = 0;

	if (!name)
		name = "(buffer)";

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const ConfItem *it;
		const char *msg;
		char *line, *eq, *key, *value;
		int r;

		lineno++;
		if (n > CONF_LINE_MAX)
			return conf_fail(reterr, name, lineno, NULL, "line too long");
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + 1;
		if (strlen(buf) != n)
			return conf_fail(reterr, name, lineno, NULL, "line contains a NUL byte");

		line = strip(buf);
		if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;

		if (line[0] == '[') {
			char *close = strchr(line, ']');

			if (!close || strip(close + 1)[0] != '\0')
				return conf_fail(reterr, name, lineno, NULL,
						 "invalid section header");
			*close = '\0';
			line = strip(line + 1);
			seen_header = true;
			in_section = is_known_section(line);
			if (!in_section) {
				log_warning("%s:%u: unknown section [%s], ignoring its contents.",
					    name, lineno, line);
				continue;
			}
			snprintf(section, sizeof(section), "%s", line);
			owned = section_is_owned(table, n_items, section);
			continue;
		}

		eq = strchr(line, '=');
		if (!eq)
			return conf_fail(reterr, name, lineno, line, "missing '='");
		*eq = '\0';
		key = strip(line);
		value = strip(eq + 1);
		if (key[0] == '\0')
			return conf_fail(reterr, name, lineno, NULL, "missing key before '='");
		if (!in_section) {
			if (!seen_header)
				log_warning(
					"%s:%u: assignment to '%s' outside of a section, ignoring.",
					name, lineno, key);
			continue;
		}
		if (!owned)
			continue; /* another daemon's section */

		it = find_item(table, n_items, section, key);
		if (!it) {
			log_warning("%s:%u: unknown key '%s' in section [%s], ignoring.", name,
				    lineno, key, section);
			continue;
		}
		msg = assign(it, target, value, &r);
		if (msg) {
			(void)conf_fail(reterr, name, lineno, key, msg);
			return r;
		}
	}
	return 0;
}

static int conf_load_file(const ConfItem *table, size_t n_items, void *target, int dirfd,
			  const char *path, const char *display, ConfError *reterr)
{
	_cleanup_free_ char *text = NULL;
	size_t size;
	int r;

	r = read_full_file_at(dirfd, path, CONF_FILE_MAX, &text, &size);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		(void)conf_fail(reterr, display, 0, NULL, "cannot read file");
		return r;
	}
	return conf_parse_buffer(table, n_items, target, display, text, size, reterr);
}

static int dropin_filter(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0;
}

/* Plain byte order, not the locale's collation: the documented "lexical order". */
static int dropin_compare(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int conf_load_dropins(const ConfItem *table, size_t n_items, void *target, const char *dir,
			     ConfError *reterr)
{
	_cleanup_close_ int dirfd = -EBADF;
	struct dirent **list = NULL;
	int n, r = 0;

	dirfd = open_dir(dir);
	if (dirfd == -ENOENT)
		return 0;
	n = dirfd < 0 ? dirfd : scandir(dir, &list, dropin_filter, dropin_compare);
	if (n < 0) {
		r = dirfd < 0 ? dirfd : negative_errno();
		(void)conf_fail(reterr, dir, 0, NULL, "cannot read directory");
		return r;
	}
	for (int i = 0; i < n; i++) {
		char display[PATH_MAX];

		snprintf(display, sizeof(display), "%s/%s", dir, list[i]->d_name);
		if (r >= 0)
			r = conf_load_file(table, n_items, target, dirfd, list[i]->d_name, display,
					   reterr);
		free(list[i]);
	}
	free(list);
	return r;
}

int conf_load(const ConfItem *table, size_t n_items, void *target, const char *main_path,
	      const char *dropin_dir, ConfError *reterr)
{
	int r;

	if (main_path) {
		r = conf_load_file(table, n_items, target, AT_FDCWD, main_path, main_path, reterr);
		if (r < 0)
			return r;
	}
	if (dropin_dir)
		return conf_load_dropins(table, n_items, target, dropin_dir, reterr);
	return 0;
}

void conf_free(const ConfItem *table, size_t n_items, void *target)
{
	for (size_t i = 0; i < n_items; i++) {
		void *field = (char *)target + table[i].offset;

		switch (table[i].type) {
		case CONF_STRING:
		case CONF_PATH:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case CONF_STRV:
			strv_free(*(char ***)field);
			*(char ***)field = NULL;
			break;
		case CONF_BOOL:
		case CONF_UINT:
		case CONF_USEC:
		case CONF_MODE:
		case CONF_LOGLEVEL:
		case _CONF_TYPE_MAX:
			break;
		}
	}
}

int free_and_strdup(char **p, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	free(*p);
	*p = copy;
	return 0;
}
