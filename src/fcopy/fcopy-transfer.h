/* SPDX-License-Identifier: MIT */
/*
 * One host-to-guest file transfer (hyperv-abi.md §8): START opens a temporary file in the
 * destination directory, WRITE_TO_FILE pwrites into it, COMPLETE fsyncs and links it into
 * place atomically, CANCEL (or freeing without COMPLETE) removes it. Nothing appears at the
 * destination name unless complete succeeded; symlinks anywhere in the path are refused
 * (never followed), ".." and "." are refused, directories are walked by descriptor so a
 * concurrent swap cannot redirect the write. Non-logging; negative errno on failure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* hv_start_fcopy.copy_flags (hyperv-abi.md §8.1). */
#define FCOPY_FLAG_OVER_WRITE 0x1u
#define FCOPY_FLAG_CREATE_PATH 0x2u

/* Largest announced file size accepted (bytes): 16 TiB, far beyond any sane Copy-VMFile. */
#define FCOPY_FILE_SIZE_MAX (UINT64_C(1) << 44)

/* Prefix of named temporary files (only used where O_TMPFILE is unavailable). */
#define FCOPY_TMP_PREFIX ".hvguest-fcopy-"

#define FCOPY_DIR_MODE_DEFAULT 0755
#define FCOPY_FILE_MODE_DEFAULT 0644

typedef struct FcopyPolicy {
	/*
	 * NULL-terminated list of absolute directories the destination must be equal to or
	 * below (compared component-wise, lexically: the walk refuses symlinks anyway).
	 * NULL: anywhere.
	 */
	const char *const *allowed_roots;
	mode_t dir_mode;  /* for created directories; 0: FCOPY_DIR_MODE_DEFAULT */
	mode_t file_mode; /* applied with fchmod (umask-independent); 0: FCOPY_FILE_MODE_DEFAULT */
	bool set_owner;	  /* fchown the new file (and created directories) to uid:gid */
	uid_t uid;
	gid_t gid;
	bool no_tmpfile; /* never try O_TMPFILE (tests; filesystems that mishandle it) */
} FcopyPolicy;

typedef struct FcopyTransfer FcopyTransfer;

/*
 * Starts a transfer of file_name into directory path_name. p may be NULL (defaults).
 * path_name: absolute, no "." or ".." components, no empty components (one trailing '/' is
 * tolerated) -> else -EINVAL; file_name: one non-empty component other than "." and ".."
 * (-EINVAL). Outside policy->allowed_roots -> -EACCES. A symlink anywhere (including the
 * final name when OVER_WRITE is clear) -> -ELOOP; a non-directory component -> -ENOTDIR.
 * Missing directories are created only with FCOPY_FLAG_CREATE_PATH, else -ENOENT. Final name
 * exists without FCOPY_FLAG_OVER_WRITE -> -EEXIST (checked again atomically at completion);
 * final name is a directory -> -EISDIR. file_size > FCOPY_FILE_SIZE_MAX -> -EFBIG.
 * Unknown flag bits are ignored. On success *ret owns the open temporary file.
 */
int fcopy_transfer_start(const FcopyPolicy *p, const char *path_name, const char *file_name,
			 uint32_t flags, uint64_t file_size, FcopyTransfer **ret);

/*
 * Writes size bytes at offset (any order). offset + size beyond the announced file_size ->
 * -EINVAL; ENOSPC or EDQUOT -> -ENOSPC; after complete/cancel -> -EBADFD.
 */
int fcopy_transfer_write(FcopyTransfer *t, uint64_t offset, const void *data, size_t size);

/*
 * fsyncs the file, links it at the final name (OVER_WRITE: atomic rename over it, so the old
 * file never disappears; otherwise no-replace: -EEXIST if the name appeared meanwhile, and
 * the temporary file is removed), then fsyncs the directory. Any failure leaves the
 * destination untouched (except when only the directory fsync fails: the file is in place
 * but the error is returned) and the transfer finished (free it). -EBADFD if already done.
 */
int fcopy_transfer_complete(FcopyTransfer *t);

/*
 * Whether a daemon crash during this transfer could leave a named FCOPY_TMP_PREFIX file in
 * the destination directory (to be removed by fcopy_cleanup_stale() on the next start): true
 * when O_TMPFILE was not available, and with FCOPY_FLAG_OVER_WRITE (complete links the
 * O_TMPFILE under a temporary name before renaming it over the old file).
 */
bool fcopy_transfer_uses_named_temp(const FcopyTransfer *t);

/* Abandons the transfer: the temporary file is removed. Idempotent; no-op after complete. */
void fcopy_transfer_cancel(FcopyTransfer *t);

/* Cancels unless completed and frees. Accepts NULL, returns NULL. */
FcopyTransfer *fcopy_transfer_free(FcopyTransfer *t);

static inline void fcopy_transfer_freep(FcopyTransfer **t)
{
	fcopy_transfer_free(*t);
}

/*
 * Removes leftover FCOPY_TMP_PREFIX* regular files directly in dir (named temporaries left by
 * a daemon crash; O_TMPFILE temporaries vanish on their own). Call only while no transfer into
 * dir is running. Returns the number removed or a negative errno.
 */
int fcopy_cleanup_stale(const char *dir);
