/* SPDX-License-Identifier: MIT */
/*
 * fcopy destination handling. Unlike upstream (hyperv-abi.md §8.2, §11) we never follow
 * symlinks, never accept "..", never open the final name for writing (no access()-then-open
 * race, no half-written file at the destination) and use mode 0644 instead of 0744.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"

#include "fcopy-transfer.h"

typedef enum FcopyState {
	FCOPY_STATE_OPEN,     /* temporary file open, accepting writes */
	FCOPY_STATE_FINISHED, /* completed or cancelled: nothing left to do */
} FcopyState;

struct FcopyTransfer {
	FcopyState state;
	int dir_fd;	    /* destination directory, reached without following symlinks */
	int fd;		    /* the temporary file */
	bool tmpfile;	    /* fd is an unnamed O_TMPFILE */
	bool over_write;    /* FCOPY_FLAG_OVER_WRITE */
	char tmp_name[32];  /* named temporary (only when !tmpfile), "" when none exists */
	char *file_name;    /* final name in dir_fd */
	uint64_t file_size; /* announced size in bytes: writes must stay below it */
};

static bool component_valid(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return memchr(s, '/', len) == NULL;
}

/* Absolute, no empty/"."/".." components; a single trailing '/' is tolerated. */
static bool path_valid(const char *path)
{
	const char *p;
	size_t n = strlen(path);

	if (path[0] != '/' || n >= PATH_MAX)
		return false;
	if (n > 1 && path[n - 1] == '/')
		n--;
	/* "//" and "/a//": what is left after the tolerated slash still ends in one. */
	if (path[n - 1] == '/' && n != strlen(path))
		return false;
	for (p = path + 1; p < path + n;) {
		const char *slash = memchr(p, '/', (size_t)(path + n - p));
		size_t len = slash ? (size_t)(slash - p) : (size_t)(path + n - p);

		if (!component_valid(p, len))
			return false;
		p += len + 1;
	}
	return true;
}

/* path (already valid) is root or below it; roots are compared without trailing slashes. */
static bool path_allowed(const FcopyPolicy *p, const char *path)
{
	size_t plen = strlen(path);

	if (!p || !p->allowed_roots)
		return true;
	while (plen > 1 && path[plen - 1] == '/')
		plen--;
	for (const char *const *r = p->allowed_roots; *r; r++) {
		size_t rlen = strlen(*r);

		if ((*r)[0] != '/')
			continue;
		while (rlen > 0 && (*r)[rlen - 1] == '/')
			rlen--;
		if (rlen == 0)
			return true; /* "/" */
		if (plen >= rlen && memcmp(path, *r, rlen) == 0 &&
		    (plen == rlen || path[rlen] == '/'))
			return true;
	}
	return false;
}

/*
 * Opens one directory component below dir_fd; a symlink gives -ELOOP, a non-directory
 * -ENOTDIR. openat2 with RESOLVE_NO_SYMLINKS where available; a single component with
 * O_NOFOLLOW is equivalent, so that is the fallback for kernels < 5.6 or seccomp filters.
 */
static int open_component(int dir_fd, const char *name)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
	};
	int fd;

	fd = (int)syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == E2BIG))
		fd = openat(dir_fd, name, flags);
	if (fd >= 0)
		return fd;
	if (errno == ENOTDIR) {
		struct stat st;

		/* O_NOFOLLOW|O_DIRECTORY on a symlink may report ENOTDIR: say what it is. */
		if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return -ELOOP;
		return -ENOTDIR;
	}
	return negative_errno();
}

static int make_component(const FcopyPolicy *p, int dir_fd, const char *name)
{
	mode_t mode = p && p->dir_mode ? p->dir_mode : FCOPY_DIR_MODE_DEFAULT;
	_cleanup_close_ int fd = -EBADF;

	if (mkdirat(dir_fd, name, mode) < 0) {
		/* Lost a race with another creator: use theirs as it is (if not a symlink). */
		if (errno == EEXIST)
			return open_component(dir_fd, name);
		return negative_errno();
	}
	fd = open_component(dir_fd, name);
	if (fd < 0)
		return fd;
	/* mkdirat applies the umask; the configured mode is meant literally. */
	if (fchmod(fd, mode) < 0)
		return negative_errno();
	if (p && p->set_owner && fchown(fd, p->uid, p->gid) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

/* Walks path from "/" component by component; returns the final directory's descriptor. */
static int walk_path(const FcopyPolicy *p, const char *path, bool create)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int fd = -EBADF;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next = open_component(fd, c);

		if (next == -ENOENT && create)
			next = make_component(p, fd, c);
		if (next < 0)
			return next;
		safe_close(fd);
		fd = next;
	}
	return TAKE_FD(fd);
}

