/* SPDX-License-Identifier: MIT */
/*
 * Shared between the jail library (vss-jail*.c, running in the test process and in the
 * forked jail builder) and the jail's init (vss-jail-init.c, the supervisor exec'd inside
 * the jail): the control protocol and small process/file helpers. Nothing here logs.
 *
 * Control socket: AF_UNIX SOCK_SEQPACKET, one VjHeader plus payload per message, descriptors
 * as SCM_RIGHTS. The jail sends SETUP (builder) then READY (init, carrying a pidfd of
 * itself); afterwards the test process sends requests and the init answers each with one
 * VJ_REPLY. EOF on the socket (the test process died) makes the init kill, thaw and exit.
 * The nanny outside the jail watches the test process with a pidfd as well and exits with
 * it, which the init sees as SIGTERM (PR_SET_PDEATHSIG): two independent paths, and no
 * handle on the test process inside the jail.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VJ_MAX_IMAGES 64u
#define VJ_MAX_PAYLOAD 65536u
#define VJ_STAGE_SIZE 64u

/* Descriptors handed to the init across execve() (fixed numbers). */
#define VJ_FD_CTL 3
#define VJ_FD_LOG 4    /* memfd: captured /dev/log lines */
#define VJ_FD_IMAGE0 5 /* then one O_DIRECTORY fd per image, in image order */

typedef enum VjType {
	VJ_MSG_SETUP = 1, /* builder -> test: result, VjSetup payload */
	VJ_MSG_READY,	  /* init -> test: result; SCM_RIGHTS pidfd of the init */
	VJ_REQ_SPAWN,	  /* payload: argc, envc, strings; SCM_RIGHTS: optional output fd */
	VJ_REQ_STATUS,	  /* arg: jail pid */
	VJ_REQ_MOUNT,	  /* arg: flags; payload: source\0target\0fstype\0data\0 */
	VJ_REQ_UMOUNT,	  /* payload: target\0 */
	VJ_REQ_THAW,	  /* thaw every image through the init's descriptors */
	VJ_REQ_SHUTDOWN,  /* kill everything, thaw, unmount, exit */
	VJ_REPLY,
} VjType;

typedef struct VjHeader {
	uint32_t type;
	int32_t result; /* >= 0 or negative errno */
	int32_t arg;
	int32_t arg2;
	uint32_t len; /* payload bytes that follow */
} VjHeader;

/* STATUS reply: result = 0 running, 1 exited (arg = wait status); -ECHILD unknown pid. */

typedef struct VjImageInfo {
	uint64_t loop_rdev; /* the loop block device */
	uint64_t mnt_dev;   /* st_dev of the mounted image's root directory */
	uint32_t loop_index;
	int32_t parent;
} VjImageInfo;

typedef struct VjSetup {
	char stage[VJ_STAGE_SIZE]; /* where a failure happened */
	uint32_t n_images;
	VjImageInfo images[VJ_MAX_IMAGES];
} VjSetup;

/* Sends one message with up to 4 descriptors. */
int vj_send(int sock, const VjHeader *h, const void *payload, const int *fds, size_t n_fds);
/*
 * Receives one message, waiting at most timeout_ms (-1: forever). The payload (h->len bytes)
 * is copied to payload (size bytes; -EMSGSIZE if larger). Received descriptors land in fds
 * (CLOEXEC) up to max_fds, extra ones are closed. Returns 0, -ECONNRESET on EOF or
 * -ETIMEDOUT.
 */
int vj_recv(int sock, VjHeader *h, void *payload, size_t size, int *fds, size_t max_fds,
	    size_t *ret_n_fds, int timeout_ms);

int vj_pidfd_open(pid_t pid);
int vj_pidfd_send_signal(int pidfd, int sig);
/* The pid a pidfd refers to, as seen in our pid namespace (from fdinfo). */
int vj_pidfd_pid(int pidfd, pid_t *ret);
/* 0 when the process has exited, -ETIMEDOUT after timeout_usec. */
int vj_pidfd_wait(int pidfd, uint64_t timeout_usec);

uint64_t vj_now_usec(void);

/* Looks name up in the sbin/bin directories (the test's PATH may lack /usr/sbin). */
int vj_find_tool(const char *name, char *buf, size_t size);

/*
 * Runs argv (argv[0] an absolute path) with stdin and stdout/stderr on /dev/null, or
 * stdout/stderr captured into *ret_out (NUL-terminated, at most 1 MiB) when ret_out is set.
 * Waits at most timeout_usec (then SIGKILL, -ETIMEDOUT). Returns the wait status in
 * ret_status. Safe in a multi-threaded caller: the child only execs.
 */
int vj_run(char *const argv[], uint64_t timeout_usec, int *ret_status, char **ret_out);

/* Closes every descriptor >= 3 except the listed ones (in the child after fork()). */
void vj_close_all_but(const int *keep, size_t n_keep);

/*
 * File helpers below a root directory descriptor (the jail root): paths are resolved as if
 * rootfd were "/" (openat2 RESOLVE_IN_ROOT), so absolute symlinks cannot escape.
 */
int vj_mkdir_p_at(int rootfd, const char *path, mode_t mode);
int vj_open_at(int rootfd, const char *path, int flags, mode_t mode);
int vj_write_file_at(int rootfd, const char *path, const void *data, size_t len, mode_t mode);
/* Copies a host file (following symlinks) to path below rootfd, creating parents. */
int vj_copy_file_at(int rootfd, const char *host_path, const char *path, mode_t mode);
/*
 * Copies an executable and everything it loads (ldd: libraries and the ELF interpreter) to
 * the same paths below rootfd. Fails with -ENOENT if a library is "not found".
 */
int vj_install_exec_at(int rootfd, const char *host_path);
