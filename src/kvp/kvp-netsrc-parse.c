/* SPDX-License-Identifier: MIT */
/*
 * Parsers for DNS / DHCP facts in network-manager files and helper output. Pure: text in,
 * lists and flags out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "kvp/kvp-ipinfo.h"
#include "kvp/kvp-netsrc-parse.h"

typedef enum TokenKind {
	TOKEN_SERVER,  /* an IP literal we may report */
	TOKEN_LOCAL,   /* loopback (a local stub) or unspecified: never reported */
	TOKEN_INVALID, /* not an IP literal */
} TokenKind;

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The next line of *p as [*ret_s, *ret_e), without its '\n'. False at the end of the text. */
static bool next_line(const char **p, const char **ret_s, const char **ret_e)
{
	const char *s = *p, *nl;

	if (!*s)
		return false;
	nl = strchrnul(s, '\n');
	*ret_s = s;
	*ret_e = nl;
	*p = *nl ? nl + 1 : nl;
	return true;
}

/* The next blank-separated word in [*p, e) as [*ret_s, *ret_e). */
static bool next_word(const char **p, const char *e, const char **ret_s, const char **ret_e)
{
	const char *s = *p;

	while (s < e && is_blank(*s))
		s++;
	if (s >= e) {
		*p = e;
		return false;
	}
	*ret_s = s;
	while (s < e && !is_blank(*s))
		s++;
	*ret_e = s;
	*p = s;
	return true;
}

static bool word_is(const char *s, const char *e, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(e - s) == n && memcmp(s, w, n) == 0;
}

static bool is_local(int family, const void *bin)
{
	if (family == AF_INET) {
		uint32_t a = ntohl(((const struct in_addr *)bin)->s_addr);

		return (a >> 24) == 127 || a == 0;
	}
	const struct in6_addr *a6 = bin;

	if (IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_UNSPECIFIED(a6))
		return true;
	/* ::ffff:127.x.y.z is still the local host. */
	return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
}

/*
 * Strips systemd's decorations ("[addr]:port%ifname#name", "addr:port", "addr%ifname") and
 * classifies what is left; for TOKEN_SERVER, canon gets inet_ntop's form.
 */
