/* SPDX-License-Identifier: MIT */
/*
 * The vss-jail itself: a jail's mount table holds only what it should (and extra mounts
 * only what is allowed), stacked images freeze in order and a probe behind a frozen outer
 * image cannot hang us, the supervisor thaws after the harness is SIGKILLed while an image
 * is frozen (through either of its two ways of noticing), and Debian's upstream
 * hv_vss_daemon freezes and thaws the images (a writer blocks, then completes) against
 * hv-hostsim, inside the jail, behind the gate. The gate itself: test-vss-jail-gate.c.
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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "hostsim/hostsim.h"
#include "vss-jail.h"

#define SEC 1000000u
#define HV_S_OK 0u

typedef struct Fixture {
	VssRootId root; /* recorded before any test unshared anything */
	HostSim *sim;
	VssJail *jail;
	VssJailProc *proc;
	VssJailWriter *writers[VSS_JAIL_MAX_IMAGES];
	size_t n_writers;
	int out_fd;
} Fixture;

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000u;
}

static bool have_root(void)
{
	return geteuid() == 0 && access("/dev/fuse", F_OK) == 0 &&
	       access("/dev/loop-control", F_OK) == 0;
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

/* Runs even when a test failed: thaw before anything that could wait on a frozen image. */
static int test_teardown(void **state)
{
	Fixture *f = *state;

	if (f->jail)
		(void)vss_jail_thaw_all(f->jail);
	for (size_t i = 0; i < f->n_writers; i++)
		f->writers[i] = vss_jail_writer_free(f->writers[i]);
	f->n_writers = 0;
	if (f->proc) {
		(void)vss_jail_proc_stop(f->jail, f->proc);
		f->proc = NULL;
	}
	f->jail = vss_jail_free(f->jail);
	f->sim = hostsim_free(f->sim);
	f->out_fd = safe_close(f->out_fd);
	return 0;
}

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

static char *read_path_text(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[1 << 16];
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

/* The backing file a loop device reports in sysfs, or NULL once it is free. */
static char *loop_backing(dev_t d)
{
	char path[128];

	(void)snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/loop/backing_file", major(d),
		       minor(d));
	return read_path_text(path);
}

static bool wait_loop_released(dev_t d, const char *was, uint64_t timeout_usec)
{
	uint64_t until = now_usec() + timeout_usec;

	for (;;) {
		_cleanup_free_ char *now = loop_backing(d);

		/* Gone, or somebody else's file now. */
		if (!now || strcmp(now, was) != 0)
			return true;
		if (now_usec() > until)
			return false;
		(void)usleep(10000);
	}
}

static const char *host_tool(const char *a, const char *b)
{
	return access(a, X_OK) == 0 ? a : access(b, X_OK) == 0 ? b : NULL;
}

/* ---- The jail's mount table ---- */

static void test_jail_mount_table(void **state)
{
	Fixture *f = *state;
	const char *cat = host_tool("/usr/bin/cat", "/bin/cat");
	const char *sleep_bin = host_tool("/usr/bin/sleep", "/bin/sleep");
	const char *execs[2] = { cat, sleep_bin };
	VssJailImage images[3];
	size_t n = add_available(images, 0);
	VssJailOptions o = {
		.images = images,
		.n_images = n,
		.vmbus_dir = "/dev/vmbus",
		.executables = execs,
		.n_executables = 2,
	};
	char *backing[3] = {}, path[64], reason[512] = "";
	_cleanup_free_ char *table = NULL, *seen = NULL;
	VssJailProc *p = NULL;
	size_t lines = 0;
	VssGatePlan plan;
	struct stat st;
	int status;

	if (!have_root() || !cat || !sleep_bin)
		skip();
	assert_int_equal(hostsim_new(&(HostSimOptions){}, &f->sim), 0);
	assert_int_equal(vss_jail_new(&o, &f->root, &f->jail), 0);

	(void)snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)vss_jail_init_pid(f->jail));
	table = read_path_text(path);
	assert_non_null(table);
	print_message("jail mountinfo:\n%s", table);

	/* Exactly: the jail tmpfs, proc, /run, the FUSE /dev/vmbus, and the images. */
	for (char *save = NULL, *l = strtok_r(table, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save), lines++) {
		char mp[256], type[64], source[256];
		unsigned maj, min;
		const char *dash = strstr(l, " - ");

		assert_non_null(dash);
		assert_int_equal(sscanf(l, "%*d %*d %u:%u %*s %255s", &maj, &min, mp), 3);
		assert_int_equal(sscanf(dash + 3, "%63s %255s", type, source), 2);
		assert_false(makedev(maj, min) == f->root.st_dev);
		assert_false(makedev(maj, min) == f->root.mnt_dev);
		if (strcmp(mp, "/") == 0) {
			assert_string_equal(type, "tmpfs");
			assert_string_equal(source, "hvguest-jail");
		} else if (strcmp(mp, "/proc") == 0) {
			assert_string_equal(type, "proc");
		} else if (strcmp(mp, "/run") == 0) {
			assert_string_equal(type, "tmpfs");
			assert_string_equal(source, "hvguest-jail-run");
		} else if (strcmp(mp, "/dev/vmbus") == 0) {
			assert_string_equal(type, "fuse.hvguest-sim");
		} else {
			unsigned i;
			dev_t d;
			char want[32];

			assert_int_equal(sscanf(mp, "/mnt/img%u", &i), 1);
			assert_true(i < n);
			d = vss_jail_image_device(f->jail, i);
			assert_string_equal(type, vss_jail_fs_to_string(images[i].fs));
			(void)snprintf(want, sizeof(want), "/dev/loop%u", minor(d));
			assert_string_equal(source, want);
			if (images[i].fs != VSS_JAIL_FS_BTRFS)
				assert_true(makedev(maj, min) == d);
		}
	}
	assert_int_equal(lines, 4 + n);

	/* A process started in the jail sees the same table (cat it into a memfd). */
	f->out_fd = memfd_create("mountinfo", MFD_CLOEXEC);
	assert_true(f->out_fd >= 0);
	assert_int_equal(
		vss_jail_spawn(f->jail,
			       (char *[]){ (char *)cat, (char *)"/proc/self/mountinfo", NULL },
			       NULL, f->out_fd, &p),
		0);
	assert_int_equal(vss_jail_proc_wait(f->jail, p, 10 * SEC, &status), 0);
	p = vss_jail_proc_free(p);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	seen = read_fd_text(f->out_fd);
	assert_non_null(seen);
	free(table);
	table = read_path_text(path);
	assert_string_equal(seen, table);

	/* A jailed process passes the gate, with exactly the images as candidates... */
	assert_int_equal(vss_jail_spawn(f->jail,
					(char *[]){ (char *)sleep_bin, (char *)"60", NULL }, NULL,
					-1, &f->proc),
			 0);
	assert_int_equal(
		vss_jail_gate(f->jail, vss_jail_proc_pid(f->proc), &plan, reason, sizeof(reason)),
		0);
	assert_int_equal(plan.n_candidates, n);
	for (size_t i = 0; i < n; i++)
		assert_true(plan.candidates[i] == vss_jail_image_device(f->jail, i));
	/* ...the test process does not, and the old root is gone from inside. */
	reason[0] = 0;
	assert_int_equal(vss_jail_gate(f->jail, getpid(), &plan, reason, sizeof(reason)), -EPERM);
	print_message("gate on the test process: %s\n", reason);
	(void)snprintf(path, sizeof(path), "/proc/%d/root/oldroot",
		       (int)vss_jail_proc_pid(f->proc));
	assert_int_equal(stat(path, &st), -1);
	/* Output into a file on a real filesystem would pin it inside the jail: refused. */
	{
		_cleanup_close_ int bad = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		VssJailProc *q = NULL;

		assert_true(bad >= 0);
		assert_int_equal(
			vss_jail_spawn(f->jail, (char *[]){ (char *)cat, NULL }, NULL, bad, &q),
			-EPERM);
	}

	for (size_t i = 0; i < n; i++) {
		backing[i] = loop_backing(vss_jail_image_device(f->jail, i));
		assert_non_null(backing[i]);
	}
	dev_t devs[3];
	for (size_t i = 0; i < n; i++)
		devs[i] = vss_jail_image_device(f->jail, i);

	assert_true(vss_jail_proc_stop(f->jail, f->proc) >= 0);
	f->proc = NULL;
	f->jail = vss_jail_free(f->jail);

	/* Nothing left: no mounts here, the loop devices cleared themselves. */
	free(table);
	table = read_path_text("/proc/self/mountinfo");
	assert_non_null(table);
	assert_null(strstr(table, "hvguest-jail"));
	for (size_t i = 0; i < n; i++) {
		assert_true(wait_loop_released(devs[i], backing[i], 5 * SEC));
		free(backing[i]);
	}
}

