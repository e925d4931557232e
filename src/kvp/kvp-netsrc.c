/* SPDX-License-Identifier: MIT */
/*
 * DNS servers and DHCP state of one link, from the network manager in charge of it.
 * Non-logging (debug at most); see kvp-netsrc.h for the order of sources.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hook.h"
#include "kvp/kvp-netsrc-parse.h"
#include "kvp/kvp-netsrc.h"

/* Configuration and state files are small; anything bigger is not one of them. */
#define NETSRC_FILE_MAX (256u * 1024u)
/* ifupdown includes: how deep and how many files in all (include loops end here). */
#define IFUPDOWN_DEPTH_MAX 8u
#define IFUPDOWN_FILES_MAX 64u
/* Entries considered in one included directory. */
#define IFUPDOWN_DIR_ENTRIES_MAX 256u
/* ifcfg DNS1..DNSn. */
#define IFCFG_DNS_MAX 10u

struct KvpNetSrc {
	int root_fd;
	char *nmcli;	   /* NULL: NetworkManager is never asked */
	char *dns_helper;  /* NULL: none */
	char *dhcp_helper; /* NULL: none */
	uint64_t helper_timeout_usec;
	uint64_t budget_usec;
};

/* One kvp_netsrc_fill() call. */
typedef struct Fill {
	const KvpNetSrc *s;
	const char *ifname;
	int ifindex;
	uint64_t deadline; /* CLOCK_MONOTONIC, usec: no program starts after it */
	char *dns;	   /* info->dns_addr */
	size_t dns_size;
	KvpNetSrcReport report;
	int dhcp; /* -1 unknown, else 0/1 */
} Fill;

static const char *const source_names[_KVP_NETSRC_MAX] = {
	[KVP_NETSRC_NONE] = "none",
	[KVP_NETSRC_HELPER] = "helper",
	[KVP_NETSRC_RESOLVED] = "systemd-resolved",
	[KVP_NETSRC_NETWORKMANAGER] = "NetworkManager",
	[KVP_NETSRC_NETWORKD] = "systemd-networkd",
	[KVP_NETSRC_IFUPDOWN] = "ifupdown",
	[KVP_NETSRC_IFCFG] = "ifcfg",
	[KVP_NETSRC_RESOLV_CONF] = "resolv.conf",
	[KVP_NETSRC_RESOLVED_UPSTREAM] = "systemd-resolved upstream",
};

