/* SPDX-License-Identifier: MIT */
/*
 * Freeze plan, part 1: classify every mount, deduplicate superblocks, write the reasons.
 * Ordering lives in vss-plan-order.c. The rules are documented in vss-plan.h.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vss/vss-plan-private.h"

typedef struct FsType {
	const char *name;
	FsClass class;
} FsType;

/*
 * Types by class. Anything not listed (ext4, xfs, f2fs, jfs, ...) is attempted when it has a
 * block device; a runtime EOPNOTSUPP is the freezer's to report.
 */
static const FsType fs_types[] = {
	/* No backing storage, or nothing of this VM's disks. */
	{ "anon_inodefs", FS_PSEUDO },
	{ "autofs", FS_PSEUDO },
	{ "binder", FS_PSEUDO },
	{ "binfmt_misc", FS_PSEUDO },
	{ "bpf", FS_PSEUDO },
	{ "cgroup", FS_PSEUDO },
	{ "cgroup2", FS_PSEUDO },
	{ "configfs", FS_PSEUDO },
	{ "cpuset", FS_PSEUDO },
	{ "debugfs", FS_PSEUDO },
	{ "devpts", FS_PSEUDO },
	{ "devtmpfs", FS_PSEUDO },
	{ "efivarfs", FS_PSEUDO },
	{ "functionfs", FS_PSEUDO },
	{ "fusectl", FS_PSEUDO },
	{ "hugetlbfs", FS_PSEUDO },
	{ "mqueue", FS_PSEUDO },
	{ "nfsd", FS_PSEUDO },
	{ "nsfs", FS_PSEUDO },
	{ "ocfs2_dlmfs", FS_PSEUDO },
	{ "pipefs", FS_PSEUDO },
	{ "proc", FS_PSEUDO },
	{ "pstore", FS_PSEUDO },
	{ "ramfs", FS_PSEUDO },
	{ "resctrl", FS_PSEUDO },
	{ "rootfs", FS_PSEUDO },
	{ "rpc_pipefs", FS_PSEUDO },
	{ "securityfs", FS_PSEUDO },
	{ "selinuxfs", FS_PSEUDO },
	{ "smackfs", FS_PSEUDO },
	{ "sockfs", FS_PSEUDO },
	{ "sysfs", FS_PSEUDO },
	{ "tmpfs", FS_PSEUDO },
	{ "tracefs", FS_PSEUDO },
	{ "xenfs", FS_PSEUDO },
	/* Data on another machine (or the host): not part of this VM's disks. */
	{ "9p", FS_REMOTE },
	{ "afs", FS_REMOTE },
	{ "beegfs", FS_REMOTE },
	{ "ceph", FS_REMOTE },
	{ "cifs", FS_REMOTE },
	{ "coda", FS_REMOTE },
	{ "glusterfs", FS_REMOTE },
	{ "gpfs", FS_REMOTE },
	{ "lustre", FS_REMOTE },
	{ "ncpfs", FS_REMOTE },
	{ "nfs", FS_REMOTE },
	{ "nfs4", FS_REMOTE },
	{ "orangefs", FS_REMOTE },
	{ "pvfs2", FS_REMOTE },
	{ "smb3", FS_REMOTE },
	{ "smbfs", FS_REMOTE },
	{ "vboxsf", FS_REMOTE },
	{ "virtiofs", FS_REMOTE },
	{ "vmhgfs", FS_REMOTE },
	/* Layers of other filesystems, which are frozen directly. */
	{ "aufs", FS_OVERLAY },
	{ "overlay", FS_OVERLAY },
	{ "overlayfs", FS_OVERLAY },
	{ "shiftfs", FS_OVERLAY },
	{ "unionfs", FS_OVERLAY },
	/*
	 * Local storage that FIFREEZE refuses with EOPNOTSUPP (no freeze_fs/freeze_super):
	 * fat (upstream's vfat skip, hyperv-abi.md §6.3), exfat, ntfs3 [U], udf, hfs(+),
	 * iso9660 (read-only anyway), fuseblk (ntfs-3g: FUSE, but on this VM's disk), zfs
	 * (openzfs/zfs#12843: no Linux freeze support).
	 */
	{ "exfat", FS_NOFREEZE },
	{ "fuseblk", FS_NOFREEZE },
	{ "hfs", FS_NOFREEZE },
	{ "hfsplus", FS_NOFREEZE },
	{ "iso9660", FS_NOFREEZE },
	{ "msdos", FS_NOFREEZE },
	{ "ntfs", FS_NOFREEZE },
	{ "ntfs3", FS_NOFREEZE },
	{ "udf", FS_NOFREEZE },
	{ "vfat", FS_NOFREEZE },
	{ "zfs", FS_NOFREEZE },
	/* Block-backed, but mountinfo shows an anonymous device (several devices per fs). */
	{ "bcachefs", FS_ANON_BLOCK },
	{ "btrfs", FS_ANON_BLOCK },
};

