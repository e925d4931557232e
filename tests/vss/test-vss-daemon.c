/* SPDX-License-Identifier: MIT */
/*
 * Our hv_vss_daemon in the vss-jail (issue 4 item 8), against hv-hostsim: the freeze really
 * happens (writers block on every image, the harness's probes see EBUSY) and the thaw ends it;
 * stacked images freeze inner first and thaw outer first; a bind mount and a btrfs subvolume
 * do not make a superblock freeze twice; SIGKILL while frozen is undone by the guardian within
 * milliseconds, and SIGKILL of the daemon and its guardian by --recover from the /run marker;
 * a host that never sends THAW gets the deadline thaw; a failing freeze hook freezes nothing
 * and the hooks get freeze-failed; the daemon writes nothing to a frozen filesystem (its run
 * directory on a frozen image: THAW is still answered at once); SIGTERM while frozen thaws
 * and exits 0.
 *
 * The daemon runs with a fresh sysfs (it orders stacked loop devices through it). The gate
 * (vss_jail_gate(): only the images are candidates, none is this machine's root) runs before
 * every FREEZE and THAW; hostsim's own gate too. The teardown thaws every image before it
 * waits for anything, and the jail's supervisor thaws again on every exit path.
 *
 * Root, /dev/fuse and loop devices are needed (tests skip otherwise).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/hv-status.h"
#include "common/macro.h"
#include "hostsim/hostsim.h"
#include "vss-jail.h"

#ifndef HV_VSS_DAEMON_PATH
#define HV_VSS_DAEMON_PATH "/usr/local/sbin/hv_vss_daemon"
#endif
#ifndef HVCTL_PATH
#define HVCTL_PATH "/usr/local/bin/hvctl"
#endif

#define SEC 1000000u
#define MSEC 1000u
/* hv_vss_daemon's HOT_BACKUP reply flags: VSS_HBU_NO_AUTO_RECOVERY. */
#define HBU_NO_AUTO_RECOVERY 0x5u
#define RUN_DIR "/run/hvguest"
#define HOOKS_DIR "/etc/hvguest/vss.d"
#define CONFIG "/etc/hvguest/hvguest.conf"
#define HOOK_LOG "/run/hook.log"

typedef struct Fixture {
	VssRootId root; /* recorded before any test unshared anything */
	HostSim *sim;
	VssJail *jail;
	VssJailProc *proc; /* the daemon */
	VssJailWriter *writers[VSS_JAIL_MAX_IMAGES];
	size_t n_writers;
	unsigned writer_round;
	int out_fd; /* stdout+stderr of everything spawned in the jail (memfd) */
	size_t n_images;
	unsigned registrations; /* accepted by hostsim so far */
	bool passed;		/* set at the end of a test: the teardown prints no log */
} Fixture;

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *daemon_path(void)
{
	return getenv("HV_VSS_DAEMON") ?: HV_VSS_DAEMON_PATH;
}

static const char *hvctl_path(void)
{
	return getenv("HVCTL") ?: HVCTL_PATH;
}

static bool have_root(void)
{
	return geteuid() == 0 && access("/dev/fuse", F_OK) == 0 &&
	       access("/dev/loop-control", F_OK) == 0;
}

static char *read_fd_text(int fd)
{
	struct stat st;
	char *buf;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	n = pread(fd, buf, (size_t)st.st_size, 0);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* ---- Fixture ---- */

static int group_setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));

	if (!f || vss_root_id_get(&f->root) < 0)
		return -1;
	f->out_fd = -EBADF;
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	free(*state);
	return 0;
}

static void free_writers(Fixture *f)
{
	for (size_t i = 0; i < f->n_writers; i++)
		f->writers[i] = vss_jail_writer_free(f->writers[i]);
	f->n_writers = 0;
}

/* Runs even when a test failed: thaw before anything that could wait on a frozen image. */
static int test_teardown(void **state)
{
	Fixture *f = *state;

	if (f->jail)
		(void)vss_jail_thaw_all(f->jail);
	free_writers(f);
	if (f->proc) {
		(void)vss_jail_proc_stop(f->jail, f->proc);
		f->proc = NULL;
	}
	if (!f->passed && f->out_fd >= 0) {
		_cleanup_free_ char *log = read_fd_text(f->out_fd);

		print_message("---- daemon output ----\n%s---- end ----\n", log ? log : "");
	}
	f->jail = vss_jail_free(f->jail);
	f->sim = hostsim_free(f->sim);
	f->out_fd = safe_close(f->out_fd);
	f->n_images = 0;
	f->registrations = 0;
	f->passed = false;
	return 0;
}

/* ---- Jail, daemon, host ---- */

typedef struct Setup {
	const VssJailImage *images;
	size_t n_images;
	const char *config; /* text of CONFIG; NULL: none (the daemon gets /dev/null) */
	bool shell;	    /* copy /bin/sh in, for hook scripts */
	uint64_t vss_timeout_usec;
} Setup;

