/* SPDX-License-Identifier: MIT */
/*
 * vss-jail: a safe place to run a freezing daemon (test-harness.md §6, issue 4 item 8).
 *
 * A VssJail is a mount + PID + UTS namespace whose root is a fresh tmpfs ("hvguest-jail",
 * built by pivot_root; the machine's root is detached, never bind-mounted) holding copies of
 * the executables under test and their libraries, a minimal /etc, a /dev with null, zero,
 * full, random, urandom and the loop nodes of the test images, /proc, a tmpfs /run,
 * optionally a fresh sysfs, the simulator's FUSE /dev/vmbus (bound: FUSE cannot freeze), and
 * N loop-backed test images (ext4, xfs, btrfs) mounted at /mnt/img0 ... /mnt/img<N-1>. The
 * images' backing files live on a private tmpfs that is not visible in the jail (or, for a
 * stacked image, on another test image); the loop devices auto-clear.
 *
 *   test process ── fork ── nanny (unshares NEWNS|NEWUTS|NEWPID) ── fork ── builder
 *   builder: mkfs, loop devices, jail tmpfs, copies, pivot_root, mounts; then execs the
 *   init (a copy inside the jail): PID 1 of the namespace and the supervisor.
 *
 * The init holds a directory descriptor on every image. It learns of the test process's
 * death (for any reason, SIGKILL included) in two independent ways: EOF on the control
 * socket, and SIGTERM as its parent-death signal when the nanny, which watches the test
 * process with a pidfd, exits. Then, as on SIGINT/SIGHUP/SIGQUIT, a SHUTDOWN request or the
 * end of its lifetime, it kills every process in the jail, thaws every image (outer before
 * stacked inner), reaps, thaws again, unmounts and exits; the namespaces die with it and the
 * loop devices clear themselves.
 *
 * Safety gate: nothing here freezes before vss_jail_gate() accepted the mount table of the
 * jail (every block-backed or btrfs mount must be one of the images' loop devices, none may
 * be the machine's root). Callers that send FREEZE to a daemon must run vss_jail_gate() on
 * the daemon's pid first.
 *
 * The test process must run as root; it may be multi-threaded (HostSim's FUSE thread).
 * Not thread-safe: one thread drives a VssJail.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

#define VSS_JAIL_MAX_IMAGES 64u

/* ---- The machine's root filesystem, recorded before any namespace games ---- */

typedef struct VssRootId {
	dev_t st_dev;	  /* stat("/").st_dev */
	dev_t mnt_dev;	  /* major:minor of the "/" line of /proc/self/mountinfo */
	char source[256]; /* its mount source, e.g. "/dev/vda" ("" if none) */
} VssRootId;

/* Records the caller's current root. Call it first thing in main(), before unsharing. */
int vss_root_id_get(VssRootId *ret);

/* ---- The safety gate ---- */

/* What a mount table would let a daemon freeze: one device per superblock. */
typedef struct VssGatePlan {
	size_t n_mounts;
	size_t n_candidates;
	dev_t candidates[VSS_JAIL_MAX_IMAGES]; /* block device of each candidate superblock */
} VssGatePlan;

/*
 * Resolves a mount source (an absolute path as the daemon sees it) to a block device: 1 and
 * *ret_rdev when it is one, 0 when it is not a block device or does not exist, negative
 * errno on failure.
 */
typedef int (*VssGateResolve)(const char *source, dev_t *ret_rdev, void *userdata);

typedef struct VssGate {
	const dev_t *allowed; /* the test images' loop devices */
	size_t n_allowed;
	const VssRootId *real_root;
	VssGateResolve resolve; /* may be NULL: sources are then never resolved */
	void *userdata;
} VssGate;

/*
 * The pure gate over mountinfo text. A mount is a freeze candidate when its major is not 0,
 * its type is btrfs or bcachefs (anonymous device numbers), or its source resolves to a block
 * device. Refuses (-EPERM, reason in reterr) when a candidate is not in g->allowed, when any
 * mount has the real root's major:minor or st_dev, when any source equals the real root's
 * source, or when a btrfs/bcachefs source cannot be resolved; -EBADMSG for a malformed line.
 * On success fills ret_plan (may be NULL). reterr may be NULL.
 */
int vss_gate_check_mountinfo(const char *text, const VssGate *g, VssGatePlan *ret_plan,
			     char *reterr, size_t reterr_size);