static FsClass classify_type(const char *t)
{
	for (size_t i = 0; i < ELEMENTSOF(fs_types); i++)
		if (strcmp(fs_types[i].name, t) == 0)
			return fs_types[i].class;
	if (strcmp(t, "fuse") == 0 || strncmp(t, "fuse.", 5) == 0)
		return FS_FUSE;
	return FS_OTHER;
}

const char *vss_verdict_to_string(VssVerdict v)
{
	static const char *const names[_VSS_VERDICT_MAX] = {
		[VSS_VERDICT_FREEZE] = "freeze",
		[VSS_VERDICT_SKIP_DUPLICATE] = "duplicate",
		[VSS_VERDICT_SKIP_READONLY] = "read-only",
		[VSS_VERDICT_SKIP_PSEUDO] = "pseudo",
		[VSS_VERDICT_SKIP_REMOTE] = "remote",
		[VSS_VERDICT_SKIP_FUSE] = "fuse",
		[VSS_VERDICT_SKIP_OVERLAY] = "overlay",
		[VSS_VERDICT_SKIP_NODEV] = "no-device",
		[VSS_VERDICT_SKIP_EXCLUDED] = "excluded",
		[VSS_VERDICT_CANNOT_FREEZE] = "cannot-freeze",
	};

	if ((int)v < 0 || v >= _VSS_VERDICT_MAX)
		return NULL;
	return names[v];
}

static const char *match_any(char *const *patterns, const char *s)
{
	for (; patterns && *patterns; patterns++)
		if (fnmatch(*patterns, s, 0) == 0)
			return *patterns;
	return NULL;
}

static bool is_empty(char *const *l)
{
	return !l || !l[0];
}

/* Sets glob/glob_list and returns true if the [vss] globs take the mount out of scope. */
static bool excluded(PlanItem *it, const VssPlanOptions *o)
{
	if (!o)
		return false;
	if ((it->glob = match_any(o->exclude_mounts, it->e.path))) {
		it->glob_list = "exclude_mounts";
		return true;
	}
	if ((it->glob = match_any(o->exclude_types, it->e.fstype))) {
		it->glob_list = "exclude_types";
		return true;
	}
	if (!is_empty(o->include_mounts) && !match_any(o->include_mounts, it->e.path)) {
		it->glob_list = "include_mounts";
		return true;
	}
	if (!is_empty(o->include_types) && !match_any(o->include_types, it->e.fstype)) {
		it->glob_list = "include_types";
		return true;
	}
	return false;
}

/* Steps 1-5 of vss-plan.h: a verdict, or in_scope for the superblock step. */
static void classify(PlanItem *it, const VssMount *m, const VssPlanOptions *o)
{
	it->class = classify_type(m->fstype);
	switch (it->class) {
	case FS_PSEUDO:
		it->e.verdict = VSS_VERDICT_SKIP_PSEUDO;
		return;
	case FS_REMOTE:
		it->e.verdict = VSS_VERDICT_SKIP_REMOTE;
		return;
	case FS_FUSE:
		it->e.verdict = VSS_VERDICT_SKIP_FUSE;
		return;
	case FS_OVERLAY:
		it->e.verdict = VSS_VERDICT_SKIP_OVERLAY;
		return;
	case FS_OTHER:
	case FS_ANON_BLOCK:
	case FS_NOFREEZE:
		break;
	}
	if (excluded(it, o)) {
		it->e.verdict = VSS_VERDICT_SKIP_EXCLUDED;
		return;
	}
	if (m->super_ro) {
		it->e.verdict = VSS_VERDICT_SKIP_READONLY;
		return;
	}
	if (it->class == FS_OTHER && m->major == 0) {
		it->e.verdict = VSS_VERDICT_SKIP_NODEV;
		return;
	}
	it->in_scope = true;
}

