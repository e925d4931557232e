/* SPDX-License-Identifier: MIT */
/*
 * hvctl vss plan: the freeze plan of vss-plan.h for this machine's mount table (or a saved
 * one), in words or JSON. Plans only: no mount point is opened and nothing is frozen.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "config.h"
#include "ctl/ctl-json.h"
#include "ctl/ctl-vss.h"
#include "vss/vss-mounts.h"
#include "vss/vss-plan.h"
#include "vss/vss-settings.h"

#define MOUNTINFO_PATH "/proc/self/mountinfo"
/* Columns wider than this are not padded (the reason column follows anyway). */
#define PATH_COLUMN_MAX 40u
#define TYPE_COLUMN_MAX 12u

int ctl_strv_push(char ***l, const char *s)
{
	size_t n = strv_length(*l);
	char *copy = strdup(s), **nl;

	if (!copy)
		return -ENOMEM;
	nl = reallocarray(*l, n + 2, sizeof(char *));
	if (!nl) {
		free(copy);
		return -ENOMEM;
	}
	nl[n] = copy;
	nl[n + 1] = NULL;
	*l = nl;
	return 0;
}

/* The daemon's own [vss] settings, so both read the same keys the same way. */
static void plan_config_done(VssSettings *c)
{
	vss_settings_done(c);
}

/* Configuration, then the command line's globs appended ('/' in a glob: a mount point glob). */
static int load_config(const CtlOptions *o, VssSettings *c)
{
	ConfError err = { 0 };
	int r;

	if (o->vss_config)
		r = vss_settings_load(c, o->vss_config, NULL, &err);
	else
		r = vss_settings_load(c, HVGUEST_CONF_FILE, HVGUEST_CONF_DIR, &err);
	if (r < 0) {
		if (err.file[0] != '\0')
			return log_error_errno(r, "Invalid configuration %s:%u%s%s: %s: %m",
					       err.file, err.line, err.key[0] ? " key " : "",
					       err.key, err.message);
		return log_error_errno(r, "Cannot read the configuration: %m");
	}
	for (char *const *g = o->vss_include; g && *g; g++) {
		r = ctl_strv_push(strchr(*g, '/') ? &c->include_mounts : &c->include_types, *g);
		if (r < 0)
			return log_oom();
	}
	for (char *const *g = o->vss_exclude; g && *g; g++) {
		r = ctl_strv_push(strchr(*g, '/') ? &c->exclude_mounts : &c->exclude_types, *g);
		if (r < 0)
			return log_oom();
	}
	return 0;
}

static int read_mounts(const CtlOptions *o, VssMount **ret, size_t *ret_n)
{
	const char *path = o->vss_mountinfo ? o->vss_mountinfo : MOUNTINFO_PATH;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_full_file_at(AT_FDCWD, path, VSS_MOUNTINFO_MAX, &text, &len);
	if (r < 0)
		return log_error_errno(r, "Cannot read the mount table '%s': %m", path);
	r = vss_mounts_parse(text, len, ret, ret_n);
	if (r < 0)
		return log_error_errno(r, "Cannot parse the mount table '%s': %m", path);
	if (r > 0)
		log_warning("Warning: %d malformed line(s) of '%s' ignored.", r, path);
	return 0;
}

static char *shown(const char *s)
{
	char *e = NULL;

	return ctl_text_escape(s, &e, NULL) < 0 ? NULL : e;
}

static size_t shown_width(const char *s, size_t cap)
{
	_cleanup_free_ char *e = NULL;
	size_t w = 0;

	if (ctl_text_escape(s, &e, &w) < 0)
		return 0;
	return MIN(w, cap);
}

/* Pads to width columns; the escaped text may be wider (then no padding). */
static int print_cell(FILE *f, const char *s, size_t width)
{
	_cleanup_free_ char *e = NULL;
	size_t w = 0;

	if (ctl_text_escape(s, &e, &w) < 0)
		return -ENOMEM;
	if (fprintf(f, "%s%*s  ", e, (int)(w < width ? width - w : 0), "") < 0)
		return -EIO;
	return 0;
}

