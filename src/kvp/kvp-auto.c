/* SPDX-License-Identifier: MIT */
/*
 * The auto pool (hyperv-abi.md §4.5). Every served value is valid UTF-8, shorter than the
 * 2048-byte message field and at most KVP_HOST_VALUE_UNITS UTF-16 units, so the kernel
 * neither fails the reply (invalid UTF-8) nor cuts it somewhere we did not choose.
 *
 * Threads: kvp_auto_set_fqdn() may run on the resolver thread and only hands a new string
 * over under the mutex; everything else runs on the manager thread, which alone touches
 * the served values.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "common/conf.h"
#include "common/fileio.h"
#include "kvp/kvp-auto.h"
#include "kvp/kvp-msg.h"
#include "kvp/kvp-osinfo.h"

/* os-release is a few hundred bytes; anything this large is not one. */
#define OS_RELEASE_MAX (256u * 1024u)

/* Positions fixed by Microsoft (uapi linux/hyperv.h). */
typedef enum AutoKey {
	AUTO_FQDN,
	AUTO_IC_VERSION,
	AUTO_IPV4,
	AUTO_IPV6,
	AUTO_OS_BUILD_NUMBER,
	AUTO_OS_NAME,
	AUTO_OS_MAJOR_VERSION,
	AUTO_OS_MINOR_VERSION,
	AUTO_OS_VERSION,
	AUTO_PROCESSOR_ARCH,
	_AUTO_KEY_MAX,
} AutoKey;

static const char *const auto_key_names[_AUTO_KEY_MAX] = {
	[AUTO_FQDN] = "FullyQualifiedDomainName",
	[AUTO_IC_VERSION] = "IntegrationServicesVersion",
	[AUTO_IPV4] = "NetworkAddressIPv4",
	[AUTO_IPV6] = "NetworkAddressIPv6",
	[AUTO_OS_BUILD_NUMBER] = "OSBuildNumber",
	[AUTO_OS_NAME] = "OSName",
	[AUTO_OS_MAJOR_VERSION] = "OSMajorVersion",
	[AUTO_OS_MINOR_VERSION] = "OSMinorVersion",
	[AUTO_OS_VERSION] = "OSVersion",
	[AUTO_PROCESSOR_ARCH] = "ProcessorArchitecture",
};

struct KvpAuto {
	const NetinfoOps *net;
	void *net_userdata;
	char **exclude; /* owned copy of the globs */
	bool have_addresses;
	/* Served values, manager thread only; a returned pointer lives until the next call. */
	char *values[_AUTO_KEY_MAX];

	pthread_mutex_t lock;
	char *pending_fqdn; /* guarded by lock: set by any thread, taken by the manager */
};

/*
 * Copies s into a new string the host can take whole: invalid UTF-8 bytes become '?', and
 * the copy ends at a character boundary before KVP_VALUE_SIZE bytes (with the NUL) or
 * KVP_HOST_VALUE_UNITS UTF-16 units, whichever comes first.
 */
static char *host_value(const char *s)
{
	size_t len = strlen(s), out = 0, units = 0;
	char *v = malloc(MIN(len, (size_t)KVP_VALUE_SIZE - 1) + 1);

	if (!v)
		return NULL;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		/* Sequence length announced by the lead byte; utf8_is_valid() has the last word. */
		size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		const char *piece = s + i;
		size_t advance = n, u;

		if (n > len - i || !utf8_is_valid(piece, n)) {
			piece = "?";
			n = advance = 1;
		}
		u = n == 4 ? 2 : 1; /* four-byte sequences become surrogate pairs */
		if (out + n > KVP_VALUE_SIZE - 1 || units + u > KVP_HOST_VALUE_UNITS)
			break;
		memcpy(v + out, piece, n);
		out += n;
		units += u;
		i += advance;
	}
	v[out] = '\0';
	return v;
}