static int copy_mount(PlanItem *it, const VssMount *m)
{
	size_t lp = strlen(m->path) + 1, lt = strlen(m->fstype) + 1, ls = strlen(m->source) + 1;

	it->strings = malloc(lp + lt + ls);
	if (!it->strings)
		return -ENOMEM;
	memcpy(it->strings, m->path, lp);
	memcpy(it->strings + lp, m->fstype, lt);
	memcpy(it->strings + lp + lt, m->source, ls);
	it->e.path = it->strings;
	it->e.fstype = it->strings + lp;
	it->e.source = it->strings + lp + lt;
	it->e.dev = (VssDev){ m->major, m->minor };
	it->e.mount_ro = m->mount_ro;
	it->mount_id = m->mount_id;
	it->parent_id = m->parent_id;
	it->outer = PLAN_NO_INDEX;
	return 0;
}

typedef struct IdKey {
	unsigned id;
	size_t idx;
} IdKey;

static int cmp_id(const void *a, const void *b)
{
	const IdKey *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static size_t find_id(const IdKey *keys, size_t n, unsigned id)
{
	IdKey k = { id, 0 };
	const IdKey *hit = bsearch(&k, keys, n, sizeof(k), cmp_id);

	return hit ? hit->idx : PLAN_NO_INDEX;
}

/* m is reached through its parent p without crossing a mount that covers p. */
static bool reaches_through(const PlanItem *m, const PlanItem *p, bool p_covered)
{
	/* m on p's own path is the mount covering p (or one of a stack): it replaces p. */
	return strcmp(m->e.path, p->e.path) == 0 || !p_covered;
}

/*
 * A mount can be opened through its path unless a later mount sits on top of it (a child
 * with the same mount point covers it), or the walk from it up to the namespace root
 * crosses a covered mount below its covering one. A parent outside the table is the root
 * side. ok[] memoizes "the path up from here is clear"; parent cycles (junk) are not clear.
 */
static int compute_reachable(VssPlan *p)
{
	enum { UNKNOWN, VISITING, YES, NO };
	_cleanup_free_ IdKey *keys = calloc(p->n_items, sizeof(IdKey));
	_cleanup_free_ size_t *parent = calloc(p->n_items, sizeof(size_t));
	_cleanup_free_ size_t *chain = calloc(p->n_items, sizeof(size_t));
	_cleanup_free_ unsigned char *ok = calloc(p->n_items, 1);
	_cleanup_free_ bool *covered = calloc(p->n_items, sizeof(bool));
	const PlanItem *it = p->items;

	if (p->n_items == 0)
		return 0;
	if (!keys || !parent || !chain || !ok || !covered)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_items; i++)
		keys[i] = (IdKey){ it[i].mount_id, i };
	qsort(keys, p->n_items, sizeof(IdKey), cmp_id);
	for (size_t i = 0; i < p->n_items; i++) {
		size_t q = find_id(keys, p->n_items, it[i].parent_id);

		parent[i] = q == i ? PLAN_NO_INDEX : q;
		if (parent[i] != PLAN_NO_INDEX && strcmp(it[i].e.path, it[q].e.path) == 0)
			covered[q] = true;
	}
	for (size_t i = 0; i < p->n_items; i++) {
		size_t k = 0, cur = i;
		bool clear;

		if (ok[i] == YES || ok[i] == NO)
			continue;
		for (;;) {
			size_t up;

			if (ok[cur] == VISITING) { /* a cycle: nothing on it is clear */
				clear = false;
				break;
			}
			ok[cur] = VISITING;
			chain[k++] = cur;
			up = parent[cur];
			if (up == PLAN_NO_INDEX) {
				clear = true;
				break;
			}
			if (ok[up] == YES || ok[up] == NO) {
				clear = ok[up] == YES &&
					reaches_through(&it[cur], &it[up], covered[up]);
				break;
			}
			cur = up;
		}
		/* chain[k - 1] gets "clear"; each lower one follows from the one above. */
		ok[chain[k - 1]] = clear ? YES : NO;
		for (size_t j = k - 1; j-- > 0;) {
			size_t a = chain[j + 1];

			clear = clear && ok[a] == YES &&
				reaches_through(&it[chain[j]], &it[a], covered[a]);
			ok[chain[j]] = clear ? YES : NO;
		}
	}
	for (size_t i = 0; i < p->n_items; i++)
		p->items[i].reachable = !covered[i] && ok[i] == YES;
	return 0;
}

