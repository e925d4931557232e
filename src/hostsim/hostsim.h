/* SPDX-License-Identifier: MIT */
/*
 * hv-hostsim: the simulated Hyper-V host and guest kernel.
 *
 * A HostSim owns a private environment (mount, network and UTS namespaces entered by the
 * calling process; a tmpfs scratch directory; a private /dev with /dev/vmbus served by an
 * in-process FUSE low-level server) and plays both the host and the hv_utils kernel driver:
 * host requests are built in the host's UTF-16 wire form, converted and length-limited
 * exactly as drivers/hv/hv_kvp.c does, queued on the emulated device with the transport's
 * semantics (hv_utils_transport.c), and the daemon's reply is converted back as the kernel
 * would before the host sees it.
 *
 * Used by the hv-hostsim tool (scenarios, demo), the integration tests and the benchmarks;
 * every one of them runs the real daemon binaries against it.
 *
 * hostsim_new() calls unshare(), which requires a single-threaded caller: create the HostSim
 * before starting any thread. Requires root and /dev/fuse.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

typedef struct HostSim HostSim;
typedef struct HostSimDaemon HostSimDaemon;

typedef struct HostSimOptions {
	/* Environment. */
	bool netns;		/* new netns with veth hv0 <-> hv0peer, addresses and routes */
	const char *hostname;	/* UTS hostname, default "hvguest-vm" */
	const char *domain;	/* FQDN domain in the bound /etc/hosts, default "example.test" */
	const char *os_release; /* text bound over /etc/os-release; NULL keeps the machine's */
	bool tmpfs_var_lib;	/* tmpfs on /var/lib (for the upstream daemon's fixed path) */

	/* Kernel model. */
	uint64_t kvp_timeout_usec; /* HV_UTIL_TIMEOUT, default 30 s */

	/* VSS kernel model (additions). */
	uint64_t vss_freeze_timeout_usec; /* VSS_FREEZE_TIMEOUT for FREEZE, default 900 s */
	uint64_t vss_timeout_usec;	  /* THAW and HOT_BACKUP (HV_UTIL_TIMEOUT), default 30 s */

	/* fcopy kernel model (additions). */
	uint64_t fcopy_timeout_usec; /* HV_UTIL_TIMEOUT per message, default 30 s */
} HostSimOptions;

/* Addresses hostsim puts on hv0 when netns is set (the "primary NIC"). */
#define HOSTSIM_MAC "00:15:5D:12:34:56"
#define HOSTSIM_IPV4 "192.0.2.10"
#define HOSTSIM_IPV4_GW "192.0.2.1"
#define HOSTSIM_IPV6 "2001:db8::10"

int hostsim_new(const HostSimOptions *o, HostSim **ret);
/* Stops daemons (SIGTERM, then SIGKILL), unmounts, removes the scratch directory. */
HostSim *hostsim_free(HostSim *sim);
DEFINE_TRIVIAL_CLEANUP_FUNC(HostSim *, hostsim_free);

/* The scratch directory (tmpfs) and a per-sim state directory inside it ("<scratch>/state"). */
const char *hostsim_scratch_dir(HostSim *sim);
const char *hostsim_state_dir(HostSim *sim);
/* The emulated device node, e.g. "/dev/vmbus/hv_kvp". */
const char *hostsim_kvp_device(HostSim *sim);

/*
 * Starts argv[0] with argv, stdin /dev/null, stdout+stderr appended to
 * "<scratch>/<basename>.log" (hostsim_daemon_log_path()), PR_SET_PDEATHSIG=SIGKILL.
 * extra_env: NULL or NULL-terminated "K=V" strings added to the environment.
 */
int hostsim_daemon_spawn(HostSim *sim, char *const argv[], char *const extra_env[],
			 HostSimDaemon **ret);
pid_t hostsim_daemon_pid(HostSimDaemon *d);
const char *hostsim_daemon_log_path(HostSimDaemon *d);
/* Sends sig; for SIGTERM/SIGKILL waits up to timeout and returns the wait status (>= 0). */
int hostsim_daemon_signal(HostSimDaemon *d, int sig);
int hostsim_daemon_wait(HostSimDaemon *d, uint64_t timeout_usec, int *ret_status);
/* SIGTERM, wait up to 5 s, then SIGKILL; frees d. Returns the wait status or negative errno. */
int hostsim_daemon_stop(HostSimDaemon *d);

