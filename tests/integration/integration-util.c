/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/event.h"
#include "common/fileio.h"
#include "integration-util.h"

static HostSim *the_sim;

static const char test_os_release[] = "NAME=\"Debian GNU/Linux\"\n"
				      "VERSION_ID=\"12\"\n"
				      "ID=debian\n";

HostSim *it_sim(void)
{
	if (!the_sim) {
		HostSimOptions o = {
			.netns = true,
			.hostname = "hvguest-vm",
			.domain = "example.test",
			.os_release = test_os_release,
			.kvp_timeout_usec = 3 * USEC_PER_SEC,
		};
		if (hostsim_new(&o, &the_sim) < 0)
			return NULL;
	}
	return the_sim;
}

int it_start(Guest *g, bool reuse_state, char *const extra_args[])
{
	const char *daemon = getenv("HV_KVP_DAEMON");
	char *argv[32];
	size_t n = 0;
	int r;

	if (!daemon)
		return -ENOENT;
	g->sim = it_sim();
	if (!g->sim)
		return -EIO;
	if (!reuse_state || !g->state_dir[0]) {
		static unsigned counter;

		snprintf(g->state_dir, sizeof(g->state_dir), "%s/guest-%u",
			 hostsim_scratch_dir(g->sim), ++counter);
		r = mkdir_p(g->state_dir, 0755);
		if (r < 0)
			return r;
	}
	argv[n++] = (char *)daemon;
	argv[n++] = (char *)"--device";
	argv[n++] = (char *)hostsim_kvp_device(g->sim);
	argv[n++] = (char *)"--state-dir";
	argv[n++] = g->state_dir;
	argv[n++] = (char *)"--config";
	argv[n++] = (char *)"/nonexistent/hvguest.conf";
	argv[n++] = (char *)"--config-dir";
	argv[n++] = (char *)"/nonexistent/hvguest.conf.d";
	argv[n++] = (char *)"--debug";
	for (size_t i = 0; extra_args && extra_args[i] && n < 31; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;

	r = hostsim_daemon_spawn(g->sim, argv, NULL, &g->daemon);
	if (r < 0)
		return r;
	return hostsim_kvp_wait_ready(g->sim, 10 * USEC_PER_SEC);
}

int it_stop(Guest *g)
{
	int r = 0;

	if (g->daemon)
		r = hostsim_daemon_stop(g->daemon);
	g->daemon = NULL;
	return r;
}

void it_pool_path(const Guest *g, unsigned pool, char *buf, size_t size)
{
	snprintf(buf, size, "%s/.kvp_pool_%u", g->state_dir, pool);
}

ssize_t it_pool_read(const Guest *g, unsigned pool, uint8_t **ret)
{
	char path[600];
	char *data = NULL;
	size_t size = 0;
	int r;

	it_pool_path(g, pool, path, sizeof(path));
	r = read_full_file_at(AT_FDCWD, path, 256u << 20, &data, &size);
	if (r < 0)
		return r;
	*ret = (uint8_t *)data;
	return (ssize_t)(size / POOL_RECORD);
}

ssize_t it_pool_wait_count(const Guest *g, unsigned pool, size_t want, uint64_t timeout_usec)
{
	uint64_t end = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	ssize_t n;

	for (;;) {
		uint8_t *data = NULL;

		n = it_pool_read(g, pool, &data);
		free(data);
		if (n == (ssize_t)want || now_usec(CLOCK_MONOTONIC) > end)
			return n;
		usleep(10000);
	}
}

int it_append_records(const Guest *g, unsigned pool, const char *prefix, unsigned first,
		      unsigned count)
{
	char path[600];
	uint8_t rec[POOL_RECORD];
	int fd, r = 0;

	it_pool_path(g, pool, path, sizeof(path));
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (unsigned i = first; i < first + count; i++) {
		memset(rec, 0, sizeof(rec));
		snprintf((char *)rec, 512, "%s|%u", prefix, i);
		snprintf((char *)rec + 512, 2048, "{\"name\":\"event\",\"seq\":%u,\"check\":%u}", i,
			 i * 2654435761u);
		if (flock(fd, LOCK_EX) < 0) {
			r = -errno;
			break;
		}
		r = loop_write(fd, rec, sizeof(rec));
		(void)flock(fd, LOCK_UN);
		if (r < 0)
			break;
	}
	close(fd);
	return r;
}

int it_count_proc_dir(pid_t pid, const char *sub)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, sub);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}