/*
 * The gate for a live process: reads /proc/<pid>/mountinfo from outside, resolves sources
 * inside the process's root, and additionally refuses when the process's root, working
 * directory, any open descriptor or any file mapping lives on the real root filesystem.
 */
int vss_jail_check_plan(pid_t daemon_pid, const dev_t *allowed, size_t n_allowed,
			const VssRootId *real_root, VssGatePlan *ret_plan, char *reterr,
			size_t reterr_size);

/* ---- The jail ---- */

typedef enum VssJailFs {
	VSS_JAIL_FS_EXT4,
	VSS_JAIL_FS_XFS,
	VSS_JAIL_FS_BTRFS,
	_VSS_JAIL_FS_MAX,
	_VSS_JAIL_FS_INVALID = -EINVAL,
} VssJailFs;

const char *vss_jail_fs_to_string(VssJailFs fs);
/* Whether the mkfs tool for fs is installed (xfsprogs, btrfs-progs may be missing). */
bool vss_jail_fs_available(VssJailFs fs);

typedef struct VssJailImage {
	VssJailFs fs;
	unsigned size_mib; /* 0: default (ext4 64, xfs 300 = mkfs.xfs's minimum, btrfs 128) */
	/*
	 * -1: backing file on the private scratch tmpfs. k >= 0: a stacked image whose backing
	 * file lives on image k (k < this image's index), for freeze-ordering tests.
	 */
	int parent;
} VssJailImage;

typedef struct VssJailOptions {
	const VssJailImage *images;
	size_t n_images; /* 1 .. VSS_JAIL_MAX_IMAGES */
	/*
	 * A FUSE mount to bind at /dev/vmbus (e.g. "/dev/vmbus" after hostsim_new(): the jail
	 * is built from a copy of the caller's mount namespace). Anything but FUSE is refused.
	 * NULL: an empty /dev/vmbus directory.
	 */
	const char *vmbus_dir;
	/* A fresh sysfs at /sys. Leave it off to run the upstream daemon (§6 item 2). */
	bool sysfs;
	/* Capture syslog(3) datagrams sent to the jail's /dev/log (vss_jail_read_log()). */
	bool syslog;
	const char *hostname; /* default "hvguest-jail" */
	/* The supervisor's hard limit: then it kills, thaws and exits. 0: 1800 s. */
	unsigned lifetime_sec;
	/* Host executables copied (with their libraries) to the same paths in the jail. */
	const char *const *executables;
	size_t n_executables;
} VssJailOptions;

typedef struct VssJail VssJail;
typedef struct VssJailProc VssJailProc;
typedef struct VssJailWriter VssJailWriter;

/*
 * Builds the jail (bounded: about a second for a few images, at most 2 minutes) and runs the
 * gate on the init's own view: every image must be a candidate and nothing else.
 * real_root: recorded by vss_root_id_get() before any unshare (NULL: recorded now).
 * Fails with -EOPNOTSUPP when an image's mkfs tool is missing, -EPERM when not root.
 */
int vss_jail_new(const VssJailOptions *o, const VssRootId *real_root, VssJail **ret);

/*
 * Thaws every image, closes our descriptors, asks the init to kill, thaw, unmount and exit,
 * and waits (bounded) until the namespace is gone. Procs and writers must be freed first.
 * Returns NULL.
 */