/* Waits until the KVP service is READY (daemon registered) and nothing is queued. */
int hostsim_kvp_wait_ready(HostSim *sim, uint64_t timeout_usec);

/* Counters of the emulated transport, for tests of the reopen and EBUSY paths. */
typedef struct HostSimKvpStats {
	unsigned opens; /* successful opens */
	unsigned ebusy; /* opens refused with EBUSY */
	unsigned releases;
	unsigned registrations; /* registration messages accepted */
	unsigned einval_writes; /* writes refused with EINVAL (late/unsolicited replies) */
	unsigned timeouts;	/* requests the host saw fail because the daemon was late */
	bool ready;
} HostSimKvpStats;
void hostsim_kvp_stats(HostSim *sim, HostSimKvpStats *ret);
/* The version string the kernel model sends in the registration reply ("3.1"). */

/* What the host sees back. Strings are UTF-8 converted from the host's UTF-16. */
typedef struct HostKvpReply {
	uint32_t status;  /* IC status: HV_S_OK, HV_E_FAIL (also on timeout), HV_S_CONT, ... */
	char key[1024];	  /* ENUMERATE: key; empty otherwise */
	char value[4096]; /* ENUMERATE and GET: value */
} HostKvpReply;

/*
 * One host transaction on the KVP IC. Strings are UTF-8 here; the simulator converts them to
 * UTF-16 as the host would, then to what the kernel hands the daemon. Waits for the reply
 * (or the kernel's timeout, when the host sees HV_E_FAIL). Returns 0 when the host got an
 * answer (any status) or a negative errno when the simulator itself failed.
 */
int hostsim_kvp_set(HostSim *sim, uint8_t pool, const char *key, const char *value,
		    HostKvpReply *ret);
/* SET with a REG_U32 / REG_U64 value (the kernel renders it as decimal text). */
int hostsim_kvp_set_u32(HostSim *sim, uint8_t pool, const char *key, uint32_t value,
			HostKvpReply *ret);
int hostsim_kvp_get(HostSim *sim, uint8_t pool, const char *key, HostKvpReply *ret);
int hostsim_kvp_delete(HostSim *sim, uint8_t pool, const char *key, HostKvpReply *ret);
int hostsim_kvp_enumerate(HostSim *sim, uint8_t pool, uint32_t index, HostKvpReply *ret);

/*
 * Raw access for robustness tests: sends an arbitrary kernel->daemon message (len bytes as
 * the daemon will read them, bypassing the host conversion) and returns the daemon's raw
 * reply (up to reply_size bytes) in reply/ret_len. Fails with -ETIMEDOUT like the kernel.
 */
int hostsim_kvp_raw(HostSim *sim, const void *msg, size_t len, void *reply, size_t reply_size,
		    size_t *ret_len, uint32_t *ret_host_status);

/* Runs a command inside the simulated guest (same namespaces) and waits for it. */
int hostsim_run(HostSim *sim, char *const argv[], uint64_t timeout_usec, int *ret_status);

/*
 * ---- Additions to the original API (hostsim agent) ----
 */

/* Also on hv0 with netns: an IPv6 default route, and the peer end's address. */
#define HOSTSIM_IPV6_GW "2001:db8::1"
#define HOSTSIM_PEER_IPV4 "192.0.2.11"

/*
 * syslog(3) lines captured from a datagram socket bound at /dev/log in the private /dev
 * (the upstream daemons log only there): "<scratch>/syslog.log", one "<PRI>text" per line.
 */
const char *hostsim_syslog_path(HostSim *sim);

/* SET with a REG_U64 value (rendered as decimal text by the kernel). */
int hostsim_kvp_set_u64(HostSim *sim, uint8_t pool, const char *key, uint64_t value,
			HostKvpReply *ret);

