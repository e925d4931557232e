/* SPDX-License-Identifier: MIT */
/*
 * Safety gate before every FREEZE or THAW the simulated host sends (test-harness.md §6,
 * layer 3): the daemon holding /dev/vmbus/hv_vss freezes whatever its own mount table shows,
 * so the request may go out only if every filesystem that daemon can see and that could be
 * frozen lives on a block device the test explicitly allowed (its own loop images), and "/"
 * is not one of them. Freezing this machine's root hangs it.
 *
 * Pure policy over the text of /proc/<pid>/mountinfo; resolving a mount's source path to a
 * device number (needed for btrfs, whose superblocks carry anonymous 0:N numbers) goes
 * through a callback. Conservative on purpose: only filesystem types that cannot be frozen
 * (memory and kernel pseudo filesystems, plain FUSE) are ignored; everything else, overlay
 * and network filesystems included, must be allowed explicitly.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Resolves a mount source such as "/dev/loop3" as the daemon sees it; 0 or negative errno. */
typedef int (*HsGateSourceRdev)(void *userdata, const char *source, dev_t *ret);

/*
 * True for filesystem types FIFREEZE can never act on (tmpfs, proc, sysfs, cgroup2, fuse,
 * fuse.*, ...). Anything unknown is treated as freezable.
 */
bool hs_vss_gate_type_is_inert(const char *fstype);

/*
 * Checks mountinfo (NUL-terminated text). A mount is a candidate unless its type is inert;
 * a candidate passes when its major:minor is in allowed, or its major is 0 (btrfs and
 * friends) and source_rdev() resolves its source to an allowed device; a candidate mounted
 * on "/" never passes. Returns 0 when the request may go out, -EPERM when it must not
 * (reason, if not NULL, describes the first offending mount), -EBADMSG on a malformed line.
 */
int hs_vss_gate_check(const char *mountinfo, const dev_t *allowed, size_t n_allowed,
		      HsGateSourceRdev source_rdev, void *userdata, char *reason,
		      size_t reason_size);