/* A jail with our daemon and hvctl in it, a hooks directory, and hostsim behind /dev/vmbus. */
static void setup_jail(Fixture *f, const Setup *s)
{
	const char *execs[3] = { daemon_path(), hvctl_path(), "/bin/sh" };
	VssJailOptions o = {
		.images = s->images,
		.n_images = s->n_images,
		.vmbus_dir = "/dev/vmbus",
		.sysfs = true,
		.executables = execs,
		.n_executables = s->shell ? 3 : 2,
	};
	/* Bounded: no request of a test waits for the kernel's 15 minutes. */
	HostSimOptions so = {
		.vss_freeze_timeout_usec = 30 * SEC,
		.vss_timeout_usec = s->vss_timeout_usec ?: 10 * SEC,
	};

	if (!have_root())
		skip();
	if (access(daemon_path(), X_OK) < 0 || access(hvctl_path(), X_OK) < 0) {
		print_message("'%s' or '%s' missing: skipped\n", daemon_path(), hvctl_path());
		skip();
	}
	assert_int_equal(hostsim_new(&so, &f->sim), 0);
	assert_int_equal(vss_jail_new(&o, &f->root, &f->jail), 0);
	f->n_images = s->n_images;
	for (size_t i = 0; i < s->n_images; i++)
		assert_int_equal(
			hostsim_vss_allow_freeze(f->sim, vss_jail_image_device(f->jail, i)), 0);
	assert_int_equal(vss_jail_mkdir(f->jail, HOOKS_DIR, 0755), 0);
	if (s->config)
		assert_int_equal(
			vss_jail_write_file(f->jail, CONFIG, s->config, strlen(s->config), 0644),
			0);
	f->out_fd = memfd_create("vss-daemon", MFD_CLOEXEC);
	assert_true(f->out_fd >= 0);
}

/* Starts a process in the jail; its output goes to the shared log. */
static VssJailProc *spawn(Fixture *f, char *const argv[])
{
	VssJailProc *p = NULL;

	assert_int_equal(vss_jail_spawn(f->jail, argv, NULL, f->out_fd, &p), 0);
	return p;
}

/*
 * Our daemon's command line: run_dir_opt is a whole "--run-dir=DIR" (NULL: RUN_DIR), extra
 * one more argument or NULL.
 */
static void daemon_argv(char **argv, size_t max, const char *run_dir_opt, bool config,
			const char *extra)
{
	size_t n = 0;

	argv[n++] = (char *)daemon_path();
	argv[n++] = (char *)"--debug";
	argv[n++] = (char *)"--device=/dev/vmbus/hv_vss";
	argv[n++] = (char *)(run_dir_opt ?: "--run-dir=" RUN_DIR);
	argv[n++] = (char *)"--hooks-dir=" HOOKS_DIR;
	argv[n++] = (char *)(config ? "--config=" CONFIG : "--config=/dev/null");
	argv[n++] = (char *)"--config-dir=/nonexistent";
	if (extra)
		argv[n++] = (char *)extra;
	argv[n] = NULL;
	assert_true(n < max);
}

/* Starts the daemon and waits until the kernel model has its registration. */
static void start_daemon(Fixture *f, const char *run_dir_opt, bool config)
{
	char *argv[12];

	assert_null(f->proc);
	daemon_argv(argv, ELEMENTSOF(argv), run_dir_opt, config, NULL);
	f->proc = spawn(f, argv);
	f->registrations++;
	assert_int_equal(hostsim_vss_wait_registered(f->sim, f->registrations, 10 * SEC), 0);
}

/* The safety gate: the daemon's view holds exactly the images as candidates. */
static void gate(Fixture *f)
{
	char reason[512] = "";
	VssGatePlan plan;
	int r;

	assert_non_null(f->proc);
	r = vss_jail_gate(f->jail, vss_jail_proc_pid(f->proc), &plan, reason, sizeof(reason));
	if (r < 0)
		fail_msg("gate refused: %s (%s)", reason, strerror(-r));
	assert_int_equal(plan.n_candidates, f->n_images);
}

/* One host transaction; FREEZE and THAW only after the gate. Returns the IC status. */
static uint32_t request(Fixture *f, uint8_t op, uint32_t *ret_flags, uint64_t *ret_usec)
{
	uint32_t st = ~0u, flags = 0;
	uint64_t t0;

	if (op == HOSTSIM_VSS_OP_FREEZE || op == HOSTSIM_VSS_OP_THAW)
		gate(f);
	t0 = now_usec();
	assert_int_equal(hostsim_vss_request(f->sim, op, &st, &flags), 0);
	if (ret_usec)
		*ret_usec = now_usec() - t0;
	if (ret_flags)
		*ret_flags = flags;
	return st;
}

static void hot_backup_ok(Fixture *f)
{
	uint32_t flags = 0;

	assert_int_equal(request(f, HOSTSIM_VSS_OP_HOT_BACKUP, &flags, NULL), HV_S_OK);
	assert_int_equal(flags, HBU_NO_AUTO_RECOVERY);
}