typedef struct DevKey {
	VssDev dev;
	size_t idx;
} DevKey;

static int cmp_dev(VssDev a, VssDev b)
{
	if (a.major != b.major)
		return a.major < b.major ? -1 : 1;
	return a.minor < b.minor ? -1 : a.minor > b.minor;
}

static int cmp_devkey(const void *a, const void *b)
{
	const DevKey *x = a, *y = b;
	int r = cmp_dev(x->dev, y->dev);

	return r != 0 ? r : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

size_t plan_find_rep(const VssPlan *p, const size_t *reps, size_t n_reps, VssDev dev)
{
	size_t lo = 0, hi = n_reps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = cmp_dev(p->items[reps[mid]].e.dev, dev);

		if (r == 0)
			return reps[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return PLAN_NO_INDEX;
}

/* Is a a better path to freeze through than b: shortest, then read-write, then first. */
static bool better(const PlanItem *a, size_t ia, const PlanItem *b, size_t ib)
{
	size_t la = strlen(a->e.path), lb = strlen(b->e.path);

	if (la != lb)
		return la < lb;
	if (a->e.mount_ro != b->e.mount_ro)
		return !a->e.mount_ro;
	return ia < ib;
}

/* Decides one group g[0..n) of in-scope items sharing a superblock; returns the decider. */
static size_t decide_group(VssPlan *p, const DevKey *g, size_t n)
{
	size_t rep = PLAN_NO_INDEX;
	PlanItem *r;

	for (size_t i = 0; i < n; i++) {
		const PlanItem *it = &p->items[g[i].idx];

		if (it->reachable &&
		    (rep == PLAN_NO_INDEX || better(it, g[i].idx, &p->items[rep], rep)))
			rep = g[i].idx;
	}
	if (rep == PLAN_NO_INDEX) {
		rep = g[0].idx; /* lowest index: the group is sorted by index */
		p->items[rep].e.verdict = VSS_VERDICT_CANNOT_FREEZE;
		p->items[rep].cant = CANT_COVERED;
	} else if (p->items[rep].class == FS_NOFREEZE) {
		p->items[rep].e.verdict = VSS_VERDICT_CANNOT_FREEZE;
		p->items[rep].cant = CANT_TYPE;
	} else {
		p->items[rep].e.verdict = VSS_VERDICT_FREEZE;
	}
	r = &p->items[rep];
	for (size_t i = 0; i < n; i++) {
		if (g[i].idx == rep)
			continue;
		p->items[g[i].idx].e.verdict = VSS_VERDICT_SKIP_DUPLICATE;
		p->items[g[i].idx].e.same_as = &r->e;
	}
	return rep;
}

/* Step 6: one decider per superblock; *ret_reps lists them sorted by device. */
static int dedupe(VssPlan *p, size_t **ret_reps, size_t *ret_n)
{
	_cleanup_free_ DevKey *keys = NULL;
	_cleanup_free_ size_t *reps = NULL;
	size_t n = 0, n_reps = 0;

	keys = calloc(p->n_items ? p->n_items : 1, sizeof(DevKey));
	reps = calloc(p->n_items ? p->n_items : 1, sizeof(size_t));
	if (!keys || !reps)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_items; i++)
		if (p->items[i].in_scope)
			keys[n++] = (DevKey){ p->items[i].e.dev, i };
	qsort(keys, n, sizeof(DevKey), cmp_devkey);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && cmp_dev(keys[j].dev, keys[i].dev) == 0; j++)
			;
		reps[n_reps++] = decide_group(p, keys + i, j - i);
	}
	*ret_reps = TAKE_PTR(reps);
	*ret_n = n_reps;
	return 0;
}

/* Excluded paths of a superblock that is frozen anyway point at where it happens. */
static void link_excluded(VssPlan *p, const size_t *reps, size_t n_reps)
{
	for (size_t i = 0; i < p->n_items; i++) {
		PlanItem *it = &p->items[i];
		size_t r;

		if (it->e.verdict != VSS_VERDICT_SKIP_EXCLUDED)
			continue;
		r = plan_find_rep(p, reps, n_reps, it->e.dev);
		if (r != PLAN_NO_INDEX && p->items[r].e.verdict == VSS_VERDICT_FREEZE)
			it->e.same_as = &p->items[r].e;
	}
}

