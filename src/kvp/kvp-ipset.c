/* SPDX-License-Identifier: MIT */
/*
 * SET_IP_INFO facade: validation -> NIC lookup -> back-end choice -> write -> apply ->
 * rollback (contract in kvp-ipset.h). Non-logging: failures are returned, with one line of
 * detail in kvp_ipset_last_error() for the manager to log.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"

#include "common/fileio.h"
#include "common/log.h"
#include "common/hook.h"
#include "kvp/kvp-ipconfig-nic.h"
#include "kvp/kvp-ipset.h"

#define USEC_PER_SEC UINT64_C(1000000)
/* Below this much budget a helper is not started: it could not finish anyway. */
#define MIN_STEP_USEC (100u * 1000u)
/* Largest previous file we keep for a rollback; configuration files are far smaller. */
#define OLD_FILE_MAX (1024u * 1024u)
#define TMP_PREFIX ".hvguest-tmp-"
#define MAX_FILES 2u

struct KvpIpSet {
	KvpIpBackend backend;
	char *root; /* "" for "/" */
	char *state_dir;
	char *proc_dir;
	char *sysfs_dir;
	char *nmcli, *networkctl, *netplan, *ifup, *ifdown, *set_ifconfig;
	uint64_t timeout_usec;
	char last_error[512];
};

static const char *const backend_names[_KVP_IP_BACKEND_MAX] = {
	[KVP_IP_BACKEND_AUTO] = "auto",		[KVP_IP_BACKEND_NETWORKMANAGER] = "networkmanager",
	[KVP_IP_BACKEND_NETWORKD] = "networkd", [KVP_IP_BACKEND_NETPLAN] = "netplan",
	[KVP_IP_BACKEND_IFUPDOWN] = "ifupdown", [KVP_IP_BACKEND_IFCFG] = "ifcfg",
	[KVP_IP_BACKEND_SCRIPT] = "script",
};

const char *kvp_ip_backend_to_string(KvpIpBackend b)
{
	return b >= 0 && b < _KVP_IP_BACKEND_MAX ? backend_names[b] : NULL;
}

KvpIpBackend kvp_ip_backend_from_string(const char *s)
{
	for (int i = 0; s && i < _KVP_IP_BACKEND_MAX; i++)
		if (strcmp(s, backend_names[i]) == 0)
			return (KvpIpBackend)i;
	return _KVP_IP_BACKEND_INVALID;
}

