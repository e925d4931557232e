/* SPDX-License-Identifier: MIT */
/*
 * FREEZE/THAW safety gate (see hostsim-vss-gate.h). mountinfo format (proc(5)):
 * "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS",
 * with blanks, tabs, newlines and backslashes in paths escaped as \NNN (octal).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/macro.h"
#include "hostsim/hostsim-vss-gate.h"

#define MAX_FIELDS 64u

bool hs_vss_gate_type_is_inert(const char *fstype)
{
	/* Types without freeze support: FIFREEZE fails with EOPNOTSUPP on them. */
	static const char *const inert[] = {
		"autofs",     "binfmt_misc", "bpf",	  "cgroup",   "cgroup2", "configfs",
		"debugfs",    "devpts",	     "devtmpfs",  "efivarfs", "fuse",	 "fusectl",
		"hugetlbfs",  "mqueue",	     "nsfs",	  "proc",     "pstore",	 "ramfs",
		"rpc_pipefs", "securityfs",  "selinuxfs", "sysfs",    "tmpfs",	 "tracefs",
	};

	/* Userspace FUSE filesystems ("fuse.sshfs", our own "fuse.hvguest-sim"); not fuseblk. */
	if (strncmp(fstype, "fuse.", 5) == 0)
		return true;
	for (size_t i = 0; i < ELEMENTSOF(inert); i++)
		if (strcmp(fstype, inert[i]) == 0)
			return true;
	return false;
}

/* Undoes the \NNN escapes in place. */
static void unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

static bool is_allowed(dev_t d, const dev_t *allowed, size_t n_allowed)
{
	for (size_t i = 0; i < n_allowed; i++)
		if (allowed[i] == d)
			return true;
	return false;
}

/* Checks one line (modified in place). 0 = fine, -EPERM = refuse, -EBADMSG = malformed. */
static int check_line(char *line, const dev_t *allowed, size_t n_allowed,
		      HsGateSourceRdev source_rdev, void *userdata, char *reason,
		      size_t reason_size)
{
	char *field[MAX_FIELDS], *save = NULL, *fstype, *source, *mountpoint;
	unsigned maj, min;
	size_t n = 0, dash;
	dev_t dev, src = 0;

	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (n >= MAX_FIELDS)
			return -EBADMSG;
		field[n++] = t;
	}
	/* The separator comes after the six fixed fields; type and source follow it. */
	for (dash = 6; dash < n && strcmp(field[dash], "-") != 0; dash++)
		;
	if (dash + 2 >= n)
		return -EBADMSG;
	if (sscanf(field[2], "%u:%u", &maj, &min) != 2)
		return -EBADMSG;

	mountpoint = field[4];
	fstype = field[dash + 1];
	source = field[dash + 2];
	unescape(mountpoint);
	unescape(source);

	if (hs_vss_gate_type_is_inert(fstype))
		return 0;

	dev = makedev(maj, min);
	if (strcmp(mountpoint, "/") != 0) {
		if (is_allowed(dev, allowed, n_allowed))
			return 0;
		/* btrfs: anonymous superblock number; the source names the device. */
		if (maj == 0 && source[0] == '/' && source_rdev &&
		    source_rdev(userdata, source, &src) >= 0 && is_allowed(src, allowed, n_allowed))
			return 0;
	}

	if (reason)
		(void)snprintf(reason, reason_size,
			       "'%s' (%s from '%s', device %u:%u) could be frozen and is %s",
			       mountpoint, fstype, source, maj, min,
			       strcmp(mountpoint, "/") == 0 ? "the root"
							    : "not an allowed test device");
	return -EPERM;
}

int hs_vss_gate_check(const char *mountinfo, const dev_t *allowed, size_t n_allowed,
		      HsGateSourceRdev source_rdev, void *userdata, char *reason,
		      size_t reason_size)
{
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;

	if (!mountinfo)
		return -EINVAL;
	copy = strdup(mountinfo);
	if (!copy)
		return -ENOMEM;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int r = check_line(line, allowed, n_allowed, source_rdev, userdata, reason,
				   reason_size);
		if (r < 0)
			return r;
	}
	return 0;
}