static int describe_freeze(const PlanItem *it, const VssPlan *p, char **ret)
{
	_cleanup_free_ char *stack = NULL;
	const char *ro = it->e.mount_ro ? " (through a read-only mount: the writable filesystem "
					  "behind it is frozen)"
					: "";
	int r;

	if (it->outer != PLAN_NO_INDEX)
		r = asprintf(&stack, "; stored in '%s' on '%s': frozen before it, thawed after it",
			     it->backing ? it->backing : "?", p->items[it->outer].e.path);
	else
		r = asprintf(&stack, "%s", "");
	if (r < 0)
		return -ENOMEM;
	if (it->unknown) {
		char *s;

		r = asprintf(&s,
			     "%s; its storage could not be fully traced (%s%s%s): frozen early, "
			     "before every filesystem that is not stacked",
			     stack, it->unknown_why, it->unknown_error ? ": " : "",
			     it->unknown_error ? strerror(-it->unknown_error) : "");
		if (r < 0)
			return -ENOMEM;
		free(stack);
		stack = s;
	}
	if (it->class == FS_ANON_BLOCK)
		r = asprintf(ret, "writable %s on '%s' (superblock %u:%u)%s%s", it->e.fstype,
			     it->e.source, it->e.dev.major, it->e.dev.minor, ro, stack);
	else
		r = asprintf(ret, "writable %s on block device %u:%u%s%s", it->e.fstype,
			     it->e.dev.major, it->e.dev.minor, ro, stack);
	return r < 0 ? -ENOMEM : 0;
}

static int describe_cant(const PlanItem *it, char **ret)
{
	int r = -1;

	switch (it->cant) {
	case CANT_TYPE:
		r = asprintf(ret,
			     "%s cannot be frozen: this writable filesystem is only "
			     "crash-consistent in a backup; exclude it to allow "
			     "application-consistent backups",
			     it->e.fstype);
		break;
	case CANT_COVERED:
		r = asprintf(ret,
			     "every mount of this writable %s (%u:%u) is covered by another "
			     "mount: no path to freeze it through",
			     it->e.fstype, it->e.dev.major, it->e.dev.minor);
		break;
	case CANT_CYCLE:
		r = asprintf(ret, "%s",
			     "its loop/dm storage relations form a cycle (a backing file path "
			     "from another mount namespace?): cannot be ordered");
		break;
	}
	return r < 0 ? -ENOMEM : 0;
}

static int describe(const PlanItem *it, const VssPlan *p, char **ret)
{
	const char *same = it->e.same_as ? it->e.same_as->path : "?";
	int r = -1;

	switch (it->e.verdict) {
	case VSS_VERDICT_FREEZE:
		return describe_freeze(it, p, ret);
	case VSS_VERDICT_CANNOT_FREEZE:
		return describe_cant(it, ret);
	case VSS_VERDICT_SKIP_DUPLICATE:
		r = asprintf(ret, "same filesystem (%u:%u) as '%s', which decides for it",
			     it->e.dev.major, it->e.dev.minor, same);
		break;
	case VSS_VERDICT_SKIP_READONLY:
		r = asprintf(ret, "read-only %s (superblock mounted ro): nothing to flush",
			     it->e.fstype);
		break;
	case VSS_VERDICT_SKIP_PSEUDO:
		r = asprintf(ret, "%s has no backing storage", it->e.fstype);
		break;
	case VSS_VERDICT_SKIP_REMOTE:
		r = asprintf(ret, "%s is a network filesystem, outside this VM's disks",
			     it->e.fstype);
		break;
	case VSS_VERDICT_SKIP_FUSE:
		r = asprintf(ret,
			     "%s is served by a process and cannot be frozen; local storage "
			     "behind it is frozen directly",
			     it->e.fstype);
		break;
	case VSS_VERDICT_SKIP_OVERLAY:
		r = asprintf(ret, "%s is layered on other filesystems, which are frozen directly",
			     it->e.fstype);
		break;
	case VSS_VERDICT_SKIP_NODEV:
		r = asprintf(ret, "%s is not backed by a block device (anonymous device %u:%u)",
			     it->e.fstype, it->e.dev.major, it->e.dev.minor);
		break;
	case VSS_VERDICT_SKIP_EXCLUDED:
		if (it->glob)
			r = asprintf(ret, "%s matches %s pattern '%s'%s%s%s",
				     strcmp(it->glob_list, "exclude_types") == 0 ? "type"
										 : "mount point",
				     it->glob_list, it->glob,
				     it->e.same_as ? "; the filesystem is still frozen through '"
						   : "",
				     it->e.same_as ? same : "", it->e.same_as ? "'" : "");
		else
			r = asprintf(ret, "%s matches no %s pattern%s%s%s",
				     strcmp(it->glob_list, "include_types") == 0 ? "type"
										 : "mount point",
				     it->glob_list,
				     it->e.same_as ? "; the filesystem is still frozen through '"
						   : "",
				     it->e.same_as ? same : "", it->e.same_as ? "'" : "");
		break;
	case _VSS_VERDICT_MAX:
	case _VSS_VERDICT_INVALID:
		break;
	}
	return r < 0 ? -ENOMEM : 0;
}

