/* SPDX-License-Identifier: MIT */
/*
 * Locked reads and append-safe writes of KVP pool files for hvctl (contract in ctl-pool.h,
 * background in hyperv-abi.md §5.3-5.5).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/event.h"
#include "ctl/ctl-pool.h"

#define RECORD_SIZE ((size_t)KVP_RECORD_SIZE)
/* Mode of a pool file we create: what the daemon, cloud-init and validation suites expect. */
#define POOL_FILE_MODE 0644
/*
 * Longest wait for a partial trailing record to complete before appending: an appender that
 * takes no lock writes its 2560 bytes with one write(), which takes microseconds.
 */
#define ALIGN_WAIT_USEC (200u * 1000u)
/* Attempts at locking a file that another program replaces or removes meanwhile. */
#define OPEN_ATTEMPTS 3

/* Indexed by KvpPoolId. */
static const char *const pool_file_names[_KVP_POOL_MAX] = {
	".kvp_pool_0", ".kvp_pool_1", ".kvp_pool_2", ".kvp_pool_3", ".kvp_pool_4",
};

static const char *const change_names[_CTL_CHANGE_MAX] = {
	[CTL_CHANGE_ADDED] = "added",
	[CTL_CHANGE_CHANGED] = "changed",
	[CTL_CHANGE_REMOVED] = "removed",
};

const char *ctl_change_to_string(CtlChange c)
{
	if (c < 0 || c >= _CTL_CHANGE_MAX)
		return NULL;
	return change_names[c];
}

const char *ctl_pool_file_name(KvpPoolId pool)
{
	if (pool < 0 || pool >= _KVP_POOL_MAX)
		return NULL;
	return pool_file_names[pool];
}

static int check_field(const char *s, size_t max_bytes, size_t max_units, CtlFieldSize *info)
{
	size_t len = strlen(s);
	CtlFieldSize sz = { .bytes = len };
	bool valid = utf8_is_valid(s, len);

	if (valid)
		sz.units = utf8_utf16_units(s, len);
	if (info)
		*info = sz;
	if (!valid)
		return -EILSEQ;
	if (sz.units > max_units || sz.bytes > max_bytes)
		return -E2BIG;
	return 0;
}

int ctl_pool_check_key(const char *key, CtlFieldSize *info)
{
	int r;

	/* A key of 254 units can need 762 bytes of UTF-8 (3 per BMP character): check both. */
	r = check_field(key, KVP_KEY_SIZE - 1, KVP_HOST_KEY_UNITS, info);
	if (r == -E2BIG)
		return -ENAMETOOLONG;
	if (r < 0)
		return r;
	if (key[0] == '\0')
		return -EINVAL;
	return 0;
}

int ctl_pool_check_value(const char *value, CtlFieldSize *info)
{
	return check_field(value, KVP_VALUE_SIZE - 1, KVP_HOST_VALUE_UNITS, info);
}

static void sleep_usec(uint64_t usec)
{
	struct timespec ts = {
		.tv_sec = (time_t)(usec / USEC_PER_SEC),
		.tv_nsec = (long)(usec % USEC_PER_SEC) * (long)NSEC_PER_USEC,
	};

	(void)nanosleep(&ts, NULL);
}

static uint64_t deadline_after(uint64_t usec)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);

	return usec > UINT64_MAX - now ? UINT64_MAX : now + usec;
}

int ctl_pool_lock(int fd, bool exclusive, uint64_t timeout_usec)
{
	/* l_start = l_len = 0: the whole file, including what is appended later. l_pid must
	 * be 0 for OFD locks. */
	struct flock fl = { .l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
	uint64_t deadline = deadline_after(timeout_usec), delay = USEC_PER_MSEC;
	bool have_flock = false;

	/* flock first, then the OFD lock: the same order as hv_kvp_daemon, so we cannot
	 * deadlock against it. */
	for (;;) {
		uint64_t now;

		if (!have_flock) {
			if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) >= 0)
				have_flock = true;
			else if (errno != EWOULDBLOCK && errno != EINTR)
				return negative_errno();
		}
		if (have_flock) {
			if (fcntl(fd, F_OFD_SETLK, &fl) >= 0)
				return 0;
			if (errno != EAGAIN && errno != EACCES && errno != EINTR)
				return negative_errno();
		}
		now = now_usec(CLOCK_MONOTONIC);
		if (now >= deadline)
			return -ETIMEDOUT;
		/* 1 ms, doubling up to 50 ms: quick when the holder is a one-record appender. */
		sleep_usec(MIN(delay, deadline - now));
		delay = MIN(delay * 2, 50 * USEC_PER_MSEC);
	}
}

