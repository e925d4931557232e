/* SPDX-License-Identifier: MIT */
/*
 * Coexistence: is another service already disciplining the system clock? Then hv_timesync_daemon
 * in mode=auto only monitors.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * True when comm (a /proc/PID/comm value without newline, at most 15 characters) names a process
 * that adjusts the system clock: chronyd, ntpd (also OpenNTPD's), systemd-timesyncd (comm
 * "systemd-timesyn"), phc2sys. ptp4l alone only disciplines a NIC's PHC and does not count.
 */
bool timesync_is_competitor_comm(const char *comm);

/**
 * timesync_find_competitor() - look for another time service among the running processes
 * @proc_dir: procfs root, normally "/proc"
 * @ret_name: service name of the competitor found ("chronyd", "ntpd", "systemd-timesyncd",
 *            "phc2sys"); may be NULL
 * @size: size of @ret_name
 *
 * Scans PROC/[0-9]*\/comm; non-numeric entries and our own pid are ignored, as are processes that
 * exit during the scan. When several match, the one with the lowest pid is reported. Returns 1
 * (found), 0 (none), -ENOBUFS when @ret_name is too small for the name, or another negative errno
 * (e.g. opening @proc_dir failed).
 */
int timesync_find_competitor(const char *proc_dir, char *ret_name, size_t size);