static int cmp_target(const void *a, const void *b)
{
	const VssPlanEntry *x = *(const VssPlanEntry *const *)a,
			   *y = *(const VssPlanEntry *const *)b;

	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	/* table order: entries live in one array */
	return x < y ? -1 : x > y;
}

static int collect_targets(VssPlan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_items; i++)
		if (p->items[i].e.verdict == VSS_VERDICT_FREEZE)
			n++;
	p->targets = calloc(n ? n : 1, sizeof(*p->targets));
	if (!p->targets)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_items; i++) {
		const VssPlanEntry *e = &p->items[i].e;

		if (e->verdict != VSS_VERDICT_FREEZE)
			continue;
		p->targets[p->n_targets++] = e;
		p->n_levels = MAX(p->n_levels, e->level + 1);
	}
	qsort(p->targets, p->n_targets, sizeof(*p->targets), cmp_target);
	return 0;
}

VssPlan *vss_plan_free(VssPlan *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_items; i++) {
		free(p->items[i].strings);
		free(p->items[i].reason);
		free(p->items[i].backing);
	}
	free(p->items);
	free(p->targets);
	free(p);
	return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(VssPlan *, vss_plan_free);

int vss_plan_build(const VssMount *m, size_t n, const VssPlanOptions *o, VssPlan **ret)
{
	_cleanup_(vss_plan_freep) VssPlan *p = NULL;
	_cleanup_free_ size_t *reps = NULL;
	size_t n_reps = 0;
	int r;

	if (n > VSS_MOUNTS_MAX)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->items = calloc(n ? n : 1, sizeof(PlanItem));
	if (!p->items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = copy_mount(&p->items[i], &m[i]);
		if (r < 0)
			return r;
		p->n_items++;
	}
	r = compute_reachable(p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		classify(&p->items[i], &m[i], o);
	r = dedupe(p, &reps, &n_reps);
	if (r < 0)
		return r;
	r = plan_order(p, reps, n_reps, o);
	if (r < 0)
		return r;
	link_excluded(p, reps, n_reps);
	for (size_t i = 0; i < n; i++) {
		r = describe(&p->items[i], p, &p->items[i].reason);
		if (r < 0)
			return r;
		p->items[i].e.reason = p->items[i].reason;
	}
	r = collect_targets(p);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

size_t vss_plan_n_entries(const VssPlan *p)
{
	return p->n_items;
}

const VssPlanEntry *vss_plan_entry(const VssPlan *p, size_t i)
{
	return i < p->n_items ? &p->items[i].e : NULL;
}

size_t vss_plan_n_targets(const VssPlan *p)
{
	return p->n_targets;
}

const VssPlanEntry *vss_plan_target(const VssPlan *p, size_t i)
{
	return i < p->n_targets ? p->targets[i] : NULL;
}

unsigned vss_plan_n_levels(const VssPlan *p)
{
	return p->n_levels;
}

bool vss_plan_consistent(const VssPlan *p)
{
	for (size_t i = 0; i < p->n_items; i++)
		if (p->items[i].e.verdict == VSS_VERDICT_CANNOT_FREEZE)
			return false;
	return true;
}
