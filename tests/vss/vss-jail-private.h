/* SPDX-License-Identifier: MIT */
/*
 * The VssJail object, shared by vss-jail.c (creation, teardown, files, mounts) and
 * vss-jail-proc.c (processes, probes, writers). Test-process side only.
 */
#pragma once

#include <sys/types.h>

#include "vss-jail-internal.h"
#include "vss-jail.h"

#define VJ_MAX_STRAYS 32u

struct VssJail {
	VssRootId root;
	/* Empty directory on the real /tmp the builder mounts its work tmpfs on; removed at free.
	 */
	char work_dir[64];
	size_t n_images;
	VssJailFs fs[VSS_JAIL_MAX_IMAGES];
	dev_t loop_rdev[VSS_JAIL_MAX_IMAGES];
	dev_t mnt_dev[VSS_JAIL_MAX_IMAGES];
	int img_fd[VSS_JAIL_MAX_IMAGES];
	int ctl;
	int log_fd;
	pid_t nanny;
	int nanny_pidfd;
	pid_t init_pid;
	int init_pidfd;
	int rootfd; /* O_PATH on the jail root, through /proc/<init>/root */
	dev_t root_dev;
	ino_t root_ino, mntns_ino;
	pid_t strays[VJ_MAX_STRAYS]; /* probe children that outlived their timeout */
	size_t n_strays;
};

/* One request to the init and its reply (with at most one descriptor each way). */
int vj_jail_request(VssJail *j, VjType type, int arg, const void *payload, size_t len, int send_fd,
		    VjHeader *ret_reply, int *ret_fd);
/* Appends s and its NUL to buf (size bytes, *used so far); -E2BIG when full. */
int vj_append_string(char *buf, size_t size, size_t *used, const char *s);