/* ---- Extra mounts: binds, subvolumes, harmless tmpfs; nothing else ---- */

static void test_jail_extra_mounts(void **state)
{
	Fixture *f = *state;
	VssJailImage images[2] = { { .fs = VSS_JAIL_FS_EXT4, .parent = -1 } };
	bool btrfs = vss_jail_fs_available(VSS_JAIL_FS_BTRFS);
	VssJailOptions o = { .images = images, .n_images = btrfs ? 2 : 1 };
	char reason[512] = "", dev[32];
	VssGatePlan plan;
	bool frozen;

	if (!have_root())
		skip();
	if (btrfs)
		images[1] = (VssJailImage){ .fs = VSS_JAIL_FS_BTRFS, .parent = -1 };
	assert_int_equal(vss_jail_new(&o, &f->root, &f->jail), 0);

	/* Another path to image 0 (read-only) and a tmpfs named like a device. */
	assert_int_equal(vss_jail_mkdir(f->jail, "/mnt/img0/dir", 0755), 0);
	assert_int_equal(vss_jail_mount(f->jail, "/mnt/img0/dir", "/mnt/bind0", NULL,
					MS_BIND | MS_RDONLY, NULL),
			 0);
	assert_int_equal(vss_jail_mount(f->jail, "/dev/hvguest-nofreeze", "/mnt/nofreeze", "tmpfs",
					0, "size=1m"),
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
	}
	/* Still one candidate per image: same superblocks. */
	assert_int_equal(
		vss_jail_gate(f->jail, vss_jail_init_pid(f->jail), &plan, reason, sizeof(reason)),
		0);
	assert_int_equal(plan.n_mounts, 3 + o.n_images + (btrfs ? 3 : 2)); /* /, proc, run */
	assert_int_equal(plan.n_candidates, o.n_images);

	/* The harness's freeze reaches the superblock through any of them. */
	assert_int_equal(vss_jail_freeze_image(f->jail, 0), 0);
	assert_int_equal(vss_jail_probe(f->jail, 0, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(vss_jail_thaw_all(f->jail), 1);
	assert_int_equal(vss_jail_probe(f->jail, 0, &frozen), 0);
	assert_false(frozen);

	/* Anything that could bring another filesystem in is refused. */
	assert_int_equal(vss_jail_mount(f->jail, "/proc", "/mnt/p", NULL, MS_BIND, NULL), -EPERM);
	assert_int_equal(vss_jail_mount(f->jail, "/dev/null", "/mnt/x", "ext4", 0, NULL), -EPERM);
	assert_int_equal(vss_jail_mount(f->jail, "/mnt/img0", "/run/x", NULL, MS_BIND, NULL),
			 -EPERM);
	assert_int_equal(vss_jail_mount(f->jail, "x", "/mnt/../run", "tmpfs", 0, NULL), -EPERM);
	assert_int_equal(vss_jail_mount(f->jail, "x", "/mnt/y", "overlay", 0, NULL), -EPERM);
	assert_int_equal(vss_jail_umount(f->jail, "/mnt/img0"), -EPERM);

	assert_int_equal(vss_jail_umount(f->jail, "/mnt/bind0"), 0);
	assert_int_equal(vss_jail_umount(f->jail, "/mnt/nofreeze"), 0);
	assert_int_equal(vss_jail_gate(f->jail, vss_jail_init_pid(f->jail), &plan, NULL, 0), 0);
	assert_int_equal(plan.n_mounts, 3 + o.n_images + (btrfs ? 1 : 0));
}

/* ---- Stacked images: ordering, and probes that cannot hang us ---- */

static bool wait_thawed(VssJail *j, size_t i, uint64_t timeout_usec)
{
	uint64_t until = now_usec() + timeout_usec;

	for (;;) {
		bool frozen = true;

		if (vss_jail_probe(j, i, &frozen) == 0 && !frozen)
			return true;
		if (now_usec() > until)
			return false;
		(void)usleep(20000);
	}
}

static void test_stacked_images(void **state)
{
	Fixture *f = *state;
	VssJailImage images[2] = {
		{ .fs = VSS_JAIL_FS_EXT4, .size_mib = 128, .parent = -1 },
		{ .fs = VSS_JAIL_FS_EXT4, .size_mib = 32, .parent = 0 },
	};
	VssJailOptions o = { .images = images, .n_images = 2 };
	char *backing[2] = {};
	dev_t devs[2];
	struct stat st;
	bool frozen;
	uint64_t t0;

	if (!have_root())
		skip();
	assert_int_equal(vss_jail_new(&o, &f->root, &f->jail), 0);
	for (size_t i = 0; i < 2; i++) {
		devs[i] = vss_jail_image_device(f->jail, i);
		backing[i] = loop_backing(devs[i]);
		assert_non_null(backing[i]);
	}
	/* The inner image's backing file lives on the outer image. */
	assert_int_equal(fstatat(vss_jail_image_fd(f->jail, 0), "img1.img", &st, 0), 0);
	assert_true(S_ISREG(st.st_mode));
	print_message("inner loop backing file: %s", backing[1]);

	/* Right order: inner first, then outer; thaw outer first. */
	assert_int_equal(vss_jail_freeze_image(f->jail, 1), 0);
	assert_int_equal(vss_jail_freeze_image(f->jail, 0), 0);
	assert_int_equal(vss_jail_probe(f->jail, 0, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(vss_jail_probe(f->jail, 1, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(vss_jail_thaw_all(f->jail), 2);
	assert_true(wait_thawed(f->jail, 0, 2 * SEC));
	assert_true(wait_thawed(f->jail, 1, 2 * SEC));

	/* Wrong order: with the outer frozen, freezing the inner would hang; we time out. */
	assert_int_equal(vss_jail_freeze_image(f->jail, 0), 0);
	t0 = now_usec();
	assert_int_equal(vss_jail_probe(f->jail, 1, &frozen), -ETIMEDOUT);
	print_message("probe of the inner image behind a frozen outer gave up after %.1f s\n",
		      (double)(now_usec() - t0) / SEC);
	assert_true(vss_jail_thaw_all(f->jail) >= 1);
	/* The stray probe then completes, and undoes its own freeze. */
	assert_true(wait_thawed(f->jail, 0, 5 * SEC));
	assert_true(wait_thawed(f->jail, 1, 5 * SEC));

	f->jail = vss_jail_free(f->jail);
	for (size_t i = 0; i < 2; i++) {
		assert_true(wait_loop_released(devs[i], backing[i], 5 * SEC));
		free(backing[i]);
	}
}

/* ---- SIGKILL of the harness while an image is frozen ---- */

typedef struct HarnessMsg {
	int result;
	pid_t init_pid;
	dev_t device;
	bool frozen;
} HarnessMsg;

static bool read_timeout(int fd, void *buf, size_t size, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && read(fd, buf, size) == (ssize_t)size;
}

/* The harness: builds a jail, freezes its image on command, then waits to be killed. */
static _noreturn_ void harness_main(const VssRootId *root, int report, int cmd)
{
	VssJailImage image = { .fs = VSS_JAIL_FS_EXT4, .parent = -1 };
	VssJailOptions o = { .images = &image, .n_images = 1 };
	HarnessMsg m = {};
	VssJail *j = NULL;
	char c;
	int fd;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	m.result = vss_jail_new(&o, root, &j);
	if (m.result == 0) {
		m.init_pid = vss_jail_init_pid(j);
		m.device = vss_jail_image_device(j, 0);
		fd = openat(vss_jail_image_fd(j, 0), "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			m.result = -errno;
		else
			close(fd);
	}
	(void)!write(report, &m, sizeof(m));
	if (m.result < 0 || read(cmd, &c, 1) != 1)
		_exit(1);

	m.result = vss_jail_freeze_image(j, 0);
	if (m.result == 0)
		m.result = vss_jail_probe(j, 0, &m.frozen);
	(void)!write(report, &m, sizeof(m));
	for (;;)
		pause(); /* SIGKILL comes: no cleanup of ours runs */
}

/* Which of the supervisor's two ways to learn about the harness's death is left to it. */
typedef enum DeathPath {
	DEATH_BOTH,	   /* control socket EOF and the nanny's exit */
	DEATH_NANNY_ONLY,  /* a leaked copy of the control socket keeps it open */
	DEATH_SOCKET_ONLY, /* the nanny is stopped and cannot react */
} DeathPath;

/* Duplicates every socket the harness holds (its control socket) into this process. */
static size_t steal_sockets(pid_t h, int *fds, size_t max)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, h, 0);
	char dir[64];
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	assert_true(pidfd >= 0);
	(void)snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)h);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) && n < max) {
		char link[64] = "", path[330];

		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (readlink(path, link, sizeof(link) - 1) > 0 &&
		    strncmp(link, "socket:", 7) == 0) {
			fds[n] = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
			assert_true(fds[n] >= 0);
			n++;
		}
	}
	closedir(d);
	return n;
}

static pid_t parent_of(pid_t pid)
{
	char path[64];
	_cleanup_free_ char *stat = NULL;
	const char *p;
	int ppid = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat = read_path_text(path);
	assert_non_null(stat);
	p = strrchr(stat, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %d", &ppid), 1);
	return ppid;
}

static void sigkill_harness(Fixture *f, DeathPath how)
{
	int report[2], cmd[2], go[2], done[2], status, wres = -1;
	_cleanup_free_ char *backing = NULL;
	char path[128], c = 'x';
	HarnessMsg m;
	pid_t h, w, nanny = 0;
	uint64_t t0, thawed_after;
	int fd, stolen[8];
	size_t n_stolen = 0;

	if (!have_root())
		skip();
	/* Orphans (the jail's nanny, once the harness is gone) come back to us for reaping. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(cmd, O_CLOEXEC), 0);
	h = fork();
	assert_true(h >= 0);
	if (h == 0) {
		close(report[0]);
		close(cmd[1]);
		harness_main(&f->root, report[1], cmd[0]);
	}
	close(report[1]);
	close(cmd[0]);

	assert_true(read_timeout(report[0], &m, sizeof(m), 120000));
	assert_int_equal(m.result, 0);
	if (how == DEATH_NANNY_ONLY) {
		n_stolen = steal_sockets(h, stolen, ELEMENTSOF(stolen));
		assert_int_equal(n_stolen, 1);
	}
	if (how == DEATH_SOCKET_ONLY) {
		nanny = parent_of(m.init_pid);
		assert_int_equal(parent_of(nanny), h);
	}
	backing = loop_backing(m.device);
	assert_non_null(backing);

	/* A fresh process with the file open before the freeze writes after it. */
	(void)snprintf(path, sizeof(path), "/proc/%d/root/mnt/img0/f", (int)m.init_pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(done, O_CLOEXEC), 0);
	w = fork();
	assert_true(w >= 0);
	if (w == 0) {
		char buf[65536];
		int r = 0;

		memset(buf, 'w', sizeof(buf));
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fdatasync(fd) < 0)
			r = -errno;
		(void)!write(done[1], &r, sizeof(r));
		_exit(0);
	}
	close(go[0]);
	close(done[1]);

	assert_int_equal(write(cmd[1], &c, 1), 1);
	assert_true(read_timeout(report[0], &m, sizeof(m), 20000));
	assert_int_equal(m.result, 0);
	assert_true(m.frozen);

	/* Frozen: the writer blocks... */
	assert_int_equal(write(go[1], &c, 1), 1);
	assert_false(read_timeout(done[0], &wres, sizeof(wres), 500));

	/* ...and stays blocked until the supervisor notices the harness is gone. */
	if (nanny > 0)
		assert_int_equal(kill(nanny, SIGSTOP), 0);
	t0 = now_usec();
	assert_int_equal(kill(h, SIGKILL), 0);
	assert_int_equal(waitpid(h, &status, 0), h);
	if (!read_timeout(done[0], &wres, sizeof(wres), 10000)) {
		/* The supervisor failed: our descriptor on the image still reaches it. */
		(void)ioctl(fd, FITHAW, 0);
		fail_msg("the image was not thawed after the harness died");
	}
	thawed_after = now_usec() - t0;
	/* Let the image go, or its superblock (and loop device) stays. */
	close(fd);
	assert_int_equal(wres, 0);
	print_message("write completed %.1f ms after SIGKILL of the harness (path %d)\n",
		      (double)thawed_after / 1000.0, (int)how);
	assert_true(thawed_after < 5 * SEC);
	assert_int_equal(waitpid(w, &status, 0), w);
	if (nanny > 0)
		assert_int_equal(kill(nanny, SIGCONT), 0);
	for (size_t i = 0; i < n_stolen; i++)
		close(stolen[i]);

	/* The jail is gone and its loop device is free again. */
	assert_true(wait_loop_released(m.device, backing, 10 * SEC));
	t0 = now_usec();
	while (kill(m.init_pid, 0) == 0 && now_usec() - t0 < 10 * SEC) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		(void)usleep(10000);
	}
	assert_int_equal(kill(m.init_pid, 0), -1);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	close(report[0]);
	close(cmd[1]);
	close(go[1]);
	close(done[0]);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

static void test_supervisor_thaws_after_sigkill(void **state)
{
	sigkill_harness(*state, DEATH_BOTH);
}

static void test_supervisor_thaws_with_socket_leaked(void **state)
{
	sigkill_harness(*state, DEATH_NANNY_ONLY);
}

static void test_supervisor_thaws_with_nanny_stopped(void **state)
{
	sigkill_harness(*state, DEATH_SOCKET_ONLY);
}

/* ---- Debian's hv_vss_daemon in the jail ---- */

static void probe_all(Fixture *f, size_t n, bool want_frozen)
{
	for (size_t i = 0; i < n; i++) {
		bool frozen;

		assert_int_equal(vss_jail_probe(f->jail, i, &frozen), 0);
		if (frozen != want_frozen)
			fail_msg("img%zu (%s): frozen=%d, expected %d", i,
				 vss_jail_fs_to_string(vss_jail_image_fs(f->jail, i)), frozen,
				 want_frozen);
	}
}

static void gate(Fixture *f, size_t n)
{
	char reason[512] = "";
	VssGatePlan plan;
	int r;

	r = vss_jail_gate(f->jail, vss_jail_proc_pid(f->proc), &plan, reason, sizeof(reason));
	if (r < 0)
		fail_msg("gate refused: %s (%s)", reason, strerror(-r));
	assert_int_equal(plan.n_candidates, n);
}

static void test_upstream_freeze_thaw(void **state)
{
	Fixture *f = *state;
	const char *upstream = getenv("HV_VSS_DAEMON_UPSTREAM") ?: "/usr/sbin/hv_vss_daemon";
	const char *execs[1] = { upstream };
	VssJailImage images[3];
	size_t n = add_available(images, 0);
	VssJailOptions o = {
		.images = images,
		.n_images = n,
		.vmbus_dir = "/dev/vmbus",
		.syslog = true,
		.executables = execs,
		.n_executables = 1,
	};
	HostSimOptions so = { .vss_freeze_timeout_usec = 60 * SEC, .vss_timeout_usec = 30 * SEC };
	_cleanup_free_ char *log = NULL, *out = NULL;
	uint32_t st = ~0u, flags;
	uint64_t usec;

	if (!have_root())
		skip();
	if (access(upstream, X_OK) < 0) {
		print_message("'%s' missing: skipped\n", upstream);
		skip();
	}
	assert_int_equal(hostsim_new(&so, &f->sim), 0);
	assert_int_equal(vss_jail_new(&o, &f->root, &f->jail), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
			hostsim_vss_allow_freeze(f->sim, vss_jail_image_device(f->jail, i)), 0);

	f->out_fd = memfd_create("upstream", MFD_CLOEXEC);
	assert_true(f->out_fd >= 0);
	assert_int_equal(vss_jail_spawn(f->jail, (char *[]){ (char *)upstream, (char *)"-n", NULL },
					NULL, f->out_fd, &f->proc),
			 0);
	assert_int_equal(hostsim_vss_wait_ready(f->sim, 10 * SEC), 0);

	assert_int_equal(hostsim_vss_request(f->sim, HOSTSIM_VSS_OP_HOT_BACKUP, &st, &flags), 0);
	assert_int_equal(st, HV_S_OK);

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(vss_jail_writer_new(f->jail, i, "writer", 1 << 20, &f->writers[i]),
				 0);
		f->n_writers++;
	}

	gate(f, n);
	assert_int_equal(hostsim_vss_request(f->sim, HOSTSIM_VSS_OP_FREEZE, &st, &flags), 0);
	assert_int_equal(st, HV_S_OK);
	probe_all(f, n, true);

	/* Writers now block on every image. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(vss_jail_writer_go(f->writers[i]), 0);
	(void)usleep(300000);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(vss_jail_writer_wait(f->writers[i], 0, NULL), -ETIMEDOUT);

	gate(f, n);
	assert_int_equal(hostsim_vss_request(f->sim, HOSTSIM_VSS_OP_THAW, &st, &flags), 0);
	assert_int_equal(st, HV_S_OK);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(vss_jail_writer_wait(f->writers[i], 10 * SEC, &usec), 0);
		print_message("img%zu (%s): writer blocked %.1f ms\n", i,
			      vss_jail_fs_to_string(images[i].fs), (double)usec / 1000.0);
		assert_true(usec >= 250000);
	}
	probe_all(f, n, false);

	assert_int_equal(vss_jail_read_log(f->jail, &log), 0);
	print_message("upstream syslog:\n%s", log);
	assert_non_null(strstr(log, "FREEZE"));
	out = read_fd_text(f->out_fd);
	if (out && out[0])
		print_message("upstream output:\n%s", out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_jail_mount_table, test_teardown),
		cmocka_unit_test_teardown(test_jail_extra_mounts, test_teardown),
		cmocka_unit_test_teardown(test_stacked_images, test_teardown),
		cmocka_unit_test_teardown(test_supervisor_thaws_after_sigkill, test_teardown),
		cmocka_unit_test_teardown(test_supervisor_thaws_with_socket_leaked, test_teardown),
		cmocka_unit_test_teardown(test_supervisor_thaws_with_nanny_stopped, test_teardown),
		cmocka_unit_test_teardown(test_upstream_freeze_thaw, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