/* Replaces values[k] with a host-safe copy of s; keeps the old value if out of memory. */
static int set_value(KvpAuto *a, AutoKey k, const char *s)
{
	char *v = host_value(s);

	if (!v)
		return -ENOMEM;
	free(a->values[k]);
	a->values[k] = v;
	return 0;
}

/*
 * Joins the addresses of one family with ';' (no trailing ';'), in the order given, and
 * stops before the first address that would not fit KVP_HOST_VALUE_UNITS: the host then
 * sees fewer addresses but never a cut one. Addresses are ASCII, so bytes = units.
 */
static char *join_addresses(const NetAddr *list, size_t n, int family)
{
	char *v = malloc(KVP_HOST_VALUE_UNITS + 1);
	size_t len = 0;

	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t l;

		if (list[i].family != family)
			continue;
		l = strnlen(list[i].addr, sizeof(list[i].addr));
		if (len + (len > 0) + l > KVP_HOST_VALUE_UNITS)
			break;
		if (len > 0)
			v[len++] = ';';
		memcpy(v + len, list[i].addr, l);
		len += l;
	}
	v[len] = '\0';
	return v;
}

/* Takes a new address snapshot; on failure the previous one stays. */
static int refresh_addresses(KvpAuto *a)
{
	_cleanup_free_ NetAddr *list = NULL;
	char *v4, *v6;
	size_t n = 0;
	int r;

	if (!a->net || !a->net->list_addresses)
		return -EOPNOTSUPP;
	r = a->net->list_addresses(a->net_userdata, &list, &n);
	if (r < 0)
		return r;
	n = netinfo_filter(list, n, a->exclude);

	v4 = join_addresses(list, n, AF_INET);
	v6 = join_addresses(list, n, AF_INET6);
	if (!v4 || !v6) {
		free(v4);
		free(v6);
		return -ENOMEM;
	}
	free(a->values[AUTO_IPV4]);
	free(a->values[AUTO_IPV6]);
	a->values[AUTO_IPV4] = v4;
	a->values[AUTO_IPV6] = v6;
	a->have_addresses = true;
	return 0;
}

static void take_pending_fqdn(KvpAuto *a)
{
	char *v;

	pthread_mutex_lock(&a->lock);
	v = TAKE_PTR(a->pending_fqdn);
	pthread_mutex_unlock(&a->lock);
	if (v) {
		free(a->values[AUTO_FQDN]);
		a->values[AUTO_FQDN] = v;
	}
}

/* Brings the value at k up to date and returns it. */
static const char *serve(KvpAuto *a, AutoKey k, bool refresh)
{
	switch (k) {
	case AUTO_FQDN:
		take_pending_fqdn(a);
		break;
	case AUTO_IPV4:
	case AUTO_IPV6:
		/* A failed refresh serves the previous snapshot (empty before the first). */
		if (refresh || !a->have_addresses)
			(void)refresh_addresses(a);
		break;
	case AUTO_IC_VERSION:
	case AUTO_OS_BUILD_NUMBER:
	case AUTO_OS_NAME:
	case AUTO_OS_MAJOR_VERSION:
	case AUTO_OS_MINOR_VERSION:
	case AUTO_OS_VERSION:
	case AUTO_PROCESSOR_ARCH:
	case _AUTO_KEY_MAX:
		break;
	}
	return a->values[k];
}

static int read_os_release(const char *path, char **ret, size_t *ret_size)
{
	static const char *const defaults[] = { "/etc/os-release", "/usr/lib/os-release" };
	int r = -ENOENT;

	if (path)
		return read_full_file_at(AT_FDCWD, path, OS_RELEASE_MAX, ret, ret_size);
	for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
		r = read_full_file_at(AT_FDCWD, defaults[i], OS_RELEASE_MAX, ret, ret_size);
		if (r != -ENOENT)
			return r;
	}
	return r;
}