static TokenKind token_classify(const char *token, size_t len, char canon[INET6_ADDRSTRLEN])
{
	char buf[KVP_DNS_TOKEN_MAX + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	char *addr = buf, *p;
	int family;

	if (len == 0 || len > KVP_DNS_TOKEN_MAX)
		return TOKEN_INVALID;
	memcpy(buf, token, len);
	buf[len] = '\0';

	p = strchr(buf, '#');
	if (p)
		*p = '\0';
	if (buf[0] == '[') {
		p = strchr(buf, ']');
		if (!p)
			return TOKEN_INVALID;
		*p = '\0';
		addr = buf + 1;
	}
	p = strchr(addr, '%');
	if (p)
		*p = '\0';

	if (inet_pton(AF_INET, addr, bin) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		family = AF_INET6;
	else {
		/* "192.0.2.1:53": an IPv4 address with a port has exactly one ':'. */
		p = strchr(addr, ':');
		if (!p || strchr(p + 1, ':'))
			return TOKEN_INVALID;
		*p = '\0';
		if (inet_pton(AF_INET, addr, bin) != 1)
			return TOKEN_INVALID;
		family = AF_INET;
	}

	if (is_local(family, bin))
		return TOKEN_LOCAL;
	if (!inet_ntop(family, bin, canon, INET6_ADDRSTRLEN))
		return TOKEN_INVALID;
	return TOKEN_SERVER;
}

static bool list_contains(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; *p;) {
		const char *sep = strchrnul(p, ';');

		if ((size_t)(sep - p) == n && memcmp(p, item, n) == 0)
			return true;
		p = *sep ? sep + 1 : sep;
	}
	return false;
}

static int list_add_classified(char *list, size_t size, const char *token, size_t len,
			       TokenKind *ret_kind)
{
	char canon[INET6_ADDRSTRLEN];
	TokenKind kind;
	int r;

	if (!list || size == 0 || !memchr(list, '\0', size))
		return -EINVAL;
	kind = token_classify(token, len, canon);
	if (ret_kind)
		*ret_kind = kind;
	if (kind != TOKEN_SERVER || list_contains(list, canon))
		return 0;
	r = kvp_iplist_append_trailing(list, size, KVP_IP_ADDR_UNITS, canon);
	if (r < 0)
		return r;
	return 1;
}

int kvp_dns_list_add(char *list, size_t size, const char *token, size_t token_len)
{
	return list_add_classified(list, size, token, token_len, NULL);
}

/* Adds the words of [s, e). Stops quietly when the list is full. */
static int add_words_range(char *list, size_t size, const char *s, const char *e)
{
	const char *ws, *we;
	int r, n = 0;

	while (next_word(&s, e, &ws, &we)) {
		r = kvp_dns_list_add(list, size, ws, (size_t)(we - ws));
		if (r == -E2BIG)
			break;
		if (r < 0)
			return r;
		n += r;
	}
	return n;
}

int kvp_dns_list_add_words(char *list, size_t size, const char *text)
{
	const char *p = text, *s, *e;
	int r, n = 0;

	if (!text)
		return 0;
	while (next_line(&p, &s, &e)) {
		r = add_words_range(list, size, s, e);
		if (r < 0)
			return r;
		n += r;
	}
	return n;
}

int kvp_netsrc_parse_resolv_conf(const char *text, char *list, size_t size, bool *ret_saw_loopback)
{
	const char *p = text, *s, *e, *ws, *we;
	bool saw_loopback = false;
	int r, n = 0;

	while (text && next_line(&p, &s, &e)) {
		TokenKind kind = TOKEN_INVALID;

		if (!next_word(&s, e, &ws, &we) || *ws == '#' || *ws == ';')
			continue;
		if (!word_is(ws, we, "nameserver") || !next_word(&s, e, &ws, &we))
			continue;
		r = list_add_classified(list, size, ws, (size_t)(we - ws), &kind);
		if (kind == TOKEN_LOCAL)
			saw_loopback = true;
		if (r == -E2BIG)
			continue;
		if (r < 0)
			return r;
		n += r;
	}
	if (ret_saw_loopback)
		*ret_saw_loopback = saw_loopback;
	return n;
}

/*
 * Unquotes a value the way both readers of these files agree on: "..." with backslash
 * escapes, '...' literal, a backslash outside quotes escapes the next character; unquoted
 * blanks are kept (systemd writes "DNS=a b" unquoted), trailing ones dropped.
 */
static char *unquote(const char *s, const char *e)
{
	char *out = malloc((size_t)(e - s) + 1), *o = out;
	char quote = 0;

	if (!out)
		return NULL;
	for (; s < e; s++) {
		char c = *s;

		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else
				*o++ = c;
		} else if (c == '\\' && s + 1 < e && (!quote || strchr("\"\\$`", s[1]))) {
			*o++ = *++s;
		} else if (quote == '"') {
			if (c == '"')
				quote = 0;
			else
				*o++ = c;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else
			*o++ = c;
	}
	while (o > out && is_blank(o[-1]))
		o--;
	*o = '\0';
	return out;
}

int kvp_netsrc_env_get(const char *text, const char *key, char **ret)
{
	const char *p = text, *s, *e;
	size_t klen = key ? strlen(key) : 0;
	char *found = NULL;

	if (!text || klen == 0 || !ret)
		return -EINVAL;
	while (next_line(&p, &s, &e)) {
		char *v;

		while (s < e && is_blank(*s))
			s++;
		if (e - s > 7 && memcmp(s, "export", 6) == 0 && is_blank(s[6])) {
			s += 7;
			while (s < e && is_blank(*s))
				s++;
		}
		if ((size_t)(e - s) <= klen || memcmp(s, key, klen) != 0 || s[klen] != '=')
			continue;
		v = unquote(s + klen + 1, e);
		if (!v) {
			free(found);
			return -ENOMEM;
		}
		free(found);
		found = v;
	}
	if (!found)
		return -ENOENT;
	*ret = found;
	return 0;
}

static int dhcp4_value(const char *s, const char *e)
{
	static const char *const on[] = { "yes", "true", "on", "1", "ipv4", "both", "v4" };
	size_t n = (size_t)(e - s);

	for (size_t i = 0; i < ELEMENTSOF(on); i++)
		if (strlen(on[i]) == n && strncasecmp(s, on[i], n) == 0)
			return 1;
	return 0;
}

int kvp_netsrc_parse_network_dhcp4(const char *text)
{
	const char *p = text, *s, *e;
	bool in_network = false;
	int result = -ENOENT;

	while (text && next_line(&p, &s, &e)) {
		const char *eq, *ke;

		while (s < e && is_blank(*s))
			s++;
		while (e > s && is_blank(e[-1]))
			e--;
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			in_network = word_is(s, e, "[Network]");
			continue;
		}
		if (!in_network)
			continue;
		eq = memchr(s, '=', (size_t)(e - s));
		if (!eq)
			continue;
		ke = eq;
		while (ke > s && is_blank(ke[-1]))
			ke--;
		if (!word_is(s, ke, "DHCP"))
			continue;
		eq++;
		while (eq < e && is_blank(*eq))
			eq++;
		result = dhcp4_value(eq, e);
	}
	return result;
}

int kvp_netsrc_parse_nmcli_dns(const char *text, char *list, size_t size)
{
	char tok[KVP_DNS_TOKEN_MAX + 1];
	size_t len = 0;
	bool overlong = false;
	int r, n = 0;

	if (!list || size == 0 || !memchr(list, '\0', size))
		return -EINVAL;
	for (const char *p = text ? text : "";; p++) {
		char c = *p;
		bool escaped = false;

		if (c == '\\' && p[1] && p[1] != '\n') {
			c = *++p;
			escaped = true;
		}
		if (c && (escaped || (c != ':' && c != '|' && c != '\n' && !is_blank(c)))) {
			if (len < KVP_DNS_TOKEN_MAX)
				tok[len++] = c;
			else
				overlong = true;
			continue;
		}
		/* A separator or the end: the token so far is complete. */
		if (len > 0 && !overlong) {
			r = kvp_dns_list_add(list, size, tok, len);
			if (r == -E2BIG)
				break;
			if (r < 0)
				return r;
			n += r;
		}
		len = 0;
		overlong = false;
		if (!c)
			break;
	}
	return n;
}