static int print_text(FILE *f, const VssPlan *p)
{
	size_t pw = strlen("MOUNT POINT"), tw = strlen("TYPE"), dw = strlen("DEVICE");
	size_t n = vss_plan_n_entries(p), k = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		const VssPlanEntry *e = vss_plan_entry(p, i);
		char dev[32];

		pw = MAX(pw, shown_width(e->path, PATH_COLUMN_MAX));
		tw = MAX(tw, shown_width(e->fstype, TYPE_COLUMN_MAX));
		dw = MAX(dw,
			 (size_t)snprintf(dev, sizeof(dev), "%u:%u", e->dev.major, e->dev.minor));
	}
	if (fprintf(f, "%-*s  %-*s  %-*s  %-13s  %s\n", (int)pw, "MOUNT POINT", (int)tw, "TYPE",
		    (int)dw, "DEVICE", "VERDICT", "REASON") < 0)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		const VssPlanEntry *e = vss_plan_entry(p, i);
		_cleanup_free_ char *reason = shown(e->reason);
		char dev[32];

		if (!reason)
			return -ENOMEM;
		snprintf(dev, sizeof(dev), "%u:%u", e->dev.major, e->dev.minor);
		r = print_cell(f, e->path, pw);
		if (r >= 0)
			r = print_cell(f, e->fstype, tw);
		if (r < 0)
			return r;
		if (fprintf(f, "%-*s  %-13s  %s\n", (int)dw, dev, vss_verdict_to_string(e->verdict),
			    reason) < 0)
			return -EIO;
	}

	if (fprintf(f, "\n%s\n",
		    vss_plan_n_targets(p) ? "Freeze order (thaw in reverse):"
					  : "Nothing to freeze.") < 0)
		return -EIO;
	for (unsigned level = 0; level < vss_plan_n_levels(p); level++) {
		if (fprintf(f, "  level %u:", level) < 0)
			return -EIO;
		for (; k < vss_plan_n_targets(p) && vss_plan_target(p, k)->level == level; k++) {
			_cleanup_free_ char *path = shown(vss_plan_target(p, k)->path);

			if (!path)
				return -ENOMEM;
			if (fprintf(f, " %s", path) < 0)
				return -EIO;
		}
		if (fputc('\n', f) == EOF)
			return -EIO;
	}
	if (fprintf(f, "Application-consistent backup: %s\n",
		    vss_plan_consistent(p) ? "possible"
					   : "not possible (a writable filesystem in scope "
					     "cannot be frozen, see 'cannot-freeze')") < 0)
		return -EIO;
	return 0;
}

static int json_field(FILE *f, const char *sep, const char *key, const char *value)
{
	if (fprintf(f, "%s\"%s\":", sep, key) < 0)
		return -EIO;
	return ctl_json_print_string(f, value);
}

static int print_json_entry(FILE *f, const VssPlanEntry *e)
{
	char dev[32];
	int r;

	snprintf(dev, sizeof(dev), "%u:%u", e->dev.major, e->dev.minor);
	r = json_field(f, "{", "path", e->path);
	if (r >= 0)
		r = json_field(f, ",", "type", e->fstype);
	if (r >= 0)
		r = json_field(f, ",", "source", e->source);
	if (r >= 0)
		r = json_field(f, ",", "device", dev);
	if (r >= 0)
		r = json_field(f, ",", "verdict", vss_verdict_to_string(e->verdict));
	if (r >= 0 && e->verdict == VSS_VERDICT_FREEZE && fprintf(f, ",\"level\":%u", e->level) < 0)
		r = -EIO;
	if (r >= 0 && e->same_as)
		r = json_field(f, ",", "same_as", e->same_as->path);
	if (r >= 0)
		r = json_field(f, ",", "reason", e->reason);
	if (r >= 0 && fputc('}', f) == EOF)
		r = -EIO;
	return r;
}

/*
 * {"mounts":[{"path","type","source","device","verdict"[,"level"][,"same_as"],"reason"},…],
 *  "levels":[["/inner"],["/","/var"]],"consistent":true}
 */