static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k = pread(fd, (uint8_t *)buf + done, len - done, off + (off_t)done);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			break; /* EOF: the file shrank (cloud-init's unlocked truncation) */
		done += (size_t)k;
	}
	return (ssize_t)done;
}

static int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k = pwrite(fd, (const uint8_t *)buf + done, len - done, off + (off_t)done);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			return -EIO;
		done += (size_t)k;
	}
	return 0;
}

/*
 * Reads the locked file: at most KVP_POOL_MAX_RECORDS whole records plus, below that, a
 * partial trailing one. *ret_dropped counts whole records beyond the limit.
 */
static int read_image(int fd, uint8_t **ret, size_t *ret_size, size_t *ret_dropped)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;
	size_t size, want, total;
	ssize_t k;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	size = (size_t)st.st_size;
	total = size / RECORD_SIZE;
	want = total > KVP_POOL_MAX_RECORDS ? (size_t)KVP_POOL_MAX_RECORDS * RECORD_SIZE : size;
	if (want > 0) {
		buf = malloc(want);
		if (!buf)
			return -ENOMEM;
		k = pread_full(fd, buf, want, 0);
		if (k < 0)
			return (int)k;
		want = (size_t)k;
	}
	*ret = TAKE_PTR(buf);
	*ret_size = want;
	*ret_dropped = total > KVP_POOL_MAX_RECORDS ? total - KVP_POOL_MAX_RECORDS : 0;
	return 0;
}

int ctl_pool_read(int dir_fd, KvpPoolId pool, uint64_t timeout_usec, CtlPoolView *ret)
{
	const char *name = ctl_pool_file_name(pool);
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ uint8_t *data = NULL;
	CtlPoolView v = { 0 };
	size_t size = 0, dropped = 0;
	int r;

	if (!name)
		return -EINVAL;
	/* O_NONBLOCK: never hang opening a FIFO someone put there; not a regular file fails. */
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			return negative_errno();
		*ret = v;
		return 0;
	}
	r = ctl_pool_lock(fd, false, timeout_usec);
	if (r < 0)
		return r;
	r = read_image(fd, &data, &size, &dropped);
	if (r < 0)
		return r;
	fd = safe_close(fd); /* unlock as soon as the bytes are in memory */

	r = kvp_records_parse(data, size, &v.records, &v.n, &v.stats);
	if (r < 0)
		return r;
	/* The parser counts holes apart; stats keep damage only (watch compares them). */
	v.n_holes = v.stats.n_holes;
	v.stats.n_holes = 0;
	v.stats.n_dropped = dropped;
	v.exists = true;
	*ret = v;
	return 0;
}

void ctl_pool_view_done(CtlPoolView *v)
{
	if (!v)
		return;
	free(v->records);
	*v = (CtlPoolView){ 0 };
}

const char *ctl_pool_view_get(const CtlPoolView *v, const char *key)
{
	for (size_t i = v->n; i > 0; i--)
		if (strcmp(v->records[i - 1].key, key) == 0)
			return v->records[i - 1].value;
	return NULL;
}

static int check_writable(KvpPoolId pool)
{
	if (pool < 0 || pool >= _KVP_POOL_MAX)
		return -ERANGE;
	/* Pools 0 and 3 belong to the host (through the daemon), 2 is computed, 4 reserved. */
	if (pool != KVP_POOL_GUEST)
		return -EROFS;
	return 0;
}

static int open_rw(int dir_fd, const char *name, bool create)
{
	int fd;

	for (unsigned i = 0; i < OPEN_ATTEMPTS; i++) {
		fd = openat(dir_fd, name, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT || !create)
			return negative_errno();
		/* O_EXCL tells us whether we created it, and so whether to set its mode. */
		fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
			    POOL_FILE_MODE);
		if (fd >= 0) {
			/* Exact mode whatever the umask. */
			if (fchmod(fd, POOL_FILE_MODE) < 0) {
				int r = negative_errno();

				safe_close(fd);
				return r;
			}
			return fd;
		}
		if (errno != EEXIST)
			return negative_errno();
	}
	return -ENOENT;
}

/*
 * Opens name read-write and takes both exclusive locks, then checks that the name still
 * refers to the locked file: if another program replaced or removed it while we waited,
 * writing to our descriptor would be lost, so start again (a few times).
 */