/* GET_IP_INFO / SET_IP_INFO payload as the host sees it (UTF-8 here, UTF-16 on the wire). */
typedef struct HostKvpIpInfo {
	uint32_t status;      /* reply status (GET_IP_INFO) */
	char adapter_id[512]; /* GET: MAC "00:15:5D:12:34:56"; SET: "{instance-guid}" */
	uint8_t addr_family;  /* ADDR_FAMILY_IPV4 1 | ADDR_FAMILY_IPV6 2 */
	uint8_t dhcp_enabled;
	char ip_addr[4096]; /* ';'-separated lists */
	char sub_net[4096];
	char gate_way[2048];
	char dns_addr[4096];
} HostKvpIpInfo;

/* GET_IP_INFO for adapter_id (a MAC as text); fills ret including ret->status. */
int hostsim_kvp_get_ip_info(HostSim *sim, const char *adapter_id, uint8_t addr_family,
			    HostKvpIpInfo *ret);
/* SET_IP_INFO with cfg (cfg->status ignored); the host-visible status in *ret_status. */
int hostsim_kvp_set_ip_info(HostSim *sim, const HostKvpIpInfo *cfg, uint32_t *ret_status);

/* Raw transaction outcome details for robustness tests. */
typedef enum HostSimKvpEnd {
	HOSTSIM_KVP_END_REPLY,	   /* the daemon's reply was accepted */
	HOSTSIM_KVP_END_TIMEOUT,   /* the kernel timed out (host saw HV_E_FAIL) */
	HOSTSIM_KVP_END_RESET,	   /* the daemon released the device mid-transaction */
	HOSTSIM_KVP_END_SENDFAIL,  /* the previous message was still unread */
	HOSTSIM_KVP_END_WITHDRAWN, /* no daemon registered in time; the host gave up */
} HostSimKvpEnd;
/* How the last completed host transaction ended. */
HostSimKvpEnd hostsim_kvp_last_end(HostSim *sim);

/*
 * Like hostsim_run() but captures stdout+stderr (merged, NUL-terminated, at most 1 MiB) in
 * *ret_output (free() it). A command still running after timeout_usec is killed
 * (-ETIMEDOUT).
 */
int hostsim_run_capture(HostSim *sim, char *const argv[], uint64_t timeout_usec, int *ret_status,
			char **ret_output);

/*
 * Like hostsim_kvp_wait_ready() but also waits until at least min_registrations
 * registrations were accepted in total: use it after provoking a reopen (SIGSTOP past the
 * timeout, then SIGCONT) so as not to mistake the moment before the daemon's close for
 * readiness.
 */
int hostsim_kvp_wait_registered(HostSim *sim, unsigned min_registrations, uint64_t timeout_usec);

/* The kernel model's state name ("DEVICE_INIT", "READY", ...), for narration. */
const char *hostsim_kvp_state(HostSim *sim);

/* FUSE requests served so far (all devices), for per-transaction cost accounting. */
typedef struct HostSimFuseStats {
	unsigned opens, reads, writes, polls, notifies, parked, interrupts;
} HostSimFuseStats;
void hostsim_fuse_stats(HostSim *sim, HostSimFuseStats *ret);

/*
 * ---- VSS (/dev/vmbus/hv_vss), served on the same FUSE mount as hv_kvp ----
 *
 * The kernel model follows hv_snapshot.c (hyperv-abi.md §6): daemon writes must be exactly
 * 12 bytes; a REGISTER1 (129) write is answered with a 4-byte u32 129 and the service is
 * READY once the daemon has read it (legacy REGISTER, 128: no reply, never READY); FREEZE,
 * THAW and HOT_BACKUP reach the daemon as 12 zero bytes except the op, and fail at once with
 * HV_E_FAIL while no daemon is registered; every other op is answered by the kernel with
 * status 0. Each device has its own opener (EBUSY) and its own state.
 */

/* vss_hdr.operation values the host may send (enum hv_vss_op). */
#define HOSTSIM_VSS_OP_HOT_BACKUP 2
#define HOSTSIM_VSS_OP_GET_DM_INFO 3
#define HOSTSIM_VSS_OP_FREEZE 5
#define HOSTSIM_VSS_OP_THAW 6

