/* SPDX-License-Identifier: MIT */
/* Fixture and helpers shared by the test-vss-hooks*.c programs (one temporary tree per test). */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vss/vss-hooks.h"

#define SEC 1000000ull
#define MSEC 1000ull

typedef struct Fx {
	char root[64];
	char dir[128];	 /* the hooks directory */
	char bin[128];	 /* fake clients, first in PATH */
	char log[128];	 /* what hooks and fakes write */
	char state[128]; /* HOOK_STATE_DIR of the examples */
	char env[8][320];
	const char *extra[9];
	VssHooksConfig cfg;
	VssHooksBackup backup;
	VssHooks *live[4]; /* freed by teardown if a failed test could not: no holder left */
} Fx;

static const char *const test_mounts[] = { "/", "/srv/data", "/mnt/new\nline", "/mnt/back\\slash",
					   NULL };

static inline uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static inline void write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = strlen(content);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* The file's content, NUL-terminated ("" if it does not exist); *ret_size if non-NULL. */
static inline char *read_file(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 20);
	size_t n = 0;

	assert_non_null(buf);
	if (f) {
		n = fread(buf, 1, (1 << 20) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (ret_size)
		*ret_size = n;
	return buf;
}

static inline void write_hook(Fx *fx, const char *name, const char *body)
{
	char path[256], text[4096];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	write_file(path, text, 0755);
}

/* A hook that logs "NAME ARG OPERATION FREEZE_RESULT" and exits with code. */
static inline void write_logging_hook(Fx *fx, const char *name, int code)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "echo \"${0##*/} $1 $HVGUEST_VSS_OPERATION ${HVGUEST_VSS_FREEZE_RESULT:--}\" "
		 ">>\"$HOOK_LOG\"\nexit %d",
		 code);
	write_hook(fx, name, body);
}

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline void set_env(Fx *fx, unsigned i, const char *name, const char *value)
{
	snprintf(fx->env[i], sizeof(fx->env[i]), "%s=%s", name, value);
	fx->extra[i] = fx->env[i];
}

static inline int setup(void **state)
{
	Fx *fx = calloc(1, sizeof(*fx));
	char path[300];

	assert_non_null(fx);
	snprintf(fx->root, sizeof(fx->root), "/tmp/test-vss-hooks-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	assert_int_equal(chmod(fx->root, 0755), 0);
	snprintf(fx->dir, sizeof(fx->dir), "%s/vss.d", fx->root);
	snprintf(fx->bin, sizeof(fx->bin), "%s/bin", fx->root);
	snprintf(fx->log, sizeof(fx->log), "%s/log", fx->root);
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->root);
	assert_int_equal(mkdir(fx->dir, 0755), 0);
	assert_int_equal(mkdir(fx->bin, 0755), 0);
	assert_int_equal(chmod(fx->dir, 0755), 0);

	snprintf(path, sizeof(path), "%s:/usr/sbin:/usr/bin:/sbin:/bin", fx->bin);
	set_env(fx, 0, "PATH", path);
	set_env(fx, 1, "HOOK_LOG", fx->log);
	set_env(fx, 2, "ROOT", fx->root);
	set_env(fx, 3, "FAKE_SQL_LOG", fx->log);
	set_env(fx, 4, "HOOK_STATE_DIR", fx->state);
	set_env(fx, 5, "HOOK_CONFIG", "/nonexistent/hvguest-test");
	fx->extra[6] = NULL;

	fx->cfg = (VssHooksConfig){
		.dir = fx->dir,
		.timeout_usec = 10 * SEC,
		.holder_grace_usec = 2 * SEC,
		.extra_env = fx->extra,
	};
	fx->backup = (VssHooksBackup){
		.id = "test-1",
		.mounts = test_mounts,
		.deadline_sec = 2000000000,
	};
	*state = fx;
	return 0;
}

static inline int teardown(void **state)
{
	Fx *fx = *state;

	for (size_t i = 0; i < ELEMENTSOF(fx->live); i++)
		vss_hooks_free(fx->live[i]);
	nftw(fx->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static inline VssHooks *new_hooks(Fx *fx)
{
	VssHooks *h = NULL;

	assert_int_equal(vss_hooks_new(&fx->cfg, &fx->backup, &h), 0);
	assert_non_null(h);
	for (size_t i = 0; i < ELEMENTSOF(fx->live); i++)
		if (!fx->live[i]) {
			fx->live[i] = h;
			return h;
		}
	fail_msg("too many live VssHooks");
	return NULL;
}

static inline void drop_hooks(Fx *fx, VssHooks *h)
{
	for (size_t i = 0; i < ELEMENTSOF(fx->live); i++)
		if (fx->live[i] == h)
			fx->live[i] = NULL;
	vss_hooks_free(h);
}

/* True if pid is running (not gone, not a zombie waiting for init). */
static inline bool pid_alive(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return false;
	return p[2] != 'Z' && p[2] != 'X';
}

static inline bool wait_pid_gone(pid_t pid)
{
	for (int i = 0; i < 300; i++) {
		if (!pid_alive(pid))
			return true;
		usleep(10 * 1000);
	}
	return false;
}

static inline pid_t read_pid(Fx *fx, const char *name)
{
	char path[256];
	char *s;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", fx->root, name);
	s = read_file(path, NULL);
	pid = (pid_t)atoi(s);
	free(s);
	assert_true(pid > 1);
	return pid;
}