/* ---- Probes and writers ---- */

static void probe_one(Fixture *f, size_t i, bool want_frozen)
{
	bool frozen;

	assert_int_equal(vss_jail_probe(f->jail, i, &frozen), 0);
	if (frozen != want_frozen)
		fail_msg("img%zu (%s): frozen=%d, expected %d", i,
			 vss_jail_fs_to_string(vss_jail_image_fs(f->jail, i)), frozen, want_frozen);
}

/* Inner (stacked, higher index) images first: a probe never waits behind a frozen outer. */
static void probe_all(Fixture *f, bool want_frozen)
{
	for (size_t i = f->n_images; i-- > 0;)
		probe_one(f, i, want_frozen);
}

/* One fresh writer per image (1 MiB + fdatasync once told to go). */
static void writers_new(Fixture *f)
{
	free_writers(f);
	f->writer_round++;
	for (size_t i = 0; i < f->n_images; i++) {
		char name[32];

		(void)snprintf(name, sizeof(name), "writer-%u", f->writer_round);
		assert_int_equal(vss_jail_writer_new(f->jail, i, name, 1 << 20, &f->writers[i]), 0);
		f->n_writers++;
	}
}

/* Starts every writer and checks that all of them stay blocked (the images are frozen). */
static void writers_go_blocked(Fixture *f)
{
	for (size_t i = 0; i < f->n_writers; i++)
		assert_int_equal(vss_jail_writer_go(f->writers[i]), 0);
	(void)usleep(300 * MSEC);
	for (size_t i = 0; i < f->n_writers; i++)
		if (vss_jail_writer_wait(f->writers[i], 0, NULL) != -ETIMEDOUT)
			fail_msg("the writer on img%zu was not blocked", i);
}

static void writers_still_blocked(Fixture *f)
{
	for (size_t i = 0; i < f->n_writers; i++)
		if (vss_jail_writer_wait(f->writers[i], 0, NULL) != -ETIMEDOUT)
			fail_msg("the writer on img%zu completed: something thawed img%zu", i, i);
}

/* Waits until every writer has completed; returns the time from t0 to the last completion. */
static uint64_t writers_complete(Fixture *f, uint64_t t0, uint64_t timeout_usec)
{
	uint64_t until = now_usec() + timeout_usec;

	for (size_t i = 0; i < f->n_writers; i++) {
		uint64_t now = now_usec();
		int r = vss_jail_writer_wait(f->writers[i], until > now ? until - now : 0, NULL);

		if (r < 0)
			fail_msg("the writer on img%zu: %s", i, strerror(-r));
	}
	return now_usec() - t0;
}

/* ---- Files in the jail (read from outside through the jail's root) ---- */