/* The emulated device node, "/dev/vmbus/hv_vss". */
const char *hostsim_vss_device(HostSim *sim);

/*
 * One host transaction on the VSS IC with operation op; waits for the daemon's reply or the
 * kernel's timeout (FREEZE: vss_freeze_timeout_usec, others: vss_timeout_usec; the host
 * then sees HV_E_FAIL, the unread message stays queued and a late reply gets EINVAL).
 * *ret_status: the IC status the host sees (the daemon's bytes 0-3, HV_E_FAIL, or 0 for
 * ops the kernel answers itself). *ret_flags: bytes 8-11 of the daemon's reply (for
 * HOT_BACKUP, how the daemon would qualify the backup), 0 when the daemon did not answer.
 * NOTE: the real kernel does not forward the daemon's flags; what it does put in the host's
 * vss_cf.flags is in HostSimVssResult.host_flags. Either pointer may be NULL. Returns 0 when
 * the host got an answer (any status), -ECONNABORTED when hostsim_vss_fake_thaw() cancelled
 * the transaction (the host gets no answer), -EPERM when the safety gate refused a FREEZE
 * or THAW (see hostsim_vss_allow_freeze(); nothing was sent), or another negative errno when
 * the simulator failed.
 */
int hostsim_vss_request(HostSim *sim, uint8_t op, uint32_t *ret_status, uint32_t *ret_flags);

/*
 * SAFETY GATE (test-harness.md §6): a FREEZE or THAW (also the fake THAW) is sent only if
 * the process holding hv_vss sees, in its own /proc/<pid>/mountinfo, no filesystem that
 * could be frozen except on block devices allowed here (major:minor, e.g. the st_rdev of a
 * loop device the test set up), and "/" is not such a filesystem; otherwise the call fails
 * with -EPERM and logs the offending mount. Memory, kernel-pseudo and FUSE filesystems are
 * ignored; btrfs mounts (anonymous 0:N numbers) are matched through their source device.
 * With nothing allowed, FREEZE/THAW reach only daemons whose mount table is free of
 * freezable filesystems. -EINVAL for a device with major 0, -ENOSPC after 64 devices.
 */
int hostsim_vss_allow_freeze(HostSim *sim, dev_t device);

/*
 * Waits until a daemon holds hv_vss, has read the REGISTER1 reply, the service is READY,
 * nothing is queued and no host transaction is in progress.
 */
int hostsim_vss_wait_ready(HostSim *sim, uint64_t timeout_usec);
/* Like hostsim_vss_wait_ready() and at least min_registrations accepted in total. */
int hostsim_vss_wait_registered(HostSim *sim, unsigned min_registrations, uint64_t timeout_usec);

/* Counters of the emulated hv_vss device and its kernel model. */
typedef struct HostSimVssStats {
	unsigned opens; /* successful opens */
	unsigned ebusy; /* opens refused with EBUSY */
	unsigned releases;
	unsigned registrations; /* REGISTER/REGISTER1 writes accepted */
	unsigned einval_writes; /* writes refused with EINVAL (size != 12, late/unsolicited) */
	unsigned timeouts;	/* requests the host saw fail because the daemon was late */
	bool ready;		/* the kernel's state is READY or beyond */
} HostSimVssStats;
void hostsim_vss_stats(HostSim *sim, HostSimVssStats *ret);

/* The VSS model's state name ("DEVICE_INIT", "READY", ...), for narration. */
const char *hostsim_vss_state(HostSim *sim);

/*
 * Hibernation (hv_vss_pre_suspend): queues a fake THAW for the daemon with no host
 * transaction behind it and forces READY, so that the daemon's reply write fails with
 * EINVAL (it must thaw, close and reopen). A transaction in progress is cancelled without
 * an answer. Returns the kernel's (ignored) send result: 0, -EINVAL (nobody holds the
 * device) or -EFAULT (a message was still unread, and stays); -EPERM when the safety gate
 * (hostsim_vss_allow_freeze()) refused it, in which case nothing happened.
 */
int hostsim_vss_fake_thaw(HostSim *sim);

