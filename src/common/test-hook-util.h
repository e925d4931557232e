/* SPDX-License-Identifier: MIT */
/* Helpers shared by test-hook.c and test-hook-groups.c. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "common/hook.h"

#define SEC 1000000ull
#define MSEC 1000ull

static inline uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000u;
}

/* Runs argv with a 5 s deadline and asserts that it could be run. */
static inline void run_ok(const char *const argv[], const char *const env[], HookResult *res)
{
	assert_int_equal(hook_run(argv, env, 5 * SEC, res), 0);
	assert_non_null(res->out);
	assert_non_null(res->err);
}

static inline unsigned count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* True once pid is gone or a zombie (its parent, init, has yet to reap it). */
static inline bool pid_dead(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p)
		return true;
	p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

static inline bool wait_pid_dead(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		if (pid_dead(pid))
			return true;
		usleep(10 * 1000);
	}
	return false;
}
