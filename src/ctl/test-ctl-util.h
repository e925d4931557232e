/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the tests that run the built hvctl binary ($HVCTL): spawn it with stdout
 * and stderr on pipes, run it to completion collecting both and the exit status, and read
 * the line-by-line output of a long-running "hvctl kvp watch". Header-only (static inline):
 * included by test programs only; the cmocka assertions fail the running test.
 */
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/macro.h"

extern char **environ;

/* Capacity of each of HvctlRun's buffers (output beyond it fails the test's read). */
#define HVCTL_OUT_MAX 32768
/* How long hvctl may stay silent, or a watch take to print a line, in milliseconds. */
#define HVCTL_WAIT_MSEC 10000

/* One finished run of hvctl. */
typedef struct HvctlRun {
	int status; /* exit status, or -1 if killed by a signal */
	char out[HVCTL_OUT_MAX];
	char err[HVCTL_OUT_MAX];
} HvctlRun;

/*
 * Spawns $HVCTL [--state-dir state_dir] args... (args NULL-terminated; state_dir NULL: no
 * --state-dir) with stdout and stderr on pipes, whose read ends go to *ret_out and *ret_err.
 */
static inline pid_t hvctl_spawn(const char *state_dir, const char *const *args, int *ret_out,
				int *ret_err)
{
	posix_spawn_file_actions_t fa;
	char *argv[32];
	int out[2], err[2];
	size_t n = 0;
	pid_t pid;

	argv[n++] = getenv("HVCTL");
	assert_non_null(argv[0]);
	if (state_dir) {
		argv[n++] = (char *)"--state-dir";
		argv[n++] = (char *)state_dir;
	}
	for (size_t i = 0; args[i]; i++) {
		assert_true(n < ELEMENTSOF(argv) - 1);
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO), 0);
	/* posix_spawn() only reads argv, as execve() does. */
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	*ret_out = out[0];
	*ret_err = err[0];
	return pid;
}

/*
 * Reads fd_out into out and fd_err into err (each NUL-terminated, at most size - 1 bytes)
 * until both end, closes them and reaps pid. Returns its exit status, -1 if it was killed.
 */
static inline int hvctl_collect(pid_t pid, int fd_out, int fd_err, char *out, size_t out_size,
				char *err, size_t err_size)
{
	char *buf[2] = { out, err };
	size_t len[2] = { 0, 0 }, size[2] = { out_size, err_size };
	struct pollfd p[2] = { { .fd = fd_out, .events = POLLIN },
			       { .fd = fd_err, .events = POLLIN } };
	int status;

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		assert_true(poll(p, 2, HVCTL_WAIT_MSEC) > 0);
		for (int i = 0; i < 2; i++) {
			ssize_t k;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			k = read(p[i].fd, buf[i] + len[i], size[i] - 1 - len[i]);
			assert_true(k >= 0);
			if (k == 0) {
				close(p[i].fd);
				p[i].fd = -1;
			}
			len[i] += (size_t)k;
		}
	}
	out[len[0]] = '\0';
	err[len[1]] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs $HVCTL [--state-dir state_dir] args... to completion into r; returns r->status. */
static inline int hvctl_run(HvctlRun *r, const char *state_dir, const char *const *args)
{
	int out, err;
	pid_t pid = hvctl_spawn(state_dir, args, &out, &err);

	r->status = hvctl_collect(pid, out, err, r->out, sizeof(r->out), r->err, sizeof(r->err));
	return r->status;
}

#define HVCTL_RUN(r, state_dir, ...) \
	hvctl_run((r), (state_dir), (const char *const[]){ __VA_ARGS__, NULL })

static inline uint64_t hvctl_monotonic_msec(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Reads from fd (a running hvctl's stdout or stderr) into buf (buf_size bytes, *len used)
 * until it holds a complete line, within HVCTL_WAIT_MSEC; returns that line in line (size
 * bytes, without the '\n') and consumes it from buf. Fails if fd ends first.
 */
static inline void hvctl_read_line(int fd, char *buf, size_t buf_size, size_t *len, char *line,
				   size_t size)
{
	uint64_t deadline = hvctl_monotonic_msec() + HVCTL_WAIT_MSEC;

	for (;;) {
		char *nl = memchr(buf, '\n', *len);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (nl) {
			size_t n = (size_t)(nl - buf);

			assert_true(n < size);
			memcpy(line, buf, n);
			line[n] = '\0';
			memmove(buf, nl + 1, *len - n - 1);
			*len -= n + 1;
			return;
		}
		assert_true(hvctl_monotonic_msec() < deadline);
		assert_true(poll(&p, 1, 100) >= 0);
		if (!p.revents)
			continue;
		k = read(fd, buf + *len, buf_size - *len);
		if (k <= 0)
			fail_msg("hvctl watch ended its output early");
		*len += (size_t)k;
	}
}

/* Fails the test unless needle occurs in haystack (an output of hvctl). */
static inline void hvctl_assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' not found in:\n%s", needle, haystack);
}
