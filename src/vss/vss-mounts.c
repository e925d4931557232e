/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vss/vss-mounts.h"

/* Fields 1-6 before the optional ones, then "-", then type, source, super options. */
enum { F_MOUNT_ID, F_PARENT_ID, F_DEV, F_ROOT, F_PATH, F_MOUNT_OPTS, _F_HEAD };
enum { S_ROOT, S_PATH, S_MOUNT_OPTS, S_FSTYPE, S_SOURCE, S_SUPER_OPTS, _S_MAX };

typedef struct Token {
	const char *s;
	size_t len;
} Token;

/* Next space-separated token of [*p, end); false at the end of the line. Empty tokens exist. */
static bool next_token(const char **p, const char *end, Token *ret)
{
	const char *sp;

	if (!*p)
		return false;
	sp = memchr(*p, ' ', (size_t)(end - *p));
	ret->s = *p;
	ret->len = (size_t)((sp ? sp : end) - *p);
	*p = sp ? sp + 1 : NULL;
	return true;
}

static bool parse_uint(const Token *t, unsigned *ret)
{
	unsigned long long v = 0;

	if (t->len == 0 || t->len > 10)
		return false;
	for (size_t i = 0; i < t->len; i++) {
		if (t->s[i] < '0' || t->s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(t->s[i] - '0');
	}
	if (v > UINT_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

static bool parse_dev(const Token *t, unsigned *ret_major, unsigned *ret_minor)
{
	const char *colon = memchr(t->s, ':', t->len);
	Token a, b;

	if (!colon)
		return false;
	a = (Token){ t->s, (size_t)(colon - t->s) };
	b = (Token){ colon + 1, t->len - a.len - 1 };
	return parse_uint(&a, ret_major) && parse_uint(&b, ret_minor);
}

static int octal_digit(char c)
{
	return c >= '0' && c <= '7' ? c - '0' : -1;
}

/*
 * Copies t to out undoing the kernel's \ooo escapes and NUL-terminates it; returns the bytes
 * written including the NUL. A backslash without three octal digits is kept literally (the
 * kernel never writes one). false for \000 or values above 0377, which no path can hold.
 */
static bool unescape(const Token *t, char *out, size_t *ret_used)
{
	size_t o = 0;

	for (size_t i = 0; i < t->len; i++) {
		if (t->s[i] == '\\' && i + 3 < t->len) {
			int a = octal_digit(t->s[i + 1]), b = octal_digit(t->s[i + 2]),
			    c = octal_digit(t->s[i + 3]);

			if (a >= 0 && b >= 0 && c >= 0) {
				int v = a * 64 + b * 8 + c;

				if (v == 0 || v > 0377)
					return false;
				out[o++] = (char)v;
				i += 3;
				continue;
			}
		}
		out[o++] = t->s[i];
	}
	out[o++] = '\0';
	*ret_used = o;
	return true;
}

bool vss_mount_has_option(const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len >= n && strncmp(p, name, n) == 0 && (len == n || p[n] == '='))
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

bool vss_path_below(const char *path, const char *mp)
{
	size_t n = strlen(mp);

	if (mp[0] != '/' || path[0] != '/')
		return false;
	while (n > 1 && mp[n - 1] == '/')
		n--;
	if (n == 1)
		return true; /* "/" */
	return strncmp(path, mp, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Fills *m from one line (no '\n'): 1, 0 if the line is malformed, or -ENOMEM. */
static int parse_line(const char *line, size_t len, VssMount *m)
{
	const char *p = line, *end = line + len;
	Token head[_F_HEAD], t, tail[3];
	const char **dst[_S_MAX] = { &m->root,	 &m->path,   &m->mount_options,
				     &m->fstype, &m->source, &m->super_options };
	const Token *src[_S_MAX] = { &head[F_ROOT], &head[F_PATH], &head[F_MOUNT_OPTS],
				     &tail[0],	    &tail[1],	   &tail[2] };
	size_t size = 0, used = 0;
	char *strings;

	if (memchr(line, '\0', len))
		return 0;
	for (size_t i = 0; i < _F_HEAD; i++)
		if (!next_token(&p, end, &head[i]))
			return 0;
	/* Optional fields ("shared:1", "master:2", ...) until the lone "-". */
	do {
		if (!next_token(&p, end, &t))
			return 0;
	} while (!(t.len == 1 && t.s[0] == '-'));
	for (size_t i = 0; i < ELEMENTSOF(tail); i++)
		if (!next_token(&p, end, &tail[i]))
			return 0;
	/* Later kernels may append fields: ignored, as proc(5) asks. */

	*m = (VssMount){ 0 };
	if (!parse_uint(&head[F_MOUNT_ID], &m->mount_id) ||
	    !parse_uint(&head[F_PARENT_ID], &m->parent_id) ||
	    !parse_dev(&head[F_DEV], &m->major, &m->minor))
		return 0;
	if (head[F_ROOT].len == 0 || head[F_PATH].len == 0 || head[F_PATH].s[0] != '/' ||
	    tail[0].len == 0)
		return 0;

	for (size_t i = 0; i < _S_MAX; i++)
		size += src[i]->len + 1; /* unescaping only shrinks */
	strings = malloc(size);
	if (!strings)
		return -ENOMEM;
	for (size_t i = 0; i < _S_MAX; i++) {
		size_t n;

		if (!unescape(src[i], strings + used, &n)) {
			free(strings);
			return 0;
		}
		*dst[i] = strings + used;
		used += n;
	}
	m->strings = strings;
	m->mount_ro = vss_mount_has_option(m->mount_options, "ro");
	m->super_ro = vss_mount_has_option(m->super_options, "ro");
	return 1;
}

VssMount *vss_mounts_free(VssMount *m, size_t n)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < n; i++)
		free(m[i].strings);
	free(m);
	return NULL;
}

int vss_mounts_parse(const char *text, size_t len, VssMount **ret, size_t *ret_n)
{
	VssMount *v = NULL;
	size_t n = 0, alloc = 0;
	int skipped = 0, r;

	if (len > VSS_MOUNTINFO_MAX)
		return -EFBIG;

	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;
		VssMount m;

		if (l > 0) {
			if (n == alloc) {
				size_t na = alloc ? alloc * 2 : 64;
				VssMount *nv;

				if (n >= VSS_MOUNTS_MAX) {
					vss_mounts_free(v, n);
					return -E2BIG;
				}
				nv = reallocarray(v, na, sizeof(*v));
				if (!nv) {
					vss_mounts_free(v, n);
					return -ENOMEM;
				}
				v = nv;
				alloc = na;
			}
			r = parse_line(text + pos, l, &m);
			if (r < 0) {
				vss_mounts_free(v, n);
				return r;
			}
			if (r > 0)
				v[n++] = m;
			else if (skipped < INT_MAX)
				skipped++;
		}
		pos += l + 1;
	}
	*ret = n > 0 ? v : vss_mounts_free(v, 0);
	*ret_n = n;
	return skipped;
}
