/* SPDX-License-Identifier: MIT */
/*
 * Descriptor-based file helpers: whole reads and writes, atomic replacement, mkdir -p.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"

/* Attempts at finding an unused temporary name before giving up with -EEXIST. */
#define TMP_NAME_ATTEMPTS 64
#define TMP_SUFFIX_LEN 6

int loop_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -EIO; /* no progress: avoid spinning forever */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int loop_writev(int fd, struct iovec *iov, size_t n)
{
	if (n > IOV_MAX)
		return -EINVAL;
	while (n > 0) {
		ssize_t k = writev(fd, iov, (int)n);
		size_t done;

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		done = (size_t)k;
		/* Skip what was written, including empty entries, so a finished write ends. */
		while (n > 0 && done >= iov->iov_len) {
			done -= iov->iov_len;
			iov++;
			n--;
		}
		if (n == 0)
			break;
		if (k == 0)
			return -EIO; /* no progress on a non-empty entry: avoid spinning forever */
		iov->iov_base = (char *)iov->iov_base + done;
		iov->iov_len -= done;
	}
	return 0;
}

ssize_t loop_read(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int read_full_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_size)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t size = 0, alloc = 4096;
	struct stat st;

	/* keeps max + 2 (the NUL after the EOF probe byte) from overflowing */
	max = MIN(max, (size_t)SSIZE_MAX / 2);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max)
			return -EFBIG;
		/* +1 so that EOF is seen without a reallocation in the common case */
		alloc = (size_t)st.st_size + 1;
	}
	alloc = MIN(alloc, max + 1);

	for (;;) {
		ssize_t n;

		if (!buf || size == alloc) {
			char *nbuf;

			if (buf) {
				if (alloc > max)
					return -EFBIG;
				alloc = MIN(alloc * 2, max + 1);
			}
			nbuf = realloc(buf, alloc + 1);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
		}
		n = loop_read(fd, buf + size, alloc - size);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		size += (size_t)n;
	}
	if (size > max)
		return -EFBIG;

	buf[size] = '\0';
	if (ret_size)
		*ret_size = size;
	*ret = TAKE_PTR(buf);
	return 0;
}

static void random_suffix(char *s, size_t n)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[TMP_SUFFIX_LEN];

	/* Unpredictability is not needed (O_EXCL protects us); never block at early boot. */
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec * 6364136223846793005ULL + (uint64_t)getpid();
		for (size_t i = 0; i < sizeof(rnd); i++, x >>= 8)
			rnd[i] = (unsigned char)x;
	}
	for (size_t i = 0; i < n && i < sizeof(rnd); i++)
		s[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
}

/* Creates "<prefix>XXXXXX" below dirfd; returns the descriptor and its name in tmp. */
static int create_temp_at(int dirfd, const char *prefix, mode_t mode, char *tmp, size_t size)
{
	int n = snprintf(tmp, size, "%s%.*s", prefix, TMP_SUFFIX_LEN, "XXXXXXXXXX");

	if (n < 0 || (size_t)n >= size || n > NAME_MAX)
		return -ENAMETOOLONG;

	for (unsigned attempt = 0; attempt < TMP_NAME_ATTEMPTS; attempt++) {
		int fd;

		random_suffix(tmp + n - TMP_SUFFIX_LEN, TMP_SUFFIX_LEN);
		fd = openat(dirfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOCTTY, mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return negative_errno();
	}
	return -EEXIST;
}

static int fsync_dir(int dirfd)
{
	_cleanup_close_ int cwd = -EBADF;

	if (dirfd == AT_FDCWD) {
		cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0)
			return negative_errno();
		dirfd = cwd;
	}
	/* Some filesystems cannot sync directories; that is not a failure of the write. */
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return negative_errno();
	return 0;
}

int write_file_atomic_at_cb(int dirfd, const char *name, const char *tmp_prefix, mode_t mode,
			    file_write_fn write_content, void *userdata)
{
	_cleanup_close_ int fd = -EBADF;
	char tmp[NAME_MAX + 1];
	int r;

	if (!write_content)
		return -EINVAL;
	if (!name || !*name || strchr(name, '/'))
		return -EINVAL;
	if (!tmp_prefix || !*tmp_prefix || strchr(tmp_prefix, '/'))
		return -EINVAL;

	fd = create_temp_at(dirfd, tmp_prefix, mode & 07777, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;

	r = write_content(fd, userdata);
	/* fchmod: the umask applied to openat's mode must not decide the final permissions. */
	if (r >= 0 && fchmod(fd, mode & 07777) < 0)
		r = negative_errno();
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = negative_errno();
	if (r < 0) {
		(void)unlinkat(dirfd, tmp, 0);
		return r;
	}

	/* The rename is durable only once the directory is; the data itself is safe already. */
	return fsync_dir(dirfd);
}

typedef struct Buffer {
	const void *data;
	size_t len;
} Buffer;

static int write_buffer(int fd, void *userdata)
{
	const Buffer *b = userdata;

	return loop_write(fd, b->data, b->len);
}

int write_file_atomic_at(int dirfd, const char *name, const char *tmp_prefix, const void *data,
			 size_t len, mode_t mode)
{
	return write_file_atomic_at_cb(dirfd, name, tmp_prefix, mode, write_buffer,
				       &(Buffer){ .data = data, .len = len });
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len;
	struct stat st;

	if (!path || !*path)
		return -EINVAL;
	len = strlen(path);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);

	/* Create each prefix ending before a '/', then the whole path. */
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue; /* "a//b" or a trailing slash */
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return negative_errno();
		if (i < len)
			buf[i] = '/';
	}
	if (stat(path, &st) < 0)
		return negative_errno();
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? negative_errno() : fd;
}