/* How a VSS host transaction ended. */
typedef enum HostSimVssEnd {
	HOSTSIM_VSS_END_REPLY,	   /* the daemon's reply was accepted */
	HOSTSIM_VSS_END_KERNEL,	   /* answered by the kernel itself (status 0) */
	HOSTSIM_VSS_END_NOT_READY, /* no daemon registered: HV_E_FAIL at once */
	HOSTSIM_VSS_END_TIMEOUT,   /* the kernel timed out (HV_E_FAIL) */
	HOSTSIM_VSS_END_RESET,	   /* the daemon released the device mid-transaction */
	HOSTSIM_VSS_END_SENDFAIL,  /* the previous message was still unread (HV_E_FAIL) */
	HOSTSIM_VSS_END_SUSPENDED, /* cancelled by hostsim_vss_fake_thaw() */
	HOSTSIM_VSS_END_WITHDRAWN, /* the host gave up while the request waited in the ring */
} HostSimVssEnd;

/* Details of the last completed VSS host transaction. */
typedef struct HostSimVssResult {
	uint8_t op;
	HostSimVssEnd end;
	uint32_t status;      /* the IC status the host saw */
	uint32_t host_flags;  /* vss_cf/dm_info.flags in the kernel's answer (see above) */
	uint32_t reply_flags; /* bytes 8-11 of the daemon's reply; 0 without a reply */
	uint64_t usec;	      /* from the request to the host's answer */
} HostSimVssResult;
/* -ENODATA before the first transaction. */
int hostsim_vss_last_result(HostSim *sim, HostSimVssResult *ret);

/*
 * ---- fcopy (/dev/vmbus/hv_fcopy, kernels < 6.10), served on the same FUSE mount ----
 *
 * The kernel model follows the pre-6.10 hv_fcopy.c (hyperv-abi.md §8.2): daemon writes must
 * be exactly 4 bytes; while no daemon is registered a write of version 1 is answered with a
 * 4-byte u32 1 and the service is READY once the daemon has read it (version 0: no reply,
 * never READY; other values: EINVAL). START_FILE_COPY reaches the daemon as 1088 bytes with
 * the names converted to UTF-8, WRITE_TO_FILE as the raw 6196 bytes, COMPLETE and CANCEL with
 * the kernel's over-long 64-byte length. Every request fails at once with HV_E_FAIL while no
 * daemon is registered. The daemon's 4-byte status is what the host sees; after
 * fcopy_timeout_usec the host sees HV_E_FAIL, the unread message stays queued and a late
 * reply gets EINVAL; releasing the device fails the outstanding request with HV_E_FAIL.
 *
 * Every call below returns 0 when the host got an answer (any status, in *ret_status, which
 * may be NULL) or a negative errno when the simulator itself failed (-EINVAL for bad
 * arguments, -ENAMETOOLONG / -EILSEQ for names the host cannot send).
 */

/* copy_flags of START_FILE_COPY. */
#define HOSTSIM_FCOPY_OVER_WRITE 0x1u
#define HOSTSIM_FCOPY_CREATE_PATH 0x2u
/* The largest WRITE_TO_FILE payload (DATA_FRAGMENT). */
#define HOSTSIM_FCOPY_DATA_MAX 6144u

/* The emulated device node, "/dev/vmbus/hv_fcopy". */
const char *hostsim_fcopy_device(HostSim *sim);

/*
 * Waits until a daemon holds hv_fcopy, has read the version reply, the service is READY,
 * nothing is queued and no host transaction is in progress.
 */
int hostsim_fcopy_wait_ready(HostSim *sim, uint64_t timeout_usec);

/*
 * START_FILE_COPY for path_utf8/name_utf8 (each at most 259 UTF-16 units on the wire), with
 * copy_flags flags (HOSTSIM_FCOPY_*) and file_size size (ignored by upstream daemons).
 */
int hostsim_fcopy_start(HostSim *sim, const char *path_utf8, const char *name_utf8, uint32_t flags,
			uint64_t size, uint32_t *ret_status);
/* WRITE_TO_FILE of len (<= HOSTSIM_FCOPY_DATA_MAX) bytes at offset. */
int hostsim_fcopy_write(HostSim *sim, uint64_t offset, const void *data, size_t len,
			uint32_t *ret_status);
