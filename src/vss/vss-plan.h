/* SPDX-License-Identifier: MIT */
/*
 * The freeze plan: which mounts of a parsed mountinfo table (vss-mounts.h) get frozen, why
 * every other one does not, and in which order (hyperv-abi.md §7). Pure policy: the only
 * side effects are the block-device queries of VssSysOps (sysfs reads; see vss_sys_ops_linux),
 * and nothing ever opens or stats a mount point (a dead NFS server would hang the call).
 *
 * Decisions, in the order they are taken for each mount:
 *  1. Filesystem type: pseudo (proc, tmpfs, cgroup2, ...), remote (nfs*, cifs, 9p, ...), FUSE
 *     (fuse, fuse.*; fuseblk is local storage, see 4) and overlay are skipped. None can be
 *     frozen and none holds data of this VM's disks that is not frozen through its own fs.
 *  2. [vss] globs (fnmatch(3) without flags: '*' also matches '/'): exclude_mounts and
 *     exclude_types win; a non-empty include_mounts or include_types list must match too.
 *  3. A read-only SUPERBLOCK ("ro" in the super options) is skipped: nothing to flush. A
 *     read-only mount of a writable superblock (a ro bind) is still in scope: FIFREEZE through
 *     it freezes the writable superblock (§7.2), and another rw path is preferred anyway.
 *  4. Types that are writable but have no freeze support (vfat, exfat, ntfs3, fuseblk, zfs,
 *     ...) are VSS_VERDICT_CANNOT_FREEZE: the backup of that data is only crash-consistent,
 *     so vss_plan_consistent() is false (the HOT_BACKUP answer). Excluding them restores it.
 *  5. Other types need a block device: a major number other than 0, or a type known to sit on
 *     block devices behind an anonymous device number (btrfs, bcachefs: multi-device
 *     filesystems). Anything else is VSS_VERDICT_SKIP_NODEV.
 *  6. One entry per superblock, keyed by the mountinfo major:minor field (§7.2: the same for
 *     bind mounts and btrfs subvolumes, unlike st_dev or f_fsid). Only mounts reachable by
 *     their path count (a mount covered by a later mount on the same path, or below a covered
 *     mount, cannot be opened through its path); among those the shortest mount point wins,
 *     then a read-write mount, then table order. The others are VSS_VERDICT_SKIP_DUPLICATE.
 *     A superblock whose mounts are all covered is VSS_VERDICT_CANNOT_FREEZE.
 *
 * Ordering (§7.4): a filesystem whose device is a loop device, or a dm/md device built on one
 * (recursively, through slaves/), lives in a file of another filesystem, the outer one. The
 * inner one must be frozen first and thawed last. The backing file path that sysfs reports is
 * mapped to the reachable mount with the longest mount-point prefix, and from it to that
 * mount's superblock. Caveat: the kernel prints that path relative to the READER's root
 * (d_path()); if the loop device was set up in another mount namespace (a container), the path
 * may name a different or no filesystem of this table. The daemon must therefore read sysfs
 * and mountinfo in the same namespace and root. A relation that cannot be determined (a lookup
 * error, a path matching no mount or the filesystem itself, no VssSysOps and a loop major) is
 * handled conservatively: such filesystems are frozen one by one, most recently mounted first,
 * before every filesystem that is not stacked itself. A cycle (only possible from wrong
 * mappings) makes its members VSS_VERDICT_CANNOT_FREEZE. btrfs and bcachefs: the device for
 * these relations is the source device (VssSysOps.block_device); for a multi-device btrfs only
 * that one device is examined.
 *
 * Levels: level 0 holds the innermost filesystems and is frozen first; a filesystem's level
 * is one more than the highest level of the filesystems stored in it. Entries of one level
 * can be frozen in parallel; thaw in reverse level order.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "vss/vss-mounts.h"

typedef enum VssVerdict {
	VSS_VERDICT_FREEZE,	    /* frozen, through this mount */
	VSS_VERDICT_SKIP_DUPLICATE, /* same superblock as another entry, which decides */
	VSS_VERDICT_SKIP_READONLY,  /* read-only superblock */
	VSS_VERDICT_SKIP_PSEUDO,    /* no backing storage: proc, tmpfs, cgroup2, ... */
	VSS_VERDICT_SKIP_REMOTE,    /* network filesystem */
	VSS_VERDICT_SKIP_FUSE,	    /* served by a process */
	VSS_VERDICT_SKIP_OVERLAY,   /* layered on other filesystems */
	VSS_VERDICT_SKIP_NODEV,	    /* unknown type without a block device */
	VSS_VERDICT_SKIP_EXCLUDED,  /* by the [vss] include/exclude globs */
	VSS_VERDICT_CANNOT_FREEZE,  /* writable and in scope, but cannot be frozen */
	_VSS_VERDICT_MAX,
	_VSS_VERDICT_INVALID = -EINVAL,
} VssVerdict;

