/* SPDX-License-Identifier: MIT */
/* Shared between vss-plan.c (selection, deduplication, text) and vss-plan-order.c (levels). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vss/vss-plan.h"

#define PLAN_NO_INDEX SIZE_MAX

typedef enum FsClass {
	FS_OTHER,      /* needs a block device (major != 0) */
	FS_ANON_BLOCK, /* on block devices behind an anonymous 0:N (btrfs, bcachefs) */
	FS_NOFREEZE,   /* local storage without freeze support */
	FS_PSEUDO,
	FS_REMOTE,
	FS_FUSE,
	FS_OVERLAY,
} FsClass;

typedef enum CantWhy {
	CANT_TYPE,    /* FS_NOFREEZE */
	CANT_COVERED, /* no reachable mount */
	CANT_CYCLE,   /* stacking relations form a cycle */
} CantWhy;

typedef struct PlanItem {
	VssPlanEntry e;
	char *strings; /* e.path, e.fstype, e.source */
	char *reason;
	unsigned mount_id, parent_id;
	FsClass class;
	bool reachable; /* the mount can be opened through e.path */
	bool in_scope;	/* passed type, globs and read-only checks */
	/* SKIP_EXCLUDED: the pattern and the list it came from (pattern NULL: include miss) */
	const char *glob, *glob_list;
	CantWhy cant;
	/* FREEZE, from vss-plan-order.c: first outer filesystem found, and how */
	size_t outer;  /* item index or PLAN_NO_INDEX */
	char *backing; /* loop backing file leading to outer */
	bool unknown;  /* some relation could not be determined */
	const char *unknown_why;
	int unknown_error; /* negative errno or 0 */
} PlanItem;

struct VssPlan {
	PlanItem *items;
	size_t n_items;
	const VssPlanEntry **targets;
	size_t n_targets;
	unsigned n_levels;
};

/*
 * The deciding item of the superblock dev: reps[0..n_reps) are item indexes sorted by
 * device number. PLAN_NO_INDEX if the superblock is not in scope.
 */
size_t plan_find_rep(const VssPlan *p, const size_t *reps, size_t n_reps, VssDev dev);

/*
 * Stacking relations and levels of the VSS_VERDICT_FREEZE items: sets e.level and the
 * relation fields, and turns members of cycles into CANNOT_FREEZE/CANT_CYCLE. 0 or -ENOMEM.
 */
int plan_order(VssPlan *p, const size_t *reps, size_t n_reps, const VssPlanOptions *o);