/* COMPLETE_FCOPY. */
int hostsim_fcopy_complete(HostSim *sim, uint32_t *ret_status);
/* CANCEL_FCOPY. */
int hostsim_fcopy_cancel(HostSim *sim, uint32_t *ret_status);

/*
 * The whole Copy-VMFile sequence for the local file local_src: START (its size), WRITE in
 * HOSTSIM_FCOPY_DATA_MAX-byte chunks, then COMPLETE; the first failing status ends the copy
 * (after a failed WRITE the host sends CANCEL). *ret_status: HV_S_OK, or the first failing
 * status. Returns a negative errno when local_src cannot be read.
 */
int hostsim_fcopy_copy_file(HostSim *sim, const char *local_src, const char *dest_path,
			    const char *dest_name, uint32_t flags, uint32_t *ret_status);

/* Counters of the emulated hv_fcopy device and its kernel model. */
typedef struct HostSimFcopyStats {
	unsigned opens; /* successful opens */
	unsigned ebusy; /* opens refused with EBUSY */
	unsigned releases;
	unsigned registrations; /* version writes accepted */
	unsigned einval_writes; /* writes refused with EINVAL (size != 4, late/unsolicited) */
	unsigned timeouts;	/* requests the host saw fail because the daemon was late */
	unsigned not_ready;	/* requests failed at once: no daemon registered */
	unsigned resets;	/* requests failed because the daemon released the device */
	unsigned starts, writes, completes, cancels; /* messages queued for the daemon */
	bool ready;				     /* the kernel's state is READY or beyond */
} HostSimFcopyStats;
void hostsim_fcopy_stats(HostSim *sim, HostSimFcopyStats *ret);

/*
 * ---- fcopy over uio_hv_generic (kernels >= 6.10) ----
 *
 * The simulated host's end of the fcopy VMBus channel as uio_hv_generic exposes it (design
 * contract B of issue 5): a memfd of 2 * ring_size bytes (TX = guest -> host first, RX = host ->
 * guest second, header pages as the kernel lays them out, RX interrupt_mask 1 as after open)
 * and an AF_UNIX SOCK_SEQPACKET socketpair standing in for /dev/uioN's interrupt count (host ->
 * daemon: a 4-byte uint32 count, only while RX is unmasked, which then masks it) and its
 * control writes (daemon -> host: int32 1 = unmask RX and signal the host, 0 = mask RX).
 * Every daemon started with hostsim_daemon_spawn() after hostsim_fcopy_uio_open() inherits the
 * daemon's ends under the numbers hostsim_fcopy_uio_fds() returns (pass them as
 * --uio-fds=RING,IRQ). The host negotiates first (framework 1.0/3.0 and service 1.0/1.1
 * offered; it requires 3.0 / 1.1 and status 0), then sends ICMSGTYPE_FCOPY messages with
 * UTF-16LE names, one at a time; the daemon's IC status is what the host sees, HV_E_FAIL
 * after the host's timeout (there is no kernel timer on this path). The fcopy calls below
 * return like their char-device counterparts (0 when the host has a status), plus -ENODEV
 * before hostsim_fcopy_uio_open() and -ENOTCONN after hostsim_fcopy_uio_kill_channel().
 * A request sent before the negotiation completed fails at once with HV_E_FAIL.
 */

/*
 * Creates the channel and queues the host's NEGOTIATE. ring_size: bytes per direction (0:
 * page size + 16 KiB, the kernel's layout since 2025; else a multiple of the page size above
 * one page); timeout_usec: the host's timeout per message (0: 30 s). -EEXIST if already open.
 */
int hostsim_fcopy_uio_open(HostSim *sim, size_t ring_size, uint64_t timeout_usec);

/* The daemon's ends (ring memfd, interrupt socket), as numbers valid in spawned daemons. */
int hostsim_fcopy_uio_fds(HostSim *sim, int *ret_ring_fd, int *ret_irq_fd);

