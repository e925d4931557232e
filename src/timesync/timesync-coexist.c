/* SPDX-License-Identifier: MIT */
/*
 * Competitor detection by process name. Not by systemd unit state: the daemon must also work
 * without systemd (containers, other inits), and /proc is what every init has.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "timesync/timesync-coexist.h"

/* comm (TASK_COMM_LEN 16: at most 15 characters) -> the service name we report. */
static const struct {
	const char *comm;
	const char *service;
} competitors[] = {
	{ "chronyd", "chronyd" },
	{ "ntpd", "ntpd" }, /* ntp.org's and OpenNTPD's */
	{ "systemd-timesyn", "systemd-timesyncd" },
	{ "phc2sys", "phc2sys" },
};

static const char *competitor_service(const char *comm)
{
	for (size_t i = 0; i < ELEMENTSOF(competitors); i++)
		if (strcmp(comm, competitors[i].comm) == 0)
			return competitors[i].service;
	return NULL;
}

bool timesync_is_competitor_comm(const char *comm)
{
	return comm && competitor_service(comm);
}

/* All-digit name -> pid; else -1. */
static long parse_pid(const char *name)
{
	char *end;
	long v;

	if (name[0] < '1' || name[0] > '9')
		return -1;
	errno = 0;
	v = strtol(name, &end, 10);
	if (errno != 0 || *end != '\0' || v > INT_MAX)
		return -1;
	return v;
}

int timesync_find_competitor(const char *proc_dir, char *ret_name, size_t size)
{
	const char *found = NULL;
	long found_pid = -1, self = (long)getpid();
	struct dirent *de;
	DIR *d;
	int dfd;

	d = opendir(proc_dir);
	if (!d)
		return negative_errno();
	dfd = dirfd(d);

	while ((de = readdir(d))) {
		_cleanup_free_ char *text = NULL;
		char path[64];
		const char *service;
		size_t len;
		long pid = parse_pid(de->d_name);
		int r;

		if (pid < 0 || pid == self || (found && pid >= found_pid))
			continue;
		r = snprintf(path, sizeof(path), "%s/comm", de->d_name);
		if (r < 0 || (size_t)r >= sizeof(path))
			continue;
		/* The process may exit while we look: not found, not an error. */
		if (read_full_file_at(dfd, path, 64, &text, &len) < 0)
			continue;
		if (len > 0 && text[len - 1] == '\n')
			text[--len] = '\0';
		service = competitor_service(text);
		if (!service)
			continue;
		found = service;
		found_pid = pid;
	}
	closedir(d);

	if (!found)
		return 0;
	if (ret_name) {
		if (strlen(found) >= size)
			return -ENOBUFS;
		memcpy(ret_name, found, strlen(found) + 1);
	}
	return 1;
}
