/* SPDX-License-Identifier: MIT */
/*
 * /proc/self/mountinfo parser (proc(5), fs/proc_namespace.c show_mountinfo()). One line per
 * mount, fields separated by single spaces:
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2) (3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
 *
 * mount id, parent id, major:minor of the superblock (st_dev; anonymous 0:N for btrfs, tmpfs,
 * ...), root of the mount inside the filesystem, mount point, per-mount options, zero or more
 * optional fields ended by "-", filesystem type, source, per-superblock options. The kernel
 * escapes ' ', '\t', '\n' and '\\' in root, mount point and source as \ooo (octal).
 *
 * Pure: no I/O, no logging. Lines that do not have this shape are skipped and counted, never
 * trusted in part; the text may hold any bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Largest mountinfo text accepted, bytes (a node with 100k mounts writes about 20 MiB). */
#define VSS_MOUNTINFO_MAX (64u * 1024u * 1024u)
/* Most mounts accepted: bounds every later pass over the table. */
#define VSS_MOUNTS_MAX 131072u

typedef struct VssMount {
	unsigned mount_id;
	unsigned parent_id;
	/* Superblock device number: same for every bind mount and btrfs subvolume of one fs. */
	unsigned major, minor;
	const char *root;	   /* path inside the filesystem mounted here ("/" or a subtree) */
	const char *path;	   /* mount point, absolute, unescaped */
	const char *mount_options; /* per mount, e.g. "ro,relatime" for a read-only bind */
	const char *fstype;	   /* "ext4", "fuse.sshfs", never empty */
	const char *source;	   /* unescaped, e.g. "/dev/sda1", "srv:/export"; may be "" */
	const char *super_options; /* per superblock, e.g. "rw,errors=remount-ro" */
	bool mount_ro;		   /* "ro" in the mount options: this path only */
	bool super_ro;		   /* "ro" in the super options: the filesystem itself */
	char *strings;		   /* private: the one allocation holding the strings above */
} VssMount;

/*
 * Parses mountinfo text (len bytes, need not be NUL-terminated) into a malloc'ed array of
 * *ret_n entries in table order (*ret is NULL when there are none). Returns the number of
 * non-empty lines skipped as malformed (>= 0), -EFBIG if len > VSS_MOUNTINFO_MAX, -E2BIG for
 * more than VSS_MOUNTS_MAX entries, or -ENOMEM. Free with vss_mounts_free().
 */
int vss_mounts_parse(const char *text, size_t len, VssMount **ret, size_t *ret_n);

/* Frees an array from vss_mounts_parse(); NULL is fine. Returns NULL. */
VssMount *vss_mounts_free(VssMount *m, size_t n);

/*
 * True if the comma-separated option list opts contains the option name exactly (a
 * key=value option matches its key).
 */
bool vss_mount_has_option(const char *opts, const char *name);

/*
 * True if path equals the mount point mp or lies below it, comparing whole components
 * ("/var" covers "/var" and "/var/x", not "/variable"; "/" covers every absolute path).
 */
bool vss_path_below(const char *path, const char *mp);
