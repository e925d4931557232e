/* SPDX-License-Identifier: MIT */
/*
 * mountinfo text -> parse -> plan, with a fake VssSysOps that derives loop backing files and
 * slaves from the table itself (so stacking, unknowns and cycles are all reachable). Checks
 * the plan's invariants: every entry has a reason, targets are FREEZE entries sorted by level,
 * levels are below n_levels, one target per superblock.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vss/vss-plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Fuzz {
	const VssMount *m;
	size_t n;
} Fuzz;

/* Minor m of major 7 is a loop device whose file lives below mount m % n. */
static int fz_loop(void *u, VssDev dev, char *buf, size_t size)
{
	const Fuzz *f = u;

	if (dev.major != 7 || f->n == 0)
		return -ENOENT;
	if (dev.minor % 5 == 4)
		return -EIO;
	if ((size_t)snprintf(buf, size, "%s/img%u", f->m[dev.minor % f->n].path, dev.minor) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Major 253 (dm): slaves are the next two minors of major 7 and a dm device. */
static int fz_slaves(void *u, VssDev dev, VssDev *ret, size_t max)
{
	if (dev.major != 253 || max < 3)
		return -ENOENT;
	if (dev.minor % 7 == 6)
		return -EACCES;
	ret[0] = (VssDev){ 7, dev.minor + 1 };
	ret[1] = (VssDev){ 7, dev.minor + 2 };
	ret[2] = (VssDev){ 253, dev.minor / 2 };
	return 3;
}

static int fz_block(void *u, const char *path, VssDev *ret)
{
	size_t l = strlen(path);

	if (l == 0 || l % 3 == 0)
		return -ENOENT;
	*ret = (VssDev){ 7, (unsigned)l };
	return 0;
}

static const VssSysOps fz_ops = {
	.loop_backing_file = fz_loop,
	.slaves = fz_slaves,
	.block_device = fz_block,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *exc[] = { (char *)"/x*", NULL }, *types[] = { (char *)"xfs", NULL };
	VssMount *m = NULL;
	VssPlan *p = NULL;
	size_t n = 0;
	int r;

	r = vss_mounts_parse((const char *)data, size, &m, &n);
	if (r < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		assert(m[i].path[0] == '/' && m[i].fstype[0] != '\0');

	Fuzz f = { m, n };
	VssPlanOptions o = {
		.exclude_mounts = exc,
		.exclude_types = (size & 1) ? types : NULL,
		.sys = (size & 2) ? &fz_ops : NULL,
		.sys_userdata = &f,
	};
	if (vss_plan_build(m, n, &o, &p) == 0) {
		unsigned last = 0;

		assert(vss_plan_n_entries(p) == n);
		for (size_t i = 0; i < n; i++) {
			const VssPlanEntry *e = vss_plan_entry(p, i);

			assert(e->reason && vss_verdict_to_string(e->verdict));
			assert(strcmp(e->path, m[i].path) == 0);
		}
		for (size_t i = 0; i < vss_plan_n_targets(p); i++) {
			const VssPlanEntry *t = vss_plan_target(p, i);

			assert(t->verdict == VSS_VERDICT_FREEZE);
			assert(t->level >= last && t->level < vss_plan_n_levels(p));
			last = t->level;
			for (size_t j = 0; j < i; j++) {
				const VssPlanEntry *u = vss_plan_target(p, j);

				assert(u->dev.major != t->dev.major ||
				       u->dev.minor != t->dev.minor);
			}
		}
		vss_plan_free(p);
	}
	vss_mounts_free(m, n);
	return 0;
}