VssJail *vss_jail_free(VssJail *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(VssJail *, vss_jail_free);

size_t vss_jail_n_images(const VssJail *j);
VssJailFs vss_jail_image_fs(const VssJail *j, size_t i);
/* The image's loop block device (what a daemon's plan must contain). */
dev_t vss_jail_image_device(const VssJail *j, size_t i);
/* Our O_RDONLY directory descriptor on the mounted image (owned by the jail). */
int vss_jail_image_fd(const VssJail *j, size_t i);
/* "/mnt/img<i>": where the image is mounted inside the jail. */
int vss_jail_image_path(size_t i, char *buf, size_t size);
/* The init (supervisor, PID 1 inside), as a pid in the caller's namespace. */
pid_t vss_jail_init_pid(const VssJail *j);
/* An O_PATH descriptor on the jail's root directory. */
int vss_jail_root_fd(const VssJail *j);

/*
 * The gate for one process in the jail: it must share the jail's mount namespace and root,
 * and vss_jail_check_plan() must accept it with the jail's images as the allowed set.
 */
int vss_jail_gate(VssJail *j, pid_t pid, VssGatePlan *ret_plan, char *reterr, size_t reterr_size);

/* ---- Files inside the jail (paths are jail paths; nothing outside can be reached) ---- */

int vss_jail_mkdir(VssJail *j, const char *path, mode_t mode);
int vss_jail_write_file(VssJail *j, const char *path, const void *data, size_t len, mode_t mode);
/* Copies a host executable and its libraries to the same path inside the jail. */
int vss_jail_install_exec(VssJail *j, const char *host_path);
/* Lines sent to the jail's /dev/log so far (options.syslog); free() *ret. */
int vss_jail_read_log(VssJail *j, char **ret);

/*
 * Extra mounts for bind/subvolume/rollback scenarios, performed by the init. target must be
 * below /mnt/ (created if missing). Accepted: MS_BIND of a path below /mnt/ (MS_RDONLY makes
 * it a read-only bind); ext4/xfs/btrfs from one of the images' /dev/loopN nodes (data e.g.
 * "subvol=sv"); tmpfs with any source name (e.g. "/dev/hvguest-nofreeze" for the upstream
 * EOPNOTSUPP rollback). Everything else: -EPERM.
 */
int vss_jail_mount(VssJail *j, const char *source, const char *target, const char *fstype,
		   unsigned long flags, const char *data);
/* Unmounts an extra mount (not an image's own /mnt/img<i>). */
int vss_jail_umount(VssJail *j, const char *target);

/* ---- Processes inside the jail ---- */

/*
 * Starts argv inside the jail (argv[0] an absolute jail path; envp NULL: PATH only) as a
 * child of the init, in its own session, with PR_SET_PDEATHSIG=SIGKILL, stdin /dev/null and
 * stdout+stderr on out_fd (-1: /dev/null; otherwise a pipe, socket, or a file on tmpfs or a
 * memfd: nothing that could pin a real filesystem inside the jail).
 */
int vss_jail_spawn(VssJail *j, char *const argv[], char *const envp[], int out_fd,
		   VssJailProc **ret);
/* Its pid in the caller's namespace (for /proc/<pid> and the gate). */
pid_t vss_jail_proc_pid(const VssJailProc *p);
int vss_jail_proc_signal(VssJailProc *p, int sig);
/* Waits up to timeout_usec for the exit: 0 and the wait status, or -ETIMEDOUT. */
int vss_jail_proc_wait(VssJail *j, VssJailProc *p, uint64_t timeout_usec, int *ret_status);
/* SIGTERM, up to 5 s, then SIGKILL; frees p. Returns the wait status or negative errno. */
int vss_jail_proc_stop(VssJail *j, VssJailProc *p);
/* Frees without stopping (the init kills it at shutdown). Returns NULL. */
VssJailProc *vss_jail_proc_free(VssJailProc *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(VssJailProc *, vss_jail_proc_free);

/* ---- Freeze probes and the harness's own freeze ---- */

/*
 * Probes image i with our own FIFREEZE (after the gate, in a child process with a 5 s
 * timeout so that a stacked image behind a frozen one cannot hang us): EBUSY -> *ret_frozen
 * = true; success -> it was NOT frozen: thawed at once, *ret_frozen = false.
 */
int vss_jail_probe(VssJail *j, size_t i, bool *ret_frozen);
/* The harness's own FIFREEZE of image i (after the gate). */
int vss_jail_freeze_image(VssJail *j, size_t i);
/* FITHAW on every image in outer-before-inner order; returns how many were frozen. */
int vss_jail_thaw_all(VssJail *j);

/* ---- Writers: prove that a freeze blocks writes without blocking us ---- */

/*
 * Forks a writer with name (created now) open on image i. After vss_jail_writer_go() it
 * writes bytes bytes and fdatasync()s; a frozen filesystem blocks it in D state until thawed.
 */
int vss_jail_writer_new(VssJail *j, size_t i, const char *name, size_t bytes, VssJailWriter **ret);
int vss_jail_writer_go(VssJailWriter *w);
/*
 * 0 when the write completed (ret_usec: from go to completion as we saw it), -ETIMEDOUT
 * while still blocked, or the writer's negative errno.
 */
int vss_jail_writer_wait(VssJailWriter *w, uint64_t timeout_usec, uint64_t *ret_usec);
/* Kills and reaps (bounded; a writer blocked on a frozen image only dies after the thaw). */
VssJailWriter *vss_jail_writer_free(VssJailWriter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(VssJailWriter *, vss_jail_writer_free);
