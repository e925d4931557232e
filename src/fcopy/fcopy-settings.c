/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/conf.h"
#include "config.h"
#include "fcopy/fcopy-settings.h"

static const ConfItem fcopy_conf_table[] = {
	{ "fcopy", "allowed_roots", CONF_STRV, offsetof(FcopySettings, allowed_roots), 0, 0 },
	{ "fcopy", "file_mode", CONF_MODE, offsetof(FcopySettings, file_mode), 1, 07777 },
	{ "fcopy", "dir_mode", CONF_MODE, offsetof(FcopySettings, dir_mode), 1, 07777 },
	{ "fcopy", "owner", CONF_STRING, offsetof(FcopySettings, owner), 0, 0 },
	{ "fcopy", "group", CONF_STRING, offsetof(FcopySettings, group), 0, 0 },
	{ "fcopy", "log_level", CONF_LOGLEVEL, offsetof(FcopySettings, log_level), 0, 7 },
};

int fcopy_settings_init(FcopySettings *s)
{
	*s = (FcopySettings){
		.file_mode = FCOPY_FILE_MODE_DEFAULT,
		.dir_mode = FCOPY_DIR_MODE_DEFAULT,
		.log_level = LOG_INFO,
		.uio_ring_fd = -EBADF,
		.uio_irq_fd = -EBADF,
	};
	s->sysfs_dir = strdup("/sys");
	s->dev_dir = strdup("/dev");
	s->run_dir = strdup(FCOPY_RUN_DIR);
	if (!s->sysfs_dir || !s->dev_dir || !s->run_dir) {
		fcopy_settings_done(s);
		return -ENOMEM;
	}
	return 0;
}

int fcopy_settings_load(FcopySettings *s, const char *file, const char *dropin_dir,
			ConfError *reterr)
{
	int r = conf_load(fcopy_conf_table, ELEMENTSOF(fcopy_conf_table), s, file, dropin_dir,
			  reterr);
	if (r < 0)
		return r;
	/* CONF_STRV has no per-word check: roots are compared lexically, so they must be absolute.
	 */
	for (char **p = s->allowed_roots; p && *p; p++) {
		if ((*p)[0] == '/')
			continue;
		*reterr = (ConfError){ .line = 0 };
		(void)snprintf(reterr->file, sizeof(reterr->file), "%s", file ? file : "(none)");
		(void)snprintf(reterr->key, sizeof(reterr->key), "allowed_roots");
		(void)snprintf(reterr->message, sizeof(reterr->message),
			       "'%.100s' is not an absolute directory", *p);
		return -EINVAL;
	}
	return 0;
}

void fcopy_settings_done(FcopySettings *s)
{
	conf_free(fcopy_conf_table, ELEMENTSOF(fcopy_conf_table), s);
	free(s->device);
	free(s->sysfs_dir);
	free(s->dev_dir);
	free(s->run_dir);
	s->device = s->sysfs_dir = s->dev_dir = s->run_dir = NULL;
}

/* A non-negative decimal int ending at *ret_end; -EINVAL otherwise. */
static int parse_fd(const char *s, int *ret, const char **ret_end)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || v > INT_MAX)
		return -EINVAL;
	*ret = (int)v;
	*ret_end = end;
	return 0;
}

int fcopy_settings_parse_uio_fds(const char *s, int *ret_ring, int *ret_irq)
{
	const char *end;
	int ring, irq;

	if (!s || parse_fd(s, &ring, &end) < 0 || *end != ',')
		return -EINVAL;
	if (parse_fd(end + 1, &irq, &end) < 0 || *end != '\0' || irq == ring)
		return -EINVAL;
	*ret_ring = ring;
	*ret_irq = irq;
	return 0;
}

/* Digits only: a number (uid/gid); names are looked up. */
static bool is_number(const char *s, unsigned long *ret)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*ret = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *ret < UINT32_MAX;
}

static int resolve_user(const char *name, uid_t *ret)
{
	struct passwd pw, *res = NULL;
	unsigned long n;
	char buf[4096];
	int r;

	if (is_number(name, &n)) {
		*ret = (uid_t)n;
		return 0;
	}
	r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	if (!res)
		return -ESRCH;
	*ret = res->pw_uid;
	return 0;
}

static int resolve_group(const char *name, gid_t *ret)
{
	struct group gr, *res = NULL;
	unsigned long n;
	char buf[4096];
	int r;

	if (is_number(name, &n)) {
		*ret = (gid_t)n;
		return 0;
	}
	r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	if (!res)
		return -ESRCH;
	*ret = res->gr_gid;
	return 0;
}

int fcopy_settings_policy(const FcopySettings *s, FcopyPolicy *ret)
{
	bool has_owner = s->owner && s->owner[0], has_group = s->group && s->group[0];
	FcopyPolicy p = {
		.allowed_roots = (s->allowed_roots && s->allowed_roots[0])
					 ? (const char *const *)s->allowed_roots
					 : NULL,
		.dir_mode = s->dir_mode,
		.file_mode = s->file_mode,
		.set_owner = has_owner || has_group,
		/* What the files would get anyway: the daemon's own ids. */
		.uid = geteuid(),
		.gid = getegid(),
	};
	int r;

	if (has_owner) {
		r = resolve_user(s->owner, &p.uid);
		if (r < 0)
			return r;
	}
	if (has_group) {
		r = resolve_group(s->group, &p.gid);
		if (r < 0)
			return r;
	}
	*ret = p;
	return 0;
}