static int load_os_facts(KvpAuto *a, const KvpAutoOptions *o)
{
	_cleanup_free_ char *text = NULL;
	struct utsname u = {};
	KvpOsInfo info = {};
	size_t size = 0;
	int r;

	r = o->uname_fn ? o->uname_fn(&u) : (uname(&u) < 0 ? negative_errno() : 0);
	if (r < 0)
		return r;

	/* Unreadable or absent os-release is not fatal: the sysname stands in for NAME. */
	r = read_os_release(o->os_release_path, &text, &size);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		text = NULL;
		size = 0;
	}

	r = kvp_osinfo_fill(text, size, &u, &info);
	if (r < 0)
		return r;

	const struct {
		AutoKey k;
		const char *v;
	} facts[] = {
		{ AUTO_OS_BUILD_NUMBER, info.build_number },
		{ AUTO_OS_NAME, info.os_name },
		{ AUTO_OS_MAJOR_VERSION, info.major_version },
		{ AUTO_OS_MINOR_VERSION, info.minor_version },
		{ AUTO_OS_VERSION, info.os_version },
		{ AUTO_PROCESSOR_ARCH, info.processor_arch },
		/* Until the resolver reports, the node name is the best FQDN we have. */
		{ AUTO_FQDN, u.nodename },
		/* Replaced by the kernel's version once registration completes. */
		{ AUTO_IC_VERSION, "" },
		{ AUTO_IPV4, "" },
		{ AUTO_IPV6, "" },
	};
	for (size_t i = 0; i < ELEMENTSOF(facts) && r >= 0; i++)
		r = set_value(a, facts[i].k, facts[i].v);
	kvp_osinfo_done(&info);
	return r;
}

KvpAuto *kvp_auto_free(KvpAuto *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < _AUTO_KEY_MAX; i++)
		free(a->values[i]);
	free(a->pending_fqdn);
	strv_free(a->exclude);
	pthread_mutex_destroy(&a->lock);
	free(a);
	return NULL;
}

int kvp_auto_new(const KvpAutoOptions *o, KvpAuto **ret)
{
	_cleanup_(kvp_auto_freep) KvpAuto *a = NULL;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	r = -pthread_mutex_init(&a->lock, NULL);
	if (r < 0) {
		free(TAKE_PTR(a));
		return r;
	}
	a->net = o->net;
	a->net_userdata = o->net_userdata;
	a->exclude = strv_copy(o->exclude_ifaces);
	if (!a->exclude)
		return -ENOMEM;

	r = load_os_facts(a, o);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(a);
	return 0;
}

void kvp_auto_set_version(KvpAuto *a, const char *version)
{
	/* Out of memory keeps the previous value: still a valid answer. */
	(void)set_value(a, AUTO_IC_VERSION, version);
}

void kvp_auto_set_fqdn(KvpAuto *a, const char *fqdn)
{
	/* Sanitised outside the lock; the manager thread swaps it in when it next serves it. */
	char *v = host_value(fqdn);

	if (!v)
		return;
	pthread_mutex_lock(&a->lock);
	free(a->pending_fqdn);
	a->pending_fqdn = v;
	pthread_mutex_unlock(&a->lock);
}

int kvp_auto_enumerate(KvpAuto *a, uint32_t index, const char **ret_key, const char **ret_value)
{
	AutoKey k;

	if (index >= _AUTO_KEY_MAX)
		return -ENOENT;
	k = (AutoKey)index;
	/* The host walks 0, 1, 2, ...: one address snapshot per walk, taken at its start. */
	if (k == AUTO_FQDN)
		(void)refresh_addresses(a);
	*ret_value = serve(a, k, false);
	*ret_key = auto_key_names[k];
	return 0;
}

int kvp_auto_get(KvpAuto *a, const char *key, const char **ret_value)
{
	for (size_t i = 0; i < _AUTO_KEY_MAX; i++) {
		if (strcmp(key, auto_key_names[i]) != 0)
			continue;
		*ret_value = serve(a, (AutoKey)i, true);
		return 0;
	}
	return -ENOENT;
}