static int open_locked_rw(int dir_fd, const char *name, bool create, uint64_t timeout_usec,
			  int *ret_fd)
{
	for (unsigned i = 0; i < OPEN_ATTEMPTS; i++) {
		_cleanup_close_ int fd = -EBADF;
		struct stat st, now;
		int r;

		fd = open_rw(dir_fd, name, create);
		if (fd < 0)
			return fd;
		r = ctl_pool_lock(fd, true, timeout_usec);
		if (r < 0)
			return r;
		if (fstat(fd, &st) < 0)
			return negative_errno();
		if (!S_ISREG(st.st_mode))
			return -EBADFD;
		if (fstatat(dir_fd, name, &now, 0) < 0) {
			if (errno != ENOENT)
				return negative_errno();
			continue;
		}
		if (now.st_dev != st.st_dev || now.st_ino != st.st_ino)
			continue;
		*ret_fd = TAKE_FD(fd);
		return 0;
	}
	return -EAGAIN;
}

/* Index of the first record at or after from whose (sanitised) key is key, or n. */
static size_t find_key(const uint8_t *data, size_t n, const char *key, size_t from)
{
	size_t len = strlen(key);

	for (size_t i = from; i < n; i++) {
		const uint8_t *raw = data + i * RECORD_SIZE;
		KvpRecord rec;

		/* Cheap prefix test first: the sanitised key can only equal key if it starts so. */
		if (len >= KVP_KEY_SIZE || memcmp(raw, key, len) != 0)
			continue;
		memcpy(&rec, raw, RECORD_SIZE);
		if (kvp_record_sanitize(&rec) >= 0 && strcmp(rec.key, key) == 0)
			return i;
	}
	return n;
}

static int zero_record(int fd, size_t index)
{
	static const uint8_t zero[KVP_RECORD_SIZE];

	return pwrite_full(fd, zero, RECORD_SIZE, (off_t)(index * RECORD_SIZE));
}

/*
 * An appender without a lock may be in the middle of its write(): give it a moment, but
 * never append after a partial record, or our record and every later one would straddle
 * record boundaries for every reader.
 */
static int wait_aligned(int fd, uint64_t timeout_usec)
{
	uint64_t deadline = deadline_after(timeout_usec);

	for (;;) {
		struct stat st;

		if (fstat(fd, &st) < 0)
			return negative_errno();
		if ((size_t)st.st_size % RECORD_SIZE == 0)
			return 0;
		if (now_usec(CLOCK_MONOTONIC) >= deadline)
			return -EBADMSG;
		sleep_usec(USEC_PER_MSEC);
	}
}

/* One write() of the whole record with O_APPEND, exactly like cloud-init. */
static int append_record(int fd, const KvpRecord *rec)
{
	int flags;
	ssize_t k;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return negative_errno();
	if (fcntl(fd, F_SETFL, flags | O_APPEND) < 0)
		return negative_errno();
	do
		k = write(fd, rec, RECORD_SIZE);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return negative_errno();
	/* A short write (disk full) leaves a partial record we must not truncate away. */
	if ((size_t)k != RECORD_SIZE)
		return -EIO;
	return 0;
}

int ctl_pool_set(int dir_fd, KvpPoolId pool, const char *key, const char *value,
		 uint64_t timeout_usec, CtlSetResult *ret_result)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ uint8_t *data = NULL;
	CtlSetResult result;
	KvpRecord rec = { 0 };
	size_t size, dropped, n, first;
	int r;

	r = check_writable(pool);
	if (r < 0)
		return r;
	r = ctl_pool_check_key(key, NULL);
	if (r < 0)
		return r;
	r = ctl_pool_check_value(value, NULL);
	if (r < 0)
		return r;
	/* Zero padded, NUL-terminated: the checks above guarantee both fit. */
	memcpy(rec.key, key, strlen(key));
	memcpy(rec.value, value, strlen(value));

	r = open_locked_rw(dir_fd, ctl_pool_file_name(pool), true, timeout_usec, &fd);
	if (r < 0)
		return r;
	r = read_image(fd, &data, &size, &dropped);
	if (r < 0)
		return r;
	n = size / RECORD_SIZE;

	first = find_key(data, n, key, 0);
	if (first < n) {
		bool wrote = false;

		if (memcmp(data + first * RECORD_SIZE, &rec, RECORD_SIZE) != 0) {
			r = pwrite_full(fd, &rec, RECORD_SIZE, (off_t)(first * RECORD_SIZE));
			if (r < 0)
				return r;
			wrote = true;
		}
		for (size_t i = find_key(data, n, key, first + 1); i < n;
		     i = find_key(data, n, key, i + 1)) {
			r = zero_record(fd, i);
			if (r < 0)
				return r;
			wrote = true;
		}
		result = wrote ? CTL_SET_REPLACED : CTL_SET_UNCHANGED;
	} else {
		/* The daemon reads no further than this: a record beyond it would be invisible. */
		if (dropped > 0 || n >= KVP_POOL_MAX_RECORDS)
			return -ENOSPC;
		r = wait_aligned(fd, MIN(timeout_usec, (uint64_t)ALIGN_WAIT_USEC));
		if (r < 0)
			return r;
		r = append_record(fd, &rec);
		if (r < 0)
			return r;
		result = CTL_SET_ADDED;
	}
	/* Durable before the locks go; holding them a few ms longer only delays appenders. */
	if (result != CTL_SET_UNCHANGED && fdatasync(fd) < 0)
		return negative_errno();
	if (ret_result)
		*ret_result = result;
	return 0;
}

