/* SPDX-License-Identifier: MIT */
/*
 * Logging for all hvguest daemons.
 *
 * Under journald (JOURNAL_STREAM names our stderr) records go to sd-journal with structured
 * fields (HV_OP=, HV_POOL=, ...); otherwise to stderr as "<N>message" so that a journald
 * stream or a terminal both read well. A deferred mode keeps records in a preallocated
 * in-memory buffer and writes nothing until it ends: the VSS daemon enables it before the
 * first freeze and ends it after the last thaw.
 *
 * Functions that return int return -abs(error) when error != 0, so callers can write
 * "return log_error_errno(r, ...)". The only mutable globals are the level and the target.
 * All functions are thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stdarg.h>
#include <syslog.h>

#include "common/macro.h"

typedef enum LogTarget {
	LOG_TARGET_AUTO,    /* journal if JOURNAL_STREAM matches stderr, else stderr */
	LOG_TARGET_STDERR,  /* "<N>message\n" on stderr */
	LOG_TARGET_CONSOLE, /* plain "message\n" on stderr, for interactive tools */
	LOG_TARGET_JOURNAL, /* sd_journal_send() with fields */
	_LOG_TARGET_MAX,
	_LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

/* Sets the syslog ident used for SYSLOG_IDENTIFIER= and picks the target. */
void log_open(const char *ident, LogTarget target);
void log_set_max_level(int level);
int log_get_max_level(void);

/*
 * Core entry point. fields is NULL or a NULL-terminated array of "KEY=value" strings
 * (upper-case keys, journald rules). error is an errno (sign ignored) or 0; "%m" in fmt
 * expands to strerror(error). Returns -abs(error).
 */
int log_internal(int level, int error, const char *const *fields, const char *func, const char *fmt,
		 ...) _printf_(5, 6);
int log_internalv(int level, int error, const char *const *fields, const char *func,
		  const char *fmt, va_list ap) _printf_(5, 0);

/*
 * Deferred mode: while on, records are copied into a fixed in-memory buffer (no allocation,
 * no I/O); when it fills up, later records are counted and dropped. log_defer_end() writes
 * them out in order, plus one line saying how many were dropped.
 */
void log_defer_begin(void);
void log_defer_end(void);
bool log_is_deferred(void);

#define LOG_FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

#define log_full_errno(level, error, ...)                                                        \
	({                                                                                       \
		int _l_ = (level), _e_ = (error);                                                \
		_l_ <= log_get_max_level() ? log_internal(_l_, _e_, NULL, __func__, __VA_ARGS__) \
					   : -abs(_e_);                                          \
	})
#define log_fields_errno(level, error, fields, ...)                               \
	({                                                                        \
		int _l_ = (level), _e_ = (error);                                 \
		_l_ <= log_get_max_level()                                        \
			? log_internal(_l_, _e_, (fields), __func__, __VA_ARGS__) \
			: -abs(_e_);                                              \
	})

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")

/* Parses "debug", "info", ..., or a number 0-7. */
int log_level_from_string(const char *s);