static int random_tmp_name(char *buf, size_t size)
{
	static const char alphabet[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t rnd[8];
	char suffix[sizeof(rnd) + 1];
	int n;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return negative_errno();
	for (size_t i = 0; i < sizeof(rnd); i++)
		suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	suffix[sizeof(rnd)] = '\0';
	n = snprintf(buf, size, "%s%s", FCOPY_TMP_PREFIX, suffix);
	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* Creates a named temporary in t->dir_fd, recording its name; returns the descriptor. */
static int open_named_tmp(FcopyTransfer *t, mode_t mode)
{
	for (unsigned attempt = 0; attempt < 16; attempt++) {
		int r = random_tmp_name(t->tmp_name, sizeof(t->tmp_name));
		int fd;

		if (r < 0)
			return r;
		fd = openat(t->dir_fd, t->tmp_name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		t->tmp_name[0] = '\0';
		if (errno != EEXIST)
			return negative_errno();
	}
	return -EEXIST;
}

static int open_tmp(const FcopyPolicy *p, FcopyTransfer *t)
{
	mode_t mode = p && p->file_mode ? p->file_mode : FCOPY_FILE_MODE_DEFAULT;
	int fd = -EBADF;

	if (!p || !p->no_tmpfile) {
		fd = openat(t->dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
		/* EOPNOTSUPP: fs without tmpfile support; EISDIR: kernel without O_TMPFILE. */
		if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return negative_errno();
		t->tmpfile = fd >= 0;
	}
	if (fd < 0) {
		fd = open_named_tmp(t, mode);
		if (fd < 0)
			return fd;
	}
	t->fd = fd;
	/* The open mode went through the umask; the configured mode is meant literally. */
	if (fchmod(fd, mode) < 0)
		return negative_errno();
	if (p && p->set_owner && fchown(fd, p->uid, p->gid) < 0)
		return negative_errno();
	return 0;
}

bool fcopy_transfer_uses_named_temp(const FcopyTransfer *t)
{
	return !t->tmpfile || t->over_write;
}

void fcopy_transfer_cancel(FcopyTransfer *t)
{
	if (!t || t->state == FCOPY_STATE_FINISHED)
		return;
	if (t->tmp_name[0] && t->dir_fd >= 0)
		(void)unlinkat(t->dir_fd, t->tmp_name, 0);
	t->tmp_name[0] = '\0';
	/* Closing an unlinked O_TMPFILE descriptor releases its storage. */
	t->fd = safe_close(t->fd);
	t->state = FCOPY_STATE_FINISHED;
}

FcopyTransfer *fcopy_transfer_free(FcopyTransfer *t)
{
	if (!t)
		return NULL;
	fcopy_transfer_cancel(t);
	safe_close(t->fd);
	safe_close(t->dir_fd);
	free(t->file_name);
	free(t);
	return NULL;
}

int fcopy_transfer_start(const FcopyPolicy *p, const char *path_name, const char *file_name,
			 uint32_t flags, uint64_t file_size, FcopyTransfer **ret)
{
	_cleanup_(fcopy_transfer_freep) FcopyTransfer *t = NULL;
	struct stat st;
	int r;

	if (!path_name || !file_name || !ret)
		return -EINVAL;
	if (!path_valid(path_name) || !component_valid(file_name, strlen(file_name)))
		return -EINVAL;
	if (strlen(path_name) + 1 + strlen(file_name) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!path_allowed(p, path_name))
		return -EACCES;
	if (file_size > FCOPY_FILE_SIZE_MAX)
		return -EFBIG;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = -EBADF;
	t->dir_fd = -EBADF;
	t->over_write = flags & FCOPY_FLAG_OVER_WRITE;
	t->file_size = file_size;
	t->file_name = strdup(file_name);
	if (!t->file_name)
		return -ENOMEM;

	r = walk_path(p, path_name, flags & FCOPY_FLAG_CREATE_PATH);
	if (r < 0)
		return r;
	t->dir_fd = r;

	/* Early answer for the host; complete() re-checks atomically (rename/link no-replace). */
	if (fstatat(t->dir_fd, file_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		if (!t->over_write)
			return -EEXIST;
	} else if (errno != ENOENT) {
		return negative_errno();
	}

	r = open_tmp(p, t);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(t);
	return 0;
}

int fcopy_transfer_write(FcopyTransfer *t, uint64_t offset, const void *data, size_t size)
{
	const uint8_t *buf = data;

	if (!t || (!data && size > 0))
		return -EINVAL;
	if (t->state != FCOPY_STATE_OPEN)
		return -EBADFD;
	if (offset > t->file_size || size > t->file_size - offset)
		return -EINVAL;
	while (size > 0) {
		ssize_t n = pwrite(t->fd, buf, size, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EDQUOT ? -ENOSPC : negative_errno();
		}
		if (n == 0)
			return -EIO;
		buf += n;
		size -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

/* Gives an O_TMPFILE descriptor the name `name` in dir_fd; -EEXIST if it exists. */
static int link_tmpfile(FcopyTransfer *t, const char *name)
{
	char proc[64];
	int n;

	if (linkat(t->fd, "", t->dir_fd, name, AT_EMPTY_PATH) == 0)
		return 0;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link works for the owner. */
	if (errno != EPERM && errno != ENOENT)
		return negative_errno();
	n = snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
	if (n < 0 || (size_t)n >= sizeof(proc))
		return -ENAMETOOLONG;
	if (linkat(AT_FDCWD, proc, t->dir_fd, name, AT_SYMLINK_FOLLOW) < 0)
		return negative_errno();
	return 0;
}

/* Moves the named temporary to the final name without replacing anything. */
static int rename_noreplace(FcopyTransfer *t)
{
	if (renameat2(t->dir_fd, t->tmp_name, t->dir_fd, t->file_name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return negative_errno();
	/* No RENAME_NOREPLACE on this fs: link() refuses existing names just as atomically. */
	if (linkat(t->dir_fd, t->tmp_name, t->dir_fd, t->file_name, 0) < 0)
		return negative_errno();
	(void)unlinkat(t->dir_fd, t->tmp_name, 0);
	return 0;
}

static int link_into_place(FcopyTransfer *t)
{
	int r;

	if (t->tmpfile && !t->over_write)
		return link_tmpfile(t, t->file_name);
	if (t->tmpfile) {
		/* Name it first, then rename over the target: the old file never disappears. */
		for (unsigned attempt = 0;; attempt++) {
			r = random_tmp_name(t->tmp_name, sizeof(t->tmp_name));
			if (r >= 0)
				r = link_tmpfile(t, t->tmp_name);
			if (r >= 0)
				break;
			t->tmp_name[0] = '\0';
			if (r != -EEXIST || attempt >= 16)
				return r;
		}
	}
	if (!t->over_write)
		return rename_noreplace(t);
	if (renameat(t->dir_fd, t->tmp_name, t->dir_fd, t->file_name) < 0)
		return negative_errno();
	return 0;
}

int fcopy_transfer_complete(FcopyTransfer *t)
{
	int r;

	if (!t)
		return -EINVAL;
	if (t->state != FCOPY_STATE_OPEN)
		return -EBADFD;
	if (fsync(t->fd) < 0) {
		r = errno == EDQUOT ? -ENOSPC : negative_errno();
		fcopy_transfer_cancel(t);
		return r;
	}
	r = link_into_place(t);
	if (r < 0) {
		fcopy_transfer_cancel(t); /* removes a named temporary, if any */
		return r;
	}
	t->tmp_name[0] = '\0';
	t->fd = safe_close(t->fd);
	t->state = FCOPY_STATE_FINISHED;
	if (fsync(t->dir_fd) < 0)
		return negative_errno();
	return 0;
}

int fcopy_cleanup_stale(const char *dir)
{
	_cleanup_close_ int fd = -EBADF;
	DIR *d;
	struct dirent *de;
	int removed = 0, r = 0;

	if (!dir)
		return -EINVAL;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	d = fdopendir(fd);
	if (!d)
		return negative_errno();
	fd = -EBADF; /* owned by d now */
	errno = 0;
	while ((de = readdir(d))) {
		struct stat st;

		if (strncmp(de->d_name, FCOPY_TMP_PREFIX, strlen(FCOPY_TMP_PREFIX)) != 0)
			continue;
		/* Only regular files we could have made; never a directory or symlink target. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			if (errno != ENOENT && r == 0)
				r = negative_errno();
		} else {
			removed++;
		}
		errno = 0;
	}
	if (errno != 0 && r == 0)
		r = negative_errno();
	closedir(d);
	return r < 0 ? r : removed;
}