typedef struct VssDev {
	unsigned major, minor;
} VssDev;

/*
 * Block-device relations, the planner's only window on the system. Each function returns a
 * negative errno on failure; -ENOENT means "no such relation" (not a loop device, no slaves),
 * any other error makes the relation unknown (handled conservatively, see above).
 */
typedef struct VssSysOps {
	/*
	 * Backing file of loop device dev, or of the loop device that partition dev belongs to,
	 * NUL-terminated in buf (no trailing newline). -ENOENT if dev is not a bound loop device,
	 * -ENAMETOOLONG if it does not fit.
	 */
	int (*loop_backing_file)(void *userdata, VssDev dev, char *buf, size_t size);
	/*
	 * Devices that dev (or the disk that partition dev belongs to) is built on: dm targets,
	 * md members. Fills ret[0..max) and returns the count (0: none), -E2BIG beyond max.
	 */
	int (*slaves)(void *userdata, VssDev dev, VssDev *ret, size_t max);
	/* Device number of the block device node path (a btrfs source such as "/dev/sdb"). */
	int (*block_device)(void *userdata, const char *path, VssDev *ret);
} VssSysOps;

/*
 * The real relations, read from <root>/sys/dev/block/M:m/{loop/backing_file,slaves/} and by
 * stat(<root><path>). userdata is the root prefix as a const char * (NULL or "" for "/").
 */
extern const VssSysOps vss_sys_ops_linux;

typedef struct VssPlanOptions {
	/* NULL-terminated fnmatch(3) patterns; NULL means an empty list. */
	char *const *include_mounts;
	char *const *exclude_mounts;
	char *const *include_types;
	char *const *exclude_types;
	/* NULL: no relations known (every loop-major device is "unknown", see above). */
	const VssSysOps *sys;
	void *sys_userdata;
} VssPlanOptions;

typedef struct VssPlanEntry {
	const char *path; /* mount point */
	const char *fstype;
	const char *source;
	VssDev dev;    /* mountinfo major:minor: the superblock */
	bool mount_ro; /* this mount is read-only (its superblock may not be) */
	VssVerdict verdict;
	const char *reason; /* one line of English, never NULL */
	unsigned level;	    /* VSS_VERDICT_FREEZE only: 0 is frozen first */
	/* SKIP_DUPLICATE, and SKIP_EXCLUDED of a superblock frozen anyway: the deciding entry. */
	const struct VssPlanEntry *same_as;
} VssPlanEntry;

typedef struct VssPlan VssPlan;

/*
 * Classifies every mount of m[0..n) and orders the targets (see above). o may be NULL (no
 * globs, no relations). Returns 0, -ENOMEM, or -EINVAL for n > VSS_MOUNTS_MAX. *ret owns
 * copies of all strings: m may be freed afterwards.
 */
int vss_plan_build(const VssMount *m, size_t n, const VssPlanOptions *o, VssPlan **ret);

/* NULL is fine. Returns NULL. */
VssPlan *vss_plan_free(VssPlan *p);

/* Every mount, in table order. */
size_t vss_plan_n_entries(const VssPlan *p);
const VssPlanEntry *vss_plan_entry(const VssPlan *p, size_t i);

/*
 * The VSS_VERDICT_FREEZE entries in freeze order: by level, then table order. Entries of one
 * level are contiguous; thaw in reverse order.
 */
size_t vss_plan_n_targets(const VssPlan *p);
const VssPlanEntry *vss_plan_target(const VssPlan *p, size_t i);
/* 1 + the highest level, 0 without targets. */
unsigned vss_plan_n_levels(const VssPlan *p);

/*
 * False if some writable filesystem in scope cannot be frozen (a VSS_VERDICT_CANNOT_FREEZE
 * entry): the backup cannot be application-consistent.
 */
bool vss_plan_consistent(const VssPlan *p);

/* "freeze", "duplicate", "read-only", "pseudo", "remote", "fuse", "overlay", "no-device",
 * "excluded", "cannot-freeze"; NULL for values out of range. */
const char *vss_verdict_to_string(VssVerdict v);
