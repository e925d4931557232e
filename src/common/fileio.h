/* SPDX-License-Identifier: MIT */
/*
 * Descriptor-based file helpers. Non-logging; negative errno on failure; EINTR retried.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/macro.h"

struct iovec;

/* Writes all of buf (retrying short writes and EINTR). */
int loop_write(int fd, const void *buf, size_t len);
/*
 * Writes all of iov[0..n) with writev(), retrying short writes and EINTR; at most IOV_MAX
 * (1024) entries per call (-EINVAL beyond). The entries are consumed: iov is changed.
 */
int loop_writev(int fd, struct iovec *iov, size_t n);
/* Reads up to len bytes, stopping early only at EOF. Returns bytes read or negative errno. */
ssize_t loop_read(int fd, void *buf, size_t len);

/*
 * Reads a whole file below dirfd (or an absolute path with AT_FDCWD) into a NUL-terminated
 * malloc'ed buffer. Fails with -EFBIG if it is larger than max bytes.
 */
int read_full_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_size);

/*
 * Atomically replaces name below dirfd with data: writes a temporary file in the same
 * directory named "<tmp_prefix>XXXXXX" (choose a prefix that no reader globs for),
 * fchmod(mode), fsync, renameat over name, then fsync the directory. On failure the
 * temporary file is removed and name is untouched (except when only the final directory
 * fsync fails: name is replaced then, but the error is still returned). name and tmp_prefix
 * must not contain '/' (-EINVAL).
 */
int write_file_atomic_at(int dirfd, const char *name, const char *tmp_prefix, const void *data,
			 size_t len, mode_t mode);

/*
 * Writes the content of a file being replaced to fd (the temporary file, empty, at offset 0)
 * and returns >= 0, or a negative errno to abandon the replacement.
 */
typedef int (*file_write_fn)(int fd, void *userdata);

/*
 * write_file_atomic_at() for content produced piecewise, so that a large file never has to
 * exist in memory as a whole: write_content(fd, userdata) is called once and writes
 * everything. Same temporary file, mode, fsync and rename rules; if write_content fails,
 * its error is returned, the temporary file is removed and name is untouched.
 */
int write_file_atomic_at_cb(int dirfd, const char *name, const char *tmp_prefix, mode_t mode,
			    file_write_fn write_content, void *userdata);

/* mkdir -p; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);

/* Opens a directory (O_DIRECTORY|O_CLOEXEC|O_PATH is not used: fsync needs a real fd). */
int open_dir(const char *path);