int kvp_netsrc_parse_nmcli_value(const char *text, char **ret)
{
	const char *e;
	char *out, *o;

	if (!text || !ret)
		return -EINVAL;
	e = strchrnul(text, '\n');
	out = malloc((size_t)(e - text) + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	for (const char *s = text; s < e; s++) {
		if (*s == '\\' && s + 1 < e)
			s++;
		else if (*s == ':')
			break;
		*o++ = *s;
	}
	*o = '\0';
	if (o == out) {
		free(out);
		return -ENOENT;
	}
	*ret = out;
	return 0;
}

int kvp_netsrc_parse_dhcp_helper(const char *text)
{
	if (!text)
		return -EINVAL;
	while (*text == ' ' || *text == '\t')
		text++;
	if (strncasecmp(text, "Enabled", 7) == 0)
		return 1;
	if (strncasecmp(text, "Disabled", 8) == 0)
		return 0;
	return -EINVAL;
}

typedef enum IfupdownKind {
	IFUPDOWN_IFACE,
	IFUPDOWN_STANZA, /* any other stanza keyword: ends the current stanza */
	IFUPDOWN_SOURCE,
	IFUPDOWN_SOURCE_DIR,
	IFUPDOWN_DNS,
	IFUPDOWN_OPTION,
} IfupdownKind;

static IfupdownKind ifupdown_kind(const char *s, const char *e)
{
	if (word_is(s, e, "iface"))
		return IFUPDOWN_IFACE;
	if (word_is(s, e, "source"))
		return IFUPDOWN_SOURCE;
	if (word_is(s, e, "source-directory"))
		return IFUPDOWN_SOURCE_DIR;
	if (word_is(s, e, "mapping") || word_is(s, e, "auto") || word_is(s, e, "rename") ||
	    (e - s > 6 && memcmp(s, "allow-", 6) == 0))
		return IFUPDOWN_STANZA;
	if (word_is(s, e, "dns-nameservers") || word_is(s, e, "dns-nameserver"))
		return IFUPDOWN_DNS;
	return IFUPDOWN_OPTION;
}

/* Handles argument number idx of a statement of the given kind. */
static int ifupdown_arg(KvpIfupdown *st, IfupdownKind kind, unsigned idx, const char *s,
			const char *e, bool *inet, KvpIfupdownInclude include, void *userdata)
{
	char *arg;
	int r;

	switch (kind) {
	case IFUPDOWN_IFACE:
		if (idx == 0) {
			st->in_stanza = st->ifname && word_is(s, e, st->ifname);
			st->found = st->found || st->in_stanza;
		} else if (idx == 1)
			*inet = word_is(s, e, "inet");
		else if (idx == 2 && st->in_stanza && *inet &&
			 (word_is(s, e, "dhcp") || word_is(s, e, "bootp")))
			st->dhcp = true;
		return 0;
	case IFUPDOWN_SOURCE:
	case IFUPDOWN_SOURCE_DIR:
		if (idx != 0 || !include)
			return 0;
		arg = strndup(s, (size_t)(e - s));
		if (!arg)
			return -ENOMEM;
		r = include(userdata, kind == IFUPDOWN_SOURCE_DIR, arg);
		free(arg);
		return r;
	case IFUPDOWN_DNS:
		if (!st->in_stanza || !st->dns)
			return 0;
		r = kvp_dns_list_add(st->dns, st->dns_size, s, (size_t)(e - s));
		return r == -E2BIG ? 0 : MIN(r, 0);
	case IFUPDOWN_STANZA:
	case IFUPDOWN_OPTION:
		return 0;
	}
	return 0;
}

int kvp_netsrc_parse_ifupdown(const char *text, KvpIfupdown *st, KvpIfupdownInclude include,
			      void *userdata)
{
	const char *p = text, *s, *e, *ws, *we;
	IfupdownKind kind = IFUPDOWN_OPTION;
	bool cont = false, inet = false;
	unsigned idx = 0;
	int r = 0;

	if (!st)
		return -EINVAL;
	st->in_stanza = false;
	while (text && next_line(&p, &s, &e)) {
		/* A trailing '\' joins the next line to this statement. */
		bool next_cont = e > s && e[-1] == '\\';

		if (next_cont)
			e--;
		if (!cont) {
			if (!next_word(&s, e, &ws, &we) || *ws == '#') {
				cont = false;
				continue;
			}
			kind = ifupdown_kind(ws, we);
			idx = 0;
			inet = false;
			if (kind != IFUPDOWN_OPTION && kind != IFUPDOWN_DNS)
				st->in_stanza = false;
		}
		while (next_word(&s, e, &ws, &we)) {
			r = ifupdown_arg(st, kind, idx++, ws, we, &inet, include, userdata);
			if (r < 0)
				goto out;
		}
		cont = next_cont;
	}
out:
	st->in_stanza = false;
	return r;
}