static char *jail_read(Fixture *f, const char *path)
{
	_cleanup_close_ int fd = -EBADF;

	assert_true(path[0] == '/');
	fd = openat(vss_jail_root_fd(f->jail), path + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	return read_fd_text(fd);
}

static bool jail_exists(Fixture *f, const char *path)
{
	struct stat st;

	return fstatat(vss_jail_root_fd(f->jail), path + 1, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* "key=value" lines of the status file: the value of key, or "" (copied into buf). */
static const char *status_field(const char *text, const char *key, char *buf, size_t size)
{
	size_t kl = strlen(key);

	buf[0] = 0;
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');

		if (strncmp(l, key, kl) == 0 && l[kl] == '=') {
			size_t n = strcspn(l + kl + 1, "\n");

			(void)snprintf(buf, size, "%.*s", (int)n, l + kl + 1);
			break;
		}
		if (!nl)
			break;
		l = nl + 1;
	}
	return buf;
}

/* Waits (bounded) until the status file in run_dir says result=want; returns the text. */
static char *wait_status(Fixture *f, const char *run_dir, const char *want, uint64_t timeout_usec)
{
	uint64_t until = now_usec() + timeout_usec;
	char path[256], buf[64];

	(void)snprintf(path, sizeof(path), "%s/vss-status", run_dir);
	for (;;) {
		char *text = jail_read(f, path);

		if (text && strcmp(status_field(text, "result", buf, sizeof(buf)), want) == 0)
			return text;
		if (now_usec() > until)
			fail_msg("status in '%s' is not result=%s:\n%s", path, want,
				 text ? text : "(none)");
		free(text);
		(void)usleep(20 * MSEC);
	}
}

static void assert_status(const char *text, const char *key, const char *want)
{
	char buf[256];

	if (strcmp(status_field(text, key, buf, sizeof(buf)), want) != 0)
		fail_msg("status %s=%s, expected %s:\n%s", key, buf, want, text);
}

static char *daemon_log(Fixture *f)
{
	char *log = read_fd_text(f->out_fd);

	assert_non_null(log);
	return log;
}

/* ---- 1. The freeze really happens, and ends ---- */

static size_t add_available(VssJailImage *images, size_t n)
{
	static const VssJailFs all[] = { VSS_JAIL_FS_EXT4, VSS_JAIL_FS_XFS, VSS_JAIL_FS_BTRFS };

	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		if (vss_jail_fs_available(all[i]))
			images[n++] = (VssJailImage){ .fs = all[i], .parent = -1 };
		else
			print_message("mkfs.%s missing: no %s image\n",
				      vss_jail_fs_to_string(all[i]), vss_jail_fs_to_string(all[i]));
	return n;
}

static void test_freeze_thaw(void **state)
{
	Fixture *f = *state;
	VssJailImage images[3];
	Setup s = { .images = images, .n_images = add_available(images, 0) };
	_cleanup_free_ char *status = NULL;
	char want[16];
	uint64_t freeze_usec, thaw_usec, t0, done;

	setup_jail(f, &s);
	start_daemon(f, NULL, false);
	hot_backup_ok(f);
	writers_new(f);

	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, &freeze_usec), HV_S_OK);
	probe_all(f, true);
	/* The marker that a restarted daemon would thaw from is in place. */
	assert_true(jail_exists(f, RUN_DIR "/vss-frozen"));
	writers_go_blocked(f);

	t0 = now_usec();
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, &thaw_usec), HV_S_OK);
	done = writers_complete(f, t0, 10 * SEC);
	print_message("%zu images: FREEZE answered in %.1f ms, THAW in %.1f ms, writers done "
		      "%.1f ms after the THAW request\n",
		      f->n_images, freeze_usec / 1000.0, thaw_usec / 1000.0, done / 1000.0);
	probe_all(f, false);

	status = wait_status(f, RUN_DIR, "ok", 2 * SEC);
	print_message("status:\n%s", status);
	(void)snprintf(want, sizeof(want), "%zu", f->n_images);
	assert_status(status, "frozen", want);
	assert_status(status, "filesystems", want);
	assert_status(status, "error", "0");
	assert_false(jail_exists(f, RUN_DIR "/vss-frozen"));

	/* A second backup works the same way. */
	writers_new(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, NULL), HV_S_OK);
	probe_all(f, true);
	writers_go_blocked(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, NULL), HV_S_OK);
	(void)writers_complete(f, now_usec(), 10 * SEC);
	probe_all(f, false);
	f->passed = true;
}

/* ---- 2. Stacked images: inner frozen first, thawed last ---- */

/* hvctl vss plan --json, run inside the jail (same mount table and sysfs as the daemon). */
static char *jail_plan_json(Fixture *f)
{
	_cleanup_close_ int fd = memfd_create("plan", MFD_CLOEXEC);
	VssJailProc *p = NULL;
	int status;

	assert_true(fd >= 0);
	assert_int_equal(vss_jail_spawn(f->jail,
					(char *[]){ (char *)hvctl_path(), (char *)"--json",
						    (char *)"--config=/dev/null", (char *)"vss",
						    (char *)"plan", NULL },
					NULL, fd, &p),
			 0);
	assert_int_equal(vss_jail_proc_wait(f->jail, p, 10 * SEC, &status), 0);
	p = vss_jail_proc_free(p);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return read_fd_text(fd);
}

/* Dirties n bytes in a new file on image i (no fsync): something for the freeze to flush. */
static void dirty(Fixture *f, size_t i, const char *name, size_t n)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = malloc(1 << 20);

	assert_non_null(buf);
	memset(buf, 'd', 1 << 20);
	fd = openat(vss_jail_image_fd(f->jail, i), name,
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	for (size_t done = 0; done < n; done += 1 << 20)
		assert_int_equal(write(fd, buf, MIN((size_t)1 << 20, n - done)),
				 MIN((size_t)1 << 20, n - done));
}