static void set_error(KvpIpSet *s, const char *fmt, ...) _printf_(2, 3);
static void set_error(KvpIpSet *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	/* helper output ends up in here: keep terminal and journal control bytes out */
	for (char *c = s->last_error; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	log_debug("SET_IP_INFO: %s", s->last_error);
}

KvpIpSet *kvp_ipset_free(KvpIpSet *s)
{
	if (!s)
		return NULL;
	free(s->root);
	free(s->state_dir);
	free(s->proc_dir);
	free(s->sysfs_dir);
	free(s->nmcli);
	free(s->networkctl);
	free(s->netplan);
	free(s->ifup);
	free(s->ifdown);
	free(s->set_ifconfig);
	free(s);
	return NULL;
}

/* strdup of v or the default; program paths must be absolute (they are spawned as is). */
static int dup_opt(char **dst, const char *v, const char *def, bool program)
{
	const char *x = v ? v : def;

	if (program && x[0] != '/')
		return -EINVAL;
	*dst = strdup(x);
	return *dst ? 0 : -ENOMEM;
}

int kvp_ipset_new(const KvpIpSetOptions *o, KvpIpSet **ret)
{
	_cleanup_(kvp_ipset_freep) KvpIpSet *s = NULL;
	const char *root = o->root && strcmp(o->root, "/") != 0 ? o->root : "";
	int r = 0;

	if (o->backend < 0 || o->backend >= _KVP_IP_BACKEND_MAX)
		return -EINVAL;
	/* our own directory, already chosen by the caller: not below the root */
	if (o->state_dir && o->state_dir[0] != '/')
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->backend = o->backend;
	s->timeout_usec = o->timeout_usec ? o->timeout_usec : KVP_IPSET_DEFAULT_TIMEOUT_USEC;
	if (r >= 0)
		r = dup_opt(&s->root, root, NULL, false);
	if (r >= 0)
		r = dup_opt(&s->state_dir, o->state_dir, KVP_STATE_DIR, false);
	if (r >= 0)
		r = dup_opt(&s->proc_dir, o->proc_dir, "/proc", false);
	if (r >= 0 && o->sysfs_dir)
		r = dup_opt(&s->sysfs_dir, o->sysfs_dir, NULL, false);
	if (r >= 0)
		r = dup_opt(&s->nmcli, o->nmcli, "/usr/bin/nmcli", true);
	if (r >= 0)
		r = dup_opt(&s->networkctl, o->networkctl, "/usr/bin/networkctl", true);
	if (r >= 0)
		r = dup_opt(&s->netplan, o->netplan, "/usr/sbin/netplan", true);
	if (r >= 0)
		r = dup_opt(&s->ifup, o->ifup, "/usr/sbin/ifup", true);
	if (r >= 0)
		r = dup_opt(&s->ifdown, o->ifdown, "/usr/sbin/ifdown", true);
	if (r >= 0)
		r = dup_opt(&s->set_ifconfig, o->set_ifconfig, KVP_SCRIPTS_DIR "/hv_set_ifconfig",
			    true);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

const char *kvp_ipset_last_error(KvpIpSet *s)
{
	return s->last_error;
}

/* ---- detection ---- */

static int root_path(const KvpIpSet *s, const char *rel, char *out, size_t size)
{
	int n = snprintf(out, size, "%s%s", s->root, rel);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

typedef enum Running {
	RUNNING_NM = 1 << 0,
	RUNNING_NETWORKD = 1 << 1,
} Running;

/* Which managers run, from <proc>/<pid>/comm (the kernel cuts comm at 15 bytes). */
static unsigned scan_running(const KvpIpSet *s)
{
	unsigned found = 0;
	DIR *d;
	struct dirent *de;

	d = opendir(s->proc_dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		_cleanup_free_ char *comm = NULL;
		char path[NAME_MAX + 16];

		if (strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		(void)snprintf(path, sizeof(path), "%s/comm", de->d_name);
		if (read_full_file_at(dirfd(d), path, 64, &comm, NULL) < 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, "NetworkManager") == 0)
			found |= RUNNING_NM;
		else if (strcmp(comm, "systemd-network") == 0)
			found |= RUNNING_NETWORKD;
	}
	closedir(d);
	return found;
}

static bool path_is(const KvpIpSet *s, const char *rel, mode_t type)
{
	char path[PATH_MAX];
	struct stat st;

	return root_path(s, rel, path, sizeof(path)) >= 0 && stat(path, &st) >= 0 &&
	       (st.st_mode & S_IFMT) == type;
}

static bool dir_has_suffix(const KvpIpSet *s, const char *rel, const char *suffix)
{
	char path[PATH_MAX];
	bool found = false;
	DIR *d;
	struct dirent *de;

	if (root_path(s, rel, path, sizeof(path)) < 0)
		return false;
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name), k = strlen(suffix);

		found = de->d_name[0] != '.' && n > k && strcmp(de->d_name + n - k, suffix) == 0;
	}
	closedir(d);
	return found;
}

int kvp_ipset_detect(KvpIpSet *s, KvpIpBackend *ret)
{
	unsigned running;

	if (s->backend != KVP_IP_BACKEND_AUTO) {
		*ret = s->backend;
		return 0;
	}
	running = scan_running(s);
	if (running & RUNNING_NM)
		*ret = KVP_IP_BACKEND_NETWORKMANAGER;
	else if (running & RUNNING_NETWORKD)
		*ret = KVP_IP_BACKEND_NETWORKD;
	else if (dir_has_suffix(s, "/etc/netplan", ".yaml") && access(s->netplan, X_OK) >= 0)
		*ret = KVP_IP_BACKEND_NETPLAN;
	else if (path_is(s, "/etc/network/interfaces", S_IFREG) && access(s->ifup, X_OK) >= 0)
		*ret = KVP_IP_BACKEND_IFUPDOWN;
	else if (path_is(s, "/etc/sysconfig/network-scripts", S_IFDIR))
		*ret = KVP_IP_BACKEND_IFCFG;
	else
		return -EOPNOTSUPP;
	return 0;
}

/* ---- plan: files to write ---- */

typedef struct PlanFile {
	char dir[PATH_MAX];
	char name[NAME_MAX + 1];
	char path[PATH_MAX]; /* dir/name, what helpers are given */
	mode_t mode;
	char *content;
	/* previous state, for the rollback */
	bool had_old;
	char *old;
	size_t old_size;
	mode_t old_mode;
	bool written;
} PlanFile;

typedef struct Plan {
	KvpIpBackend backend;
	const KvpNic *nic;
	bool nm_running; /* ifcfg: apply through NetworkManager */
	char uuid[KVP_UUID_BUFSIZE];
	size_t n_files;
	PlanFile files[MAX_FILES];
} Plan;

static void plan_done(Plan *p)
{
	for (size_t i = 0; i < p->n_files; i++) {
		free(p->files[i].content);
		free(p->files[i].old);
	}
}

/*
 * Adds the file <dir>/<prefix><ifname><suffix> with c in format; dir is below the root
 * when in_root, else taken as is.
 */
static int plan_add(KvpIpSet *s, Plan *p, const char *dir, bool in_root, const char *prefix,
		    const char *suffix, mode_t mode, KvpIpFormat format, const KvpIpConfig *c)
{
	PlanFile *f = &p->files[p->n_files];
	char path[sizeof(f->path)];
	int n, r;

	assert_se(p->n_files < MAX_FILES);
	n = snprintf(f->dir, sizeof(f->dir), "%s%s", in_root ? s->root : "", dir);
	if (n < 0 || (size_t)n >= sizeof(f->dir))
		return -ENAMETOOLONG;
	n = snprintf(f->name, sizeof(f->name), "%s%s%s", prefix, p->nic->ifname, suffix);
	if (n < 0 || (size_t)n >= sizeof(f->name))
		return -ENAMETOOLONG;
	/* via a local: GCC's -Wrestrict sees three members of one object as overlapping */
	n = snprintf(path, sizeof(path), "%s/%s", f->dir, f->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(f->path, path, (size_t)n + 1);
	f->mode = mode;
	r = kvp_ipconfig_render(format, c, p->nic, &f->content);
	if (r < 0)
		return r;
	p->n_files++;
	return 0;
}

static int plan_build(KvpIpSet *s, Plan *p, const KvpIpConfig *c)
{
	switch (p->backend) {
	case KVP_IP_BACKEND_NETWORKMANAGER:
		return plan_add(s, p, "/etc/NetworkManager/system-connections", true, "hvguest-",
				".nmconnection", 0600, KVP_IP_FORMAT_NM_KEYFILE, c);
	case KVP_IP_BACKEND_NETWORKD:
		return plan_add(s, p, "/etc/systemd/network", true, "10-hvguest-", ".network", 0644,
				KVP_IP_FORMAT_NETWORKD, c);
	case KVP_IP_BACKEND_NETPLAN:
		return plan_add(s, p, "/etc/netplan", true, "90-hvguest-", ".yaml", 0600,
				KVP_IP_FORMAT_NETPLAN, c);
	case KVP_IP_BACKEND_IFUPDOWN:
		return plan_add(s, p, "/etc/network/interfaces.d", true, "hvguest-", "", 0644,
				KVP_IP_FORMAT_IFUPDOWN, c);
	case KVP_IP_BACKEND_IFCFG:
		p->nm_running = scan_running(s) & RUNNING_NM;
		return plan_add(s, p, "/etc/sysconfig/network-scripts", true, "ifcfg-", "", 0644,
				KVP_IP_FORMAT_IFCFG, c);
	case KVP_IP_BACKEND_SCRIPT: {
		int r = plan_add(s, p, s->state_dir, false, "ifcfg-", "", 0600,
				 KVP_IP_FORMAT_IFCFG_UPSTREAM, c);

		if (r < 0)
			return r;
		return plan_add(s, p, s->state_dir, false, "", ".nmconnection", 0600,
				KVP_IP_FORMAT_NM_KEYFILE, c);
	}
	case KVP_IP_BACKEND_AUTO:
	case _KVP_IP_BACKEND_MAX:
	case _KVP_IP_BACKEND_INVALID:
		break;
	}
	return -EINVAL;
}

/* Remembers each file's current content and mode; creates missing directories. */
static int plan_save_old(KvpIpSet *s, Plan *p)
{
	for (size_t i = 0; i < p->n_files; i++) {
		PlanFile *f = &p->files[i];
		_cleanup_close_ int dfd = -EBADF;
		struct stat st;
		int r;

		r = mkdir_p(f->dir, 0755);
		if (r < 0) {
			set_error(s, "cannot create '%s': %s", f->dir, strerror(-r));
			return r;
		}
		dfd = open_dir(f->dir);
		if (dfd < 0)
			return dfd;
		r = read_full_file_at(dfd, f->name, OLD_FILE_MAX, &f->old, &f->old_size);
		if (r == -ENOENT)
			continue;
		if (r < 0 || fstatat(dfd, f->name, &st, 0) < 0) {
			r = r < 0 ? r : negative_errno();
			set_error(s, "cannot keep the previous '%s' for a rollback: %s", f->path,
				  strerror(-r));
			return r;
		}
		f->had_old = true;
		f->old_mode = st.st_mode & 07777;
	}
	return 0;
}

static int plan_write(KvpIpSet *s, Plan *p)
{
	for (size_t i = 0; i < p->n_files; i++) {
		PlanFile *f = &p->files[i];
		_cleanup_close_ int dfd = -EBADF;
		int r;

		dfd = open_dir(f->dir);
		if (dfd < 0)
			r = dfd;
		else
			r = write_file_atomic_at(dfd, f->name, TMP_PREFIX, f->content,
						 strlen(f->content), f->mode);
		if (r < 0) {
			set_error(s, "cannot write '%s': %s", f->path, strerror(-r));
			return r;
		}
		f->written = true;
	}
	return 0;
}

/* Puts back what plan_save_old() saw, for the files we replaced. Best effort. */
static void plan_restore(Plan *p)
{
	for (size_t i = 0; i < p->n_files; i++) {
		PlanFile *f = &p->files[i];
		_cleanup_close_ int dfd = -EBADF;

		if (!f->written)
			continue;
		dfd = open_dir(f->dir);
		if (dfd < 0)
			continue;
		if (f->had_old)
			(void)write_file_atomic_at(dfd, f->name, TMP_PREFIX, f->old, f->old_size,
						   f->old_mode);
		else
			(void)unlinkat(dfd, f->name, 0);
	}
}

/* ---- helpers ---- */

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000u;
}

/* nmcli's own activation wait, in whole seconds, ending before our deadline. */
static void wait_arg(uint64_t deadline, char *out, size_t size)
{
	uint64_t now = now_usec(), left = deadline > now ? (deadline - now) / USEC_PER_SEC : 0;

	(void)snprintf(out, size, "%llu", (unsigned long long)(left > 1 ? left - 1 : 1));
}

/* Runs argv (NULL-terminated) by argv with what is left of the budget. */
static int run(KvpIpSet *s, const char *const *argv, uint64_t deadline)
{
	_cleanup_(hook_result_done) HookResult res = { 0 };
	uint64_t now = now_usec();
	int r;

	if (deadline <= now + MIN_STEP_USEC) {
		set_error(s, "no time left to run '%s'", argv[0]);
		return -ETIMEDOUT;
	}
	r = hook_run(argv, NULL, deadline - now, &res);
	if (r < 0) {
		set_error(s, "cannot run '%s': %s", argv[0], strerror(-r));
		return r;
	}
	if (hook_result_success(&res))
		return 0;
	if (res.timed_out)
		set_error(s, "'%s %s' timed out", argv[0], strna(argv[1]));
	else if (res.exited)
		set_error(s, "'%s %s' failed with exit status %d: %.*s", argv[0], strna(argv[1]),
			  res.exit_status, (int)strcspn(res.err, "\n"), res.err);
	else
		set_error(s, "'%s %s' was killed by signal %d", argv[0], strna(argv[1]),
			  res.term_signal);
	return res.timed_out ? -ETIMEDOUT : -EIO;
}

#define RUN(s, deadline, ...) run(s, (const char *const[]){ __VA_ARGS__, NULL }, deadline)

/* Steps before the files are replaced (taking the interface down with its old config). */
static void pre_steps(KvpIpSet *s, const Plan *p, uint64_t deadline)
{
	const char *ifname = p->nic->ifname;

	switch (p->backend) {
	case KVP_IP_BACKEND_IFUPDOWN:
		(void)RUN(s, deadline, s->ifdown, "--force", ifname);
		break;
	case KVP_IP_BACKEND_IFCFG:
		if (!p->nm_running)
			(void)RUN(s, deadline, s->ifdown, ifname);
		break;
	case KVP_IP_BACKEND_NETWORKMANAGER:
	case KVP_IP_BACKEND_NETWORKD:
	case KVP_IP_BACKEND_NETPLAN:
	case KVP_IP_BACKEND_SCRIPT:
	case KVP_IP_BACKEND_AUTO:
	case _KVP_IP_BACKEND_MAX:
	case _KVP_IP_BACKEND_INVALID:
		break;
	}
	s->last_error[0] = '\0'; /* a failing ifdown is expected and not the story */
}

/*
 * Makes the manager take up the files. rollback: the files are the restored previous
 * ones (or gone), so NetworkManager is asked to connect the device with whatever profile
 * now fits best rather than to bring up our profile.
 */
static int apply_steps(KvpIpSet *s, const Plan *p, bool rollback, uint64_t deadline)
{
	const char *ifname = p->nic->ifname;
	char wait[32];
	int r;

	switch (p->backend) {
	case KVP_IP_BACKEND_NETWORKMANAGER:
		r = RUN(s, deadline, s->nmcli, "connection", "load", p->files[0].path);
		if (r < 0)
			return r;
		wait_arg(deadline, wait, sizeof(wait));
		if (rollback)
			return RUN(s, deadline, s->nmcli, "--wait", wait, "device", "connect",
				   ifname);
		return RUN(s, deadline, s->nmcli, "--wait", wait, "connection", "up", "uuid",
			   p->uuid);
	case KVP_IP_BACKEND_NETWORKD:
		r = RUN(s, deadline, s->networkctl, "reload");
		if (r < 0)
			return r;
		return RUN(s, deadline, s->networkctl, "reconfigure", ifname);
	case KVP_IP_BACKEND_NETPLAN:
		return RUN(s, deadline, s->netplan, "apply");
	case KVP_IP_BACKEND_IFUPDOWN:
		return RUN(s, deadline, s->ifup, ifname);
	case KVP_IP_BACKEND_IFCFG:
		if (!p->nm_running)
			return RUN(s, deadline, s->ifup, ifname);
		r = RUN(s, deadline, s->nmcli, "connection", "reload");
		if (r < 0)
			return r;
		wait_arg(deadline, wait, sizeof(wait));
		return RUN(s, deadline, s->nmcli, "--wait", wait, "connection", "up", "ifname",
			   ifname);
	case KVP_IP_BACKEND_SCRIPT:
		/* The site script cannot be told "go back"; re-run it only on complete old files.
		 */
		if (rollback && !(p->files[0].had_old && p->files[1].had_old))
			return 0;
		return RUN(s, deadline, s->set_ifconfig, p->files[0].path, p->files[1].path);
	case KVP_IP_BACKEND_AUTO:
	case _KVP_IP_BACKEND_MAX:
	case _KVP_IP_BACKEND_INVALID:
		break;
	}
	return -EINVAL;
}

static int rollback(KvpIpSet *s, Plan *p)
{
	char why[sizeof(s->last_error)];
	uint64_t deadline = now_usec() + s->timeout_usec / 4;

	memcpy(why, s->last_error, sizeof(why));
	pre_steps(s, p, deadline);
	plan_restore(p);
	(void)apply_steps(s, p, true, deadline);
	/* report the failure that caused the rollback, not the rollback's own trouble */
	memcpy(s->last_error, why, sizeof(why));
	return -EIO;
}

int kvp_ipset_apply_config(KvpIpSet *s, const KvpIpConfig *c, const KvpNic *nic)
{
	_cleanup_(plan_done) Plan p = { .nic = nic };
	uint64_t deadline = now_usec() + s->timeout_usec;
	int r;

	s->last_error[0] = '\0';
	if (!kvp_ifname_is_safe(nic->ifname)) {
		set_error(s, "interface name unsuitable for configuration files");
		return -EOPNOTSUPP;
	}
	r = kvp_ipset_detect(s, &p.backend);
	if (r < 0) {
		set_error(s, "no supported network manager found");
		return r;
	}
	kvp_ipconfig_nm_uuid(nic, p.uuid);
	r = plan_build(s, &p, c);
	if (r < 0) {
		set_error(s, "cannot render the %s configuration: %s",
			  kvp_ip_backend_to_string(p.backend), strerror(-r));
		return -EIO;
	}
	r = plan_save_old(s, &p);
	if (r < 0)
		return -EIO;
	pre_steps(s, &p, deadline);
	r = plan_write(s, &p);
	if (r >= 0)
		r = apply_steps(s, &p, false, deadline);
	if (r < 0)
		return rollback(s, &p);
	return 0;
}

int kvp_ipset_apply(KvpIpSet *s, const KvpIpInfo *req)
{
	_cleanup_free_ KvpIpConfig *c = NULL;
	KvpNic nic;
	const KvpNicOps *ops = s->sysfs_dir ? &kvp_nic_sysfs_ops : &kvp_nic_udev_ops;
	int r;

	s->last_error[0] = '\0';
	c = malloc(sizeof(*c)); /* about 7 KiB: not on a worker thread's stack */
	if (!c)
		return -ENOMEM;
	r = kvp_ipconfig_from_ipinfo(req, c);
	if (r < 0) {
		set_error(s, "invalid request");
		return r;
	}
	r = ops->find_by_guid(s->sysfs_dir, c->guid, &nic);
	if (r == -ENODEV) {
		set_error(s, "no network interface with VMBus id %s", c->guid);
		return r;
	}
	if (r < 0) {
		set_error(s, "cannot look up the network interfaces: %s", strerror(-r));
		return -EIO;
	}
	return kvp_ipset_apply_config(s, c, &nic);
}
