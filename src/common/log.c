/* SPDX-License-Identifier: MIT */
/*
 * Logging: journald (structured fields), "<N>message" on stderr, or plain console lines.
 *
 * All output happens under one mutex so concurrent threads never interleave records. The
 * deferred mode copies records into a static buffer (part of the target state, allocated at
 * load time) so that nothing is allocated and no I/O is done while filesystems are frozen.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* we pass the caller's CODE_FUNC=; without this libsystemd adds log.c's own location */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "common/log.h"

/* Longest formatted message; longer ones are truncated (journald's line limit is larger). */
#define LOG_MESSAGE_MAX 2048
/* Caller fields beyond this many are ignored. */
#define LOG_FIELDS_MAX 16
/* Deferred storage: VSS freezes last seconds and logs a few dozen lines at most. */
#define LOG_DEFER_SIZE (64 * 1024)

/* One deferred record; followed by func, message and n_fields field strings, each NUL-ended. */
typedef struct DeferredRecord {
	uint32_t size; /* whole record including strings, rounded up to the header alignment */
	int16_t level;
	uint16_t n_fields;
	int error;
} DeferredRecord;

typedef struct LogState {
	pthread_mutex_t lock;
	int max_level;	  /* read without the lock through __atomic builtins */
	LogTarget target; /* resolved: never AUTO once opened */
	bool opened;
	char ident[64];
	bool deferred;
	size_t defer_used; /* bytes of defer_buf holding records */
	unsigned defer_dropped;
	alignas(DeferredRecord) char defer_buf[LOG_DEFER_SIZE];
} LogState;

/* The log level and target state: the only mutable global of the project (style.md §1.5). */
static LogState log_state = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.max_level = LOG_INFO,
	.target = LOG_TARGET_AUTO,
};

/* True if JOURNAL_STREAM ("<st_dev>:<st_ino>", decimal) names our stderr. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!e || !*e)
		return false;
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != ':')
		return false;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static LogTarget resolve_target(LogTarget target)
{
	if (target == LOG_TARGET_AUTO || target < 0 || target >= _LOG_TARGET_MAX)
		return stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
	return target;
}

/* Called with the lock held. */
static void open_locked(const char *ident, LogTarget target)
{
	if (!ident)
		ident = program_invocation_short_name;
	snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident ? ident : "hvguest");
	log_state.target = resolve_target(target);
	log_state.opened = true;
}

void log_open(const char *ident, LogTarget target)
{
	pthread_mutex_lock(&log_state.lock);
	open_locked(ident, target);
	pthread_mutex_unlock(&log_state.lock);
}

void log_set_max_level(int level)
{
	__atomic_store_n(&log_state.max_level, level & LOG_PRIMASK, __ATOMIC_RELAXED);
}

int log_get_max_level(void)
{
	return __atomic_load_n(&log_state.max_level, __ATOMIC_RELAXED);
}

/* One write(2) so that concurrent writers (other processes on the same pipe) do not interleave. */
static void write_line(const char *prefix, const char *msg)
{
	char line[LOG_MESSAGE_MAX + 16];
	int n;

	n = snprintf(line, sizeof(line) - 1, "%s%s", prefix, msg);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}

static int write_journal(int level, int error, const char *const *fields, const char *func,
			 const char *msg)
{
	struct iovec iov[5 + LOG_FIELDS_MAX];
	char message[sizeof("MESSAGE=") + LOG_MESSAGE_MAX], priority[sizeof("PRIORITY=") + 12],
		ident[sizeof("SYSLOG_IDENTIFIER=") + sizeof(log_state.ident)],
		codefunc[sizeof("CODE_FUNC=") + 128], errnofield[sizeof("ERRNO=") + 12];
	size_t n = 0;

	snprintf(message, sizeof(message), "MESSAGE=%s", msg);
	snprintf(priority, sizeof(priority), "PRIORITY=%d", level);
	snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_state.ident);
	iov[n++] = (struct iovec){ message, strlen(message) };
	iov[n++] = (struct iovec){ priority, strlen(priority) };
	iov[n++] = (struct iovec){ ident, strlen(ident) };
	if (func) {
		snprintf(codefunc, sizeof(codefunc), "CODE_FUNC=%s", func);
		iov[n++] = (struct iovec){ codefunc, strlen(codefunc) };
	}
	if (error != 0) {
		snprintf(errnofield, sizeof(errnofield), "ERRNO=%d", error);
		iov[n++] = (struct iovec){ errnofield, strlen(errnofield) };
	}
	for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++) {
		/* journald rejects fields without '='; skip them rather than losing the record. */
		if (!strchr(fields[i], '='))
			continue;
		iov[n++] = (struct iovec){ (void *)fields[i], strlen(fields[i]) };
	}
	return sd_journal_sendv(iov, (int)n);
}