static void test_stacked_order(void **state)
{
	Fixture *f = *state;
	VssJailImage images[2] = {
		{ .fs = VSS_JAIL_FS_EXT4, .size_mib = 128, .parent = -1 },
		{ .fs = VSS_JAIL_FS_EXT4, .size_mib = 32, .parent = 0 },
	};
	Setup s = { .images = images, .n_images = 2 };
	_cleanup_free_ char *plan = NULL, *marker = NULL, *status = NULL;
	const char *levels, *outer, *inner;
	uint64_t freeze_usec;

	setup_jail(f, &s);

	/* The plan as the daemon sees it: the inner image alone on level 0. */
	plan = jail_plan_json(f);
	assert_non_null(plan);
	levels = strstr(plan, "\"levels\":");
	assert_non_null(levels);
	print_message("plan levels: %s", levels);
	assert_int_equal(strncmp(levels, "\"levels\":[[\"/mnt/img1\"],[\"/mnt/img0\"]]",
				 strlen("\"levels\":[[\"/mnt/img1\"],[\"/mnt/img0\"]]")),
			 0);

	start_daemon(f, NULL, false);
	hot_backup_ok(f);
	writers_new(f);
	/* Dirty data on both: each freeze has to flush, the inner one through the outer. */
	dirty(f, 1, "dirty", 8 << 20);
	dirty(f, 0, "dirty", 8 << 20);

	/* In the wrong order the inner FIFREEZE would hang behind the frozen outer image. */
	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, &freeze_usec), HV_S_OK);
	print_message("FREEZE answered in %.1f ms\n", freeze_usec / 1000.0);
	assert_true(freeze_usec < 10 * SEC);
	probe_all(f, true);

	/* The daemon's own record of the order: thaw the outer (level 1) first. */
	marker = jail_read(f, RUN_DIR "/vss-frozen");
	assert_non_null(marker);
	print_message("marker:\n%s", marker);
	outer = strstr(marker, "thaw 1 /mnt/img0\n");
	inner = strstr(marker, "thaw 0 /mnt/img1\n");
	assert_non_null(outer);
	assert_non_null(inner);
	assert_true(outer < inner);

	writers_go_blocked(f);
	/* In the wrong order the inner FITHAW would hang behind the still-frozen outer image. */
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, NULL), HV_S_OK);
	(void)writers_complete(f, now_usec(), 10 * SEC);
	probe_all(f, false);
	status = wait_status(f, RUN_DIR, "ok", 2 * SEC);
	assert_status(status, "frozen", "2");
	f->passed = true;
}

/* ---- 3. Bind mounts and btrfs subvolumes: one superblock, one freeze ---- */

static void test_bind_and_subvolume(void **state)
{
	Fixture *f = *state;
	bool btrfs = vss_jail_fs_available(VSS_JAIL_FS_BTRFS);
	VssJailImage images[2] = {
		{ .fs = VSS_JAIL_FS_EXT4, .parent = -1 },
		{ .fs = btrfs ? VSS_JAIL_FS_BTRFS : VSS_JAIL_FS_EXT4, .parent = -1 },
	};
	Setup s = { .images = images, .n_images = 2 };
	_cleanup_free_ char *status = NULL, *plan = NULL, *log = NULL;
	char dev[32];

	setup_jail(f, &s);
	/* Two more paths to image 0 (one read-only) and, on btrfs, a subvolume of image 1. */
	assert_int_equal(vss_jail_mkdir(f->jail, "/mnt/img0/dir", 0755), 0);
	assert_int_equal(
		vss_jail_mount(f->jail, "/mnt/img0/dir", "/mnt/a-bind", NULL, MS_BIND, NULL), 0);
	assert_int_equal(vss_jail_mount(f->jail, "/mnt/img0", "/mnt/b-robind", NULL,
					MS_BIND | MS_RDONLY, NULL),
			 0);
	if (btrfs) {
		struct btrfs_ioctl_vol_args va = { .fd = 0 };

		(void)snprintf(va.name, sizeof(va.name), "sv");
		assert_int_equal(ioctl(vss_jail_image_fd(f->jail, 1), BTRFS_IOC_SUBVOL_CREATE, &va),
				 0);
		(void)snprintf(dev, sizeof(dev), "/dev/loop%u",
			       minor(vss_jail_image_device(f->jail, 1)));
		assert_int_equal(vss_jail_mount(f->jail, dev, "/mnt/sv", "btrfs", 0, "subvol=sv"),
				 0);
	} else {
		print_message("mkfs.btrfs missing: bind mounts only\n");
		assert_int_equal(
			vss_jail_mount(f->jail, "/mnt/img1", "/mnt/sv", NULL, MS_BIND, NULL), 0);
	}
	plan = jail_plan_json(f);
	assert_non_null(plan);
	print_message("plan levels: %s", strstr(plan, "\"levels\""));

	start_daemon(f, NULL, false);
	hot_backup_ok(f);
	writers_new(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, NULL), HV_S_OK);
	probe_all(f, true);
	writers_go_blocked(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, NULL), HV_S_OK);
	(void)writers_complete(f, now_usec(), 10 * SEC);
	probe_all(f, false);

	/* Two superblocks frozen, each once, by us: nothing "somebody else's" (EBUSY). */
	status = wait_status(f, RUN_DIR, "ok", 2 * SEC);
	print_message("status:\n%s", status);
	assert_status(status, "filesystems", "2");
	assert_status(status, "frozen", "2");
	assert_status(status, "error", "0");
	log = daemon_log(f);
	assert_null(strstr(log, "not ours"));
	assert_null(strstr(log, "somebody else"));
	f->passed = true;
}

/* ---- 4. SIGKILL while frozen ---- */

static int proc_state(pid_t pid, char *ret_state, pid_t *ret_ppid)
{
	_cleanup_close_ int fd = -EBADF;
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int ppid;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %d", ret_state, &ppid) != 2)
		return -EBADMSG;
	*ret_ppid = ppid;
	return 0;
}