/* Waits until the daemon answered NEGOTIATE: 0, -EPROTO (bad answer), -ETIMEDOUT, ... */
int hostsim_fcopy_uio_wait_ready(HostSim *sim, uint64_t timeout_usec);

int hostsim_fcopy_uio_start(HostSim *sim, const char *path_utf8, const char *name_utf8,
			    uint32_t flags, uint64_t size, uint32_t *ret_status);
int hostsim_fcopy_uio_write(HostSim *sim, uint64_t offset, const void *data, size_t len,
			    uint32_t *ret_status);
int hostsim_fcopy_uio_complete(HostSim *sim, uint32_t *ret_status);
int hostsim_fcopy_uio_cancel(HostSim *sim, uint32_t *ret_status);
int hostsim_fcopy_uio_copy_file(HostSim *sim, const char *local_src, const char *dest_path,
				const char *dest_name, uint32_t flags, uint32_t *ret_status);

/*
 * Rescinds the channel: closes the host's end of the interrupt socket, so the daemon's reads
 * see end of file and its writes EPIPE (a real rescind gives EIO). A transaction in progress
 * ends with HV_E_FAIL. -ENODEV if the channel was never opened.
 */
int hostsim_fcopy_uio_kill_channel(HostSim *sim);

typedef struct HostSimFcopyUioStats {
	unsigned interrupts;	     /* interrupt counts sent to the daemon */
	unsigned signals;	     /* daemon writes of 1 */
	unsigned masks;		     /* daemon writes of 0 */
	unsigned bad_writes;	     /* other daemon writes */
	unsigned packets_to_guest;   /* packets the host queued (NEGOTIATE included) */
	unsigned packets_from_guest; /* packets the host read */
	unsigned bad_packets;	     /* unparsable replies, corrupt TX ring */
	unsigned late_replies;	     /* replies after the host's timeout */
	unsigned trans_id_mismatch;  /* replies with VMBus trans_id ~0 instead of the request's */
	unsigned transactions;	     /* host messages answered (by the daemon or the timeout) */
	unsigned timeouts;	     /* of which timed out */
	unsigned not_ready;	     /* messages refused at once: not negotiated */
	bool negotiated, negotiation_failed, killed;
} HostSimFcopyUioStats;
/* -ENODEV before hostsim_fcopy_uio_open() (*ret zeroed). */
int hostsim_fcopy_uio_stats(HostSim *sim, HostSimFcopyUioStats *ret);

/*
 * Transport-generic fcopy host calls, so that tests, scenarios and benchmarks switch between
 * the pre-6.10 char device and uio with one argument.
 */
typedef enum HostSimFcopyTransport {
	HOSTSIM_FCOPY_CHARDEV,
	HOSTSIM_FCOPY_UIO,
} HostSimFcopyTransport;

/* "chardev" / "uio" -> 0 and *ret; -EINVAL otherwise. */
int hostsim_fcopy_transport_from_string(const char *s, HostSimFcopyTransport *ret);
const char *hostsim_fcopy_transport_to_string(HostSimFcopyTransport t);

/* chardev: hostsim_fcopy_wait_ready(); uio: hostsim_fcopy_uio_wait_ready(). */
int hostsim_fcopy_via_wait_ready(HostSim *sim, HostSimFcopyTransport t, uint64_t timeout_usec);
int hostsim_fcopy_via_start(HostSim *sim, HostSimFcopyTransport t, const char *path_utf8,
			    const char *name_utf8, uint32_t flags, uint64_t size,
			    uint32_t *ret_status);
int hostsim_fcopy_via_write(HostSim *sim, HostSimFcopyTransport t, uint64_t offset,
			    const void *data, size_t len, uint32_t *ret_status);
int hostsim_fcopy_via_complete(HostSim *sim, HostSimFcopyTransport t, uint32_t *ret_status);
int hostsim_fcopy_via_cancel(HostSim *sim, HostSimFcopyTransport t, uint32_t *ret_status);
/* hostsim_fcopy_copy_file() on transport t. */
int hostsim_fcopy_via_copy_file(HostSim *sim, HostSimFcopyTransport t, const char *local_src,
				const char *dest_path, const char *dest_name, uint32_t flags,
				uint32_t *ret_status);
