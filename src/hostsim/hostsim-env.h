/* SPDX-License-Identifier: MIT */
/*
 * The simulated guest's isolated environment (test-harness.md §5). The calling process
 * enters new mount and UTS namespaces (and a network namespace with o->netns), makes every
 * mount private, and gets: a tmpfs scratch directory under /tmp; a minimal /dev built there
 * and bound over /dev, with an empty vmbus/ directory for the FUSE mount; a fixed hostname;
 * tmpfs copies of /etc/hosts, /etc/resolv.conf (and /etc/os-release when given) bound over
 * the originals; a tmpfs on /var/lib on request; with netns a fresh sysfs and the guest
 * network of hostsim-net.h. Nothing outside the private mount namespace is modified except
 * the empty mkdtemp() directory, removed again by hs_env_free().
 *
 * Requires root and a single-threaded caller (unshare(CLONE_NEWNS) and setns() refuse
 * threaded processes).
 */
#pragma once

#include "hostsim/hostsim.h"

typedef struct HsEnv HsEnv;

/* Builds the environment; o must have hostname and domain set. */
int hs_env_new(const HostSimOptions *o, HsEnv **ret);

/*
 * Lazily unmounts everything in reverse order, returns the process to its original
 * namespaces and working directory, and removes the scratch directory. The caller must be
 * single-threaded again. Returns NULL.
 */
HsEnv *hs_env_free(HsEnv *e);

/* "/tmp/hv-hostsim.XXXXXX" (a tmpfs). */
const char *hs_env_scratch(const HsEnv *e);