/*
 * The daemon's only live child while frozen: the guardian. (A freeze hook that ended stays a
 * zombie until the thaw: it pins its process group id.)
 */
static pid_t find_guardian(pid_t daemon)
{
	_cleanup_(closedirp) DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name), ppid;
		char st;

		if (pid > 0 && proc_state(pid, &st, &ppid) == 0 && ppid == daemon && st != 'Z') {
			found = pid;
			n++;
		}
	}
	assert_int_equal(n, 1);
	return found;
}

/* Bounded wait until pid is dead (gone or a zombie). */
static bool wait_dead(pid_t pid, uint64_t timeout_usec)
{
	uint64_t until = now_usec() + timeout_usec;

	for (;;) {
		pid_t ppid;
		char st;

		if (proc_state(pid, &st, &ppid) < 0 || st == 'Z' || st == 'X')
			return true;
		if (now_usec() > until)
			return false;
		(void)usleep(5 * MSEC);
	}
}

static void freeze_with_blocked_writers(Fixture *f)
{
	hot_backup_ok(f);
	writers_new(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, NULL), HV_S_OK);
	probe_all(f, true);
	assert_true(jail_exists(f, RUN_DIR "/vss-frozen"));
}

static void test_sigkill_guardian_thaws(void **state)
{
	Fixture *f = *state;
	VssJailImage images[3];
	Setup s = { .images = images, .n_images = add_available(images, 0) };
	_cleanup_free_ char *log = NULL;
	uint64_t t0, thawed_after;
	int status;

	setup_jail(f, &s);
	start_daemon(f, NULL, false);
	freeze_with_blocked_writers(f);
	writers_go_blocked(f);

	t0 = now_usec();
	assert_int_equal(vss_jail_proc_signal(f->proc, SIGKILL), 0);
	thawed_after = writers_complete(f, t0, 5 * SEC);
	print_message("writers completed %.1f ms after SIGKILL of the daemon\n",
		      thawed_after / 1000.0);
	assert_true(thawed_after < 2 * SEC);
	probe_all(f, false);
	assert_int_equal(vss_jail_proc_wait(f->jail, f->proc, 5 * SEC, &status), 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	f->proc = vss_jail_proc_free(f->proc);

	/* The guardian cannot remove the marker; a restarted daemon finds nothing frozen. */
	assert_true(jail_exists(f, RUN_DIR "/vss-frozen"));
	start_daemon(f, NULL, false);
	assert_false(jail_exists(f, RUN_DIR "/vss-frozen"));
	log = daemon_log(f);
	assert_null(strstr(log, "left frozen by a previous instance"));

	/* And it backs up as usual. */
	freeze_with_blocked_writers(f);
	writers_go_blocked(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, NULL), HV_S_OK);
	(void)writers_complete(f, now_usec(), 10 * SEC);
	probe_all(f, false);
	f->passed = true;
}

static void test_sigkill_daemon_and_guardian_recover(void **state)
{
	Fixture *f = *state;
	VssJailImage images[3];
	Setup s = { .images = images, .n_images = add_available(images, 0) };
	_cleanup_free_ char *log = NULL;
	VssJailProc *rec = NULL;
	char *argv[12];
	uint64_t t0, thawed_after;
	pid_t daemon, guardian;
	int status;

	setup_jail(f, &s);
	start_daemon(f, NULL, false);
	freeze_with_blocked_writers(f);
	writers_go_blocked(f);
	daemon = vss_jail_proc_pid(f->proc);
	guardian = find_guardian(daemon);
	print_message("daemon %d, guardian %d\n", (int)daemon, (int)guardian);

	/* Stop the daemon so that it cannot react, kill the guardian, then the daemon. */
	assert_int_equal(vss_jail_proc_signal(f->proc, SIGSTOP), 0);
	assert_int_equal(kill(guardian, SIGKILL), 0);
	assert_true(wait_dead(guardian, 5 * SEC));
	assert_int_equal(vss_jail_proc_signal(f->proc, SIGKILL), 0);
	assert_int_equal(vss_jail_proc_wait(f->jail, f->proc, 5 * SEC, &status), 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	f->proc = vss_jail_proc_free(f->proc);

	/* Nobody thawed: still frozen, writers still blocked. */
	(void)usleep(300 * MSEC);
	writers_still_blocked(f);
	probe_all(f, true);

	/* ExecStopPost=: hv_vss_daemon --recover thaws from the marker. */
	daemon_argv(argv, ELEMENTSOF(argv), NULL, false, "--recover");
	t0 = now_usec();
	rec = spawn(f, argv);
	assert_int_equal(vss_jail_proc_wait(f->jail, rec, 10 * SEC, &status), 0);
	rec = vss_jail_proc_free(rec);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	thawed_after = writers_complete(f, t0, 5 * SEC);
	print_message("writers completed %.1f ms after --recover started\n", thawed_after / 1000.0);
	probe_all(f, false);
	assert_false(jail_exists(f, RUN_DIR "/vss-frozen"));
	log = daemon_log(f);
	print_message("%s", strstr(log, "Thawed") ?: log);
	assert_non_null(strstr(log, "left frozen by a previous instance"));

	/* A daemon started afterwards registers and backs up as usual. */
	start_daemon(f, NULL, false);
	freeze_with_blocked_writers(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, NULL), HV_S_OK);
	probe_all(f, false);
	f->passed = true;
}