int ctl_pool_delete(int dir_fd, KvpPoolId pool, const char *key, uint64_t timeout_usec,
		    size_t *ret_removed)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ uint8_t *data = NULL;
	size_t size, dropped, n, removed = 0;
	int r;

	r = check_writable(pool);
	if (r < 0)
		return r;
	/* Only emptiness is checked: a key another program wrote may exceed our limits. */
	if (key[0] == '\0')
		return -EINVAL;

	r = open_locked_rw(dir_fd, ctl_pool_file_name(pool), false, timeout_usec, &fd);
	if (r < 0)
		return r;
	r = read_image(fd, &data, &size, &dropped);
	if (r < 0)
		return r;
	n = size / RECORD_SIZE;
	for (size_t i = find_key(data, n, key, 0); i < n; i = find_key(data, n, key, i + 1)) {
		r = zero_record(fd, i);
		if (r < 0)
			return r;
		removed++;
	}
	if (removed == 0)
		return -ENOENT;
	if (fdatasync(fd) < 0)
		return negative_errno();
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}

typedef struct DiffEntry {
	const KvpRecord *rec;
	size_t index; /* file order, to find the last duplicate */
} DiffEntry;

static int diff_entry_compare(const void *a, const void *b)
{
	const DiffEntry *x = a, *y = b;
	int c = strcmp(x->rec->key, y->rec->key);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* v sorted by key, keeping only the last record of each key. */
static int diff_prepare(const KvpRecord *v, size_t n, DiffEntry **ret, size_t *ret_n)
{
	DiffEntry *e = NULL;
	size_t m = 0;

	if (n > 0) {
		e = calloc(n, sizeof(*e));
		if (!e)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			e[i] = (DiffEntry){ .rec = &v[i], .index = i };
		qsort(e, n, sizeof(*e), diff_entry_compare);
		for (size_t i = 0; i < n; i++) {
			if (i + 1 < n && strcmp(e[i].rec->key, e[i + 1].rec->key) == 0)
				continue; /* a later duplicate follows */
			e[m++] = e[i];
		}
	}
	*ret = e;
	*ret_n = m;
	return 0;
}

int ctl_pool_diff(const KvpRecord *old, size_t n_old, const KvpRecord *new, size_t n_new,
		  ctl_change_handler_t cb, void *userdata)
{
	_cleanup_free_ DiffEntry *a = NULL, *b = NULL;
	size_t na, nb, i = 0, j = 0;
	int r, changes = 0;

	r = diff_prepare(old, n_old, &a, &na);
	if (r < 0)
		return r;
	r = diff_prepare(new, n_new, &b, &nb);
	if (r < 0)
		return r;

	while (i < na || j < nb) {
		int c = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i].rec->key, b[j].rec->key);

		if (c == 0) {
			bool same = strcmp(a[i].rec->value, b[j].rec->value) == 0;

			r = same ? 0
				 : cb(CTL_CHANGE_CHANGED, b[j].rec->key, b[j].rec->value, userdata);
			changes += !same;
			i++;
			j++;
		} else if (c < 0) {
			r = cb(CTL_CHANGE_REMOVED, a[i].rec->key, NULL, userdata);
			changes++;
			i++;
		} else {
			r = cb(CTL_CHANGE_ADDED, b[j].rec->key, b[j].rec->value, userdata);
			changes++;
			j++;
		}
		if (r < 0)
			return r;
	}
	return changes;
}
