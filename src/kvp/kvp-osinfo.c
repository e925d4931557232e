/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "kvp/kvp-osinfo.h"

static bool is_blank(char c)
{
	/* '\r' so that files with CRLF line ends parse too. */
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_key_char(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
		return true;
	return !first && c >= '0' && c <= '9';
}

/*
 * Parses the value part of one line, p[0..end) (after the '='), into out, which has room
 * for end - p + 1 bytes: unescaping never makes a value longer. -EINVAL if malformed.
 */
static int parse_value(const char *p, const char *end, char *out)
{
	size_t n = 0;

	while (p < end && !is_blank(*p)) {
		char c = *p;

		if (c == '\0')
			return -EINVAL;
		if (c == '"') {
			for (p++;; p++) {
				if (p >= end || *p == '\0')
					return -EINVAL; /* unterminated */
				if (*p == '"')
					break;
				if (*p == '\\' && p + 1 < end && p[1] != '\0' &&
				    strchr("\\\"$`", p[1]))
					p++;
				out[n++] = *p;
			}
			p++;
		} else if (c == '\'') {
			for (p++;; p++) {
				if (p >= end || *p == '\0')
					return -EINVAL;
				if (*p == '\'')
					break;
				out[n++] = *p;
			}
			p++;
		} else if (c == '\\') {
			/* A trailing backslash would continue the line in shell: not supported. */
			if (p + 1 >= end || p[1] == '\0')
				return -EINVAL;
			out[n++] = p[1];
			p += 2;
		} else {
			out[n++] = c;
			p++;
		}
	}

	/* After the value only blanks and a comment may follow ("A=b c" runs command c). */
	while (p < end && is_blank(*p))
		p++;
	if (p < end && *p != '#')
		return -EINVAL;

	out[n] = '\0';
	return 0;
}

/*
 * Parses one line p[0..end) if it assigns key (klen bytes). Returns 1 and the value in *ret
 * (malloc'ed), 0 for any other or a malformed line, -ENOMEM.
 */
static int parse_line(const char *p, const char *end, const char *key, size_t klen, char **ret)
{
	const char *k;
	char *v;

	while (p < end && is_blank(*p))
		p++;
	k = p;
	while (p < end && is_key_char(*p, p == k))
		p++;
	/* Comments, blank lines and lines without "KEY=" all end up here. */
	if (p == k || p >= end || *p != '=' || (size_t)(p - k) != klen || memcmp(k, key, klen) != 0)
		return 0;
	p++;

	v = malloc((size_t)(end - p) + 1);
	if (!v)
		return -ENOMEM;
	if (parse_value(p, end, v) < 0) {
		free(v);
		return 0;
	}
	*ret = v;
	return 1;
}

int os_release_get(const char *text, size_t len, const char *key, char **ret)
{
	const char *p, *end;
	size_t klen = strlen(key);
	char *found = NULL;

	if (!text)
		return -ENOENT;
	p = text;
	end = text + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		char *v;
		int r;

		r = parse_line(p, eol ? eol : end, key, klen, &v);
		if (r < 0) {
			free(found);
			return r;
		}
		if (r > 0) {
			/* The last assignment wins, as when a shell sources the file. */
			free(found);
			found = v;
		}
		p = eol ? eol + 1 : end;
	}

	if (!found)
		return -ENOENT;
	*ret = found;
	return 0;
}

void kvp_osinfo_done(KvpOsInfo *i)
{
	free(i->os_name);
	free(i->major_version);
	free(i->minor_version);
	free(i->build_number);
	free(i->os_version);
	free(i->processor_arch);
	*i = (KvpOsInfo){};
}

/* strndup of a utsname field, which is NUL-terminated in practice but bounded regardless. */
static char *uts_dup(const char *field, size_t size, const char *stop)
{
	size_t n = strnlen(field, size);

	if (stop)
		n = MIN(n, strcspn(field, stop));
	return strndup(field, n);
}

int kvp_osinfo_fill(const char *text, size_t len, const struct utsname *u, KvpOsInfo *ret)
{
	_cleanup_free_ char *name = NULL, *version_id = NULL;
	KvpOsInfo i = {};
	const char *dot;
	int r;

	r = os_release_get(text, len, "NAME", &name);
	if (r < 0 && r != -ENOENT)
		return r;
	r = os_release_get(text, len, "VERSION_ID", &version_id);
	if (r < 0 && r != -ENOENT)
		return r;

	if (name && name[0] != '\0')
		i.os_name = TAKE_PTR(name);
	else
		i.os_name = uts_dup(u->sysname, sizeof(u->sysname), NULL);

	if (!version_id) {
		i.major_version = strdup("");
		i.minor_version = strdup("");
	} else {
		dot = strchr(version_id, '.');
		if (dot) {
			i.major_version = strndup(version_id, (size_t)(dot - version_id));
			i.minor_version = strdup(dot + 1);
		} else {
			i.major_version = TAKE_PTR(version_id);
			i.minor_version = strdup("");
		}
	}

	i.build_number = uts_dup(u->release, sizeof(u->release), NULL);
	/* Old hosts expect x.y.z here, so drop the distribution suffix ("6.1.0-18-amd64"). */
	i.os_version = uts_dup(u->release, sizeof(u->release), "-");
	i.processor_arch = uts_dup(u->machine, sizeof(u->machine), NULL);

	if (!i.os_name || !i.major_version || !i.minor_version || !i.build_number ||
	    !i.os_version || !i.processor_arch) {
		kvp_osinfo_done(&i);
		return -ENOMEM;
	}
	*ret = i;
	return 0;
}