/* ---- 5. The host never sends THAW: the deadline ---- */

static void test_deadline(void **state)
{
	Fixture *f = *state;
	VssJailImage images[3];
	Setup s = {
		.images = images,
		.n_images = add_available(images, 0),
		.config = "[vss]\nfreeze_timeout = 2s\n",
	};
	_cleanup_free_ char *status = NULL, *log = NULL;
	char want[16];
	uint64_t t0, thawed_after;

	setup_jail(f, &s);
	start_daemon(f, NULL, true);
	hot_backup_ok(f);
	writers_new(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, NULL), HV_S_OK);
	t0 = now_usec();
	probe_all(f, true);
	writers_go_blocked(f);

	/* No THAW: the daemon thaws by itself about 2 s after its FREEZE reply. */
	thawed_after = writers_complete(f, t0, 6 * SEC);
	print_message("writers completed %.2f s after the FREEZE reply\n",
		      (double)thawed_after / SEC);
	assert_true(thawed_after >= 1500 * MSEC);
	assert_true(thawed_after < 4 * SEC);
	probe_all(f, false);
	status = wait_status(f, RUN_DIR, "deadline", 2 * SEC);
	print_message("status:\n%s", status);
	(void)snprintf(want, sizeof(want), "%zu", f->n_images);
	assert_status(status, "frozen", want);
	/* The daemon's deadline came first, not the guardian's backstop. */
	log = daemon_log(f);
	assert_null(strstr(log, "backstop"));

	/* The host's late THAW is answered OK; the next backup works. */
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, NULL), HV_S_OK);
	probe_all(f, false);
	writers_new(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, NULL), HV_S_OK);
	probe_all(f, true);
	writers_go_blocked(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, NULL), HV_S_OK);
	(void)writers_complete(f, now_usec(), 10 * SEC);
	free(status);
	status = wait_status(f, RUN_DIR, "ok", 2 * SEC);
	f->passed = true;
}

/* ---- 6. A failing freeze hook: nothing frozen, freeze-failed for every hook started ---- */

static void write_hook(Fixture *f, const char *name, bool fail_freeze)
{
	char path[128], text[512];
	int k;

	k = snprintf(text, sizeof(text),
		     "#!/bin/sh\n"
		     "echo \"%s $1 $HVGUEST_VSS_OPERATION\" >>" HOOK_LOG "\n"
		     "if [ \"$1\" = freeze ] && [ %d = 1 ]; then exit 1; fi\n"
		     "exit 0\n",
		     name, fail_freeze ? 1 : 0);
	assert_true(k > 0 && (size_t)k < sizeof(text));
	(void)snprintf(path, sizeof(path), HOOKS_DIR "/%s", name);
	assert_int_equal(vss_jail_write_file(f->jail, path, text, strlen(text), 0755), 0);
}

static void test_failing_hook(void **state)
{
	Fixture *f = *state;
	VssJailImage images[3];
	Setup s = { .images = images, .n_images = add_available(images, 0), .shell = true };
	_cleanup_free_ char *hooks = NULL, *status = NULL;

	setup_jail(f, &s);
	write_hook(f, "10-app", false);
	write_hook(f, "20-db", true);
	write_hook(f, "30-never", false);
	start_daemon(f, NULL, false);
	hot_backup_ok(f);
	writers_new(f);

	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, NULL), HV_E_FAIL);
	/* Nothing frozen: writers go straight through, probes freeze (and thaw) freely. */
	for (size_t i = 0; i < f->n_writers; i++)
		assert_int_equal(vss_jail_writer_go(f->writers[i]), 0);
	(void)writers_complete(f, now_usec(), 5 * SEC);
	probe_all(f, false);
	assert_false(jail_exists(f, RUN_DIR "/vss-frozen"));

	/* freeze in name order up to the failure, then freeze-failed in reverse order. */
	hooks = jail_read(f, HOOK_LOG);
	assert_non_null(hooks);
	print_message("hook calls:\n%s", hooks);
	assert_string_equal(hooks, "10-app freeze freeze\n"
				   "20-db freeze freeze\n"
				   "20-db freeze-failed freeze-failed\n"
				   "10-app freeze-failed freeze-failed\n");
	status = wait_status(f, RUN_DIR, "failed", 2 * SEC);
	print_message("status:\n%s", status);
	assert_status(status, "frozen", "0");

	/* The host's THAW after a failed FREEZE is harmless. */
	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, NULL), HV_S_OK);
	probe_all(f, false);
	f->passed = true;
}