const char *kvp_netsrc_source_to_string(KvpNetSrcSource s)
{
	if (s < 0 || s >= _KVP_NETSRC_MAX)
		return NULL;
	return source_names[s];
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	assert_se(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Opens an absolute path below the root. RESOLVE_IN_ROOT keeps absolute symlinks such as
 * /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf inside a fixture root; kernels
 * without openat2 (< 5.6) or a filter refusing it get plain openat, fine for root "/".
 */
static int open_in_root(const KvpNetSrc *s, const char *path, int flags)
{
	struct open_how how = {
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = path;
	int fd;

	/* openat2 refuses O_PATH with any flag it ignores (O_NOCTTY among them). */
	flags |= O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY);
	how.flags = (uint64_t)flags;
	while (*rel == '/')
		rel++;
	if (!*rel)
		rel = ".";
	fd = (int)syscall(SYS_openat2, s->root_fd, rel, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = openat(s->root_fd, rel, flags);
	return fd >= 0 ? fd : negative_errno();
}

/* A whole regular file below the root, NUL-terminated. Never blocks on a FIFO. */
static int read_text(const KvpNetSrc *s, const char *path, char **ret)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	fd = open_in_root(s, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	buf = malloc(NETSRC_FILE_MAX + 2);
	if (!buf)
		return -ENOMEM;
	n = loop_read(fd, buf, NETSRC_FILE_MAX + 1);
	if (n < 0)
		return (int)n;
	if ((size_t)n > NETSRC_FILE_MAX)
		return -EFBIG;
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

static bool dir_exists(const KvpNetSrc *s, const char *path)
{
	int fd = open_in_root(s, path, O_PATH | O_DIRECTORY);

	safe_close(fd);
	return fd >= 0;
}

/* Runs argv within the fill's budget. -ETIME once the budget is spent. */
static int run(Fill *f, const char *const argv[], HookResult *ret)
{
	uint64_t now = now_usec(), timeout;

	if (now >= f->deadline)
		return -ETIME;
	timeout = MIN(f->s->helper_timeout_usec, f->deadline - now);
	return hook_run(argv, NULL, timeout, ret);
}

/* Runs argv and hands out its stdout if it exited with status 0. */
static int run_output(Fill *f, const char *const argv[], char **ret_out)
{
	HookResult res;
	int r;

	r = run(f, argv, &res);
	if (r < 0)
		return r;
	if (!hook_result_success(&res)) {
		r = res.timed_out ? -ETIMEDOUT : -EPROTO;
		hook_result_done(&res);
		return r;
	}
	*ret_out = TAKE_PTR(res.out);
	hook_result_done(&res);
	return 0;
}

/* Non-fatal failures end a source; only running out of memory ends the fill. */
static int fatal(int r)
{
	return r == -ENOMEM ? r : 0;
}

static int from_helpers(Fill *f)
{
	const char *const dns_argv[] = { f->s->dns_helper, f->ifname, NULL };
	const char *const dhcp_argv[] = { f->s->dhcp_helper, f->ifname, NULL };
	_cleanup_free_ char *out = NULL, *out2 = NULL;
	int r;

	/* An interface name looking like an option is no helper's $1. */
	if (f->ifname[0] == '-')
		return 0;
	if (f->s->dns_helper) {
		r = run_output(f, dns_argv, &out);
		if (r >= 0) {
			r = kvp_dns_list_add_words(f->dns, f->dns_size, out);
			if (r > 0)
				f->report.dns = KVP_NETSRC_HELPER;
		}
		if (fatal(r) < 0)
			return r;
	}
	if (f->s->dhcp_helper) {
		r = run_output(f, dhcp_argv, &out2);
		if (r >= 0) {
			r = kvp_netsrc_parse_dhcp_helper(out2);
			if (r >= 0) {
				f->dhcp = r;
				f->report.dhcp = KVP_NETSRC_HELPER;
			}
		}
		if (fatal(r) < 0)
			return r;
	}
	return 0;
}

/* Adds the words of KEY= in the state file text; returns the number added. */
static int add_env_words(Fill *f, const char *text, const char *key)
{
	_cleanup_free_ char *v = NULL;
	int r;

	r = kvp_netsrc_env_get(text, key, &v);
	if (r < 0)
		return r;
	return kvp_dns_list_add_words(f->dns, f->dns_size, v);
}

static int from_resolved_link(Fill *f)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	int r;

	(void)snprintf(path, sizeof(path), "/run/systemd/resolve/netif/%d", f->ifindex);
	r = read_text(f->s, path, &text);
	if (r >= 0)
		r = add_env_words(f, text, "SERVERS");
	if (r > 0)
		f->report.dns = KVP_NETSRC_RESOLVED;
	return fatal(r);
}

static bool nm_running(const KvpNetSrc *s)
{
	return s->nmcli && dir_exists(s, "/run/NetworkManager") && access(s->nmcli, X_OK) == 0;
}

/* 1 if NetworkManager has a connection active on the link, 0 if not, -ENOMEM. */
static int from_networkmanager(Fill *f, bool want_dns, bool want_dhcp)
{
	const char *nmcli = f->s->nmcli;
	const char *const conn_argv[] = { nmcli,    "-t",   "-g",      "GENERAL.CONNECTION",
					  "device", "show", f->ifname, NULL };
	const char *const dns_argv[] = { nmcli,	   "-t",   "-g",      "IP4.DNS,IP6.DNS",
					 "device", "show", f->ifname, NULL };
	_cleanup_free_ char *out = NULL, *name = NULL, *method = NULL;
	int r;

	if (f->ifname[0] == '-' || !nm_running(f->s))
		return 0;
	r = run_output(f, conn_argv, &out);
	if (r >= 0)
		r = kvp_netsrc_parse_nmcli_value(out, &name);
	if (r < 0)
		return fatal(r); /* not running after all, unmanaged or disconnected */

	if (want_dns) {
		free(out);
		out = NULL;
		r = run_output(f, dns_argv, &out);
		if (r >= 0)
			r = kvp_netsrc_parse_nmcli_dns(out, f->dns, f->dns_size);
		if (r > 0)
			f->report.dns = KVP_NETSRC_NETWORKMANAGER;
		if (fatal(r) < 0)
			return r;
	}
	if (want_dhcp) {
		const char *const method_argv[] = { nmcli,  "-t", "-g", "ipv4.method", "connection",
						    "show", "id", name, NULL };

		free(out);
		out = NULL;
		r = run_output(f, method_argv, &out);
		if (r >= 0)
			r = kvp_netsrc_parse_nmcli_value(out, &method);
		if (r >= 0) {
			f->dhcp = strcmp(method, "auto") == 0;
			f->report.dhcp = KVP_NETSRC_NETWORKMANAGER;
		}
		if (fatal(r) < 0)
			return r;
	}
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes systemd's "\xNN" escapes in place (what it writes for ':' in drop-in lists). */
static void unxescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		int hi, lo;

		if (s[0] == '\\' && s[1] == 'x' && (hi = hexval(s[2])) >= 0 &&
		    (lo = hexval(s[3])) >= 0 && (hi | lo) != 0) {
			*o++ = (char)(hi << 4 | lo);
			s += 3;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

/* DHCP= of the .network file named by the state file, then of its drop-ins in order. */
static int networkd_dhcp_config(Fill *f, const char *state)
{
	_cleanup_free_ char *file = NULL, *dropins = NULL, *text = NULL;
	int r, dhcp = 0;

	r = kvp_netsrc_env_get(state, "NETWORK_FILE", &file);
	if (r < 0)
		return r;
	r = read_text(f->s, file, &text);
	if (r == -ENOMEM)
		return r;
	if (r >= 0) {
		r = kvp_netsrc_parse_network_dhcp4(text);
		if (r >= 0)
			dhcp = r;
	}

	r = kvp_netsrc_env_get(state, "NETWORK_FILE_DROPINS", &dropins);
	if (r == -ENOMEM)
		return r;
	for (char *p = r >= 0 ? dropins : NULL, *next; p && *p; p = next) {
		next = strchrnul(p, ':');
		if (*next)
			*next++ = '\0';
		unxescape(p);
		free(text);
		text = NULL;
		r = read_text(f->s, p, &text);
		if (r == -ENOMEM)
			return r;
		if (r >= 0) {
			r = kvp_netsrc_parse_network_dhcp4(text);
			if (r >= 0)
				dhcp = r;
		}
	}
	return dhcp;
}

static bool env_nonempty(const char *text, const char *key)
{
	_cleanup_free_ char *v = NULL;

	return kvp_netsrc_env_get(text, key, &v) >= 0 && v[0];
}

/* 1 if systemd-networkd manages the link (a .network file applies), 0 if not, -ENOMEM. */
static int from_networkd(Fill *f, bool want_dns, bool want_dhcp)
{
	_cleanup_free_ char *state = NULL, *admin = NULL;
	char path[64];
	int r;

	(void)snprintf(path, sizeof(path), "/run/systemd/netif/links/%d", f->ifindex);
	r = read_text(f->s, path, &state);
	if (r < 0)
		return fatal(r);
	r = kvp_netsrc_env_get(state, "ADMIN_STATE", &admin);
	if (r == -ENOMEM)
		return r;
	if (r >= 0 && (strcmp(admin, "unmanaged") == 0 || strcmp(admin, "linger") == 0))
		return 0;
	if (!env_nonempty(state, "NETWORK_FILE"))
		return 0;

	if (want_dns) {
		r = add_env_words(f, state, "DNS");
		if (r > 0)
			f->report.dns = KVP_NETSRC_NETWORKD;
		if (fatal(r) < 0)
			return r;
	}
	if (want_dhcp) {
		/* A DHCPv4 lease is proof; otherwise what the configuration asks for. */
		if (env_nonempty(state, "DHCP_LEASE") || env_nonempty(state, "DHCP4_ADDRESS"))
			r = 1;
		else
			r = networkd_dhcp_config(f, state);
		if (r == -ENOMEM)
			return r;
		f->dhcp = r > 0;
		f->report.dhcp = KVP_NETSRC_NETWORKD;
	}
	return 1;
}

/* An ifupdown walk: the parse state plus where we are in the include tree. */
typedef struct IfupdownWalk {
	Fill *f;
	KvpIfupdown st;
	unsigned files;
	unsigned depth;
	const char *dir;	    /* of the file being parsed, for relative includes */
	KvpIfupdownInclude include; /* ifupdown_include(), set by from_ifupdown() */
} IfupdownWalk;

static int ifupdown_file(IfupdownWalk *w, const char *path)
{
	_cleanup_free_ char *text = NULL, *dir = NULL;
	const char *saved = w->dir;
	char *slash;
	int r;

	if (w->files >= IFUPDOWN_FILES_MAX || w->depth >= IFUPDOWN_DEPTH_MAX)
		return 0;
	w->files++;
	r = read_text(w->f->s, path, &text);
	if (r < 0)
		return fatal(r);
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	w->dir = dir;
	w->depth++;
	r = kvp_netsrc_parse_ifupdown(text, &w->st, w->include, w);
	w->depth--;
	w->dir = saved;
	return fatal(r);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* run-parts(8) names, what source-directory includes: letters, digits, '_' and '-'. */
static bool run_parts_name(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '_' || *n == '-'))
			return false;
	return true;
}

/* Parses the files in dir whose names match pattern (NULL: run-parts names), sorted. */
static int ifupdown_dir(IfupdownWalk *w, const char *dir, const char *pattern)
{
	char *names[IFUPDOWN_DIR_ENTRIES_MAX];
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = open_in_root(w->f->s, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fatal(fd);
	d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return fatal(negative_errno());
	}
	while (n < ELEMENTSOF(names) && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (pattern ? fnmatch(pattern, de->d_name, FNM_PERIOD) != 0
			    : !run_parts_name(de->d_name))
			continue;
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r >= 0)
		qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (r >= 0 &&
		    snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < (int)sizeof(path))
			r = ifupdown_file(w, path);
		free(names[i]);
	}
	return r;
}

static int ifupdown_include(void *userdata, bool directory, const char *arg)
{
	IfupdownWalk *w = userdata;
	char path[PATH_MAX];
	char *slash, *base;
	int k;

	if (arg[0] == '/')
		k = snprintf(path, sizeof(path), "%s", arg);
	else
		k = snprintf(path, sizeof(path), "%s/%s", w->dir ? w->dir : "/", arg);
	if (k < 0 || (size_t)k >= sizeof(path))
		return 0;
	if (directory)
		return ifupdown_dir(w, path, NULL);

	slash = strrchr(path, '/');
	base = slash + 1;
	if (!strpbrk(base, "*?["))
		return ifupdown_file(w, path);
	/* Wildcards only in the last component, as in the usual interfaces.d/ glob. */
	*slash = '\0';
	if (strpbrk(path, "*?["))
		return 0;
	return ifupdown_dir(w, path[0] ? path : "/", base);
}

/* 1 if an ifupdown stanza for the link exists, 0 if not, -ENOMEM. */
static int from_ifupdown(Fill *f, bool want_dns, bool want_dhcp)
{
	_cleanup_free_ char *dns = NULL;
	IfupdownWalk w = { .f = f, .include = ifupdown_include };
	int r;

	dns = calloc(1, f->dns_size);
	if (!dns)
		return -ENOMEM;
	w.st = (KvpIfupdown){ .ifname = f->ifname, .dns = dns, .dns_size = f->dns_size };
	r = ifupdown_file(&w, "/etc/network/interfaces");
	if (r < 0)
		return r;
	if (!w.st.found)
		return 0;
	if (want_dns && dns[0]) {
		memcpy(f->dns, dns, f->dns_size);
		f->report.dns = KVP_NETSRC_IFUPDOWN;
	}
	if (want_dhcp) {
		f->dhcp = w.st.dhcp;
		f->report.dhcp = KVP_NETSRC_IFUPDOWN;
	}
	return 1;
}

/* 1 if ifcfg-IFNAME exists, 0 if not, -ENOMEM. */
static int from_ifcfg(Fill *f, bool want_dns, bool want_dhcp)
{
	_cleanup_free_ char *text = NULL, *proto = NULL;
	char path[PATH_MAX];
	int r;

	(void)snprintf(path, sizeof(path), "/etc/sysconfig/network-scripts/ifcfg-%s", f->ifname);
	r = read_text(f->s, path, &text);
	if (r < 0)
		return fatal(r);

	for (unsigned i = 1; want_dns && i <= IFCFG_DNS_MAX; i++) {
		char key[16];

		(void)snprintf(key, sizeof(key), "DNS%u", i);
		r = add_env_words(f, text, key);
		if (r > 0)
			f->report.dns = KVP_NETSRC_IFCFG;
		if (fatal(r) < 0)
			return r;
	}
	if (want_dhcp) {
		r = kvp_netsrc_env_get(text, "BOOTPROTO", &proto);
		if (r == -ENOMEM)
			return r;
		f->dhcp = r >= 0 &&
			  (strcasecmp(proto, "dhcp") == 0 || strcasecmp(proto, "bootp") == 0);
		f->report.dhcp = KVP_NETSRC_IFCFG;
	}
	return 1;
}

/* /etc/resolv.conf, or resolved's upstream list when that names no usable server. */
static int from_resolv_conf(Fill *f)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = read_text(f->s, "/etc/resolv.conf", &text);
	if (r >= 0)
		r = kvp_netsrc_parse_resolv_conf(text, f->dns, f->dns_size, NULL);
	if (r > 0) {
		f->report.dns = KVP_NETSRC_RESOLV_CONF;
		return 0;
	}
	if (fatal(r) < 0)
		return r;

	free(text);
	text = NULL;
	r = read_text(f->s, "/run/systemd/resolve/resolv.conf", &text);
	if (r >= 0)
		r = kvp_netsrc_parse_resolv_conf(text, f->dns, f->dns_size, NULL);
	if (r > 0)
		f->report.dns = KVP_NETSRC_RESOLVED_UPSTREAM;
	return fatal(r);
}

static int from_managers(Fill *f)
{
	static int (*const managers[])(Fill *, bool, bool) = {
		from_networkmanager,
		from_networkd,
		from_ifupdown,
		from_ifcfg,
	};
	bool want_dns = f->report.dns == KVP_NETSRC_NONE;
	bool want_dhcp = f->dhcp < 0;

	for (size_t i = 0; i < ELEMENTSOF(managers) && (want_dns || want_dhcp); i++) {
		int r = managers[i](f, want_dns, want_dhcp);

		if (r != 0)
			return MIN(r, 0); /* in charge (1), or out of memory */
	}
	return 0;
}

static bool ifname_valid(const char *n)
{
	size_t len = n ? strnlen(n, IF_NAMESIZE) : 0;

	return len > 0 && len < IF_NAMESIZE && !strchr(n, '/') && strcmp(n, ".") != 0 &&
	       strcmp(n, "..") != 0;
}

int kvp_netsrc_fill(KvpNetSrc *s, const char *ifname, int ifindex, KvpIpInfo *info,
		    KvpNetSrcReport *ret_report)
{
	Fill f;
	int r;

	if (!s || !ifname_valid(ifname) || ifindex <= 0 || !info)
		return -EINVAL;
	f = (Fill){
		.s = s,
		.ifname = ifname,
		.ifindex = ifindex,
		.deadline = now_usec() + s->budget_usec,
		.dns = info->dns_addr,
		.dns_size = sizeof(info->dns_addr),
		.dhcp = -1,
	};
	info->dns_addr[0] = '\0';

	r = from_helpers(&f);
	if (r >= 0 && f.report.dns == KVP_NETSRC_NONE)
		r = from_resolved_link(&f);
	if (r >= 0)
		r = from_managers(&f);
	if (r >= 0 && f.report.dns == KVP_NETSRC_NONE)
		r = from_resolv_conf(&f);
	if (r < 0) {
		info->dns_addr[0] = '\0';
		return r;
	}

	info->dhcp_enabled = f.dhcp > 0;
	if (ret_report)
		*ret_report = f.report;
	return 0;
}

/* NULL or "" -> NULL; an absolute path -> a copy; anything else -> -EINVAL. */
static int dup_path(const char *p, char **ret)
{
	*ret = NULL;
	if (!p || !*p)
		return 0;
	if (p[0] != '/')
		return -EINVAL;
	*ret = strdup(p);
	return *ret ? 0 : -ENOMEM;
}

KvpNetSrc *kvp_netsrc_free(KvpNetSrc *s)
{
	if (!s)
		return NULL;
	safe_close(s->root_fd);
	free(s->nmcli);
	free(s->dns_helper);
	free(s->dhcp_helper);
	free(s);
	return NULL;
}

int kvp_netsrc_new(const KvpNetSrcOptions *o, KvpNetSrc **ret)
{
	_cleanup_(kvp_netsrc_freep) KvpNetSrc *s = NULL;
	const KvpNetSrcOptions defaults = { 0 };
	const char *root;
	int r;

	if (!ret)
		return -EINVAL;
	if (!o)
		o = &defaults;
	root = o->root && *o->root ? o->root : "/";
	if (root[0] != '/')
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		return negative_errno();
	r = dup_path(o->nmcli ? o->nmcli : KVP_NETSRC_NMCLI_DEFAULT, &s->nmcli);
	if (r >= 0)
		r = dup_path(o->dns_helper, &s->dns_helper);
	if (r >= 0)
		r = dup_path(o->dhcp_helper, &s->dhcp_helper);
	if (r < 0)
		return r;
	s->helper_timeout_usec = o->helper_timeout_usec ? o->helper_timeout_usec
							: KVP_NETSRC_HELPER_TIMEOUT_USEC_DEFAULT;
	s->budget_usec = o->budget_usec ? o->budget_usec : KVP_NETSRC_BUDGET_USEC_DEFAULT;
	*ret = TAKE_PTR(s);
	return 0;
}
