/* SPDX-License-Identifier: MIT */
/*
 * Child processes of the simulator: spawned with fork+execve (no shell), in their own
 * session, with PR_SET_PDEATHSIG=SIGKILL, stdin on /dev/null, stdout+stderr on a given
 * descriptor, every other descriptor closed, default signal dispositions; waited for with
 * pidfd_open()+poll() and a timeout on every wait.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct HsProc {
	pid_t pid;
	int pidfd; /* -EBADF when pidfd_open() is unavailable */
	bool reaped;
	int status; /* wait status once reaped */
} HsProc;

#define HS_PROC_INFINITY UINT64_MAX

/*
 * Starts argv (argv[0] looked up in PATH when it has no '/'); extra_env (NULL or
 * NULL-terminated "K=V") overrides the inherited environment. out_fd: stdout and stderr, or
 * -1 to inherit ours. Exec failures are reported as the child's errno (e.g. -ENOENT).
 */
int hs_proc_spawn(char *const argv[], char *const extra_env[], int out_fd, HsProc *ret);

/*
 * Like hs_proc_spawn(), but the n_keep descriptors in keep (each > 2) stay open across exec
 * under the same numbers. -EINVAL for a descriptor <= 2.
 */
int hs_proc_spawn_keep(char *const argv[], char *const extra_env[], int out_fd, const int *keep,
		       size_t n_keep, HsProc *ret);

/* Waits up to timeout_usec for the child to exit. -ETIMEDOUT if it is still running. */
int hs_proc_wait(HsProc *p, uint64_t timeout_usec, int *ret_status);

/* Sends sig unless the child was already reaped (-ESRCH then). */
int hs_proc_kill(HsProc *p, int sig);

/* Closes the pidfd (the child is not waited for). */
void hs_proc_done(HsProc *p);