/* ---- 7. Nothing written to a frozen filesystem: the run directory on a frozen image ---- */

/* Threads of pid in D state (blocked, e.g. on a frozen filesystem). */
static unsigned threads_in_d_state(pid_t pid)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char path[64];
	struct dirent *de;
	unsigned n = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name), ppid;
		char st;

		if (tid > 0 && proc_state(tid, &st, &ppid) == 0 && st == 'D')
			n++;
	}
	return n;
}

static void test_no_write_while_frozen(void **state)
{
	Fixture *f = *state;
	VssJailImage images[3];
	Setup s = {
		.images = images,
		.n_images = add_available(images, 0),
		.shell = true,
		.vss_timeout_usec = 5 * SEC, /* THAW: a daemon blocked on img0 would miss this */
	};
	_cleanup_free_ char *status = NULL, *hooks = NULL;
	HostSimVssResult res;
	uint64_t thaw_usec;

	setup_jail(f, &s);
	assert_int_equal(vss_jail_mkdir(f->jail, "/mnt/img0/hvrun", 0755), 0);
	/* A hook too: its thaw call must come after the thaw (it writes to the run dir). */
	{
		const char *text = "#!/bin/sh\necho \"$1\" >>/mnt/img0/hvrun/hook.log\n";

		assert_int_equal(
			vss_jail_write_file(f->jail, HOOKS_DIR "/10-log", text, strlen(text), 0755),
			0);
	}
	start_daemon(f, "--run-dir=/mnt/img0/hvrun", false);
	hot_backup_ok(f);
	writers_new(f);
	assert_int_equal(request(f, HOSTSIM_VSS_OP_FREEZE, NULL, NULL), HV_S_OK);
	probe_all(f, true);
	assert_true(jail_exists(f, "/mnt/img0/hvrun/vss-frozen"));
	writers_go_blocked(f);
	/* Frozen for 300 ms now: no thread of the daemon (or its guardian) is blocked. */
	assert_int_equal(threads_in_d_state(vss_jail_proc_pid(f->proc)), 0);
	assert_int_equal(threads_in_d_state(find_guardian(vss_jail_proc_pid(f->proc))), 0);

	assert_int_equal(request(f, HOSTSIM_VSS_OP_THAW, NULL, &thaw_usec), HV_S_OK);
	assert_int_equal(hostsim_vss_last_result(f->sim, &res), 0);
	assert_int_equal(res.end, HOSTSIM_VSS_END_REPLY);
	print_message("THAW answered in %.1f ms with the run directory on a frozen image\n",
		      thaw_usec / 1000.0);
	assert_true(thaw_usec < 2 * SEC);
	(void)writers_complete(f, now_usec(), 5 * SEC);
	probe_all(f, false);

	status = wait_status(f, "/mnt/img0/hvrun", "ok", 2 * SEC);
	assert_false(jail_exists(f, "/mnt/img0/hvrun/vss-frozen"));
	hooks = jail_read(f, "/mnt/img0/hvrun/hook.log");
	assert_non_null(hooks);
	assert_string_equal(hooks, "freeze\nthaw\n");
	f->passed = true;
}

/* ---- 8. SIGTERM while frozen ---- */

static void test_sigterm_thaws(void **state)
{
	Fixture *f = *state;
	VssJailImage images[3];
	Setup s = { .images = images, .n_images = add_available(images, 0) };
	_cleanup_free_ char *status = NULL;
	uint64_t t0, thawed_after;
	int st;

	setup_jail(f, &s);
	start_daemon(f, NULL, false);
	freeze_with_blocked_writers(f);
	writers_go_blocked(f);

	t0 = now_usec();
	assert_int_equal(vss_jail_proc_signal(f->proc, SIGTERM), 0);
	thawed_after = writers_complete(f, t0, 5 * SEC);
	print_message("writers completed %.1f ms after SIGTERM\n", thawed_after / 1000.0);
	assert_int_equal(vss_jail_proc_wait(f->jail, f->proc, 5 * SEC, &st), 0);
	f->proc = vss_jail_proc_free(f->proc);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	probe_all(f, false);
	status = wait_status(f, RUN_DIR, "shutdown", 2 * SEC);
	assert_false(jail_exists(f, RUN_DIR "/vss-frozen"));
	f->passed = true;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_freeze_thaw, test_teardown),
		cmocka_unit_test_teardown(test_stacked_order, test_teardown),
		cmocka_unit_test_teardown(test_bind_and_subvolume, test_teardown),
		cmocka_unit_test_teardown(test_sigkill_guardian_thaws, test_teardown),
		cmocka_unit_test_teardown(test_sigkill_daemon_and_guardian_recover, test_teardown),
		cmocka_unit_test_teardown(test_deadline, test_teardown),
		cmocka_unit_test_teardown(test_failing_hook, test_teardown),
		cmocka_unit_test_teardown(test_no_write_while_frozen, test_teardown),
		cmocka_unit_test_teardown(test_sigterm_thaws, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