static int print_json(FILE *f, const VssPlan *p)
{
	size_t k = 0;
	int r;

	if (fputs("{\"mounts\":[", f) == EOF)
		return -EIO;
	for (size_t i = 0; i < vss_plan_n_entries(p); i++) {
		if (i > 0 && fputc(',', f) == EOF)
			return -EIO;
		r = print_json_entry(f, vss_plan_entry(p, i));
		if (r < 0)
			return r;
	}
	if (fputs("],\"levels\":[", f) == EOF)
		return -EIO;
	for (unsigned level = 0; level < vss_plan_n_levels(p); level++) {
		if (fputs(level > 0 ? ",[" : "[", f) == EOF)
			return -EIO;
		for (size_t first = k;
		     k < vss_plan_n_targets(p) && vss_plan_target(p, k)->level == level; k++) {
			if (k > first && fputc(',', f) == EOF)
				return -EIO;
			r = ctl_json_print_string(f, vss_plan_target(p, k)->path);
			if (r < 0)
				return r;
		}
		if (fputc(']', f) == EOF)
			return -EIO;
	}
	if (fprintf(f, "],\"consistent\":%s}\n", vss_plan_consistent(p) ? "true" : "false") < 0)
		return -EIO;
	return 0;
}

CtlExit ctl_vss_plan(const CtlOptions *o, char *const *args)
{
	_cleanup_(plan_config_done) VssSettings c = { 0 };
	VssMount *m = NULL;
	VssPlan *p = NULL;
	size_t n = 0;
	int r;

	if (vss_settings_init(&c) < 0)
		return CTL_EXIT_IO;
	if (load_config(o, &c) < 0)
		return CTL_EXIT_IO;
	if (read_mounts(o, &m, &n) < 0)
		return CTL_EXIT_IO;
	r = vss_plan_build(
		m, n,
		&(VssPlanOptions){
			.include_mounts = c.include_mounts,
			.exclude_mounts = c.exclude_mounts,
			.include_types = c.include_types,
			.exclude_types = c.exclude_types,
			/* --sys-root="": plan without block device relations */
			.sys = o->vss_sys_root && !o->vss_sys_root[0] ? NULL : &vss_sys_ops_linux,
			.sys_userdata = (void *)o->vss_sys_root,
		},
		&p);
	m = vss_mounts_free(m, n);
	if (r < 0) {
		log_error_errno(r, "Cannot build the freeze plan: %m");
		return CTL_EXIT_IO;
	}
	r = o->json ? print_json(stdout, p) : print_text(stdout, p);
	p = vss_plan_free(p);
	if (r >= 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r < 0) {
		log_error_errno(r, "Cannot write the output: %m");
		return CTL_EXIT_IO;
	}
	return CTL_EXIT_OK;
}

/* Prints one "key=value" status line as text or as a JSON member. */
static void status_line(FILE *f, bool json, bool *first, const char *key, const char *value)
{
	if (!json) {
		fprintf(f, "%-13s %s\n", key, value);
		return;
	}
	fprintf(f, "%s", *first ? "" : ",");
	*first = false;
	(void)ctl_json_print_string(f, key);
	fputc(':', f);
	(void)ctl_json_print_string(f, value);
}

CtlExit ctl_vss_status(const CtlOptions *o, char *const *args)
{
	const char *dir = o->vss_run_dir ? o->vss_run_dir : VSS_RUN_DIR;
	_cleanup_free_ char *text = NULL;
	char path[4096];
	bool first = true;
	size_t size;
	int r;

	snprintf(path, sizeof(path), "%s/vss-status", dir);
	r = read_full_file_at(AT_FDCWD, path, 1u << 20, &text, &size);
	if (r == -ENOENT) {
		fprintf(stderr, "No backup has run since the daemon started (no '%s').\n", path);
		return CTL_EXIT_NOT_FOUND;
	}
	if (r < 0) {
		fprintf(stderr, "Cannot read '%s': %s\n", path, strerror(-r));
		return CTL_EXIT_IO;
	}
	if (o->json)
		fputc('{', stdout);
	/* "mount" repeats: one JSON list, printed after the other fields. */
	const char *mounts[1024];
	size_t n_mounts = 0;
	for (char *line = text, *nl; line && *line; line = nl) {
		char *eq;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = 0;
		if (o->json && strcmp(line, "mount") == 0) {
			if (n_mounts < ELEMENTSOF(mounts))
				mounts[n_mounts++] = eq + 1;
			continue;
		}
		status_line(stdout, o->json, &first, line, eq + 1);
	}
	if (o->json) {
		fputs(first ? "\"mounts\":[" : ",\"mounts\":[", stdout);
		for (size_t i = 0; i < n_mounts; i++) {
			if (i > 0)
				fputc(',', stdout);
			(void)ctl_json_print_string(stdout, mounts[i]);
		}
		fputs("]}\n", stdout);
	}
	return ferror(stdout) ? CTL_EXIT_IO : CTL_EXIT_OK;
}