/* Called with the lock held. level is already masked, error is non-negative. */
static void emit_locked(int level, int error, const char *const *fields, const char *func,
			const char *msg)
{
	char prefix[8];

	switch (log_state.target) {
	case LOG_TARGET_JOURNAL:
		if (write_journal(level, error, fields, func, msg) >= 0)
			return;
		/* journald unreachable: fall back to stderr, which is usually its stream anyway */
		__attribute__((fallthrough));
	case LOG_TARGET_AUTO:
	case LOG_TARGET_STDERR:
	case _LOG_TARGET_MAX:
	case _LOG_TARGET_INVALID:
		snprintf(prefix, sizeof(prefix), "<%d>", level);
		write_line(prefix, msg);
		return;
	case LOG_TARGET_CONSOLE:
		write_line("", msg);
		return;
	}
}

static size_t align_record(size_t n)
{
	const size_t a = alignof(DeferredRecord);

	return (n + a - 1) / a * a;
}

/* Copies one record into the deferred buffer, or counts it as dropped. Lock held, no I/O. */
static void defer_locked(int level, int error, const char *const *fields, const char *func,
			 const char *msg)
{
	size_t need = sizeof(DeferredRecord), lens[LOG_FIELDS_MAX + 2], n_fields = 0;
	DeferredRecord *rec;
	char *p;

	lens[0] = strlen(func ? func : "") + 1;
	lens[1] = strlen(msg) + 1;
	need += lens[0] + lens[1];
	for (; fields && fields[n_fields] && n_fields < LOG_FIELDS_MAX; n_fields++) {
		lens[2 + n_fields] = strlen(fields[n_fields]) + 1;
		need += lens[2 + n_fields];
	}
	need = align_record(need);
	if (need > sizeof(log_state.defer_buf) - log_state.defer_used) {
		log_state.defer_dropped++;
		return;
	}

	rec = (DeferredRecord *)(log_state.defer_buf + log_state.defer_used);
	*rec = (DeferredRecord){
		.size = (uint32_t)need,
		.level = (int16_t)level,
		.n_fields = (uint16_t)n_fields,
		.error = error,
	};
	p = (char *)(rec + 1);
	memcpy(p, func ? func : "", lens[0]);
	p += lens[0];
	memcpy(p, msg, lens[1]);
	p += lens[1];
	for (size_t i = 0; i < n_fields; i++) {
		memcpy(p, fields[i], lens[2 + i]);
		p += lens[2 + i];
	}
	log_state.defer_used += need;
}

int log_internalv(int level, int error, const char *const *fields, const char *func,
		  const char *fmt, va_list ap)
{
	char msg[LOG_MESSAGE_MAX];
	int saved_errno = errno;

	error = abs(error);
	level &= LOG_PRIMASK;
	if (level > log_get_max_level())
		return -error;

	/* glibc expands %m from errno: make it describe the error we were given. */
	errno = error;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);

	pthread_mutex_lock(&log_state.lock);
	if (!log_state.opened)
		open_locked(NULL, LOG_TARGET_AUTO);
	if (log_state.deferred)
		defer_locked(level, error, fields, func, msg);
	else
		emit_locked(level, error, fields, func, msg);
	pthread_mutex_unlock(&log_state.lock);

	errno = saved_errno;
	return -error;
}

int log_internal(int level, int error, const char *const *fields, const char *func, const char *fmt,
		 ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_internalv(level, error, fields, func, fmt, ap);
	va_end(ap);
	return r;
}

void log_defer_begin(void)
{
	pthread_mutex_lock(&log_state.lock);
	if (!log_state.opened)
		open_locked(NULL, LOG_TARGET_AUTO);
	log_state.deferred = true;
	pthread_mutex_unlock(&log_state.lock);
}

void log_defer_end(void)
{
	const char *fields[LOG_FIELDS_MAX + 1];
	char msg[64];
	size_t off = 0;

	pthread_mutex_lock(&log_state.lock);
	if (!log_state.deferred) {
		pthread_mutex_unlock(&log_state.lock);
		return;
	}
	log_state.deferred = false;

	while (off < log_state.defer_used) {
		const DeferredRecord *rec = (const DeferredRecord *)(log_state.defer_buf + off);
		const char *func = (const char *)(rec + 1);
		const char *text = func + strlen(func) + 1;
		const char *f = text + strlen(text) + 1;

		for (size_t i = 0; i < rec->n_fields; i++) {
			fields[i] = f;
			f += strlen(f) + 1;
		}
		fields[rec->n_fields] = NULL;
		emit_locked(rec->level, rec->error, fields, *func ? func : NULL, text);
		off += rec->size;
	}
	if (log_state.defer_dropped > 0) {
		snprintf(msg, sizeof(msg), "%u log messages were dropped while deferred",
			 log_state.defer_dropped);
		emit_locked(LOG_WARNING, 0, NULL, __func__, msg);
	}
	log_state.defer_used = 0;
	log_state.defer_dropped = 0;
	pthread_mutex_unlock(&log_state.lock);
}

bool log_is_deferred(void)
{
	bool r;

	pthread_mutex_lock(&log_state.lock);
	r = log_state.deferred;
	pthread_mutex_unlock(&log_state.lock);
	return r;
}

int log_level_from_string(const char *s)
{
	static const char *const names[] = {
		[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
		[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
		[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
	};

	if (!s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcasecmp(s, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}
